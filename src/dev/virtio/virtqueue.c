// SPDX-License-Identifier: GPL-2.0-only
/*
 * Split virtqueue, device side (virtio 1.2 §2.7).  See virtqueue.h for the
 * trust model: the guest owns the rings and may rewrite them while we read,
 * so each field is loaded once and checked before it is used.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dev/virtio/virtqueue.h"

/* Offsets inside the driver (avail) and device (used) areas, §2.7.6/§2.7.8. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   1
#define AVAIL_RING  2           /* in uint16_t units */
#define USED_FLAGS  0
#define USED_IDX    2
#define USED_RING   4           /* in bytes */

static int vq_fail(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int vq_fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

uint64_t vq_desc_bytes(unsigned size)
{
	return 16ULL * size;
}

uint64_t vq_avail_bytes(unsigned size, bool event_idx)
{
	return 4 + 2ULL * size + (event_idx ? 2 : 0);
}

uint64_t vq_used_bytes(unsigned size, bool event_idx)
{
	return 4 + 8ULL * size + (event_idx ? 2 : 0);
}

static uint16_t load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static void store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static void set_avail_event(struct virtq *vq, uint16_t idx)
{
	uint64_t off = USED_RING + 8ULL * vq->size;

	store16(vq->used + off, idx);
	guest_mem_mark_dirty(vq->mem, vq->used_gpa + off, 2);
}

static void *map_area(struct virtq *vq, uint64_t gpa, uint64_t len,
		      uint64_t align, const char *what, char *why, size_t whylen)
{
	void *p;

	if (gpa & (align - 1)) {
		vq_fail(why, whylen, "%s area 0x%llx not %llu-byte aligned", what,
			(unsigned long long)gpa, (unsigned long long)align);
		return NULL;
	}
	p = guest_mem_hva(vq->mem, gpa, len);
	if (!p)
		vq_fail(why, whylen, "%s area [0x%llx, +%llu) is not guest RAM", what,
			(unsigned long long)gpa, (unsigned long long)len);
	return p;
}

int vq_map(struct virtq *vq, char *why, size_t whylen)
{
	unsigned n = vq->size;

	vq->ready = false;
	if (!n || n > VQ_MAX_SIZE || (n & (n - 1)))
		return vq_fail(why, whylen, "queue size %u is not a power of 2 up to %u",
			       n, VQ_MAX_SIZE);
	vq->desc = map_area(vq, vq->desc_gpa, vq_desc_bytes(n), 16, "descriptor",
			    why, whylen);
	vq->avail = map_area(vq, vq->avail_gpa, vq_avail_bytes(n, vq->event_idx), 2,
			     "driver", why, whylen);
	vq->used = map_area(vq, vq->used_gpa, vq_used_bytes(n, vq->event_idx), 4,
			    "device", why, whylen);
	if (!vq->desc || !vq->avail || !vq->used)
		return -EINVAL;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->ready = true;
	return 0;
}

void vq_reset(struct virtq *vq)
{
	struct guest_mem *mem = vq->mem;

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
}

bool vq_has_avail(struct virtq *vq)
{
	return vq->ready && load16(&vq->avail[AVAIL_IDX]) != vq->last_avail;
}

/* Append one buffer; the readable-before-writable order is §2.7.4.2. */
static int chain_add(struct virtq *vq, struct vq_chain *c, const struct virtq_desc *d,
		     char *why, size_t whylen)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	unsigned n = c->nout + c->nin;
	void *hva;

	if (!d->len)
		return 0;   /* an empty buffer carries nothing; skip it */
	if (n >= VQ_MAX_SEGS)
		return vq_fail(why, whylen, "chain %u has more than %u buffers",
			       c->head, VQ_MAX_SEGS);
	if (!writable && c->nin)
		return vq_fail(why, whylen, "chain %u has a readable buffer after a "
			       "writable one", c->head);
	hva = guest_mem_hva(vq->mem, d->addr, d->len);
	if (!hva)
		return vq_fail(why, whylen, "chain %u buffer [0x%llx, +%u) is not guest RAM",
			       c->head, (unsigned long long)d->addr, d->len);
	c->iov[n].iov_base = hva;
	c->iov[n].iov_len = d->len;
	c->gpa[n] = d->addr;
	if (writable) {
		c->nin++;
		c->in_len += d->len;
	} else {
		c->nout++;
		c->out_len += d->len;
	}
	return 0;
}

/* Walk an indirect table (§2.7.5.3): its own numbering, no nesting. */
static int chain_indirect(struct virtq *vq, struct vq_chain *c,
			  const struct virtq_desc *ind, char *why, size_t whylen)
{
	const struct virtq_desc *table;
	unsigned n, i = 0, count = 0;
	int err;

	if (!vq->indirect)
		return vq_fail(why, whylen, "chain %u uses an indirect table without "
			       "VIRTIO_F_INDIRECT_DESC", c->head);
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return vq_fail(why, whylen, "chain %u: indirect descriptor also has NEXT",
			       c->head);
	if (!ind->len || ind->len % sizeof(struct virtq_desc))
		return vq_fail(why, whylen, "chain %u: indirect table length %u is not a "
			       "multiple of 16", c->head, ind->len);
	n = ind->len / sizeof(struct virtq_desc);
	if (n > VQ_MAX_SEGS)
		return vq_fail(why, whylen, "chain %u: indirect table of %u entries "
			       "(at most %u)", c->head, n, VQ_MAX_SEGS);
	table = guest_mem_hva(vq->mem, ind->addr, ind->len);
	if (!table)
		return vq_fail(why, whylen, "chain %u: indirect table [0x%llx, +%u) is not "
			       "guest RAM", c->head, (unsigned long long)ind->addr, ind->len);
	for (;;) {
		struct virtq_desc d;

		memcpy(&d, &table[i], sizeof(d));
		if (++count > n)
			return vq_fail(why, whylen, "chain %u: indirect table loops", c->head);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return vq_fail(why, whylen, "chain %u: nested indirect table", c->head);
		err = chain_add(vq, c, &d, why, whylen);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return vq_fail(why, whylen, "chain %u: indirect next %u out of a table "
				       "of %u", c->head, d.next, n);
		i = d.next;
	}
}

