/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_odp_unbacked.c - ODP memory that nothing backs, keys and
 * bounds of implicit MRs, and prefetch (emu_advise_mr).
 *
 * The first page of an ODP MR is marked unbacked (sim_mr_set_unbacked: mr_map
 * answers -EFAULT, as a host does for an address that is not mapped). Each
 * case uses a fresh pair of QPs, since every one of them ends in error:
 *   send-src   SEND from it                 -> LOC_PROT_ERR (as mlx5), QP error
 *   read-dst   READ into it                 -> LOC_PROT_ERR
 *   write-dst  RDMA WRITE into the peer's   -> REM_ACCESS_ERR, peer QP_ACCESS_ERR
 *   read-src   READ from the peer's         -> REM_ACCESS_ERR
 *   atomic     FETCH_ADD on the peer's      -> REM_ACCESS_ERR, counter untouched
 *   recv       SEND into a receive buffer   -> receiver LOC_PROT_ERR, sender REM_OP_ERR
 *   stalled    the page goes unbacked while the requester waits for its fault
 *                                           -> LOC_PROT_ERR
 *   implicit   through an implicit MR, an address outside every sim_alloc block:
 *              WRITE -> REM_ACCESS_ERR, SEND from it -> LOC_PROT_ERR
 * Then: implicit registration rules and keys (wrong PD), and emu_advise_mr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define LEN      (16u * 1024u)
#define ODP      (SCEN_ACC_ALL | EMU_ACCESS_ON_DEMAND)
#define HOLE     4096u           /* the first page of the bad buffer: unbacked */
/* An address no sim_alloc block can hold: page 1 of the address space. */
#define NOWHERE  0x1000ull

struct ub {
	struct scen s;
	struct scen_buf *good[2], *bad[2];
};

static int setup(struct ub *t, uint64_t seed)
{
	if (scen_init(&t->s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL))
		return -1;
	for (int side = 0; side < 2; side++) {
		t->good[side] = scen_mr(&t->s, side, LEN, ODP);
		t->bad[side] = scen_mr(&t->s, side, LEN, ODP);
		if (!t->good[side] || !t->bad[side])
			return -1;
		if (sim_mr_set_unbacked(t->s.dev[side], t->bad[side]->mr, 0, HOLE, true))
			return -1;
	}
	return 0;
}

static bool unbacked_counted(struct ub *t, int side)
{
	struct emu_counters c;

	emu_dev_counters(t->s.emu[side], &c);
	if (!c.odp_unbacked)
		printf("    side %d: odp_unbacked not counted\n", side);
	return c.odp_unbacked > 0;
}

