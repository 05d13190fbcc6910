/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_VSW_JSON_H
#define VIREO_NET_VSW_JSON_H

/*
 * Port-group settings as command-line specs and as JSON (the control
 * socket's format, docs/switch.md).
 *
 * Spec: NAME[,vlan=VID][,trunk=VID|LO-HI[:...]][,native=VID][,rate=MBPS]
 *            [,promisc][,mac-lock]
 * JSON: {"name":..., "vlan":VID} or {"name":..., "trunk":[VID|"LO-HI",...],
 *        "native":VID}, plus "rate_mbps", "promiscuous", "mac_lock".
 */
#include <jansson.h>

#include "net/vsw.h"

/* Parse a spec into *g (defaults: access VLAN 1).  0 or -EINVAL, with why in err. */
int vsw_group_parse(const char *spec, struct vsw_group *g, char *err, size_t errlen) WUR;

/* Settings from a JSON object; missing keys keep *g's values. 0 or -EINVAL. */
int vsw_group_from_json(const json_t *o, struct vsw_group *g, char *err, size_t errlen) WUR;

/* New reference to a JSON object describing g (NULL on ENOMEM). */
json_t *vsw_group_to_json(const struct vsw_group *g);

/* New reference to a JSON object of a port's counters. */
json_t *vsw_stats_to_json(const struct vsw_port_stats *st);

#endif
