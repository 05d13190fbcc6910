// SPDX-License-Identifier: GPL-2.0-only
/*
 * Direct kernel boot: bzImage and vmlinux through the Linux 64-bit boot
 * protocol (Documentation/arch/x86/boot.rst), PVH ELF through the Xen PVH
 * ABI (xen/include/public/arch-x86/hvm/start_info.h).
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vireo/acpi.h"
#include "vireo/boot.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "arch/x86/bootparam.h"
#include "arch/x86/kunpack.h"

#define KERNEL_MAX_SIZE (512 * MiB)
#define INITRD_MAX_SIZE (2 * GiB)

static int kernel_probe_bzimage(const uint8_t *buf, size_t len, char *why, size_t n)
{
	uint16_t version = bp_get16(buf, BP_VERSION);

	if (len < BP_SETUP_HDR_END || bp_get32(buf, BP_HEADER) != BP_HDRS_MAGIC) {
		snprintf(why, n, "a boot sector without a Linux setup header (not a bzImage)");
		return -ENOEXEC;
	}
	if (version < 0x20c || !(bp_get16(buf, BP_XLOADFLAGS) & XLF_KERNEL_64)) {
		snprintf(why, n, "a Linux kernel without the 64-bit entry point "
			 "(boot protocol %u.%02u; need 2.12+ with XLF_KERNEL_64)",
			 version >> 8, version & 0xff);
		return -ENOEXEC;
	}
	if ((size_t)(buf[BP_SETUP_SECTS] ? buf[BP_SETUP_SECTS] : 4) * 512 + 512 >= len) {
		snprintf(why, n, "a truncated bzImage (setup larger than the file)");
		return -ENOEXEC;
	}
	return 0;
}

/* Find the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type 18, name "Xen"). */
static int elf_pvh_entry(const uint8_t *buf, size_t len, uint32_t *entry)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff + i * sizeof(*ph));
		size_t off, end;

		if (ph->p_type != PT_NOTE || ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
			continue;
		off = ph->p_offset;
		end = off + ph->p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(buf + off);
			size_t name = off + sizeof(*nh);
			size_t desc = name + ALIGN_UP((size_t)nh->n_namesz, 4);
			size_t next = desc + ALIGN_UP((size_t)nh->n_descsz, 4);

			if (next > end || next <= off)
				break;
			if (nh->n_type == 18 && nh->n_namesz == 4 &&
			    !memcmp(buf + name, "Xen", 4) && nh->n_descsz >= 4) {
				uint32_t e;
				memcpy(&e, buf + desc, 4);
				*entry = e;
				return 0;
			}
			off = next;
		}
	}
	return -ENOENT;
}

static int kernel_probe_elf(const uint8_t *buf, size_t len, enum kernel_kind *kind,
			    char *why, size_t n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
	uint32_t entry;

	if (len < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
		snprintf(why, n, "an ELF file that is not a 64-bit x86 executable");
		return -ENOEXEC;
	}
	if (eh->e_type != ET_EXEC || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phnum == 0 || eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff) {
		snprintf(why, n, "an ELF file without valid program headers");
		return -ENOEXEC;
	}
	*kind = elf_pvh_entry(buf, len, &entry) == 0 ? KERNEL_PVH : KERNEL_ELF64;
	return 0;
}

int kernel_probe(const uint8_t *buf, size_t len, enum kernel_kind *kind,
		 char *why, size_t whylen)
{
	if (len >= 4 && !memcmp(buf, ELFMAG, SELFMAG))
		return kernel_probe_elf(buf, len, kind, why, whylen);
	if (len >= 512 && bp_get16(buf, BP_BOOT_FLAG) == 0xaa55) {
		*kind = KERNEL_BZIMAGE;
		return kernel_probe_bzimage(buf, len, why, whylen);
	}
	snprintf(why, whylen, "not a kernel: neither a Linux bzImage nor an x86-64 ELF");
	return -ENOEXEC;
}

