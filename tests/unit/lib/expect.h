/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/unit/lib/expect.h - cheap assertions for Check tests.
 *
 * Check's ck_assert_* record a progress mark on every call, which makes loops of
 * hundreds of thousands of checks crawl under valgrind. These call into Check only
 * when the condition fails, with the same effect (the test fails there).
 */
#ifndef SOFTHCA_TESTS_UNIT_EXPECT_H
#define SOFTHCA_TESTS_UNIT_EXPECT_H

#include <stdint.h>
#include <check.h>

#define EXPECT(c) \
	do { if (!(c)) ck_abort_msg("assertion failed: %s", #c); } while (0)
#define EXPECT_MSG(c, ...) \
	do { if (!(c)) ck_abort_msg(__VA_ARGS__); } while (0)
#define EXPECT_U(a, op, b)                                                          \
	do {                                                                        \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                    \
		if (!(a_ op b_))                                                    \
			ck_abort_msg("assertion failed: %s %s %s (0x%llx vs 0x%llx)", \
				     #a, #op, #b, (unsigned long long)a_,           \
				     (unsigned long long)b_);                       \
	} while (0)
#define EXPECT_I(a, op, b)                                                          \
	do {                                                                        \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                       \
		if (!(a_ op b_))                                                    \
			ck_abort_msg("assertion failed: %s %s %s (%lld vs %lld)",   \
				     #a, #op, #b, (long long)a_, (long long)b_);    \
	} while (0)
#define EXPECT_PTR(a, op, b) \
	EXPECT_U((uintptr_t)(const void *)(a), op, (uintptr_t)(const void *)(b))

#endif /* SOFTHCA_TESTS_UNIT_EXPECT_H */
