// SPDX-License-Identifier: GPL-2.0-only
/* The virtio tests' VM core stand-in: see vfake.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfake.h"

int vm_irq_set(struct vm *vm, unsigned gsi, int level)
{
	struct fake_vm *f = (struct fake_vm *)vm;

	if (gsi >= FAKE_NGSI)
		return -1;
	if (level && !f->irq_level[gsi])
		f->irq_raises[gsi]++;
	f->irq_level[gsi] = !!level;
	return 0;
}

int vm_msi_send(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct fake_vm *f = (struct fake_vm *)vm;

	__atomic_store_n(&f->msi_addr, addr, __ATOMIC_RELAXED);
	__atomic_store_n(&f->msi_data, data, __ATOMIC_RELAXED);
	__atomic_fetch_add(&f->msi_count, 1, __ATOMIC_RELEASE);
	return 0;
}

void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;

	vm->state = VM_STOPPED;
	vm->exit_status = status;
	va_start(ap, fmt);
	vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
	va_end(ap);
}

struct fake_vm *fake_vm_create(uint64_t mem_size, int ncpus)
{
	struct fake_vm *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->vm.cfg.mem_size = mem_size;
	f->vm.cfg.ncpus = ncpus;
	f->vm.nvcpus = ncpus;
	f->vm.state = VM_RUNNING;
	if (bus_init(&f->vm.pio, "pio") || bus_init(&f->vm.mmio, "mmio"))
		abort();
	pthread_mutex_init(&f->vm.lock, NULL);
	return f;
}

void fake_vm_destroy(struct fake_vm *f)
{
	bus_destroy(&f->vm.pio);
	bus_destroy(&f->vm.mmio);
	pthread_mutex_destroy(&f->vm.lock);
	free(f);
}

uint32_t fake_inl(struct fake_vm *f, uint16_t port, int len)
{
	uint8_t b[4] = { 0xff, 0xff, 0xff, 0xff };
	uint32_t v = 0;

	bus_dispatch(&f->vm.pio, NULL, port, b, len, false);
	for (int i = len - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

void fake_out(struct fake_vm *f, uint16_t port, uint32_t val, int len)
{
	uint8_t b[4] = { val, val >> 8, val >> 16, val >> 24 };

	bus_dispatch(&f->vm.pio, NULL, port, b, len, true);
}

int fake_mmio(struct fake_vm *f, uint64_t gpa, void *data, int len, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, len);
	return bus_dispatch(&f->vm.mmio, NULL, gpa, data, len, is_write);
}
