/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_BLOCK_BLK_INT_H
#define VIREO_BLOCK_BLK_INT_H

/* Private to src/block/: the driver vtable and the open-image object. */

#include <endian.h>
#include <string.h>

#include "vireo/block.h"

struct blk_driver {
	const char *name;
	enum blk_format format;
	/* True when the first `len` bytes (and the last sector) match. */
	bool (*probe)(const uint8_t *head, size_t len, const uint8_t *tail512,
		      uint64_t file_size);
	/* b->fd, b->path, b->flags are set; fill b->size, b->backing_name. */
	int (*open)(struct blk *b);
	void (*close)(struct blk *b);
	int (*read)(struct blk *b, void *buf, uint64_t off, size_t len);
	int (*write)(struct blk *b, const void *buf, uint64_t off, size_t len);
	int (*flush)(struct blk *b);
	int (*discard)(struct blk *b, uint64_t off, uint64_t len);
	int (*resize)(struct blk *b, uint64_t size);
	/* Status of this layer only: ALLOCATED clear means "ask the backing". */
	int (*block_status)(struct blk *b, uint64_t off, uint64_t len,
			    struct blk_extent *ext);
	int (*check)(struct blk *b, struct blk_check *res, bool repair);
	int (*create)(int fd, const char *path, const struct blk_create_opts *o);
	int (*snapshot_list)(struct blk *b, struct blk_snapshot **l, int *n);
	int (*snapshot_create)(struct blk *b, const char *name);
	int (*set_backing)(struct blk *b, const char *name, enum blk_format fmt);
	/* Drop everything this layer allocates (reads fall through to the backing). */
	int (*make_empty)(struct blk *b);
	void (*info)(struct blk *b, struct blk_info *info);
};

struct blk {
	const struct blk_driver *drv;
	char *path;
	int fd;
	unsigned flags;
	uint64_t size;		/* virtual size */
	char *backing_name;	/* as stored in the image */
	enum blk_format backing_format;
	char *backing_path;	/* resolved */
	struct blk *backing;
	void *priv;
};

extern const struct blk_driver blk_raw_driver;
extern const struct blk_driver blk_qcow2_driver;
extern const struct blk_driver blk_vhd_driver;

/* Read from the backing chain, zeros where there is none or it is short. */
int blk_read_backing(struct blk *b, void *buf, uint64_t off, size_t len);
/* pread/pwrite the whole range or fail (-EIO on a short read past EOF). */
int blk_pread_full(int fd, void *buf, size_t len, uint64_t off);
int blk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* pread that zero-fills past end of file. */
int blk_pread_zfill(int fd, void *buf, size_t len, uint64_t off);
int blk_file_size(int fd, uint64_t *size);

static inline uint16_t ld_be16(const void *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static inline uint32_t ld_be32(const void *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static inline uint64_t ld_be64(const void *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }
static inline void st_be16(void *p, uint16_t v) { v = htobe16(v); memcpy(p, &v, 2); }
static inline void st_be32(void *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static inline void st_be64(void *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }

#endif
