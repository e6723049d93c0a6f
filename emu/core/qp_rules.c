/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * qp_rules.c - which attributes a Modify QP must and may carry for each state
 * transition (IBA vol. 1, 11.2.4.2 and the QP state diagram of 10.3.1), for the
 * RC, UC and UD service types over RoCE.
 *
 * RoCE has no alternate path, so EMU_QP_ALT_PATH is never accepted; path
 * migration state is accepted where IBA allows it and never required.
 */
#include "internal.h"

#define NSTATES (EMU_QPS_ERR + 1)

enum { T_RC, T_UC, T_UD, NTYPES };

struct transition {
	bool valid;
	uint32_t req[NTYPES];
	uint32_t opt[NTYPES];
};

/* Attribute groups that recur in the table. */
#define INIT_CONN   (EMU_QP_PKEY_INDEX | EMU_QP_PORT | EMU_QP_ACCESS_FLAGS)
#define INIT_UD     (EMU_QP_PKEY_INDEX | EMU_QP_PORT | EMU_QP_QKEY)
#define RTR_UC      (EMU_QP_AV | EMU_QP_PATH_MTU | EMU_QP_DEST_QPN | EMU_QP_RQ_PSN)
#define RTR_RC      (RTR_UC | EMU_QP_MAX_DEST_RD_ATOMIC | EMU_QP_MIN_RNR_TIMER)
#define RTS_RC      (EMU_QP_TIMEOUT | EMU_QP_RETRY_CNT | EMU_QP_RNR_RETRY | \
		     EMU_QP_SQ_PSN | EMU_QP_MAX_QP_RD_ATOMIC)
#define TO_RTS_UD   (EMU_QP_CUR_STATE | EMU_QP_QKEY)
#define TO_RTS_UC   (EMU_QP_CUR_STATE | EMU_QP_ACCESS_FLAGS | EMU_QP_ALT_PATH | \
		     EMU_QP_PATH_MIG_STATE)
#define TO_RTS_RC   (TO_RTS_UC | EMU_QP_MIN_RNR_TIMER)
#define SQD_UD      (EMU_QP_PKEY_INDEX | EMU_QP_QKEY)
#define SQD_UC      (EMU_QP_AV | EMU_QP_ALT_PATH | EMU_QP_ACCESS_FLAGS | \
		     EMU_QP_PKEY_INDEX | EMU_QP_PATH_MIG_STATE)
#define SQD_RC      (SQD_UC | EMU_QP_PORT | EMU_QP_TIMEOUT | EMU_QP_RETRY_CNT | \
		     EMU_QP_RNR_RETRY | EMU_QP_MAX_QP_RD_ATOMIC | \
		     EMU_QP_MAX_DEST_RD_ATOMIC | EMU_QP_MIN_RNR_TIMER)

/* Reset and Error are reachable from every state with nothing but the state. */
#define TO_RESET_ERR [EMU_QPS_RESET] = { .valid = true }, [EMU_QPS_ERR] = { .valid = true }

static const struct transition table[NSTATES][NSTATES] = {
	[EMU_QPS_RESET] = {
		TO_RESET_ERR,
		[EMU_QPS_INIT] = { true, { INIT_CONN, INIT_CONN, INIT_UD }, { 0 } },
	},
	[EMU_QPS_INIT] = {
		TO_RESET_ERR,
		[EMU_QPS_INIT] = { true, { 0 }, { INIT_CONN, INIT_CONN, INIT_UD } },
		[EMU_QPS_RTR] = { true, { RTR_RC, RTR_UC, 0 },
				  { EMU_QP_ALT_PATH | EMU_QP_ACCESS_FLAGS | EMU_QP_PKEY_INDEX,
				    EMU_QP_ALT_PATH | EMU_QP_ACCESS_FLAGS | EMU_QP_PKEY_INDEX,
				    EMU_QP_PKEY_INDEX | EMU_QP_QKEY } },
	},
	[EMU_QPS_RTR] = {
		TO_RESET_ERR,
		[EMU_QPS_RTS] = { true, { RTS_RC, EMU_QP_SQ_PSN, EMU_QP_SQ_PSN },
				  { TO_RTS_RC, TO_RTS_UC, TO_RTS_UD } },
	},
	[EMU_QPS_RTS] = {
		TO_RESET_ERR,
		[EMU_QPS_RTS] = { true, { 0 }, { TO_RTS_RC, TO_RTS_UC, TO_RTS_UD } },
		[EMU_QPS_SQD] = { true, { 0 }, { EMU_QP_EN_SQD_ASYNC_NOTIFY,
						 EMU_QP_EN_SQD_ASYNC_NOTIFY,
						 EMU_QP_EN_SQD_ASYNC_NOTIFY } },
	},
	[EMU_QPS_SQD] = {
		TO_RESET_ERR,
		[EMU_QPS_RTS] = { true, { 0 }, { TO_RTS_RC, TO_RTS_UC, TO_RTS_UD } },
		[EMU_QPS_SQD] = { true, { 0 }, { SQD_RC, SQD_UC, SQD_UD } },
	},
	[EMU_QPS_SQE] = {
		TO_RESET_ERR,
		/* RC never enters SQE (a send error moves it to ERR): see below. */
		[EMU_QPS_RTS] = { true, { 0 }, { 0, EMU_QP_CUR_STATE | EMU_QP_ACCESS_FLAGS,
						 TO_RTS_UD } },
	},
	[EMU_QPS_ERR] = {
		TO_RESET_ERR,
	},
};

static int type_index(uint32_t qp_type)
{
	switch (qp_type) {
	case EMU_QPT_RC: return T_RC;
	case EMU_QPT_UC: return T_UC;
	case EMU_QPT_UD: return T_UD;
	default: return -1;
	}
}

/* CUR_STATE names a state the consumer believes the QP to be in after an
 * error it may not have seen; only these states can be left that way. */
static bool cur_state_allowed(uint32_t cur)
{
	return cur == EMU_QPS_RTR || cur == EMU_QPS_RTS || cur == EMU_QPS_SQD ||
	       cur == EMU_QPS_SQE;
}

bool emu_modify_qp_is_ok(uint32_t qp_type, uint32_t cur, uint32_t next, uint32_t mask)
{
	const struct transition *t;
	int ti = type_index(qp_type);
	uint32_t req, opt;

	if (ti < 0 || cur >= NSTATES || next >= NSTATES)
		return false;
	if (ti == T_RC && (cur == EMU_QPS_SQE || next == EMU_QPS_SQE))
		return false;
	/* A modify without the state attribute stays in the current state. */
	if (cur != next && !(mask & EMU_QP_STATE))
		return false;
	if ((mask & EMU_QP_ALT_PATH) ||
	    ((mask & EMU_QP_CUR_STATE) && !cur_state_allowed(cur)))
		return false;
	t = &table[cur][next];
	if (!t->valid)
		return false;
	req = t->req[ti];
	opt = t->opt[ti];
	if ((mask & req) != req)
		return false;
	return !(mask & ~(req | opt | EMU_QP_STATE));
}
