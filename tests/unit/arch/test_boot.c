// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests of the x86 boot path: e820, MP table, ACPI, kernel loading, CPUID. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "vireo/acpi.h"
#include "vireo/boot.h"
#include "vireo/cpuid.h"
#include "arch/x86/bootparam.h"
#include "../fake_accel.h"

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static void test_e820(void **state)
{
	struct e820_entry e[8];
	int n = e820_build(512 * MiB, e, 8);

	assert_int_equal(n, 4);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, 0x9fc00);
	assert_int_equal(e[0].type, E820_RAM);
	assert_int_equal(e[1].type, E820_RESERVED);     /* EBDA */
	assert_int_equal(e[2].addr, 0xf0000);           /* BIOS area, ACPI tables */
	assert_int_equal(e[2].type, E820_RESERVED);
	assert_int_equal(e[3].addr, 0x100000);
	assert_int_equal(e[3].addr + e[3].size, 512 * MiB);
	/* Above the PCI hole the rest continues at 4 GiB. */
	n = e820_build(4 * GiB, e, 8);
	assert_int_equal(n, 5);
	assert_int_equal(e[3].addr + e[3].size, GUEST_PCI_HOLE_START);
	assert_int_equal(e[4].addr, 4 * GiB);
	assert_int_equal(e[4].size, 4 * GiB - GUEST_PCI_HOLE_START);
	assert_int_equal(e820_build(4 * GiB, e, 3), -ENOSPC);
	assert_int_equal(e820_build(64 * KiB, e, 8), -EINVAL);
}

static void test_mptable_checksums(void **state)
{
	static uint8_t buf[1024];
	uint32_t phys;
	uint16_t len;

	for (int ncpus = 1; ncpus <= 8; ncpus *= 2) {
		int n = mptable_write(buf, sizeof(buf), 0x9fc00, ncpus);
		assert_true(n > 0);
		assert_memory_equal(buf, "_MP_", 4);
		assert_int_equal(sum8(buf, 16), 0);
		memcpy(&phys, buf + 4, 4);
		assert_int_equal(phys, 0x9fc00 + 16);
		assert_memory_equal(buf + 16, "PCMP", 4);
		memcpy(&len, buf + 16 + 4, 2);
		assert_int_equal(sum8(buf + 16, len), 0);
		assert_int_equal(16 + len, n);
		/* The first processor entry is the enabled BSP with APIC ID 0. */
		assert_int_equal(buf[16 + 44], 0);
		assert_int_equal(buf[16 + 44 + 3], 3);
	}
	assert_int_equal(mptable_write(buf, 64, 0x9fc00, 4), -ENOSPC);
}

static const uint8_t *acpi_find(const uint8_t *buf, const char *sig)
{
	uint64_t xsdt, p;
	uint32_t len;

	memcpy(&xsdt, buf + 24, 8);
	xsdt -= ACPI_TABLES_GPA;
	memcpy(&len, buf + xsdt + 4, 4);
	for (uint32_t o = 36; o < len; o += 8) {
		memcpy(&p, buf + xsdt + o, 8);
		if (!memcmp(buf + p - ACPI_TABLES_GPA, sig, 4))
			return buf + p - ACPI_TABLES_GPA;
	}
	return NULL;
}

static void test_acpi_tables(void **state)
{
	static uint8_t buf[ACPI_TABLES_SIZE];
	const uint8_t *fadt, *madt, *dsdt;
	uint32_t len, flags;
	uint64_t x;
	int lapics = 0;

	assert_int_equal(acpi_tables_build(buf, sizeof(buf), ACPI_TABLES_GPA, 3), 0);
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum8(buf, 20), 0);
	assert_int_equal(sum8(buf, 36), 0);
	fadt = acpi_find(buf, "FACP");
	madt = acpi_find(buf, "APIC");
	assert_non_null(fadt);
	assert_non_null(madt);
	memcpy(&len, fadt + 4, 4);
	assert_int_equal(len, 276);
	assert_int_equal(sum8(fadt, len), 0);
	memcpy(&flags, fadt + 112, 4);
	assert_true(flags & (1u << 20));              /* hardware-reduced */
	memcpy(&x, fadt + 244 + 4, 8);
	assert_int_equal(x, ACPI_PM_SLEEP_CTL);
	memcpy(&x, fadt + 140, 8);
	dsdt = buf + x - ACPI_TABLES_GPA;
	assert_memory_equal(dsdt, "DSDT", 4);
	memcpy(&len, dsdt + 4, 4);
	assert_int_equal(sum8(dsdt, len), 0);         /* iasl's checksum survived */
	memcpy(&len, madt + 4, 4);
	assert_int_equal(sum8(madt, len), 0);
	for (uint32_t o = 44; o < len; o += madt[o + 1])
		lapics += madt[o] == 0;
	assert_int_equal(lapics, 3);
	assert_int_equal(acpi_tables_build(buf, 512, ACPI_TABLES_GPA, 3), -ENOSPC);
}

