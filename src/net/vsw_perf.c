// SPDX-License-Identifier: GPL-2.0-only
/* Port-to-port throughput measurement through a running switch. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/ring.h"
#include "net/vsw.h"
#include "net/vsw_perf.h"
#include "vireo/net.h"

#define PERF_BURST 256

static int perf_open(const char *path, const char *group, const char *name,
		     const char *transport, struct net_port **out)
{
	char spec[4400];

	snprintf(spec, sizeof(spec), "switch=%s,name=%s,transport=%s%s%s", path, name, transport,
		 group ? ",group=" : "", group ? group : "");
	return net_port_open(spec, out);
}

/* B announces itself so the switch learns where its MAC lives. */
static int perf_announce(struct net_port *b)
{
	uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	net_port_mac(b, f + 6);
	f[12] = 0x88;
	f[13] = 0xb5;   /* IEEE local experimental EtherType */
	return net_port_send(b, f, sizeof(f));
}

static void perf_loop(struct net_port *a, struct net_port *b, const uint8_t *frame,
		      size_t size, double seconds, struct vsw_perf_result *r)
{
	uint8_t buf[NET_FRAME_MAX];
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), t = start;

	struct iovec burst[PERF_BURST];

	for (int i = 0; i < PERF_BURST; i++)
		burst[i] = (struct iovec){ (void *)(uintptr_t)frame, size };
	for (unsigned iter = 0; t < end; iter++) {
		int n = net_port_send_batch(a, burst, PERF_BURST);

		if (n < PERF_BURST)
			r->send_full++;
		if (n > 0)
			r->sent += (uint64_t)n;
		while (net_port_recv(b, buf, sizeof(buf)) > 0)
			r->received++;
		if (!(iter & 15))
			t = now_ns();
	}
	r->seconds = (double)(now_ns() - start) / 1e9;
}

int vsw_perf_run(const char *path, const char *group, size_t size, double seconds,
		 const char *transport, struct vsw_perf_result *r)
{
	struct net_port *a, *b;
	uint8_t frame[NET_FRAME_MAX], buf[NET_FRAME_MAX];
	int err;

	if (size < 60 || size > 1514)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	err = perf_open(path, group, "perf-a", transport, &a);
	if (err)
		return err;
	err = perf_open(path, group, "perf-b", transport, &b);
	if (err)
		goto err_a;
	err = perf_announce(b);
	if (err)
		goto err_b;
	memset(frame, 0x5a, sizeof(frame));
	net_port_mac(b, frame);
	net_port_mac(a, frame + 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	/* Let the announcement through before timing; drain it at A. */
	for (int i = 0; i < 1000 && net_port_recv(a, buf, sizeof(buf)) < 0; i++)
		usleep(1000);
	/* The loop polls B anyway: spare it (and the switch) the wake-ups. */
	net_port_set_busy_poll(b, true);
	perf_loop(a, b, frame, size, seconds, r);
	r->fps = (double)r->received / r->seconds;
	r->gbps = r->fps * (double)size * 8 / 1e9;
err_b:
	net_port_close(b);
err_a:
	net_port_close(a);
	return err;
}

#define VETH_BATCH 64

static int packet_open(const char *ifname, bool tx)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(0x88b5) };
	int fd, one = 1, err;

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		return -ENODEV;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    tx ? 0 : htons(0x88b5));
	if (fd < 0)
		return -errno;
	if (tx)
		(void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void veth_loop(int tx, int rx, uint8_t *frame, size_t size, double seconds,
		      struct vsw_perf_result *r)
{
	static uint8_t bufs[VETH_BATCH][2048];
	struct mmsghdr out[VETH_BATCH], in[VETH_BATCH];
	struct iovec oiov = { frame, size }, iiov[VETH_BATCH];
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);

	for (int i = 0; i < VETH_BATCH; i++) {
		out[i].msg_hdr = (struct msghdr){ .msg_iov = &oiov, .msg_iovlen = 1 };
		iiov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		in[i].msg_hdr = (struct msghdr){ .msg_iov = &iiov[i], .msg_iovlen = 1 };
	}
	while (now_ns() < end) {
		int n = sendmmsg(tx, out, VETH_BATCH, 0);

		if (n > 0)
			r->sent += (uint64_t)n;
		else
			r->send_full++;
		while ((n = recvmmsg(rx, in, VETH_BATCH, MSG_DONTWAIT, NULL)) > 0)
			r->received += (uint64_t)n;
	}
	r->seconds = (double)(now_ns() - start) / 1e9;
}

int vsw_perf_veth(const char *ifa, const char *ifb, size_t size, double seconds,
		  struct vsw_perf_result *r)
{
	uint8_t frame[NET_FRAME_MAX];
	int tx, rx;

	if (size < 60 || size > 1514)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	tx = packet_open(ifa, true);
	if (tx < 0)
		return tx;
	rx = packet_open(ifb, false);
	if (rx < 0) {
		close(tx);
		return rx;
	}
	memset(frame, 0x5a, sizeof(frame));
	memcpy(frame, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	veth_loop(tx, rx, frame, size, seconds, r);
	r->fps = (double)r->received / r->seconds;
	r->gbps = r->fps * (double)size * 8 / 1e9;
	close(rx);
	close(tx);
	return 0;
}

static int core_xmit(void *opaque, const void *frame, size_t len)
{
	return shm_ring_put(opaque, frame, len);
}

static void core_loop(struct vsw *sw, struct vsw_port *a, struct shm_end *e,
		      const uint8_t *frame, size_t size, double seconds,
		      struct vsw_perf_result *r)
{
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), t = start;

	while (t < end) {
		for (int i = 0; i < 256; i++)
			vsw_input(sw, a, frame, size, t);
		r->sent += 256;
		e->peer = e->idx;       /* the "consumer" took everything */
		t = now_ns();
	}
	r->seconds = (double)(t - start) / 1e9;
}

int vsw_perf_core(size_t size, double seconds, struct vsw_perf_result *r)
{
	static const uint8_t ma[6] = { 0x02, 0x56, 0x52, 0, 0, 1 }, mb[6] = { 0x02, 0x56, 0x52, 0, 0, 2 };
	uint8_t frame[NET_FRAME_MAX];
	struct vsw_port *a, *b;
	struct shm_ring *ring;
	struct shm_end e;
	struct vsw *sw;
	int err;

	if (size < 60 || size > 1514)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	shm_end_init(&e, ring);
	err = vsw_create("perf", VSW_AGING_DEFAULT_NS, &sw);
	if (err)
		goto err_ring;
	err = vsw_port_attach(sw, "a", ma, NULL, core_xmit, &e, &a);
	if (!err)
		err = vsw_port_attach(sw, "b", mb, NULL, core_xmit, &e, &b);
	if (err)
		goto err_sw;
	memset(frame, 0x5a, sizeof(frame));
	memcpy(frame, ma, 6);
	memcpy(frame + 6, mb, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	vsw_input(sw, b, frame, 60, now_ns());          /* learn b */
	memcpy(frame, mb, 6);
	memcpy(frame + 6, ma, 6);
	e.peer = e.idx;
	core_loop(sw, a, &e, frame, size, seconds, r);
	r->received = b->stats.tx_frames;
	r->fps = (double)r->received / r->seconds;
	r->gbps = r->fps * (double)size * 8 / 1e9;
err_sw:
	vsw_destroy(sw);
err_ring:
	free(ring);
	return err;
}
