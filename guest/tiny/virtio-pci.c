// SPDX-License-Identifier: GPL-2.0-only
/* The tiny guests' minimal virtio-pci driver: see virtio-pci.h. */
#include "tiny.h"
#include "virtio-pci.h"

/* §4.1.4.3 common configuration offsets */
#define CC_DFSELECT 0x00
#define CC_DF       0x04
#define CC_GFSELECT 0x08
#define CC_GF       0x0c
#define CC_STATUS   0x14
#define CC_QSELECT  0x16
#define CC_QSIZE    0x18
#define CC_QENABLE  0x1c
#define CC_QNOTIFY  0x1e
#define CC_QDESC    0x20
#define CC_QDRIVER  0x28
#define CC_QDEVICE  0x30

static void cfg_write16(unsigned slot, unsigned off, uint16_t v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	outw(0xcfc + (off & 2), v);
}

static uint8_t cfg_read8(unsigned slot, unsigned off)
{
	return pci_cfg_read32(0, slot, 0, off) >> (8 * (off & 3));
}

static void w8(volatile uint8_t *p, unsigned off, uint8_t v) { *(volatile uint8_t *)(p + off) = v; }
static void w16(volatile uint8_t *p, unsigned off, uint16_t v) { *(volatile uint16_t *)(p + off) = v; }
static void w32(volatile uint8_t *p, unsigned off, uint32_t v) { *(volatile uint32_t *)(p + off) = v; }
static uint8_t r8(volatile uint8_t *p, unsigned off) { return *(volatile uint8_t *)(p + off); }
static uint16_t r16(volatile uint8_t *p, unsigned off) { return *(volatile uint16_t *)(p + off); }
static uint32_t r32(volatile uint8_t *p, unsigned off) { return *(volatile uint32_t *)(p + off); }

static void w64(volatile uint8_t *p, unsigned off, uint64_t v)
{
	w32(p, off, (uint32_t)v);
	w32(p, off + 4, v >> 32);
}

/* BAR n's memory address (32- or 64-bit memory BARs). */
static uint64_t bar_addr(unsigned slot, unsigned n)
{
	uint32_t lo = pci_cfg_read32(0, slot, 0, 0x10 + 4 * n);
	uint64_t a = lo & ~0xfu;

	if ((lo & 0x6) == 0x4)
		a |= (uint64_t)pci_cfg_read32(0, slot, 0, 0x14 + 4 * n) << 32;
	return a;
}

/* §4.1.4: walk the capability list for the virtio structures. */
static void map_caps(struct vdev *d)
{
	unsigned off = cfg_read8(d->slot, 0x34) & 0xfc;

	for (int n = 0; off && n < 48; n++, off = cfg_read8(d->slot, off + 1) & 0xfc) {
		uint8_t type = cfg_read8(d->slot, off + 3), bar = cfg_read8(d->slot, off + 4);
		volatile uint8_t *p;

		if (cfg_read8(d->slot, off) != 0x09 || bar > 5)
			continue;
		p = (volatile uint8_t *)(uintptr_t)(bar_addr(d->slot, bar) +
						    pci_cfg_read32(0, d->slot, 0, off + 8));
		switch (type) {
		case 1: d->common = p; break;
		case 2:
			d->notify = p;
			d->notify_mult = pci_cfg_read32(0, d->slot, 0, off + 16);
			break;
		case 3: d->isr = p; break;
		case 4: d->device = p; break;
		}
	}
}

int vdev_probe(struct vdev *d, uint16_t id)
{
	for (unsigned s = 0; s < 32; s++) {
		uint32_t v = pci_cfg_read32(0, s, 0, 0);

		if ((v & 0xffff) != 0x1af4 || v >> 16 != 0x1040u + id)
			continue;
		d->slot = s;
		cfg_write16(s, 0x04, 0x0006);   /* memory decode, bus master */
		map_caps(d);
		if (!d->common || !d->notify || !d->isr)
			return -1;
		printf("virtio: device %u at 00:%02x.0, common cfg at %p\n", id, s,
		       (void *)d->common);
		return 0;
	}
	return -1;
}

