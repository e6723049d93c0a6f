/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_mw.c - memory windows of type 1 (ibv_bind_mw) and type 2 (a
 * BIND_MW work request): the rights and range checks of a bind, remote access
 * inside and outside the window and beyond the rights it grants, the QP a type 2
 * window belongs to, and invalidation (LOCAL_INV, SEND_WITH_INV, re-bind,
 * dealloc) making the old key fail.
 *
 * Every failing remote access moves both QPs to ERR, so each case runs in a
 * fresh scenario. The windows live on side 1; side 0 accesses them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define WIN_OFF  4096u
#define WIN_LEN  8192u
#define MR_LEN   16384u
#define RW       (EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ)

struct mwt {
	struct scen s;
	struct scen_buf *loc;    /* side 0 */
	struct scen_buf *mr;     /* side 1, the window's MR */
	struct emu_mw *mw;
	uint32_t rkey;
};

static bool zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int setup(struct mwt *t, uint64_t seed, enum emu_mw_type type, uint32_t mr_access)
{
	if (scen_init(&t->s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL))
		return -1;
	t->loc = scen_mr(&t->s, 0, MR_LEN, SCEN_ACC_ALL);
	t->mr = scen_mr(&t->s, 1, MR_LEN, mr_access);
	t->mw = scen_alloc_mw(&t->s, 1, type);
	if (!t->loc || !t->mr || !t->mw)
		return -1;
	scen_fill(t->loc->p, MR_LEN, seed);
	return 0;
}

/* Bind (type by the window) over [off, off + len) of the MR with access; returns
 * the completion status, or -1 if the bind could not even be posted (printed). */
static int bind(struct mwt *t, enum emu_mw_type type, size_t off, uint64_t len,
		uint32_t access, uint64_t wr_id)
{
	struct emu_wc wc;
	int ret;

	if (type == EMU_MW_TYPE_2) {
		ret = scen_post_bind_mw(t->s.qp[1], wr_id, EMU_SEND_SIGNALED, t->mw, t->mr, off,
					len, access, &t->rkey);
	} else {
		struct emu_mw_bind_info info = {
			.mr = t->mr->mr, .addr = scen_addr(t->mr, off), .length = len,
			.access = access,
		};
		ret = emu_bind_mw_type1(t->s.qp[1], t->mw, wr_id, EMU_SEND_SIGNALED, &info,
					&t->rkey);
	}
	if (ret < 0) {
		printf("    bind refused at post: %d\n", ret);
		return -1;
	}
	if (scen_wait_wc(&t->s, t->s.scq[1], 1, &wc, SCEN_WAIT_NS) != 1)
		return -2;
	if (wc.wr_id != wr_id) {
		scen_print_wc(stdout, "    unexpected bind completion: ", &wc);
		return -2;
	}
	if (wc.status == EMU_WC_SUCCESS && wc.opcode != EMU_WC_BIND_MW) {
		scen_print_wc(stdout, "    bind completion with the wrong opcode: ", &wc);
		return -2;
	}
	if (wc.status == EMU_WC_SUCCESS && emu_mw_rkey(t->mw) != t->rkey) {
		printf("    window rkey 0x%x after bind, want 0x%x\n", emu_mw_rkey(t->mw),
		       t->rkey);
		return -2;
	}
	return (int)wc.status;
}

/* One remote access from qp (side 0) through rkey at window offset off. */
static uint32_t access_via(struct mwt *t, struct emu_qp *qp, struct sim_cq *cq,
			   uint32_t opcode, size_t off, uint32_t len, uint32_t rkey)
{
	struct emu_wc wc;
	int ret;

	if (opcode == EMU_WR_ATOMIC_FETCH_AND_ADD)
		ret = scen_post_atomic(qp, 0xacc, opcode, EMU_SEND_SIGNALED, t->loc, 0,
				       scen_addr(t->mr, off), rkey, 1, 0);
	else
		ret = scen_post_rdma_key(qp, 0xacc, opcode, EMU_SEND_SIGNALED, t->loc, 0, len,
					 scen_addr(t->mr, off), rkey, 0);
	if (ret) {
		printf("    post of the access failed: %d\n", ret);
		return UINT32_MAX;
	}
	if (scen_wait_wc(&t->s, cq, 1, &wc, SCEN_WAIT_NS) != 1 || wc.wr_id != 0xacc)
		return UINT32_MAX;
	return wc.status;
}

