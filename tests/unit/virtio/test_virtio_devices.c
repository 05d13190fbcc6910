// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net, virtio-rng, virtio-console and virtio-balloon through the
 * PCI transport, driven by vdrv (tests/unit/virtio/vdrv.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "dev/virtio/devices.h"
#include "dev/virtio/virtio.h"
#include "vdrv.h"
#include "vireo/evloop.h"

#define RAM (64 * MiB)
#define F_VERSION_1 (1ULL << 32)

struct fx {
	struct fake_vm *f;
	struct virtio_front fe;
	struct vdrv d;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->f = vdrv_vm_create(RAM);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	evloop_stop(x->f->vm.loop);     /* as vm_destroy: the loop first */
	if (x->fe.destroy)
		evloop_stop(x->f->vm.loop);     /* as vm_destroy: the loop first */
	x->fe.destroy(x->fe.state);
	vdrv_vm_destroy(x->f);
	free(x);
	return 0;
}

static void start(struct fx *x, uint16_t id, uint64_t features, unsigned nq)
{
	assert_int_equal(vdrv_probe(&x->d, x->f, id), 0);
	assert_int_equal(vdrv_negotiate(&x->d, F_VERSION_1 | features) & 8, 8);
	for (unsigned q = 0; q < nq; q++)
		vdrv_queue(&x->d, q, 0);
	vdrv_driver_ok(&x->d);
}

static void test_rng(void **state)
{
	struct fx *x = *state;
	uint64_t buf;
	uint8_t *p;
	uint32_t len;
	int nonzero = 0;

	assert_int_equal(virtio_rng_create(&x->f->vm, &x->fe), 0);
	start(x, 4, 0, 1);
	buf = vdrv_alloc(&x->d, 64);
	vdrv_offer(&x->d, 0, &(struct vdrv_buf){ buf, 64, true }, 1, false);
	assert_int_equal(vdrv_wait_used(&x->d, 0, NULL, &len, 2000), 0);
	assert_int_equal(len, 64);
	p = vdrv_hva(&x->d, buf);
	for (int i = 0; i < 64; i++)
		nonzero += p[i] != 0;
	assert_true(nonzero > 32);
	/* A readable buffer gets nothing. */
	vdrv_offer(&x->d, 0, &(struct vdrv_buf){ buf, 64, false }, 1, false);
	assert_int_equal(vdrv_wait_used(&x->d, 0, NULL, &len, 2000), 0);
	assert_int_equal(len, 0);
}

/* An ARP request for the NAT's gateway 10.0.2.2 gets an ARP reply. */
static void test_net_nat_arp(void **state)
{
	struct fx *x = *state;
	uint8_t mac[6], frame[12 + 42] = { 0 }, *rx, *f = frame + 12;
	uint64_t tx, rxb;
	uint32_t len;
	int err;

	err = virtio_net_create(&x->f->vm, "nat", &x->fe);
	if (err) {
		x->fe.destroy = NULL;
		skip();
	}
	start(x, 1, 1ULL << 5, 2);
	for (int i = 0; i < 6; i++)
		mac[i] = vdrv_rd(&x->d, x->d.device + i, 1);
	assert_true((mac[0] & 3) == 2);                   /* locally administered unicast */
	assert_int_equal(vdrv_rd(&x->d, x->d.device + 6, 2), 1);   /* link up */
	rxb = vdrv_alloc(&x->d, 2048);
	vdrv_offer(&x->d, 0, &(struct vdrv_buf){ rxb, 2048, true }, 1, false);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08; f[13] = 0x06;                       /* ARP */
	f[14] = 0; f[15] = 1; f[16] = 8; f[17] = 0; f[18] = 6; f[19] = 4;
	f[20] = 0; f[21] = 1;                             /* request */
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, (uint8_t[]){ 10, 0, 2, 15 }, 4);
	memcpy(f + 38, (uint8_t[]){ 10, 0, 2, 2 }, 4);
	tx = vdrv_alloc(&x->d, sizeof(frame));
	memcpy(vdrv_hva(&x->d, tx), frame, sizeof(frame));
	vdrv_offer(&x->d, 1, &(struct vdrv_buf){ tx, sizeof(frame), false }, 1, false);
	assert_int_equal(vdrv_wait_used(&x->d, 1, NULL, NULL, 2000), 0);
	assert_int_equal(vdrv_wait_used(&x->d, 0, NULL, &len, 3000), 0);
	rx = vdrv_hva(&x->d, rxb);
	assert_true(len >= 12 + 42);
	assert_int_equal(rx[10], 1);                      /* num_buffers */
	assert_memory_equal(rx + 12, mac, 6);             /* to us */
	assert_int_equal(rx[12 + 12], 0x08);
	assert_int_equal(rx[12 + 13], 0x06);
	assert_int_equal(rx[12 + 21], 2);                 /* ARP reply */
	assert_memory_equal(rx + 12 + 28, ((uint8_t[]){ 10, 0, 2, 2 }), 4);
}

