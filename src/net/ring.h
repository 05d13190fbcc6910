/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_RING_H
#define VIREO_NET_RING_H

/*
 * Shared-memory frame rings between a switch and a port's owner (a VM
 * process, a tap helper, the benchmark).  One memfd holds two
 * single-producer/single-consumer rings: to_switch (port transmits) and
 * to_port (port receives).  Each side keeps its own copy of the index it
 * owns and only reads the peer's, so a hostile peer scribbling on the
 * shared header can make its own ring look full or empty but never make
 * the other side read or write outside a slot.  Frame lengths are
 * bounds-checked by the consumer.
 *
 * Wake-ups: the consumer sets `waiting` before it sleeps on its eventfd,
 * with a full barrier and a re-check (the same pattern as virtio's
 * VRING_AVAIL_F_NO_INTERRUPT / event index, virtio 1.2 section 2.7.7), so
 * producers make a syscall only when the consumer is actually asleep.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SHM_RING_SLOTS 512u                     /* power of two */
#define SHM_RING_SLOT_SIZE 2048u
#define SHM_RING_DATA_MAX (SHM_RING_SLOT_SIZE - 4)
#define SHM_AREA_MAGIC 0x56535752u              /* "VSWR" */
#define SHM_AREA_VERSION 1u

struct shm_ring {
	_Alignas(64) _Atomic uint32_t prod;
	_Alignas(64) _Atomic uint32_t cons;
	_Alignas(64) _Atomic uint32_t waiting;
	_Alignas(64) uint8_t slot[SHM_RING_SLOTS][SHM_RING_SLOT_SIZE];
};

struct shm_area {
	uint32_t magic;
	uint32_t version;
	uint32_t slots;
	uint32_t slot_size;
	_Alignas(64) struct shm_ring to_switch;
	struct shm_ring to_port;
};

/* One side's view of one ring. */
struct shm_end {
	struct shm_ring *r;
	uint32_t idx;           /* our own index (prod or cons), kept privately */
	uint32_t peer;          /* last peer index read */
};

static inline void shm_end_init(struct shm_end *e, struct shm_ring *r)
{
	e->r = r;
	e->idx = 0;
	e->peer = 0;
}

/* Producer: free slots (as far as we know, refreshing when out). */
static inline uint32_t shm_ring_space(struct shm_end *e)
{
	uint32_t used = e->idx - e->peer;

	if (used >= SHM_RING_SLOTS) {
		e->peer = atomic_load_explicit(&e->r->cons, memory_order_acquire);
		used = e->idx - e->peer;
		/* A peer reporting more consumed than produced is lying: full. */
		if (used > SHM_RING_SLOTS)
			return 0;
	}
	return SHM_RING_SLOTS - used;
}

/*
 * Producer: copy a frame in.  Returns 0, -EAGAIN when full, -EMSGSIZE when
 * the frame does not fit a slot.  The frame is visible once published.
 */
static inline int shm_ring_put(struct shm_end *e, const void *frame, size_t len)
{
	uint8_t *slot;
	uint32_t l = (uint32_t)len;

	if (len > SHM_RING_DATA_MAX)
		return -EMSGSIZE;
	if (!shm_ring_space(e))
		return -EAGAIN;
	slot = e->r->slot[e->idx % SHM_RING_SLOTS];
	memcpy(slot, &l, 4);
	memcpy(slot + 4, frame, len);
	e->idx++;
	return 0;
}

/* Producer: make everything put so far visible to the consumer. */
static inline void shm_ring_publish(struct shm_end *e)
{
	atomic_store_explicit(&e->r->prod, e->idx, memory_order_release);
}

/* Producer, after publishing: does the consumer want a wake-up? */
static inline bool shm_ring_need_kick(struct shm_end *e)
{
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&e->r->waiting, memory_order_relaxed) != 0;
}

/*
 * Consumer: frames available.  Returns the count, or -1 when the peer's
 * producer index is impossible (more than a ring ahead): a protocol error.
 */
static inline int shm_ring_avail(struct shm_end *e)
{
	uint32_t n = e->peer - e->idx;

	if (n == 0) {
		e->peer = atomic_load_explicit(&e->r->prod, memory_order_acquire);
		n = e->peer - e->idx;
	}
	return n > SHM_RING_SLOTS ? -1 : (int)n;
}

/*
 * Consumer: copy the next frame (caller checked avail > 0) into buf of
 * size cap.  Returns its length, or -1 when the slot's length is bad (the
 * slot is consumed anyway).  Copying out before parsing means the
 * producer cannot change a frame after the switch has checked it.
 */
static inline int shm_ring_get(struct shm_end *e, void *buf, size_t cap)
{
	const uint8_t *slot = e->r->slot[e->idx % SHM_RING_SLOTS];
	uint32_t len;

	memcpy(&len, slot, 4);
	e->idx++;
	if (len > SHM_RING_DATA_MAX || len > cap)
		return -1;
	memcpy(buf, slot + 4, len);
	return (int)len;
}

/* Consumer: hand consumed slots back to the producer. */
static inline void shm_ring_release(struct shm_end *e)
{
	atomic_store_explicit(&e->r->cons, e->idx, memory_order_release);
}

/*
 * Consumer: about to sleep.  Sets `waiting` and re-checks; returns true
 * when it is safe to sleep (still empty), false when frames arrived (and
 * `waiting` is cleared again).
 */
static inline bool shm_ring_arm(struct shm_end *e)
{
	atomic_store_explicit(&e->r->waiting, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (shm_ring_avail(e) == 0)
		return true;
	atomic_store_explicit(&e->r->waiting, 0, memory_order_relaxed);
	return false;
}

static inline void shm_ring_disarm(struct shm_end *e)
{
	atomic_store_explicit(&e->r->waiting, 0, memory_order_relaxed);
}

#endif
