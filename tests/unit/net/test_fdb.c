// SPDX-License-Identifier: GPL-2.0-only
/* Forwarding database: learning, moves, aging, flushing, a full pool. */
#include <errno.h>
#include "vsw_test.h"
#include "net/fdb.h"

#define SEC 1000000000ULL

static void test_learn_lookup(void **state)
{
	struct fdb f;
	uint8_t a[6], b[6];

	assert_int_equal(fdb_init(&f, 300 * SEC), 0);
	mac_of(a, 1);
	mac_of(b, 2);
	assert_int_equal(fdb_lookup(&f, fdb_key(a, 1), 0), FDB_NONE);
	fdb_learn(&f, fdb_key(a, 1), 3, 1);
	assert_int_equal(fdb_lookup(&f, fdb_key(a, 1), 2), 3);
	/* The same MAC on another VLAN is another entry. */
	assert_int_equal(fdb_lookup(&f, fdb_key(a, 2), 2), FDB_NONE);
	assert_int_equal(fdb_lookup(&f, fdb_key(b, 1), 2), FDB_NONE);
	/* A move. */
	fdb_learn(&f, fdb_key(a, 1), 4, 3);
	assert_int_equal(fdb_lookup(&f, fdb_key(a, 1), 4), 4);
	assert_int_equal(f.moves, 1);
	assert_int_equal(f.count, 1);
	fdb_destroy(&f);
}

static void test_aging(void **state)
{
	struct fdb f;
	uint8_t a[6], b[6];

	assert_int_equal(fdb_init(&f, 10 * SEC), 0);
	mac_of(a, 1);
	mac_of(b, 2);
	fdb_learn(&f, fdb_key(a, 1), 1, 1 * SEC);
	fdb_learn(&f, fdb_key(b, 1), 2, 8 * SEC);
	assert_int_equal(fdb_age(&f, 10 * SEC), 0);
	assert_int_equal(fdb_age(&f, 12 * SEC), 1);       /* a is 11 s old */
	assert_int_equal(fdb_lookup(&f, fdb_key(a, 1), 12 * SEC), FDB_NONE);
	assert_int_equal(fdb_lookup(&f, fdb_key(b, 1), 12 * SEC), 2);
	/* Lookup itself forgets a stale entry. */
	assert_int_equal(fdb_lookup(&f, fdb_key(b, 1), 19 * SEC), FDB_NONE);
	assert_int_equal(f.count, 0);
	fdb_destroy(&f);
}

static void test_flush_port(void **state)
{
	struct fdb f;
	uint8_t m[6];

	assert_int_equal(fdb_init(&f, 300 * SEC), 0);
	for (int i = 0; i < 100; i++) {
		mac_of(m, (uint8_t)i);
		fdb_learn(&f, fdb_key(m, 1), i % 2 ? 7 : 8, 1);
	}
	fdb_flush_port(&f, 7);
	assert_int_equal(f.count, 50);
	mac_of(m, 1);
	assert_int_equal(fdb_lookup(&f, fdb_key(m, 1), 2), FDB_NONE);
	mac_of(m, 2);
	assert_int_equal(fdb_lookup(&f, fdb_key(m, 1), 2), 8);
	fdb_flush(&f);
	assert_int_equal(f.count, 0);
	fdb_destroy(&f);
}

static void test_full(void **state)
{
	struct fdb f;
	uint8_t m[6] = { 0x02, 0, 0, 0, 0, 0 };

	assert_int_equal(fdb_init(&f, 300 * SEC), 0);
	for (uint32_t i = 0; i < FDB_ENTRIES_MAX + 100; i++) {
		m[3] = (uint8_t)(i >> 16);
		m[4] = (uint8_t)(i >> 8);
		m[5] = (uint8_t)i;
		fdb_learn(&f, fdb_key(m, 1), 1, 1);
	}
	assert_int_equal(f.count, FDB_ENTRIES_MAX);
	assert_int_equal(f.full_drops, 100);
	/* Aging frees the pool for new addresses. */
	assert_int_equal(fdb_age(&f, 400 * SEC), FDB_ENTRIES_MAX);
	fdb_learn(&f, fdb_key(m, 1), 1, 400 * SEC);
	assert_int_equal(f.count, 1);
	fdb_destroy(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learn_lookup),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_flush_port),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
