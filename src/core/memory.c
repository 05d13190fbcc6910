// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest RAM: one memfd, mapped once, split into x86 regions around the
 * 32-bit PCI hole.  Pages are allocated by the host on first touch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vireo/log.h"
#include "vireo/memory.h"

static int mem_add_region(struct guest_mem *mem, uint64_t gpa, uint64_t size,
			  uint64_t off)
{
	struct mem_region *r = &mem->regions[mem->nregions];
	size_t words = (size / GUEST_PAGE_SIZE + 63) / 64;

	r->dirty = calloc(words, sizeof(unsigned long));
	if (!r->dirty)
		return -ENOMEM;
	r->gpa = gpa;
	r->size = size;
	r->fd_offset = off;
	r->hva = mem->base + off;
	mem->nregions++;
	return 0;
}

int guest_mem_create(struct guest_mem *mem, uint64_t size)
{
	uint64_t low;
	int err;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (!size || size % GUEST_PAGE_SIZE)
		return -EINVAL;
	mem->fd = memfd_create("vireo-guest-ram", MFD_CLOEXEC);
	if (mem->fd < 0)
		return -errno;
	if (ftruncate(mem->fd, size) < 0) {
		err = -errno;
		goto err_close;
	}
	/* MAP_NORESERVE: the host commits pages as the guest touches them. */
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		err = errno == ENOMEM ? -ENOMEM : -errno;
		mem->base = NULL;
		goto err_close;
	}
	madvise(mem->base, size, MADV_HUGEPAGE);  /* best effort */
	mem->total = size;
	low = MIN(size, GUEST_PCI_HOLE_START);
	err = mem_add_region(mem, 0, low, 0);
	if (!err && size > low)
		err = mem_add_region(mem, 4 * GiB, size - low, low);
	if (err)
		goto err_unmap;
	return 0;

err_unmap:
	for (int i = 0; i < mem->nregions; i++)
		free(mem->regions[i].dirty);
	munmap(mem->base, size);
	mem->base = NULL;
err_close:
	close(mem->fd);
	mem->fd = -1;
	return err;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nregions; i++)
		free(mem->regions[i].dirty);
	if (mem->base)
		munmap(mem->base, mem->total);
	if (mem->fd >= 0)
		close(mem->fd);
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
}

void *guest_mem_hva(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < mem->nregions; i++) {
		struct mem_region *r = &mem->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t guest_mem_discard(struct guest_mem *mem, void *hva, uint64_t len)
{
	uintptr_t start = ALIGN_UP((uintptr_t)hva, GUEST_PAGE_SIZE);
	uintptr_t end = ALIGN_DOWN((uintptr_t)hva + len, GUEST_PAGE_SIZE);

	(void)mem;
	if (end <= start)
		return 0;
	/* MADV_REMOVE frees shared (memfd) pages; DONTNEED only unmaps them. */
	if (madvise((void *)start, end - start, MADV_REMOVE) &&
	    madvise((void *)start, end - start, MADV_DONTNEED))
		return 0;
	return end - start;
}

int guest_mem_write(struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_hva(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	guest_mem_mark_dirty(mem, gpa, len);
	return 0;
}

int guest_mem_read(struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = guest_mem_hva(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

void guest_mem_mark_dirty(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const unsigned bits = sizeof(unsigned long) * 8;

	if (!len)
		return;
	for (int i = 0; i < mem->nregions; i++) {
		struct mem_region *r = &mem->regions[i];
		uint64_t first, last;

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		first = (gpa - r->gpa) / GUEST_PAGE_SIZE;
		last = (MIN(gpa - r->gpa + len, r->size) - 1) / GUEST_PAGE_SIZE;
		for (uint64_t p = first; p <= last; p++)
			__atomic_fetch_or(&r->dirty[p / bits], 1UL << (p % bits),
					  __ATOMIC_RELAXED);
		if (mem->write_hook)
			mem->write_hook(mem->write_hook_opaque,
					r->fd_offset + (gpa - r->gpa),
					MIN(len, r->size - (gpa - r->gpa)));
		return;
	}
}
