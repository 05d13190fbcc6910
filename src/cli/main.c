// SPDX-License-Identifier: GPL-2.0-only
/* The `vireo` command: git-style subcommands, one file each. */
#include <stdio.h>
#include <string.h>

#include "vireo_config.h"
#include "cli/cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* The one table of subcommands. */
static const struct command commands[] = {
	{ "run", cmd_run, "boot a VM in the foreground (no daemon)" },
	{ "accel", cmd_accel, "which CPU backends (kvm, emu) can run here" },
	{ "disk", cmd_disk, "create, inspect, clone and convert disk images" },
	{ "sr", cmd_sr, "storage repositories: where disk images live" },
	{ "switch", cmd_switch, "run or control a virtual switch" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vireo [--version] [--help] <command> [<args>]\n\n"
		   "Vireo runs guest operating systems in virtual machines.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'vireo <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("vireo %s\n", VIREO_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vireo: '%s' is not a vireo command; see 'vireo --help'\n", argv[1]);
	return 2;
}