static void test_kernel_probe_rejects(void **state)
{
	static uint8_t buf[8192];
	enum kernel_kind kind;
	char why[256];
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(kernel_probe(buf, sizeof(buf), &kind, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "not a kernel"));
	assert_int_equal(kernel_probe(buf, 0, &kind, why, sizeof(why)), -ENOEXEC);
	/* A boot sector without HdrS. */
	memset(buf, 0, sizeof(buf));
	buf[0x1fe] = 0x55;
	buf[0x1ff] = 0xaa;
	assert_int_equal(kernel_probe(buf, sizeof(buf), &kind, why, sizeof(why)), -ENOEXEC);
	/* An old protocol without a 64-bit entry. */
	bp_put32(buf, BP_HEADER, BP_HDRS_MAGIC);
	bp_put16(buf, BP_VERSION, 0x204);
	assert_int_equal(kernel_probe(buf, sizeof(buf), &kind, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "64-bit"));
	/* Truncated: setup claims more sectors than the file has. */
	bp_put16(buf, BP_VERSION, 0x20f);
	bp_put16(buf, BP_XLOADFLAGS, XLF_KERNEL_64);
	buf[BP_SETUP_SECTS] = 60;
	assert_int_equal(kernel_probe(buf, sizeof(buf), &kind, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "truncated"));
	buf[BP_SETUP_SECTS] = 4;
	assert_int_equal(kernel_probe(buf, sizeof(buf), &kind, why, sizeof(why)), 0);
	assert_int_equal(kind, KERNEL_BZIMAGE);
	/* 32-bit ELF and ELF with program headers past the end. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, ELFMAG, SELFMAG);
	buf[EI_CLASS] = ELFCLASS32;
	assert_int_equal(kernel_probe(buf, sizeof(buf), &kind, why, sizeof(why)), -ENOEXEC);
	buf[EI_CLASS] = ELFCLASS64;
	buf[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_EXEC;
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 100;
	eh->e_phoff = 8000;
	assert_int_equal(kernel_probe(buf, sizeof(buf), &kind, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "program headers"));
}

static char *write_temp(const void *data, size_t len)
{
	char *path = strdup("/tmp/vireo-test-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static struct vm *make_vm(const char *kernel, const char *initrd, const char *cmdline)
{
	static struct vm_config cfg;
	struct vm *vm;

	cfg = (struct vm_config){ .mem_size = 64 * MiB, .ncpus = 2, .kernel = kernel,
				  .initrd = initrd, .cmdline = cmdline };
	assert_int_equal(vm_create(&cfg, &fake_accel_ops, &vm), 0);
	return vm;
}

static void test_boot_bzimage(void **state)
{
	size_t len = 5 * 512 + 4096;
	uint8_t *img = calloc(1, len), *zp;
	char initrd_data[3000], why[256];
	char *kpath, *ipath;
	struct vm *vm;
	uint64_t *pml4;

	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	img[0x201] = 0x66;           /* setup header length byte (jump offset) */
	img[BP_SETUP_SECTS] = 4;
	bp_put32(img, BP_HEADER, BP_HDRS_MAGIC);
	bp_put16(img, BP_VERSION, 0x20f);
	bp_put16(img, BP_XLOADFLAGS, XLF_KERNEL_64);
	bp_put32(img, BP_INITRD_ADDR_MAX, 0x7fffffff);
	bp_put32(img, BP_CMDLINE_SIZE, 2047);
	bp_put32(img, BP_INIT_SIZE, 2 * MiB);
	memcpy(img + 5 * 512, "KERNEL-PAYLOAD", 14);
	memset(initrd_data, 'r', sizeof(initrd_data));
	kpath = write_temp(img, len);
	ipath = write_temp(initrd_data, sizeof(initrd_data));
	vm = make_vm(kpath, ipath, "console=ttyS0 hello");
	assert_int_equal(boot_load(vm, why, sizeof(why)), 0);

	/* The protected-mode kernel sits at 16 MiB; entry is startup_64 at +0x200. */
	assert_memory_equal(guest_mem_hva(&vm->mem, BOOT_KERNEL_GPA, 14), "KERNEL-PAYLOAD", 14);
	assert_int_equal(vm->boot_regs.rip, BOOT_KERNEL_GPA + 0x200);
	assert_int_equal(vm->boot_regs.rsi, BOOT_ZERO_PAGE_GPA);
	assert_true(vm->boot_sregs.efer & EFER_LMA);
	assert_true(vm->boot_sregs.cr0 & X86_CR0_PG);
	assert_int_equal(vm->boot_sregs.cs.selector, 0x10);
	assert_int_equal(vm->boot_sregs.cs.l, 1);
	assert_int_equal(vm->boot_sregs.ds.selector, 0x18);

	zp = guest_mem_hva(&vm->mem, BOOT_ZERO_PAGE_GPA, 4096);
	assert_int_equal(zp[BP_TYPE_OF_LOADER], 0xff);
	assert_int_equal(bp_get32(zp, BP_HEADER), BP_HDRS_MAGIC);
	assert_int_equal(bp_get32(zp, BP_CMD_LINE_PTR), BOOT_CMDLINE_GPA);
	assert_string_equal((char *)guest_mem_hva(&vm->mem, BOOT_CMDLINE_GPA, 20), "console=ttyS0 hello");
	assert_int_equal(bp_get32(zp, BP_RAMDISK_SIZE), sizeof(initrd_data));
	/* The initrd is at the top of RAM, below initrd_addr_max, page aligned. */
	uint32_t rd = bp_get32(zp, BP_RAMDISK_IMAGE);
	assert_int_equal(rd % 4096, 0);
	assert_true(rd + sizeof(initrd_data) <= 64 * MiB);
	assert_true(rd >= BOOT_KERNEL_GPA + 2 * MiB);
	assert_memory_equal(guest_mem_hva(&vm->mem, rd, 10), "rrrrrrrrrr", 10);
	assert_int_equal(zp[BP_E820_ENTRIES], 4);
	assert_int_equal(bp_get32(zp, BP_ACPI_RSDP_ADDR), ACPI_TABLES_GPA);
	assert_memory_equal(guest_mem_hva(&vm->mem, ACPI_TABLES_GPA, 8), "RSD PTR ", 8);
	/* Identity map: 2 MiB pages covering the kernel. */
	pml4 = guest_mem_hva(&vm->mem, BOOT_PML4_GPA, 4096);
	assert_int_equal(pml4[0] & ~0xfffULL, BOOT_PML4_GPA + 0x1000);
	uint64_t *pd = guest_mem_hva(&vm->mem, BOOT_PML4_GPA + 0x2000, 4096);
	assert_int_equal(pd[8], (8 * 2 * MiB) | 0x83);
	vm_destroy(vm);

	/* A command line longer than the kernel accepts is refused clearly. */
	char *longcmd = malloc(3000);
	memset(longcmd, 'x', 2999);
	longcmd[2999] = 0;
	vm = make_vm(kpath, NULL, longcmd);
	assert_int_equal(boot_load(vm, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "command line"));
	vm_destroy(vm);
	free(longcmd);

	unlink(kpath);
	unlink(ipath);
	free(kpath);
	free(ipath);
	free(img);
}

