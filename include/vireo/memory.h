/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_MEMORY_H
#define VIREO_MEMORY_H

/*
 * Guest RAM.  One memfd holds all of it (so snapshots, migration and a
 * future shared-memory device see one object); it is mapped once and each
 * region is a window onto that mapping.  Pages are allocated on demand by
 * the host kernel; MADV_HUGEPAGE is applied where available.
 *
 * x86 layout: RAM below the 32-bit PCI hole [GUEST_PCI_HOLE_START, 4 GiB),
 * and the rest above 4 GiB.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"

#define GUEST_MEM_MAX_REGIONS 4
#define GUEST_PCI_HOLE_START 0xc0000000ULL  /* 3 GiB: PCI MMIO, LAPIC, IOAPIC */
#define GUEST_PAGE_SIZE 4096ULL

struct mem_region {
	uint64_t gpa;       /* guest-physical start */
	uint64_t size;      /* bytes, page multiple */
	uint8_t *hva;       /* host mapping of gpa */
	uint64_t fd_offset; /* offset of this region in the memfd */
	unsigned long *dirty; /* one bit per page; set by the emu backend and devices */
};

/*
 * Called by guest_mem_mark_dirty() after the monitor (a device doing DMA)
 * wrote guest RAM at memfd offset [off, off+len): the emu backend drops the
 * decoded instructions it cached from those pages.  Any thread.
 */
typedef void (*guest_mem_write_fn)(void *opaque, uint64_t off, uint64_t len);

struct guest_mem {
	int fd;             /* memfd; -1 before guest_mem_create */
	uint8_t *base;      /* mapping of the whole memfd */
	uint64_t total;     /* bytes of RAM */
	int nregions;
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	guest_mem_write_fn write_hook;   /* may be NULL */
	void *write_hook_opaque;
};

/*
 * Create guest RAM of `size` bytes (page multiple) laid out for x86.
 * Returns 0, -EINVAL (size 0 / not page aligned), -ENOMEM (the host cannot
 * reserve it).  On failure *mem is left with fd = -1.
 */
int guest_mem_create(struct guest_mem *mem, uint64_t size) WUR;
void guest_mem_destroy(struct guest_mem *mem);

/*
 * Host address of [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL.  Never faults; the returned pointer is valid for the VM's life.
 */
void *guest_mem_hva(struct guest_mem *mem, uint64_t gpa, uint64_t len);

/*
 * Give the pages wholly inside [hva, hva+len) (a guest_mem_hva() range)
 * back to the host with MADV_REMOVE: the memfd frees them and they read as
 * zeros afterwards.  Should the host refuse, MADV_DONTNEED only unmaps them
 * (their bytes stay).  Returns the bytes given back, 0 if none (no whole
 * page in the range, or both refused).
 */
uint64_t guest_mem_discard(struct guest_mem *mem, void *hva, uint64_t len);

/* Copy to/from guest RAM; -EFAULT if any byte is outside RAM. */
int guest_mem_write(struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len) WUR;
int guest_mem_read(struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len) WUR;

/*
 * Mark [gpa, gpa+len) dirty.  Devices must call it after writing guest RAM
 * (directly or through guest_mem_write): dirty logging and the emu backend's
 * code cache depend on it.
 */
void guest_mem_mark_dirty(struct guest_mem *mem, uint64_t gpa, uint64_t len);

#endif
