// SPDX-License-Identifier: GPL-2.0-only
/* Port-group specs and JSON round trips. */
#include "vsw_test.h"
#include "net/vsw_json.h"

static void test_spec(void **state)
{
	struct vsw_group g;
	char err[256];

	assert_int_equal(vsw_group_parse("web,vlan=10,rate=100,promisc,mac-lock", &g, err,
					 sizeof(err)), 0);
	assert_string_equal(g.name, "web");
	assert_int_equal(g.mode, VSW_VLAN_ACCESS);
	assert_int_equal(g.vlan, 10);
	assert_int_equal(g.rate_mbps, 100);
	assert_true(g.promisc_allowed);
	assert_true(g.mac_lock);
	assert_int_equal(vsw_group_parse("up,trunk=10:20-22,native=20", &g, err, sizeof(err)), 0);
	assert_int_equal(g.mode, VSW_VLAN_TRUNK);
	assert_int_equal(g.vlan, 20);
	assert_true(vsw_group_allows(&g, 21));
	assert_false(vsw_group_allows(&g, 11));
	assert_int_equal(vsw_group_parse("up,trunk=10", &g, err, sizeof(err)), 0);
	assert_int_equal(g.vlan, 0);
	assert_int_equal(vsw_group_parse("d", &g, err, sizeof(err)), 0);
	assert_int_equal(g.vlan, 1);
	/* Refusals. */
	assert_int_equal(vsw_group_parse("x,vlan=4095", &g, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsw_group_parse("x,vlan=0", &g, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsw_group_parse("x,trunk=10,native=20", &g, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsw_group_parse("x,trunk=20-10", &g, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsw_group_parse("x,rate=-5", &g, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsw_group_parse("x,bogus", &g, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsw_group_parse("vlan=3", &g, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsw_group_parse("a-name-that-is-far-too-long-for-a-group", &g, err,
					 sizeof(err)), -EINVAL);
}

static void test_json_roundtrip(void **state)
{
	struct vsw_group g, h;
	char err[256];
	json_t *o;

	assert_int_equal(vsw_group_parse("t,trunk=5:7-9,native=7,rate=20,promisc", &g, err,
					 sizeof(err)), 0);
	o = vsw_group_to_json(&g);
	assert_non_null(o);
	memset(&h, 0, sizeof(h));
	assert_int_equal(vsw_group_from_json(o, &h, err, sizeof(err)), 0);
	json_decref(o);
	assert_string_equal(h.name, "t");
	assert_int_equal(h.mode, VSW_VLAN_TRUNK);
	assert_int_equal(h.vlan, 7);
	assert_memory_equal(h.allowed, g.allowed, sizeof(g.allowed));
	assert_int_equal(h.rate_mbps, 20);
	assert_true(h.promisc_allowed);
	assert_false(h.mac_lock);
	o = json_pack("{s:s, s:i}", "name", "q", "vlan", 5000);
	assert_int_equal(vsw_group_from_json(o, &h, err, sizeof(err)), -EINVAL);
	json_decref(o);
	o = json_pack("{s:s, s:[s]}", "name", "q", "trunk", "x-y");
	assert_int_equal(vsw_group_from_json(o, &h, err, sizeof(err)), -EINVAL);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_json_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