/* A minimal PVH ELF: one PT_LOAD at 1 MiB and a Xen PHYS32_ENTRY note. */
static void test_boot_pvh(void **state)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph[2];
		Elf64_Nhdr nh;
		char name[4];
		uint32_t entry;
		uint8_t code[16];
	} __attribute__((packed)) f = { 0 };
	struct hvm_start_info *si;
	char *kpath, why[256];
	struct vm *vm;

	memcpy(f.eh.e_ident, ELFMAG, SELFMAG);
	f.eh.e_ident[EI_CLASS] = ELFCLASS64;
	f.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	f.eh.e_type = ET_EXEC;
	f.eh.e_machine = EM_X86_64;
	f.eh.e_phoff = offsetof(__typeof__(f), ph);
	f.eh.e_phentsize = sizeof(Elf64_Phdr);
	f.eh.e_phnum = 2;
	f.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = offsetof(__typeof__(f), code),
				.p_paddr = 0x100000, .p_filesz = 16, .p_memsz = 4096 };
	f.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(__typeof__(f), nh),
				.p_filesz = sizeof(Elf64_Nhdr) + 8 };
	f.nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = 18 };
	memcpy(f.name, "Xen", 4);
	f.entry = 0x100004;
	memcpy(f.code, "PVHCODE!", 8);
	kpath = write_temp(&f, sizeof(f));
	vm = make_vm(kpath, NULL, "pvh cmdline");
	assert_int_equal(boot_load(vm, why, sizeof(why)), 0);
	assert_memory_equal(guest_mem_hva(&vm->mem, 0x100000, 8), "PVHCODE!", 8);
	assert_int_equal(vm->boot_regs.rip, 0x100004);
	assert_int_equal(vm->boot_regs.rbx, BOOT_START_INFO_GPA);
	assert_false(vm->boot_sregs.cr0 & X86_CR0_PG);   /* PVH: paging off */
	assert_true(vm->boot_sregs.cr0 & X86_CR0_PE);
	assert_int_equal(vm->boot_sregs.cs.l, 0);
	assert_int_equal(vm->boot_sregs.cs.db, 1);
	si = guest_mem_hva(&vm->mem, BOOT_START_INFO_GPA, sizeof(*si));
	assert_int_equal(si->magic, HVM_START_MAGIC);
	assert_int_equal(si->rsdp_paddr, ACPI_TABLES_GPA);
	assert_string_equal((char *)guest_mem_hva(&vm->mem, si->cmdline_paddr, 12), "pvh cmdline");
	assert_int_equal(si->memmap_entries, 4);
	assert_int_equal(si->nr_modules, 0);
	vm_destroy(vm);

	/* A segment outside guest RAM is refused with a reason. */
	f.ph[0].p_paddr = 3 * GiB;
	unlink(kpath);
	free(kpath);
	kpath = write_temp(&f, sizeof(f));
	vm = make_vm(kpath, NULL, NULL);
	assert_int_equal(boot_load(vm, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "does not fit"));
	vm_destroy(vm);
	unlink(kpath);
	free(kpath);
}