/* Place and copy the ELF's PT_LOAD segments at their physical addresses. */
static int elf_load(struct vm *vm, const uint8_t *buf, size_t len, uint64_t *end,
		    char *why, size_t n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;

	*end = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff + i * sizeof(*ph));
		uint8_t *dst;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset ||
		    ph->p_filesz > ph->p_memsz) {
			snprintf(why, n, "ELF segment %d lies outside the file", i);
			return -ENOEXEC;
		}
		dst = guest_mem_hva(&vm->mem, ph->p_paddr, ph->p_memsz);
		if (!dst || ph->p_paddr < BOOT_HIGH_GPA) {
			snprintf(why, n, "ELF segment %d at 0x%llx+0x%llx does not fit in "
				 "guest RAM above 1 MiB (more --memory?)", i,
				 (unsigned long long)ph->p_paddr,
				 (unsigned long long)ph->p_memsz);
			return -ENOEXEC;
		}
		memcpy(dst, buf + ph->p_offset, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		*end = MAX(*end, ph->p_paddr + ph->p_memsz);
	}
	return 0;
}

static int load_file(const char *path, const char *what, size_t max,
		     void **buf, size_t *len, char *why, size_t n)
{
	int err = read_file(path, max, buf, len);

	if (err == -EFBIG)
		snprintf(why, n, "%s %s is larger than %zu MiB", what, path, (size_t)(max / MiB));
	else if (err == -EINVAL)
		snprintf(why, n, "%s %s is not a regular file", what, path);
	else if (err)
		snprintf(why, n, "cannot read %s %s: %s", what, path, strerror(-err));
	return err;
}

/* Highest address below `limit` where `size` bytes fit in low RAM, 2 MiB aligned down. */
static uint64_t initrd_place(struct vm *vm, uint64_t size, uint64_t limit, uint64_t kernel_end)
{
	uint64_t top = MIN(vm->mem.regions[0].size, limit);
	uint64_t addr;

	if (size > top)
		return 0;
	addr = ALIGN_DOWN(top - size, 2 * MiB);
	if (addr < ALIGN_UP(kernel_end, 4096))
		addr = ALIGN_DOWN(top - size, 4096);
	return addr >= ALIGN_UP(kernel_end, 4096) ? addr : 0;
}

/* GDT (null, null, 32-bit code 0x10... per boot.rst __BOOT_CS/__BOOT_DS), identity map of 4 GiB. */
static int boot_setup_tables(struct vm *vm, bool long_mode)
{
	uint64_t gdt[4] = {
		0, 0,
		long_mode ? 0x00af9b000000ffffULL : 0x00cf9b000000ffffULL,  /* code 0x10 */
		0x00cf93000000ffffULL,                                       /* data 0x18 */
	};
	uint64_t *pml4 = guest_mem_hva(&vm->mem, BOOT_PML4_GPA, 6 * 4096);

	if (guest_mem_write(&vm->mem, BOOT_GDT_GPA, gdt, sizeof(gdt)) || !pml4)
		return -EFAULT;
	memset(pml4, 0, 6 * 4096);
	/* PML4 -> PDPT -> 4 page directories of 2 MiB pages. */
	pml4[0] = (BOOT_PML4_GPA + 0x1000) | 0x3;
	for (int i = 0; i < 4; i++) {
		uint64_t *pd = pml4 + (2 + i) * 512;
		pml4[512 + i] = (BOOT_PML4_GPA + (2 + i) * 0x1000) | 0x3;
		for (int j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i * GiB + (uint64_t)j * 2 * MiB) | 0x83;
	}
	return 0;
}

static struct x86_segment boot_seg(uint16_t sel, uint8_t type, bool l, bool db)
{
	return (struct x86_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = 1, .l = l, .g = 1,
	};
}

