// SPDX-License-Identifier: GPL-2.0-only
/*
 * The modern virtio-pci transport and virtio-blk, driven by vdrv (a
 * minimal driver) through the real PCI host bridge and guest memory, with
 * the device working on a real event-loop thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vdrv.h"
#include "vireo/evloop.h"

#define RAM (64 * MiB)
#define DISK_SIZE (1 * MiB)
#define F_VERSION_1 (1ULL << 32)
#define F_INDIRECT  (1ULL << 28)
#define F_EVENT_IDX (1ULL << 29)
#define F_BLK_FLUSH (1ULL << 9)
#define F_BLK_RO    (1ULL << 5)
#define F_BLK_DISCARD (1ULL << 13)

struct fx {
	struct fake_vm *f;
	struct virtio_front fe;
	struct vdrv d;
	char path[64];
	uint64_t hdr, data, status;
};

static int setup_disk(void **state, bool ro)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct virtio_disk_opts o = { .format = BLK_FORMAT_RAW, .ro = ro,
				      .serial = "TESTSERIAL123" };
	int fd;

	strcpy(x->path, "/tmp/vireo-vblk-XXXXXX");
	fd = mkstemp(x->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK_SIZE), 0);
	assert_int_equal(pwrite(fd, "BOOTSECTOR", 10, 0), 10);
	close(fd);
	o.path = x->path;
	x->f = vdrv_vm_create(RAM);
	assert_int_equal(virtio_blk_create(&x->f->vm, &o, 0, &x->fe), 0);
	assert_int_equal(vdrv_probe(&x->d, x->f, 2), 0);
	x->hdr = vdrv_alloc(&x->d, 16);
	x->data = vdrv_alloc(&x->d, 64 * 1024);
	x->status = vdrv_alloc(&x->d, 1);
	*state = x;
	return 0;
}

static int setup_rw(void **state)
{
	return setup_disk(state, false);
}

static int setup_ro(void **state)
{
	return setup_disk(state, true);
}

static int teardown(void **state)
{
	struct fx *x = *state;

	evloop_stop(x->f->vm.loop);     /* as vm_destroy: the loop first */
	x->fe.destroy(x->fe.state);
	vdrv_vm_destroy(x->f);
	unlink(x->path);
	free(x);
	return 0;
}

static void start(struct fx *x, uint64_t features)
{
	assert_int_equal(vdrv_negotiate(&x->d, features) & 0x8, 0x8);
	vdrv_queue(&x->d, 0, 0);
	vdrv_driver_ok(&x->d);
	assert_int_equal(vdrv_status(&x->d), 0xf);
}

/* One request: header, data (len bytes, device-writable for reads), status. */
static int blk_req(struct fx *x, uint32_t type, uint64_t sector, uint32_t len,
		   bool data_writable, bool indirect, uint32_t *used_len)
{
	uint8_t *h = vdrv_hva(&x->d, x->hdr);
	struct vdrv_buf b[3] = {
		{ x->hdr, 16, false },
		{ x->data, len, data_writable },
		{ x->status, 1, true },
	};
	uint32_t id;
	int n = 0;

	memcpy(h, &type, 4);
	memset(h + 4, 0, 4);
	memcpy(h + 8, &sector, 8);
	*(uint8_t *)vdrv_hva(&x->d, x->status) = 0xee;
	if (len)
		n = 1;
	if (len)
		vdrv_offer(&x->d, 0, b, 3, indirect);
	else {
		b[1] = b[2];
		vdrv_offer(&x->d, 0, b, 2, indirect);
	}
	(void)n;
	if (vdrv_wait_used(&x->d, 0, &id, used_len, 2000))
		return -1;
	return *(uint8_t *)vdrv_hva(&x->d, x->status);
}

