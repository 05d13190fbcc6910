// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host-side bzImage unpacking (see kunpack.h): setup header, payload,
 * vmlinux.bin ELF, relocations and the virtual KASLR choice, as the kernel's
 * decompressor does them (arch/x86/boot/compressed/misc.c and kaslr.c,
 * Linux 6.1; Documentation/arch/x86/boot.rst for the header fields).
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "arch/x86/bootparam.h"
#include "arch/x86/kunpack.h"

static const struct {
	uint8_t magic[2];
	enum kunpack_comp comp;
	const char *name;
} kunpack_formats[] = {
	{ { 0x1f, 0x8b }, KUNPACK_GZIP, "gzip" },
	{ { 0x1f, 0x9e }, KUNPACK_GZIP, "gzip" },
	{ { 0x42, 0x5a }, KUNPACK_BZIP2, "bzip2" },
	{ { 0x5d, 0x00 }, KUNPACK_LZMA, "lzma" },
	{ { 0xfd, 0x37 }, KUNPACK_XZ, "xz" },
	{ { 0x89, 0x4c }, KUNPACK_LZO, "lzo" },
	{ { 0x02, 0x21 }, KUNPACK_LZ4, "lz4" },
	{ { 0x28, 0xb5 }, KUNPACK_ZSTD, "zstd" },
};

const char *kunpack_comp_name(enum kunpack_comp comp)
{
	for (size_t i = 0; i < ARRAY_SIZE(kunpack_formats); i++)
		if (kunpack_formats[i].comp == comp)
			return kunpack_formats[i].name;
	return "unknown";
}

static size_t setup_size(const uint8_t *buf)
{
	return (size_t)(buf[BP_SETUP_SECTS] ? buf[BP_SETUP_SECTS] : 4) * 512 + 512;
}

/* The payload's place in buf; kernel_probe() has checked the header exists. */
static int payload_range(const uint8_t *buf, size_t len, size_t *off, size_t *plen,
			 char *why, size_t n)
{
	uint16_t version = bp_get16(buf, BP_VERSION);
	uint64_t start = (uint64_t)setup_size(buf) + bp_get32(buf, BP_PAYLOAD_OFFSET);
	uint32_t size = bp_get32(buf, BP_PAYLOAD_LENGTH);

	if (version < 0x208) {
		snprintf(why, n, "boot protocol %u.%02u has no payload fields (need 2.08+)",
			 version >> 8, version & 0xff);
		return -ENOTSUP;
	}
	if (start > len || size > len - start || size < 8) {
		snprintf(why, n, "the payload (offset 0x%llx, %u bytes) lies outside the "
			 "%zu-byte bzImage", (unsigned long long)start, size, len);
		return -ENOEXEC;
	}
	*off = start;
	*plen = size;
	return 0;
}

int kunpack_probe(const uint8_t *buf, size_t len, enum kunpack_comp *comp,
		  char *why, size_t n)
{
	size_t off, plen;
	int err = payload_range(buf, len, &off, &plen, why, n);

	if (err)
		return err;
	for (size_t i = 0; i < ARRAY_SIZE(kunpack_formats); i++) {
		if (memcmp(buf + off, kunpack_formats[i].magic, 2))
			continue;
		*comp = kunpack_formats[i].comp;
		if (*comp == KUNPACK_BZIP2 || *comp == KUNPACK_LZO) {
			snprintf(why, n, "the payload is %s-compressed; the host unpacks gzip, "
				 "lzma, xz, lz4 and zstd", kunpack_formats[i].name);
			return -ENOTSUP;
		}
		return 0;
	}
	snprintf(why, n, "unknown payload compression (magic %02x %02x)",
		 buf[off], buf[off + 1]);
	return -ENOTSUP;
}

