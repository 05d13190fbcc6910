/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_ARCH_X86_KUNPACK_H
#define VIREO_ARCH_X86_KUNPACK_H

/*
 * Host-side unpacking of a bzImage: what the kernel's own decompressor
 * (arch/x86/boot/compressed/misc.c, Linux 6.1) does in the guest, done by
 * the monitor before the guest starts.
 *
 * The payload (setup header payload_offset/payload_length, boot protocol
 * 2.08+) decompresses to vmlinux.bin, the kernel ELF stripped by objcopy,
 * immediately followed by vmlinux.relocs (CONFIG_X86_NEED_RELOCS).  The
 * PT_LOAD segments are laid out as parse_elf() does, at
 * p_paddr - LOAD_PHYSICAL_ADDR from the image start; relocations are applied
 * as handle_relocations() does for a chosen virtual (KASLR) address.
 *
 * Everything here reads untrusted bytes: every bound is checked, and every
 * failure returns -errno with a one-line reason in `why`.  Not thread-safe
 * per image; separate images are independent.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"

/* Payload compressions, by their magic (lib/decompress.c compressed_formats). */
enum kunpack_comp {
	KUNPACK_GZIP,
	KUNPACK_BZIP2,
	KUNPACK_LZMA,
	KUNPACK_XZ,
	KUNPACK_LZO,
	KUNPACK_LZ4,
	KUNPACK_ZSTD,
};

#define KUNPACK_MAX_SIZE          (1 * GiB)   /* decompressed payload, hard cap */
#define KUNPACK_START_KERNEL_MAP  0xffffffff80000000ULL  /* __START_KERNEL_map */
#define KUNPACK_KERNEL_IMAGE_SIZE (1 * GiB)   /* KERNEL_IMAGE_SIZE with KASLR */
#define KUNPACK_MIN_ALIGN         (2 * MiB)   /* MIN_KERNEL_ALIGN on x86-64 */

/* A decompressed and checked kernel, ready to be laid out. */
struct kunpack_image {
	uint8_t *raw;           /* vmlinux.bin + vmlinux.relocs */
	bool raw_owned;         /* malloc'd by kunpack_image_unpack(), else the caller's */
	size_t raw_len;
	size_t elf_end;         /* end of vmlinux.bin's headers and segments in raw */
	uint64_t load_phys;     /* LOAD_PHYSICAL_ADDR: the lowest PT_LOAD p_paddr */
	uint64_t image_size;    /* _end - _text: bytes the segments span */
	uint64_t text_size;     /* __bss_start - _text: relocations point below */
	uint64_t entry;         /* startup_64 - _text (e_entry - LOAD_PHYSICAL_ADDR) */
	uint64_t align;         /* kernel_alignment (CONFIG_PHYSICAL_ALIGN) */
	uint64_t init_size;     /* the setup header's bound on the whole image */
	bool relocatable;       /* relocatable_kernel, and vmlinux.relocs follows */
	enum kunpack_comp comp;
};

/* "gzip", "lz4", ... for log lines. */
const char *kunpack_comp_name(enum kunpack_comp comp);

/*
 * Check the setup header of the bzImage buf (len bytes, already accepted by
 * kernel_probe()) and identify its payload's compression.  Returns 0, or
 * -ENOTSUP when the monitor cannot unpack this kernel (boot protocol before
 * 2.08, a compression without a host library, an unknown magic): the guest's
 * own decompressor still can; -ENOEXEC for a payload outside the file.
 */
int kunpack_probe(const uint8_t *buf, size_t len, enum kunpack_comp *comp,
		  char *why, size_t whylen) WUR;

/*
 * Decompress `in` (in_len bytes, without the 4-byte size trailer the kernel
 * build appends to all but gzip) into exactly out_len bytes at out.
 * Returns 0, or -EINVAL for a malformed or truncated stream or one whose
 * size is not out_len, -ENOTSUP for a compression without a host library.
 */
int kunpack_decompress(enum kunpack_comp comp, const uint8_t *in, size_t in_len,
		       uint8_t *out, size_t out_len, char *why, size_t whylen) WUR;

/*
 * Read the setup header of buf into *img (compression, init_size,
 * kernel_alignment, relocatable), decompressing nothing yet.  Errors: as
 * kunpack_probe(), -EINVAL for a bad kernel_alignment.
 */
int kunpack_image_header(const uint8_t *buf, size_t len, struct kunpack_image *img,
			 char *why, size_t whylen) WUR;

/*
 * Decompress the payload of buf (after kunpack_image_header()) and check the
 * ELF in it: x86-64, segments inside init_size, entry inside a segment.  The
 * output goes to scratch (scratch_len >= init_size bytes; the caller's, for
 * an unpack in place: see kunpack_image_load()) or, with scratch NULL, to a
 * buffer *img owns.  Either way kunpack_image_free() ends it.  Errors:
 * -EINVAL for a bad payload or ELF, -ENOMEM.
 */
int kunpack_image_unpack(const uint8_t *buf, size_t len, struct kunpack_image *img,
			 uint8_t *scratch, size_t scratch_len, char *why, size_t whylen) WUR;

/* kunpack_image_header() and kunpack_image_unpack() into an owned buffer. */
int kunpack_image_open(const uint8_t *buf, size_t len, struct kunpack_image *img,
		       char *why, size_t whylen) WUR;
void kunpack_image_free(struct kunpack_image *img);

/*
 * Lay the PT_LOAD segments out at dst (the image start, LOAD_PHYSICAL_ADDR's
 * place; dst_len >= img->image_size) and zero each one's bss.  Returns 0 or
 * -EINVAL.
 *
 * When the payload was unpacked into the caller's scratch memory, the
 * segments move within it as the kernel's own parse_elf() moves them: each
 * down to its place, in file order, and the bytes of the image no segment
 * covers are zeroed.  That needs each segment to move down (or stay) and
 * neither it nor its bss to reach the file data of a later segment or the
 * relocation table; vmlinux.bin placed KUNPACK_MIN_ALIGN below dst is so
 * laid out (its first segment starts 2 MiB into the file).  Otherwise
 * -EAGAIN, with dst and the scratch memory untouched: unpack into an owned
 * buffer instead.
 */
int kunpack_image_load(const struct kunpack_image *img, uint8_t *dst, size_t dst_len,
		       char *why, size_t whylen) WUR;

/*
 * Apply the relocation table to the loaded image at dst (as loaded by
 * kunpack_image_load()) for the kernel linked at LOAD_PHYSICAL_ADDR to run
 * at virtual __START_KERNEL_map + virt_addr.  Every target must lie in
 * [_text, __bss_start); returns 0 or -EINVAL on the first one that does not
 * (dst is then partly relocated and must not be run).
 */
int kunpack_image_relocate(const struct kunpack_image *img, uint8_t *dst,
			   uint64_t virt_addr, char *why, size_t whylen) WUR;

/*
 * KASLR, virtual side (choose_random_location/find_random_virt_addr): slot
 * `random % slots` of the kernel_alignment-aligned addresses in
 * [LOAD_PHYSICAL_ADDR, KERNEL_IMAGE_SIZE - needed size].  Pure function.
 */
uint64_t kunpack_kaslr_pick(const struct kunpack_image *img, uint64_t random);

/* The same with getrandom(2); returns 0 or -errno (then *virt_addr is unset). */
int kunpack_kaslr_choose(const struct kunpack_image *img, uint64_t *virt_addr) WUR;

/* Whether the kernel command line (may be NULL) holds the word "nokaslr". */
bool kunpack_cmdline_nokaslr(const char *cmdline);

#endif
