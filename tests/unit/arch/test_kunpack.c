// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of host-side bzImage unpacking (src/arch/x86/kunpack.c): a
 * synthetic vmlinux.bin (one PT_LOAD, a .bss section header) and
 * vmlinux.relocs with each kind of relocation, compressed by the real
 * libraries into a synthetic bzImage; then hostile variants of each part.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "vireo/boot.h"
#include "arch/x86/bootparam.h"
#include "arch/x86/kunpack.h"
#include "../fake_accel.h"

/* The synthetic kernel: linked at 16 MiB like Debian's. */
#define T_LOAD      0x1000000ULL
#define T_TEXT      (KUNPACK_START_KERNEL_MAP + T_LOAD)
#define T_SEG_OFF   0x200       /* segment data in vmlinux.bin */
#define T_FILESZ    0x1000
#define T_MEMSZ     0x3000
#define T_BSS       0x2000      /* __bss_start - _text */
#define T_ENTRY     0x10
#define T_R32       0x100       /* where each relocation kind points */
#define T_RINV      0x200
#define T_R64       0x300
#define T_INV_VAL   0x12345678
#define T_INIT_SIZE 0x400000
#define T_SETUP     1024        /* setup_sects = 1 */
#define T_POFF      0x40        /* payload_offset */
#define T_MAX       (1 << 20)

struct tkernel {
	uint8_t raw[0x4000];      /* vmlinux.bin + vmlinux.relocs */
	size_t raw_len;
	size_t relocs_off;        /* where vmlinux.relocs starts */
};

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/*
 * vmlinux.bin: ELF header, one PT_LOAD, segment data, .shstrtab, then the
 * section headers (null, .text, .bss, .shstrtab) last, as objcopy leaves them.
 */
static size_t build_elf(uint8_t *b)
{
	static const char shstr[] = "\0.text\0.bss\0.shstrtab";
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(*eh));
	size_t str_off = T_SEG_OFF + T_FILESZ, sh_off = ALIGN_UP(str_off + sizeof(shstr), 8);
	Elf64_Shdr *sh = (Elf64_Shdr *)(b + sh_off);
	uint8_t *seg = b + T_SEG_OFF;

	memset(b, 0, sh_off + 4 * sizeof(*sh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_entry = T_LOAD + T_ENTRY;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	eh->e_shoff = sh_off;
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = 4;
	eh->e_shstrndx = 3;
	*ph = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = T_SEG_OFF, .p_vaddr = T_TEXT,
			    .p_paddr = T_LOAD, .p_filesz = T_FILESZ, .p_memsz = T_MEMSZ,
			    .p_align = 0x200000 };
	for (int i = 0; i < T_FILESZ; i++)
		seg[i] = (uint8_t)(i * 7 + 1);
	put32(seg + T_R32, (uint32_t)(T_TEXT + 0x80));
	put32(seg + T_RINV, T_INV_VAL);
	put64(seg + T_R64, T_TEXT + 0x888);
	memcpy(b + str_off, shstr, sizeof(shstr));
	sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_PROGBITS, .sh_addr = T_TEXT,
			      .sh_offset = T_SEG_OFF, .sh_size = T_FILESZ };
	sh[2] = (Elf64_Shdr){ .sh_name = 7, .sh_type = SHT_NOBITS, .sh_addr = T_TEXT + T_BSS,
			      .sh_size = T_MEMSZ - T_BSS };
	sh[3] = (Elf64_Shdr){ .sh_name = 12, .sh_type = SHT_STRTAB, .sh_offset = str_off,
			      .sh_size = sizeof(shstr) };
	return sh_off + 4 * sizeof(*sh);
}

/* vmlinux.relocs after the ELF: 0, 64-bit..., 0, inverse 32-bit..., 0, 32-bit... */
static void build_kernel(struct tkernel *k, const uint32_t *r64, int n64, const uint32_t *rinv,
			 int ninv, const uint32_t *r32, int n32)
{
	size_t p = build_elf(k->raw);

	k->relocs_off = p;
	put32(k->raw + p, 0), p += 4;
	for (int i = 0; i < n64; i++, p += 4)
		put32(k->raw + p, r64[i]);
	put32(k->raw + p, 0), p += 4;
	for (int i = 0; i < ninv; i++, p += 4)
		put32(k->raw + p, rinv[i]);
	put32(k->raw + p, 0), p += 4;
	for (int i = 0; i < n32; i++, p += 4)
		put32(k->raw + p, r32[i]);
	k->raw_len = p;
}

static void build_default(struct tkernel *k)
{
	uint32_t r64 = (uint32_t)(T_TEXT + T_R64), rinv = (uint32_t)(T_TEXT + T_RINV);
	uint32_t r32 = (uint32_t)(T_TEXT + T_R32);

	build_kernel(k, &r64, 1, &rinv, 1, &r32, 1);
}

/* LZ4 legacy: magic, then u32 size + block per `block` bytes of input. */
static size_t lz4_legacy(const uint8_t *in, size_t len, size_t block, uint8_t *out, size_t cap)
{
	size_t o = 4;

	put32(out, 0x184c2102);
	for (size_t i = 0; i < len; i += block) {
		int c = LZ4_compress_default((const char *)in + i, (char *)out + o + 4,
					     (int)MIN(block, len - i), (int)(cap - o - 4));
		assert_true(c > 0);
		put32(out + o, c);
		o += 4 + c;
	}
	return o;
}

