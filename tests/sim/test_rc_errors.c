/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_rc_errors.c - RC error paths: remote key, rights and bounds
 * violations, misaligned atomics, receive buffers too small, posting in the
 * wrong state or after an error, CQ overflow, RNR and transport retries
 * exhausted (a dead peer: seconds of virtual time, milliseconds of real time),
 * flush order, and LOCAL_INV of an unknown key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define WAIT SCEN_WAIT_NS

static bool zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int setup(struct scen *s, uint64_t seed, struct scen_opts *o)
{
	struct scen_opts def;

	if (!o) {
		scen_opts_default(&def);
		o = &def;
	}
	return scen_init(s, seed, EMU_QPT_RC, EMU_MTU_1024, o);
}

/* Both QPs end in ERR after a remote access violation (requester: its WR
 * completed in error; responder: it NAKed a request it could not execute). */
static bool both_in_err(const struct scen *s)
{
	bool ok = true;

	for (int side = 0; side < 2; side++) {
		uint32_t st = emu_qp_state(s->qp[side]);
		if (st != EMU_QPS_ERR) {
			printf("    qp[%d] is in %s, want ERR\n", side, scen_qp_state_name(st));
			ok = false;
		}
	}
	return ok;
}

/*
 * Post one RDMA op from side 0 with an explicit target and key; it must complete
 * with want_status; the target must stay zero.
 */
static int run_bad_remote(uint64_t seed, uint32_t opcode, uint32_t target_access,
			  int64_t target_off, uint32_t len, bool use_bad_key,
			  uint32_t want_status, const char *what)
{
	struct scen s;
	struct scen_buf *loc, *tgt;
	uint32_t rkey;
	int rc = 1;

	if (setup(&s, seed, NULL))
		goto out;
	loc = scen_mr(&s, 0, 8192, SCEN_ACC_ALL);
	tgt = scen_mr(&s, 1, 4096, target_access);
	SCEN_CHECK(loc && tgt, "buffers");
	scen_fill(loc->p, 8192, seed);
	rkey = use_bad_key ? (tgt->rkey & ~0xffu) | ((tgt->rkey + 0x5a) & 0xffu) : tgt->rkey;
	if (opcode == EMU_WR_ATOMIC_FETCH_AND_ADD)
		SCEN_CHECK_OK(scen_post_atomic(s.qp[0], 1, opcode, EMU_SEND_SIGNALED, loc, 0,
					       scen_addr(tgt, 0) + (uint64_t)target_off, rkey,
					       1, 0));
	else
		SCEN_CHECK_OK(scen_post_rdma_key(s.qp[0], 1, opcode, EMU_SEND_SIGNALED, loc, 0,
						 len, scen_addr(tgt, 0) + (uint64_t)target_off,
						 rkey, 0));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 1, want_status, SCEN_ANY, SCEN_ANY, what),
		   "%s completes with %s", what, scen_status_name(want_status));
	SCEN_CHECK(zero(tgt->p, 4096), "%s: the target memory was modified", what);
	SCEN_CHECK(both_in_err(&s), "%s: both QPs in ERR", what);
	SCEN_CHECK(scen_expect_no_wc(&s, s.rcq[1], SCEN_MS(10), "rcq[1]") == 0,
		   "%s: nothing completes at the responder", what);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

#define ALL SCEN_ACC_ALL

static int test_bad_rkey_write(void)
{
	return run_bad_remote(1, EMU_WR_RDMA_WRITE, ALL, 0, 100, true, EMU_WC_REM_ACCESS_ERR,
			      "WRITE with a wrong rkey");
}

static int test_bad_rkey_read(void)
{
	return run_bad_remote(2, EMU_WR_RDMA_READ, ALL, 0, 3000, true, EMU_WC_REM_ACCESS_ERR,
			      "READ with a wrong rkey");
}

static int test_no_remote_write(void)
{
	return run_bad_remote(3, EMU_WR_RDMA_WRITE,
			      EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_READ, 0, 100, false,
			      EMU_WC_REM_ACCESS_ERR, "WRITE to an MR without REMOTE_WRITE");
}

static int test_no_remote_read(void)
{
	return run_bad_remote(4, EMU_WR_RDMA_READ,
			      EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE, 0, 100, false,
			      EMU_WC_REM_ACCESS_ERR, "READ of an MR without REMOTE_READ");
}

static int test_no_remote_atomic(void)
{
	return run_bad_remote(5, EMU_WR_ATOMIC_FETCH_AND_ADD,
			      EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE |
			      EMU_ACCESS_REMOTE_READ, 0, 8, false, EMU_WC_REM_ACCESS_ERR,
			      "atomic on an MR without REMOTE_ATOMIC");
}

