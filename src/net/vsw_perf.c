// SPDX-License-Identifier: GPL-2.0-only
/* Port-to-port throughput measurement through a running switch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/vsw_perf.h"
#include "vireo/net.h"

#define PERF_BURST 256

static int perf_open(const char *path, const char *name, const char *transport,
		     struct net_port **out)
{
	char spec[4300];

	snprintf(spec, sizeof(spec), "switch=%s,name=%s,transport=%s", path, name, transport);
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

	for (unsigned iter = 0; t < end; iter++) {
		for (int i = 0; i < PERF_BURST; i++) {
			if (net_port_send(a, frame, size)) {
				r->send_full++;
				break;
			}
			r->sent++;
		}
		while (net_port_recv(b, buf, sizeof(buf)) > 0)
			r->received++;
		if (!(iter & 15))
			t = now_ns();
	}
	r->seconds = (double)(now_ns() - start) / 1e9;
}

int vsw_perf_run(const char *path, size_t size, double seconds, const char *transport,
		 struct vsw_perf_result *r)
{
	struct net_port *a, *b;
	uint8_t frame[NET_FRAME_MAX], buf[NET_FRAME_MAX];
	int err;

	if (size < 60 || size > 1514)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	err = perf_open(path, "perf-a", transport, &a);
	if (err)
		return err;
	err = perf_open(path, "perf-b", transport, &b);
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
	perf_loop(a, b, frame, size, seconds, r);
	r->fps = (double)r->received / r->seconds;
	r->gbps = r->fps * (double)size * 8 / 1e9;
err_b:
	net_port_close(b);
err_a:
	net_port_close(a);
	return err;
}
