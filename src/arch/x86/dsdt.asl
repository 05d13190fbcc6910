/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Vireo VM's DSDT (ACPI 6.x), compiled by iasl at build time.
 * - \_SB.PCI0: the PCI host bridge (config mechanism #1 at 0xcf8), its
 *   bus/IO/memory windows, and INTx routing: pin P of slot S raises
 *   IOAPIC GSI 16 + (S + P) % 8 (P = 0 for INTA), level-triggered,
 *   active low: the swizzle of include/vireo/pci.h.
 * - RTC (PNP0B00) and the PS/2 controller (PNP0303), so the kernel's
 *   rtc_cmos and i8042 drivers bind through ACPI as on a PC.
 * - \_S5: the soft-off sleep type; the guest writes SLP_TYP=5 with SLP_EN
 *   to the FADT sleep control register (src/dev/acpi_pm.c) to power off.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 2, "VIREO ", "VIREODSD", 1)
{
    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_SEG, Zero)
            Name (_BBN, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x0000, 0x0000, 0x0001)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x00000000, 0xC0000000, 0xFEBFFFFF, 0x00000000, 0x3EC00000)
            })
            Name (_PRT, Package ()
            {
            Package () { 0x0001FFFF, 0, Zero, 17 },
            Package () { 0x0001FFFF, 1, Zero, 18 },
            Package () { 0x0001FFFF, 2, Zero, 19 },
            Package () { 0x0001FFFF, 3, Zero, 20 },
            Package () { 0x0002FFFF, 0, Zero, 18 },
            Package () { 0x0002FFFF, 1, Zero, 19 },
            Package () { 0x0002FFFF, 2, Zero, 20 },
            Package () { 0x0002FFFF, 3, Zero, 21 },
            Package () { 0x0003FFFF, 0, Zero, 19 },
            Package () { 0x0003FFFF, 1, Zero, 20 },
            Package () { 0x0003FFFF, 2, Zero, 21 },
            Package () { 0x0003FFFF, 3, Zero, 22 },
            Package () { 0x0004FFFF, 0, Zero, 20 },
            Package () { 0x0004FFFF, 1, Zero, 21 },
            Package () { 0x0004FFFF, 2, Zero, 22 },
            Package () { 0x0004FFFF, 3, Zero, 23 },
            Package () { 0x0005FFFF, 0, Zero, 21 },
            Package () { 0x0005FFFF, 1, Zero, 22 },
            Package () { 0x0005FFFF, 2, Zero, 23 },
            Package () { 0x0005FFFF, 3, Zero, 16 },
            Package () { 0x0006FFFF, 0, Zero, 22 },
            Package () { 0x0006FFFF, 1, Zero, 23 },
            Package () { 0x0006FFFF, 2, Zero, 16 },
            Package () { 0x0006FFFF, 3, Zero, 17 },
            Package () { 0x0007FFFF, 0, Zero, 23 },
            Package () { 0x0007FFFF, 1, Zero, 16 },
            Package () { 0x0007FFFF, 2, Zero, 17 },
            Package () { 0x0007FFFF, 3, Zero, 18 },
            Package () { 0x0008FFFF, 0, Zero, 16 },
            Package () { 0x0008FFFF, 1, Zero, 17 },
            Package () { 0x0008FFFF, 2, Zero, 18 },
            Package () { 0x0008FFFF, 3, Zero, 19 },
            Package () { 0x0009FFFF, 0, Zero, 17 },
            Package () { 0x0009FFFF, 1, Zero, 18 },
            Package () { 0x0009FFFF, 2, Zero, 19 },
            Package () { 0x0009FFFF, 3, Zero, 20 },
            Package () { 0x000AFFFF, 0, Zero, 18 },
            Package () { 0x000AFFFF, 1, Zero, 19 },
            Package () { 0x000AFFFF, 2, Zero, 20 },
            Package () { 0x000AFFFF, 3, Zero, 21 },
            Package () { 0x000BFFFF, 0, Zero, 19 },
            Package () { 0x000BFFFF, 1, Zero, 20 },
            Package () { 0x000BFFFF, 2, Zero, 21 },
            Package () { 0x000BFFFF, 3, Zero, 22 },
            Package () { 0x000CFFFF, 0, Zero, 20 },
            Package () { 0x000CFFFF, 1, Zero, 21 },
            Package () { 0x000CFFFF, 2, Zero, 22 },
            Package () { 0x000CFFFF, 3, Zero, 23 },
            Package () { 0x000DFFFF, 0, Zero, 21 },
            Package () { 0x000DFFFF, 1, Zero, 22 },
            Package () { 0x000DFFFF, 2, Zero, 23 },
            Package () { 0x000DFFFF, 3, Zero, 16 },
            Package () { 0x000EFFFF, 0, Zero, 22 },
            Package () { 0x000EFFFF, 1, Zero, 23 },
            Package () { 0x000EFFFF, 2, Zero, 16 },
            Package () { 0x000EFFFF, 3, Zero, 17 },
            Package () { 0x000FFFFF, 0, Zero, 23 },
            Package () { 0x000FFFFF, 1, Zero, 16 },
            Package () { 0x000FFFFF, 2, Zero, 17 },
            Package () { 0x000FFFFF, 3, Zero, 18 },
            Package () { 0x0010FFFF, 0, Zero, 16 },
            Package () { 0x0010FFFF, 1, Zero, 17 },
            Package () { 0x0010FFFF, 2, Zero, 18 },
            Package () { 0x0010FFFF, 3, Zero, 19 },
            Package () { 0x0011FFFF, 0, Zero, 17 },
            Package () { 0x0011FFFF, 1, Zero, 18 },
            Package () { 0x0011FFFF, 2, Zero, 19 },
            Package () { 0x0011FFFF, 3, Zero, 20 },
            Package () { 0x0012FFFF, 0, Zero, 18 },
            Package () { 0x0012FFFF, 1, Zero, 19 },
            Package () { 0x0012FFFF, 2, Zero, 20 },
            Package () { 0x0012FFFF, 3, Zero, 21 },
            Package () { 0x0013FFFF, 0, Zero, 19 },
            Package () { 0x0013FFFF, 1, Zero, 20 },
            Package () { 0x0013FFFF, 2, Zero, 21 },
            Package () { 0x0013FFFF, 3, Zero, 22 },
            Package () { 0x0014FFFF, 0, Zero, 20 },
            Package () { 0x0014FFFF, 1, Zero, 21 },
            Package () { 0x0014FFFF, 2, Zero, 22 },
            Package () { 0x0014FFFF, 3, Zero, 23 },
            Package () { 0x0015FFFF, 0, Zero, 21 },
            Package () { 0x0015FFFF, 1, Zero, 22 },
            Package () { 0x0015FFFF, 2, Zero, 23 },
            Package () { 0x0015FFFF, 3, Zero, 16 },
            Package () { 0x0016FFFF, 0, Zero, 22 },
            Package () { 0x0016FFFF, 1, Zero, 23 },
            Package () { 0x0016FFFF, 2, Zero, 16 },
            Package () { 0x0016FFFF, 3, Zero, 17 },
            Package () { 0x0017FFFF, 0, Zero, 23 },
            Package () { 0x0017FFFF, 1, Zero, 16 },
            Package () { 0x0017FFFF, 2, Zero, 17 },
            Package () { 0x0017FFFF, 3, Zero, 18 },
            Package () { 0x0018FFFF, 0, Zero, 16 },
            Package () { 0x0018FFFF, 1, Zero, 17 },
            Package () { 0x0018FFFF, 2, Zero, 18 },
            Package () { 0x0018FFFF, 3, Zero, 19 },
            Package () { 0x0019FFFF, 0, Zero, 17 },
            Package () { 0x0019FFFF, 1, Zero, 18 },
            Package () { 0x0019FFFF, 2, Zero, 19 },
            Package () { 0x0019FFFF, 3, Zero, 20 },
            Package () { 0x001AFFFF, 0, Zero, 18 },
            Package () { 0x001AFFFF, 1, Zero, 19 },
            Package () { 0x001AFFFF, 2, Zero, 20 },
            Package () { 0x001AFFFF, 3, Zero, 21 },
            Package () { 0x001BFFFF, 0, Zero, 19 },
            Package () { 0x001BFFFF, 1, Zero, 20 },
            Package () { 0x001BFFFF, 2, Zero, 21 },
            Package () { 0x001BFFFF, 3, Zero, 22 },
            Package () { 0x001CFFFF, 0, Zero, 20 },
            Package () { 0x001CFFFF, 1, Zero, 21 },
            Package () { 0x001CFFFF, 2, Zero, 22 },
            Package () { 0x001CFFFF, 3, Zero, 23 },
            Package () { 0x001DFFFF, 0, Zero, 21 },
            Package () { 0x001DFFFF, 1, Zero, 22 },
            Package () { 0x001DFFFF, 2, Zero, 23 },
            Package () { 0x001DFFFF, 3, Zero, 16 },
            Package () { 0x001EFFFF, 0, Zero, 22 },
            Package () { 0x001EFFFF, 1, Zero, 23 },
            Package () { 0x001EFFFF, 2, Zero, 16 },
            Package () { 0x001EFFFF, 3, Zero, 17 },
            Package () { 0x001FFFFF, 0, Zero, 23 },
            Package () { 0x001FFFFF, 1, Zero, 16 },
            Package () { 0x001FFFFF, 2, Zero, 17 },
            Package () { 0x001FFFFF, 3, Zero, 18 }
            })
        }

        Device (RTC)
        {
            Name (_HID, EisaId ("PNP0B00"))
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                IRQNoFlags () {8}
            })
        }

        Device (KBD)
        {
            Name (_HID, EisaId ("PNP0303"))
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                IRQNoFlags () {1}
            })
        }

        Device (COM1)
        {
            Name (_HID, EisaId ("PNP0501"))
            Name (_UID, One)
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
                IRQNoFlags () {4}
            })
        }
    }

    Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
}
