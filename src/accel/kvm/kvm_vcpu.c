// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kvm backend, vCPU side: creation, the KVM_RUN loop and its exits,
 * kicks, and register access.  "KVM API n.m" cites sections of
 * Documentation/virt/kvm/api.rst.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vireo/bus.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "accel/kvm/kvm.h"
#include "accel/kvm/kvm_vcpu.h"

/* kvm_vcpu_exit() result: go back into KVM_RUN. */
#define KVM_VCPU_CONTINUE (-1000)

static void kvm_kick_handler(int sig)
{
	(void)sig;   /* Its only job is to make KVM_RUN return -EINTR. */
}

int kvm_vcpu_signal_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kvm_kick_handler;
	sigemptyset(&sa.sa_mask);
	/*
	 * SA_RESTART spares the other blocking calls a vCPU thread makes (a
	 * device writing to the console, say) from spurious EINTRs; KVM_RUN
	 * itself is never restarted: it returns -EINTR with KVM_EXIT_INTR
	 * (KVM API 5, KVM_EXIT_INTR).
	 */
	sa.sa_flags = SA_RESTART;
	if (sigaction(KVM_KICK_SIGNAL, &sa, NULL) < 0) {
		log_warn("kvm: sigaction");
		return -errno;
	}
	return 0;
}

static int vcpu_ioctl(struct kvm_vcpu_state *vs, unsigned long req, void *arg,
		      const char *what)
{
	if (ioctl(vs->fd, req, arg) < 0) {
		int err = errno;

		log_errno(err, "kvm: %s", what);
		return -err;
	}
	return 0;
}

/*
 * Application processors start in wait-for-SIPI (KVM API 4.38
 * KVM_SET_MP_STATE); the BSP (vCPU 0, KVM's default BSP) is runnable.
 */
static int kvm_vcpu_set_mp_state(struct vcpu *vcpu, struct kvm_vcpu_state *vs)
{
	struct kvm_mp_state mp = {
		.mp_state = vcpu->id == 0 ? KVM_MP_STATE_RUNNABLE
					  : KVM_MP_STATE_UNINITIALIZED,
	};

	return vcpu_ioctl(vs, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
}

int kvm_vcpu_init(struct vcpu *vcpu)
{
	struct kvm_vm_state *ks = kvm_vm_of(vcpu->vm);
	struct kvm_vcpu_state *vs = calloc(1, sizeof(*vs));
	int err;

	if (!vs)
		return -ENOMEM;
	/* KVM API 4.7 KVM_CREATE_VCPU: the id is also the APIC ID. */
	vs->fd = ioctl(ks->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->id);
	if (vs->fd < 0) {
		err = -errno;
		log_warn("kvm: KVM_CREATE_VCPU %d", vcpu->id);
		goto err_free;
	}
	vs->run_size = ks->run_size;
	vs->run = mmap(NULL, vs->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vs->fd, 0);
	if (vs->run == MAP_FAILED) {
		err = -errno;
		log_warn("kvm: mmap of vcpu%d's kvm_run", vcpu->id);
		goto err_close;
	}
	vcpu->accel = vs;
	err = kvm_cpuid_set(vcpu, false);
	if (!err)
		err = kvm_vcpu_set_mp_state(vcpu, vs);
	if (err)
		goto err_unmap;
	return 0;

err_unmap:
	vcpu->accel = NULL;
	munmap(vs->run, vs->run_size);
err_close:
	close(vs->fd);
err_free:
	free(vs);
	return err;
}

void kvm_vcpu_destroy(struct vcpu *vcpu)
{
	struct kvm_vcpu_state *vs = kvm_vcpu_of(vcpu);

	if (!vs)
		return;
	munmap(vs->run, vs->run_size);
	close(vs->fd);
	free(vs);
	vcpu->accel = NULL;
}

/*
 * Runs once on the vCPU's thread: remember it for kicks, let the kick
 * signal through (the core may block signals in its threads), and set the
 * final CPUID now that every vCPU of the VM exists (the topology leaves
 * count them).
 */
static int kvm_vcpu_first_run(struct vcpu *vcpu, struct kvm_vcpu_state *vs)
{
	sigset_t set;
	int err;

	err = kvm_cpuid_set(vcpu, true);
	if (err)
		return err;
	sigemptyset(&set);
	sigaddset(&set, KVM_KICK_SIGNAL);
	err = -pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (err)
		return err;
	vs->thread = pthread_self();
	__atomic_store_n(&vs->thread_known, 1, __ATOMIC_RELEASE);
	vs->signal_ready = true;
	return 0;
}

/* KVM API 5 "kvm_run", KVM_EXIT_IO: `count` accesses of `size` bytes. */
static void kvm_vcpu_exit_io(struct vcpu *vcpu, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!is_write)
			memset(data, 0xff, run->io.size);
		bus_dispatch(&vcpu->vm->pio, vcpu, run->io.port, data,
			     run->io.size, is_write);
	}
}

