// SPDX-License-Identifier: GPL-2.0-only
/*
 * Asynchronous block requests on top of the I/O engine (see vireo/block.h,
 * "Asynchronous requests").  The fast path is one engine request on the
 * host file; everything else runs synchronously and is delivered through
 * ioeng_complete() so that callbacks always run inside ioeng_reap().
 */
#include <errno.h>

#include "block/blk_int.h"

static void aio_done(struct ioeng_req *r, int res)
{
	struct blk_aio *a = r->opaque;

	a->done(a, res < 0 ? res : 0);
}

/* Wait for every request in flight (their callbacks run now). */
static int drain(struct ioeng *e)
{
	while (ioeng_inflight(e)) {
		int n = ioeng_reap(e, ioeng_inflight(e));
		if (n < 0)
			return n;
	}
	return 0;
}

/*
 * A slow-path write may free host clusters (copy-on-write away from a
 * shared, compressed or preallocated-zero cluster) only where this layer
 * already allocates something; writes into unallocated ranges free
 * nothing and need not wait.
 */
static int may_free(struct blk *b, uint64_t off, uint64_t len)
{
	struct blk_extent ext;

	for (uint64_t end = off + len; off < end; off += ext.len) {
		memset(&ext, 0, sizeof(ext));
		if (b->drv->block_status(b, off, end - off, &ext) || !ext.len)
			return 1;
		if (ext.status & BLK_STATUS_ALLOCATED)
			return 1;
	}
	return 0;
}

static int aio_slow(struct blk *b, struct ioeng *e, struct blk_aio *a)
{
	int err = 0;

	switch (a->op) {
	case BLK_AIO_READ:
		return blk_read(b, a->buf, a->off, a->len);
	case BLK_AIO_WRITE:
		if (may_free(b, a->off, a->len))
			err = drain(e);
		return err ? err : blk_write(b, a->buf, a->off, a->len);
	case BLK_AIO_DISCARD:
		err = drain(e);
		return err ? err : blk_discard(b, a->off, a->len);
	case BLK_AIO_FLUSH:
		return blk_flush(b);
	}
	return -EINVAL;
}

/* The engine request for the in-place case, or 1 when there is none. */
static int aio_fast(struct blk *b, struct ioeng *e, struct blk_aio *a)
{
	bool wr = a->op == BLK_AIO_WRITE;
	uint64_t host, pnum;
	int fd, err;

	if (a->op == BLK_AIO_FLUSH) {
		if (b->flags & BLK_OPEN_RDONLY)
			return 1;
		a->req.op = IOENG_OP_FSYNC;
		a->req.fd = b->fd;
		return ioeng_submit(e, &a->req);
	}
	if (a->op == BLK_AIO_DISCARD || !a->len)
		return 1;
	err = blk_map(b, a->off, a->len, wr, &fd, &host, &pnum);
	if (err)
		return err;
	if (fd < 0 || pnum < a->len)
		return 1;
	a->req.op = wr ? IOENG_OP_WRITE : IOENG_OP_READ;
	a->req.fd = fd;
	a->req.buf = a->buf;
	a->req.len = a->len;
	a->req.off = host;
	return ioeng_submit(e, &a->req);
}

int blk_aio_submit(struct blk *b, struct ioeng *e, struct blk_aio *a)
{
	int err;

	if (!a->done)
		return -EINVAL;
	memset(&a->req, 0, sizeof(a->req));
	a->req.done = aio_done;
	a->req.opaque = a;
	a->blk = b;
	err = aio_fast(b, e, a);
	if (err <= 0)
		return err;
	/* Slow path: errors travel through the callback like any completion. */
	ioeng_complete(e, &a->req, aio_slow(b, e, a));
	return 0;
}