static int chain_walk(struct virtq *vq, struct vq_chain *c, char *why, size_t whylen)
{
	unsigned i = c->head, count = 0;
	int err;

	for (;;) {
		struct virtq_desc d;

		memcpy(&d, &vq->desc[i], sizeof(d));
		/* A chain longer than the queue must revisit a descriptor (§2.7.5.2). */
		if (++count > vq->size)
			return vq_fail(why, whylen, "chain %u loops or exceeds the queue size %u",
				       c->head, vq->size);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* The indirect descriptor ends the chain (§2.7.5.3.1). */
			if (count > 1 || c->nout + c->nin)
				return vq_fail(why, whylen, "chain %u: indirect table not in the "
					       "head descriptor", c->head);
			return chain_indirect(vq, c, &d, why, whylen);
		}
		err = chain_add(vq, c, &d, why, whylen);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->size)
			return vq_fail(why, whylen, "chain %u: next %u is outside the queue of %u",
				       c->head, d.next, vq->size);
		i = d.next;
	}
}

int vq_pop(struct virtq *vq, struct vq_chain *c, char *why, size_t whylen)
{
	uint16_t avail_idx, head;
	int err;

	if (!vq->ready)
		return 0;
	avail_idx = load16(&vq->avail[AVAIL_IDX]);
	if (avail_idx == vq->last_avail)
		return 0;
	/* §2.7.13.3: the driver never gets more than a queue size ahead. */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
		return vq_fail(why, whylen, "driver index %u is %u entries ahead of %u in a "
			       "queue of %u", avail_idx, (uint16_t)(avail_idx - vq->last_avail),
			       vq->last_avail, vq->size);
	/* Read the ring entry only after seeing the index (pairs with the
	 * driver's write barrier, §2.7.13.2). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = load16(&vq->avail[AVAIL_RING + (vq->last_avail & (vq->size - 1))]);
	if (head >= vq->size)
		return vq_fail(why, whylen, "chain head %u is outside the queue of %u",
			       head, vq->size);
	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	err = chain_walk(vq, c, why, whylen);
	if (err)
		return err;
	vq->last_avail++;
	if (vq->event_idx)    /* avail_event: kick us for anything past this */
		set_avail_event(vq, vq->last_avail);
	return 1;
}

void vq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct virtq_used_elem e = { .id = head, .len = len };
	uint64_t off;

	if (!vq->ready)
		return;
	off = USED_RING + 8ULL * (vq->used_idx & (vq->size - 1));
	memcpy(vq->used + off, &e, sizeof(e));
	guest_mem_mark_dirty(vq->mem, vq->used_gpa + off, sizeof(e));
	vq->used_idx++;
	/* The element before the index (§2.7.8.2). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store16(vq->used + USED_IDX, vq->used_idx);
	guest_mem_mark_dirty(vq->mem, vq->used_gpa, 4);
}

/* §2.7.10.1: vring_need_event */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vq_should_signal(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, event;
	bool valid = vq->signalled_valid;

	if (!vq->ready)
		return false;
	/* Our used index must be visible before we read the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(&vq->avail[AVAIL_FLAGS]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = load16(&vq->avail[AVAIL_RING + vq->size]);   /* used_event */
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	return !valid || need_event(event, vq->used_idx, old);
}

bool vq_notify_enable(struct virtq *vq)
{
	if (!vq->ready)
		return false;
	if (vq->event_idx)
		set_avail_event(vq, load16(&vq->avail[AVAIL_IDX]));
	else
		store16(vq->used + USED_FLAGS, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_has_avail(vq);
}

void vq_notify_disable(struct virtq *vq)
{
	if (!vq->ready || vq->event_idx)
		return;   /* with event index, avail_event alone steers kicks */
	store16(vq->used + USED_FLAGS, VIRTQ_USED_F_NO_NOTIFY);
}

size_t vq_chain_from(const struct vq_chain *c, size_t off, void *dst, size_t len)
{
	uint8_t *out = dst;
	size_t done = 0;

	for (unsigned i = 0; i < c->nout && done < len; i++) {
		size_t seg = c->iov[i].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = MIN(seg - off, len - done);
		memcpy(out + done, (const uint8_t *)c->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_chain_to(struct guest_mem *mem, const struct vq_chain *c, size_t off,
		   const void *src, size_t len)
{
	const uint8_t *in = src;
	size_t done = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin && done < len; i++) {
		size_t seg = c->iov[i].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = MIN(seg - off, len - done);
		memcpy((uint8_t *)c->iov[i].iov_base + off, in + done, n);
		guest_mem_mark_dirty(mem, c->gpa[i] + off, n);
		done += n;
		off = 0;
	}
	return done;
}
