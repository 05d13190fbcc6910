// SPDX-License-Identifier: GPL-2.0-only
/*
 * The emu accel backend: the software x86-64 CPU (cpu.c and friends) bound
 * to a VM: guest RAM, the PIO/MMIO buses, the userspace interrupt
 * controllers (vireo/irqchip.h), the guest TSC and KVM's paravirtual clock
 * (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_SYSTEM_TIME_NEW).
 */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vireo/accel.h"
#include "vireo/cpuid.h"
#include "vireo/irqchip.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "accel/emu/cpu.h"
#include "accel/emu/jit.h"
#include "accel/emu/sys.h"

struct emu_vm {
	uint32_t *page_gen;             /* see struct emu_cpu */
	uint64_t ram_pages;             /* entries of page_gen */
	struct pic *pic;
	struct ioapic *ioapic;
	struct pit *pit;
};

struct emu_vcpu {
	struct emu_cpu cpu;             /* first: hooks cast back */
	struct vcpu *vcpu;
	struct lapic *lapic;
	pthread_mutex_t lock;           /* guards sleeping in HLT / wait-for-SIPI */
	pthread_cond_t cond;
	FILE *prof;                     /* VIREO_EMU_PROFILE: sampled RIPs */
};

static struct emu_vcpu *to_ev(struct emu_cpu *c)
{
	return (struct emu_vcpu *)c;
}

static struct vm *cpu_vm(struct emu_cpu *c)
{
	return to_ev(c)->vcpu->vm;
}

/* ---- hooks for the CPU ---- */

static void *hook_gpa_to_hva(struct emu_cpu *c, uint64_t gpa)
{
	return guest_mem_hva(&cpu_vm(c)->mem, gpa & ~0xfffULL, 4096);
}

static void hook_mark_dirty(struct emu_cpu *c, uint64_t gpa)
{
	guest_mem_mark_dirty(&cpu_vm(c)->mem, gpa, 1);
}

