// SPDX-License-Identifier: GPL-2.0-only
/* MC146818 RTC/CMOS: time formats, setting the clock, UIP, IRQ 8, memory sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dev/mc146818.h"
#include "fake_vm.h"

struct rtc_fixture {
	struct fake_vm *f;
	void *dev;
};

static int setup_mem(void **state, uint64_t mem, int ncpus)
{
	struct rtc_fixture *fx = calloc(1, sizeof(*fx));

	fx->f = fake_vm_create(mem, ncpus);
	assert_int_equal(mc146818_ops.realize(&fx->f->vm, &fx->dev), 0);
	assert_true(fx->f->timer.created);
	*state = fx;
	return 0;
}

static int setup(void **state)
{
	return setup_mem(state, 64ULL << 20, 1);
}

static int setup_big(void **state)
{
	return setup_mem(state, 6ULL << 30, 4);
}

static int teardown(void **state)
{
	struct rtc_fixture *fx = *state;

	mc146818_ops.destroy(fx->dev);
	assert_false(fx->f->timer.created);
	assert_int_equal(fx->f->vm.pio.nranges, 0);
	fake_vm_destroy(fx->f);
	free(fx);
	return 0;
}

static struct fake_vm *fv(void **state)
{
	return ((struct rtc_fixture *)*state)->f;
}

static uint8_t cmos_rd(struct fake_vm *f, uint8_t idx)
{
	fake_outb(f, 0x70, idx);
	return fake_inb(f, 0x71);
}

static void cmos_wr(struct fake_vm *f, uint8_t idx, uint8_t val)
{
	fake_outb(f, 0x70, idx);
	fake_outb(f, 0x71, val);
}

static int bcd(uint8_t v)
{
	assert_true((v & 0x0f) <= 9 && (v >> 4) <= 9);
	return (v >> 4) * 10 + (v & 0x0f);
}

/* Read the clock like Linux's mc146818_get_time(): wait out UIP first. */
static time_t read_clock(struct fake_vm *f, bool binary)
{
	struct tm tm = { 0 };
	int (*dec)(uint8_t) = NULL;

	while (cmos_rd(f, 0x0a) & 0x80)
		;
	if (!binary)
		dec = bcd;
	tm.tm_sec = dec ? dec(cmos_rd(f, 0x00)) : cmos_rd(f, 0x00);
	tm.tm_min = dec ? dec(cmos_rd(f, 0x02)) : cmos_rd(f, 0x02);
	tm.tm_hour = dec ? dec(cmos_rd(f, 0x04)) : cmos_rd(f, 0x04);
	tm.tm_mday = dec ? dec(cmos_rd(f, 0x07)) : cmos_rd(f, 0x07);
	tm.tm_mon = (dec ? dec(cmos_rd(f, 0x08)) : cmos_rd(f, 0x08)) - 1;
	tm.tm_year = (dec ? dec(cmos_rd(f, 0x09)) : cmos_rd(f, 0x09)) +
		     (dec ? dec(cmos_rd(f, 0x32)) : cmos_rd(f, 0x32)) * 100 - 1900;
	return timegm(&tm);
}

static void test_status_registers(void **state)
{
	struct fake_vm *f = fv(state);

	assert_int_equal(cmos_rd(f, 0x0a) & 0x7f, 0x26);
	assert_int_equal(cmos_rd(f, 0x0b), 0x02);   /* BCD, 24-hour */
	assert_int_equal(cmos_rd(f, 0x0d), 0x80);   /* valid RAM and time */
	cmos_wr(f, 0x0d, 0x00);                     /* read-only */
	assert_int_equal(cmos_rd(f, 0x0d), 0x80);
	/* Index bit 7 is the NMI mask, not part of the index. */
	fake_outb(f, 0x70, 0x80 | 0x0d);
	assert_int_equal(fake_inb(f, 0x71), 0x80);
	assert_int_equal(fake_inb(f, 0x70), 0xff);  /* index port is write-only */
	/* Plain CMOS bytes are RAM. */
	cmos_wr(f, 0x40, 0x5a);
	assert_int_equal(cmos_rd(f, 0x40), 0x5a);
	cmos_wr(f, 0x7f, 0xa5);
	assert_int_equal(cmos_rd(f, 0x7f), 0xa5);
}

