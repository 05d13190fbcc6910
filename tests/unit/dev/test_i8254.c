// SPDX-License-Identifier: GPL-2.0-only
/* i8254 PIT: modes, latch, read-back, lobyte/hibyte, port 0x61, IRQ 0 timer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "irqchip_fake.h"

/* ns for n PIT clocks (1.193182 MHz), rounded up. */
#define PIT_NS(n) (((uint64_t)(n) * 1000000000ULL + 1193181) / 1193182)

struct ctx {
	struct fake_vm *f;
	struct pit *pit;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	c->f = fake_vm_create(1, true);
	assert_int_equal(pit_create(&c->f->vm, &c->pit), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	pit_destroy(c->pit);
	assert_int_equal(fake_timers_armed(), 0);
	fake_vm_destroy(c->f);
	free(c);
	return 0;
}

static uint16_t read16(struct fake_vm *f, uint16_t port)
{
	uint16_t lo = fake_pio_read(f, port, 1);

	return lo | fake_pio_read(f, port, 1) << 8;
}

static void test_mode2_irq0(void **state)
{
	struct ctx *c = *state;
	uint64_t period, left;

	/* Linux's setup_pit_timer: mode 2, LATCH = 1193182 / HZ(1000) ~ 1193. */
	fake_pio_write(c->f, 0x43, 0x34, 1);
	fake_pio_write(c->f, 0x40, 1193 & 0xff, 1);
	assert_int_equal(fake_timers_armed(), 0);   /* half a count: not loaded */
	fake_pio_write(c->f, 0x40, 1193 >> 8, 1);
	assert_true(fake_timer_first(&period, &left));
	assert_int_equal(period, PIT_NS(1193));
	assert_int_equal(left, PIT_NS(1193));
	fake_clock_advance(10 * PIT_NS(1193));
	assert_int_equal(c->f->irq_edges[0], 10);
	assert_int_equal(c->f->irq_level[0], 0);    /* pulses, not a stuck line */
}

static void test_mode0_oneshot(void **state)
{
	struct ctx *c = *state;

	fake_pio_write(c->f, 0x43, 0x30, 1);
	fake_pio_write(c->f, 0x40, 0x00, 1);
	fake_pio_write(c->f, 0x40, 0x10, 1);        /* 4096 */
	fake_clock_advance(PIT_NS(4095));
	assert_int_equal(c->f->irq_edges[0], 0);
	fake_clock_advance(PIT_NS(2));
	assert_int_equal(c->f->irq_edges[0], 1);
	fake_clock_advance(PIT_NS(100000));
	assert_int_equal(c->f->irq_edges[0], 1);
	/* A new control word stops it. */
	fake_pio_write(c->f, 0x40, 0x00, 1);
	fake_pio_write(c->f, 0x40, 0x10, 1);
	fake_pio_write(c->f, 0x43, 0x30, 1);
	fake_clock_advance(PIT_NS(100000));
	assert_int_equal(c->f->irq_edges[0], 1);
}

static void test_min_period(void **state)
{
	struct ctx *c = *state;
	uint64_t period, left;

	/* A count of 2 in mode 2 would be 1.7 us: stretched to 200 us. */
	fake_pio_write(c->f, 0x43, 0x34, 1);
	fake_pio_write(c->f, 0x40, 2, 1);
	fake_pio_write(c->f, 0x40, 0, 1);
	assert_true(fake_timer_first(&period, &left));
	assert_int_equal(period, 200000);
	fake_clock_advance(1000000);
	assert_int_equal(c->f->irq_edges[0], 5);
}

static void test_counter_and_latch(void **state)
{
	struct ctx *c = *state;
	uint16_t v;

	fake_pio_write(c->f, 0x43, 0xb0, 1);   /* ch2 lobyte/hibyte mode 0 */
	fake_pio_write(c->f, 0x42, 0x34, 1);
	fake_pio_write(c->f, 0x42, 0x12, 1);   /* 0x1234 */
	fake_clock_advance(PIT_NS(0x100) - 1);
	v = read16(c->f, 0x42);
	assert_int_equal(v, 0x1234 - 0xff);
	/* Latch: frozen value until both bytes are read. */
	fake_pio_write(c->f, 0x43, 0x80, 1);
	fake_clock_advance(PIT_NS(0x200));
	assert_int_equal(read16(c->f, 0x42), 0x1234 - 0xff);
	assert_int_equal(read16(c->f, 0x42), 0x1234 - 0x2ff);
	/* LSB-only access mode. */
	fake_pio_write(c->f, 0x43, 0x90, 1);
	fake_pio_write(c->f, 0x42, 0x80, 1);
	fake_clock_advance(PIT_NS(0x10));
	assert_int_equal(fake_pio_read(c->f, 0x42, 1), 0x70);
	assert_int_equal(fake_pio_read(c->f, 0x42, 1), 0x70);
	/* MSB-only access mode. */
	fake_pio_write(c->f, 0x43, 0xa0, 1);
	fake_pio_write(c->f, 0x42, 0x20, 1);   /* 0x2000 */
	fake_clock_advance(PIT_NS(0x100));
	assert_int_equal(fake_pio_read(c->f, 0x42, 1), 0x1f);
}

static void test_readback(void **state)
{
	struct ctx *c = *state;

	fake_pio_write(c->f, 0x43, 0x36, 1);   /* ch0 lo/hi mode 3 */
	/* Status before a count: null count set. */
	fake_pio_write(c->f, 0x43, 0xe2, 1);   /* read-back status of ch0 */
	assert_int_equal(fake_pio_read(c->f, 0x40, 1) & 0x7f, 0x40 | 0x30 | 0x06);
	fake_pio_write(c->f, 0x40, 0x00, 1);
	fake_pio_write(c->f, 0x40, 0x01, 1);   /* 256 */
	/* Status and count together: status first. */
	fake_pio_write(c->f, 0x43, 0xc2, 1);
	assert_int_equal(fake_pio_read(c->f, 0x40, 1) & 0x7f, 0x36);
	assert_int_equal(read16(c->f, 0x40), 256);
	/* Mode 3 counts down by two. */
	fake_clock_advance(PIT_NS(10));
	assert_int_equal(read16(c->f, 0x40), 256 - 20);
}

static void test_port61_channel2(void **state)
{
	struct ctx *c = *state;
	uint8_t v;

	/* Linux pit_calibrate_tsc(): gate on, speaker off, ch2 mode 0. */
	v = fake_pio_read(c->f, 0x61, 1);
	fake_pio_write(c->f, 0x61, (v & ~0x02) | 0x01, 1);
	fake_pio_write(c->f, 0x43, 0xb0, 1);
	fake_pio_write(c->f, 0x42, 11932 & 0xff, 1);
	fake_pio_write(c->f, 0x42, 11932 >> 8, 1);
	assert_int_equal(fake_pio_read(c->f, 0x61, 1) & 0x21, 0x01);
	fake_clock_advance(PIT_NS(11931));
	assert_int_equal(fake_pio_read(c->f, 0x61, 1) & 0x20, 0);
	fake_clock_advance(PIT_NS(2));
	assert_int_equal(fake_pio_read(c->f, 0x61, 1) & 0x20, 0x20);
	/* Channel 2 never raises IRQ 0. */
	assert_int_equal(c->f->irq_edges[0], 0);
	/* The refresh bit toggles. */
	{
		uint8_t a = fake_pio_read(c->f, 0x61, 1) & 0x10, b;

		fake_clock_advance(15085);
		b = fake_pio_read(c->f, 0x61, 1) & 0x10;
		assert_int_not_equal(a, b);
	}
}

static void test_gate_restart_mode2(void **state)
{
	struct ctx *c = *state;

	fake_pio_write(c->f, 0x43, 0xb4, 1);   /* ch2 mode 2 */
	fake_pio_write(c->f, 0x42, 100, 1);
	fake_pio_write(c->f, 0x42, 0, 1);
	fake_clock_advance(PIT_NS(30));
	/* Gate low then high reloads the count (gate starts low on ch2). */
	fake_pio_write(c->f, 0x61, 0x00, 1);
	fake_pio_write(c->f, 0x61, 0x01, 1);
	assert_int_equal(read16(c->f, 0x42), 100);
}

static void test_reset_and_bad_io(void **state)
{
	struct ctx *c = *state;

	fake_pio_write(c->f, 0x43, 0x34, 1);
	fake_pio_write(c->f, 0x40, 0x10, 1);
	fake_pio_write(c->f, 0x40, 0x00, 1);
	assert_int_equal(fake_timers_armed(), 1);
	pit_reset(c->pit);
	assert_int_equal(fake_timers_armed(), 0);
	/* Reads of the control port and of unprogrammed channels do not crash. */
	(void)fake_pio_read(c->f, 0x43, 1);
	assert_int_equal(fake_pio_read(c->f, 0x41, 1), 0);
	fake_pio_write(c->f, 0x43, 0xfe, 4);
}

/* A hostile guest: random control words and counts; never fatal. */
static void test_hostile_guest(void **state)
{
	struct ctx *c = *state;
	uint64_t x = 0xd1b54a32d192ed03ULL;
	int i;

	for (i = 0; i < 200000; i++) {
		uint16_t port;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		port = (x & 7) < 5 ? 0x40 + (x & 3) : 0x61;
		if (x & 0x100)
			fake_pio_write(c->f, port, (uint32_t)(x >> 16), 1);
		else
			(void)fake_pio_read(c->f, port, 1);
		if ((x & 0x3e00) == 0)
			fake_clock_advance((x >> 20) & 0xfffff);
	}
	pit_reset(c->pit);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_mode2_irq0), T(test_mode0_oneshot), T(test_min_period), T(test_counter_and_latch),
		T(test_readback), T(test_port61_channel2), T(test_gate_restart_mode2),
		T(test_reset_and_bad_io),
		T(test_hostile_guest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
