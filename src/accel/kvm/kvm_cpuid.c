// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CPUID a kvm vCPU presents: the shared policy (include/vireo/cpuid.h),
 * cut down to what this host's KVM can give (KVM API 4.46
 * KVM_GET_SUPPORTED_CPUID, 4.73 KVM_SET_CPUID2), so a guest sees the same
 * CPU under kvm as under emu wherever the host allows it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vireo/cpuid.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "accel/kvm/kvm.h"

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR   (1u << 31)
#define KVM_CPUID_TOPOLOGY_MAX   8       /* leaf 0xb subleaves we pass */
#define KVM_CPUID_MAX            4096    /* entries read back */

int kvm_cpuid_get_supported(int sys_fd, struct kvm_cpuid2 **out)
{
	/* Grow until KVM stops saying E2BIG (KVM API 4.46). */
	for (uint32_t nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			/* Features KVM emulates but lists elsewhere (KVM API 8.x caps). */
			for (uint32_t i = 0; i < c->nent; i++) {
				if (c->entries[i].function != 1)
					continue;
				if (ioctl(sys_fd, KVM_CHECK_EXTENSION,
					  KVM_CAP_TSC_DEADLINE_TIMER) > 0)
					c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
				c->entries[i].ecx |= CPUID_1_ECX_HYPERVISOR;
			}
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG) {
			log_warn("kvm: KVM_GET_SUPPORTED_CPUID");
			return -errno;
		}
	}
	return -E2BIG;
}

void kvm_cpuid_merge(struct kvm_cpuid_entry2 *e, const uint32_t policy[4])
{
	switch (e->function) {
	case 0x1:
	case 0x80000001:
		/* Signature and APIC ID from the policy; features both allow. */
		e->eax = policy[0];
		e->ebx = policy[1];
		e->ecx &= policy[2];
		e->edx &= policy[3];
		break;
	case 0x6:
	case 0x7:
	case 0xd:
	case 0x14:
	case 0x80000007:
		/* Feature (or feature-sized) leaves: both must allow a bit. */
		e->eax &= policy[0];
		e->ebx &= policy[1];
		e->ecx &= policy[2];
		e->edx &= policy[3];
		break;
	case X86_CPUID_KVM_BASE + 1:
		/* KVM paravirtual features (Documentation/virt/kvm/x86/cpuid.rst). */
		e->eax &= policy[0];
		e->ebx = policy[1];
		e->ecx = policy[2];
		e->edx &= policy[3];
		break;
	case 0x80000008:
		/* Address widths: no wider than the host's. */
		e->eax = MIN(e->eax & 0xff, policy[0] & 0xff) |
			 (MIN((e->eax >> 8) & 0xff, (policy[0] >> 8) & 0xff) << 8);
		e->ebx = policy[1];
		e->ecx = policy[2];
		e->edx = policy[3];
		break;
	default:
		/* Identification, topology, cache and brand: the policy's. */
		e->eax = policy[0];
		e->ebx = policy[1];
		e->ecx = policy[2];
		e->edx = policy[3];
		break;
	}
}

/* Highest leaf of the policy in the range `base` belongs to. */
static uint32_t policy_max_leaf(struct vm *vm, int vcpu_id, uint32_t base)
{
	uint32_t out[4];

	x86_cpuid(vm, vcpu_id, base, 0, out);
	return out[0];
}

static bool policy_has_leaf(const uint32_t max[3], uint32_t fn)
{
	if (fn < X86_CPUID_KVM_BASE)
		return fn <= max[0];
	if (fn < 0x80000000)
		return max[1] >= X86_CPUID_KVM_BASE && fn <= max[1];
	return fn <= max[2];
}

/*
 * Topology (leaf 0xb) is the VM's shape, not a host capability: its
 * subleaves come from the policy alone, up to the first of level type 0
 * (Intel SDM Vol. 2A, CPUID leaf 0BH), whatever KVM lists.
 */
