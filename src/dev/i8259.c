// SPDX-License-Identifier: GPL-2.0-only
/*
 * Intel 8259A programmable interrupt controller, master/slave pair as in the
 * PC/AT (slave INT on master IR2), plus the EISA edge/level control
 * registers (ELCR) at 0x4d0/0x4d1.  References are to the 8259A datasheet
 * (Intel order 231468): "ICW" initialisation and "OCW" operation command
 * words.  Level-triggered mode via ICW1.LTIM is not modelled (the ELCR is
 * what PC chipsets use); special fully nested mode, auto-EOI, rotation,
 * special mask and poll mode are.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/irqchip.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "dev/apic_bus.h"

struct pic_chip {
	uint8_t irr;            /* interrupt request register */
	uint8_t imr;            /* interrupt mask register (OCW1) */
	uint8_t isr;            /* in-service register */
	uint8_t last_irr;       /* line levels, for edge detection */
	uint8_t priority_add;   /* rotation: IR with lowest priority + 1 */
	uint8_t irq_base;       /* ICW2 T7-T3 */
	uint8_t read_reg_select;/* OCW3 RIS: 1 = ISR, 0 = IRR */
	uint8_t elcr, elcr_mask;
	bool poll, special_mask, auto_eoi, rotate_on_auto_eoi;
	bool special_fully_nested, init4, single_mode;
	uint8_t init_state;     /* 0 ready, 1 want ICW2, 2 want ICW3, 3 want ICW4 */
};

struct pic {
	struct vm *vm;
	struct apic_bus *bus;
	pthread_mutex_t lock;
	struct pic_chip chip[2];   /* 0 master, 1 slave */
	bool output;               /* master INT */
};

/* Datasheet "Priority": 0 is the highest, relative to priority_add. 8 = none. */
static int chip_priority(const struct pic_chip *c, uint8_t mask)
{
	int p = 0;

	if (!mask)
		return 8;
	while (!(mask & (1 << ((p + c->priority_add) & 7))))
		p++;
	return p;
}

/* Highest-priority request that beats what is in service, or -1. */
static int chip_get_irq(const struct pic_chip *c, bool master)
{
	uint8_t in_service = c->isr;
	int pri, cur;

	pri = chip_priority(c, c->irr & ~c->imr);
	if (pri == 8)
		return -1;
	/* Special mask mode (OCW3 SMM): masked levels do not block lower ones. */
	if (c->special_mask)
		in_service &= ~c->imr;
	/* Special fully nested mode: the slave's IR may nest on its own cascade. */
	if (c->special_fully_nested && master)
		in_service &= ~(1 << 2);
	cur = chip_priority(c, in_service);
	return pri < cur ? (pri + c->priority_add) & 7 : -1;
}

static void chip_set_irq(struct pic_chip *c, int irq, int level)
{
	uint8_t mask = 1 << irq;

	if (c->elcr & mask) {
		if (level) {
			c->irr |= mask;
			c->last_irr |= mask;
		} else {
			c->irr &= ~mask;
			c->last_irr &= ~mask;
		}
		return;
	}
	if (level) {
		if (!(c->last_irr & mask))
			c->irr |= mask;
		c->last_irr |= mask;
	} else {
		c->last_irr &= ~mask;
	}
}

/* Propagate the slave's INT to master IR2 and recompute the output. Locked. */
static bool pic_update(struct pic *pic)
{
	chip_set_irq(&pic->chip[0], 2, chip_get_irq(&pic->chip[1], false) >= 0);
	pic->output = chip_get_irq(&pic->chip[0], true) >= 0;
	return pic->output;
}

static void pic_notify(struct pic *pic, bool raised)
{
	if (raised && pic->bus)
		apic_bus_pic_notify(pic->bus);
}

static void chip_init_reset(struct pic_chip *c)
{
	uint8_t elcr = c->elcr, elcr_mask = c->elcr_mask;

	memset(c, 0, sizeof(*c));
	c->elcr = elcr;
	c->elcr_mask = elcr_mask;
}

void pic_set_irq(struct pic *pic, unsigned irq, int level)
{
	bool out;

	if (irq >= 16)
		return;
	pthread_mutex_lock(&pic->lock);
	chip_set_irq(&pic->chip[irq >> 3], irq & 7, level);
	out = pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
	pic_notify(pic, out);
}

