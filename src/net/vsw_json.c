// SPDX-License-Identifier: GPL-2.0-only
/* Port-group settings: command-line specs and JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/vsw_json.h"

static int parse_vid(const char *s, uint16_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > VSW_VID_MAX)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* "10", "10-20": allow those VIDs. */
static int trunk_add(struct vsw_group *g, const char *item)
{
	char lo_s[16], hi_s[16];
	uint16_t lo, hi;

	if (sscanf(item, "%15[0-9]-%15[0-9]", lo_s, hi_s) == 2) {
		if (parse_vid(lo_s, &lo) || parse_vid(hi_s, &hi) || lo > hi)
			return -EINVAL;
	} else if (parse_vid(item, &lo) == 0) {
		hi = lo;
	} else {
		return -EINVAL;
	}
	for (unsigned v = lo; v <= hi; v++)
		vsw_group_allow(g, (uint16_t)v);
	return 0;
}

static int trunk_parse(struct vsw_group *g, char *list)
{
	char *save = NULL;

	g->mode = VSW_VLAN_TRUNK;
	memset(g->allowed, 0, sizeof(g->allowed));
	for (char *t = strtok_r(list, ":", &save); t; t = strtok_r(NULL, ":", &save))
		if (trunk_add(g, t))
			return -EINVAL;
	return 0;
}

static int spec_option(struct vsw_group *g, char *opt)
{
	char *val = strchr(opt, '=');
	unsigned long rate;
	char *end;

	if (val)
		*val++ = '\0';
	if (!strcmp(opt, "promisc") && !val)
		g->promisc_allowed = true;
	else if (!strcmp(opt, "mac-lock") && !val)
		g->mac_lock = true;
	else if (!strcmp(opt, "vlan") && val)
		return g->mode = VSW_VLAN_ACCESS, parse_vid(val, &g->vlan);
	else if (!strcmp(opt, "native") && val)
		return parse_vid(val, &g->vlan);
	else if (!strcmp(opt, "trunk") && val)
		return trunk_parse(g, val);
	else if (!strcmp(opt, "rate") && val) {
		errno = 0;
		rate = strtoul(val, &end, 10);
		if (errno || end == val || *end || rate > 1000000)
			return -EINVAL;
		g->rate_mbps = (uint32_t)rate;
	} else
		return -EINVAL;
	return 0;
}

int vsw_group_parse(const char *spec, struct vsw_group *g, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	bool native_set = false;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	memset(g, 0, sizeof(*g));
	g->mode = VSW_VLAN_ACCESS;
	g->vlan = 1;
	tok = strtok_r(copy, ",", &save);
	if (!tok || strlen(tok) >= sizeof(g->name) || strchr(tok, '=')) {
		snprintf(err, errlen, "group spec '%s' must start with a name", spec);
		r = -EINVAL;
		goto out;
	}
	strcpy(g->name, tok);
	while (!r && (tok = strtok_r(NULL, ",", &save))) {
		char opt[64];

		snprintf(opt, sizeof(opt), "%s", tok);
		native_set |= !strncmp(tok, "native=", 7);
		r = spec_option(g, tok);
		if (r)
			snprintf(err, errlen, "group '%s': bad option '%s' (vlan=VID and "
				 "native=VID with VID 1-4094, trunk=VID[:LO-HI...], rate=MBPS, "
				 "promisc, mac-lock)", g->name, opt);
	}
	if (!r && g->mode == VSW_VLAN_TRUNK && !native_set)
		g->vlan = 0;
	if (!r && vsw_group_check(g)) {
		snprintf(err, errlen, "group '%s': VLAN settings are inconsistent "
			 "(VIDs 1-4094; a trunk's native VLAN must be allowed)", g->name);
		r = -EINVAL;
	}
out:
	free(copy);
	return r;
}

static int trunk_from_json(struct vsw_group *g, const json_t *arr)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr))
		return -EINVAL;
	g->mode = VSW_VLAN_TRUNK;
	memset(g->allowed, 0, sizeof(g->allowed));
	json_array_foreach(arr, i, v) {
		if (json_is_integer(v)) {
			json_int_t n = json_integer_value(v);

			if (n < 1 || n > VSW_VID_MAX)
				return -EINVAL;
			vsw_group_allow(g, (uint16_t)n);
		} else if (!json_is_string(v) || trunk_add(g, json_string_value(v))) {
			return -EINVAL;
		}
	}
	return 0;
}