static uint32_t access_win(struct mwt *t, uint32_t opcode, size_t off, uint32_t len)
{
	return access_via(t, t->s.qp[0], t->s.scq[0], opcode, off, len, t->rkey);
}

/* ---- inside and outside the window ------------------------------------------------ */

static int run_inside(enum emu_mw_type type)
{
	struct mwt t;
	uint32_t st;
	int rc = 1;

	SCEN_CHECK(setup(&t, 1 + type, type, SCEN_ACC_ALL) == 0, "setup");
	SCEN_CHECK(bind(&t, type, WIN_OFF, WIN_LEN, RW | EMU_ACCESS_REMOTE_ATOMIC, 1) ==
		   EMU_WC_SUCCESS, "bind type %d", type);
	SCEN_CHECK(t.rkey != t.mr->rkey, "the window's rkey differs from the MR's");
	/* The whole window, first to last byte. */
	st = access_win(&t, EMU_WR_RDMA_WRITE, WIN_OFF, WIN_LEN);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "WRITE of the whole window: %s", scen_status_name(st));
	SCEN_CHECK(scen_memcmp(t.mr->p + WIN_OFF, t.loc->p, WIN_LEN, "window write") == 0,
		   "data");
	SCEN_CHECK(zero(t.mr->p, WIN_OFF) && zero(t.mr->p + WIN_OFF + WIN_LEN,
						   MR_LEN - WIN_OFF - WIN_LEN),
		   "nothing written outside the window");
	st = access_win(&t, EMU_WR_RDMA_READ, WIN_OFF + WIN_LEN - 100, 100);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "READ of the window's last bytes: %s",
		   scen_status_name(st));
	SCEN_CHECK(scen_memcmp(t.loc->p, t.mr->p + WIN_OFF + WIN_LEN - 100, 100,
			       "window read") == 0, "data");
	st = access_win(&t, EMU_WR_ATOMIC_FETCH_AND_ADD, WIN_OFF + 64, 8);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "atomic in the window: %s", scen_status_name(st));
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* A violation: bind with bind_access over the window, then one access that must
 * fail with REM_ACCESS_ERR and leave the MR as it was. */