/* KVM_EXIT_MMIO: one access of up to 8 bytes outside every memory slot. */
static void kvm_vcpu_exit_mmio(struct vcpu *vcpu, struct kvm_run *run)
{
	int len = (int)MIN(run->mmio.len, (uint32_t)sizeof(run->mmio.data));

	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, (size_t)len);
	bus_dispatch(&vcpu->vm->mmio, vcpu, run->mmio.phys_addr, run->mmio.data,
		     len, run->mmio.is_write);
}

static void kvm_vcpu_log_rip(struct vcpu *vcpu)
{
	struct kvm_regs regs;
	struct kvm_vcpu_state *vs = kvm_vcpu_of(vcpu);

	if (ioctl(vs->fd, KVM_GET_REGS, &regs) == 0)
		log_warnx("kvm: vcpu%d: rip %#llx rsp %#llx rflags %#llx", vcpu->id,
			  (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
			  (unsigned long long)regs.rflags);
}

/*
 * KVM_EXIT_INTERNAL_ERROR: KVM could not go on, typically an instruction
 * its emulator does not know (suberror 1, with the instruction bytes in
 * data[] when KVM provides them).  The VM cannot continue.
 */
static int kvm_vcpu_exit_internal(struct vcpu *vcpu, struct kvm_run *run)
{
	char words[256] = "";
	size_t off = 0;
	uint32_t n = MIN(run->internal.ndata, (uint32_t)ARRAY_SIZE(run->internal.data));

	for (uint32_t i = 0; i < n && off < sizeof(words); i++)
		off += (size_t)snprintf(words + off, sizeof(words) - off, " %#llx",
					(unsigned long long)run->internal.data[i]);
	log_warnx("kvm: vcpu%d: KVM internal error, suberror %u%s%s", vcpu->id,
		  run->internal.suberror,
		  run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
		  " (instruction emulation failed)" : "", words);
	kvm_vcpu_log_rip(vcpu);
	return -EIO;
}

/* KVM_EXIT_FAIL_ENTRY: the hardware refused the guest state. */
static int kvm_vcpu_exit_fail_entry(struct vcpu *vcpu, struct kvm_run *run)
{
	log_warnx("kvm: vcpu%d: VM entry failed, hardware reason %#llx on host cpu %u",
		  vcpu->id,
		  (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
		  run->fail_entry.cpu);
	kvm_vcpu_log_rip(vcpu);
	return -EIO;
}

/* KVM_EXIT_SYSTEM_EVENT: the in-kernel devices saw a reset or power-off. */
static int kvm_vcpu_exit_system_event(struct vcpu *vcpu, struct kvm_run *run)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_RESET:
		return VCPU_EXIT_RESET;
	case KVM_SYSTEM_EVENT_SHUTDOWN:
	case KVM_SYSTEM_EVENT_CRASH:
		return VCPU_EXIT_SHUTDOWN;
	default:
		log_warnx("kvm: vcpu%d: unexpected system event %u", vcpu->id,
			  run->system_event.type);
		return -EIO;
	}
}

/* One exit: KVM_VCPU_CONTINUE to re-enter, else vcpu_run's result. */
static int kvm_vcpu_exit(struct vcpu *vcpu, struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		kvm_vcpu_exit_io(vcpu, run);
		return KVM_VCPU_CONTINUE;
	case KVM_EXIT_MMIO:
		kvm_vcpu_exit_mmio(vcpu, run);
		return KVM_VCPU_CONTINUE;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel irqchip; let the core look around. */
		return VCPU_EXIT_KICK;
	case KVM_EXIT_INTR:
		return VCPU_EXIT_KICK;
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault (KVM API 5, KVM_EXIT_SHUTDOWN). */
		return VCPU_EXIT_SHUTDOWN;
	case KVM_EXIT_SYSTEM_EVENT:
		return kvm_vcpu_exit_system_event(vcpu, run);
	case KVM_EXIT_INTERNAL_ERROR:
		return kvm_vcpu_exit_internal(vcpu, run);
	case KVM_EXIT_FAIL_ENTRY:
		return kvm_vcpu_exit_fail_entry(vcpu, run);
	case KVM_EXIT_UNKNOWN:
		log_warnx("kvm: vcpu%d: unknown exit, hardware reason %#llx", vcpu->id,
			  (unsigned long long)run->hw.hardware_exit_reason);
		return -EIO;
	default:
		log_warnx("kvm: vcpu%d: unexpected exit reason %u", vcpu->id,
			  run->exit_reason);
		kvm_vcpu_log_rip(vcpu);
		return -EIO;
	}
}

