// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the kvm backend and of backend selection.
 *
 * The pure parts (cpuinfo parsing, the CPUID merge, register conversions)
 * run everywhere.  The rest drives accel_kvm_ops on a real /dev/kvm with
 * a few guest instructions placed in RAM by hand (32-bit flat protected
 * mode, no paging), and is skipped, saying why, where /dev/kvm cannot run
 * VMs.  The test thread itself is the vCPU thread.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vireo/accel.h"
#include "vireo/vm.h"
#include "accel/accel_internal.h"
#include "accel/kvm/kvm.h"

#define CODE_GPA 0x1000ULL

/* ---- pure helpers ---- */

static void test_cpuinfo_parse(void **state)
{
	assert_int_equal(accel_cpuinfo_has_hw_virt(""), 0);
	assert_int_equal(accel_cpuinfo_has_hw_virt(
		"processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n"), 0);
	assert_int_equal(accel_cpuinfo_has_hw_virt(
		"processor\t: 0\nflags\t\t: fpu vmx sse\n"), 1);
	assert_int_equal(accel_cpuinfo_has_hw_virt("flags\t\t: fpu sse svm"), 1);
	/* Whole words only, and only on the flags line. */
	assert_int_equal(accel_cpuinfo_has_hw_virt("flags\t\t: vmxe svmx\n"), 0);
	assert_int_equal(accel_cpuinfo_has_hw_virt(
		"model name\t: vmx svm\nflags\t\t: fpu\n"), 0);
	assert_int_equal(accel_cpuinfo_has_hw_virt(
		"flags\t\t: fpu\n\nprocessor\t: 1\nflags\t\t: fpu svm\n"), 1);
}

static void test_cpuid_merge(void **state)
{
	struct kvm_cpuid_entry2 e = { .function = 1, .eax = 0x906ea, .ebx = 0x12345678,
				      .ecx = 0xfffa3203, .edx = 0x0f8bfbff };
	const uint32_t p1[4] = { 0x306a9, 0x03000800, (1u << 24) | (1u << 31) | 1u,
				 0x07000000 | (1u << 4) };

	kvm_cpuid_merge(&e, p1);
	assert_int_equal(e.eax, 0x306a9);               /* signature: the policy's */
	assert_int_equal(e.ebx, 0x03000800);            /* APIC ID: the policy's */
	assert_int_equal(e.ecx, 0xfffa3203 & p1[2]);    /* features: both */
	assert_int_equal(e.edx, 0x0f8bfbff & p1[3]);

	/* Address widths never exceed the host's. */
	struct kvm_cpuid_entry2 w = { .function = 0x80000008, .eax = 36 | (48 << 8) };
	const uint32_t p8[4] = { 39 | (57 << 8), 0, 0, 0 };
	kvm_cpuid_merge(&w, p8);
	assert_int_equal(w.eax, 36 | (48 << 8));

	/* Identification leaves: the policy's, whatever the host says. */
	struct kvm_cpuid_entry2 v = { .function = 0, .eax = 0x1f, .ebx = 1, .ecx = 2, .edx = 3 };
	const uint32_t p0[4] = { 0xb, 0x756e6547, 0x6c65746e, 0x49656e69 };
	kvm_cpuid_merge(&v, p0);
	assert_memory_equal(&v.eax, p0, sizeof(p0));
}

