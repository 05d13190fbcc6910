// SPDX-License-Identifier: GPL-2.0-only
/* MAC parsing, generation and the host-wide registry. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vsw_test.h"
#include "vireo/net.h"

static char dir[] = "/tmp/vireo-test-mac-XXXXXX";

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	setenv("VIREO_RUN_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_parse_format(void **state)
{
	uint8_t m[6];
	char buf[NET_MAC_STRLEN];

	assert_int_equal(net_mac_parse("02:56:52:0a:Bc:ff", m), 0);
	assert_string_equal(net_mac_format(m, buf), "02:56:52:0a:bc:ff");
	assert_int_equal(net_mac_parse("02-56-52-0a-bc-ff", m), 0);
	assert_int_equal(net_mac_parse("02:56:52:0a:bc", m), -EINVAL);
	assert_int_equal(net_mac_parse("02:56:52:0a:bc:ff:", m), -EINVAL);
	assert_int_equal(net_mac_parse("02:56-52:0a:bc:ff", m), -EINVAL);
	assert_int_equal(net_mac_parse("zz:56:52:0a:bc:ff", m), -EINVAL);
	assert_int_equal(net_mac_parse(NULL, m), -EINVAL);
	assert_true(net_mac_valid(m));
	m[0] = 0x01;
	assert_false(net_mac_valid(m));
	memset(m, 0, 6);
	assert_false(net_mac_valid(m));
}

static void test_generate_unique(void **state)
{
	uint8_t m[64][6];

	for (int i = 0; i < 64; i++) {
		assert_int_equal(net_mac_generate("test", m[i]), 0);
		assert_int_equal(m[i][0], NET_MAC_PREFIX0);
		assert_true(m[i][0] & 0x02);            /* locally administered */
		assert_false(m[i][0] & 0x01);           /* unicast */
		assert_int_equal(m[i][1], NET_MAC_PREFIX1);
		assert_int_equal(m[i][2], NET_MAC_PREFIX2);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(m[i], m[j], 6);
	}
	for (int i = 0; i < 64; i++)
		net_mac_release(m[i]);
}

static void test_duplicate_refused(void **state)
{
	uint8_t m[6];
	char err[256] = "";

	assert_int_equal(net_mac_parse("02:00:00:00:00:42", m), 0);
	assert_int_equal(net_mac_reserve(m, "vm one", err, sizeof(err)), 0);
	assert_int_equal(net_mac_reserve(m, "vm two", err, sizeof(err)), -EADDRINUSE);
	print_message("%s\n", err);
	assert_non_null(strstr(err, "02:00:00:00:00:42 is already in use by vm one"));
	net_mac_release(m);
	assert_int_equal(net_mac_reserve(m, "vm two", err, sizeof(err)), 0);
	net_mac_release(m);
	m[0] = 0x03;
	assert_int_equal(net_mac_reserve(m, "x", err, sizeof(err)), -EINVAL);
}

static void test_dead_owner_reclaimed(void **state)
{
	uint8_t m[6];
	char path[512];
	pid_t pid = fork();
	FILE *f;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	assert_int_equal(net_mac_parse("02:00:00:00:00:43", m), 0);
	/* An entry left by a process that died without releasing it. */
	snprintf(path, sizeof(path), "%s/macs", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/macs/02-00-00-00-00-43", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%ld dead vm\n", (long)pid);
	fclose(f);
	assert_int_equal(net_mac_reserve(m, "new vm", NULL, 0), 0);
	net_mac_release(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_generate_unique),
		cmocka_unit_test(test_duplicate_refused),
		cmocka_unit_test(test_dead_owner_reclaimed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
