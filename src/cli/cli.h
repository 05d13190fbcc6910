/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_CLI_H
#define VIREO_CLI_H

/*
 * Each subcommand lives in its own file, src/cli/cmd_<name>.c, and exports
 * one entry point.  argv[0] is the subcommand's name.  Returns the process
 * exit status.
 */
int cmd_run(int argc, char **argv);
int cmd_accel(int argc, char **argv);
int cmd_disk(int argc, char **argv);
int cmd_sr(int argc, char **argv);
int cmd_switch(int argc, char **argv);

#endif
