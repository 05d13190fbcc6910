/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_IRQCHIP_FAKE_H
#define VIREO_TEST_IRQCHIP_FAKE_H

/*
 * A fake VM for the interrupt-controller unit tests: a settable monotonic
 * clock (now_ns), PIO/MMIO buses, event-loop timers that fire when the
 * clock is advanced, and vm_irq_set routed to the PIC and IOAPIC.  The
 * chips are linked from their sources, not from libvireo, so these fakes
 * stand in for the core.
 */
#include <stdbool.h>
#include <stdint.h>

#include "vireo/irqchip.h"
#include "vireo/vm.h"

struct fake_vm {
	struct vm vm;
	struct pic *pic;          /* routing targets of vm_irq_set, may be NULL */
	struct ioapic *ioapic;
	int kicks[VM_MAX_VCPUS];  /* lapic kick callback count per vCPU */
	int irq_edges[24];        /* rising edges seen by vm_irq_set */
	int irq_level[24];
};

/* A VM with `ncpus` vCPUs (no lapics yet), clock at 1 s, guest TSC origin there. */
struct fake_vm *fake_vm_create(int ncpus, bool with_loop);
void fake_vm_destroy(struct fake_vm *f);
void fake_kick(struct vcpu *vcpu);

uint64_t fake_clock(void);
/* Move the clock forward, firing due event-loop timers in order. */
void fake_clock_advance(uint64_t ns);

/* Port and MMIO accesses through the buses the chips registered on. */
uint32_t fake_pio_read(struct fake_vm *f, uint16_t port, int len);
void fake_pio_write(struct fake_vm *f, uint16_t port, uint32_t val, int len);
uint32_t fake_mmio_read(struct fake_vm *f, uint64_t addr);
void fake_mmio_write(struct fake_vm *f, uint64_t addr, uint32_t val);

/* Event-loop timers alive and armed (for assertions). */
int fake_timers_armed(void);
/* Period (0 one-shot) and ns-until-expiry of the first armed timer; false if none. */
bool fake_timer_first(uint64_t *period, uint64_t *left);

#endif