static int vid_from_json(const json_t *v, uint16_t *out, bool zero_ok)
{
	json_int_t n;

	if (!json_is_integer(v))
		return -EINVAL;
	n = json_integer_value(v);
	if (n < (zero_ok ? 0 : 1) || n > VSW_VID_MAX)
		return -EINVAL;
	*out = (uint16_t)n;
	return 0;
}

int vsw_group_from_json(const json_t *o, struct vsw_group *g, char *err, size_t errlen)
{
	const json_t *v;
	int r = 0;

	if (!json_is_object(o))
		goto bad;
	if ((v = json_object_get(o, "name"))) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(g->name))
			goto bad;
		strcpy(g->name, json_string_value(v));
	}
	if ((v = json_object_get(o, "trunk"))) {
		r |= trunk_from_json(g, v);
		if (!json_object_get(o, "native"))
			g->vlan = 0;
	}
	if ((v = json_object_get(o, "vlan"))) {
		g->mode = VSW_VLAN_ACCESS;
		r |= vid_from_json(v, &g->vlan, false);
	}
	if ((v = json_object_get(o, "native")))
		r |= vid_from_json(v, &g->vlan, true);
	if ((v = json_object_get(o, "rate_mbps"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000)
			goto bad;
		g->rate_mbps = (uint32_t)json_integer_value(v);
	}
	if ((v = json_object_get(o, "promiscuous")))
		g->promisc_allowed = json_is_true(v);
	if ((v = json_object_get(o, "mac_lock")))
		g->mac_lock = json_is_true(v);
	if (!r && !vsw_group_check(g))
		return 0;
bad:
	snprintf(err, errlen, "bad port-group settings (name up to %d characters; "
		 "VIDs 1-4094; a trunk's native VLAN must be allowed; rate_mbps >= 0)",
		 VSW_NAME_MAX - 1);
	return -EINVAL;
}

static json_t *trunk_to_json(const struct vsw_group *g)
{
	json_t *arr = json_array();
	char buf[16];

	for (unsigned v = 1; arr && v <= VSW_VID_MAX; v++) {
		unsigned hi = v;

		if (!vsw_group_allows(g, (uint16_t)v))
			continue;
		while (hi < VSW_VID_MAX && vsw_group_allows(g, (uint16_t)(hi + 1)))
			hi++;
		if (hi == v) {
			json_array_append_new(arr, json_integer(v));
		} else {
			snprintf(buf, sizeof(buf), "%u-%u", v, hi);
			json_array_append_new(arr, json_string(buf));
		}
		v = hi;
	}
	return arr;
}

json_t *vsw_group_to_json(const struct vsw_group *g)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:b, s:i}", "name", g->name,
			      "mode", g->mode == VSW_VLAN_ACCESS ? "access" : "trunk",
			      "rate_mbps", (json_int_t)g->rate_mbps,
			      "promiscuous", g->promisc_allowed, "mac_lock", g->mac_lock,
			      "ports", (json_int_t)g->refs);

	if (!o)
		return NULL;
	if (g->mode == VSW_VLAN_ACCESS) {
		json_object_set_new(o, "vlan", json_integer(g->vlan));
	} else {
		json_object_set_new(o, "trunk", trunk_to_json(g));
		json_object_set_new(o, "native", json_integer(g->vlan));
	}
	return o;
}

json_t *vsw_stats_to_json(const struct vsw_port_stats *st)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "rx_frames", (json_int_t)st->rx_frames,
			 "rx_bytes", (json_int_t)st->rx_bytes,
			 "tx_frames", (json_int_t)st->tx_frames,
			 "tx_bytes", (json_int_t)st->tx_bytes,
			 "rx_runt", (json_int_t)st->rx_runt,
			 "rx_oversize", (json_int_t)st->rx_oversize,
			 "rx_bad_tag", (json_int_t)st->rx_bad_tag,
			 "rx_vlan_drop", (json_int_t)st->rx_vlan_drop,
			 "rx_bad_src", (json_int_t)st->rx_bad_src,
			 "rx_forged", (json_int_t)st->rx_forged,
			 "rx_rate_drop", (json_int_t)st->rx_rate_drop,
			 "tx_drop", (json_int_t)st->tx_drop);
}