static size_t gzip_compress(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream zs = { 0 };

	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = len;
	zs.next_out = out;
	zs.avail_out = cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	deflateEnd(&zs);
	return zs.total_out;
}

/* Compress raw as the kernel build does, with the size trailer (not for gzip). */
static size_t compress_payload(enum kunpack_comp comp, const uint8_t *raw, size_t len,
			       uint8_t *out, size_t cap)
{
	size_t n = 0;

	switch (comp) {
	case KUNPACK_GZIP:
		return gzip_compress(raw, len, out, cap);
	case KUNPACK_LZ4:
		n = lz4_legacy(raw, len, 8 * MiB, out, cap);
		break;
	case KUNPACK_XZ:
		assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, raw, len,
							 out, &n, cap), LZMA_OK);
		break;
	case KUNPACK_LZMA: {
		lzma_options_lzma opt;
		lzma_stream ls = LZMA_STREAM_INIT;
		assert_false(lzma_lzma_preset(&opt, 6));
		assert_int_equal(lzma_alone_encoder(&ls, &opt), LZMA_OK);
		ls.next_in = raw;
		ls.avail_in = len;
		ls.next_out = out;
		ls.avail_out = cap;
		assert_int_equal(lzma_code(&ls, LZMA_FINISH), LZMA_STREAM_END);
		n = ls.total_out;
		lzma_end(&ls);
		break;
	}
	case KUNPACK_ZSTD:
		n = ZSTD_compress(out, cap, raw, len, 19);
		assert_false(ZSTD_isError(n));
		break;
	default:
		fail();
	}
	put32(out + n, (uint32_t)len);
	return n + 4;
}

/* A bzImage around `payload`: setup header only, no real-mode code. */
static size_t build_bzimage(uint8_t *bz, const uint8_t *payload, size_t plen)
{
	memset(bz, 0, T_SETUP + T_POFF);
	bz[0x1fe] = 0x55;
	bz[0x1ff] = 0xaa;
	bz[0x201] = 0x66;
	bz[BP_SETUP_SECTS] = 1;
	put32(bz + BP_HEADER, BP_HDRS_MAGIC);
	bp_put16(bz, BP_VERSION, 0x20f);
	bp_put16(bz, BP_XLOADFLAGS, XLF_KERNEL_64);
	put32(bz + BP_INITRD_ADDR_MAX, 0x7fffffff);
	put32(bz + BP_CMDLINE_SIZE, 2047);
	put32(bz + BP_KERNEL_ALIGNMENT, 0x200000);
	bz[BP_RELOCATABLE_KERNEL] = 1;
	put64(bz + BP_PREF_ADDRESS, T_LOAD);
	put32(bz + BP_INIT_SIZE, T_INIT_SIZE);
	put32(bz + BP_PAYLOAD_OFFSET, T_POFF);
	put32(bz + BP_PAYLOAD_LENGTH, (uint32_t)plen);
	memcpy(bz + T_SETUP + T_POFF, payload, plen);
	return T_SETUP + T_POFF + plen;
}

struct tbz {
	uint8_t bz[T_MAX];
	size_t len;
	uint8_t payload[T_MAX / 2];
	size_t plen;
	char why[256];
};

static struct tbz *make_bz_raw(enum kunpack_comp comp, const uint8_t *raw, size_t len)
{
	struct tbz *t = calloc(1, sizeof(*t));

	t->plen = compress_payload(comp, raw, len, t->payload, sizeof(t->payload));
	t->len = build_bzimage(t->bz, t->payload, t->plen);
	return t;
}

static struct tbz *make_bz(enum kunpack_comp comp, const struct tkernel *k)
{
	return make_bz_raw(comp, k->raw, k->raw_len);
}

/* Open t's bzImage; expect `err`, and `msg` in the reason when failing. */
static void expect_open(struct tbz *t, int err, const char *msg)
{
	struct kunpack_image img;
	int r = kunpack_image_open(t->bz, t->len, &img, t->why, sizeof(t->why));

	if (r != err || (msg && !strstr(t->why, msg)))
		fail_msg("got %d \"%s\", want %d \"%s\"", r, t->why, err, msg ? msg : "");
	if (!r)
		kunpack_image_free(&img);
}

/* k compressed with comp into a bzImage, opened into img: it must open. */
static struct tbz *open_bz(enum kunpack_comp comp, const struct tkernel *k,
			   struct kunpack_image *img)
{
	struct tbz *t = make_bz(comp, k);

	assert_int_equal(kunpack_image_open(t->bz, t->len, img, t->why, sizeof(t->why)), 0);
	return t;
}

static void check_layout(enum kunpack_comp comp)
{
	static uint8_t img_mem[T_INIT_SIZE];
	struct tkernel k;
	struct kunpack_image img;
	struct tbz *t;

	build_default(&k);
	t = open_bz(comp, &k, &img);
	assert_int_equal(img.comp, comp);
	assert_int_equal(img.raw_len, k.raw_len);
	assert_memory_equal(img.raw, k.raw, k.raw_len);
	assert_int_equal(img.load_phys, T_LOAD);
	assert_int_equal(img.image_size, T_MEMSZ);
	assert_int_equal(img.text_size, T_BSS);
	assert_int_equal(img.entry, T_ENTRY);
	assert_int_equal(img.init_size, T_INIT_SIZE);
	assert_true(img.relocatable);
	memset(img_mem, 0xaa, sizeof(img_mem));
	assert_int_equal(kunpack_image_load(&img, img_mem, sizeof(img_mem), t->why,
					    sizeof(t->why)), 0);
	assert_memory_equal(img_mem, k.raw + T_SEG_OFF, T_FILESZ);
	for (size_t i = T_FILESZ; i < T_MEMSZ; i++)
		assert_int_equal(img_mem[i], 0);               /* bss zeroed */
	assert_int_equal(img_mem[T_MEMSZ], 0xaa);              /* and no further */
	assert_int_equal(kunpack_image_load(&img, img_mem, T_MEMSZ - 1, t->why,
					    sizeof(t->why)), -EINVAL);
	kunpack_image_free(&img);
	free(t);
}

