#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Interpreter speed on a guest busy loop: the tiny guest `loop` executes
# 2^32 instructions (2^30 iterations of add/xor/dec/jnz) and exits through
# the debug-exit port.  Runs it under `vireo run --accel emu` and QEMU TCG
# (microvm, PVH boot of the same ELF), alternating, RUNS times each; prints
# median wall times, guest MIPS and the ratio vireo/QEMU (lower is better).
#
#   bench/mips.sh [RUNS]     (default 3; needs `make build`)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUILD=${VIREO_BUILD:-build}
ELF=$BUILD/guest/tiny/loop.elf
INSNS=$((1 << 32))
[ -e "$ELF" ] || { echo "mips.sh: $ELF is missing: run make build" >&2; exit 1; }

vireo_cmd=("$BUILD/vireo" run --accel emu --kernel "$ELF")
qemu_cmd=(qemu-system-x86_64 -M microvm,pit=on,pic=on,rtc=on -accel tcg -m 512
	-nodefaults -no-user-config -nographic -serial stdio
	-device isa-debug-exit,iobase=0x501,iosize=2 -kernel "$ELF")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() {  # NAME CMD...: append the wall milliseconds of one run to $tmp/NAME
	local name=$1; shift
	local t0 t1
	t0=$(date +%s%N)
	timeout 300 "$@" </dev/null >"$tmp/out" 2>&1 || true
	t1=$(date +%s%N)
	grep -q "loop: done" "$tmp/out" || { echo "mips.sh: $name did not finish" >&2; cat "$tmp/out" >&2; exit 1; }
	echo $(( (t1 - t0) / 1000000 )) >> "$tmp/$name"
}

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for i in $(seq "$RUNS"); do
	one vireo "${vireo_cmd[@]}"
	one qemu "${qemu_cmd[@]}"
done
vt=$(median "$tmp/vireo"); qt=$(median "$tmp/qemu")
printf 'busy loop, %d guest instructions, %d runs each, median:\n' "$INSNS" "$RUNS"
printf '  vireo emu  %8.2f s  %6.0f MIPS\n' "$(echo "$vt / 1000" | bc -l)" "$(echo "$INSNS / $vt / 1000" | bc -l)"
printf '  qemu tcg   %8.2f s  %6.0f MIPS\n' "$(echo "$qt / 1000" | bc -l)" "$(echo "$INSNS / $qt / 1000" | bc -l)"
printf 'ratio vireo/qemu: time %.2f\n' "$(echo "$vt / $qt" | bc -l)"
