// SPDX-License-Identifier: GPL-2.0-only
/*
 * hello: prints over COM1 and ends through the debug-exit port with
 * status 42.  Also echoes the PVH command line, so a test can see that
 * hvm_start_info arrived.
 */
#include "tiny.h"

#define HELLO_EXIT 42

int tiny_main(const struct hvm_start_info *si)
{
	serial_init();
	printf("Hello from the vireo tiny guest\n");
	if (si->magic != HVM_START_MAGIC) {
		printf("hello: bad hvm_start_info magic %x\n", si->magic);
		return 1;
	}
	printf("hello: cmdline \"%s\"\n",
	       si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "");
	printf("hello: exiting with %d\n", HELLO_EXIT);
	return HELLO_EXIT;
}
