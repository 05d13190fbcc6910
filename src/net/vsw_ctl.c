// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control commands of the switch process: one JSON request per
 * SOCK_SEQPACKET message, one JSON reply (docs/switch.md, "Control
 * protocol").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/vsw_json.h"
#include "net/vsw_server_int.h"
#include "vireo/log.h"
#include "vireo/net.h"

/* ---- control replies ---- */

static void send_json(struct vsw_conn *c, json_t *reply, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	char *text = json_dumps(reply, JSON_COMPACT);
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	json_decref(reply);
	if (!text) {
		vsw_conn_kill(c);
		return;
	}
	iov = (struct iovec){ text, strlen(text) };
	if (nfds) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(c->ev.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		size_t len = iov.iov_len;

		/* Larger than the socket's buffer allows: say so, in a small reply. */
		if (!nfds && (errno == EMSGSIZE || errno == ENOBUFS || errno == EAGAIN) &&
		    len > 4096) {
			free(text);
			send_json(c, vsw_ctl_error("reply of %zu bytes does not fit the socket "
					       "buffer; run the switch as root or raise "
					       "net.core.wmem_max", len), NULL, 0);
			return;
		}
		log_warnx_rl("switch: reply: %s", strerror(errno));
		vsw_conn_kill(c);
	}
	free(text);
}

json_t *vsw_ctl_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *reply_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

const char *vsw_conn_transport(const struct vsw_conn *c)
{
	static const char *const names[] = {
		[CONN_CTL] = "none", [CONN_SHM] = "shm", [CONN_SEQPACKET] = "seqpacket",
		[CONN_TAP] = "tap", [CONN_NAT] = "nat",
	};

	return names[c->kind];
}

static json_t *port_to_json(const struct vsw_conn *c)
{
	const struct vsw_port *p = c->port;
	char mac[NET_MAC_STRLEN];
	json_t *o;

	o = json_pack("{s:i, s:s, s:s, s:b, s:s, s:b, s:b}", "id", (json_int_t)p->id,
		      "name", p->name, "group", p->group->name, "uplink", p->uplink,
		      "transport", vsw_conn_transport(c), "promiscuous_requested", p->promisc,
		      "promiscuous", vsw_port_promisc(p));
	if (!o)
		return NULL;
	if (p->has_mac)
		json_object_set_new(o, "mac", json_string(net_mac_format(p->mac, mac)));
	json_object_set_new(o, "stats", vsw_stats_to_json(&p->stats));
	return o;
}

static struct vsw_conn *conn_by_port(struct vsw_server *s, uint32_t id)
{
	for (struct vsw_conn *c = s->conns; c; c = c->next)
		if (!c->dead && c->port && c->port->id == id)
			return c;
	return NULL;
}

static json_t *cmd_ports(struct vsw_server *s, json_t *req)
{
	json_t *arr = json_array();

	for (uint32_t id = 1; id < s->sw->nports; id++) {
		struct vsw_conn *c = conn_by_port(s, id);

		if (c)
			json_array_append_new(arr, port_to_json(c));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "ports", arr);
}

struct fdb_dump {
	json_t *arr;
	uint64_t now, aging_ns;
	unsigned n;
};

static int fdb_dump_one(const struct fdb_entry *e, void *opaque)
{
	struct fdb_dump *d = opaque;
	uint8_t mac[6];
	char str[NET_MAC_STRLEN];
	uint64_t age = d->now > e->seen_ns ? d->now - e->seen_ns : 0;

	if (age > d->aging_ns)
		return 0;
	if (d->n++ == VSW_FDB_LIST_MAX)
		return 1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(e->key >> (56 - 8 * i));
	json_array_append_new(d->arr, json_pack("{s:s, s:i, s:i, s:f}",
		"mac", net_mac_format(mac, str), "vlan", (json_int_t)(e->key & 0xfff),
		"port", (json_int_t)e->port, "age", (double)age / 1e9));
	return 0;
}

static json_t *cmd_fdb(struct vsw_server *s, json_t *req)
{
	struct fdb_dump d = { .arr = json_array(), .now = now_ns(),
			      .aging_ns = s->sw->fdb.aging_ns };
	int truncated = fdb_foreach(&s->sw->fdb, fdb_dump_one, &d);

	return json_pack("{s:b, s:o, s:b, s:I, s:I}", "ok", 1, "fdb", d.arr,
			 "truncated", truncated, "full_drops", (json_int_t)s->sw->fdb.full_drops,
			 "moves", (json_int_t)s->sw->fdb.moves);
}

static json_t *cmd_fdb_flush(struct vsw_server *s, json_t *req)
{
	fdb_flush(&s->sw->fdb);
	return reply_ok();
}

static json_t *cmd_groups(struct vsw_server *s, json_t *req)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < s->sw->ngroups; i++)
		json_array_append_new(arr, vsw_group_to_json(s->sw->groups[i]));
	return json_pack("{s:b, s:o}", "ok", 1, "groups", arr);
}

