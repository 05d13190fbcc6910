// SPDX-License-Identifier: GPL-2.0-only
/*
 * Local APIC: register reset values, TPR/PPR, IPIs (fixed, lowest priority,
 * NMI, INIT/SIPI, shorthands, logical flat/cluster), EOI, timer modes,
 * ExtINT from the PIC, MSI, state save/restore, guest TSC arithmetic.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "irqchip_fake.h"

#define NCPU 4

struct ctx {
	struct fake_vm *f;
	struct lapic *apic[NCPU];
};

static uint32_t rd(struct lapic *a, unsigned off)
{
	uint32_t v = 0;

	lapic_mmio(a, off, &v, 4, false);
	return v;
}

static void wr(struct lapic *a, unsigned off, uint32_t v)
{
	lapic_mmio(a, off, &v, 4, true);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	int i;

	c->f = fake_vm_create(NCPU, true);
	for (i = 0; i < NCPU; i++) {
		assert_int_equal(lapic_create(c->f->vm.vcpus[i], fake_kick, &c->apic[i]), 0);
		wr(c->apic[i], 0xf0, 0x1ff);    /* software enable, spurious 0xff */
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	int i;

	for (i = 0; i < NCPU; i++)
		lapic_destroy(c->apic[i]);
	if (c->f->pic)
		pic_destroy(c->f->pic);
	fake_vm_destroy(c->f);
	free(c);
	return 0;
}

static void send_ipi(struct lapic *a, uint8_t dest, uint32_t lo)
{
	wr(a, 0x310, (uint32_t)dest << 24);
	wr(a, 0x300, lo);
}

static void test_reset_values(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(rd(c->apic[2], 0x20), 2u << 24);
	assert_int_equal(rd(c->apic[0], 0x30), 0x00050014);
	assert_int_equal(rd(c->apic[0], 0xe0), 0xffffffff);
	assert_int_equal(rd(c->apic[1], 0x320), 0x10000);
	assert_int_equal(rd(c->apic[0], 0x350), 0x700);   /* BSP LINT0 ExtINT */
	assert_int_equal(rd(c->apic[1], 0x350), 0x10000);
	assert_int_equal(lapic_get_base(c->apic[0]), 0xfee00900);
	assert_int_equal(lapic_get_base(c->apic[1]), 0xfee00800);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	/* Byte reads see the register's bytes; the slot tail reads zero. */
	{
		uint8_t b = 0xaa;

		lapic_mmio(c->apic[0], 0x33, &b, 1, false);
		assert_int_equal(b, 0x00);
		lapic_mmio(c->apic[0], 0x30, &b, 1, false);
		assert_int_equal(b, 0x14);
		lapic_mmio(c->apic[0], 0x34, &b, 1, false);
		assert_int_equal(b, 0x00);
	}
}

static void test_fixed_ipi_and_eoi(void **state)
{
	struct ctx *c = *state;
	int kicks = c->f->kicks[1];

	send_ipi(c->apic[0], 1, 0x40);
	assert_int_equal(c->f->kicks[1], kicks + 1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x40);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	assert_int_equal(rd(c->apic[1], 0x200 + 0x20), 1u << 0);  /* IRR bit 0x40 */
	assert_int_equal(lapic_accept(c->apic[1], 0x40), 0x40);
	assert_int_equal(rd(c->apic[1], 0x100 + 0x20), 1u << 0);  /* ISR */
	assert_int_equal(rd(c->apic[1], 0xa0), 0x40);             /* PPR */
	/* Same class is blocked by the PPR; a higher class nests. */
	send_ipi(c->apic[0], 1, 0x45);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	send_ipi(c->apic[0], 1, 0x51);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x51);
	lapic_accept(c->apic[1], 0x51);
	wr(c->apic[1], 0xb0, 0);
	wr(c->apic[1], 0xb0, 0);
	assert_int_equal(rd(c->apic[1], 0xa0), 0);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x45);
	/* Delivery status reads idle. */
	assert_int_equal(rd(c->apic[0], 0x300) & (1 << 12), 0);
}

