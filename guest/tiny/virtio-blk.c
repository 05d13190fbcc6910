// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk: find the disk, read sector 0 (the test puts a marker there),
 * write a pattern to sector 1, flush, read it back into another buffer and
 * compare (virtio 1.2 §5.2.6).  Exit status 50 on success; 1 no device,
 * 2 features refused, 3 a request failed, 4 data mismatch.
 */
#include "tiny.h"
#include "virtio-pci.h"

#define VIRTIO_BLK_EXIT 50
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct vqueue q __attribute__((aligned(4096)));
static struct blk_req req;
static uint8_t sector_out[512] __attribute__((aligned(512)));
static uint8_t sector_in[512] __attribute__((aligned(512)));
static volatile uint8_t status;

static int blk_io(struct vdev *d, uint32_t type, uint64_t sector, void *buf, bool in)
{
	struct vbuf b[3] = {
		{ &req, sizeof(req), false },
		{ buf, 512, in },
		{ (const void *)&status, 1, true },
	};
	int n = buf ? 3 : 2;

	if (!buf)
		b[1] = b[2];
	req.type = type;
	req.sector = sector;
	status = 0xff;
	vdev_offer(d, &q, b, n);
	if (vdev_wait(&q, NULL, 10000))
		return -1;
	return status;
}

int tiny_main(const struct hvm_start_info *si)
{
	struct vdev d = { 0 };
	uint64_t capacity;

	serial_init();
	if (vdev_probe(&d, 2)) {
		printf("virtio-blk: no virtio-blk device\n");
		return 1;
	}
	if (vdev_init(&d, VIRTIO_BLK_F_FLUSH)) {
		printf("virtio-blk: FEATURES_OK refused\n");
		return 2;
	}
	vdev_queue(&d, &q, 0);
	vdev_driver_ok(&d);
	capacity = *(volatile uint32_t *)d.device |
		   (uint64_t)*(volatile uint32_t *)(d.device + 4) << 32;
	printf("virtio-blk: capacity %u sectors, status %x\n", (unsigned)capacity,
	       vdev_status(&d));
	if (blk_io(&d, 0, 0, sector_in, true)) {
		printf("virtio-blk: read of sector 0 failed\n");
		return 3;
	}
	sector_in[31] = 0;
	printf("virtio-blk: sector 0 says '%s'\n", (const char *)sector_in);
	for (int i = 0; i < 512; i++)
		sector_out[i] = (uint8_t)(i * 7 + 3);
	if (blk_io(&d, 1, 1, sector_out, false) || blk_io(&d, 4, 0, 0, false) ||
	    blk_io(&d, 0, 1, sector_in, true)) {
		printf("virtio-blk: write, flush or read back failed\n");
		return 3;
	}
	for (int i = 0; i < 512; i++) {
		if (sector_in[i] != sector_out[i]) {
			printf("virtio-blk: byte %d reads %x, wrote %x\n", i, sector_in[i],
			       sector_out[i]);
			return 4;
		}
	}
	printf("virtio-blk: sector 1 written, flushed and read back\n");
	return VIRTIO_BLK_EXIT;
}
