/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_VM_H
#define VIREO_VM_H

/*
 * The VM object and its state machine:
 *
 *   CREATED --vm_start--> RUNNING <--vm_pause/vm_resume--> PAUSED
 *      any state --vm_request_stop--> STOPPED (vCPU threads exit)
 *
 * Everything hangs off struct vm: no globals.  One vCPU thread per vCPU,
 * one event-loop thread for device back ends, timers and the console.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vireo/accel.h"
#include "vireo/bus.h"
#include "vireo/memory.h"
#include "vireo/util.h"
#include "vireo/x86.h"

#define VM_MAX_VCPUS 64

struct accel_ops;
struct evloop;
struct console;
struct device;

enum vm_state { VM_CREATED, VM_RUNNING, VM_PAUSED, VM_STOPPED };

/*
 * Who decompresses a bzImage's payload: AUTO is the host when it can
 * (src/arch/x86/kunpack.c), else the kernel's own decompressor in the guest.
 */
enum kernel_unpack { KERNEL_UNPACK_AUTO, KERNEL_UNPACK_HOST, KERNEL_UNPACK_GUEST };

struct vm_config {
	uint64_t mem_size;      /* bytes */
	int ncpus;
	enum accel_kind accel;
	const char *kernel;     /* bzImage, vmlinux ELF, or PVH ELF */
	const char *initrd;     /* may be NULL */
	const char *cmdline;    /* may be NULL: "" */
	enum kernel_unpack kernel_unpack;       /* bzImage only */
};

struct vcpu {
	struct vm *vm;
	int id;                 /* also its APIC ID */
	pthread_t thread;
	bool thread_started;
	void *accel;            /* backend's per-vCPU state */
};

struct vm {
	struct vm_config cfg;
	struct guest_mem mem;
	struct bus pio, mmio;

	const struct accel_ops *accel;
	void *accel_data;               /* backend's per-VM state */

	int nvcpus;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	void *apic_bus;                 /* emu: APIC bus (src/dev/apic_bus.c), NULL under kvm */

	struct evloop *loop;
	struct console *console;

	struct device *devices;         /* realized devices, newest first */
	uint64_t tsc_origin_ns;         /* host monotonic ns at guest TSC 0 */
	struct x86_regs boot_regs;      /* BSP entry state set by the boot loader */
	struct x86_sregs boot_sregs;

	pthread_mutex_t lock;           /* guards the fields below */
	pthread_cond_t cond;
	enum vm_state state;
	int nparked;                    /* vCPUs parked while PAUSED */
	int exit_status;                /* process exit status once STOPPED */
	char stop_reason[256];
};

/* Allocate a VM: memory, buses, event loop, accel backend.  Ownership of
 * cfg strings stays with the caller (they must outlive the VM). */
int vm_create(const struct vm_config *cfg, const struct accel_ops *accel,
	      struct vm **out) WUR;
/* Start vCPU threads (CREATED -> RUNNING). */
int vm_start(struct vm *vm) WUR;
/* RUNNING -> PAUSED: returns once every vCPU thread is parked. */
int vm_pause(struct vm *vm) WUR;
/* PAUSED -> RUNNING. */
int vm_resume(struct vm *vm) WUR;
/*
 * Ask the VM to stop with a process exit status and a reason (logged by the
 * caller of vm_wait).  Safe from any thread, including vCPU threads and
 * device handlers; the first request wins.
 */
void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Block until STOPPED; returns exit_status.  Joins the vCPU threads. */
int vm_wait(struct vm *vm);
void vm_destroy(struct vm *vm);
enum vm_state vm_get_state(struct vm *vm);
const char *vm_state_name(enum vm_state s);

/* Interrupt lines: GSI 0-15 are the ISA IRQs, 16-23 the other IOAPIC pins. */
int vm_irq_set(struct vm *vm, unsigned gsi, int level);
/* Message-signalled interrupt (for PCI MSI/MSI-X). */
int vm_msi_send(struct vm *vm, uint64_t addr, uint32_t data);

/* Convenience wrappers around the buses. */
static inline int vm_map_pio(struct vm *vm, uint64_t base, uint64_t len,
			     bus_fn fn, void *opaque, const char *name)
{
	return bus_map(&vm->pio, base, len, fn, opaque, name);
}
static inline int vm_map_mmio(struct vm *vm, uint64_t base, uint64_t len,
			      bus_fn fn, void *opaque, const char *name)
{
	return bus_map(&vm->mmio, base, len, fn, opaque, name);
}

#endif
