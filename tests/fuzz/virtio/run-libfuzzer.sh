#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Build a virtio fuzz target with clang's libFuzzer (+ASan/UBSan) and run it
# for a short while:
#   tests/fuzz/virtio/run-libfuzzer.sh virtqueue|transport [SECONDS] [OUTDIR]
# virtqueue: the split-ring parser alone; transport: a live virtio-blk over
# the PCI transport under random BAR/config/RAM traffic.  The corpus stays
# in OUTDIR/corpus-TARGET between runs; crashes are written to OUTDIR.
# Exit status: 0 clean, 77 (skip) without clang/libFuzzer, else the fuzzer's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
target=${1:?usage: run-libfuzzer.sh virtqueue|transport [SECONDS] [OUTDIR]}
secs=${2:-25}
out=${3:-${TMPDIR:-/tmp}/vireo-fuzz-virtio}
cc=${CLANG:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "skip: $cc not found (install clang for libFuzzer)"
	exit 77
fi
case $target in
virtqueue)
	srcs="$here/fuzz_virtqueue.c $repo/src/dev/virtio/virtqueue.c $repo/src/core/memory.c
	      $repo/src/util/log.c"
	libs="" ;;
transport)
	srcs="$here/fuzz_transport.c $repo/tests/unit/virtio/vfake.c
	      $repo/src/dev/virtio/virtqueue.c $repo/src/dev/virtio/pci.c $repo/src/dev/virtio/blk.c
	      $repo/src/dev/pci.c $repo/src/core/bus.c $repo/src/core/memory.c
	      $repo/src/core/evloop.c $repo/src/core/device.c $repo/src/util/log.c
	      $repo/src/util/util.c $repo/src/block/blk.c $repo/src/block/raw.c
	      $repo/src/block/qcow2.c $repo/src/block/qcow2_check.c
	      $repo/src/block/qcow2_snapshot.c $repo/src/block/vhd.c $repo/src/block/blk_copy.c"
	libs="-lz -lpthread" ;;
*)
	echo "run-libfuzzer.sh: unknown target '$target' (virtqueue or transport)" >&2
	exit 2 ;;
esac
mkdir -p "$out/corpus-$target"
# shellcheck disable=SC2086
if ! "$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -DVIREO_LIBFUZZER \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$repo/include" -I"$repo/src" -I"$repo" -I"$here" -I"$repo/tests/unit/virtio" \
	$srcs $libs -o "$out/fuzz_$target" 2>"$out/build-$target.log"; then
	if grep -q "fuzzer" "$out/build-$target.log"; then
		echo "skip: $cc cannot link libFuzzer:"; cat "$out/build-$target.log"; exit 77
	fi
	cat "$out/build-$target.log"; exit 1
fi
cd "$out"
exec "./fuzz_$target" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
	-max_len=65538 "corpus-$target"
