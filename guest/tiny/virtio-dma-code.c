// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-dma-code: code replaced by DMA must run as the new code.
 *
 * Puts `mov eax, 1; ret` in a page of its own and calls it many times (the
 * emu backend decodes and caches it), then has virtio-blk READ sector
 * DMA_CODE_SECTOR, which the test fills with `mov eax, 2; ret`, over that
 * same page (virtio 1.2 §5.2.6), and calls it again.  No CPU store touches
 * the page after the first call: only the device's write to guest RAM can
 * tell the emu that its decoded copy is stale.
 *
 * Exit status 0x22: the new code ran; 0x11: the stale code ran although the
 * new bytes are in memory; 1 no device, 2 features refused, 3 the read
 * failed, 4 the first code misbehaved, 5 the DMA did not land, 6 the
 * function returned something else.
 */
#include "tiny.h"
#include "virtio-pci.h"

#define DMA_CODE_SECTOR 4       /* tests/integration/test_virtio_tiny.py */
#define EXIT_NEW_CODE   0x22
#define EXIT_STALE_CODE 0x11
#define WARM_CALLS      1000

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct vqueue q __attribute__((aligned(4096)));
static struct blk_req req;
static volatile uint8_t status;
/* A whole page, so no other data shares it and no CPU store bumps its generation. */
static uint8_t code_page[4096] __attribute__((aligned(4096)));

static const uint8_t old_code[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3 };  /* mov eax, 1; ret */
static const uint8_t new_code[] = { 0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3 };  /* mov eax, 2; ret */

static int call_code(void)
{
	int (*fn)(void) = (int (*)(void))(uintptr_t)code_page;

	return fn();
}

/*
 * Intel SDM Vol. 3 §8.1.3 (cross-modifying code): the executing processor
 * runs a serializing instruction after another agent changed the code.
 */
static void serialize(void)
{
	uint32_t a = 0, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
}

static int blk_read(struct vdev *d, uint64_t sector, void *buf)
{
	struct vbuf b[3] = {
		{ &req, sizeof(req), false },
		{ buf, 512, true },
		{ (const void *)&status, 1, true },
	};

	req.type = 0;           /* VIRTIO_BLK_T_IN */
	req.sector = sector;
	status = 0xff;
	vdev_offer(d, &q, b, 3);
	if (vdev_wait(&q, NULL, 10000))
		return -1;
	return status;
}

static int setup_blk(struct vdev *d)
{
	if (vdev_probe(d, 2)) {
		printf("virtio-dma-code: no virtio-blk device\n");
		return 1;
	}
	if (vdev_init(d, 0)) {
		printf("virtio-dma-code: FEATURES_OK refused\n");
		return 2;
	}
	vdev_queue(d, &q, 0);
	vdev_driver_ok(d);
	return 0;
}

/* Install the old code and run it until the emu has it cached. */
static int warm_up(void)
{
	for (unsigned i = 0; i < sizeof(code_page); i++)
		code_page[i] = 0xcc;    /* int3 */
	for (unsigned i = 0; i < sizeof(old_code); i++)
		code_page[i] = old_code[i];
	__asm__ volatile("" ::: "memory");
	for (int i = 0; i < WARM_CALLS; i++) {
		int v = call_code();

		if (v != 1) {
			printf("virtio-dma-code: call %d of the first code returned %d\n", i, v);
			return 4;
		}
	}
	printf("virtio-dma-code: before the DMA the function returns 1 (%d calls)\n",
	       WARM_CALLS);
	return 0;
}

int tiny_main(const struct hvm_start_info *si)
{
	struct vdev d = { 0 };
	int err, v;

	serial_init();
	err = setup_blk(&d);
	if (!err)
		err = warm_up();
	if (err)
		return err;
	if (blk_read(&d, DMA_CODE_SECTOR, code_page)) {
		printf("virtio-dma-code: read of sector %d failed\n", DMA_CODE_SECTOR);
		return 3;
	}
	if (memcmp(code_page, new_code, sizeof(new_code))) {
		printf("virtio-dma-code: the DMA did not land: first bytes %x %x\n",
		       code_page[0], code_page[1]);
		return 5;
	}
	serialize();
	v = call_code();
	printf("virtio-dma-code: after the DMA the function returns %d\n", v);
	if (v == 2)
		return EXIT_NEW_CODE;
	if (v == 1) {
		printf("virtio-dma-code: STALE code ran over the new bytes\n");
		return EXIT_STALE_CODE;
	}
	return 6;
}
