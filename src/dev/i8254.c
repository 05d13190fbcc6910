// SPDX-License-Identifier: GPL-2.0-only
/*
 * Intel 8254 programmable interval timer (datasheet order 231164), as wired
 * in the PC: 1.193182 MHz input clock, channel 0 output on IRQ 0 (GSI 0),
 * channel 1 (DRAM refresh) unused, channel 2 gated and read back through
 * port 0x61 (system control port B: bit 0 gate 2, bit 1 speaker data,
 * bit 4 refresh toggle, bit 5 channel 2 output).  Counters are computed from
 * the host monotonic clock since the count was loaded; channel 0 raises its
 * interrupt from an event-loop timer, as a pulse (high then low), which
 * both the PIC's and the IOAPIC's edge detection see.
 *
 * Modes 0 (interrupt on terminal count), 2 (rate generator), 3 (square
 * wave) and 4 (software strobe) are modelled; 1 and 5 need a gate edge and
 * count like the datasheet says.  BCD counting is not modelled.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/evloop.h"
#include "vireo/irqchip.h"
#include "vireo/log.h"
#include "vireo/vm.h"

#define PIT_HZ 1193182ULL
#define NS_PER_SEC 1000000000ULL
/* Shortest periodic interrupt we raise, as KVM's PIT (min_timer_period_us). */
#define PIT_MIN_PERIOD_NS 200000ULL

enum rw_state { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

struct pit_channel {
	uint32_t count;          /* reload value, 1..0x10000 */
	uint64_t load_ns;        /* host ns when counting (re)started */
	uint16_t latched_count;
	uint8_t count_latched;   /* 0, or the rw_state to read the latch with */
	uint8_t status;
	bool status_latched;
	bool null_count;         /* a new count was written but not yet loaded */
	uint8_t read_state, write_state;
	uint8_t write_latch;
	uint8_t rw_mode;         /* 1 LSB, 2 MSB, 3 LSB then MSB */
	uint8_t mode;            /* 0-5 */
	bool bcd;
	bool gate;
};

struct pit {
	struct vm *vm;
	struct evtimer *timer;   /* channel 0 interrupt, NULL without a loop */
	pthread_mutex_t lock;
	struct pit_channel ch[3];
	bool speaker_data;       /* port 0x61 bit 1 */
};

static uint64_t ticks_since(const struct pit_channel *c, uint64_t now)
{
	if (now <= c->load_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(now - c->load_ns) * PIT_HZ / NS_PER_SEC);
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * NS_PER_SEC + PIT_HZ - 1) / PIT_HZ);
}

/* Counting element value now (datasheet "Mode Definitions"). */
static uint16_t channel_count(const struct pit_channel *c, uint64_t now)
{
	uint64_t d = ticks_since(c, now);

	switch (c->mode) {
	case 2:
		return (uint16_t)(c->count - d % c->count);
	case 3:
		/* Decrements by two each clock, reloading every half period. */
		return (uint16_t)(c->count - (2 * d) % c->count);
	default:
		/* 0, 1, 4, 5: wraps through 0xffff after the terminal count. */
		return (uint16_t)(c->count - d);
	}
}

/* OUT pin level now. */
static bool channel_out(const struct pit_channel *c, uint64_t now)
{
	uint64_t d = ticks_since(c, now);

	switch (c->mode) {
	case 0:
		return d >= c->count;
	case 1:
		return d >= c->count;
	case 2:
		/* Low for the one clock at count 1, high otherwise. */
		return d % c->count != c->count - 1;
	case 3:
		return d % c->count < (c->count + 1) / 2;
	default:
		/* 4, 5: a one-clock low strobe at the terminal count. */
		return d != c->count;
	}
}

/* Channel 0: arm the interrupt timer for the programmed mode.  Locked. */
static void pit_arm_irq(struct pit *pit)
{
	struct pit_channel *c = &pit->ch[0];
	uint64_t period = ticks_to_ns(c->count);
	int err = 0;

	if (!pit->timer)
		return;
	switch (c->mode) {
	case 2:
	case 3:
		if (period < PIT_MIN_PERIOD_NS) {
			log_warnx_rl("i8254: period of %llu ns raised to 200 us",
				     (unsigned long long)period);
			period = PIT_MIN_PERIOD_NS;
		}
		err = evtimer_arm(pit->timer, period, period);
		break;
	case 0:
	case 4:
		err = evtimer_arm(pit->timer, period, 0);
		break;
	default:
		err = evtimer_disarm(pit->timer);
		break;
	}
	if (err)
		log_warnx_rl("i8254: cannot arm the channel 0 timer: %d", err);
}

