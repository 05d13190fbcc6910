#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Disk I/O benchmark: `vireo disk bench` beside `qemu-img bench` on the same
# image, same access pattern (qemu-img bench semantics: offsets advance by
# STEP and wrap; a large odd STEP gives a scattered "random" pattern).
#   bench/disk.sh [BUILD_DIR] [DIR]
# Prints one line per case with both times and the ratio qemu/vireo
# (> 1.0: Vireo is faster).  qcow2 also gets a 4 KiB allocating-write case
# on a fresh image (copy-on-write and refcount updates on every request).
# Env: COUNT4K (default 100000), COUNT1M (8000), COUNTALLOC (8000),
# DEPTH (32), FORMATS ("qcow2 raw"), SIZE (512M), RUNS (3: median of),
# VIREO_OPTS (extra `vireo disk bench` options, e.g. -B or -e threads).
# qemu-img bench gives every request the same buffer (its first I/O vector),
# and so does `vireo disk bench` unless -B: with a buffer per request the
# 1 MiB cases copy DEPTH MiB through memory instead of one cache-hot MiB,
# which measures the memory bus, not the I/O path.
# The image is filled with data first, so both tools measure allocated
# clusters (the case a running guest's disk settles into).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
dir=${2:-$(mktemp -d /tmp/vireo-bench.XXXXXX)}
V="$build/vireo"
COUNT4K=${COUNT4K:-100000}
COUNT1M=${COUNT1M:-8000}
COUNTALLOC=${COUNTALLOC:-8000}
DEPTH=${DEPTH:-32}
FORMATS=${FORMATS:-"qcow2 raw"}
SIZE=${SIZE:-512M}
RUNS=${RUNS:-3}
VIREO_OPTS=${VIREO_OPTS:-}
STEP=$((4096 * 1009))	# prime multiple of 4 KiB: visits offsets in scattered order

command -v qemu-img >/dev/null || { echo "bench: qemu-img not found (apt-get install qemu-utils)" >&2; exit 1; }
[ -x "$V" ] || { echo "bench: $V not built" >&2; exit 1; }

secs() { sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p'; }

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

run_case() {	# name fmt img args...   median of $RUNS alternating runs each
	name=$1 fmt=$2 img=$3
	shift 3
	qs="" vs=""
	for _ in $(seq "$RUNS"); do
		sync
		qs="$qs $(qemu-img bench -f "$fmt" -d "$DEPTH" "$@" "$img" | secs)"
		sync
		vs="$vs $("$V" disk bench $VIREO_OPTS -d "$DEPTH" "$@" "$img" | secs)"
	done
	q=$(echo $qs | tr ' ' '\n' | median)
	v=$(echo $vs | tr ' ' '\n' | median)
	ratio=$(awk -v q="$q" -v v="$v" 'BEGIN { printf "%.2f", (v > 0 ? q / v : 0) }')
	printf "%-6s %-22s qemu-img %8.3fs   vireo %8.3fs   ratio %s\n" "$fmt" "$name" "$q" "$v" "$ratio"
}

# Allocating writes: a fresh, empty image for every run of each tool.
run_alloc_case() {	# fmt
	afmt=$1 aimg="$dir/alloc.$1"
	qs="" vs=""
	for _ in $(seq "$RUNS"); do
		rm -f "$aimg"; qemu-img create -q -f "$afmt" "$aimg" "$SIZE"; sync
		qs="$qs $(qemu-img bench -f "$afmt" -d "$DEPTH" -w -c "$COUNTALLOC" -s 4096 -S "$STEP" "$aimg" | secs)"
		rm -f "$aimg"; qemu-img create -q -f "$afmt" "$aimg" "$SIZE"; sync
		vs="$vs $("$V" disk bench $VIREO_OPTS -d "$DEPTH" -w -c "$COUNTALLOC" -s 4096 -S "$STEP" "$aimg" | secs)"
		qemu-img check -q -f "$afmt" "$aimg" || { echo "bench: vireo left $img inconsistent" >&2; exit 1; }
	done
	rm -f "$aimg"
	q=$(echo $qs | tr ' ' '\n' | median)
	v=$(echo $vs | tr ' ' '\n' | median)
	ratio=$(awk -v q="$q" -v v="$v" 'BEGIN { printf "%.2f", (v > 0 ? q / v : 0) }')
	printf "%-6s %-22s qemu-img %8.3fs   vireo %8.3fs   ratio %s\n" "$afmt" "4k-alloc-write" "$q" "$v" "$ratio"
}

fill="$dir/fill.raw"
head -c "$(( $(echo "$SIZE" | sed 's/[Mm]$//') * 1048576 ))" /dev/urandom > "$fill"
echo "vireo disk bench $VIREO_OPTS vs qemu-img bench ($(qemu-img --version | head -1)), depth $DEPTH, image $SIZE in $dir"
for fmt in $FORMATS; do
	img="$dir/bench.$fmt"
	rm -f "$img"
	qemu-img convert -f raw -O "$fmt" "$fill" "$img"
	run_case "4k-randread" "$fmt" "$img" -c "$COUNT4K" -s 4096 -S "$STEP"
	run_case "4k-randwrite" "$fmt" "$img" -w -c "$COUNT4K" -s 4096 -S "$STEP"
	run_case "1m-seqread" "$fmt" "$img" -c "$COUNT1M" -s 1M -S 1M
	run_case "1m-seqwrite" "$fmt" "$img" -w -c "$COUNT1M" -s 1M -S 1M
	if [ "$fmt" = qcow2 ]; then run_alloc_case "$fmt"; fi
	qemu-img check -q -f "$fmt" "$img" 2>/dev/null || [ "$fmt" = raw ]
	rm -f "$img"
done
rm -f "$fill"
