// SPDX-License-Identifier: GPL-2.0-only
/*
 * The format-independent half of the block layer: probing, opening backing
 * chains (with loop detection), argument checks, and the allocation map
 * across layers.  Drivers see only validated, in-range requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/blk_int.h"
#include "vireo/log.h"

static const struct blk_driver *const drivers[] = {
	&blk_qcow2_driver,
	&blk_vhd_driver,
	&blk_raw_driver,	/* last: matches anything */
};

const char *blk_format_name(enum blk_format f)
{
	switch (f) {
	case BLK_FORMAT_RAW: return "raw";
	case BLK_FORMAT_QCOW2: return "qcow2";
	case BLK_FORMAT_VHD: return "vhd";
	case BLK_FORMAT_AUTO: return "auto";
	}
	return "unknown";
}

int blk_format_parse(const char *name, enum blk_format *out)
{
	if (!strcmp(name, "raw"))
		*out = BLK_FORMAT_RAW;
	else if (!strcmp(name, "qcow2"))
		*out = BLK_FORMAT_QCOW2;
	else if (!strcmp(name, "vhd") || !strcmp(name, "vpc"))
		*out = BLK_FORMAT_VHD;
	else if (!strcmp(name, "auto") || !*name)
		*out = BLK_FORMAT_AUTO;
	else
		return -EINVAL;
	return 0;
}

static const struct blk_driver *driver_for(enum blk_format f)
{
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
		if (drivers[i]->format == f)
			return drivers[i];
	return NULL;
}

int blk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

int blk_pread_zfill(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += n;
	}
	return 0;
}

int blk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

int blk_file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*size = st.st_size;
	return 0;
}

bool blk_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (!len)
		return true;
	/* The first byte is zero and every byte equals its successor. */
	return p[0] == 0 && !memcmp(p, p + 1, len - 1);
}

static int probe_fd(int fd, enum blk_format *out)
{
	uint8_t head[512], tail[512];
	uint64_t fsize;
	int err;

	err = blk_file_size(fd, &fsize);
	if (err)
		return err;
	memset(head, 0, sizeof(head));
	memset(tail, 0, sizeof(tail));
	err = blk_pread_zfill(fd, head, sizeof(head), 0);
	if (!err && fsize >= 512)
		err = blk_pread_zfill(fd, tail, sizeof(tail), fsize - 512);
	if (err)
		return err;
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
		if (drivers[i]->probe(head, sizeof(head), tail, fsize)) {
			*out = drivers[i]->format;
			return 0;
		}
	}
	*out = BLK_FORMAT_RAW;
	return 0;
}

int blk_probe(const char *path, enum blk_format *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = probe_fd(fd, out);
	close(fd);
	return err;
}

/* Backing names are relative to the directory of the image that names them. */
static int resolve_backing(const char *image, const char *name, char **out)
{
	const char *slash;
	char *p;

	if (strstr(name, "://") || !strncmp(name, "json:", 5)) {
		log_warnx("%s: backing file '%s' is a protocol URL; only local files are supported",
			  image, name);
		return -ENOTSUP;
	}
	slash = strrchr(image, '/');
	if (name[0] == '/' || !slash) {
		p = strdup(name);
	} else if (asprintf(&p, "%.*s/%s", (int)(slash - image), image, name) < 0) {
		p = NULL;
	}
	if (!p)
		return -ENOMEM;
	*out = p;
	return 0;
}

struct chain_seen {
	dev_t dev[BLK_MAX_CHAIN + 1];
	ino_t ino[BLK_MAX_CHAIN + 1];
	int n;
};

static int open_one(const char *path, enum blk_format fmt, unsigned flags,
		    struct chain_seen *seen, struct blk **out);

