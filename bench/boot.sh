#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot benchmark: the same kernel, initrd and command line under
# `vireo run --accel emu` and `qemu-system-x86_64 -M microvm -accel tcg`
# (same memory, 1 vCPU), alternating, RUNS times each.  The initrd's /init
# prints a line and powers off, so a run's wall time is boot-to-init plus a
# power-off.  Prints each side's median time and peak RSS, and the ratios
# vireo/QEMU (lower is better for vireo).  Vireo runs twice per round: with
# the bzImage unpacked by the monitor (--kernel-unpack host, its default)
# and by the kernel's own decompressor in the guest (--kernel-unpack guest).
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
vireo_guest_cmd=("${vireo_cmd[@]}" --kernel-unpack guest)
vireo_cmd+=(--kernel-unpack host)
# microvm with the legacy PIT, PIC and RTC: without a PIT the kernel cannot
# calibrate the TSC under TCG on a busy host and hangs before init.
qemu_cmd=(qemu-system-x86_64 -M microvm,pit=on,pic=on,rtc=on -accel tcg -m "$MEM" -smp 1 -nodefaults
	-no-user-config -nographic -serial stdio -no-reboot
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# one NAME CMD...: run once; append "milliseconds rss_kib" to $tmp/NAME.
# Returns 2 when the run hung (killed after 60 s), 1 on any other failure.
one() {
	local name=$1; shift
	local t0 t1 rc=0
	t0=$(date +%s%N)
	/usr/bin/time -f %M -o "$tmp/rss" timeout 60 "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
	t1=$(date +%s%N)
	if [ "$rc" -eq 124 ] || grep -q "terminating on signal 15" "$tmp/err"; then
		return 2
	fi
	if [ "$rc" -ne 0 ] || ! grep -q "$MARK" "$tmp/out"; then
		echo "boot.sh: $name failed (status $rc):" >&2
		tail -5 "$tmp/err" "$tmp/out" >&2
		return 1
	fi
	echo "$(( (t1 - t0) / 1000000 )) $(tail -1 "$tmp/rss")" >> "$tmp/$name"
}

# QEMU TCG on a busy host sometimes fails to calibrate the TSC against the
# PIT and then never reaches init; such runs are retried (up to 3 times) and
# counted, not timed.
hung=0
run_side() {
	local name=$1; shift
	for try in 1 2 3; do
		local rc=0
		one "$name" "$@" || rc=$?
		[ "$rc" -eq 0 ] && return 0
		[ "$rc" -eq 2 ] || exit 1
		hung=$((hung + 1))
		echo "boot.sh: $name hung before init (try $try); retrying" >&2
	done
	echo "boot.sh: $name hung 3 times in a row" >&2
	exit 1
}

median() {  # median of column $2 of file $1
	sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for i in $(seq "$RUNS"); do
	run_side vireo "${vireo_cmd[@]}"
	run_side qemu "${qemu_cmd[@]}"
	run_side vireo-guest "${vireo_guest_cmd[@]}"
done

vt=$(median "$tmp/vireo" 1); qt=$(median "$tmp/qemu" 1); gt=$(median "$tmp/vireo-guest" 1)
vr=$(median "$tmp/vireo" 2); qr=$(median "$tmp/qemu" 2); gr=$(median "$tmp/vireo-guest" 2)
printf 'boot to init, %d runs each, median:\n' "$RUNS"
printf '  vireo emu   %8.3f s   peak RSS %6d MiB   (kernel unpacked by vireo)\n' \
	"$(echo "$vt / 1000" | bc -l)" "$((vr / 1024))"
printf '  vireo emu   %8.3f s   peak RSS %6d MiB   (--kernel-unpack guest)\n' \
	"$(echo "$gt / 1000" | bc -l)" "$((gr / 1024))"
printf '  qemu tcg    %8.3f s   peak RSS %6d MiB\n' "$(echo "$qt / 1000" | bc -l)" "$((qr / 1024))"
printf 'ratio vireo/qemu: time %.2f, RSS %.2f\n' "$(echo "$vt / $qt" | bc -l)" "$(echo "$vr / $qr" | bc -l)"
[ "$hung" -eq 0 ] || printf '(%d runs hung before init and were retried)\n' "$hung"
