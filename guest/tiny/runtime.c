// SPDX-License-Identifier: GPL-2.0-only
/* The tiny guests' runtime (see tiny.h). */
#include "tiny.h"

/*
 * The four functions a freestanding C compiler may call on its own
 * (GCC manual, "Standards": memcpy, memmove, memset, memcmp), and strlen.
 */
void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d < s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);            /* no interrupts */
	outb(COM1 + UART_LCR, 0x80);            /* DLAB */
	outb(COM1 + UART_THR, 0x01);            /* 115200 baud */
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x03);            /* 8N1 */
	outb(COM1 + UART_MCR, 0x0b);            /* DTR, RTS, OUT2 (IRQ enable) */
}

void serial_putc(char c)
{
	/*
	 * Wait for THR empty.  The wait is bounded: a port with nothing behind
	 * it reads 0xff (THRE set), and a stuck UART must not hang the guest.
	 */
	for (int i = 0; i < 100000; i++)
		if (inb(COM1 + UART_LSR) & UART_LSR_THRE)
			break;
	outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s++);
	}
}

static void put_num(uint64_t v, unsigned base, int width, char pad, bool neg)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	while (n < width && n < (int)sizeof(buf))
		buf[n++] = pad;
	while (n)
		serial_putc(buf[--n]);
}

/* A printf for %s %c %d %u %x %p %% with l/ll and a zero-padded width. */
int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			if (*fmt == '\n')
				serial_putc('\r');
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			serial_puts(s ? s : "(null)");
			break;
		}
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
			put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10,
				width, pad, false);
			break;
		case 'x':
			put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16,
				width, pad, false);
			break;
		case 'p':
			serial_puts("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, width, pad, false);
			break;
		case '%':
			serial_putc('%');
			break;
		default:
			serial_putc('?');
			break;
		}
	}
	va_end(ap);
	return 0;
}

uint32_t pci_cfg_read32(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
	return inl(0xcfc);
}

static bool sig_is(const uint8_t *p, const char *sig, int n)
{
	for (int i = 0; i < n; i++)
		if (p[i] != (uint8_t)sig[i])
			return false;
	return true;
}

/* ACPI 6.5 §5.2.5.3 (RSDP), §5.2.7 (RSDT), §5.2.8 (XSDT). */
const uint8_t *acpi_find_table(uint64_t rsdp_gpa, const char sig[4])
{
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_gpa;
	const uint8_t *sdt;
	uint32_t len, esz;

	if (!rsdp_gpa || !sig_is(rsdp, "RSD PTR ", 8))
		return NULL;
	if (rsdp[15] >= 2) {
		sdt = (const uint8_t *)(uintptr_t)*(const uint64_t *)(rsdp + 24);
		esz = 8;
	} else {
		sdt = (const uint8_t *)(uintptr_t)*(const uint32_t *)(rsdp + 16);
		esz = 4;
	}
	len = *(const uint32_t *)(sdt + 4);
	for (uint32_t off = 36; off + esz <= len; off += esz) {
		uint64_t p = esz == 8 ? *(const uint64_t *)(sdt + off)
				      : *(const uint32_t *)(sdt + off);
		const uint8_t *t = (const uint8_t *)(uintptr_t)p;

		if (sig_is(t, sig, 4))
			return t;
	}
	return NULL;
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest_apic, bool masked)
{
	volatile uint32_t *sel = (volatile uint32_t *)IOAPIC_GPA;
	volatile uint32_t *win = (volatile uint32_t *)(IOAPIC_GPA + 0x10);

	/* Fixed delivery, physical destination, edge, active high. */
	*sel = 0x11 + 2 * pin;
	*win = (uint32_t)dest_apic << 24;
	*sel = 0x10 + 2 * pin;
	*win = vector | (masked ? 1u << 16 : 0);
}

void tiny_exit(int code)
{
	outb(TINY_PORT_DEBUG_EXIT, (uint8_t)code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- IDT: 64-bit interrupt gates to the stubs in isr.S ---- */
struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

#define IDT_VECTORS 64
static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
extern const uint64_t isr_stub_table[IDT_VECTORS];
irq_handler_fn tiny_irq_handler;

void idt_init(irq_handler_fn handler)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	tiny_irq_handler = handler;
	for (int v = 0; v < IDT_VECTORS; v++) {
		uint64_t a = isr_stub_table[v];

		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)a, .sel = TINY_SEL_CODE64, .ist = 0,
			.type = 0x8e,   /* present, DPL 0, 64-bit interrupt gate */
			.off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(desc));
}

/* Called from isr.S with a pointer to the frame it built. */
void tiny_isr_dispatch(struct irq_frame *f);
void tiny_isr_dispatch(struct irq_frame *f)
{
	if (tiny_irq_handler) {
		tiny_irq_handler(f);
		return;
	}
	printf("tiny: unexpected exception %u at rip %lx, error code %lx\n",
	       (unsigned)f->vector, f->rip, f->error_code);
	tiny_exit(0x7f);
}

/* ---- kvmclock (pvclock protocol) ---- */
#define MSR_KVM_SYSTEM_TIME_NEW  0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)

struct pvclock_vcpu_time_info {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
} __attribute__((packed));

static volatile struct pvclock_vcpu_time_info pvti __attribute__((aligned(64)));
static bool pvti_on;

bool kvmclock_init(void)
{
	uint32_t a, b, c, d;

	if (pvti_on)
		return true;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000000), "c"(0));
	if (b != 0x4b4d564b || a < 0x40000001)     /* "KVMKVMKVM" */
		return false;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000001), "c"(0));
	if (!(a & KVM_FEATURE_CLOCKSOURCE2))
		return false;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uintptr_t)&pvti | 1);
	pvti_on = true;
	return true;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Retry while the version is odd (an update in progress) or changed. */
uint64_t kvmclock_ns(void)
{
	uint32_t v;
	uint64_t ns;

	do {
		v = pvti.version;
		__asm__ volatile("" ::: "memory");
		uint64_t delta = rdtsc() - pvti.tsc_timestamp;
		if (pvti.tsc_shift < 0)
			delta >>= -pvti.tsc_shift;
		else
			delta <<= pvti.tsc_shift;
		ns = pvti.system_time +
		     (uint64_t)(((unsigned __int128)delta * pvti.tsc_to_system_mul) >> 32);
		__asm__ volatile("" ::: "memory");
	} while ((v & 1) || v != pvti.version);
	return ns;
}

void timeout_start(struct tiny_timeout *t, unsigned ms)
{
	t->clock = kvmclock_init();
	t->deadline = t->clock ? kvmclock_ns() + (uint64_t)ms * 1000000 : 0;
	t->spins = (uint64_t)ms * 100000;
}

bool timeout_expired(struct tiny_timeout *t)
{
	return t->clock ? kvmclock_ns() >= t->deadline : t->spins-- == 0;
}
