// SPDX-License-Identifier: GPL-2.0-only
/*
 * The NAT (libslirp) with synthetic frames, no root: DHCP offers a lease
 * with router and DNS, ARP answers for the gateway, and a host port
 * forward turns a connection on the host's loopback into a TCP SYN to the
 * endpoint.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "vsw_test.h"
#include "net/nat.h"
#include "vireo/net.h"

static const uint8_t guest_mac[6] = { 0x02, 0x56, 0x52, 0x00, 0x00, 0x01 };

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 + UDP 68->67 + BOOTP DISCOVER (RFC 2131, 2132). */
static size_t dhcp_discover(uint8_t *f)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *bootp = udp + 8;
	size_t blen = 300, ulen = 8 + blen, iplen = 20 + ulen;
	uint16_t c;

	memset(f, 0, 14 + iplen);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[1] = 68;
	udp[3] = 67;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	bootp[0] = 1;
	bootp[1] = 1;
	bootp[2] = 6;
	bootp[4] = 0x12;
	memcpy(bootp + 28, guest_mac, 6);
	memcpy(bootp + 236, "\x63\x82\x53\x63", 4);
	memcpy(bootp + 240, "\x35\x01\x01\xff", 4);
	return 14 + iplen;
}

/* Wait for a frame from the NAT matching `want` (NULL: any). */
static ssize_t nat_recv(struct nat *n, uint8_t *buf, size_t cap,
			bool (*want)(const uint8_t *f, size_t len))
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd pf = { .fd = nat_fd(n), .events = POLLIN };
		ssize_t len;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		len = recv(nat_fd(n), buf, cap, 0);
		if (len > 0 && (!want || want(buf, (size_t)len)))
			return len;
	}
	return -1;
}

static bool is_dhcp_reply(const uint8_t *f, size_t len)
{
	return len > 14 + 20 + 8 + 240 && f[12] == 0x08 && f[14 + 9] == 17 && f[14 + 20 + 1] == 67;
}

/* Find DHCP option `code` in the reply; NULL if absent. */
static const uint8_t *dhcp_opt(const uint8_t *f, size_t len, uint8_t code)
{
	const uint8_t *p = f + 14 + 20 + 8 + 240, *end = f + len;

	while (p + 2 <= end && *p != 255) {
		if (*p == 0) {
			p++;
			continue;
		}
		if (*p == code)
			return p + 2;
		p += 2 + p[1];
	}
	return NULL;
}

static void test_dhcp(void **state)
{
	struct nat_config cfg = { 0 };
	struct nat *n;
	uint8_t f[2048];
	size_t len = dhcp_discover(f);
	ssize_t r;
	const uint8_t *o;

	assert_int_equal(nat_create(&cfg, &n), 0);
	assert_true(send(nat_fd(n), f, len, 0) == (ssize_t)len);
	r = nat_recv(n, f, sizeof(f), is_dhcp_reply);
	assert_true(r > 0);
	assert_int_equal(f[14 + 20 + 8], 2);                    /* BOOTREPLY */
	assert_memory_equal(f + 14 + 20 + 8 + 28, guest_mac, 6); /* chaddr */
	assert_memory_equal(f + 14 + 20 + 8 + 16, "\x0a\x00\x02\x0f", 4);  /* yiaddr 10.0.2.15 */
	o = dhcp_opt(f, (size_t)r, 53);
	assert_non_null(o);
	assert_int_equal(o[0], 2);                              /* OFFER */
	o = dhcp_opt(f, (size_t)r, 3);
	assert_non_null(o);
	assert_memory_equal(o, "\x0a\x00\x02\x02", 4);          /* router */
	o = dhcp_opt(f, (size_t)r, 6);
	assert_non_null(o);
	assert_memory_equal(o, "\x0a\x00\x02\x03", 4);          /* DNS */
	nat_destroy(n);
}

static bool is_arp_reply(const uint8_t *f, size_t len)
{
	return len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2;
}

