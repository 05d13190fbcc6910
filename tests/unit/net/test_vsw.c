// SPDX-License-Identifier: GPL-2.0-only
/*
 * The switch core with synthetic frames: learning, aging, flooding, VLAN
 * isolation, trunk tagging, promiscuous ports, MAC lock, rate limits and
 * bad input.
 */
#include "vsw_test.h"

#define SEC 1000000000ULL
#define NPORTS 6

struct bench {
	struct vsw *sw;
	struct vsw_port *p[NPORTS];
	struct sink s[NPORTS];
	uint8_t mac[NPORTS][6];
};

static int setup(void **state)
{
	struct bench *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	assert_int_equal(vsw_create("t", 300 * SEC, &b->sw), 0);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct bench *b = *state;

	vsw_destroy(b->sw);
	free(b);
	return 0;
}

static void group(struct bench *b, const char *spec_name, enum vsw_vlan_mode mode, uint16_t vlan,
		  const uint16_t *allowed, uint32_t rate, bool promisc, bool lock)
{
	struct vsw_group g = { .mode = mode, .vlan = vlan, .rate_mbps = rate,
			       .promisc_allowed = promisc, .mac_lock = lock };

	strcpy(g.name, spec_name);
	for (; allowed && *allowed; allowed++)
		vsw_group_allow(&g, *allowed);
	assert_int_equal(vsw_group_create(b->sw, &g), 0);
}

/* Attach port i in `grp` with MAC 02:56:52:00:00:(i+1). */
static void attach(struct bench *b, int i, const char *grp)
{
	mac_of(b->mac[i], (uint8_t)(i + 1));
	assert_int_equal(vsw_port_attach(b->sw, "p", b->mac[i], grp, sink_xmit, &b->s[i],
					 &b->p[i]), 0);
}

static void clear(struct bench *b)
{
	for (int i = 0; i < NPORTS; i++)
		b->s[i].count = 0;
}

/* Send from port i to MAC dst (NULL = broadcast), untagged unless vid >= 0. */
static void send_from(struct bench *b, int i, const uint8_t *dst, int vid, uint64_t now)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[VSW_FRAME_MAX];
	size_t len = frame_build(f, dst ? dst : bcast, b->mac[i], vid, 100);

	vsw_input(b->sw, b->p[i], f, len, now);
}

