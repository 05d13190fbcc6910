// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the input is an image file (qcow2, VHD or raw, probed).
 * It is opened read-only and read-write, and we walk the allocation map,
 * read, check, list snapshots and write a little: header and table parsing,
 * the L1/L2/refcount/BAT walks and the allocator all see hostile metadata.
 * Must never crash, hang, or allocate without bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vireo/block.h"
#include "vireo/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(struct blk *b, bool rw)
{
	static uint8_t buf[64 * 1024];
	struct blk_snapshot *snaps;
	struct blk_check res;
	struct blk_extent ext;
	uint64_t size = blk_size(b), off = 0;
	int n;

	for (int i = 0; i < 64 && off < size; i++) {
		if (blk_block_status(b, off, size - off, &ext))
			break;
		off += ext.len;
	}
	for (uint64_t o = 0; o < size && o < 4 * sizeof(buf); o += sizeof(buf)) {
		size_t len = size - o < sizeof(buf) ? (size_t)(size - o) & ~511u : sizeof(buf);
		if (len && blk_read(b, buf, o, len))
			break;
	}
	if (!blk_snapshot_list(b, &snaps, &n) && n)
		free(snaps);
	if (blk_check(b, &res, rw))
		return;
	if (rw && size >= 8192) {
		memset(buf, 0x5a, 8192);
		if (!blk_write(b, buf, size / 2 & ~511ULL, 4096))
			(void)blk_discard(b, 0, 4096);
		(void)blk_flush(b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct blk *b;
	int fd;

	if (size > (4u << 20))
		return 0;
	log_set_level(LOG_LEVEL_ERROR);
	fd = memfd_create("fuzz-image", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!blk_open(path, BLK_FORMAT_AUTO, BLK_OPEN_RDONLY | BLK_OPEN_NO_BACKING |
			      BLK_OPEN_CHECK, &b)) {
			exercise(b, false);
			blk_close(b);
		}
		if (!blk_open(path, BLK_FORMAT_AUTO, BLK_OPEN_NO_BACKING, &b)) {
			exercise(b, true);
			blk_close(b);
		}
	}
	close(fd);
	return 0;
}
