#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Build the block-format libFuzzer target with clang (ASan + UBSan) and run
# it for SECONDS (default 30) from a seed corpus of small valid images.
#   tests/fuzz/block/run.sh [SECONDS] [BUILD_DIR]
# Needs clang, zlib, liburing and sqlite3 headers (scripts/deps/block.txt).
# Crashes are written to $OUT/crash-*; the script exits non-zero on one.
set -eu
secs=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${2:-$repo/build}
out=${FUZZ_OUT:-$build/fuzz-block}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found; install clang (scripts/deps/block.txt)" >&2
	exit 77
fi
mkdir -p "$out/corpus" "$out/gen"
[ -f "$build/vireo_config.h" ] || { echo "fuzz: configure $build with meson first" >&2; exit 1; }
"$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -std=gnu11 -I"$repo/include" -I"$repo/src" -I"$build" \
	"$here/fuzz_image.c" "$repo"/src/block/blk.c "$repo"/src/block/blk_copy.c \
	"$repo"/src/block/raw.c "$repo"/src/block/qcow2.c "$repo"/src/block/qcow2_check.c \
	"$repo"/src/block/qcow2_snapshot.c "$repo"/src/block/vhd.c \
	"$repo"/src/util/log.c "$repo"/src/util/util.c \
	-lz -lpthread -o "$out/fuzz_image"
# Seed corpus: small images of every kind, made by vireo (and qemu-img if present).
V="$build/vireo"
if [ -x "$V" ] && [ -z "$(ls -A "$out/corpus")" ]; then
	g="$out/gen"
	rm -f "$g"/*
	"$V" disk create --cluster-size 512 "$g/q512.qcow2" 1M >/dev/null
	printf 'fill 0 4K 1\nfill 512K 1K 2\n' | "$V" disk io "$g/q512.qcow2" >/dev/null
	"$V" disk snapshot create "$g/q512.qcow2" s1
	printf 'fill 0 1K 3\n' | "$V" disk io "$g/q512.qcow2" >/dev/null
	"$V" disk create --cluster-size 1K "$g/q1k.qcow2" 256K >/dev/null
	"$V" disk create --block-size 4K -f vhd "$g/dyn.vhd" 256K >/dev/null
	printf 'fill 0 8K 4\n' | "$V" disk io "$g/dyn.vhd" >/dev/null
	"$V" disk create --fixed -f vhd "$g/fixed.vhd" 16K >/dev/null
	if command -v qemu-img >/dev/null 2>&1; then
		head -c 65536 /dev/zero | tr '\0' 'a' > "$g/a.raw"
		qemu-img convert -c -O qcow2 -o cluster_size=4096 "$g/a.raw" "$g/comp.qcow2"
		qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=1 "$g/rc1.qcow2" 64K
		rm -f "$g/a.raw"
	fi
	cp "$g"/* "$out/corpus/"
fi
cd "$out"
exec ./fuzz_image -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 \
	-timeout=10 -print_final_stats=1 corpus
