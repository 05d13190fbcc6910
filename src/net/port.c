// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM side of a network port (include/vireo/net.h): a port on a
 * `vireo switch` (shared-memory rings or SOCK_SEQPACKET), a tap device, or
 * a private NAT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "net/nat.h"
#include "net/ring.h"
#include "net/tap.h"
#include "vireo/log.h"
#include "vireo/net.h"

#define PORT_REPLY_MAX 4096

enum net_port_kind { PORT_SHM, PORT_SEQPACKET, PORT_TAP, PORT_NAT };

struct net_port {
	enum net_port_kind kind;
	int sock;               /* connection to the switch, -1 otherwise */
	int fd;                 /* readiness fd handed to the caller */
	int kick_fd;            /* shm: wakes the switch */
	int notify_fd;          /* shm: the switch wakes us */
	struct shm_area *area;
	struct shm_end tx, rx;
	bool armed;             /* shm: rx `waiting` flag set */
	bool busy_poll;         /* shm: never arm; the caller polls */
	unsigned idle_polls;    /* busy-poll: empty polls since the last check */
	struct nat *nat;
	uint8_t mac[6];
	bool mac_reserved;
	uint32_t id;
	uint64_t drops;
};

/* Parsed spec. */
struct port_spec {
	enum net_port_kind kind;
	char *target;           /* socket path or ifname */
	const char *mac, *group, *name;
	bool promisc;
	int transport;          /* PORT_SHM or PORT_SEQPACKET if given, else -1 */
	struct nat_config nat;
};

/* Options that only make sense for some kinds of port. */
static int spec_check(struct port_spec *ps)
{
	bool on_switch = ps->kind == PORT_SHM;

	if (!on_switch && (ps->group || ps->name || ps->promisc || ps->transport >= 0)) {
		log_warnx("net: group=, name=, promisc and transport= are for switch ports");
		return -EINVAL;
	}
	if (ps->kind != PORT_NAT && ps->nat.nfwd) {
		log_warnx("net: hostfwd= is for nat ports");
		return -EINVAL;
	}
	if (on_switch && ps->transport == PORT_SEQPACKET)
		ps->kind = PORT_SEQPACKET;
	return 0;
}

static int spec_option(struct port_spec *ps, char *tok)
{
	char *val = strchr(tok, '=');

	if (val)
		*val++ = '\0';
	if (!strcmp(tok, "mac") && val)
		ps->mac = val;
	else if (!strcmp(tok, "group") && val)
		ps->group = val;
	else if (!strcmp(tok, "name") && val)
		ps->name = val;
	else if (!strcmp(tok, "promisc") && !val)
		ps->promisc = true;
	else if (!strcmp(tok, "transport") && val && !strcmp(val, "seqpacket"))
		ps->transport = PORT_SEQPACKET;
	else if (!strcmp(tok, "transport") && val && !strcmp(val, "shm"))
		ps->transport = PORT_SHM;
	else if (!strcmp(tok, "hostfwd") && val && ps->nat.nfwd < NAT_HOSTFWD_MAX)
		return nat_fwd_parse(val, &ps->nat.fwd[ps->nat.nfwd++]);
	else
		return -EINVAL;
	return 0;
}

/* Parse in place (spec is a private copy). */
static int spec_parse(char *spec, struct port_spec *ps)
{
	char *save = NULL, *tok = strtok_r(spec, ",", &save);

	memset(ps, 0, sizeof(*ps));
	ps->transport = -1;
	if (!tok)
		return -EINVAL;
	if (!strncmp(tok, "switch=", 7) && tok[7]) {
		ps->kind = PORT_SHM;
		ps->target = tok + 7;
	} else if (!strncmp(tok, "tap=", 4) && tok[4]) {
		ps->kind = PORT_TAP;
		ps->target = tok + 4;
	} else if (!strcmp(tok, "nat")) {
		ps->kind = PORT_NAT;
	} else {
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, ",", &save)))
		if (spec_option(ps, tok)) {
			log_warnx("net: bad port option '%s'", tok);
			return -EINVAL;
		}
	return spec_check(ps);
}

