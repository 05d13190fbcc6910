/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_EVLOOP_H
#define VIREO_EVLOOP_H

/*
 * The VM's event loop: one thread around epoll.  Device back ends (block
 * completions, network ports, the console) register fds; timers are
 * timerfds.  Callbacks run on the loop thread, one at a time.
 */
#include <stdint.h>

#include "vireo/util.h"

struct evloop;
struct evtimer;

typedef void (*evloop_fn)(int fd, uint32_t events, void *opaque);
typedef void (*evtimer_fn)(void *opaque);

int evloop_create(struct evloop **out) WUR;
/* Start the loop thread. */
int evloop_start(struct evloop *loop) WUR;
/* Stop and join the loop thread (safe to call if not started). */
void evloop_stop(struct evloop *loop);
void evloop_destroy(struct evloop *loop);

/* Watch fd for EPOLLIN/EPOLLOUT... events; any thread. -EEXIST if watched. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque) WUR;
int evloop_mod(struct evloop *loop, int fd, uint32_t events) WUR;
int evloop_del(struct evloop *loop, int fd);

/* Timers: fn runs on the loop thread.  Arm with a delay and an optional period (0: one-shot). */
int evtimer_create(struct evloop *loop, evtimer_fn fn, void *opaque, struct evtimer **out) WUR;
int evtimer_arm(struct evtimer *t, uint64_t delay_ns, uint64_t period_ns);
int evtimer_disarm(struct evtimer *t);
void evtimer_destroy(struct evtimer *t);

#endif
