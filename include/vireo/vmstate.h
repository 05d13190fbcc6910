/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VIREO_VMSTATE_H
#define VIREO_VMSTATE_H

#include "vireo/util.h"

struct vm;

/*
 * Write every vCPU's architectural state as JSON to `path`:
 * {"vcpus":[{"id":0,"regs":{"rax":"0x..",...},"sregs":{...}}]}.
 * Only while no vCPU thread runs (before start or after vm_wait).
 * Returns 0 or -errno (logged).
 */
int vmstate_dump_json(struct vm *vm, const char *path) WUR;

#endif