static void test_tpr_and_cr8(void **state)
{
	struct ctx *c = *state;

	wr(c->apic[0], 0x80, 0x50);
	assert_int_equal(lapic_get_cr8(c->apic[0]), 5);
	send_ipi(c->apic[0], 0, 0x55);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	send_ipi(c->apic[0], 0, 0x61);
	assert_int_equal(lapic_pending_vector(c->apic[0]), 0x61);
	lapic_set_cr8(c->apic[0], 7);
	assert_int_equal(rd(c->apic[0], 0x80), 0x70);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	lapic_set_cr8(c->apic[0], 0);
	assert_int_equal(lapic_pending_vector(c->apic[0]), 0x61);
}

static void test_shorthands(void **state)
{
	struct ctx *c = *state;
	int i;

	send_ipi(c->apic[1], 0, 0x40000 | 0x41);   /* self */
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x41);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	send_ipi(c->apic[1], 0, 0xc0000 | 0x42);   /* all excluding self */
	for (i = 0; i < NCPU; i++)
		assert_int_equal(lapic_pending_vector(c->apic[i]), i == 1 ? 0x42 - 1 : 0x42);
	send_ipi(c->apic[2], 0, 0x80000 | 0x93);   /* all including self */
	for (i = 0; i < NCPU; i++)
		assert_int_equal(lapic_pending_vector(c->apic[i]), 0x93);
	/* Physical broadcast. */
	send_ipi(c->apic[0], 0xff, 0xa4);
	for (i = 0; i < NCPU; i++)
		assert_int_equal(lapic_pending_vector(c->apic[i]), 0xa4);
}

static void test_logical_flat_and_cluster(void **state)
{
	struct ctx *c = *state;
	int i;

	/* Flat: LDR bit per CPU, as Linux's default_init_apic_ldr. */
	for (i = 0; i < NCPU; i++)
		wr(c->apic[i], 0xd0, (1u << i) << 24);
	send_ipi(c->apic[0], 0x0a, 0x800 | 0x50);  /* CPUs 1 and 3 */
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x50);
	assert_int_equal(lapic_pending_vector(c->apic[2]), -1);
	assert_int_equal(lapic_pending_vector(c->apic[3]), 0x50);

	/* Cluster model: cluster 1 members 1,2; cluster 2 member 1. */
	for (i = 0; i < NCPU; i++)
		wr(c->apic[i], 0xe0, 0x0fffffff);
	wr(c->apic[0], 0xd0, 0x11u << 24);
	wr(c->apic[1], 0xd0, 0x12u << 24);
	wr(c->apic[2], 0xd0, 0x21u << 24);
	wr(c->apic[3], 0xd0, 0x00u << 24);
	send_ipi(c->apic[0], 0x13, 0x800 | 0x60);
	assert_int_equal(lapic_pending_vector(c->apic[0]), 0x60);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x60);
	assert_int_equal(lapic_pending_vector(c->apic[2]), -1);
	send_ipi(c->apic[0], 0xf1, 0x800 | 0x70);  /* member 1 of every cluster */
	assert_int_equal(lapic_pending_vector(c->apic[0]), 0x70);
	assert_int_equal(lapic_pending_vector(c->apic[1]), 0x60);
	assert_int_equal(lapic_pending_vector(c->apic[2]), 0x70);
	assert_int_equal(lapic_pending_vector(c->apic[3]), 0x50);  /* from the flat IPI */
}

static void test_lowest_priority(void **state)
{
	struct ctx *c = *state;
	int i, hits[NCPU] = { 0 };

	for (i = 0; i < NCPU; i++)
		wr(c->apic[i], 0xd0, 0x01u << 24);   /* all in logical group 1 */
	wr(c->apic[0], 0x80, 0x20);
	/* Lowest TPR wins; equal ones share round robin. */
	for (i = 0; i < 6; i++) {
		int j;

		send_ipi(c->apic[0], 0x01, 0x900 | 0x80);
		for (j = 0; j < NCPU; j++) {
			if (lapic_pending_vector(c->apic[j]) == 0x80) {
				hits[j]++;
				lapic_accept(c->apic[j], 0x80);
				wr(c->apic[j], 0xb0, 0);
			}
		}
	}
	assert_int_equal(hits[0], 0);
	assert_int_equal(hits[1], 2);
	assert_int_equal(hits[2], 2);
	assert_int_equal(hits[3], 2);
}

