// SPDX-License-Identifier: GPL-2.0-only
/*
 * The split virtqueue against hostile drivers (virtio 1.2 §2.7): every
 * malformed ring or chain must give -EINVAL with a reason, never a crash
 * and never a buffer outside guest RAM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dev/virtio/virtqueue.h"

#define RAM     (2 * MiB)
#define QSIZE   16
#define DESC    0x1000
#define AVAIL   0x2000
#define USED    0x3000
#define INDIR   0x4000
#define DATA    0x10000

struct fx {
	struct guest_mem mem;
	struct virtq vq;
	struct vq_chain c;
	uint16_t avail_idx;
	char why[160];
};

static void *gp(struct fx *f, uint64_t gpa)
{
	return guest_mem_hva(&f->mem, gpa, 1);
}

static void set_desc(struct fx *f, uint64_t table, unsigned i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	memcpy((uint8_t *)gp(f, table) + 16 * i, &d, sizeof(d));
}

static void offer(struct fx *f, uint16_t head)
{
	uint16_t *avail = gp(f, AVAIL);

	avail[2 + f->avail_idx % QSIZE] = head;
	avail[1] = ++f->avail_idx;
}

static int pop(struct fx *f)
{
	f->why[0] = '\0';
	return vq_pop(&f->vq, &f->c, f->why, sizeof(f->why));
}

static int setup_features(void **state, bool indirect, bool event_idx)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(guest_mem_create(&f->mem, RAM), 0);
	f->vq.mem = &f->mem;
	f->vq.size = QSIZE;
	f->vq.desc_gpa = DESC;
	f->vq.avail_gpa = AVAIL;
	f->vq.used_gpa = USED;
	f->vq.indirect = indirect;
	f->vq.event_idx = event_idx;
	assert_int_equal(vq_map(&f->vq, f->why, sizeof(f->why)), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_features(state, true, false);
}

static int setup_evidx(void **state)
{
	return setup_features(state, true, true);
}

static int setup_noind(void **state)
{
	return setup_features(state, false, false);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static void expect_bad(struct fx *f, const char *needle)
{
	assert_int_equal(pop(f), -EINVAL);
	if (!strstr(f->why, needle))
		fail_msg("reason '%s' lacks '%s'", f->why, needle);
}

static void test_good_chain(void **state)
{
	struct fx *f = *state;
	uint8_t buf[8];

	set_desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 5);
	set_desc(f, DESC, 5, DATA + 0x100, 100, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC, 2, DATA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	memcpy(gp(f, DATA + 14), "ab", 2);
	memcpy(gp(f, DATA + 0x100), "cdef", 4);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.head, 0);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 1);
	assert_int_equal(f->c.out_len, 116);
	assert_int_equal(f->c.in_len, 1);
	/* A copy that spans two buffers. */
	assert_int_equal(vq_chain_from(&f->c, 14, buf, 6), 6);
	assert_memory_equal(buf, "abcdef", 6);
	assert_int_equal(vq_chain_to(&f->mem, &f->c, 0, "xy", 2), 1);
	assert_int_equal(*(uint8_t *)gp(f, DATA + 0x200), 'x');
	assert_int_equal(pop(f), 0);     /* empty now */
	vq_push(&f->vq, 0, 1);
	assert_int_equal(((uint16_t *)gp(f, USED))[1], 1);
	assert_int_equal(((uint32_t *)gp(f, USED + 4))[0], 0);
	assert_int_equal(((uint32_t *)gp(f, USED + 4))[1], 1);
}

static void test_loop(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	expect_bad(f, "loops");
}

static void test_self_loop(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 3, DATA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	offer(f, 3);
	expect_bad(f, "loops");
}

static void test_full_length_chain(void **state)
{
	struct fx *f = *state;

	/* Exactly the queue size: allowed. */
	for (unsigned i = 0; i < QSIZE; i++)
		set_desc(f, DESC, i, DATA + 64 * i, 64,
			 i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, QSIZE);
}

static void test_next_out_of_queue(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(f, 0);
	expect_bad(f, "outside the queue");
}

static void test_head_out_of_queue(void **state)
{
	struct fx *f = *state;

	offer(f, QSIZE + 3);
	expect_bad(f, "head");
}

static void test_buffer_outside_ram(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, RAM - 8, 16, 0, 0);       /* straddles the end of RAM */
	offer(f, 0);
	expect_bad(f, "not guest RAM");
}

static void test_buffer_wraps(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, UINT64_MAX - 7, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	expect_bad(f, "not guest RAM");
}

static void test_buffer_in_pci_hole(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, 0xfee00000, 4, 0, 0);     /* the local APIC, not RAM */
	offer(f, 0);
	expect_bad(f, "not guest RAM");
}

static void test_avail_index_too_far(void **state)
{
	struct fx *f = *state;
	uint16_t *avail = gp(f, AVAIL);

	avail[1] = QSIZE + 1;
	expect_bad(f, "ahead");
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, DESC, 1, DATA, 16, 0, 0);
	offer(f, 0);
	expect_bad(f, "readable buffer after a writable");
}

static void test_indirect_good(void **state)
{
	struct fx *f = *state;

	set_desc(f, INDIR, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, INDIR, 2, DATA + 512, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, INDIR, 1, DATA + 2048, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, DESC, 7, INDIR, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 7);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.head, 7);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 2);
	assert_int_equal(f->c.in_len, 513);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;

	set_desc(f, INDIR, 0, DATA, 16, 0, 0);
	set_desc(f, DESC, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "VIRTIO_F_INDIRECT_DESC");
}