static int test_write_out_of_bounds(void)
{
	return run_bad_remote(6, EMU_WR_RDMA_WRITE, ALL, 4096 - 10, 20, false,
			      EMU_WC_REM_ACCESS_ERR, "WRITE crossing the end of the MR");
}

static int test_read_out_of_bounds(void)
{
	return run_bad_remote(7, EMU_WR_RDMA_READ, ALL, -8, 64, false,
			      EMU_WC_REM_ACCESS_ERR, "READ starting before the MR");
}

static int test_misaligned_atomic(void)
{
	return run_bad_remote(8, EMU_WR_ATOMIC_FETCH_AND_ADD, ALL, 4, 8, false,
			      EMU_WC_REM_INV_REQ_ERR, "atomic at a misaligned address");
}

static int test_send_too_long(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	int rc = 1;

	if (setup(&s, 9, NULL))
		goto out;
	src = scen_mr(&s, 0, 4096, ALL);
	dst = scen_mr(&s, 1, 4096, ALL);
	SCEN_CHECK(src && dst, "buffers");
	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x1, dst, 0, 100));
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 0x2, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0,
				     2500, 0));
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], NULL, 0x1, EMU_WC_LOC_LEN_ERR, SCEN_ANY,
				 SCEN_ANY, "receive of a too long SEND"), "receiver LOC_LEN_ERR");
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 0x2, EMU_WC_REM_INV_REQ_ERR, SCEN_ANY,
				 SCEN_ANY, "too long SEND"), "requester REM_INV_REQ_ERR");
	SCEN_CHECK(zero(dst->p + 100, 4096 - 100), "nothing written past the receive buffer");
	SCEN_CHECK(both_in_err(&s), "both QPs in ERR");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_post_wrong_state(void)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *src, *dst;
	struct emu_qp_attr a;
	uint32_t mask;
	int rc = 1, ret;

	scen_opts_default(&o);
	o.leave_reset = true;
	if (setup(&s, 10, &o))
		goto out;
	src = scen_mr(&s, 0, 256, ALL);
	dst = scen_mr(&s, 1, 256, ALL);
	SCEN_CHECK(src && dst, "buffers");

	ret = scen_post_send(s.qp[0], 0xa, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 16, 0);
	SCEN_CHECK(ret < 0, "post_send in RESET returned %d, want an error", ret);
	ret = scen_post_recv(s.qp[1], 0xa, dst, 0, 16);
	SCEN_CHECK(ret < 0, "post_recv in RESET returned %d, want an error", ret);

	scen_attr_init(&s, EMU_QPT_RC, &a, &mask);
	SCEN_CHECK_OK(emu_modify_qp(s.qp[0], &a, mask));
	ret = scen_post_send(s.qp[0], 0xb, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 16, 0);
	SCEN_CHECK(ret < 0, "post_send in INIT returned %d, want an error", ret);

	scen_attr_rtr(&s, 0, EMU_QPT_RC, s.qpn[1], s.sq_psn[1], &a, &mask);
	SCEN_CHECK_OK(emu_modify_qp(s.qp[0], &a, mask));
	ret = scen_post_send(s.qp[0], 0xc, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 16, 0);
	SCEN_CHECK(ret < 0, "post_send in RTR returned %d, want an error", ret);

	scen_attr_rts(&s, EMU_QPT_RC, s.sq_psn[0], &a, &mask);
	SCEN_CHECK_OK(emu_modify_qp(s.qp[0], &a, mask));
	SCEN_CHECK_OK(scen_qp_connect(&s, 1, s.qp[1], s.qpn[0], s.sq_psn[0], s.sq_psn[1]));

	/* Nothing of the rejected posts was queued: only the next WR runs. */
	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0xd, dst, 0, 256));
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 0xe, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 16,
				     0));
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], NULL, 0xd, EMU_WC_SUCCESS, EMU_WC_RECV, 16,
				 "receive in RTS"), "receive");
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 0xe, EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY,
				 "send in RTS"), "send");
	SCEN_CHECK(scen_expect_no_wc(&s, s.scq[0], SCEN_MS(10), "scq[0]") == 0 &&
		   scen_expect_no_wc(&s, s.rcq[1], 0, "rcq[1]") == 0,
		   "no completion for the rejected WRs");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_post_after_err(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_wc wc[4];
	int rc = 1, n;

	if (setup(&s, 11, NULL))
		goto out;
	src = scen_mr(&s, 0, 256, ALL);
	dst = scen_mr(&s, 1, 256, ALL);
	SCEN_CHECK(src && dst, "buffers");
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[0], EMU_QPS_ERR));
	SCEN_CHECK_OK(scen_qp_to_state(s.qp[1], EMU_QPS_ERR));
	SCEN_CHECK(emu_qp_state(s.qp[0]) == EMU_QPS_ERR, "qp[0] in ERR");
	for (int i = 0; i < 3; i++)
		SCEN_CHECK_OK(scen_post_send(s.qp[0], 0x10 + i, EMU_WR_SEND, EMU_SEND_SIGNALED,
					     src, 0, 16, 0));
	for (int i = 0; i < 2; i++)
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x20 + i, dst, 0, 256));
	n = scen_wait_wc(&s, s.scq[0], 3, wc, WAIT);
	SCEN_CHECK(n == 3, "3 flushed sends, got %d", n);
	for (int i = 0; i < 3; i++)
		SCEN_CHECK(scen_wc_matches(&wc[i], 0x10 + i, EMU_WC_WR_FLUSH_ERR, SCEN_ANY,
					   SCEN_ANY, "send posted in ERR"), "flush %d", i);
	n = scen_wait_wc(&s, s.rcq[1], 2, wc, WAIT);
	SCEN_CHECK(n == 2, "2 flushed receives, got %d", n);
	for (int i = 0; i < 2; i++)
		SCEN_CHECK(scen_wc_matches(&wc[i], 0x20 + i, EMU_WC_WR_FLUSH_ERR, SCEN_ANY,
					   SCEN_ANY, "receive posted in ERR"), "flush %d", i);
	SCEN_CHECK(zero(dst->p, 256), "nothing delivered");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_cq_overflow(void)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *src, *dst;
	struct emu_async_event ev;
	int rc = 1;

	scen_opts_default(&o);
	o.send_cqe = 2;
	if (setup(&s, 12, &o))
		goto out;
	src = scen_mr(&s, 0, 256, ALL);
	dst = scen_mr(&s, 1, 20 * 16, ALL);
	SCEN_CHECK(src && dst, "buffers");
	for (int i = 0; i < 20; i++) {
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x100 + i, dst, 16 * i, 16));
		SCEN_CHECK_OK(scen_post_send(s.qp[0], 0x200 + i, EMU_WR_SEND, EMU_SEND_SIGNALED,
					     src, 0, 16, 0));
	}
	SCEN_CHECK(scen_wait_event(&s, 0, EMU_EVENT_CQ_ERR, &ev, WAIT),
		   "CQ_ERR event after 20 completions into a CQ of 2 entries");
	SCEN_CHECK(emu_cq_in_error(sim_cq_emu(s.scq[0])), "the overflowed CQ is in error");
	SCEN_CHECK(!emu_cq_in_error(sim_cq_emu(s.rcq[1])), "the peer's CQ is not");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/*
 * Several completions published in one go (a READ, then windows bound behind it,
 * completed at post) overflow the CQ midway: the flush that follows must end the
 * publishing, not run past the queue.
 */