static int switch_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* A hung switch must not hang the VM: the attach reply has 5 s. */
	struct timeval tv = { .tv_sec = 5 };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static json_t *attach_request(const struct port_spec *ps)
{
	json_t *req = json_pack("{s:s, s:s, s:b}", "cmd", "attach", "transport",
				ps->kind == PORT_SHM ? "shm" : "seqpacket", "promiscuous",
				ps->promisc);

	if (req && ps->mac)
		json_object_set_new(req, "mac", json_string(ps->mac));
	if (req && ps->group)
		json_object_set_new(req, "group", json_string(ps->group));
	if (req && ps->name)
		json_object_set_new(req, "name", json_string(ps->name));
	return req;
}

/* Receive the attach reply and up to 3 fds. Returns the JSON or NULL. */
static json_t *attach_reply(int sock, int fds[3], int *nfds)
{
	char buf[PORT_REPLY_MAX], cbuf[CMSG_SPACE(sizeof(int) * 3)];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n <= 0)
		return NULL;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		*nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		*nfds = MIN(*nfds, 3);
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)*nfds);
	}
	return json_loadb(buf, (size_t)n, 0, NULL);
}

static int map_area(struct net_port *p, int memfd)
{
	struct stat st;

	if (fstat(memfd, &st) < 0 || (size_t)st.st_size < sizeof(struct shm_area))
		return -EPROTO;
	p->area = mmap(NULL, sizeof(struct shm_area), PROT_READ | PROT_WRITE, MAP_SHARED,
		       memfd, 0);
	if (p->area == MAP_FAILED) {
		p->area = NULL;
		return -errno;
	}
	if (p->area->magic != SHM_AREA_MAGIC || p->area->version != SHM_AREA_VERSION ||
	    p->area->slots != SHM_RING_SLOTS || p->area->slot_size != SHM_RING_SLOT_SIZE)
		return -EPROTO;
	shm_end_init(&p->tx, &p->area->to_switch);
	shm_end_init(&p->rx, &p->area->to_port);
	return 0;
}

/* Readiness for shm: an epoll fd over the wake-up eventfd and the socket. */
static int shm_setup(struct net_port *p, int fds[3])
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err = map_area(p, fds[0]);

	close(fds[0]);
	p->kick_fd = fds[1];
	p->notify_fd = fds[2];
	if (err)
		return err;
	p->fd = epoll_create1(EPOLL_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	ev.data.fd = p->notify_fd;
	if (epoll_ctl(p->fd, EPOLL_CTL_ADD, p->notify_fd, &ev) < 0)
		return -errno;
	ev.data.fd = p->sock;
	if (epoll_ctl(p->fd, EPOLL_CTL_ADD, p->sock, &ev) < 0)
		return -errno;
	p->armed = shm_ring_arm(&p->rx);
	return 0;
}

static int reply_errno(const char *msg)
{
	if (strstr(msg, "in use"))
		return -EADDRINUSE;
	if (strstr(msg, "no port group"))
		return -ENOENT;
	return -EINVAL;
}

static int switch_open(struct net_port *p, const struct port_spec *ps)
{
	json_t *req = attach_request(ps), *reply;
	int fds[3], nfds = 0, err;
	char *text;

	p->sock = switch_connect(ps->target);
	if (p->sock < 0) {
		log_errno(-p->sock, "net: switch %s", ps->target);
		json_decref(req);
		return p->sock;
	}
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return -ENOMEM;
	err = send(p->sock, text, strlen(text), MSG_NOSIGNAL) < 0 ? -errno : 0;
	free(text);
	if (err)
		return err;
	reply = attach_reply(p->sock, fds, &nfds);
	if (!reply) {
		log_warnx("net: switch %s did not answer the attach request", ps->target);
		return -EPROTO;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *msg = json_string_value(json_object_get(reply, "error"));

		log_warnx("net: switch %s refused the port: %s", ps->target, msg ? msg : "?");
		err = reply_errno(msg ? msg : "");
		goto out;
	}
	p->id = (uint32_t)json_integer_value(json_object_get(reply, "port"));
	if (net_mac_parse(json_string_value(json_object_get(reply, "mac")), p->mac)) {
		err = -EPROTO;
		goto out;
	}
	if (ps->kind == PORT_SHM) {
		if (nfds != 3) {
			err = -EPROTO;
			goto out;
		}
		nfds = 0;
		err = shm_setup(p, fds);
	} else {
		p->fd = p->sock;
	}
out:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	json_decref(reply);
	return err;
}

