/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_VIRTIO_VIRTQUEUE_H
#define VIREO_DEV_VIRTIO_VIRTQUEUE_H

/*
 * The split virtqueue (virtio 1.2 §2.7), device side.
 *
 * Everything here is read from guest memory the guest keeps writing, so
 * every value is read once into a local copy and checked before use:
 * ring indexes against the queue size, descriptor addresses against guest
 * RAM (guest_mem_hva), chain lengths against the queue size and
 * VQ_MAX_SEGS, indirect tables against their own length (§2.7.5.3).  A
 * violation is reported as -EINVAL with a reason the transport logs (rate
 * limited) before putting the device into DEVICE_NEEDS_RESET (§2.1.2).
 *
 * Locking: a virtq is owned by its device, which serialises every call
 * under its own lock.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vireo/memory.h"
#include "vireo/util.h"

/* Largest queue size a Vireo device offers (queue sizes are powers of 2). */
#define VQ_MAX_SIZE 256
/* Most buffers (descriptors) one chain may hold, indirect tables included. */
#define VQ_MAX_SEGS 256

/* §2.7.5 descriptor flags */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
/* §2.7.6, §2.7.8 ring flags */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* §2.7.5: the guest's layout, little-endian (x86 hosts only, like the rest). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq {
	struct guest_mem *mem;
	uint16_t size;          /* queue size, power of 2 */
	bool ready;             /* rings mapped, may be used */
	bool event_idx;         /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;          /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct virtq_desc *desc;    /* host views of the three areas */
	uint16_t *avail;            /* flags, idx, ring[size], used_event */
	uint8_t *used;              /* flags, idx, ring[size], avail_event */
	uint16_t last_avail;        /* next avail ring entry to take */
	uint16_t used_idx;          /* our copy of used->idx */
	uint16_t signalled_used;    /* used_idx at the last interrupt */
	bool signalled_valid;
};

/* One descriptor chain, split into device-readable then device-writable. */
struct vq_chain {
	uint16_t head;
	unsigned nout, nin;         /* readable (out) then writable (in) buffers */
	uint64_t out_len, in_len;   /* their total sizes */
	struct iovec iov[VQ_MAX_SEGS];  /* iov[0..nout) readable, then nin writable */
	uint64_t gpa[VQ_MAX_SEGS];
};

/* Bytes the three areas take for a queue of `size` (§2.7). */
uint64_t vq_desc_bytes(unsigned size);
uint64_t vq_avail_bytes(unsigned size, bool event_idx);
uint64_t vq_used_bytes(unsigned size, bool event_idx);

/*
 * Map the rings at the addresses set in vq (size, *_gpa, event_idx): checks
 * size (power of 2, 1..VQ_MAX_SIZE), alignment (§2.7: 16/2/4) and that each
 * area lies wholly in guest RAM.  Returns 0 (vq->ready) or -EINVAL with a
 * reason in why.
 */
int vq_map(struct virtq *vq, char *why, size_t whylen) WUR;
/* Forget the rings and indexes (device reset); keeps mem. */
void vq_reset(struct virtq *vq);

/*
 * Take the next available chain into *c.  Returns 1 (got one), 0 (ring
 * empty), or -EINVAL when the guest broke the rules (why says how): the
 * caller must stop using the queue and ask for a reset.
 */
int vq_pop(struct virtq *vq, struct vq_chain *c, char *why, size_t whylen) WUR;

/* Return chain `head` with `len` bytes written into its writable buffers. */
void vq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * After a batch of vq_push: does the driver want an interrupt (§2.7.7,
 * §2.7.10 with event index)?  Updates the "signalled" state when it does.
 */
bool vq_should_signal(struct virtq *vq);

/*
 * Ask for (enable) or suppress driver notifications (§2.7.10, §2.7.7).
 * vq_notify_enable returns true when buffers became available meanwhile,
 * so the caller processes again instead of waiting for a kick that will
 * not come.
 */
bool vq_notify_enable(struct virtq *vq);
void vq_notify_disable(struct virtq *vq);

/* True when the ring holds chains not yet taken. */
bool vq_has_avail(struct virtq *vq);

/*
 * Copy helpers over a chain's buffers: from the readable part starting at
 * byte `off`, into the writable part starting at byte `off`.  Return the
 * number of bytes copied (short at the end of the buffers).  vq_chain_to
 * marks what it wrote dirty.
 */
size_t vq_chain_from(const struct vq_chain *c, size_t off, void *dst, size_t len);
size_t vq_chain_to(struct guest_mem *mem, const struct vq_chain *c, size_t off,
		   const void *src, size_t len);

#endif