/* The requester's own access fails: one error completion, then flushes. */
static int local_case(uint64_t seed, uint32_t opcode, bool late)
{
	struct ub t;
	struct emu_wc wc;
	int rc = 1;

	SCEN_CHECK(setup(&t, seed) == 0, "setup");
	if (late) {
		/* Backed but absent now; unbacked before the fault is served. */
		SCEN_CHECK_OK(sim_mr_set_unbacked(t.s.dev[0], t.bad[0]->mr, 0, HOLE, false));
		sim_set_fault_delay(t.s.sim, 50000);
	}
	if (opcode == EMU_WR_SEND)
		SCEN_CHECK_OK(scen_post_recv(t.s.qp[1], 3, t.good[1], 0, LEN));
	SCEN_CHECK_OK(opcode == EMU_WR_SEND ?
		      scen_post_send(t.s.qp[0], 1, opcode, EMU_SEND_SIGNALED, t.bad[0], 0, 100, 0) :
		      scen_post_rdma(t.s.qp[0], 1, opcode, EMU_SEND_SIGNALED, t.bad[0], 0, 100,
				     t.good[1], 0, 0));
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 2, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, t.good[0],
				     0, 100, t.good[1], 0, 0));
	if (late) {
		SCEN_CHECK(sim_run(t.s.sim, 10000) == false, "nothing pending: no fault asked");
		SCEN_CHECK_OK(sim_mr_set_unbacked(t.s.dev[0], t.bad[0]->mr, 0, HOLE, true));
	}
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], &wc, 1, EMU_WC_LOC_PROT_ERR, SCEN_ANY, SCEN_ANY,
				 "access to unbacked local memory"), "first");
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], &wc, 2, EMU_WC_WR_FLUSH_ERR, SCEN_ANY, SCEN_ANY,
				 "the WR behind it"), "flush");
	SCEN_CHECK(emu_qp_state(t.s.qp[0]) == EMU_QPS_ERR, "requester QP in state %u",
		   emu_qp_state(t.s.qp[0]));
	SCEN_CHECK(unbacked_counted(&t, 0), "counter");
	if (late) {
		struct emu_counters c;

		emu_dev_counters(t.s.emu[0], &c);
		SCEN_CHECK(c.odp_stalls >= 1, "the requester never stalled on the fault");
	}
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* The responder's access fails: NAK remote access error. */
static int remote_case(uint64_t seed, uint32_t opcode)
{
	struct ub t;
	uint64_t init = 42, now;
	int rc = 1;

	SCEN_CHECK(setup(&t, seed) == 0, "setup");
	memcpy(t.bad[1]->p + 8, &init, 8);
	if (opcode == EMU_WR_ATOMIC_FETCH_AND_ADD)
		SCEN_CHECK_OK(scen_post_atomic(t.s.qp[0], 1, opcode, EMU_SEND_SIGNALED, t.good[0], 0,
					       scen_addr(t.bad[1], 8), t.bad[1]->rkey, 5, 0));
	else
		SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 1, opcode, EMU_SEND_SIGNALED, t.good[0], 0,
					     2000, t.bad[1], 100, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_REM_ACCESS_ERR, SCEN_ANY,
				 SCEN_ANY, "access to unbacked remote memory"), "completion");
	SCEN_CHECK(scen_wait_event(&t.s, 1, EMU_EVENT_QP_ACCESS_ERR, NULL, SCEN_MS(10)),
		   "responder event");
	memcpy(&now, t.bad[1]->p + 8, 8);
	SCEN_CHECK(now == init, "the unbacked target changed");
	SCEN_CHECK(unbacked_counted(&t, 1), "counter");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int test_send_src(void) { return local_case(1, EMU_WR_SEND, false); }
static int test_read_dst(void) { return local_case(2, EMU_WR_RDMA_READ, false); }
static int test_stalled(void) { return local_case(3, EMU_WR_SEND, true); }
static int test_write_dst(void) { return remote_case(4, EMU_WR_RDMA_WRITE); }
static int test_read_src(void) { return remote_case(5, EMU_WR_RDMA_READ); }
static int test_atomic(void) { return remote_case(6, EMU_WR_ATOMIC_FETCH_AND_ADD); }

