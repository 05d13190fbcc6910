// SPDX-License-Identifier: GPL-2.0-only
/*
 * I/O engine (see vireo/ioeng.h): io_uring through liburing and a pool of
 * worker threads.
 *
 * IOENG_AUTO uses both where the kernel has io_uring: small reads go to the
 * ring (they complete inline from the page cache, one system call per
 * batch), writes, large reads and fsyncs go to the pool (buffered writes
 * and big copies run in parallel on every core, where io_uring would punt
 * them to its own workers one at a time).  IOENG_URING and IOENG_THREADS
 * use one back end only.  Both back ends signal one eventfd, so one poll()
 * waits for either.  Both batch: submitted requests start at the next
 * ioeng_kick() or ioeng_reap() (one io_uring_enter, one pool lock).
 *
 * Short transfers are continued; reads that hit end of file are zero-filled.
 */
#include <errno.h>
#include <poll.h>
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
/* AUTO: reads below this size take the ring, the rest the pool. */
#define IOENG_RING_MAX_BYTES (128 * 1024)

struct ioeng {
	enum ioeng_kind kind;
	unsigned depth, inflight;
	int efd;
	/* io_uring */
	bool has_ring;
	struct io_uring ring;
	unsigned ring_inflight;
	unsigned unsubmitted;	/* SQEs prepared, not yet submitted */
	/* thread pool */
	bool has_pool;
	pthread_t threads[IOENG_MAX_THREADS];
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t work_cv;
	struct ioeng_req *queue_head, *queue_tail;	/* kicked, not started */
	struct ioeng_req *done_list;			/* finished, not reaped */
	unsigned idle;					/* workers waiting for work */
	bool stopping;
	/* submitted, not kicked yet: owner only, no lock */
	struct ioeng_req *pend_head, *pend_tail;
	unsigned npend;
	/* finished synchronously by the owner (ioeng_complete) */
	struct ioeng_req *ready_head, *ready_tail;
};

