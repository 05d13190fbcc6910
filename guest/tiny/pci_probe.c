// SPDX-License-Identifier: GPL-2.0-only
/*
 * pci-probe: reads the vendor and device IDs and the class code of every
 * function on bus 0 through configuration mechanism #1 (0xcf8/0xcfc), and
 * prints them; 00:00.0 must be a host bridge (class 06/00).  Exit status 43
 * when it is, 1 otherwise.
 */
#include "tiny.h"

#define PCI_PROBE_EXIT 43

int tiny_main(const struct hvm_start_info *si)
{
	uint32_t id, class;
	int found = 0;

	serial_init();
	for (unsigned dev = 0; dev < 32; dev++) {
		id = pci_cfg_read32(0, dev, 0, 0x00);
		if ((id & 0xffff) == 0xffff)
			continue;
		class = pci_cfg_read32(0, dev, 0, 0x08);
		printf("pci-probe: 00:%02x.0 vendor %04x device %04x class %02x/%02x\n",
		       dev, id & 0xffff, id >> 16, class >> 24, (class >> 16) & 0xff);
		found++;
	}
	id = pci_cfg_read32(0, 0, 0, 0x00);
	class = pci_cfg_read32(0, 0, 0, 0x08);
	printf("pci-probe: %d device(s) on bus 0\n", found);
	if ((id & 0xffff) == 0xffff || class >> 16 != 0x0600) {
		printf("pci-probe: no host bridge at 00:00.0\n");
		return 1;
	}
	printf("pci-probe: host bridge %04x:%04x at 00:00.0\n", id & 0xffff, id >> 16);
	return PCI_PROBE_EXIT;
}
