// SPDX-License-Identifier: GPL-2.0-only
/* `vireo accel`: which CPU backends can run on this host, and why not. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vireo/accel.h"

static const char accel_usage[] =
	"usage: vireo accel\n"
	"\n"
	"List the CPU backends and whether each can run VMs on this host:\n"
	"  ok          runs guests at full speed\n"
	"  slow        runs, with the reason shown\n"
	"  unavailable cannot run here, with the reason shown\n"
	"and which one `vireo run --accel auto` picks.\n";

int cmd_accel(int argc, char **argv)
{
	static const struct { const char *name; enum accel_kind kind; } kinds[] = {
		{ "kvm", ACCEL_KVM }, { "emu", ACCEL_EMU },
	};
	const struct accel_ops *ops;
	char why[256];

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fputs(accel_usage, stdout);
			return 0;
		}
		fprintf(stderr, "vireo accel: unexpected argument '%s'; see 'vireo accel --help'\n",
			argv[1]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int r = accel_select(kinds[i].kind, &ops, why, sizeof(why));
		int ok = r == 0 && ops->probe(why, sizeof(why)) == 1;

		printf("%-4s %-11s %s\n", kinds[i].name,
		       r < 0 ? "unavailable" : ok ? "ok" : "slow", why);
	}
	if (accel_select(ACCEL_AUTO, &ops, why, sizeof(why)) == 0)
		printf("auto picks %s\n", ops->name);
	else
		printf("auto picks nothing: %s\n", why);
	return 0;
}
