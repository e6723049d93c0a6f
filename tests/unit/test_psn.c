/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/unit/test_psn.c - 24-bit PSN arithmetic (wire.h): psn_add and psn_diff
 * around 0, 2^23 and the wrap at 2^24.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../emu/core/wire.h"

#include "expect.h"

struct add_case {
	uint32_t psn, n, want;
};

static const struct add_case add_cases[] = {
	{ 0, 0, 0 },
	{ 0, 1, 1 },
	{ 1, 0xffffff, 0 },
	{ 0x7fffff, 1, 0x800000 },
	{ 0x800000, 0x7fffff, 0xffffff },
	{ 0x800000, 0x800000, 0 },
	{ 0xfffffe, 1, 0xffffff },
	{ 0xffffff, 1, 0 },
	{ 0xffffff, 2, 1 },
	{ 0xffffff, 0xffffff, 0xfffffe },
	{ 0xfffff0, 0x20, 0x10 },
	{ 0, 0xffffff, 0xffffff },
	/* adding the full circle is a no-op */
	{ 0x123456, 0x1000000, 0x123456 },
	/* bits above 24 in the input do not leak into the result */
	{ 0x1000005, 0, 5 },
	{ 0xff000000, 0xffffffff, 0xffffff },
	{ 0xabcdef, 0xffffffff, 0xabcdee },
};

START_TEST(test_psn_add_table)
{
	const struct add_case *c = &add_cases[_i];
	uint32_t got = psn_add(c->psn, c->n);

	EXPECT_MSG(got == c->want, "psn_add(0x%x, 0x%x) = 0x%x, want 0x%x",
		      c->psn, c->n, got, c->want);
}
END_TEST

struct diff_case {
	uint32_t a, b;
	int32_t want;
};

static const struct diff_case diff_cases[] = {
	{ 0, 0, 0 },
	{ 1, 0, 1 },
	{ 0, 1, -1 },
	{ 0xffffff, 0xffffff, 0 },
	/* across the wrap */
	{ 0, 0xffffff, 1 },
	{ 0xffffff, 0, -1 },
	{ 0x10, 0xfffff0, 0x20 },
	{ 0xfffff0, 0x10, -0x20 },
	/* the edges of [-2^23, 2^23) */
	{ 0x7fffff, 0, 0x7fffff },
	{ 0x800000, 0, -0x800000 },
	{ 0, 0x800000, -0x800000 },
	{ 0x800000, 1, 0x7fffff },
	{ 0x800001, 1, -0x800000 },
	{ 0x800000, 0x7fffff, 1 },
	{ 0x7fffff, 0x800000, -1 },
	{ 0xffffff, 0x7fffff, -0x800000 },
	{ 0xffffff, 0x800000, 0x7fffff },
	{ 0x800000, 0xffffff, -0x7fffff },
	/* bits above 24 are ignored */
	{ 0x1000003, 1, 2 },
	{ 3, 0xff000001, 2 },
};

START_TEST(test_psn_diff_table)
{
	const struct diff_case *c = &diff_cases[_i];
	int32_t got = psn_diff(c->a, c->b);

	EXPECT_MSG(got == c->want, "psn_diff(0x%x, 0x%x) = %d, want %d",
		      c->a, c->b, got, c->want);
}
END_TEST

/* Tiny xorshift so the sweep is the same on every run. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* psn_diff undoes psn_add for every distance inside the window, from any base. */
START_TEST(test_psn_add_diff_inverse)
{
	static const uint32_t bases[] = { 0, 1, 0x7ffffe, 0x7fffff, 0x800000,
					  0x800001, 0xfffffe, 0xffffff };
	static const int32_t dists[] = { 0, 1, -1, 2, -2, 0x7ffffe, 0x7fffff,
					 -0x7fffff, -0x800000, 0x12345, -0x12345 };
	uint32_t seed = 0x5eed1234u;
	size_t i, j;

	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		for (j = 0; j < sizeof(dists) / sizeof(dists[0]); j++) {
			uint32_t b = bases[i];
			uint32_t a = psn_add(b, (uint32_t)dists[j]);

			EXPECT_MSG(psn_diff(a, b) == dists[j],
				      "base 0x%x dist %d: got %d", b, dists[j], psn_diff(a, b));
			EXPECT_U(a, <=, PSN_MASK);
		}
	}
	for (i = 0; i < 100000; i++) {
		uint32_t b = next_rand(&seed) & PSN_MASK;
		int32_t d = (int32_t)(next_rand(&seed) & PSN_MASK) - 0x800000;
		uint32_t a = psn_add(b, (uint32_t)d);

		EXPECT_MSG(psn_diff(a, b) == d, "base 0x%x dist %d: got %d", b, d,
			      psn_diff(a, b));
		EXPECT_MSG(psn_diff(b, a) == (d == -0x800000 ? d : -d),
			      "reverse base 0x%x dist %d: got %d", b, d, psn_diff(b, a));
	}
}
END_TEST

static Suite *psn_suite(void)
{
	Suite *s = suite_create("psn");
	TCase *tc = tcase_create("arith");

	tcase_add_loop_test(tc, test_psn_add_table, 0,
			    (int)(sizeof(add_cases) / sizeof(add_cases[0])));
	tcase_add_loop_test(tc, test_psn_diff_table, 0,
			    (int)(sizeof(diff_cases) / sizeof(diff_cases[0])));
	tcase_add_test(tc, test_psn_add_diff_inverse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(psn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
