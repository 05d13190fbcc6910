// SPDX-License-Identifier: GPL-2.0-only
/*
 * kunpack-dump BZIMAGE OUT [VIRT_ADDR]: unpack a bzImage as `vireo run
 * --kernel-unpack host` does and write the laid-out, relocated image (from
 * LOAD_PHYSICAL_ADDR, image_size bytes) to OUT; print the PT_LOAD ranges
 * the kernel's decompressor writes ("segment OFFSET FILESZ", offsets from
 * the image start) so a test can compare them with that decompressor's
 * output (tests/integration/test_kernel_unpack.py), and "in_place yes" when
 * the segments were moved within the RAM the payload was unpacked to.  VIRT_ADDR defaults to
 * LOAD_PHYSICAL_ADDR (no relocation: nokaslr).  A test tool, not installed.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/util.h"
#include "arch/x86/kunpack.h"

/* The PT_LOAD ranges, read before an unpack in place overwrites the headers. */
static void print_segments(const struct kunpack_image *img)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(img->raw + eh->e_phoff) + i;
		if (ph->p_type == PT_LOAD)
			printf("segment 0x%llx 0x%llx\n",
			       (unsigned long long)(ph->p_paddr - img->load_phys),
			       (unsigned long long)ph->p_filesz);
	}
}

static int write_out(const char *out, const uint8_t *mem, size_t len)
{
	FILE *f = fopen(out, "we");
	int err = !f || fwrite(mem, 1, len, f) != len;

	if (f && fclose(f))
		err = 1;
	if (err)
		perror(out);
	return err;
}

/*
 * As the monitor does (src/arch/x86/boot.c): the payload decompressed
 * KUNPACK_MIN_ALIGN below the image and the segments moved into place;
 * through an owned buffer if the layout does not allow that.
 */
static int unpack(const uint8_t *buf, size_t len, uint8_t **mem, uint8_t **dst,
		  struct kunpack_image *img, char *why, size_t n)
{
	int err = kunpack_image_header(buf, len, img, why, n);

	if (err)
		return err;
	*mem = calloc(1, KUNPACK_MIN_ALIGN + img->init_size);
	*dst = *mem + KUNPACK_MIN_ALIGN;
	if (!*mem)
		return -ENOMEM;
	err = kunpack_image_unpack(buf, len, img, *mem, KUNPACK_MIN_ALIGN + img->init_size, why, n);
	if (err)
		return err;
	print_segments(img);
	err = kunpack_image_load(img, *dst, img->init_size, why, n);
	printf("in_place %s\n", err == -EAGAIN ? "no" : "yes");
	if (err != -EAGAIN)
		return err;
	memset(*mem, 0, KUNPACK_MIN_ALIGN + img->init_size);
	kunpack_image_free(img);
	err = kunpack_image_open(buf, len, img, why, n);
	return err ? err : kunpack_image_load(img, *dst, img->init_size, why, n);
}

int main(int argc, char **argv)
{
	struct kunpack_image img = { 0 };
	uint8_t *mem = NULL, *dst = NULL;
	uint64_t virt;
	char why[256];
	void *buf;
	size_t len;
	int err;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: kunpack-dump BZIMAGE OUT [VIRT_ADDR]\n");
		return 2;
	}
	if (read_file(argv[1], 512 * MiB, &buf, &len)) {
		perror(argv[1]);
		return 1;
	}
	err = unpack(buf, len, &mem, &dst, &img, why, sizeof(why));
	free(buf);
	if (!err) {
		virt = argc == 4 ? strtoull(argv[3], NULL, 0) : img.load_phys;
		err = kunpack_image_relocate(&img, dst, virt, why, sizeof(why));
	}
	if (err) {
		fprintf(stderr, "kunpack-dump: %s\n", why);
		kunpack_image_free(&img);
		free(mem);
		return 1;
	}
	printf("comp %s\nload_phys 0x%llx\nimage_size 0x%llx\ntext_size 0x%llx\n"
	       "entry 0x%llx\nrelocatable %d\n", kunpack_comp_name(img.comp),
	       (unsigned long long)img.load_phys, (unsigned long long)img.image_size,
	       (unsigned long long)img.text_size, (unsigned long long)img.entry,
	       img.relocatable);
	err = write_out(argv[2], dst, img.image_size);
	kunpack_image_free(&img);
	free(mem);
	return err;
}
