// SPDX-License-Identifier: GPL-2.0-only
/*
 * I/O APIC (Intel 82093AA datasheet, order 290566), 24 pins, at IOAPIC_BASE.
 * Indirect registers through IOREGSEL (offset 0x00) and IOWIN (0x10): ID
 * (index 0), version (1), arbitration ID (2), and the redirection table
 * (0x10 + 2 * pin, low then high dword).  As on the ICH and in QEMU/KVM, a
 * version 0x20 EOI register at offset 0x40 is also accepted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/irqchip.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "dev/apic_bus.h"

#define IOAPIC_MMIO_LEN   0x1000
#define IOAPIC_VERSION    0x11  /* 82093AA */
#define IOREGSEL          0x00
#define IOWIN             0x10
#define IOAPIC_EOI        0x40

/* Redirection entry bits (datasheet §3.2.4). */
#define RTE_VECTOR(e)     ((e) & 0xff)
#define RTE_DM(e)         (((e) >> 8) & 7)
#define RTE_DEST_LOGICAL  (1ULL << 11)
#define RTE_DELIV_STATUS  (1ULL << 12)
#define RTE_REMOTE_IRR    (1ULL << 14)
#define RTE_LEVEL         (1ULL << 15)
#define RTE_MASKED        (1ULL << 16)
#define RTE_RO_BITS       (RTE_DELIV_STATUS | RTE_REMOTE_IRR)
#define RTE_WRITABLE      (0xff00000000000000ULL | 0x1afffULL)

struct ioapic {
	struct vm *vm;
	struct apic_bus *bus;
	pthread_mutex_t lock;
	uint32_t ioregsel;
	uint32_t id;
	uint32_t irr;                   /* latched edge requests */
	uint32_t line;                  /* input line levels (level pins read these) */
	uint64_t rte[IOAPIC_NUM_PINS];
};

