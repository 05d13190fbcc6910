// SPDX-License-Identifier: GPL-2.0-only
/*
 * A libFuzzer-free driver for the transport fuzz target (fuzz_transport.c),
 * built with the project's compiler: replays the files given, then runs
 * random record streams (fixed seed) for $VIREO_FUZZ_SECONDS (default 5).
 * The streams favour what reaches deep: descriptor and ring writes near the
 * queue, and kicks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_transport.h"

#define NREC 64

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void make_record(uint8_t *r, uint64_t *s)
{
	static const uint8_t ops[] = { 4, 4, 4, 4, 4, 4, 5, 5, 0, 1, 2, 3, 6, 7 };
	uint64_t v = rng_next(s);
	uint16_t a = rng_next(s), b = 0;
	uint8_t op = ops[rng_next(s) % sizeof(ops)] | (rng_next(s) % 4) << 6;

	if ((op & 7) == 4) {
		/* Descriptors (addr in RAM, small len, flags, next) or ring words. */
		a = rng_next(s) % 3 ? (rng_next(s) % 16) * 16 : 0x1000 + (rng_next(s) % 64) * 2;
		if (a < 0x1000 && rng_next(s) % 2)
			v = 0x20000 + rng_next(s) % 0x10000;
		else if (a >= 0x1000)
			v = rng_next(s) % 20;
	} else if ((op & 7) <= 1) {
		a = rng_next(s) % 2 ? rng_next(s) % 0x40 : rng_next(s) % 0x6000;
	}
	r[0] = op;
	memcpy(r + 1, &a, 2);
	memcpy(r + 3, &b, 2);
	memcpy(r + 4, &v, 8);
}

static void replay(const char *path)
{
	static uint8_t buf[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fuzz_transport_one(buf, n);
}

int main(int argc, char **argv)
{
	const char *env = getenv("VIREO_FUZZ_SECONDS");
	double secs = env ? atof(env) : 5;
	uint8_t in[NREC * 12];
	uint64_t seed = 0x243f6a8885a308d3ULL, runs = 0;
	time_t end = time(NULL) + (time_t)secs;

	for (int i = 1; i < argc; i++)
		replay(argv[i]);
	do {
		for (int r = 0; r < NREC; r++)
			make_record(in + 12 * r, &seed);
		fuzz_transport_one(in, sizeof(in));
		runs++;
	} while (time(NULL) < end);
	printf("transport fuzz smoke: %llu inputs of %d records, the monitor survived\n",
	       (unsigned long long)runs, NREC);
	return 0;
}