static void test_regs_round_trip(void **state)
{
	struct x86_regs r, back;
	struct kvm_regs k;
	struct x86_sregs s, sback;
	struct kvm_sregs ks;

	for (size_t i = 0; i < sizeof(r) / 8; i++)
		((uint64_t *)&r)[i] = 0x0101010101010101ULL * (i + 1);
	r.rflags = 0x246;
	kvm_regs_to_kvm(&k, &r);
	assert_int_equal(k.r15, r.r15);
	assert_int_equal(k.rip, r.rip);
	kvm_regs_from_kvm(&back, &k);
	assert_memory_equal(&back, &r, sizeof(r));

	memset(&s, 0, sizeof(s));
	s.cs = (struct x86_segment){ .base = 0x1000, .limit = 0xfffff, .selector = 0x10,
				     .type = 0xb, .present = 1, .dpl = 0, .db = 1, .s = 1,
				     .g = 1, .avl = 1 };
	s.tr = (struct x86_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s.ldt.unusable = 1;
	s.gdt = (struct x86_dtable){ 0x500, 31 };
	s.idt = (struct x86_dtable){ 0x600, 0xfff };
	s.cr0 = 0x80000011;
	s.cr2 = 0xdead000;
	s.cr3 = 0x9000;
	s.cr4 = 0x20;
	s.cr8 = 3;
	s.efer = 0x500;
	s.apic_base = 0xfee00900;
	memset(&ks, 0xaa, sizeof(ks));
	kvm_sregs_to_kvm(&ks, &s);
	assert_int_equal(ks.cs.selector, 0x10);
	assert_int_equal(ks.cs.padding, 0);
	assert_int_equal(ks.interrupt_bitmap[0], 0xaaaaaaaaaaaaaaaaULL); /* kept */
	kvm_sregs_from_kvm(&sback, &ks);
	assert_memory_equal(&sback, &s, sizeof(s));

	/* apic_base 0 means "keep KVM's". */
	s.apic_base = 0;
	ks.apic_base = 0xfee00d00;
	kvm_sregs_to_kvm(&ks, &s);
	assert_int_equal(ks.apic_base, 0xfee00d00);
}

/* ---- a VM on /dev/kvm ---- */

struct pio_log {
	uint8_t out[64];
	int nout;
	uint8_t in_value;
	int nin;
	bool stop_on_out;
	struct vm *vm;
};

static void pio_fn(struct vcpu *vcpu, uint64_t off, void *data, int len, bool is_write,
		   void *opaque)
{
	struct pio_log *l = opaque;

	if (!is_write) {
		memset(data, l->in_value, (size_t)len);
		l->nin++;
		return;
	}
	if (off == 0 && l->nout + len <= (int)sizeof(l->out)) {
		memcpy(l->out + l->nout, data, (size_t)len);
		l->nout += len;
	}
	if (off == 1 || l->stop_on_out)
		vm_request_stop(l->vm, 0, "test: done");
}

struct mmio_log {
	uint64_t last_off;
	uint32_t last_write;
	int nwrite, nread;
};

static void mmio_fn(struct vcpu *vcpu, uint64_t off, void *data, int len, bool is_write,
		    void *opaque)
{
	struct mmio_log *l = opaque;

	l->last_off = off;
	if (is_write) {
		l->last_write = 0;
		memcpy(&l->last_write, data, (size_t)MIN(len, 4));
		l->nwrite++;
	} else {
		uint32_t v = 0xc0ffee00u | (uint32_t)off;
		memcpy(data, &v, (size_t)MIN(len, 4));
		l->nread++;
	}
}

struct fixture {
	struct vm *vm;
	struct vcpu *vcpu;
	struct pio_log pio;
	struct mmio_log mmio;
};

#define TEST_PORT 0x80      /* +0: log the byte, +1: log and stop the VM */
#define TEST_MMIO 0xd0000000ULL

static int kvm_setup(void **state)
{
	struct vm_config cfg = { .mem_size = 4 * MiB, .ncpus = 1, .accel = ACCEL_KVM };
	struct fixture *f;
	char why[256];
	int r;

	r = accel_kvm_ops.probe(why, sizeof(why));
	if (r < 0) {
		print_message("kvm unusable here, skipping: %s\n", why);
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (!f || vm_create(&cfg, &accel_kvm_ops, &f->vm)) {
		free(f);
		return -1;
	}
	f->vcpu = f->vm->vcpus[0];
	f->pio.vm = f->vm;
	if (vm_map_pio(f->vm, TEST_PORT, 2, pio_fn, &f->pio, "test") ||
	    vm_map_mmio(f->vm, TEST_MMIO, 0x1000, mmio_fn, &f->mmio, "test"))
		return -1;
	*state = f;
	return 0;
}

static int kvm_teardown(void **state)
{
	struct fixture *f = *state;

	if (f) {
		vm_destroy(f->vm);
		free(f);
	}
	return 0;
}

#define NEED_KVM(f) do { if (!(f)) { skip(); } } while (0)

static struct x86_segment flat(uint16_t sel, uint8_t type)
{
	return (struct x86_segment){ .limit = 0xffffffff, .selector = sel, .type = type,
				     .present = 1, .db = 1, .s = 1, .g = 1 };
}

/* Place `code` at CODE_GPA and point the vCPU at it: 32-bit flat, no paging. */
static void load_code(struct fixture *f, const uint8_t *code, size_t len)
{
	struct x86_sregs s;
	struct x86_regs r = { .rip = CODE_GPA, .rflags = 0x2, .rsp = 0x8000 };

	assert_int_equal(guest_mem_write(&f->vm->mem, CODE_GPA, code, len), 0);
	assert_int_equal(accel_kvm_ops.get_sregs(f->vcpu, &s), 0);
	s.cs = flat(0x08, 0xb);
	s.ds = s.es = s.fs = s.gs = s.ss = flat(0x10, 0x3);
	s.cr0 |= X86_CR0_PE;
	assert_int_equal(accel_kvm_ops.set_sregs(f->vcpu, &s), 0);
	assert_int_equal(accel_kvm_ops.set_regs(f->vcpu, &r), 0);
}

static void test_kvm_pio(void **state)
{
	struct fixture *f = *state;
	/* in al, 0x80; out 0x80, al; mov al, 'k'; out 0x80, al; out 0x81, al; hlt */
	static const uint8_t code[] = { 0xe4, 0x80, 0xe6, 0x80, 0xb0, 'k', 0xe6, 0x80,
					0xe6, 0x81, 0xf4 };
	struct x86_regs r;

	NEED_KVM(f);
	f->pio.in_value = 0x5a;
	load_code(f, code, sizeof(code));
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	assert_int_equal(f->pio.nin, 1);
	assert_int_equal(f->pio.nout, 2);
	assert_int_equal(f->pio.out[0], 0x5a);
	assert_int_equal(f->pio.out[1], 'k');
	/* The stop's kick came after the OUT completed: RIP is past it. */
	assert_int_equal(accel_kvm_ops.get_regs(f->vcpu, &r), 0);
	assert_int_equal(r.rip, CODE_GPA + 10);
}

static void test_kvm_string_pio(void **state)
{
	struct fixture *f = *state;
	/* mov esi, 0x2000; mov ecx, 5; mov dx, 0x80; rep outsb; out 0x81, al */
	static const uint8_t code[] = { 0xbe, 0x00, 0x20, 0x00, 0x00, 0xb9, 0x05, 0, 0, 0,
					0x66, 0xba, 0x80, 0x00, 0xf3, 0x6e, 0xe6, 0x81, 0xf4 };

	NEED_KVM(f);
	assert_int_equal(guest_mem_write(&f->vm->mem, 0x2000, "vireo", 5), 0);
	load_code(f, code, sizeof(code));
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	assert_int_equal(f->pio.nout, 5);     /* port 0x81 stops, it does not log */
	assert_memory_equal(f->pio.out, "vireo", 5);
}

static void test_kvm_mmio(void **state)
{
	struct fixture *f = *state;
	/* mov dword [TEST_MMIO+0x10], 0x12345678; mov eax, [TEST_MMIO+0x24];
	 * out 0x80, al; out 0x81, al */
	static const uint8_t code[] = {
		0xc7, 0x05, 0x10, 0x00, 0x00, 0xd0, 0x78, 0x56, 0x34, 0x12,
		0xa1, 0x24, 0x00, 0x00, 0xd0,
		0xe6, 0x80, 0xe6, 0x81, 0xf4 };
	struct x86_regs r;

	NEED_KVM(f);
	load_code(f, code, sizeof(code));
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	assert_int_equal(f->mmio.nwrite, 1);
	assert_int_equal(f->mmio.last_write, 0x12345678);
	assert_int_equal(f->mmio.nread, 1);
	assert_int_equal(f->mmio.last_off, 0x24);
	assert_int_equal(accel_kvm_ops.get_regs(f->vcpu, &r), 0);
	assert_int_equal((uint32_t)r.rax, 0xc0ffee24);
}

static void test_kvm_sticky_kick(void **state)
{
	struct fixture *f = *state;
	/* out 0x80, al; out 0x81, al; hlt */
	static const uint8_t code[] = { 0xe6, 0x80, 0xe6, 0x81, 0xf4 };
	struct x86_regs r;

	NEED_KVM(f);
	load_code(f, code, sizeof(code));
	/* A kick before vcpu_run makes it return at once, the guest untouched. */
	accel_kvm_ops.vcpu_kick(f->vcpu);
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	assert_int_equal(f->pio.nout, 0);
	assert_int_equal(accel_kvm_ops.get_regs(f->vcpu, &r), 0);
	assert_int_equal(r.rip, CODE_GPA);
	/* The kick is consumed: the next run executes. */
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	assert_int_equal(f->pio.nout, 1);
}

struct kicker {
	struct vcpu *vcpu;
	int delay_ms;
};

static void *kick_later(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = { 0, k->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	accel_kvm_ops.vcpu_kick(k->vcpu);
	return NULL;
}

/* A vCPU spinning with interrupts off, or halted, returns promptly on a kick. */
static void kick_while(struct fixture *f, const uint8_t *code, size_t len)
{
	struct kicker k = { f->vcpu, 100 };
	pthread_t t;
	uint64_t t0;

	load_code(f, code, len);
	/* First run records this thread as the vCPU thread. */
	accel_kvm_ops.vcpu_kick(f->vcpu);
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	assert_int_equal(pthread_create(&t, NULL, kick_later, &k), 0);
	t0 = now_ns();
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	pthread_join(t, NULL);
	assert_true(now_ns() - t0 >= 90 * 1000000ULL);
	assert_true(now_ns() - t0 < 5000 * 1000000ULL);
}

static void test_kvm_kick_spinning(void **state)
{
	static const uint8_t code[] = { 0xfa, 0xeb, 0xfe };   /* cli; jmp $ */

	NEED_KVM(*state);
	kick_while(*state, code, sizeof(code));
}

static void test_kvm_kick_halted(void **state)
{
	static const uint8_t code[] = { 0xfa, 0xf4, 0xeb, 0xfd };   /* cli; hlt; jmp */

	NEED_KVM(*state);
	kick_while(*state, code, sizeof(code));
}

static void test_kvm_triple_fault(void **state)
{
	struct fixture *f = *state;
	static const uint8_t code[] = { 0x0f, 0x0b };   /* ud2 with no IDT */
	struct x86_sregs s;

	NEED_KVM(f);
	load_code(f, code, sizeof(code));
	assert_int_equal(accel_kvm_ops.get_sregs(f->vcpu, &s), 0);
	s.idt.limit = 0;
	assert_int_equal(accel_kvm_ops.set_sregs(f->vcpu, &s), 0);
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_SHUTDOWN);
}

static void test_kvm_dirty_log(void **state)
{
	struct fixture *f = *state;
	/* mov byte [0x5000], 1; mov byte [0x7123], 2; out 0x81, al */
	static const uint8_t code[] = { 0xc6, 0x05, 0x00, 0x50, 0x00, 0x00, 0x01,
					0xc6, 0x05, 0x23, 0x71, 0x00, 0x00, 0x02,
					0xe6, 0x81, 0xf4 };
	unsigned long bm[4 * MiB / GUEST_PAGE_SIZE / (8 * sizeof(long))];

	NEED_KVM(f);
	load_code(f, code, sizeof(code));
	/* The first call starts logging and reports every page. */
	assert_int_equal(accel_kvm_ops.get_dirty_log(f->vm, 0, bm), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bm); i++)
		assert_int_equal(bm[i], ~0UL);
	assert_int_equal(accel_kvm_ops.get_dirty_log(f->vm, 0, bm), 0);
	assert_int_equal(bm[0], 0);
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	/* A device writing guest RAM marks it itself. */
	guest_mem_mark_dirty(&f->vm->mem, 0x3a0000, 8);
	assert_int_equal(accel_kvm_ops.get_dirty_log(f->vm, 0, bm), 0);
	assert_int_equal(bm[0], (1UL << 5) | (1UL << 7));
	assert_int_equal(bm[0x3a0 / 64], 1UL << (0x3a0 % 64));
	assert_int_equal(accel_kvm_ops.get_dirty_log(f->vm, 0, bm), 0);
	assert_int_equal(bm[0], 0);
	assert_int_equal(accel_kvm_ops.get_dirty_log(f->vm, 7, bm), -EINVAL);
}

static void test_kvm_fpu_round_trip(void **state)
{
	struct fixture *f = *state;
	struct x86_fpu fpu, back;

	NEED_KVM(f);
	assert_int_equal(accel_kvm_ops.get_fpu(f->vcpu, &fpu), 0);
	/* FCW 0x27f, MXCSR 0x1f80 | FZ, XMM0 (offset 160) = a pattern. */
	fpu.fxsave[0] = 0x7f;
	fpu.fxsave[1] = 0x02;
	uint32_t mxcsr = 0x9f80;
	memcpy(fpu.fxsave + 24, &mxcsr, 4);
	for (int i = 0; i < 16; i++)
		fpu.fxsave[160 + i] = (uint8_t)(0xa0 + i);
	assert_int_equal(accel_kvm_ops.set_fpu(f->vcpu, &fpu), 0);
	assert_int_equal(accel_kvm_ops.get_fpu(f->vcpu, &back), 0);
	assert_memory_equal(back.fxsave, fpu.fxsave, 2);
	assert_memory_equal(back.fxsave + 24, &mxcsr, 4);
	assert_memory_equal(back.fxsave + 160, fpu.fxsave + 160, 16);
}

static void test_kvm_msrs(void **state)
{
	struct fixture *f = *state;
	struct x86_msr set[] = {
		{ MSR_IA32_SYSENTER_CS, 0x10 },
		{ MSR_IA32_SYSENTER_ESP, 0xffff880000001000ULL },
		{ MSR_KERNEL_GS_BASE, 0xffff888012345000ULL },
	};
	struct x86_msr get[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { 0xdeadbeef, 0 },
	};
	struct x86_msr bad[] = { { MSR_IA32_SYSENTER_CS, 0x10 }, { 0xdeadbeef, 1 } };

	NEED_KVM(f);
	assert_int_equal(accel_kvm_ops.set_msrs(f->vcpu, set, 3), 0);
	/* Reads stop at the first MSR KVM does not know. */
	assert_int_equal(accel_kvm_ops.get_msrs(f->vcpu, get, 4), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(get[i].value, set[i].value);
	assert_int_equal(accel_kvm_ops.set_msrs(f->vcpu, bad, 2), -EINVAL);
}

static void test_kvm_lapic(void **state)
{
	struct fixture *f = *state;
	struct x86_lapic_state apic, back;
	uint32_t id, tpr = 0x30;

	NEED_KVM(f);
	assert_int_equal(accel_kvm_ops.get_lapic(f->vcpu, &apic), 0);
	memcpy(&id, apic.regs + 0x20, 4);
	assert_int_equal(id >> 24, 0);                 /* vCPU 0's APIC ID */
	memcpy(apic.regs + 0x80, &tpr, 4);             /* TPR */
	assert_int_equal(accel_kvm_ops.set_lapic(f->vcpu, &apic), 0);
	assert_int_equal(accel_kvm_ops.get_lapic(f->vcpu, &back), 0);
	assert_memory_equal(back.regs + 0x80, &tpr, 4);
}

static void test_kvm_irq_and_msi(void **state)
{
	struct fixture *f = *state;

	NEED_KVM(f);
	assert_int_equal(accel_kvm_ops.irq_line(f->vm, 4, 1), 0);
	assert_int_equal(accel_kvm_ops.irq_line(f->vm, 4, 0), 0);
	assert_int_equal(accel_kvm_ops.irq_line(f->vm, 23, 1), 0);
	assert_int_equal(accel_kvm_ops.irq_line(f->vm, 23, 0), 0);
	assert_int_equal(accel_kvm_ops.msi(f->vm, 0xfee00000, 0x41), 0);
}

/*
 * Interrupts into a guest: a GDT and an IDT (32-bit interrupt gates, Intel
 * SDM Vol. 3 §6.11) whose vectors 0x40 and 0x41 log their number on the
 * test port and stop the VM.  The main code masks the 8259s (ISA GSIs reach
 * them too, and their reset vector base is 0), software-enables the local
 * APIC, points one IOAPIC pin at vector 0x41 (82093AA §3.2.4), halts with
 * interrupts on; another thread injects after 100 ms.
 */
#define IRQ_GDT_GPA 0x2000ULL
#define IRQ_IDT_GPA 0x3000ULL

static void load_irq_guest(struct fixture *f, unsigned pin)
{
	uint8_t code[] = {
		0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1,                         /* mask both 8259s */
		0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, /* LAPIC SVR = 0x1ff */
		0xc7, 0x05, 0x00, 0x00, 0xc0, 0xfe, 0x10, 0x00, 0x00, 0x00, /* IOREGSEL = pin's low */
		0xc7, 0x05, 0x10, 0x00, 0xc0, 0xfe, 0x41, 0x00, 0x00, 0x00, /* IOWIN = vector 0x41 */
		0xfb, 0xf4, 0xeb, 0xfd,                                     /* sti; hlt; jmp */
	};
	static const uint8_t handler[2][7] = {
		{ 0xb0, 0x40, 0xe6, 0x80, 0xe6, 0x81, 0xf4 },   /* al = 0x40; log; stop */
		{ 0xb0, 0x41, 0xe6, 0x80, 0xe6, 0x81, 0xf4 },
	};
	const uint64_t gdt[3] = { 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL };
	uint64_t idt[0x42] = { 0 };
	struct x86_sregs s;

	code[22] = (uint8_t)(0x10 + 2 * pin);

	for (int v = 0; v < 2; v++) {
		uint32_t h = (uint32_t)(CODE_GPA + 0x100 * (v + 1));

		assert_int_equal(guest_mem_write(&f->vm->mem, h, handler[v], 7), 0);
		idt[0x40 + v] = (h & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) |
				((uint64_t)(h >> 16) << 48);
	}
	assert_int_equal(guest_mem_write(&f->vm->mem, IRQ_GDT_GPA, gdt, sizeof(gdt)), 0);
	assert_int_equal(guest_mem_write(&f->vm->mem, IRQ_IDT_GPA, idt, sizeof(idt)), 0);
	load_code(f, code, sizeof(code));
	assert_int_equal(accel_kvm_ops.get_sregs(f->vcpu, &s), 0);
	s.gdt = (struct x86_dtable){ IRQ_GDT_GPA, sizeof(gdt) - 1 };
	s.idt = (struct x86_dtable){ IRQ_IDT_GPA, sizeof(idt) - 1 };
	assert_int_equal(accel_kvm_ops.set_sregs(f->vcpu, &s), 0);
}

struct injector {
	struct vm *vm;
	struct pio_log *pio;
	bool msi;
	unsigned gsi;
};

static void *inject_later(void *arg)
{
	struct injector *in = arg;
	struct timespec ts = { 0, 100 * 1000000L };

	nanosleep(&ts, NULL);
	if (in->msi) {
		/* Fixed delivery to APIC ID 0, vector 0x40 (SDM Vol. 3 §11.11). */
		(void)accel_kvm_ops.msi(in->vm, 0xfee00000, 0x40);
	} else {
		(void)accel_kvm_ops.irq_line(in->vm, in->gsi, 1);
		(void)accel_kvm_ops.irq_line(in->vm, in->gsi, 0);
	}
	/* Watchdog: an interrupt that never arrives fails the test, not hangs it. */
	for (int i = 0; i < 300 && !__atomic_load_n(&in->pio->nout, __ATOMIC_ACQUIRE); i++) {
		ts.tv_nsec = 10 * 1000000L;
		nanosleep(&ts, NULL);
	}
	vm_request_stop(in->vm, 1, "test: watchdog");
	return NULL;
}

static void inject_and_run(struct fixture *f, bool msi, unsigned gsi, unsigned pin,
			   uint8_t want)
{
	struct injector in = { f->vm, &f->pio, msi, gsi };
	pthread_t t;

	load_irq_guest(f, pin);
	assert_int_equal(pthread_create(&t, NULL, inject_later, &in), 0);
	assert_int_equal(accel_kvm_ops.vcpu_run(f->vcpu), VCPU_EXIT_KICK);
	pthread_join(t, NULL);
	assert_int_equal(f->pio.nout, 1);
	assert_int_equal(f->pio.out[0], want);
}

static void test_kvm_msi_delivery(void **state)
{
	NEED_KVM(*state);
	inject_and_run(*state, true, 0, 5, 0x40);
}

static void test_kvm_ioapic_delivery(void **state)
{
	NEED_KVM(*state);
	inject_and_run(*state, false, 5, 5, 0x41);
}

/* GSI 0 (the PIT's ISA IRQ0) reaches IOAPIC pin 2, as the MADT's override says. */
static void test_kvm_ioapic_gsi0_is_pin2(void **state)
{
	NEED_KVM(*state);
	inject_and_run(*state, false, 0, 2, 0x41);
}

static void test_kvm_select(void **state)
{
	const struct accel_ops *ops = NULL;
	char why[256];
	int r = accel_kvm_ops.probe(why, sizeof(why));

	if (r < 0) {
		assert_int_equal(accel_select(ACCEL_KVM, &ops, why, sizeof(why)), r);
		return;
	}
	assert_int_equal(accel_select(ACCEL_KVM, &ops, why, sizeof(why)), 0);
	assert_ptr_equal(ops, &accel_kvm_ops);
	/* Without VT-x/AMD-V the answer is a warning, never silence. */
	assert_int_equal(why[0] != '\0', !accel_host_has_hw_virt());
	r = accel_select(ACCEL_AUTO, &ops, why, sizeof(why));
	if (!accel_host_has_hw_virt())
		assert_true(r < 0 || ops != &accel_kvm_ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpuinfo_parse),
		cmocka_unit_test(test_cpuid_merge),
		cmocka_unit_test(test_regs_round_trip),
		cmocka_unit_test(test_kvm_select),
		cmocka_unit_test_setup_teardown(test_kvm_pio, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_string_pio, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_mmio, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_sticky_kick, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_kick_spinning, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_kick_halted, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_triple_fault, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_dirty_log, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_fpu_round_trip, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_msrs, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_lapic, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_irq_and_msi, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_msi_delivery, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_ioapic_delivery, kvm_setup, kvm_teardown),
		cmocka_unit_test_setup_teardown(test_kvm_ioapic_gsi0_is_pin2, kvm_setup, kvm_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