bool pic_has_interrupt(struct pic *pic)
{
	bool out;

	pthread_mutex_lock(&pic->lock);
	out = pic->output;
	pthread_mutex_unlock(&pic->lock);
	return out;
}

/* INTA on one chip: set ISR (unless auto-EOI), clear an edge request. */
static void chip_intack(struct pic_chip *c, int irq)
{
	if (c->auto_eoi) {
		if (c->rotate_on_auto_eoi)
			c->priority_add = (irq + 1) & 7;
	} else {
		c->isr |= 1 << irq;
	}
	/* A level-sensitive request stays in IRR while the line is high. */
	if (!(c->elcr & (1 << irq)))
		c->irr &= ~(1 << irq);
}

uint8_t pic_ack(struct pic *pic)
{
	struct pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
	int irq, irq2;
	uint8_t vec;
	bool out;

	pthread_mutex_lock(&pic->lock);
	irq = chip_get_irq(m, true);
	if (irq < 0) {
		/* Datasheet: a request gone before INTA yields IR7 (spurious). */
		vec = m->irq_base + 7;
		goto out_unlock;
	}
	if (irq == 2) {
		irq2 = chip_get_irq(s, false);
		if (irq2 >= 0)
			chip_intack(s, irq2);
		else
			irq2 = 7;
		vec = s->irq_base + irq2;
	} else {
		vec = m->irq_base + irq;
	}
	chip_intack(m, irq);
out_unlock:
	out = pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
	pic_notify(pic, out);
	return vec;
}

/* Poll command (OCW3 P): acknowledge like INTA and return 0x80 | level. */
static uint8_t chip_poll(struct pic *pic, int idx)
{
	struct pic_chip *c = &pic->chip[idx];
	int irq = chip_get_irq(c, idx == 0);

	if (irq < 0)
		return 0;
	chip_intack(c, irq);
	return 0x80 | irq;
}

/* OCW2 (datasheet Fig. 8): EOI, rotation and priority commands. */
static void chip_write_ocw2(struct pic_chip *c, uint8_t val)
{
	int cmd = val >> 5, irq, pri;

	switch (cmd) {
	case 0: /* clear rotate in auto-EOI */
	case 4: /* set rotate in auto-EOI */
		c->rotate_on_auto_eoi = cmd >> 2;
		break;
	case 1: /* non-specific EOI */
	case 5: /* rotate on non-specific EOI */
		pri = chip_priority(c, c->isr);
		if (pri == 8)
			break;
		irq = (pri + c->priority_add) & 7;
		c->isr &= ~(1 << irq);
		if (cmd == 5)
			c->priority_add = (irq + 1) & 7;
		break;
	case 3: /* specific EOI */
		c->isr &= ~(1 << (val & 7));
		break;
	case 6: /* set priority: IR val&7 becomes the lowest */
		c->priority_add = (val + 1) & 7;
		break;
	case 7: /* rotate on specific EOI */
		irq = val & 7;
		c->isr &= ~(1 << irq);
		c->priority_add = (irq + 1) & 7;
		break;
	default: /* 2: no operation */
		break;
	}
}

static void chip_write_cmd(struct pic_chip *c, uint8_t val)
{
	if (val & 0x10) {
		/* ICW1: starts the initialisation sequence. */
		chip_init_reset(c);
		c->init_state = 1;
		c->init4 = val & 1;
		c->single_mode = val & 2;
		if (val & 0x08)
			log_warnx_rl("i8259: ICW1 level-triggered mode not supported (use the ELCR)");
	} else if (val & 0x08) {
		/* OCW3 */
		if (val & 0x04)
			c->poll = true;
		if (val & 0x02)
			c->read_reg_select = val & 1;
		if (val & 0x40)
			c->special_mask = (val >> 5) & 1;
	} else {
		chip_write_ocw2(c, val);
	}
}

static void chip_write_data(struct pic_chip *c, uint8_t val)
{
	switch (c->init_state) {
	case 0: /* OCW1 */
		c->imr = val;
		break;
	case 1: /* ICW2: vector base */
		c->irq_base = val & 0xf8;
		c->init_state = c->single_mode ? (c->init4 ? 3 : 0) : 2;
		break;
	case 2: /* ICW3: cascade wiring, fixed on the PC */
		c->init_state = c->init4 ? 3 : 0;
		break;
	default: /* ICW4 */
		c->special_fully_nested = (val >> 4) & 1;
		c->auto_eoi = (val >> 1) & 1;
		if (!(val & 1))
			log_warnx_rl("i8259: ICW4 8080/8085 mode not supported");
		c->init_state = 0;
		break;
	}
}

