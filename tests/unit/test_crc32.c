/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/unit/test_crc32.c - the folding CRC-32 of emu/sim/crc32.c against zlib.
 *
 * Every implementation the CPU runs (zlib, PCLMULQDQ, VPCLMULQDQ) and the
 * dispatching sim_crc32() must give zlib's crc32_z() result for every start value,
 * length and alignment, and chained calls must give the one-call result. The
 * folding constants are derived again from the polynomial and compared.
 *
 * The unit tests do not link the simulator library, so its CRC source is compiled
 * into this test directly.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../emu/sim/crc32.c"

#define BUF_LEN      (70000 + 64)
#define MAX_LEN      70000
#define SEED         0x5eedc3c32ull

static uint8_t *buf;

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rng_next(s) % ((uint64_t)hi - lo + 1));
}

static bool under_valgrind(void)
{
	const char *v = getenv("SOFTHCA_VALGRIND");

	return v && *v && strcmp(v, "0") != 0;
}

static uint32_t zlib_ref(uint32_t crc, const void *p, size_t len)
{
	return (uint32_t)crc32_z(crc, p, len);
}

static void setup(void)
{
	uint64_t s = SEED;

	buf = malloc(BUF_LEN);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < BUF_LEN; i++)
		buf[i] = (uint8_t)rng_next(&s);
}

static void teardown(void)
{
	free(buf);
	buf = NULL;
}

/* Every implementation this CPU has; the fast ones must be there on x86-64 CPUs
 * that have the instructions, which the dispatch test checks. */
static int available_impls(enum sim_crc32_impl out[SIM_CRC32_IMPLS])
{
	int n = 0;

	for (int i = 0; i < SIM_CRC32_IMPLS; i++)
		if (sim_crc32_impl_available((enum sim_crc32_impl)i))
			out[n++] = (enum sim_crc32_impl)i;
	return n;
}

static void check_one(enum sim_crc32_impl impl, uint32_t crc, size_t off, size_t len)
{
	uint32_t want = zlib_ref(crc, buf + off, len);
	uint32_t got = sim_crc32_with(impl, crc, buf + off, len);

	ck_assert_msg(got == want, "%s: crc 0x%08x off %zu len %zu: got 0x%08x want 0x%08x",
		      sim_crc32_impl_name(impl), crc, off, len, got, want);
}

START_TEST(test_constants_derived)
{
	ck_assert_int_eq(sim_crc32_check_constants(), 0);
	/* The derivation itself, on values every CRC-32 text gives. */
	ck_assert_uint_eq(xpow_mod(32), CRC32_POLY ^ (1ull << 32));
	ck_assert_uint_eq(barrett_mu(), 0x104d101dfull);
	ck_assert_uint_eq(reflect(CRC32_POLY, 33), 0x1db710641ull);
}
END_TEST

START_TEST(test_known_answers)
{
	static const char check[] = "123456789";
	enum sim_crc32_impl impls[SIM_CRC32_IMPLS];
	int n = available_impls(impls);
	uint8_t zeros[4096];

	memset(zeros, 0, sizeof(zeros));
	ck_assert_uint_eq(sim_crc32(0, check, 9), 0xcbf43926u);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(sim_crc32_with(impls[i], 0, check, 9), 0xcbf43926u);
		ck_assert_uint_eq(sim_crc32_with(impls[i], 0, zeros, sizeof(zeros)),
				  zlib_ref(0, zeros, sizeof(zeros)));
		ck_assert_uint_eq(sim_crc32_with(impls[i], 0xffffffffu, zeros, sizeof(zeros)),
				  zlib_ref(0xffffffffu, zeros, sizeof(zeros)));
		/* zlib answers 0 for a NULL buffer, whatever the length. */
		ck_assert_uint_eq(sim_crc32_with(impls[i], 0x12345678u, NULL, 100), 0);
		ck_assert_uint_eq(sim_crc32_with(impls[i], 0x12345678u, buf, 0), 0x12345678u);
	}
	ck_assert_uint_eq(sim_crc32(0x12345678u, NULL, 100), 0);
}
END_TEST

