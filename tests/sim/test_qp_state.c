/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_qp_state.c - the QP state machine through emu_modify_qp: the
 * valid path, transitions and attribute sets that must be refused (-EINVAL, state
 * and attributes unchanged), SQD drain with SQ_DRAINED, ERR flushing both queues,
 * query_qp answering what was set, LAST_WQE_REACHED for a QP with an SRQ, an SRQ
 * shared by two QPs, and the SRQ limit event.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define WAIT SCEN_WAIT_NS

static int modify(struct emu_qp *qp, const struct emu_qp_attr *a, uint32_t mask)
{
	return emu_modify_qp(qp, a, mask);
}

static bool state_is(struct emu_qp *qp, uint32_t want, const char *what)
{
	uint32_t st = emu_qp_state(qp);
	struct emu_qp_attr q;

	if (st != want) {
		printf("    %s: state %s, want %s\n", what, scen_qp_state_name(st),
		       scen_qp_state_name(want));
		return false;
	}
	if (emu_query_qp(qp, &q) != 0 || q.qp_state != want) {
		printf("    %s: query_qp says %s, want %s\n", what,
		       scen_qp_state_name(q.qp_state), scen_qp_state_name(want));
		return false;
	}
	return true;
}

/* ---- transitions ---------------------------------------------------------------------- */

static int test_valid_path(void)
{
	struct scen s;
	struct scen_opts o;
	struct emu_qp_attr a;
	uint32_t mask;
	int rc = 1;

	scen_opts_default(&o);
	o.leave_reset = true;
	if (scen_init(&s, 1, EMU_QPT_RC, EMU_MTU_1024, &o))
		goto out;
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_RESET, "new QP"), "RESET");
	scen_attr_init(&s, EMU_QPT_RC, &a, &mask);
	SCEN_CHECK_OK(modify(s.qp[0], &a, mask));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_INIT, "RESET->INIT"), "INIT");
	/* INIT -> INIT with optional attributes only. */
	a.qp_access_flags = EMU_ACCESS_REMOTE_READ;
	SCEN_CHECK_OK(modify(s.qp[0], &a, EMU_QP_STATE | EMU_QP_ACCESS_FLAGS));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_INIT, "INIT->INIT"), "INIT");
	scen_attr_rtr(&s, 0, EMU_QPT_RC, s.qpn[1], s.sq_psn[1], &a, &mask);
	SCEN_CHECK_OK(modify(s.qp[0], &a, mask));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_RTR, "INIT->RTR"), "RTR");
	scen_attr_rts(&s, EMU_QPT_RC, s.sq_psn[0], &a, &mask);
	SCEN_CHECK_OK(modify(s.qp[0], &a, mask));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_RTS, "RTR->RTS"), "RTS");
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RTS;
	a.min_rnr_timer = 3;
	SCEN_CHECK_OK(modify(s.qp[0], &a, EMU_QP_STATE | EMU_QP_MIN_RNR_TIMER));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_RTS, "RTS->RTS"), "RTS");
	/* Without EMU_QP_STATE a modify keeps the state. */
	a.min_rnr_timer = 4;
	SCEN_CHECK_OK(modify(s.qp[0], &a, EMU_QP_MIN_RNR_TIMER));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_RTS, "RTS, no state in mask"), "RTS");
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[0], EMU_QPS_SQD));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_SQD, "RTS->SQD"), "SQD");
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[0], EMU_QPS_RTS));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_RTS, "SQD->RTS"), "RTS");
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[0], EMU_QPS_ERR));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_ERR, "RTS->ERR"), "ERR");
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[0], EMU_QPS_RESET));
	SCEN_CHECK(state_is(s.qp[0], EMU_QPS_RESET, "ERR->RESET"), "RESET");
	/* A reset QP can be brought up again and works. */
	SCEN_CHECK_OK(scen_qp_connect(&s, 0, s.qp[0], s.qpn[1], s.sq_psn[1], s.sq_psn[0]));
	SCEN_CHECK_OK(scen_qp_connect(&s, 1, s.qp[1], s.qpn[0], s.sq_psn[0], s.sq_psn[1]));
	{
		struct scen_buf *b0 = scen_mr(&s, 0, 64, SCEN_ACC_ALL);
		struct scen_buf *b1 = scen_mr(&s, 1, 64, SCEN_ACC_ALL);
		SCEN_CHECK(b0 && b1, "buffers");
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], 1, b1, 0, 64));
		SCEN_CHECK_OK(scen_post_send(s.qp[0], 2, EMU_WR_SEND, EMU_SEND_SIGNALED, b0, 0, 64,
					     0));
		SCEN_CHECK(scen_wait_one(&s, s.rcq[1], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RECV, 64,
					 "send after reset and reconnect"), "works after reset");
	}
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