static int test_recv(void)
{
	struct ub t;
	int rc = 1;

	SCEN_CHECK(setup(&t, 7) == 0, "setup");
	SCEN_CHECK_OK(scen_post_recv(t.s.qp[1], 3, t.bad[1], 0, LEN));
	SCEN_CHECK_OK(scen_post_send(t.s.qp[0], 1, EMU_WR_SEND, EMU_SEND_SIGNALED, t.good[0], 0,
				     3000, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.rcq[1], NULL, 3, EMU_WC_LOC_PROT_ERR, SCEN_ANY,
				 SCEN_ANY, "receive into unbacked memory"), "receive");
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_REM_OP_ERR, SCEN_ANY, SCEN_ANY,
				 "SEND into unbacked memory"), "send");
	SCEN_CHECK(unbacked_counted(&t, 1), "counter");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int test_implicit(void)
{
	struct ub t;
	struct emu_mr *imp[2] = { NULL, NULL };
	struct emu_sge sge;
	struct emu_send_wr wr;
	int rc = 1;

	SCEN_CHECK(setup(&t, 8) == 0, "setup");
	for (int side = 0; side < 2; side++)
		SCEN_CHECK_OK(sim_reg_mr(t.s.dev[side], t.s.pd[side], NULL, SIZE_MAX, ODP,
					 &imp[side]));
	/* WRITE to nowhere through the peer's implicit rkey. */
	SCEN_CHECK_OK(scen_post_rdma_key(t.s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED,
					 t.good[0], 0, 64, NOWHERE, emu_mr_rkey(imp[1]), 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_REM_ACCESS_ERR, SCEN_ANY,
				 SCEN_ANY, "WRITE to an unbacked address"), "write");
	scen_destroy(&t.s);

	/* SEND from nowhere through the local implicit lkey. */
	SCEN_CHECK(setup(&t, 9) == 0, "setup");
	SCEN_CHECK_OK(sim_reg_mr(t.s.dev[0], t.s.pd[0], NULL, SIZE_MAX, ODP, &imp[0]));
	SCEN_CHECK_OK(scen_post_recv(t.s.qp[1], 3, t.good[1], 0, LEN));
	memset(&wr, 0, sizeof(wr));
	sge.addr = NOWHERE;
	sge.length = 64;
	sge.lkey = emu_mr_lkey(imp[0]);
	wr.wr_id = 2;
	wr.opcode = EMU_WR_SEND;
	wr.send_flags = EMU_SEND_SIGNALED;
	wr.num_sge = 1;
	wr.sg_list = &sge;
	SCEN_CHECK_OK(emu_post_send(t.s.qp[0], &wr));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 2, EMU_WC_LOC_PROT_ERR, SCEN_ANY,
				 SCEN_ANY, "SEND from an unbacked address"), "send");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* Implicit registration rules, and its keys: PD and rights still apply. */
static int test_implicit_keys(void)
{
	struct ub t;
	struct emu_mr *mr = NULL, *other = NULL;
	struct emu_pd *pd2 = NULL;
	int rc = 1;

	SCEN_CHECK(setup(&t, 10) == 0, "setup");
	SCEN_CHECK(emu_reg_mr(t.s.pd[1], 0, UINT64_MAX, SCEN_ACC_ALL, NULL, &mr) == -EMU_EINVAL,
		   "the whole address space without ON_DEMAND was accepted");
	SCEN_CHECK(emu_reg_mr(t.s.pd[1], 1, UINT64_MAX, ODP, NULL, &mr) == -EMU_EINVAL,
		   "an MR past the end of the address space was accepted");
	SCEN_CHECK_OK(emu_alloc_pd(t.s.emu[1], &pd2));
	SCEN_CHECK_OK(sim_reg_mr(t.s.dev[1], pd2, NULL, SIZE_MAX, ODP, &other));
	/* An implicit MR of another PD: its rkey is no key for this QP. */
	scen_fill(t.good[0]->p, 64, 10);
	SCEN_CHECK_OK(scen_post_rdma_key(t.s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED,
					 t.good[0], 0, 64, scen_addr(t.good[1], 0),
					 emu_mr_rkey(other), 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_REM_ACCESS_ERR, SCEN_ANY,
				 SCEN_ANY, "WRITE with another PD's implicit rkey"), "pd");
	for (int i = 0; i < 64; i++)
		SCEN_CHECK(t.good[1]->p[i] == 0, "written through a foreign key");
	rc = 0;
out:
	if (other)
		emu_dereg_mr(other);
	if (pd2)
		emu_dealloc_pd(pd2);
	scen_destroy(&t.s);
	return rc;
}