static int test_cq_overflow_burst(void)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *local, *remote, *win;
	struct emu_async_event ev;
	struct emu_mw *mw[3];
	int rc = 1;

	scen_opts_default(&o);
	o.send_cqe = 1;
	if (setup(&s, 21, &o))
		goto out;
	local = scen_mr(&s, 0, 4096, ALL);
	remote = scen_mr(&s, 1, 4096, ALL);
	win = scen_mr(&s, 0, 4096, ALL);
	SCEN_CHECK(local && remote && win, "buffers");
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 0x1, EMU_WR_RDMA_READ, EMU_SEND_SIGNALED, local, 0,
				     4096, remote, 0, 0));
	for (int i = 0; i < 3; i++) {
		struct emu_mw_bind_info info = { win->mr, scen_addr(win, 0), 64,
						 EMU_ACCESS_REMOTE_READ };
		uint32_t rkey;

		mw[i] = scen_alloc_mw(&s, 0, EMU_MW_TYPE_1);
		SCEN_CHECK(mw[i] != NULL, "window %d", i);
		SCEN_CHECK_OK(emu_bind_mw_type1(s.qp[0], mw[i], 0x10 + (uint64_t)i,
						EMU_SEND_SIGNALED, &info, &rkey));
	}
	SCEN_CHECK(scen_wait_event(&s, 0, EMU_EVENT_CQ_ERR, &ev, WAIT),
		   "CQ_ERR when four completions meet a CQ of one entry");
	SCEN_CHECK(emu_qp_state(s.qp[0]) == EMU_QPS_ERR, "the QP went to error");
	SCEN_CHECK(sim_run(s.sim, SCEN_MS(10)), "the device goes idle after the overflow");
	/* The send queue's accounting survived: a WR posted now is taken (and flushed). */
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 0x20, EMU_WR_SEND, EMU_SEND_SIGNALED, local, 0,
				     16, 0));
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_rnr_retry_exceeded(void)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *src;
	struct emu_counters c0, c1;
	int rc = 1;

	scen_opts_default(&o);
	o.rnr_retry = 1;
	o.min_rnr_timer = 1;   /* 0.01 ms */
	if (setup(&s, 13, &o))
		goto out;
	src = scen_mr(&s, 0, 256, ALL);
	SCEN_CHECK(src != NULL, "buffer");
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 0x1, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 64,
				     0));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 0x1, EMU_WC_RNR_RETRY_EXC_ERR, SCEN_ANY,
				 SCEN_ANY, "SEND to a QP without receive WQEs"),
		   "RNR_RETRY_EXC_ERR");
	emu_qp_counters(s.qp[0], &c0);
	emu_qp_counters(s.qp[1], &c1);
	SCEN_CHECK(c1.tx_rnr_naks == 2, "responder sent %" PRIu64 " RNR NAKs, want 2 "
		   "(the first try and rnr_retry = 1 retry)", c1.tx_rnr_naks);
	SCEN_CHECK(c0.rx_rnr_naks == 2, "requester got %" PRIu64 " RNR NAKs, want 2",
		   c0.rx_rnr_naks);
	SCEN_CHECK(emu_qp_state(s.qp[0]) == EMU_QPS_ERR, "requester QP in ERR");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_rnr_retry_infinite(void)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *src, *dst;
	struct emu_counters c0;
	struct emu_wc wc;
	int rc = 1;

	scen_opts_default(&o);
	o.rnr_retry = 7;
	o.min_rnr_timer = 1;
	if (setup(&s, 14, &o))
		goto out;
	src = scen_mr(&s, 0, 3000, ALL);
	dst = scen_mr(&s, 1, 3000, ALL);
	SCEN_CHECK(src && dst, "buffers");
	scen_fill(src->p, 3000, 14);
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 0x1, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 3000,
				     0));
	sim_run(s.sim, SCEN_MS(20));
	SCEN_CHECK(sim_poll_cq(s.scq[0], &wc, 1) == 0, "no completion while RNR retrying");
	emu_qp_counters(s.qp[0], &c0);
	SCEN_CHECK(c0.rx_rnr_naks >= 10, "only %" PRIu64 " RNR NAKs in 20 ms with a 0.01 ms "
		   "RNR timer", c0.rx_rnr_naks);
	SCEN_CHECK(emu_qp_state(s.qp[0]) == EMU_QPS_RTS, "requester still in RTS");
	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x2, dst, 0, 3000));
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], NULL, 0x2, EMU_WC_SUCCESS, EMU_WC_RECV, 3000,
				 "receive after RNR"), "receive");
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 0x1, EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY,
				 "send after RNR"), "send");
	SCEN_CHECK(scen_memcmp(dst->p, src->p, 3000, "data") == 0, "data");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_retry_exceeded_dead_peer(void)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *src;
	struct emu_wc wc[4];
	struct emu_counters c0;
	/* timeout 20: 4.096 us * 2^20 = 4.295 s per try; retry_cnt 3: 4 tries. */
	const uint64_t t_ns = 4096ull << 20;
	const uint64_t want_ns = 4 * t_ns;
	uint64_t v0, r0, elapsed, real;
	int rc = 1, n;

	scen_opts_default(&o);
	o.retry_cnt = 3;
	o.timeout = 20;
	if (setup(&s, 15, &o))
		goto out;
	src = scen_mr(&s, 0, 4096, ALL);
	SCEN_CHECK(src != NULL, "buffer");
	sim_dev_isolate(s.dev[1], true);
	v0 = sim_now(s.sim);
	r0 = scen_real_ns();
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 1, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 100,
				     0));
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 2, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, src, 0,
				     3000, src, 0, 0));
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 3, EMU_WR_RDMA_READ, EMU_SEND_SIGNALED, src, 0,
				     100, src, 200, 0));
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 4, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, 10,
				     0));
	n = scen_wait_wc(&s, s.scq[0], 1, wc, SCEN_SEC(120));
	elapsed = sim_now(s.sim) - v0;
	real = scen_real_ns() - r0;
	SCEN_CHECK(n == 1, "a completion within 120 s of virtual time");
	SCEN_CHECK(scen_wc_matches(&wc[0], 1, EMU_WC_RETRY_EXC_ERR, SCEN_ANY, SCEN_ANY,
				   "first WR to a dead peer"), "RETRY_EXC_ERR");
	printf("    retries exhausted after %.3f s of virtual time (expected about %.3f s), "
	       "%.3f s of real time\n", (double)elapsed / 1e9, (double)want_ns / 1e9,
	       (double)real / 1e9);
	SCEN_CHECK(elapsed >= want_ns - want_ns / 10 && elapsed <= want_ns + want_ns / 2,
		   "virtual time %.3f s is not about (retry_cnt + 1) * timeout = %.3f s",
		   (double)elapsed / 1e9, (double)want_ns / 1e9);
	SCEN_CHECK(real < (scen_under_valgrind() ? SCEN_SEC(30) : SCEN_SEC(2)),
		   "real time %.3f s: virtual timers must not cost real time",
		   (double)real / 1e9);
	n = scen_wait_wc(&s, s.scq[0], 3, wc, WAIT);
	SCEN_CHECK(n == 3, "the 3 remaining WRs are flushed, got %d", n);
	for (int i = 0; i < 3; i++)
		SCEN_CHECK(scen_wc_matches(&wc[i], 2 + i, EMU_WC_WR_FLUSH_ERR, SCEN_ANY,
					   SCEN_ANY, "flushed after retry error"),
			   "flush in order (%d)", i);
	emu_qp_counters(s.qp[0], &c0);
	SCEN_CHECK(c0.timeouts == 4, "%" PRIu64 " transport timeouts, want 4 "
		   "(retry_cnt 3 retries + the final one)", c0.timeouts);
	SCEN_CHECK(c0.retransmits >= 3, "%" PRIu64 " retransmits, want at least 3",
		   c0.retransmits);
	SCEN_CHECK(emu_qp_state(s.qp[0]) == EMU_QPS_ERR, "requester QP in ERR");
	SCEN_CHECK(scen_expect_no_wc(&s, s.scq[0], SCEN_SEC(1), "scq[0]") == 0,
		   "nothing else completes");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_local_inv_unknown_key(void)
{
	struct scen s;
	struct emu_wc wc;
	int rc = 1, ret;

	if (setup(&s, 16, NULL))
		goto out;
	ret = scen_post_local_inv(s.qp[0], 0x99, EMU_SEND_SIGNALED, 0x00dead42);
	if (ret < 0) {
		printf("    LOCAL_INV of an unknown key rejected at post: %d\n", ret);
	} else {
		SCEN_CHECK(scen_wait_wc(&s, s.scq[0], 1, &wc, WAIT) == 1,
			   "LOCAL_INV of an unknown key completes");
		scen_print_wc(stdout, "    completion: ", &wc);
		SCEN_CHECK(wc.wr_id == 0x99, "wr_id");
		SCEN_CHECK(wc.status != EMU_WC_SUCCESS && wc.status != EMU_WC_WR_FLUSH_ERR,
			   "LOCAL_INV of an unknown key completed with %s, want an error",
			   scen_status_name(wc.status));
	}
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "bad_rkey_write", test_bad_rkey_write },
	{ "bad_rkey_read", test_bad_rkey_read },
	{ "no_remote_write", test_no_remote_write },
	{ "no_remote_read", test_no_remote_read },
	{ "no_remote_atomic", test_no_remote_atomic },
	{ "write_out_of_bounds", test_write_out_of_bounds },
	{ "read_out_of_bounds", test_read_out_of_bounds },
	{ "misaligned_atomic", test_misaligned_atomic },
	{ "send_too_long", test_send_too_long },
	{ "post_wrong_state", test_post_wrong_state },
	{ "post_after_err", test_post_after_err },
	{ "cq_overflow", test_cq_overflow },
	{ "cq_overflow_burst", test_cq_overflow_burst },
	{ "rnr_retry_exceeded", test_rnr_retry_exceeded },
	{ "rnr_retry_infinite", test_rnr_retry_infinite },
	{ "retry_exceeded_dead_peer", test_retry_exceeded_dead_peer },
	{ "local_inv_unknown_key", test_local_inv_unknown_key },
};

int main(int argc, char **argv)
{
	return scen_run_tests("rc_errors", tests, sizeof(tests) / sizeof(tests[0]), argc,
			      argv);
}
