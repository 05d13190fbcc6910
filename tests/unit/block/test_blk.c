// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests of the format-independent block layer and every driver. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "vireo/block.h"
#include "test_util.h"

static void test_format_names(void **state)
{
	enum blk_format f;

	assert_int_equal(blk_format_parse("qcow2", &f), 0);
	assert_int_equal(f, BLK_FORMAT_QCOW2);
	assert_int_equal(blk_format_parse("vpc", &f), 0);
	assert_int_equal(f, BLK_FORMAT_VHD);
	assert_int_equal(blk_format_parse("vmdk", &f), -EINVAL);
	assert_string_equal(blk_format_name(BLK_FORMAT_RAW), "raw");
}

/* Write a pattern at awkward places, read it back, and probe the map. */
static void roundtrip(const struct blk_create_opts *o)
{
	static uint8_t wbuf[300 * 1024], rbuf[300 * 1024];
	const uint64_t offs[] = { 0, 512, 65536 - 512, 3 * MiB + 4096, 7 * MiB - 300 * 1024 };
	struct blk_extent ext;
	struct scratch s;
	struct blk *b;

	scratch_init(&s);
	assert_int_equal(blk_create(scratch_path(&s, "img"), o), 0);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), 0);
	assert_true(blk_size(b) >= o->size);
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
		pattern_fill(wbuf, sizeof(wbuf), i);
		assert_int_equal(blk_write(b, wbuf, offs[i], sizeof(wbuf)), 0);
	}
	assert_int_equal(blk_flush(b), 0);
	blk_close(b);
	assert_int_equal(blk_open(s.path, o->format, BLK_OPEN_RDONLY, &b), 0);
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
		pattern_fill(wbuf, sizeof(wbuf), i);
		assert_int_equal(blk_read(b, rbuf, offs[i], sizeof(rbuf)), 0);
		if (i + 1 < ARRAY_SIZE(offs) && offs[i] + sizeof(wbuf) > offs[i + 1])
			continue;	/* overwritten by the next write */
		assert_memory_equal(wbuf, rbuf, sizeof(wbuf));
	}
	/* Untouched space reads as zeros and is not data in sparse formats. */
	assert_int_equal(blk_read(b, rbuf, 5 * MiB, 4096), 0);
	assert_true(blk_is_zero(rbuf, 4096));
	assert_int_equal(blk_block_status(b, 5 * MiB, 4096, &ext), 0);
	if (!o->vhd_fixed)
		assert_true(ext.status & BLK_STATUS_ZERO);
	/* Read-only: writes refused. */
	assert_int_equal(blk_write(b, wbuf, 0, 512), -EROFS);
	blk_close(b);
	scratch_fini(&s);
}

static void test_raw(void **state)
{
	struct blk_create_opts o = { .format = BLK_FORMAT_RAW, .size = 8 * MiB };
	roundtrip(&o);
}

static void test_qcow2_cluster_sizes(void **state)
{
	const uint32_t cs[] = { 512, 4096, 65536, 2 * MiB };

	for (size_t i = 0; i < ARRAY_SIZE(cs); i++) {
		struct blk_create_opts o = { .format = BLK_FORMAT_QCOW2, .size = 8 * MiB,
					     .cluster_size = cs[i] };
		roundtrip(&o);
	}
}

static void test_vhd(void **state)
{
	struct blk_create_opts dyn = { .format = BLK_FORMAT_VHD, .size = 8 * MiB };
	struct blk_create_opts fixed = { .format = BLK_FORMAT_VHD, .size = 8 * MiB, .vhd_fixed = true };
	struct blk_create_opts small = { .format = BLK_FORMAT_VHD, .size = 8 * MiB,
					 .block_size = 4096 };

	roundtrip(&dyn);
	roundtrip(&fixed);
	roundtrip(&small);
}

static void test_bad_args(void **state)
{
	struct blk_create_opts o = { .format = BLK_FORMAT_QCOW2, .size = MiB };
	uint8_t buf[1024];
	struct scratch s;
	struct blk *b;

	scratch_init(&s);
	assert_int_equal(blk_create(scratch_path(&s, "a"), &o), 0);
	assert_int_equal(blk_create(s.path, &o), -EEXIST);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), 0);
	assert_int_equal(blk_read(b, buf, 100, 512), -EINVAL);		/* unaligned */
	assert_int_equal(blk_read(b, buf, MiB, 512), -EINVAL);		/* past the end */
	assert_int_equal(blk_write(b, buf, MiB - 512, 1024), -EINVAL);
	assert_int_equal(blk_resize(b, MiB / 2, false, NULL), -EPERM);
	blk_close(b);
	assert_int_equal(blk_open(scratch_path(&s, "missing"), BLK_FORMAT_AUTO, 0, &b), -ENOENT);
	assert_int_equal(blk_open(s.dir, BLK_FORMAT_AUTO, BLK_OPEN_RDONLY, &b), -EISDIR);
	o.cluster_size = 3000;
	assert_int_equal(blk_create(scratch_path(&s, "b"), &o), -EINVAL);
	scratch_fini(&s);
}

static void test_backing_chain(void **state)
{
	struct blk_create_opts base = { .format = BLK_FORMAT_VHD, .size = 4 * MiB };
	struct blk_create_opts top = { .format = BLK_FORMAT_QCOW2, .backing = "base.vhd",
				       .cluster_size = 4096 };
	uint8_t a[8192], r[8192];
	struct blk_extent ext;
	struct scratch s;
	struct blk *b;

	scratch_init(&s);
	assert_int_equal(blk_create(scratch_path(&s, "base.vhd"), &base), 0);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), 0);
	pattern_fill(a, sizeof(a), 1);
	assert_int_equal(blk_write(b, a, 0, sizeof(a)), 0);
	blk_close(b);
	assert_int_equal(blk_create(scratch_path(&s, "top.qcow2"), &top), 0);
	assert_int_equal(blk_open(s.path, BLK_FORMAT_AUTO, 0, &b), 0);
	assert_non_null(blk_backing(b));
	assert_int_equal(blk_read(b, r, 0, sizeof(r)), 0);
	assert_memory_equal(a, r, sizeof(r));
	assert_int_equal(blk_block_status(b, 0, 4096, &ext), 0);
	assert_int_equal(ext.depth, 1);
	/* A partial-cluster write copies the rest up from the backing file. */
	memset(r, 0xee, 512);
	assert_int_equal(blk_write(b, r, 1024, 512), 0);
	assert_int_equal(blk_read(b, r, 0, 4096), 0);
	assert_memory_equal(a, r, 1024);
	assert_int_equal(r[1024], 0xee);
	assert_memory_equal(a + 1536, r + 1536, 4096 - 1536);
	assert_int_equal(blk_block_status(b, 0, 4096, &ext), 0);
	assert_int_equal(ext.depth, 0);
	/* Discard masks the backing file with zeros. */
	assert_int_equal(blk_discard(b, 4096, 4096), 0);
	assert_int_equal(blk_read(b, r, 4096, 4096), 0);
	assert_true(blk_is_zero(r, 4096));
	blk_close(b);
	scratch_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_qcow2_cluster_sizes),
		cmocka_unit_test(test_vhd),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_backing_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