static json_t *group_write(struct vsw_server *s, json_t *req, bool create)
{
	struct vsw_group g = { .mode = VSW_VLAN_ACCESS, .vlan = 1 }, *old;
	const char *name = json_string_value(json_object_get(req, "name"));
	char err[256];
	int r;

	if (!name)
		return vsw_ctl_error("missing \"name\"");
	old = vsw_group_find(s->sw, name);
	if (!create && !old)
		return vsw_ctl_error("no port group '%s'", name);
	if (create && old)
		return vsw_ctl_error("port group '%s' already exists", name);
	if (old)
		g = *old;
	if (vsw_group_from_json(req, &g, err, sizeof(err)))
		return vsw_ctl_error("%s", err);
	r = create ? vsw_group_create(s->sw, &g) : vsw_group_modify(s->sw, &g);
	if (r)
		return vsw_ctl_error("port group '%s': %s", name, strerror(-r));
	return json_pack("{s:b, s:o}", "ok", 1, "group",
			 vsw_group_to_json(vsw_group_find(s->sw, name)));
}

static json_t *cmd_group_create(struct vsw_server *s, json_t *req)
{
	return group_write(s, req, true);
}

static json_t *cmd_group_modify(struct vsw_server *s, json_t *req)
{
	return group_write(s, req, false);
}

static json_t *cmd_group_delete(struct vsw_server *s, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	int r;

	if (!name)
		return vsw_ctl_error("missing \"name\"");
	r = vsw_group_delete(s->sw, name);
	if (r == -EBUSY)
		return vsw_ctl_error("port group '%s' is in use (or is the default)", name);
	if (r)
		return vsw_ctl_error("no port group '%s'", name);
	return reply_ok();
}

static json_t *cmd_port_set(struct vsw_server *s, json_t *req)
{
	json_t *id = json_object_get(req, "port"), *v;
	struct vsw_conn *c;

	if (!json_is_integer(id) || !(c = conn_by_port(s, (uint32_t)json_integer_value(id))))
		return vsw_ctl_error("no such port");
	if ((v = json_object_get(req, "group"))) {
		if (!json_is_string(v) || vsw_port_set_group(s->sw, c->port, json_string_value(v)))
			return vsw_ctl_error("no port group '%s'",
					 json_is_string(v) ? json_string_value(v) : "?");
	}
	if ((v = json_object_get(req, "promiscuous")))
		c->port->promisc = json_is_true(v);
	return json_pack("{s:b, s:o}", "ok", 1, "port", port_to_json(c));
}