/* Decompress the payload into img->raw (size from the payload's trailer). */
static int payload_unpack(const uint8_t *buf, size_t len, struct kunpack_image *img,
			  uint8_t *scratch, size_t scratch_len, char *why, size_t n)
{
	size_t off, plen, out_len;
	int err = payload_range(buf, len, &off, &plen, why, n);

	if (err)
		return err;
	/* Every format's last 4 bytes are the decompressed size (mkpiggy.c). */
	out_len = bp_get32(buf, off + plen - 4);
	if (out_len > img->init_size || out_len > KUNPACK_MAX_SIZE || out_len < sizeof(Elf64_Ehdr)) {
		snprintf(why, n, "the payload claims to decompress to %zu bytes; the kernel's "
			 "init_size is %llu (and the limit 1 GiB)", out_len,
			 (unsigned long long)img->init_size);
		return -EINVAL;
	}
	if (scratch && out_len > scratch_len) {
		snprintf(why, n, "the payload decompresses to %zu bytes; %zu were set aside",
			 out_len, scratch_len);
		return -ENOMEM;
	}
	img->raw_owned = !scratch;
	img->raw = scratch ? scratch : malloc(out_len);
	if (!img->raw) {
		snprintf(why, n, "cannot allocate %zu MiB to unpack the kernel",
			 (size_t)(out_len / MiB));
		return -ENOMEM;
	}
	img->raw_len = out_len;
	/* gzip has no appended size: its own trailer (ISIZE) is the one. */
	if (img->comp != KUNPACK_GZIP)
		plen -= 4;
	return kunpack_decompress(img->comp, buf + off, plen, img->raw, out_len, why, n);
}

static const Elf64_Phdr *elf_phdr(const struct kunpack_image *img, int i)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;

	return (const Elf64_Phdr *)(img->raw + eh->e_phoff) + i;
}

static int elf_check_header(struct kunpack_image *img, char *why, size_t n)
{
	Elf64_Ehdr eh;

	memcpy(&eh, img->raw, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
		snprintf(why, n, "the decompressed kernel is not an ELF file");
		return -EINVAL;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		snprintf(why, n, "the decompressed kernel is not an x86-64 ELF");
		return -EINVAL;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phoff % 8 || eh.e_phoff > img->raw_len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > img->raw_len - eh.e_phoff) {
		snprintf(why, n, "the decompressed kernel's ELF program headers are malformed");
		return -EINVAL;
	}
	img->elf_end = eh.e_phoff + (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
	return 0;
}

/* LOAD_PHYSICAL_ADDR: the lowest PT_LOAD p_paddr; also checks file ranges. */
static int elf_find_base(struct kunpack_image *img, char *why, size_t n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;
	uint64_t base = UINT64_MAX;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(img, i);

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_offset > img->raw_len || ph->p_filesz > img->raw_len - ph->p_offset ||
		    ph->p_filesz > ph->p_memsz) {
			snprintf(why, n, "kernel ELF segment %d lies outside the decompressed "
				 "payload", i);
			return -EINVAL;
		}
		if (ph->p_align % KUNPACK_MIN_ALIGN) {
			snprintf(why, n, "kernel ELF segment %d is not 2 MiB aligned", i);
			return -EINVAL;
		}
		base = MIN(base, ph->p_paddr);
		img->elf_end = MAX(img->elf_end, (size_t)(ph->p_offset + ph->p_filesz));
	}
	if (base == UINT64_MAX || base % KUNPACK_MIN_ALIGN || base >= KUNPACK_KERNEL_IMAGE_SIZE) {
		snprintf(why, n, base == UINT64_MAX ? "the kernel ELF has no PT_LOAD segment" :
			 "the kernel ELF's load address is not a 2 MiB aligned address below 1 GiB");
		return -EINVAL;
	}
	img->load_phys = base;
	return 0;
}

/* Every segment lies inside init_size; _text is at __START_KERNEL_map + base. */
static int elf_check_segments(struct kunpack_image *img, char *why, size_t n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;
	bool text_found = false;

	img->image_size = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(img, i);
		uint64_t off = ph->p_paddr - img->load_phys;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_memsz > img->init_size || off > img->init_size - ph->p_memsz) {
			snprintf(why, n, "kernel ELF segment %d (0x%llx+0x%llx) lies outside "
				 "init_size (0x%llx)", i, (unsigned long long)ph->p_paddr,
				 (unsigned long long)ph->p_memsz,
				 (unsigned long long)img->init_size);
			return -EINVAL;
		}
		img->image_size = MAX(img->image_size, off + ph->p_memsz);
		if (off == 0 && ph->p_vaddr == KUNPACK_START_KERNEL_MAP + img->load_phys)
			text_found = true;
	}
	if (!text_found) {
		snprintf(why, n, "the kernel ELF is not linked at __START_KERNEL_map "
			 "(0x%llx) + its load address", KUNPACK_START_KERNEL_MAP);
		return -EINVAL;
	}
	return 0;
}