static uint8_t chip_read(struct pic *pic, int idx, uint64_t port)
{
	struct pic_chip *c = &pic->chip[idx];

	if (c->poll) {
		c->poll = false;
		return chip_poll(pic, idx);
	}
	if (port == 0)
		return c->read_reg_select ? c->isr : c->irr;
	return c->imr;
}

static void chip_access(struct pic *pic, int idx, uint64_t port, uint8_t *b,
			bool is_write)
{
	bool out;

	pthread_mutex_lock(&pic->lock);
	if (!is_write) {
		*b = chip_read(pic, idx, port);
	} else if (port == 0) {
		chip_write_cmd(&pic->chip[idx], *b);
	} else {
		chip_write_data(&pic->chip[idx], *b);
	}
	out = pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
	pic_notify(pic, out);
}

/* Byte-wide registers: a wider access touches only the first byte. */
static void pic_master_io(struct vcpu *vcpu, uint64_t offset, void *data,
			  int len, bool is_write, void *opaque)
{
	chip_access(opaque, 0, offset, data, is_write);
}

static void pic_slave_io(struct vcpu *vcpu, uint64_t offset, void *data,
			 int len, bool is_write, void *opaque)
{
	chip_access(opaque, 1, offset, data, is_write);
}

/* ELCR (PIIX/ICH "edge/level control"): IRQ 0, 1, 2, 8, 13 are always edge. */
static void pic_elcr_io(struct vcpu *vcpu, uint64_t offset, void *data,
			int len, bool is_write, void *opaque)
{
	struct pic *pic = opaque;
	uint8_t *b = data;
	int i;

	pthread_mutex_lock(&pic->lock);
	for (i = 0; i < len && offset + i < 2; i++) {
		struct pic_chip *c = &pic->chip[offset + i];

		if (is_write)
			c->elcr = b[i] & c->elcr_mask;
		else
			b[i] = c->elcr;
	}
	pthread_mutex_unlock(&pic->lock);
}

static void unmap_pio(struct vm *vm, uint64_t base)
{
	if (bus_unmap(&vm->pio, base))
		log_debug("i8259: port %#llx was not mapped", (unsigned long long)base);
}

void pic_reset(struct pic *pic)
{
	int i;

	pthread_mutex_lock(&pic->lock);
	for (i = 0; i < 2; i++) {
		pic->chip[i].elcr = 0;
		chip_init_reset(&pic->chip[i]);
	}
	pic->output = false;
	pthread_mutex_unlock(&pic->lock);
}

int pic_create(struct vm *vm, struct pic **out)
{
	struct pic *pic;
	int err;

	pic = calloc(1, sizeof(*pic));
	if (!pic)
		return -ENOMEM;
	pic->vm = vm;
	pthread_mutex_init(&pic->lock, NULL);
	pic->chip[0].elcr_mask = 0xf8;
	pic->chip[1].elcr_mask = 0xde;
	pic_reset(pic);

	err = apic_bus_get(vm, &pic->bus);
	if (err)
		goto err_free;
	err = vm_map_pio(vm, 0x20, 2, pic_master_io, pic, "pic-master");
	if (err)
		goto err_put;
	err = vm_map_pio(vm, 0xa0, 2, pic_slave_io, pic, "pic-slave");
	if (err)
		goto err_unmap_master;
	err = vm_map_pio(vm, 0x4d0, 2, pic_elcr_io, pic, "elcr");
	if (err)
		goto err_unmap_slave;
	pic->bus->pic = pic;
	*out = pic;
	return 0;

err_unmap_slave:
	unmap_pio(vm, 0xa0);
err_unmap_master:
	unmap_pio(vm, 0x20);
err_put:
	apic_bus_put(vm);
err_free:
	pthread_mutex_destroy(&pic->lock);
	free(pic);
	return err;
}

void pic_destroy(struct pic *pic)
{
	if (!pic)
		return;
	unmap_pio(pic->vm, 0x4d0);
	unmap_pio(pic->vm, 0xa0);
	unmap_pio(pic->vm, 0x20);
	pic->bus->pic = NULL;
	apic_bus_put(pic->vm);
	pthread_mutex_destroy(&pic->lock);
	free(pic);
}