static void test_nmi_init_sipi(void **state)
{
	struct ctx *c = *state;
	uint8_t vec = 0;

	send_ipi(c->apic[0], 2, 0x400);
	assert_true(lapic_take_nmi(c->apic[2]));
	assert_false(lapic_take_nmi(c->apic[2]));
	/* INIT assert, INIT de-assert (ignored), SIPI: Linux's wakeup_secondary_cpu_via_init. */
	send_ipi(c->apic[0], 3, 0xc500);
	assert_int_equal(lapic_take_init_sipi(c->apic[3], &vec), 2);
	send_ipi(c->apic[0], 3, 0x8500);
	assert_int_equal(lapic_take_init_sipi(c->apic[3], &vec), 0);
	send_ipi(c->apic[0], 3, 0x69a);
	assert_int_equal(lapic_take_init_sipi(c->apic[3], &vec), 1);
	assert_int_equal(vec, 0x9a);
	assert_int_equal(lapic_take_init_sipi(c->apic[3], &vec), 0);
	/* INIT then SIPI before the vCPU looks: the SIPI wins. */
	send_ipi(c->apic[0], 1, 0xc500);
	send_ipi(c->apic[0], 1, 0x610);
	assert_int_equal(lapic_take_init_sipi(c->apic[1], &vec), 1);
	assert_int_equal(vec, 0x10);
}

static void test_esr_illegal_vector(void **state)
{
	struct ctx *c = *state;

	send_ipi(c->apic[0], 1, 0x05);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	wr(c->apic[0], 0x280, 0);
	assert_int_equal(rd(c->apic[0], 0x280), 0x20);
	wr(c->apic[0], 0x280, 0);
	assert_int_equal(rd(c->apic[0], 0x280), 0);
	/* A write to a reserved offset is ignored and logged, never fatal. */
	wr(c->apic[0], 0x040, 0xdeadbeef);
	wr(c->apic[0], 0x280, 0);
	assert_int_equal(rd(c->apic[0], 0x280), 0x80);
}

static void test_sw_disable_masks(void **state)
{
	struct ctx *c = *state;

	wr(c->apic[1], 0xf0, 0xff);
	wr(c->apic[1], 0x320, 0x30);
	assert_int_equal(rd(c->apic[1], 0x320), 0x10030);
	send_ipi(c->apic[0], 1, 0x40);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	/* NMI still gets through (§11.4.7.2). */
	send_ipi(c->apic[0], 1, 0x400);
	assert_true(lapic_take_nmi(c->apic[1]));
}

static void test_timer_oneshot(void **state)
{
	struct ctx *c = *state;
	struct lapic *a = c->apic[0];
	uint64_t tsc0 = guest_tsc_now(&c->f->vm), next;

	wr(a, 0x3e0, 0x3);        /* divide by 16 */
	wr(a, 0x320, 0x31);       /* one-shot, vector 0x31 */
	wr(a, 0x380, 1000);       /* 1000 * 16 ns at 1 GHz = 16 us */
	assert_int_equal(rd(a, 0x390), 1000);
	next = lapic_timer_poll(a, tsc0);
	assert_int_equal(next, tsc0 + 1000 * 16 * 2);
	fake_clock_advance(8000);
	assert_int_equal(rd(a, 0x390), 500);
	assert_int_equal(lapic_pending_vector(a), -1);
	/* The event-loop timer fires it at 16 us. */
	fake_clock_advance(8000);
	assert_int_equal(lapic_pending_vector(a), 0x31);
	assert_int_equal(rd(a, 0x390), 0);
	assert_int_equal(lapic_timer_poll(a, guest_tsc_now(&c->f->vm)), UINT64_MAX);
	/* Divide by 1 (code 0b1011). */
	wr(a, 0x3e0, 0xb);
	wr(a, 0x380, 100);
	assert_int_equal(lapic_timer_poll(a, guest_tsc_now(&c->f->vm)),
			 guest_tsc_now(&c->f->vm) + 200);
	/* Writing 0 stops it. */
	wr(a, 0x380, 0);
	assert_int_equal(lapic_timer_poll(a, guest_tsc_now(&c->f->vm)), UINT64_MAX);
}