/* startup_64 lies in a segment's file data. */
static int elf_check_entry(struct kunpack_image *img, char *why, size_t n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;

	img->entry = eh->e_entry - img->load_phys;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(img, i);

		if (ph->p_type == PT_LOAD && eh->e_entry >= ph->p_paddr &&
		    eh->e_entry - ph->p_paddr < ph->p_filesz)
			return 0;
	}
	snprintf(why, n, "the kernel ELF's entry point 0x%llx lies outside its segments",
		 (unsigned long long)eh->e_entry);
	return -EINVAL;
}

/*
 * __bss_start from the ".bss" section header, which objcopy keeps in
 * vmlinux.bin; without one, relocations may point anywhere in the image.
 */
static void elf_find_bss(struct kunpack_image *img)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;
	uint64_t text = KUNPACK_START_KERNEL_MAP + img->load_phys;
	const Elf64_Shdr *sh, *strtab;
	size_t nsh = eh->e_shnum;

	img->text_size = img->image_size;
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff % 8 || nsh == 0 ||
	    eh->e_shoff > img->raw_len || nsh > (img->raw_len - eh->e_shoff) / sizeof(*sh) ||
	    eh->e_shstrndx >= nsh)
		return;
	sh = (const Elf64_Shdr *)(img->raw + eh->e_shoff);
	img->elf_end = MAX(img->elf_end, (size_t)(eh->e_shoff + nsh * sizeof(*sh)));
	strtab = &sh[eh->e_shstrndx];
	if (strtab->sh_offset > img->raw_len || strtab->sh_size > img->raw_len - strtab->sh_offset)
		return;
	for (size_t i = 0; i < nsh; i++) {
		if (sh[i].sh_name >= strtab->sh_size || strtab->sh_size - sh[i].sh_name < 5 ||
		    memcmp(img->raw + strtab->sh_offset + sh[i].sh_name, ".bss", 5))
			continue;
		if (sh[i].sh_addr >= text && sh[i].sh_addr - text <= img->image_size)
			img->text_size = sh[i].sh_addr - text;
		return;
	}
}

static int elf_parse(struct kunpack_image *img, char *why, size_t n)
{
	int err = elf_check_header(img, why, n);

	if (!err)
		err = elf_find_base(img, why, n);
	if (!err)
		err = elf_check_segments(img, why, n);
	if (!err)
		err = elf_check_entry(img, why, n);
	if (err)
		return err;
	elf_find_bss(img);
	/*
	 * vmlinux.bin ends with its section headers; anything after them is
	 * vmlinux.relocs.  x86-64 has one only with CONFIG_RANDOMIZE_BASE
	 * (X86_NEED_RELOCS); without it the kernel runs at its link address.
	 */
	img->relocatable = img->relocatable && img->raw_len > img->elf_end;
	return 0;
}

static int header_check(const uint8_t *buf, struct kunpack_image *img, char *why, size_t n)
{
	img->init_size = bp_get32(buf, BP_INIT_SIZE);
	img->align = bp_get32(buf, BP_KERNEL_ALIGNMENT);
	img->relocatable = buf[BP_RELOCATABLE_KERNEL] != 0;
	if (img->align < KUNPACK_MIN_ALIGN || img->align > KUNPACK_KERNEL_IMAGE_SIZE ||
	    (img->align & (img->align - 1))) {
		snprintf(why, n, "kernel_alignment 0x%llx is not a power of two from 2 MiB "
			 "to 1 GiB", (unsigned long long)img->align);
		return -EINVAL;
	}
	return 0;
}

int kunpack_image_header(const uint8_t *buf, size_t len, struct kunpack_image *img,
			 char *why, size_t n)
{
	int err;

	memset(img, 0, sizeof(*img));
	err = kunpack_probe(buf, len, &img->comp, why, n);
	if (!err)
		err = header_check(buf, img, why, n);
	return err;
}

int kunpack_image_unpack(const uint8_t *buf, size_t len, struct kunpack_image *img,
			 uint8_t *scratch, size_t scratch_len, char *why, size_t n)
{
	int err = payload_unpack(buf, len, img, scratch, scratch_len, why, n);

	if (!err)
		err = elf_parse(img, why, n);
	if (err)
		kunpack_image_free(img);
	return err;
}