static void boot_set_entry(struct vm *vm, bool long_mode, uint64_t rip,
			   uint64_t rsi, uint64_t rbx)
{
	struct x86_sregs *s = &vm->boot_sregs;
	struct x86_segment data = boot_seg(0x18, 0x3, false, true);

	memset(&vm->boot_regs, 0, sizeof(vm->boot_regs));
	memset(s, 0, sizeof(*s));
	vm->boot_regs.rip = rip;
	vm->boot_regs.rsi = rsi;
	vm->boot_regs.rbx = rbx;
	vm->boot_regs.rflags = X86_RFLAGS_FIXED;
	s->cs = boot_seg(0x10, 0xb, long_mode, !long_mode);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct x86_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s->ldt = (struct x86_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	s->gdt = (struct x86_dtable){ BOOT_GDT_GPA, 4 * 8 - 1 };
	s->idt = (struct x86_dtable){ 0, 0 };
	s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	s->apic_base = 0xfee00000ULL | MSR_IA32_APICBASE_ENABLE | MSR_IA32_APICBASE_BSP;
	if (long_mode) {
		s->cr0 |= X86_CR0_PG;
		s->cr3 = BOOT_PML4_GPA;
		s->cr4 = X86_CR4_PAE;
		s->efer = EFER_LME | EFER_LMA;
	}
}

static int boot_write_cmdline(struct vm *vm, size_t max, char *why, size_t n)
{
	const char *cmdline = vm->cfg.cmdline ? vm->cfg.cmdline : "";
	size_t len = strlen(cmdline) + 1;

	if (len > max || len > BOOT_CMDLINE_MAX) {
		snprintf(why, n, "the command line is %zu bytes; this kernel takes at most %zu",
			 len - 1, MIN(max, (size_t)BOOT_CMDLINE_MAX) - 1);
		return -E2BIG;
	}
	return guest_mem_write(&vm->mem, BOOT_CMDLINE_GPA, cmdline, len);
}

/* ACPI tables in the BIOS area, where Linux also scans for the RSDP. */
static int boot_write_acpi(struct vm *vm)
{
	uint8_t *p = guest_mem_hva(&vm->mem, ACPI_TABLES_GPA, ACPI_TABLES_SIZE);

	if (!p)
		return -EFAULT;
	return acpi_tables_build(p, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, vm->nvcpus);
}

static int boot_write_mptable(struct vm *vm)
{
	uint8_t *p = guest_mem_hva(&vm->mem, BOOT_MPTABLE_GPA, 0xa0000 - BOOT_MPTABLE_GPA);
	uint16_t ebda_seg = BOOT_EBDA_GPA >> 4;
	int n;

	if (!p)
		return -EFAULT;
	n = mptable_write(p, 0xa0000 - BOOT_MPTABLE_GPA, BOOT_MPTABLE_GPA, vm->nvcpus);
	if (n < 0)
		return n;
	/* BDA 0x40e: EBDA segment, where Linux looks first. */
	return guest_mem_write(&vm->mem, 0x40e, &ebda_seg, 2);
}

/* Read the whole open file fd into dst (len bytes). */
static int read_all(int fd, uint8_t *dst, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, dst + done, len - done, done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += r;
	}
	return 0;
}

/*
 * Load the initrd below `limit` straight into guest RAM (no bounce copy);
 * returns its address and size (0 if none).
 */
static int boot_load_initrd(struct vm *vm, uint64_t limit, uint64_t kernel_end,
			    uint64_t *addr, uint64_t *size, char *why, size_t n)
{
	const char *path = vm->cfg.initrd;
	struct stat st;
	uint8_t *dst;
	int fd, err;

	*addr = *size = 0;
	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		snprintf(why, n, "cannot read initrd %s: %s", path, strerror(-err));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > INITRD_MAX_SIZE) {
		err = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		snprintf(why, n, "initrd %s is %s", path, S_ISREG(st.st_mode) ?
			 "larger than 2048 MiB" : "not a regular file");
		goto out;
	}
	*addr = initrd_place(vm, st.st_size, limit, kernel_end);
	dst = *addr ? guest_mem_hva(&vm->mem, *addr, st.st_size) : NULL;
	if (!dst) {
		err = -ENOMEM;
		snprintf(why, n, "the initrd (%zu MiB) does not fit in guest memory; "
			 "give the VM more --memory", (size_t)(st.st_size / MiB));
		goto out;
	}
	err = read_all(fd, dst, st.st_size);
	if (err) {
		snprintf(why, n, "cannot read initrd %s: %s", path, strerror(-err));
		goto out;
	}
	guest_mem_mark_dirty(&vm->mem, *addr, st.st_size);
	*size = st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

static int boot_fill_e820(struct vm *vm, uint8_t *zp)
{
	struct e820_entry e820[BP_E820_MAX];
	int n = e820_build(vm->mem.total, e820, BP_E820_MAX);

	if (n < 0)
		return n;
	memcpy(zp + BP_E820_TABLE, e820, n * sizeof(e820[0]));
	zp[BP_E820_ENTRIES] = n;
	return 0;
}