/* Do (the rest of) one request synchronously; returns bytes or -errno. */
static int req_run_sync(struct ioeng_req *r)
{
	if (r->op == IOENG_OP_FSYNC)
		return fdatasync(r->fd) < 0 ? -errno : 0;
	while (r->done_bytes < r->len) {
		char *p = (char *)r->buf + r->done_bytes;
		size_t left = r->len - r->done_bytes;
		ssize_t n;

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

static void efd_signal(struct ioeng *e)
{
	uint64_t one = 1;

	if (write(e->efd, &one, sizeof(one)) < 0) {
		/* counter saturated: the reader is awake anyway */
	}
}

static void efd_reset(struct ioeng *e)
{
	uint64_t v;

	if (read(e->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was signalled */
	}
}

/* ---- io_uring ----------------------------------------------------------- */

/* Hand queued SQEs to the kernel in one system call. */
static int ring_kick(struct ioeng *e)
{
	int n;

	if (!e->unsubmitted)
		return 0;
	n = io_uring_submit(&e->ring);
	if (n < 0)
		return n;
	e->unsubmitted = 0;
	return 0;
}

static int ring_queue(struct ioeng *e, struct ioeng_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	char *p = (char *)r->buf + r->done_bytes;
	unsigned left = r->len - r->done_bytes;
	uint64_t off = r->off + r->done_bytes;

	if (!sqe && !ring_kick(e))
		sqe = io_uring_get_sqe(&e->ring);
	if (!sqe)
		return -EAGAIN;
	switch (r->op) {
	case IOENG_OP_READ: io_uring_prep_read(sqe, r->fd, p, left, off); break;
	case IOENG_OP_WRITE: io_uring_prep_write(sqe, r->fd, p, left, off); break;
	case IOENG_OP_FSYNC: io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC); break;
	}
	io_uring_sqe_set_data(sqe, r);
	e->unsubmitted++;
	return 0;
}

/* A completion: true when the request is finished (r->res set). */
static bool ring_complete(struct ioeng *e, struct ioeng_req *r, int res)
{
	if (res < 0 || r->op == IOENG_OP_FSYNC) {
		r->res = res < 0 ? res : 0;
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
	if (ring_queue(e, r)) {
		r->res = req_run_sync(r);	/* ring full: finish inline */
		return true;
	}
	return false;
}

/* Run callbacks of finished ring requests without blocking. */
static int ring_drain(struct ioeng *e)
{
	struct io_uring_cqe *cqe;
	int ran = 0, err;

	err = ring_kick(e);
	if (err)
		return err;
	while (e->ring_inflight && io_uring_peek_cqe(&e->ring, &cqe) == 0) {
		struct ioeng_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&e->ring, cqe);
		if (!ring_complete(e, r, res))
			continue;
		e->ring_inflight--;
		e->inflight--;
		r->done(r, r->res);
		ran++;
	}
	return ring_kick(e) ? -EIO : ran;
}

static int ring_init(struct ioeng *e)
{
	int err = io_uring_queue_init(e->depth, &e->ring, 0);

	if (err)
		return err;
	err = io_uring_register_eventfd(&e->ring, e->efd);
	if (err) {
		io_uring_queue_exit(&e->ring);
		return err;
	}
	e->has_ring = true;
	return 0;
}

/* ---- thread pool -------------------------------------------------------- */

static void *pool_worker(void *arg)
{
	struct ioeng *e = arg;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct ioeng_req *r;
		while (!e->queue_head && !e->stopping) {
			e->idle++;
			pthread_cond_wait(&e->work_cv, &e->lock);
			e->idle--;
		}
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
		/* Only the first completion of a batch wakes the owner: it drains
		 * the whole list, and resets the eventfd before draining. */
		if (!r->next)
			efd_signal(e);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static int pool_init(struct ioeng *e)
{
	/* At least 8 workers, two per CPU on bigger hosts: buffered writes
	 * block in dirty-page throttling, so a few extra keep the CPUs busy;
	 * many more only add context switches (measured with bench/disk.sh). */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = MIN(e->depth, MIN((unsigned)IOENG_MAX_THREADS,
				       (unsigned)MAX(8L, 2 * (cpus > 0 ? cpus : 1))));

	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work_cv, NULL);
	e->has_pool = true;
	for (e->nthreads = 0; e->nthreads < n; e->nthreads++) {
		if (pthread_create(&e->threads[e->nthreads], NULL, pool_worker, e))
			break;
	}
	return e->nthreads ? 0 : -EAGAIN;
}

/* Queue without waking anyone: pool_kick() hands the batch over. */
static void pool_queue(struct ioeng *e, struct ioeng_req *r)
{
	if (e->pend_tail)
		e->pend_tail->next = r;
	else
		e->pend_head = r;
	e->pend_tail = r;
	e->npend++;
}

/*
 * Hand the pending batch to the workers: one lock round trip, and only as
 * many wake-ups as there are requests for idle workers (a busy worker takes
 * the next request itself).  Per-request signals cost a futex call each and
 * wake a worker that often finds its request already taken.
 */
static void pool_kick(struct ioeng *e)
{
	unsigned wake;

	if (!e->pend_head)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->queue_tail)
		e->queue_tail->next = e->pend_head;
	else
		e->queue_head = e->pend_head;
	e->queue_tail = e->pend_tail;
	wake = MIN(e->npend, e->idle);
	if (wake == e->idle) {
		pthread_cond_broadcast(&e->work_cv);
	} else {
		while (wake--)
			pthread_cond_signal(&e->work_cv);
	}
	pthread_mutex_unlock(&e->lock);
	e->pend_head = e->pend_tail = NULL;
	e->npend = 0;
}

static int pool_drain(struct ioeng *e)
{
	struct ioeng_req *list, *r;
	int ran = 0;

	pthread_mutex_lock(&e->lock);
	list = e->done_list;
	e->done_list = NULL;
	pthread_mutex_unlock(&e->lock);
	while ((r = list)) {
		list = r->next;
		e->inflight--;
		r->done(r, r->res);
		ran++;
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
}

/* ---- interface ---------------------------------------------------------- */

static int backends_init(struct ioeng *e, enum ioeng_kind kind)
{
	int err = 0;

	if (kind == IOENG_AUTO || kind == IOENG_URING) {
		err = ring_init(e);
		if (err && kind == IOENG_URING)
			return -ENOSYS;
		if (err)
			log_debug("ioeng: io_uring unavailable (%s), using threads", strerror(-err));
	}
	if (kind != IOENG_URING)
		err = pool_init(e);
	return err;
}

int ioeng_create(enum ioeng_kind kind, unsigned depth, struct ioeng **out)
{
	struct ioeng *e;
	int err;

	if (!depth || depth > IOENG_MAX_DEPTH)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->kind = kind;
	e->depth = depth;
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->efd < 0) {
		err = -errno;
		goto err_free;
	}
	err = backends_init(e, kind);
	if (err)
		goto err_close;
	*out = e;
	return 0;

err_close:
	if (e->has_ring)
		io_uring_queue_exit(&e->ring);
	close(e->efd);
err_free:
	free(e);
	return err;
}

const char *ioeng_name(const struct ioeng *e)
{
	if (e->has_ring && e->has_pool)
		return "io_uring+threads";
	return e->has_ring ? "io_uring" : "threads";
}

unsigned ioeng_inflight(const struct ioeng *e) { return e->inflight; }
int ioeng_event_fd(const struct ioeng *e) { return e->efd; }

static bool use_ring(const struct ioeng *e, const struct ioeng_req *r)
{
	if (!e->has_ring)
		return false;
	if (!e->has_pool)
		return true;
	return r->op == IOENG_OP_READ && r->len < IOENG_RING_MAX_BYTES;
}

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
	if (use_ring(e, r)) {
		err = ring_queue(e, r);
		if (err)
			return err;
		e->ring_inflight++;
	} else {
		pool_queue(e, r);
	}
	e->inflight++;
	return 0;
}

