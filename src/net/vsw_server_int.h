/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_NET_VSW_SERVER_INT_H
#define VIREO_NET_VSW_SERVER_INT_H

/*
 * Internals of the switch process shared by vsw_server.c (event loop,
 * transports, attach) and vsw_ctl.c (control commands).  Single-threaded:
 * everything here belongs to the event loop.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>

#include "net/nat.h"
#include "net/ring.h"
#include "net/vsw_server.h"

#define VSW_BUDGET 256
#define VSW_BATCH 32
#define VSW_BUF 2048            /* > VSW_FRAME_MAX: longer frames are truncated, counted */
#define VSW_CTL_MAX 65536
#define VSW_REPLY_SNDBUF (4 << 20)
#define VSW_FDB_LIST_MAX 4096

struct vsw_server;

/* One epoll registration: data.ptr points here. */
struct vsw_ev {
	int fd;
	void (*fn)(struct vsw_server *s, struct vsw_ev *ev, uint32_t events);
	void *owner;
};

enum vsw_conn_kind {
	CONN_CTL,               /* control connection, no port yet */
	CONN_SHM,               /* port over shared-memory rings */
	CONN_SEQPACKET,         /* port with frames on the socket itself */
	CONN_TAP,               /* tap uplink */
	CONN_NAT,               /* NAT uplink (socketpair to the slirp thread) */
};

struct vsw_conn {
	struct vsw_server *srv;
	enum vsw_conn_kind kind;
	struct vsw_ev ev;               /* socket, tap or NAT fd */
	struct vsw_ev kick_ev;          /* shm: the port kicks us (fd -1 if none) */
	int kick_fd;                    /* shm: we kick the port */
	struct vsw_port *port;
	struct shm_area *area;
	struct shm_end rx, tx;          /* rx: to_switch (we consume); tx: to_port */
	bool mac_reserved;
	bool dead, busy, kick_pending;
	struct vsw_conn *next;          /* all connections */
	struct vsw_conn *busy_next, *kick_next;
};

struct vsw_server {
	const struct vsw_server_config *cfg;
	struct vsw *sw;
	int epfd;
	struct vsw_ev listen_ev, timer_ev, signal_ev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool stop;
	bool accept_paused;             /* listen fd out of epoll (EMFILE) */
	bool err_logged;                /* start-up error already explained */
	struct vsw_conn *conns, *busy, *kick;
	struct nat *nat;
	uint64_t now;
	uint8_t frame[VSW_BUF];
	struct mmsghdr msgs[VSW_BATCH];
	struct iovec iov[VSW_BATCH];
	uint8_t bufs[VSW_BATCH][VSW_BUF];
};

/*
 * Tear a connection down now (port detached, MAC released, fds closed);
 * the memory goes at the end of the event batch.  Idempotent.
 */
void vsw_conn_kill(struct vsw_conn *c);

/*
 * Turn control connection c into a port as asked by the "attach" request.
 * On success the reply carries the port and, for shm, fds[0..2] are the
 * memfd and the two eventfds to pass (*nfds = 3).  Returns the reply.
 */
json_t *vsw_conn_attach(struct vsw_server *s, struct vsw_conn *c, json_t *req, int fds[3],
			int *nfds);

/* Handle one control request on c and send the reply (vsw_ctl.c). */
void vsw_ctl_request(struct vsw_server *s, struct vsw_conn *c, const char *msg, size_t len);

/* {"ok": false, "error": <formatted>} */
json_t *vsw_ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "shm", "seqpacket", "tap", "nat" or "none". */
const char *vsw_conn_transport(const struct vsw_conn *c);

#endif