static void test_pci_identity(void **state)
{
	struct fx *x = *state;
	uint64_t feat;

	assert_int_equal(vdrv_cfg_read(x->f, x->d.slot, 0x08, 1), 1);      /* revision */
	assert_int_equal(vdrv_cfg_read(x->f, x->d.slot, 0x2c, 2), 0x1af4);
	assert_int_equal(vdrv_cfg_read(x->f, x->d.slot, 0x2e, 2), 0x1042);
	assert_int_equal(vdrv_cfg_read(x->f, x->d.slot, 0x3d, 1), 1);       /* INTA */
	assert_true(x->d.bar != 0);
	assert_int_equal(x->d.common, VIRTIO_PCI_COMMON_OFF);
	assert_int_equal(x->d.isr, VIRTIO_PCI_ISR_OFF);
	assert_int_equal(x->d.device, VIRTIO_PCI_DEVICE_OFF);
	assert_int_equal(x->d.notify, VIRTIO_PCI_NOTIFY_OFF);
	assert_int_equal(x->d.notify_mult, 4);
	assert_true(x->d.msix_cap != 0 && x->d.pcicfg_cap != 0);
	assert_int_equal(vdrv_cfg_read(x->f, x->d.slot, x->d.msix_cap + 2, 2) & 0x7ff, 1);
	feat = vdrv_device_features(&x->d);
	assert_true(feat & F_VERSION_1);
	assert_true(feat & F_INDIRECT);
	assert_true(feat & F_EVENT_IDX);
	assert_true(feat & F_BLK_FLUSH);
	assert_false(feat & F_BLK_RO);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x12, 2), 1);        /* num_queues */
	/* capacity in 512-byte sectors */
	assert_int_equal(vdrv_rd(&x->d, x->d.device, 8), DISK_SIZE / 512);
}

static void test_features_refused(void **state)
{
	struct fx *x = *state;

	/* §3.1.1: no VERSION_1, or a bit the device lacks: FEATURES_OK stays clear. */
	assert_int_equal(vdrv_negotiate(&x->d, F_BLK_FLUSH) & 0x8, 0);
	assert_int_equal(vdrv_negotiate(&x->d, F_VERSION_1 | (1ULL << 40)) & 0x8, 0);
	assert_int_equal(vdrv_negotiate(&x->d, F_VERSION_1 | F_BLK_FLUSH) & 0x8, 0x8);
	/* Features cannot change after FEATURES_OK. */
	vdrv_wr(&x->d, x->d.common + 0x08, 0, 4);
	vdrv_wr(&x->d, x->d.common + 0x0c, 0, 4);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x0c, 4), F_BLK_FLUSH);
}

static void test_write_read_back(void **state)
{
	struct fx *x = *state;
	uint8_t *data = vdrv_hva(&x->d, x->data), buf[4096];
	uint32_t used;
	unsigned gsi;
	int fd;

	start(x, F_VERSION_1 | F_BLK_FLUSH);
	assert_int_equal(blk_req(x, 0, 0, 512, true, false, &used), 0);    /* IN */
	assert_memory_equal(data, "BOOTSECTOR", 10);
	assert_int_equal(used, 513);
	for (int i = 0; i < 4096; i++)
		data[i] = i * 7;
	assert_int_equal(blk_req(x, 1, 8, 4096, false, false, &used), 0);  /* OUT */
	assert_int_equal(used, 1);
	assert_int_equal(blk_req(x, 4, 0, 0, false, false, &used), 0);     /* FLUSH */
	/* On the host, in the image file. */
	fd = open(x->path, O_RDONLY);
	assert_int_equal(pread(fd, buf, 4096, 8 * 512), 4096);
	close(fd);
	assert_memory_equal(buf, data, 4096);
	memset(data, 0, 4096);
	assert_int_equal(blk_req(x, 0, 8, 4096, true, false, &used), 0);
	assert_memory_equal(buf, data, 4096);
	/* INTx: the ISR says "queue", the line is up; reading the ISR clears both. */
	gsi = vdrv_cfg_read(x->f, x->d.slot, 0x3c, 1);
	assert_true(gsi >= 16 && gsi < 24);
	assert_int_equal(x->f->irq_level[gsi], 1);
	assert_int_equal(vdrv_rd(&x->d, x->d.isr, 1), 1);
	assert_int_equal(x->f->irq_level[gsi], 0);
	assert_int_equal(vdrv_rd(&x->d, x->d.isr, 1), 0);
}

static void test_indirect_and_event_idx(void **state)
{
	struct fx *x = *state;
	uint8_t *data = vdrv_hva(&x->d, x->data);
	uint32_t used;

	start(x, F_VERSION_1 | F_INDIRECT | F_EVENT_IDX);
	memset(data, 0xab, 1024);
	assert_int_equal(blk_req(x, 1, 100, 1024, false, true, &used), 0);
	memset(data, 0, 1024);
	for (int i = 0; i < 300; i++)     /* more requests than the queue holds */
		assert_int_equal(blk_req(x, 0, 100, 1024, true, true, &used), 0);
	assert_int_equal(data[0], 0xab);
	assert_int_equal(data[1023], 0xab);
}

