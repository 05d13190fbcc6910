// SPDX-License-Identifier: GPL-2.0-only
/*
 * Paging and the software TLB (Intel SDM Vol. 3 Chapter 4).
 *
 * Supports no paging, 32-bit paging (with PSE 4 MiB pages), PAE paging and
 * 4-level paging (2 MiB and 1 GiB pages), U/S, R/W with CR0.WP, NX with
 * EFER.NXE, global pages with CR4.PGE, and sets accessed/dirty bits with
 * host atomics.  A TLB hit is a tag compare plus an add (cpu.h).
 */
#include <errno.h>
#include <string.h>

#include "accel/emu/cpu.h"

#define PTE_P    (1ULL << 0)
#define PTE_W    (1ULL << 1)
#define PTE_U    (1ULL << 2)
#define PTE_A    (1ULL << 5)
#define PTE_D    (1ULL << 6)
#define PTE_PS   (1ULL << 7)
#define PTE_G    (1ULL << 8)
#define PTE_NX   (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

/* Page-fault error code bits (Intel SDM Vol. 3 §4.7). */
#define PFEC_P    (1u << 0)
#define PFEC_W    (1u << 1)
#define PFEC_U    (1u << 2)
#define PFEC_RSVD (1u << 3)
#define PFEC_I    (1u << 4)

void emu_tlb_reset(struct emu_cpu *c)
{
	c->tlb_epoch++;
	c->tlb_epoch_global++;
	for (int s = 0; s < 2; s++) {
		for (unsigned i = 0; i < EMU_TLB_SIZE; i++) {
			struct emu_tlb_entry *e = &c->tlb[s][i];
			e->tag_r = e->tag_w = e->tag_x = TLB_INVALID;
			e->global = e->listed_g = e->listed_n = false;
		}
	}
	c->tlb_nused = c->tlb_nglob = 0;
}

static struct emu_tlb_entry *tlb_entry(struct emu_cpu *c, uint16_t id)
{
	return &c->tlb[id >> EMU_TLB_BITS][id & (EMU_TLB_SIZE - 1)];
}

/*
 * Only the entries filled since the last flush can be valid: visit those.
 * A CR3 write (keep_global) visits the non-global list only; an entry
 * refilled as global while on it moves to the global list.
 */
void emu_tlb_flush(struct emu_cpu *c, bool keep_global)
{
	c->tlb_epoch++;
	for (uint32_t k = 0; k < c->tlb_nused; k++) {
		struct emu_tlb_entry *e = tlb_entry(c, c->tlb_used[k]);

		e->listed_n = false;
		if (keep_global && e->global) {
			if (!e->listed_g) {
				e->listed_g = true;
				c->tlb_glob[c->tlb_nglob++] = c->tlb_used[k];
			}
			continue;
		}
		e->tag_r = e->tag_w = e->tag_x = TLB_INVALID;
		e->global = false;
	}
	c->tlb_nused = 0;
	if (keep_global)
		return;
	c->tlb_epoch_global++;
	for (uint32_t k = 0; k < c->tlb_nglob; k++) {
		struct emu_tlb_entry *e = tlb_entry(c, c->tlb_glob[k]);

		e->tag_r = e->tag_w = e->tag_x = TLB_INVALID;
		e->global = e->listed_g = false;
	}
	c->tlb_nglob = 0;
}

void emu_tlb_flush_page(struct emu_cpu *c, uint64_t la)
{
	c->tlb_epoch++;
	c->tlb_epoch_global++;  /* INVLPG drops a global entry too */
	/* A large page may cover many TLB slots: entries are per 4 KiB page,
	 * so flushing the one slot of this address is enough for it; INVLPG
	 * of a large page in Linux is followed by per-page flushes or a full
	 * flush, but be safe and drop the whole set when the slot misses. */
	for (int s = 0; s < 2; s++) {
		struct emu_tlb_entry *e = &c->tlb[s][(la >> 12) & (EMU_TLB_SIZE - 1)];
		e->tag_r = e->tag_w = e->tag_x = TLB_INVALID;
		e->global = false;
	}
}