static void test_indirect_bad_len(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, INDIR, 24, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "multiple of 16");
}

static void test_indirect_zero_len(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, INDIR, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "multiple of 16");
}

static void test_indirect_with_next(void **state)
{
	struct fx *f = *state;

	set_desc(f, INDIR, 0, DATA, 16, 0, 0);
	set_desc(f, DESC, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	offer(f, 0);
	expect_bad(f, "also has NEXT");
}

static void test_indirect_nested(void **state)
{
	struct fx *f = *state;

	set_desc(f, INDIR, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, DESC, 0, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "nested");
}

static void test_indirect_loop(void **state)
{
	struct fx *f = *state;

	set_desc(f, INDIR, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, INDIR, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, DESC, 0, INDIR, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "loops");
}

static void test_indirect_next_outside(void **state)
{
	struct fx *f = *state;

	set_desc(f, INDIR, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC, 0, INDIR, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "out of a table");
}

static void test_indirect_table_outside_ram(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, RAM - 16, 64, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "not guest RAM");
}

static void test_indirect_too_long(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, INDIR, 16 * (VQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "entries");
}

static void test_indirect_not_head(void **state)
{
	struct fx *f = *state;

	set_desc(f, INDIR, 0, DATA, 16, 0, 0);
	set_desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC, 1, INDIR, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, "head descriptor");
}

static void test_map_checks(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad_sizes[] = { 0, 3, 24, 512, 1024 };

	for (size_t i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		f->vq.size = bad_sizes[i];
		assert_int_equal(vq_map(&f->vq, f->why, sizeof(f->why)), -EINVAL);
		assert_false(f->vq.ready);
	}
	f->vq.size = QSIZE;
	f->vq.desc_gpa = DESC + 8;                 /* misaligned */
	assert_int_equal(vq_map(&f->vq, f->why, sizeof(f->why)), -EINVAL);
	f->vq.desc_gpa = RAM - 64;                 /* table runs out of RAM */
	assert_int_equal(vq_map(&f->vq, f->why, sizeof(f->why)), -EINVAL);
	f->vq.desc_gpa = DESC;
	f->vq.used_gpa = 0xfffffffffffff000ULL;
	assert_int_equal(vq_map(&f->vq, f->why, sizeof(f->why)), -EINVAL);
	f->vq.used_gpa = USED;
	assert_int_equal(vq_map(&f->vq, f->why, sizeof(f->why)), 0);
	/* A queue that is not ready gives nothing. */
	vq_reset(&f->vq);
	assert_int_equal(pop(f), 0);
}

static void test_no_interrupt_flag(void **state)
{
	struct fx *f = *state;
	uint16_t *avail = gp(f, AVAIL);

	vq_push(&f->vq, 0, 0);
	assert_true(vq_should_signal(&f->vq));
	avail[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	vq_push(&f->vq, 1, 0);
	assert_false(vq_should_signal(&f->vq));
}

static void test_event_idx(void **state)
{
	struct fx *f = *state;
	uint16_t *avail = gp(f, AVAIL);
	uint16_t *avail_event = gp(f, USED + 4 + 8 * QSIZE);

	/* used_event = 2: interrupt when used idx passes 2 (§2.7.10). */
	avail[2 + QSIZE] = 2;
	vq_push(&f->vq, 0, 0);
	assert_true(vq_should_signal(&f->vq));   /* the first one always */
	vq_push(&f->vq, 0, 0);                    /* used idx 2 */
	assert_false(vq_should_signal(&f->vq));
	vq_push(&f->vq, 0, 0);                    /* used idx 3 crosses 2 */
	assert_true(vq_should_signal(&f->vq));
	/* avail_event follows what we consumed. */
	set_desc(f, DESC, 0, DATA, 16, 0, 0);
	offer(f, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(*avail_event, 1);
	assert_true(vq_notify_enable(&f->vq));   /* one more is waiting */
	assert_int_equal(*avail_event, 2);
}

static void test_notify_flags(void **state)
{
	struct fx *f = *state;
	uint16_t *used = gp(f, USED);

	vq_notify_disable(&f->vq);
	assert_int_equal(used[0], VIRTQ_USED_F_NO_NOTIFY);
	assert_false(vq_notify_enable(&f->vq));
	assert_int_equal(used[0], 0);
}

static void test_index_wraps(void **state)
{
	struct fx *f = *state;

	/* 70000 chains: the 16-bit indexes wrap and nothing breaks. */
	set_desc(f, DESC, 0, DATA, 16, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < 70000; i++) {
		offer(f, 0);
		assert_int_equal(pop(f), 1);
		vq_push(&f->vq, 0, 16);
	}
	assert_int_equal(((uint16_t *)gp(f, USED))[1], (uint16_t)70000);
}

static void test_empty_buffers_skipped(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC, 0, 0xdead0000ULL << 16, 0, VIRTQ_DESC_F_NEXT, 1);   /* len 0 */
	set_desc(f, DESC, 1, DATA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout + f->c.nin, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_length_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_in_pci_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_index_too_far, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup_noind, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_bad_len, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_zero_len, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_with_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_next_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_table_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_not_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup_evidx, teardown),
		cmocka_unit_test_setup_teardown(test_notify_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_buffers_skipped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
