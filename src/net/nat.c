// SPDX-License-Identifier: GPL-2.0-only
/* User-mode NAT: libslirp driven by a poll(2) loop on its own thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "net/nat.h"
#include "vireo/log.h"

#define NAT_POLL_MAX 1024
#define NAT_FRAME_BUF 65536

struct nat_timer {
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;      /* -1: not armed */
	struct nat_timer *next;
};

struct nat {
	Slirp *slirp;
	int fd;                 /* switch's end */
	int inner;              /* our end */
	int stop;               /* eventfd */
	pthread_t thread;
	struct nat_timer *timers;
	struct pollfd pfd[NAT_POLL_MAX];
	unsigned npfd;
	uint8_t buf[NAT_FRAME_BUF];
};

static int64_t nat_clock_ns(void *opaque)
{
	return (int64_t)now_ns();
}

static ssize_t nat_send_packet(const void *buf, size_t len, void *opaque)
{
	struct nat *n = opaque;

	/* Drop rather than block the NAT thread if the switch is behind. */
	if (send(n->inner, buf, len, MSG_DONTWAIT) < 0)
		return -1;
	return (ssize_t)len;
}

static void nat_guest_error(const char *msg, void *opaque)
{
	log_warnx_rl("nat: guest error: %s", msg);
}

static void *nat_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct nat *n = opaque;
	struct nat_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = n->timers;
	n->timers = t;
	return t;
}

static void nat_timer_free(void *timer, void *opaque)
{
	struct nat *n = opaque;

	for (struct nat_timer **pp = &n->timers; *pp; pp = &(*pp)->next)
		if (*pp == timer) {
			*pp = ((struct nat_timer *)timer)->next;
			free(timer);
			return;
		}
}

static void nat_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct nat_timer *)timer)->expire_ms = expire_ms;
}

static void nat_register_poll_fd(int fd, void *opaque)
{
}

static void nat_unregister_poll_fd(int fd, void *opaque)
{
}

static void nat_notify(void *opaque)
{
}

static const SlirpCb nat_callbacks = {
	.send_packet = nat_send_packet,
	.guest_error = nat_guest_error,
	.clock_get_ns = nat_clock_ns,
	.timer_new = nat_timer_new,
	.timer_free = nat_timer_free,
	.timer_mod = nat_timer_mod,
	.register_poll_fd = nat_register_poll_fd,
	.unregister_poll_fd = nat_unregister_poll_fd,
	.notify = nat_notify,
};

static int nat_add_poll(int fd, int events, void *opaque)
{
	struct nat *n = opaque;
	short ev = 0;

	if (n->npfd == NAT_POLL_MAX)
		return -1;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	n->pfd[n->npfd].fd = fd;
	n->pfd[n->npfd].events = ev;
	n->pfd[n->npfd].revents = 0;
	return (int)n->npfd++;
}

