/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_DEV_APIC_BUS_H
#define VIREO_DEV_APIC_BUS_H

/*
 * The emu backend's APIC bus (private to src/dev/): how the i8259 PIC, the
 * IOAPIC and the local APICs of one VM find each other.  It hangs off
 * vm->apic_bus, is created by the first chip that needs it and freed when
 * the last one lets go (reference counted under vm->lock).
 *
 * Lock order: ioapic lock -> bus lock -> lapic lock; the PIC lock is a leaf.
 * No chip calls into another chip while holding its own lock, except the
 * IOAPIC delivering through the bus.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vireo/irqchip.h"
#include "vireo/vm.h"

struct apic_bus {
	pthread_mutex_t lock;           /* guards lapics[], rr_next */
	int refs;                       /* under vm->lock */
	struct lapic *lapics[VM_MAX_VCPUS];  /* indexed by vcpu->id */
	struct pic *pic;                /* set once at realize time */
	struct ioapic *ioapic;          /* set once at realize time */
	unsigned rr_next;               /* lowest-priority round robin cursor */
};

/* Take a reference on vm->apic_bus, creating it.  -ENOMEM. */
int apic_bus_get(struct vm *vm, struct apic_bus **out) WUR;
/* Drop a reference; the last one frees the bus and clears vm->apic_bus. */
void apic_bus_put(struct vm *vm);

/* Attach/detach chips (NULL detaches).  Lapic slots are by vcpu id. */
void apic_bus_set_lapic(struct apic_bus *bus, int id, struct lapic *apic);

/* The PIC's INT output may have risen: wake the vCPUs that take ExtINT. */
void apic_bus_pic_notify(struct apic_bus *bus);
/* EOI of a level-triggered vector: broadcast to the IOAPIC (SDM Vol.3 §11.8.5). */
void apic_bus_eoi(struct apic_bus *bus, uint8_t vector);

/* lapic.c internals the bus uses (all take the lapic lock themselves). */
bool lapic_match_dest(struct lapic *apic, bool logical, uint8_t dest);
void lapic_deliver(struct lapic *apic, const struct apic_msg *msg);
/* True if this lapic takes the PIC's INTR (LINT0 ExtINT unmasked, or APIC disabled). */
bool lapic_accepts_pic(struct lapic *apic);
void lapic_kick(struct lapic *apic);
/* Task/arbitration priority, for lowest-priority arbitration. */
uint8_t lapic_arb_priority(struct lapic *apic);

#endif
