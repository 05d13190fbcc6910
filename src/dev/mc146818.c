// SPDX-License-Identifier: GPL-2.0-only
/*
 * MC146818A RTC and CMOS RAM (Motorola MC146818A datasheet: "Address Map",
 * "Registers A-D", "Update Cycle", "Interrupts").
 *
 * Time: the guest's clock is the host's CLOCK_REALTIME (UTC, as Linux
 * expects an RTC on a PC) plus an offset the guest changes by setting the
 * time.  Time and date registers are encoded on each read in BCD or binary
 * (register B DM) and 24- or 12-hour format (register B 24/12).  While
 * register B SET is 1 the registers hold what the guest wrote and the clock
 * appears stopped; clearing SET starts the clock at the written time.
 *
 * Update-in-progress: register A UIP reads 1 during the last 244 us of each
 * second (the datasheet's tBUC before the update), so a driver that reads
 * the time only when UIP is 0 gets a consistent set.
 *
 * Interrupts: register C's flags (PF periodic, AF alarm, UF update-ended)
 * are brought up to date on every access and, while an enabled interrupt
 * could become pending, by a one-shot event-loop timer armed for the next
 * event.  IRQF = any flag whose enable bit is set; IRQ 8 follows IRQF and
 * drops when register C is read (which clears it).
 *
 * CMOS memory sizes follow QEMU's pc_cmos_init(), which SeaBIOS reads:
 * 0x15-0x16 base memory (640 KiB), 0x17-0x18 and 0x30-0x31 extended memory
 * above 1 MiB in KiB (capped at 0xffff), 0x34-0x35 memory between 16 MiB
 * and the PCI hole in 64 KiB units, 0x5b-0x5d memory above 4 GiB in 64 KiB
 * units, 0x5f the number of CPUs - 1; 0x2e-0x2f the checksum of 0x10-0x2d.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vireo/evloop.h"
#include "vireo/log.h"
#include "vireo/memory.h"
#include "vireo/vm.h"
#include "dev/mc146818.h"

#define REG_SEC       0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN       0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR      0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY      0x06
#define REG_MDAY      0x07
#define REG_MONTH     0x08
#define REG_YEAR      0x09
#define REG_A         0x0a
#define REG_B         0x0b
#define REG_C         0x0c
#define REG_D         0x0d

#define A_UIP      0x80
#define A_DV_MASK  0x70
#define A_DV_32KHZ 0x20     /* divider running from a 32.768 kHz time base */
#define A_RS_MASK  0x0f
#define B_SET      0x80
#define B_PIE      0x40
#define B_AIE      0x20
#define B_UIE      0x10
#define B_DM       0x04     /* 1: binary, 0: BCD */
#define B_24H      0x02
#define C_IRQF     0x80
#define C_PF       0x40
#define C_AF       0x20
#define C_UF       0x10
#define D_VRT      0x80
#define ALARM_DONT_CARE 0xc0 /* alarm byte values 0xc0-0xff match anything */

#define CMOS_SIZE     128
#define CMOS_CSUM_HI  0x2e
#define CMOS_EQUIPMENT 0x14
#define NS_PER_SEC    1000000000LL
#define UIP_NS        244000LL   /* tBUC: UIP leads the update by 244 us */
#define RTC_MAX_SECONDS (1LL << 33)  /* year 2242: ns still fit an int64 */

struct mc146818 {
	struct vm *vm;
	pthread_mutex_t lock;
	struct evtimer *timer;      /* NULL when the VM has no event loop */
	bool timer_armed;
	uint8_t index;
	uint8_t cmos[CMOS_SIZE];    /* time registers: as last refreshed/written */
	int64_t offset_ns;          /* guest clock - host CLOCK_REALTIME */
	int64_t last_ns;            /* guest clock when flags were last brought up to date */
	bool irq_level;
};

static int64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t guest_now_ns(const struct mc146818 *r)
{
	return host_now_ns() + r->offset_ns;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static uint8_t to_reg(const struct mc146818 *r, int v)
{
	if (r->cmos[REG_B] & B_DM)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

static int from_reg(const struct mc146818 *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_DM)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);   /* invalid BCD: garbage, never a crash */
}

