// SPDX-License-Identifier: GPL-2.0-only
/*
 * Local APIC in xAPIC mode, one per vCPU, for the emu backend (Intel SDM
 * Vol.3 ch.11 "Advanced Programmable Interrupt Controller").  The register
 * page is private to its vCPU: the emu CPU routes accesses to the APIC base
 * page to lapic_mmio().  Other chips reach a lapic through the APIC bus
 * (apic_bus.c).  The timer counts on the guest TSC; an event-loop timer
 * kicks the vCPU at expiry, and the vCPU may also poll (lapic_timer_poll).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/evloop.h"
#include "vireo/irqchip.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "dev/apic_bus.h"

/* Register index = MMIO offset >> 4 (SDM Vol.3 Table 11-1). */
enum {
	APIC_ID = 0x02, APIC_VER = 0x03, APIC_TPR = 0x08, APIC_APR = 0x09,
	APIC_PPR = 0x0a, APIC_EOI = 0x0b, APIC_RRD = 0x0c, APIC_LDR = 0x0d,
	APIC_DFR = 0x0e, APIC_SVR = 0x0f, APIC_ISR = 0x10, APIC_TMR = 0x18,
	APIC_IRR = 0x20, APIC_ESR = 0x28, APIC_LVT_CMCI = 0x2f,
	APIC_ICR_LO = 0x30, APIC_ICR_HI = 0x31, APIC_LVT_TIMER = 0x32,
	APIC_LVT_THERMAL = 0x33, APIC_LVT_PERF = 0x34, APIC_LVT_LINT0 = 0x35,
	APIC_LVT_LINT1 = 0x36, APIC_LVT_ERROR = 0x37, APIC_TMICT = 0x38,
	APIC_TMCCT = 0x39, APIC_TDCR = 0x3e, APIC_NREGS = 0x40,
};

#define APIC_VERSION      0x00050014u  /* version 0x14, max LVT entry 5 */
#define APIC_LVT_MASKED   (1u << 16)
#define APIC_SVR_ENABLE   (1u << 8)
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3)
#define TIMER_ONESHOT     0
#define TIMER_PERIODIC    1
#define TIMER_TSC_DEADLINE 2
#define DM_FIXED 0
#define DM_LOWEST 1
#define DM_SMI 2
#define DM_NMI 4
#define DM_INIT 5
#define DM_SIPI 6
#define DM_EXTINT 7
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER    (1u << 7)

/*
 * The APIC timer runs at a 1 GHz bus clock (what KVM presents), that is
 * GUEST_TSC_KHZ / LAPIC_BUS_KHZ guest TSC ticks per bus cycle.
 */
#define LAPIC_BUS_KHZ 1000000ULL
_Static_assert(GUEST_TSC_KHZ % LAPIC_BUS_KHZ == 0, "TSC must be a multiple of the APIC bus clock");
#define TSC_PER_BUS_CYCLE (GUEST_TSC_KHZ / LAPIC_BUS_KHZ)
/*
 * Shortest periodic timer we run, as KVM does (min_timer_period_us): a guest
 * asking for a 1 ns period would otherwise keep a host thread busy.
 */
#define LAPIC_MIN_PERIOD_TSC (200ULL * GUEST_TSC_KHZ / 1000)

struct lapic {
	struct vcpu *vcpu;
	struct vm *vm;
	struct apic_bus *bus;
	lapic_kick_fn kick;
	struct evtimer *evt;            /* NULL when the VM has no event loop */

	pthread_mutex_t lock;           /* guards everything below */
	uint32_t reg[APIC_NREGS];       /* register page, reg[offset >> 4] */
	uint64_t base_msr;              /* IA32_APIC_BASE */
	uint32_t esr_pending;           /* errors since the last ESR write */
	uint64_t timer_period;          /* TSC ticks per initial count; 0 stopped */
	uint64_t timer_next;            /* TSC of next one-shot/periodic expiry */
	uint64_t tsc_deadline;          /* IA32_TSC_DEADLINE, 0 disarmed */
	bool nmi_pending, init_pending, sipi_pending, extint_pending;
	uint8_t sipi_vector;
};

