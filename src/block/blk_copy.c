// SPDX-License-Identifier: GPL-2.0-only
/*
 * Whole-image operations built on the blk_*() interface: copy (convert,
 * flatten) and commit.  They walk the allocation map so that holes and
 * zero ranges cost nothing, and report progress.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/blk_int.h"
#include "vireo/log.h"

#define COPY_CHUNK (1 * MiB)
#define PROGRESS_STEP (64 * MiB)

/*
 * Copy one extent in chunks.  Zero extents are skipped when dst is fresh
 * (skip_zero), else discarded so that dst's own backing does not show.
 */
static int copy_extent(struct blk *src, struct blk *dst, const struct blk_extent *ext,
		       bool skip_zero, void *buf)
{
	int err = 0;

	if (ext->status & BLK_STATUS_ZERO)
		return skip_zero ? 0 : blk_discard(dst, ext->off, ext->len);
	for (uint64_t o = ext->off; o < ext->off + ext->len && !err; o += COPY_CHUNK) {
		size_t n = MIN((uint64_t)COPY_CHUNK, ext->off + ext->len - o);
		err = blk_read(src, buf, o, n);
		if (err || (skip_zero && blk_is_zero(buf, n)))
			continue;
		err = blk_write(dst, buf, o, n);
	}
	return err;
}

int blk_copy(struct blk *src, struct blk *dst, bool top_only,
	     blk_progress_fn progress, void *opaque)
{
	uint64_t size = blk_size(src);
	struct blk_extent ext;
	void *buf;
	int err = 0;

	if (blk_size(dst) < size)
		return -ENOSPC;
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < size; off += ext.len) {
		err = blk_block_status(src, off, size - off, &ext);
		if (err)
			break;
		if (!(ext.status & BLK_STATUS_ZERO))
			ext.len = MIN(ext.len, PROGRESS_STEP);	/* keep the bar moving */
		if (!top_only || ext.depth == 0)
			err = copy_extent(src, dst, &ext, !top_only, buf);
		if (err)
			break;
		if (progress)
			progress(opaque, off + ext.len, size);
	}
	free(buf);
	if (!err)
		err = blk_flush(dst);
	return err;
}

static int commit_into(struct blk *top, struct blk *parent, blk_progress_fn progress,
		       void *opaque)
{
	uint64_t size = blk_size(top);
	struct blk_extent ext;
	void *buf;
	int err = 0;

	if (blk_size(parent) < size) {
		err = blk_resize(parent, size, false, NULL);
		if (err)
			return err;
	}
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < size; off += ext.len) {
		err = blk_block_status(top, off, size - off, &ext);
		if (err)
			break;
		if (!(ext.status & BLK_STATUS_ZERO))
			ext.len = MIN(ext.len, PROGRESS_STEP);
		if (ext.layer == top)
			err = copy_extent(top, parent, &ext, false, buf);
		if (err)
			break;
		if (progress)
			progress(opaque, off + ext.len, size);
	}
	free(buf);
	if (!err)
		err = blk_flush(parent);
	return err;
}

/* After a commit: the parent is durable; drop the top's now-redundant data. */
static int empty_top(const char *path)
{
	struct blk *top;
	int err;

	err = blk_open(path, BLK_FORMAT_AUTO, BLK_OPEN_NO_BACKING, &top);
	if (err)
		return err;
	if (top->drv->make_empty) {
		err = top->drv->make_empty(top);
		if (!err)
			err = blk_flush(top);
	}
	blk_close(top);
	return err;
}

int blk_commit(const char *path, bool keep, blk_progress_fn progress, void *opaque)
{
	struct blk *top, *parent;
	const char *slash;
	char *ppath;
	int err;

	/* The top is read without its chain: only what it allocates moves. */
	err = blk_open(path, BLK_FORMAT_AUTO, BLK_OPEN_RDONLY | BLK_OPEN_NO_BACKING, &top);
	if (err)
		return err;
	if (!top->backing_name) {
		log_warnx("%s: has no backing file to commit into", path);
		blk_close(top);
		return -EINVAL;
	}
	slash = strrchr(path, '/');
	if (top->backing_name[0] == '/' || !slash)
		ppath = strdup(top->backing_name);
	else if (asprintf(&ppath, "%.*s/%s", (int)(slash - path), path, top->backing_name) < 0)
		ppath = NULL;
	if (!ppath) {
		blk_close(top);
		return -ENOMEM;
	}
	err = blk_open(ppath, top->backing_format, 0, &parent);
	if (err) {
		log_errno(-err, "%s: cannot open backing file %s for writing", path, ppath);
	} else {
		err = commit_into(top, parent, progress, opaque);
		blk_close(parent);
	}
	free(ppath);
	blk_close(top);
	if (!err && !keep)
		err = empty_top(path);
	return err;
}
