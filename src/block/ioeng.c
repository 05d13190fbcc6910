// SPDX-License-Identifier: GPL-2.0-only
/*
 * I/O engine (see vireo/ioeng.h): io_uring through liburing, or a thread
 * pool.  Short transfers are continued (io_uring may return them for
 * buffered I/O); reads that hit end of file are zero-filled.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <liburing.h>

#include "vireo/ioeng.h"
#include "vireo/log.h"

#define IOENG_MAX_DEPTH 1024
#define IOENG_MAX_THREADS 16

struct ioeng {
	enum ioeng_kind kind;
	unsigned depth, inflight;
	int efd;
	/* io_uring */
	struct io_uring ring;
	/* thread pool */
	pthread_t threads[IOENG_MAX_THREADS];
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t work_cv, done_cv;
	struct ioeng_req *queue_head, *queue_tail;	/* submitted, not started */
	struct ioeng_req *done_list;			/* finished, not reaped */
	unsigned done_count;
	bool stopping;
};

/* Do (the rest of) one request synchronously; returns bytes or -errno. */
static int req_run_sync(struct ioeng_req *r)
{
	while (r->done_bytes < r->len || r->op == IOENG_OP_FSYNC) {
		ssize_t n;
		char *p = (char *)r->buf + r->done_bytes;
		size_t left = r->len - r->done_bytes;

		if (r->op == IOENG_OP_FSYNC)
			return fdatasync(r->fd) < 0 ? -errno : 0;
		if (r->op == IOENG_OP_READ)
			n = pread(r->fd, p, left, r->off + r->done_bytes);
		else
			n = pwrite(r->fd, p, left, r->off + r->done_bytes);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			if (r->op == IOENG_OP_WRITE)
				return -EIO;
			memset(p, 0, left);	/* end of file */
			n = left;
		}
		r->done_bytes += n;
	}
	return r->len;
}

/* ---- io_uring ----------------------------------------------------------- */

static int uring_queue(struct ioeng *e, struct ioeng_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	char *p = (char *)r->buf + r->done_bytes;
	unsigned left = r->len - r->done_bytes;
	uint64_t off = r->off + r->done_bytes;

	if (!sqe)
		return -EAGAIN;
	switch (r->op) {
	case IOENG_OP_READ: io_uring_prep_read(sqe, r->fd, p, left, off); break;
	case IOENG_OP_WRITE: io_uring_prep_write(sqe, r->fd, p, left, off); break;
	case IOENG_OP_FSYNC: io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC); break;
	}
	io_uring_sqe_set_data(sqe, r);
	return io_uring_submit(&e->ring) < 0 ? -EIO : 0;
}

/* A completion: finish the request or continue a short transfer. */
static bool uring_complete(struct ioeng *e, struct ioeng_req *r, int res)
{
	if (res < 0 || r->op == IOENG_OP_FSYNC) {
		r->res = r->op == IOENG_OP_FSYNC && res >= 0 ? 0 : res;
		return true;
	}
	if (res == 0) {
		if (r->op == IOENG_OP_WRITE) {
			r->res = -EIO;
			return true;
		}
		memset((char *)r->buf + r->done_bytes, 0, r->len - r->done_bytes);
		res = r->len - r->done_bytes;
	}
	r->done_bytes += res;
	if (r->done_bytes >= r->len) {
		r->res = r->len;
		return true;
	}
	if (uring_queue(e, r)) {
		r->res = req_run_sync(r);	/* ring full: finish inline */
		return true;
	}
	return false;
}

static int uring_reap(struct ioeng *e, unsigned min)
{
	struct io_uring_cqe *cqe;
	int ran = 0, err;
	uint64_t v;

	while (e->inflight) {
		if ((unsigned)ran >= min)
			err = io_uring_peek_cqe(&e->ring, &cqe);
		else
			err = io_uring_wait_cqe(&e->ring, &cqe);
		if (err == -EAGAIN)
			break;
		if (err == -EINTR)
			continue;
		if (err)
			return err;
		struct ioeng_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&e->ring, cqe);
		if (!uring_complete(e, r, res))
			continue;
		e->inflight--;
		r->done(r, r->res);
		ran++;
	}
	if (read(e->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled, fine */
	}
	return ran;
}

static int uring_init(struct ioeng *e)
{
	int err = io_uring_queue_init(e->depth, &e->ring, 0);

	if (err)
		return err;
	err = io_uring_register_eventfd(&e->ring, e->efd);
	if (err) {
		io_uring_queue_exit(&e->ring);
		return err;
	}
	e->kind = IOENG_URING;
	return 0;
}

/* ---- thread pool -------------------------------------------------------- */

