/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_ACPI_H
#define VIREO_ACPI_H

/*
 * ACPI tables for firmware-less boot (ACPI 6.4): RSDP, XSDT, a hardware-
 * reduced FADT (sleep control/status and reset registers in I/O space),
 * MADT (one local APIC per vCPU, the IOAPIC, ISA overrides) and the DSDT
 * (PCI host bridge with INTx routing, COM1, \_S5).  The kernel Debian ships
 * has no MP-table parser (CONFIG_X86_MPPARSE is off), so this is how it
 * finds its CPUs, IOAPIC and PCI bus, and how `poweroff` ends the VM.
 */
#include <stddef.h>
#include <stdint.h>

#include "vireo/util.h"

#define ACPI_TABLES_GPA   0xf0000ULL   /* RSDP first: Linux scans 0xe0000-0xfffff */
#define ACPI_TABLES_SIZE  0x10000ULL

/* I/O ports of the ACPI power-management device (src/dev/acpi_pm.c). */
#define ACPI_PM_IO_BASE     0x600
#define ACPI_PM_SLEEP_CTL   0x600   /* SLP_TYPx in bits 4:2, SLP_EN bit 5 */
#define ACPI_PM_SLEEP_STS   0x601   /* WAK_STS bit 7 */
#define ACPI_PM_RESET       0x602   /* write ACPI_PM_RESET_VALUE: reset */
#define ACPI_PM_IO_LEN      3
#define ACPI_PM_RESET_VALUE 0x01
#define ACPI_S5_SLP_TYP     5       /* matches \_S5 in dsdt.asl */

/*
 * Write the tables for ncpus vCPUs into buf (len bytes, which the guest sees
 * at gpa).  Returns the RSDP's offset in buf (0) or -ENOSPC.
 */
int acpi_tables_build(uint8_t *buf, size_t len, uint64_t gpa, int ncpus) WUR;

#endif