static uint32_t hook_io_in(struct emu_cpu *c, uint16_t port, int len)
{
	uint32_t v = 0xffffffff;

	bus_dispatch(&cpu_vm(c)->pio, to_ev(c)->vcpu, port, &v, len, false);
	if (c->debug >= 2)
		log_warnx("emu: in 0x%x -> 0x%x (%d) rip 0x%llx", port, v, len,
			  (unsigned long long)c->rip);
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

static void hook_io_out(struct emu_cpu *c, uint16_t port, uint32_t v, int len)
{
	if (c->debug >= 2)
		log_warnx("emu: out 0x%x <- 0x%x (%d) rip 0x%llx", port, v, len,
			  (unsigned long long)c->rip);
	bus_dispatch(&cpu_vm(c)->pio, to_ev(c)->vcpu, port, &v, len, true);
}

static bool in_apic_page(struct emu_cpu *c, uint64_t gpa)
{
	return (gpa & ~0xfffULL) == (c->apic_base & 0xffffff000ULL);
}

static uint64_t hook_mmio_read(struct emu_cpu *c, uint64_t gpa, int len)
{
	uint64_t v = ~0ULL;

	if (in_apic_page(c, gpa)) {
		v = 0;
		lapic_mmio(to_ev(c)->lapic, gpa & 0xfff, &v, len, false);
	} else {
		bus_dispatch(&cpu_vm(c)->mmio, to_ev(c)->vcpu, gpa, &v, len, false);
	}
	return len == 8 ? v : v & ((1ULL << (8 * len)) - 1);
}

static void hook_mmio_write(struct emu_cpu *c, uint64_t gpa, uint64_t v, int len)
{
	if (in_apic_page(c, gpa))
		lapic_mmio(to_ev(c)->lapic, gpa & 0xfff, &v, len, true);
	else
		bus_dispatch(&cpu_vm(c)->mmio, to_ev(c)->vcpu, gpa, &v, len, true);
}

static uint64_t hook_tsc(struct emu_cpu *c)
{
	return guest_tsc_now(cpu_vm(c));
}

/*
 * kvmclock (pvclock_vcpu_time_info, arch/x86/include/asm/pvclock-abi.h):
 * the guest TSC runs at GUEST_TSC_KHZ from the VM's origin, so
 * ns = tsc * 1e6 / khz, expressed as (tsc * mul) >> 32 with shift 0.
 */
static void kvmclock_publish(struct emu_cpu *c, uint64_t gpa)
{
	uint8_t *p = guest_mem_hva(&cpu_vm(c)->mem, gpa, 32);
	uint64_t tsc = guest_tsc_now(cpu_vm(c));
	uint64_t mul = (1000000ULL << 32) / GUEST_TSC_KHZ;
	uint64_t ns;
	uint32_t version;

	if (!p)
		return;
	ns = (uint64_t)(((unsigned __int128)tsc * mul) >> 32);
	memcpy(&version, p, 4);
	version = (version + 1) | 1;
	__atomic_store_n((uint32_t *)p, version, __ATOMIC_RELEASE);
	memcpy(p + 8, &tsc, 8);
	memcpy(p + 16, &ns, 8);
	{
		uint32_t m32 = (uint32_t)mul;
		int8_t shift = 0;
		uint8_t flags = 1;  /* PVCLOCK_TSC_STABLE_BIT */
		memcpy(p + 24, &m32, 4);
		memcpy(p + 28, &shift, 1);
		memcpy(p + 29, &flags, 1);
	}
	__atomic_store_n((uint32_t *)p, version + 1, __ATOMIC_RELEASE);
}

static void kvm_wall_clock(struct emu_cpu *c, uint64_t gpa)
{
	uint8_t *p = guest_mem_hva(&cpu_vm(c)->mem, gpa, 12);
	struct timespec now;
	uint64_t boot_ns, sec_ns;
	uint32_t version, sec, nsec;

	if (!p)
		return;
	/* Wall-clock time at guest system_time 0 (the VM's TSC origin). */
	clock_gettime(CLOCK_REALTIME, &now);
	sec_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	boot_ns = sec_ns - (now_ns() - cpu_vm(c)->tsc_origin_ns);
	sec = (uint32_t)(boot_ns / 1000000000ULL);
	nsec = (uint32_t)(boot_ns % 1000000000ULL);
	memcpy(&version, p, 4);
	version = (version + 1) | 1;
	__atomic_store_n((uint32_t *)p, version, __ATOMIC_RELEASE);
	memcpy(p + 4, &sec, 4);
	memcpy(p + 8, &nsec, 4);
	__atomic_store_n((uint32_t *)p, version + 1, __ATOMIC_RELEASE);
}

static int hook_msr_read(struct emu_cpu *c, uint32_t idx, uint64_t *val)
{
	struct emu_vcpu *ev = to_ev(c);

	switch (idx) {
	case MSR_IA32_APICBASE: *val = lapic_get_base(ev->lapic); return 0;
	case MSR_IA32_TSC_DEADLINE: *val = lapic_get_tsc_deadline(ev->lapic); return 0;
	case MSR_KVM_SYSTEM_TIME_NEW: *val = c->kvm_system_time; return 0;
	case MSR_KVM_WALL_CLOCK_NEW: *val = c->kvm_wall_clock; return 0;
	case 0x17:      /* IA32_PLATFORM_ID */
	case 0x8b:      /* IA32_BIOS_SIGN_ID: microcode revision 0 */
		*val = 0;
		return 0;
	default:
		log_debug("emu: vcpu%d: rdmsr 0x%x -> #GP", ev->vcpu->id, idx);
		return -1;
	}
}

static int hook_msr_write(struct emu_cpu *c, uint32_t idx, uint64_t v)
{
	struct emu_vcpu *ev = to_ev(c);

	switch (idx) {
	case MSR_IA32_APICBASE:
		if (lapic_set_base(ev->lapic, v))
			return -1;
		c->apic_base = lapic_get_base(ev->lapic);
		emu_tlb_flush(c, false);
		return 0;
	case MSR_IA32_TSC_DEADLINE:
		lapic_set_tsc_deadline(ev->lapic, v);
		return 0;
	case MSR_KVM_SYSTEM_TIME_NEW:
		c->kvm_system_time = v;
		if (v & 1)
			kvmclock_publish(c, v & ~1ULL);
		return 0;
	case MSR_KVM_WALL_CLOCK_NEW:
		c->kvm_wall_clock = v;
		kvm_wall_clock(c, v);
		return 0;
	case 0x8b:
		return 0;
	default:
		log_debug("emu: vcpu%d: wrmsr 0x%x <- 0x%llx -> #GP", ev->vcpu->id, idx,
			  (unsigned long long)v);
		return -1;
	}
}

static void hook_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	x86_cpuid(cpu_vm(c), to_ev(c)->vcpu->id, leaf, sub, out);
}