static void *pool_worker(void *arg)
{
	struct ioeng *e = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct ioeng_req *r;
		while (!e->queue_head && !e->stopping)
			pthread_cond_wait(&e->work_cv, &e->lock);
		if (!e->queue_head)
			break;
		r = e->queue_head;
		e->queue_head = r->next;
		if (!e->queue_head)
			e->queue_tail = NULL;
		pthread_mutex_unlock(&e->lock);
		r->res = req_run_sync(r);
		pthread_mutex_lock(&e->lock);
		r->next = e->done_list;
		e->done_list = r;
		e->done_count++;
		pthread_cond_signal(&e->done_cv);
		if (write(e->efd, &one, sizeof(one)) < 0) {
			/* counter saturated: the reader is already woken */
		}
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static int pool_init(struct ioeng *e)
{
	unsigned n = MIN(e->depth, (unsigned)IOENG_MAX_THREADS);

	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work_cv, NULL);
	pthread_cond_init(&e->done_cv, NULL);
	e->kind = IOENG_THREADS;
	for (e->nthreads = 0; e->nthreads < n; e->nthreads++) {
		if (pthread_create(&e->threads[e->nthreads], NULL, pool_worker, e))
			break;
	}
	return e->nthreads ? 0 : -EAGAIN;
}

static int pool_reap(struct ioeng *e, unsigned min)
{
	struct ioeng_req *list, *r;
	int ran = 0;
	uint64_t v;

	while (e->inflight) {
		pthread_mutex_lock(&e->lock);
		while ((unsigned)ran + e->done_count < min && e->done_count < e->inflight)
			pthread_cond_wait(&e->done_cv, &e->lock);
		list = e->done_list;
		e->done_list = NULL;
		e->done_count = 0;
		pthread_mutex_unlock(&e->lock);
		if (!list)
			break;
		while ((r = list)) {
			list = r->next;
			e->inflight--;
			r->done(r, r->res);
			ran++;
		}
		if ((unsigned)ran >= min)
			break;
	}
	if (read(e->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled */
	}
	return ran;
}

static void pool_stop(struct ioeng *e)
{
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_cond_broadcast(&e->work_cv);
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = 0; i < e->nthreads; i++)
		pthread_join(e->threads[i], NULL);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->work_cv);
	pthread_cond_destroy(&e->done_cv);
}

/* ---- interface ---------------------------------------------------------- */

int ioeng_create(enum ioeng_kind kind, unsigned depth, struct ioeng **out)
{
	struct ioeng *e;
	int err = -EINVAL;

	if (!depth || depth > IOENG_MAX_DEPTH)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->depth = depth;
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->efd < 0) {
		err = -errno;
		goto err_free;
	}
	if (kind == IOENG_AUTO || kind == IOENG_URING) {
		err = uring_init(e);
		if (err && kind == IOENG_URING) {
			err = -ENOSYS;
			goto err_close;
		}
		if (err)
			log_debug("ioeng: io_uring unavailable (%s), using threads", strerror(-err));
	}
	if (kind == IOENG_THREADS || (kind == IOENG_AUTO && err))
		err = pool_init(e);
	if (err)
		goto err_close;
	*out = e;
	return 0;

err_close:
	close(e->efd);
err_free:
	free(e);
	return err;
}

const char *ioeng_name(const struct ioeng *e)
{
	return e->kind == IOENG_URING ? "io_uring" : "threads";
}

unsigned ioeng_inflight(const struct ioeng *e) { return e->inflight; }
int ioeng_event_fd(const struct ioeng *e) { return e->efd; }

int ioeng_submit(struct ioeng *e, struct ioeng_req *r)
{
	int err;

	if (e->inflight >= e->depth)
		return -EAGAIN;
	if (!r->done || (r->op != IOENG_OP_FSYNC && !r->buf))
		return -EINVAL;
	r->done_bytes = 0;
	r->res = 0;
	r->next = NULL;
	if (e->kind == IOENG_URING) {
		err = uring_queue(e, r);
		if (err)
			return err;
	} else {
		pthread_mutex_lock(&e->lock);
		if (e->queue_tail)
			e->queue_tail->next = r;
		else
			e->queue_head = r;
		e->queue_tail = r;
		pthread_cond_signal(&e->work_cv);
		pthread_mutex_unlock(&e->lock);
	}
	e->inflight++;
	return 0;
}

int ioeng_reap(struct ioeng *e, unsigned min)
{
	if (min > e->inflight)
		min = e->inflight;
	return e->kind == IOENG_URING ? uring_reap(e, min) : pool_reap(e, min);
}

void ioeng_destroy(struct ioeng *e)
{
	if (!e)
		return;
	while (e->inflight)
		if (ioeng_reap(e, e->inflight) < 0)
			break;
	if (e->kind == IOENG_URING)
		io_uring_queue_exit(&e->ring);
	else
		pool_stop(e);
	close(e->efd);
	free(e);
}
