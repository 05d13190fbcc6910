#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Build the virtqueue fuzz target with clang's libFuzzer (+ASan/UBSan) and
# run it for a short while: tests/fuzz/virtio/run-libfuzzer.sh [SECONDS] [OUTDIR]
# Exit status: 0 clean, 77 (skip) without clang/libFuzzer, else the fuzzer's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
secs=${1:-25}
out=${2:-${TMPDIR:-/tmp}/vireo-fuzz-virtqueue}
cc=${CLANG:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "skip: $cc not found (install clang for libFuzzer)"
	exit 77
fi
mkdir -p "$out/corpus"
if ! "$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -DVIREO_LIBFUZZER \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$repo/include" -I"$repo/src" -I"$here" \
	"$here/fuzz_virtqueue.c" "$repo/src/dev/virtio/virtqueue.c" \
	"$repo/src/core/memory.c" "$repo/src/util/log.c" \
	-o "$out/fuzz_virtqueue" 2>"$out/build.log"; then
	if grep -q "fuzzer" "$out/build.log"; then
		echo "skip: $cc cannot link libFuzzer:"; cat "$out/build.log"; exit 77
	fi
	cat "$out/build.log"; exit 1
fi
cd "$out"
exec ./fuzz_virtqueue -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 \
	-max_len=65538 corpus
