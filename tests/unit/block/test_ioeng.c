// SPDX-License-Identifier: GPL-2.0-only
/* The I/O engine, both back ends: ordering-free completion, zero fill past
 * end of file, fsync, depth limit, callbacks only inside ioeng_reap(). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vireo/ioeng.h"
#include "test_util.h"

static int zero_check(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

struct ctx {
	int done;
	int last_res;
};

static void on_done(struct ioeng_req *r, int res)
{
	struct ctx *c = r->opaque;

	c->done++;
	c->last_res = res;
	assert_int_equal(res, (int)r->len);
}

static void exercise(enum ioeng_kind kind)
{
	static uint8_t wbuf[16][8192], rbuf[16][8192];
	struct ioeng_req req[16], fs;
	struct ctx c = { 0 };
	struct scratch s;
	struct ioeng *e;
	struct pollfd pfd;
	int fd, err;

	err = ioeng_create(kind, 16, &e);
	if (err == -ENOSYS && kind == IOENG_URING)
		skip();
	assert_int_equal(err, 0);
	scratch_init(&s);
	fd = open(scratch_path(&s, "f"), O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	for (int i = 0; i < 16; i++) {
		pattern_fill(wbuf[i], sizeof(wbuf[i]), i);
		req[i] = (struct ioeng_req){ .op = IOENG_OP_WRITE, .fd = fd, .buf = wbuf[i],
					     .len = sizeof(wbuf[i]), .off = i * 8192ULL,
					     .done = on_done, .opaque = &c };
		assert_int_equal(ioeng_submit(e, &req[i]), 0);
	}
	assert_int_equal(ioeng_submit(e, &fs), -EAGAIN);	/* depth is 16 */
	assert_int_equal(c.done, 0);			/* callbacks only in reap */
	assert_int_equal(ioeng_kick(e), 0);
	pfd = (struct pollfd){ .fd = ioeng_event_fd(e), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	while (c.done < 16)
		assert_true(ioeng_reap(e, 1) >= 0);
	fs = (struct ioeng_req){ .op = IOENG_OP_FSYNC, .fd = fd, .done = on_done, .opaque = &c };
	assert_int_equal(ioeng_submit(e, &fs), 0);
	assert_int_equal(ioeng_reap(e, 1), 1);
	for (int i = 0; i < 16; i++) {
		/* The last read runs past end of file: zero-filled. */
		req[i] = (struct ioeng_req){ .op = IOENG_OP_READ, .fd = fd, .buf = rbuf[i],
					     .len = sizeof(rbuf[i]), .off = i * 8192ULL + (i == 15 ? 4096 : 0),
					     .done = on_done, .opaque = &c };
		assert_int_equal(ioeng_submit(e, &req[i]), 0);
	}
	ioeng_reap(e, 16);
	assert_int_equal(c.done, 33);
	for (int i = 0; i < 15; i++)
		assert_memory_equal(wbuf[i], rbuf[i], sizeof(rbuf[i]));
	assert_memory_equal(wbuf[15] + 4096, rbuf[15], 4096);
	assert_true(zero_check(rbuf[15] + 4096, 4096));
	ioeng_destroy(e);
	close(fd);
	scratch_fini(&s);
}

static void test_threads(void **state) { exercise(IOENG_THREADS); }
static void test_uring(void **state) { exercise(IOENG_URING); }
static void test_auto(void **state) { exercise(IOENG_AUTO); }

static void test_bad_depth(void **state)
{
	struct ioeng *e;

	assert_int_equal(ioeng_create(IOENG_AUTO, 0, &e), -EINVAL);
	assert_int_equal(ioeng_create(IOENG_AUTO, 100000, &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_uring),
		cmocka_unit_test(test_auto),
		cmocka_unit_test(test_bad_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