/* Every length up to a few zmm strides, every alignment within 64 bytes. */
START_TEST(test_all_short_lengths)
{
	enum sim_crc32_impl impls[SIM_CRC32_IMPLS];
	int n = available_impls(impls);
	size_t max_len = under_valgrind() ? 300 : 1100;
	size_t offs = under_valgrind() ? 8 : 64;
	uint64_t s = SEED + 1;

	for (size_t len = 0; len <= max_len; len++)
		for (size_t off = 0; off < offs; off++) {
			uint32_t crc = (uint32_t)rng_next(&s);

			for (int i = 0; i < n; i++)
				check_one(impls[i], crc, off, len);
			ck_assert_uint_eq(sim_crc32(crc, buf + off, len),
					  zlib_ref(crc, buf + off, len));
		}
}
END_TEST

START_TEST(test_random_lengths)
{
	enum sim_crc32_impl impls[SIM_CRC32_IMPLS];
	int n = available_impls(impls);
	int cases = under_valgrind() ? 300 : 12000;
	uint64_t s = SEED + 2;

	for (int c = 0; c < cases; c++) {
		/* Half short (the packet headers), half anywhere up to 70000. */
		size_t len = (c & 1) ? rng_range(&s, 0, MAX_LEN) : rng_range(&s, 0, 600);
		size_t off = rng_range(&s, 0, 63);
		uint32_t crc;

		switch (c % 5) {
		case 0:
			crc = 0;
			break;
		case 1:
			crc = 0xffffffffu;
			break;
		default:
			crc = (uint32_t)rng_next(&s);
			break;
		}
		for (int i = 0; i < n; i++)
			check_one(impls[i], crc, off, len);
		ck_assert_uint_eq(sim_crc32(crc, buf + off, len), zlib_ref(crc, buf + off, len));
	}
}
END_TEST

/* crc32(crc32(c, a), b) == crc32(c, a || b), with pieces of every size. */
START_TEST(test_chained)
{
	enum sim_crc32_impl impls[SIM_CRC32_IMPLS];
	int n = available_impls(impls);
	int cases = under_valgrind() ? 100 : 4000;
	uint64_t s = SEED + 3;

	for (int c = 0; c < cases; c++) {
		size_t off = rng_range(&s, 0, 63);
		size_t total = rng_range(&s, 0, (c & 3) ? 5000 : MAX_LEN);
		uint32_t crc0 = (uint32_t)rng_next(&s);
		uint32_t want = zlib_ref(crc0, buf + off, total);

		for (int i = 0; i < n; i++) {
			uint64_t ps = s + (uint64_t)i;
			uint32_t crc = crc0;
			size_t done = 0;

			while (done < total) {
				size_t cap = (rng_next(&ps) & 1) ? 40 : 3000;
				size_t piece;

				if (cap > total - done)
					cap = total - done;
				piece = rng_range(&ps, 0, (uint32_t)cap);

				crc = sim_crc32_with(impls[i], crc, buf + off + done, piece);
				done += piece;
			}
			ck_assert_msg(crc == want, "%s chained: off %zu len %zu",
				      sim_crc32_impl_name(impls[i]), off, total);
		}
		(void)rng_next(&s);
	}
}
END_TEST

/* Where the CPU has the instructions, the dispatcher uses them. */
START_TEST(test_dispatch)
{
	enum sim_crc32_impl best = sim_crc32_best();

	ck_assert(sim_crc32_impl_available(best));
#if SIM_CRC32_X86
	if (__builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1"))
		ck_assert_int_ne(best, SIM_CRC32_ZLIB);
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq"))
		ck_assert_int_eq(best, SIM_CRC32_VPCLMUL);
#endif
	for (int i = 0; i < SIM_CRC32_IMPLS; i++)
		printf("crc32 %s: %s%s\n", sim_crc32_impl_name((enum sim_crc32_impl)i),
		       sim_crc32_impl_available((enum sim_crc32_impl)i) ? "tested" :
		       "not on this CPU (not tested)", i == (int)best ? ", used" : "");
	ck_assert_uint_eq(sim_crc32_impl_available(SIM_CRC32_IMPLS), false);
}
END_TEST

static Suite *crc32_suite(void)
{
	Suite *s = suite_create("crc32");
	TCase *tc = tcase_create("vs-zlib");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_constants_derived);
	tcase_add_test(tc, test_known_answers);
	tcase_add_test(tc, test_all_short_lengths);
	tcase_add_test(tc, test_random_lengths);
	tcase_add_test(tc, test_chained);
	tcase_add_test(tc, test_dispatch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crc32_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
