/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_VSW_PERF_H
#define VIREO_NET_VSW_PERF_H

/*
 * Port-to-port throughput through a running switch: attach two ports,
 * send frames of one size from A to B as fast as the switch takes them,
 * count what B receives.  One thread does both ends, so with the switch
 * the measurement uses two cores at most.
 */
#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"

struct vsw_perf_result {
	uint64_t sent, received, send_full;
	double seconds;
	double fps;             /* frames per second received */
	double gbps;            /* frame bytes (no preamble/IFG/FCS) per second, in Gbit/s */
};

/*
 * Run for `seconds` against the switch at socket `path` with frames of
 * `size` bytes (60..1514) over `transport` ("shm" or "seqpacket"), both
 * ports in port group `group` (NULL: default).  0 or -errno.
 */
int vsw_perf_run(const char *path, const char *group, size_t size, double seconds,
		 const char *transport, struct vsw_perf_result *out) WUR;

/*
 * The same measurement through a kernel veth pair, for comparison: frames
 * sent with AF_PACKET on `ifa` (sendmmsg, qdisc bypassed) are counted on
 * its peer `ifb` (recvmmsg), one thread.  Needs CAP_NET_RAW.  0 or -errno.
 */
int vsw_perf_veth(const char *ifa, const char *ifb, size_t size, double seconds,
		  struct vsw_perf_result *out) WUR;

/*
 * The forwarding core alone, in this thread: frames of `size` bytes from
 * one port to a known port whose xmit copies into a shared-memory ring
 * that is emptied every 256 frames.  Shows what one core can switch
 * without the cross-core traffic and wake-ups of real ports.  0 or -errno.
 */
int vsw_perf_core(size_t size, double seconds, struct vsw_perf_result *out) WUR;

#endif
