/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_TEST_FAKE_VM_H
#define VIREO_TEST_FAKE_VM_H

/*
 * A test-local stand-in for the parts of the VM core the legacy chips call:
 * vm_irq_set / vm_msi_send (recorded), vm_request_stop (recorded), and the
 * console (output captured, the input callback kept so tests can type).
 * The chips under test are compiled into the test binary together with
 * this file and the real bus dispatch, so nothing here shadows libvireo.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vireo/console.h"
#include "vireo/vm.h"

#define FAKE_NGSI 24

/* The one event-loop timer a chip may create (the RTC's). */
struct fake_timer {
	void (*fn)(void *opaque);
	void *opaque;
	bool created, armed;
	uint64_t delay_ns;
	int arms;
};

struct fake_vm {
	struct vm vm;
	struct fake_timer timer;
	int irq_level[FAKE_NGSI];
	int irq_raises[FAKE_NGSI];      /* 0 -> 1 transitions seen */
	int nstops;
	int msi_count;
	uint64_t msi_addr;
	uint32_t msi_data;
};

struct console {
	uint8_t out[8192];
	size_t out_len;
	console_input_fn input;
	void *input_opaque;
};

/* Zeroed VM with initialised buses, lock and a console; mem_size for CMOS. */
struct fake_vm *fake_vm_create(uint64_t mem_size, int ncpus);
void fake_vm_destroy(struct fake_vm *f);

/* Port I/O as a vCPU would do it. */
uint32_t fake_inl(struct fake_vm *f, uint16_t port, int len);
void fake_out(struct fake_vm *f, uint16_t port, uint32_t val, int len);
static inline uint8_t fake_inb(struct fake_vm *f, uint16_t port)
{
	return (uint8_t)fake_inl(f, port, 1);
}
static inline void fake_outb(struct fake_vm *f, uint16_t port, uint8_t val)
{
	fake_out(f, port, val, 1);
}
/* MMIO as a vCPU would do it; returns the bus_dispatch result. */
int fake_mmio(struct fake_vm *f, uint64_t gpa, void *data, int len, bool is_write);
/*
 * A hostile guest: `n` random byte/word/dword reads and writes of random
 * values at ports [base, base + span), from a fixed seed.  Fires the timer
 * now and then.  The chip must survive it (tests then check it still works).
 */
void fake_random_pio(struct fake_vm *f, uint16_t base, unsigned span,
		     unsigned n, uint64_t seed);
/* Run the armed timer's callback now (as the event loop would). */
void fake_timer_fire(struct fake_vm *f);
/* Type on the console. */
void fake_console_type(struct fake_vm *f, const char *s);

#endif