/*
 * Kicks: kvm_vcpu_kick() sets kvm_run->immediate_exit, so a KVM_RUN that has
 * not started yet returns -EINTR at once, and signals the thread, so one
 * already inside (including one halted in the kernel) returns -EINTR too
 * (KVM API 5, "immediate_exit").  KVM completes a pending PIO/MMIO read
 * before honouring immediate_exit, so the state seen after a kick is
 * consistent (the same section).
 */
int kvm_vcpu_run(struct vcpu *vcpu)
{
	struct kvm_vcpu_state *vs = kvm_vcpu_of(vcpu);
	int r;

	if (!vs->signal_ready) {
		r = kvm_vcpu_first_run(vcpu, vs);
		if (r)
			return r;
	}
	for (;;) {
		if (ioctl(vs->fd, KVM_RUN, 0) < 0) {
			r = errno;
			if (r == EINTR || r == EAGAIN) {
				__atomic_store_n(&vs->run->immediate_exit, 0, __ATOMIC_RELEASE);
				return VCPU_EXIT_KICK;
			}
			log_errno(r, "kvm: vcpu%d: KVM_RUN", vcpu->id);
			return -r;
		}
		r = kvm_vcpu_exit(vcpu, vs->run);
		if (r != KVM_VCPU_CONTINUE)
			return r;
	}
}

void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu_state *vs = kvm_vcpu_of(vcpu);

	if (!vs)
		return;
	__atomic_store_n(&vs->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vs->thread_known, __ATOMIC_ACQUIRE))
		pthread_kill(vs->thread, KVM_KICK_SIGNAL);
}

/* ---- register access (KVM API 4.11-4.14, 4.18/4.19, 4.42/4.43, 4.57/4.58) ---- */

int kvm_vcpu_get_regs(struct vcpu *vcpu, struct x86_regs *regs)
{
	struct kvm_regs k;
	int err = vcpu_ioctl(kvm_vcpu_of(vcpu), KVM_GET_REGS, &k, "KVM_GET_REGS");

	if (!err)
		kvm_regs_from_kvm(regs, &k);
	return err;
}

int kvm_vcpu_set_regs(struct vcpu *vcpu, const struct x86_regs *regs)
{
	struct kvm_regs k;

	kvm_regs_to_kvm(&k, regs);
	return vcpu_ioctl(kvm_vcpu_of(vcpu), KVM_SET_REGS, &k, "KVM_SET_REGS");
}

int kvm_vcpu_get_sregs(struct vcpu *vcpu, struct x86_sregs *sregs)
{
	struct kvm_sregs k;
	int err = vcpu_ioctl(kvm_vcpu_of(vcpu), KVM_GET_SREGS, &k, "KVM_GET_SREGS");

	if (!err)
		kvm_sregs_from_kvm(sregs, &k);
	return err;
}

int kvm_vcpu_set_sregs(struct vcpu *vcpu, const struct x86_sregs *sregs)
{
	struct kvm_vcpu_state *vs = kvm_vcpu_of(vcpu);
	struct kvm_sregs k;
	int err;

	/* Start from KVM's copy: it keeps the pending-interrupt bitmap. */
	err = vcpu_ioctl(vs, KVM_GET_SREGS, &k, "KVM_GET_SREGS");
	if (err)
		return err;
	kvm_sregs_to_kvm(&k, sregs);
	return vcpu_ioctl(vs, KVM_SET_SREGS, &k, "KVM_SET_SREGS");
}

/*
 * FPU/SSE state through XSAVE (KVM API 4.42 KVM_GET_XSAVE, KVM_GET_XSAVE2
 * when the area is larger than 4 KiB): its first 512 bytes are exactly the
 * FXSAVE image (Intel SDM Vol. 1 §13.4.1).
 */
static int kvm_vcpu_xsave_get(struct vcpu *vcpu, void **out)
{
	struct kvm_vm_state *ks = kvm_vm_of(vcpu->vm);
	unsigned long req = ks->xsave_size > sizeof(struct kvm_xsave) ?
			    KVM_GET_XSAVE2 : KVM_GET_XSAVE;
	void *x = aligned_alloc(64, ALIGN_UP(ks->xsave_size, 64));
	int err;

	if (!x)
		return -ENOMEM;
	memset(x, 0, ks->xsave_size);
	err = vcpu_ioctl(kvm_vcpu_of(vcpu), req, x, "KVM_GET_XSAVE");
	if (err) {
		free(x);
		return err;
	}
	*out = x;
	return 0;
}