static int open_backing(struct blk *b, struct chain_seen *seen)
{
	unsigned flags = BLK_OPEN_RDONLY;
	int err;

	err = resolve_backing(b->path, b->backing_name, &b->backing_path);
	if (err)
		return err;
	if (seen->n > BLK_MAX_CHAIN) {
		log_warnx("%s: backing chain longer than %d images", b->path, BLK_MAX_CHAIN);
		return -ELOOP;
	}
	err = open_one(b->backing_path, b->backing_format, flags, seen, &b->backing);
	if (err == -ENOENT)
		log_warnx("%s: backing file '%s' not found (looked for %s)",
			  b->path, b->backing_name, b->backing_path);
	return err;
}

static int check_loop(const char *path, int fd, struct chain_seen *seen)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		log_warnx("%s: is a directory, not a disk image", path);
		return -EISDIR;
	}
	for (int i = 0; i < seen->n; i++) {
		if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino) {
			log_warnx("%s: backing chain loops back to this file", path);
			return -ELOOP;
		}
	}
	if (seen->n > BLK_MAX_CHAIN) {
		log_warnx("%s: backing chain longer than %d images", path, BLK_MAX_CHAIN);
		return -ELOOP;
	}
	seen->dev[seen->n] = st.st_dev;
	seen->ino[seen->n] = st.st_ino;
	seen->n++;
	return 0;
}

