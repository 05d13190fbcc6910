// SPDX-License-Identifier: GPL-2.0-only
/* i8259 PIC pair: initialisation, priorities, cascade, EOI, ELCR, poll. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "irqchip_fake.h"

struct ctx {
	struct fake_vm *f;
	struct pic *pic;
};

static void init_linux_style(struct fake_vm *f)
{
	/* What Linux's init_8259A() writes (arch/x86/kernel/i8259.c). */
	fake_pio_write(f, 0x21, 0xff, 1);
	fake_pio_write(f, 0xa1, 0xff, 1);
	fake_pio_write(f, 0x20, 0x11, 1);   /* ICW1: edge, cascade, ICW4 */
	fake_pio_write(f, 0x21, 0x30, 1);   /* ICW2: vectors 0x30-0x37 */
	fake_pio_write(f, 0x21, 0x04, 1);   /* ICW3: slave on IR2 */
	fake_pio_write(f, 0x21, 0x01, 1);   /* ICW4: 8086 mode, normal EOI */
	fake_pio_write(f, 0xa0, 0x11, 1);
	fake_pio_write(f, 0xa1, 0x38, 1);
	fake_pio_write(f, 0xa1, 0x02, 1);
	fake_pio_write(f, 0xa1, 0x01, 1);
	fake_pio_write(f, 0x21, 0x00, 1);   /* unmask all */
	fake_pio_write(f, 0xa1, 0x00, 1);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	c->f = fake_vm_create(1, true);
	assert_int_equal(pic_create(&c->f->vm, &c->pic), 0);
	c->f->pic = c->pic;
	init_linux_style(c->f);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	pic_destroy(c->pic);
	fake_vm_destroy(c->f);
	free(c);
	return 0;
}

static void eoi_master(struct fake_vm *f) { fake_pio_write(f, 0x20, 0x20, 1); }
static void eoi_slave(struct fake_vm *f) { fake_pio_write(f, 0xa0, 0x20, 1); }

static void test_basic_edge(void **state)
{
	struct ctx *c = *state;

	assert_false(pic_has_interrupt(c->pic));
	pic_set_irq(c->pic, 1, 1);
	assert_true(pic_has_interrupt(c->pic));
	/* IRR read (OCW3 default) shows the request. */
	fake_pio_write(c->f, 0x20, 0x0a, 1);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x02);
	assert_int_equal(pic_ack(c->pic), 0x31);
	assert_false(pic_has_interrupt(c->pic));
	/* ISR read. */
	fake_pio_write(c->f, 0x20, 0x0b, 1);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x02);
	/* The line is still high: no new edge, no new interrupt after EOI. */
	eoi_master(c->f);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x00);
	assert_false(pic_has_interrupt(c->pic));
	pic_set_irq(c->pic, 1, 0);
	pic_set_irq(c->pic, 1, 1);
	assert_true(pic_has_interrupt(c->pic));
}

static void test_priority_and_nesting(void **state)
{
	struct ctx *c = *state;

	pic_set_irq(c->pic, 4, 1);
	pic_set_irq(c->pic, 3, 1);
	/* IR3 beats IR4 under fixed priority. */
	assert_int_equal(pic_ack(c->pic), 0x33);
	/* IR4 is lower than IR3 in service: blocked. */
	assert_false(pic_has_interrupt(c->pic));
	/* IR0 is higher: nests. */
	pic_set_irq(c->pic, 0, 1);
	assert_true(pic_has_interrupt(c->pic));
	assert_int_equal(pic_ack(c->pic), 0x30);
	eoi_master(c->f);   /* retires IR0 (highest in service) */
	assert_false(pic_has_interrupt(c->pic));
	eoi_master(c->f);   /* retires IR3 */
	assert_true(pic_has_interrupt(c->pic));
	assert_int_equal(pic_ack(c->pic), 0x34);
}

static void test_mask(void **state)
{
	struct ctx *c = *state;

	fake_pio_write(c->f, 0x21, 0x20, 1);
	assert_int_equal(fake_pio_read(c->f, 0x21, 1), 0x20);
	pic_set_irq(c->pic, 5, 1);
	assert_false(pic_has_interrupt(c->pic));
	fake_pio_write(c->f, 0x21, 0x00, 1);
	assert_true(pic_has_interrupt(c->pic));
	assert_int_equal(pic_ack(c->pic), 0x35);
}

static void test_cascade(void **state)
{
	struct ctx *c = *state;

	pic_set_irq(c->pic, 12, 1);
	assert_true(pic_has_interrupt(c->pic));
	assert_int_equal(pic_ack(c->pic), 0x3c);
	/* Both the slave's IR4 and the master's IR2 are in service. */
	fake_pio_write(c->f, 0x20, 0x0b, 1);
	fake_pio_write(c->f, 0xa0, 0x0b, 1);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x04);
	assert_int_equal(fake_pio_read(c->f, 0xa0, 1), 0x10);
	eoi_slave(c->f);
	eoi_master(c->f);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x00);
	assert_int_equal(fake_pio_read(c->f, 0xa0, 1), 0x00);
	/* A second slave request after EOI interrupts again. */
	pic_set_irq(c->pic, 8, 1);
	assert_int_equal(pic_ack(c->pic), 0x38);
}

