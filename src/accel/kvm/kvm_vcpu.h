/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_ACCEL_KVM_VCPU_H
#define VIREO_ACCEL_KVM_VCPU_H

/*
 * The kvm backend, vCPU side (kvm_vcpu.c): the accel_ops entries of
 * include/vireo/accel.h, with the contracts written there.
 */
#include "vireo/accel.h"
#include "vireo/util.h"
#include "vireo/x86.h"

struct vcpu;

/*
 * Install the (empty) handler of KVM_KICK_SIGNAL, once per process; the
 * signal only has to interrupt KVM_RUN.  Returns 0 or -errno.
 */
int kvm_vcpu_signal_setup(void) WUR;

int kvm_vcpu_init(struct vcpu *vcpu) WUR;
void kvm_vcpu_destroy(struct vcpu *vcpu);
int kvm_vcpu_run(struct vcpu *vcpu);
void kvm_vcpu_kick(struct vcpu *vcpu);

int kvm_vcpu_get_regs(struct vcpu *vcpu, struct x86_regs *regs) WUR;
int kvm_vcpu_set_regs(struct vcpu *vcpu, const struct x86_regs *regs) WUR;
int kvm_vcpu_get_sregs(struct vcpu *vcpu, struct x86_sregs *sregs) WUR;
int kvm_vcpu_set_sregs(struct vcpu *vcpu, const struct x86_sregs *sregs) WUR;
int kvm_vcpu_get_fpu(struct vcpu *vcpu, struct x86_fpu *fpu) WUR;
int kvm_vcpu_set_fpu(struct vcpu *vcpu, const struct x86_fpu *fpu) WUR;
int kvm_vcpu_get_msrs(struct vcpu *vcpu, struct x86_msr *msrs, int n) WUR;
int kvm_vcpu_set_msrs(struct vcpu *vcpu, const struct x86_msr *msrs, int n) WUR;
int kvm_vcpu_get_lapic(struct vcpu *vcpu, struct x86_lapic_state *lapic) WUR;
int kvm_vcpu_set_lapic(struct vcpu *vcpu, const struct x86_lapic_state *lapic) WUR;

#endif