static int run_violation(uint64_t seed, enum emu_mw_type type, uint32_t bind_access,
			 uint32_t opcode, size_t off, uint32_t len, const char *what)
{
	struct mwt t;
	uint32_t st;
	int rc = 1;

	SCEN_CHECK(setup(&t, seed, type, SCEN_ACC_ALL) == 0, "setup");
	SCEN_CHECK(bind(&t, type, WIN_OFF, WIN_LEN, bind_access, 1) == EMU_WC_SUCCESS, "bind");
	st = access_win(&t, opcode, off, len);
	SCEN_CHECK(st == EMU_WC_REM_ACCESS_ERR, "%s (type %d window): %s, want REM_ACCESS_ERR",
		   what, type, scen_status_name(st));
	SCEN_CHECK(zero(t.mr->p, MR_LEN), "%s: the MR was modified", what);
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int run_outside(enum emu_mw_type type)
{
	uint64_t seed = 10 * type;

	return run_violation(seed + 1, type, RW, EMU_WR_RDMA_WRITE, WIN_OFF + WIN_LEN - 10, 20,
			     "WRITE crossing the window's end") ||
	       run_violation(seed + 2, type, RW, EMU_WR_RDMA_WRITE, WIN_OFF - 1, 2,
			     "WRITE starting before the window (inside the MR)") ||
	       run_violation(seed + 3, type, RW, EMU_WR_RDMA_READ, 0, 64,
			     "READ of the MR outside the window") ||
	       run_violation(seed + 4, type, EMU_ACCESS_REMOTE_READ, EMU_WR_RDMA_WRITE,
			     WIN_OFF, 64, "WRITE through a read-only window") ||
	       run_violation(seed + 5, type, EMU_ACCESS_REMOTE_WRITE, EMU_WR_RDMA_READ,
			     WIN_OFF, 64, "READ through a write-only window") ||
	       run_violation(seed + 6, type, RW, EMU_WR_ATOMIC_FETCH_AND_ADD, WIN_OFF, 8,
			     "atomic through a window without REMOTE_ATOMIC");
}

static int test_type1_inside(void) { return run_inside(EMU_MW_TYPE_1); }
static int test_type2_inside(void) { return run_inside(EMU_MW_TYPE_2); }
static int test_type1_violations(void) { return run_outside(EMU_MW_TYPE_1); }
static int test_type2_violations(void) { return run_outside(EMU_MW_TYPE_2); }

/* ---- bind checks ------------------------------------------------------------------------ */

/* A bind that must fail: at post, or with MW_BIND_ERR (type 2 must complete). */
static int run_bad_bind(uint64_t seed, enum emu_mw_type type, uint32_t mr_access,
			size_t off, uint64_t len, uint32_t access, const char *what)
{
	struct mwt t;
	int st, rc = 1;

	SCEN_CHECK(setup(&t, seed, type, mr_access) == 0, "setup");
	st = bind(&t, type, off, len, access, 7);
	SCEN_CHECK(st != -2, "%s: the bind did not complete", what);
	if (type == EMU_MW_TYPE_2)
		SCEN_CHECK(st == EMU_WC_MW_BIND_ERR, "%s (type 2): %s, want MW_BIND_ERR", what,
			   st < 0 ? "refused at post" : scen_status_name((uint32_t)st));
	else
		SCEN_CHECK(st == -1 || st == EMU_WC_MW_BIND_ERR,
			   "%s (type 1): %s, want an error", what,
			   scen_status_name((uint32_t)st));
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int run_bind_checks(enum emu_mw_type type)
{
	uint64_t seed = 100 + 10 * type;
	uint32_t no_bind = SCEN_ACC_ALL & ~EMU_ACCESS_MW_BIND;
	/* REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE in the MR itself too. */
	uint32_t no_lw = EMU_ACCESS_REMOTE_READ | EMU_ACCESS_MW_BIND;

	return run_bad_bind(seed + 1, type, SCEN_ACC_ALL, MR_LEN - 100, 200, RW,
			    "bind past the MR's end") ||
	       run_bad_bind(seed + 2, type, no_bind, 0, 4096, RW,
			    "bind to an MR without MW_BIND") ||
	       run_bad_bind(seed + 3, type, no_lw, 0, 4096, EMU_ACCESS_REMOTE_WRITE,
			    "REMOTE_WRITE window on an MR without LOCAL_WRITE") ||
	       run_bad_bind(seed + 4, type, no_lw, 0, 4096, EMU_ACCESS_REMOTE_ATOMIC,
			    "REMOTE_ATOMIC window on an MR without LOCAL_WRITE");
}

static int test_type1_bind_checks(void) { return run_bind_checks(EMU_MW_TYPE_1); }
static int test_type2_bind_checks(void) { return run_bind_checks(EMU_MW_TYPE_2); }

/* ---- invalidation -------------------------------------------------------------------- */

static int test_type2_local_inv(void)
{
	struct mwt t;
	struct emu_wc wc;
	uint32_t st;
	int rc = 1;

	SCEN_CHECK(setup(&t, 200, EMU_MW_TYPE_2, SCEN_ACC_ALL) == 0, "setup");
	SCEN_CHECK(bind(&t, EMU_MW_TYPE_2, WIN_OFF, WIN_LEN, RW, 1) == EMU_WC_SUCCESS, "bind");
	st = access_win(&t, EMU_WR_RDMA_WRITE, WIN_OFF, 64);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "WRITE before invalidation: %s", scen_status_name(st));
	SCEN_CHECK_OK(scen_post_local_inv(t.s.qp[1], 2, EMU_SEND_SIGNALED, t.rkey));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[1], &wc, 2, EMU_WC_SUCCESS, EMU_WC_LOCAL_INV,
				 SCEN_ANY, "LOCAL_INV of the window"), "local invalidate");
	memset(t.mr->p, 0, MR_LEN);
	st = access_win(&t, EMU_WR_RDMA_WRITE, WIN_OFF, 64);
	SCEN_CHECK(st == EMU_WC_REM_ACCESS_ERR, "WRITE after invalidation: %s",
		   scen_status_name(st));
	SCEN_CHECK(zero(t.mr->p, MR_LEN), "memory untouched after invalidation");
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* After LOCAL_INV a type 2 window can be bound again, with a new key; the old key
 * stays dead. */