static void test_spurious(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(pic_ack(c->pic), 0x37);
	/* A spurious IR7 sets no ISR bit. */
	fake_pio_write(c->f, 0x20, 0x0b, 1);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x00);
}

static void test_elcr_level(void **state)
{
	struct ctx *c = *state;

	/* IRQ 0-2 cannot be level: the mask keeps them edge. */
	fake_pio_write(c->f, 0x4d0, 0xff, 1);
	assert_int_equal(fake_pio_read(c->f, 0x4d0, 1), 0xf8);
	fake_pio_write(c->f, 0x4d1, 0xff, 1);
	assert_int_equal(fake_pio_read(c->f, 0x4d1, 1), 0xde);
	fake_pio_write(c->f, 0x4d1, 0x08, 1);   /* IRQ 11 level */

	pic_set_irq(c->pic, 11, 1);
	assert_int_equal(pic_ack(c->pic), 0x3b);
	eoi_slave(c->f);
	eoi_master(c->f);
	/* Still asserted: a level request comes back after EOI. */
	assert_true(pic_has_interrupt(c->pic));
	/*
	 * Dropped before INTA: the master's IR2 edge is already latched, so
	 * the CPU sees the slave's spurious IR7 (8259A datasheet: an IR line
	 * must stay high until the first INTA).
	 */
	pic_set_irq(c->pic, 11, 0);
	assert_int_equal(pic_ack(c->pic), 0x3f);
	eoi_master(c->f);
	assert_false(pic_has_interrupt(c->pic));
}

static void test_specific_eoi_and_poll(void **state)
{
	struct ctx *c = *state;

	pic_set_irq(c->pic, 6, 1);
	assert_int_equal(pic_ack(c->pic), 0x36);
	fake_pio_write(c->f, 0x20, 0x66, 1);   /* specific EOI for IR6 */
	fake_pio_write(c->f, 0x20, 0x0b, 1);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x00);

	pic_set_irq(c->pic, 3, 0);
	pic_set_irq(c->pic, 3, 1);
	fake_pio_write(c->f, 0x20, 0x0c, 1);   /* OCW3 poll */
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x83);
	fake_pio_write(c->f, 0x20, 0x0c, 1);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x00);
}

static void test_auto_eoi_and_rotation(void **state)
{
	struct ctx *c = *state;

	fake_pio_write(c->f, 0x20, 0x11, 1);
	fake_pio_write(c->f, 0x21, 0x30, 1);
	fake_pio_write(c->f, 0x21, 0x04, 1);
	fake_pio_write(c->f, 0x21, 0x03, 1);   /* ICW4: auto EOI */
	/* ICW1 cleared the mask. */
	assert_int_equal(fake_pio_read(c->f, 0x21, 1), 0x00);
	pic_set_irq(c->pic, 5, 1);
	assert_int_equal(pic_ack(c->pic), 0x35);
	fake_pio_write(c->f, 0x20, 0x0b, 1);
	assert_int_equal(fake_pio_read(c->f, 0x20, 1), 0x00);

	/* Set priority: IR4 lowest, so IR5 now beats IR1. */
	fake_pio_write(c->f, 0x20, 0xc4, 1);
	pic_set_irq(c->pic, 1, 1);
	pic_set_irq(c->pic, 5, 0);
	pic_set_irq(c->pic, 5, 1);
	assert_int_equal(pic_ack(c->pic), 0x35);
	assert_int_equal(pic_ack(c->pic), 0x31);
}

static void test_reset(void **state)
{
	struct ctx *c = *state;

	pic_set_irq(c->pic, 1, 1);
	pic_reset(c->pic);
	assert_false(pic_has_interrupt(c->pic));
	assert_int_equal(fake_pio_read(c->f, 0x21, 1), 0x00);
}

/* A hostile guest: random bytes to every port, in every order; never fatal. */
static void test_hostile_guest(void **state)
{
	static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	struct ctx *c = *state;
	uint64_t x = 88172645463325252ULL;
	int i;

	for (i = 0; i < 200000; i++) {
		uint16_t port;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		port = ports[x % 6];
		if (x & 0x100)
			fake_pio_write(c->f, port, (uint32_t)(x >> 16), 1 << ((x >> 9) & 1));
		else
			(void)fake_pio_read(c->f, port, 1);
		if ((x & 0xf000) == 0)
			pic_set_irq(c->pic, (x >> 20) % 20, (x >> 30) & 1);
		if ((x & 0xf0000) == 0)
			(void)pic_ack(c->pic);
	}
	/* Still a working PIC after a re-initialisation. */
	fake_pio_write(c->f, 0x4d0, 0, 1);
	fake_pio_write(c->f, 0x4d1, 0, 1);
	init_linux_style(c->f);
	for (i = 0; i < 16; i++)
		pic_set_irq(c->pic, i, 0);
	pic_set_irq(c->pic, 5, 1);
	assert_int_equal(pic_ack(c->pic), 0x35);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_and_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spurious, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elcr_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_specific_eoi_and_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_eoi_and_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_guest, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
