// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include "cli/cli.h"

int cmd_run(int argc, char **argv)
{
	fprintf(stderr, "vireo run: not built yet\n");
	return 1;
}
