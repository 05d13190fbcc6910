// SPDX-License-Identifier: GPL-2.0-only
/*
 * Forwarding core of the virtual switch: learning, aging, flooding, 802.1Q
 * (IEEE 802.1Q-2018 clause 9: tag format; 6.9: ingress/egress rules),
 * promiscuous ports, MAC lock and token-bucket ingress limits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/vsw.h"

#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ1 0x9100      /* pre-802.1ad stacked tag, seen in the wild */

/* What vsw_input learnt about a frame while checking it. */
struct vsw_frame {
	const uint8_t *data;
	size_t len;
	bool tagged;            /* arrived with an 802.1Q tag */
	uint16_t vid;
	uint16_t pcp;           /* priority bits, kept when re-tagging */
};

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void vsw_group_allow(struct vsw_group *g, uint16_t vid)
{
	g->allowed[(vid & 0xfff) / 64] |= 1ULL << (vid % 64);
}

bool vsw_group_allows(const struct vsw_group *g, uint16_t vid)
{
	return g->allowed[(vid & 0xfff) / 64] & (1ULL << (vid % 64));
}

int vsw_group_check(const struct vsw_group *g)
{
	size_t n = strnlen(g->name, sizeof(g->name));

	if (n == 0 || n == sizeof(g->name))
		return -EINVAL;
	if (g->mode == VSW_VLAN_ACCESS)
		return g->vlan >= 1 && g->vlan <= VSW_VID_MAX ? 0 : -EINVAL;
	if (g->mode != VSW_VLAN_TRUNK || g->vlan > VSW_VID_MAX)
		return -EINVAL;
	if (vsw_group_allows(g, 0) || vsw_group_allows(g, 4095))
		return -EINVAL;
	if (g->vlan && !vsw_group_allows(g, g->vlan))
		return -EINVAL;
	return 0;
}

struct vsw_group *vsw_group_find(struct vsw *sw, const char *name)
{
	for (unsigned i = 0; i < sw->ngroups; i++)
		if (!strcmp(sw->groups[i]->name, name))
			return sw->groups[i];
	return NULL;
}