static void test_bounds_and_get_id(void **state)
{
	struct fx *x = *state;
	uint32_t used;

	start(x, F_VERSION_1);
	/* Past the end, and a sector number that would overflow: IOERR. */
	assert_int_equal(blk_req(x, 0, DISK_SIZE / 512, 512, true, false, &used), 1);
	assert_int_equal(blk_req(x, 0, UINT64_MAX / 256, 512, true, false, &used), 1);
	assert_int_equal(blk_req(x, 1, DISK_SIZE / 512 - 1, 1024, false, false, &used), 1);
	/* Not a sector multiple. */
	assert_int_equal(blk_req(x, 0, 0, 100, true, false, &used), 1);
	/* Unknown request type. */
	assert_int_equal(blk_req(x, 77, 0, 512, true, false, &used), 2);
	/* GET_ID: the serial, NUL padded to 20 bytes. */
	memset(vdrv_hva(&x->d, x->data), 0xff, 20);
	assert_int_equal(blk_req(x, 8, 0, 20, true, false, &used), 0);
	assert_string_equal(vdrv_hva(&x->d, x->data), "TESTSERIAL123");
	assert_int_equal(used, 21);
	/* The device is still healthy. */
	assert_int_equal(vdrv_status(&x->d), 0xf);
}

static void test_discard(void **state)
{
	struct fx *x = *state;
	uint8_t *data = vdrv_hva(&x->d, x->data);
	uint64_t seg[2] = { 16, 8 };   /* sector 16, 8 sectors, flags 0 */
	uint32_t used;

	start(x, F_VERSION_1 | F_BLK_DISCARD);
	memset(data, 0x5a, 4096);
	assert_int_equal(blk_req(x, 1, 16, 4096, false, false, &used), 0);
	memcpy(data, seg, 16);
	assert_int_equal(blk_req(x, 11, 0, 16, false, false, &used), 0);  /* DISCARD */
	assert_int_equal(blk_req(x, 0, 16, 4096, true, false, &used), 0);
	for (int i = 0; i < 4096; i++)
		if (data[i])
			fail_msg("byte %d not zero after discard", i);
}

static void test_read_only(void **state)
{
	struct fx *x = *state;
	uint32_t used;

	assert_true(vdrv_device_features(&x->d) & F_BLK_RO);
	start(x, F_VERSION_1 | F_BLK_RO);
	assert_int_equal(blk_req(x, 1, 0, 512, false, false, &used), 1);   /* IOERR */
	assert_int_equal(blk_req(x, 0, 0, 512, true, false, &used), 0);
	assert_memory_equal(vdrv_hva(&x->d, x->data), "BOOTSECTOR", 10);
}

/* A hostile chain: NEEDS_RESET, no completion, and a reset brings it back. */
static void test_needs_reset_and_recover(void **state)
{
	struct fx *x = *state;
	struct vdrv_buf bad[2] = { { 0xfee00000, 16, false }, { x->status, 1, true } };
	uint32_t used;

	start(x, F_VERSION_1);
	vdrv_offer(&x->d, 0, bad, 2, false);
	assert_true(vdrv_wait_status(&x->d, 0x40, 2000));
	assert_int_equal(vdrv_wait_used(&x->d, 0, NULL, NULL, 50), -1);
	/* The config-change interrupt (§2.1.2). */
	assert_int_equal(vdrv_rd(&x->d, x->d.isr, 1) & 2, 2);
	/* Further kicks are ignored until the driver resets. */
	vdrv_kick(&x->d, 0);
	assert_int_equal(vdrv_wait_used(&x->d, 0, NULL, NULL, 50), -1);
	x->d.q[0] = (struct vdrv_q){ 0 };
	start(x, F_VERSION_1);
	assert_int_equal(blk_req(x, 0, 0, 512, true, false, &used), 0);
}