int kunpack_image_open(const uint8_t *buf, size_t len, struct kunpack_image *img,
		       char *why, size_t n)
{
	int err = kunpack_image_header(buf, len, img, why, n);

	return err ? err : kunpack_image_unpack(buf, len, img, NULL, 0, why, n);
}

void kunpack_image_free(struct kunpack_image *img)
{
	if (img->raw_owned)
		free(img->raw);
	img->raw = NULL;
	img->raw_owned = false;
	img->raw_len = 0;
}

#define KUNPACK_MAX_SEGS 16

/* The PT_LOAD headers, copied out of raw (which an unpack in place overwrites). */
static int load_segments(const struct kunpack_image *img, Elf64_Phdr *seg)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;
	int nseg = 0;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(img, i);

		if (ph->p_type != PT_LOAD)
			continue;
		if (nseg == KUNPACK_MAX_SEGS)
			return -1;
		seg[nseg++] = *ph;
	}
	return nseg;
}

/* Insertion sort of the few segments by file offset (by_offset) or p_paddr. */
static void sort_segments(Elf64_Phdr *seg, int nseg, bool by_offset)
{
	for (int i = 1; i < nseg; i++) {
		Elf64_Phdr t = seg[i];
		int j = i;

		for (; j > 0 && (by_offset ? seg[j - 1].p_offset > t.p_offset :
				 seg[j - 1].p_paddr > t.p_paddr); j--)
			seg[j] = seg[j - 1];
		seg[j] = t;
	}
}

/* Whether seg[] (sorted by file offset) can move within raw to dst; see kunpack.h. */
static bool in_place_ok(const struct kunpack_image *img, const uint8_t *dst,
			const Elf64_Phdr *seg, int nseg)
{
	uintptr_t raw = (uintptr_t)img->raw, to = (uintptr_t)dst;
	/* vmlinux.relocs is read after the move; raw_len when there is none. */
	uintptr_t table = raw + (img->relocatable ? img->elf_end : img->raw_len);

	for (int i = 0; i < nseg; i++) {
		uintptr_t d = to + (seg[i].p_paddr - img->load_phys), s = raw + seg[i].p_offset;
		uintptr_t end = d + seg[i].p_memsz;

		if (d > s || end > table)
			return false;
		for (int j = i + 1; j < nseg; j++)
			if (end > raw + seg[j].p_offset)
				return false;
		for (int j = 0; j < nseg; j++) {
			uintptr_t dj = to + (seg[j].p_paddr - img->load_phys);

			if (j != i && d < dj + seg[j].p_memsz && dj < end)
				return false;        /* two segments' places overlap */
		}
	}
	return true;
}

/* The segments move down in file order; then the gaps between their places are zeroed. */
static int load_in_place(const struct kunpack_image *img, uint8_t *dst, char *why, size_t n)
{
	Elf64_Phdr seg[KUNPACK_MAX_SEGS];
	int nseg = load_segments(img, seg);
	uint64_t at = 0;

	if (nseg < 0)
		return -EAGAIN;
	sort_segments(seg, nseg, true);
	if (!in_place_ok(img, dst, seg, nseg)) {
		snprintf(why, n, "the kernel ELF's segments cannot move in place");
		return -EAGAIN;
	}
	for (int i = 0; i < nseg; i++) {
		uint8_t *d = dst + (seg[i].p_paddr - img->load_phys);

		if (d != img->raw + seg[i].p_offset)
			memmove(d, img->raw + seg[i].p_offset, seg[i].p_filesz);
		memset(d + seg[i].p_filesz, 0, seg[i].p_memsz - seg[i].p_filesz);
	}
	sort_segments(seg, nseg, false);
	for (int i = 0; i < nseg; i++) {
		uint64_t off = seg[i].p_paddr - img->load_phys;

		if (off > at)
			memset(dst + at, 0, off - at);
		at = MAX(at, off + seg[i].p_memsz);
	}
	return 0;
}

int kunpack_image_load(const struct kunpack_image *img, uint8_t *dst, size_t dst_len,
		       char *why, size_t n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;

	if (dst_len < img->image_size) {
		snprintf(why, n, "the kernel image needs %llu bytes, %zu given",
			 (unsigned long long)img->image_size, dst_len);
		return -EINVAL;
	}
	if (!img->raw_owned)
		return load_in_place(img, dst, why, n);
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf_phdr(img, i);
		uint8_t *seg;

		if (ph->p_type != PT_LOAD)
			continue;
		seg = dst + (ph->p_paddr - img->load_phys);   /* checked by elf_parse() */
		memcpy(seg, img->raw + ph->p_offset, ph->p_filesz);
		memset(seg + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	}
	return 0;
}