static void test_console(void **state)
{
	struct fx *x = *state;
	uint64_t rxb, txb;
	uint32_t len;
	char buf[64];
	int fd;
	ssize_t n = 0;

	assert_int_equal(virtio_console_create(&x->f->vm, &x->fe), 0);
	start(x, 3, 0, 2);
	fd = open(virtio_console_path(x->fe.state), O_RDWR | O_NOCTTY);
	assert_true(fd >= 0);
	/* Guest to host. */
	txb = vdrv_alloc(&x->d, 16);
	memcpy(vdrv_hva(&x->d, txb), "hello hvc0", 10);
	vdrv_offer(&x->d, 1, &(struct vdrv_buf){ txb, 10, false }, 1, false);
	assert_int_equal(vdrv_wait_used(&x->d, 1, NULL, NULL, 2000), 0);
	for (int i = 0; i < 100 && n < 10; i++) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 20) == 1 && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
			n += r;
	}
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "hello hvc0", 10);
	/* Host to guest: typed before the driver has buffers, then delivered. */
	assert_int_equal(write(fd, "typed", 5), 5);
	usleep(20000);
	rxb = vdrv_alloc(&x->d, 64);
	vdrv_offer(&x->d, 0, &(struct vdrv_buf){ rxb, 64, true }, 1, false);
	assert_int_equal(vdrv_wait_used(&x->d, 0, NULL, &len, 2000), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(vdrv_hva(&x->d, rxb), "typed", 5);
	close(fd);
}

static int ctl(const char *path, const char *cmd, char *reply, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t n;

	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	n = write(fd, cmd, strlen(cmd));
	n = n > 0 ? read(fd, reply, len - 1) : -1;
	close(fd);
	if (n < 0)
		return -1;
	reply[n] = '\0';
	return 0;
}