int vsw_group_create(struct vsw *sw, const struct vsw_group *tmpl)
{
	struct vsw_group *g, **v;
	int err = vsw_group_check(tmpl);

	if (err)
		return err;
	if (vsw_group_find(sw, tmpl->name))
		return -EEXIST;
	v = realloc(sw->groups, (sw->ngroups + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	sw->groups = v;
	g = malloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	*g = *tmpl;
	g->refs = 0;
	sw->groups[sw->ngroups++] = g;
	return 0;
}

int vsw_group_modify(struct vsw *sw, const struct vsw_group *tmpl)
{
	struct vsw_group *g = vsw_group_find(sw, tmpl->name);
	unsigned refs;
	int err = vsw_group_check(tmpl);

	if (err)
		return err;
	if (!g)
		return -ENOENT;
	refs = g->refs;
	*g = *tmpl;
	g->refs = refs;
	/* A VLAN change must not leave addresses learnt on the old one. */
	fdb_flush(&sw->fdb);
	return 0;
}

int vsw_group_delete(struct vsw *sw, const char *name)
{
	for (unsigned i = 0; i < sw->ngroups; i++) {
		struct vsw_group *g = sw->groups[i];

		if (strcmp(g->name, name))
			continue;
		if (g->refs || !strcmp(name, "default"))
			return -EBUSY;
		free(g);
		sw->groups[i] = sw->groups[--sw->ngroups];
		return 0;
	}
	return -ENOENT;
}

int vsw_create(const char *name, uint64_t aging_ns, struct vsw **out)
{
	struct vsw_group def = { .name = "default", .mode = VSW_VLAN_ACCESS, .vlan = 1 };
	struct vsw *sw;
	int err;

	sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	snprintf(sw->name, sizeof(sw->name), "%s", name);
	err = fdb_init(&sw->fdb, aging_ns);
	if (err)
		goto err_free;
	err = vsw_group_create(sw, &def);
	if (err)
		goto err_fdb;
	*out = sw;
	return 0;

err_fdb:
	fdb_destroy(&sw->fdb);
err_free:
	free(sw);
	return err;
}

void vsw_destroy(struct vsw *sw)
{
	if (!sw)
		return;
	for (uint32_t i = 0; i < VSW_PORTS_MAX; i++)
		free(sw->ports[i]);
	for (unsigned i = 0; i < sw->ngroups; i++)
		free(sw->groups[i]);
	free(sw->groups);
	fdb_destroy(&sw->fdb);
	free(sw);
}

int vsw_port_attach(struct vsw *sw, const char *name, const uint8_t *mac,
		    const char *group, vsw_xmit_fn xmit, void *opaque,
		    struct vsw_port **out)
{
	struct vsw_group *g = vsw_group_find(sw, group ? group : "default");
	struct vsw_port *p;
	uint32_t id;

	if (!g)
		return -ENOENT;
	for (id = 1; id < VSW_PORTS_MAX && sw->ports[id]; id++)
		;
	if (id == VSW_PORTS_MAX)
		return -ENOSPC;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->id = id;
	if (name && *name)
		snprintf(p->name, sizeof(p->name), "%s", name);
	else
		snprintf(p->name, sizeof(p->name), "port%u", id);
	if (mac) {
		memcpy(p->mac, mac, 6);
		p->has_mac = true;
	}
	p->group = g;
	g->refs++;
	p->xmit = xmit;
	p->opaque = opaque;
	sw->ports[id] = p;
	if (id >= sw->nports)
		sw->nports = id + 1;
	*out = p;
	return 0;
}

void vsw_port_detach(struct vsw *sw, struct vsw_port *p)
{
	fdb_flush_port(&sw->fdb, p->id);
	p->group->refs--;
	sw->ports[p->id] = NULL;
	while (sw->nports > 0 && !sw->ports[sw->nports - 1])
		sw->nports--;
	free(p);
}

int vsw_port_set_group(struct vsw *sw, struct vsw_port *p, const char *group)
{
	struct vsw_group *g = vsw_group_find(sw, group);

	if (!g)
		return -ENOENT;
	p->group->refs--;
	g->refs++;
	p->group = g;
	fdb_flush_port(&sw->fdb, p->id);
	return 0;
}

struct vsw_port *vsw_port_get(struct vsw *sw, uint32_t id)
{
	return id < VSW_PORTS_MAX ? sw->ports[id] : NULL;
}

bool vsw_port_promisc(const struct vsw_port *p)
{
	return p->promisc && p->group->promisc_allowed;
}

static bool port_in_vlan(const struct vsw_port *p, uint16_t vid)
{
	const struct vsw_group *g = p->group;

	if (g->mode == VSW_VLAN_ACCESS)
		return g->vlan == vid;
	return vsw_group_allows(g, vid);
}

static bool port_tags(const struct vsw_port *p, uint16_t vid)
{
	return p->group->mode == VSW_VLAN_TRUNK && p->group->vlan != vid;
}

/*
 * Ingress checks (802.1Q 6.9 ingress rules plus hygiene): classify the
 * frame's VLAN and drop what must not enter.  Returns true to forward.
 */
static bool vsw_classify(struct vsw_port *in, struct vsw_frame *f)
{
	const struct vsw_group *g = in->group;
	const uint8_t *d = f->data;
	uint16_t type;

	if (f->len < VSW_ETH_HLEN) {
		in->stats.rx_runt++;
		return false;
	}
	type = get_be16(d + 12);
	f->tagged = false;
	f->pcp = 0;
	if (type == ETH_P_8021AD || type == ETH_P_QINQ1) {
		in->stats.rx_bad_tag++;
		return false;
	}
	if (type == ETH_P_8021Q) {
		uint16_t tci;

		if (f->len < VSW_ETH_HLEN + VSW_VLAN_HLEN) {
			in->stats.rx_runt++;
			return false;
		}
		tci = get_be16(d + 14);
		type = get_be16(d + 16);
		f->vid = tci & 0xfff;
		f->pcp = tci & 0xf000;
		/* A second tag is the double-tagging VLAN hopping attack. */
		if (f->vid == 4095 || type == ETH_P_8021Q || type == ETH_P_8021AD ||
		    type == ETH_P_QINQ1) {
			in->stats.rx_bad_tag++;
			return false;
		}
		/* VID 0 is a priority tag: the frame is untagged for VLAN purposes. */
		f->tagged = f->vid != 0;
	}
	if (f->len - (get_be16(d + 12) == ETH_P_8021Q ? VSW_VLAN_HLEN : 0) >
	    VSW_MTU + VSW_ETH_HLEN) {
		in->stats.rx_oversize++;
		return false;
	}
	if (f->tagged && g->mode == VSW_VLAN_ACCESS) {
		in->stats.rx_bad_tag++;
		return false;
	}
	if (!f->tagged) {
		f->vid = g->vlan;
		if (g->mode == VSW_VLAN_TRUNK && !g->vlan) {
			in->stats.rx_vlan_drop++;
			return false;
		}
	}
	if (!port_in_vlan(in, f->vid)) {
		in->stats.rx_vlan_drop++;
		return false;
	}
	return true;
}

static bool mac_is_zero(const uint8_t *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

/*
 * Token bucket: refill at rate_mbps, burst of 50 ms (at least 2 frames), so
 * the switch being off the CPU for a few scheduler ticks on a busy host
 * does not cost the port its rate.
 * Tokens are kept in millibits: rate Mbit/s is exactly rate millibits per
 * ns, so no fraction is lost however often frames arrive.
 */
static bool vsw_rate_ok(struct vsw_port *in, size_t len, uint64_t now)
{
	uint64_t rate = in->group->rate_mbps, cap, elapsed, need = len * 8000ULL;

	if (!rate)
		return true;
	cap = MAX(rate * 50000ULL, 2ULL * VSW_FRAME_MAX * 8) * 1000;
	elapsed = now - in->tokens_ns;
	if (!in->tokens_ns || elapsed > 1000000000ULL)
		elapsed = 1000000000ULL;
	in->tokens = MIN(cap, in->tokens + elapsed * rate);
	in->tokens_ns = now;
	if (in->tokens < need) {
		in->stats.rx_rate_drop++;
		return false;
	}
	in->tokens -= need;
	return true;
}

/* Source checks: no multicast/zero sources; MAC lock; rate. */
static bool vsw_admit(struct vsw_port *in, const struct vsw_frame *f, uint64_t now)
{
	const uint8_t *src = f->data + 6;

	if ((src[0] & 1) || mac_is_zero(src)) {
		in->stats.rx_bad_src++;
		return false;
	}
	if (in->group->mac_lock && in->has_mac && memcmp(src, in->mac, 6)) {
		in->stats.rx_forged++;
		return false;
	}
	return vsw_rate_ok(in, f->len, now);
}

/* The frame in both egress forms, built on first use. */
struct vsw_egress {
	const struct vsw_frame *f;
	const uint8_t *untagged, *tagged;
	size_t untagged_len, tagged_len;
	uint8_t ubuf[VSW_FRAME_MAX], tbuf[VSW_FRAME_MAX + VSW_VLAN_HLEN];
};

static void vsw_egress_build(struct vsw_egress *e, bool tag)
{
	const struct vsw_frame *f = e->f;
	bool has_hdr = get_be16(f->data + 12) == ETH_P_8021Q;

	if (tag) {
		uint16_t tci = f->pcp | f->vid;

		memcpy(e->tbuf, f->data, 12);
		e->tbuf[12] = ETH_P_8021Q >> 8;
		e->tbuf[13] = ETH_P_8021Q & 0xff;
		e->tbuf[14] = tci >> 8;
		e->tbuf[15] = tci & 0xff;
		memcpy(e->tbuf + 16, f->data + (has_hdr ? 16 : 12), f->len - (has_hdr ? 16 : 12));
		e->tagged = e->tbuf;
		e->tagged_len = f->len + (has_hdr ? 0 : 4);
		return;
	}
	memcpy(e->ubuf, f->data, 12);
	memcpy(e->ubuf + 12, f->data + 16, f->len - 16);
	e->untagged = e->ubuf;
	e->untagged_len = f->len - 4;
}

static void vsw_output(struct vsw_port *out, struct vsw_egress *e)
{
	bool tag = port_tags(out, e->f->vid);
	const uint8_t *data;
	size_t len;

	if (tag && !e->tagged)
		vsw_egress_build(e, true);
	else if (!tag && !e->untagged)
		vsw_egress_build(e, false);
	data = tag ? e->tagged : e->untagged;
	len = tag ? e->tagged_len : e->untagged_len;
	if (out->xmit(out->opaque, data, len) < 0) {
		out->stats.tx_drop++;
		return;
	}
	out->stats.tx_frames++;
	out->stats.tx_bytes += len;
}

static void vsw_egress_init(struct vsw_egress *e, const struct vsw_frame *f)
{
	bool has_hdr = get_be16(f->data + 12) == ETH_P_8021Q;

	e->f = f;
	e->untagged = e->tagged = NULL;
	/* Reuse the received bytes when their form fits. */
	if (f->tagged) {
		e->tagged = f->data;
		e->tagged_len = f->len;
	} else if (!has_hdr) {
		e->untagged = f->data;
		e->untagged_len = f->len;
	}
}

static void vsw_flood(struct vsw *sw, struct vsw_port *in, struct vsw_egress *e)
{
	sw->flooded++;
	for (uint32_t i = 1; i < sw->nports; i++) {
		struct vsw_port *p = sw->ports[i];

		if (p && p != in && port_in_vlan(p, e->f->vid))
			vsw_output(p, e);
	}
}

/* Known unicast: the owner, plus every promiscuous port of the VLAN. */
static void vsw_unicast(struct vsw *sw, struct vsw_port *in, struct vsw_port *dst,
			struct vsw_egress *e)
{
	if (dst != in)
		vsw_output(dst, e);
	for (uint32_t i = 1; i < sw->nports; i++) {
		struct vsw_port *p = sw->ports[i];

		if (p && p != in && p != dst && vsw_port_promisc(p) &&
		    port_in_vlan(p, e->f->vid))
			vsw_output(p, e);
	}
}

void vsw_input(struct vsw *sw, struct vsw_port *in, const uint8_t *frame,
	       size_t len, uint64_t now)
{
	struct vsw_frame f = { .data = frame, .len = len };
	struct vsw_egress e;
	struct vsw_port *dst = NULL;
	uint32_t id;

	if (len > VSW_FRAME_MAX) {
		in->stats.rx_oversize++;
		return;
	}
	if (!vsw_classify(in, &f) || !vsw_admit(in, &f, now))
		return;
	in->stats.rx_frames++;
	in->stats.rx_bytes += len;
	fdb_learn(&sw->fdb, fdb_key(frame + 6, f.vid), in->id, now);
	vsw_egress_init(&e, &f);
	if (!(frame[0] & 1)) {
		id = fdb_lookup(&sw->fdb, fdb_key(frame, f.vid), now);
		dst = id != FDB_NONE ? vsw_port_get(sw, id) : NULL;
	}
	if (dst && port_in_vlan(dst, f.vid))
		vsw_unicast(sw, in, dst, &e);
	else
		vsw_flood(sw, in, &e);
}

void vsw_tick(struct vsw *sw, uint64_t now)
{
	fdb_age(&sw->fdb, now);
}

void vsw_stats_add(struct vsw_port_stats *to, const struct vsw_port_stats *from)
{
	to->rx_frames += from->rx_frames;
	to->rx_bytes += from->rx_bytes;
	to->tx_frames += from->tx_frames;
	to->tx_bytes += from->tx_bytes;
	to->rx_runt += from->rx_runt;
	to->rx_oversize += from->rx_oversize;
	to->rx_bad_tag += from->rx_bad_tag;
	to->rx_vlan_drop += from->rx_vlan_drop;
	to->rx_bad_src += from->rx_bad_src;
	to->rx_forged += from->rx_forged;
	to->rx_rate_drop += from->rx_rate_drop;
	to->tx_drop += from->tx_drop;
}
