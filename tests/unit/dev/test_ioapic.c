// SPDX-License-Identifier: GPL-2.0-only
/* IOAPIC: registers, edge and level delivery, remote IRR and EOI, masking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "irqchip_fake.h"

struct ctx {
	struct fake_vm *f;
	struct ioapic *io;
	struct lapic *apic[2];
};

static uint32_t lrd(struct lapic *a, unsigned off)
{
	uint32_t v = 0;

	lapic_mmio(a, off, &v, 4, false);
	return v;
}

static void lwr(struct lapic *a, unsigned off, uint32_t v)
{
	lapic_mmio(a, off, &v, 4, true);
}

static uint32_t io_rd(struct ctx *c, uint32_t idx)
{
	fake_mmio_write(c->f, IOAPIC_BASE, idx);
	return fake_mmio_read(c->f, IOAPIC_BASE + 0x10);
}

static void io_wr(struct ctx *c, uint32_t idx, uint32_t v)
{
	fake_mmio_write(c->f, IOAPIC_BASE, idx);
	fake_mmio_write(c->f, IOAPIC_BASE + 0x10, v);
}

static void set_rte(struct ctx *c, unsigned pin, uint64_t e)
{
	io_wr(c, 0x11 + 2 * pin, e >> 32);
	io_wr(c, 0x10 + 2 * pin, (uint32_t)e);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	int i;

	c->f = fake_vm_create(2, true);
	assert_int_equal(ioapic_create(&c->f->vm, &c->io), 0);
	c->f->ioapic = c->io;
	for (i = 0; i < 2; i++) {
		assert_int_equal(lapic_create(c->f->vm.vcpus[i], fake_kick, &c->apic[i]), 0);
		lwr(c->apic[i], 0xf0, 0x1ff);
		lwr(c->apic[i], 0xd0, (1u << i) << 24);
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	lapic_destroy(c->apic[0]);
	lapic_destroy(c->apic[1]);
	ioapic_destroy(c->io);
	fake_vm_destroy(c->f);
	free(c);
	return 0;
}

static void eoi(struct lapic *a, int vec)
{
	assert_int_equal(lapic_accept(a, vec), vec);
	lwr(a, 0xb0, 0);
}

static void test_registers(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(io_rd(c, 1), 0x00170011);
	io_wr(c, 0, 0xff000000);
	assert_int_equal(io_rd(c, 0), 0x0f000000);
	/* Reset: every pin masked. */
	assert_int_equal(io_rd(c, 0x10), 0x10000);
	assert_int_equal(io_rd(c, 0x10 + 2 * 23), 0x10000);
	/* Read-only bits stay; reserved bits do not stick. */
	io_wr(c, 0x10, 0xffffffff);
	assert_int_equal(io_rd(c, 0x10), 0x1afff);
	io_wr(c, 0x11, 0xffffffff);
	assert_int_equal(io_rd(c, 0x11), 0xff000000);
	/* Out-of-range index and register offset: ignored, reads all ones. */
	io_wr(c, 0x60, 1);
	assert_int_equal(io_rd(c, 0x60), 0xffffffff);
	fake_mmio_write(c->f, IOAPIC_BASE + 0x20, 1);
}

static void test_edge(void **state)
{
	struct ctx *c = *state;
	int kicks = c->f->kicks[1];

	set_rte(c, 4, (1ULL << 56) | 0x34);      /* physical dest 1, edge, fixed */
	vm_irq_set(&c->f->vm, 4, 1);
	assert_int_equal(c->f->kicks[1], kicks + 1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x34);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	assert_int_equal(lrd(c->apic[1], 0x180 + 0x10) & (1u << 20), 0);  /* TMR clear */
	eoi(c->apic[1], 0x34);
	/* Held high: no second edge. */
	vm_irq_set(&c->f->vm, 4, 1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	vm_irq_set(&c->f->vm, 4, 0);
	vm_irq_set(&c->f->vm, 4, 1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x34);
}

static void test_masked_edge_latched(void **state)
{
	struct ctx *c = *state;

	set_rte(c, 5, (1ULL << 56) | (1ULL << 16) | 0x35);
	vm_irq_set(&c->f->vm, 5, 1);
	vm_irq_set(&c->f->vm, 5, 0);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	set_rte(c, 5, (1ULL << 56) | 0x35);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x35);
}

static void test_level_remote_irr(void **state)
{
	struct ctx *c = *state;

	set_rte(c, 10, (1ULL << 56) | (1 << 15) | 0x3a);  /* level */
	vm_irq_set(&c->f->vm, 10, 1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x3a);
	assert_true(io_rd(c, 0x10 + 20) & (1 << 14));           /* remote IRR */
	assert_true(lrd(c->apic[1], 0x180 + 0x10) & (1u << 26)); /* TMR */
	assert_int_equal(lapic_accept(c->apic[1], 0x3a), 0x3a);
	/* Re-assertion while remote IRR is set sends nothing. */
	vm_irq_set(&c->f->vm, 10, 1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	/* EOI with the line still high: delivered again. */
	lwr(c->apic[1], 0xb0, 0);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x3a);
	assert_int_equal(lapic_accept(c->apic[1], 0x3a), 0x3a);
	vm_irq_set(&c->f->vm, 10, 0);
	lwr(c->apic[1], 0xb0, 0);
	assert_false(io_rd(c, 0x10 + 20) & (1 << 14));
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
}