static int test_type2_rebind(void)
{
	struct mwt t;
	uint32_t old, st;
	int rc = 1;

	SCEN_CHECK(setup(&t, 210, EMU_MW_TYPE_2, SCEN_ACC_ALL) == 0, "setup");
	SCEN_CHECK(bind(&t, EMU_MW_TYPE_2, WIN_OFF, WIN_LEN, RW, 1) == EMU_WC_SUCCESS, "bind");
	old = t.rkey;
	SCEN_CHECK_OK(scen_post_local_inv(t.s.qp[1], 2, EMU_SEND_SIGNALED, old));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[1], NULL, 2, EMU_WC_SUCCESS, EMU_WC_LOCAL_INV,
				 SCEN_ANY, "LOCAL_INV"), "invalidate");
	SCEN_CHECK(bind(&t, EMU_MW_TYPE_2, 0, 4096, RW, 3) == EMU_WC_SUCCESS, "bind again");
	SCEN_CHECK(t.rkey != old, "the new bind has a new key (0x%x)", t.rkey);
	st = access_win(&t, EMU_WR_RDMA_WRITE, 100, 64);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "WRITE with the new key: %s", scen_status_name(st));
	st = access_via(&t, t.s.qp[0], t.s.scq[0], EMU_WR_RDMA_WRITE, 200, 64, old);
	SCEN_CHECK(st == EMU_WC_REM_ACCESS_ERR, "WRITE with the old key: %s",
		   scen_status_name(st));
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static int test_type2_send_with_inv(void)
{
	struct mwt t;
	struct scen_buf *rbuf;
	struct emu_wc wc;
	uint32_t st;
	int rc = 1;

	SCEN_CHECK(setup(&t, 220, EMU_MW_TYPE_2, SCEN_ACC_ALL) == 0, "setup");
	rbuf = scen_mr(&t.s, 1, 256, SCEN_ACC_ALL);
	SCEN_CHECK(rbuf != NULL, "receive buffer");
	SCEN_CHECK(bind(&t, EMU_MW_TYPE_2, WIN_OFF, WIN_LEN, RW, 1) == EMU_WC_SUCCESS, "bind");
	SCEN_CHECK_OK(scen_post_recv(t.s.qp[1], 0x55, rbuf, 0, 256));
	SCEN_CHECK_OK(scen_post_send(t.s.qp[0], 0x66, EMU_WR_SEND_WITH_INV, EMU_SEND_SIGNALED,
				     t.loc, 0, 32, t.rkey));
	SCEN_CHECK(scen_wait_one(&t.s, t.s.rcq[1], &wc, 0x55, EMU_WC_SUCCESS, EMU_WC_RECV, 32,
				 "SEND_WITH_INV"), "receive");
	SCEN_CHECK((wc.wc_flags & EMU_WC_WITH_INV) && wc.invalidated_rkey == t.rkey,
		   "flags 0x%x invalidated_rkey 0x%x, want 0x%x", wc.wc_flags,
		   wc.invalidated_rkey, t.rkey);
	SCEN_CHECK(scen_wait_one(&t.s, t.s.scq[0], NULL, 0x66, EMU_WC_SUCCESS, EMU_WC_SEND,
				 SCEN_ANY, "SEND_WITH_INV"), "send");
	st = access_win(&t, EMU_WR_RDMA_READ, WIN_OFF, 64);
	SCEN_CHECK(st == EMU_WC_REM_ACCESS_ERR, "READ after remote invalidation: %s",
		   scen_status_name(st));
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* A type 2 window belongs to the QP that bound it: another QP of the same PD
 * may not use it. */
static int test_type2_other_qp(void)
{
	struct mwt t;
	struct emu_qp *a1, *a0;
	struct sim_cq *cq0;
	uint32_t st;
	int rc = 1;

	SCEN_CHECK(setup(&t, 230, EMU_MW_TYPE_2, SCEN_ACC_ALL) == 0, "setup");
	cq0 = sim_create_cq(t.s.dev[0], 16);
	SCEN_CHECK(cq0 != NULL, "CQ");
	a0 = scen_create_qp(&t.s, 0, EMU_QPT_RC, cq0, cq0, NULL);
	a1 = scen_create_qp(&t.s, 1, EMU_QPT_RC, t.s.scq[1], t.s.rcq[1], NULL);
	SCEN_CHECK(a0 && a1, "second QP pair");
	SCEN_CHECK_OK(scen_qp_connect(&t.s, 0, a0, emu_qp_num(a1), 0x100, 0x200));
	SCEN_CHECK_OK(scen_qp_connect(&t.s, 1, a1, emu_qp_num(a0), 0x200, 0x100));
	SCEN_CHECK(bind(&t, EMU_MW_TYPE_2, WIN_OFF, WIN_LEN, RW, 1) == EMU_WC_SUCCESS,
		   "bind through qp[1]");
	st = access_via(&t, a0, cq0, EMU_WR_RDMA_WRITE, WIN_OFF, 64, t.rkey);
	SCEN_CHECK(st == EMU_WC_REM_ACCESS_ERR, "WRITE to a type 2 window through a QP it is "
		   "not bound to: %s", scen_status_name(st));
	SCEN_CHECK(zero(t.mr->p, MR_LEN), "MR untouched");
	st = access_win(&t, EMU_WR_RDMA_WRITE, WIN_OFF, 64);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "WRITE through the window's own QP: %s",
		   scen_status_name(st));
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

/* A type 1 window serves every QP of its PD; a re-bind retires the old key; a
 * dealloc retires the window; the MR cannot go while a window is bound. */
static int test_type1_lifecycle(void)
{
	struct mwt t;
	struct emu_qp *a1, *a0;
	struct sim_cq *cq0;
	uint32_t old, st;
	int rc = 1, ret;

	SCEN_CHECK(setup(&t, 240, EMU_MW_TYPE_1, SCEN_ACC_ALL) == 0, "setup");
	cq0 = sim_create_cq(t.s.dev[0], 16);
	SCEN_CHECK(cq0 != NULL, "CQ");
	a0 = scen_create_qp(&t.s, 0, EMU_QPT_RC, cq0, cq0, NULL);
	a1 = scen_create_qp(&t.s, 1, EMU_QPT_RC, t.s.scq[1], t.s.rcq[1], NULL);
	SCEN_CHECK(a0 && a1, "second QP pair");
	SCEN_CHECK_OK(scen_qp_connect(&t.s, 0, a0, emu_qp_num(a1), 0x100, 0x200));
	SCEN_CHECK_OK(scen_qp_connect(&t.s, 1, a1, emu_qp_num(a0), 0x200, 0x100));
	SCEN_CHECK(bind(&t, EMU_MW_TYPE_1, WIN_OFF, WIN_LEN, RW, 1) == EMU_WC_SUCCESS, "bind");
	st = access_via(&t, a0, cq0, EMU_WR_RDMA_WRITE, WIN_OFF, 64, t.rkey);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "type 1 window through another QP of the PD: %s",
		   scen_status_name(st));
	ret = emu_dereg_mr(t.mr->mr);
	SCEN_CHECK(ret == -EMU_EBUSY, "dereg of an MR with a bound window returned %d, want "
		   "-EBUSY", ret);

	old = t.rkey;
	SCEN_CHECK(bind(&t, EMU_MW_TYPE_1, 0, 4096, RW, 2) == EMU_WC_SUCCESS, "re-bind");
	SCEN_CHECK(t.rkey != old, "re-bind gives a new key");
	st = access_win(&t, EMU_WR_RDMA_WRITE, 0, 64);
	SCEN_CHECK(st == EMU_WC_SUCCESS, "WRITE with the new key: %s", scen_status_name(st));
	st = access_via(&t, a0, cq0, EMU_WR_RDMA_WRITE, WIN_OFF, 64, old);
	SCEN_CHECK(st == EMU_WC_REM_ACCESS_ERR, "WRITE with the key of the previous bind: %s",
		   scen_status_name(st));
	SCEN_CHECK_OK(scen_dealloc_mw(&t.s, t.mw));
	t.mw = NULL;
	st = access_win(&t, EMU_WR_RDMA_WRITE, 0, 64);
	SCEN_CHECK(st == EMU_WC_REM_ACCESS_ERR, "WRITE through a deallocated window: %s",
		   scen_status_name(st));
	rc = 0;
out:
	scen_destroy(&t.s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "type1_inside", test_type1_inside },
	{ "type2_inside", test_type2_inside },
	{ "type1_violations", test_type1_violations },
	{ "type2_violations", test_type2_violations },
	{ "type1_bind_checks", test_type1_bind_checks },
	{ "type2_bind_checks", test_type2_bind_checks },
	{ "type2_local_inv", test_type2_local_inv },
	{ "type2_rebind", test_type2_rebind },
	{ "type2_send_with_inv", test_type2_send_with_inv },
	{ "type2_other_qp", test_type2_other_qp },
	{ "type1_lifecycle", test_type1_lifecycle },
};

int main(int argc, char **argv)
{
	return scen_run_tests("mw", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
