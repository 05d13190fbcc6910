#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Host RSS after balloon inflation, Vireo beside QEMU: the default guest's
# kernel and modules with an /init that fills 240 MiB of tmpfs (so the host
# really backs that memory) and says "bench: filled", waits 10 s, deletes
# the file and says "bench: freed".  The host records the monitor's RSS at
# the peak, 6 s after the guest freed the file (free page reporting returns
# such memory by itself where it is on: vireo offers it, QEMU's default
# virtio-balloon-pci does not), and after setting the balloon target to
# MEM - INFLATE MiB (vireo: its --balloon control socket; QEMU: QMP
# "balloon") and waiting until the guest reports the balloon at that size.
# Prints the three RSS figures per monitor, what was given back in all, and
# the ratios.  Vireo runs twice: with free page reporting (its default) and
# with --balloon=...,no-report, which isolates what inflation alone gives.
#
#   bench/virtio-balloon.sh [INFLATE_MIB]   (default 200; needs `make build guest`)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/virtio-lib.sh
INFLATE=${1:-200}
MEM=512
bench_need
# QEMU_ONLY=1 measures the QEMU side alone (to check the harness).
if [ "${QEMU_ONLY:-0}" != 1 ] && why=$(emu_not_ready); then
	echo "virtio-balloon.sh: emu backend not ready ($why); nothing measured"
	exit 0
fi

# usock PATH: send stdin to a unix stream socket, print the replies.
usock() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)
sys.stdout.write(s.makefile().read())' "$1"
}

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cat > "$tmp/bench.sh" <<'SCRIPT'
dd if=/dev/zero of=/tmp/fill bs=1M count=240 2>/dev/null
echo "bench: filled"
sleep 10
rm /tmp/fill
echo "bench: freed"
while :; do sleep 3600; done
SCRIPT
bench_initrd "$tmp/initrd.img" "$tmp/bench.sh"
CMDLINE="console=ttyS0 panic=-1"

rss_mib() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$1/status"; }

wait_for() {  # FILE PATTERN SECONDS
	for _ in $(seq "$3"); do grep -aq "$2" "$1" && return 0; sleep 1; done
	echo "virtio-balloon.sh: timed out waiting for '$2'" >&2; tail -5 "$1" >&2; exit 1
}

measure() {  # NAME SET_CMD ACTUAL_CMD: prints "NAME peak freed after"
	local name=$1 set=$2 actual=$3 peak freed after
	wait_for "$tmp/$name.out" "bench: filled" 1800
	sleep 2
	peak=$(rss_mib "$pid")
	wait_for "$tmp/$name.out" "bench: freed" 60
	sleep 6
	freed=$(rss_mib "$pid")
	eval "$set"
	for _ in $(seq 600); do
		[ "$(eval "$actual")" -ge "$INFLATE" ] 2>/dev/null && break
		sleep 1
	done
	sleep 2
	after=$(rss_mib "$pid")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
	echo "$name $peak $freed $after"
}

# run_vireo NAME BALLOON_OPTS: one vireo measurement.
run_vireo() {
	"$BUILD/vireo" run --accel emu --memory "$MEM" --kernel "$KERNEL" --initrd "$tmp/initrd.img" \
		--cmdline "$CMDLINE" --balloon="$tmp/$1.sock$2" </dev/null >"$tmp/$1.out" 2>&1 &
	pid=$!
	measure "$1" "echo 'balloon $((MEM - INFLATE))' | usock $tmp/$1.sock >/dev/null" \
		"echo info | usock $tmp/$1.sock | sed -n 's/.*\"actual_mib\": \\([0-9]*\\).*/\\1/p'"
}
v="vireo 0 0 0"; vn="vireo 0 0 0"
if [ "${QEMU_ONLY:-0}" != 1 ]; then
	v=$(run_vireo vireo "")
	vn=$(run_vireo vireo-norep ",no-report")
fi

qmp() { printf '{"execute":"qmp_capabilities"}\n%s\n' "$1" | usock "$tmp/qmp.sock"; }
qemu-system-x86_64 -M q35 -accel tcg -m "$MEM" -smp 1 -nodefaults -no-user-config -nographic \
	-serial stdio -no-reboot -kernel "$KERNEL" -initrd "$tmp/initrd.img" -append "$CMDLINE" \
	-device virtio-balloon-pci,disable-legacy=on -qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
	</dev/null >"$tmp/qemu.out" 2>&1 &
pid=$!
q=$(measure qemu "qmp '{\"execute\":\"balloon\",\"arguments\":{\"value\":$(((MEM - INFLATE) << 20))}}' >/dev/null" \
	"qmp '{\"execute\":\"query-balloon\"}' | sed -n 's/.*\"actual\": \([0-9]*\).*/\1/p' | awk -v m=$MEM '{ print m - int(\$1 / 1048576) }'")

read -r _ vb vf va <<<"$v"
read -r _ nb nf na <<<"$vn"
read -r _ qb qf qa <<<"$q"
printf 'host RSS (MiB) with %d MiB guests that filled and freed 240 MiB, balloon inflated by %d MiB:\n' \
	"$MEM" "$INFLATE"
printf '  %-10s %8s %8s %9s %11s\n' monitor peak "freed" "inflated" "given back"
printf '  %-10s %8d %8d %9d %11d\n' "vireo emu" "$vb" "$vf" "$va" "$((vb - va))"
printf '  %-10s %8d %8d %9d %11d   (--balloon=...,no-report)\n' "vireo emu" "$nb" "$nf" "$na" "$((nb - na))"
printf '  %-10s %8d %8d %9d %11d\n' "qemu tcg" "$qb" "$qf" "$qa" "$((qb - qa))"
[ "${QEMU_ONLY:-0}" = 1 ] && exit 0
printf 'ratio vireo/qemu: RSS after inflation %.2f, given back %.2f; without reporting %.2f, %.2f\n' \
	"$(echo "$va / $qa" | bc -l)" "$(echo "($vb - $va) / ($qb - $qa)" | bc -l)" \
	"$(echo "$na / $qa" | bc -l)" "$(echo "($nb - $na) / ($qb - $qa)" | bc -l)"
