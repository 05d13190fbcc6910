/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef TINY_VIRTIO_PCI_H
#define TINY_VIRTIO_PCI_H

/*
 * A minimal modern virtio-pci driver for the tiny guests (virtio 1.2
 * §4.1): find the function by PCI ID, walk its vendor capabilities,
 * negotiate VIRTIO_F_VERSION_1, set up split queues (§2.7) in static
 * memory, offer chains and poll the used ring.  No interrupts: the guests
 * poll, which keeps them a few thousand instructions long.
 */
#include <stdbool.h>
#include <stdint.h>

#define VQ_SIZE 16

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vqueue {
	struct vdesc desc[VQ_SIZE] __attribute__((aligned(16)));
	uint16_t avail[2 + VQ_SIZE + 1] __attribute__((aligned(2)));
	uint32_t used[1 + 2 * VQ_SIZE + 1] __attribute__((aligned(4)));
	uint16_t avail_idx, used_seen, next_desc;
	unsigned index;
};

struct vdev {
	unsigned slot;
	volatile uint8_t *common, *notify, *isr, *device;
	uint32_t notify_mult;
};

struct vbuf {
	const void *addr;
	uint32_t len;
	bool writable;
};

/* Find virtio device `id` (0x1040 + id) and map its structures: 0 or -1. */
int vdev_probe(struct vdev *d, uint16_t id);
/* Reset, negotiate `features` | VERSION_1: 0, or -1 when FEATURES_OK is refused. */
int vdev_init(struct vdev *d, uint64_t features);
/* Set up and enable queue `index`. */
void vdev_queue(struct vdev *d, struct vqueue *q, unsigned index);
void vdev_driver_ok(struct vdev *d);
uint8_t vdev_status(struct vdev *d);
/* Offer a chain of n buffers and kick. */
void vdev_offer(struct vdev *d, struct vqueue *q, const struct vbuf *b, int n);
/* Poll for the next used element for at most `ms` milliseconds of kvmclock time: 0, or -1. */
int vdev_wait(struct vqueue *q, uint32_t *len, unsigned ms);

#endif
