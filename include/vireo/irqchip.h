/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_IRQCHIP_H
#define VIREO_IRQCHIP_H

/*
 * Userspace interrupt controllers and timers for the emu backend (the kvm
 * backend uses KVM's in-kernel ones): the i8259 PIC pair, the IOAPIC, one
 * local APIC per vCPU, and the i8254 PIT.  The emu backend creates them in
 * its vm_init, routes vm_irq_set() to pic_set_irq() + ioapic_set_irq(), and
 * asks the local APIC for an interrupt at instruction-block boundaries.
 *
 * Threading: every function may be called from any thread; each chip has its
 * own lock.  When a chip makes an interrupt pending for a vCPU it calls the
 * `kick` callback given to lapic_create() so a halted vCPU wakes up.
 */
#include <stdbool.h>
#include <stdint.h>

#include "vireo/util.h"
#include "vireo/x86.h"

struct vm;
struct vcpu;
struct pic;
struct ioapic;
struct lapic;
struct pit;

#define IOAPIC_BASE     0xfec00000ULL
#define IOAPIC_NUM_PINS 24
#define LAPIC_BASE      0xfee00000ULL

/* Interrupt delivery on the APIC bus (IOAPIC redirection entries, MSI, IPIs). */
struct apic_msg {
	uint8_t vector;
	uint8_t delivery_mode;  /* 0 fixed, 1 lowest prio, 2 SMI, 4 NMI, 5 INIT, 6 SIPI, 7 ExtINT */
	bool dest_logical;
	uint8_t dest;           /* xAPIC 8-bit destination; 0xff broadcast */
	bool level_triggered;   /* remote IRR / EOI broadcast to the IOAPIC */
	uint8_t shorthand;      /* ICR shorthand: 0 none, 1 self, 2 all incl self, 3 all excl self */
	int src_apic;           /* sender's APIC id for shorthands, -1 if none */
};

/* Deliver to every local APIC of the VM that matches (defined with the lapic). */
void apic_bus_deliver(struct vm *vm, const struct apic_msg *msg);
/* Decode a PCI MSI address/data pair (Intel SDM Vol. 3 §11.11) and deliver. */
void apic_bus_deliver_msi(struct vm *vm, uint64_t addr, uint32_t data);

/* ---- i8259 PIC pair: ports 0x20-0x21, 0xa0-0xa1, ELCR 0x4d0-0x4d1 ---- */
int pic_create(struct vm *vm, struct pic **out) WUR;
void pic_destroy(struct pic *pic);
/* ISA IRQ 0-15 line level (edge-triggered unless ELCR says level). */
void pic_set_irq(struct pic *pic, unsigned irq, int level);
/* True if the master's INT output is asserted. */
bool pic_has_interrupt(struct pic *pic);
/* INTA cycle: returns the vector (spurious 7/15 if nothing). */
uint8_t pic_ack(struct pic *pic);
void pic_reset(struct pic *pic);

/* ---- IOAPIC at IOAPIC_BASE, 24 pins ---- */
int ioapic_create(struct vm *vm, struct ioapic **out) WUR;
void ioapic_destroy(struct ioapic *io);
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
/* A local APIC EOI'd a level-triggered vector: clear remote IRR, re-deliver if still asserted. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
void ioapic_reset(struct ioapic *io);

/* ---- Local APIC (xAPIC MMIO at the APIC base, default LAPIC_BASE) ---- */
typedef void (*lapic_kick_fn)(struct vcpu *vcpu);
int lapic_create(struct vcpu *vcpu, lapic_kick_fn kick, struct lapic **out) WUR;
void lapic_destroy(struct lapic *apic);
void lapic_reset(struct lapic *apic, bool bsp);
/* The emu CPU routes accesses to the APIC base page here (per-vCPU view). */
void lapic_mmio(struct lapic *apic, uint64_t offset, void *data, int len, bool is_write);
uint64_t lapic_get_base(struct lapic *apic);          /* IA32_APIC_BASE MSR */
int lapic_set_base(struct lapic *apic, uint64_t val); /* -EINVAL -> #GP */
uint64_t lapic_get_tsc_deadline(struct lapic *apic);
void lapic_set_tsc_deadline(struct lapic *apic, uint64_t tsc);
/* MOV to/from CR8 (TPR bits 7:4). */
void lapic_set_cr8(struct lapic *apic, uint64_t val);
uint64_t lapic_get_cr8(struct lapic *apic);

/*
 * Highest-priority deliverable fixed interrupt (IRR above PPR), or -1.
 * Includes ExtINT from the PIC through LINT0 when the PIC is the source
 * (virtual wire mode).  Cheap: the emu CPU calls it when its pending word
 * is set and IF=1.
 */
int lapic_pending_vector(struct lapic *apic);
/* What lapic_pending_vector() returns for an ExtINT (the PIC supplies the vector in lapic_accept()). */
#define LAPIC_VECTOR_EXTINT 0x100
/* The CPU takes `vector` (IRR -> ISR; for ExtINT does the PIC INTA). Returns the vector to use. */
int lapic_accept(struct lapic *apic, int vector);
/* NMI pending (consumed by the call). */
bool lapic_take_nmi(struct lapic *apic);
/*
 * INIT/SIPI for application processors: returns 1 and the SIPI vector if a
 * SIPI arrived since the last INIT, 2 if an INIT arrived (the CPU resets to
 * wait-for-SIPI), 0 otherwise.  Consumed by the call.
 */
int lapic_take_init_sipi(struct lapic *apic, uint8_t *sipi_vector);
/*
 * Timer: fire expired timers (one-shot, periodic, TSC-deadline) given the
 * current guest TSC, and return the guest TSC value of the next expiry
 * (UINT64_MAX if none), so a halted vCPU knows how long it may sleep.
 */
uint64_t lapic_timer_poll(struct lapic *apic, uint64_t guest_tsc);
/* Save/restore the register page (struct x86_lapic_state). */
void lapic_get_state(struct lapic *apic, struct x86_lapic_state *st);
int lapic_set_state(struct lapic *apic, const struct x86_lapic_state *st) WUR;

/* ---- i8254 PIT: ports 0x40-0x43, gate/speaker port 0x61; raises GSI 0 ---- */
int pit_create(struct vm *vm, struct pit **out) WUR;
void pit_destroy(struct pit *pit);
void pit_reset(struct pit *pit);

/*
 * The guest TSC: host TSC-free, from CLOCK_MONOTONIC at a fixed advertised
 * frequency (GUEST_TSC_KHZ), so every backend and chip agrees on it.
 */
#define GUEST_TSC_KHZ 2000000ULL  /* 2 GHz */
uint64_t guest_tsc_now(struct vm *vm);
/* Host monotonic ns at which the guest TSC reaches tsc. */
uint64_t guest_tsc_to_ns(struct vm *vm, uint64_t tsc);

#endif
