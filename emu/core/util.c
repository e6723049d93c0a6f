/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * util.c - small freestanding helpers: the engine has no libc.
 */
#include "internal.h"

void emu_memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
}

#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ull

/* The splitmix64 finalizer: a bijection with full avalanche, so keys that
 * differ in one bit give unrelated outputs. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Each key is folded into the running state through the bijective mixer, so
 * for a fixed prefix two different keys always lead to different states; the
 * result depends on the order of the keys, as it must (QPN 1 PSN 2 is not
 * QPN 2 PSN 1).
 */
uint64_t emu_rng(uint64_t seed, uint64_t k1, uint64_t k2, uint64_t k3, uint64_t k4)
{
	uint64_t h = mix64(seed + GOLDEN_GAMMA);

	h = mix64(h + k1 + GOLDEN_GAMMA);
	h = mix64(h + k2 + GOLDEN_GAMMA);
	h = mix64(h + k3 + GOLDEN_GAMMA);
	return mix64(h + k4 + GOLDEN_GAMMA);
}
