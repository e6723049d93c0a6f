/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_odp_race.c - invalidations racing with RDMA in flight.
 *
 * Every buffer is an ODP MR made present before the WR is posted, so that the
 * only faults are those of the invalidation. The invalidation comes at a chosen
 * point of the message (after some packets have landed, or between the
 * responder's answer and its arrival), and the operation must still complete
 * once, with the right bytes and the right result:
 *   write      - the target of a 16-packet RDMA WRITE goes absent after 4
 *                packets: the responder answers RNR NAK and the rest lands after
 *                the retry;
 *   read       - both the responder's source and the requester's destination of
 *                a 16-packet READ go absent after 4 responses: the requester
 *                stalls on its scatter, asks again from where it stopped, and
 *                the responder (duplicate READ, pages gone) answers RNR NAK;
 *   atomic     - the requester's result buffer and the responder's counter go
 *                absent while the atomic ACK is on the wire: the requester stalls
 *                and asks again, and the responder answers from its resource
 *                cache, so FETCH_ADD adds once (and CMP_AND_SWP swaps once);
 *   atomic-rnr - the counter goes absent before the request arrives: RNR NAK,
 *                and the atomic runs once, after the retry;
 *   held       - under CQE_FIRST, SEND data held by the DMA layer when its
 *                receive buffer is invalidated lands before the pages go, not
 *                lost (emu_mr_invalidate).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define LEN      (64u * 1024u)    /* 16 packets at MTU 4096 */
#define ODP      (SCEN_ACC_ALL | EMU_ACCESS_ON_DEMAND)
#define FAULT_NS 20000u

struct race {
	struct scen s;
	struct scen_buf *src0, *dst0;    /* side 0 (requester) */
	struct scen_buf *src1, *dst1;    /* side 1 (responder) */
};

static struct scen_buf *present_mr(struct race *t, int side)
{
	struct scen_buf *b = scen_mr(&t->s, side, LEN, ODP);

	if (b)
		sim_mr_make_present(t->s.dev[side], b->mr, 0, LEN);
	return b;
}

static int setup(struct race *t, uint64_t seed)
{
	if (scen_init(&t->s, seed, EMU_QPT_RC, EMU_MTU_4096, NULL))
		return -1;
	sim_set_fault_delay(t->s.sim, FAULT_NS);
	t->src0 = present_mr(t, 0);
	t->dst0 = present_mr(t, 0);
	t->src1 = present_mr(t, 1);
	t->dst1 = present_mr(t, 1);
	if (!t->src0 || !t->dst0 || !t->src1 || !t->dst1)
		return -1;
	scen_fill(t->src0->p, LEN, seed * 2);
	scen_fill(t->src1->p, LEN, seed * 2 + 1);
	return 0;
}

static struct emu_counters counters(struct race *t, int side)
{
	struct emu_counters c;

	emu_dev_counters(t->s.emu[side], &c);
	return c;
}

struct count_wait {
	struct race *t;
	int side;
	bool tx;          /* packets sent (else data writes made visible) */
	uint64_t n;
};

static bool count_reached(void *arg)
{
	struct count_wait *w = arg;
	struct emu_counters c = counters(w->t, w->side);

	return (w->tx ? c.tx_packets : c.dma_writes) >= w->n;
}

/* Run until side has made n data writes visible (or sent n packets). */
static bool run_until(struct race *t, int side, bool tx, uint64_t n)
{
	struct count_wait w = { t, side, tx, n };

	return sim_run_until(t->s.sim, count_reached, &w, SCEN_SEC(1));
}

static int test_write(void)
{
	struct race t;
	struct emu_counters c1;
	int rc = 1;

	SCEN_CHECK(setup(&t, 1) == 0, "setup");
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, t.src0, 0,
				     LEN, t.dst1, 0, 0));
	SCEN_CHECK(run_until(&t, 1, false, 4), "the first 4 packets never landed");
	SCEN_CHECK(counters(&t, 1).dma_writes < 16, "the whole WRITE landed before the race");
	sim_mr_invalidate(t.s.dev[1], t.dst1->mr, 0, LEN);
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 LEN, "WRITE raced by an invalidation"), "completion");
	SCEN_CHECK(scen_memcmp(t.dst1->p, t.src0->p, LEN, "written data") == 0, "data");
	c1 = counters(&t, 1);
	printf("    responder: page_faults %" PRIu64 ", RNR NAKs for absent pages %" PRIu64
	       ", invalidations %" PRIu64 "\n", c1.page_faults, c1.odp_rnr_naks,
	       c1.odp_invalidations);
	SCEN_CHECK(c1.odp_invalidations == 1, "invalidations %" PRIu64, c1.odp_invalidations);
	SCEN_CHECK(c1.page_faults >= 1 && c1.odp_rnr_naks >= 1,
		   "the invalidated target did not fault / answer RNR NAK");
	SCEN_CHECK(counters(&t, 0).rx_rnr_naks == c1.tx_rnr_naks, "RNR NAKs lost");
	SCEN_CHECK(scen_expect_no_wc(&t.s, t.s.scq[0], SCEN_MS(10), "send CQ") == 0, "extra");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int test_read(void)
{
	struct race t;
	struct emu_counters c0, c1;
	int rc = 1;

	SCEN_CHECK(setup(&t, 2) == 0, "setup");
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 1, EMU_WR_RDMA_READ, EMU_SEND_SIGNALED, t.dst0, 0,
				     LEN, t.src1, 0, 0));
	SCEN_CHECK(run_until(&t, 0, false, 4), "the first 4 responses never landed");
	SCEN_CHECK(counters(&t, 0).dma_writes < 16, "the whole READ landed before the race");
	sim_mr_invalidate(t.s.dev[0], t.dst0->mr, 0, LEN);
	sim_mr_invalidate(t.s.dev[1], t.src1->mr, 0, LEN);
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_READ,
				 LEN, "READ raced by invalidations"), "completion");
	SCEN_CHECK(scen_memcmp(t.dst0->p, t.src1->p, LEN, "read data") == 0, "data");
	c0 = counters(&t, 0);
	c1 = counters(&t, 1);
	printf("    requester: stalls %" PRIu64 ", page_faults %" PRIu64 "; responder: "
	       "duplicate READs %" PRIu64 ", RNR NAKs for absent pages %" PRIu64 "\n",
	       c0.odp_stalls, c0.page_faults, c1.duplicate_requests, c1.odp_rnr_naks);
	SCEN_CHECK(c0.odp_stalls >= 1, "the requester's scatter did not stall");
	SCEN_CHECK(c1.duplicate_requests >= 1, "the READ was not asked for again");
	SCEN_CHECK(c1.odp_rnr_naks >= 1, "the duplicate READ met no absent page");
	SCEN_CHECK(scen_expect_no_wc(&t.s, t.s.scq[0], SCEN_MS(10), "send CQ") == 0, "extra");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* One atomic, its answer raced (late: on the wire; early: before the request). */
