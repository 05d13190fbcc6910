// SPDX-License-Identifier: GPL-2.0-only
/* A minimal virtio-pci driver for the unit tests: see vdrv.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev/virtio/virtio.h"
#include "vdrv.h"
#include "vireo/device.h"
#include "vireo/evloop.h"
#include "vireo/pci.h"

#define HEAP_START 0x100000

struct fake_vm *vdrv_vm_create(uint64_t ram)
{
	struct fake_vm *f = fake_vm_create(ram, 1);
	void *host;

	if (guest_mem_create(&f->vm.mem, ram) || evloop_create(&f->vm.loop) ||
	    device_realize(&f->vm, &pci_host_ops, &host) || evloop_start(f->vm.loop))
		abort();
	return f;
}

void vdrv_vm_destroy(struct fake_vm *f)
{
	evloop_stop(f->vm.loop);
	device_destroy_all(&f->vm);
	evloop_destroy(f->vm.loop);
	guest_mem_destroy(&f->vm.mem);
	fake_vm_destroy(f);
}

static uint32_t cfg_addr(unsigned slot, unsigned reg)
{
	return 0x80000000u | slot << 11 | (reg & 0xfc);
}

uint32_t vdrv_cfg_read(struct fake_vm *f, unsigned slot, unsigned reg, int len)
{
	fake_out(f, 0xcf8, cfg_addr(slot, reg), 4);
	return fake_inl(f, 0xcfc + (reg & 3), len);
}

void vdrv_cfg_write(struct fake_vm *f, unsigned slot, unsigned reg, uint32_t v, int len)
{
	fake_out(f, 0xcf8, cfg_addr(slot, reg), 4);
	fake_out(f, 0xcfc + (reg & 3), v, len);
}

static void probe_caps(struct vdrv *d)
{
	unsigned off = vdrv_cfg_read(d->f, d->slot, 0x34, 1);

	for (int n = 0; off && n < 48; n++, off = vdrv_cfg_read(d->f, d->slot, off + 1, 1)) {
		unsigned id = vdrv_cfg_read(d->f, d->slot, off, 1);
		unsigned type = vdrv_cfg_read(d->f, d->slot, off + 3, 1);
		uint32_t where = vdrv_cfg_read(d->f, d->slot, off + 8, 4);

		if (id == 0x11) {
			d->msix_cap = off;
			continue;
		}
		if (id != 0x09)
			continue;
		switch (type) {
		case 1: d->common = where; break;
		case 2:
			d->notify = where;
			d->notify_mult = vdrv_cfg_read(d->f, d->slot, off + 16, 4);
			break;
		case 3: d->isr = where; break;
		case 4: d->device = where; break;
		case 5: d->pcicfg_cap = off; break;
		}
	}
}

int vdrv_probe(struct vdrv *d, struct fake_vm *f, uint16_t virtio_id)
{
	memset(d, 0, sizeof(*d));
	d->f = f;
	d->heap = HEAP_START;
	for (unsigned s = 0; s < 32; s++) {
		if (vdrv_cfg_read(f, s, 0, 4) != ((uint32_t)(0x1040u + virtio_id) << 16 | 0x1af4))
			continue;
		d->slot = s;
		d->bar = vdrv_cfg_read(f, s, 0x10, 4) & ~0xfULL;
		vdrv_cfg_write(f, s, 0x04, 0x0006, 2);     /* memory decode, bus master */
		probe_caps(d);
		return 0;
	}
	return -1;
}

