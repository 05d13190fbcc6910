// SPDX-License-Identifier: GPL-2.0-only
/* Shared-memory rings: order, wrap, full, wake-up flags, hostile indices. */
#include <stdlib.h>
#include "vsw_test.h"
#include "net/ring.h"

static void test_put_get_wrap(void **state)
{
	struct shm_ring *r = calloc(1, sizeof(*r));
	struct shm_end prod, cons;
	uint8_t in[100], out[2048];

	assert_non_null(r);
	shm_end_init(&prod, r);
	shm_end_init(&cons, r);
	for (unsigned round = 0; round < 5; round++) {
		unsigned n = 0;

		for (unsigned i = 0; i < SHM_RING_SLOTS + 3; i++) {
			memset(in, (int)(i + round), sizeof(in));
			if (shm_ring_put(&prod, in, 60 + i % 40))
				break;
			n++;
		}
		assert_int_equal(n, SHM_RING_SLOTS);    /* then full */
		assert_int_equal(shm_ring_put(&prod, in, 60), -EAGAIN);
		assert_int_equal(shm_ring_avail(&cons), 0);     /* not published yet */
		shm_ring_publish(&prod);
		assert_int_equal(shm_ring_avail(&cons), (int)SHM_RING_SLOTS);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(shm_ring_get(&cons, out, sizeof(out)), 60 + i % 40);
			assert_int_equal(out[0], (uint8_t)(i + round));
		}
		shm_ring_release(&cons);
		assert_int_equal(shm_ring_avail(&cons), 0);
	}
	assert_int_equal(shm_ring_put(&prod, in, SHM_RING_DATA_MAX + 1), -EMSGSIZE);
	free(r);
}

static void test_wakeup_flag(void **state)
{
	struct shm_ring *r = calloc(1, sizeof(*r));
	struct shm_end prod, cons;
	uint8_t buf[64] = { 0 };

	shm_end_init(&prod, r);
	shm_end_init(&cons, r);
	assert_false(shm_ring_need_kick(&prod));
	assert_true(shm_ring_arm(&cons));               /* empty: may sleep */
	assert_int_equal(shm_ring_put(&prod, buf, 60), 0);
	shm_ring_publish(&prod);
	assert_true(shm_ring_need_kick(&prod));
	shm_ring_disarm(&cons);
	assert_false(shm_ring_need_kick(&prod));
	assert_false(shm_ring_arm(&cons));              /* a frame waits: stay awake */
	assert_false(shm_ring_need_kick(&prod));
	free(r);
}

static void test_hostile_peer(void **state)
{
	struct shm_ring *r = calloc(1, sizeof(*r));
	struct shm_end prod, cons;
	uint8_t buf[2048] = { 0 };
	uint32_t bad = 1u << 30;

	shm_end_init(&prod, r);
	shm_end_init(&cons, r);
	/* A producer index more than a ring ahead is a protocol error. */
	atomic_store(&r->prod, SHM_RING_SLOTS + 1);
	assert_int_equal(shm_ring_avail(&cons), -1);
	/* A slot length beyond the slot is refused, the slot still consumed. */
	shm_end_init(&cons, r);
	atomic_store(&r->prod, 1);
	memcpy(r->slot[0], &bad, 4);
	assert_int_equal(shm_ring_avail(&cons), 1);
	assert_int_equal(shm_ring_get(&cons, buf, sizeof(buf)), -1);
	assert_int_equal(shm_ring_avail(&cons), 0);
	/* A length within the slot but beyond the caller's buffer too. */
	bad = 1000;
	atomic_store(&r->prod, 2);
	memcpy(r->slot[1], &bad, 4);
	assert_int_equal(shm_ring_get(&cons, buf, 100), -1);
	/* A consumer that claims to have consumed the future: the ring is full. */
	atomic_store(&r->cons, 12345);
	prod.idx = 0;
	prod.peer = 0;
	for (unsigned i = 0; i < SHM_RING_SLOTS; i++)
		assert_int_equal(shm_ring_put(&prod, buf, 60), 0);
	assert_int_equal(shm_ring_put(&prod, buf, 60), -EAGAIN);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_wrap),
		cmocka_unit_test(test_wakeup_flag),
		cmocka_unit_test(test_hostile_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
