// SPDX-License-Identifier: GPL-2.0-only
/* qcow2 internals through the public interface: refcount growth, check and
 * leak repair, snapshots and copy-on-write, shrink safety, hostile headers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <endian.h>
#include <cmocka.h>

#include "vireo/block.h"
#include "vireo/log.h"
#include "test_util.h"

static struct blk *make(struct scratch *s, const char *name, uint64_t size, uint32_t cs)
{
	struct blk_create_opts o = { .format = BLK_FORMAT_QCOW2, .size = size, .cluster_size = cs };
	struct blk *b;

	assert_int_equal(blk_create(scratch_path(s, name), &o), 0);
	assert_int_equal(blk_open(s->path, BLK_FORMAT_QCOW2, 0, &b), 0);
	return b;
}

static void assert_clean(struct blk *b)
{
	struct blk_check res;

	assert_int_equal(blk_check(b, &res, false), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
}

/* 512-byte clusters: many refcount blocks and several table growths. */
static void test_refcount_growth(void **state)
{
	uint8_t buf[512];
	struct scratch s;
	struct blk *b;

	scratch_init(&s);
	b = make(&s, "g.qcow2", 64 * MiB, 512);
	for (uint64_t off = 0; off < 64 * MiB; off += 37 * 512) {
		pattern_fill(buf, sizeof(buf), off);
		assert_int_equal(blk_write(b, buf, off, sizeof(buf)), 0);
	}
	assert_clean(b);
	for (uint64_t off = 0; off < 64 * MiB; off += 37 * 512 * 11) {
		uint8_t want[512];
		pattern_fill(want, sizeof(want), off);
		assert_int_equal(blk_read(b, buf, off, sizeof(buf)), 0);
		assert_memory_equal(want, buf, sizeof(buf));
	}
	blk_close(b);
	scratch_fini(&s);
}

static void test_discard_reuses_clusters(void **state)
{
	uint8_t buf[65536];
	struct blk_info before, after;
	struct scratch s;
	struct blk *b;

	scratch_init(&s);
	b = make(&s, "d.qcow2", 16 * MiB, 65536);
	memset(buf, 1, sizeof(buf));
	for (int i = 0; i < 8; i++)
		assert_int_equal(blk_write(b, buf, i * 65536, sizeof(buf)), 0);
	blk_info_get(b, &before);
	assert_int_equal(blk_discard(b, 0, 8 * 65536), 0);
	assert_clean(b);
	for (int i = 0; i < 8; i++)
		assert_int_equal(blk_write(b, buf, 8 * MiB + i * 65536, sizeof(buf)), 0);
	blk_info_get(b, &after);
	assert_int_equal(before.file_size, after.file_size);	/* freed clusters reused */
	assert_clean(b);
	blk_close(b);
	scratch_fini(&s);
}

static void test_snapshot_cow(void **state)
{
	uint8_t a[4096], r[4096];
	struct blk_snapshot *l;
	struct scratch s;
	struct blk *b;
	int n;

	scratch_init(&s);
	b = make(&s, "s.qcow2", 4 * MiB, 4096);
	memset(a, 0xaa, sizeof(a));
	assert_int_equal(blk_write(b, a, 0, sizeof(a)), 0);
	assert_int_equal(blk_snapshot_create(b, "one"), 0);
	assert_int_equal(blk_snapshot_create(b, "one"), -EEXIST);
	memset(a, 0xbb, sizeof(a));
	assert_int_equal(blk_write(b, a, 0, sizeof(a)), 0);
	assert_int_equal(blk_read(b, r, 0, sizeof(r)), 0);
	assert_memory_equal(a, r, sizeof(r));
	assert_clean(b);
	assert_int_equal(blk_snapshot_list(b, &l, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].name, "one");
	assert_string_equal(l[0].id, "1");
	free(l);
	assert_int_equal(blk_resize(b, MiB, true, NULL), -ENOTSUP);
	blk_close(b);
	scratch_fini(&s);
}

static void test_check_finds_leak_and_repairs(void **state)
{
	struct blk_check res;
	uint8_t buf[65536] = { 1 };
	uint16_t one = htobe16(1);
	struct scratch s;
	struct blk *b;
	int fd;

	scratch_init(&s);
	b = make(&s, "l.qcow2", 4 * MiB, 65536);
	assert_int_equal(blk_write(b, buf, 0, sizeof(buf)), 0);
	blk_close(b);
	/* Refcount block: cluster 2; clusters 0-5 are in use (L1, L2, data). Leak 6. */
	fd = open(s.path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 6 * 65536), sizeof(buf));
	assert_int_equal(pwrite(fd, &one, 2, 2 * 65536 + 2 * 6), 2);
	close(fd);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_QCOW2, BLK_OPEN_NO_BACKING, &b), 0);
	assert_int_equal(blk_check(b, &res, false), 0);
	assert_int_equal(res.leaks, 1);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(blk_check(b, &res, true), 0);
	assert_int_equal(res.leaks_fixed, 1);
	assert_clean(b);
	blk_close(b);
	scratch_fini(&s);
}

static void test_shrink_guard(void **state)
{
	uint8_t buf[4096];
	uint64_t where = 0;
	struct scratch s;
	struct blk *b;

	scratch_init(&s);
	b = make(&s, "r.qcow2", 8 * MiB, 65536);
	memset(buf, 7, sizeof(buf));
	assert_int_equal(blk_write(b, buf, 6 * MiB, sizeof(buf)), 0);
	assert_int_equal(blk_resize(b, 4 * MiB, true, &where), -ENOTEMPTY);
	assert_int_equal(where, 6 * MiB);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(blk_write(b, buf, 6 * MiB, sizeof(buf)), 0);
	/* Allocated but all zeros: nothing is lost, shrinking is allowed. */
	assert_int_equal(blk_resize(b, 4 * MiB, true, NULL), 0);
	assert_int_equal(blk_size(b), 4 * MiB);
	assert_clean(b);
	assert_int_equal(blk_resize(b, 1ULL << 40, false, NULL), 0);
	assert_clean(b);
	blk_close(b);
	scratch_fini(&s);
}

static void patch32(const char *path, off_t off, uint32_t v)
{
	int fd = open(path, O_RDWR);

	v = htobe32(v);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &v, 4, off), 4);
	close(fd);
}

static void test_hostile_headers(void **state)
{
	struct scratch s;
	struct blk *b;

	scratch_init(&s);
	b = make(&s, "h.qcow2", MiB, 65536);
	blk_close(b);
	patch32(s.path, 36, 0xffffffff);		/* l1_size */
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), -EFBIG);
	patch32(s.path, 36, 1);
	patch32(s.path, 20, 40);			/* cluster_bits */
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), -EINVAL);
	patch32(s.path, 20, 16);
	patch32(s.path, 72, 0);
	patch32(s.path, 76, 1u << 7);			/* unknown incompatible bit */
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), -ENOTSUP);
	patch32(s.path, 76, 1);				/* dirty: read-only only */
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), -EROFS);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, BLK_OPEN_RDONLY, &b), 0);
	blk_close(b);
	scratch_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refcount_growth),
		cmocka_unit_test(test_discard_reuses_clusters),
		cmocka_unit_test(test_snapshot_cow),
		cmocka_unit_test(test_check_finds_leak_and_repairs),
		cmocka_unit_test(test_shrink_guard),
		cmocka_unit_test(test_hostile_headers),
	};
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