static json_t *cmd_info(struct vsw_server *s, json_t *req)
{
	const char *up = s->cfg->uplink == VSW_UPLINK_TAP ? "tap" :
			 s->cfg->uplink == VSW_UPLINK_NAT ? "nat" : "none";
	unsigned n = 0;

	for (uint32_t id = 1; id < s->sw->nports; id++)
		n += s->sw->ports[id] != NULL;
	return json_pack("{s:b, s:s, s:s, s:s, s:i, s:i, s:I, s:I}", "ok", 1,
			 "name", s->sw->name, "socket", s->path, "uplink", up,
			 "ports", (json_int_t)n, "fdb_entries", (json_int_t)s->sw->fdb.count,
			 "flooded", (json_int_t)s->sw->flooded,
			 "aging_s", (json_int_t)(s->sw->fdb.aging_ns / 1000000000ULL));
}

/*
 * Counters only: {"ports": {"<id>": {...}}, "total": {...}} plus the
 * switch-wide ones.  With "port": ID, that port's counters alone.
 */
static json_t *cmd_stats(struct vsw_server *s, json_t *req)
{
	struct vsw_port_stats total = { 0 };
	json_t *ports = json_object(), *want = json_object_get(req, "port");
	char key[16];

	for (uint32_t id = 1; id < s->sw->nports; id++) {
		const struct vsw_port *p = s->sw->ports[id];

		if (!p || (want && (!json_is_integer(want) || json_integer_value(want) != id)))
			continue;
		vsw_stats_add(&total, &p->stats);
		snprintf(key, sizeof(key), "%u", id);
		json_object_set_new(ports, key, vsw_stats_to_json(&p->stats));
	}
	if (want && !json_object_size(ports)) {
		json_decref(ports);
		return vsw_ctl_error("no such port");
	}
	return json_pack("{s:b, s:o, s:o, s:I, s:I, s:I, s:I}", "ok", 1, "ports", ports,
			 "total", vsw_stats_to_json(&total),
			 "flooded", (json_int_t)s->sw->flooded,
			 "fdb_entries", (json_int_t)s->sw->fdb.count,
			 "fdb_full_drops", (json_int_t)s->sw->fdb.full_drops,
			 "fdb_moves", (json_int_t)s->sw->fdb.moves);
}

static json_t *cmd_shutdown(struct vsw_server *s, json_t *req)
{
	s->stop = true;
	return reply_ok();
}

/* ---- control dispatch ---- */

struct vsw_cmd {
	const char *name;
	json_t *(*fn)(struct vsw_server *s, json_t *req);
};

static const struct vsw_cmd vsw_cmds[] = {
	{ "info", cmd_info },
	{ "stats", cmd_stats },
	{ "ports", cmd_ports },
	{ "fdb", cmd_fdb },
	{ "fdb-flush", cmd_fdb_flush },
	{ "groups", cmd_groups },
	{ "group-create", cmd_group_create },
	{ "group-modify", cmd_group_modify },
	{ "group-delete", cmd_group_delete },
	{ "port-set", cmd_port_set },
	{ "shutdown", cmd_shutdown },
};

void vsw_ctl_request(struct vsw_server *s, struct vsw_conn *c, const char *msg, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(msg, len, 0, &jerr), *reply = NULL;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	int fds[3], nfds = 0;

	if (!req || !cmd) {
		reply = vsw_ctl_error("request must be a JSON object with \"cmd\"%s%s",
				  req ? "" : ": ", req ? "" : jerr.text);
	} else if (!strcmp(cmd, "attach")) {
		reply = vsw_conn_attach(s, c, req, fds, &nfds);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(vsw_cmds) && !reply; i++)
			if (!strcmp(cmd, vsw_cmds[i].name))
				reply = vsw_cmds[i].fn(s, req);
		if (!reply)
			reply = vsw_ctl_error("unknown command '%s'", cmd);
	}
	json_decref(req);
	send_json(c, reply, fds, nfds);
	/* The peer has its own copies of the port's fds now. */
	if (nfds)
		close(fds[0]);   /* the mapping stays; the eventfds are ours too */
}
