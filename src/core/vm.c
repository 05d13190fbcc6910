// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM object: memory, buses, event loop, backend, vCPU threads and the
 * state machine created -> running <-> paused -> stopped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vireo/accel.h"
#include "vireo/device.h"
#include "vireo/evloop.h"
#include "vireo/log.h"
#include "vireo/vm.h"

const char *vm_state_name(enum vm_state s)
{
	static const char *const names[] = {
		[VM_CREATED] = "created", [VM_RUNNING] = "running",
		[VM_PAUSED] = "paused", [VM_STOPPED] = "stopped",
	};
	return s <= VM_STOPPED ? names[s] : "?";
}

enum vm_state vm_get_state(struct vm *vm)
{
	enum vm_state s;

	pthread_mutex_lock(&vm->lock);
	s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

static void vm_kick_all(struct vm *vm)
{
	for (int i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i])
			vm->accel->vcpu_kick(vm->vcpus[i]);
}

static int vcpu_create(struct vm *vm, int id)
{
	struct vcpu *vcpu = calloc(1, sizeof(*vcpu));
	int err;

	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	err = vm->accel->vcpu_init(vcpu);
	if (err) {
		free(vcpu);
		return err;
	}
	vm->vcpus[id] = vcpu;
	vm->nvcpus = id + 1;
	return 0;
}

int vm_create(const struct vm_config *cfg, const struct accel_ops *accel,
	      struct vm **out)
{
	struct vm *vm;
	int err;

	if (cfg->ncpus < 1 || cfg->ncpus > VM_MAX_VCPUS)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	vm->accel = accel;
	vm->state = VM_CREATED;
	vm->tsc_origin_ns = now_ns();
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	err = guest_mem_create(&vm->mem, cfg->mem_size);
	if (err)
		goto err_free;
	err = bus_init(&vm->pio, "pio");
	if (err)
		goto err_mem;
	err = bus_init(&vm->mmio, "mmio");
	if (err)
		goto err_pio;
	err = evloop_create(&vm->loop);
	if (err)
		goto err_mmio;
	err = accel->vm_init(vm);
	if (err)
		goto err_loop;
	for (int i = 0; i < cfg->ncpus; i++) {
		err = vcpu_create(vm, i);
		if (err)
			goto err_vcpus;
	}
	*out = vm;
	return 0;

err_vcpus:
	for (int i = 0; i < vm->nvcpus; i++) {
		accel->vcpu_destroy(vm->vcpus[i]);
		free(vm->vcpus[i]);
	}
	accel->vm_destroy(vm);
err_loop:
	evloop_destroy(vm->loop);
err_mmio:
	bus_destroy(&vm->mmio);
err_pio:
	bus_destroy(&vm->pio);
err_mem:
	guest_mem_destroy(&vm->mem);
err_free:
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
	return err;
}

/* Park while paused; returns false once the VM is stopped. */
static bool vcpu_wait_runnable(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool run;

	pthread_mutex_lock(&vm->lock);
	while (vm->state == VM_PAUSED) {
		vm->nparked++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->state == VM_PAUSED)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->nparked--;
	}
	run = vm->state == VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	return run;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%d", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	while (vcpu_wait_runnable(vcpu)) {
		int r = vm->accel->vcpu_run(vcpu);

		if (r == VCPU_EXIT_KICK)
			continue;
		if (r == VCPU_EXIT_SHUTDOWN)
			vm_request_stop(vm, 1, "vcpu%d: the guest shut down the CPU (triple fault)",
					vcpu->id);
		else if (r == VCPU_EXIT_RESET)
			vm_request_stop(vm, 0, "the guest requested a reset");
		else
			vm_request_stop(vm, 1, "vcpu%d: %s: internal error: %s", vcpu->id,
					vm->accel->name, strerror(r < 0 ? -r : EIO));
	}
	return NULL;
}

int vm_start(struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_CREATED) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	vm->state = VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	err = evloop_start(vm->loop);
	if (err)
		goto err_stop;
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *vcpu = vm->vcpus[i];
		err = -pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
		if (err)
			goto err_stop;
		vcpu->thread_started = true;
	}
	return 0;
err_stop:
	vm_request_stop(vm, 1, "cannot start: %s", strerror(-err));
	return err;
}

int vm_pause(struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_RUNNING) {
		err = vm->state == VM_PAUSED ? 0 : -EINVAL;
		goto out;
	}
	vm->state = VM_PAUSED;
	vm_kick_all(vm);
	while (vm->state == VM_PAUSED && vm->nparked < vm->nvcpus)
		pthread_cond_wait(&vm->cond, &vm->lock);
	if (vm->state != VM_PAUSED)
		err = -ESRCH;   /* stopped while pausing */
	if (!err)
		for (struct device *d = vm->devices; d; d = d->next)
			if (d->ops->pause)
				d->ops->pause(d->opaque);
out:
	pthread_mutex_unlock(&vm->lock);
	return err;
}

int vm_resume(struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_PAUSED) {
		err = vm->state == VM_RUNNING ? 0 : -EINVAL;
		goto out;
	}
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->resume)
			d->ops->resume(d->opaque);
	vm->state = VM_RUNNING;
	pthread_cond_broadcast(&vm->cond);
out:
	pthread_mutex_unlock(&vm->lock);
	return err;
}

void vm_request_stop(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_STOPPED) {
		vm->state = VM_STOPPED;
		vm->exit_status = status;
		va_start(ap, fmt);
		vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
		va_end(ap);
		pthread_cond_broadcast(&vm->cond);
		vm_kick_all(vm);
	}
	pthread_mutex_unlock(&vm->lock);
}

int vm_wait(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	while (vm->state != VM_STOPPED)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	for (int i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i]->thread_started) {
			pthread_join(vm->vcpus[i]->thread, NULL);
			vm->vcpus[i]->thread_started = false;
		}
	}
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm_get_state(vm) != VM_CREATED) {
		vm_request_stop(vm, 0, "destroyed");
		vm_wait(vm);
	}
	evloop_stop(vm->loop);
	device_destroy_all(vm);
	for (int i = 0; i < vm->nvcpus; i++) {
		vm->accel->vcpu_destroy(vm->vcpus[i]);
		free(vm->vcpus[i]);
	}
	vm->accel->vm_destroy(vm);
	evloop_destroy(vm->loop);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	guest_mem_destroy(&vm->mem);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

int vm_irq_set(struct vm *vm, unsigned gsi, int level)
{
	return vm->accel->irq_line(vm, gsi, level);
}

int vm_msi_send(struct vm *vm, uint64_t addr, uint32_t data)
{
	return vm->accel->msi(vm, addr, data);
}