static void test_layout_lz4(void **state) { check_layout(KUNPACK_LZ4); }
static void test_layout_gzip(void **state) { check_layout(KUNPACK_GZIP); }
static void test_layout_xz(void **state) { check_layout(KUNPACK_XZ); }
static void test_layout_lzma(void **state) { check_layout(KUNPACK_LZMA); }
static void test_layout_zstd(void **state) { check_layout(KUNPACK_ZSTD); }

static void test_relocate_kinds(void **state)
{
	static uint8_t mem[T_INIT_SIZE];
	const uint64_t delta = 0x1e00000;   /* 15 slots of 2 MiB */
	struct kunpack_image img;
	struct tkernel k;
	struct tbz *t;

	build_default(&k);
	t = open_bz(KUNPACK_LZ4, &k, &img);
	/* delta 0 (nokaslr): the table is checked, nothing changes. */
	assert_int_equal(kunpack_image_load(&img, mem, sizeof(mem), t->why, sizeof(t->why)), 0);
	assert_int_equal(kunpack_image_relocate(&img, mem, T_LOAD, t->why, sizeof(t->why)), 0);
	assert_memory_equal(mem, k.raw + T_SEG_OFF, T_FILESZ);
	/* A known delta: each kind applied once, nothing else touched. */
	assert_int_equal(kunpack_image_relocate(&img, mem, T_LOAD + delta, t->why,
						sizeof(t->why)), 0);
	assert_int_equal(get32(mem + T_R32), (uint32_t)(T_TEXT + 0x80 + delta));
	assert_int_equal(get32(mem + T_RINV), (uint32_t)(T_INV_VAL - delta));
	assert_int_equal(get64(mem + T_R64), T_TEXT + 0x888 + delta);
	put32(mem + T_R32, get32(k.raw + T_SEG_OFF + T_R32));
	put32(mem + T_RINV, get32(k.raw + T_SEG_OFF + T_RINV));
	put64(mem + T_R64, get64(k.raw + T_SEG_OFF + T_R64));
	assert_memory_equal(mem, k.raw + T_SEG_OFF, T_FILESZ);
	kunpack_image_free(&img);
	free(t);
}

static void test_kaslr_pick(void **state)
{
	struct kunpack_image img = { .load_phys = T_LOAD, .image_size = T_MEMSZ,
				     .raw_len = 0x3000, .align = 2 * MiB };
	/* needed = 2 MiB: slots 16 MiB, 18 MiB ... 1022 MiB: 504 of them. */
	const uint64_t slots = 504;
	uint64_t v;

	assert_int_equal(kunpack_kaslr_pick(&img, 0), T_LOAD);
	assert_int_equal(kunpack_kaslr_pick(&img, slots - 1), 1022 * MiB);
	assert_int_equal(kunpack_kaslr_pick(&img, slots), T_LOAD);
	for (uint64_t r = 1; r < (1ULL << 40); r = r * 3 + 17) {
		v = kunpack_kaslr_pick(&img, r);
		assert_int_equal(v % (2 * MiB), 0);
		assert_true(v >= T_LOAD && v + 2 * MiB <= KUNPACK_KERNEL_IMAGE_SIZE);
	}
	/* A bigger alignment, a bigger image: fewer slots. */
	img.align = 16 * MiB;
	img.image_size = 100 * MiB;
	assert_int_equal(kunpack_kaslr_pick(&img, 1), T_LOAD + 16 * MiB);
	assert_true(kunpack_kaslr_pick(&img, 1000) + 100 * MiB <= KUNPACK_KERNEL_IMAGE_SIZE);
	assert_int_equal(kunpack_kaslr_choose(&img, &v), 0);
	assert_int_equal(v % (16 * MiB), 0);
	/* No room at all: the link address. */
	img.image_size = 1020 * MiB;
	assert_int_equal(kunpack_kaslr_pick(&img, 12345), T_LOAD);
}

static void test_cmdline_nokaslr(void **state)
{
	assert_true(kunpack_cmdline_nokaslr("nokaslr"));
	assert_true(kunpack_cmdline_nokaslr("console=ttyS0  nokaslr\tquiet"));
	assert_false(kunpack_cmdline_nokaslr("nokaslrx console=nokaslr"));
	assert_false(kunpack_cmdline_nokaslr("xnokaslr"));
	assert_false(kunpack_cmdline_nokaslr(""));
	assert_false(kunpack_cmdline_nokaslr(NULL));
}

