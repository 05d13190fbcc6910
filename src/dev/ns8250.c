// SPDX-License-Identifier: GPL-2.0-only
/*
 * 16550A-compatible UART, modelled on the National Semiconductor PC16550D
 * datasheet (June 1995; section numbers below refer to it) and on what
 * Linux's drivers/tty/serial/8250 relies on:
 *
 *  - autoconfig() probes with loopback (MCR = LOOP|OUT2|RTS must read back
 *    MSR = DCD|CTS) and an IER write/read-back test, then detects the 16550A
 *    by IIR bits 7:6 after FCR = 1;
 *  - serial8250_do_startup() expects the THRE interrupt to be raised as soon
 *    as IER.ETBEI goes 0 -> 1 with the transmitter empty, and to be raised
 *    again after reading IIR cleared it (the UART_BUG_THRE/TXEN tests);
 *  - the receive path loops on LSR.DR and takes RDA or timeout interrupts.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * console, so THRE and TEMT are always set and the transmit FIFO is never
 * observable.  The character timeout (§8.6.4) is modelled as having elapsed
 * as soon as input stops arriving: a receive FIFO below its trigger level
 * with data in it reports the timeout interrupt (IIR = 0xcc) at once.
 *
 * Host input that does not fit the 16-byte receive FIFO waits in a backlog
 * and moves into the FIFO as the guest reads RBR, so a paste into the
 * console is not lost to overruns.
 *
 * The INTR output reaches ISA IRQ 4 through the PC's OUT2 gate: the line is
 * driven only while MCR.OUT2 is set and loopback is off (in loopback OUT2 is
 * forced inactive, §8.6.7).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/bus.h"
#include "vireo/console.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "dev/ns8250.h"

/* Register offsets (Table II). */
#define REG_RBR_THR_DLL 0
#define REG_IER_DLM     1
#define REG_IIR_FCR     2
#define REG_LCR         3
#define REG_MCR         4
#define REG_LSR         5
#define REG_MSR         6
#define REG_SCR         7

#define IER_ERBFI 0x01  /* received data available */
#define IER_ETBEI 0x02  /* transmitter holding register empty */
#define IER_ELSI  0x04  /* receiver line status */
#define IER_EDSSI 0x08  /* modem status */
#define IER_MASK  0x0f  /* bits 7:4 always read 0 */

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_CTI    0x0c
#define IIR_FIFOS  0xc0  /* FIFOs enabled (16550A, not the buggy 16550) */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_TRIG(f)  (((f) >> 6) & 3)

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_PE   0x04
#define LSR_FE   0x08
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80
#define MSR_DELTA 0x0f

#define RX_FIFO_SIZE 16
#define BACKLOG_SIZE 4096
#define DEFAULT_DIVISOR 12  /* 9600 baud from the 1.8432 MHz clock */

/* Receive FIFO trigger levels selected by FCR bits 7:6 (Table VI). */
static const uint8_t rx_trigger_levels[4] = { 1, 4, 8, 14 };

struct ns8250 {
	struct vm *vm;
	pthread_mutex_t lock;
	uint16_t base;
	unsigned irq;

	uint8_t ier, fcr, lcr, mcr, lsr, msr, scr;
	uint16_t divisor;
	bool thr_ipending;      /* THRE interrupt pending (cleared by IIR read / THR write) */
	bool irq_level;         /* level last driven on the IRQ line */

	uint8_t rx_fifo[RX_FIFO_SIZE];
	unsigned rx_head, rx_count;

	uint8_t backlog[BACKLOG_SIZE];  /* host input waiting for FIFO room */
	unsigned bl_head, bl_count;
};

static unsigned rx_capacity(const struct ns8250 *u)
{
	/* Without FIFOs the receiver holds one character (16450 mode). */
	return (u->fcr & FCR_ENABLE) ? RX_FIFO_SIZE : 1;
}