/* What boot_linux64() needs to know of a kernel already in guest RAM. */
struct linux64_kernel {
	const uint8_t *hdr;     /* its setup header, from offset 0x1f1 */
	size_t hdrlen;
	uint64_t entry;         /* guest-physical entry: startup_64 */
	uint64_t end;           /* first guest-physical byte above it: initrd above */
	uint8_t loadflags;      /* more boot_params.hdr.loadflags (LOADFLAG_KASLR) */
};

/* Linux 64-bit boot protocol: boot_params, then enter at startup_64. */
static int boot_linux64(struct vm *vm, const struct linux64_kernel *k, char *why, size_t n)
{
	uint8_t *zp = guest_mem_hva(&vm->mem, BOOT_ZERO_PAGE_GPA, 4096);
	uint64_t rd_addr, rd_size, rd_max = 0x37ffffff, cmd_max = 256;
	int err;

	if (!zp)
		return -EFAULT;
	memset(zp, 0, 4096);
	memcpy(zp + BP_SETUP_SECTS, k->hdr, k->hdrlen);
	if (bp_get16(zp, BP_VERSION) >= 0x203)
		rd_max = bp_get32(zp, BP_INITRD_ADDR_MAX);
	if (bp_get16(zp, BP_VERSION) >= 0x206)
		cmd_max = bp_get32(zp, BP_CMDLINE_SIZE) + 1;
	err = boot_write_cmdline(vm, cmd_max, why, n);
	if (err)
		return err;
	err = boot_load_initrd(vm, MIN(rd_max + 1, GUEST_PCI_HOLE_START), k->end,
			       &rd_addr, &rd_size, why, n);
	if (err)
		return err;
	zp[BP_TYPE_OF_LOADER] = 0xff;
	/* KASLR_FLAG is the loader's to set, never the image's (misc.c clears it too). */
	zp[BP_LOADFLAGS] &= ~LOADFLAG_KASLR;
	zp[BP_LOADFLAGS] |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP | k->loadflags;
	bp_put16(zp, BP_HEAP_END_PTR, 0xfe00);
	bp_put32(zp, BP_CMD_LINE_PTR, BOOT_CMDLINE_GPA);
	bp_put32(zp, BP_RAMDISK_IMAGE, (uint32_t)rd_addr);
	bp_put32(zp, BP_RAMDISK_SIZE, (uint32_t)rd_size);
	bp_put32(zp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd_addr >> 32));
	bp_put32(zp, BP_EXT_RAMDISK_SIZE, (uint32_t)(rd_size >> 32));
	bp_put32(zp, BP_ACPI_RSDP_ADDR, (uint32_t)ACPI_TABLES_GPA);
	err = boot_fill_e820(vm, zp);
	if (err)
		return err;
	boot_set_entry(vm, true, k->entry, BOOT_ZERO_PAGE_GPA, 0);
	return boot_setup_tables(vm, true);
}

static void *bzimage_dst(struct vm *vm, uint64_t load, uint64_t size, char *why, size_t n)
{
	void *dst = guest_mem_hva(&vm->mem, load, size);

	if (!dst)
		snprintf(why, n, "the kernel needs %llu MiB at 0x%llx: give the VM more --memory",
			 (unsigned long long)((load + size) / MiB + 1), (unsigned long long)load);
	return dst;
}

/*
 * Today's bzImage path: the protected-mode code at `load`, entered at its
 * 64-bit entry (+0x200), decompresses, relocates and jumps to the kernel.
 */
static int boot_bzimage_guest(struct vm *vm, const uint8_t *buf, size_t len, uint64_t load,
			      struct linux64_kernel *k, char *why, size_t n)
{
	size_t setup = (size_t)(buf[BP_SETUP_SECTS] ? buf[BP_SETUP_SECTS] : 4) * 512 + 512;
	uint64_t init_size = MAX((uint64_t)bp_get32(buf, BP_INIT_SIZE), (uint64_t)(len - setup));
	uint8_t *dst = bzimage_dst(vm, load, init_size, why, n);