void emu_tlb_drop_writes(struct emu_cpu *c, const void *hva)
{
	uintptr_t page = (uintptr_t)hva & ~0xfffULL;

	for (int l = 0; l < 2; l++) {
		const uint16_t *ids = l ? c->tlb_glob : c->tlb_used;
		uint32_t n = l ? c->tlb_nglob : c->tlb_nused;

		for (uint32_t k = 0; k < n; k++) {
			struct emu_tlb_entry *e = tlb_entry(c, ids[k]);
			if (e->tag_w != TLB_INVALID && e->tag_w + e->addend == page)
				e->tag_w = TLB_INVALID;
		}
	}
}

static bool canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* Host address of a page-table entry, or NULL if it is not RAM. */
static void *pte_ptr(struct emu_cpu *c, uint64_t gpa)
{
	uint8_t *p = c->gpa_to_hva(c, gpa & ~0xfffULL);
	return p ? p + (gpa & 0xfff) : NULL;
}

static _Noreturn void page_fault(struct emu_cpu *c, uint64_t la, uint32_t err)
{
	c->cr2 = la;
	emu_raise(c, EXC_PF, err, true);
}

struct walk {
	uint64_t gpa;
	bool user_ok, write_ok, nx, global, dirty;
};

/*
 * Walk the tables for la.  Returns 0 with *w filled, or a page-fault error
 * code (the P bit tells a protection fault from a not-present one) with
 * bit 31 set.  Sets A (and D for writes) only along a permitted walk.
 */
static uint32_t walk(struct emu_cpu *c, uint64_t la, int acc, bool user, bool set_ad,
		     struct walk *w)
{
	bool pae = c->cr4 & X86_CR4_PAE, lma = c->efer & EFER_LMA;
	bool nxe = (c->efer & EFER_NXE) && pae;
	uint32_t ecode = (acc == ACC_WRITE ? PFEC_W : 0) | (user ? PFEC_U : 0) |
			 (acc == ACC_EXEC && nxe ? PFEC_I : 0);
	void *ptes[5];
	bool wide[5];
	int n = 0;
	uint64_t e = 0, table, page_mask = 0xfff;
	bool u = true, wr = true, nx = false;
	int level;

	if (!pae) {
		/* 32-bit paging (§4.3). */
		table = c->cr3 & 0xfffff000;
		for (level = 2; level >= 1; level--) {
			uint32_t *p = pte_ptr(c, table + (((la >> (level == 2 ? 22 : 12)) & 0x3ff) * 4));
			if (!p)
				return ecode | 0x80000000u;
			e = __atomic_load_n(p, __ATOMIC_RELAXED);
			if (!(e & PTE_P))
				return ecode | 0x80000000u;
			ptes[n] = p; wide[n++] = false;
			u &= !!(e & PTE_U); wr &= !!(e & PTE_W);
			if (level == 2 && (e & PTE_PS) && (c->cr4 & X86_CR4_PSE)) {
				page_mask = 0x3fffff;
				/* PSE-36: bits 20:13 are address bits 39:32. */
				e = (e & 0xffc00000) | ((e & 0x1fe000ULL) << 19) | (e & 0xfff);
				break;
			}
			table = e & 0xfffff000;
		}
	} else {
		int top = lma ? 4 : 3;
		if (lma) {
			table = c->cr3 & PTE_ADDR;
		} else {
			uint64_t *p = pte_ptr(c, (c->cr3 & 0xffffffe0) + ((la >> 30) & 3) * 8);
			if (!p)
				return ecode | 0x80000000u;
			e = *p;
			if (!(e & PTE_P))
				return ecode | 0x80000000u;
			table = e & PTE_ADDR;
			top = 2;
		}
		for (level = top; level >= 1; level--) {
			int shift = 12 + 9 * (level - 1);
			uint64_t *p = pte_ptr(c, table + ((la >> shift) & 0x1ff) * 8);
			if (!p)
				return ecode | 0x80000000u;
			e = __atomic_load_n(p, __ATOMIC_RELAXED);
			if (!(e & PTE_P))
				return ecode | 0x80000000u;
			if ((e & PTE_NX) && !nxe)
				return ecode | PFEC_P | PFEC_RSVD | 0x80000000u;
			ptes[n] = p; wide[n++] = true;
			u &= !!(e & PTE_U); wr &= !!(e & PTE_W); nx |= !!(e & PTE_NX);
			if ((level == 2 || (level == 3 && lma)) && (e & PTE_PS)) {
				page_mask = (1ULL << shift) - 1;
				break;
			}
			if (level == 4 && (e & PTE_PS))
				return ecode | PFEC_P | PFEC_RSVD | 0x80000000u;
			table = e & PTE_ADDR;
		}
	}