static int local_mac(struct net_port *p, const struct port_spec *ps)
{
	char err[256], owner[64];
	int r;

	if (ps->kind == PORT_TAP)
		snprintf(owner, sizeof(owner), "tap port %s", ps->target);
	else
		snprintf(owner, sizeof(owner), "NAT port");
	if (!ps->mac) {
		r = net_mac_generate(owner, p->mac);
	} else if (net_mac_parse(ps->mac, p->mac)) {
		log_warnx("net: bad MAC '%s'", ps->mac);
		return -EINVAL;
	} else if ((r = net_mac_reserve(p->mac, owner, err, sizeof(err))) != 0) {
		log_warnx("net: %s", err);
	}
	p->mac_reserved = r == 0;
	return r;
}

static int local_open(struct net_port *p, const struct port_spec *ps)
{
	int err = local_mac(p, ps);

	if (err)
		return err;
	if (ps->kind == PORT_TAP) {
		p->fd = tap_open(ps->target);
		if (p->fd < 0)
			log_errno(-p->fd, "net: tap %s", ps->target);
		return p->fd < 0 ? p->fd : 0;
	}
	err = nat_create(&ps->nat, &p->nat);
	if (err)
		return err;
	p->fd = nat_fd(p->nat);
	return fcntl(p->fd, F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
}

int net_port_open(const char *spec, struct net_port **out)
{
	struct port_spec ps;
	struct net_port *p;
	char *copy = strdup(spec ? spec : "");
	int err;

	if (!copy)
		return -ENOMEM;
	if (spec_parse(copy, &ps)) {
		log_warnx("net: bad port spec '%s' (switch=PATH | tap=IFNAME | nat, then options)",
			  spec ? spec : "");
		err = -EINVAL;
		goto err_copy;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto err_copy;
	}
	p->kind = ps.kind;
	p->sock = p->fd = p->kick_fd = p->notify_fd = -1;
	if (ps.kind == PORT_SHM || ps.kind == PORT_SEQPACKET)
		err = switch_open(p, &ps);
	else
		err = local_open(p, &ps);
	if (err)
		goto err_port;
	free(copy);
	*out = p;
	return 0;

err_port:
	net_port_close(p);
err_copy:
	free(copy);
	return err;
}

void net_port_close(struct net_port *p)
{
	if (!p)
		return;
	if (p->area)
		munmap(p->area, sizeof(*p->area));
	if (p->kind == PORT_NAT)
		nat_destroy(p->nat);     /* closes p->fd */
	else if (p->fd >= 0 && p->fd != p->sock)
		close(p->fd);
	if (p->sock >= 0)
		close(p->sock);
	if (p->kick_fd >= 0)
		close(p->kick_fd);
	if (p->notify_fd >= 0)
		close(p->notify_fd);
	if (p->mac_reserved)
		net_mac_release(p->mac);
	free(p);
}

static int shm_kick(struct net_port *p);

static int shm_send(struct net_port *p, const void *frame, size_t len)
{
	int r = shm_ring_put(&p->tx, frame, len);

	return r ? r : shm_kick(p);
}

int net_port_send(struct net_port *p, const void *frame, size_t len)
{
	ssize_t n;

	if (len > NET_FRAME_MAX)
		return -EMSGSIZE;
	switch (p->kind) {
	case PORT_SHM:
		return shm_send(p, frame, len);
	case PORT_TAP:
		n = write(p->fd, frame, len);
		break;
	default:
		n = send(p->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	}
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : errno == ECONNRESET ? -EPIPE : -errno;
	return 0;
}

static int shm_kick(struct net_port *p)
{
	uint64_t one = 1;

	shm_ring_publish(&p->tx);
	if (shm_ring_need_kick(&p->tx) && write(p->kick_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		return -errno;
	return 0;
}

int net_port_send_batch(struct net_port *p, const struct iovec *frames, unsigned n)
{
	unsigned i;
	int r = 0;

	if (p->kind != PORT_SHM) {
		for (i = 0; i < n; i++) {
			r = net_port_send(p, frames[i].iov_base, frames[i].iov_len);
			if (r)
				break;
		}
		return i ? (int)i : r == -EAGAIN ? 0 : r;
	}
	for (i = 0; i < n; i++) {
		if (frames[i].iov_len > NET_FRAME_MAX) {
			r = -EMSGSIZE;
			break;
		}
		r = shm_ring_put(&p->tx, frames[i].iov_base, frames[i].iov_len);
		if (r)
			break;
	}
	if (i) {
		r = shm_kick(p);
		return r ? r : (int)i;
	}
	return r == -EAGAIN ? 0 : r;
}

/* Ring empty: clear wake-ups, notice a dead switch, arm, re-check. */
static int shm_idle(struct net_port *p)
{
	struct epoll_event evs[2];
	uint64_t v;
	int n = epoll_wait(p->fd, evs, 2, 0);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == p->sock)
			return -EPIPE;  /* the socket only becomes readable on hang-up */
		if (read(p->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
	}
	p->armed = shm_ring_arm(&p->rx);
	return p->armed ? -EAGAIN : 0;
}

/* Busy-poll mode, ring empty: a cheap answer, and now and then a health check. */
static int shm_idle_polled(struct net_port *p)
{
	char b;

	if (++p->idle_polls % 4096)
		return -EAGAIN;
	if (recv(p->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		return -EPIPE;
	return -EAGAIN;
}

void net_port_set_busy_poll(struct net_port *p, bool on)
{
	uint64_t v;

	p->busy_poll = on;
	if (!on || p->kind != PORT_SHM)
		return;
	if (p->armed) {
		shm_ring_disarm(&p->rx);
		p->armed = false;
	}
	/* Drop a wake-up already sent, so the fd does not stay readable. */
	if (read(p->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("net: port %u: wake-up fd", p->id);
}

static ssize_t shm_recv(struct net_port *p, void *buf, size_t cap)
{
	for (;;) {
		int n = shm_ring_avail(&p->rx), len, r;

		if (n < 0)
			return -EPROTO;
		if (n > 0) {
			if (p->armed) {
				shm_ring_disarm(&p->rx);
				p->armed = false;
			}
			len = shm_ring_get(&p->rx, buf, cap);
			shm_ring_release(&p->rx);
			if (len >= 0)
				return len;
			p->drops++;
			continue;
		}
		r = p->busy_poll ? shm_idle_polled(p) : shm_idle(p);
		if (r)
			return r;
	}
}

ssize_t net_port_recv(struct net_port *p, void *buf, size_t cap)
{
	for (;;) {
		ssize_t n;

		if (p->kind == PORT_SHM)
			return shm_recv(p, buf, cap);
		if (p->kind == PORT_TAP) {
			/* A spill-over buffer tells a frame longer than cap apart. */
			uint8_t spill[2048];
			struct iovec iov[2] = { { buf, cap }, { spill, sizeof(spill) } };

			n = readv(p->fd, iov, 2);
		} else
			n = recv(p->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0 && p->kind != PORT_TAP)
			return -EPIPE;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if ((size_t)n <= cap)
			return n;
		p->drops++;
	}
}

int net_port_fd(const struct net_port *p)
{
	return p->fd;
}

void net_port_mac(const struct net_port *p, uint8_t mac[6])
{
	memcpy(mac, p->mac, 6);
}

uint32_t net_port_id(const struct net_port *p)
{
	return p->id;
}

uint64_t net_port_drops(const struct net_port *p)
{
	return p->drops;
}
