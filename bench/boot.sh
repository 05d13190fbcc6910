#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot benchmark: the same kernel, initrd and command line under
# `vireo run --accel emu` and `qemu-system-x86_64 -M microvm -accel tcg`
# (same memory, 1 vCPU), alternating, RUNS times each.  The initrd's /init
# prints a line and powers off, so a run's wall time is boot-to-init plus a
# power-off.  Prints each side's median time and peak RSS, and the ratios
# vireo/QEMU (lower is better for vireo).
#
#   bench/boot.sh [RUNS]        (default 5; needs `make build guest`)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
BUILD=${VIREO_BUILD:-build}
KERNEL=$BUILD/guest/vmlinuz
INITRD=$BUILD/guest/initrd-bench.img
# The default: what `vireo run` boots with; both sides always get the same.
CMDLINE=${CMDLINE:-"console=ttyS0 panic=-1 cryptomgr.notests"}
MEM=512
MARK="vireo bench: init reached"

for f in "$BUILD/vireo" "$KERNEL" "$INITRD"; do
	[ -e "$f" ] || { echo "boot.sh: $f is missing: run make build guest" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "boot.sh: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "boot.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

vireo_cmd=("$BUILD/vireo" run --accel emu --memory "$MEM" --cpus 1
	--kernel "$KERNEL" --initrd "$INITRD" --cmdline "$CMDLINE")
# microvm with the legacy PIT, PIC and RTC: without a PIT the kernel cannot
# calibrate the TSC under TCG on a busy host and hangs before init.
qemu_cmd=(qemu-system-x86_64 -M microvm,pit=on,pic=on,rtc=on -accel tcg -m "$MEM" -smp 1 -nodefaults
	-no-user-config -nographic -serial stdio -no-reboot
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# one NAME CMD...: run once; append "seconds rss_kib" to $tmp/NAME.
one() {
	local name=$1; shift
	local t0 t1
	t0=$(date +%s%N)
	if ! /usr/bin/time -f %M -o "$tmp/rss" timeout 300 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; then
		echo "boot.sh: $name failed:" >&2
		tail -5 "$tmp/err" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	grep -q "$MARK" "$tmp/out" || { echo "boot.sh: $name never reached init" >&2; tail -5 "$tmp/out" >&2; exit 1; }
	echo "$(( (t1 - t0) / 1000000 )) $(tail -1 "$tmp/rss")" >> "$tmp/$name"
}

median() {  # median of column $2 of file $1
	sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for i in $(seq "$RUNS"); do
	one vireo "${vireo_cmd[@]}"
	one qemu "${qemu_cmd[@]}"
done

vt=$(median "$tmp/vireo" 1); qt=$(median "$tmp/qemu" 1)
vr=$(median "$tmp/vireo" 2); qr=$(median "$tmp/qemu" 2)
printf 'boot to init, %d runs each, median:\n' "$RUNS"
printf '  vireo emu   %8.3f s   peak RSS %6d MiB\n' "$(echo "$vt / 1000" | bc -l)" "$((vr / 1024))"
printf '  qemu tcg    %8.3f s   peak RSS %6d MiB\n' "$(echo "$qt / 1000" | bc -l)" "$((qr / 1024))"
printf 'ratio vireo/qemu: time %.2f, RSS %.2f\n' "$(echo "$vt / $qt" | bc -l)" "$(echo "$vr / $qr" | bc -l)"