	if (!dst)
		return -ENOMEM;
	memcpy(dst, buf + setup, len - setup);
	k->entry = load + 0x200;
	k->end = load + init_size;
	return boot_linux64(vm, k, why, n);
}

/*
 * The virtual base the kernel runs at: random (KASLR_FLAG set, as the
 * decompressor's choose_random_location() does) unless the command line
 * says nokaslr or the kernel cannot be relocated.
 */
static uint64_t bzimage_kaslr(struct vm *vm, const struct kunpack_image *img,
			      uint8_t *loadflags)
{
	uint64_t virt = img->load_phys;
	int err;

	if (kunpack_cmdline_nokaslr(vm->cfg.cmdline))
		return virt;
	if (!img->relocatable) {
		log_info("boot: the kernel has no relocation table: it runs at its link address");
		return virt;
	}
	err = kunpack_kaslr_choose(img, &virt);
	if (err) {
		log_errno(-err, "boot: no random number for KASLR; the kernel runs at its "
			  "link address");
		return img->load_phys;
	}
	*loadflags |= LOADFLAG_KASLR;
	return virt;
}

/*
 * Where the payload is decompressed: in guest RAM KUNPACK_MIN_ALIGN below
 * the image, so that vmlinux.bin's first segment (2 MiB into the file)
 * lands in its place and the others only move down a little (what the
 * kernel's decompressor does in the guest).  No host buffer is faulted in,
 * copied and freed.  NULL when that RAM is not there.
 */
static uint8_t *bzimage_scratch(struct vm *vm, uint64_t load, uint64_t size)
{
	if (load < BOOT_HIGH_GPA + KUNPACK_MIN_ALIGN)
		return NULL;
	return guest_mem_hva(&vm->mem, load - KUNPACK_MIN_ALIGN, KUNPACK_MIN_ALIGN + size);
}

/*
 * After an unpack in place: the RAM the payload passed through (below the
 * image; after it, up to the end of the payload) goes back to the host and
 * reads as zeros, as if never touched.
 */
static void bzimage_scratch_drop(struct vm *vm, const struct kunpack_image *img,
				 uint8_t *scratch, uint8_t *dst)
{
	uint8_t *end = dst + img->image_size, *raw_end = scratch + img->raw_len;
	uint8_t *page = (uint8_t *)ALIGN_UP((uintptr_t)end, GUEST_PAGE_SIZE);

	guest_mem_discard(&vm->mem, scratch, (uint64_t)(dst - scratch));
	if (raw_end <= end)
		return;
	memset(end, 0, (size_t)(MIN(page, raw_end) - end));
	if (raw_end > page && guest_mem_discard(&vm->mem, page, (uint64_t)(raw_end - page)) == 0)
		memset(page, 0, (size_t)(raw_end - page));
}

/*
 * The payload into guest RAM below dst and moved into place (*scratch_used
 * set: bzimage_scratch_drop() once relocated); else through a host buffer.
 */
static int bzimage_unpack_to(struct vm *vm, const uint8_t *buf, size_t len,
			     struct kunpack_image *img, uint8_t *dst, uint64_t load,
			     uint8_t **scratch_used, char *why, size_t n)
{
	uint8_t *scratch = bzimage_scratch(vm, load, img->init_size);
	int err;

	*scratch_used = NULL;
	if (scratch) {
		err = kunpack_image_unpack(buf, len, img, scratch, KUNPACK_MIN_ALIGN + img->init_size,
					   why, n);
		if (!err)
			err = kunpack_image_load(img, dst, img->init_size, why, n);
		if (err != -EAGAIN) {
			*scratch_used = err ? NULL : scratch;
			return err;
		}
		log_debug("boot: %s: unpacking through a host buffer", why);
		guest_mem_discard(&vm->mem, scratch, KUNPACK_MIN_ALIGN + img->raw_len);
		kunpack_image_free(img);
		why[0] = '\0';
	}
	err = kunpack_image_unpack(buf, len, img, NULL, 0, why, n);
	return err ? err : kunpack_image_load(img, dst, img->init_size, why, n);
}

/*
 * The monitor unpacks: vmlinux's segments at `load` (physical placement
 * is free: startup_64 computes its own phys_base), relocated for a random
 * virtual base; fills in k's entry (startup_64), end and loadflags.
 */
