/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_VSW_SERVER_H
#define VIREO_NET_VSW_SERVER_H

/*
 * The switch process: one event loop (epoll) around a struct vsw, a unix
 * SOCK_SEQPACKET control socket on which clients send JSON commands or
 * attach ports (docs/switch.md), and an optional uplink.
 */
#include "net/nat.h"
#include "net/vsw.h"

#define VSW_GROUPS_MAX 64

enum vsw_uplink_kind { VSW_UPLINK_NONE, VSW_UPLINK_TAP, VSW_UPLINK_NAT };

struct vsw_server_config {
	const char *name;
	const char *socket_path;        /* NULL: <run dir>/switch/<name>.sock */
	enum vsw_uplink_kind uplink;
	const char *tap_ifname;
	struct vsw_group uplink_group;  /* the uplink's VLAN settings */
	struct nat_config nat;
	struct vsw_group groups[VSW_GROUPS_MAX];
	unsigned ngroups;
	uint64_t aging_ns;
};

/* Default control socket path for a switch name into buf. 0 or -errno. */
int vsw_socket_path(const char *name, char *buf, size_t len) WUR;

/*
 * Run the switch until SIGINT/SIGTERM or a "shutdown" command.  Prints
 * "vireo switch NAME: listening on PATH" on stdout once ready.  Returns 0,
 * or -errno when it cannot start (-EADDRINUSE: a switch of that name runs).
 */
int vsw_server_run(const struct vsw_server_config *cfg) WUR;

#endif
