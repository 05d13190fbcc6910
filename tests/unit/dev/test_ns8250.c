// SPDX-License-Identifier: GPL-2.0-only
/* ns8250 UART: what Linux's 8250 driver relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>

#include "dev/ns8250.h"
#include "fake_vm.h"

#define COM1 0x3f8
#define RBR  (COM1 + 0)
#define THR  (COM1 + 0)
#define DLL  (COM1 + 0)
#define IER  (COM1 + 1)
#define DLM  (COM1 + 1)
#define IIR  (COM1 + 2)
#define FCR  (COM1 + 2)
#define LCR  (COM1 + 3)
#define MCR  (COM1 + 4)
#define LSR  (COM1 + 5)
#define MSR  (COM1 + 6)
#define SCR  (COM1 + 7)

struct uart_fixture {
	struct fake_vm *f;
	void *dev;
};

static int setup(void **state)
{
	struct uart_fixture *fx = calloc(1, sizeof(*fx));

	fx->f = fake_vm_create(64 << 20, 1);
	assert_int_equal(ns8250_com1_ops.realize(&fx->f->vm, &fx->dev), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct uart_fixture *fx = *state;

	ns8250_com1_ops.destroy(fx->dev);
	assert_null(fx->f->vm.console->input);
	fake_vm_destroy(fx->f);
	free(fx);
	return 0;
}

static struct fake_vm *fv(void **state)
{
	return ((struct uart_fixture *)*state)->f;
}

/* Linux autoconfig(): IER read-back, then the loopback test. */
static void test_linux_probe(void **state)
{
	struct fake_vm *f = fv(state);

	fake_outb(f, IER, 0);
	assert_int_equal(fake_inb(f, IER) & 0x0f, 0);
	fake_outb(f, IER, 0x0f);
	assert_int_equal(fake_inb(f, IER), 0x0f);
	fake_outb(f, IER, 0xff);
	assert_int_equal(fake_inb(f, IER), 0x0f);  /* bits 7:4 read 0 */
	fake_outb(f, IER, 0);

	fake_outb(f, MCR, 0x10 | 0x0a);  /* LOOP | OUT2 | RTS */
	assert_int_equal(fake_inb(f, MSR) & 0xf0, 0x90);  /* DCD | CTS */
	fake_outb(f, MCR, 0x10 | 0x05);  /* LOOP | OUT1 | DTR */
	assert_int_equal(fake_inb(f, MSR) & 0xf0, 0x60);  /* RI | DSR */
	fake_outb(f, MCR, 0);
	assert_int_equal(fake_inb(f, MSR) & 0xf0, 0xb0);

	/* 16550A: FIFO enable shows up in IIR bits 7:6. */
	fake_outb(f, FCR, 0x01);
	assert_int_equal(fake_inb(f, IIR) >> 6, 3);
	fake_outb(f, FCR, 0x00);
	assert_int_equal(fake_inb(f, IIR) >> 6, 0);
	/* Scratch register. */
	fake_outb(f, SCR, 0xa5);
	assert_int_equal(fake_inb(f, SCR), 0xa5);
}

static void test_loopback_data(void **state)
{
	struct fake_vm *f = fv(state);

	fake_outb(f, FCR, 0x07);
	fake_outb(f, MCR, 0x10);
	fake_outb(f, THR, 'x');
	fake_outb(f, THR, 'y');
	assert_int_equal(f->vm.console->out_len, 0);  /* nothing leaves in loopback */
	assert_true(fake_inb(f, LSR) & 0x01);
	assert_int_equal(fake_inb(f, RBR), 'x');
	assert_int_equal(fake_inb(f, RBR), 'y');
	assert_false(fake_inb(f, LSR) & 0x01);
	fake_outb(f, MCR, 0);
	fake_outb(f, THR, 'z');
	assert_int_equal(f->vm.console->out_len, 1);
	assert_int_equal(f->vm.console->out[0], 'z');
}

static void test_divisor_latch(void **state)
{
	struct fake_vm *f = fv(state);

	fake_outb(f, IER, 0x05);
	fake_outb(f, LCR, 0x83);         /* DLAB | 8 bits */
	assert_int_equal(fake_inb(f, DLL), 12);  /* 9600 baud default */
	fake_outb(f, DLL, 0x01);
	fake_outb(f, DLM, 0x02);
	assert_int_equal(fake_inb(f, DLL), 0x01);
	assert_int_equal(fake_inb(f, DLM), 0x02);
	fake_outb(f, THR, 'q');          /* DLL write, not data */
	assert_int_equal(f->vm.console->out_len, 0);
	fake_outb(f, LCR, 0x03);
	assert_int_equal(fake_inb(f, IER), 0x05);  /* IER untouched by DLM */
	assert_int_equal(fake_inb(f, LCR), 0x03);
	fake_outb(f, LCR, 0x83);
	assert_int_equal(fake_inb(f, DLL), 'q');
	assert_int_equal(fake_inb(f, DLM), 0x02);
}

