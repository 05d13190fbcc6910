/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_IOENG_H
#define VIREO_IOENG_H

/*
 * The I/O engine: asynchronous pread/pwrite/fdatasync on host files, for
 * the monitor's event loop and for `vireo disk bench`.
 *
 * Two back ends behind one interface: io_uring (liburing) where the kernel
 * offers it, and a pool of worker threads doing blocking syscalls
 * otherwise.  IOENG_AUTO tries io_uring first.
 *
 * Model: the owner thread submits requests (at most `depth` in flight),
 * kicks the batch with ioeng_kick(), and reaps completions with
 * ioeng_reap(); completion callbacks run in the owner thread, inside
 * ioeng_reap(), never in a worker.  An event loop polls ioeng_event_fd()
 * for POLLIN and then calls ioeng_reap(e, 0).
 * A struct ioeng is owned by one thread; it is not safe to share.
 *
 * Disk formats stay synchronous: the block layer's blk_map() turns a
 * virtual range into a host (fd, offset) run that the engine can carry;
 * anything else (allocation, copy-on-write) goes through blk_read/write.
 */

#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"

enum ioeng_kind {
	IOENG_AUTO = 0,
	IOENG_URING,
	IOENG_THREADS,
};

enum ioeng_op {
	IOENG_OP_READ,
	IOENG_OP_WRITE,
	IOENG_OP_FSYNC,		/* fdatasync(fd); buf/len/off ignored */
};

struct ioeng_req {
	enum ioeng_op op;
	int fd;
	void *buf;
	size_t len;
	uint64_t off;
	/* Called in the owner thread: res = bytes transferred (== len; reads
	 * past end of file are zero-filled) or -errno. */
	void (*done)(struct ioeng_req *req, int res);
	void *opaque;
	/* Private to the engine. */
	size_t done_bytes;
	int res;
	struct ioeng_req *next;
};

struct ioeng;

/* Create an engine with room for `depth` requests in flight (1..1024).
 * -ENOSYS when IOENG_URING is asked for and the kernel refuses it. */
int ioeng_create(enum ioeng_kind kind, unsigned depth, struct ioeng **out) WUR;
/* Wait for every request in flight (running its callback), then free. */
void ioeng_destroy(struct ioeng *e);
/* "io_uring" or "threads". */
const char *ioeng_name(const struct ioeng *e);
/* Queue one request; -EAGAIN when `depth` requests are already in flight.
 * The request and its buffer must stay valid until its callback ran.
 * Both back ends batch: queued requests start at the next
 * ioeng_kick() or ioeng_reap(), so call one of them after a batch. */
int ioeng_submit(struct ioeng *e, struct ioeng_req *req) WUR;
/* Start every queued request now (one system call for the batch). */
int ioeng_kick(struct ioeng *e);
/*
 * Deliver a request the caller has already carried out synchronously
 * (res as for `done`): it counts as in flight and its callback runs in the
 * next ioeng_reap(), like every other completion.  Never fails.
 */
void ioeng_complete(struct ioeng *e, struct ioeng_req *req, int res);
/* Run callbacks of completed requests, blocking until at least `min` have
 * completed (min 0: never block).  Returns how many ran, or -errno. */
int ioeng_reap(struct ioeng *e, unsigned min);
/* Requests submitted and not yet reaped. */
unsigned ioeng_inflight(const struct ioeng *e);
/* Readable (POLLIN) when completions are waiting to be reaped. */
int ioeng_event_fd(const struct ioeng *e);

#endif