static int atomic_case(uint64_t seed, uint32_t opcode, bool early)
{
	struct race t;
	struct emu_counters c0, c1;
	uint64_t init = 0x1000000000000005ull, add = 0x77, got, now;
	uint64_t want_now = opcode == EMU_WR_ATOMIC_FETCH_AND_ADD ? init + add : 0xabcdefull;
	int rc = 1;

	SCEN_CHECK(setup(&t, seed) == 0, "setup");
	memcpy(t.dst1->p, &init, 8);
	memset(t.dst0->p, 0xee, 8);
	SCEN_CHECK_OK(scen_post_atomic(t.s.qp[0], 9, opcode, EMU_SEND_SIGNALED, t.dst0, 0,
				       scen_addr(t.dst1, 0), t.dst1->rkey,
				       opcode == EMU_WR_ATOMIC_FETCH_AND_ADD ? add : init,
				       0xabcdefull));
	if (early) {
		sim_mr_invalidate(t.s.dev[1], t.dst1->mr, 0, 8);
	} else {
		SCEN_CHECK(run_until(&t, 1, true, 1), "the responder never answered");
		sim_mr_invalidate(t.s.dev[0], t.dst0->mr, 0, 8);
		sim_mr_invalidate(t.s.dev[1], t.dst1->mr, 0, 8);
	}
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 9, EMU_WC_SUCCESS,
				 opcode == EMU_WR_ATOMIC_FETCH_AND_ADD ? EMU_WC_FETCH_ADD :
				 EMU_WC_COMP_SWAP, SCEN_ANY, "atomic raced by invalidations"),
		   "completion");
	memcpy(&got, t.dst0->p, 8);
	memcpy(&now, t.dst1->p, 8);
	c0 = counters(&t, 0);
	c1 = counters(&t, 1);
	printf("    %s: returned 0x%" PRIx64 ", target now 0x%" PRIx64 "; requester stalls %"
	       PRIu64 ", responder duplicates %" PRIu64 ", RNR NAKs %" PRIu64 "\n",
	       early ? "early" : "late", got, now, c0.odp_stalls, c1.duplicate_requests,
	       c1.odp_rnr_naks);
	SCEN_CHECK(got == init, "returned 0x%" PRIx64 ", want 0x%" PRIx64, got, init);
	SCEN_CHECK(now == want_now, "target 0x%" PRIx64 ", want 0x%" PRIx64
		   " (executed other than once)", now, want_now);
	if (early) {
		SCEN_CHECK(c1.odp_rnr_naks >= 1, "the absent counter answered no RNR NAK");
	} else {
		SCEN_CHECK(c0.odp_stalls >= 1, "the result scatter did not stall");
		SCEN_CHECK(c1.duplicate_requests >= 1, "the atomic was not asked for again");
	}
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int test_atomic(void)
{
	if (atomic_case(3, EMU_WR_ATOMIC_FETCH_AND_ADD, false))
		return 1;
	return atomic_case(4, EMU_WR_ATOMIC_CMP_AND_SWP, false);
}

