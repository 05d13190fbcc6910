// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event loop: one thread around epoll.  Registrations live in a small
 * table keyed by fd; an eventfd wakes the loop to stop it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vireo/evloop.h"
#include "vireo/log.h"

struct evwatch {
	int fd;
	evloop_fn fn;
	void *opaque;
	struct evwatch *next;
};

struct evloop {
	int epfd;
	int stopfd;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;   /* guards watches and dead */
	struct evwatch *watches;
	struct evwatch *dead;   /* deleted, freed by the loop between batches */
};

struct evtimer {
	struct evloop *loop;
	int fd;
	evtimer_fn fn;
	void *opaque;
};

int evloop_create(struct evloop **out)
{
	struct evloop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	if (!loop)
		return -ENOMEM;
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		err = -errno;
		goto err_free;
	}
	loop->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->stopfd < 0) {
		err = -errno;
		goto err_close_ep;
	}
	ev.data.ptr = NULL;   /* NULL marks the stop eventfd */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->stopfd, &ev) < 0) {
		err = -errno;
		goto err_close_stop;
	}
	*out = loop;
	return 0;

err_close_stop:
	close(loop->stopfd);
err_close_ep:
	close(loop->epfd);
err_free:
	free(loop);
	return err;
}

static void evloop_free_list(struct evwatch *w)
{
	while (w) {
		struct evwatch *next = w->next;
		free(w);
		w = next;
	}
}

/*
 * Free the watches deleted since the last batch.  Only the loop thread
 * calls this, between batches, so no callback of the batch that is being
 * dispatched can still see a freed watch.
 */
static void evloop_reap(struct evloop *loop)
{
	struct evwatch *dead;

	pthread_mutex_lock(&loop->lock);
	dead = loop->dead;
	loop->dead = NULL;
	pthread_mutex_unlock(&loop->lock);
	evloop_free_list(dead);
}

static void *evloop_thread(void *arg)
{
	struct evloop *loop = arg;
	struct epoll_event evs[32];

	for (;;) {
		int n;

		evloop_reap(loop);
		n = epoll_wait(loop->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("evloop: epoll_wait");
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct evwatch *w = evs[i].data.ptr;
			if (!w)
				return NULL;   /* stop requested */
			/* Deleted by an earlier callback of this batch: skip. */
			if (__atomic_load_n(&w->fd, __ATOMIC_ACQUIRE) < 0)
				continue;
			w->fn(w->fd, evs[i].events, w->opaque);
		}
	}
}

int evloop_start(struct evloop *loop)
{
	int err = pthread_create(&loop->thread, NULL, evloop_thread, loop);
	if (err)
		return -err;
	loop->running = true;
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	uint64_t one = 1;

	if (!loop || !loop->running)
		return;
	if (write(loop->stopfd, &one, sizeof(one)) < 0)
		log_warn("evloop: stop");
	pthread_join(loop->thread, NULL);
	loop->running = false;
}

void evloop_destroy(struct evloop *loop)
{
	if (!loop)
		return;
	evloop_stop(loop);
	evloop_free_list(loop->watches);
	evloop_free_list(loop->dead);
	close(loop->stopfd);
	close(loop->epfd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct evwatch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->fn = fn;
	w->opaque = opaque;
	ev.data.ptr = w;
	pthread_mutex_lock(&loop->lock);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		pthread_mutex_unlock(&loop->lock);
		free(w);
		return err;
	}
	w->next = loop->watches;
	loop->watches = w;
	pthread_mutex_unlock(&loop->lock);
	return 0;
}

static struct evwatch *evloop_lookup(struct evloop *loop, int fd)
{
	for (struct evwatch *w = loop->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

int evloop_mod(struct evloop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	int err = 0;

	pthread_mutex_lock(&loop->lock);
	ev.data.ptr = evloop_lookup(loop, fd);
	if (!ev.data.ptr)
		err = -ENOENT;
	else if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		err = -errno;
	pthread_mutex_unlock(&loop->lock);
	return err;
}

/*
 * The watch is unlinked at once and freed by the loop thread after the
 * current batch, so a callback that deletes its own (or another) fd is safe.
 * Deleting from another thread while that fd's callback is running is the
 * caller's problem to avoid (devices do it while paused or from their own
 * callbacks).
 */
int evloop_del(struct evloop *loop, int fd)
{
	struct evwatch **pp, *w = NULL;
	int err = 0;

	pthread_mutex_lock(&loop->lock);
	for (pp = &loop->watches; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			w = *pp;
			*pp = w->next;
			break;
		}
	}
	if (!w) {
		err = -ENOENT;
	} else {
		if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
			err = -errno;
		__atomic_store_n(&w->fd, -1, __ATOMIC_RELEASE);
		w->next = loop->dead;
		loop->dead = w;
	}
	pthread_mutex_unlock(&loop->lock);
	return err;
}

static void evtimer_ready(int fd, uint32_t events, void *opaque)
{
	struct evtimer *t = opaque;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;   /* disarmed in between */
	t->fn(t->opaque);
}

int evtimer_create(struct evloop *loop, evtimer_fn fn, void *opaque, struct evtimer **out)
{
	struct evtimer *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->fn = fn;
	t->opaque = opaque;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0) {
		err = -errno;
		goto err_free;
	}
	err = evloop_add(loop, t->fd, EPOLLIN, evtimer_ready, t);
	if (err)
		goto err_close;
	*out = t;
	return 0;
err_close:
	close(t->fd);
err_free:
	free(t);
	return err;
}

static struct timespec ns_to_ts(uint64_t ns)
{
	return (struct timespec){ .tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL };
}

int evtimer_arm(struct evtimer *t, uint64_t delay_ns, uint64_t period_ns)
{
	struct itimerspec its = {
		/* A zero it_value disarms: fire "now" as 1 ns instead. */
		.it_value = ns_to_ts(delay_ns ? delay_ns : 1),
		.it_interval = ns_to_ts(period_ns),
	};
	return timerfd_settime(t->fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int evtimer_disarm(struct evtimer *t)
{
	struct itimerspec its = { 0 };
	return timerfd_settime(t->fd, 0, &its, NULL) < 0 ? -errno : 0;
}

void evtimer_destroy(struct evtimer *t)
{
	if (!t)
		return;
	evloop_del(t->loop, t->fd);
	close(t->fd);
	free(t);
}
