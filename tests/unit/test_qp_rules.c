/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * test_qp_rules.c - emu_modify_qp_is_ok against the attribute rules of IBA
 * 11.2.4.2 (as Linux ib_modify_qp_is_ok applies them), restricted to RoCE:
 * no alternate path.
 *
 * The expected rules are written out below, transition by transition. For each
 * one the test checks the required set alone, each required attribute missing,
 * each optional attribute added, every other attribute added, and the state
 * attribute missing.
 */
#include <check.h>
#include <stdio.h>

#include "../../emu/core/emu.h"

#define ALL_ATTRS ((EMU_QP_DEST_QPN << 1) - 1)

#define RC EMU_QPT_RC
#define UC EMU_QPT_UC
#define UD EMU_QPT_UD

#define RESET EMU_QPS_RESET
#define INIT  EMU_QPS_INIT
#define RTR   EMU_QPS_RTR
#define RTS   EMU_QPS_RTS
#define SQD   EMU_QPS_SQD
#define SQE   EMU_QPS_SQE
#define ERR   EMU_QPS_ERR

#define PKEY   EMU_QP_PKEY_INDEX
#define PORT   EMU_QP_PORT
#define ACCESS EMU_QP_ACCESS_FLAGS
#define QKEY   EMU_QP_QKEY
#define AV     EMU_QP_AV
#define MTU    EMU_QP_PATH_MTU
#define DQPN   EMU_QP_DEST_QPN
#define RQPSN  EMU_QP_RQ_PSN
#define SQPSN  EMU_QP_SQ_PSN
#define DRDA   EMU_QP_MAX_DEST_RD_ATOMIC
#define QRDA   EMU_QP_MAX_QP_RD_ATOMIC
#define RNRT   EMU_QP_MIN_RNR_TIMER
#define TMO    EMU_QP_TIMEOUT
#define RETRY  EMU_QP_RETRY_CNT
#define RNRR   EMU_QP_RNR_RETRY
#define CUR    EMU_QP_CUR_STATE
#define MIG    EMU_QP_PATH_MIG_STATE
#define SQDN   EMU_QP_EN_SQD_ASYNC_NOTIFY

struct rule {
	uint32_t type, cur, next;
	uint32_t req, opt;
};

/* Every transition that is allowed other than to RESET and ERR. */
static const struct rule rules[] = {
	{ RC, RESET, INIT, PKEY | PORT | ACCESS, 0 },
	{ RC, INIT, INIT, 0, PKEY | PORT | ACCESS },
	{ RC, INIT, RTR, AV | MTU | DQPN | RQPSN | DRDA | RNRT, ACCESS | PKEY },
	{ RC, RTR, RTS, TMO | RETRY | RNRR | SQPSN | QRDA, CUR | ACCESS | RNRT | MIG },
	{ RC, RTS, RTS, 0, CUR | ACCESS | RNRT | MIG },
	{ RC, RTS, SQD, 0, SQDN },
	{ RC, SQD, RTS, 0, CUR | ACCESS | RNRT | MIG },
	{ RC, SQD, SQD, 0, PORT | AV | TMO | RETRY | RNRR | QRDA | DRDA | ACCESS | PKEY |
			   RNRT | MIG },

	{ UC, RESET, INIT, PKEY | PORT | ACCESS, 0 },
	{ UC, INIT, INIT, 0, PKEY | PORT | ACCESS },
	{ UC, INIT, RTR, AV | MTU | DQPN | RQPSN, ACCESS | PKEY },
	{ UC, RTR, RTS, SQPSN, CUR | ACCESS | MIG },
	{ UC, RTS, RTS, 0, CUR | ACCESS | MIG },
	{ UC, RTS, SQD, 0, SQDN },
	{ UC, SQD, RTS, 0, CUR | ACCESS | MIG },
	{ UC, SQD, SQD, 0, AV | ACCESS | PKEY | MIG },
	{ UC, SQE, RTS, 0, CUR | ACCESS },

	{ UD, RESET, INIT, PKEY | PORT | QKEY, 0 },
	{ UD, INIT, INIT, 0, PKEY | PORT | QKEY },
	{ UD, INIT, RTR, 0, PKEY | QKEY },
	{ UD, RTR, RTS, SQPSN, CUR | QKEY },
	{ UD, RTS, RTS, 0, CUR | QKEY },
	{ UD, RTS, SQD, 0, SQDN },
	{ UD, SQD, RTS, 0, CUR | QKEY },
	{ UD, SQD, SQD, 0, PKEY | QKEY },
	{ UD, SQE, RTS, 0, CUR | QKEY },
};

