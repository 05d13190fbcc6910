/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_VSW_H
#define VIREO_NET_VSW_H

/*
 * The forwarding core of the virtual switch: ports, port groups, the FDB,
 * 802.1Q VLANs, promiscuous ports, MAC lock and ingress rate limits.  It
 * does no I/O: frames come in through vsw_input() and leave through each
 * port's xmit callback, so the unit tests drive it with synthetic frames
 * and a synthetic clock.  Single-threaded: the switch event loop owns it.
 *
 * Counters are from the switch's point of view: "rx" is what the switch
 * received from the port (the VM's transmit), "tx" what it sent to it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/fdb.h"
#include "vireo/util.h"

#define VSW_ETH_HLEN 14
#define VSW_VLAN_HLEN 4
#define VSW_MTU 1500
/* Largest frame accepted, without FCS: MTU + header + one 802.1Q tag. */
#define VSW_FRAME_MAX (VSW_MTU + VSW_ETH_HLEN + VSW_VLAN_HLEN)
#define VSW_VID_MAX 4094        /* 0 and 4095 are reserved (802.1Q 9.6) */
#define VSW_PORTS_MAX 1024
#define VSW_NAME_MAX 32
#define VSW_AGING_DEFAULT_NS (300ULL * 1000000000ULL)

enum vsw_vlan_mode {
	VSW_VLAN_ACCESS,        /* untagged, one VLAN */
	VSW_VLAN_TRUNK,         /* tagged, allowed list, optional native VLAN */
};

/* Named port settings that ports join (a vSphere "port group"). */
struct vsw_group {
	char name[VSW_NAME_MAX];
	enum vsw_vlan_mode mode;
	uint16_t vlan;          /* access: the VLAN; trunk: native VLAN, 0 = none */
	uint64_t allowed[64];   /* trunk: bitmap of allowed VIDs */
	uint32_t rate_mbps;     /* ingress limit, 0 = unlimited */
	bool promisc_allowed;
	bool mac_lock;          /* drop frames whose source is not the port's MAC */
	unsigned refs;          /* ports in the group */
};

struct vsw_port_stats {
	uint64_t rx_frames, rx_bytes;   /* accepted from the port */
	uint64_t tx_frames, tx_bytes;   /* delivered to the port */
	uint64_t rx_runt;               /* shorter than an Ethernet (+tag) header */
	uint64_t rx_oversize;           /* longer than VSW_FRAME_MAX (MTU 1500) */
	uint64_t rx_bad_tag;            /* tag on access port, VID 4095, stacked tags */
	uint64_t rx_vlan_drop;          /* VLAN not allowed on this port */
	uint64_t rx_bad_src;            /* multicast or zero source MAC */
	uint64_t rx_forged;             /* MAC lock: source is not the port's MAC */
	uint64_t rx_rate_drop;          /* over the group's rate limit */
	uint64_t tx_drop;               /* port's queue full */
};

/*
 * Deliver a frame to a port's peer.  Returns 0, or -errno when the frame
 * was dropped (counted as tx_drop).  Must not call back into the switch.
 */
typedef int (*vsw_xmit_fn)(void *opaque, const void *frame, size_t len);

struct vsw_port {
	uint32_t id;
	char name[VSW_NAME_MAX];
	uint8_t mac[6];
	bool has_mac;           /* uplinks carry many MACs and have none */
	bool promisc;           /* requested; effective only if the group allows */
	bool uplink;
	struct vsw_group *group;
	uint64_t tokens;        /* token bucket, in millibits */
	uint64_t tokens_ns;     /* last refill */
	struct vsw_port_stats stats;
	vsw_xmit_fn xmit;
	void *opaque;
};

struct vsw {
	char name[VSW_NAME_MAX];
	struct fdb fdb;
	struct vsw_port *ports[VSW_PORTS_MAX];  /* by id; NULL = free */
	uint32_t nports;
	struct vsw_group **groups;
	unsigned ngroups;
	uint64_t flooded;                       /* frames sent to every port of a VLAN */
};

/*
 * Create a switch with an empty FDB and one group, "default" (access
 * VLAN 1, no limit, no promiscuous mode, no MAC lock).  0 or -ENOMEM.
 */
int vsw_create(const char *name, uint64_t aging_ns, struct vsw **out) WUR;
/* Free the switch; ports still attached are freed too (no callbacks). */
void vsw_destroy(struct vsw *sw);

/* Group by name or NULL. */
struct vsw_group *vsw_group_find(struct vsw *sw, const char *name);
/*
 * Create a group from *tmpl (name taken from it).  -EEXIST when the name is
 * taken, -EINVAL for a bad name or VLAN, -ENOMEM.
 */
int vsw_group_create(struct vsw *sw, const struct vsw_group *tmpl) WUR;
/* Replace the settings of an existing group; member ports follow at once. */
int vsw_group_modify(struct vsw *sw, const struct vsw_group *tmpl) WUR;
/* -ENOENT, -EBUSY when ports are still members, or 0. "default" stays. */
int vsw_group_delete(struct vsw *sw, const char *name) WUR;
/* Validate settings: 0 or -EINVAL (VID range, trunk native allowed). */
int vsw_group_check(const struct vsw_group *g) WUR;
/* Set/test one VID in a trunk's allowed bitmap. */
void vsw_group_allow(struct vsw_group *g, uint16_t vid);
bool vsw_group_allows(const struct vsw_group *g, uint16_t vid);

/*
 * Attach a port.  `mac` may be NULL (uplink).  The port joins `group`
 * (NULL = "default").  Returns 0 and the new port in *out, -ENOSPC when
 * VSW_PORTS_MAX ports exist, -ENOENT for an unknown group, -ENOMEM.
 */
int vsw_port_attach(struct vsw *sw, const char *name, const uint8_t *mac,
		    const char *group, vsw_xmit_fn xmit, void *opaque,
		    struct vsw_port **out) WUR;
/* Detach and free a port, forgetting its FDB entries. */
void vsw_port_detach(struct vsw *sw, struct vsw_port *p);
/* Move a port into another group: 0 or -ENOENT. */
int vsw_port_set_group(struct vsw *sw, struct vsw_port *p, const char *group) WUR;
/* Port by id or NULL. */
struct vsw_port *vsw_port_get(struct vsw *sw, uint32_t id);
/* Is the port promiscuous right now (asked for and allowed)? */
bool vsw_port_promisc(const struct vsw_port *p);

/*
 * Switch one frame received from port `in` at time `now` (ns, monotonic).
 * The frame is read only; the caller must own the buffer (not shared with
 * the sender) so it cannot change under the checks.  Drops are counted in
 * in->stats.
 */
void vsw_input(struct vsw *sw, struct vsw_port *in, const uint8_t *frame,
	       size_t len, uint64_t now);

/* Add every counter of `from` to `to`. */
void vsw_stats_add(struct vsw_port_stats *to, const struct vsw_port_stats *from);

/* Age the FDB; call about once a second. */
void vsw_tick(struct vsw *sw, uint64_t now);

#endif