static void pit_irq_cb(void *opaque)
{
	struct pit *pit = opaque;

	/* Edge for the 8259A and the IOAPIC; the line does not stay up. */
	if (vm_irq_set(pit->vm, 0, 1) == 0 && vm_irq_set(pit->vm, 0, 0) == 0)
		return;
	log_warnx_rl("i8254: cannot raise IRQ 0");
}

static void channel_load(struct pit *pit, int idx, uint32_t val)
{
	struct pit_channel *c = &pit->ch[idx];

	c->count = val ? val : 0x10000;
	c->load_ns = now_ns();
	c->null_count = false;
	if (c->bcd)
		log_warnx_rl("i8254: BCD counting not supported, counting binary");
	if (idx == 0)
		pit_arm_irq(pit);
}

/* Control word (datasheet "Control Word Format"), including the latch and read-back commands. */
static void pit_write_control(struct pit *pit, uint8_t val)
{
	int sel = val >> 6, i;
	struct pit_channel *c;
	uint64_t now = now_ns();

	if (sel == 3) {
		/* Read-back: bit 5 clear latches counts, bit 4 clear latches status. */
		for (i = 0; i < 3; i++) {
			c = &pit->ch[i];
			if (!(val & (2 << i)))
				continue;
			if (!(val & 0x20) && !c->count_latched) {
				c->latched_count = channel_count(c, now);
				c->count_latched = c->rw_mode;
			}
			if (!(val & 0x10) && !c->status_latched) {
				c->status = (channel_out(c, now) << 7) | (c->null_count << 6) |
					    (c->rw_mode << 4) | (c->mode << 1) | c->bcd;
				c->status_latched = true;
			}
		}
		return;
	}
	c = &pit->ch[sel];
	if ((val & 0x30) == 0) {
		/* Counter latch command: the first one wins until read. */
		if (!c->count_latched) {
			c->latched_count = channel_count(c, now);
			c->count_latched = c->rw_mode;
		}
		return;
	}
	c->rw_mode = (val >> 4) & 3;
	c->read_state = c->write_state = c->rw_mode == 3 ? RW_WORD0 : c->rw_mode;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;  /* 6 and 7 are aliases of 2 and 3 */
	c->bcd = val & 1;
	c->null_count = true;
	/* Writing a control word stops channel 0 until a count arrives. */
	if (sel == 0 && pit->timer && evtimer_disarm(pit->timer))
		log_warnx_rl("i8254: cannot disarm the channel 0 timer");
}

static void pit_write_counter(struct pit *pit, int idx, uint8_t val)
{
	struct pit_channel *c = &pit->ch[idx];

	switch (c->write_state) {
	case RW_LSB:
		channel_load(pit, idx, val);
		break;
	case RW_MSB:
		channel_load(pit, idx, (uint32_t)val << 8);
		break;
	case RW_WORD0:
		c->write_latch = val;
		c->write_state = RW_WORD1;
		break;
	default:
		channel_load(pit, idx, c->write_latch | ((uint32_t)val << 8));
		c->write_state = RW_WORD0;
		break;
	}
}

static uint8_t next_byte(uint8_t *state, uint16_t v)
{
	switch (*state) {
	case RW_LSB:
		return v & 0xff;
	case RW_MSB:
		return v >> 8;
	case RW_WORD0:
		*state = RW_WORD1;
		return v & 0xff;
	default:
		*state = RW_WORD0;
		return v >> 8;
	}
}

static uint8_t pit_read_counter(struct pit *pit, int idx)
{
	struct pit_channel *c = &pit->ch[idx];
	uint8_t b;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->count_latched) {
		b = next_byte(&c->count_latched, c->latched_count);
		/* LSB/MSB latches are done after one byte, words after two. */
		if (c->count_latched == RW_LSB || c->count_latched == RW_MSB ||
		    c->count_latched == RW_WORD0)
			c->count_latched = 0;
		return b;
	}
	if (!c->read_state)
		return 0;  /* channel never programmed */
	return next_byte(&c->read_state, channel_count(c, now_ns()));
}