static uint8_t hour_to_reg(const struct mc146818 *r, int hour)
{
	int h12;

	if (r->cmos[REG_B] & B_24H)
		return to_reg(r, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return to_reg(r, h12) | (hour >= 12 ? 0x80 : 0);
}

static int hour_from_reg(const struct mc146818 *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_24H)
		return from_reg(r, v);
	return from_reg(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

/* Encode the guest clock's current second into the time registers. */
static void time_to_regs(struct mc146818 *r, int64_t guest_ns)
{
	time_t t = (time_t)floor_div(guest_ns, NS_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	r->cmos[REG_SEC] = to_reg(r, tm.tm_sec);
	r->cmos[REG_MIN] = to_reg(r, tm.tm_min);
	r->cmos[REG_HOUR] = hour_to_reg(r, tm.tm_hour);
	r->cmos[REG_WDAY] = to_reg(r, tm.tm_wday + 1);   /* Sunday = 1 */
	r->cmos[REG_MDAY] = to_reg(r, tm.tm_mday);
	r->cmos[REG_MONTH] = to_reg(r, tm.tm_mon + 1);
	r->cmos[REG_YEAR] = to_reg(r, tm.tm_year % 100);
	r->cmos[CMOS_CENTURY] = to_reg(r, (tm.tm_year + 1900) / 100);
}

/* Start the clock at the time the registers hold. */
static void time_from_regs(struct mc146818 *r)
{
	struct tm tm = {
		.tm_sec = from_reg(r, r->cmos[REG_SEC]),
		.tm_min = from_reg(r, r->cmos[REG_MIN]),
		.tm_hour = hour_from_reg(r, r->cmos[REG_HOUR]),
		.tm_mday = from_reg(r, r->cmos[REG_MDAY]),
		.tm_mon = from_reg(r, r->cmos[REG_MONTH]) - 1,
		.tm_year = from_reg(r, r->cmos[CMOS_CENTURY]) * 100 +
			   from_reg(r, r->cmos[REG_YEAR]) - 1900,
	};
	int64_t t = timegm(&tm);  /* normalises out-of-range fields */

	/* Garbage in the registers (a century of 0x99...) must not overflow
	 * the nanosecond clock: keep the time within 1970..2242. */
	if (t < 0 || t > RTC_MAX_SECONDS) {
		log_warnx_rl("mc146818: guest set an out-of-range time, clamped");
		t = t < 0 ? 0 : RTC_MAX_SECONDS;
	}
	r->offset_ns = t * NS_PER_SEC - host_now_ns();
	r->last_ns = t * NS_PER_SEC;
}

static bool clock_running(const struct mc146818 *r)
{
	return !(r->cmos[REG_B] & B_SET);
}

/* Periodic interrupt period from register A RS (datasheet Table 5), or 0. */
static int64_t periodic_ns(const struct mc146818 *r)
{
	unsigned rs = r->cmos[REG_A] & A_RS_MASK;

	if (!rs)
		return 0;
	if (rs <= 2)
		rs += 7;   /* 1 and 2 repeat rates 8 and 9 with a 32.768 kHz base */
	return ((int64_t)1 << (rs - 1)) * NS_PER_SEC / 32768;
}

static bool alarm_field_matches(uint8_t alarm, uint8_t now)
{
	return (alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE || alarm == now;
}

/* Does the alarm match any update in the guest seconds (from, to]? */
static bool alarm_hit(struct mc146818 *r, int64_t from, int64_t to)
{
	/* A day covers every hour:minute:second the alarm can name. */
	if (to - from > 86400)
		to = from + 86400;
	for (int64_t s = from + 1; s <= to; s++) {
		time_to_regs(r, s * NS_PER_SEC);
		if (alarm_field_matches(r->cmos[REG_SEC_ALARM], r->cmos[REG_SEC]) &&
		    alarm_field_matches(r->cmos[REG_MIN_ALARM], r->cmos[REG_MIN]) &&
		    alarm_field_matches(r->cmos[REG_HOUR_ALARM], r->cmos[REG_HOUR]))
			return true;
	}
	return false;
}

static void update_irq(struct mc146818 *r)
{
	uint8_t b = r->cmos[REG_B], c = r->cmos[REG_C] & (C_PF | C_AF | C_UF);
	bool irqf = ((c & C_PF) && (b & B_PIE)) || ((c & C_AF) && (b & B_AIE)) ||
		    ((c & C_UF) && (b & B_UIE));

	r->cmos[REG_C] = c | (irqf ? C_IRQF : 0);
	if (irqf == r->irq_level)
		return;
	r->irq_level = irqf;
	vm_irq_set(r->vm, MC146818_IRQ, irqf);
}

/* Bring register C up to date with the events since last_ns. */
static void flags_catch_up(struct mc146818 *r, int64_t now)
{
	int64_t period = periodic_ns(r);
	int64_t s_last = floor_div(r->last_ns, NS_PER_SEC);
	int64_t s_now = floor_div(now, NS_PER_SEC);

	if (now <= r->last_ns)
		return;
	if (period && floor_div(now, period) > floor_div(r->last_ns, period))
		r->cmos[REG_C] |= C_PF;
	if (clock_running(r) && s_now > s_last) {
		uint8_t saved[CMOS_SIZE];

		r->cmos[REG_C] |= C_UF;
		memcpy(saved, r->cmos, sizeof(saved));  /* alarm_hit scribbles */
		if (alarm_hit(r, s_last, s_now))
			saved[REG_C] |= C_AF;
		memcpy(r->cmos, saved, sizeof(saved));
	}
	r->last_ns = now;
	update_irq(r);
}

/* Arm the timer for the next event that could raise IRQ 8, if any. */
static void timer_rearm(struct mc146818 *r, int64_t now)
{
	uint8_t b = r->cmos[REG_B];
	int64_t next = INT64_MAX, period = periodic_ns(r);

	if (!r->timer)
		return;
	if (!r->irq_level) {
		if ((b & B_PIE) && period)
			next = (floor_div(now, period) + 1) * period;
		if ((b & (B_UIE | B_AIE)) && clock_running(r))
			next = MIN(next, (floor_div(now, NS_PER_SEC) + 1) * NS_PER_SEC);
	}
	if (next == INT64_MAX) {
		if (r->timer_armed && evtimer_disarm(r->timer) < 0)
			log_warnx_rl("mc146818: cannot disarm the timer");
		r->timer_armed = false;
		return;
	}
	if (evtimer_arm(r->timer, (uint64_t)(next - now), 0) < 0)
		log_warnx_rl("mc146818: cannot arm the timer");
	r->timer_armed = true;
}

static void rtc_timer_fired(void *opaque)
{
	struct mc146818 *r = opaque;
	int64_t now;

	pthread_mutex_lock(&r->lock);
	now = guest_now_ns(r);
	flags_catch_up(r, now);
	timer_rearm(r, now);
	pthread_mutex_unlock(&r->lock);
}

static bool is_time_reg(unsigned idx)
{
	return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR ||
	       (idx >= REG_WDAY && idx <= REG_YEAR) || idx == CMOS_CENTURY;
}

static uint8_t reg_a_read(struct mc146818 *r, int64_t now)
{
	uint8_t a = r->cmos[REG_A] & ~A_UIP;
	int64_t in_sec = now - floor_div(now, NS_PER_SEC) * NS_PER_SEC;

	if (clock_running(r) && (a & A_DV_MASK) == A_DV_32KHZ &&
	    in_sec >= NS_PER_SEC - UIP_NS)
		a |= A_UIP;
	return a;
}

static uint8_t cmos_read(struct mc146818 *r, unsigned idx, int64_t now)
{
	uint8_t v;

	if (is_time_reg(idx) && clock_running(r))
		time_to_regs(r, now);
	switch (idx) {
	case REG_A:
		return reg_a_read(r, now);
	case REG_C:
		v = r->cmos[REG_C];
		r->cmos[REG_C] = 0;    /* all flags clear on read */
		update_irq(r);
		return v;
	case REG_D:
		return D_VRT;          /* the battery is always good */
	}
	return r->cmos[idx];
}

static void reg_b_write(struct mc146818 *r, uint8_t val, int64_t now)
{
	uint8_t old = r->cmos[REG_B];

	if (val & B_SET)
		val &= ~B_UIE;         /* SET clears UIE */
	r->cmos[REG_B] = val;
	if ((val & B_SET) && !(old & B_SET))
		time_to_regs(r, now);  /* freeze the registers at the current time */
	else if (!(val & B_SET) && (old & B_SET))
		time_from_regs(r);     /* and start from what the guest wrote */
}

static void cmos_write(struct mc146818 *r, unsigned idx, uint8_t val, int64_t now)
{
	switch (idx) {
	case REG_A:
		r->cmos[REG_A] = val & ~A_UIP;
		break;
	case REG_B:
		reg_b_write(r, val, now);
		break;
	case REG_C:
	case REG_D:
		break;  /* read-only */
	default:
		if (is_time_reg(idx) && clock_running(r)) {
			/* A field changed while the clock runs: restart it from
			 * the current time with that field replaced. */
			time_to_regs(r, now);
			r->cmos[idx] = val;
			time_from_regs(r);
		} else {
			r->cmos[idx] = val;
		}
		break;
	}
}

static void rtc_pio(struct vcpu *vcpu, uint64_t offset, void *data, int len,
		    bool is_write, void *opaque)
{
	struct mc146818 *r = opaque;
	uint8_t *b = data;
	int64_t now;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		/* Index port: bit 7 masks NMI (nothing to mask); write-only. */
		if (is_write)
			r->index = b[0] & 0x7f;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	now = guest_now_ns(r);
	flags_catch_up(r, now);
	if (is_write)
		cmos_write(r, r->index, b[0], now);
	else
		b[0] = cmos_read(r, r->index, now);
	now = guest_now_ns(r);      /* the clock may have been set */
	update_irq(r);
	timer_rearm(r, now);
	pthread_mutex_unlock(&r->lock);
}

static void put_le16(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The PC/AT and QEMU/SeaBIOS configuration bytes (see the top comment). */
static void cmos_init_config(struct mc146818 *r)
{
	uint64_t mem = r->vm->cfg.mem_size;
	uint64_t below = MIN(mem, GUEST_PCI_HOLE_START), above = mem - below;
	uint64_t ext = below > MiB ? (below - MiB) / KiB : 0;
	uint64_t mid = below > 16 * MiB ? (below - 16 * MiB) / (64 * KiB) : 0;
	uint64_t high = above / (64 * KiB);
	unsigned sum = 0;

	r->cmos[CMOS_EQUIPMENT] = 0x02;               /* math coprocessor */
	put_le16(r->cmos + CMOS_BASE_MEM_LO, 640);
	put_le16(r->cmos + CMOS_EXT_MEM_LO, MIN(ext, 0xffff));
	put_le16(r->cmos + CMOS_EXT_MEM2_LO, MIN(ext, 0xffff));
	put_le16(r->cmos + CMOS_MEM_16M_LO, MIN(mid, 0xffff));
	r->cmos[CMOS_MEM_4G_LO] = (uint8_t)high;
	r->cmos[CMOS_MEM_4G_LO + 1] = (uint8_t)(high >> 8);
	r->cmos[CMOS_MEM_4G_LO + 2] = (uint8_t)(high >> 16);
	r->cmos[CMOS_NCPUS_MINUS_1] = (uint8_t)(r->vm->cfg.ncpus > 0 ? r->vm->cfg.ncpus - 1 : 0);
	for (unsigned i = 0x10; i < CMOS_CSUM_HI; i++)
		sum += r->cmos[i];
	r->cmos[CMOS_CSUM_HI] = (uint8_t)(sum >> 8);
	r->cmos[CMOS_CSUM_HI + 1] = (uint8_t)sum;
}

static void mc146818_reset(void *opaque)
{
	struct mc146818 *r = opaque;

	/* RESET# clears PIE/AIE/UIE and the flags; the clock keeps running. */
	pthread_mutex_lock(&r->lock);
	r->cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE);
	r->cmos[REG_C] = 0;
	update_irq(r);
	timer_rearm(r, guest_now_ns(r));
	pthread_mutex_unlock(&r->lock);
}

static int mc146818_realize(struct vm *vm, void **opaque)
{
	struct mc146818 *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->vm = vm;
	err = -pthread_mutex_init(&r->lock, NULL);
	if (err)
		goto err_free;
	r->cmos[REG_A] = A_DV_32KHZ | 0x06;   /* 1024 Hz periodic rate, as BIOSes leave it */
	r->cmos[REG_B] = B_24H;               /* BCD, 24-hour */
	r->cmos[REG_D] = D_VRT;
	r->last_ns = guest_now_ns(r);
	time_to_regs(r, r->last_ns);
	cmos_init_config(r);
	if (vm->loop) {
		err = evtimer_create(vm->loop, rtc_timer_fired, r, &r->timer);
		if (err)
			goto err_mutex;
	}
	err = vm_map_pio(vm, MC146818_INDEX_PORT, 2, rtc_pio, r, "mc146818");
	if (err) {
		log_errno(err, "mc146818: cannot map ports 0x70-0x71");
		goto err_timer;
	}
	*opaque = r;
	return 0;

err_timer:
	evtimer_destroy(r->timer);
err_mutex:
	pthread_mutex_destroy(&r->lock);
err_free:
	free(r);
	return err;
}

static void mc146818_destroy(void *opaque)
{
	struct mc146818 *r = opaque;

	if (!r)
		return;
	if (bus_unmap(&r->vm->pio, MC146818_INDEX_PORT) < 0)
		log_debug("mc146818: ports were not mapped");
	evtimer_destroy(r->timer);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

const struct device_ops mc146818_ops = {
	.name = "mc146818",
	.realize = mc146818_realize,
	.reset = mc146818_reset,
	.destroy = mc146818_destroy,
};