static void test_level_unmask_delivers(void **state)
{
	struct ctx *c = *state;

	set_rte(c, 11, (1ULL << 16) | (1 << 15) | 0x3b);
	vm_irq_set(&c->f->vm, 11, 1);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	set_rte(c, 11, (1 << 15) | 0x3b);
	assert_int_equal(lapic_pending_vector(c->apic[0]), 0x3b);
}

static void test_eoi_register(void **state)
{
	struct ctx *c = *state;

	set_rte(c, 12, (1 << 15) | 0x3c);
	vm_irq_set(&c->f->vm, 12, 1);
	assert_true(io_rd(c, 0x10 + 24) & (1 << 14));
	vm_irq_set(&c->f->vm, 12, 0);
	fake_mmio_write(c->f, IOAPIC_BASE + 0x40, 0x3c);
	assert_false(io_rd(c, 0x10 + 24) & (1 << 14));
}

static void test_logical_and_lowest(void **state)
{
	struct ctx *c = *state;

	/* Logical flat, both CPUs, fixed: both get it. */
	set_rte(c, 16, (3ULL << 56) | (1 << 11) | 0x50);
	vm_irq_set(&c->f->vm, 16, 1);
	assert_int_equal(lapic_pending_vector(c->apic[0]), 0x50);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x50);
	/* Lowest priority: exactly one. */
	set_rte(c, 17, (3ULL << 56) | (1 << 11) | (1 << 8) | 0x60);
	vm_irq_set(&c->f->vm, 17, 1);
	assert_int_equal((lapic_pending_vector(c->apic[0]) == 0x60) +
			 (lapic_pending_vector(c->apic[1]) == 0x60), 1);
}

static void test_nmi_pin(void **state)
{
	struct ctx *c = *state;

	set_rte(c, 3, (0ULL << 56) | (4 << 8));
	vm_irq_set(&c->f->vm, 3, 1);
	assert_true(lapic_take_nmi(c->apic[0]));
	assert_false(lapic_take_nmi(c->apic[1]));
}

/* Virtual wire through the IOAPIC (MP spec §3.6.2.2): pin 0 in ExtINT mode. */
static void test_extint_pin(void **state)
{
	struct ctx *c = *state;
	struct fake_vm *f = c->f;
	struct pic *pic;

	assert_int_equal(pic_create(&f->vm, &pic), 0);
	f->pic = pic;
	fake_pio_write(f, 0x20, 0x11, 1);
	fake_pio_write(f, 0x21, 0x08, 1);
	fake_pio_write(f, 0x21, 0x04, 1);
	fake_pio_write(f, 0x21, 0x01, 1);
	fake_pio_write(f, 0x21, 0x00, 1);
	/* LINT0 masked on every CPU: only the IOAPIC route remains. */
	lwr(c->apic[0], 0x350, 0x10700);
	set_rte(c, 0, (0ULL << 56) | (7 << 8));
	vm_irq_set(&f->vm, 0, 1);
	assert_int_equal(lapic_pending_vector(c->apic[0]), LAPIC_VECTOR_EXTINT);
	assert_int_equal(lapic_accept(c->apic[0], LAPIC_VECTOR_EXTINT), 0x08);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	f->pic = NULL;
	pic_destroy(pic);
}

static void test_reset(void **state)
{
	struct ctx *c = *state;

	set_rte(c, 1, 0x41);
	ioapic_reset(c->io);
	assert_int_equal(io_rd(c, 0x12), 0x10000);
	vm_irq_set(&c->f->vm, 1, 1);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
}

/* A hostile guest: random register selects and values, never fatal. */
static void test_hostile_guest(void **state)
{
	struct ctx *c = *state;
	uint64_t x = 0x2545f4914f6cdd1dULL;
	int i;

	for (i = 0; i < 200000; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		if (x & 1)
			fake_mmio_write(c->f, IOAPIC_BASE + ((x >> 1) & 0xff), (uint32_t)(x >> 32));
		else
			(void)fake_mmio_read(c->f, IOAPIC_BASE + ((x >> 1) & 0xff));
		if ((x & 0xf00) == 0)
			vm_irq_set(&c->f->vm, (x >> 12) % 24, (x >> 20) & 1);
		if ((x & 0xf000) == 0) {
			int v = lapic_pending_vector(c->apic[(x >> 24) & 1]);

			assert_true(v >= -1 && (v < 256 || v == LAPIC_VECTOR_EXTINT));
			if (v >= 0)
				lapic_accept(c->apic[(x >> 24) & 1], v);
			lwr(c->apic[(x >> 24) & 1], 0xb0, 0);
		}
		if ((x & 0xff0000) == 0)
			ioapic_eoi(c->io, (uint8_t)(x >> 40));
	}
	ioapic_reset(c->io);
	assert_int_equal(io_rd(c, 0x10), 0x10000);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_registers), T(test_edge), T(test_masked_edge_latched),
		T(test_level_remote_irr), T(test_level_unmask_delivers),
		T(test_eoi_register), T(test_logical_and_lowest), T(test_nmi_pin),
		T(test_extint_pin),
		T(test_reset),
		T(test_hostile_guest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