/* ---- vector bitmaps (ISR/TMR/IRR: eight 32-bit registers each) ---- */

static void vec_set(struct lapic *a, int base, unsigned v)
{
	a->reg[base + (v >> 5)] |= 1u << (v & 31);
}

static void vec_clear(struct lapic *a, int base, unsigned v)
{
	a->reg[base + (v >> 5)] &= ~(1u << (v & 31));
}

static bool vec_test(const struct lapic *a, int base, unsigned v)
{
	return a->reg[base + (v >> 5)] & (1u << (v & 31));
}

static int vec_highest(const struct lapic *a, int base)
{
	int i;

	for (i = 7; i >= 0; i--)
		if (a->reg[base + i])
			return i * 32 + 31 - __builtin_clz(a->reg[base + i]);
	return -1;
}

static bool hw_enabled(const struct lapic *a)
{
	return a->base_msr & MSR_IA32_APICBASE_ENABLE;
}

static bool sw_enabled(const struct lapic *a)
{
	return hw_enabled(a) && (a->reg[APIC_SVR] & APIC_SVR_ENABLE);
}

/* SDM Vol.3 §11.8.3.1: PPR is the higher of TPR and the ISR's class. */
static void update_ppr(struct lapic *a)
{
	uint32_t tpr = a->reg[APIC_TPR] & 0xff;
	int isrv = vec_highest(a, APIC_ISR);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	a->reg[APIC_PPR] = (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

/* Highest IRR vector whose class beats the PPR (§11.8.3), or -1. */
static int deliverable_vector(const struct lapic *a)
{
	int irrv;

	if (!sw_enabled(a))
		return -1;
	irrv = vec_highest(a, APIC_IRR);
	if (irrv < 0 || ((uint32_t)irrv & 0xf0) <= (a->reg[APIC_PPR] & 0xf0))
		return -1;
	return irrv;
}

void lapic_kick(struct lapic *a)
{
	if (a->kick)
		a->kick(a->vcpu);
}

/* §11.5.3: an error sets ESR bits and, if unmasked, raises the error LVT. */
static void raise_error(struct lapic *a, uint32_t bits)
{
	uint32_t lvt = a->reg[APIC_LVT_ERROR];

	a->esr_pending |= bits;
	if (!(lvt & APIC_LVT_MASKED) && (lvt & 0xff) >= 16)
		vec_set(a, APIC_IRR, lvt & 0xff);
}

/* Accept a fixed interrupt into IRR (§11.8.3); returns true if kicked-worthy. */
static bool accept_fixed(struct lapic *a, uint8_t vector, bool level)
{
	if (!sw_enabled(a))
		return false;
	if (vector < 16) {
		raise_error(a, ESR_RECV_ILLEGAL_VECTOR);
		return true;
	}
	vec_set(a, APIC_IRR, vector);
	if (level)
		vec_set(a, APIC_TMR, vector);
	else
		vec_clear(a, APIC_TMR, vector);
	return true;
}

/* ---- timer (§11.5.4) ---- */

static uint64_t timer_divide(const struct lapic *a)
{
	uint32_t d = a->reg[APIC_TDCR];
	unsigned code = (d & 3) | ((d >> 1) & 4);

	return 1ULL << ((code + 1) & 7);
}

static uint64_t ticks_per_count(const struct lapic *a)
{
	return timer_divide(a) * TSC_PER_BUS_CYCLE;
}

static unsigned timer_mode(const struct lapic *a)
{
	return LVT_TIMER_MODE(a->reg[APIC_LVT_TIMER]);
}

static uint64_t timer_next_expiry(const struct lapic *a)
{
	if (timer_mode(a) == TIMER_TSC_DEADLINE)
		return a->tsc_deadline ? a->tsc_deadline : UINT64_MAX;
	return a->timer_period ? a->timer_next : UINT64_MAX;
}

static void timer_stop(struct lapic *a)
{
	a->timer_period = 0;
	a->timer_next = UINT64_MAX;
}

static void timer_start(struct lapic *a, uint64_t now, uint64_t first)
{
	a->timer_period = (uint64_t)a->reg[APIC_TMICT] * ticks_per_count(a);
	if (!a->timer_period) {
		timer_stop(a);
		return;
	}
	if (timer_mode(a) == TIMER_PERIODIC && a->timer_period < LAPIC_MIN_PERIOD_TSC) {
		log_warnx_rl("lapic %d: periodic timer of %llu TSC ticks raised to 200 us",
			     a->vcpu->id, (unsigned long long)a->timer_period);
		a->timer_period = LAPIC_MIN_PERIOD_TSC;
		if (first < a->timer_period)
			first = a->timer_period;
	}
	a->timer_next = now + first;
}

/* Current count register (§11.5.4): counts down to 0, reloads if periodic. */
static uint32_t timer_current_count(const struct lapic *a, uint64_t now)
{
	uint64_t left;

	if (timer_mode(a) == TIMER_TSC_DEADLINE || !a->timer_period)
		return 0;
	if (now < a->timer_next) {
		left = a->timer_next - now;
	} else if (timer_mode(a) == TIMER_PERIODIC) {
		left = a->timer_period - (now - a->timer_next) % a->timer_period;
	} else {
		return 0;
	}
	return (uint32_t)MIN(left / ticks_per_count(a), (uint64_t)UINT32_MAX);
}

/* Fire whatever expired by `now`; returns true if an interrupt was raised. */
static bool timer_fire_due(struct lapic *a, uint64_t now)
{
	uint32_t lvt = a->reg[APIC_LVT_TIMER];
	uint64_t missed;

	switch (timer_mode(a)) {
	case TIMER_TSC_DEADLINE:
		if (!a->tsc_deadline || now < a->tsc_deadline)
			return false;
		a->tsc_deadline = 0;
		break;
	case TIMER_PERIODIC:
		if (!a->timer_period || now < a->timer_next)
			return false;
		/* Missed periods collapse into one interrupt, like a real IRR bit. */
		missed = (now - a->timer_next) / a->timer_period + 1;
		a->timer_next += missed * a->timer_period;
		break;
	default:
		if (!a->timer_period || now < a->timer_next)
			return false;
		timer_stop(a);
		break;
	}
	if (lvt & APIC_LVT_MASKED)
		return false;
	return accept_fixed(a, lvt & 0xff, false);
}

/* Re-arm the event-loop timer at the next expiry.  Called unlocked. */
static void timer_rearm(struct lapic *a)
{
	uint64_t next, at, now;
	int err;

	if (!a->evt)
		return;
	pthread_mutex_lock(&a->lock);
	next = timer_next_expiry(a);
	pthread_mutex_unlock(&a->lock);
	if (next == UINT64_MAX) {
		err = evtimer_disarm(a->evt);
	} else {
		at = guest_tsc_to_ns(a->vm, next);
		now = now_ns();
		err = evtimer_arm(a->evt, at > now ? at - now : 1, 0);
	}
	if (err)
		log_warnx_rl("lapic %d: cannot arm timer: %d", a->vcpu->id, err);
}

uint64_t lapic_timer_poll(struct lapic *a, uint64_t guest_tsc)
{
	uint64_t next;
	bool fired;

	pthread_mutex_lock(&a->lock);
	fired = timer_fire_due(a, guest_tsc);
	next = timer_next_expiry(a);
	pthread_mutex_unlock(&a->lock);
	if (fired) {
		lapic_kick(a);
		timer_rearm(a);
	}
	return next;
}

static void lapic_evtimer_cb(void *opaque)
{
	struct lapic *a = opaque;
	uint64_t next = lapic_timer_poll(a, guest_tsc_now(a->vm));

	/* Woken early (rounding) or re-programmed meanwhile: wait again. */
	if (next != UINT64_MAX)
		timer_rearm(a);
}

uint64_t lapic_get_tsc_deadline(struct lapic *a)
{
	uint64_t v;

	pthread_mutex_lock(&a->lock);
	v = a->tsc_deadline;
	pthread_mutex_unlock(&a->lock);
	return v;
}

/* §11.5.4.1: writes are ignored unless the timer is in TSC-deadline mode. */
void lapic_set_tsc_deadline(struct lapic *a, uint64_t tsc)
{
	bool armed;

	pthread_mutex_lock(&a->lock);
	armed = timer_mode(a) == TIMER_TSC_DEADLINE;
	if (armed)
		a->tsc_deadline = tsc;
	pthread_mutex_unlock(&a->lock);
	if (armed)
		timer_rearm(a);
}

/* ---- interrupt acceptance by the CPU ---- */

int lapic_pending_vector(struct lapic *a)
{
	bool extint = false;
	int vec = -1;

	pthread_mutex_lock(&a->lock);
	if (!hw_enabled(a)) {
		/* Globally disabled: LINT0 is the CPU's plain INTR pin (§11.4.3). */
		extint = true;
	} else {
		vec = deliverable_vector(a);
		extint = a->extint_pending ||
			(a->reg[APIC_LVT_LINT0] & (APIC_LVT_MASKED | 0x700)) == 0x700;
	}
	pthread_mutex_unlock(&a->lock);
	if (vec >= 0)
		return vec;
	if (extint && a->bus->pic && pic_has_interrupt(a->bus->pic))
		return LAPIC_VECTOR_EXTINT;
	return -1;
}

int lapic_accept(struct lapic *a, int vector)
{
	if (vector == LAPIC_VECTOR_EXTINT) {
		pthread_mutex_lock(&a->lock);
		a->extint_pending = false;
		pthread_mutex_unlock(&a->lock);
		if (!a->bus->pic)
			return -1;
		/* INTA cycle: the 8259A supplies the vector. */
		return pic_ack(a->bus->pic);
	}
	if (vector < 0 || vector > 255)
		return -1;
	pthread_mutex_lock(&a->lock);
	/* §11.8.4: the highest IRR bit moves to ISR when the CPU takes it. */
	vec_clear(a, APIC_IRR, vector);
	vec_set(a, APIC_ISR, vector);
	update_ppr(a);
	pthread_mutex_unlock(&a->lock);
	return vector;
}

bool lapic_take_nmi(struct lapic *a)
{
	bool nmi;

	pthread_mutex_lock(&a->lock);
	nmi = a->nmi_pending;
	a->nmi_pending = false;
	pthread_mutex_unlock(&a->lock);
	return nmi;
}

int lapic_take_init_sipi(struct lapic *a, uint8_t *sipi_vector)
{
	int ret = 0;

	pthread_mutex_lock(&a->lock);
	if (a->sipi_pending) {
		*sipi_vector = a->sipi_vector;
		ret = 1;
	} else if (a->init_pending) {
		ret = 2;
	}
	a->sipi_pending = false;
	a->init_pending = false;
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* ---- the APIC bus side (apic_bus.h) ---- */

/* §11.6.2: physical and logical (flat/cluster) destination matching. */
bool lapic_match_dest(struct lapic *a, bool logical, uint8_t dest)
{
	uint8_t id, ldr;
	bool hit;

	pthread_mutex_lock(&a->lock);
	id = a->reg[APIC_ID] >> 24;
	ldr = a->reg[APIC_LDR] >> 24;
	if (!hw_enabled(a))
		hit = false;
	else if (!logical)
		hit = dest == 0xff || dest == id;
	else if ((a->reg[APIC_DFR] >> 28) == 0xf)
		hit = (ldr & dest) != 0;                 /* flat model */
	else if ((dest >> 4) == 0xf)
		hit = (ldr & dest & 0xf) != 0;           /* cluster broadcast */
	else
		hit = (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf);
	pthread_mutex_unlock(&a->lock);
	return hit;
}

uint8_t lapic_arb_priority(struct lapic *a)
{
	uint8_t tpr;

	pthread_mutex_lock(&a->lock);
	tpr = a->reg[APIC_TPR] & 0xff;
	pthread_mutex_unlock(&a->lock);
	return tpr;
}

bool lapic_accepts_pic(struct lapic *a)
{
	bool yes;

	pthread_mutex_lock(&a->lock);
	yes = !hw_enabled(a) || a->extint_pending ||
	      (a->reg[APIC_LVT_LINT0] & (APIC_LVT_MASKED | 0x700)) == 0x700;
	pthread_mutex_unlock(&a->lock);
	return yes;
}

void lapic_deliver(struct lapic *a, const struct apic_msg *m)
{
	bool kick = true;

	pthread_mutex_lock(&a->lock);
	if (!hw_enabled(a)) {
		kick = false;
		goto out_unlock;
	}
	switch (m->delivery_mode) {
	case DM_FIXED:
	case DM_LOWEST:
		kick = accept_fixed(a, m->vector, m->level_triggered);
		break;
	case DM_NMI:
		a->nmi_pending = true;
		break;
	case DM_INIT:
		a->init_pending = true;
		a->sipi_pending = false;
		break;
	case DM_SIPI:
		a->sipi_vector = m->vector;
		a->sipi_pending = true;
		break;
	case DM_EXTINT:
		a->extint_pending = true;
		break;
	default:
		log_warnx_rl("lapic %d: delivery mode %u ignored", a->vcpu->id,
			     m->delivery_mode);
		kick = false;
		break;
	}
out_unlock:
	pthread_mutex_unlock(&a->lock);
	if (kick)
		lapic_kick(a);
}

/* ---- register writes (§11.4-§11.6) ---- */

static void write_lvt(struct lapic *a, int idx, uint32_t val, bool *rearm)
{
	static const uint32_t writable[8] = {
		[APIC_LVT_TIMER - APIC_LVT_TIMER] = 0x000700ff,
		[APIC_LVT_THERMAL - APIC_LVT_TIMER] = 0x000107ff,
		[APIC_LVT_PERF - APIC_LVT_TIMER] = 0x000107ff,
		[APIC_LVT_LINT0 - APIC_LVT_TIMER] = 0x0001a7ff,
		[APIC_LVT_LINT1 - APIC_LVT_TIMER] = 0x0001a7ff,
		[APIC_LVT_ERROR - APIC_LVT_TIMER] = 0x000100ff,
	};
	uint32_t old = a->reg[idx];

	val &= idx == APIC_LVT_CMCI ? 0x000107ff : writable[idx - APIC_LVT_TIMER];
	/* §11.4.7.2: while software-disabled the mask bits stay set. */
	if (!sw_enabled(a))
		val |= APIC_LVT_MASKED;
	a->reg[idx] = (old & (1u << 14)) | val;  /* keep remote IRR (RO) */
	if (idx == APIC_LVT_TIMER && LVT_TIMER_MODE(old) != LVT_TIMER_MODE(val)) {
		/* §11.5.4.1: a mode switch disarms the timer. */
		timer_stop(a);
		a->tsc_deadline = 0;
		a->reg[APIC_TMICT] = 0;
		*rearm = true;
	}
}

static void write_svr(struct lapic *a, uint32_t val)
{
	int i;

	/* Bits 7:0 vector, 8 APIC enable, 9 focus check; EOI suppression not offered. */
	a->reg[APIC_SVR] = val & 0x3ff;
	if (val & APIC_SVR_ENABLE)
		return;
	for (i = APIC_LVT_TIMER; i <= APIC_LVT_ERROR; i++)
		a->reg[i] |= APIC_LVT_MASKED;
	a->reg[APIC_LVT_CMCI] |= APIC_LVT_MASKED;
}

/* EOI (§11.8.5): retire the highest ISR bit; returns its vector if level. */
static int do_eoi(struct lapic *a)
{
	int v = vec_highest(a, APIC_ISR);

	if (v < 0)
		return -1;
	vec_clear(a, APIC_ISR, v);
	update_ppr(a);
	return vec_test(a, APIC_TMR, v) ? v : -1;
}

/* ICR low write (§11.6.1): send an IPI.  Fills *msg; false if nothing to send. */
static bool write_icr(struct lapic *a, uint32_t val, struct apic_msg *msg)
{
	unsigned dm = (val >> 8) & 7;

	a->reg[APIC_ICR_LO] = val & 0x000ccfff;  /* delivery status reads idle */
	/* INIT level de-assert: only synchronises arbitration IDs; no-op. */
	if (dm == DM_INIT && !(val & (1u << 14)) && (val & (1u << 15)))
		return false;
	*msg = (struct apic_msg){
		.vector = val & 0xff,
		.delivery_mode = dm,
		.dest_logical = (val >> 11) & 1,
		.dest = a->reg[APIC_ICR_HI] >> 24,
		.level_triggered = (val >> 15) & 1,
		.shorthand = (val >> 18) & 3,
		.src_apic = a->vcpu->id,
	};
	if ((dm == DM_FIXED || dm == DM_LOWEST) && msg->vector < 16) {
		raise_error(a, ESR_SEND_ILLEGAL_VECTOR);
		return false;
	}
	return true;
}

struct write_effects {
	bool send, rearm, kick;
	int eoi_vector;
	struct apic_msg msg;
};

static void write_reg(struct lapic *a, int idx, uint32_t val, struct write_effects *fx)
{
	switch (idx) {
	case APIC_ID:
		a->reg[APIC_ID] = val & 0xff000000;
		break;
	case APIC_TPR:
		a->reg[APIC_TPR] = val & 0xff;
		update_ppr(a);
		break;
	case APIC_EOI:
		fx->eoi_vector = do_eoi(a);
		break;
	case APIC_LDR:
		a->reg[APIC_LDR] = val & 0xff000000;
		break;
	case APIC_DFR:
		a->reg[APIC_DFR] = val | 0x0fffffff;
		break;
	case APIC_SVR:
		write_svr(a, val);
		break;
	case APIC_ESR:
		/* §11.5.3: a write latches the errors since the last write. */
		a->reg[APIC_ESR] = a->esr_pending;
		a->esr_pending = 0;
		break;
	case APIC_ICR_LO:
		fx->send = write_icr(a, val, &fx->msg);
		break;
	case APIC_ICR_HI:
		a->reg[APIC_ICR_HI] = val & 0xff000000;
		break;
	case APIC_LVT_CMCI:
	case APIC_LVT_TIMER ... APIC_LVT_ERROR:
		write_lvt(a, idx, val, &fx->rearm);
		break;
	case APIC_TMICT:
		if (timer_mode(a) == TIMER_TSC_DEADLINE)
			break;
		a->reg[APIC_TMICT] = val;
		timer_start(a, guest_tsc_now(a->vm), (uint64_t)val * ticks_per_count(a));
		fx->rearm = true;
		break;
	case APIC_TDCR:
		a->reg[APIC_TDCR] = val & 0xb;
		break;
	case APIC_VER: case APIC_APR: case APIC_PPR: case APIC_RRD:
	case APIC_ISR ... APIC_ISR + 7:
	case APIC_TMR ... APIC_TMR + 7:
	case APIC_IRR ... APIC_IRR + 7:
	case APIC_TMCCT:
		break;  /* read-only: writes are ignored */
	default:
		raise_error(a, ESR_ILLEGAL_REGISTER);
		log_warnx_rl("lapic %d: write to reserved offset %#x", a->vcpu->id, idx << 4);
		break;
	}
}

static uint32_t read_reg(struct lapic *a, int idx)
{
	switch (idx) {
	case APIC_TMCCT:
		return timer_current_count(a, guest_tsc_now(a->vm));
	case APIC_ID: case APIC_VER: case APIC_TPR: case APIC_PPR: case APIC_LDR:
	case APIC_DFR: case APIC_SVR: case APIC_ESR: case APIC_ICR_LO:
	case APIC_ICR_HI: case APIC_LVT_CMCI: case APIC_TMICT: case APIC_TDCR:
	case APIC_ISR ... APIC_ISR + 7:
	case APIC_TMR ... APIC_TMR + 7:
	case APIC_IRR ... APIC_IRR + 7:
	case APIC_LVT_TIMER ... APIC_LVT_ERROR:
		return a->reg[idx];
	default:
		return 0;  /* APR, RRD, EOI and reserved slots read as zero */
	}
}

void lapic_mmio(struct lapic *a, uint64_t offset, void *data, int len, bool is_write)
{
	struct write_effects fx = { .eoi_vector = -1 };
	int idx = (offset & 0xfff) >> 4, sub = offset & 0xf;
	uint8_t slot[16] = { 0 };
	uint32_t val;

	if (len <= 0 || len > 8)
		return;
	if (!is_write) {
		pthread_mutex_lock(&a->lock);
		val = hw_enabled(a) ? read_reg(a, idx) : 0;
		pthread_mutex_unlock(&a->lock);
		memcpy(slot, &val, 4);
		memcpy(data, slot + sub, MIN(len, 16 - sub));
		return;
	}
	/* Registers are 32 bits wide at 16-byte alignment (§11.4.1). */
	if (sub || len < 4) {
		log_warnx_rl("lapic %d: %d-byte write at %#llx ignored", a->vcpu->id,
			     len, (unsigned long long)offset);
		return;
	}
	memcpy(&val, data, 4);
	pthread_mutex_lock(&a->lock);
	if (hw_enabled(a))
		write_reg(a, idx, val, &fx);
	fx.kick = deliverable_vector(a) >= 0;
	pthread_mutex_unlock(&a->lock);

	if (fx.eoi_vector >= 0)
		apic_bus_eoi(a->bus, fx.eoi_vector);
	if (fx.send)
		apic_bus_deliver(a->vm, &fx.msg);
	if (fx.rearm)
		timer_rearm(a);
	if (fx.kick)
		lapic_kick(a);
}

/* ---- MSRs and CR8 ---- */

uint64_t lapic_get_base(struct lapic *a)
{
	uint64_t v;

	pthread_mutex_lock(&a->lock);
	v = a->base_msr;
	pthread_mutex_unlock(&a->lock);
	return v;
}

/*
 * IA32_APIC_BASE (§11.4.4): bit 8 BSP (read-only here), bit 11 global
 * enable, bits 35:12 the base.  x2APIC (bit 10) is not offered, and an
 * APIC disabled this way cannot be re-enabled without a reset (§11.4.3).
 */
int lapic_set_base(struct lapic *a, uint64_t val)
{
	const uint64_t valid = 0xffffff000ULL | MSR_IA32_APICBASE_ENABLE |
			       MSR_IA32_APICBASE_BSP;
	int err = 0;

	pthread_mutex_lock(&a->lock);
	if (val & ~valid) {
		err = -EINVAL;
		goto out_unlock;
	}
	val = (val & ~MSR_IA32_APICBASE_BSP) | (a->base_msr & MSR_IA32_APICBASE_BSP);
	if (hw_enabled(a) && !(val & MSR_IA32_APICBASE_ENABLE)) {
		write_svr(a, a->reg[APIC_SVR] & ~APIC_SVR_ENABLE);
		timer_stop(a);
		a->tsc_deadline = 0;
	}
	a->base_msr = val;
out_unlock:
	pthread_mutex_unlock(&a->lock);
	if (!err)
		timer_rearm(a);
	return err;
}

void lapic_set_cr8(struct lapic *a, uint64_t val)
{
	bool kick;

	pthread_mutex_lock(&a->lock);
	a->reg[APIC_TPR] = (val & 0xf) << 4;
	update_ppr(a);
	kick = deliverable_vector(a) >= 0;
	pthread_mutex_unlock(&a->lock);
	if (kick)
		lapic_kick(a);
}

uint64_t lapic_get_cr8(struct lapic *a)
{
	uint64_t v;

	pthread_mutex_lock(&a->lock);
	v = (a->reg[APIC_TPR] >> 4) & 0xf;
	pthread_mutex_unlock(&a->lock);
	return v;
}

/* ---- life cycle and state ---- */

/*
 * Power-up/INIT state (§11.4.7.1, Table 10-1 of Vol.3 ch.10 in older
 * editions).  Like QEMU, the BSP's LINT0 starts in ExtINT so the PIC works
 * before any firmware programs the APIC.  The INIT/SIPI/NMI latches are
 * left alone: they are consumed through lapic_take_*().
 */
void lapic_reset(struct lapic *a, bool bsp)
{
	int i;

	pthread_mutex_lock(&a->lock);
	memset(a->reg, 0, sizeof(a->reg));
	a->reg[APIC_ID] = (uint32_t)a->vcpu->id << 24;
	a->reg[APIC_VER] = APIC_VERSION;
	a->reg[APIC_DFR] = 0xffffffff;
	a->reg[APIC_SVR] = 0xff;
	for (i = APIC_LVT_TIMER; i <= APIC_LVT_ERROR; i++)
		a->reg[i] = APIC_LVT_MASKED;
	a->reg[APIC_LVT_CMCI] = APIC_LVT_MASKED;
	if (bsp)
		a->reg[APIC_LVT_LINT0] = DM_EXTINT << 8;
	a->base_msr = LAPIC_BASE | MSR_IA32_APICBASE_ENABLE |
		      (bsp ? MSR_IA32_APICBASE_BSP : 0);
	a->esr_pending = 0;
	a->extint_pending = false;
	a->tsc_deadline = 0;
	timer_stop(a);
	pthread_mutex_unlock(&a->lock);
	timer_rearm(a);
}

void lapic_get_state(struct lapic *a, struct x86_lapic_state *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < APIC_NREGS; i++) {
		uint32_t v = i == APIC_TMCCT ? read_reg(a, i) : a->reg[i];

		memcpy(&st->regs[i * 16], &v, 4);
	}
	pthread_mutex_unlock(&a->lock);
}

int lapic_set_state(struct lapic *a, const struct x86_lapic_state *st)
{
	uint32_t reg[APIC_NREGS];
	uint64_t now, left;
	bool kick;
	int i;

	for (i = 0; i < APIC_NREGS; i++)
		memcpy(&reg[i], &st->regs[i * 16], 4);
	if (LVT_TIMER_MODE(reg[APIC_LVT_TIMER]) == 3)
		return -EINVAL;  /* reserved timer mode */
	pthread_mutex_lock(&a->lock);
	memcpy(a->reg, reg, sizeof(reg));
	a->reg[APIC_VER] = APIC_VERSION;
	a->reg[APIC_TDCR] &= 0xb;
	update_ppr(a);
	timer_stop(a);
	if (timer_mode(a) != TIMER_TSC_DEADLINE && reg[APIC_TMICT]) {
		now = guest_tsc_now(a->vm);
		left = (uint64_t)(reg[APIC_TMCCT] ? reg[APIC_TMCCT] : reg[APIC_TMICT]);
		timer_start(a, now, left * ticks_per_count(a));
	}
	a->reg[APIC_TMCCT] = 0;
	kick = deliverable_vector(a) >= 0;
	pthread_mutex_unlock(&a->lock);
	timer_rearm(a);
	if (kick)
		lapic_kick(a);
	return 0;
}

int lapic_create(struct vcpu *vcpu, lapic_kick_fn kick, struct lapic **out)
{
	struct lapic *a;
	int err;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->vcpu = vcpu;
	a->vm = vcpu->vm;
	a->kick = kick;
	pthread_mutex_init(&a->lock, NULL);
	err = apic_bus_get(a->vm, &a->bus);
	if (err)
		goto err_free;
	if (a->vm->loop) {
		err = evtimer_create(a->vm->loop, lapic_evtimer_cb, a, &a->evt);
		if (err)
			goto err_put;
	}
	lapic_reset(a, vcpu->id == 0);
	apic_bus_set_lapic(a->bus, vcpu->id, a);
	*out = a;
	return 0;

err_put:
	apic_bus_put(a->vm);
err_free:
	pthread_mutex_destroy(&a->lock);
	free(a);
	return err;
}

void lapic_destroy(struct lapic *a)
{
	if (!a)
		return;
	apic_bus_set_lapic(a->bus, a->vcpu->id, NULL);
	if (a->evt)
		evtimer_destroy(a->evt);
	apic_bus_put(a->vm);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