/* serial8250_do_startup()'s THRE tests, with OUT2 gating the line. */
static void test_thre_interrupt(void **state)
{
	struct fake_vm *f = fv(state);

	assert_int_equal(fake_inb(f, LSR) & 0x60, 0x60);
	fake_outb(f, IER, 0x02);
	assert_int_equal(f->irq_level[4], 0);      /* OUT2 clear: line gated */
	assert_int_equal(fake_inb(f, IIR), 0x02);  /* THRE pending */
	assert_int_equal(fake_inb(f, IIR), 0x01);  /* cleared by the IIR read */
	fake_outb(f, IER, 0);
	fake_outb(f, IER, 0x02);
	assert_int_equal(fake_inb(f, IIR), 0x02);  /* re-asserted on enable */
	fake_outb(f, IER, 0);

	fake_outb(f, MCR, 0x08);                   /* OUT2 */
	assert_int_equal(f->irq_level[4], 0);
	fake_outb(f, IER, 0x02);
	assert_int_equal(f->irq_level[4], 1);
	assert_int_equal(fake_inb(f, IIR), 0x02);
	assert_int_equal(f->irq_level[4], 0);
	/* A THR write re-raises THRE: a fresh edge for an edge-triggered PIC. */
	int raises = f->irq_raises[4];
	fake_outb(f, THR, 'a');
	assert_int_equal(f->irq_level[4], 1);
	assert_int_equal(f->irq_raises[4], raises + 1);
	fake_outb(f, THR, 'b');
	assert_int_equal(f->irq_raises[4], raises + 2);
	fake_outb(f, IER, 0);
	assert_int_equal(f->irq_level[4], 0);
	assert_memory_equal(f->vm.console->out, "ab", 2);

	/* Loopback forces OUT2 inactive: no interrupt reaches the PIC. */
	fake_outb(f, MCR, 0x18);
	fake_outb(f, IER, 0x02);
	assert_int_equal(f->irq_level[4], 0);
	assert_int_equal(fake_inb(f, IIR) & 0x0f, 0x02);
}

static void test_rx_fifo_interrupts(void **state)
{
	struct fake_vm *f = fv(state);

	fake_outb(f, FCR, 0xc7);     /* FIFO on, clear, trigger 14 */
	fake_outb(f, MCR, 0x0b);     /* DTR | RTS | OUT2 */
	fake_outb(f, IER, 0x01);     /* RX data available */
	assert_int_equal(f->irq_level[4], 0);
	assert_int_equal(fake_inb(f, IIR), 0xc1);

	fake_console_type(f, "hi");
	/* Below the trigger level: the character timeout indication. */
	assert_int_equal(f->irq_level[4], 1);
	assert_int_equal(fake_inb(f, IIR), 0xcc);
	assert_int_equal(fake_inb(f, LSR) & 0x01, 1);
	assert_int_equal(fake_inb(f, RBR), 'h');
	assert_int_equal(fake_inb(f, RBR), 'i');
	assert_int_equal(fake_inb(f, LSR) & 0x01, 0);
	assert_int_equal(f->irq_level[4], 0);
	assert_int_equal(fake_inb(f, IIR), 0xc1);

	/* 40 bytes: FIFO holds 16, the rest waits, nothing is lost. */
	const char *msg = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
	fake_console_type(f, msg);
	assert_int_equal(fake_inb(f, IIR), 0xc4);  /* at/above trigger: RDA */
	for (size_t i = 0; i < strlen(msg); i++) {
		assert_true(fake_inb(f, LSR) & 0x01);
		assert_int_equal(fake_inb(f, RBR), msg[i]);
	}
	assert_int_equal(fake_inb(f, LSR) & 0x03, 0);  /* no data, no overrun */
	assert_int_equal(f->irq_level[4], 0);
}