static void pit_io(struct vcpu *vcpu, uint64_t offset, void *data, int len,
		   bool is_write, void *opaque)
{
	struct pit *pit = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&pit->lock);
	if (offset == 3) {
		if (is_write)
			pit_write_control(pit, *b);
		/* reading the control port: the 8254 leaves the bus floating */
	} else if (is_write) {
		pit_write_counter(pit, offset, *b);
	} else {
		*b = pit_read_counter(pit, offset);
	}
	pthread_mutex_unlock(&pit->lock);
}

/* Gate input (datasheet "Gate" table): a rising edge restarts modes 1, 2, 3, 5. */
static void channel_set_gate(struct pit_channel *c, bool gate)
{
	if (!c->gate && gate && c->mode != 0 && c->mode != 4)
		c->load_ns = now_ns();
	c->gate = gate;
}

static void pit_port61(struct vcpu *vcpu, uint64_t offset, void *data, int len,
		       bool is_write, void *opaque)
{
	struct pit *pit = opaque;
	struct pit_channel *c2 = &pit->ch[2];
	uint8_t *b = data;
	uint64_t now;

	pthread_mutex_lock(&pit->lock);
	if (is_write) {
		channel_set_gate(c2, *b & 1);
		pit->speaker_data = (*b >> 1) & 1;
	} else {
		now = now_ns();
		/* Refresh request toggles every 15.085 us on the PC/AT. */
		*b = c2->gate | (pit->speaker_data << 1) |
		     (((now / 15085) & 1) << 4) |
		     ((c2->read_state && channel_out(c2, now)) << 5);
	}
	pthread_mutex_unlock(&pit->lock);
}

void pit_reset(struct pit *pit)
{
	int i;

	pthread_mutex_lock(&pit->lock);
	memset(pit->ch, 0, sizeof(pit->ch));
	for (i = 0; i < 3; i++) {
		pit->ch[i].count = 0x10000;
		pit->ch[i].load_ns = now_ns();
		pit->ch[i].gate = i != 2;  /* channel 2's gate is port 0x61 bit 0 */
	}
	pit->speaker_data = false;
	if (pit->timer && evtimer_disarm(pit->timer))
		log_warnx_rl("i8254: cannot disarm the channel 0 timer");
	pthread_mutex_unlock(&pit->lock);
}

int pit_create(struct vm *vm, struct pit **out)
{
	struct pit *pit;
	int err;

	pit = calloc(1, sizeof(*pit));
	if (!pit)
		return -ENOMEM;
	pit->vm = vm;
	pthread_mutex_init(&pit->lock, NULL);
	if (vm->loop) {
		err = evtimer_create(vm->loop, pit_irq_cb, pit, &pit->timer);
		if (err)
			goto err_free;
	} else {
		log_warnx("i8254: no event loop: channel 0 raises no interrupts");
	}
	pit_reset(pit);
	err = vm_map_pio(vm, 0x40, 4, pit_io, pit, "pit");
	if (err)
		goto err_timer;
	err = vm_map_pio(vm, 0x61, 1, pit_port61, pit, "port61");
	if (err)
		goto err_unmap;
	*out = pit;
	return 0;

err_unmap:
	if (bus_unmap(&vm->pio, 0x40))
		log_debug("i8254: port 0x40 was not mapped");
err_timer:
	if (pit->timer)
		evtimer_destroy(pit->timer);
err_free:
	pthread_mutex_destroy(&pit->lock);
	free(pit);
	return err;
}

void pit_destroy(struct pit *pit)
{
	if (!pit)
		return;
	/* The timer first: its callback must not run on a freed pit. */
	if (pit->timer)
		evtimer_destroy(pit->timer);
	if (bus_unmap(&pit->vm->pio, 0x61))
		log_debug("i8254: port 0x61 was not mapped");
	if (bus_unmap(&pit->vm->pio, 0x40))
		log_debug("i8254: ports 0x40-0x43 were not mapped");
	pthread_mutex_destroy(&pit->lock);
	free(pit);
}