static void test_time_bcd_and_binary(void **state)
{
	struct fake_vm *f = fv(state);
	time_t now = time(NULL);
	time_t t = read_clock(f, false);

	assert_true(t >= now - 1 && t <= now + 2);
	assert_int_equal(bcd(cmos_rd(f, 0x32)), 20);    /* century: 20xx */

	cmos_wr(f, 0x0b, 0x06);                     /* binary, 24-hour */
	t = read_clock(f, true);
	assert_true(t >= now - 1 && t <= time(NULL) + 1);
	assert_int_equal(cmos_rd(f, 0x32), 20);
}

static void test_set_time(void **state)
{
	struct fake_vm *f = fv(state);
	struct tm want = { .tm_year = 2031 - 1900, .tm_mon = 11, .tm_mday = 31,
			   .tm_hour = 12, .tm_min = 0, .tm_sec = 0 };
	time_t t;

	/* mc146818_set_time(): SET, write the fields in BCD, clear SET. */
	cmos_wr(f, 0x0b, 0x82);
	cmos_wr(f, 0x00, 0x00);
	cmos_wr(f, 0x02, 0x00);
	cmos_wr(f, 0x04, 0x12);
	cmos_wr(f, 0x07, 0x31);
	cmos_wr(f, 0x08, 0x12);
	cmos_wr(f, 0x09, 0x31);
	cmos_wr(f, 0x32, 0x20);
	/* Frozen while SET: no UIP, fields read back as written. */
	assert_int_equal(cmos_rd(f, 0x04), 0x12);
	assert_int_equal(cmos_rd(f, 0x0a) & 0x80, 0);
	cmos_wr(f, 0x0b, 0x02);
	t = read_clock(f, false);
	assert_true(t >= timegm(&want) && t <= timegm(&want) + 1);
	assert_int_equal(cmos_rd(f, 0x06), 4);      /* a Wednesday; Sunday = 1 */

	/* Binary 12-hour mode: 11 PM is 0x8b. */
	cmos_wr(f, 0x0b, 0x84);
	cmos_wr(f, 0x04, 0x8b);
	cmos_wr(f, 0x0b, 0x04);
	assert_int_equal(cmos_rd(f, 0x04), 0x8b);
	cmos_wr(f, 0x0b, 0x06);
	assert_int_equal(cmos_rd(f, 0x04), 23);
	/* Writing one field while the clock runs keeps the others. */
	cmos_wr(f, 0x09, 40);
	assert_int_equal(cmos_rd(f, 0x09), 40);
	assert_int_equal(cmos_rd(f, 0x08), 12);
	assert_int_equal(cmos_rd(f, 0x32), 20);
}

static void test_update_in_progress(void **state)
{
	struct fake_vm *f = fv(state);
	struct timespec ts, wake;
	bool seen = false;

	/*
	 * UIP is up only in the last 244 us of each second.  Busy polling can
	 * miss that window on a loaded host, so sleep until ~120 us before a
	 * second's end (a timer wake-up is scheduled promptly) and read then;
	 * try again over up to 20 seconds.
	 */
	for (int tries = 0; tries < 20 && !seen; tries++) {
		clock_gettime(CLOCK_REALTIME, &wake);
		wake.tv_sec += 1;
		wake.tv_nsec = 999880000L;
		clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &wake, NULL);
		for (int i = 0; i < 200 && !seen; i++)
			seen = cmos_rd(f, 0x0a) & 0x80;
		clock_gettime(CLOCK_REALTIME, &ts);
	}
	assert_true(seen);
	/* ts is taken just after the read; allow for being preempted (50 ms). */
	assert_true(ts.tv_nsec >= 999756000L - 50000000L || ts.tv_nsec < 50000000L);
	/* And not in the middle of a second. */
	wake.tv_sec = ts.tv_sec + 1;
	wake.tv_nsec = 500000000L;
	clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &wake, NULL);
	assert_false(cmos_rd(f, 0x0a) & 0x80);
}

static void test_periodic_interrupt(void **state)
{
	struct fake_vm *f = fv(state);

	/* Nothing enabled: no timer, no IRQ. */
	assert_false(f->timer.armed);
	cmos_wr(f, 0x0a, 0x23);          /* rate 3: 122 us */
	cmos_wr(f, 0x0b, 0x42);          /* PIE */
	assert_true(f->timer.armed);
	assert_true(f->timer.delay_ns <= 122071);
	usleep(1000);
	fake_timer_fire(f);
	assert_int_equal(f->irq_level[8], 1);
	assert_false(f->timer.armed);    /* nothing more to signal until C is read */
	assert_int_equal(cmos_rd(f, 0x0c) & 0xc0, 0xc0);  /* IRQF | PF */
	assert_int_equal(f->irq_level[8], 0);
	assert_true(f->timer.armed);

	cmos_wr(f, 0x0a, 0x2f);          /* rate 15: 500 ms */
	cmos_rd(f, 0x0c);
	assert_int_equal(f->irq_level[8], 0);
	cmos_wr(f, 0x0b, 0x02);          /* PIE off: flags still latch, no IRQ */
	assert_false(f->timer.armed);
	assert_int_equal(f->irq_level[8], 0);
}

