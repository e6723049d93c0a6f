/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_uc.c - Unreliable Connected QPs: SEND and RDMA WRITE with and
 * without immediate on a clean wire, and on a lossy wire the UC rule: a lost
 * packet drops its whole message (the receiver never completes a partial
 * message), while later messages still arrive intact and in order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define MTU 1024u

static int setup(struct scen *s, uint64_t seed)
{
	struct scen_opts o;

	scen_opts_default(&o);
	o.psn_mode = SCEN_PSN_NEAR_WRAP;
	return scen_init(s, seed, EMU_QPT_UC, EMU_MTU_1024, &o);
}

static int test_uc_ops(void)
{
	struct scen s;
	struct scen_buf *src, *rbuf, *wdst;
	struct emu_wc wc;
	const uint32_t len = 3 * MTU + 100;
	int rc = 1;

	if (setup(&s, 1))
		goto out;
	src = scen_mr(&s, 0, 4 * len, SCEN_ACC_ALL);
	rbuf = scen_mr(&s, 1, 4 * len, SCEN_ACC_ALL);
	wdst = scen_mr(&s, 1, 4 * len, SCEN_ACC_ALL);
	SCEN_CHECK(src && rbuf && wdst, "buffers");
	scen_fill(src->p, 4 * len, 1);
	for (int k = 0; k < 3; k++)
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x100 + k, rbuf, (size_t)k * len, len));

	SCEN_CHECK_OK(scen_post_send(s.qp[0], 1, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, len, 0));
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 2, EMU_WR_SEND_WITH_IMM, EMU_SEND_SIGNALED, src,
				     len, 77, 0xfeed0001));
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 3, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, src,
				     2 * len, len, wdst, 0, 0));
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 4, EMU_WR_RDMA_WRITE_WITH_IMM, EMU_SEND_SIGNALED,
				     src, 3 * len, len - 1, wdst, len, 0xfeed0002));

	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 0x100, EMU_WC_SUCCESS, EMU_WC_RECV, len,
				 "UC send"), "receive 1");
	SCEN_CHECK(!(wc.wc_flags & EMU_WC_WITH_IMM), "no immediate on a plain SEND");
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 0x101, EMU_WC_SUCCESS, EMU_WC_RECV, 77,
				 "UC send with imm"), "receive 2");
	SCEN_CHECK((wc.wc_flags & EMU_WC_WITH_IMM) && wc.imm_data == 0xfeed0001,
		   "flags 0x%x imm 0x%x", wc.wc_flags, wc.imm_data);
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 0x102, EMU_WC_SUCCESS,
				 EMU_WC_RECV_RDMA_WITH_IMM, len - 1, "UC write with imm"),
		   "receive 3");
	SCEN_CHECK((wc.wc_flags & EMU_WC_WITH_IMM) && wc.imm_data == 0xfeed0002,
		   "flags 0x%x imm 0x%x", wc.wc_flags, wc.imm_data);
	for (int i = 1; i <= 4; i++)
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, (uint64_t)i, EMU_WC_SUCCESS,
					 i <= 2 ? EMU_WC_SEND : EMU_WC_RDMA_WRITE, SCEN_ANY,
					 "UC requester"), "send completion %d", i);
	SCEN_CHECK(scen_memcmp(rbuf->p, src->p, len, "send data") == 0, "data 1");
	SCEN_CHECK(scen_memcmp(rbuf->p + len, src->p + len, 77, "send imm data") == 0, "data 2");
	SCEN_CHECK(scen_memcmp(wdst->p, src->p + 2 * len, len, "write data") == 0, "data 3");
	SCEN_CHECK(scen_memcmp(wdst->p + len, src->p + 3 * len, len - 1, "write imm data") == 0,
		   "data 4");
	SCEN_CHECK(scen_expect_no_wc(&s, s.rcq[1], SCEN_MS(10), "rcq[1]") == 0,
		   "nothing else completes");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* ---- loss ------------------------------------------------------------------------------ */

#define NMSG     40
#define MSG_LEN  (4 * MTU - 8)   /* 4 packets */

static void make_msg(uint8_t *p, uint32_t seq)
{
	scen_fill(p, MSG_LEN, 0xc0ffee00u + seq);
	memcpy(p, &seq, 4);
}

/*
 * n messages of 4 packets over a wire dropping 8% of the packets from side 0 to
 * side 1. use_write: RDMA WRITE WITH IMM to a region per message; else SEND.
 */
