// SPDX-License-Identifier: GPL-2.0-only
/* blk_aio: asynchronous requests through the engine, fast and slow paths,
 * on a qcow2 child of a raw parent, checked against a reference buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vireo/block.h"
#include "test_util.h"

#define DISK (4 * MiB)
#define NREQ 48

struct ctx {
	int done, errors;
};

static void on_done(struct blk_aio *a, int err)
{
	struct ctx *c = a->opaque;

	c->done++;
	c->errors += err != 0;
}

static void run_round(struct blk *b, struct ioeng *e, uint8_t *ref, int round)
{
	static uint8_t bufs[NREQ][16384];
	struct blk_aio a[NREQ];
	struct ctx c = { 0 };

	for (int i = 0; i < NREQ; i++) {
		/* Disjoint 64 KiB slots; lengths and offsets vary by round. */
		uint64_t off = i * 65536ULL + (round * 4096ULL) % 49152;
		size_t len = 512 * (1 + (i * 7 + round) % 32);

		a[i] = (struct blk_aio){ .op = (i + round) % 5 == 0 ? BLK_AIO_DISCARD : BLK_AIO_WRITE,
					 .buf = bufs[i], .off = off, .len = len,
					 .done = on_done, .opaque = &c };
		pattern_fill(bufs[i], len, round * 1000 + i);
		if (a[i].op == BLK_AIO_WRITE)
			memcpy(ref + off, bufs[i], len);
		else
			memset(ref + off, 0, len);
		while (blk_aio_submit(b, e, &a[i]) == -EAGAIN)
			assert_true(ioeng_reap(e, 1) >= 0);
	}
	while (c.done < NREQ)
		assert_true(ioeng_reap(e, 1) >= 0);
	assert_int_equal(c.errors, 0);
	a[0] = (struct blk_aio){ .op = BLK_AIO_FLUSH, .done = on_done, .opaque = &c };
	assert_int_equal(blk_aio_submit(b, e, &a[0]), 0);
	while (c.done < NREQ + 1)
		assert_true(ioeng_reap(e, 1) >= 0);
}

static void test_aio_roundtrip(void **state)
{
	struct blk_create_opts base = { .format = BLK_FORMAT_RAW, .size = DISK };
	struct blk_create_opts top = { .format = BLK_FORMAT_QCOW2, .backing = "base.raw",
				       .cluster_size = 4096 };
	static uint8_t ref[DISK], got[DISK];
	struct blk_aio rd[4];
	struct ctx c = { 0 };
	struct scratch s;
	struct ioeng *e;
	struct blk *b;

	scratch_init(&s);
	assert_int_equal(blk_create(scratch_path(&s, "base.raw"), &base), 0);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_RAW, 0, &b), 0);
	pattern_fill(ref, DISK, 42);
	assert_int_equal(blk_write(b, ref, 0, DISK), 0);
	blk_close(b);
	assert_int_equal(blk_create(scratch_path(&s, "top.qcow2"), &top), 0);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), 0);
	assert_int_equal(ioeng_create(IOENG_AUTO, 8, &e), 0);
	for (int round = 0; round < 6; round++)
		run_round(b, e, ref, round);
	/* Async reads of the whole disk in four pieces. */
	for (int i = 0; i < 4; i++) {
		rd[i] = (struct blk_aio){ .op = BLK_AIO_READ, .buf = got + i * (DISK / 4),
					  .off = i * (DISK / 4), .len = DISK / 4,
					  .done = on_done, .opaque = &c };
		assert_int_equal(blk_aio_submit(b, e, &rd[i]), 0);
	}
	while (c.done < 4)
		assert_true(ioeng_reap(e, 1) >= 0);
	assert_int_equal(c.errors, 0);
	assert_memory_equal(ref, got, DISK);
	/* Misaligned requests are refused up front. */
	rd[0].off = 100;
	assert_int_equal(blk_aio_submit(b, e, &rd[0]), -EINVAL);
	ioeng_destroy(e);
	blk_close(b);
	scratch_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aio_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