struct bad_modify {
	const char *what;
	uint32_t from;          /* state to bring the QP to first */
	uint32_t qp_type;
	uint32_t to;            /* target state */
	uint32_t drop;          /* attributes removed from the valid set */
	uint32_t add;           /* attributes added to it */
};

/* Bring qp to state `from` with the scenario's attributes. */
static int bring_to(struct scen *s, struct emu_qp *qp, uint32_t qp_type, uint32_t from)
{
	struct emu_qp_attr a;
	uint32_t mask;
	int ret = 0;

	if (from >= EMU_QPS_INIT) {
		scen_attr_init(s, qp_type, &a, &mask);
		ret = ret ? ret : modify(qp, &a, mask);
	}
	if (from >= EMU_QPS_RTR) {
		scen_attr_rtr(s, 0, qp_type, s->qpn[1], 0x10, &a, &mask);
		ret = ret ? ret : modify(qp, &a, mask);
	}
	if (from >= EMU_QPS_RTS) {
		scen_attr_rts(s, qp_type, 0x20, &a, &mask);
		ret = ret ? ret : modify(qp, &a, mask);
	}
	return ret;
}

/* The attributes of the valid transition into `to` (or none for a transition
 * that has no valid form, e.g. RESET -> RTS: then the RTS attributes). */
static void attrs_for(struct scen *s, uint32_t qp_type, uint32_t to, struct emu_qp_attr *a,
		      uint32_t *mask)
{
	switch (to) {
	case EMU_QPS_INIT:
		scen_attr_init(s, qp_type, a, mask);
		break;
	case EMU_QPS_RTR:
		scen_attr_rtr(s, 0, qp_type, s->qpn[1], 0x10, a, mask);
		break;
	case EMU_QPS_RTS:
		scen_attr_rts(s, qp_type, 0x20, a, mask);
		break;
	default:
		memset(a, 0, sizeof(*a));
		*mask = EMU_QP_STATE;
		break;
	}
	a->qp_state = to;
	a->sq_psn = a->sq_psn ? a->sq_psn : 0x777;
	a->dest_qp_num = a->dest_qp_num ? a->dest_qp_num : 0x99;
}