static void test_timer_periodic_and_poll(void **state)
{
	struct ctx *c = *state;
	struct lapic *a = c->apic[1];
	uint64_t t0 = guest_tsc_now(&c->f->vm);
	const uint64_t p = 500000 * 2;   /* 500 us in TSC ticks */
	int n;

	wr(a, 0x3e0, 0xb);         /* divide by 1 */
	wr(a, 0x320, 0x20000 | 0x32);
	wr(a, 0x380, 500000);      /* 500 us period */
	/* Polling by the vCPU fires without the event loop. */
	assert_int_equal(lapic_timer_poll(a, t0 + p - 1), t0 + p);
	assert_int_equal(lapic_pending_vector(a), -1);
	assert_int_equal(lapic_timer_poll(a, t0 + p), t0 + 2 * p);
	assert_int_equal(lapic_pending_vector(a), 0x32);
	/* Missed periods collapse into one; the phase is kept. */
	assert_int_equal(lapic_timer_poll(a, t0 + 5 * p - 1), t0 + 5 * p);
	lapic_accept(a, 0x32);
	wr(a, 0xb0, 0);
	/* The event loop fires the expiry at t0 + 5p (2.5 ms). */
	fake_clock_advance(2500000 - 1);
	assert_int_equal(lapic_pending_vector(a), -1);
	fake_clock_advance(1);
	assert_int_equal(lapic_pending_vector(a), 0x32);
	lapic_accept(a, 0x32);
	wr(a, 0xb0, 0);
	/* Event loop: 10 more periods give interrupts each time. */
	for (n = 0; n < 10; n++) {
		fake_clock_advance(500000);
		assert_int_equal(lapic_pending_vector(a), 0x32);
		lapic_accept(a, 0x32);
		wr(a, 0xb0, 0);
	}
	/* Masking keeps it counting but raises nothing. */
	wr(a, 0x320, 0x30000 | 0x32);
	fake_clock_advance(5000);
	assert_int_equal(lapic_pending_vector(a), -1);
	assert_true(rd(a, 0x390) > 0);
	/* A 1 ns period is stretched to 200 us (no host thread spinning). */
	wr(a, 0x320, 0x20000 | 0x32);
	wr(a, 0x380, 1);
	assert_int_equal(lapic_timer_poll(a, guest_tsc_now(&c->f->vm)),
			 guest_tsc_now(&c->f->vm) + 400000);
}

static void test_timer_tsc_deadline(void **state)
{
	struct ctx *c = *state;
	struct lapic *a = c->apic[2];
	uint64_t now = guest_tsc_now(&c->f->vm);

	/* Ignored outside TSC-deadline mode. */
	lapic_set_tsc_deadline(a, now + 100);
	assert_int_equal(lapic_get_tsc_deadline(a), 0);
	wr(a, 0x320, 0x40000 | 0x33);
	/* TMICT writes are ignored in this mode. */
	wr(a, 0x380, 5);
	assert_int_equal(rd(a, 0x380), 0);
	lapic_set_tsc_deadline(a, now + 20000);   /* 10 us */
	assert_int_equal(lapic_get_tsc_deadline(a), now + 20000);
	fake_clock_advance(9999);
	assert_int_equal(lapic_pending_vector(a), -1);
	fake_clock_advance(1);
	assert_int_equal(lapic_pending_vector(a), 0x33);
	assert_int_equal(lapic_get_tsc_deadline(a), 0);
	/* A deadline in the past fires at the next poll. */
	lapic_accept(a, 0x33);
	wr(a, 0xb0, 0);
	lapic_set_tsc_deadline(a, 1);
	assert_int_equal(lapic_timer_poll(a, guest_tsc_now(&c->f->vm)), UINT64_MAX);
	assert_int_equal(lapic_pending_vector(a), 0x33);
	/* A mode switch disarms. */
	lapic_set_tsc_deadline(a, guest_tsc_now(&c->f->vm) + 100);
	wr(a, 0x320, 0x33);
	assert_int_equal(lapic_get_tsc_deadline(a), 0);
}