	/* Permission checks (§4.6). */
	ecode |= PFEC_P;
	if (user && !u)
		return ecode | 0x80000000u;
	if (acc == ACC_WRITE && !wr && (user || (c->cr0 & X86_CR0_WP)))
		return ecode | 0x80000000u;
	if (acc == ACC_EXEC && nx && nxe)
		return ecode | 0x80000000u;

	if (set_ad) {
		for (int i = 0; i < n; i++) {
			uint64_t bits = PTE_A | ((i == n - 1 && acc == ACC_WRITE) ? PTE_D : 0);
			if (wide[i]) {
				uint64_t *p = ptes[i];
				if ((*p & bits) != bits)
					__atomic_fetch_or(p, bits, __ATOMIC_RELAXED);
			} else {
				uint32_t *p = ptes[i];
				if ((*p & bits) != bits)
					__atomic_fetch_or(p, (uint32_t)bits, __ATOMIC_RELAXED);
			}
		}
	}
	w->gpa = ((e & PTE_ADDR & ~page_mask) | (la & page_mask)) & 0x000fffffffffffffULL;
	w->user_ok = u;
	w->write_ok = wr || (!user && !(c->cr0 & X86_CR0_WP));
	w->nx = nx && nxe;
	w->global = (e & PTE_G) && (c->cr4 & X86_CR4_PGE);
	w->dirty = acc == ACC_WRITE || (e & PTE_D);
	return 0;
}

static bool is_apic_page(struct emu_cpu *c, uint64_t gpa)
{
	return (gpa & ~0xfffULL) == (c->apic_base & 0xffffff000ULL) && c->lapic;
}

uint64_t emu_mmu_translate(struct emu_cpu *c, uint64_t la, int acc, bool user)
{
	struct walk w;
	uint8_t *hva;

	if (c->efer & EFER_LMA) {
		if (!canonical(la))
			emu_raise_gp(c, 0);
	}
	if (!(c->cr0 & X86_CR0_PG)) {
		w.gpa = la;
		w.user_ok = w.write_ok = w.dirty = true;
		w.nx = w.global = false;
	} else {
		uint32_t err = walk(c, la, acc, user, true, &w);
		if (err)
			page_fault(c, la, err & 0x7fffffffu);
	}

	hva = is_apic_page(c, w.gpa) ? NULL : c->gpa_to_hva(c, w.gpa & ~0xfffULL);
	if (hva) {
		struct emu_tlb_entry *e = &c->tlb[user][(la >> 12) & (EMU_TLB_SIZE - 1)];
		uint64_t page = la & ~0xfffULL;
		if (e->addend != (uintptr_t)hva - page || (e->tag_r != page)) {
			e->tag_r = e->tag_w = e->tag_x = TLB_INVALID;
		}
		e->addend = (uintptr_t)hva - page;
		e->tag_r = page;
		{
			uint16_t id = (uint16_t)((user ? EMU_TLB_SIZE : 0) |
						 ((la >> 12) & (EMU_TLB_SIZE - 1)));
			if (w.global && !e->listed_g) {
				e->listed_g = true;
				c->tlb_glob[c->tlb_nglob++] = id;
			} else if (!w.global && !e->listed_n) {
				e->listed_n = true;
				c->tlb_used[c->tlb_nused++] = id;
			}
		}
		uint32_t *cg = emu_code_gen(c, hva);
		if (w.write_ok && w.dirty && (user ? w.user_ok : true) &&
		    !(cg && (__atomic_load_n(cg, __ATOMIC_RELAXED) & 1))) {
			e->tag_w = page;
			if (c->mark_dirty)
				c->mark_dirty(c, w.gpa);
		}
		if (!w.nx)
			e->tag_x = page;
		e->global = w.global;
	}
	return w.gpa;
}