static int test_atomic_rnr(void)
{
	if (atomic_case(5, EMU_WR_ATOMIC_FETCH_AND_ADD, true))
		return 1;
	return atomic_case(6, EMU_WR_ATOMIC_CMP_AND_SWP, true);
}

static int test_held(void)
{
	struct race t;
	struct emu_counters c1;
	int rc = 1;

	SCEN_CHECK(setup(&t, 7) == 0, "setup");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(t.s.emu[1], EMU_DMA_CQE_FIRST));
	SCEN_CHECK_OK(scen_post_recv(t.s.qp[1], 5, t.dst1, 0, LEN));
	SCEN_CHECK_OK(scen_post_send(t.s.qp[0], 6, EMU_WR_SEND, EMU_SEND_SIGNALED, t.src0, 0,
				     LEN, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.rcq[1], NULL, 5, EMU_WC_SUCCESS, EMU_WC_RECV, LEN,
				 "SEND received"), "receive");
	SCEN_CHECK(emu_dev_dma_held(t.s.emu[1]) > 0, "CQE_FIRST held nothing: no race to test");
	sim_mr_invalidate(t.s.dev[1], t.dst1->mr, 0, LEN);
	c1 = counters(&t, 1);
	SCEN_CHECK(emu_dev_dma_held(t.s.emu[1]) == 0, "%u writes still held after the "
		   "invalidation", emu_dev_dma_held(t.s.emu[1]));
	SCEN_CHECK(c1.dma_lost == 0, "%" PRIu64 " held writes lost", c1.dma_lost);
	SCEN_CHECK(scen_memcmp(t.dst1->p, t.src0->p, LEN, "received data") == 0, "data");
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 6, EMU_WC_SUCCESS, EMU_WC_SEND,
				 SCEN_ANY, "SEND"), "send");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "write", test_write },
	{ "read", test_read },
	{ "atomic", test_atomic },
	{ "atomic-rnr", test_atomic_rnr },
	{ "held", test_held },
};

int main(int argc, char **argv)
{
	return scen_run_tests("odp_race", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
