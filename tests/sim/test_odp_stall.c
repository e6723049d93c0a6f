/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_odp_stall.c - on-demand paging in simulation. MRs registered
 * with EMU_ACCESS_ON_DEMAND on both sides start with every page absent: the
 * requester stalls on its own faults, the responder answers RNR NAK while its
 * pages fault in, and WRITE, READ and SEND still complete with the right bytes.
 * After an invalidation the next access faults again.
 *
 * rnr-in-stall: an RNR NAK that arrives while the requester is stalled on a
 * fault of its own, in the middle of the same message, is not lost: the
 * requester goes back to the NAKed PSN, waits its RNR timer (whether that ends
 * before or after the stall does) and the message completes without a
 * transport timeout.
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

/* ---- an RNR NAK while the requester is stalled ------------------------------------------ */

#define RS_MTU       1024u
#define RS_WINDOW    6u                  /* packets in flight: the 7th waits for an ACK */
#define RS_LEN       (16u * RS_MTU)      /* 16 packets */
#define RS_ROFF      2048u               /* packet i lands at 2048 + i KiB */
#define RS_NAKED     6u                  /* first packet into the responder's absent page */
#define RS_STALL     8u                  /* first packet from the requester's absent page */

struct rs_wait {
	struct scen *s;
	int side;
	bool rnr;                 /* wait for an RNR NAK received, else for a stall */
};

static bool rs_reached(void *arg)
{
	struct rs_wait *w = arg;
	struct emu_counters c;

	emu_dev_counters(w->s->emu[w->side], &c);
	return w->rnr ? c.rx_rnr_naks > 0 : c.odp_stalls > 0;
}

/*
 * One 16-packet RDMA WRITE with a send window of 6 packets. Packets 0..5 go out
 * at once; then page 2 of the source goes absent (after the WQE's up-front
 * probe), so when the ACK of packet 5 opens the window the requester sends 6
 * and 7 and stalls on packet 8. The responder's page 2 (where packet 6 lands)
 * is absent too: its RNR NAK of packet 6 reaches the requester during the
 * stall. rnr_timer is the IB code of the RNR timer: shorter than the fault
 * delay (the timer ends during the stall) or longer (the stall ends first and
 * the resume must wait for the timer).
 */
static int rnr_in_stall(uint8_t rnr_timer, uint64_t fault_ns)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *src, *dst;
	struct rs_wait w = { &s, 0, false };
	struct emu_counters c0, c1;
	uint64_t t_stall, t_rnr;
	int rc = 1;

	scen_opts_default(&o);
	o.max_unacked_psns = RS_WINDOW;
	o.min_rnr_timer = rnr_timer;
	o.psn_mode = SCEN_PSN_FIXED;
	o.sq_psn[0] = 617;
	o.sq_psn[1] = 9000;
	SCEN_CHECK(scen_init(&s, 5, EMU_QPT_RC, EMU_MTU_1024, &o) == 0, "setup");
	sim_set_fault_delay(s.sim, fault_ns);
	src = scen_mr(&s, 0, LEN, ODP);
	dst = scen_mr(&s, 1, LEN, ODP);
	SCEN_CHECK(src && dst, "buffers");
	sim_mr_make_present(s.dev[0], src->mr, 0, LEN);
	sim_mr_make_present(s.dev[1], dst->mr, 0, LEN);
	sim_mr_invalidate(s.dev[1], dst->mr, 2 * 4096, 4096);
	scen_fill(src->p, LEN, 77);

	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, src, 0,
				     RS_LEN, dst, RS_ROFF, 0));
	emu_dev_counters(s.emu[0], &c0);
	SCEN_CHECK(c0.tx_packets == RS_WINDOW, "%" PRIu64 " packets sent at post, want the "
		   "window's %u", c0.tx_packets, RS_WINDOW);
	/* Page 2 of the source (packets 8..11) goes after the up-front probe. */
	sim_mr_invalidate(s.dev[0], src->mr, RS_STALL * RS_MTU, 4096);

	SCEN_CHECK(sim_run_until(s.sim, rs_reached, &w, SCEN_MS(10)), "the requester never "
		   "stalled");
	t_stall = sim_now(s.sim);
	w.rnr = true;
	SCEN_CHECK(sim_run_until(s.sim, rs_reached, &w, SCEN_MS(10)), "no RNR NAK arrived");
	t_rnr = sim_now(s.sim);
	emu_dev_counters(s.emu[0], &c0);
	SCEN_CHECK(c0.tx_packets == RS_STALL, "the requester sent %" PRIu64 " packets before "
		   "stalling, want %u", c0.tx_packets, RS_STALL);
	SCEN_CHECK(t_rnr < t_stall + fault_ns, "the RNR NAK came at %" PRIu64 " ns, after the "
		   "stall (%" PRIu64 " ns) had ended: not the race under test", t_rnr, t_stall);

	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "WRITE NAKed during the requester's stall"), "completion");
	SCEN_CHECK(scen_memcmp(dst->p + RS_ROFF, src->p, RS_LEN, "written data") == 0, "data");
	emu_dev_counters(s.emu[0], &c0);
	emu_dev_counters(s.emu[1], &c1);
	printf("    RNR timer code %u, fault delay %" PRIu64 " us: stalls %" PRIu64 ", RNR NAKs %"
	       PRIu64 ", retransmits %" PRIu64 ", timeouts %" PRIu64 ", done at %" PRIu64 " us\n",
	       rnr_timer, fault_ns / 1000, c0.odp_stalls, c0.rx_rnr_naks, c0.retransmits,
	       c0.timeouts, sim_now(s.sim) / 1000);
	SCEN_CHECK(c0.odp_stalls == 1, "requester stalls %" PRIu64 ", want 1", c0.odp_stalls);
	SCEN_CHECK(c1.odp_rnr_naks == 1 && c0.rx_rnr_naks == 1, "RNR NAKs sent %" PRIu64
		   " / received %" PRIu64 ", want 1", c1.odp_rnr_naks, c0.rx_rnr_naks);
	/* Recovery is the RNR retry alone: a transport timeout would spend retry_cnt. */
	SCEN_CHECK(c0.timeouts == 0, "%" PRIu64 " transport timeouts: the RNR NAK was lost "
		   "during the stall", c0.timeouts);
	/* Only 6 and 7 (sent before the NAK) go twice; 8.. are not sent while the
	 * responder waits for 6. */
	SCEN_CHECK(c0.retransmits == RS_STALL - RS_NAKED, "retransmits %" PRIu64 ", want %u",
		   c0.retransmits, RS_STALL - RS_NAKED);
	SCEN_CHECK(c0.tx_packets == RS_LEN / RS_MTU + RS_STALL - RS_NAKED, "requester sent %"
		   PRIu64 " packets, want %u", c0.tx_packets, RS_LEN / RS_MTU + RS_STALL - RS_NAKED);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_rnr_in_stall(void)
{
	/* RNR timer 10 us < fault delay 50 us: the timer ends during the stall. */
	if (rnr_in_stall(1, 50000))
		return 1;
	/* RNR timer 640 us > fault delay 20 us: the resume waits for the timer. */
	return rnr_in_stall(12, 20000);
}

static const struct scen_test tests[] = {
	{ "write", test_write },
	{ "read", test_read },
	{ "send", test_send },
	{ "invalidate", test_invalidate },
	{ "rnr-in-stall", test_rnr_in_stall },
};

int main(int argc, char **argv)
{
	return scen_run_tests("odp_stall", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
