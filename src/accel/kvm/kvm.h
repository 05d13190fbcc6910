/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_ACCEL_KVM_H
#define VIREO_ACCEL_KVM_H

/*
 * Private state of the kvm backend (Documentation/virt/kvm/api.rst, "the
 * KVM API" below).  One kvm_vm_state per VM in vm->accel_data, one
 * kvm_vcpu_state per vCPU in vcpu->accel.
 */
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <signal.h>

#include "vireo/memory.h"
#include "vireo/util.h"
#include "vireo/vm.h"
#include "vireo/x86.h"

/*
 * Where KVM may put the three pages of the real-mode TSS and the one page of
 * the identity-mapped page table it needs on Intel hosts (KVM API 4.48
 * KVM_SET_TSS_ADDR, 4.62 KVM_SET_IDENTITY_MAP_ADDR): just below the BIOS
 * area at the top of 4 GiB, inside the PCI hole, never RAM.
 */
#define KVM_TSS_GPA          0xfeffd000ULL
#define KVM_IDENTITY_MAP_GPA 0xfeffc000ULL

struct kvm_vm_state {
	int sys_fd;                     /* /dev/kvm */
	int vm_fd;
	size_t run_size;                /* KVM_GET_VCPU_MMAP_SIZE */
	size_t xsave_size;              /* bytes for KVM_GET_XSAVE(2) */
	struct kvm_cpuid2 *supported;   /* KVM_GET_SUPPORTED_CPUID */
	pthread_mutex_t slot_lock;      /* guards dirty_logging and slot updates */
	bool dirty_logging[GUEST_MEM_MAX_REGIONS];
};

struct kvm_vcpu_state {
	int fd;
	struct kvm_run *run;            /* shared page(s) of KVM_RUN */
	size_t run_size;
	pthread_t thread;               /* the thread inside vcpu_run */
	int thread_known;               /* atomic: `thread` is valid */
	bool signal_ready;              /* first run done: kick signal unblocked, CPUID final */
};

/* The signal vcpu_kick sends to interrupt KVM_RUN (handler: empty). */
#define KVM_KICK_SIGNAL (SIGRTMIN + 3)

static inline struct kvm_vm_state *kvm_vm_of(struct vm *vm)
{
	return vm->accel_data;
}

static inline struct kvm_vcpu_state *kvm_vcpu_of(struct vcpu *vcpu)
{
	return vcpu->accel;
}

/* ---- kvm_cpuid.c ---- */
/*
 * Read KVM_GET_SUPPORTED_CPUID into *out (malloc'd, caller frees).
 * Returns 0 or -errno.
 */
int kvm_cpuid_get_supported(int sys_fd, struct kvm_cpuid2 **out) WUR;
/*
 * Build vCPU `vcpu`'s CPUID from the shared policy (x86_cpuid) intersected
 * with what KVM supports, and set it (KVM API 4.73 KVM_SET_CPUID2).
 * Must run before the vCPU's first KVM_RUN.  `final` (the call made just
 * before it) also reads the table back and notes a KVM that overrides it.
 */
int kvm_cpuid_set(struct vcpu *vcpu, bool final) WUR;
/*
 * The policy/KVM merge for one entry, exposed for unit tests: `policy` is
 * x86_cpuid's answer, `e` holds KVM's supported values on entry and the
 * result on return.
 */
void kvm_cpuid_merge(struct kvm_cpuid_entry2 *e, const uint32_t policy[4]);

/* ---- kvm_regs.c: conversions between x86.h and the KVM API structs ---- */
void kvm_regs_from_kvm(struct x86_regs *r, const struct kvm_regs *k);
void kvm_regs_to_kvm(struct kvm_regs *k, const struct x86_regs *r);
void kvm_sregs_from_kvm(struct x86_sregs *s, const struct kvm_sregs *k);
/* `k` must hold the current KVM sregs (interrupt_bitmap is kept). */
void kvm_sregs_to_kvm(struct kvm_sregs *k, const struct x86_sregs *s);

#endif
