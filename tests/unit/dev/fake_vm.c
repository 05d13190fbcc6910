// SPDX-License-Identifier: GPL-2.0-only
/* Test-local VM core stand-in: see fake_vm.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_vm.h"

static struct fake_vm *to_fake(struct vm *vm)
{
	return (struct fake_vm *)vm;  /* vm is the first member */
}

int vm_irq_set(struct vm *vm, unsigned gsi, int level)
{
	struct fake_vm *f = to_fake(vm);

	if (gsi >= FAKE_NGSI)
		return -1;
	if (level && !f->irq_level[gsi])
		f->irq_raises[gsi]++;
	f->irq_level[gsi] = !!level;
	return 0;
}

int vm_msi_send(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct fake_vm *f = to_fake(vm);

	f->msi_count++;
	f->msi_addr = addr;
	f->msi_data = data;
	return 0;
}

void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
{
	struct fake_vm *f = to_fake(vm);
	va_list ap;

	f->nstops++;
	if (vm->state == VM_STOPPED)
		return; /* the first request wins */
	vm->state = VM_STOPPED;
	vm->exit_status = status;
	va_start(ap, fmt);
	vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
	va_end(ap);
}

void console_write(struct console *con, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len && con->out_len < sizeof(con->out); i++)
		con->out[con->out_len++] = buf[i];
}

void console_set_input(struct console *con, console_input_fn fn, void *opaque)
{
	con->input = fn;
	con->input_opaque = opaque;
}

struct fake_vm *fake_vm_create(uint64_t mem_size, int ncpus)
{
	struct fake_vm *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->vm.cfg.mem_size = mem_size;
	f->vm.cfg.ncpus = ncpus;
	f->vm.nvcpus = ncpus;
	f->vm.mem.total = mem_size;
	f->vm.state = VM_RUNNING;
	if (bus_init(&f->vm.pio, "pio") || bus_init(&f->vm.mmio, "mmio"))
		abort();
	pthread_mutex_init(&f->vm.lock, NULL);
	f->vm.console = calloc(1, sizeof(struct console));
	if (!f->vm.console)
		abort();
	return f;
}

void fake_vm_destroy(struct fake_vm *f)
{
	bus_destroy(&f->vm.pio);
	bus_destroy(&f->vm.mmio);
	pthread_mutex_destroy(&f->vm.lock);
	free(f->vm.console);
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

void fake_console_type(struct fake_vm *f, const char *s)
{
	struct console *con = f->vm.console;

	if (con->input)
		con->input(con->input_opaque, (const uint8_t *)s, strlen(s));
}
