// SPDX-License-Identifier: GPL-2.0-only
/*
 * vireo switch: run a virtual switch (`vireo switch --name NAME ...`), talk
 * to a running one (`vireo switch ctl`), bridge a tap interface onto one
 * of its ports (`vireo switch attach`), or measure it (`vireo switch perf`).
 * See man/vireo-switch.1 and docs/switch.md.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "net/tap.h"
#include "net/vsw_json.h"
#include "net/vsw_perf.h"
#include "net/vsw_server.h"
#include "vireo/log.h"
#include "vireo/net.h"

#define CTL_REPLY_MAX (4 << 20)

static void switch_usage(FILE *f)
{
	fprintf(f,
		"usage: vireo switch --name NAME [--socket PATH] [--uplink tap:IFNAME | --uplink nat]\n"
		"                    [--uplink-vlan VID | --uplink-trunk VIDS [--uplink-native VID]]\n"
		"                    [--hostfwd tcp:HADDR:HPORT-GADDR:GPORT]... [--group SPEC]...\n"
		"                    [--aging SECONDS] [--verbose]\n"
		"       vireo switch ctl (--name NAME | --socket PATH) [--json] COMMAND [ARGS]\n"
		"           info | ports | stats | fdb | fdb-flush | groups | group-create SPEC |\n"
		"           group-modify SPEC | group-delete NAME |\n"
		"           port-set PORT [group=NAME] [promisc=on|off] | shutdown | raw JSON\n"
		"       vireo switch attach (--name NAME | --socket PATH) --tap IFNAME\n"
		"                    [--group NAME] [--mac MAC] [--promisc] [--port-name NAME]\n"
		"       vireo switch perf (--name NAME | --socket PATH | --veth IFA,IFB | --core)\n"
		"                    [--size BYTES] [--seconds N] [--transport shm|seqpacket]\n"
		"                    [--group NAME]\n"
		"SPEC: NAME[,vlan=VID][,trunk=VIDS][,native=VID][,rate=MBPS][,promisc][,mac-lock]\n"
		"      (VIDS: 10:20:100-110)\n");
}

/* --name or --socket to a socket path. */
static int resolve_socket(const char *name, const char *sock, char *buf, size_t len)
{
	if (sock) {
		snprintf(buf, len, "%s", sock);
		return 0;
	}
	if (!name) {
		fprintf(stderr, "vireo switch: give --name NAME or --socket PATH\n");
		return -EINVAL;
	}
	return vsw_socket_path(name, buf, len);
}

/* ---- vireo switch --name NAME: run ---- */

