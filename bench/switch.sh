#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Port-to-port throughput of `vireo switch`, 64 B and 1500 B frames, beside a
# kernel veth pair on the same machine.
#
# The switch runs pinned to one core; the load generator (one thread that
# both sends on port A and receives on port B) is pinned to another.  Frame
# sizes are Ethernet sizes: "64 B" is a 60-byte frame (+4 B FCS on a wire),
# "1500 B" is a full-MTU 1514-byte frame.  Gbit/s counts frame bytes.
#
# "forwarding core alone" runs vsw_input in one thread with a ring that is
# never full: the switching work without cross-core traffic or wake-ups.
#
# usage: bench/switch.sh [SECONDS]   (env: VIREO_BUILD, SWITCH_CPU, GEN_CPU, REPS)
set -eu
cd "$(dirname "$0")/.."
BUILD=${VIREO_BUILD:-build}
VIREO=$BUILD/vireo
SECS=${1:-3}
NCPU=$(nproc)
SWITCH_CPU=${SWITCH_CPU:-0}
GEN_CPU=${GEN_CPU:-$((NCPU > 1 ? 1 : 0))}
[ -x "$VIREO" ] || { echo "build first: ninja -C $BUILD" >&2; exit 1; }

RUN=$(mktemp -d /tmp/vireo-bench.XXXXXX)
export VIREO_RUN_DIR=$RUN
SOCK=$RUN/bench.sock
NS=vswbench$$
cleanup() {
	set +e
	if [ -n "${SW:-}" ]; then
		kill "$SW" 2>/dev/null
		wait "$SW" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taskset -c "$SWITCH_CPU" "$VIREO" switch --name bench --socket "$SOCK" >/dev/null &
SW=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

# field NAME from "k=v k=v" output
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# Each figure is the median of $REPS runs: the host may be shared and noisy.
REPS=${REPS:-3}
median() {  # command...: run it REPS times, print the output with the median fps
	i=0
	while [ $i -lt "$REPS" ]; do
		out=$("$@")
		echo "$(field fps "$out") $out"
		i=$((i + 1))
	done | sort -n | sed -n "$(( (REPS + 1) / 2 ))p" | cut -d' ' -f2-
}

printf "%-22s %8s %14s %10s   (median of %s runs of %s s)\n" "path" "frame" "frames/s" \
	"Gbit/s" "$REPS" "$SECS"
row() {  # label size output
	printf "%-22s %8s %14.0f %10.3f\n" "$1" "$2" "$(field fps "$3")" "$(field gbps "$3")"
}
SHM64=0
VETH64=0
for t in shm seqpacket; do
	for sz in 60 1514; do
		out=$(median taskset -c "$GEN_CPU" "$VIREO" switch perf --socket "$SOCK" \
			--size $sz --seconds "$SECS" --transport $t)
		row "vireo switch ($t)" $sz "$out"
		[ $t = shm ] && [ $sz = 60 ] && SHM64=$(field fps "$out")
	done
done

for sz in 60 1514; do
	out=$(median taskset -c "$SWITCH_CPU" "$VIREO" switch perf --core --size $sz \
		--seconds "$SECS")
	row "forwarding core alone" $sz "$out"
done

if [ "$(id -u)" -eq 0 ] && ip netns add "$NS" 2>/dev/null; then
	ip -n "$NS" link add va type veth peer name vb
	ip -n "$NS" link set va up
	ip -n "$NS" link set vb up
	for sz in 60 1514; do
		out=$(median ip netns exec "$NS" taskset -c "$GEN_CPU" "$VIREO" switch perf \
			--veth va,vb --size $sz --seconds "$SECS")
		row "kernel veth pair" $sz "$out"
		[ $sz = 60 ] && VETH64=$(field fps "$out")
	done
else
	echo "kernel veth pair: skipped (needs root for a network namespace)"
fi

awk -v s="$SHM64" -v v="$VETH64" 'BEGIN {
	met = (s >= 2e6) ? "met" : "MISSED";
	printf("\n64 B: switch %.2f Mpps (target 2 Mpps: %s)", s / 1e6, met);
	if (v > 0) printf("; %.1fx the veth pair", s / v);
	printf "\n" }'