static uint64_t hook_get_cr8(struct emu_cpu *c)
{
	return lapic_get_cr8(to_ev(c)->lapic);
}

static void hook_set_cr8(struct emu_cpu *c, uint64_t v)
{
	lapic_set_cr8(to_ev(c)->lapic, v);
}

static int hook_irq_pending(struct emu_cpu *c)
{
	return lapic_pending_vector(to_ev(c)->lapic);
}

static int hook_irq_ack(struct emu_cpu *c, int vec)
{
	return lapic_accept(to_ev(c)->lapic, vec);
}

static void hook_trace_exc(struct emu_cpu *c, int vec, uint32_t err)
{
	log_warnx("emu: vcpu%d: exception %d err 0x%x at rip 0x%llx cr2 0x%llx (icount %llu)",
		  to_ev(c)->vcpu->id, vec, err, (unsigned long long)c->rip,
		  (unsigned long long)c->cr2, (unsigned long long)c->icount);
}

static void hook_poll(struct emu_cpu *c)
{
	struct emu_vcpu *ev = to_ev(c);

	if (c->debug && c->icount >= c->debug_next) {
		struct timespec ts;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		c->debug_next = c->icount + (1ULL << 27);
		log_warnx("emu: vcpu%d: rip 0x%llx icount %llu cpu %.2fs", ev->vcpu->id,
			  (unsigned long long)c->rip, (unsigned long long)c->icount,
			  ts.tv_sec + ts.tv_nsec / 1e9);
	}

	if (ev->prof) {
		struct timespec ts;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		fprintf(ev->prof, "%llx %llu %lld\n", (unsigned long long)c->rip,
			(unsigned long long)c->icount,
			(long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	}
	lapic_timer_poll(ev->lapic, guest_tsc_now(ev->vcpu->vm));
	if (lapic_take_nmi(ev->lapic))
		c->nmi_pending = 1;
}

/* HLT: sleep until an interrupt can be taken, a timer is due, or a kick. */
static void hook_halt(struct emu_cpu *c)
{
	struct emu_vcpu *ev = to_ev(c);
	struct vm *vm = ev->vcpu->vm;
	uint64_t next = lapic_timer_poll(ev->lapic, guest_tsc_now(vm));
	struct timespec ts;

	if (lapic_take_nmi(ev->lapic))
		c->nmi_pending = 1;
	if ((c->rflags & FL_IF) && lapic_pending_vector(ev->lapic) >= 0) {
		c->irq_hint = 1;
		return;
	}
	pthread_mutex_lock(&ev->lock);
	while (!c->exit_request && !c->nmi_pending && !(c->irq_hint && (c->rflags & FL_IF))) {
		if (next == UINT64_MAX) {
			pthread_cond_wait(&ev->cond, &ev->lock);
		} else {
			uint64_t ns = guest_tsc_to_ns(vm, next);
			ts.tv_sec = (time_t)(ns / 1000000000ULL);
			ts.tv_nsec = (long)(ns % 1000000000ULL);
			if (pthread_cond_timedwait(&ev->cond, &ev->lock, &ts) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&ev->lock);
	c->irq_hint = 1;    /* re-check the LAPIC at the next boundary */
}

static void hook_code_page_added(struct emu_cpu *c)
{
	struct vm *vm = cpu_vm(c);

	for (int i = 0; i < vm->nvcpus; i++) {
		struct emu_vcpu *ev = vm->vcpus[i] ? vm->vcpus[i]->accel : NULL;
		if (!ev || &ev->cpu == c)
			continue;
		__atomic_store_n(&ev->cpu.flush_request, 1, __ATOMIC_RELEASE);
		ev->cpu.irq_hint = 1;
	}
}

/* lapic_create's kick: an interrupt became pending for this vCPU. */
static void emu_lapic_kick(struct vcpu *vcpu)
{
	struct emu_vcpu *ev = vcpu->accel;

	pthread_mutex_lock(&ev->lock);
	ev->cpu.irq_hint = 1;
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

/* ---- accel_ops ---- */

static int emu_probe(char *why, size_t len)
{
	if (len)
		why[0] = '\0';
	return 1;
}

/*
 * A device wrote guest RAM (DMA): bump the generation of every page in the
 * range that holds decoded code, as a CPU write does (emu_code_written), so
 * no vCPU runs instructions decoded from the old bytes.
 */
static void emu_dma_written(void *opaque, uint64_t off, uint64_t len)
{
	struct emu_vm *ew = opaque;
	uint64_t npages = ew->ram_pages;

	if (!len)
		return;
	for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12 && p < npages; p++) {
		uint32_t *g = &ew->page_gen[p];
		uint32_t v = __atomic_load_n(g, __ATOMIC_RELAXED);

		while ((v & 1) && !__atomic_compare_exchange_n(g, &v, (v + 2) & ~1u, false,
							       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			;
	}
}

static int emu_vm_init(struct vm *vm)
{
	struct emu_vm *ew = calloc(1, sizeof(*ew));
	int err;

	if (!ew)
		return -ENOMEM;
	ew->page_gen = calloc(vm->mem.total / 4096 + 1, sizeof(uint32_t));
	if (!ew->page_gen) {
		err = -ENOMEM;
		goto err_free;
	}
	ew->ram_pages = vm->mem.total / 4096;
	err = pic_create(vm, &ew->pic);
	if (err)
		goto err_free;
	err = ioapic_create(vm, &ew->ioapic);
	if (err)
		goto err_pic;
	err = pit_create(vm, &ew->pit);
	if (err)
		goto err_ioapic;
	vm->accel_data = ew;
	vm->mem.write_hook = emu_dma_written;
	vm->mem.write_hook_opaque = ew;
	return 0;

err_ioapic:
	ioapic_destroy(ew->ioapic);
err_pic:
	pic_destroy(ew->pic);
err_free:
	free(ew->page_gen);
	free(ew);
	return err;
}

static void emu_vm_destroy(struct vm *vm)
{
	struct emu_vm *ew = vm->accel_data;

	if (!ew)
		return;
	vm->mem.write_hook = NULL;
	pit_destroy(ew->pit);
	ioapic_destroy(ew->ioapic);
	pic_destroy(ew->pic);
	free(ew->page_gen);
	free(ew);
	vm->accel_data = NULL;
}

static void cpu_hooks(struct emu_cpu *c)
{
	c->gpa_to_hva = hook_gpa_to_hva;
	c->mark_dirty = hook_mark_dirty;
	c->io_in = hook_io_in;
	c->io_out = hook_io_out;
	c->mmio_read = hook_mmio_read;
	c->mmio_write = hook_mmio_write;
	c->msr_read = hook_msr_read;
	c->msr_write = hook_msr_write;
	c->cpuid = hook_cpuid;
	c->tsc_read = hook_tsc;
	c->get_cr8 = hook_get_cr8;
	c->set_cr8 = hook_set_cr8;
	c->halt = hook_halt;
	c->poll = hook_poll;
	c->irq_pending = hook_irq_pending;
	c->irq_ack = hook_irq_ack;
	c->code_page_added = hook_code_page_added;
}

static int emu_vcpu_init(struct vcpu *vcpu)
{
	struct emu_vcpu *ev = aligned_alloc(64, ALIGN_UP(sizeof(*ev), 64));
	int err;

	if (!ev)
		return -ENOMEM;
	memset(ev, 0, sizeof(*ev));
	ev->vcpu = vcpu;
	pthread_mutex_init(&ev->lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ev->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	vcpu->accel = ev;
	cpu_hooks(&ev->cpu);
	emu_cpu_reset(&ev->cpu);
	ev->cpu.poll_countdown = 1024;
	if (getenv("VIREO_EMU_DEBUG")) {
		ev->cpu.debug = (unsigned)atoi(getenv("VIREO_EMU_DEBUG"));
		ev->cpu.trace_exc = hook_trace_exc;
	}
	err = lapic_create(vcpu, emu_lapic_kick, &ev->lapic);
	if (err) {
		pthread_cond_destroy(&ev->cond);
		pthread_mutex_destroy(&ev->lock);
		free(ev);
		vcpu->accel = NULL;
		return err;
	}
	ev->cpu.icache = calloc(1, sizeof(*ev->cpu.icache));
	if (ev->cpu.icache)
		ev->cpu.icache->arena = calloc(EMU_ARENA_INSNS, sizeof(struct emu_insn));
	if (!ev->cpu.icache || !ev->cpu.icache->arena) {
		free(ev->cpu.icache);
		lapic_destroy(ev->lapic);
		pthread_cond_destroy(&ev->cond);
		pthread_mutex_destroy(&ev->lock);
		free(ev);
		vcpu->accel = NULL;
		return -ENOMEM;
	}
	ev->cpu.icache->hash_mask = EMU_BLOCK_HASH - 1;
	ev->cpu.icache->jit_threshold = EMU_JIT_THRESHOLD;
	if (getenv("VIREO_EMU_JIT_THRESHOLD"))
		ev->cpu.icache->jit_threshold = (uint32_t)atoi(getenv("VIREO_EMU_JIT_THRESHOLD"));
	if (EMU_JIT_HOST && !(getenv("VIREO_EMU_JIT") && !strcmp(getenv("VIREO_EMU_JIT"), "0"))) {
		err = emu_jit_init(ev->cpu.icache);
		if (err)
			log_warnx("emu: vcpu%d: no block translator (%s): interpreting",
				  vcpu->id, strerror(-err));
	}
	ev->cpu.page_gen = ((struct emu_vm *)vcpu->vm->accel_data)->page_gen;
	ev->cpu.ram_base = vcpu->vm->mem.base;
	ev->cpu.ram_pages = vcpu->vm->mem.total / 4096;
	ev->cpu.lapic = ev->lapic;
	ev->cpu.apic_base = lapic_get_base(ev->lapic);
	ev->cpu.wait_sipi = vcpu->id != 0;
	if (getenv("VIREO_EMU_PROFILE")) {   /* last: nothing below can fail */
		char path[256];
		snprintf(path, sizeof(path), "%s.%d", getenv("VIREO_EMU_PROFILE"), vcpu->id);
		ev->prof = fopen(path, "w");
		if (!ev->prof)
			log_warn("emu: VIREO_EMU_PROFILE %s", path);
	}
	return 0;
}

static void emu_vcpu_destroy(struct vcpu *vcpu)
{
	struct emu_vcpu *ev = vcpu->accel;

	if (!ev)
		return;
	lapic_destroy(ev->lapic);
	emu_x87_destroy(&ev->cpu);
	emu_jit_destroy(ev->cpu.icache);
	if (ev->prof)
		fclose(ev->prof);
	free(ev->cpu.icache->arena);
	free(ev->cpu.icache);
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
	vcpu->accel = NULL;
}

/* INIT: back to the reset state, waiting for a SIPI (Intel SDM Vol. 3 §9.4). */
static void vcpu_do_init(struct emu_vcpu *ev)
{
	uint64_t base = ev->cpu.apic_base;

	emu_cpu_reset(&ev->cpu);
	ev->cpu.apic_base = base;
	ev->cpu.wait_sipi = true;
}

/* Wait-for-SIPI: returns 0 once started, or 1 if kicked first. */
static int vcpu_wait_sipi(struct emu_vcpu *ev)
{
	struct emu_cpu *c = &ev->cpu;
	uint8_t vec;

	for (;;) {
		int r = lapic_take_init_sipi(ev->lapic, &vec);
		if (r == 1) {
			emu_cpu_reset(c);
			c->apic_base = lapic_get_base(ev->lapic);
			c->seg[S_CS].selector = (uint16_t)(vec << 8);
			c->seg[S_CS].base = (uint64_t)vec << 12;
			c->rip = 0;
			c->wait_sipi = false;
			return 0;
		}
		pthread_mutex_lock(&ev->lock);
		if (c->exit_request) {
			pthread_mutex_unlock(&ev->lock);
			return 1;
		}
		if (!c->irq_hint)
			pthread_cond_wait(&ev->cond, &ev->lock);
		c->irq_hint = 0;
		pthread_mutex_unlock(&ev->lock);
	}
}

static int emu_vcpu_run(struct vcpu *vcpu)
{
	struct emu_vcpu *ev = vcpu->accel;
	struct emu_cpu *c = &ev->cpu;
	uint8_t vec;

	if (c->wait_sipi && vcpu_wait_sipi(ev)) {
		c->exit_request = 0;
		return VCPU_EXIT_KICK;
	}
	if (lapic_take_init_sipi(ev->lapic, &vec) == 2) {
		vcpu_do_init(ev);
		return VCPU_EXIT_KICK;
	}
	if (emu_cpu_run(c, 0, false, NULL)) {
		vm_request_stop(vcpu->vm, 1, "vcpu%d: triple fault (vector %d) at rip 0x%llx",
				vcpu->id, c->exc_vec, (unsigned long long)c->rip);
		return VCPU_EXIT_SHUTDOWN;
	}
	pthread_mutex_lock(&ev->lock);
	c->exit_request = 0;
	pthread_mutex_unlock(&ev->lock);
	return VCPU_EXIT_KICK;
}

static void emu_vcpu_kick(struct vcpu *vcpu)
{
	struct emu_vcpu *ev = vcpu->accel;

	pthread_mutex_lock(&ev->lock);
	ev->cpu.exit_request = 1;
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

/* ---- register access (only while not in vcpu_run) ---- */

static int emu_get_regs(struct vcpu *vcpu, struct x86_regs *r)
{
	struct emu_cpu *c = &((struct emu_vcpu *)vcpu->accel)->cpu;

	r->rax = c->gpr[R_AX]; r->rbx = c->gpr[R_BX]; r->rcx = c->gpr[R_CX];
	r->rdx = c->gpr[R_DX]; r->rsi = c->gpr[R_SI]; r->rdi = c->gpr[R_DI];
	r->rsp = c->gpr[R_SP]; r->rbp = c->gpr[R_BP];
	r->r8 = c->gpr[8]; r->r9 = c->gpr[9]; r->r10 = c->gpr[10]; r->r11 = c->gpr[11];
	r->r12 = c->gpr[12]; r->r13 = c->gpr[13]; r->r14 = c->gpr[14]; r->r15 = c->gpr[15];
	r->rip = c->rip;
	r->rflags = emu_flags_get(c);
	return 0;
}

static int emu_set_regs(struct vcpu *vcpu, const struct x86_regs *r)
{
	struct emu_cpu *c = &((struct emu_vcpu *)vcpu->accel)->cpu;

	c->gpr[R_AX] = r->rax; c->gpr[R_BX] = r->rbx; c->gpr[R_CX] = r->rcx;
	c->gpr[R_DX] = r->rdx; c->gpr[R_SI] = r->rsi; c->gpr[R_DI] = r->rdi;
	c->gpr[R_SP] = r->rsp; c->gpr[R_BP] = r->rbp;
	c->gpr[8] = r->r8; c->gpr[9] = r->r9; c->gpr[10] = r->r10; c->gpr[11] = r->r11;
	c->gpr[12] = r->r12; c->gpr[13] = r->r13; c->gpr[14] = r->r14; c->gpr[15] = r->r15;
	c->rip = r->rip;
	c->rflags = (r->rflags & 0x3f7fd7) | X86_RFLAGS_FIXED;
	c->cc_op = CC_EFLAGS;
	return 0;
}

static int emu_get_sregs(struct vcpu *vcpu, struct x86_sregs *s)
{
	struct emu_vcpu *ev = vcpu->accel;
	struct emu_cpu *c = &ev->cpu;

	s->es = c->seg[S_ES]; s->cs = c->seg[S_CS]; s->ss = c->seg[S_SS];
	s->ds = c->seg[S_DS]; s->fs = c->seg[S_FS]; s->gs = c->seg[S_GS];
	s->tr = c->tr; s->ldt = c->ldt;
	s->gdt = c->gdt; s->idt = c->idt;
	s->cr0 = c->cr0; s->cr2 = c->cr2; s->cr3 = c->cr3; s->cr4 = c->cr4;
	s->cr8 = lapic_get_cr8(ev->lapic);
	s->efer = c->efer;
	s->apic_base = lapic_get_base(ev->lapic);
	return 0;
}

static int emu_set_sregs(struct vcpu *vcpu, const struct x86_sregs *s)
{
	struct emu_vcpu *ev = vcpu->accel;
	struct emu_cpu *c = &ev->cpu;

	if (s->apic_base && lapic_set_base(ev->lapic, s->apic_base))
		return -EINVAL;
	c->seg[S_ES] = s->es; c->seg[S_CS] = s->cs; c->seg[S_SS] = s->ss;
	c->seg[S_DS] = s->ds; c->seg[S_FS] = s->fs; c->seg[S_GS] = s->gs;
	c->tr = s->tr; c->ldt = s->ldt;
	c->gdt = s->gdt; c->idt = s->idt;
	c->cr0 = s->cr0 | X86_CR0_ET; c->cr2 = s->cr2; c->cr3 = s->cr3; c->cr4 = s->cr4;
	c->efer = s->efer;
	lapic_set_cr8(ev->lapic, s->cr8);
	c->apic_base = lapic_get_base(ev->lapic);
	c->cpl = (c->cr0 & X86_CR0_PE) ? c->seg[S_SS].dpl : 0;
	c->wait_sipi = false;
	c->halted = false;
	emu_cpu_update_mode(c);
	emu_tlb_flush(c, false);
	return 0;
}

static int emu_get_fpu(struct vcpu *vcpu, struct x86_fpu *fpu)
{
	emu_fxsave(&((struct emu_vcpu *)vcpu->accel)->cpu, fpu->fxsave);
	return 0;
}

static int emu_set_fpu(struct vcpu *vcpu, const struct x86_fpu *fpu)
{
	return emu_fxrstor(&((struct emu_vcpu *)vcpu->accel)->cpu, fpu->fxsave) ? -EINVAL : 0;
}

static int emu_get_msrs(struct vcpu *vcpu, struct x86_msr *msrs, int n)
{
	struct emu_cpu *c = &((struct emu_vcpu *)vcpu->accel)->cpu;
	int i;

	for (i = 0; i < n; i++)
		if (emu_msr_read(c, msrs[i].index, &msrs[i].value))
			break;
	return i;
}

static int emu_set_msrs(struct vcpu *vcpu, const struct x86_msr *msrs, int n)
{
	struct emu_cpu *c = &((struct emu_vcpu *)vcpu->accel)->cpu;

	for (int i = 0; i < n; i++)
		if (emu_msr_write(c, msrs[i].index, msrs[i].value))
			return -EINVAL;
	return 0;
}

static int emu_get_lapic(struct vcpu *vcpu, struct x86_lapic_state *st)
{
	lapic_get_state(((struct emu_vcpu *)vcpu->accel)->lapic, st);
	return 0;
}

static int emu_set_lapic(struct vcpu *vcpu, const struct x86_lapic_state *st)
{
	return lapic_set_state(((struct emu_vcpu *)vcpu->accel)->lapic, st);
}

/* ISA IRQs go to the PIC and the IOAPIC; IRQ0 is IOAPIC pin 2 (MADT override). */
static int emu_irq_line(struct vm *vm, unsigned gsi, int level)
{
	struct emu_vm *ew = vm->accel_data;

	if (gsi >= IOAPIC_NUM_PINS)
		return -EINVAL;
	if (gsi < 16)
		pic_set_irq(ew->pic, gsi, level);
	ioapic_set_irq(ew->ioapic, gsi == 0 ? 2 : gsi, level);
	return 0;
}

static int emu_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	apic_bus_deliver_msi(vm, addr, data);
	return 0;
}

static int emu_get_dirty_log(struct vm *vm, int slot, unsigned long *bitmap)
{
	struct mem_region *r;
	size_t words;

	if (slot < 0 || slot >= vm->mem.nregions)
		return -EINVAL;
	r = &vm->mem.regions[slot];
	if (!r->dirty)
		return -ENOENT;
	words = (r->size / GUEST_PAGE_SIZE + 8 * sizeof(long) - 1) / (8 * sizeof(long));
	for (size_t i = 0; i < words; i++)
		bitmap[i] = __atomic_exchange_n(&r->dirty[i], 0, __ATOMIC_ACQ_REL);
	/* Writable TLB entries must be refilled so the next write marks again. */
	for (int i = 0; i < vm->nvcpus; i++) {
		struct emu_vcpu *ev = vm->vcpus[i]->accel;
		__atomic_store_n(&ev->cpu.flush_request, 1, __ATOMIC_RELEASE);
		ev->cpu.irq_hint = 1;
	}
	return 0;
}

const struct accel_ops accel_emu_ops = {
	.name = "emu",
	.probe = emu_probe,
	.vm_init = emu_vm_init,
	.vm_destroy = emu_vm_destroy,
	.vcpu_init = emu_vcpu_init,
	.vcpu_destroy = emu_vcpu_destroy,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.get_regs = emu_get_regs,
	.set_regs = emu_set_regs,
	.get_sregs = emu_get_sregs,
	.set_sregs = emu_set_sregs,
	.get_fpu = emu_get_fpu,
	.set_fpu = emu_set_fpu,
	.get_msrs = emu_get_msrs,
	.set_msrs = emu_set_msrs,
	.get_lapic = emu_get_lapic,
	.set_lapic = emu_set_lapic,
	.irq_line = emu_irq_line,
	.msi = emu_msi,
	.get_dirty_log = emu_get_dirty_log,
};
