// SPDX-License-Identifier: GPL-2.0-only
/*
 * The APIC bus of the emu backend: routes interrupt messages from the
 * IOAPIC, MSI writes and inter-processor interrupts to the local APICs
 * (Intel SDM Vol.3 §11.6 "Issuing Interprocessor Interrupts" and §11.11
 * "Message Signalled Interrupts").
 */
#include <errno.h>
#include <stdlib.h>

#include "vireo/log.h"
#include "dev/apic_bus.h"

int apic_bus_get(struct vm *vm, struct apic_bus **out)
{
	struct apic_bus *bus;
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	bus = vm->apic_bus;
	if (!bus) {
		bus = calloc(1, sizeof(*bus));
		if (!bus) {
			err = -ENOMEM;
			goto out_unlock;
		}
		pthread_mutex_init(&bus->lock, NULL);
		vm->apic_bus = bus;
	}
	bus->refs++;
	*out = bus;
out_unlock:
	pthread_mutex_unlock(&vm->lock);
	return err;
}

void apic_bus_put(struct vm *vm)
{
	struct apic_bus *bus;

	pthread_mutex_lock(&vm->lock);
	bus = vm->apic_bus;
	if (bus && --bus->refs == 0) {
		vm->apic_bus = NULL;
		pthread_mutex_destroy(&bus->lock);
		free(bus);
	}
	pthread_mutex_unlock(&vm->lock);
}

void apic_bus_set_lapic(struct apic_bus *bus, int id, struct lapic *apic)
{
	if (id < 0 || id >= VM_MAX_VCPUS)
		return;
	pthread_mutex_lock(&bus->lock);
	bus->lapics[id] = apic;
	pthread_mutex_unlock(&bus->lock);
}

/*
 * Lowest-priority delivery (SDM Vol.3 §11.6.2.4): the processor with the
 * lowest arbitration priority wins; ties go round robin so that repeated
 * interrupts spread over equal processors.  Called with bus->lock held.
 */
static struct lapic *pick_lowest(struct apic_bus *bus, const struct apic_msg *msg)
{
	struct lapic *best = NULL;
	unsigned best_pri = 0x100, best_idx = 0, i;

	for (i = 0; i < VM_MAX_VCPUS; i++) {
		unsigned idx = (bus->rr_next + i) % VM_MAX_VCPUS;
		struct lapic *a = bus->lapics[idx];
		unsigned pri;

		if (!a || !lapic_match_dest(a, msg->dest_logical, msg->dest))
			continue;
		pri = lapic_arb_priority(a) >> 4;
		if (pri < best_pri) {
			best = a;
			best_pri = pri;
			best_idx = idx;
		}
	}
	if (best)
		bus->rr_next = best_idx + 1;
	return best;
}

static bool shorthand_match(const struct apic_msg *msg, int id)
{
	switch (msg->shorthand) {
	case 1:
		return id == msg->src_apic;
	case 2:
		return true;
	case 3:
		return id != msg->src_apic;
	default:
		return false;
	}
}

void apic_bus_deliver(struct vm *vm, const struct apic_msg *msg)
{
	struct apic_bus *bus = vm->apic_bus;
	unsigned i;

	if (!bus)
		return;
	pthread_mutex_lock(&bus->lock);
	if (msg->delivery_mode == 1 && msg->shorthand == 0) {
		struct lapic *a = pick_lowest(bus, msg);

		if (a)
			lapic_deliver(a, msg);
		goto out_unlock;
	}
	for (i = 0; i < VM_MAX_VCPUS; i++) {
		struct lapic *a = bus->lapics[i];
		bool hit;

		if (!a)
			continue;
		/* lapic ids equal vcpu ids: the slot index is the APIC ID for shorthands. */
		if (msg->shorthand)
			hit = shorthand_match(msg, (int)i);
		else
			hit = lapic_match_dest(a, msg->dest_logical, msg->dest);
		if (hit)
			lapic_deliver(a, msg);
	}
out_unlock:
	pthread_mutex_unlock(&bus->lock);
}

/*
 * MSI (SDM Vol.3 §11.11.1, §11.11.2): address bits 19:12 destination,
 * bit 2 destination mode; data bits 7:0 vector, 10:8 delivery mode,
 * bit 15 trigger mode.  The redirection hint (bit 3) only narrows a
 * lowest-priority choice, which we make anyway.
 */
void apic_bus_deliver_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct apic_msg msg = {
		.vector = data & 0xff,
		.delivery_mode = (data >> 8) & 7,
		.dest_logical = (addr >> 2) & 1,
		.dest = (addr >> 12) & 0xff,
		.level_triggered = (data >> 15) & 1,
		.shorthand = 0,
		.src_apic = -1,
	};

	if ((addr & 0xfff00000ULL) != 0xfee00000ULL) {
		log_warnx_rl("apic_bus: MSI to bad address %#llx dropped",
			     (unsigned long long)addr);
		return;
	}
	apic_bus_deliver(vm, &msg);
}

void apic_bus_pic_notify(struct apic_bus *bus)
{
	unsigned i;

	pthread_mutex_lock(&bus->lock);
	for (i = 0; i < VM_MAX_VCPUS; i++) {
		struct lapic *a = bus->lapics[i];

		if (a && lapic_accepts_pic(a))
			lapic_kick(a);
	}
	pthread_mutex_unlock(&bus->lock);
}

void apic_bus_eoi(struct apic_bus *bus, uint8_t vector)
{
	if (bus->ioapic)
		ioapic_eoi(bus->ioapic, vector);
}