uint8_t vdev_status(struct vdev *d)
{
	return r8(d->common, CC_STATUS);
}

int vdev_init(struct vdev *d, uint64_t features)
{
	uint64_t offered;

	features |= 1ULL << 32;                 /* VIRTIO_F_VERSION_1 */
	w8(d->common, CC_STATUS, 0);            /* reset (§4.1.4.3.1) */
	while (vdev_status(d))
		;
	w8(d->common, CC_STATUS, 1);            /* ACKNOWLEDGE */
	w8(d->common, CC_STATUS, 3);            /* DRIVER */
	w32(d->common, CC_DFSELECT, 1);
	offered = (uint64_t)r32(d->common, CC_DF) << 32;
	w32(d->common, CC_DFSELECT, 0);
	offered |= r32(d->common, CC_DF);
	features &= offered;
	w32(d->common, CC_GFSELECT, 0);
	w32(d->common, CC_GF, (uint32_t)features);
	w32(d->common, CC_GFSELECT, 1);
	w32(d->common, CC_GF, features >> 32);
	w8(d->common, CC_STATUS, 0xb);          /* FEATURES_OK */
	if (!(vdev_status(d) & 0x8))
		return -1;
	return 0;
}

void vdev_queue(struct vdev *d, struct vqueue *q, unsigned index)
{
	q->index = index;
	q->avail_idx = q->used_seen = q->next_desc = 0;
	/* Fresh rings: a device reset forgets what the old ones held. */
	for (unsigned i = 0; i < sizeof(q->avail) / sizeof(q->avail[0]); i++)
		q->avail[i] = 0;
	for (unsigned i = 0; i < sizeof(q->used) / sizeof(q->used[0]); i++)
		q->used[i] = 0;
	w16(d->common, CC_QSELECT, index);
	w16(d->common, CC_QSIZE, VQ_SIZE);
	w64(d->common, CC_QDESC, (uintptr_t)q->desc);
	w64(d->common, CC_QDRIVER, (uintptr_t)q->avail);
	w64(d->common, CC_QDEVICE, (uintptr_t)q->used);
	w16(d->common, CC_QENABLE, 1);
}

void vdev_driver_ok(struct vdev *d)
{
	w8(d->common, CC_STATUS, 0xf);
}

void vdev_offer(struct vdev *d, struct vqueue *q, const struct vbuf *b, int n)
{
	uint16_t head = q->next_desc;

	for (int i = 0; i < n; i++) {
		struct vdesc *e = &q->desc[(head + i) % VQ_SIZE];

		e->addr = (uintptr_t)b[i].addr;
		e->len = b[i].len;
		e->flags = (i + 1 < n ? 1 : 0) | (b[i].writable ? 2 : 0);
		e->next = (head + i + 1) % VQ_SIZE;
	}
	q->next_desc = (head + n) % VQ_SIZE;
	q->avail[2 + q->avail_idx % VQ_SIZE] = head;
	__asm__ volatile("" ::: "memory");      /* x86: stores stay in order */
	*(volatile uint16_t *)&q->avail[1] = ++q->avail_idx;
	__asm__ volatile("mfence" ::: "memory");
	/* queue_notify_off is read with the queue selected (§4.1.4.4). */
	w16(d->common, CC_QSELECT, q->index);
	w16(d->notify, r16(d->common, CC_QNOTIFY) * d->notify_mult, q->index);
}

int vdev_wait(struct vqueue *q, uint32_t *len, unsigned ms)
{
	volatile uint16_t *used_idx = (volatile uint16_t *)q->used + 1;
	struct tiny_timeout t;

	timeout_start(&t, ms);
	for (;;) {
		if (*used_idx != q->used_seen) {
			__asm__ volatile("" ::: "memory");
			if (len)
				*len = q->used[1 + 2 * (q->used_seen % VQ_SIZE) + 1];
			q->used_seen++;
			return 0;
		}
		if (timeout_expired(&t))
			return -1;
		__asm__ volatile("pause");
	}
}