static int uplink_group(struct vsw_server_config *cfg, const char *vlan, const char *trunk,
			const char *native)
{
	char spec[512], err[256];

	if (trunk) {
		char list[400];

		snprintf(list, sizeof(list), "%s", trunk);
		for (char *p = list; *p; p++)
			if (*p == ',')
				*p = ':';
		snprintf(spec, sizeof(spec), "uplink,trunk=%s%s%s", list,
			 native ? ",native=" : "", native ? native : "");
	} else {
		snprintf(spec, sizeof(spec), "uplink,vlan=%s", vlan ? vlan : "1");
	}
	if (vsw_group_parse(spec, &cfg->uplink_group, err, sizeof(err))) {
		fprintf(stderr, "vireo switch: uplink VLANs: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static int parse_uplink(struct vsw_server_config *cfg, const char *arg)
{
	if (!strcmp(arg, "nat")) {
		cfg->uplink = VSW_UPLINK_NAT;
		return 0;
	}
	if (!strncmp(arg, "tap:", 4) && arg[4]) {
		cfg->uplink = VSW_UPLINK_TAP;
		cfg->tap_ifname = arg + 4;
		return 0;
	}
	fprintf(stderr, "vireo switch: --uplink wants tap:IFNAME or nat, not '%s'\n", arg);
	return -EINVAL;
}

static int add_group(struct vsw_server_config *cfg, const char *spec)
{
	char err[256];

	if (cfg->ngroups == VSW_GROUPS_MAX) {
		fprintf(stderr, "vireo switch: too many --group\n");
		return -EINVAL;
	}
	if (vsw_group_parse(spec, &cfg->groups[cfg->ngroups], err, sizeof(err))) {
		fprintf(stderr, "vireo switch: %s\n", err);
		return -EINVAL;
	}
	if (!strcmp(cfg->groups[cfg->ngroups].name, "default") ||
	    !strcmp(cfg->groups[cfg->ngroups].name, "uplink")) {
		fprintf(stderr, "vireo switch: group names 'default' and 'uplink' are reserved "
			"(set the uplink's VLANs with --uplink-vlan/--uplink-trunk)\n");
		return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->ngroups; i++)
		if (!strcmp(cfg->groups[i].name, cfg->groups[cfg->ngroups].name)) {
			fprintf(stderr, "vireo switch: group '%s' given twice\n", cfg->groups[i].name);
			return -EINVAL;
		}
	cfg->ngroups++;
	return 0;
}

static int add_hostfwd(struct vsw_server_config *cfg, const char *spec)
{
	if (cfg->nat.nfwd == NAT_HOSTFWD_MAX ||
	    nat_fwd_parse(spec, &cfg->nat.fwd[cfg->nat.nfwd])) {
		fprintf(stderr, "vireo switch: bad --hostfwd '%s' (tcp:HADDR:HPORT-GADDR:GPORT)\n",
			spec);
		return -EINVAL;
	}
	cfg->nat.nfwd++;
	return 0;
}

static int switch_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "uplink-vlan", required_argument, NULL, 'V' },
		{ "uplink-trunk", required_argument, NULL, 'T' },
		{ "uplink-native", required_argument, NULL, 'N' },
		{ "hostfwd", required_argument, NULL, 'f' },
		{ "group", required_argument, NULL, 'g' },
		{ "aging", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vsw_server_config *cfg = calloc(1, sizeof(*cfg));
	const char *vlan = NULL, *trunk = NULL, *native = NULL;
	int c, err = 0;

	if (!cfg)
		return 1;
	cfg->aging_ns = VSW_AGING_DEFAULT_NS;
	while (!err && (c = getopt_long(argc, argv, "n:s:u:f:g:a:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': cfg->name = optarg; break;
		case 's': cfg->socket_path = optarg; break;
		case 'u': err = parse_uplink(cfg, optarg); break;
		case 'V': vlan = optarg; break;
		case 'T': trunk = optarg; break;
		case 'N': native = optarg; break;
		case 'f': err = add_hostfwd(cfg, optarg); break;
		case 'g': err = add_group(cfg, optarg); break;
		case 'a': cfg->aging_ns = strtoull(optarg, NULL, 10) * 1000000000ULL; break;
		case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
		case 'h': switch_usage(stdout); free(cfg); return 0;
		default: err = -EINVAL; break;
		}
	}
	if (!err && (!cfg->name || !*cfg->name || strlen(cfg->name) >= VSW_NAME_MAX ||
		     strchr(cfg->name, '/'))) {
		fprintf(stderr, "vireo switch: --name NAME is required (up to %d characters, no '/')\n",
			VSW_NAME_MAX - 1);
		err = -EINVAL;
	}
	if (!err && cfg->nat.nfwd && cfg->uplink != VSW_UPLINK_NAT) {
		fprintf(stderr, "vireo switch: --hostfwd needs --uplink nat\n");
		err = -EINVAL;
	}
	if (!err && trunk && cfg->uplink == VSW_UPLINK_NAT) {
		/* slirp speaks untagged Ethernet: tagged frames would only be dropped. */
		fprintf(stderr, "vireo switch: the NAT uplink carries one VLAN; use --uplink-vlan\n");
		err = -EINVAL;
	}
	if (!err)
		err = uplink_group(cfg, vlan, trunk, native);
	if (err) {
		fprintf(stderr, "see 'vireo switch --help'\n");
		free(cfg);
		return 2;
	}
	err = vsw_server_run(cfg);
	free(cfg);
	return err ? 1 : 0;
}

/* ---- vireo switch ctl ---- */

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Send one request, return the reply (NULL on error, message printed). */
static json_t *ctl_call(const char *path, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT), *buf = NULL;
	json_t *reply = NULL;
	ssize_t n;
	int fd;

	fd = ctl_connect(path);
	if (fd < 0) {
		fprintf(stderr, "vireo switch: cannot reach switch at %s: %s\n", path, strerror(-fd));
		goto out;
	}
	buf = malloc(CTL_REPLY_MAX);
	if (!text || !buf || send(fd, text, strlen(text), MSG_NOSIGNAL) < 0)
		goto out_close;
	n = recv(fd, buf, CTL_REPLY_MAX, 0);
	if (n > 0)
		reply = json_loadb(buf, (size_t)n, 0, NULL);
	if (!reply)
		fprintf(stderr, "vireo switch: no reply from %s\n", path);
out_close:
	close(fd);
out:
	free(buf);
	free(text);
	return reply;
}

static void print_ports(const json_t *reply)
{
	const json_t *p;
	size_t i;

	printf("%-4s %-12s %-17s %-10s %-9s %-3s %10s %10s %8s\n", "ID", "NAME", "MAC", "GROUP",
	       "TRANSPORT", "PRM", "RX", "TX", "DROPS");
	json_array_foreach(json_object_get(reply, "ports"), i, p) {
		json_t *st = json_object_get(p, "stats");
		json_int_t drops = 0;
		const char *k;
		json_t *v;

		json_object_foreach(st, k, v)
			if (!strncmp(k, "rx_", 3) && strcmp(k, "rx_frames") && strcmp(k, "rx_bytes"))
				drops += json_integer_value(v);
		drops += json_integer_value(json_object_get(st, "tx_drop"));
		printf("%-4lld %-12s %-17s %-10s %-9s %-3s %10lld %10lld %8lld\n",
		       (long long)json_integer_value(json_object_get(p, "id")),
		       json_string_value(json_object_get(p, "name")),
		       json_is_string(json_object_get(p, "mac")) ?
		       json_string_value(json_object_get(p, "mac")) : "-",
		       json_string_value(json_object_get(p, "group")),
		       json_string_value(json_object_get(p, "transport")),
		       json_is_true(json_object_get(p, "promiscuous")) ? "yes" : "no",
		       (long long)json_integer_value(json_object_get(st, "rx_frames")),
		       (long long)json_integer_value(json_object_get(st, "tx_frames")),
		       (long long)drops);
	}
}

static void print_fdb(const json_t *reply)
{
	const json_t *e;
	size_t i;

	printf("%-17s %-5s %-5s %s\n", "MAC", "VLAN", "PORT", "AGE");
	json_array_foreach(json_object_get(reply, "fdb"), i, e)
		printf("%-17s %-5lld %-5lld %.1fs\n", json_string_value(json_object_get(e, "mac")),
		       (long long)json_integer_value(json_object_get(e, "vlan")),
		       (long long)json_integer_value(json_object_get(e, "port")),
		       json_real_value(json_object_get(e, "age")));
}

static json_t *ctl_group_request(const char *cmd, const char *spec)
{
	struct vsw_group g;
	char err[256];
	json_t *req;

	if (vsw_group_parse(spec, &g, err, sizeof(err))) {
		fprintf(stderr, "vireo switch: %s\n", err);
		return NULL;
	}
	req = vsw_group_to_json(&g);
	json_object_del(req, "ports");
	json_object_del(req, "mode");
	json_object_set_new(req, "cmd", json_string(cmd));
	return req;
}

static json_t *ctl_port_set_request(int argc, char **argv)
{
	json_t *req = json_pack("{s:s, s:i}", "cmd", "port-set", "port",
				(json_int_t)strtol(argv[0], NULL, 10));

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "group=", 6)) {
			json_object_set_new(req, "group", json_string(argv[i] + 6));
		} else if (!strncmp(argv[i], "promisc=", 8)) {
			json_object_set_new(req, "promiscuous", json_boolean(!strcmp(argv[i] + 8, "on")));
		} else {
			fprintf(stderr, "vireo switch: port-set: bad argument '%s'\n", argv[i]);
			json_decref(req);
			return NULL;
		}
	}
	return req;
}

