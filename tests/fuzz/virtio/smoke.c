// SPDX-License-Identifier: GPL-2.0-only
/*
 * A libFuzzer-free driver for the virtqueue fuzz target, built with the
 * project's compiler so every build runs it: replays the files given on
 * the command line (a corpus or crash inputs), then runs structured random
 * inputs (valid-looking rings with random corruption, fixed seed) for the
 * number of seconds in $VIREO_FUZZ_SECONDS (default 5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_virtqueue.h"
#include "vireo/util.h"

#define INPUT_MAX (2 + 64 * 1024)

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void put16(uint8_t *ram, uint64_t off, uint16_t v)
{
	memcpy(ram + off, &v, 2);
}

/* Rings at the first placement (desc 0, avail 0x1000, used 0x2000). */
static size_t make_input(uint8_t *in, uint64_t *s)
{
	uint8_t *ram = in + 2;
	unsigned qlog = rng_next(s) % 9, qsize = 1u << qlog;
	unsigned nchains = rng_next(s) % (qsize + 2);

	memset(in, 0, INPUT_MAX);
	in[0] = qlog;
	in[1] = rng_next(s) & 3;     /* placement 0 */
	for (unsigned i = 0; i < qsize; i++) {
		uint64_t addr = rng_next(s) % 0x12000;
		uint32_t len = rng_next(s) % 0x1000;
		uint16_t flags = rng_next(s) % 8, next = rng_next(s) % (qsize + 1);

		if (rng_next(s) % 4 == 0 && (flags & 4)) {     /* a plausible indirect table */
			addr = 0x4000 + 16 * (rng_next(s) % 64);
			len = 16 * (rng_next(s) % 8);
		}
		memcpy(ram + 16 * i, &addr, 8);
		memcpy(ram + 16 * i + 8, &len, 4);
		memcpy(ram + 16 * i + 12, &flags, 2);
		memcpy(ram + 16 * i + 14, &next, 2);
	}
	for (unsigned i = 0; i < 0x800; i += 8)           /* indirect table area */
		memcpy(ram + 0x4000 + i, &(uint64_t){ rng_next(s) }, 8);
	for (unsigned i = 0; i < qsize; i++)
		put16(ram, 0x1000 + 4 + 2 * i, rng_next(s) % (qsize + 1));
	put16(ram, 0x1000 + 2, nchains);
	put16(ram, 0x1000 + 4 + 2 * qsize, rng_next(s));  /* used_event */
	return INPUT_MAX;
}

static void replay(const char *path, uint8_t *buf)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, INPUT_MAX, f);
	fclose(f);
	fuzz_virtqueue_one(buf, n);
}

int main(int argc, char **argv)
{
	const char *env = getenv("VIREO_FUZZ_SECONDS");
	double secs = env ? atof(env) : 5;
	uint8_t *in = malloc(INPUT_MAX);
	uint64_t seed = 0x9e3779b97f4a7c15ULL, runs = 0;
	time_t end = time(NULL) + (time_t)secs;

	if (!in)
		return 1;
	for (int i = 1; i < argc; i++)
		replay(argv[i], in);
	do {
		size_t n = make_input(in, &seed);

		fuzz_virtqueue_one(in, n);
		runs++;
	} while (time(NULL) < end);
	printf("virtqueue fuzz smoke: %llu inputs, no invariant broken\n",
	       (unsigned long long)runs);
	free(in);
	return 0;
}
