// SPDX-License-Identifier: GPL-2.0-only
/*
 * kunpack-dump BZIMAGE OUT [VIRT_ADDR]: unpack a bzImage as `vireo run
 * --kernel-unpack host` does and write the laid-out, relocated image (from
 * LOAD_PHYSICAL_ADDR, image_size bytes) to OUT; print the PT_LOAD ranges
 * the kernel's decompressor writes ("segment OFFSET FILESZ", offsets from
 * the image start) so a test can compare them with that decompressor's
 * output (tests/integration/test_kernel_unpack.py).  VIRT_ADDR defaults to
 * LOAD_PHYSICAL_ADDR (no relocation: nokaslr).  A test tool, not installed.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/util.h"
#include "arch/x86/kunpack.h"

static int dump(const struct kunpack_image *img, uint64_t virt, const char *out)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img->raw;
	uint8_t *mem = calloc(1, img->image_size);
	char why[256];
	FILE *f;
	int err = mem ? 0 : 1;

	if (!err && (kunpack_image_load(img, mem, img->image_size, why, sizeof(why)) ||
		     kunpack_image_relocate(img, mem, virt, why, sizeof(why)))) {
		fprintf(stderr, "kunpack-dump: %s\n", why);
		err = 1;
	}
	f = err ? NULL : fopen(out, "we");
	if (!err && (!f || fwrite(mem, 1, img->image_size, f) != img->image_size)) {
		perror(out);
		err = 1;
	}
	if (f && fclose(f))
		err = 1;
	for (int i = 0; !err && i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(img->raw + eh->e_phoff) + i;
		if (ph->p_type == PT_LOAD)
			printf("segment 0x%llx 0x%llx\n",
			       (unsigned long long)(ph->p_paddr - img->load_phys),
			       (unsigned long long)ph->p_filesz);
	}
	free(mem);
	return err;
}

int main(int argc, char **argv)
{
	struct kunpack_image img;
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
	err = kunpack_image_open(buf, len, &img, why, sizeof(why));
	free(buf);
	if (err) {
		fprintf(stderr, "kunpack-dump: %s\n", why);
		return 1;
	}
	virt = argc == 4 ? strtoull(argv[3], NULL, 0) : img.load_phys;
	printf("comp %s\nload_phys 0x%llx\nimage_size 0x%llx\ntext_size 0x%llx\n"
	       "entry 0x%llx\nrelocatable %d\n", kunpack_comp_name(img.comp),
	       (unsigned long long)img.load_phys, (unsigned long long)img.image_size,
	       (unsigned long long)img.text_size, (unsigned long long)img.entry,
	       img.relocatable);
	err = dump(&img, virt, argv[2]);
	kunpack_image_free(&img);
	return err;
}
