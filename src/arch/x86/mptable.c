// SPDX-License-Identifier: GPL-2.0-only
/*
 * Intel MultiProcessor Specification 1.4 tables: how a firmware-less guest
 * learns its processors, its IOAPIC and the ISA interrupt routing.
 */
#include <errno.h>
#include <string.h>

#include "vireo/boot.h"
#include "vireo/irqchip.h"

#define MP_APIC_VERSION   0x14
#define MP_IOAPIC_VERSION 0x11

struct mpf_intel {          /* floating pointer structure, §4.1 */
	char signature[4];  /* "_MP_" */
	uint32_t physptr;
	uint8_t length;     /* in 16-byte units: 1 */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {          /* configuration table header, §4.2 */
	char signature[4];  /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint16_t reserved;
	uint8_t ext_checksum;
	uint8_t reserved2;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;       /* 0 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;    /* bit0 enabled, bit1 BSP */
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;       /* 1 */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;       /* 2 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;      /* bit0 enabled */
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {         /* I/O (type 3) and local (type 4) interrupt entries */
	uint8_t type;
	uint8_t irqtype;    /* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
	uint16_t irqflag;   /* polarity/trigger: 0 = conforms to bus */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

static int mp_size(int ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) + 18 * sizeof(struct mpc_intsrc);
}

static uint8_t *mp_put(uint8_t *p, const void *e, size_t len)
{
	memcpy(p, e, len);
	return p + len;
}

/* ISA IRQs 0-15 on IOAPIC pins; IRQ0 (PIT) arrives on pin 2 as on PCs. */
static uint8_t *mp_put_irqs(uint8_t *p, uint8_t ioapic_id)
{
	struct mpc_intsrc e = { .type = 3, .srcbus = 0, .dstapic = ioapic_id };

	e.irqtype = 3;   /* ExtINT: the 8259 on pin 0 */
	e.srcbusirq = 0;
	e.dstirq = 0;
	p = mp_put(p, &e, sizeof(e));
	e.irqtype = 0;
	for (int irq = 0; irq < 16; irq++) {
		if (irq == 2)
			continue;   /* the cascade */
		e.srcbusirq = irq;
		e.dstirq = irq == 0 ? 2 : irq;
		p = mp_put(p, &e, sizeof(e));
	}
	/* Local: ExtINT on LINT0, NMI on LINT1 of every LAPIC (0xff). */
	e = (struct mpc_intsrc){ .type = 4, .irqtype = 3, .dstapic = 0xff, .dstirq = 0 };
	p = mp_put(p, &e, sizeof(e));
	e.irqtype = 1;
	e.dstirq = 1;
	return mp_put(p, &e, sizeof(e));
}

int mptable_write(uint8_t *buf, size_t len, uint64_t gpa, int ncpus)
{
	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	struct mpc_table *mpc = (struct mpc_table *)(mpf + 1);
	uint8_t ioapic_id = ncpus;   /* APIC IDs 0..ncpus-1 are the vCPUs */
	uint8_t *p = (uint8_t *)(mpc + 1);
	struct mpc_bus bus = { .type = 1, .busid = 0, .bustype = "ISA   " };
	struct mpc_ioapic io = { .type = 2, .apicid = ioapic_id,
				 .apicver = MP_IOAPIC_VERSION, .flags = 1,
				 .apicaddr = (uint32_t)IOAPIC_BASE };

	if (ncpus < 1 || ncpus > 254 || len < (size_t)mp_size(ncpus))
		return -ENOSPC;
	memset(buf, 0, mp_size(ncpus));
	for (int i = 0; i < ncpus; i++) {
		struct mpc_cpu cpu = {
			.type = 0, .apicid = i, .apicver = MP_APIC_VERSION,
			.cpuflag = 1 | (i == 0 ? 2 : 0),
			.cpufeature = 0x600, .featureflag = 0x201,  /* FPU, APIC */
		};
		p = mp_put(p, &cpu, sizeof(cpu));
	}
	p = mp_put(p, &bus, sizeof(bus));
	p = mp_put(p, &io, sizeof(io));
	p = mp_put_irqs(p, ioapic_id);

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = p - (uint8_t *)mpc;
	mpc->spec = 4;
	memcpy(mpc->oem, "VIREO   ", 8);
	memcpy(mpc->productid, "VIREO VM    ", 12);
	mpc->lapic = (uint32_t)LAPIC_BASE;
	mpc->checksum = mp_checksum((uint8_t *)mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = gpa + sizeof(*mpf);
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = mp_checksum((uint8_t *)mpf, sizeof(*mpf));
	return p - buf;
}
