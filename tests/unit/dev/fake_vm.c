// SPDX-License-Identifier: GPL-2.0-only
/* Test-local VM core stand-in: see fake_vm.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/evloop.h"
#include "fake_vm.h"

/* vm->loop points here so chips create their timers against the fake. */
struct evloop {
	struct fake_vm *f;
};

struct evtimer {
	struct fake_timer *t;
};

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

int evtimer_create(struct evloop *loop, evtimer_fn fn, void *opaque,
		   struct evtimer **out)
{
	struct evtimer *et = calloc(1, sizeof(*et));

	if (!et)
		return -1;
	et->t = &loop->f->timer;
	et->t->fn = fn;
	et->t->opaque = opaque;
	et->t->created = true;
	*out = et;
	return 0;
}

int evtimer_arm(struct evtimer *et, uint64_t delay_ns, uint64_t period_ns)
{
	et->t->armed = true;
	et->t->delay_ns = delay_ns;
	et->t->arms++;
	return 0;
}

int evtimer_disarm(struct evtimer *et)
{
	et->t->armed = false;
	return 0;
}

void evtimer_destroy(struct evtimer *et)
{
	if (!et)
		return;
	et->t->created = false;
	free(et);
}

void fake_timer_fire(struct fake_vm *f)
{
	if (f->timer.armed) {
		f->timer.armed = false;
		f->timer.fn(f->timer.opaque);
	}
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
	f->vm.loop = calloc(1, sizeof(struct evloop));
	if (!f->vm.loop)
		abort();
	f->vm.loop->f = f;
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
	free(f->vm.loop);
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

static uint64_t xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

void fake_random_pio(struct fake_vm *f, uint16_t base, unsigned span,
		     unsigned n, uint64_t seed)
{
	uint64_t x = seed ? seed : 1;
	static const int lens[] = { 1, 1, 1, 2, 4 };

	for (unsigned i = 0; i < n; i++) {
		uint64_t r = xorshift64(&x);
		uint16_t port = base + (uint16_t)(r % span);
		int len = lens[(r >> 16) % 5];

		if ((r >> 24) & 1)
			fake_out(f, port, (uint32_t)(r >> 32), len);
		else
			(void)fake_inl(f, port, len);
		if ((r >> 25) % 64 == 0 && f->timer.armed)
			fake_timer_fire(f);
	}
}

void fake_console_type(struct fake_vm *f, const char *s)
{
	struct console *con = f->vm.console;

	if (con->input)
		con->input(con->input_opaque, (const uint8_t *)s, strlen(s));
}