static void test_arp_gateway(void **state)
{
	struct nat_config cfg = { 0 };
	struct nat *n;
	uint8_t f[2048] = { 0 };

	assert_int_equal(nat_create(&cfg, &n), 0);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	memcpy(f + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01", 10);
	memcpy(f + 22, guest_mac, 6);
	memcpy(f + 28, "\x0a\x00\x02\x0f", 4);
	memcpy(f + 38, "\x0a\x00\x02\x02", 4);
	assert_int_equal(send(nat_fd(n), f, 60, 0), 60);
	assert_true(nat_recv(n, f, sizeof(f), is_arp_reply) > 0);
	assert_memory_equal(f + 28, "\x0a\x00\x02\x02", 4);     /* sender: gateway */
	assert_memory_equal(f, guest_mac, 6);
	nat_destroy(n);
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool is_syn_to_80(const uint8_t *f, size_t len)
{
	return len >= 54 && f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == 6 &&
	       f[14 + 20 + 2] == 0 && f[14 + 20 + 3] == 80 && (f[14 + 20 + 13] & 0x02);
}

static void test_hostfwd(void **state)
{
	struct nat_config cfg = { .nfwd = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t f[2048];
	struct nat *n;
	char spec[64];
	int port = free_port(), c;
	size_t len;

	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d-10.0.2.15:80", port);
	assert_int_equal(nat_fwd_parse(spec, &cfg.fwd[0]), 0);
	assert_int_equal(nat_create(&cfg, &n), 0);
	/* Take the lease so the NAT knows the endpoint's MAC. */
	len = dhcp_discover(f);
	assert_true(send(nat_fd(n), f, len, 0) > 0);
	assert_true(nat_recv(n, f, sizeof(f), is_dhcp_reply) > 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	sa.sin_port = htons((uint16_t)port);
	connect(c, (struct sockaddr *)&sa, sizeof(sa));
	assert_true(nat_recv(n, f, sizeof(f), is_syn_to_80) > 0);
	assert_memory_equal(f + 14 + 16, "\x0a\x00\x02\x0f", 4);
	close(c);
	nat_destroy(n);
}

static void test_fwd_parse(void **state)
{
	struct nat_fwd f;

	assert_int_equal(nat_fwd_parse("tcp:127.0.0.1:8080-10.0.2.15:80", &f), 0);
	assert_false(f.udp);
	assert_int_equal(f.host_port, 8080);
	assert_int_equal(f.guest_port, 80);
	assert_int_equal(nat_fwd_parse("udp::53-:5353", &f), 0);
	assert_true(f.udp);
	assert_int_equal(f.host_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(f.guest_addr.s_addr, inet_addr("10.0.2.15"));
	assert_int_equal(nat_fwd_parse("sctp::1-:2", &f), -EINVAL);
	assert_int_equal(nat_fwd_parse("tcp::1-:0", &f), -EINVAL);
	assert_int_equal(nat_fwd_parse("tcp::99999-:2", &f), -EINVAL);
	assert_int_equal(nat_fwd_parse("tcp::1-:2junk", &f), -EINVAL);
}


/* The same NAT as a VM's private port, through the net_port API. */
static void test_net_port_nat(void **state)
{
	char dir[] = "/tmp/vireo-test-nat-XXXXXX", cmd[64];
	struct net_port *p;
	uint8_t f[2048], mac[6];
	size_t len;
	ssize_t n = -EAGAIN;

	assert_non_null(mkdtemp(dir));
	setenv("VIREO_RUN_DIR", dir, 1);
	assert_int_equal(net_port_open("nat,mac=02:56:52:00:00:01,hostfwd=tcp::0-:22", &p), 0);
	net_port_mac(p, mac);
	assert_memory_equal(mac, guest_mac, 6);
	assert_int_equal(net_port_id(p), 0);
	len = dhcp_discover(f);
	assert_int_equal(net_port_send(p, f, len), 0);
	for (int i = 0; i < 50; i++) {
		struct pollfd pf = { .fd = net_port_fd(p), .events = POLLIN };

		poll(&pf, 1, 100);
		n = net_port_recv(p, f, sizeof(f));
		if (n > 0 && is_dhcp_reply(f, (size_t)n))
			break;
	}
	assert_true(n > 0 && is_dhcp_reply(f, (size_t)n));
	assert_int_equal(net_port_recv(p, f, sizeof(f)), -EAGAIN);
	assert_int_equal(net_port_send(p, f, NET_FRAME_MAX + 1), -EMSGSIZE);
	net_port_close(p);
	assert_int_equal(net_port_open("nat,hostfwd=bogus", &p), -EINVAL);
	assert_int_equal(net_port_open("carrier-pigeon", &p), -EINVAL);
	assert_int_equal(net_port_open("nat,group=web", &p), -EINVAL);
	assert_int_equal(net_port_open("switch=/nonexistent,hostfwd=tcp::1-:2", &p), -EINVAL);
	assert_int_equal(net_port_open("tap=x,transport=shm", &p), -EINVAL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fwd_parse),
		cmocka_unit_test(test_dhcp),
		cmocka_unit_test(test_arp_gateway),
		cmocka_unit_test(test_hostfwd),
		cmocka_unit_test(test_net_port_nat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
