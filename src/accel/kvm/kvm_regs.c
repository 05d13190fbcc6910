// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conversions between Vireo's architectural register structs (x86.h) and
 * the KVM API's (KVM API 4.11 KVM_GET_REGS, 4.13 KVM_GET_SREGS).  Field by
 * field, never by layout.
 */
#include <string.h>

#include "accel/kvm/kvm.h"

void kvm_regs_from_kvm(struct x86_regs *r, const struct kvm_regs *k)
{
	r->rax = k->rax; r->rbx = k->rbx; r->rcx = k->rcx; r->rdx = k->rdx;
	r->rsi = k->rsi; r->rdi = k->rdi; r->rsp = k->rsp; r->rbp = k->rbp;
	r->r8 = k->r8; r->r9 = k->r9; r->r10 = k->r10; r->r11 = k->r11;
	r->r12 = k->r12; r->r13 = k->r13; r->r14 = k->r14; r->r15 = k->r15;
	r->rip = k->rip; r->rflags = k->rflags;
}

void kvm_regs_to_kvm(struct kvm_regs *k, const struct x86_regs *r)
{
	memset(k, 0, sizeof(*k));
	k->rax = r->rax; k->rbx = r->rbx; k->rcx = r->rcx; k->rdx = r->rdx;
	k->rsi = r->rsi; k->rdi = r->rdi; k->rsp = r->rsp; k->rbp = r->rbp;
	k->r8 = r->r8; k->r9 = r->r9; k->r10 = r->r10; k->r11 = r->r11;
	k->r12 = r->r12; k->r13 = r->r13; k->r14 = r->r14; k->r15 = r->r15;
	k->rip = r->rip;
	/* Bit 1 of RFLAGS always reads as 1 (Intel SDM Vol. 1 §3.4.3). */
	k->rflags = r->rflags | X86_RFLAGS_FIXED;
}

static void seg_from_kvm(struct x86_segment *s, const struct kvm_segment *k)
{
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	s->type = k->type;
	s->present = k->present;
	s->dpl = k->dpl;
	s->db = k->db;
	s->s = k->s;
	s->l = k->l;
	s->g = k->g;
	s->avl = k->avl;
	s->unusable = k->unusable;
}

static void seg_to_kvm(struct kvm_segment *k, const struct x86_segment *s)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->type;
	k->present = s->present;
	k->dpl = s->dpl;
	k->db = s->db;
	k->s = s->s;
	k->l = s->l;
	k->g = s->g;
	k->avl = s->avl;
	k->unusable = s->unusable;
}

void kvm_sregs_from_kvm(struct x86_sregs *s, const struct kvm_sregs *k)
{
	memset(s, 0, sizeof(*s));
	seg_from_kvm(&s->cs, &k->cs);
	seg_from_kvm(&s->ds, &k->ds);
	seg_from_kvm(&s->es, &k->es);
	seg_from_kvm(&s->fs, &k->fs);
	seg_from_kvm(&s->gs, &k->gs);
	seg_from_kvm(&s->ss, &k->ss);
	seg_from_kvm(&s->tr, &k->tr);
	seg_from_kvm(&s->ldt, &k->ldt);
	s->gdt.base = k->gdt.base;
	s->gdt.limit = k->gdt.limit;
	s->idt.base = k->idt.base;
	s->idt.limit = k->idt.limit;
	s->cr0 = k->cr0;
	s->cr2 = k->cr2;
	s->cr3 = k->cr3;
	s->cr4 = k->cr4;
	s->cr8 = k->cr8;
	s->efer = k->efer;
	s->apic_base = k->apic_base;
}

void kvm_sregs_to_kvm(struct kvm_sregs *k, const struct x86_sregs *s)
{
	seg_to_kvm(&k->cs, &s->cs);
	seg_to_kvm(&k->ds, &s->ds);
	seg_to_kvm(&k->es, &s->es);
	seg_to_kvm(&k->fs, &s->fs);
	seg_to_kvm(&k->gs, &s->gs);
	seg_to_kvm(&k->ss, &s->ss);
	seg_to_kvm(&k->tr, &s->tr);
	seg_to_kvm(&k->ldt, &s->ldt);
	memset(&k->gdt, 0, sizeof(k->gdt));
	memset(&k->idt, 0, sizeof(k->idt));
	k->gdt.base = s->gdt.base;
	k->gdt.limit = s->gdt.limit;
	k->idt.base = s->idt.base;
	k->idt.limit = s->idt.limit;
	k->cr0 = s->cr0;
	k->cr2 = s->cr2;
	k->cr3 = s->cr3;
	k->cr4 = s->cr4;
	k->cr8 = s->cr8;
	k->efer = s->efer;
	/*
	 * The APIC base is not a register KVM_SET_SREGS can move freely: KVM
	 * rejects a disabled-to-x2APIC jump and the like (it applies the
	 * IA32_APIC_BASE rules).  An all-zero value from a caller that filled
	 * no APIC state keeps KVM's current one.
	 */
	if (s->apic_base)
		k->apic_base = s->apic_base;
}