/* The header and the payload's framing. */
static void test_hostile_header(void **state)
{
	struct tkernel k;
	struct tbz *t;

	build_default(&k);
	t = make_bz(KUNPACK_LZ4, &k);
	expect_open(t, 0, NULL);
	bp_put16(t->bz, BP_VERSION, 0x207);
	expect_open(t, -ENOTSUP, "need 2.08");
	bp_put16(t->bz, BP_VERSION, 0x20f);
	put32(t->bz + BP_PAYLOAD_LENGTH, (uint32_t)t->plen + 1);
	expect_open(t, -ENOEXEC, "outside");
	put32(t->bz + BP_PAYLOAD_LENGTH, (uint32_t)t->plen);
	put32(t->bz + BP_PAYLOAD_OFFSET, 0xfffffff0);
	expect_open(t, -ENOEXEC, "outside");
	put32(t->bz + BP_PAYLOAD_OFFSET, T_POFF);
	t->bz[T_SETUP + T_POFF] = 0x42;            /* "BZh": bzip2 */
	t->bz[T_SETUP + T_POFF + 1] = 0x5a;
	expect_open(t, -ENOTSUP, "bzip2");
	t->bz[T_SETUP + T_POFF] = 0x12;
	expect_open(t, -ENOTSUP, "unknown payload compression");
	t->bz[T_SETUP + T_POFF] = 0x02;
	t->bz[T_SETUP + T_POFF + 1] = 0x21;
	put32(t->bz + BP_KERNEL_ALIGNMENT, 0x300000);
	expect_open(t, -EINVAL, "kernel_alignment");
	put32(t->bz + BP_KERNEL_ALIGNMENT, 0x200000);
	expect_open(t, 0, NULL);
	free(t);
}

/* LZ4 framing: truncated blocks, oversized blocks, missing and corrupt blocks. */
static void test_hostile_lz4(void **state)
{
	struct tkernel k;
	struct tbz *t;
	uint8_t *p;
	size_t n;

	build_default(&k);
	t = calloc(1, sizeof(*t));
	p = t->payload;
	/* Two blocks, a repeated magic between them (a concatenated stream). */
	n = lz4_legacy(k.raw, 0x1000, 0x1000, p, sizeof(t->payload));
	n += lz4_legacy(k.raw + 0x1000, k.raw_len - 0x1000, 0x1000, p + n, sizeof(t->payload) - n);
	put32(p + n, (uint32_t)k.raw_len);
	t->plen = n + 4;
	t->len = build_bzimage(t->bz, p, t->plen);
	expect_open(t, 0, NULL);
	/* The second stream's block cut short: its size is more than is left. */
	t->len = build_bzimage(t->bz, p, n - 10);
	put32(t->bz + t->len - 4, (uint32_t)k.raw_len);
	expect_open(t, -EINVAL, "truncated LZ4 payload: the block");
	/* A block size larger than the whole remaining input. */
	t->len = build_bzimage(t->bz, p, t->plen);
	put32(t->bz + T_SETUP + T_POFF + 4, 0x7fffff00);
	expect_open(t, -EINVAL, "is 2147483392 bytes");
	/* The payload ends after the first stream: too few bytes. */
	n = lz4_legacy(k.raw, 0x1000, 0x1000, p, sizeof(t->payload));
	put32(p + n, (uint32_t)k.raw_len);
	t->len = build_bzimage(t->bz, p, n + 4);
	expect_open(t, -EINVAL, "4096 bytes decompressed");
	/* Garbage in a block. */
	t->len = build_bzimage(t->bz, p, n + 4);
	put32(t->bz + t->len - 4, (uint32_t)k.raw_len);
	memset(t->bz + T_SETUP + T_POFF + 8, 0xff, 64);
	expect_open(t, -EINVAL, "malformed LZ4 block");
	free(t);
}

/* Size trailers: larger than init_size, larger than 1 GiB, smaller than the data. */
static void test_hostile_sizes(void **state)
{
	struct tkernel k;
	struct tbz *t;

	build_default(&k);
	t = make_bz(KUNPACK_LZ4, &k);
	put32(t->bz + BP_INIT_SIZE, (uint32_t)k.raw_len - 1);
	expect_open(t, -EINVAL, "init_size");
	put32(t->bz + BP_INIT_SIZE, 0xfff00000);
	put32(t->bz + t->len - 4, 0x7ff00000);
	expect_open(t, -EINVAL, "1 GiB");
	put32(t->bz + t->len - 4, (uint32_t)k.raw_len - 8);
	expect_open(t, -EINVAL, "malformed LZ4 block");
	free(t);
	/* gzip: its own ISIZE is the trailer; a truncated stream and a corrupt one. */
	t = make_bz(KUNPACK_GZIP, &k);
	put32(t->bz + BP_PAYLOAD_LENGTH, (uint32_t)t->plen - 40);
	memmove(t->bz + t->len - 44, t->bz + t->len - 4, 4);
	t->len -= 40;
	expect_open(t, -EINVAL, "truncated gzip payload");
	t->bz[T_SETUP + T_POFF + 20] ^= 0x55;
	expect_open(t, -EINVAL, "gzip payload");
	free(t);
	t = make_bz(KUNPACK_XZ, &k);
	put32(t->bz + BP_PAYLOAD_LENGTH, (uint32_t)t->plen - 30);
	memmove(t->bz + t->len - 34, t->bz + t->len - 4, 4);
	expect_open(t, -EINVAL, "truncated xz payload");
	free(t);
	t = make_bz(KUNPACK_ZSTD, &k);
	put32(t->bz + BP_PAYLOAD_LENGTH, (uint32_t)t->plen - 30);
	memmove(t->bz + t->len - 34, t->bz + t->len - 4, 4);
	expect_open(t, -EINVAL, "zstd payload");
	free(t);
}