static void test_extint_from_pic(void **state)
{
	struct ctx *c = *state;
	struct fake_vm *f = c->f;
	int kicks;

	assert_int_equal(pic_create(&f->vm, &f->pic), 0);
	fake_pio_write(f, 0x20, 0x11, 1);
	fake_pio_write(f, 0x21, 0x20, 1);
	fake_pio_write(f, 0x21, 0x04, 1);
	fake_pio_write(f, 0x21, 0x01, 1);
	fake_pio_write(f, 0x21, 0x00, 1);
	kicks = f->kicks[0];
	pic_set_irq(f->pic, 4, 1);
	/* Only the BSP has LINT0 in ExtINT mode. */
	assert_true(f->kicks[0] > kicks);
	assert_int_equal(lapic_pending_vector(c->apic[0]), LAPIC_VECTOR_EXTINT);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
	assert_int_equal(lapic_accept(c->apic[0], LAPIC_VECTOR_EXTINT), 0x24);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	/* Masking LINT0 cuts the PIC off. */
	fake_pio_write(f, 0x20, 0x20, 1);
	wr(c->apic[0], 0x350, 0x10700);
	pic_set_irq(f->pic, 4, 0);
	pic_set_irq(f->pic, 4, 1);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	/* A globally disabled APIC passes INTR straight through. */
	assert_int_equal(lapic_set_base(c->apic[0], 0xfee00000), 0);
	assert_int_equal(lapic_pending_vector(c->apic[0]), LAPIC_VECTOR_EXTINT);
}

static void test_msi(void **state)
{
	struct ctx *c = *state;

	apic_bus_deliver_msi(&c->f->vm, 0xfee02000, 0x4061);
	assert_int_equal(lapic_pending_vector(c->apic[2]), 0x61);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
	/* Outside the interrupt window: dropped. */
	apic_bus_deliver_msi(&c->f->vm, 0xfed00000, 0x62);
	assert_int_equal(lapic_pending_vector(c->apic[0]), -1);
}

static void test_apic_base_msr(void **state)
{
	struct ctx *c = *state;

	/* x2APIC enable and reserved bits: #GP. */
	assert_int_equal(lapic_set_base(c->apic[0], 0xfee00c00), -EINVAL);
	assert_int_equal(lapic_set_base(c->apic[0], 1ULL << 40 | 0xfee00800), -EINVAL);
	/* The BSP bit is read-only. */
	assert_int_equal(lapic_set_base(c->apic[1], 0xfee00900), 0);
	assert_int_equal(lapic_get_base(c->apic[1]), 0xfee00800);
	/* Disabled APICs ignore IPIs. */
	assert_int_equal(lapic_set_base(c->apic[1], 0xfee00000), 0);
	send_ipi(c->apic[0], 1, 0x40);
	assert_int_equal(lapic_pending_vector(c->apic[1]), -1);
}