static void test_update_and_alarm_interrupts(void **state)
{
	struct fake_vm *f = fv(state);

	cmos_wr(f, 0x01, 0xff);          /* alarm: don't care everywhere */
	cmos_wr(f, 0x03, 0xff);
	cmos_wr(f, 0x05, 0xff);
	cmos_rd(f, 0x0c);
	cmos_wr(f, 0x0b, 0x32);          /* UIE | AIE */
	assert_true(f->timer.armed);
	assert_true(f->timer.delay_ns <= 1000000000ULL);
	usleep(f->timer.delay_ns / 1000 + 2000);
	fake_timer_fire(f);
	assert_int_equal(f->irq_level[8], 1);
	assert_int_equal(cmos_rd(f, 0x0c) & 0xb0, 0xb0);  /* IRQF | AF | UF */
	assert_int_equal(f->irq_level[8], 0);

	/* SET clears UIE. */
	cmos_wr(f, 0x0b, 0x80 | 0x32);
	assert_int_equal(cmos_rd(f, 0x0b), 0xa2);
	cmos_wr(f, 0x0b, 0x02);
}

static void test_cmos_memory_small(void **state)
{
	struct fake_vm *f = fv(state);
	unsigned sum = 0;

	/* 64 MiB, one CPU. */
	assert_int_equal(cmos_rd(f, 0x15) | cmos_rd(f, 0x16) << 8, 640);
	assert_int_equal(cmos_rd(f, 0x17) | cmos_rd(f, 0x18) << 8, 63 * 1024);
	assert_int_equal(cmos_rd(f, 0x30) | cmos_rd(f, 0x31) << 8, 63 * 1024);
	assert_int_equal(cmos_rd(f, 0x34) | cmos_rd(f, 0x35) << 8, (48 << 20) >> 16);
	assert_int_equal(cmos_rd(f, 0x5b) | cmos_rd(f, 0x5c) << 8 | cmos_rd(f, 0x5d) << 16, 0);
	assert_int_equal(cmos_rd(f, 0x5f), 0);
	for (int i = 0x10; i < 0x2e; i++)
		sum += cmos_rd(f, i);
	assert_int_equal(cmos_rd(f, 0x2e) << 8 | cmos_rd(f, 0x2f), sum);
}

static void test_cmos_memory_above_4g(void **state)
{
	struct fake_vm *f = fv(state);

	/* 6 GiB, four CPUs: 3 GiB below the PCI hole, 3 GiB above 4 GiB. */
	assert_int_equal(cmos_rd(f, 0x17) | cmos_rd(f, 0x18) << 8, 0xffff);
	assert_int_equal(cmos_rd(f, 0x34) | cmos_rd(f, 0x35) << 8,
			 ((3ULL << 30) - (16 << 20)) >> 16);
	assert_int_equal(cmos_rd(f, 0x5b) | cmos_rd(f, 0x5c) << 8 | cmos_rd(f, 0x5d) << 16,
			 (3ULL << 30) >> 16);
	assert_int_equal(cmos_rd(f, 0x5f), 3);
}

/* Garbage in every register (a century of 0x99, binary 0xff...) is survived. */
static void test_hostile_guest(void **state)
{
	struct rtc_fixture *fx = *state;
	struct fake_vm *f = fx->f;

	for (int round = 0; round < 50; round++)
		fake_random_pio(f, 0x70, 2, 2000, 0x146818 + round);
	mc146818_ops.reset(fx->dev);
	/* Binary mode, maximal fields: clamped, still a clock. */
	cmos_wr(f, 0x0b, 0x86);
	for (uint8_t i = 0; i < 10; i++)
		cmos_wr(f, i, 0xff);
	cmos_wr(f, 0x32, 0xff);
	cmos_wr(f, 0x0b, 0x06);
	assert_int_equal(cmos_rd(f, 0x0d), 0x80);
	assert_true(cmos_rd(f, 0x00) < 60);
	assert_true(cmos_rd(f, 0x08) >= 1 && cmos_rd(f, 0x08) <= 12);
	assert_int_equal(f->irq_level[8], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_bcd_and_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_in_progress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_and_alarm_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmos_memory_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmos_memory_above_4g, setup_big, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