/* Each a field of the default vmlinux.bin changed to a bad value, and the reason. */
#define T_EH(f) offsetof(Elf64_Ehdr, f)
#define T_PH(f) (sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, f))
static const struct {
	size_t off;
	unsigned width;
	uint64_t value;
	const char *msg;
} bad_elfs[] = {
	{ 0, 1, 'X', "not an ELF file" },
	{ T_EH(e_machine), 2, EM_386, "not an x86-64 ELF" },
	{ T_EH(e_phnum), 2, 0xffff, "program headers are malformed" },
	{ T_PH(p_memsz), 8, T_INIT_SIZE + 0x1000, "outside init_size" },
	{ T_PH(p_filesz), 8, 0x100000, "outside the decompressed payload" },
	{ T_PH(p_type), 4, PT_NOTE, "no PT_LOAD" },
	{ T_EH(e_entry), 8, T_LOAD + T_FILESZ + 8, "entry point" },        /* in bss */
	{ T_PH(p_vaddr), 8, T_LOAD, "__START_KERNEL_map" },
	{ T_PH(p_paddr), 8, T_LOAD + 0x1000, "2 MiB aligned" },
};

static void test_hostile_elf(void **state)
{
	struct tkernel k;

	for (size_t i = 0; i < ARRAY_SIZE(bad_elfs); i++) {
		struct tbz *t;

		build_default(&k);
		memcpy(k.raw + bad_elfs[i].off, &bad_elfs[i].value, bad_elfs[i].width);
		t = make_bz(KUNPACK_GZIP, &k);
		expect_open(t, -EINVAL, bad_elfs[i].msg);
		free(t);
	}
}

/* Open, load and relocate k; expect the relocation step to give err/msg. */
static void expect_relocate(const struct tkernel *k, int err, const char *msg)
{
	static uint8_t mem[T_INIT_SIZE];
	struct kunpack_image img;
	struct tbz *t = open_bz(KUNPACK_LZ4, k, &img);
	int r;

	assert_int_equal(kunpack_image_load(&img, mem, sizeof(mem), t->why, sizeof(t->why)), 0);
	r = kunpack_image_relocate(&img, mem, T_LOAD + 4 * MiB, t->why, sizeof(t->why));
	if (r != err || (msg && !strstr(t->why, msg)))
		fail_msg("got %d \"%s\", want %d \"%s\"", r, t->why, err, msg ? msg : "");
	kunpack_image_free(&img);
	free(t);
}

static void test_hostile_relocs(void **state)
{
	const uint32_t ok = (uint32_t)(T_TEXT + 8);
	const uint32_t bss = (uint32_t)(T_TEXT + T_BSS);           /* __bss_start */
	const uint32_t straddle = (uint32_t)(T_TEXT + T_BSS - 4);  /* 8 bytes over it */
	const uint32_t below = (uint32_t)(T_TEXT - 4);
	const uint32_t user = 0x1000;                              /* not a kernel address */
	struct tkernel k;

	build_kernel(&k, &ok, 1, &ok, 1, &ok, 1);
	expect_relocate(&k, 0, NULL);
	build_kernel(&k, NULL, 0, NULL, 0, &bss, 1);
	expect_relocate(&k, -EINVAL, "32-bit relocation at 0xffffffff81002000 lies outside");
	build_kernel(&k, NULL, 0, &below, 1, NULL, 0);
	expect_relocate(&k, -EINVAL, "inverse 32-bit relocation");
	build_kernel(&k, &straddle, 1, NULL, 0, NULL, 0);
	expect_relocate(&k, -EINVAL, "64-bit relocation");
	build_kernel(&k, &user, 1, NULL, 0, NULL, 0);
	expect_relocate(&k, -EINVAL, "64-bit relocation at 0x1000 lies outside");
	/* No terminators: the walk stops at vmlinux.bin, not before its start. */
	build_kernel(&k, NULL, 0, NULL, 0, NULL, 0);
	for (size_t p = k.relocs_off; p < k.raw_len; p += 4)
		put32(k.raw + p, ok);
	expect_relocate(&k, -EINVAL, "has no end");
	/* Without .bss, relocations may reach the end of the image, not past it. */
	build_kernel(&k, NULL, 0, NULL, 0, &bss, 1);
	((Elf64_Ehdr *)k.raw)->e_shnum = 0;
	expect_relocate(&k, 0, NULL);
}

/*
 * Every truncation and many single-byte corruptions of each format's
 * payload either unpack or fail with a reason: never a crash (run it under
 * ASan/valgrind to see out-of-bounds accesses too).
 */
