/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_FAKE_ACCEL_H
#define VIREO_TEST_FAKE_ACCEL_H

/*
 * A test double for the accel interface: vcpu_run counts "instructions" in
 * a loop until kicked, so core tests can check that pause really stops the
 * vCPUs and that stop requests end the threads.  Tests of the real
 * backends live beside them (tests/unit/accel/, tests/integration/).
 */
#include <stdatomic.h>
#include <string.h>

#include "vireo/accel.h"
#include "vireo/vm.h"

struct fake_vcpu {
	atomic_int kicked;
	atomic_ulong steps;
	struct x86_regs regs;
	struct x86_sregs sregs;
};

static int fake_probe(char *why, size_t len) { why[0] = 0; return 1; }
static int fake_vm_init(struct vm *vm) { return 0; }
static void fake_vm_destroy(struct vm *vm) { }
static int fake_vcpu_init(struct vcpu *vcpu)
{
	vcpu->accel = calloc(1, sizeof(struct fake_vcpu));
	return vcpu->accel ? 0 : -ENOMEM;
}
static void fake_vcpu_destroy(struct vcpu *vcpu) { free(vcpu->accel); }
static int fake_vcpu_run(struct vcpu *vcpu)
{
	struct fake_vcpu *f = vcpu->accel;
	while (!atomic_exchange(&f->kicked, 0))
		atomic_fetch_add(&f->steps, 1);
	return VCPU_EXIT_KICK;
}
static void fake_vcpu_kick(struct vcpu *vcpu)
{
	atomic_store(&((struct fake_vcpu *)vcpu->accel)->kicked, 1);
}
static int fake_get_regs(struct vcpu *v, struct x86_regs *r) { *r = ((struct fake_vcpu *)v->accel)->regs; return 0; }
static int fake_set_regs(struct vcpu *v, const struct x86_regs *r) { ((struct fake_vcpu *)v->accel)->regs = *r; return 0; }
static int fake_get_sregs(struct vcpu *v, struct x86_sregs *s) { *s = ((struct fake_vcpu *)v->accel)->sregs; return 0; }
static int fake_set_sregs(struct vcpu *v, const struct x86_sregs *s) { ((struct fake_vcpu *)v->accel)->sregs = *s; return 0; }
static int fake_irq_line(struct vm *vm, unsigned gsi, int level) { return 0; }
static int fake_msi(struct vm *vm, uint64_t a, uint32_t d) { return 0; }

static const struct accel_ops fake_accel_ops = {
	.name = "fake",
	.probe = fake_probe,
	.vm_init = fake_vm_init,
	.vm_destroy = fake_vm_destroy,
	.vcpu_init = fake_vcpu_init,
	.vcpu_destroy = fake_vcpu_destroy,
	.vcpu_run = fake_vcpu_run,
	.vcpu_kick = fake_vcpu_kick,
	.get_regs = fake_get_regs,
	.set_regs = fake_set_regs,
	.get_sregs = fake_get_sregs,
	.set_sregs = fake_set_sregs,
	.irq_line = fake_irq_line,
	.msi = fake_msi,
};

#endif