static const uint32_t types[] = { RC, UC, UD };

static bool ok(uint32_t type, uint32_t cur, uint32_t next, uint32_t mask)
{
	return emu_modify_qp_is_ok(type, cur, next, mask);
}

/* IBA allows SQE only for UC and UD: an RC QP goes to ERR instead. */
static bool state_exists(uint32_t type, uint32_t s)
{
	return !(type == RC && s == SQE);
}

static const struct rule *find_rule(uint32_t type, uint32_t cur, uint32_t next)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type && rules[i].cur == cur && rules[i].next == next)
			return &rules[i];
	return NULL;
}

START_TEST(each_rule)
{
	const struct rule *r = &rules[_i];
	uint32_t base = r->req | EMU_QP_STATE;
	char what[64];

	snprintf(what, sizeof(what), "type %u %u->%u", r->type, r->cur, r->next);
	ck_assert_msg(ok(r->type, r->cur, r->next, base), "%s: required set refused", what);
	ck_assert_msg(ok(r->type, r->cur, r->next, base | r->opt),
		      "%s: required + all optional refused", what);
	for (uint32_t bit = 1; bit & ALL_ATTRS; bit <<= 1) {
		if (bit == EMU_QP_STATE)
			continue;
		if (r->req & bit)
			ck_assert_msg(!ok(r->type, r->cur, r->next, base & ~bit),
				      "%s: accepted without required 0x%x", what, bit);
		else if (r->opt & bit)
			ck_assert_msg(ok(r->type, r->cur, r->next, base | bit),
				      "%s: refused optional 0x%x", what, bit);
		else
			ck_assert_msg(!ok(r->type, r->cur, r->next, base | bit),
				      "%s: accepted extra 0x%x", what, bit);
	}
	if (r->cur != r->next)
		ck_assert_msg(!ok(r->type, r->cur, r->next, r->req | r->opt),
			      "%s: accepted without the state attribute", what);
	else
		ck_assert_msg(ok(r->type, r->cur, r->next, r->req | r->opt),
			      "%s: same-state modify without the state attribute refused",
			      what);
}
END_TEST

/* To RESET and to ERR from every state, with the state attribute and nothing
 * else. */
START_TEST(to_reset_and_err)
{
	for (size_t t = 0; t < 3; t++) {
		for (uint32_t cur = RESET; cur <= ERR; cur++) {
			if (!state_exists(types[t], cur))
				continue;
			for (uint32_t next = RESET; next <= ERR; next += ERR - RESET) {
				ck_assert_msg(ok(types[t], cur, next, EMU_QP_STATE),
					      "type %u %u->%u refused", types[t], cur, next);
				for (uint32_t bit = 2; bit & ALL_ATTRS; bit <<= 1)
					ck_assert_msg(!ok(types[t], cur, next,
							  EMU_QP_STATE | bit),
						      "type %u %u->%u accepted 0x%x",
						      types[t], cur, next, bit);
			}
		}
	}
}
END_TEST

/* Every pair of states without a rule, and not to RESET or ERR, is refused
 * whatever the mask. */
START_TEST(invalid_transitions)
{
	static const uint32_t masks[] = { 0, EMU_QP_STATE, ALL_ATTRS,
					  ALL_ATTRS & ~EMU_QP_ALT_PATH };
	unsigned refused = 0;

	for (size_t t = 0; t < 3; t++)
		for (uint32_t cur = RESET; cur <= ERR; cur++)
			for (uint32_t next = RESET; next <= ERR; next++) {
				bool exists = state_exists(types[t], cur) &&
					      state_exists(types[t], next);

				if (exists && (next == RESET || next == ERR))
					continue;
				if (exists && find_rule(types[t], cur, next))
					continue;
				for (size_t m = 0; m < 4; m++)
					ck_assert_msg(!ok(types[t], cur, next, masks[m]),
						      "type %u %u->%u mask 0x%x accepted",
						      types[t], cur, next, masks[m]);
				refused++;
			}
	/* 3 types x 49 pairs, less those to RESET/ERR (RC has no SQE) and the rules. */
	ck_assert_uint_eq(refused, 3 * 49 - (14 + 14 + 12) - 26);
}
END_TEST

