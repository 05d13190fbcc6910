// SPDX-License-Identifier: GPL-2.0-only
/* Fake core for the interrupt-controller tests: see irqchip_fake.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/bus.h"
#include "vireo/evloop.h"
#include "irqchip_fake.h"

struct evtimer {
	evtimer_fn fn;
	void *opaque;
	bool armed;
	uint64_t when, period;
	struct evtimer *next;
};

/* Test-process state: one fake world per test binary. */
static uint64_t clock_ns = 1000000000ULL;
static struct evtimer *timers;
static struct fake_vm *cur;

uint64_t now_ns(void)
{
	return clock_ns;
}

uint64_t fake_clock(void)
{
	return clock_ns;
}

static struct evtimer *first_due(uint64_t until)
{
	struct evtimer *t, *best = NULL;

	for (t = timers; t; t = t->next)
		if (t->armed && t->when <= until && (!best || t->when < best->when))
			best = t;
	return best;
}

void fake_clock_advance(uint64_t ns)
{
	uint64_t until = clock_ns + ns;
	struct evtimer *t;

	while ((t = first_due(until))) {
		if (t->when > clock_ns)
			clock_ns = t->when;
		if (t->period)
			t->when += t->period;
		else
			t->armed = false;
		t->fn(t->opaque);
	}
	clock_ns = until;
}

int fake_timers_armed(void)
{
	struct evtimer *t;
	int n = 0;

	for (t = timers; t; t = t->next)
		n += t->armed;
	return n;
}

bool fake_timer_first(uint64_t *period, uint64_t *left)
{
	struct evtimer *t = first_due(UINT64_MAX);

	if (!t)
		return false;
	*period = t->period;
	*left = t->when - clock_ns;
	return true;
}

int evtimer_create(struct evloop *loop, evtimer_fn fn, void *opaque, struct evtimer **out)
{
	struct evtimer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->opaque = opaque;
	t->next = timers;
	timers = t;
	*out = t;
	return 0;
}

int evtimer_arm(struct evtimer *t, uint64_t delay_ns, uint64_t period_ns)
{
	t->armed = true;
	t->when = clock_ns + delay_ns;
	t->period = period_ns;
	return 0;
}

int evtimer_disarm(struct evtimer *t)
{
	t->armed = false;
	return 0;
}

void evtimer_destroy(struct evtimer *t)
{
	struct evtimer **p;

	for (p = &timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	free(t);
}

int bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	return 0;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
}

int bus_map(struct bus *bus, uint64_t base, uint64_t len, bus_fn fn,
	    void *opaque, const char *name)
{
	struct bus_range *r;
	int i;

	for (i = 0; i < bus->nranges; i++)
		if (base < bus->ranges[i].base + bus->ranges[i].len &&
		    bus->ranges[i].base < base + len)
			return -EEXIST;
	r = realloc(bus->ranges, (bus->nranges + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	bus->ranges = r;
	r[bus->nranges++] = (struct bus_range){ base, len, fn, opaque, name };
	return 0;
}

int bus_unmap(struct bus *bus, uint64_t base)
{
	int i;

	for (i = 0; i < bus->nranges; i++) {
		if (bus->ranges[i].base == base) {
			bus->ranges[i] = bus->ranges[--bus->nranges];
			return 0;
		}
	}
	return -ENOENT;
}

int bus_dispatch(struct bus *bus, struct vcpu *vcpu, uint64_t addr,
		 void *data, int len, bool is_write)
{
	int i;

	for (i = 0; i < bus->nranges; i++) {
		struct bus_range *r = &bus->ranges[i];

		if (addr >= r->base && addr < r->base + r->len) {
			r->fn(vcpu, addr - r->base, data, len, is_write, r->opaque);
			return 0;
		}
	}
	return -ENOENT;
}

int vm_irq_set(struct vm *vm, unsigned gsi, int level)
{
	struct fake_vm *f = (struct fake_vm *)vm;

	if (gsi >= 24)
		return -EINVAL;
	if (level && !f->irq_level[gsi])
		f->irq_edges[gsi]++;
	f->irq_level[gsi] = level;
	if (f->pic && gsi < 16)
		pic_set_irq(f->pic, gsi, level);
	if (f->ioapic)
		ioapic_set_irq(f->ioapic, gsi, level);
	return 0;
}

void fake_kick(struct vcpu *vcpu)
{
	if (cur && vcpu->id >= 0 && vcpu->id < VM_MAX_VCPUS)
		cur->kicks[vcpu->id]++;
}

struct fake_vm *fake_vm_create(int ncpus, bool with_loop)
{
	struct fake_vm *f = calloc(1, sizeof(*f));
	int i;

	if (!f)
		abort();
	pthread_mutex_init(&f->vm.lock, NULL);
	if (bus_init(&f->vm.pio, "pio") || bus_init(&f->vm.mmio, "mmio"))
		abort();
	/* Any non-NULL pointer: the fake timers ignore the loop. */
	f->vm.loop = with_loop ? (struct evloop *)f : NULL;
	f->vm.tsc_origin_ns = clock_ns;
	f->vm.nvcpus = ncpus;
	for (i = 0; i < ncpus; i++) {
		f->vm.vcpus[i] = calloc(1, sizeof(struct vcpu));
		f->vm.vcpus[i]->vm = &f->vm;
		f->vm.vcpus[i]->id = i;
	}
	cur = f;
	return f;
}

void fake_vm_destroy(struct fake_vm *f)
{
	int i;

	for (i = 0; i < f->vm.nvcpus; i++)
		free(f->vm.vcpus[i]);
	bus_destroy(&f->vm.pio);
	bus_destroy(&f->vm.mmio);
	pthread_mutex_destroy(&f->vm.lock);
	if (cur == f)
		cur = NULL;
	free(f);
}

uint32_t fake_pio_read(struct fake_vm *f, uint16_t port, int len)
{
	uint32_t v = 0xffffffff;

	bus_dispatch(&f->vm.pio, NULL, port, &v, len, false);
	if (len < 4)
		v &= (1u << (len * 8)) - 1;
	return v;
}

void fake_pio_write(struct fake_vm *f, uint16_t port, uint32_t val, int len)
{
	bus_dispatch(&f->vm.pio, NULL, port, &val, len, true);
}

uint32_t fake_mmio_read(struct fake_vm *f, uint64_t addr)
{
	uint32_t v = 0xffffffff;

	bus_dispatch(&f->vm.mmio, NULL, addr, &v, 4, false);
	return v;
}

void fake_mmio_write(struct fake_vm *f, uint64_t addr, uint32_t val)
{
	bus_dispatch(&f->vm.mmio, NULL, addr, &val, 4, true);
}