static int nat_get_revents(int idx, void *opaque)
{
	struct nat *n = opaque;
	short rev;
	int r = 0;

	if (idx < 0 || (unsigned)idx >= n->npfd)
		return 0;
	rev = n->pfd[idx].revents;
	if (rev & POLLIN)
		r |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (rev & POLLERR)
		r |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

/* Run expired timers; return ms until the next one (or UINT32_MAX). */
static uint32_t nat_run_timers(struct nat *n)
{
	int64_t now = (int64_t)(now_ns() / 1000000);
	uint32_t next = UINT32_MAX;
	bool fired;

	do {
		fired = false;
		for (struct nat_timer *t = n->timers; t; t = t->next) {
			if (t->expire_ms < 0)
				continue;
			if (t->expire_ms <= now) {
				t->expire_ms = -1;
				t->cb(t->cb_opaque);
				fired = true;   /* the list may have changed */
				break;
			}
			next = MIN(next, (uint32_t)MIN(t->expire_ms - now, (int64_t)UINT32_MAX));
		}
	} while (fired);
	return next;
}

static void nat_input(struct nat *n)
{
	for (int i = 0; i < 256; i++) {
		ssize_t len = recv(n->inner, n->buf, sizeof(n->buf), MSG_DONTWAIT);

		if (len <= 0)
			return;
		slirp_input(n->slirp, n->buf, (int)len);
	}
}

static void *nat_thread(void *arg)
{
	struct nat *n = arg;

	for (;;) {
		uint32_t timeout = nat_run_timers(n);
		int r;

		n->npfd = 2;
		n->pfd[0] = (struct pollfd){ .fd = n->inner, .events = POLLIN };
		n->pfd[1] = (struct pollfd){ .fd = n->stop, .events = POLLIN };
		slirp_pollfds_fill(n->slirp, &timeout, nat_add_poll, n);
		r = poll(n->pfd, n->npfd, timeout == UINT32_MAX ? -1 : (int)timeout);
		if (r < 0 && errno != EINTR)
			log_warn("nat: poll");
		if (n->pfd[1].revents)
			break;
		slirp_pollfds_poll(n->slirp, r < 0, nat_get_revents, n);
		if (n->pfd[0].revents & POLLIN)
			nat_input(n);
		if (n->pfd[0].revents & (POLLHUP | POLLERR))
			break;
	}
	return NULL;
}

int nat_fwd_parse(const char *s, struct nat_fwd *out)
{
	char haddr[64] = "", gaddr[64] = "", proto[8];
	int hport, gport, n = -1;

	memset(out, 0, sizeof(*out));
	if (sscanf(s, "%7[a-z]:%63[0-9.]:%d-%63[0-9.]:%d%n", proto, haddr, &hport,
		   gaddr, &gport, &n) != 5 &&
	    sscanf(s, "%7[a-z]::%d-%63[0-9.]:%d%n", proto, &hport, gaddr, &gport, &n) != 4 &&
	    sscanf(s, "%7[a-z]:%63[0-9.]:%d-:%d%n", proto, haddr, &hport, &gport, &n) != 4 &&
	    sscanf(s, "%7[a-z]::%d-:%d%n", proto, &hport, &gport, &n) != 3)
		return -EINVAL;
	if (n < 0 || s[n] != '\0')
		return -EINVAL;
	if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return -EINVAL;
	out->udp = !strcmp(proto, "udp");
	if (!inet_aton(haddr[0] ? haddr : "127.0.0.1", &out->host_addr) ||
	    !inet_aton(gaddr[0] ? gaddr : "10.0.2.15", &out->guest_addr))
		return -EINVAL;
	if (hport < 0 || hport > 65535 || gport < 1 || gport > 65535)
		return -EINVAL;
	out->host_port = hport;
	out->guest_port = gport;
	return 0;
}

static Slirp *nat_slirp_new(struct nat *n)
{
	SlirpConfig cfg = { .version = 4 };

	cfg.in_enabled = true;
	inet_aton("10.0.2.0", &cfg.vnetwork);
	inet_aton("255.255.255.0", &cfg.vnetmask);
	inet_aton("10.0.2.2", &cfg.vhost);
	inet_aton("10.0.2.15", &cfg.vdhcp_start);
	inet_aton("10.0.2.3", &cfg.vnameserver);
	cfg.vhostname = "vireo";
	cfg.if_mtu = 1500;
	cfg.if_mru = 1500;
	return slirp_new(&cfg, &nat_callbacks, n);
}

static int nat_add_fwds(struct nat *n, const struct nat_config *cfg)
{
	for (unsigned i = 0; i < cfg->nfwd; i++) {
		const struct nat_fwd *f = &cfg->fwd[i];

		if (slirp_add_hostfwd(n->slirp, f->udp, f->host_addr, f->host_port,
				      f->guest_addr, f->guest_port) < 0) {
			log_warnx("nat: cannot forward %s:%d (port in use?)",
				  inet_ntoa(f->host_addr), f->host_port);
			return -EADDRINUSE;
		}
	}
	return 0;
}

int nat_create(const struct nat_config *cfg, struct nat **out)
{
	struct nat *n;
	int sv[2], err;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		goto err_free;
	}
	n->fd = sv[0];
	n->inner = sv[1];
	n->stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->stop < 0) {
		err = -errno;
		goto err_pair;
	}
	n->slirp = nat_slirp_new(n);
	if (!n->slirp) {
		err = -ENOMEM;
		goto err_stop;
	}
	err = nat_add_fwds(n, cfg);
	if (err)
		goto err_slirp;
	err = -pthread_create(&n->thread, NULL, nat_thread, n);
	if (err)
		goto err_slirp;
	*out = n;
	return 0;

err_slirp:
	slirp_cleanup(n->slirp);
	while (n->timers)
		nat_timer_free(n->timers, n);
err_stop:
	close(n->stop);
err_pair:
	close(sv[0]);
	close(sv[1]);
err_free:
	free(n);
	return err;
}

int nat_fd(const struct nat *n)
{
	return n->fd;
}

void nat_destroy(struct nat *n)
{
	uint64_t one = 1;

	if (!n)
		return;
	if (write(n->stop, &one, sizeof(one)) < 0)
		log_warn("nat: stop");
	pthread_join(n->thread, NULL);
	slirp_cleanup(n->slirp);
	while (n->timers)
		nat_timer_free(n->timers, n);
	close(n->stop);
	close(n->fd);
	close(n->inner);
	free(n);
}