static void test_hostile_fuzz(void **state)
{
	static const enum kunpack_comp comps[] = { KUNPACK_LZ4, KUNPACK_GZIP, KUNPACK_XZ,
						   KUNPACK_ZSTD };
	static uint8_t mem[T_INIT_SIZE];
	unsigned seed = 12345;
	struct tkernel k;

	build_default(&k);
	for (size_t c = 0; c < ARRAY_SIZE(comps); c++) {
		struct tbz *t = make_bz(comps[c], &k);
		struct kunpack_image img;

		for (size_t cut = 0; cut <= t->plen; cut += 1 + cut / 16) {
			t->len = build_bzimage(t->bz, t->payload, cut);
			if (!kunpack_image_open(t->bz, t->len, &img, t->why, sizeof(t->why)))
				kunpack_image_free(&img);
			else
				assert_true(t->why[0]);
		}
		for (int i = 0; i < 3000; i++) {
			size_t at;

			t->len = build_bzimage(t->bz, t->payload, t->plen);
			seed = seed * 1103515245 + 12345;
			at = T_SETUP + T_POFF + (seed >> 8) % t->plen;
			t->bz[at] ^= (uint8_t)(1 + (seed >> 24) % 255);
			if (kunpack_image_open(t->bz, t->len, &img, t->why, sizeof(t->why))) {
				assert_true(t->why[0]);
				continue;
			}
			if (!kunpack_image_load(&img, mem, sizeof(mem), t->why, sizeof(t->why)) &&
			    kunpack_image_relocate(&img, mem, T_LOAD + 2 * MiB, t->why,
						   sizeof(t->why)))
				assert_true(t->why[0]);
			kunpack_image_free(&img);
		}
		free(t);
	}
}

/*
 * A kernel laid out like Debian's vmlinux.bin: the first segment 2 MiB into
 * the file, a gap, and a last segment that moves down on load (as .data..percpu
 * and .init do) with a bss; relocations point into every segment.
 */
#define M_SEGS      3
#define M_IMAGE     0x9000
#define M_FILE_END  0x209000
static const struct { uint64_t off, paddr, filesz, memsz; } m_seg[M_SEGS] = {
	{ 0x200000, 0x0000, 0x3000, 0x3000 },
	{ 0x204000, 0x4000, 0x2000, 0x2000 },   /* 0x1000 gap before it in memory */
	{ 0x208000, 0x6000, 0x1000, 0x3000 },   /* moves down 0x2000; 0x2000 of bss */
};

static uint8_t *build_multi(size_t *len)
{
	uint8_t *b = calloc(1, M_FILE_END + 64);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(*eh));
	size_t p = M_FILE_END;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_entry = T_LOAD + 0x6010;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = M_SEGS;
	for (int i = 0; i < M_SEGS; i++) {
		ph[i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = m_seg[i].off,
				      .p_vaddr = T_TEXT + m_seg[i].paddr,
				      .p_paddr = T_LOAD + m_seg[i].paddr, .p_filesz = m_seg[i].filesz,
				      .p_memsz = m_seg[i].memsz, .p_align = 0x200000 };
		for (uint64_t j = 0; j < m_seg[i].filesz; j++)
			b[m_seg[i].off + j] = (uint8_t)(j * 13 + i * 7 + 1);
	}
	/* Junk between the segments' file data: in place, it lands in the memory gap. */
	memset(b + 0x203000, 0xcc, 0x1000);
	memset(b + 0x206000, 0xcc, 0x2000);
	/* 64-bit in the first segment, inverse 32-bit in the second, 32-bit in the last. */
	put64(b + 0x200000 + 0x100, T_TEXT + 0x5000);
	put32(b + 0x204000 + 0x200, T_INV_VAL);
	put32(b + 0x208000 + 0x300, (uint32_t)(T_TEXT + 0x6000));
	put32(b + p, 0), p += 4;
	put32(b + p, (uint32_t)(T_TEXT + 0x100)), p += 4;
	put32(b + p, 0), p += 4;
	put32(b + p, (uint32_t)(T_TEXT + 0x4200)), p += 4;
	put32(b + p, 0), p += 4;
	put32(b + p, (uint32_t)(T_TEXT + 0x6300)), p += 4;
	*len = p;
	return b;
}

/* The image through an owned buffer, into zeroed memory: what in place must match. */
static uint8_t *multi_reference(struct tbz *t, uint64_t virt)
{
	uint8_t *ref = calloc(1, T_INIT_SIZE);
	struct kunpack_image img;

	assert_int_equal(kunpack_image_open(t->bz, t->len, &img, t->why, sizeof(t->why)), 0);
	assert_int_equal(img.image_size, M_IMAGE);
	assert_int_equal(kunpack_image_load(&img, ref, T_INIT_SIZE, t->why, sizeof(t->why)), 0);
	assert_int_equal(kunpack_image_relocate(&img, ref, virt, t->why, sizeof(t->why)), 0);
	kunpack_image_free(&img);
	return ref;
}

/* Unpacked 2 MiB below the image, the segments move into place as parse_elf() moves them. */
static void check_in_place(enum kunpack_comp comp)
{
	const uint64_t delta = 0x600000;
	size_t len;
	uint8_t *raw = build_multi(&len), *mem = malloc(KUNPACK_MIN_ALIGN + T_INIT_SIZE);
	uint8_t *dst = mem + KUNPACK_MIN_ALIGN, *ref;
	struct tbz *t = make_bz_raw(comp, raw, len);
	struct kunpack_image img;

	ref = multi_reference(t, T_LOAD + delta);
	assert_int_equal(get64(ref + 0x100), T_TEXT + 0x5000 + delta);
	assert_int_equal(get32(ref + 0x4200), (uint32_t)(T_INV_VAL - delta));
	assert_int_equal(get32(ref + 0x6300), (uint32_t)(T_TEXT + 0x6000 + delta));
	memset(mem, 0xaa, KUNPACK_MIN_ALIGN + T_INIT_SIZE);
	assert_int_equal(kunpack_image_header(t->bz, t->len, &img, t->why, sizeof(t->why)), 0);
	assert_int_equal(kunpack_image_unpack(t->bz, t->len, &img, mem,
					      KUNPACK_MIN_ALIGN + T_INIT_SIZE, t->why,
					      sizeof(t->why)), 0);
	assert_false(img.raw_owned);
	assert_ptr_equal(img.raw, mem);
	assert_int_equal(kunpack_image_load(&img, dst, T_INIT_SIZE, t->why, sizeof(t->why)), 0);
	assert_int_equal(kunpack_image_relocate(&img, dst, T_LOAD + delta, t->why,
						sizeof(t->why)), 0);
	/* Byte for byte the same image: segments, the gap and the bss zeroed. */
	assert_memory_equal(dst, ref, M_IMAGE);
	kunpack_image_free(&img);
	assert_ptr_equal(img.raw, NULL);
	free(ref);
	free(t);
	free(mem);
	free(raw);
}