static void test_bad_rings(void **state)
{
	struct fx *x = *state;

	assert_int_equal(vdrv_negotiate(&x->d, F_VERSION_1) & 0x8, 0x8);
	vdrv_wr(&x->d, x->d.common + 0x16, 0, 2);
	vdrv_wr(&x->d, x->d.common + 0x18, 100, 2);       /* not a power of 2 */
	vdrv_wr(&x->d, x->d.common + 0x20, 0x1000, 8);
	vdrv_wr(&x->d, x->d.common + 0x28, 0x2000, 8);
	vdrv_wr(&x->d, x->d.common + 0x30, 0x3000, 8);
	vdrv_wr(&x->d, x->d.common + 0x1c, 1, 2);
	assert_int_equal(vdrv_status(&x->d) & 0x40, 0x40);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x1c, 2), 0);
	/* Rings outside RAM. */
	vdrv_wr(&x->d, x->d.common + 0x14, 0, 1);
	assert_int_equal(vdrv_status(&x->d), 0);
	assert_int_equal(vdrv_negotiate(&x->d, F_VERSION_1) & 0x8, 0x8);
	vdrv_wr(&x->d, x->d.common + 0x20, 0xfee00000, 8);
	vdrv_wr(&x->d, x->d.common + 0x28, 0x2000, 8);
	vdrv_wr(&x->d, x->d.common + 0x30, 0x3000, 8);
	vdrv_wr(&x->d, x->d.common + 0x1c, 1, 2);
	assert_int_equal(vdrv_status(&x->d) & 0x40, 0x40);
	/* A queue enabled before FEATURES_OK (the ring layout is not known yet). */
	vdrv_wr(&x->d, x->d.common + 0x14, 0, 1);
	vdrv_wr(&x->d, x->d.common + 0x14, 3, 1);
	vdrv_wr(&x->d, x->d.common + 0x20, 0x1000, 8);
	vdrv_wr(&x->d, x->d.common + 0x28, 0x2000, 8);
	vdrv_wr(&x->d, x->d.common + 0x30, 0x3000, 8);
	vdrv_wr(&x->d, x->d.common + 0x1c, 1, 2);
	assert_int_equal(vdrv_status(&x->d) & 0x40, 0x40);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x1c, 2), 0);
	/* Queue size above the maximum reads back as 0; bad selectors read 0. */
	vdrv_wr(&x->d, x->d.common + 0x14, 0, 1);
	vdrv_wr(&x->d, x->d.common + 0x18, 4096, 2);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x18, 2), 0);
	vdrv_wr(&x->d, x->d.common + 0x16, 7, 2);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x18, 2), 0);
	/* Unaligned and odd-sized accesses do nothing and do not crash. */
	vdrv_wr(&x->d, x->d.common + 0x13, 0xff, 1);
	vdrv_wr(&x->d, x->d.common + 0x3f, 0xff, 1);
	vdrv_wr(&x->d, 0x7ffc, 0xffffffff, 4);
	(void)vdrv_rd(&x->d, x->d.common + 0x3e, 4);
	(void)vdrv_rd(&x->d, 0x5000, 8);
}

static int msi_count(struct fx *x)
{
	return __atomic_load_n(&x->f->msi_count, __ATOMIC_ACQUIRE);
}

static void test_msix(void **state)
{
	struct fx *x = *state;
	unsigned cap = x->d.msix_cap;
	uint32_t used;
	int before;

	/* Enable MSI-X, program vector 1 for queue 0, vector 0 for config. */
	vdrv_cfg_write(x->f, x->d.slot, cap + 2, 0x8000, 2);
	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 16, 0xfee00000, 4);
	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 20, 0, 4);
	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 24, 0x4041, 4);
	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 28, 0, 4);       /* unmask */
	assert_int_equal(vdrv_negotiate(&x->d, F_VERSION_1) & 0x8, 0x8);
	vdrv_wr(&x->d, x->d.common + 0x16, 0, 2);
	vdrv_wr(&x->d, x->d.common + 0x1a, 1, 2);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x1a, 2), 1);
	vdrv_wr(&x->d, x->d.common + 0x1a, 9, 2);             /* no such vector */
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x1a, 2), 0xffff);
	vdrv_wr(&x->d, x->d.common + 0x1a, 1, 2);
	vdrv_queue(&x->d, 0, 0);
	vdrv_driver_ok(&x->d);
	before = msi_count(x);
	assert_int_equal(blk_req(x, 0, 0, 512, true, false, &used), 0);
	/* The message follows the used element: wait for it. */
	for (int i = 0; i < 1000 && msi_count(x) == before; i++)
		usleep(1000);
	assert_int_equal(msi_count(x), before + 1);
	assert_int_equal(x->f->msi_addr, 0xfee00000);
	assert_int_equal(x->f->msi_data, 0x4041);
	/* Masked: pending bit instead of a message; unmasking delivers it. */
	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 28, 1, 4);
	assert_int_equal(blk_req(x, 0, 0, 512, true, false, &used), 0);
	usleep(20000);
	assert_int_equal(msi_count(x), before + 1);
	assert_int_equal(vdrv_rd(&x->d, VIRTIO_PCI_PBA_OFF, 8), 2);
	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 28, 0, 4);
	assert_int_equal(msi_count(x), before + 2);
	assert_int_equal(vdrv_rd(&x->d, VIRTIO_PCI_PBA_OFF, 8), 0);
	/* No INTx while MSI-X is on. */
	assert_int_equal(vdrv_rd(&x->d, x->d.isr, 1), 0);
	/* A system reset disables MSI-X and masks the vectors again. */
	virtio_dev_reset(x->fe.vdev);
	assert_int_equal(vdrv_cfg_read(x->f, x->d.slot, cap + 2, 2) & 0xc000, 0);
	assert_int_equal(vdrv_rd(&x->d, VIRTIO_PCI_MSIX_OFF + 28, 4), 1);
	assert_int_equal(vdrv_status(&x->d), 0);
}

