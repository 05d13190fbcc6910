// SPDX-License-Identifier: GPL-2.0-only
/*
 * irq-apic: the same two interrupts as `irq`, through the IOAPIC and the
 * local APIC instead of the 8259 (the path Linux uses): the PIC is masked,
 * the IOAPIC pin of the PIT is taken from the MADT's interrupt source
 * override for ISA IRQ0 (ACPI 6.5 §5.2.12.5; on PCs, pin 2), COM1 is pin 4.
 * Interrupts end with a local APIC EOI.  Exit status 47 when both arrived,
 * 1 on a setup error, 2 if the UART interrupt never came, 3 if the timer
 * never did.
 */
#include "tiny.h"

#define IRQ_APIC_EXIT   47
#define VEC_TIMER       0x30
#define VEC_COM1        0x34
#define PIT_HZ          1193182
#define TICK_HZ         100
#define WANT_TICKS      3
#define WAIT_MS         5000

static volatile unsigned ticks;
static volatile unsigned uart_irqs;
static volatile uint8_t uart_iir;

static void irq_handler(struct irq_frame *f)
{
	if (f->vector == VEC_TIMER) {
		ticks++;
	} else if (f->vector == VEC_COM1) {
		uart_iir = inb(COM1 + UART_IIR);
		outb(COM1 + UART_IER, 0x00);
		uart_irqs++;
	} else {
		printf("irq-apic: unexpected vector %u at rip %lx, error code %lx\n",
		       (unsigned)f->vector, f->rip, f->error_code);
		tiny_exit(0x7f);
	}
	lapic_write(LAPIC_EOI, 0);
}

/* The GSI ISA IRQ `irq` arrives on: the MADT override if any, else irq. */
static int madt_isa_gsi(const uint8_t *madt, unsigned irq)
{
	uint32_t len = *(const uint32_t *)(madt + 4);

	for (uint32_t e = 44; e + 2 <= len && madt[e + 1]; e += madt[e + 1])
		if (madt[e] == 2 && madt[e + 2] == 0 && madt[e + 3] == irq)
			return (int)*(const uint32_t *)(madt + e + 4);
	return (int)irq;
}

/* Wait with interrupts on until *counter reaches want (bounded). */
static bool wait_for(volatile unsigned *counter, unsigned want)
{
	struct tiny_timeout t;

	timeout_start(&t, WAIT_MS);
	while (*counter < want && !timeout_expired(&t)) {
		cpu_sti();
		__asm__ volatile("pause");
	}
	cpu_cli();
	return *counter >= want;
}

int tiny_main(const struct hvm_start_info *si)
{
	const uint8_t *madt;
	unsigned count = PIT_HZ / TICK_HZ;
	int timer_pin;

	serial_init();
	idt_init(irq_handler);
	madt = acpi_find_table(si->rsdp_paddr, "APIC");
	if (!madt) {
		printf("irq-apic: no MADT\n");
		return 1;
	}
	timer_pin = madt_isa_gsi(madt, 0);
	printf("irq-apic: the MADT routes ISA IRQ0 to IOAPIC pin %d\n", timer_pin);
	outb(0x21, 0xff);                       /* mask the 8259s */
	outb(0xa1, 0xff);
	lapic_write(LAPIC_SVR, 0x1ff);          /* software-enable the local APIC */
	ioapic_route((unsigned)timer_pin, VEC_TIMER, 0, false);
	ioapic_route(4, VEC_COM1, 0, false);

	outb(0x43, 0x34);                       /* PIT channel 0, mode 2 */
	outb(0x40, count & 0xff);
	outb(0x40, count >> 8);
	if (!wait_for(&ticks, WANT_TICKS)) {
		printf("irq-apic: no timer interrupt on vector %u\n", VEC_TIMER);
		return 3;
	}
	ioapic_route((unsigned)timer_pin, VEC_TIMER, 0, true);
	printf("irq-apic: %u timer interrupts on vector %u (PIT, IOAPIC pin %d)\n",
	       ticks, VEC_TIMER, timer_pin);

	outb(COM1 + UART_IER, 0x02);            /* THRE interrupt */
	if (!wait_for(&uart_irqs, 1)) {
		printf("irq-apic: no UART interrupt on vector %u\n", VEC_COM1);
		return 2;
	}
	printf("irq-apic: UART THRE interrupt on vector %u (COM1, IOAPIC pin 4), IIR %02x\n",
	       VEC_COM1, uart_iir);
	return IRQ_APIC_EXIT;
}