START_TEST(named_cases)
{
	const uint32_t rc_rtr = AV | MTU | DQPN | RQPSN | DRDA | RNRT;
	const uint32_t rc_rts = TMO | RETRY | RNRR | SQPSN | QRDA;

	/* The usual connection setup of an RC QP. */
	ck_assert(ok(RC, RESET, INIT, EMU_QP_STATE | PKEY | PORT | ACCESS));
	ck_assert(ok(RC, INIT, RTR, EMU_QP_STATE | rc_rtr));
	ck_assert(ok(RC, RTR, RTS, EMU_QP_STATE | rc_rts));
	/* UC does not take the RC-only attributes. */
	ck_assert(!ok(UC, INIT, RTR, EMU_QP_STATE | rc_rtr));
	ck_assert(!ok(UC, RTR, RTS, EMU_QP_STATE | rc_rts));
	/* UD needs a Q_Key at INIT, not access flags. */
	ck_assert(!ok(UD, RESET, INIT, EMU_QP_STATE | PKEY | PORT | ACCESS));
	ck_assert(ok(UD, RESET, INIT, EMU_QP_STATE | PKEY | PORT | QKEY));
	ck_assert(ok(UD, INIT, RTR, EMU_QP_STATE));
	/* RoCE has no alternate path, even where IB would take one. */
	ck_assert(!ok(RC, INIT, RTR, EMU_QP_STATE | rc_rtr | EMU_QP_ALT_PATH));
	ck_assert(!ok(RC, RTS, RTS, EMU_QP_ALT_PATH));
	ck_assert(!ok(UC, SQD, SQD, EMU_QP_STATE | EMU_QP_ALT_PATH));
	/* Path migration state is never required. */
	ck_assert(ok(RC, RTS, RTS, EMU_QP_STATE));
	/* CUR_STATE only from RTR, RTS, SQD, SQE. */
	ck_assert(!ok(RC, INIT, INIT, EMU_QP_CUR_STATE));
	ck_assert(!ok(UC, RESET, INIT, EMU_QP_STATE | EMU_QP_CUR_STATE | PKEY | PORT | ACCESS));
	ck_assert(ok(UC, SQE, RTS, EMU_QP_STATE | EMU_QP_CUR_STATE));
	/* Capabilities are never modified. */
	ck_assert(!ok(RC, RTS, RTS, EMU_QP_STATE | EMU_QP_CAP));
	/* Nothing goes to SQE by a modify, and RC has no SQE. */
	ck_assert(!ok(UC, RTS, SQE, EMU_QP_STATE));
	ck_assert(!ok(RC, SQE, RTS, EMU_QP_STATE));
	ck_assert(!ok(RC, SQE, ERR, EMU_QP_STATE));
	/* Reset to error, and staying in reset or error. */
	ck_assert(ok(UD, RESET, ERR, EMU_QP_STATE));
	ck_assert(ok(RC, RESET, RESET, EMU_QP_STATE));
	ck_assert(ok(RC, ERR, ERR, EMU_QP_STATE));
	/* RTR cannot be modified in place. */
	ck_assert(!ok(RC, RTR, RTR, EMU_QP_STATE));
	ck_assert(!ok(RC, RTR, RTR, ACCESS));
}
END_TEST

START_TEST(unknown_values)
{
	ck_assert(!ok(0, RESET, INIT, EMU_QP_STATE | PKEY | PORT | ACCESS));
	ck_assert(!ok(1, RESET, INIT, EMU_QP_STATE | PKEY | PORT | ACCESS));
	ck_assert(!ok(5, RESET, INIT, EMU_QP_STATE | PKEY | PORT | QKEY));
	ck_assert(!ok(RC, 7, RESET, EMU_QP_STATE));
	ck_assert(!ok(RC, RESET, 7, EMU_QP_STATE));
	ck_assert(!ok(RC, UINT32_MAX, ERR, EMU_QP_STATE));
	ck_assert(!ok(RC, RTS, ERR, EMU_QP_STATE | (1u << 25)));
}
END_TEST

static Suite *rules_suite(void)
{
	Suite *s = suite_create("qp_rules");
	TCase *tc = tcase_create("rules");

	tcase_add_loop_test(tc, each_rule, 0, (int)(sizeof(rules) / sizeof(rules[0])));
	tcase_add_test(tc, to_reset_and_err);
	tcase_add_test(tc, invalid_transitions);
	tcase_add_test(tc, named_cases);
	tcase_add_test(tc, unknown_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rules_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