void ioeng_complete(struct ioeng *e, struct ioeng_req *r, int res)
{
	r->res = res;
	r->next = NULL;
	if (e->ready_tail)
		e->ready_tail->next = r;
	else
		e->ready_head = r;
	e->ready_tail = r;
	e->inflight++;
	efd_signal(e);
}

static int ready_drain(struct ioeng *e)
{
	struct ioeng_req *r;
	int ran = 0;

	while ((r = e->ready_head)) {
		e->ready_head = r->next;
		if (!e->ready_head)
			e->ready_tail = NULL;
		e->inflight--;
		r->done(r, r->res);
		ran++;
	}
	return ran;
}

int ioeng_kick(struct ioeng *e)
{
	if (e->has_pool)
		pool_kick(e);
	return e->has_ring ? ring_kick(e) : 0;
}

int ioeng_reap(struct ioeng *e, unsigned min)
{
	struct pollfd pfd = { .fd = e->efd, .events = POLLIN };
	int ran = 0, n;

	if (min > e->inflight)
		min = e->inflight;
	if (e->has_pool)
		pool_kick(e);
	for (;;) {
		/* Reset before draining: a completion after this re-arms poll(). */
		efd_reset(e);
		ran += ready_drain(e);
		if (e->has_ring) {
			n = ring_drain(e);
			if (n < 0)
				return n;
			ran += n;
		}
		if (e->has_pool)
			ran += pool_drain(e);
		if ((unsigned)ran >= min || !e->inflight)
			return ran;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
}

void ioeng_destroy(struct ioeng *e)
{
	if (!e)
		return;
	while (e->inflight)
		if (ioeng_reap(e, e->inflight) < 0)
			break;
	if (e->has_ring)
		io_uring_queue_exit(&e->ring);
	if (e->has_pool)
		pool_stop(e);
	close(e->efd);
	free(e);
}