static const struct bad_modify bad_modifies[] = {
	{ "RESET->RTR", EMU_QPS_RESET, EMU_QPT_RC, EMU_QPS_RTR, 0, 0 },
	{ "RESET->RTS", EMU_QPS_RESET, EMU_QPT_RC, EMU_QPS_RTS, 0, 0 },
	{ "RESET->SQD", EMU_QPS_RESET, EMU_QPT_RC, EMU_QPS_SQD, 0, 0 },
	{ "INIT->RTS", EMU_QPS_INIT, EMU_QPT_RC, EMU_QPS_RTS, 0, 0 },
	{ "INIT->SQD", EMU_QPS_INIT, EMU_QPT_RC, EMU_QPS_SQD, 0, 0 },
	{ "RTR->INIT", EMU_QPS_RTR, EMU_QPT_RC, EMU_QPS_INIT, 0, 0 },
	{ "RTR->SQD", EMU_QPS_RTR, EMU_QPT_RC, EMU_QPS_SQD, 0, 0 },
	{ "RTS->RTR", EMU_QPS_RTS, EMU_QPT_RC, EMU_QPS_RTR, 0, 0 },
	{ "RTS->INIT", EMU_QPS_RTS, EMU_QPT_RC, EMU_QPS_INIT, 0, 0 },
	{ "RESET->INIT without PKEY_INDEX", EMU_QPS_RESET, EMU_QPT_RC, EMU_QPS_INIT,
	  EMU_QP_PKEY_INDEX, 0 },
	{ "RESET->INIT without ACCESS_FLAGS", EMU_QPS_RESET, EMU_QPT_RC, EMU_QPS_INIT,
	  EMU_QP_ACCESS_FLAGS, 0 },
	{ "RESET->INIT with SQ_PSN", EMU_QPS_RESET, EMU_QPT_RC, EMU_QPS_INIT, 0,
	  EMU_QP_SQ_PSN },
	{ "RC INIT->RTR without DEST_QPN", EMU_QPS_INIT, EMU_QPT_RC, EMU_QPS_RTR,
	  EMU_QP_DEST_QPN, 0 },
	{ "RC INIT->RTR without MIN_RNR_TIMER", EMU_QPS_INIT, EMU_QPT_RC, EMU_QPS_RTR,
	  EMU_QP_MIN_RNR_TIMER, 0 },
	{ "RC INIT->RTR with SQ_PSN", EMU_QPS_INIT, EMU_QPT_RC, EMU_QPS_RTR, 0,
	  EMU_QP_SQ_PSN },
	{ "RC RTR->RTS without SQ_PSN", EMU_QPS_RTR, EMU_QPT_RC, EMU_QPS_RTS, EMU_QP_SQ_PSN, 0 },
	{ "RC RTR->RTS without TIMEOUT", EMU_QPS_RTR, EMU_QPT_RC, EMU_QPS_RTS, EMU_QP_TIMEOUT,
	  0 },
	{ "RC RTR->RTS with DEST_QPN", EMU_QPS_RTR, EMU_QPT_RC, EMU_QPS_RTS, 0,
	  EMU_QP_DEST_QPN },
	{ "UD RESET->INIT without QKEY", EMU_QPS_RESET, EMU_QPT_UD, EMU_QPS_INIT, EMU_QP_QKEY,
	  0 },
	{ "UD INIT->RTR with PATH_MTU", EMU_QPS_INIT, EMU_QPT_UD, EMU_QPS_RTR, 0,
	  EMU_QP_PATH_MTU },
	{ "UC RTR->RTS with TIMEOUT", EMU_QPS_RTR, EMU_QPT_UC, EMU_QPS_RTS, 0, EMU_QP_TIMEOUT },
	{ "UC INIT->RTR with MAX_DEST_RD_ATOMIC", EMU_QPS_INIT, EMU_QPT_UC, EMU_QPS_RTR, 0,
	  EMU_QP_MAX_DEST_RD_ATOMIC },
};

static int run_bad_modify(const struct bad_modify *b)
{
	struct scen s;
	struct scen_opts o;
	struct emu_qp *qp;
	struct emu_qp_attr a, before, after;
	uint32_t mask;
	int rc = 1, ret;

	scen_opts_default(&o);
	o.leave_reset = true;
	if (scen_init(&s, 2, EMU_QPT_RC, EMU_MTU_1024, &o))
		goto out;
	qp = b->qp_type == EMU_QPT_RC ? s.qp[0] :
	     scen_create_qp(&s, 0, b->qp_type, s.scq[0], s.rcq[0], NULL);
	SCEN_CHECK(qp != NULL, "%s: QP", b->what);
	SCEN_CHECK_OK(bring_to(&s, qp, b->qp_type, b->from));
	SCEN_CHECK(emu_qp_state(qp) == b->from, "%s: start state", b->what);
	SCEN_CHECK_OK(emu_query_qp(qp, &before));
	attrs_for(&s, b->qp_type, b->to, &a, &mask);
	mask = (mask & ~b->drop) | b->add;
	SCEN_CHECK(!emu_modify_qp_is_ok(b->qp_type, b->from, b->to, mask),
		   "%s: emu_modify_qp_is_ok accepts mask 0x%x", b->what, mask);
	ret = modify(qp, &a, mask);
	SCEN_CHECK(ret == -EMU_EINVAL, "%s: modify returned %d, want -EINVAL", b->what, ret);
	SCEN_CHECK(emu_qp_state(qp) == b->from, "%s: state changed to %s", b->what,
		   scen_qp_state_name(emu_qp_state(qp)));
	SCEN_CHECK_OK(emu_query_qp(qp, &after));
	SCEN_CHECK(after.qp_state == before.qp_state && after.sq_psn == before.sq_psn &&
		   after.rq_psn == before.rq_psn && after.dest_qp_num == before.dest_qp_num &&
		   after.qkey == before.qkey && after.path_mtu == before.path_mtu &&
		   after.timeout == before.timeout &&
		   after.qp_access_flags == before.qp_access_flags,
		   "%s: a refused modify changed attributes", b->what);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_invalid_transitions(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(bad_modifies) / sizeof(bad_modifies[0]); i++)
		failed += run_bad_modify(&bad_modifies[i]) != 0;
	return failed != 0;
}