static uint8_t iir_source(const struct ns8250 *u)
{
	/* Interrupt priorities, highest first (Table IV). */
	if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRS))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		if (!(u->fcr & FCR_ENABLE) ||
		    u->rx_count >= rx_trigger_levels[FCR_TRIG(u->fcr)])
			return IIR_RDI;
		return IIR_CTI;
	}
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTA))
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct ns8250 *u)
{
	bool level = iir_source(u) != IIR_NO_INT &&
		     (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	vm_irq_set(u->vm, u->irq, level);
}

static void rx_push(struct ns8250 *u, uint8_t c)
{
	if (u->rx_count >= rx_capacity(u)) {
		/* §8.6.3: the character in the shift register is lost. */
		u->lsr |= LSR_OE;
		return;
	}
	u->rx_fifo[(u->rx_head + u->rx_count) % RX_FIFO_SIZE] = c;
	u->rx_count++;
	u->lsr |= LSR_DR;
}

/* Move waiting host input into the receiver while there is room. */
static void rx_refill(struct ns8250 *u)
{
	if (u->mcr & MCR_LOOP)
		return; /* the serial input is disconnected in loopback */
	while (u->bl_count && u->rx_count < rx_capacity(u)) {
		rx_push(u, u->backlog[u->bl_head]);
		u->bl_head = (u->bl_head + 1) % BACKLOG_SIZE;
		u->bl_count--;
	}
}

static uint8_t rx_pop(struct ns8250 *u)
{
	uint8_t c = 0;

	if (u->rx_count) {
		c = u->rx_fifo[u->rx_head];
		u->rx_head = (u->rx_head + 1) % RX_FIFO_SIZE;
		u->rx_count--;
	}
	rx_refill(u);
	if (!u->rx_count)
		u->lsr &= ~LSR_DR;
	return c;
}

static void rx_clear(struct ns8250 *u)
{
	u->rx_head = u->rx_count = 0;
	u->lsr &= ~LSR_DR;
}

/*
 * Recompute the modem status inputs: looped back from MCR in loopback
 * (§8.6.7: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2), else a console
 * that is always connected.  Changes set the delta bits (§8.6.8).
 */
static void msr_update(struct ns8250 *u)
{
	uint8_t in, old = u->msr;

	if (u->mcr & MCR_LOOP) {
		in = 0;
		if (u->mcr & MCR_RTS)
			in |= MSR_CTS;
		if (u->mcr & MCR_DTR)
			in |= MSR_DSR;
		if (u->mcr & MCR_OUT1)
			in |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			in |= MSR_DCD;
	} else {
		in = MSR_CTS | MSR_DSR | MSR_DCD;
	}
	u->msr = (old & MSR_DELTA) | in;
	if ((old ^ in) & MSR_CTS)
		u->msr |= MSR_DCTS;
	if ((old ^ in) & MSR_DSR)
		u->msr |= MSR_DDSR;
	if ((old & MSR_RI) && !(in & MSR_RI))
		u->msr |= MSR_TERI;
	if ((old ^ in) & MSR_DCD)
		u->msr |= MSR_DDCD;
}

static void thr_write(struct ns8250 *u, uint8_t c)
{
	/* Writing THR clears the THRE interrupt (Table IV) ... */
	u->thr_ipending = false;
	update_irq(u);
	if (u->mcr & MCR_LOOP)
		rx_push(u, c);
	else if (u->vm->console)
		console_write(u->vm->console, &c, 1);
	/* ... and the byte leaves at once, so THR is empty again: a new edge. */
	u->thr_ipending = true;
}

static void ier_write(struct ns8250 *u, uint8_t val)
{
	uint8_t changed = (u->ier ^ val) & IER_MASK;

	u->ier = val & IER_MASK;
	/* Enabling ETBEI with THR empty raises THRE at once (Linux's THRE test). */
	if (changed & IER_ETBEI)
		u->thr_ipending = (u->ier & IER_ETBEI) && (u->lsr & LSR_THRE);
}

static void fcr_write(struct ns8250 *u, uint8_t val)
{
	/* §8.6.4: toggling FCR0 clears both FIFOs; other bits need FCR0 = 1. */
	if ((val ^ u->fcr) & FCR_ENABLE)
		rx_clear(u);
	if (!(val & FCR_ENABLE)) {
		u->fcr = 0;
		return;
	}
	if (val & FCR_CLEAR_RX)
		rx_clear(u);
	/* FCR_CLEAR_TX: the transmit FIFO is always empty. */
	u->fcr = val & 0xc9;  /* enable, DMA mode, trigger level */
	rx_refill(u);
}

static void mcr_write(struct ns8250 *u, uint8_t val)
{
	u->mcr = val & MCR_MASK;
	msr_update(u);
	rx_refill(u);
}

static void reg_write(struct ns8250 *u, unsigned reg, uint8_t val)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR_DLL:
		if (dlab)
			u->divisor = (u->divisor & 0xff00) | val;
		else
			thr_write(u, val);
		break;
	case REG_IER_DLM:
		if (dlab)
			u->divisor = (u->divisor & 0x00ff) | (uint16_t)(val << 8);
		else
			ier_write(u, val);
		break;
	case REG_IIR_FCR:
		fcr_write(u, val);
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		mcr_write(u, val);
		break;
	case REG_LSR:
	case REG_MSR:
		/* Read-only (LSR writes are a factory test mode): ignored. */
		break;
	case REG_SCR:
		u->scr = val;
		break;
	}
}