static json_t *ctl_request(int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "raw") && argc == 2)
		return json_loads(argv[1], 0, NULL);
	if ((!strcmp(cmd, "group-create") || !strcmp(cmd, "group-modify")) && argc == 2)
		return ctl_group_request(cmd, argv[1]);
	if (!strcmp(cmd, "group-delete") && argc == 2)
		return json_pack("{s:s, s:s}", "cmd", cmd, "name", argv[1]);
	if (!strcmp(cmd, "port-set") && argc >= 2)
		return ctl_port_set_request(argc - 1, argv + 1);
	if (argc == 1)
		return json_pack("{s:s}", "cmd", cmd);
	fprintf(stderr, "vireo switch ctl: bad arguments for '%s'\n", cmd);
	return NULL;
}

static int switch_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	const char *name = NULL, *sock = NULL;
	char path[4200];
	bool raw = false;
	json_t *req, *reply;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+n:s:j", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 's': sock = optarg; break;
		case 'j': raw = true; break;
		default: switch_usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		switch_usage(stderr);
		return 2;
	}
	if (resolve_socket(name, sock, path, sizeof(path)))
		return 2;
	req = ctl_request(argc - optind, argv + optind);
	if (!req)
		return 2;
	reply = ctl_call(path, req);
	json_decref(req);
	if (!reply)
		return 1;
	rc = json_is_true(json_object_get(reply, "ok")) ? 0 : 1;
	if (rc)
		fprintf(stderr, "vireo switch: %s\n",
			json_string_value(json_object_get(reply, "error")));
	else if (!raw && !strcmp(argv[optind], "ports"))
		print_ports(reply);
	else if (!raw && !strcmp(argv[optind], "fdb"))
		print_fdb(reply);
	else
		json_dumpf(reply, stdout, JSON_INDENT(2)), putchar('\n');
	json_decref(reply);
	return rc;
}

