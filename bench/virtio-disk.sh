#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Disk throughput in the guest: the default guest's kernel and modules with
# a benchmark /init that runs, on a virtio-blk disk with O_DIRECT,
#   seq-write  64 MiB in 1 MiB blocks      seq-read  64 MiB in 1 MiB blocks
#   rand-read  1000 x 4 KiB at random      rand-write 1000 x 4 KiB at random
# under `vireo run --accel emu` and under QEMU TCG (q35, virtio-blk-pci,
# the same raw image, kernel and initrd), RUNS times each; prints the
# median MB/s (or IOPS) of each side and the ratio vireo/QEMU (higher is
# better for vireo).
#
#   bench/virtio-disk.sh [RUNS]         (default 3; needs `make build guest`)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/virtio-lib.sh
RUNS=${1:-3}
MEM=512
bench_need
if why=$(emu_not_ready); then
	echo "virtio-disk.sh: emu backend not ready ($why); nothing measured"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/bench.sh" <<'SCRIPT'
t0=$(now); dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct 2>/dev/null; sync; t1=$(now)
echo "bench: seq-write $(echo "$t0 $t1" | awk '{ printf "%.2f", 64 / ($2 - $1 + 0.005) }') MB/s"
t0=$(now); dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct 2>/dev/null; t1=$(now)
echo "bench: seq-read $(echo "$t0 $t1" | awk '{ printf "%.2f", 64 / ($2 - $1 + 0.005) }') MB/s"
i=0; t0=$(now)
while [ $i -lt 1000 ]; do
	dd if=/dev/vda of=/dev/null bs=4k count=1 skip=$(( (RANDOM * 32768 + RANDOM) % 32768 )) iflag=direct 2>/dev/null
	i=$((i + 1))
done; t1=$(now)
echo "bench: rand-read $(echo "$t0 $t1" | awk '{ printf "%.1f", 1000 / ($2 - $1 + 0.005) }') IOPS"
i=0; t0=$(now)
while [ $i -lt 1000 ]; do
	dd if=/dev/zero of=/dev/vda bs=4k count=1 seek=$(( (RANDOM * 32768 + RANDOM) % 32768 )) oflag=direct 2>/dev/null
	i=$((i + 1))
done; t1=$(now)
echo "bench: rand-write $(echo "$t0 $t1" | awk '{ printf "%.1f", 1000 / ($2 - $1 + 0.005) }') IOPS"
poweroff -f
SCRIPT
bench_initrd "$tmp/initrd.img" "$tmp/bench.sh"
truncate -s 128M "$tmp/disk.img"
CMDLINE="console=ttyS0 panic=-1"

vireo_cmd=("$BUILD/vireo" run --accel emu --memory "$MEM" --kernel "$KERNEL"
	--initrd "$tmp/initrd.img" --cmdline "$CMDLINE" --disk "$tmp/disk.img,format=raw")
# shellcheck disable=SC2054  # commas inside QEMU option values
qemu_cmd=(qemu-system-x86_64 -M q35 -accel tcg -m "$MEM" -smp 1 -nodefaults
	-no-user-config -nographic -serial stdio -no-reboot -kernel "$KERNEL"
	-initrd "$tmp/initrd.img" -append "$CMDLINE"
	-drive "file=$tmp/disk.img,if=none,id=d0,format=raw"
	-device virtio-blk-pci,drive=d0,disable-legacy=on)

one() {  # NAME CMD...: run once, append "test value" lines to $tmp/NAME
	local name=$1; shift
	if ! timeout 1800 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; then
		echo "virtio-disk.sh: $name failed:" >&2; tail -5 "$tmp/err" >&2; exit 1
	fi
	grep -a '^bench: ' "$tmp/out" | tr -d '\r' | awk '{ print $2, $3 }' >> "$tmp/$name"
	grep -q rand-write "$tmp/$name" || { echo "virtio-disk.sh: $name: no results" >&2; tail "$tmp/out" >&2; exit 1; }
}

for _ in $(seq "$RUNS"); do
	one vireo "${vireo_cmd[@]}"
	one qemu "${qemu_cmd[@]}"
done
printf 'virtio-blk in the guest, O_DIRECT, %d runs each, median:\n' "$RUNS"
printf '  %-11s %12s %12s %8s\n' test "vireo emu" "qemu tcg" ratio
for t in seq-write seq-read rand-read rand-write; do
	v=$(awk -v t=$t '$1 == t { print $2 }' "$tmp/vireo" | median)
	q=$(awk -v t=$t '$1 == t { print $2 }' "$tmp/qemu" | median)
	unit=MB/s; case $t in rand-*) unit=IOPS ;; esac
	printf '  %-11s %7.1f %-4s %7.1f %-4s %8.2f\n' $t "$v" $unit "$q" $unit "$(echo "$v / $q" | bc -l)"
done