static void test_cpuid_policy(void **state)
{
	uint32_t r[4];

	x86_cpuid(NULL, 3, 0, 0, r);
	assert_int_equal(r[0], X86_CPUID_MAX_BASIC);
	assert_memory_equal(&r[1], "Genu", 4);
	x86_cpuid(NULL, 3, 1, 0, r);
	assert_int_equal(r[1] >> 24, 3);          /* APIC ID */
	assert_true(r[3] & (1u << 26));           /* SSE2: x86-64 baseline */
	assert_true(r[3] & (1u << 23));           /* MMX: x86-64 baseline too */
	assert_true(r[2] & (1u << 31));           /* hypervisor */
	assert_false(r[2] & (1u << 26));          /* no XSAVE */
	assert_false(r[2] & (1u << 21));          /* no x2APIC */
	x86_cpuid(NULL, 0, 0x80000001, 0, r);
	assert_true(r[3] & (1u << 29));           /* long mode */
	assert_true(r[3] & (1u << 20));           /* NX */
	x86_cpuid(NULL, 0, 0x40000000, 0, r);
	assert_memory_equal(&r[1], "KVMKVMKVM\0\0\0", 12);
	x86_cpuid(NULL, 0, 7, 0, r);
	assert_int_equal(r[0], 0);                /* max subleaf 0 */
	assert_int_equal(r[1], 0);                /* no SMEP/SMAP/FSGSBASE... */
	assert_int_equal(r[2], 0);
	assert_int_equal(r[3], 1u << 29);         /* ARCH_CAPABILITIES only */
	x86_cpuid(NULL, 0, 7, 1, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820),
		cmocka_unit_test(test_mptable_checksums),
		cmocka_unit_test(test_acpi_tables),
		cmocka_unit_test(test_kernel_probe_rejects),
		cmocka_unit_test(test_boot_bzimage),
		cmocka_unit_test(test_boot_pvh),
		cmocka_unit_test(test_cpuid_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
