// SPDX-License-Identifier: GPL-2.0-only
/*
 * irq: takes interrupts through the IDT from the legacy chips every backend
 * provides (KVM's in-kernel ones under kvm, src/dev/ under emu):
 *   1. the i8254 PIT, channel 0 in mode 2, on IRQ0 through the 8259 PIC;
 *   2. the 8250 UART's THR-empty interrupt on IRQ4, which the monitor
 *      raises with vm_irq_set() (KVM_IRQ_LINE under kvm).
 * The PIC is remapped to vectors 0x20-0x2f (8259A datasheet, ICW1-4); the
 * BSP's local APIC passes it through LINT0 (virtual wire, ExtINT).
 * Exit status 44 when both arrived, 1 if neither did, 2 if only the timer.
 */
#include "tiny.h"

#define IRQ_EXIT        44
#define PIC1            0x20
#define PIC2            0xa0
#define PIC_EOI         0x20
#define VEC_BASE        0x20
#define VEC_TIMER       (VEC_BASE + 0)
#define VEC_COM1        (VEC_BASE + 4)
#define PIT_HZ          1193182
#define TICK_HZ         100
#define WANT_TICKS      3
#define UART_WAIT_TICKS 50

static volatile unsigned ticks;
static volatile unsigned uart_irqs;
static volatile uint8_t uart_iir;

static void irq_handler(struct irq_frame *f)
{
	if (f->vector == VEC_TIMER) {
		ticks++;
	} else if (f->vector == VEC_COM1) {
		/* Reading IIR acknowledges THRE (16550 datasheet, IIR); then quiet it. */
		uart_iir = inb(COM1 + UART_IIR);
		outb(COM1 + UART_IER, 0x00);
		uart_irqs++;
	} else if (f->vector < VEC_BASE) {
		printf("irq: exception %u at rip %lx, error code %lx\n",
		       (unsigned)f->vector, f->rip, f->error_code);
		tiny_exit(0x7f);
	}
	if (f->vector >= VEC_BASE + 8)
		outb(PIC2, PIC_EOI);
	if (f->vector >= VEC_BASE)
		outb(PIC1, PIC_EOI);
}

static void pic_init(uint8_t master_mask)
{
	outb(PIC1, 0x11);           /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2, 0x11);
	outb(PIC1 + 1, VEC_BASE);   /* ICW2: vector base */
	outb(PIC2 + 1, VEC_BASE + 8);
	outb(PIC1 + 1, 0x04);       /* ICW3: slave on IR2 */
	outb(PIC2 + 1, 0x02);
	outb(PIC1 + 1, 0x01);       /* ICW4: 8086 mode */
	outb(PIC2 + 1, 0x01);
	outb(PIC1 + 1, master_mask);
	outb(PIC2 + 1, 0xff);
}

static void pit_init(void)
{
	unsigned count = PIT_HZ / TICK_HZ;

	outb(0x43, 0x34);           /* channel 0, lobyte/hibyte, mode 2 */
	outb(0x40, count & 0xff);
	outb(0x40, count >> 8);
}

int tiny_main(const struct hvm_start_info *si)
{
	serial_init();
	idt_init(irq_handler);
	/* Unmask IRQ0 (PIT) and IRQ4 (COM1); IRQ2 is the cascade. */
	pic_init((uint8_t)~((1u << 0) | (1u << 4)));
	pit_init();
	while (ticks < WANT_TICKS)
		cpu_sti_hlt();
	cpu_cli();
	printf("irq: %u timer interrupts on vector %u (PIT, IRQ0)\n", ticks, VEC_TIMER);

	/* THRE interrupts fire as soon as they are enabled with THR empty. */
	outb(COM1 + UART_IER, 0x02);
	for (unsigned start = ticks; !uart_irqs && ticks - start < UART_WAIT_TICKS;)
		cpu_sti_hlt();
	cpu_cli();
	if (!uart_irqs) {
		printf("irq: no UART interrupt within %u timer ticks\n", UART_WAIT_TICKS);
		return 2;
	}
	printf("irq: UART THRE interrupt on vector %u (COM1, IRQ4), IIR %02x\n",
	       VEC_COM1, uart_iir);
	return IRQ_EXIT;
}