static int run_lossy(bool use_write)
{
	struct scen s;
	struct scen_buf *src, *rbuf, *wdst;
	struct sim_faults f = { .drop_ppm = 80000 };
	struct emu_wc wc[NMSG + 4];
	struct emu_counters c1;
	uint8_t want[MSG_LEN];
	bool seen[NMSG] = { false };
	int rc = 1, n, last_seq = -1, first_gap = -1, after_gap = 0;

	if (setup(&s, use_write ? 21 : 20))
		goto out;
	src = scen_mr(&s, 0, (size_t)NMSG * MSG_LEN, SCEN_ACC_ALL);
	rbuf = scen_mr(&s, 1, (size_t)NMSG * MSG_LEN, SCEN_ACC_ALL);
	wdst = scen_mr(&s, 1, (size_t)NMSG * MSG_LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && rbuf && wdst, "buffers");
	sim_set_link_faults(s.sim, s.dev[0], s.dev[1], &f);
	for (uint32_t i = 0; i < NMSG; i++) {
		make_msg(src->p + (size_t)i * MSG_LEN, i);
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x1000 + i, rbuf, (size_t)i * MSG_LEN,
					     MSG_LEN));
	}
	for (uint32_t i = 0; i < NMSG; i++) {
		if (use_write)
			SCEN_CHECK_OK(scen_post_rdma(s.qp[0], i, EMU_WR_RDMA_WRITE_WITH_IMM,
						     EMU_SEND_SIGNALED, src, (size_t)i * MSG_LEN,
						     MSG_LEN, wdst, (size_t)i * MSG_LEN, i));
		else
			SCEN_CHECK_OK(scen_post_send(s.qp[0], i, EMU_WR_SEND, EMU_SEND_SIGNALED,
						     src, (size_t)i * MSG_LEN, MSG_LEN, 0));
	}
	/* The requester of UC completes every WR once it is sent, lost or not. */
	n = scen_wait_wc(&s, s.scq[0], NMSG, wc, SCEN_SEC(10));
	SCEN_CHECK(n == NMSG, "%d requester completions, want %d", n, NMSG);
	for (int i = 0; i < NMSG; i++)
		SCEN_CHECK(scen_wc_matches(&wc[i], (uint64_t)i, EMU_WC_SUCCESS,
					   use_write ? EMU_WC_RDMA_WRITE : EMU_WC_SEND, SCEN_ANY,
					   "UC requester"), "requester completion %d", i);

	sim_run(s.sim, SCEN_SEC(1));
	n = sim_poll_cq(s.rcq[1], wc, NMSG + 4);
	emu_dev_counters(s.emu[1], &c1);
	printf("    %d of %d messages arrived; receiver dropped %" PRIu64 " packets "
	       "(PSN %" PRIu64 ")\n", n, NMSG, c1.rx_drops, c1.drops[EMU_DROP_PSN]);
	SCEN_CHECK(n < NMSG, "no message was lost: the scenario does not test loss");
	SCEN_CHECK(n > 0, "no message arrived at all");
	for (int k = 0; k < n; k++) {
		uint32_t seq;
		const uint8_t *got;

		SCEN_CHECK(wc[k].status == EMU_WC_SUCCESS,
			   "receive completion %d has status %s: a partial message must not "
			   "complete", k, scen_status_name(wc[k].status));
		SCEN_CHECK(wc[k].byte_len == MSG_LEN, "receive %d: byte_len %u, want %u", k,
			   wc[k].byte_len, MSG_LEN);
		if (use_write) {
			SCEN_CHECK(wc[k].opcode == EMU_WC_RECV_RDMA_WITH_IMM &&
				   (wc[k].wc_flags & EMU_WC_WITH_IMM), "receive %d: opcode %s flags "
				   "0x%x", k, scen_wc_opcode_name(wc[k].opcode), wc[k].wc_flags);
			seq = wc[k].imm_data;
			SCEN_CHECK(seq < NMSG, "receive %d: imm %u", k, seq);
			got = wdst->p + (size_t)seq * MSG_LEN;
		} else {
			SCEN_CHECK(wc[k].opcode == EMU_WC_RECV, "receive %d: opcode %s", k,
				   scen_wc_opcode_name(wc[k].opcode));
			SCEN_CHECK(wc[k].wr_id >= 0x1000 && wc[k].wr_id < 0x1000 + NMSG,
				   "receive %d: wr_id 0x%" PRIx64, k, wc[k].wr_id);
			got = rbuf->p + (size_t)(wc[k].wr_id - 0x1000) * MSG_LEN;
			memcpy(&seq, got, 4);
			SCEN_CHECK(seq < NMSG, "receive %d: sequence number %u", k, seq);
		}
		SCEN_CHECK((int)seq > last_seq, "receive %d: message %u after message %d "
			   "(duplicate or out of order)", k, seq, last_seq);
		seen[seq] = true;
		make_msg(want, seq);
		SCEN_CHECK(scen_memcmp(got, want, MSG_LEN, "delivered message") == 0,
			   "message %u is intact", seq);
		last_seq = (int)seq;
	}
	for (int i = 0; i < NMSG; i++) {
		if (!seen[i] && first_gap < 0)
			first_gap = i;
		else if (seen[i] && first_gap >= 0)
			after_gap++;
	}
	printf("    first lost message %d, %d delivered after it\n", first_gap, after_gap);
	SCEN_CHECK(after_gap > 0, "messages after the first lost one must still arrive");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_uc_lossy_send(void)
{
	return run_lossy(false);
}

static int test_uc_lossy_write_imm(void)
{
	return run_lossy(true);
}

static const struct scen_test tests[] = {
	{ "ops", test_uc_ops },
	{ "lossy_send", test_uc_lossy_send },
	{ "lossy_write_imm", test_uc_lossy_write_imm },
};

int main(int argc, char **argv)
{
	return scen_run_tests("uc", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
