// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kvm backend, VM side: probe, VM creation, memory slots, the in-kernel
 * irqchip and PIT, interrupt injection and dirty-page logging.  Sections
 * cited as "KVM API n.m" are those of Documentation/virt/kvm/api.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vireo/accel.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "accel/kvm/kvm.h"
#include "accel/kvm/kvm_vcpu.h"

/* Capabilities the backend cannot do without (KVM API 4.4, section 8). */
static const struct {
	int cap;
	const char *name;
} kvm_required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_XSAVE, "KVM_CAP_XSAVE" },
};

static int kvm_sys_open(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int err;

	if (fd >= 0)
		return fd;
	err = errno;
	if (err == ENOENT)
		snprintf(why, len, "/dev/kvm does not exist: load the kvm module "
			 "(modprobe kvm_intel or kvm_amd), or use --accel emu");
	else if (err == EACCES || err == EPERM)
		snprintf(why, len, "cannot open /dev/kvm: %s: run as root or join "
			 "the group that owns /dev/kvm (usually kvm)", strerror(err));
	else
		snprintf(why, len, "cannot open /dev/kvm: %s", strerror(err));
	return -err;
}

/* API version and capabilities; 0 or -errno with `why` set. */
static int kvm_sys_check(int sys_fd, char *why, size_t len)
{
	int v = ioctl(sys_fd, KVM_GET_API_VERSION, 0);

	/* KVM API 4.1: the stable API is version 12. */
	if (v != KVM_API_VERSION) {
		snprintf(why, len, "/dev/kvm speaks API version %d, not %d", v,
			 KVM_API_VERSION);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(kvm_required_caps); i++) {
		if (ioctl(sys_fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <= 0) {
			snprintf(why, len, "this host's KVM lacks %s",
				 kvm_required_caps[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int kvm_probe(char *why, size_t len)
{
	int sys_fd, vm_fd, err;

	why[0] = '\0';
	sys_fd = kvm_sys_open(why, len);
	if (sys_fd < 0)
		return sys_fd;
	err = kvm_sys_check(sys_fd, why, len);
	if (err)
		goto out_close;
	/* An honest probe: a VM must really be creatable (KVM API 4.2). */
	vm_fd = ioctl(sys_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		err = -errno;
		snprintf(why, len, "/dev/kvm cannot create a VM: %s", strerror(errno));
		goto out_close;
	}
	close(vm_fd);
	if (accel_host_has_hw_virt()) {
		err = 1;
		goto out_close;
	}
	/* Keep it under 256 bytes: callers' buffers are that size. */
	snprintf(why, len, "no vmx/svm in /proc/cpuinfo: this /dev/kvm is a "
		 "paravirtual KVM (PVM) that emulates guest kernel code one "
		 "instruction at a time (~1 us each); tiny guests run, a Linux "
		 "guest will not boot in reasonable time");
	err = 0;
out_close:
	close(sys_fd);
	return err;
}

static int kvm_vm_ioctl(struct kvm_vm_state *ks, unsigned long req, void *arg,
			const char *what)
{
	if (ioctl(ks->vm_fd, req, arg) < 0) {
		int err = errno;

		log_errno(err, "kvm: %s", what);
		return -err;
	}
	return 0;
}

/* One memory slot per RAM region (KVM API 4.35 KVM_SET_USER_MEMORY_REGION). */
static int kvm_slot_set(struct kvm_vm_state *ks, struct vm *vm, int slot,
			uint32_t flags)
{
	struct mem_region *r = &vm->mem.regions[slot];
	struct kvm_userspace_memory_region m = {
		.slot = (uint32_t)slot,
		.flags = flags,
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (uint64_t)(uintptr_t)r->hva,
	};

	return kvm_vm_ioctl(ks, KVM_SET_USER_MEMORY_REGION, &m,
			    "KVM_SET_USER_MEMORY_REGION");
}

static int kvm_vm_map_memory(struct kvm_vm_state *ks, struct vm *vm)
{
	for (int i = 0; i < vm->mem.nregions; i++) {
		int err = kvm_slot_set(ks, vm, i, 0);

		if (err)
			return err;
	}
	return 0;
}

static void route_irqchip(struct kvm_irq_routing_entry *e, uint32_t gsi,
			  uint32_t chip, uint32_t pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/*
 * GSI routing (KVM API 4.52 KVM_SET_GSI_ROUTING), the same wiring the emu
 * backend and the MADT/MP table describe: ISA IRQs 0-15 go to the PIC pair
 * and to the IOAPIC pin of the same number, except IRQ0 (the PIT), which
 * reaches IOAPIC pin 2 (the MADT's interrupt source override); nothing else
 * drives pin 2.  GSIs 16-23 are IOAPIC-only (PCI INTx).
 */
static int kvm_vm_route_gsis(struct kvm_vm_state *ks)
{
	const unsigned nr = 16 + 15 + 8;
	struct kvm_irq_routing *rt;
	unsigned n = 0;
	int err;

	rt = calloc(1, sizeof(*rt) + nr * sizeof(rt->entries[0]));
	if (!rt)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < 16; gsi++) {
		route_irqchip(&rt->entries[n++], gsi,
			      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			      gsi & 7);
		if (gsi != 2)
			route_irqchip(&rt->entries[n++], gsi, KVM_IRQCHIP_IOAPIC,
				      gsi == 0 ? 2 : gsi);
	}
	for (uint32_t gsi = 16; gsi < 24; gsi++)
		route_irqchip(&rt->entries[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
	rt->nr = n;
	err = kvm_vm_ioctl(ks, KVM_SET_GSI_ROUTING, rt, "KVM_SET_GSI_ROUTING");
	free(rt);
	return err;
}

/*
 * Interrupt controllers and timer in the kernel: the PIC pair, the IOAPIC
 * and a local APIC per vCPU (KVM API 4.24 KVM_CREATE_IRQCHIP, before any
 * vCPU), and the i8254 with the speaker port 0x61 (4.70 KVM_CREATE_PIT2).
 */
static int kvm_vm_create_chips(struct kvm_vm_state *ks)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int err;

	err = kvm_vm_ioctl(ks, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	if (!err)
		err = kvm_vm_route_gsis(ks);
	if (!err)
		err = kvm_vm_ioctl(ks, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	return err;
}

/* Intel hosts need these pages for real mode; harmless elsewhere. */
static int kvm_vm_set_tss(struct kvm_vm_state *ks)
{
	uint64_t ident = KVM_IDENTITY_MAP_GPA;
	int err;

	if (ioctl(ks->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		err = kvm_vm_ioctl(ks, KVM_SET_IDENTITY_MAP_ADDR, &ident,
				   "KVM_SET_IDENTITY_MAP_ADDR");
		if (err)
			return err;
	}
	if (ioctl(ks->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA) < 0) {
		log_warn("kvm: KVM_SET_TSS_ADDR");
		return -errno;
	}
	return 0;
}

/* Size of the XSAVE area (KVM API 4.42, KVM_CAP_XSAVE2 in section 8). */
static size_t kvm_xsave_size(int vm_fd)
{
	int n = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
}

static int kvm_vm_open(struct kvm_vm_state *ks)
{
	char why[256];
	int n, err;

	ks->sys_fd = kvm_sys_open(why, sizeof(why));
	if (ks->sys_fd < 0) {
		log_warnx("kvm: %s", why);
		return ks->sys_fd;
	}
	err = kvm_sys_check(ks->sys_fd, why, sizeof(why));
	if (err) {
		log_warnx("kvm: %s", why);
		goto err_close_sys;
	}
	n = ioctl(ks->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n < (int)sizeof(struct kvm_run)) {
		err = n < 0 ? -errno : -EINVAL;
		log_errno(-err, "kvm: KVM_GET_VCPU_MMAP_SIZE");
		goto err_close_sys;
	}
	ks->run_size = (size_t)n;
	ks->vm_fd = ioctl(ks->sys_fd, KVM_CREATE_VM, 0);
	if (ks->vm_fd < 0) {
		err = -errno;
		log_warn("kvm: KVM_CREATE_VM");
		goto err_close_sys;
	}
	ks->xsave_size = kvm_xsave_size(ks->vm_fd);
	return 0;

err_close_sys:
	close(ks->sys_fd);
	return err;
}

static int kvm_vm_init(struct vm *vm)
{
	struct kvm_vm_state *ks = calloc(1, sizeof(*ks));
	int err;

	if (!ks)
		return -ENOMEM;
	err = kvm_vm_open(ks);
	if (err)
		goto err_free;
	err = kvm_cpuid_get_supported(ks->sys_fd, &ks->supported);
	if (err)
		goto err_close;
	err = kvm_vm_set_tss(ks);
	if (!err)
		err = kvm_vm_create_chips(ks);
	if (!err)
		err = kvm_vm_map_memory(ks, vm);
	if (err)
		goto err_cpuid;
	err = kvm_vcpu_signal_setup();
	if (err)
		goto err_cpuid;
	pthread_mutex_init(&ks->slot_lock, NULL);
	vm->accel_data = ks;
	return 0;

err_cpuid:
	free(ks->supported);
err_close:
	close(ks->vm_fd);
	close(ks->sys_fd);
err_free:
	free(ks);
	return err;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm_state *ks = kvm_vm_of(vm);

	if (!ks)
		return;
	pthread_mutex_destroy(&ks->slot_lock);
	free(ks->supported);
	close(ks->vm_fd);
	close(ks->sys_fd);
	free(ks);
	vm->accel_data = NULL;
}

/* KVM API 4.25 KVM_IRQ_LINE: GSI level, through the routing set above. */
static int kvm_vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

	if (ioctl(kvm_vm_of(vm)->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		int err = errno;

		log_warnx_rl("kvm: KVM_IRQ_LINE gsi %u: %s", gsi, strerror(err));
		return -err;
	}
	return 0;
}

/* KVM API 4.71 KVM_SIGNAL_MSI: returns >0 delivered, 0 blocked by the guest. */
static int kvm_vm_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	if (ioctl(kvm_vm_of(vm)->vm_fd, KVM_SIGNAL_MSI, &msi) < 0) {
		int err = errno;

		log_warnx_rl("kvm: KVM_SIGNAL_MSI %#llx/%#x: %s",
			     (unsigned long long)addr, data, strerror(err));
		return -err;
	}
	return 0;
}

static size_t dirty_words(const struct mem_region *r)
{
	size_t bits = 8 * sizeof(unsigned long);

	return (r->size / GUEST_PAGE_SIZE + bits - 1) / bits;
}

/*
 * Turn dirty logging on for a slot (KVM_MEM_LOG_DIRTY_PAGES).  Logging makes
 * KVM write-protect guest memory, which costs guests that never migrate, so
 * it starts on the first request; that first answer says every page is dirty.
 */
static int kvm_dirty_log_start(struct kvm_vm_state *ks, struct vm *vm, int slot,
			       unsigned long *bitmap)
{
	struct mem_region *r = &vm->mem.regions[slot];
	uint64_t npages = r->size / GUEST_PAGE_SIZE;
	size_t bits = 8 * sizeof(unsigned long);
	int err = kvm_slot_set(ks, vm, slot, KVM_MEM_LOG_DIRTY_PAGES);

	if (err)
		return err;
	ks->dirty_logging[slot] = true;
	memset(bitmap, 0, dirty_words(r) * sizeof(unsigned long));
	for (uint64_t p = 0; p < npages; p++)
		bitmap[p / bits] |= 1UL << (p % bits);
	return 0;
}

/*
 * KVM API 4.8 KVM_GET_DIRTY_LOG fetches and clears the pages the guest wrote;
 * pages the monitor wrote (devices, loaders) are in region->dirty.
 */
static int kvm_vm_get_dirty_log(struct vm *vm, int slot, unsigned long *bitmap)
{
	struct kvm_vm_state *ks = kvm_vm_of(vm);
	struct kvm_dirty_log log = { .slot = (uint32_t)slot, .dirty_bitmap = bitmap };
	struct mem_region *r;
	int err;

	if (slot < 0 || slot >= vm->mem.nregions)
		return -EINVAL;
	r = &vm->mem.regions[slot];
	pthread_mutex_lock(&ks->slot_lock);
	if (!ks->dirty_logging[slot])
		err = kvm_dirty_log_start(ks, vm, slot, bitmap);
	else
		err = kvm_vm_ioctl(ks, KVM_GET_DIRTY_LOG, &log, "KVM_GET_DIRTY_LOG");
	pthread_mutex_unlock(&ks->slot_lock);
	if (err || !r->dirty)
		return err;
	for (size_t i = 0; i < dirty_words(r); i++)
		bitmap[i] |= __atomic_exchange_n(&r->dirty[i], 0, __ATOMIC_ACQ_REL);
	return 0;
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_init = kvm_vm_init,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.get_regs = kvm_vcpu_get_regs,
	.set_regs = kvm_vcpu_set_regs,
	.get_sregs = kvm_vcpu_get_sregs,
	.set_sregs = kvm_vcpu_set_sregs,
	.get_fpu = kvm_vcpu_get_fpu,
	.set_fpu = kvm_vcpu_set_fpu,
	.get_msrs = kvm_vcpu_get_msrs,
	.set_msrs = kvm_vcpu_set_msrs,
	.get_lapic = kvm_vcpu_get_lapic,
	.set_lapic = kvm_vcpu_set_lapic,
	.irq_line = kvm_vm_irq_line,
	.msi = kvm_vm_msi,
	.get_dirty_log = kvm_vm_get_dirty_log,
};