static void test_in_place_lz4(void **state) { check_in_place(KUNPACK_LZ4); }
static void test_in_place_gzip(void **state) { check_in_place(KUNPACK_GZIP); }
static void test_in_place_zstd(void **state) { check_in_place(KUNPACK_ZSTD); }

/* Layouts where moving in place would overwrite what is still to be read: -EAGAIN, nothing moved. */
static void test_in_place_refused(void **state)
{
	size_t len;
	uint8_t *raw = build_multi(&len), *mem = malloc(8 * MiB), *copy = malloc(8 * MiB);
	struct tbz *t;
	struct kunpack_image img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(raw + sizeof(Elf64_Ehdr));
	/* scratch offset below dst, and what to change in the ELF first */
	static const struct { uint64_t below; int seg; uint64_t memsz; } cases[] = {
		{ 4 * MiB, -1, 0 },             /* every segment would move up */
		{ 2 * MiB, 0, 0x5000 },         /* the first one's bss over the second's data */
		{ 2 * MiB, 2, 0x4000 },         /* the last one's bss over the relocations */
		{ 2 * MiB, 1, 0x3000 },         /* two segments' places overlap */
	};

	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		uint8_t *dst = mem + cases[c].below;
		uint64_t saved = 0;

		if (cases[c].seg >= 0) {
			saved = ph[cases[c].seg].p_memsz;
			ph[cases[c].seg].p_memsz = cases[c].memsz;
		}
		t = make_bz_raw(KUNPACK_LZ4, raw, len);
		memset(mem, 0x55, 8 * MiB);
		assert_int_equal(kunpack_image_header(t->bz, t->len, &img, t->why,
						      sizeof(t->why)), 0);
		assert_int_equal(kunpack_image_unpack(t->bz, t->len, &img, mem, 8 * MiB, t->why,
						      sizeof(t->why)), 0);
		memcpy(copy, mem, 8 * MiB);
		if (kunpack_image_load(&img, dst, 4 * MiB, t->why, sizeof(t->why)) != -EAGAIN)
			fail_msg("case %zu: moved in place", c);
		assert_non_null(strstr(t->why, "cannot move in place"));
		assert_memory_equal(mem, copy, 8 * MiB);
		kunpack_image_free(&img);
		free(t);
		if (cases[c].seg >= 0)
			ph[cases[c].seg].p_memsz = saved;
	}
	free(copy);
	free(mem);
	free(raw);
}

static struct vm *make_vm(const char *cmdline, enum kernel_unpack unpack)
{
	static struct vm_config cfg;
	struct vm *vm;

	cfg = (struct vm_config){ .mem_size = 64 * MiB, .ncpus = 1, .cmdline = cmdline,
				  .kernel_unpack = unpack };
	assert_int_equal(vm_create(&cfg, &fake_accel_ops, &vm), 0);
	return vm;
}