static int open_fd(const char *path, unsigned flags)
{
	int fd = open(path, ((flags & BLK_OPEN_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int open_one(const char *path, enum blk_format fmt, unsigned flags,
		    struct chain_seen *seen, struct blk **out)
{
	enum blk_format probed;
	struct blk *b;
	int err;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->flags = flags;
	b->path = strdup(path);
	if (!b->path) {
		err = -ENOMEM;
		goto err_free;
	}
	b->fd = open_fd(path, flags);
	if (b->fd < 0) {
		err = b->fd;
		goto err_free;
	}
	err = check_loop(path, b->fd, seen);
	if (err)
		goto err_close;
	err = probe_fd(b->fd, &probed);
	if (err)
		goto err_close;
	if (fmt == BLK_FORMAT_AUTO)
		fmt = probed;
	b->drv = driver_for(fmt);
	if (!b->drv) {
		err = -EINVAL;
		goto err_close;
	}
	err = b->drv->open(b);
	if (err)
		goto err_close;
	if (b->backing_name && !(flags & BLK_OPEN_NO_BACKING)) {
		err = open_backing(b, seen);
		if (err)
			goto err_drv;
	}
	*out = b;
	return 0;

err_drv:
	b->drv->close(b);
err_close:
	close(b->fd);
err_free:
	free(b->path);
	free(b->backing_name);
	free(b->backing_path);
	free(b);
	return err;
}

int blk_open(const char *path, enum blk_format fmt, unsigned flags, struct blk **out)
{
	struct chain_seen seen = { .n = 0 };

	return open_one(path, fmt, flags, &seen, out);
}

void blk_close(struct blk *b)
{
	if (!b)
		return;
	blk_close(b->backing);
	b->drv->close(b);
	close(b->fd);
	free(b->path);
	free(b->backing_name);
	free(b->backing_path);
	free(b);
}

uint64_t blk_size(const struct blk *b) { return b->size; }
struct blk *blk_backing(const struct blk *b) { return b->backing; }
const char *blk_path(const struct blk *b) { return b->path; }
bool blk_read_only(const struct blk *b) { return b->flags & BLK_OPEN_RDONLY; }

void blk_info_get(struct blk *b, struct blk_info *info)
{
	struct stat st;

	memset(info, 0, sizeof(*info));
	info->format = b->drv->format;
	info->format_name = b->drv->name;
	info->virtual_size = b->size;
	if (fstat(b->fd, &st) == 0) {
		info->file_size = st.st_size;
		info->allocated = (uint64_t)st.st_blocks * 512;
	}
	info->backing = b->backing_name;
	info->backing_path = b->backing_path;
	if (b->drv->info)
		b->drv->info(b, info);
}

static int check_range(const struct blk *b, uint64_t off, uint64_t len)
{
	if ((off | len) & (BLK_SECTOR_SIZE - 1))
		return -EINVAL;
	if (off > b->size || len > b->size - off)
		return -EINVAL;
	return 0;
}

int blk_read_backing(struct blk *b, void *buf, uint64_t off, size_t len)
{
	struct blk *bk = b->backing;
	size_t n = 0;

	if (bk && off < bk->size) {
		n = MIN(len, bk->size - off);
		/* A backing file whose size is not sector-aligned: read what exists. */
		if (n & (BLK_SECTOR_SIZE - 1)) {
			int err = bk->drv->read(bk, buf, off, n);
			if (err)
				return err;
		} else {
			int err = blk_read(bk, buf, off, n);
			if (err)
				return err;
		}
	} else if (b->backing_name && !bk && !(b->flags & BLK_OPEN_NO_BACKING)) {
		return -EIO;
	}
	memset((char *)buf + n, 0, len - n);
	return 0;
}

int blk_read(struct blk *b, void *buf, uint64_t off, size_t len)
{
	int err = check_range(b, off, len);

	if (err)
		return err;
	return len ? b->drv->read(b, buf, off, len) : 0;
}

int blk_write(struct blk *b, const void *buf, uint64_t off, size_t len)
{
	int err = check_range(b, off, len);

	if (err)
		return err;
	if (b->flags & BLK_OPEN_RDONLY)
		return -EROFS;
	return len ? b->drv->write(b, buf, off, len) : 0;
}

int blk_flush(struct blk *b)
{
	if (b->flags & BLK_OPEN_RDONLY)
		return 0;
	return b->drv->flush(b);
}

int blk_discard(struct blk *b, uint64_t off, uint64_t len)
{
	int err = check_range(b, off, len);

	if (err)
		return err;
	if (b->flags & BLK_OPEN_RDONLY)
		return -EROFS;
	return len ? b->drv->discard(b, off, len) : 0;
}

int blk_block_status(struct blk *b, uint64_t off, uint64_t len, struct blk_extent *ext)
{
	struct blk *layer = b;
	int depth = 0, err;

	if (off >= b->size || !len)
		return -EINVAL;
	len = MIN(len, b->size - off);
	for (;;) {
		memset(ext, 0, sizeof(*ext));
		err = layer->drv->block_status(layer, off, len, ext);
		if (err)
			return err;
		if (!ext->len || ext->len > len)
			return -EIO;
		len = ext->len;
		ext->off = off;
		ext->depth = depth;
		if (ext->status & BLK_STATUS_ALLOCATED) {
			ext->layer = layer;
			return 0;
		}
		if (!layer->backing || off >= layer->backing->size) {
			ext->status = BLK_STATUS_ZERO;
			ext->layer = NULL;
			return 0;
		}
		len = MIN(len, layer->backing->size - off);
		layer = layer->backing;
		depth++;
	}
}

/* True when [from, to) of the image holds any allocated non-zero byte. */
static int range_has_data(struct blk *b, uint64_t from, uint64_t to, uint64_t *where)
{
	size_t bufsz = 1 * MiB;
	char *buf = malloc(bufsz);
	struct blk_extent ext;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = from; off < to; off += ext.len) {
		err = blk_block_status(b, off, to - off, &ext);
		if (err)
			break;
		if (ext.status & BLK_STATUS_ZERO)
			continue;
		for (uint64_t o = off; o < off + ext.len; o += bufsz) {
			size_t n = MIN(bufsz, off + ext.len - o);
			err = blk_read(b, buf, o, n);
			if (err)
				goto out;
			if (!blk_is_zero(buf, n)) {
				*where = o;
				err = 1;
				goto out;
			}
		}
	}
out:
	free(buf);
	return err;
}

int blk_resize(struct blk *b, uint64_t size, bool allow_shrink, uint64_t *lost_off)
{
	uint64_t where = 0;
	int err;

	if (b->flags & BLK_OPEN_RDONLY)
		return -EROFS;
	if (size & (BLK_SECTOR_SIZE - 1) || size > BLK_MAX_SIZE)
		return -EINVAL;
	if (size == b->size)
		return 0;
	if (size < b->size) {
		if (!allow_shrink)
			return -EPERM;
		err = range_has_data(b, size, b->size, &where);
		if (err < 0)
			return err;
		if (err > 0) {
			if (lost_off)
				*lost_off = where;
			return -ENOTEMPTY;
		}
	}
	if (!b->drv->resize)
		return -ENOTSUP;
	return b->drv->resize(b, size);
}

int blk_check(struct blk *b, struct blk_check *res, bool repair)
{
	memset(res, 0, sizeof(*res));
	if (repair && (b->flags & BLK_OPEN_RDONLY))
		return -EROFS;
	if (!b->drv->check)
		return 0;
	return b->drv->check(b, res, repair);
}

int blk_snapshot_list(struct blk *b, struct blk_snapshot **list, int *n)
{
	*list = NULL;
	*n = 0;
	if (!b->drv->snapshot_list)
		return 0;
	return b->drv->snapshot_list(b, list, n);
}

int blk_snapshot_create(struct blk *b, const char *name)
{
	if (b->flags & BLK_OPEN_RDONLY)
		return -EROFS;
	if (!b->drv->snapshot_create)
		return -ENOTSUP;
	return b->drv->snapshot_create(b, name);
}

int blk_set_backing(struct blk *b, const char *backing, enum blk_format fmt)
{
	if (b->flags & BLK_OPEN_RDONLY)
		return -EROFS;
	if (!b->drv->set_backing)
		return -ENOTSUP;
	return b->drv->set_backing(b, backing, fmt);
}

int blk_map(struct blk *b, uint64_t off, uint64_t len, bool for_write,
	    int *fd, uint64_t *host_off, uint64_t *pnum)
{
	struct blk_extent ext;
	int err;

	*fd = -1;
	*pnum = 0;
	if (check_range(b, off, len) || !len)
		return -EINVAL;
	if (for_write && (b->flags & BLK_OPEN_RDONLY))
		return -EROFS;
	if (b->drv->format == BLK_FORMAT_RAW) {
		/* The file is the disk: always in place, holes included. */
		*fd = b->fd;
		*host_off = off;
		*pnum = len;
		return 0;
	}
	memset(&ext, 0, sizeof(ext));
	err = b->drv->block_status(b, off, len, &ext);
	if (err)
		return err;
	if (!ext.len || ext.len > len)
		return -EIO;
	if ((ext.status & (BLK_STATUS_DATA | BLK_STATUS_COMPRESSED)) == BLK_STATUS_DATA &&
	    (ext.status & BLK_STATUS_ALLOCATED) && !(for_write && (ext.status & BLK_STATUS_SHARED))) {
		*fd = b->fd;
		*host_off = ext.host_off;
	}
	*pnum = ext.len;
	return 0;
}

int blk_create(const char *path, const struct blk_create_opts *opts)
{
	const struct blk_driver *drv = driver_for(opts->format);
	struct blk_create_opts o = *opts;
	struct blk *bk = NULL;
	int fd, err;

	if (!drv || !drv->create)
		return -EINVAL;
	if (o.backing) {
		char *bpath;
		err = resolve_backing(path, o.backing, &bpath);
		if (err)
			return err;
		err = blk_open(bpath, o.backing_format, BLK_OPEN_RDONLY, &bk);
		free(bpath);
		if (err) {
			log_errno(-err, "%s: cannot open backing file '%s'", path, o.backing);
			return err;
		}
		if (!o.size)
			o.size = bk->size;
		if (o.backing_format == BLK_FORMAT_AUTO)
			o.backing_format = bk->drv->format;
		blk_close(bk);
	}
	if (o.size > BLK_MAX_SIZE) {
		log_warnx("%s: size %llu is larger than the 64 TiB limit", path,
			  (unsigned long long)o.size);
		return -EFBIG;
	}
	o.size = ALIGN_UP(o.size, (uint64_t)BLK_SECTOR_SIZE);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	err = drv->create(fd, path, &o);
	if (!err && fdatasync(fd) < 0)
		err = -errno;
	close(fd);
	if (err)
		unlink(path);
	return err;
}