static void test_iir_priorities(void **state)
{
	struct fake_vm *f = fv(state);

	fake_outb(f, FCR, 0x07);
	fake_outb(f, MCR, 0x08);
	fake_outb(f, IER, 0x0f);
	/* THRE pending, and entering loopback drops DSR: a modem delta. */
	fake_outb(f, MCR, 0x18 | 0x02);   /* LOOP | OUT2 | RTS */
	assert_int_equal(fake_inb(f, IIR) & 0x0f, 0x02);   /* THRE above MSI */
	assert_int_equal(fake_inb(f, IIR) & 0x0f, 0x00);   /* then modem status */
	assert_int_equal(fake_inb(f, MSR), 0x90 | 0x02);   /* DDSR, cleared by the read */
	assert_int_equal(fake_inb(f, IIR) & 0x0f, 0x01);

	/* Overrun in loopback without FIFOs: line status beats RX data. */
	fake_outb(f, FCR, 0x00);
	fake_outb(f, THR, '1');
	fake_outb(f, THR, '2');           /* holding register full: overrun */
	assert_int_equal(fake_inb(f, IIR), 0x06);
	assert_int_equal(fake_inb(f, LSR) & 0x03, 0x03);   /* DR | OE */
	assert_int_equal(fake_inb(f, LSR) & 0x03, 0x01);   /* OE clears on read */
	assert_int_equal(fake_inb(f, IIR), 0x04);
	assert_int_equal(fake_inb(f, RBR), '1');
	assert_int_equal(fake_inb(f, IIR), 0x02);          /* THRE again after the writes */
	assert_int_equal(fake_inb(f, IIR), 0x01);
}

static void test_reset_and_wide_access(void **state)
{
	struct uart_fixture *fx = *state;
	struct fake_vm *f = fx->f;

	fake_outb(f, MCR, 0x08);
	fake_outb(f, IER, 0x02);
	assert_int_equal(f->irq_level[4], 1);
	ns8250_com1_ops.reset(fx->dev);
	assert_int_equal(f->irq_level[4], 0);
	assert_int_equal(fake_inb(f, IER), 0);
	assert_int_equal(fake_inb(f, LSR), 0x60);
	/* A 16-bit access touches two registers without harm. */
	fake_out(f, COM1 + 3, 0x0b03, 2);     /* LCR = 3, MCR = 0x0b */
	assert_int_equal(fake_inb(f, LCR), 0x03);
	assert_int_equal(fake_inb(f, MCR), 0x0b);
	assert_int_equal(fake_inl(f, COM1 + 7, 4) & 0xff, 0);  /* SCR; rest past the end */
}

/* A hostile guest hammering every register cannot break the UART. */
static void test_hostile_guest(void **state)
{
	struct uart_fixture *fx = *state;
	struct fake_vm *f = fx->f;

	for (int round = 0; round < 50; round++) {
		fake_random_pio(f, COM1, 8, 2000, 0x8250 + round);
		fake_console_type(f, "0123456789abcdefghijklmnopqrstuvwxyz");
	}
	ns8250_com1_ops.reset(fx->dev);
	assert_int_equal(f->irq_level[4], 0);
	assert_true(f->vm.console->out_len > 0);  /* it did transmit */
	f->vm.console->out_len = 0;
	test_linux_probe(state);
	test_loopback_data(state);
}

struct writer_arg {
	struct fake_vm *f;
	char c;
};

static void *writer_thread(void *p)
{
	struct writer_arg *a = p;

	for (int i = 0; i < 1000; i++) {
		fake_outb(a->f, THR, (uint8_t)a->c);
		(void)fake_inb(a->f, IIR);
		(void)fake_inb(a->f, LSR);
	}
	return NULL;
}

static void *typist_thread(void *p)
{
	struct fake_vm *f = p;

	for (int i = 0; i < 200; i++)
		fake_console_type(f, "ls -l\r");
	return NULL;
}

/* vCPU threads and the event loop at once: every byte still leaves once. */
static void test_concurrent_access(void **state)
{
	struct fake_vm *f = fv(state);
	struct writer_arg args[4];
	pthread_t th[5];
	unsigned counts[4] = { 0 };

	fake_outb(f, MCR, 0x0b);
	fake_outb(f, IER, 0x03);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct writer_arg){ f, (char)('a' + i) };
		assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
	}
	assert_int_equal(pthread_create(&th[4], NULL, typist_thread, f), 0);
	for (int i = 0; i < 4; i++) {
		/* The guest's reader: drain what arrives meanwhile. */
		for (int j = 0; j < 500; j++)
			if (fake_inb(f, LSR) & 0x01)
				(void)fake_inb(f, RBR);
	}
	for (int i = 0; i < 5; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(f->vm.console->out_len, 4000);
	for (size_t i = 0; i < f->vm.console->out_len; i++)
		counts[f->vm.console->out[i] - 'a']++;
	for (int i = 0; i < 4; i++)
		assert_int_equal(counts[i], 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_fifo_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_wide_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_access, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
