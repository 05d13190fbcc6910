// SPDX-License-Identifier: GPL-2.0-only
/*
 * A switch process and net_port clients: frames over shared-memory rings
 * and SOCK_SEQPACKET, MAC assignment and duplicates, bad input counted,
 * disconnect clean-up, and the control socket staying responsive while a
 * client floods.
 */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vsw_test.h"
#include "net/ring.h"
#include "net/vsw_json.h"
#include "net/vsw_server.h"
#include "vireo/net.h"

struct fixture {
	char dir[64];
	char path[128];
	pid_t pid;
};

static int setup(void **state)
{
	static struct vsw_server_config cfg;
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[128];

	strcpy(fx->dir, "/tmp/vireo-test-port-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	setenv("VIREO_RUN_DIR", fx->dir, 1);
	snprintf(fx->path, sizeof(fx->path), "%s/sw.sock", fx->dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "utest";
	cfg.socket_path = fx->path;
	cfg.aging_ns = 300ULL * 1000000000ULL;
	if (vsw_group_parse("locked,vlan=1,mac-lock", &cfg.groups[0], err, sizeof(err)))
		return -1;
	cfg.ngroups = 1;
	fx->pid = fork();
	if (fx->pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(1);
		_exit(vsw_server_run(&cfg) ? 1 : 0);
	}
	for (int i = 0; i < 200 && access(fx->path, F_OK); i++)
		usleep(10000);
	*state = fx;
	return access(fx->path, F_OK);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];
	int st;

	kill(fx->pid, SIGTERM);
	waitpid(fx->pid, &st, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	if (system(cmd))
		return -1;
	free(fx);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int connect_ctl(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static json_t *ctl(const char *path, const char *req)
{
	static char buf[1 << 20];
	int fd = connect_ctl(path);
	ssize_t n;

	assert_true(send(fd, req, strlen(req), 0) > 0);
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	assert_true(n > 0);
	return json_loadb(buf, (size_t)n, 0, NULL);
}

static json_t *port_stats(const char *path, uint32_t id)
{
	json_t *r = ctl(path, "{\"cmd\":\"ports\"}"), *p, *out = NULL;
	size_t i;

	json_array_foreach(json_object_get(r, "ports"), i, p)
		if (json_integer_value(json_object_get(p, "id")) == id)
			out = json_deep_copy(json_object_get(p, "stats"));
	json_decref(r);
	return out;
}

static size_t nports(const char *path)
{
	json_t *r = ctl(path, "{\"cmd\":\"ports\"}");
	size_t n = json_array_size(json_object_get(r, "ports"));

	json_decref(r);
	return n;
}

/* Receive with a deadline, through the fd, as an event loop would. */
static ssize_t recv_wait(struct net_port *p, uint8_t *buf, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;

	do {
		struct pollfd pf = { .fd = net_port_fd(p), .events = POLLIN };
		ssize_t n = net_port_recv(p, buf, NET_FRAME_MAX);

		if (n != -EAGAIN)
			return n;
		poll(&pf, 1, 10);
	} while (now_ns() < end);
	return -EAGAIN;
}

static void open_port(struct fixture *fx, const char *opts, struct net_port **p)
{
	char spec[256];

	snprintf(spec, sizeof(spec), "switch=%s%s", fx->path, opts);
	assert_int_equal(net_port_open(spec, p), 0);
}

static void exchange(struct net_port *a, struct net_port *b)
{
	uint8_t f[NET_FRAME_MAX], ma[6], mb[6];
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	net_port_mac(a, ma);
	net_port_mac(b, mb);
	while (recv_wait(a, f, 50) > 0 || recv_wait(b, f, 50) > 0)
		;       /* drop what earlier exchanges flooded here */
	frame_build(f, bcast, ma, -1, 60);
	assert_int_equal(net_port_send(a, f, 60), 0);
	assert_int_equal(recv_wait(b, f, 2000), 60);
	assert_memory_equal(f + 6, ma, 6);
	frame_build(f, ma, mb, -1, 1514);
	assert_int_equal(net_port_send(b, f, 1514), 0);
	assert_int_equal(recv_wait(a, f, 2000), 1514);
	assert_memory_equal(f, ma, 6);
	assert_int_equal(f[1000], (uint8_t)1000);
}

static void test_shm_and_seqpacket(void **state)
{
	struct fixture *fx = *state;
	struct net_port *a, *b, *c;
	uint8_t ma[6], mb[6];

	open_port(fx, ",name=a", &a);
	open_port(fx, ",name=b", &b);
	open_port(fx, ",name=c,transport=seqpacket", &c);
	net_port_mac(a, ma);
	net_port_mac(b, mb);
	assert_int_equal(ma[0], NET_MAC_PREFIX0);
	assert_memory_not_equal(ma, mb, 6);
	exchange(a, b);
	exchange(a, c);
	exchange(c, b);
	/* Busy-poll mode: same frames, no wake-ups asked for. */
	net_port_set_busy_poll(b, true);
	exchange(a, b);
	net_port_set_busy_poll(b, false);
	assert_int_equal(net_port_send(a, ma, NET_FRAME_MAX + 1), -EMSGSIZE);
	/* A batch: all queued, one notification, all delivered in order. */
	{
		uint8_t f[3][100], got[NET_FRAME_MAX];
		struct iovec iov[4];

		for (int i = 0; i < 3; i++) {
			frame_build(f[i], mb, ma, -1, 100);
			f[i][50] = (uint8_t)i;
			iov[i] = (struct iovec){ f[i], 60 + i };
		}
		iov[3] = (struct iovec){ f[0], NET_FRAME_MAX + 1 };
		assert_int_equal(net_port_send_batch(a, iov, 3), 3);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(recv_wait(b, got, 2000), 60 + i);
			assert_int_equal(got[50], i);
		}
		assert_int_equal(net_port_send_batch(a, iov + 3, 1), -EMSGSIZE);
		assert_int_equal(net_port_send_batch(c, iov, 2), 2);
		assert_int_equal(recv_wait(b, got, 2000), 60);
		assert_int_equal(recv_wait(b, got, 2000), 61);
	}
	net_port_close(a);
	net_port_close(b);
	net_port_close(c);
}

static void test_mac_assignment(void **state)
{
	struct fixture *fx = *state;
	struct net_port *a, *b;
	uint8_t m[6];

	open_port(fx, ",mac=02:aa:00:00:00:01", &a);
	net_port_mac(a, m);
	assert_memory_equal(m, "\x02\xaa\x00\x00\x00\x01", 6);
	/* A duplicate is refused with a clear message (logged) and EADDRINUSE. */
	assert_int_equal(net_port_open("switch=x", &b), -ENOENT);
	{
		char spec[256];

		snprintf(spec, sizeof(spec), "switch=%s,mac=02:aa:00:00:00:01", fx->path);
		assert_int_equal(net_port_open(spec, &b), -EADDRINUSE);
		snprintf(spec, sizeof(spec), "switch=%s,mac=03:aa:00:00:00:01", fx->path);
		assert_int_equal(net_port_open(spec, &b), -EINVAL);
		snprintf(spec, sizeof(spec), "switch=%s,group=nope", fx->path);
		assert_int_equal(net_port_open(spec, &b), -ENOENT);
	}
	/* Freed when the port goes: the MAC can be used again. */
	net_port_close(a);
	for (int i = 0; i < 100 && nports(fx->path) != 0; i++)
		usleep(10000);
	open_port(fx, ",mac=02:aa:00:00:00:01", &a);
	net_port_close(a);
}

static void test_bad_input_counted(void **state)
{
	struct fixture *fx = *state;
	struct net_port *a, *b;
	uint8_t f[4096] = { 0 }, m[6];
	json_t *st;
	int fd;

	open_port(fx, ",transport=seqpacket,group=locked", &a);
	open_port(fx, "", &b);
	net_port_mac(a, m);
	/* Raw garbage on the socket: runts and oversized frames. */
	fd = net_port_fd(a);
	assert_true(send(fd, f, 5, 0) == 5);
	assert_true(send(fd, f, 13, 0) == 13);
	frame_build(f, m, m, -1, 3000);
	memset(f, 0xff, 6);
	f[6] = 0x02;
	assert_true(send(fd, f, 3000, 0) == 3000);
	assert_true(send(fd, f, 1600, 0) == 1600);
	frame_build(f, m, m, 100, 100);         /* tagged on an access port */
	memset(f, 0xff, 6);
	assert_true(send(fd, f, 100, 0) == 100);
	frame_build(f, m, m, -1, 100);           /* forged source on a locked port */
	memset(f, 0xff, 6);
	f[11] ^= 1;
	assert_true(send(fd, f, 100, 0) == 100);
	f[11] ^= 1;                               /* and one good frame */
	assert_true(send(fd, f, 100, 0) == 100);
	assert_int_equal(recv_wait(b, f, 2000), 100);
	st = port_stats(fx->path, net_port_id(a));
	assert_non_null(st);
	assert_int_equal(json_integer_value(json_object_get(st, "rx_runt")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "rx_oversize")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "rx_bad_tag")), 1);
	assert_int_equal(json_integer_value(json_object_get(st, "rx_forged")), 1);
	assert_int_equal(json_integer_value(json_object_get(st, "rx_frames")), 1);
	json_decref(st);
	/* Only the good frame got through. */
	assert_int_equal(recv_wait(b, f, 100), -EAGAIN);
	net_port_close(a);
	net_port_close(b);
}

static void test_disconnect_cleanup(void **state)
{
	struct fixture *fx = *state;
	struct net_port *p[8];
	size_t base = nports(fx->path);
	json_t *r;

	for (int i = 0; i < 8; i++)
		open_port(fx, i % 2 ? "" : ",transport=seqpacket", &p[i]);
	assert_int_equal(nports(fx->path), base + 8);
	exchange(p[0], p[1]);
	for (int i = 0; i < 8; i++)
		net_port_close(p[i]);
	for (int i = 0; i < 100 && nports(fx->path) != 0; i++)
		usleep(10000);
	assert_int_equal(nports(fx->path), 0);
	r = ctl(fx->path, "{\"cmd\":\"info\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "fdb_entries")), 0);
	json_decref(r);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A child floods broadcast frames; control requests keep being answered. */
static void test_responsive_under_flood(void **state)
{
	struct fixture *fx = *state;
	struct net_port *a, *b;
	double worst = 0;
	int st, ready[2];
	pid_t pid;
	char c;

	open_port(fx, "", &b);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	if (pid == 0) {
		uint8_t f[64], m[6];
		double end = now_ms() + 1500;
		bool told = false;

		open_port(fx, "", &a);
		net_port_mac(a, m);
		memset(f, 0xff, 6);
		memcpy(f + 6, m, 6);
		while (now_ms() < end) {
			for (int i = 0; i < 1000; i++)
				if (net_port_send(a, f, 60) == -EPIPE)
					_exit(1);
			if (!told)
				told = write(ready[1], "r", 1) == 1;
		}
		_exit(0);
	}
	/* Start asking once the flood is on. */
	assert_int_equal(read(ready[0], &c, 1), 1);
	for (int i = 0; i < 20; i++) {
		double t = now_ms();
		json_t *r = ctl(fx->path, "{\"cmd\":\"info\"}");

		assert_true(json_is_true(json_object_get(r, "ok")));
		json_decref(r);
		worst = MAX(worst, now_ms() - t);
		usleep(20000);
	}
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	print_message("worst control latency under flood: %.2f ms\n", worst);
	assert_true(worst < 250);
	/* The victim port's ring overflowed: counted as tx_drop, not fatal. */
	{
		json_t *s = port_stats(fx->path, net_port_id(b));

		json_int_t tx = json_integer_value(json_object_get(s, "tx_frames"));
		json_int_t drop = json_integer_value(json_object_get(s, "tx_drop"));

		print_message("victim: %lld delivered, %lld dropped (ring full)\n",
			      (long long)tx, (long long)drop);
		assert_int_equal(tx, SHM_RING_SLOTS);
		assert_true(drop > 10000);
		json_decref(s);
	}
	net_port_close(b);
}

static void test_control_errors(void **state)
{
	struct fixture *fx = *state;
	json_t *r;

	r = ctl(fx->path, "not json");
	assert_false(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	r = ctl(fx->path, "{\"cmd\":\"frobnicate\"}");
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "unknown command"));
	json_decref(r);
	r = ctl(fx->path, "{\"cmd\":\"group-create\",\"name\":\"g\",\"vlan\":9999}");
	assert_false(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	r = ctl(fx->path, "{\"cmd\":\"group-create\",\"name\":\"g\",\"trunk\":[10,\"20-30\"],"
		"\"native\":10,\"rate_mbps\":50}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	r = ctl(fx->path, "{\"cmd\":\"group-modify\",\"name\":\"g\",\"promiscuous\":true}");
	assert_true(json_is_true(json_object_get(json_object_get(r, "group"), "promiscuous")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "group"), "native")), 10);
	json_decref(r);
	r = ctl(fx->path, "{\"cmd\":\"group-delete\",\"name\":\"g\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
}


/* Attach by hand, as a hostile client would, and get the ring's fds. */
static int raw_attach(struct fixture *fx, int fds[3], struct shm_area **area, uint32_t *id)
{
	const char *req = "{\"cmd\":\"attach\",\"transport\":\"shm\"}";
	char buf[4096], cbuf[CMSG_SPACE(sizeof(int) * 3)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int sock = connect_ctl(fx->path);
	ssize_t n;
	json_t *r;

	assert_true(send(sock, req, strlen(req), 0) > 0);
	n = recvmsg(sock, &mh, 0);
	assert_true(n > 0);
	r = json_loadb(buf, (size_t)n, 0, NULL);
	*id = (uint32_t)json_integer_value(json_object_get(r, "port"));
	json_decref(r);
	memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int) * 3);
	*area = mmap(NULL, sizeof(**area), PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	assert_true(*area != MAP_FAILED);
	/* The switch sealed the memfd: it cannot be shrunk under it. */
	assert_int_equal(ftruncate(fds[0], 4096), -1);
	return sock;
}

static void kick(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static bool port_present(struct fixture *fx, uint32_t id)
{
	json_t *st = port_stats(fx->path, id);

	json_decref(st);
	return st != NULL;
}

static void test_hostile_ring(void **state)
{
	struct fixture *fx = *state;
	struct shm_area *area;
	int fds[3], sock;
	uint32_t id, len = 60000, ok_len = 60;
	json_t *st;

	/* A slot length beyond the slot: counted and skipped, port stays. */
	sock = raw_attach(fx, fds, &area, &id);
	memcpy(area->to_switch.slot[0], &len, 4);
	memcpy(area->to_switch.slot[1], &ok_len, 4);
	memset(area->to_switch.slot[1] + 4, 0xff, 6);
	memcpy(area->to_switch.slot[1] + 10, "\x02\x00\x00\x00\x00\x77", 6);
	atomic_store(&area->to_switch.prod, 2);
	kick(fds[1]);
	for (int i = 0; i < 100; i++) {
		st = port_stats(fx->path, id);
		if (json_integer_value(json_object_get(st, "rx_frames")) == 1)
			break;
		json_decref(st);
		st = NULL;
		usleep(10000);
	}
	assert_non_null(st);
	assert_int_equal(json_integer_value(json_object_get(st, "rx_oversize")), 1);
	json_decref(st);
	/* A producer index far ahead: the port is cut off, the switch lives. */
	atomic_store(&area->to_switch.prod, 2 + 5 * SHM_RING_SLOTS);
	kick(fds[1]);
	for (int i = 0; i < 100 && port_present(fx, id); i++)
		usleep(10000);
	assert_false(port_present(fx, id));
	/* Scribbling on the ring the switch produces into is harmless too. */
	munmap(area, sizeof(*area));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(sock);
	sock = raw_attach(fx, fds, &area, &id);
	atomic_store(&area->to_port.cons, 0xdeadbeef);
	atomic_store(&area->to_port.waiting, 1);
	{
		struct net_port *p;
		uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x78 };

		open_port(fx, "", &p);
		for (int i = 0; i < 2000; i++)
			assert_true(net_port_send(p, f, sizeof(f)) != -EPIPE);
		usleep(100000);
		net_port_close(p);
	}
	st = port_stats(fx->path, id);
	assert_non_null(st);
	json_decref(st);
	munmap(area, sizeof(*area));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(sock);
}


/* In a private network namespace: open a tap port, check it, close it. */
static int tap_port_check(void)
{
	struct net_port *p, *q;
	uint8_t mac[6], f[NET_FRAME_MAX];
	char spec[64];

	if (unshare(CLONE_NEWNET))
		return 1;
	if (net_port_open("tap=vtu0", &p))
		return 2;
	net_port_mac(p, mac);
	if (mac[0] != NET_MAC_PREFIX0 || net_port_fd(p) < 0)
		return 3;
	if (net_port_recv(p, f, sizeof(f)) != -EAGAIN)
		return 4;
	/* Its MAC is taken on the host now. */
	snprintf(spec, sizeof(spec), "tap=vtv0,mac=%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	if (net_port_open(spec, &q) != -EADDRINUSE)
		return 5;
	net_port_close(p);
	return 0;
}

/* A VM port backed straight by a tap device (root only). */
static void test_net_port_tap(void **state)
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		print_message("skipped: tap devices need root\n");
		skip();
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(tap_port_check());
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * Random scribbles on both rings of several ports, with kicks, while an
 * honest port keeps talking: ports may be cut off, the switch must live
 * and keep switching.
 */
static void test_hostile_ring_random(void **state)
{
	struct fixture *fx = *state;
	uint64_t seed = 0x5eed;
	struct net_port *good, *peer;

	open_port(fx, ",name=good", &good);
	open_port(fx, ",name=peer", &peer);
	for (int round = 0; round < 20; round++) {
		struct shm_area *area;
		int fds[3], sock;
		uint32_t id;

		sock = raw_attach(fx, fds, &area, &id);
		for (int i = 0; i < 200; i++) {
			uint32_t v, slot;

			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			v = (uint32_t)seed;
			slot = (uint32_t)(seed >> 32) % SHM_RING_SLOTS;
			switch (i % 4) {
			case 0:
				atomic_store(&area->to_switch.prod, v % (2 * SHM_RING_SLOTS));
				break;
			case 1:
				memcpy(area->to_switch.slot[slot], &v, 4);
				memset(area->to_switch.slot[slot] + 4, (int)v, 64);
				break;
			case 2:
				atomic_store(&area->to_port.cons, v);
				atomic_store(&area->to_port.waiting, v & 1);
				break;
			default:
				kick(fds[1]);
				break;
			}
		}
		munmap(area, sizeof(*area));
		for (int i = 0; i < 3; i++)
			close(fds[i]);
		close(sock);
		exchange(good, peer);
	}
	net_port_close(good);
	net_port_close(peer);
	for (int i = 0; i < 100 && nports(fx->path) != 0; i++)
		usleep(10000);
	assert_int_equal(nports(fx->path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shm_and_seqpacket),
		cmocka_unit_test(test_mac_assignment),
		cmocka_unit_test(test_bad_input_counted),
		cmocka_unit_test(test_disconnect_cleanup),
		cmocka_unit_test(test_responsive_under_flood),
		cmocka_unit_test(test_control_errors),
		cmocka_unit_test(test_hostile_ring),
		cmocka_unit_test(test_hostile_ring_random),
		cmocka_unit_test(test_net_port_tap),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
