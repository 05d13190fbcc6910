// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmclock: the paravirtual clock both backends advertise (CPUID
 * 0x40000001 CLOCKSOURCE2; Documentation/virt/kvm/x86/msr.rst): registers a
 * pvclock structure with MSR_KVM_SYSTEM_TIME_NEW, reads the wall clock with
 * MSR_KVM_WALL_CLOCK_NEW, then measures 10 PIT ticks (100 Hz, through the
 * 8259) on the kvmclock, so a test can check the clock runs at real speed
 * and tells the real time.  Exit status 49; 1 without kvmclock, 2 if the
 * clock does not advance.
 */
#include "tiny.h"

#define KVMCLOCK_EXIT            49
#define MSR_KVM_WALL_CLOCK_NEW   0x4b564d00
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define TICKS                    10

struct pvclock_wall_clock {
	uint32_t version, sec, nsec;
} __attribute__((packed));

static volatile struct pvclock_wall_clock wc __attribute__((aligned(16)));
static volatile unsigned ticks;

static void irq_handler(struct irq_frame *f)
{
	if (f->vector == 0x20)
		ticks++;
	else if (f->vector < 0x20)
		tiny_exit(0x7f);
	outb(0x20, 0x20);
}

/* 8259 pair remapped to 0x20/0x28 with only IRQ0 open; PIT channel 0 at 100 Hz. */
static void pic_pit_init(void)
{
	unsigned count = 1193182 / 100;

	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, 0xfe);
	outb(0xa1, 0xff);
	outb(0x43, 0x34);
	outb(0x40, count & 0xff);
	outb(0x40, count >> 8);
}

int tiny_main(const struct hvm_start_info *si)
{
	uint32_t r[4];
	uint64_t t0, t1;

	serial_init();
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(0x40000001), "c"(0));
	if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2)) {
		printf("kvmclock: not advertised (CPUID 0x40000001 eax %x)\n", r[0]);
		return 1;
	}
	wrmsr(MSR_KVM_WALL_CLOCK_NEW, (uintptr_t)&wc);
	if (!kvmclock_init()) {
		printf("kvmclock: not advertised behind the KVM signature\n");
		return 1;
	}
	idt_init(irq_handler);
	pic_pit_init();
	t0 = kvmclock_ns();
	printf("kvmclock: now %lu s since the epoch\n",
	       (unsigned long)(wc.sec + (wc.nsec + t0) / 1000000000ULL));
	for (unsigned start = ticks; ticks - start < TICKS;)
		cpu_sti_hlt();
	cpu_cli();
	t1 = kvmclock_ns();
	if (t1 <= t0) {
		printf("kvmclock: the clock did not advance (%lu -> %lu)\n", t0, t1);
		return 2;
	}
	printf("kvmclock: %u PIT ticks took %lu us\n", TICKS, (t1 - t0) / 1000);
	return KVMCLOCK_EXIT;
}
