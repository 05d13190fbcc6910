// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI tables (ACPI 6.4 §5.2): RSDP, XSDT, FADT (hardware-reduced), MADT,
 * and the DSDT compiled by iasl from dsdt.asl.  Written field by field at
 * explicit offsets so the layout is the spec's, not the compiler's.
 */
#include <errno.h>
#include <string.h>

#include "vireo/acpi.h"
#include "vireo/irqchip.h"

extern const uint8_t acpi_dsdt_aml[];
extern const size_t acpi_dsdt_aml_len;

#define ACPI_HDR_LEN  36
#define FADT_LEN      276   /* revision 6 */
#define FADT_FLAG_WBINVD          (1u << 0)
#define FADT_FLAG_RESET_REG_SUP   (1u << 10)
#define FADT_FLAG_HW_REDUCED_ACPI (1u << 20)
#define IAPC_8042                 (1u << 1)
#define IAPC_NO_VGA               (1u << 2)
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

static void put8(uint8_t *p, size_t off, uint8_t v) { p[off] = v; }
static void put16(uint8_t *p, size_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* System description table header (§5.2.6); checksum filled by acpi_seal. */
static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memset(t, 0, ACPI_HDR_LEN);
	memcpy(t, sig, 4);
	put32(t, 4, len);
	put8(t, 8, rev);
	memcpy(t + 10, "VIREO ", 6);      /* OEMID */
	memcpy(t + 16, "VIREOVM ", 8);    /* OEM table ID */
	put32(t, 24, 1);                  /* OEM revision */
	memcpy(t + 28, "VIRO", 4);        /* creator ID */
	put32(t, 32, 1);                  /* creator revision */
}

static void acpi_seal(uint8_t *t)
{
	uint32_t len;

	memcpy(&len, t + 4, 4);
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

/* Generic address structure (§5.2.3.2): a byte register in I/O space. */
static void acpi_gas_io(uint8_t *p, size_t off, uint16_t port)
{
	put8(p, off, GAS_SYSTEM_IO);
	put8(p, off + 1, 8);
	put8(p, off + 2, 0);
	put8(p, off + 3, GAS_ACCESS_BYTE);
	put64(p, off + 4, port);
}

static size_t acpi_fadt(uint8_t *t, uint64_t dsdt)
{
	memset(t, 0, FADT_LEN);
	acpi_header(t, "FACP", FADT_LEN, 6);
	put32(t, 40, (uint32_t)dsdt);
	put16(t, 46, 9);                           /* SCI_INT (unused: HW-reduced) */
	put16(t, 109, IAPC_8042 | IAPC_NO_VGA);
	put32(t, 112, FADT_FLAG_WBINVD | FADT_FLAG_RESET_REG_SUP | FADT_FLAG_HW_REDUCED_ACPI);
	acpi_gas_io(t, 116, ACPI_PM_RESET);
	put8(t, 128, ACPI_PM_RESET_VALUE);
	put8(t, 131, 4);                           /* FADT minor version: 6.4 */
	put64(t, 140, dsdt);                       /* X_DSDT */
	acpi_gas_io(t, 244, ACPI_PM_SLEEP_CTL);
	acpi_gas_io(t, 256, ACPI_PM_SLEEP_STS);
	memcpy(t + 268, "VIREOVMM", 8);            /* hypervisor vendor identity */
	acpi_seal(t);
	return FADT_LEN;
}

static size_t acpi_madt(uint8_t *t, int ncpus)
{
	size_t off = ACPI_HDR_LEN + 8;
	uint8_t ioapic_id = ncpus;

	acpi_header(t, "APIC", 0, 5);              /* length set below */
	put32(t, ACPI_HDR_LEN, (uint32_t)LAPIC_BASE);
	put32(t, ACPI_HDR_LEN + 4, 1);             /* PCAT_COMPAT: 8259s present */
	for (int i = 0; i < ncpus; i++, off += 8) {  /* Processor Local APIC */
		put8(t, off, 0);
		put8(t, off + 1, 8);
		put8(t, off + 2, i);                /* ACPI processor UID */
		put8(t, off + 3, i);                /* APIC ID */
		put32(t, off + 4, 1);               /* enabled */
	}
	put8(t, off, 1);                            /* I/O APIC */
	put8(t, off + 1, 12);
	put8(t, off + 2, ioapic_id);
	put8(t, off + 3, 0);
	put32(t, off + 4, (uint32_t)IOAPIC_BASE);
	put32(t, off + 8, 0);                       /* GSI base */
	off += 12;
	put8(t, off, 2);                            /* override: ISA IRQ0 -> GSI 2 */
	put8(t, off + 1, 10);
	put8(t, off + 2, 0);
	put8(t, off + 3, 0);
	put32(t, off + 4, 2);
	put16(t, off + 8, 0);
	off += 10;
	put8(t, off, 4);                            /* LINT1 is NMI on every CPU */
	put8(t, off + 1, 6);
	put8(t, off + 2, 0xff);
	put16(t, off + 3, 0);
	put8(t, off + 5, 1);
	off += 6;
	put32(t, 4, off);
	acpi_seal(t);
	return off;
}

static void acpi_rsdp(uint8_t *r, uint64_t xsdt)
{
	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "VIREO ", 6);
	put8(r, 15, 2);                             /* revision: ACPI 2.0+ */
	put32(r, 20, 36);
	put64(r, 24, xsdt);
	put8(r, 8, acpi_checksum(r, 20));
	put8(r, 32, acpi_checksum(r, 36));
}

int acpi_tables_build(uint8_t *buf, size_t len, uint64_t gpa, int ncpus)
{
	size_t xsdt = 64, fadt = xsdt + ACPI_HDR_LEN + 2 * 8;
	size_t madt = ALIGN_UP(fadt + FADT_LEN, 16), dsdt;

	if (ncpus < 1 || ncpus > 254)
		return -EINVAL;
	dsdt = ALIGN_UP(madt + ACPI_HDR_LEN + 8 + 8 * (size_t)ncpus + 12 + 10 + 6, 16);
	if (dsdt + acpi_dsdt_aml_len > len)
		return -ENOSPC;
	memset(buf, 0, dsdt);
	memcpy(buf + dsdt, acpi_dsdt_aml, acpi_dsdt_aml_len);
	acpi_fadt(buf + fadt, gpa + dsdt);
	acpi_madt(buf + madt, ncpus);
	acpi_header(buf + xsdt, "XSDT", ACPI_HDR_LEN + 2 * 8, 1);
	put64(buf + xsdt, ACPI_HDR_LEN, gpa + fadt);
	put64(buf + xsdt, ACPI_HDR_LEN + 8, gpa + madt);
	acpi_seal(buf + xsdt);
	acpi_rsdp(buf, gpa + xsdt);
	return 0;
}
