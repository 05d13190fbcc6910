/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_NAT_H
#define VIREO_NET_NAT_H

/*
 * User-mode NAT (libslirp) on a thread of its own.  The network is
 * 10.0.2.0/24: gateway 10.0.2.2 (connections to it reach the host's
 * loopback), DNS proxy 10.0.2.3, DHCP leases from 10.0.2.15.  Frames go in
 * and out through one end of a SOCK_SEQPACKET socketpair (nat_fd), one
 * message per frame, so a switch treats it like any other fd port.
 * Needs no privilege.
 */
#include <stdbool.h>
#include <netinet/in.h>

#include "vireo/util.h"

#define NAT_HOSTFWD_MAX 16

/* A port forward: host addr:port -> guest addr:port. */
struct nat_fwd {
	bool udp;
	struct in_addr host_addr;
	int host_port;
	struct in_addr guest_addr;
	int guest_port;
};

struct nat_config {
	struct nat_fwd fwd[NAT_HOSTFWD_MAX];
	unsigned nfwd;
};

struct nat;

/*
 * Parse "tcp:HADDR:HPORT-GADDR:GPORT" (udp: too; empty HADDR means
 * 127.0.0.1, empty GADDR means 10.0.2.15).  0 or -EINVAL.
 */
int nat_fwd_parse(const char *s, struct nat_fwd *out) WUR;

/*
 * Start a NAT instance with the given forwards.  Returns 0 and *out, or
 * -errno (-EADDRINUSE when a forward's host port is taken).
 */
int nat_create(const struct nat_config *cfg, struct nat **out) WUR;

/* The frame fd: write a frame to send it into the NAT, read to receive. */
int nat_fd(const struct nat *n);

/* Stop the thread and free everything (closes nat_fd). NULL is fine. */
void nat_destroy(struct nat *n);

#endif
