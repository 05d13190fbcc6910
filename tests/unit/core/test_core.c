// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests of the VM core: bus dispatch, guest memory, state machine, event loop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <cmocka.h>

#include "vireo/bus.h"
#include "vireo/evloop.h"
#include "vireo/memory.h"
#include "../fake_accel.h"

/* Poll cond for up to 5 s: the machines running CI are shared and noisy. */
#define WAIT_FOR(cond) do {                                             \
		for (int _i = 0; _i < 5000 && !(cond); _i++)            \
			usleep(1000);                                   \
	} while (0)

struct probe { uint64_t last_off; int last_len; bool last_write; uint32_t value; int calls; };

static void probe_fn(struct vcpu *vcpu, uint64_t off, void *data, int len, bool w, void *opaque)
{
	struct probe *p = opaque;
	p->last_off = off;
	p->last_len = len;
	p->last_write = w;
	p->calls++;
	if (w)
		memcpy(&p->value, data, len > 4 ? 4 : len);
	else
		memcpy(data, &p->value, len > 4 ? 4 : len);
}

static void test_bus_dispatch(void **state)
{
	struct bus bus;
	struct probe a = { .value = 0x11223344 }, b = { 0 };
	uint32_t v = 0;

	assert_int_equal(bus_init(&bus, "test"), 0);
	assert_int_equal(bus_map(&bus, 0x3f8, 8, probe_fn, &a, "a"), 0);
	assert_int_equal(bus_map(&bus, 0x100, 4, probe_fn, &b, "b"), 0);
	/* Overlaps and bad ranges are refused. */
	assert_int_equal(bus_map(&bus, 0x3fc, 8, probe_fn, &b, "c"), -EEXIST);
	assert_int_equal(bus_map(&bus, 0x3f0, 9, probe_fn, &b, "c"), -EEXIST);
	assert_int_equal(bus_map(&bus, 0x0, 0, probe_fn, &b, "c"), -EINVAL);
	assert_int_equal(bus_map(&bus, UINT64_MAX - 1, 4, probe_fn, &b, "c"), -EINVAL);
	/* Reads go to the right device with the offset inside its range. */
	assert_int_equal(bus_dispatch(&bus, NULL, 0x3fa, &v, 2, false), 0);
	assert_int_equal(a.last_off, 2);
	assert_int_equal(v, 0x3344);
	v = 0xdead;
	assert_int_equal(bus_dispatch(&bus, NULL, 0x102, &v, 2, true), 0);
	assert_int_equal(b.last_off, 2);
	assert_true(b.last_write);
	assert_int_equal(b.value, 0xdead);
	/* Unmapped reads float high. */
	v = 0;
	assert_int_equal(bus_dispatch(&bus, NULL, 0x200, &v, 4, false), -ENOENT);
	assert_int_equal(v, 0xffffffff);
	/* Straddling the end is truncated to what fits. */
	assert_int_equal(bus_dispatch(&bus, NULL, 0x103, &v, 4, false), 0);
	assert_int_equal(b.last_len, 1);
	/* Unmap. */
	assert_int_equal(bus_unmap(&bus, 0x100), 0);
	assert_int_equal(bus_unmap(&bus, 0x100), -ENOENT);
	assert_int_equal(bus_dispatch(&bus, NULL, 0x100, &v, 4, false), -ENOENT);
	bus_destroy(&bus);
}

static void test_bus_many_ranges(void **state)
{
	struct bus bus;
	struct probe p[64] = { 0 };
	uint8_t v;

	assert_int_equal(bus_init(&bus, "test"), 0);
	/* Insert out of order; lookups must still find each. */
	for (int i = 0; i < 64; i++) {
		int k = (i * 37) % 64;
		assert_int_equal(bus_map(&bus, 0x1000 + k * 0x10, 0x8, probe_fn, &p[k], "p"), 0);
	}
	for (int k = 0; k < 64; k++) {
		assert_int_equal(bus_dispatch(&bus, NULL, 0x1000 + k * 0x10 + 7, &v, 1, false), 0);
		assert_int_equal(p[k].calls, 1);
		assert_int_equal(bus_dispatch(&bus, NULL, 0x1000 + k * 0x10 + 8, &v, 1, false), -ENOENT);
	}
	bus_destroy(&bus);
}