/* emu_advise_mr: errors, and a prefetch that spares the requester its stall. */
static int test_advise(void)
{
	struct ub t;
	struct scen_buf *plain, *ro;
	struct emu_counters c;
	struct emu_sge sge;
	struct emu_pd *pd2 = NULL;
	uint64_t f0;
	int rc = 1, rc2;

	SCEN_CHECK(setup(&t, 11) == 0, "setup");
	plain = scen_mr(&t.s, 0, LEN, SCEN_ACC_ALL);
	ro = scen_mr(&t.s, 0, LEN, EMU_ACCESS_ON_DEMAND);
	SCEN_CHECK(plain && ro, "buffers");
	sge = scen_sge(plain, 0, 100);
	SCEN_CHECK(emu_advise_mr(t.s.pd[0], &sge, 0) == -EMU_ENOENT, "plain MR advised");
	sge = scen_sge(t.good[0], 0, 100);
	sge.lkey ^= 0x100;
	SCEN_CHECK(emu_advise_mr(t.s.pd[0], &sge, 0) == -EMU_ENOENT, "bad key advised");
	sge = scen_sge(t.good[0], 0, LEN + 1);
	SCEN_CHECK(emu_advise_mr(t.s.pd[0], &sge, 0) == -EMU_EINVAL, "beyond the MR advised");
	sge = scen_sge(t.good[0], 0, 100);
	SCEN_CHECK(emu_advise_mr(t.s.pd[0], &sge, 0x80) == -EMU_EINVAL, "unknown flags");
	SCEN_CHECK_OK(emu_alloc_pd(t.s.emu[0], &pd2));
	rc2 = emu_advise_mr(pd2, &sge, 0);
	SCEN_CHECK_OK(emu_dealloc_pd(pd2));
	SCEN_CHECK(rc2 == -EMU_ENOENT, "another PD's MR advised: %d", rc2);
	sge = scen_sge(ro, 0, 100);
	SCEN_CHECK(emu_advise_mr(t.s.pd[0], &sge, EMU_ADVISE_WRITE) == -EMU_EACCES,
		   "PREFETCH_WRITE on a read-only MR");
	sge = scen_sge(t.bad[0], 0, 100);
	SCEN_CHECK(emu_advise_mr(t.s.pd[0], &sge, 0) == -EMU_EFAULT, "unbacked range advised");

	f0 = sim_fault_count(t.s.sim);
	sge = scen_sge(t.good[0], 0, LEN);
	SCEN_CHECK_OK(emu_advise_mr(t.s.pd[0], &sge, EMU_ADVISE_NO_FAULT));
	SCEN_CHECK(sim_fault_count(t.s.sim) == f0, "NO_FAULT faulted");
	SCEN_CHECK_OK(emu_advise_mr(t.s.pd[0], &sge, EMU_ADVISE_WRITE));
	SCEN_CHECK(sim_fault_count(t.s.sim) == f0 + 1, "prefetch asked %" PRIu64 " faults",
		   sim_fault_count(t.s.sim) - f0);
	sim_run(t.s.sim, SCEN_MS(1));
	emu_dev_counters(t.s.emu[0], &c);
	SCEN_CHECK(c.odp_prefetches == 1 && c.page_faults == 0, "prefetches %" PRIu64
		   " page_faults %" PRIu64, c.odp_prefetches, c.page_faults);
	sim_mr_make_present(t.s.dev[1], t.good[1]->mr, 0, LEN);
	SCEN_CHECK_OK(scen_post_rdma(t.s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, t.good[0],
				     0, LEN, t.good[1], 0, 0));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE, LEN,
				 "WRITE from prefetched memory"), "write");
	emu_dev_counters(t.s.emu[0], &c);
	SCEN_CHECK(c.page_faults == 0 && c.odp_stalls == 0, "prefetched memory faulted (%" PRIu64
		   " faults, %" PRIu64 " stalls)", c.page_faults, c.odp_stalls);
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "send-src", test_send_src },
	{ "read-dst", test_read_dst },
	{ "stalled", test_stalled },
	{ "write-dst", test_write_dst },
	{ "read-src", test_read_src },
	{ "atomic", test_atomic },
	{ "recv", test_recv },
	{ "implicit", test_implicit },
	{ "implicit-keys", test_implicit_keys },
	{ "advise", test_advise },
};

int main(int argc, char **argv)
{
	return scen_run_tests("odp_unbacked", tests, sizeof(tests) / sizeof(tests[0]), argc,
			      argv);
}