static uint8_t iir_read(struct ns8250 *u)
{
	uint8_t src = iir_source(u);

	/* Reading IIR while it reports THRE clears that source (Table IV). */
	if (src == IIR_THRI)
		u->thr_ipending = false;
	return src | ((u->fcr & FCR_ENABLE) ? IIR_FIFOS : 0);
}

static uint8_t reg_read(struct ns8250 *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t val = 0;

	switch (reg) {
	case REG_RBR_THR_DLL:
		val = dlab ? (uint8_t)u->divisor : rx_pop(u);
		break;
	case REG_IER_DLM:
		val = dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
		break;
	case REG_IIR_FCR:
		val = iir_read(u);
		break;
	case REG_LCR:
		val = u->lcr;
		break;
	case REG_MCR:
		val = u->mcr;
		break;
	case REG_LSR:
		val = u->lsr;
		u->lsr &= ~LSR_ERRS;  /* error bits clear on read (§8.6.3) */
		break;
	case REG_MSR:
		val = u->msr;
		u->msr &= ~MSR_DELTA;
		break;
	case REG_SCR:
		val = u->scr;
		break;
	}
	return val;
}

static void ns8250_pio(struct vcpu *vcpu, uint64_t offset, void *data,
		       int len, bool is_write, void *opaque)
{
	struct ns8250 *u = opaque;
	uint8_t *bytes = data;

	/*
	 * The UART is an 8-bit device; a wider access touches consecutive
	 * registers, as on an ISA bus that splits it into byte cycles.
	 */
	pthread_mutex_lock(&u->lock);
	for (int i = 0; i < len && offset + i < NS8250_NREGS; i++) {
		if (is_write)
			reg_write(u, offset + i, bytes[i]);
		else
			bytes[i] = reg_read(u, offset + i);
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

/* Console input: runs on the event-loop thread. */
static void ns8250_console_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct ns8250 *u = opaque;
	size_t dropped = 0;

	pthread_mutex_lock(&u->lock);
	for (size_t i = 0; i < len; i++) {
		if (u->bl_count == BACKLOG_SIZE) {
			dropped = len - i;
			break;
		}
		u->backlog[(u->bl_head + u->bl_count) % BACKLOG_SIZE] = buf[i];
		u->bl_count++;
	}
	rx_refill(u);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (dropped)
		log_warnx_rl("ns8250: guest is not reading its serial port, "
			     "%zu input bytes dropped", dropped);
}

static void ns8250_reset(void *opaque)
{
	struct ns8250 *u = opaque;

	/* Master reset values (Table III); the divisor latch is not reset. */
	pthread_mutex_lock(&u->lock);
	u->ier = u->fcr = u->lcr = u->mcr = 0;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_CTS | MSR_DSR | MSR_DCD;
	u->scr = 0;
	u->thr_ipending = false;
	rx_clear(u);
	u->bl_head = u->bl_count = 0;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static int ns8250_realize_at(struct vm *vm, uint16_t base, unsigned irq,
			     const char *name, void **opaque)
{
	struct ns8250 *u;
	int ret;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->vm = vm;
	u->base = base;
	u->irq = irq;
	u->divisor = DEFAULT_DIVISOR;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_CTS | MSR_DSR | MSR_DCD;
	ret = -pthread_mutex_init(&u->lock, NULL);
	if (ret)
		goto err_free;
	ret = vm_map_pio(vm, base, NS8250_NREGS, ns8250_pio, u, name);
	if (ret < 0) {
		log_errno(ret, "%s: cannot map ports 0x%x-0x%x", name, base,
			  base + NS8250_NREGS - 1);
		goto err_mutex;
	}
	if (vm->console)
		console_set_input(vm->console, ns8250_console_input, u);
	*opaque = u;
	return 0;

err_mutex:
	pthread_mutex_destroy(&u->lock);
err_free:
	free(u);
	return ret;
}

static int ns8250_com1_realize(struct vm *vm, void **opaque)
{
	return ns8250_realize_at(vm, NS8250_COM1_BASE, NS8250_COM1_IRQ,
				 "ns8250-com1", opaque);
}

static void ns8250_destroy(void *opaque)
{
	struct ns8250 *u = opaque;

	if (!u)
		return;
	if (u->vm->console)
		console_set_input(u->vm->console, NULL, NULL);
	if (bus_unmap(&u->vm->pio, u->base) < 0)
		log_debug("ns8250: ports 0x%x were not mapped", u->base);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

const struct device_ops ns8250_com1_ops = {
	.name = "ns8250-com1",
	.realize = ns8250_com1_realize,
	.reset = ns8250_reset,
	.destroy = ns8250_destroy,
};