/* ---- query ---------------------------------------------------------------------------- */

static int test_query_qp(void)
{
	struct scen s;
	struct emu_qp_attr q;
	int rc = 1;

	if (scen_init(&s, 3, EMU_QPT_RC, EMU_MTU_2048, NULL))
		goto out;
	for (int side = 0; side < 2; side++) {
		int peer = 1 - side;
		SCEN_CHECK_OK(emu_query_qp(s.qp[side], &q));
		SCEN_CHECK(q.qp_state == EMU_QPS_RTS, "state %s", scen_qp_state_name(q.qp_state));
		SCEN_CHECK(q.path_mtu == EMU_MTU_2048, "path_mtu %u", q.path_mtu);
		SCEN_CHECK(q.dest_qp_num == s.qpn[peer], "dest_qp_num 0x%x", q.dest_qp_num);
		SCEN_CHECK(q.sq_psn == s.sq_psn[side], "sq_psn 0x%x, want 0x%x", q.sq_psn,
			   s.sq_psn[side]);
		SCEN_CHECK(q.rq_psn == s.sq_psn[peer], "rq_psn 0x%x, want 0x%x", q.rq_psn,
			   s.sq_psn[peer]);
		SCEN_CHECK(q.qp_access_flags == s.opts.access, "access 0x%x", q.qp_access_flags);
		SCEN_CHECK(q.pkey_index == 0 && q.port_num == 1, "pkey_index %u port %u",
			   q.pkey_index, q.port_num);
		SCEN_CHECK(q.timeout == 14 && q.retry_cnt == 7 && q.rnr_retry == 7,
			   "timeout %u retry_cnt %u rnr_retry %u", q.timeout, q.retry_cnt,
			   q.rnr_retry);
		SCEN_CHECK(q.min_rnr_timer == 12, "min_rnr_timer %u", q.min_rnr_timer);
		SCEN_CHECK(q.max_rd_atomic == 16 && q.max_dest_rd_atomic == 16,
			   "max_rd_atomic %u max_dest_rd_atomic %u", q.max_rd_atomic,
			   q.max_dest_rd_atomic);
		SCEN_CHECK(memcmp(q.ah_attr.dgid, s.gid[peer], 16) == 0, "ah_attr.dgid");
		SCEN_CHECK(q.ah_attr.sgid_index == 0 && q.ah_attr.hop_limit == 64,
			   "sgid_index %u hop_limit %u", q.ah_attr.sgid_index, q.ah_attr.hop_limit);
		SCEN_CHECK(q.cap.max_send_wr >= s.opts.max_send_wr &&
			   q.cap.max_recv_wr >= s.opts.max_recv_wr &&
			   q.cap.max_send_sge >= s.opts.max_send_sge &&
			   q.cap.max_recv_sge >= s.opts.max_recv_sge &&
			   q.cap.max_inline_data >= s.opts.max_inline,
			   "caps %u/%u/%u/%u/%u below what was asked", q.cap.max_send_wr,
			   q.cap.max_recv_wr, q.cap.max_send_sge, q.cap.max_recv_sge,
			   q.cap.max_inline_data);
	}
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_query_ud(void)
{
	struct scen s;
	struct scen_opts o;
	struct emu_qp_attr q;
	int rc = 1;

	scen_opts_default(&o);
	o.qkey = 0x3344;
	if (scen_init(&s, 4, EMU_QPT_UD, EMU_MTU_1024, &o))
		goto out;
	SCEN_CHECK_OK(emu_query_qp(s.qp[0], &q));
	SCEN_CHECK(q.qp_state == EMU_QPS_RTS && q.qkey == 0x3344 && q.sq_psn == s.sq_psn[0],
		   "UD: state %s qkey 0x%x sq_psn 0x%x", scen_qp_state_name(q.qp_state), q.qkey,
		   q.sq_psn);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* ---- SQD, ERR ------------------------------------------------------------------------ */

static int test_sqd_drain(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_qp_attr a, q;
	struct emu_async_event ev;
	struct emu_wc wc[8];
	int rc = 1, n;

	if (scen_init(&s, 5, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, 8 * 4096, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, 9 * 4096, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	scen_fill(src->p, 8 * 4096, 5);
	for (int i = 0; i < 9; i++)
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], (uint64_t)i, dst, (size_t)i * 4096, 4096));
	for (int i = 0; i < 8; i++)
		SCEN_CHECK_OK(scen_post_send(s.qp[0], 100 + (uint64_t)i, EMU_WR_SEND,
					     EMU_SEND_SIGNALED, src, (size_t)i * 4096, 4096, 0));
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_SQD;
	a.en_sqd_async_notify = 1;
	SCEN_CHECK_OK(emu_modify_qp(s.qp[0], &a, EMU_QP_STATE | EMU_QP_EN_SQD_ASYNC_NOTIFY));
	SCEN_CHECK_OK(emu_query_qp(s.qp[0], &q));
	SCEN_CHECK(q.qp_state == EMU_QPS_SQD, "state %s", scen_qp_state_name(q.qp_state));
	SCEN_CHECK(q.sq_draining == 1, "sq_draining %u while 8 SENDs are outstanding",
		   q.sq_draining);
	SCEN_CHECK(scen_wait_event(&s, 0, EMU_EVENT_SQ_DRAINED, &ev, WAIT), "SQ_DRAINED");
	SCEN_CHECK(ev.qpn == s.qpn[0] && ev.cookie == scen_qp_cookie(&s, s.qp[0]),
		   "SQ_DRAINED for qpn 0x%x", ev.qpn);
	SCEN_CHECK_OK(emu_query_qp(s.qp[0], &q));
	SCEN_CHECK(q.sq_draining == 0, "sq_draining %u after SQ_DRAINED", q.sq_draining);
	n = scen_wait_wc(&s, s.scq[0], 8, wc, WAIT);
	SCEN_CHECK(n == 8, "%d of 8 outstanding SENDs completed across the drain", n);
	for (int i = 0; i < 8; i++)
		SCEN_CHECK(scen_wc_matches(&wc[i], 100 + (uint64_t)i, EMU_WC_SUCCESS, EMU_WC_SEND,
					   SCEN_ANY, "drained send"), "send %d", i);
	SCEN_CHECK(scen_memcmp(dst->p, src->p, 8 * 4096, "data") == 0, "data");

	/* Back to RTS, traffic flows; a second drain asking for no notification
	 * raises nothing. */
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[0], EMU_QPS_RTS));
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 200, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 10,
				     0));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 200, EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY,
				 "send after SQD->RTS"), "send after SQD");
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_SQD;
	a.en_sqd_async_notify = 0;
	SCEN_CHECK_OK(emu_modify_qp(s.qp[0], &a, EMU_QP_STATE | EMU_QP_EN_SQD_ASYNC_NOTIFY));
	sim_run(s.sim, SCEN_MS(10));
	SCEN_CHECK(emu_qp_state(s.qp[0]) == EMU_QPS_SQD, "second drain reaches SQD");
	SCEN_CHECK(scen_no_event(&s, 0, EMU_EVENT_SQ_DRAINED),
		   "SQ_DRAINED although en_sqd_async_notify = 0");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_err_flushes_both_queues(void)
{
	struct scen s;
	struct scen_buf *b;
	struct emu_wc wc[4];
	int rc = 1, n;

	if (scen_init(&s, 6, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	b = scen_mr(&s, 0, 8192, SCEN_ACC_ALL);
	SCEN_CHECK(b != NULL, "buffer");
	sim_dev_isolate(s.dev[1], true);
	for (int i = 0; i < 3; i++)
		SCEN_CHECK_OK(scen_post_send(s.qp[0], 10 + (uint64_t)i, EMU_WR_SEND,
					     EMU_SEND_SIGNALED, b, 0, 2000, 0));
	for (int i = 0; i < 2; i++)
		SCEN_CHECK_OK(scen_post_recv(s.qp[0], 20 + (uint64_t)i, b, 4096, 4096));
	sim_run(s.sim, SCEN_MS(1));
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[0], EMU_QPS_ERR));
	n = scen_wait_wc(&s, s.scq[0], 3, wc, WAIT);
	SCEN_CHECK(n == 3, "%d of 3 sends flushed", n);
	for (int i = 0; i < 3; i++)
		SCEN_CHECK(scen_wc_matches(&wc[i], 10 + (uint64_t)i, EMU_WC_WR_FLUSH_ERR, SCEN_ANY,
					   SCEN_ANY, "send flushed by ERR"), "send %d", i);
	n = scen_wait_wc(&s, s.rcq[0], 2, wc, WAIT);
	SCEN_CHECK(n == 2, "%d of 2 receives flushed", n);
	for (int i = 0; i < 2; i++)
		SCEN_CHECK(scen_wc_matches(&wc[i], 20 + (uint64_t)i, EMU_WC_WR_FLUSH_ERR, SCEN_ANY,
					   SCEN_ANY, "receive flushed by ERR"), "recv %d", i);
	SCEN_CHECK(scen_expect_no_wc(&s, s.scq[0], SCEN_SEC(1), "scq[0]") == 0,
		   "nothing else completes (no retry after ERR)");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* ---- SRQ ---------------------------------------------------------------------------------- */

/* A second RC pair whose side-1 QP takes its receives from srq. */
static int make_srq_pair(struct scen *s, struct emu_srq *srq, struct emu_qp **q0,
			 struct emu_qp **q1, uint32_t psn)
{
	*q0 = scen_create_qp(s, 0, EMU_QPT_RC, s->scq[0], s->rcq[0], NULL);
	*q1 = scen_create_qp(s, 1, EMU_QPT_RC, s->scq[1], s->rcq[1], srq);
	if (!*q0 || !*q1)
		return -1;
	if (scen_qp_connect(s, 0, *q0, emu_qp_num(*q1), psn + 1000, psn))
		return -1;
	return scen_qp_connect(s, 1, *q1, emu_qp_num(*q0), psn, psn + 1000);
}

static int post_srq(struct emu_srq *srq, uint64_t wr_id, const struct scen_buf *b,
		    size_t off, uint32_t len)
{
	struct emu_sge sge = scen_sge(b, off, len);
	struct emu_recv_wr wr = { .wr_id = wr_id, .num_sge = 1, .sg_list = &sge };

	return emu_post_srq_recv(srq, &wr);
}

static int test_last_wqe_reached(void)
{
	struct scen s;
	struct emu_srq *srq;
	struct emu_qp *q0, *q1;
	struct scen_buf *b0, *b1;
	struct emu_async_event ev;
	struct emu_wc wc;
	int rc = 1;

	if (scen_init(&s, 7, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	srq = scen_create_srq(&s, 1, 16, 1);
	SCEN_CHECK(srq != NULL, "SRQ");
	SCEN_CHECK_OK(make_srq_pair(&s, srq, &q0, &q1, 0x500));
	b0 = scen_mr(&s, 0, 256, SCEN_ACC_ALL);
	b1 = scen_mr(&s, 1, 4 * 256, SCEN_ACC_ALL);
	SCEN_CHECK(b0 && b1, "buffers");
	for (int i = 0; i < 4; i++)
		SCEN_CHECK_OK(post_srq(srq, 50 + (uint64_t)i, b1, (size_t)i * 256, 256));
	SCEN_CHECK_OK(scen_post_send(q0, 1, EMU_WR_SEND, EMU_SEND_SIGNALED, b0, 0, 100, 0));
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 50, EMU_WC_SUCCESS, EMU_WC_RECV, 100,
				 "receive through the SRQ"), "SRQ receive");
	SCEN_CHECK(wc.qp_num == emu_qp_num(q1), "qp_num 0x%x", wc.qp_num);
	SCEN_CHECK_OK(scen_qp_to_state(q1, EMU_QPS_ERR));
	SCEN_CHECK(scen_wait_event(&s, 1, EMU_EVENT_QP_LAST_WQE_REACHED, &ev, WAIT),
		   "LAST_WQE_REACHED for a QP with an SRQ moved to ERR");
	SCEN_CHECK(ev.qpn == emu_qp_num(q1) && ev.cookie == scen_qp_cookie(&s, q1),
		   "event for qpn 0x%x", ev.qpn);
	/* The SRQ's WQEs are not flushed by one of its QPs going to ERR. */
	SCEN_CHECK(scen_expect_no_wc(&s, s.rcq[1], SCEN_MS(10), "rcq[1]") == 0,
		   "SRQ WQEs stay posted");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_srq_shared(void)
{
	struct scen s;
	struct emu_srq *srq;
	struct emu_qp *a0, *a1, *b0, *b1;
	struct scen_buf *src, *rbuf;
	struct emu_wc wc[8];
	bool seen[6] = { false };
	int next_seq[2] = { 0, 0 };
	int rc = 1, n;

	if (scen_init(&s, 8, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	srq = scen_create_srq(&s, 1, 16, 2);
	SCEN_CHECK(srq != NULL, "SRQ");
	SCEN_CHECK_OK(make_srq_pair(&s, srq, &a0, &a1, 0x100));
	SCEN_CHECK_OK(make_srq_pair(&s, srq, &b0, &b1, 0x200));
	src = scen_mr(&s, 0, 6 * 2048, SCEN_ACC_ALL);
	rbuf = scen_mr(&s, 1, 6 * 2048, SCEN_ACC_ALL);
	SCEN_CHECK(src && rbuf, "buffers");
	for (int i = 0; i < 6; i++) {
		uint32_t tag[2] = { (uint32_t)(i % 2), (uint32_t)(i / 2) };  /* sender, seq */
		scen_fill(src->p + (size_t)i * 2048, 2048, 800 + (uint64_t)i);
		memcpy(src->p + (size_t)i * 2048, tag, sizeof(tag));
		SCEN_CHECK_OK(post_srq(srq, (uint64_t)i, rbuf, (size_t)i * 2048, 2048));
	}
	for (int i = 0; i < 6; i++)
		SCEN_CHECK_OK(scen_post_send(i % 2 ? b0 : a0, 0x40 + (uint64_t)i, EMU_WR_SEND,
					     EMU_SEND_SIGNALED, src, (size_t)i * 2048,
					     1500 + (uint32_t)i, 0));
	n = scen_wait_wc(&s, s.rcq[1], 6, wc, WAIT);
	SCEN_CHECK(n == 6, "%d of 6 receives through the shared SRQ", n);
	for (int k = 0; k < 6; k++) {
		uint32_t tag[2];
		int i;

		SCEN_CHECK(wc[k].status == EMU_WC_SUCCESS && wc[k].opcode == EMU_WC_RECV,
			   "receive %d: %s", k, scen_status_name(wc[k].status));
		SCEN_CHECK(wc[k].wr_id < 6 && !seen[wc[k].wr_id], "receive %d: wr_id %" PRIu64
			   " not an unused SRQ WQE", k, wc[k].wr_id);
		seen[wc[k].wr_id] = true;
		memcpy(tag, rbuf->p + wc[k].wr_id * 2048, sizeof(tag));
		SCEN_CHECK(tag[0] < 2 && tag[1] < 3, "receive %d: garbage tag", k);
		SCEN_CHECK(wc[k].qp_num == emu_qp_num(tag[0] ? b1 : a1),
			   "receive %d: qp_num 0x%x is not the QP the message came to", k,
			   wc[k].qp_num);
		SCEN_CHECK((int)tag[1] == next_seq[tag[0]], "receive %d: message %u of QP %u "
			   "out of order", k, tag[1], tag[0]);
		next_seq[tag[0]]++;
		i = (int)(tag[1] * 2 + tag[0]);
		SCEN_CHECK(wc[k].byte_len == 1500u + (uint32_t)i, "receive %d: byte_len %u", k,
			   wc[k].byte_len);
		SCEN_CHECK(scen_memcmp(rbuf->p + wc[k].wr_id * 2048, src->p + (size_t)i * 2048,
				       wc[k].byte_len, "SRQ data") == 0, "receive %d: data", k);
	}
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_srq_limit(void)
{
	struct scen s;
	struct emu_srq *srq;
	struct emu_qp *q0, *q1;
	struct scen_buf *b0, *b1;
	struct emu_srq_attr sa;
	struct emu_async_event ev;
	struct emu_wc wc[8];
	int rc = 1, ret;

	if (scen_init(&s, 9, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	srq = scen_create_srq(&s, 1, 16, 1);
	SCEN_CHECK(srq != NULL, "SRQ");
	SCEN_CHECK_OK(make_srq_pair(&s, srq, &q0, &q1, 0x300));
	b0 = scen_mr(&s, 0, 64, SCEN_ACC_ALL);
	b1 = scen_mr(&s, 1, 8 * 64, SCEN_ACC_ALL);
	SCEN_CHECK(b0 && b1, "buffers");
	for (int i = 0; i < 8; i++)
		SCEN_CHECK_OK(post_srq(srq, (uint64_t)i, b1, (size_t)i * 64, 64));
	memset(&sa, 0, sizeof(sa));
	sa.srq_limit = 100;
	ret = emu_modify_srq(srq, &sa, EMU_SRQ_LIMIT);
	SCEN_CHECK(ret == -EMU_EINVAL, "a limit above max_wr: %d, want -EINVAL", ret);
	sa.srq_limit = 4;
	SCEN_CHECK_OK(emu_modify_srq(srq, &sa, EMU_SRQ_LIMIT));
	SCEN_CHECK_OK(emu_query_srq(srq, &sa));
	SCEN_CHECK(sa.srq_limit == 4 && sa.max_wr >= 16, "query: limit %u max_wr %u",
		   sa.srq_limit, sa.max_wr);

	/* 8 posted, limit 4: after 4 receives 4 are left, not below the limit. */
	for (int i = 0; i < 4; i++)
		SCEN_CHECK_OK(scen_post_send(q0, (uint64_t)i, EMU_WR_SEND, EMU_SEND_SIGNALED, b0, 0,
					     8, 0));
	SCEN_CHECK(scen_wait_wc(&s, s.rcq[1], 4, wc, WAIT) == 4, "4 receives");
	sim_run(s.sim, SCEN_MS(1));
	SCEN_CHECK(scen_no_event(&s, 1, EMU_EVENT_SRQ_LIMIT_REACHED),
		   "no limit event while 4 WQEs (= the limit) are left");
	SCEN_CHECK_OK(scen_post_send(q0, 4, EMU_WR_SEND, EMU_SEND_SIGNALED, b0, 0, 8, 0));
	SCEN_CHECK(scen_wait_event(&s, 1, EMU_EVENT_SRQ_LIMIT_REACHED, &ev, WAIT),
		   "SRQ_LIMIT_REACHED once fewer than 4 WQEs are left");
	SCEN_CHECK(ev.cookie == scen_srq_cookie(&s, srq), "event cookie is the SRQ's");
	SCEN_CHECK_OK(emu_query_srq(srq, &sa));
	SCEN_CHECK(sa.srq_limit == 0, "the limit disarms after the event (query: %u)",
		   sa.srq_limit);
	/* Disarmed: one more receive raises nothing. */
	SCEN_CHECK_OK(scen_post_send(q0, 5, EMU_WR_SEND, EMU_SEND_SIGNALED, b0, 0, 8, 0));
	SCEN_CHECK(scen_wait_wc(&s, s.rcq[1], 2, wc, WAIT) == 2, "2 more receives");
	sim_run(s.sim, SCEN_MS(1));
	SCEN_CHECK(scen_no_event(&s, 1, EMU_EVENT_SRQ_LIMIT_REACHED),
		   "a second limit event without re-arming");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "valid_path", test_valid_path },
	{ "invalid_transitions", test_invalid_transitions },
	{ "query_qp", test_query_qp },
	{ "query_ud", test_query_ud },
	{ "sqd_drain", test_sqd_drain },
	{ "err_flushes_both_queues", test_err_flushes_both_queues },
	{ "last_wqe_reached", test_last_wqe_reached },
	{ "srq_shared", test_srq_shared },
	{ "srq_limit", test_srq_limit },
};

int main(int argc, char **argv)
{
	return scen_run_tests("qp_state", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
