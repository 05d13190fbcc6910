/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_H
#define VIREO_NET_H

/*
 * The VM side of a network port: what a virtio-net back end (or any other
 * frame source, like `vireo switch attach`) uses to send and receive
 * Ethernet frames, whatever serves them:
 *
 *   switch=PATH  a port on a running `vireo switch` (its control socket),
 *                frames over shared-memory rings (or over the socket with
 *                transport=seqpacket);
 *   tap=IFNAME   a host tap device (created if missing; needs CAP_NET_ADMIN);
 *   nat          a private user-mode NAT (libslirp, on a thread the port
 *                owns) for this port alone: DHCP, DNS, outbound TCP/UDP,
 *                port forwards; no root.
 *
 * The spec is meant to be what a VM's `--net SPEC` option takes verbatim.
 *
 * Spec syntax (net_port_open):
 *   switch=PATH[,mac=MAC][,group=GROUP][,name=NAME][,promisc][,transport=shm|seqpacket]
 *   tap=IFNAME[,mac=MAC]
 *   nat[,mac=MAC][,hostfwd=tcp:HADDR:HPORT-GADDR:GPORT]...   (udp: too)
 *
 * Frames are whole Ethernet frames without FCS or virtio-net header, at
 * most NET_FRAME_MAX bytes.  Threading: one port is used by one thread at
 * a time; separate ports are independent.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vireo/util.h"

#define NET_FRAME_MAX 1518      /* 1500 MTU + 14 header + one 802.1Q tag */
#define NET_MAC_STRLEN 18       /* "02:56:52:00:00:01" + NUL */

/* Locally administered, unicast prefix of generated MACs (IEEE 802 U/L bit). */
#define NET_MAC_PREFIX0 0x02
#define NET_MAC_PREFIX1 0x56
#define NET_MAC_PREFIX2 0x52

struct net_port;

/*
 * Open a port from `spec` (above).  On success *out owns every fd and
 * thread of the port and its MAC is reserved on the host.  Errors: -EINVAL
 * (bad spec; a message is logged), -ENOENT/-ECONNREFUSED (no switch at
 * PATH), -EADDRINUSE (MAC taken; the message names the owner), -EPERM
 * (tap without privilege), -ENOMEM.
 */
int net_port_open(const char *spec, struct net_port **out) WUR;

/* Close the port, release its MAC, join any helper thread.  NULL is fine. */
void net_port_close(struct net_port *p);

/*
 * Queue one frame for transmission.  Returns 0; -EAGAIN when the port's
 * queue is full (the frame was not taken: drop it or retry later, as a NIC
 * would); -EMSGSIZE when len > NET_FRAME_MAX; -EPIPE when the switch went
 * away.
 */
int net_port_send(struct net_port *p, const void *frame, size_t len) WUR;

/*
 * Queue up to n frames (one per iovec) and notify the peer once.  Returns
 * how many were taken (the first ones, in order; fewer than n when the
 * queue filled up), or -EPIPE / -EMSGSIZE when the first frame could not
 * be taken for that reason.  Cheaper than n calls of net_port_send on the
 * shared-memory transport: one release store and one barrier per batch.
 */
int net_port_send_batch(struct net_port *p, const struct iovec *frames, unsigned n) WUR;

/*
 * Take one received frame into buf (cap bytes).  Returns its length,
 * -EAGAIN when nothing is waiting, -EPIPE when the peer went away.  Frames
 * longer than cap are dropped (counted in net_port_drops).
 *
 * Event loop contract: after net_port_recv returns -EAGAIN, the fd from
 * net_port_fd() becomes readable when a frame arrives.  So: add the fd to
 * epoll (EPOLLIN, level-triggered is fine), and on readiness call
 * net_port_recv until -EAGAIN.  Never read the fd yourself.
 */
ssize_t net_port_recv(struct net_port *p, void *buf, size_t cap) WUR;

/*
 * Busy-poll mode, for a caller that polls the port in a loop anyway (a
 * benchmark, a poll-mode device thread): net_port_recv on an empty queue
 * returns -EAGAIN at once, with no syscall and without asking the peer to
 * wake us, and the readiness fd is not signalled (switching the mode on
 * clears a pending wake-up).  A dead switch is still
 * noticed (-EPIPE), on one empty poll in 4096.  Only the shared-memory
 * transport has a cheaper path; other transports ignore the setting.
 */
void net_port_set_busy_poll(struct net_port *p, bool on);

/* The readiness fd described above; owned by the port. */
int net_port_fd(const struct net_port *p);

/* The port's MAC (assigned by the switch, generated, or from the spec). */
void net_port_mac(const struct net_port *p, uint8_t mac[6]);

/* The switch's port id, or 0 when the port is not on a switch. */
uint32_t net_port_id(const struct net_port *p);

/* Frames dropped on receive because they did not fit the caller's buffer. */
uint64_t net_port_drops(const struct net_port *p);

/*
 * MAC addresses.  Generated ones are NET_MAC_PREFIX + 3 random bytes.
 * Uniqueness on the host comes from a registry directory, one file per MAC
 * created with O_EXCL (atomic across processes), holding the owner's pid:
 * entries of dead owners are reclaimed.  The directory is
 * $VIREO_RUN_DIR/macs, default /run/vireo/macs for root and
 * $XDG_RUNTIME_DIR/vireo/macs (else /tmp/vireo-UID/macs) otherwise.
 */

/* Parse "aa:bb:cc:dd:ee:ff" (or '-' separators): 0 or -EINVAL. */
int net_mac_parse(const char *s, uint8_t mac[6]) WUR;
/* Format into buf (NET_MAC_STRLEN bytes). Returns buf. */
char *net_mac_format(const uint8_t mac[6], char *buf);
/* True for a unicast, non-zero address a port may own. */
bool net_mac_valid(const uint8_t mac[6]);

/*
 * Reserve `mac` for `owner` (free text, e.g. "switch lan port 3").
 * Returns 0; -EINVAL for multicast/zero; -EADDRINUSE when a live process
 * holds it, with "MAC ... is already in use by ..." written to err (errlen
 * bytes, may be NULL); other -errno from the registry directory.
 */
int net_mac_reserve(const uint8_t mac[6], const char *owner, char *err, size_t errlen) WUR;
/* Generate a fresh MAC with the Vireo prefix and reserve it. */
int net_mac_generate(const char *owner, uint8_t mac[6]) WUR;
/* Give a reservation back (only if held by this process). */
void net_mac_release(const uint8_t mac[6]);

/* Directory for run-time files (sockets, MAC registry), created on demand. */
int net_run_dir(char *buf, size_t len) WUR;

#endif
