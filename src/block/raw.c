// SPDX-License-Identifier: GPL-2.0-only
/*
 * Raw images: the virtual disk is the file, byte for byte.  Sparse files
 * keep holes; the allocation map comes from lseek(SEEK_DATA/SEEK_HOLE) and
 * discard punches holes (fallocate FALLOC_FL_PUNCH_HOLE).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "block/blk_int.h"
#include "vireo/log.h"

static bool raw_probe(const uint8_t *head, size_t len, const uint8_t *tail, uint64_t fsize)
{
	return false;	/* raw is what remains when nothing else matches */
}

static int raw_open(struct blk *b)
{
	uint64_t fsize;
	int err = blk_file_size(b->fd, &fsize);

	if (err)
		return err;
	b->size = ALIGN_UP(fsize, (uint64_t)BLK_SECTOR_SIZE);
	return 0;
}

static void raw_close(struct blk *b) { }

static int raw_read(struct blk *b, void *buf, uint64_t off, size_t len)
{
	return blk_pread_zfill(b->fd, buf, len, off);
}

static int raw_write(struct blk *b, const void *buf, uint64_t off, size_t len)
{
	return blk_pwrite_full(b->fd, buf, len, off);
}

static int raw_flush(struct blk *b)
{
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

static int raw_discard(struct blk *b, uint64_t off, uint64_t len)
{
	static const char zero[64 * 1024];
	int err = 0;

	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	/* No hole punching on this file system: write zeros instead. */
	for (uint64_t o = off; o < off + len && !err; o += sizeof(zero))
		err = blk_pwrite_full(b->fd, zero, MIN(sizeof(zero), off + len - o), o);
	return err;
}

static int raw_resize(struct blk *b, uint64_t size)
{
	if (ftruncate(b->fd, size) < 0)
		return -errno;
	b->size = size;
	return 0;
}

static int raw_block_status(struct blk *b, uint64_t off, uint64_t len, struct blk_extent *ext)
{
	off_t data, hole;

	ext->status = BLK_STATUS_ALLOCATED | BLK_STATUS_DATA;
	ext->host_off = off;
	ext->len = len;
	data = lseek(b->fd, off, SEEK_DATA);
	if (data < 0 && errno == ENXIO) {
		/* Past the last data: a hole up to the end of the file. */
		ext->status = BLK_STATUS_ALLOCATED | BLK_STATUS_ZERO;
		return 0;
	}
	if (data < 0)
		return 0;	/* no SEEK_DATA support: all data */
	if ((uint64_t)data > off) {
		ext->status = BLK_STATUS_ALLOCATED | BLK_STATUS_ZERO;
		ext->len = MIN(len, (uint64_t)data - off);
		return 0;
	}
	hole = lseek(b->fd, off, SEEK_HOLE);
	if (hole > (off_t)off)
		ext->len = MIN(len, (uint64_t)hole - off);
	/* Keep extents sector-granular for the callers' aligned I/O. */
	if (ext->len > BLK_SECTOR_SIZE)
		ext->len = ALIGN_DOWN(ext->len, (uint64_t)BLK_SECTOR_SIZE);
	else
		ext->len = MIN(len, (uint64_t)BLK_SECTOR_SIZE);
	return 0;
}

static int raw_create(int fd, const char *path, const struct blk_create_opts *o)
{
	if (o->backing) {
		log_warnx("%s: raw images cannot have a backing file; use qcow2 or vhd", path);
		return -EINVAL;
	}
	if (ftruncate(fd, o->size) < 0)
		return -errno;
	if (o->preallocate && o->size && fallocate(fd, 0, 0, o->size) < 0)
		return -errno;
	return 0;
}

static void raw_info(struct blk *b, struct blk_info *info)
{
	info->subformat = NULL;
}

const struct blk_driver blk_raw_driver = {
	.name = "raw",
	.format = BLK_FORMAT_RAW,
	.probe = raw_probe,
	.open = raw_open,
	.close = raw_close,
	.read = raw_read,
	.write = raw_write,
	.flush = raw_flush,
	.discard = raw_discard,
	.resize = raw_resize,
	.block_status = raw_block_status,
	.create = raw_create,
	.info = raw_info,
};