uint64_t vdrv_rd(struct vdrv *d, uint32_t off, int len)
{
	uint8_t b[8];
	uint64_t v = 0;

	fake_mmio(d->f, d->bar + off, b, len, false);
	for (int i = len - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

void vdrv_wr(struct vdrv *d, uint32_t off, uint64_t v, int len)
{
	uint8_t b[8];

	for (int i = 0; i < len; i++)
		b[i] = v >> (8 * i);
	fake_mmio(d->f, d->bar + off, b, len, true);
}

uint8_t vdrv_status(struct vdrv *d)
{
	return vdrv_rd(d, d->common + 0x14, 1);
}

uint64_t vdrv_device_features(struct vdrv *d)
{
	uint64_t lo, hi;

	vdrv_wr(d, d->common + 0x00, 0, 4);
	lo = vdrv_rd(d, d->common + 0x04, 4);
	vdrv_wr(d, d->common + 0x00, 1, 4);
	hi = vdrv_rd(d, d->common + 0x04, 4);
	return hi << 32 | lo;
}

uint8_t vdrv_negotiate(struct vdrv *d, uint64_t features)
{
	vdrv_wr(d, d->common + 0x14, 0, 1);            /* reset */
	vdrv_wr(d, d->common + 0x14, 1, 1);            /* ACKNOWLEDGE */
	vdrv_wr(d, d->common + 0x14, 3, 1);            /* DRIVER */
	vdrv_wr(d, d->common + 0x08, 0, 4);
	vdrv_wr(d, d->common + 0x0c, (uint32_t)features, 4);
	vdrv_wr(d, d->common + 0x08, 1, 4);
	vdrv_wr(d, d->common + 0x0c, features >> 32, 4);
	vdrv_wr(d, d->common + 0x14, 0xb, 1);          /* FEATURES_OK */
	return vdrv_status(d);
}

uint64_t vdrv_alloc(struct vdrv *d, uint64_t len)
{
	uint64_t gpa = (d->heap + 4095) & ~4095ULL;

	d->heap = gpa + len;
	memset(vdrv_hva(d, gpa), 0, len);
	return gpa;
}

void *vdrv_hva(struct vdrv *d, uint64_t gpa)
{
	return guest_mem_hva(&d->f->vm.mem, gpa, 1);
}

void vdrv_queue(struct vdrv *d, unsigned q, uint16_t size)
{
	struct vdrv_q *vq = &d->q[q];

	vdrv_wr(d, d->common + 0x16, q, 2);
	if (size)
		vdrv_wr(d, d->common + 0x18, size, 2);
	vq->size = vdrv_rd(d, d->common + 0x18, 2);
	vq->desc = vdrv_alloc(d, 16 * vq->size);
	vq->avail = vdrv_alloc(d, 6 + 2 * vq->size);
	vq->used = vdrv_alloc(d, 6 + 8 * vq->size);
	vdrv_wr(d, d->common + 0x20, vq->desc, 8);
	vdrv_wr(d, d->common + 0x28, (uint32_t)vq->avail, 4);   /* as two dwords */
	vdrv_wr(d, d->common + 0x2c, vq->avail >> 32, 4);
	vdrv_wr(d, d->common + 0x30, vq->used, 8);
	vdrv_wr(d, d->common + 0x1c, 1, 2);
}

void vdrv_driver_ok(struct vdrv *d)
{
	vdrv_wr(d, d->common + 0x14, 0xf, 1);
}

static void put_desc(void *table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = (uint8_t *)table + 16 * i;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

uint16_t vdrv_offer(struct vdrv *d, unsigned q, const struct vdrv_buf *b, int n,
		    bool indirect)
{
	struct vdrv_q *vq = &d->q[q];
	uint16_t head = vq->next_desc, *avail = vdrv_hva(d, vq->avail);
	void *table = vdrv_hva(d, vq->desc);
	uint16_t base = head;

	if (indirect) {
		uint64_t t = vdrv_alloc(d, 16 * n);

		put_desc(table, head, t, 16 * n, 4, 0);
		vq->next_desc = (head + 1) % vq->size;
		table = vdrv_hva(d, t);
		base = 0;
	} else {
		vq->next_desc = (head + n) % vq->size;
	}
	for (int i = 0; i < n; i++) {
		uint16_t idx = indirect ? i : (base + i) % vq->size;
		uint16_t next = indirect ? i + 1 : (base + i + 1) % vq->size;

		put_desc(table, idx, b[i].gpa, b[i].len,
			 (b[i].writable ? 2 : 0) | (i + 1 < n ? 1 : 0), next);
	}
	avail[2 + vq->avail_idx % vq->size] = head;
	__atomic_store_n(&avail[1], ++vq->avail_idx, __ATOMIC_RELEASE);
	vdrv_kick(d, q);
	return head;
}

void vdrv_kick(struct vdrv *d, unsigned q)
{
	vdrv_wr(d, d->notify + q * d->notify_mult, q, 2);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int vdrv_wait_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len, int timeout_ms)
{
	struct vdrv_q *vq = &d->q[q];
	uint16_t *used = vdrv_hva(d, vq->used);

	for (int t = 0; t <= timeout_ms; t++) {
		if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != vq->used_seen) {
			uint32_t *e = vdrv_hva(d, vq->used + 4 + 8 * (vq->used_seen % vq->size));

			if (id)
				*id = e[0];
			if (len)
				*len = e[1];
			vq->used_seen++;
			return 0;
		}
		sleep_ms(1);
	}
	return -1;
}

bool vdrv_wait_status(struct vdrv *d, uint8_t bits, int timeout_ms)
{
	for (int t = 0; t <= timeout_ms; t++) {
		if ((vdrv_status(d) & bits) == bits)
			return true;
		sleep_ms(1);
	}
	return false;
}