static int bzimage_unpack(struct vm *vm, const uint8_t *buf, size_t len, uint64_t load,
			  struct linux64_kernel *k, char *why, size_t n)
{
	struct kunpack_image img;
	uint64_t virt, t0 = now_ns();
	uint8_t *dst, *scratch;
	int err = kunpack_image_header(buf, len, &img, why, n);

	if (err)
		return err;
	load = ALIGN_UP(load, img.align);       /* startup_64 needs 2 MiB alignment */
	if (load < BOOT_HIGH_GPA) {             /* wrapped: a hostile pref_address */
		snprintf(why, n, "pref_address is past the end of guest memory");
		return -EINVAL;
	}
	/* init_size bounds every segment (kunpack_image_unpack checks), so the image too. */
	dst = bzimage_dst(vm, load, img.init_size, why, n);
	if (!dst)
		return -ENOMEM;
	err = bzimage_unpack_to(vm, buf, len, &img, dst, load, &scratch, why, n);
	if (err)
		goto out;
	virt = bzimage_kaslr(vm, &img, &k->loadflags);
	err = kunpack_image_relocate(&img, dst, virt, why, n);
	if (scratch)            /* the relocation table was read from there */
		bzimage_scratch_drop(vm, &img, scratch, dst);
	if (err)
		goto out;
	k->entry = load + img.entry;
	k->end = load + img.init_size;
	log_info("boot: unpacked the %s kernel on the host in %.1f ms: %llu MiB at 0x%llx, "
		 "_text at 0x%llx", kunpack_comp_name(img.comp), (now_ns() - t0) / 1e6,
		 (unsigned long long)(img.image_size / MiB), (unsigned long long)load,
		 (unsigned long long)(KUNPACK_START_KERNEL_MAP + virt));
out:
	kunpack_image_free(&img);
	return err;
}

/* Host unpacking failed: say so, and whether the guest's decompressor could. */
static int bzimage_unpack_failed(int err, char *why, size_t n)
{
	char reason[256];

	snprintf(reason, sizeof(reason), "%s", why);
	snprintf(why, n, "cannot unpack the kernel on the host: %s%s", reason,
		 err == -ENOTSUP ? " (--kernel-unpack guest lets the kernel do it)" : "");
	return err;
}

static int boot_bzimage(struct vm *vm, const uint8_t *buf, size_t len, char *why, size_t n)
{
	struct linux64_kernel k = { .hdr = buf + BP_SETUP_SECTS };
	enum kunpack_comp comp;
	uint64_t load = BOOT_KERNEL_GPA;
	int err;

	k.hdrlen = 0x202 + buf[0x201] - BP_SETUP_SECTS;
	if (k.hdrlen > 4096 - BP_SETUP_SECTS || k.hdrlen > len - BP_SETUP_SECTS)
		k.hdrlen = BP_SETUP_HDR_END - BP_SETUP_SECTS;
	if (bp_get16(buf, BP_VERSION) >= 0x20a && bp_get64(buf, BP_PREF_ADDRESS) >= BOOT_HIGH_GPA)
		load = bp_get64(buf, BP_PREF_ADDRESS);
	if (vm->cfg.kernel_unpack == KERNEL_UNPACK_GUEST)
		return boot_bzimage_guest(vm, buf, len, load, &k, why, n);
	/* auto: a header or compression the host does not take is the guest's job. */
	err = kunpack_probe(buf, len, &comp, why, n);
	if (err && vm->cfg.kernel_unpack == KERNEL_UNPACK_AUTO) {
		log_info("boot: %s: the kernel unpacks itself (--kernel-unpack guest)", why);
		why[0] = '\0';
		return boot_bzimage_guest(vm, buf, len, load, &k, why, n);
	}
	if (!err)
		err = bzimage_unpack(vm, buf, len, load, &k, why, n);
	if (err)
		return bzimage_unpack_failed(err, why, n);
	return boot_linux64(vm, &k, why, n);
}