int kvm_vcpu_get_fpu(struct vcpu *vcpu, struct x86_fpu *fpu)
{
	void *x;
	int err = kvm_vcpu_xsave_get(vcpu, &x);

	if (err)
		return err;
	memcpy(fpu->fxsave, x, sizeof(fpu->fxsave));
	free(x);
	return 0;
}

/* XSAVE header (offset 512): XSTATE_BV bit 0 x87, bit 1 SSE. */
#define XSAVE_HDR_OFFSET 512
#define XSTATE_FP_SSE    0x3ULL

int kvm_vcpu_set_fpu(struct vcpu *vcpu, const struct x86_fpu *fpu)
{
	uint64_t bv;
	void *x;
	int err = kvm_vcpu_xsave_get(vcpu, &x);

	if (err)
		return err;
	memcpy(x, fpu->fxsave, sizeof(fpu->fxsave));
	/* Mark x87 and SSE as present so XRSTOR loads them, not their init state. */
	memcpy(&bv, (uint8_t *)x + XSAVE_HDR_OFFSET, sizeof(bv));
	bv |= XSTATE_FP_SSE;
	memcpy((uint8_t *)x + XSAVE_HDR_OFFSET, &bv, sizeof(bv));
	err = vcpu_ioctl(kvm_vcpu_of(vcpu), KVM_SET_XSAVE, x, "KVM_SET_XSAVE");
	free(x);
	return err;
}

static struct kvm_msrs *msrs_alloc(int n)
{
	return calloc(1, sizeof(struct kvm_msrs) + (size_t)n * sizeof(struct kvm_msr_entry));
}

/* KVM API 4.18 KVM_GET_MSRS: returns how many MSRs, from the first, were read. */
int kvm_vcpu_get_msrs(struct vcpu *vcpu, struct x86_msr *msrs, int n)
{
	struct kvm_msrs *k;
	int got;

	if (n < 0)
		return -EINVAL;
	k = msrs_alloc(n);
	if (!k)
		return -ENOMEM;
	k->nmsrs = (uint32_t)n;
	for (int i = 0; i < n; i++)
		k->entries[i].index = msrs[i].index;
	got = ioctl(kvm_vcpu_of(vcpu)->fd, KVM_GET_MSRS, k);
	if (got < 0) {
		got = -errno;
		log_errno(-got, "kvm: KVM_GET_MSRS");
	}
	for (int i = 0; i < got; i++)
		msrs[i].value = k->entries[i].data;
	free(k);
	return got;
}

/* KVM API 4.19 KVM_SET_MSRS: all or -EINVAL naming the first refused MSR. */
int kvm_vcpu_set_msrs(struct vcpu *vcpu, const struct x86_msr *msrs, int n)
{
	struct kvm_msrs *k;
	int set;

	if (n < 0)
		return -EINVAL;
	k = msrs_alloc(n);
	if (!k)
		return -ENOMEM;
	k->nmsrs = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		k->entries[i].index = msrs[i].index;
		k->entries[i].data = msrs[i].value;
	}
	set = ioctl(kvm_vcpu_of(vcpu)->fd, KVM_SET_MSRS, k);
	free(k);
	if (set < 0) {
		log_warn("kvm: KVM_SET_MSRS");
		return -errno;
	}
	if (set < n) {
		log_warnx("kvm: vcpu%d: KVM refused MSR %#x", vcpu->id, msrs[set].index);
		return -EINVAL;
	}
	return 0;
}

/* KVM API 4.57 KVM_GET_LAPIC: the xAPIC register page, 1 KiB of it. */
int kvm_vcpu_get_lapic(struct vcpu *vcpu, struct x86_lapic_state *lapic)
{
	struct kvm_lapic_state k;
	int err = vcpu_ioctl(kvm_vcpu_of(vcpu), KVM_GET_LAPIC, &k, "KVM_GET_LAPIC");

	if (!err)
		memcpy(lapic->regs, k.regs, sizeof(lapic->regs));
	return err;
}

int kvm_vcpu_set_lapic(struct vcpu *vcpu, const struct x86_lapic_state *lapic)
{
	struct kvm_lapic_state k;

	_Static_assert(sizeof(k.regs) == sizeof(lapic->regs), "APIC page size");
	memcpy(k.regs, lapic->regs, sizeof(k.regs));
	return vcpu_ioctl(kvm_vcpu_of(vcpu), KVM_SET_LAPIC, &k, "KVM_SET_LAPIC");
}