/* boot_load_image(): host unpack, KASLR and nokaslr, and the fallbacks. */
static void test_boot_host_unpack(void **state)
{
	struct tkernel k;
	struct tbz *t;
	struct vm *vm;
	uint8_t *zp, *img;
	uint64_t delta;

	build_default(&k);
	t = make_bz(KUNPACK_LZ4, &k);
	t->bz[BP_LOADFLAGS] = LOADFLAG_LOADED_HIGH | LOADFLAG_KASLR;  /* the image's claim */
	vm = make_vm("console=ttyS0 nokaslr", KERNEL_UNPACK_AUTO);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), 0);
	img = guest_mem_hva(&vm->mem, T_LOAD, T_MEMSZ);
	assert_memory_equal(img, k.raw + T_SEG_OFF, T_FILESZ);
	assert_int_equal(vm->boot_regs.rip, T_LOAD + T_ENTRY);
	assert_int_equal(vm->boot_regs.rsi, BOOT_ZERO_PAGE_GPA);
	assert_true(vm->boot_sregs.efer & EFER_LMA);
	zp = guest_mem_hva(&vm->mem, BOOT_ZERO_PAGE_GPA, 4096);
	assert_int_equal(zp[BP_LOADFLAGS] & LOADFLAG_KASLR, 0);
	assert_int_equal(bp_get32(zp, BP_INIT_SIZE), T_INIT_SIZE);
	vm_destroy(vm);

	/* KASLR: one delta, a multiple of 2 MiB, applied to all three kinds. */
	vm = make_vm("console=ttyS0", KERNEL_UNPACK_HOST);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), 0);
	img = guest_mem_hva(&vm->mem, T_LOAD, T_MEMSZ);
	zp = guest_mem_hva(&vm->mem, BOOT_ZERO_PAGE_GPA, 4096);
	assert_int_equal(zp[BP_LOADFLAGS] & LOADFLAG_KASLR, LOADFLAG_KASLR);
	delta = get64(img + T_R64) - (T_TEXT + 0x888);
	assert_int_equal(delta % (2 * MiB), 0);
	assert_true(delta < KUNPACK_KERNEL_IMAGE_SIZE - T_LOAD);
	assert_int_equal(get32(img + T_R32), (uint32_t)(T_TEXT + 0x80 + delta));
	assert_int_equal(get32(img + T_RINV), (uint32_t)(T_INV_VAL - delta));
	vm_destroy(vm);

	/* --kernel-unpack guest: today's path, entered at +0x200. */
	vm = make_vm(NULL, KERNEL_UNPACK_GUEST);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), 0);
	assert_int_equal(vm->boot_regs.rip, T_LOAD + 0x200);
	vm_destroy(vm);

	/* A compression the host does not read: auto falls back, host refuses. */
	t->bz[T_SETUP + T_POFF] = 0x89;              /* lzo */
	t->bz[T_SETUP + T_POFF + 1] = 0x4c;
	vm = make_vm(NULL, KERNEL_UNPACK_AUTO);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), 0);
	assert_int_equal(vm->boot_regs.rip, T_LOAD + 0x200);
	vm_destroy(vm);
	vm = make_vm(NULL, KERNEL_UNPACK_HOST);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), -ENOTSUP);
	assert_non_null(strstr(t->why, "cannot unpack the kernel on the host: the payload is "
				       "lzo-compressed"));
	assert_non_null(strstr(t->why, "--kernel-unpack guest"));
	vm_destroy(vm);

	/* LZ4 again; a pref_address that wraps when aligned, one past the end of RAM. */
	t->bz[T_SETUP + T_POFF] = 0x02;
	t->bz[T_SETUP + T_POFF + 1] = 0x21;
	put64(t->bz + BP_PREF_ADDRESS, UINT64_MAX - 4096);
	vm = make_vm(NULL, KERNEL_UNPACK_HOST);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), -EINVAL);
	assert_non_null(strstr(t->why, "pref_address"));
	vm_destroy(vm);
	put64(t->bz + BP_PREF_ADDRESS, 62 * MiB);
	vm = make_vm(NULL, KERNEL_UNPACK_HOST);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), -ENOMEM);
	assert_non_null(strstr(t->why, "more --memory"));
	vm_destroy(vm);
	put64(t->bz + BP_PREF_ADDRESS, T_LOAD);

	/* A malformed payload fails in auto mode too, with the reason. */
	put32(t->bz + BP_INIT_SIZE, 0x1000);
	vm = make_vm(NULL, KERNEL_UNPACK_AUTO);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), -EINVAL);
	assert_non_null(strstr(t->why, "init_size"));
	vm_destroy(vm);
	free(t);
}

/* boot_load_image() unpacks in guest RAM: the image as through a buffer, the rest zeros. */
static void test_boot_in_place(void **state)
{
	size_t len;
	uint8_t *raw = build_multi(&len), *ref, *below, *img, *tail;
	struct tbz *t = make_bz_raw(KUNPACK_LZ4, raw, len);
	struct vm *vm = make_vm("console=ttyS0 nokaslr", KERNEL_UNPACK_HOST);

	ref = multi_reference(t, T_LOAD);
	assert_int_equal(boot_load_image(vm, t->bz, t->len, t->why, sizeof(t->why)), 0);
	img = guest_mem_hva(&vm->mem, T_LOAD, M_IMAGE);
	assert_memory_equal(img, ref, M_IMAGE);
	assert_int_equal(vm->boot_regs.rip, T_LOAD + 0x6010);
	below = guest_mem_hva(&vm->mem, T_LOAD - KUNPACK_MIN_ALIGN, KUNPACK_MIN_ALIGN);
	for (size_t i = 0; i < KUNPACK_MIN_ALIGN; i++)
		if (below[i])
			fail_msg("byte %zu below the image is %#x", i, below[i]);
	tail = guest_mem_hva(&vm->mem, T_LOAD + M_IMAGE, T_INIT_SIZE - M_IMAGE);
	for (size_t i = 0; i < T_INIT_SIZE - M_IMAGE; i++)
		if (tail[i])
			fail_msg("byte %zu after the image is %#x", i, tail[i]);
	vm_destroy(vm);
	free(ref);
	free(t);
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_lz4),
		cmocka_unit_test(test_layout_gzip),
		cmocka_unit_test(test_layout_xz),
		cmocka_unit_test(test_layout_lzma),
		cmocka_unit_test(test_layout_zstd),
		cmocka_unit_test(test_relocate_kinds),
		cmocka_unit_test(test_kaslr_pick),
		cmocka_unit_test(test_cmdline_nokaslr),
		cmocka_unit_test(test_hostile_header),
		cmocka_unit_test(test_hostile_lz4),
		cmocka_unit_test(test_hostile_sizes),
		cmocka_unit_test(test_hostile_elf),
		cmocka_unit_test(test_hostile_relocs),
		cmocka_unit_test(test_hostile_fuzz),
		cmocka_unit_test(test_boot_host_unpack),
		cmocka_unit_test(test_in_place_lz4),
		cmocka_unit_test(test_in_place_gzip),
		cmocka_unit_test(test_in_place_zstd),
		cmocka_unit_test(test_in_place_refused),
		cmocka_unit_test(test_boot_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