static void test_balloon(void **state)
{
	struct fx *x = *state;
	char sock[64], reply[1024];
	struct stat sst;
	uint64_t pfns, page, stats, rep;
	uint32_t pfn;
	uint8_t st[20];

	snprintf(sock, sizeof(sock), "/tmp/vireo-balloon-%d.sock", getpid());
	assert_int_equal(virtio_balloon_create(&x->f->vm, sock, true, &x->fe), 0);
	start(x, 5, (1 << 1) | (1 << 5), 4);
	assert_int_equal(vdrv_rd(&x->d, x->d.common + 0x12, 2), 4);
	assert_int_equal(stat(sock, &sst), 0);
	assert_int_equal(sst.st_mode & 0777, 0600);     /* this user only */
	/* The monitor sets a target: num_pages changes, config interrupt. */
	assert_int_equal(ctl(sock, "balloon 60\n", reply, sizeof(reply)), 0);
	assert_string_equal(reply, "ok\n");
	assert_int_equal(vdrv_rd(&x->d, x->d.device, 4), (4 * MiB) / 4096);
	assert_int_equal(vdrv_rd(&x->d, x->d.isr, 1) & 2, 2);
	assert_int_equal(ctl(sock, "balloon 100\n", reply, sizeof(reply)), 0);
	assert_non_null(strstr(reply, "error"));
	/* 2^44 + 60 MiB wraps to 60 MiB in bytes: refused, the target stays. */
	assert_int_equal(ctl(sock, "balloon 17592186044476\n", reply, sizeof(reply)), 0);
	assert_non_null(strstr(reply, "error"));
	assert_int_equal(vdrv_rd(&x->d, x->d.device, 4), (4 * MiB) / 4096);
	/* Inflate one page holding data: it is given back and reads as zeros. */
	page = vdrv_alloc(&x->d, 4096);
	memset(vdrv_hva(&x->d, page), 0x77, 4096);
	pfns = vdrv_alloc(&x->d, 8);
	pfn = page / 4096;
	memcpy(vdrv_hva(&x->d, pfns), &pfn, 4);
	pfn = 0xfffff;                                  /* not RAM: ignored */
	memcpy((uint8_t *)vdrv_hva(&x->d, pfns) + 4, &pfn, 4);
	vdrv_offer(&x->d, 0, &(struct vdrv_buf){ pfns, 8, false }, 1, false);
	assert_int_equal(vdrv_wait_used(&x->d, 0, NULL, NULL, 2000), 0);
	assert_int_equal(*(uint8_t *)vdrv_hva(&x->d, page), 0);
	vdrv_wr(&x->d, x->d.device + 4, 1, 4);          /* actual = 1 */
	assert_int_equal(vdrv_rd(&x->d, x->d.device + 4, 4), 1);
	vdrv_wr(&x->d, x->d.device, 7, 4);              /* num_pages is the device's */
	assert_int_equal(vdrv_rd(&x->d, x->d.device, 4), (4 * MiB) / 4096);
	/* Free page reporting: 64 KiB reported, zero afterwards. */
	rep = vdrv_alloc(&x->d, 65536);
	memset(vdrv_hva(&x->d, rep), 0x55, 65536);
	vdrv_offer(&x->d, 3, &(struct vdrv_buf){ rep, 65536, true }, 1, false);
	assert_int_equal(vdrv_wait_used(&x->d, 3, NULL, NULL, 2000), 0);
	assert_int_equal(*(uint8_t *)vdrv_hva(&x->d, rep + 65535), 0);
	/* Stats: tag 4 (free memory) = 12345. */
	stats = vdrv_alloc(&x->d, 10);
	memset(st, 0, sizeof(st));
	st[0] = 4;
	st[2] = 12345 & 0xff;
	st[3] = 12345 >> 8;
	memcpy(vdrv_hva(&x->d, stats), st, 10);
	vdrv_offer(&x->d, 2, &(struct vdrv_buf){ stats, 10, false }, 1, false);
	usleep(50000);
	assert_int_equal(ctl(sock, "info\n", reply, sizeof(reply)), 0);
	assert_non_null(strstr(reply, "\"free_memory\": 12345"));
	assert_non_null(strstr(reply, "\"target_mib\": 60"));
	assert_non_null(strstr(reply, "\"returned_mib\": 0"));   /* 17 pages < 1 MiB */
	assert_non_null(strstr(reply, "\"ram_mib\": 64"));
	/* The stats buffer is held, then given back for a refresh (2 s timer). */
	assert_int_equal(vdrv_wait_used(&x->d, 2, NULL, NULL, 100), -1);
	assert_int_equal(vdrv_wait_used(&x->d, 2, NULL, NULL, 3000), 0);
	assert_int_equal(ctl(sock, "bogus\n", reply, sizeof(reply)), 0);
	assert_non_null(strstr(reply, "error"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rng, setup, teardown),
		cmocka_unit_test_setup_teardown(test_net_nat_arp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balloon, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
