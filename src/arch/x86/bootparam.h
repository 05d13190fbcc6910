/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_ARCH_X86_BOOTPARAM_H
#define VIREO_ARCH_X86_BOOTPARAM_H

/*
 * Offsets in the Linux "zero page" (struct boot_params) and its embedded
 * setup header (Documentation/arch/x86/zero-page.rst and boot.rst).  Fields
 * are accessed by offset, little-endian, so the layout is explicit.
 */
#include <stdint.h>
#include <string.h>

#define BP_ACPI_RSDP_ADDR    0x070   /* u64, protocol 2.14+ */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_SETUP_SECTS       0x1f1   /* start of the setup header */
#define BP_BOOT_FLAG         0x1fe
#define BP_HEADER            0x202
#define BP_VERSION           0x206
#define BP_TYPE_OF_LOADER    0x210
#define BP_LOADFLAGS         0x211
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_HEAP_END_PTR      0x224
#define BP_CMD_LINE_PTR      0x228
#define BP_INITRD_ADDR_MAX   0x22c
#define BP_KERNEL_ALIGNMENT  0x230
#define BP_RELOCATABLE_KERNEL 0x234
#define BP_XLOADFLAGS        0x236
#define BP_CMDLINE_SIZE      0x238
#define BP_PAYLOAD_OFFSET    0x248   /* protocol 2.08+, from the protected-mode code */
#define BP_PAYLOAD_LENGTH    0x24c
#define BP_PREF_ADDRESS      0x258
#define BP_INIT_SIZE         0x260
#define BP_SETUP_HDR_END     0x268
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128

#define BP_HDRS_MAGIC        0x53726448   /* "HdrS" */
#define LOADFLAG_LOADED_HIGH  0x01
#define LOADFLAG_KASLR        0x02   /* KASLR_FLAG: the loader randomized the kernel */
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64        0x01

static inline uint16_t bp_get16(const uint8_t *p, unsigned off)
{
	uint16_t v;
	memcpy(&v, p + off, 2);
	return v;
}
static inline uint32_t bp_get32(const uint8_t *p, unsigned off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}
static inline uint64_t bp_get64(const uint8_t *p, unsigned off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}
static inline void bp_put16(uint8_t *p, unsigned off, uint16_t v) { memcpy(p + off, &v, 2); }
static inline void bp_put32(uint8_t *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }

/* Xen PVH start info (xen/include/public/arch-x86/hvm/start_info.h), version 1. */
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

#endif
