/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_odp_stall.c - on-demand paging in simulation. MRs registered
 * with EMU_ACCESS_ON_DEMAND on both sides start with every page absent: the
 * requester stalls on its own faults, the responder answers RNR NAK while its
 * pages fault in, and WRITE, READ and SEND still complete with the right bytes.
 * After an invalidation the next access faults again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define LEN       (64u * 1024u)   /* 16 pages */
#define ODP       (SCEN_ACC_ALL | EMU_ACCESS_ON_DEMAND)
#define FAULT_NS  20000u

struct odp {
	struct scen s;
	struct scen_buf *a0, *b0;   /* side 0, ODP */
	struct scen_buf *a1, *b1;   /* side 1, ODP */
};

static int setup(struct odp *t, uint64_t seed)
{
	if (scen_init(&t->s, seed, EMU_QPT_RC, EMU_MTU_4096, NULL))
		return -1;
	sim_set_fault_delay(t->s.sim, FAULT_NS);
	t->a0 = scen_mr(&t->s, 0, LEN, ODP);
	t->b0 = scen_mr(&t->s, 0, LEN, ODP);
	t->a1 = scen_mr(&t->s, 1, LEN, ODP);
	t->b1 = scen_mr(&t->s, 1, LEN, ODP);
	if (!t->a0 || !t->b0 || !t->a1 || !t->b1)
		return -1;
	scen_fill(t->a0->p, LEN, seed);
	scen_fill(t->b1->p, LEN, seed + 1);
	return 0;
}

static void counters(struct odp *t, struct emu_counters c[2])
{
	emu_dev_counters(t->s.emu[0], &c[0]);
	emu_dev_counters(t->s.emu[1], &c[1]);
}

static int test_write(void)
{
	struct odp t;
	struct emu_counters c[2];
	uint64_t f0;
	int rc = 1;

	SCEN_CHECK(setup(&t, 1) == 0, "setup");
	f0 = sim_fault_count(t.s.sim);
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, t.a0, 0,
				     LEN, t.a1, 0, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "WRITE between ODP MRs"), "write");
	SCEN_CHECK(scen_memcmp(t.a1->p, t.a0->p, LEN, "written data") == 0, "data");
	counters(&t, c);
	printf("    faults %" PRIu64 ", page_faults %" PRIu64 " / %" PRIu64 ", RNR NAKs sent by "
	       "the responder %" PRIu64 "\n", sim_fault_count(t.s.sim) - f0, c[0].page_faults,
	       c[1].page_faults, c[1].tx_rnr_naks);
	SCEN_CHECK(sim_fault_count(t.s.sim) > f0, "the simulation resolved no fault");
	SCEN_CHECK(c[0].page_faults > 0, "the requester (reading its ODP source) took no fault");
	SCEN_CHECK(c[1].page_faults > 0, "the responder (writing its ODP target) took no fault");
	SCEN_CHECK(c[1].tx_rnr_naks > 0, "a responder-side fault must answer RNR NAK");
	SCEN_CHECK(c[0].rx_rnr_naks == c[1].tx_rnr_naks, "RNR NAKs sent %" PRIu64
		   " and received %" PRIu64, c[1].tx_rnr_naks, c[0].rx_rnr_naks);
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int test_read(void)
{
	struct odp t;
	struct emu_counters c[2];
	uint64_t f0;
	int rc = 1;

	SCEN_CHECK(setup(&t, 2) == 0, "setup");
	f0 = sim_fault_count(t.s.sim);
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 1, EMU_WR_RDMA_READ, EMU_SEND_SIGNALED, t.b0, 0,
				     LEN, t.b1, 0, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_READ,
				 SCEN_ANY, "READ between ODP MRs"), "read");
	SCEN_CHECK(scen_memcmp(t.b0->p, t.b1->p, LEN, "read data") == 0, "data");
	counters(&t, c);
	printf("    faults %" PRIu64 ", page_faults %" PRIu64 " / %" PRIu64 "\n",
	       sim_fault_count(t.s.sim) - f0, c[0].page_faults, c[1].page_faults);
	SCEN_CHECK(sim_fault_count(t.s.sim) > f0, "no fault resolved");
	SCEN_CHECK(c[0].page_faults > 0, "the requester (writing the READ data) took no fault");
	SCEN_CHECK(c[1].page_faults > 0, "the responder (reading its ODP source) took no fault");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int test_send(void)
{
	struct odp t;
	struct emu_counters c[2];
	struct emu_wc wc;
	int rc = 1;

	SCEN_CHECK(setup(&t, 3) == 0, "setup");
	SCEN_CHECK_OK(scen_post_recv(t.s.qp[1], 7, t.a1, 0, LEN));
	SCEN_CHECK_OK(scen_post_send(t.s.qp[0], 8, EMU_WR_SEND, EMU_SEND_SIGNALED, t.a0, 0, LEN,
				     0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.rcq[1], &wc, 7, EMU_WC_SUCCESS, EMU_WC_RECV, LEN,
				 "SEND into an ODP receive buffer"), "receive");
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 8, EMU_WC_SUCCESS, EMU_WC_SEND,
				 SCEN_ANY, "SEND from an ODP buffer"), "send");
	SCEN_CHECK(scen_memcmp(t.a1->p, t.a0->p, LEN, "received data") == 0, "data");
	counters(&t, c);
	printf("    page_faults %" PRIu64 " / %" PRIu64 ", RNR NAKs %" PRIu64 "\n",
	       c[0].page_faults, c[1].page_faults, c[1].tx_rnr_naks);
	SCEN_CHECK(c[0].page_faults > 0 && c[1].page_faults > 0, "both sides faulted");
	SCEN_CHECK(c[1].tx_rnr_naks > 0, "the receiver's faults answer RNR NAK");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* Present pages do not fault again; invalidated ones do. */
static int test_invalidate(void)
{
	struct odp t;
	struct emu_counters c[2];
	uint64_t f1, f2, pf1;
	int rc = 1;

	SCEN_CHECK(setup(&t, 4) == 0, "setup");
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, t.a0, 0,
				     LEN, t.a1, 0, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "first WRITE"), "first write");
	f1 = sim_fault_count(t.s.sim);
	counters(&t, c);
	pf1 = c[1].page_faults;

	scen_fill(t.a0->p, LEN, 44);
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 2, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, t.a0, 0,
				     LEN, t.a1, 0, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 2, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "second WRITE"), "second write");
	SCEN_CHECK(sim_fault_count(t.s.sim) == f1, "pages already present faulted again "
		   "(%" PRIu64 " more faults)", sim_fault_count(t.s.sim) - f1);
	SCEN_CHECK(scen_memcmp(t.a1->p, t.a0->p, LEN, "second write data") == 0, "data");

	sim_mr_invalidate(t.s.dev[1], t.a1->mr, 8192, 3 * 4096);
	scen_fill(t.a0->p, LEN, 45);
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 3, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, t.a0, 0,
				     LEN, t.a1, 0, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 3, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "WRITE after invalidation"), "third write");
	f2 = sim_fault_count(t.s.sim);
	counters(&t, c);
	SCEN_CHECK(f2 > f1, "the invalidated range did not fault again");
	SCEN_CHECK(c[1].page_faults > pf1, "responder page_faults did not grow (%" PRIu64 ")",
		   c[1].page_faults);
	SCEN_CHECK(scen_memcmp(t.a1->p, t.a0->p, LEN, "third write data") == 0, "data");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "write", test_write },
	{ "read", test_read },
	{ "send", test_send },
	{ "invalidate", test_invalidate },
};

int main(int argc, char **argv)
{
	return scen_run_tests("odp_stall", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