/* ---- vireo switch attach: a tap interface as a switch port ---- */

/* Copy frames one way until `from` has nothing; -EPIPE when a side died. */
static int pump(struct net_port *port, int tap, bool to_tap, uint8_t *buf)
{
	for (int i = 0; i < 256; i++) {
		ssize_t n;

		if (to_tap) {
			n = net_port_recv(port, buf, NET_FRAME_MAX);
			if (n == -EAGAIN)
				return 0;
			if (n < 0)
				return (int)n;
			/*
			 * A tap that is down (for instance while it moves to
			 * another namespace) refuses frames with EIO: drop
			 * them, as a NIC without link would.
			 */
			if (write(tap, buf, (size_t)n) < 0 && errno == EBADF)
				return -errno;
		} else {
			n = read(tap, buf, NET_FRAME_MAX);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR || errno == EIO ? 0 : -errno;
			if (net_port_send(port, buf, (size_t)n) == -EPIPE)
				return -EPIPE;
		}
	}
	return 0;
}

static int attach_loop(struct net_port *port, int tap)
{
	uint8_t buf[NET_FRAME_MAX];
	int err = 0;

	while (!err) {
		struct pollfd pf[2] = { { .fd = net_port_fd(port), .events = POLLIN },
					{ .fd = tap, .events = POLLIN } };

		err = pump(port, tap, true, buf);
		if (err)
			break;
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if (pf[1].revents)
			err = pump(port, tap, false, buf);
	}
	return err;
}

