/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef TINY_H
#define TINY_H

/*
 * The tiny guests' runtime: port I/O, the COM1 8250, printf, PCI config
 * mechanism #1, an IDT, and the debug-exit port.  No libc: these run with
 * nothing beneath them but the virtual hardware.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tiny_layout.h"

/* Xen PVH hvm_start_info, version 1 (start_info.h). */
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

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpu_sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cpu_cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* STI; HLT: the STI shadow makes the pair atomic against a wakeup. */
static inline void cpu_sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* ---- what the compiler may call even in freestanding code ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- COM1 (8250/16550 at 0x3f8) ---- */
#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_THRE 0x20

void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2) ---- */
uint32_t pci_cfg_read32(unsigned bus, unsigned dev, unsigned fn, unsigned off);

/* ---- ACPI ---- */
/*
 * The table with signature `sig` (e.g. "APIC" for the MADT), found through
 * the RSDP at rsdp_gpa and its XSDT (or RSDT); NULL if absent.
 */
const uint8_t *acpi_find_table(uint64_t rsdp_gpa, const char sig[4]);

/* ---- local APIC and IOAPIC (xAPIC MMIO, identity-mapped) ---- */
#define LAPIC_GPA       0xfee00000UL
#define LAPIC_EOI       0xb0
#define LAPIC_SVR       0xf0
#define IOAPIC_GPA      0xfec00000UL

static inline void lapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC_GPA + reg) = v;
}

static inline uint32_t lapic_read(unsigned reg)
{
	return *(volatile uint32_t *)(LAPIC_GPA + reg);
}

/* IOAPIC redirection entry of `pin` (82093AA datasheet §3.2.4). */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest_apic, bool masked);

/* ---- interrupts ---- */
struct irq_frame {
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};
/* Called with interrupts off for every vector 0-63; set by the guest. */
typedef void (*irq_handler_fn)(struct irq_frame *f);
void idt_init(irq_handler_fn handler);

/* ---- MSRs and the paravirtual clock ---- */
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/*
 * Register the kvmclock (CPUID 0x40000001 CLOCKSOURCE2, MSR_KVM_SYSTEM_TIME_NEW;
 * Documentation/virt/kvm/x86/msr.rst) if not done yet; false if the
 * hypervisor does not advertise it.
 */
bool kvmclock_init(void);
/* Nanoseconds since the kvmclock's origin; kvmclock_init() must have succeeded. */
uint64_t kvmclock_ns(void);

/*
 * A time limit of `ms` milliseconds from timeout_start() on the kvmclock;
 * without a kvmclock, a budget of ms * 100000 timeout_expired() calls.
 */
struct tiny_timeout {
	uint64_t deadline, spins;
	bool clock;
};
void timeout_start(struct tiny_timeout *t, unsigned ms);
bool timeout_expired(struct tiny_timeout *t);

/* End the VM through the debug-exit port with status `code` (0-255). */
void tiny_exit(int code) __attribute__((noreturn));

int tiny_main(const struct hvm_start_info *si);

#endif
