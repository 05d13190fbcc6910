// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest time-stamp counter: CLOCK_MONOTONIC since vm->tsc_origin_ns,
 * scaled to GUEST_TSC_KHZ.  128-bit intermediates: at 2 GHz a 64-bit
 * product of ns and kHz would overflow after about 2.5 hours.
 */
#include "vireo/irqchip.h"
#include "vireo/util.h"
#include "vireo/vm.h"

#define NS_PER_MS 1000000ULL  /* kHz * ns / 1e6 = ticks */

uint64_t guest_tsc_now(struct vm *vm)
{
	uint64_t now = now_ns();
	unsigned __int128 t;

	if (now <= vm->tsc_origin_ns)
		return 0;
	t = (unsigned __int128)(now - vm->tsc_origin_ns) * GUEST_TSC_KHZ;
	return (uint64_t)(t / NS_PER_MS);
}

/* Rounded up, so that guest_tsc_now() at the returned time is >= tsc. */
uint64_t guest_tsc_to_ns(struct vm *vm, uint64_t tsc)
{
	unsigned __int128 ns = ((unsigned __int128)tsc * NS_PER_MS +
				GUEST_TSC_KHZ - 1) / GUEST_TSC_KHZ;
	unsigned __int128 abs_ns = ns + vm->tsc_origin_ns;

	if (abs_ns > UINT64_MAX)
		return UINT64_MAX;
	return (uint64_t)abs_ns;
}