int emu_mmu_probe(struct emu_cpu *c, uint64_t la, uint64_t *gpa)
{
	struct walk w;

	if (!(c->cr0 & X86_CR0_PG)) {
		*gpa = la;
		return 0;
	}
	if (walk(c, la, ACC_READ, false, false, &w))
		return -EFAULT;
	*gpa = w.gpa;
	return 0;
}

uint64_t emu_phys_read(struct emu_cpu *c, uint64_t gpa, int size)
{
	uint8_t *p = is_apic_page(c, gpa) ? NULL : c->gpa_to_hva(c, gpa & ~0xfffULL);
	uint64_t v = 0;

	if (p) {
		memcpy(&v, p + (gpa & 0xfff), size);
		return v;
	}
	if (c->mmio_read)
		return c->mmio_read(c, gpa, size);
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

void emu_phys_write(struct emu_cpu *c, uint64_t gpa, uint64_t val, int size)
{
	uint8_t *p = is_apic_page(c, gpa) ? NULL : c->gpa_to_hva(c, gpa & ~0xfffULL);

	if (p) {
		emu_code_written(c, p);
		memcpy(p + (gpa & 0xfff), &val, size);
		return;
	}
	if (c->mmio_write)
		c->mmio_write(c, gpa, val, size);
}

uint64_t emu_read_slow(struct emu_cpu *c, uint64_t la, int size, int acc, bool user)
{
	if (!(c->efer & EFER_LMA))
		la &= 0xffffffffULL;
	if ((la & 0xfff) + size > 0x1000) {
		/* Crosses a page: both halves must translate before any effect. */
		uint64_t v = 0;
		for (int i = 0; i < size; i++)
			v |= emu_read_slow(c, la + i, 1, acc, user) << (8 * i);
		return v;
	}
	return emu_phys_read(c, emu_mmu_translate(c, la, acc, user), size);
}

void emu_write_slow(struct emu_cpu *c, uint64_t la, uint64_t val, int size, bool user)
{
	if (!(c->efer & EFER_LMA))
		la &= 0xffffffffULL;
	if ((la & 0xfff) + size > 0x1000) {
		int first = 0x1000 - (la & 0xfff);
		uint64_t g0 = emu_mmu_translate(c, la, ACC_WRITE, user);
		uint64_t g1 = emu_mmu_translate(c, la + first, ACC_WRITE, user);
		for (int i = 0; i < size; i++) {
			uint64_t g = i < first ? g0 + i : g1 + (i - first);
			emu_phys_write(c, g, (val >> (8 * i)) & 0xff, 1);
		}
		return;
	}
	emu_phys_write(c, emu_mmu_translate(c, la, ACC_WRITE, user), val, size);
}

void *emu_mem_ptr(struct emu_cpu *c, uint64_t la, int size, int acc, bool user)
{
	uint64_t gpa;
	uint8_t *p;

	if (!(c->efer & EFER_LMA))
		la &= 0xffffffffULL;
	if ((la & 0xfff) + size > 0x1000)
		return NULL;
	{
		/* TLB hit: RAM, permitted, and (for writes) not a code page. */
		struct emu_tlb_entry *e = &c->tlb[user][(la >> 12) & (EMU_TLB_SIZE - 1)];
		uint64_t tag = acc == ACC_WRITE ? e->tag_w : acc == ACC_EXEC ? e->tag_x : e->tag_r;
		if (tag == (la & ~0xfffULL))
			return (uint8_t *)(uintptr_t)(la + e->addend);
	}
	gpa = emu_mmu_translate(c, la, acc, user);
	if (is_apic_page(c, gpa))
		return NULL;
	p = c->gpa_to_hva(c, gpa & ~0xfffULL);
	if (p && acc == ACC_WRITE)
		emu_code_written(c, p);
	return p ? p + (gpa & 0xfff) : NULL;
}