static void test_guest_mem_layout(void **state)
{
	struct guest_mem mem;
	uint8_t buf[16] = "hello";

	assert_int_equal(guest_mem_create(&mem, 0), -EINVAL);
	assert_int_equal(guest_mem_create(&mem, 4095), -EINVAL);
	/* 4 GiB of RAM: 3 GiB below the PCI hole, 1 GiB above 4 GiB (nothing touched). */
	assert_int_equal(guest_mem_create(&mem, 4 * GiB), 0);
	assert_int_equal(mem.nregions, 2);
	assert_int_equal(mem.regions[0].gpa, 0);
	assert_int_equal(mem.regions[0].size, GUEST_PCI_HOLE_START);
	assert_int_equal(mem.regions[1].gpa, 4 * GiB);
	assert_int_equal(mem.regions[1].size, 4 * GiB - GUEST_PCI_HOLE_START);
	assert_non_null(guest_mem_hva(&mem, 0, 4096));
	assert_null(guest_mem_hva(&mem, GUEST_PCI_HOLE_START, 1));
	assert_null(guest_mem_hva(&mem, GUEST_PCI_HOLE_START - 2, 4));   /* straddles the hole */
	assert_non_null(guest_mem_hva(&mem, 5 * GiB - 4096, 4096));
	assert_null(guest_mem_hva(&mem, 5 * GiB - 4096, 4097));
	assert_int_equal(guest_mem_write(&mem, 4 * GiB + 10, buf, 6), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(guest_mem_read(&mem, 4 * GiB + 10, buf, 6), 0);
	assert_string_equal((char *)buf, "hello");
	assert_int_equal(guest_mem_write(&mem, GUEST_PCI_HOLE_START, buf, 1), -EFAULT);
	/* The write above dirtied page 0 of the high region. */
	assert_true(mem.regions[1].dirty[0] & 1);
	assert_false(mem.regions[1].dirty[0] & 2);
	guest_mem_destroy(&mem);
}

struct hook_rec { uint64_t off, len; int calls; };

static void record_write(void *opaque, uint64_t off, uint64_t len)
{
	struct hook_rec *h = opaque;
	h->off = off;
	h->len = len;
	h->calls++;
}

/* Device writes reach the backend's hook with memfd offsets (DMA into code pages). */
static void test_guest_mem_write_hook(void **state)
{
	struct guest_mem mem;
	struct hook_rec h = { 0 };
	uint8_t buf[64] = { 0 };

	assert_int_equal(guest_mem_create(&mem, 4 * GiB), 0);
	mem.write_hook = record_write;
	mem.write_hook_opaque = &h;
	assert_int_equal(guest_mem_write(&mem, 0x5000, buf, 64), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.off, 0x5000);
	assert_int_equal(h.len, 64);
	/* Above 4 GiB the memfd offset continues after the low region. */
	guest_mem_mark_dirty(&mem, 4 * GiB + 0x2000, 4096);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.off, GUEST_PCI_HOLE_START + 0x2000);
	assert_int_equal(h.len, 4096);
	/* Nothing outside RAM. */
	guest_mem_mark_dirty(&mem, GUEST_PCI_HOLE_START, 16);
	assert_int_equal(h.calls, 2);
	guest_mem_destroy(&mem);
}

static void test_vm_pause_stops_vcpus(void **state)
{
	struct vm_config cfg = { .mem_size = 16 * MiB, .ncpus = 2 };
	struct vm *vm;
	unsigned long s0, s1;
	struct fake_vcpu *f;

	assert_int_equal(vm_create(&cfg, &fake_accel_ops, &vm), 0);
	assert_int_equal(vm_get_state(vm), VM_CREATED);
	assert_int_equal(vm_resume(vm), -EINVAL);
	assert_int_equal(vm_start(vm), 0);
	assert_int_equal(vm_start(vm), -EBUSY);
	assert_int_equal(vm_get_state(vm), VM_RUNNING);
	f = vm->vcpus[1]->accel;
	WAIT_FOR(atomic_load(&f->steps) > 0);
	assert_true(atomic_load(&f->steps) > 0);
	assert_int_equal(vm_pause(vm), 0);
	assert_int_equal(vm_get_state(vm), VM_PAUSED);
	assert_int_equal(vm->nparked, 2);
	s0 = atomic_load(&f->steps);
	usleep(50000);
	s1 = atomic_load(&f->steps);
	assert_int_equal(s0, s1);   /* paused vCPUs execute nothing */
	assert_int_equal(vm_resume(vm), 0);
	WAIT_FOR(atomic_load(&f->steps) > s1);
	assert_true(atomic_load(&f->steps) > s1);
	vm_request_stop(vm, 7, "test stop %d", 7);
	vm_request_stop(vm, 9, "second request loses");
	assert_int_equal(vm_wait(vm), 7);
	assert_string_equal(vm->stop_reason, "test stop 7");
	assert_int_equal(vm_get_state(vm), VM_STOPPED);
	assert_int_equal(vm_pause(vm), -EINVAL);
	vm_destroy(vm);
}