/*
 * One run of the table, read backwards from *pos down to its 0 terminator.
 * width 4 or 8; sign -1 for the inverse 32-bit relocations.  Each entry is
 * a kernel virtual address truncated to 32 bits and sign-extended.
 */
static int reloc_run(const struct kunpack_image *img, uint8_t *dst, size_t *pos,
		     unsigned width, int sign, uint64_t delta, char *why, size_t n)
{
	uint64_t text = KUNPACK_START_KERNEL_MAP + img->load_phys;
	const char *kind = width == 8 ? "64-bit" : sign < 0 ? "inverse 32-bit" : "32-bit";

	for (;;) {
		int32_t entry;
		uint64_t off;

		if (*pos < img->elf_end + 4) {
			snprintf(why, n, "the kernel's relocation table has no end (%s run)", kind);
			return -EINVAL;
		}
		*pos -= 4;
		memcpy(&entry, img->raw + *pos, 4);
		if (!entry)
			return 0;
		off = (uint64_t)(int64_t)entry - text;
		if (off >= img->text_size || img->text_size - off < width) {
			snprintf(why, n, "%s relocation at 0x%llx lies outside the kernel image "
				 "(0x%llx+0x%llx)", kind,
				 (unsigned long long)(uint64_t)(int64_t)entry,
				 (unsigned long long)text, (unsigned long long)img->text_size);
			return -EINVAL;
		}
		if (width == 8) {
			uint64_t v;
			memcpy(&v, dst + off, 8);
			v += delta;
			memcpy(dst + off, &v, 8);
		} else {
			uint32_t v;
			memcpy(&v, dst + off, 4);
			v = sign < 0 ? v - (uint32_t)delta : v + (uint32_t)delta;
			memcpy(dst + off, &v, 4);
		}
	}
}

int kunpack_image_relocate(const struct kunpack_image *img, uint8_t *dst,
			   uint64_t virt_addr, char *why, size_t n)
{
	uint64_t delta = virt_addr - img->load_phys;
	size_t pos = img->raw_len;
	int err;

	if (!img->relocatable) {
		if (!delta)
			return 0;
		snprintf(why, n, "the kernel is not relocatable");
		return -EINVAL;
	}
	/* Format (misc.c): 32-bit, 0, inverse 32-bit, 0, 64-bit, 0, from the end. */
	err = reloc_run(img, dst, &pos, 4, 1, delta, why, n);
	if (!err)
		err = reloc_run(img, dst, &pos, 4, -1, delta, why, n);
	if (!err)
		err = reloc_run(img, dst, &pos, 8, 1, delta, why, n);
	return err;
}

uint64_t kunpack_kaslr_pick(const struct kunpack_image *img, uint64_t random)
{
	/* extract_kernel(): the larger of vmlinux + relocs and _end - _text. */
	uint64_t needed = ALIGN_UP(MAX((uint64_t)img->raw_len, img->image_size),
				   KUNPACK_MIN_ALIGN);
	uint64_t slots;

	if (img->load_phys + needed > KUNPACK_KERNEL_IMAGE_SIZE)
		return img->load_phys;
	slots = 1 + (KUNPACK_KERNEL_IMAGE_SIZE - img->load_phys - needed) / img->align;
	return img->load_phys + (random % slots) * img->align;
}

int kunpack_kaslr_choose(const struct kunpack_image *img, uint64_t *virt_addr)
{
	uint64_t random;
	ssize_t r;

	do
		r = getrandom(&random, sizeof(random), 0);
	while (r < 0 && errno == EINTR);
	if (r != sizeof(random))
		return r < 0 ? -errno : -EIO;
	*virt_addr = kunpack_kaslr_pick(img, random);
	return 0;
}

bool kunpack_cmdline_nokaslr(const char *cmdline)
{
	const char *p = cmdline;

	while (p && *p) {
		size_t len;

		p += strspn(p, " \t\n");
		len = strcspn(p, " \t\n");
		if (len == 7 && !memcmp(p, "nokaslr", 7))
			return true;
		p += len;
	}
	return false;
}