static int boot_elf64(struct vm *vm, const uint8_t *buf, size_t len, char *why, size_t n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
	uint8_t zp[BP_SETUP_HDR_END] = { 0 };
	uint64_t end;
	int err = elf_load(vm, buf, len, &end, why, n);

	if (err)
		return err;
	/* A vmlinux has no setup header: describe the loader's view of one. */
	bp_put16(zp, BP_BOOT_FLAG, 0xaa55);
	bp_put32(zp, BP_HEADER, BP_HDRS_MAGIC);
	bp_put16(zp, BP_VERSION, 0x20c);
	bp_put32(zp, BP_INITRD_ADDR_MAX, 0x7fffffff);
	bp_put32(zp, BP_CMDLINE_SIZE, BOOT_CMDLINE_MAX - 1);
	bp_put32(zp, BP_KERNEL_ALIGNMENT, 0x1000000);
	return boot_linux64(vm, &(struct linux64_kernel){ .hdr = zp + BP_SETUP_SECTS,
			    .hdrlen = sizeof(zp) - BP_SETUP_SECTS, .entry = eh->e_entry,
			    .end = end }, why, n);
}

static int boot_pvh(struct vm *vm, const uint8_t *buf, size_t len, char *why, size_t n)
{
	struct hvm_start_info si = { .magic = HVM_START_MAGIC, .version = 1 };
	struct hvm_modlist_entry mod = { 0 };
	struct hvm_memmap_entry mm[BP_E820_MAX];
	struct e820_entry e820[BP_E820_MAX];
	uint64_t end, rd_addr, rd_size, p = BOOT_START_INFO_GPA + sizeof(si);
	uint32_t entry = 0;
	int err, ne;

	err = elf_load(vm, buf, len, &end, why, n);
	if (!err)
		err = boot_write_cmdline(vm, BOOT_CMDLINE_MAX, why, n);
	if (!err)
		err = boot_load_initrd(vm, GUEST_PCI_HOLE_START, end, &rd_addr, &rd_size, why, n);
	if (err)
		return err;
	ne = e820_build(vm->mem.total, e820, BP_E820_MAX);
	if (ne < 0)
		return ne;
	for (int i = 0; i < ne; i++)
		mm[i] = (struct hvm_memmap_entry){ e820[i].addr, e820[i].size, e820[i].type, 0 };
	si.cmdline_paddr = BOOT_CMDLINE_GPA;
	si.rsdp_paddr = ACPI_TABLES_GPA;
	si.memmap_paddr = p;
	si.memmap_entries = ne;
	p += ne * sizeof(mm[0]);
	if (rd_size) {
		mod.paddr = rd_addr;
		mod.size = rd_size;
		si.nr_modules = 1;
		si.modlist_paddr = p;
		err = guest_mem_write(&vm->mem, p, &mod, sizeof(mod));
	}
	if (!err)
		err = guest_mem_write(&vm->mem, si.memmap_paddr, mm, ne * sizeof(mm[0]));
	if (!err)
		err = guest_mem_write(&vm->mem, BOOT_START_INFO_GPA, &si, sizeof(si));
	if (err)
		return err;
	(void)elf_pvh_entry(buf, len, &entry);
	boot_set_entry(vm, false, entry, 0, BOOT_START_INFO_GPA);
	return boot_setup_tables(vm, false);
}

int boot_load_image(struct vm *vm, const uint8_t *buf, size_t len, char *why, size_t n)
{
	enum kernel_kind kind;
	int err;

	why[0] = '\0';
	err = kernel_probe(buf, len, &kind, why, n);
	if (!err) {
		if (kind == KERNEL_BZIMAGE)
			err = boot_bzimage(vm, buf, len, why, n);
		else if (kind == KERNEL_ELF64)
			err = boot_elf64(vm, buf, len, why, n);
		else
			err = boot_pvh(vm, buf, len, why, n);
	}
	if (!err)
		err = boot_write_mptable(vm);
	if (!err)
		err = boot_write_acpi(vm);
	if (err && !why[0])
		snprintf(why, n, "cannot load the kernel: %s", strerror(-err));
	return err;
}

int boot_load(struct vm *vm, char *why, size_t n)
{
	void *buf;
	size_t len;
	int err;

	why[0] = '\0';
	err = load_file(vm->cfg.kernel, "kernel", KERNEL_MAX_SIZE, &buf, &len, why, n);
	if (err)
		return err;
	err = boot_load_image(vm, buf, len, why, n);
	free(buf);
	return err;
}