static void test_state_roundtrip(void **state)
{
	struct ctx *c = *state;
	struct x86_lapic_state st, st2;

	wr(c->apic[0], 0x80, 0x30);
	wr(c->apic[0], 0xd0, 0x04000000);
	wr(c->apic[0], 0x3e0, 0xb);
	wr(c->apic[0], 0x320, 0x20000 | 0x40);
	wr(c->apic[0], 0x380, 500000);
	fake_clock_advance(1000);
	send_ipi(c->apic[0], 0, 0x77);
	lapic_get_state(c->apic[0], &st);
	assert_int_equal(*(uint32_t *)&st.regs[0x390], 499000);

	lapic_reset(c->apic[3], false);
	assert_int_equal(lapic_set_state(c->apic[3], &st), 0);
	lapic_get_state(c->apic[3], &st2);
	assert_memory_equal(st.regs, st2.regs, sizeof(st.regs));
	assert_int_equal(lapic_pending_vector(c->apic[3]), 0x77);
	fake_clock_advance(499000);
	assert_int_equal(rd(c->apic[3], 0x390), 500000);

	/* A reserved timer mode is rejected without touching the APIC. */
	*(uint32_t *)&st.regs[0x320] = 0x60000;
	assert_int_equal(lapic_set_state(c->apic[3], &st), -EINVAL);
	assert_int_equal(rd(c->apic[3], 0x320), 0x20040);
}

static void test_guest_tsc(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	uint64_t t0 = guest_tsc_now(vm);

	fake_clock_advance(1000);
	assert_int_equal(guest_tsc_now(vm), t0 + 2000);
	assert_int_equal(guest_tsc_to_ns(vm, 2001), vm->tsc_origin_ns + 1001);
	/* Large values do not overflow: ~300 years of TSC. */
	assert_int_equal(guest_tsc_to_ns(vm, 1ULL << 63) - vm->tsc_origin_ns,
			 (uint64_t)((1ULL << 63) / 2));
	vm->tsc_origin_ns = fake_clock() + 5;
	assert_int_equal(guest_tsc_now(vm), 0);
}

/* A hostile guest: random writes of every width to every offset; never fatal. */
static void test_hostile_guest(void **state)
{
	struct ctx *c = *state;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int i;

	for (i = 0; i < 300000; i++) {
		struct lapic *a;
		uint64_t v;
		int len;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		a = c->apic[(x >> 3) % NCPU];
		len = 1 << ((x >> 6) & 3);
		v = x * 0x2545f4914f6cdd1dULL;
		/* keep the APIC software-enabled most of the time so IPIs flow */
		if (((x >> 10) & 0xff0) == 0xf0)
			v |= 0x100;
		lapic_mmio(a, (x >> 10) & 0xfff, &v, len, (x >> 9) & 1);
		if ((x & 0x7000) == 0) {
			int vec = lapic_pending_vector(a);

			assert_true(vec >= -1 && (vec < 256 || vec == LAPIC_VECTOR_EXTINT));
			if (vec >= 0 && vec != LAPIC_VECTOR_EXTINT)
				assert_int_equal(lapic_accept(a, vec), vec);
		}
		if ((x & 0x38000) == 0)
			(void)lapic_set_base(a, x >> 20);
		if ((x & 0x1c0000) == 0)
			lapic_set_tsc_deadline(a, guest_tsc_now(&c->f->vm) + ((x >> 24) & 0xffff));
		if ((x & 0xe00000) == 0)
			fake_clock_advance((x >> 30) & 0xffff);
		if ((x & 0x7000000) == 0) {
			uint8_t sv;

			(void)lapic_take_nmi(a);
			(void)lapic_take_init_sipi(a, &sv);
		}
	}
	for (i = 0; i < NCPU; i++) {
		lapic_reset(c->apic[i], i == 0);
		wr(c->apic[i], 0xf0, 0x1ff);
		while (lapic_pending_vector(c->apic[i]) >= 0)
			wr(c->apic[i], 0xb0, 0), lapic_accept(c->apic[i], lapic_pending_vector(c->apic[i]));
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reset_values), T(test_fixed_ipi_and_eoi), T(test_tpr_and_cr8),
		T(test_shorthands), T(test_logical_flat_and_cluster),
		T(test_lowest_priority), T(test_nmi_init_sipi),
		T(test_esr_illegal_vector), T(test_sw_disable_masks),
		T(test_timer_oneshot), T(test_timer_periodic_and_poll),
		T(test_timer_tsc_deadline), T(test_extint_from_pic), T(test_msi),
		T(test_apic_base_msr), T(test_state_roundtrip), T(test_guest_tsc),
		T(test_hostile_guest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