static void test_pci_cfg_window(void **state)
{
	struct fx *x = *state;
	unsigned cap = x->d.pcicfg_cap;

	/* §4.1.4.9: read num_queues and device_status through config space. */
	vdrv_cfg_write(x->f, x->d.slot, cap + 4, 0, 1);
	vdrv_cfg_write(x->f, x->d.slot, cap + 8, VIRTIO_PCI_COMMON_OFF + 0x12, 4);
	vdrv_cfg_write(x->f, x->d.slot, cap + 12, 2, 4);
	assert_int_equal(vdrv_cfg_read(x->f, x->d.slot, cap + 16, 2), 1);
	vdrv_cfg_write(x->f, x->d.slot, cap + 8, VIRTIO_PCI_COMMON_OFF + 0x14, 4);
	vdrv_cfg_write(x->f, x->d.slot, cap + 12, 1, 4);
	vdrv_cfg_write(x->f, x->d.slot, cap + 16, 1, 1);     /* ACKNOWLEDGE */
	assert_int_equal(vdrv_status(&x->d), 1);
	/* A bad length or BAR does nothing. */
	vdrv_cfg_write(x->f, x->d.slot, cap + 12, 3, 4);
	vdrv_cfg_write(x->f, x->d.slot, cap + 16, 0, 1);
	assert_int_equal(vdrv_status(&x->d), 1);
}

struct hammer {
	struct fx *x;
	volatile bool stop;
	unsigned long rounds;
};

/* Another vCPU: ISR reads (INTx path), config space (host lock, then the
 * device lock through the MSI-X hook and the pci_cfg window), MSI-X table. */
static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	struct fx *x = h->x;
	unsigned cap = x->d.msix_cap, pc = x->d.pcicfg_cap;

	while (!h->stop) {
		(void)vdrv_rd(&x->d, x->d.isr, 1);
		(void)vdrv_rd(&x->d, x->d.device, 8);
		vdrv_cfg_write(x->f, x->d.slot, cap + 2, h->rounds & 1 ? 0x8000 : 0, 2);
		vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 28, h->rounds & 2 ? 1 : 0, 4);
		vdrv_cfg_write(x->f, x->d.slot, pc + 8, VIRTIO_PCI_ISR_OFF, 4);
		vdrv_cfg_write(x->f, x->d.slot, pc + 12, 1, 4);
		(void)vdrv_cfg_read(x->f, x->d.slot, pc + 16, 1);
		h->rounds++;
	}
	return NULL;
}

/* Requests keep completing while another thread hammers the device: no
 * deadlock between the PCI host lock, the device lock and the event loop. */
static void test_concurrent_access(void **state)
{
	struct fx *x = *state;
	struct hammer h = { .x = x };
	pthread_t t;
	uint32_t used;

	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 16, 0xfee00000, 4);
	vdrv_wr(&x->d, VIRTIO_PCI_MSIX_OFF + 24, 0x4041, 4);
	start(x, F_VERSION_1 | F_EVENT_IDX);
	vdrv_wr(&x->d, x->d.common + 0x16, 0, 2);
	vdrv_wr(&x->d, x->d.common + 0x1a, 1, 2);
	assert_int_equal(pthread_create(&t, NULL, hammer_thread, &h), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(blk_req(x, 0, i % 64, 512, true, false, &used), 0);
	h.stop = true;
	pthread_join(t, NULL);
	assert_true(h.rounds > 0);
	assert_int_equal(vdrv_status(&x->d), 0xf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pci_identity, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_features_refused, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_back, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_and_event_idx, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_bounds_and_get_id, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_needs_reset_and_recover, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rings, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_access, setup_rw, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