static uint32_t add_topology(struct vcpu *vcpu, struct kvm_cpuid_entry2 *out)
{
	uint32_t n = 0, r[4];

	for (uint32_t sub = 0; sub < KVM_CPUID_TOPOLOGY_MAX; sub++) {
		x86_cpuid(vcpu->vm, vcpu->id, 0xb, sub, r);
		out[n++] = (struct kvm_cpuid_entry2){
			.function = 0xb, .index = sub,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
			.eax = r[0], .ebx = r[1], .ecx = r[2], .edx = r[3],
		};
		if (!((r[2] >> 8) & 0xff))
			break;
	}
	return n;
}

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c,
						 uint32_t fn, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/*
 * A paravirtual KVM (PVM) runs guest user code natively, so it makes the
 * guest's CPUID show the host CPU's feature bits whatever it was given.
 * Read the table back and say so (once per VM, from vCPU 0), instead of
 * pretending the policy holds.
 */
static void kvm_cpuid_check(struct vcpu *vcpu, const struct kvm_cpuid2 *set)
{
	static const uint32_t leaves[] = { 0x1, 0x7, 0x80000001 };
	struct kvm_cpuid2 *got = calloc(1, sizeof(*got) + KVM_CPUID_MAX * sizeof(got->entries[0]));

	if (!got)
		return;
	got->nent = KVM_CPUID_MAX;
	if (ioctl(kvm_vcpu_of(vcpu)->fd, KVM_GET_CPUID2, got) < 0)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(leaves); i++) {
		const struct kvm_cpuid_entry2 *a = cpuid_find(set, leaves[i], 0);
		const struct kvm_cpuid_entry2 *b = cpuid_find(got, leaves[i], 0);
		/* KVM's own runtime bits: OSXSAVE (1.ecx 27), APIC (1.edx 9). */
		uint32_t mask_c = leaves[i] == 1 ? ~(1u << 27) : ~0u;
		uint32_t mask_d = leaves[i] == 1 ? ~(1u << 9) : ~0u;

		if (!a || !b || ((a->ecx ^ b->ecx) & mask_c) || ((a->edx ^ b->edx) & mask_d) ||
		    a->ebx != b->ebx) {
			log_info("kvm: this host's KVM overrides the CPUID policy (leaf %#x: "
				 "ecx %#x -> %#x, edx %#x -> %#x): guests see its features",
				 leaves[i], a ? a->ecx : 0, b ? b->ecx : 0,
				 a ? a->edx : 0, b ? b->edx : 0);
			break;
		}
	}
out:
	free(got);
}

int kvm_cpuid_set(struct vcpu *vcpu, bool final)
{
	struct kvm_vm_state *ks = kvm_vm_of(vcpu->vm);
	const struct kvm_cpuid2 *sup = ks->supported;
	struct kvm_cpuid2 *c;
	uint32_t max[3];
	int err;

	max[0] = policy_max_leaf(vcpu->vm, vcpu->id, 0);
	max[1] = policy_max_leaf(vcpu->vm, vcpu->id, X86_CPUID_KVM_BASE);
	max[2] = policy_max_leaf(vcpu->vm, vcpu->id, 0x80000000);
	c = calloc(1, sizeof(*c) + (sup->nent + KVM_CPUID_TOPOLOGY_MAX) * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < sup->nent; i++) {
		struct kvm_cpuid_entry2 e = sup->entries[i];
		uint32_t policy[4];

		if (!policy_has_leaf(max, e.function) || e.function == 0xb)
			continue;
		x86_cpuid(vcpu->vm, vcpu->id, e.function, e.index, policy);
		kvm_cpuid_merge(&e, policy);
		c->entries[c->nent++] = e;
	}
	if (policy_has_leaf(max, 0xb))
		c->nent += add_topology(vcpu, c->entries + c->nent);
	err = ioctl(kvm_vcpu_of(vcpu)->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	if (err)
		log_errno(-err, "kvm: vcpu%d: KVM_SET_CPUID2", vcpu->id);
	else if (final && vcpu->id == 0)
		kvm_cpuid_check(vcpu, c);
	free(c);
	return err;
}
