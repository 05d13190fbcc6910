// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-hostile: a driver that breaks the rules on purpose, to show that
 * the monitor survives and the device recovers (virtio 1.2 §2.1.2): it
 * offers a virtio-blk chain whose buffer lies outside RAM, then a chain
 * that loops, waiting each time for DEVICE_NEEDS_RESET; after a reset a
 * well-formed read must work.  Exit status 52 on success; 1 no device,
 * 2 no NEEDS_RESET after a bad chain, 3 the device did not recover.
 */
#include "tiny.h"
#include "virtio-pci.h"

#define VIRTIO_HOSTILE_EXIT 52
#define NEEDS_RESET 0x40

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct vqueue q __attribute__((aligned(4096)));
static struct blk_req req;
static uint8_t sector[512];
static volatile uint8_t status;

static void start(struct vdev *d)
{
	vdev_init(d, 0);
	vdev_queue(d, &q, 0);
	vdev_driver_ok(d);
}

static bool wait_needs_reset(struct vdev *d)
{
	for (unsigned long i = 0; i < 50000000UL; i++)
		if (vdev_status(d) & NEEDS_RESET)
			return true;
	return false;
}

int tiny_main(const struct hvm_start_info *si)
{
	struct vdev d = { 0 };
	struct vbuf outside[2] = {
		{ (const void *)0xfee00000UL, 16, false },   /* the local APIC, not RAM */
		{ (const void *)&status, 1, true },
	};
	struct vbuf good[3] = {
		{ &req, sizeof(req), false },
		{ sector, sizeof(sector), true },
		{ (const void *)&status, 1, true },
	};

	serial_init();
	if (vdev_probe(&d, 2))
		return 1;
	start(&d);
	vdev_offer(&d, &q, outside, 2);
	if (!wait_needs_reset(&d))
		return 2;
	printf("virtio-hostile: buffer outside RAM -> status %x (NEEDS_RESET)\n", vdev_status(&d));
	start(&d);
	q.desc[0] = (struct vdesc){ (uintptr_t)sector, 256, 1 | 2, 1 };
	q.desc[1] = (struct vdesc){ (uintptr_t)sector + 256, 256, 1 | 2, 0 };   /* back to 0 */
	q.avail[2] = 0;
	*(volatile uint16_t *)&q.avail[1] = ++q.avail_idx;
	__asm__ volatile("mfence" ::: "memory");
	*(volatile uint16_t *)d.notify = 0;
	if (!wait_needs_reset(&d))
		return 2;
	printf("virtio-hostile: descriptor loop -> status %x (NEEDS_RESET)\n", vdev_status(&d));
	start(&d);
	req.type = 0;
	req.sector = 0;
	vdev_offer(&d, &q, good, 3);
	if (vdev_wait(&q, 0, 10000) || status != 0)
		return 3;
	printf("virtio-hostile: after reset a read works\n");
	return VIRTIO_HOSTILE_EXIT;
}