static void test_learning(void **state)
{
	struct bench *b = *state;

	for (int i = 0; i < 3; i++)
		attach(b, i, NULL);
	/* Unknown unicast floods to everyone but the sender. */
	send_from(b, 0, b->mac[1], -1, 1);
	assert_int_equal(b->s[0].count, 0);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(b->s[2].count, 1);
	clear(b);
	/* The reply goes only to the learnt port. */
	send_from(b, 1, b->mac[0], -1, 2);
	assert_int_equal(b->s[0].count, 1);
	assert_int_equal(b->s[1].count, 0);
	assert_int_equal(b->s[2].count, 0);
	clear(b);
	send_from(b, 0, b->mac[1], -1, 3);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(b->s[2].count, 0);
	assert_int_equal(b->sw->fdb.count, 2);
	assert_int_equal(b->p[0]->stats.rx_frames, 2);
	assert_int_equal(b->p[1]->stats.tx_frames, 2);
	assert_int_equal(b->p[1]->stats.tx_bytes, 200);
	/* A frame to the sender's own port is not reflected. */
	clear(b);
	send_from(b, 0, b->mac[0], -1, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(b->s[i].count, 0);
}

static void test_aging(void **state)
{
	struct bench *b = *state;

	for (int i = 0; i < 3; i++)
		attach(b, i, NULL);
	send_from(b, 1, NULL, -1, 1 * SEC);
	clear(b);
	send_from(b, 0, b->mac[1], -1, 2 * SEC);
	assert_int_equal(b->s[2].count, 0);     /* known */
	clear(b);
	vsw_tick(b->sw, 302 * SEC);                 /* 301 s since port 1 spoke */
	assert_int_equal(b->sw->fdb.count, 1);      /* only port 0's (300 s old) */
	send_from(b, 0, b->mac[1], -1, 302 * SEC);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(b->s[2].count, 1);         /* flooded again */
}

static void test_flood_broadcast_multicast(void **state)
{
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct bench *b = *state;

	for (int i = 0; i < 4; i++)
		attach(b, i, NULL);
	send_from(b, 2, NULL, -1, 1);
	send_from(b, 2, mcast, -1, 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(b->s[i].count, i == 2 ? 0 : 2);
	assert_int_equal(b->sw->flooded, 2);
	/* A full queue is counted, and does not stop the others. */
	clear(b);
	b->s[0].fail = 1;
	send_from(b, 2, NULL, -1, 3);
	assert_int_equal(b->p[0]->stats.tx_drop, 1);
	assert_int_equal(b->s[1].count, 1);
}

static void test_vlan_isolation(void **state)
{
	struct bench *b = *state;

	group(b, "v10", VSW_VLAN_ACCESS, 10, NULL, 0, false, false);
	group(b, "v20", VSW_VLAN_ACCESS, 20, NULL, 0, false, false);
	attach(b, 0, "v10");
	attach(b, 1, "v10");
	attach(b, 2, "v20");
	attach(b, 3, "v20");
	send_from(b, 0, NULL, -1, 1);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(b->s[2].count, 0);
	assert_int_equal(b->s[3].count, 0);
	/* Port 2 is known (on VLAN 20); port 0 sending to it must not reach it. */
	send_from(b, 2, NULL, -1, 2);
	clear(b);
	send_from(b, 0, b->mac[2], -1, 3);
	assert_int_equal(b->s[2].count, 0);
	assert_int_equal(b->s[3].count, 0);
	assert_int_equal(b->s[1].count, 1);     /* unknown on VLAN 10: flooded there */
	/* Tagged frames on an access port are refused (no VLAN hopping). */
	clear(b);
	send_from(b, 0, NULL, 20, 4);
	assert_int_equal(b->p[0]->stats.rx_bad_tag, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(b->s[i].count, 0);
	/* A priority tag (VID 0) is fine. */
	send_from(b, 0, NULL, 0, 5);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(frame_vid(b->s[1].frame[0]), -1);
	assert_int_equal(b->s[1].len[0], 96);
}

static void test_trunk_tagging(void **state)
{
	static const uint16_t allowed[] = { 10, 20, 0 };
	struct bench *b = *state;

	group(b, "v10", VSW_VLAN_ACCESS, 10, NULL, 0, false, false);
	group(b, "v20", VSW_VLAN_ACCESS, 20, NULL, 0, false, false);
	group(b, "v30", VSW_VLAN_ACCESS, 30, NULL, 0, false, false);
	group(b, "trunk", VSW_VLAN_TRUNK, 10, allowed, 0, false, false);
	attach(b, 0, "v10");
	attach(b, 1, "v20");
	attach(b, 2, "trunk");
	attach(b, 3, "v30");
	/* VLAN 20 leaves the trunk tagged... */
	send_from(b, 1, NULL, -1, 1);
	assert_int_equal(b->s[2].count, 1);
	assert_int_equal(frame_vid(b->s[2].frame[0]), 20);
	assert_int_equal(b->s[2].len[0], 104);
	/* ...the native VLAN untagged. */
	send_from(b, 0, NULL, -1, 2);
	assert_int_equal(b->s[2].count, 2);
	assert_int_equal(frame_vid(b->s[2].frame[1]), -1);
	/* VLAN 30 is not allowed on the trunk. */
	send_from(b, 3, NULL, -1, 3);
	assert_int_equal(b->s[2].count, 2);
	/* Tagged 20 in from the trunk reaches VLAN 20 untagged, nobody else. */
	clear(b);
	send_from(b, 2, NULL, 20, 4);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(frame_vid(b->s[1].frame[0]), -1);
	assert_int_equal(b->s[1].len[0], 96);
	assert_int_equal(b->s[0].count, 0);
	assert_int_equal(b->s[3].count, 0);
	/* Untagged from the trunk is the native VLAN 10. */
	send_from(b, 2, NULL, -1, 5);
	assert_int_equal(b->s[0].count, 1);
	assert_int_equal(b->s[1].count, 1);
	/* Tagged 30 from the trunk: not allowed, dropped and counted. */
	send_from(b, 2, NULL, 30, 6);
	assert_int_equal(b->p[2]->stats.rx_vlan_drop, 1);
	assert_int_equal(b->s[3].count, 0);
	/* Learning is per VLAN: port 2's MAC on VLAN 20 and 10. */
	assert_int_equal(fdb_lookup(&b->sw->fdb, fdb_key(b->mac[2], 20), 7), b->p[2]->id);
	assert_int_equal(fdb_lookup(&b->sw->fdb, fdb_key(b->mac[2], 10), 7), b->p[2]->id);
}

static void test_trunk_no_native_and_pcp(void **state)
{
	static const uint16_t allowed[] = { 10, 20, 0 };
	struct bench *b = *state;
	uint8_t f[VSW_FRAME_MAX];
	size_t len;

	group(b, "t1", VSW_VLAN_TRUNK, 0, allowed, 0, false, false);
	group(b, "v10", VSW_VLAN_ACCESS, 10, NULL, 0, false, false);
	attach(b, 0, "t1");
	attach(b, 1, "t1");
	attach(b, 2, "v10");
	send_from(b, 0, NULL, -1, 1);           /* untagged, no native VLAN */
	assert_int_equal(b->p[0]->stats.rx_vlan_drop, 1);
	/* Priority bits survive trunk to trunk. */
	len = frame_build(f, b->mac[1], b->mac[0], 10, 100);
	f[14] |= 0xa0;                          /* PCP 5 */
	vsw_input(b->sw, b->p[0], f, len, 2);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(b->s[1].frame[0][14] & 0xe0, 0xa0);
	assert_int_equal(frame_vid(b->s[1].frame[0]), 10);
	assert_int_equal(b->s[2].count, 1);
	assert_int_equal(frame_vid(b->s[2].frame[0]), -1);
	/* Access to a trunk with no native VLAN: always tagged. */
	clear(b);
	send_from(b, 2, NULL, -1, 3);
	assert_int_equal(frame_vid(b->s[0].frame[0]), 10);
}

static void test_promiscuous(void **state)
{
	struct bench *b = *state;

	group(b, "mon", VSW_VLAN_ACCESS, 1, NULL, 0, true, false);
	group(b, "mon20", VSW_VLAN_ACCESS, 20, NULL, 0, true, false);
	attach(b, 0, NULL);
	attach(b, 1, NULL);
	attach(b, 2, "mon");
	attach(b, 3, NULL);             /* asks, but "default" does not allow it */
	attach(b, 4, "mon20");          /* allowed, but another VLAN */
	b->p[2]->promisc = true;
	b->p[3]->promisc = true;
	b->p[4]->promisc = true;
	send_from(b, 0, NULL, -1, 1);
	send_from(b, 1, NULL, -1, 2);
	clear(b);
	send_from(b, 0, b->mac[1], -1, 3);
	send_from(b, 1, b->mac[0], -1, 4);
	assert_int_equal(b->s[0].count, 1);
	assert_int_equal(b->s[1].count, 1);
	assert_int_equal(b->s[2].count, 2);     /* sees both directions */
	assert_int_equal(b->s[3].count, 0);
	assert_int_equal(b->s[4].count, 0);
	assert_true(vsw_port_promisc(b->p[2]));
	assert_false(vsw_port_promisc(b->p[3]));
	/* Turning the group's permission off takes effect at once. */
	b->p[2]->group->promisc_allowed = false;
	send_from(b, 0, b->mac[1], -1, 5);
	assert_int_equal(b->s[2].count, 2);
}

static void test_mac_lock(void **state)
{
	struct bench *b = *state;
	uint8_t forged[6], f[VSW_FRAME_MAX];
	size_t len;

	group(b, "locked", VSW_VLAN_ACCESS, 1, NULL, 0, false, true);
	attach(b, 0, "locked");
	attach(b, 1, NULL);
	mac_of(forged, 0x99);
	len = frame_build(f, b->mac[1], forged, -1, 100);
	vsw_input(b->sw, b->p[0], f, len, 1);
	assert_int_equal(b->p[0]->stats.rx_forged, 1);
	assert_int_equal(b->s[1].count, 0);
	assert_int_equal(fdb_lookup(&b->sw->fdb, fdb_key(forged, 1), 2), FDB_NONE);
	send_from(b, 0, b->mac[1], -1, 3);
	assert_int_equal(b->s[1].count, 1);
	/* The unlocked port may send any source. */
	len = frame_build(f, b->mac[0], forged, -1, 100);
	vsw_input(b->sw, b->p[1], f, len, 4);
	assert_int_equal(b->s[0].count, 1);
}

/* Offer frames at `offer_mbps` for 2 simulated seconds; return accepted Mbit/s. */
static double rate_run(struct bench *b, uint32_t limit, uint32_t offer_mbps, size_t size)
{
	struct vsw_group g = *vsw_group_find(b->sw, "default");
	uint8_t f[VSW_FRAME_MAX];
	uint64_t gap = (uint64_t)size * 8 * 1000 / offer_mbps, t, end = 2 * SEC;
	uint64_t before;

	g.rate_mbps = limit;
	assert_int_equal(vsw_group_modify(b->sw, &g), 0);
	frame_build(f, b->mac[1], b->mac[0], -1, size);
	before = b->p[0]->stats.rx_bytes;
	/* Each run starts with a full bucket: 50 ms of burst, 2.5% of 2 s. */
	for (t = 10 * SEC; t < 10 * SEC + end; t += gap)
		vsw_input(b->sw, b->p[0], f, size, t);
	return (double)(b->p[0]->stats.rx_bytes - before) * 8 / 2 / 1e6;
}

static void test_rate_limit(void **state)
{
	static const uint32_t limits[] = { 10, 100, 1000 };
	struct bench *b = *state;

	attach(b, 0, NULL);
	attach(b, 1, NULL);
	for (size_t i = 0; i < 3; i++) {
		for (size_t sz = 64; sz <= 1514; sz += 1450) {
			double got = rate_run(b, limits[i], limits[i] * 5, sz);

			b->p[0]->tokens_ns = 0;
			b->p[0]->tokens = 0;
			print_message("limit %u Mbit/s, %zu B frames: %.1f Mbit/s\n", limits[i], sz, got);
			assert_true(got > limits[i] * 0.9 && got < limits[i] * 1.1);
		}
	}
	assert_true(b->p[0]->stats.rx_rate_drop > 0);
	/* Under the limit, nothing is dropped. */
	{
		uint64_t drops = b->p[0]->stats.rx_rate_drop;
		double got = rate_run(b, 100, 50, 1000);

		assert_true(got > 45 && got < 55);
		assert_int_equal(b->p[0]->stats.rx_rate_drop, drops);
	}
}

static void test_bad_input(void **state)
{
	static const uint16_t allowed[] = { 10, 0 };
	struct bench *b = *state;
	uint8_t f[2048];
	struct vsw_port_stats *st;
	size_t len;

	group(b, "trunk", VSW_VLAN_TRUNK, 0, allowed, 0, false, false);
	attach(b, 0, NULL);
	attach(b, 1, NULL);
	attach(b, 2, "trunk");
	st = &b->p[0]->stats;
	vsw_input(b->sw, b->p[0], f, 0, 1);
	vsw_input(b->sw, b->p[0], f, 13, 1);
	assert_int_equal(st->rx_runt, 2);
	len = frame_build(f, b->mac[1], b->mac[0], 10, 17);    /* tag cut short */
	vsw_input(b->sw, b->p[2], f, len, 1);
	assert_int_equal(b->p[2]->stats.rx_runt, 1);
	len = frame_build(f, b->mac[1], b->mac[0], -1, 1515);  /* 1501 B payload */
	vsw_input(b->sw, b->p[0], f, len, 1);
	len = frame_build(f, b->mac[1], b->mac[0], -1, 2000);
	vsw_input(b->sw, b->p[0], f, len, 1);
	assert_int_equal(st->rx_oversize, 2);
	len = frame_build(f, b->mac[1], b->mac[0], 10, 1518);  /* tagged, 1500 payload: fine */
	vsw_input(b->sw, b->p[2], f, len, 1);
	assert_int_equal(b->p[2]->stats.rx_oversize, 0);
	assert_int_equal(b->p[2]->stats.rx_frames, 1);
	len = frame_build(f, b->mac[1], b->mac[0], 4095, 100);
	vsw_input(b->sw, b->p[2], f, len, 1);
	len = frame_build(f, b->mac[1], b->mac[0], 10, 100);   /* double tag */
	f[16] = 0x81;
	f[17] = 0x00;
	vsw_input(b->sw, b->p[2], f, len, 1);
	f[12] = 0x88;                                          /* 802.1ad outer */
	f[13] = 0xa8;
	vsw_input(b->sw, b->p[2], f, len, 1);
	assert_int_equal(b->p[2]->stats.rx_bad_tag, 3);
	len = frame_build(f, b->mac[1], b->mac[0], -1, 100);
	f[6] = 0x03;                                           /* multicast source */
	vsw_input(b->sw, b->p[0], f, len, 1);
	memset(f + 6, 0, 6);                                   /* zero source */
	vsw_input(b->sw, b->p[0], f, len, 1);
	assert_int_equal(st->rx_bad_src, 2);
	assert_int_equal(st->rx_frames, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(b->s[i].count, 0);
	assert_int_equal(b->s[1].count + b->s[0].count, 0);
	assert_int_equal(b->sw->fdb.count, 1);                 /* only port 2's good frame */
}

static void test_detach_and_groups(void **state)
{
	struct bench *b = *state;
	struct vsw_group g = { .name = "g", .mode = VSW_VLAN_ACCESS, .vlan = 5 };

	attach(b, 0, NULL);
	attach(b, 1, NULL);
	attach(b, 2, NULL);
	send_from(b, 1, NULL, -1, 1);
	assert_int_equal(b->sw->fdb.count, 1);
	vsw_port_detach(b->sw, b->p[1]);
	assert_int_equal(b->sw->fdb.count, 0);
	clear(b);
	send_from(b, 0, b->mac[1], -1, 2);
	assert_int_equal(b->s[2].count, 1);     /* unknown again: flooded */
	/* Groups: duplicate, bad VLAN, in use, modify, delete. */
	assert_int_equal(vsw_group_create(b->sw, &g), 0);
	assert_int_equal(vsw_group_create(b->sw, &g), -EEXIST);
	g.vlan = 4095;
	assert_int_equal(vsw_group_modify(b->sw, &g), -EINVAL);
	g.vlan = 0;
	assert_int_equal(vsw_group_create(b->sw, &(struct vsw_group){ .name = "z", .vlan = 0 }),
			 -EINVAL);
	assert_int_equal(vsw_port_set_group(b->sw, b->p[2], "g"), 0);
	assert_int_equal(vsw_port_set_group(b->sw, b->p[2], "nope"), -ENOENT);
	assert_int_equal(vsw_group_delete(b->sw, "g"), -EBUSY);
	assert_int_equal(vsw_group_delete(b->sw, "default"), -EBUSY);
	clear(b);
	send_from(b, 0, NULL, -1, 3);
	assert_int_equal(b->s[2].count, 0);     /* now on VLAN 5 */
	assert_int_equal(vsw_port_set_group(b->sw, b->p[2], "default"), 0);
	assert_int_equal(vsw_group_delete(b->sw, "g"), 0);
	assert_int_equal(vsw_group_delete(b->sw, "g"), -ENOENT);
}

static void test_many_ports(void **state)
{
	struct bench *b = *state;
	struct vsw_port *p;
	struct sink s;
	unsigned n = 0;

	while (vsw_port_attach(b->sw, "x", NULL, NULL, sink_xmit, &s, &p) == 0)
		n++;
	assert_int_equal(n, VSW_PORTS_MAX - 1);
	assert_int_equal(vsw_port_attach(b->sw, "x", NULL, NULL, sink_xmit, &s, &p), -ENOSPC);
	vsw_port_detach(b->sw, vsw_port_get(b->sw, 7));
	assert_int_equal(vsw_port_attach(b->sw, "x", NULL, NULL, sink_xmit, &s, &p), 0);
	assert_int_equal(p->id, 7);
}


/*
 * Random frames (fixed seed) from every kind of port.  Whatever goes in,
 * what comes out obeys the VLAN rules: access ports get untagged frames of
 * their VLAN, trunks get allowed VIDs only, nothing returns to its sender.
 * Under ASan this is also a crash test of the parser.
 */
struct fuzz_port {
	struct vsw_port *p;
	int idx;
	int access_vlan;        /* -1: trunk */
	int native;             /* trunk: 0 = none */
	struct fuzz_ctx *ctx;
};

struct fuzz_ctx {
	struct fuzz_port ports[5];
	uint64_t delivered, violations;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fuzz_xmit(void *opaque, const void *frame, size_t len)
{
	struct fuzz_port *fp = opaque;
	const uint8_t *f = frame;
	bool tagged = len >= 18 && f[12] == 0x81 && f[13] == 0x00;
	int vid = tagged ? ((f[14] & 0x0f) << 8 | f[15]) : -1, egress_vlan;
	size_t h = tagged ? 18 : 14;

	fp->ctx->delivered++;
	if (len < 14 || len > VSW_FRAME_MAX)
		goto bad;
	if (fp->access_vlan >= 0) {
		if (tagged)
			goto bad;
		egress_vlan = fp->access_vlan;
	} else {
		if (!tagged && !fp->native)
			goto bad;
		if (tagged && (vid != 10 && vid != 20))
			goto bad;
		if (tagged && vid == fp->native)
			goto bad;       /* the native VLAN leaves untagged */
		egress_vlan = tagged ? vid : fp->native;
	}
	/* Marker written by the sender: ingress port index and VLAN. */
	if (len >= h + 4 && f[h] == 0xee) {
		if (f[h + 1] == fp->idx || f[h + 2] != egress_vlan)
			goto bad;
	}
	return 0;
bad:
	fp->ctx->violations++;
	return 0;
}

static void test_random_frames(void **state)
{
	static const uint16_t allowed[] = { 10, 20, 0 };
	struct bench *b = *state;
	struct fuzz_ctx *ctx = calloc(1, sizeof(*ctx));
	static const int access[5] = { 10, 20, -1, -1, 10 }, native[5] = { 0, 0, 10, 0, 0 };
	static const char *const groups[5] = { "v10", "v20", "tn", "t0", "lock" };
	uint8_t f[2048], macs[8][6];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	group(b, "v10", VSW_VLAN_ACCESS, 10, NULL, 0, true, false);
	group(b, "v20", VSW_VLAN_ACCESS, 20, NULL, 0, false, false);
	group(b, "tn", VSW_VLAN_TRUNK, 10, allowed, 0, false, false);
	group(b, "t0", VSW_VLAN_TRUNK, 0, allowed, 0, true, false);
	group(b, "lock", VSW_VLAN_ACCESS, 10, NULL, 50, false, true);
	for (int i = 0; i < 8; i++)
		mac_of(macs[i], (uint8_t)(i + 1));
	for (int i = 0; i < 5; i++) {
		struct fuzz_port *fp = &ctx->ports[i];

		*fp = (struct fuzz_port){ .idx = i, .access_vlan = access[i], .native = native[i],
					  .ctx = ctx };
		assert_int_equal(vsw_port_attach(b->sw, "f", macs[i], groups[i], fuzz_xmit, fp,
						 &fp->p), 0);
		fp->p->promisc = true;
	}
	for (uint64_t n = 0; n < 300000; n++) {
		uint64_t r = xorshift(&seed);
		struct fuzz_port *in = &ctx->ports[r % 5];
		size_t len = (r >> 8) % 1600, h;
		int vid = -1, ingress_vlan;

		for (size_t i = 0; i < len; i += 8) {
			uint64_t x = xorshift(&seed);

			memcpy(f + i, &x, MIN(8, len - i));
		}
		/* Mostly plausible headers, so the interesting paths run. */
		if (len >= 12 && (r >> 20) % 4) {
			memcpy(f, (r >> 24) % 3 ? macs[(r >> 26) % 8] : (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 6);
			memcpy(f + 6, macs[(r >> 30) % 8], 6);
		}
		if (len >= 18 && (r >> 33) % 2) {
			static const int vids[] = { 0, 10, 20, 30, 4095 };

			vid = vids[(r >> 34) % 5];
			f[12] = 0x81;
			f[13] = 0x00;
			f[14] = (uint8_t)(vid >> 8);
			f[15] = (uint8_t)vid;
		}
		h = vid >= 0 ? 18 : 14;
		ingress_vlan = in->access_vlan >= 0 ? in->access_vlan : vid > 0 ? vid : in->native;
		if (len >= h + 4) {
			f[h] = 0xee;
			f[h + 1] = (uint8_t)in->idx;
			f[h + 2] = (uint8_t)ingress_vlan;
		}
		vsw_input(b->sw, in->p, f, len, n * 1000);
	}
	print_message("%llu frames delivered, %llu violations\n",
		      (unsigned long long)ctx->delivered, (unsigned long long)ctx->violations);
	assert_true(ctx->delivered > 100000);
	assert_int_equal(ctx->violations, 0);
	assert_true(ctx->ports[4].p->stats.rx_forged > 0);
	assert_true(ctx->ports[0].p->stats.rx_bad_tag > 0);
	assert_true(ctx->ports[2].p->stats.rx_vlan_drop > 0);
	free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_broadcast_multicast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlan_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trunk_tagging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trunk_no_native_and_pcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promiscuous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_and_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_frames, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