/* Send pin's interrupt if it is deliverable now (datasheet §2.4).  Locked. */
static void ioapic_service(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];
	uint32_t req = e & RTE_LEVEL ? io->line : io->irr;
	struct apic_msg msg;

	if (!(req & (1u << pin)) || (e & RTE_MASKED))
		return;
	if (e & RTE_LEVEL) {
		/* Remote IRR: one message until the local APIC's EOI comes back. */
		if (e & RTE_REMOTE_IRR)
			return;
		io->rte[pin] |= RTE_REMOTE_IRR;
	} else {
		io->irr &= ~(1u << pin);
	}
	msg = (struct apic_msg){
		.vector = RTE_VECTOR(e),
		.delivery_mode = RTE_DM(e),
		.dest_logical = !!(e & RTE_DEST_LOGICAL),
		.dest = e >> 56,
		.level_triggered = !!(e & RTE_LEVEL),
		.shorthand = 0,
		.src_apic = -1,
	};
	apic_bus_deliver(io->vm, &msg);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	uint32_t bit = 1u << pin;

	if (pin >= IOAPIC_NUM_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	/* Edge pins latch a rising edge; a masked edge waits for the unmask. */
	if (level && !(io->line & bit) && !(io->rte[pin] & RTE_LEVEL))
		io->irr |= bit;
	if (level)
		io->line |= bit;
	else
		io->line &= ~bit;
	ioapic_service(io, pin);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	unsigned pin;

	pthread_mutex_lock(&io->lock);
	for (pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		uint64_t e = io->rte[pin];

		if (RTE_VECTOR(e) != vector || !(e & RTE_LEVEL) || !(e & RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		/* Still asserted: the device wants service again. */
		ioapic_service(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static uint32_t ioapic_read_window(struct ioapic *io)
{
	uint32_t idx = io->ioregsel & 0xff, pin;

	switch (idx) {
	case 0:
		return io->id;
	case 1:
		return ((IOAPIC_NUM_PINS - 1) << 16) | IOAPIC_VERSION;
	case 2:
		return io->id;  /* arbitration ID follows the ID */
	default:
		if (idx < 0x10 || idx >= 0x10 + 2 * IOAPIC_NUM_PINS)
			return 0xffffffff;
		pin = (idx - 0x10) / 2;
		return idx & 1 ? io->rte[pin] >> 32 : (uint32_t)io->rte[pin];
	}
}

static void ioapic_write_window(struct ioapic *io, uint32_t val)
{
	uint32_t idx = io->ioregsel & 0xff, pin;
	uint64_t e;

	if (idx == 0) {
		io->id = val & 0x0f000000;
		return;
	}
	if (idx < 0x10 || idx >= 0x10 + 2 * IOAPIC_NUM_PINS) {
		log_warnx_rl("ioapic: write to read-only or reserved index %#x", idx);
		return;
	}
	pin = (idx - 0x10) / 2;
	e = io->rte[pin];
	if (idx & 1)
		e = (e & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		e = (e & ~0xffffffffULL) | val;
	io->rte[pin] = (e & RTE_WRITABLE) | (io->rte[pin] & RTE_RO_BITS);
	/* Switching to edge drops a stale remote IRR (as the ICH does). */
	if (!(io->rte[pin] & RTE_LEVEL))
		io->rte[pin] &= ~RTE_REMOTE_IRR;
	/* Unmasking a pin with a pending request delivers it now. */
	ioapic_service(io, pin);
}

static void ioapic_mmio(struct vcpu *vcpu, uint64_t offset, void *data, int len,
			bool is_write, void *opaque)
{
	struct ioapic *io = opaque;
	uint32_t val = 0;

	memcpy(&val, data, MIN(len, 4));
	pthread_mutex_lock(&io->lock);
	switch (offset) {
	case IOREGSEL:
		if (is_write)
			io->ioregsel = val & 0xff;
		else
			val = io->ioregsel;
		break;
	case IOWIN:
		if (is_write)
			ioapic_write_window(io, val);
		else
			val = ioapic_read_window(io);
		break;
	case IOAPIC_EOI:
		if (is_write) {
			pthread_mutex_unlock(&io->lock);
			ioapic_eoi(io, val & 0xff);
			return;
		}
		val = 0;
		break;
	default:
		if (is_write)
			log_warnx_rl("ioapic: write to offset %#llx ignored",
				     (unsigned long long)offset);
		val = 0xffffffff;
		break;
	}
	pthread_mutex_unlock(&io->lock);
	if (!is_write)
		memcpy(data, &val, MIN(len, 4));
}

/* Datasheet §3.0: after reset every pin is masked, ID 0. */
void ioapic_reset(struct ioapic *io)
{
	unsigned pin;

	pthread_mutex_lock(&io->lock);
	io->ioregsel = 0;
	io->id = 0;
	io->irr = 0;  /* line levels are the devices': they survive */
	for (pin = 0; pin < IOAPIC_NUM_PINS; pin++)
		io->rte[pin] = RTE_MASKED;
	pthread_mutex_unlock(&io->lock);
}

int ioapic_create(struct vm *vm, struct ioapic **out)
{
	struct ioapic *io;
	int err;

	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->vm = vm;
	pthread_mutex_init(&io->lock, NULL);
	ioapic_reset(io);
	err = apic_bus_get(vm, &io->bus);
	if (err)
		goto err_free;
	err = vm_map_mmio(vm, IOAPIC_BASE, IOAPIC_MMIO_LEN, ioapic_mmio, io, "ioapic");
	if (err)
		goto err_put;
	io->bus->ioapic = io;
	*out = io;
	return 0;

err_put:
	apic_bus_put(vm);
err_free:
	pthread_mutex_destroy(&io->lock);
	free(io);
	return err;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	if (bus_unmap(&io->vm->mmio, IOAPIC_BASE))
		log_debug("ioapic: was not mapped");
	io->bus->ioapic = NULL;
	apic_bus_put(io->vm);
	pthread_mutex_destroy(&io->lock);
	free(io);
}