static void test_vm_stop_while_paused(void **state)
{
	struct vm_config cfg = { .mem_size = 16 * MiB, .ncpus = 3 };
	struct vm *vm;

	assert_int_equal(vm_create(&cfg, &fake_accel_ops, &vm), 0);
	assert_int_equal(vm_start(vm), 0);
	assert_int_equal(vm_pause(vm), 0);
	vm_request_stop(vm, 0, "stopped while paused");
	assert_int_equal(vm_wait(vm), 0);
	vm_destroy(vm);
}

static void test_vm_bad_config(void **state)
{
	struct vm_config cfg = { .mem_size = 16 * MiB, .ncpus = 0 };
	struct vm *vm;

	assert_int_equal(vm_create(&cfg, &fake_accel_ops, &vm), -EINVAL);
	cfg.ncpus = VM_MAX_VCPUS + 1;
	assert_int_equal(vm_create(&cfg, &fake_accel_ops, &vm), -EINVAL);
	cfg.ncpus = 1;
	cfg.mem_size = 12345;
	assert_int_equal(vm_create(&cfg, &fake_accel_ops, &vm), -EINVAL);
}

static void timer_fired(void *opaque)
{
	atomic_fetch_add((atomic_int *)opaque, 1);
}

struct delctx { struct evloop *loop; int other_fd; atomic_int first, second, second_at_del; };

static void cb_first(int fd, uint32_t ev, void *opaque)
{
	struct delctx *c = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	atomic_store(&c->second_at_del, atomic_load(&c->second));
	evloop_del(c->loop, c->other_fd);   /* its event may already be in this batch */
	evloop_del(c->loop, fd);
	atomic_fetch_add(&c->first, 1);
}

static void cb_second(int fd, uint32_t ev, void *opaque)
{
	atomic_fetch_add(&((struct delctx *)opaque)->second, 1);
}

/* A callback deleting watches of its own batch: the deleted ones never run. */
static void test_evloop_delete_in_batch(void **state)
{
	struct delctx c = { 0 };
	uint64_t one = 1;

	assert_int_equal(evloop_create(&c.loop), 0);
	for (int round = 0; round < 200; round++) {
		int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);

		c.other_fd = b;
		atomic_store(&c.first, 0);
		atomic_store(&c.second, 0);
		/* Both readable before the loop looks: one batch holds both. */
		assert_int_equal(write(a, &one, 8), 8);
		assert_int_equal(write(b, &one, 8), 8);
		assert_int_equal(evloop_add(c.loop, b, EPOLLIN, cb_second, &c), 0);
		assert_int_equal(evloop_add(c.loop, a, EPOLLIN, cb_first, &c), 0);
		if (round == 0)
			assert_int_equal(evloop_start(c.loop), 0);
		WAIT_FOR(atomic_load(&c.first) || atomic_load(&c.second));
		usleep(2000);
		if (atomic_load(&c.first)) {
			/* a removed b: b's callback never ran after that. */
			assert_int_equal(atomic_load(&c.second), atomic_load(&c.second_at_del));
			assert_int_equal(evloop_del(c.loop, a), -ENOENT);
			assert_int_equal(evloop_del(c.loop, b), -ENOENT);
		} else {
			evloop_del(c.loop, a);   /* b ran first (epoll order): fine too */
			evloop_del(c.loop, b);
		}
		close(a);
		close(b);
	}
	evloop_destroy(c.loop);
}

static void test_evloop_timer(void **state)
{
	struct evloop *loop;
	struct evtimer *t;
	atomic_int n = 0;

	assert_int_equal(evloop_create(&loop), 0);
	assert_int_equal(evtimer_create(loop, timer_fired, &n, &t), 0);
	assert_int_equal(evloop_start(loop), 0);
	assert_int_equal(evtimer_arm(t, 1000000, 2000000), 0);   /* 1 ms, then every 2 ms */
	WAIT_FOR(atomic_load(&n) >= 3);
	assert_true(atomic_load(&n) >= 3);
	assert_int_equal(evtimer_disarm(t), 0);
	usleep(5000);
	int before = atomic_load(&n);
	usleep(20000);
	assert_int_equal(atomic_load(&n), before);
	evtimer_destroy(t);
	evloop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_dispatch),
		cmocka_unit_test(test_bus_many_ranges),
		cmocka_unit_test(test_guest_mem_layout),
		cmocka_unit_test(test_guest_mem_write_hook),
		cmocka_unit_test(test_vm_pause_stops_vcpus),
		cmocka_unit_test(test_vm_stop_while_paused),
		cmocka_unit_test(test_vm_bad_config),
		cmocka_unit_test(test_evloop_timer),
		cmocka_unit_test(test_evloop_delete_in_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