static int switch_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "tap", required_argument, NULL, 't' },
		{ "group", required_argument, NULL, 'g' },
		{ "mac", required_argument, NULL, 'm' },
		{ "promisc", no_argument, NULL, 'p' },
		{ "port-name", required_argument, NULL, 'P' },
		{ 0 }
	};
	const char *name = NULL, *sock = NULL, *tapname = NULL, *group = NULL, *mac = NULL;
	const char *pname = NULL;
	char path[4200], spec[8192], macs[NET_MAC_STRLEN];
	struct net_port *port;
	bool promisc = false;
	uint8_t m[6];
	int c, tap, err;

	while ((c = getopt_long(argc, argv, "n:s:t:g:m:pP:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 's': sock = optarg; break;
		case 't': tapname = optarg; break;
		case 'g': group = optarg; break;
		case 'm': mac = optarg; break;
		case 'p': promisc = true; break;
		case 'P': pname = optarg; break;
		default: switch_usage(stderr); return 2;
		}
	}
	if (!tapname || resolve_socket(name, sock, path, sizeof(path))) {
		switch_usage(stderr);
		return 2;
	}
	snprintf(spec, sizeof(spec), "switch=%s,name=%s%s%s%s%s%s", path, pname ? pname : tapname,
		 group ? ",group=" : "", group ? group : "", mac ? ",mac=" : "", mac ? mac : "",
		 promisc ? ",promisc" : "");
	err = net_port_open(spec, &port);
	if (err)
		return 1;
	net_port_mac(port, m);
	tap = tap_open(tapname);
	if (tap < 0) {
		log_errno(-tap, "switch attach: tap %s", tapname);
		net_port_close(port);
		return 1;
	}
	/* The host stack behind the tap is the endpoint: give it the port's MAC. */
	if ((err = tap_set_mac(tapname, m)) != 0)
		log_errno(-err, "switch attach: set MAC of %s", tapname);
	printf("attached %s to port %u, MAC %s\n", tapname, net_port_id(port),
	       net_mac_format(m, macs));
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	err = attach_loop(port, tap);
	if (err && err != -EPIPE)
		log_errno(-err, "switch attach");
	close(tap);
	net_port_close(port);
	return err == -EPIPE ? 0 : 1;
}

/* ---- vireo switch perf ---- */

static int switch_perf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'S' },
		{ "seconds", required_argument, NULL, 't' },
		{ "transport", required_argument, NULL, 'T' },
		{ "veth", required_argument, NULL, 'v' },
		{ "group", required_argument, NULL, 'g' },
		{ "core", no_argument, NULL, 'c' },
		{ 0 }
	};
	const char *name = NULL, *sock = NULL, *transport = "shm", *veth = NULL, *group = NULL;
	bool core = false;
	struct vsw_perf_result r;
	char path[4200];
	double seconds = 3;
	long size = 64;
	int c, err;

	while ((c = getopt_long(argc, argv, "n:s:S:t:T:v:g:c", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 's': sock = optarg; break;
		case 'S': size = strtol(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'T': transport = optarg; break;
		case 'v': veth = optarg; break;
		case 'g': group = optarg; break;
		case 'c': core = true; break;
		default: switch_usage(stderr); return 2;
		}
	}
	if (core) {
		transport = "core";
		err = vsw_perf_core((size_t)size, seconds, &r);
	} else if (veth) {
		char a[IF_NAMESIZE * 2 + 2], *b;

		snprintf(a, sizeof(a), "%s", veth);
		b = strchr(a, ',');
		if (!b) {
			fprintf(stderr, "vireo switch perf: --veth IFA,IFB\n");
			return 2;
		}
		*b++ = '\0';
		transport = "veth";
		err = vsw_perf_veth(a, b, (size_t)size, seconds, &r);
	} else if (resolve_socket(name, sock, path, sizeof(path))) {
		return 2;
	} else {
		/* Sizes without FCS: 64 B on the wire is a 60 B frame here. */
		err = vsw_perf_run(path, group, (size_t)size, seconds, transport, &r);
	}
	if (err) {
		fprintf(stderr, "vireo switch perf: %s\n", strerror(-err));
		return 1;
	}
	printf("size=%ld transport=%s seconds=%.2f sent=%llu received=%llu "
	       "full=%llu fps=%.0f gbps=%.3f\n", size, transport, r.seconds,
	       (unsigned long long)r.sent, (unsigned long long)r.received,
	       (unsigned long long)r.send_full, r.fps, r.gbps);
	return 0;
}

int cmd_switch(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return switch_ctl(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "attach"))
		return switch_attach(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "perf"))
		return switch_perf(argc - 1, argv + 1);
	if (argc < 2) {
		switch_usage(stderr);
		return 2;
	}
	return switch_run(argc, argv);
}
