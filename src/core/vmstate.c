// SPDX-License-Identifier: GPL-2.0-only
/* Register dumps of a stopped VM, for tests and debugging. */
#include <errno.h>
#include <stdio.h>

#include "vireo/accel.h"
#include "vireo/log.h"
#include "vireo/vm.h"
#include "vireo/vmstate.h"

static void json_u64(FILE *f, const char *name, uint64_t v, bool last)
{
	fprintf(f, "\"%s\":\"0x%llx\"%s", name, (unsigned long long)v, last ? "" : ",");
}

static void dump_regs(FILE *f, const struct x86_regs *r)
{
	const struct { const char *n; uint64_t v; } g[] = {
		{ "rax", r->rax }, { "rbx", r->rbx }, { "rcx", r->rcx }, { "rdx", r->rdx },
		{ "rsi", r->rsi }, { "rdi", r->rdi }, { "rsp", r->rsp }, { "rbp", r->rbp },
		{ "r8", r->r8 }, { "r9", r->r9 }, { "r10", r->r10 }, { "r11", r->r11 },
		{ "r12", r->r12 }, { "r13", r->r13 }, { "r14", r->r14 }, { "r15", r->r15 },
		{ "rip", r->rip }, { "rflags", r->rflags },
	};

	fprintf(f, "\"regs\":{");
	for (size_t i = 0; i < ARRAY_SIZE(g); i++)
		json_u64(f, g[i].n, g[i].v, i + 1 == ARRAY_SIZE(g));
	fprintf(f, "}");
}

static void dump_seg(FILE *f, const char *name, const struct x86_segment *s)
{
	fprintf(f, "\"%s\":{\"selector\":\"0x%x\",\"base\":\"0x%llx\",\"limit\":\"0x%x\","
		"\"type\":%u,\"dpl\":%u,\"l\":%u,\"db\":%u},", name, s->selector,
		(unsigned long long)s->base, s->limit, s->type, s->dpl, s->l, s->db);
}

static void dump_sregs(FILE *f, const struct x86_sregs *s)
{
	fprintf(f, "\"sregs\":{");
	dump_seg(f, "cs", &s->cs);
	dump_seg(f, "ds", &s->ds);
	dump_seg(f, "es", &s->es);
	dump_seg(f, "fs", &s->fs);
	dump_seg(f, "gs", &s->gs);
	dump_seg(f, "ss", &s->ss);
	json_u64(f, "cr0", s->cr0, false);
	json_u64(f, "cr2", s->cr2, false);
	json_u64(f, "cr3", s->cr3, false);
	json_u64(f, "cr4", s->cr4, false);
	json_u64(f, "efer", s->efer, false);
	json_u64(f, "gdt_base", s->gdt.base, false);
	json_u64(f, "idt_base", s->idt.base, true);
	fprintf(f, "}");
}

int vmstate_dump_json(struct vm *vm, const char *path)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (!f) {
		err = -errno;
		log_warn("dump-state: %s", path);
		return err;
	}
	fprintf(f, "{\"vcpus\":[");
	for (int i = 0; i < vm->nvcpus && !err; i++) {
		struct x86_regs regs;
		struct x86_sregs sregs;

		err = vm->accel->get_regs(vm->vcpus[i], &regs);
		if (!err)
			err = vm->accel->get_sregs(vm->vcpus[i], &sregs);
		if (err)
			break;
		fprintf(f, "%s{\"id\":%d,", i ? "," : "", i);
		dump_regs(f, &regs);
		fprintf(f, ",");
		dump_sregs(f, &sregs);
		fprintf(f, "}");
	}
	fprintf(f, "]}\n");
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		log_errno(err, "dump-state: %s", path);
	return err;
}
