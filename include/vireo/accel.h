/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_ACCEL_H
#define VIREO_ACCEL_H

/*
 * The CPU backend interface: kvm (hardware-assisted) and emu (software).
 * Devices, boot code and snapshots see only this.  A backend routes every
 * PIO/MMIO access that is not guest RAM through bus_dispatch() on
 * vm->pio / vm->mmio, and owns the interrupt controllers (kvm: in-kernel
 * irqchip and PIT; emu: src/dev/ i8259, IOAPIC, local APIC, i8254).
 */
#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"
#include "vireo/x86.h"

struct vm;
struct vcpu;

enum accel_kind { ACCEL_AUTO, ACCEL_KVM, ACCEL_EMU };

enum vcpu_exit {
	VCPU_EXIT_KICK = 0,     /* vcpu_kick() was called: the core checks VM state */
	VCPU_EXIT_SHUTDOWN,     /* triple fault / shutdown: the VM ends */
	VCPU_EXIT_RESET,        /* the guest asked for a reset */
};

struct accel_ops {
	const char *name;       /* "kvm" or "emu" */
	/*
	 * Can this backend run here?  Returns 1 (usable), 0 (usable but slow or
	 * degraded: `why` says how), or -errno (cannot run: `why` says why).
	 */
	int (*probe)(char *why, size_t len);
	/* After guest memory exists: map it, create interrupt controllers and timers. */
	int (*vm_init)(struct vm *vm) WUR;
	void (*vm_destroy)(struct vm *vm);
	/* Create vCPU state. vCPU 0 is the BSP; the others wait for INIT/SIPI. */
	int (*vcpu_init)(struct vcpu *vcpu) WUR;
	void (*vcpu_destroy)(struct vcpu *vcpu);
	/*
	 * Run on the vCPU's own thread until something needs the core: returns
	 * an enum vcpu_exit, or -errno on an internal error (the VM then ends).
	 * Must return VCPU_EXIT_KICK promptly after vcpu_kick(), including from
	 * HLT and from a guest spinning with interrupts off.
	 */
	int (*vcpu_run)(struct vcpu *vcpu);
	/*
	 * From any thread: make vcpu_run return soon.  Sticky: a kick that
	 * arrives while the vCPU is outside vcpu_run makes the next call
	 * return VCPU_EXIT_KICK at once (the core re-checks VM state then).
	 */
	void (*vcpu_kick)(struct vcpu *vcpu);

	/* Register access: only while the vCPU is not inside vcpu_run. */
	int (*get_regs)(struct vcpu *vcpu, struct x86_regs *regs) WUR;
	int (*set_regs)(struct vcpu *vcpu, const struct x86_regs *regs) WUR;
	int (*get_sregs)(struct vcpu *vcpu, struct x86_sregs *sregs) WUR;
	int (*set_sregs)(struct vcpu *vcpu, const struct x86_sregs *sregs) WUR;
	int (*get_fpu)(struct vcpu *vcpu, struct x86_fpu *fpu) WUR;
	int (*set_fpu)(struct vcpu *vcpu, const struct x86_fpu *fpu) WUR;
	/* Fill msrs[i].value for each msrs[i].index; returns the count read. */
	int (*get_msrs)(struct vcpu *vcpu, struct x86_msr *msrs, int n) WUR;
	int (*set_msrs)(struct vcpu *vcpu, const struct x86_msr *msrs, int n) WUR;
	int (*get_lapic)(struct vcpu *vcpu, struct x86_lapic_state *lapic) WUR;
	int (*set_lapic)(struct vcpu *vcpu, const struct x86_lapic_state *lapic) WUR;

	/* Interrupts: GSI line level, and MSI. */
	int (*irq_line)(struct vm *vm, unsigned gsi, int level);
	int (*msi)(struct vm *vm, uint64_t addr, uint32_t data);

	/* Fetch and clear the dirty bitmap of memory region `slot` into bitmap. */
	int (*get_dirty_log)(struct vm *vm, int slot, unsigned long *bitmap) WUR;
};

extern const struct accel_ops accel_kvm_ops;
extern const struct accel_ops accel_emu_ops;

/*
 * Choose a backend for `kind`.  ACCEL_AUTO picks kvm only where the host has
 * hardware virtualization (vmx/svm in /proc/cpuinfo and a usable /dev/kvm),
 * else emu.  Returns 0 and *out, or -errno with a reason in `why`.  A
 * non-empty `why` with return 0 is a warning to show the user.
 */
int accel_select(enum accel_kind kind, const struct accel_ops **out,
		 char *why, size_t len) WUR;

/* 1 if /proc/cpuinfo lists vmx or svm, else 0. */
int accel_host_has_hw_virt(void);

#endif
