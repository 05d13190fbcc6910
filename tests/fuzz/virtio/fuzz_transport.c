// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target over the virtio-pci transport and virtio-blk together:
 * a driver that is set up correctly (features, one queue at fixed guest
 * addresses, DRIVER_OK), then does whatever the input says, as a hostile
 * guest would: BAR reads and writes anywhere (common config, ISR, device
 * config, notify, MSI-X table, PBA), PCI config writes (MSI-X control, the
 * pci_cfg window), guest RAM writes into the rings, descriptor tables and
 * buffers, kicks, resets.  The monitor must survive everything: no crash,
 * no sanitizer report, no access outside guest RAM.
 *
 * Input: records of 12 bytes: op, a, b (le16), value (le64).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "fuzz_transport.h"
#include "vfake.h"
#include "vireo/device.h"
#include "vireo/evloop.h"
#include "vireo/pci.h"

#define RAM   (1 * MiB)
#define DESC  0x10000
#define AVAIL 0x11000
#define USED  0x12000
#define DATA  0x20000

struct fuzz_vm {
	struct fake_vm *f;
	struct virtio_front fe;
	uint64_t bar;
	unsigned slot;
};

static void bar_rw(struct fuzz_vm *v, uint32_t off, uint64_t val, int len, bool wr)
{
	uint8_t b[8];

	memcpy(b, &val, 8);
	fake_mmio(v->f, v->bar + off, b, len, wr);
}

static void cfg_rw(struct fuzz_vm *v, unsigned reg, uint32_t val, int len, bool wr)
{
	fake_out(v->f, 0xcf8, 0x80000000u | v->slot << 11 | (reg & 0xfc), 4);
	if (wr)
		fake_out(v->f, 0xcfc + (reg & 3), val, len);
	else
		(void)fake_inl(v->f, 0xcfc + (reg & 3), len);
}

/* A correctly initialised driver: the fuzzer starts from a live device. */
static void driver_init(struct fuzz_vm *v)
{
	bar_rw(v, 0x14, 0, 1, true);
	bar_rw(v, 0x14, 3, 1, true);
	bar_rw(v, 0x08, 0, 4, true);
	bar_rw(v, 0x0c, (1u << 28) | (1u << 29) | (1u << 9) | (1u << 13), 4, true);
	bar_rw(v, 0x08, 1, 4, true);
	bar_rw(v, 0x0c, 1, 4, true);                 /* VERSION_1 */
	bar_rw(v, 0x14, 0xb, 1, true);
	bar_rw(v, 0x16, 0, 2, true);
	bar_rw(v, 0x18, 16, 2, true);
	bar_rw(v, 0x20, DESC, 8, true);
	bar_rw(v, 0x28, AVAIL, 8, true);
	bar_rw(v, 0x30, USED, 8, true);
	bar_rw(v, 0x1c, 1, 2, true);
	bar_rw(v, 0x14, 0xf, 1, true);
}

static struct fuzz_vm *fuzz_vm_get(void)
{
	/* One VM per fuzzing process (libFuzzer calls us in a loop). */
	static struct fuzz_vm *v;
	struct virtio_disk_opts o = { .format = BLK_FORMAT_RAW };
	char path[] = "/tmp/vireo-fuzz-disk-XXXXXX";
	void *host;
	int fd;

	if (v)
		return v;
	v = calloc(1, sizeof(*v));
	v->f = fake_vm_create(RAM, 1);
	fd = mkstemp(path);
	if (!v || fd < 0 || ftruncate(fd, 1 * MiB) || guest_mem_create(&v->f->vm.mem, RAM) ||
	    evloop_create(&v->f->vm.loop) || device_realize(&v->f->vm, &pci_host_ops, &host))
		abort();
	close(fd);
	o.path = path;
	if (virtio_blk_create(&v->f->vm, &o, 0, &v->fe))
		abort();
	unlink(path);                   /* the open image keeps it */
	v->slot = pci_dev_slot(v->fe.vdev->pci);
	v->bar = pci_dev_bar_addr(v->fe.vdev->pci, 0);
	return v;
}

int fuzz_transport_one(const uint8_t *data, size_t size)
{
	struct fuzz_vm *v = fuzz_vm_get();
	uint8_t *ram = v->f->vm.mem.base;

	virtio_dev_reset(v->fe.vdev);
	cfg_rw(v, 0x04, 0x0006, 2, true);       /* memory decode on, the BAR where we put it */
	v->bar = pci_dev_bar_addr(v->fe.vdev->pci, 0);
	memset(ram + DESC, 0, 0x20000);
	driver_init(v);
	for (size_t i = 0; i + 12 <= size; i += 12) {
		uint8_t op = data[i];
		uint16_t a, b;
		uint64_t val;
		int len = 1 << (data[i] >> 6);      /* 1, 2, 4, 8 */

		memcpy(&a, data + i + 1, 2);
		memcpy(&b, data + i + 3, 2);
		memcpy(&val, data + i + 4, 8);
		(void)b;
		switch (op & 7) {
		case 0: bar_rw(v, a & 0x7fff, val, len, true); break;
		case 1: bar_rw(v, a & 0x7fff, 0, len, false); break;
		case 2: cfg_rw(v, a & 0xff, val, len > 4 ? 4 : len, true); break;
		case 3: cfg_rw(v, a & 0xff, 0, len > 4 ? 4 : len, false); break;
		case 4: /* guest RAM near the rings and buffers */
			memcpy(ram + DESC + (a % 0x1fff8), &val, 8);
			break;
		case 5:
			bar_rw(v, VIRTIO_PCI_NOTIFY_OFF, 0, 2, true);   /* kick queue 0 */
			virtio_dev_poll(v->fe.vdev);
			break;
		case 6: virtio_dev_poll(v->fe.vdev); break;
		case 7:
			if ((a & 0xff) == 0)
				driver_init(v);             /* start over, as after a reset */
			break;
		}
	}
	virtio_dev_poll(v->fe.vdev);
	return 0;
}

#ifdef VIREO_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_transport_one(data, size);
}
#endif
