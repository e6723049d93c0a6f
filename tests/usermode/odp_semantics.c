/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/odp_semantics.c - what on-demand paging means to a program, in
 * user mode (run under `softhca run`; tests/usermode/odp.sh runs every mode).
 *
 * Two RC QPs of one device connected to each other through GID 0 (path MTU
 * 1024: multi-packet messages), ODP MRs over mmap'ed memory, messages at odd
 * offsets across page boundaries (where Linux rxe 7.2 misplaces ODP data).
 *
 * Usage: odp_semantics MODE
 *   remap     RDMA WRITE, READ and SEND reach the memory mapped at the address
 *             now: unmap + map again at the same address, the next RDMA sees the
 *             new memory, and the data the device wrote lands in it.
 *   errors    an unmapped or read-only page of an ODP MR: RDMA WRITE and READ
 *             complete REM_ACCESS_ERR, a SEND into it completes LOC_PROT_ERR on
 *             the receiver and REM_OP_ERR on the sender, a SEND from it
 *             LOC_PROT_ERR; the process lives, and new memory mapped there
 *             afterwards works again.
 *   prefetch  ibv_advise_mr(PREFETCH_WRITE, FLUSH) over both MRs, then traffic:
 *             the script checks that no page fault happened (--stats).
 *   fault     the same traffic without the prefetch: faults happen.
 *   traffic   WRITE, READ, SEND and both atomics, 200 rounds at odd offsets, every
 *             byte checked (run with --odp-invalidate: correct data anyway).
 *   implicit  the traffic mode over implicit ODP MRs (ibv_reg_mr(pd, NULL,
 *             SIZE_MAX)), plus the verbs' argument checks of ODP and advise_mr.
 * Exit 0 when every check of the mode passed; each check prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "loop_qp.h"

#define PAGE 4096u
#define REGION_PAGES 8u
#define REGION (REGION_PAGES * PAGE)
#define SPIN_LIMIT 200000000L
#define ROUNDS 200

#define ACCESS_ALL (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
		    IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC)

struct env {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	union ibv_gid gid;
	struct ibv_cq *cq_a, *cq_b;   /* one CQ per side, send and receive */
	struct ibv_qp *a, *b;         /* a requests, b responds */
};

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
	if (!ok)
		failures++;
}

static int die(const char *what)
{
	fprintf(stderr, "odp_semantics: %s (errno %d)\n", what, errno);
	return 2;
}

/* ---- setup ------------------------------------------------------------------ */

/* The QPs of this test: GID 0 of the one device, these rights. */
static int to_rts(struct ibv_qp *qp, uint32_t dest_qpn, const union ibv_gid *gid)
{
	return loop_qp_to_rts(qp, dest_qpn, gid, IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
				      IBV_ACCESS_REMOTE_ATOMIC, 4);
}

/* A fresh connected pair (an error leaves the old one in the error state). */
static int new_pair(struct env *e)
{
	if (e->a)
		ibv_destroy_qp(e->a);
	if (e->b)
		ibv_destroy_qp(e->b);
	e->a = loop_qp_create(e->pd, e->cq_a, e->cq_a, NULL, 8, 8);
	e->b = loop_qp_create(e->pd, e->cq_b, e->cq_b, NULL, 8, 8);
	if (!e->a || !e->b)
		return -1;
	return to_rts(e->a, e->b->qp_num, &e->gid) || to_rts(e->b, e->a->qp_num, &e->gid) ? -1 : 0;
}

static int env_open(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->ctx = loop_open_device(&e->gid);
	if (!e->ctx)
		return -1;
	e->pd = ibv_alloc_pd(e->ctx);
	e->cq_a = ibv_create_cq(e->ctx, 64, NULL, NULL, 0);
	e->cq_b = ibv_create_cq(e->ctx, 64, NULL, NULL, 0);
	if (!e->pd || !e->cq_a || !e->cq_b)
		return -1;
	return new_pair(e);
}

static void env_close(struct env *e)
{
	ibv_destroy_qp(e->a);
	ibv_destroy_qp(e->b);
	ibv_destroy_cq(e->cq_a);
	ibv_destroy_cq(e->cq_b);
	ibv_dealloc_pd(e->pd);
	ibv_close_device(e->ctx);
}

static uint8_t *map_region(void *at)
{
	void *p = mmap(at, REGION, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct ibv_mr *reg_odp(struct env *e, void *addr, size_t len)
{
	return ibv_reg_mr(e->pd, addr, len, ACCESS_ALL | IBV_ACCESS_ON_DEMAND);
}

/* ---- work requests ------------------------------------------------------------- */

/* The next completion of cq; its status, or -1 if none came. */
static int wait_wc(struct ibv_cq *cq, struct ibv_wc *wc)
{
	for (long spins = 0; spins < SPIN_LIMIT; spins++) {
		int n = ibv_poll_cq(cq, 1, wc);

		if (n < 0)
			return -1;
		if (n == 1)
			return (int)wc->status;
	}
	return -1;
}

/* One RDMA or atomic WR from a; the status of its completion. */
static int rdma(struct env *e, enum ibv_wr_opcode op, struct ibv_mr *lmr, void *laddr,
		uint32_t len, struct ibv_mr *rmr, void *raddr, uint64_t add, uint64_t swap)
{
	struct ibv_sge s = { (uintptr_t)laddr, len, lmr->lkey };
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;

	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &s;
	wr.num_sge = 1;
	wr.opcode = op;
	wr.send_flags = IBV_SEND_SIGNALED;
	if (op == IBV_WR_ATOMIC_FETCH_AND_ADD || op == IBV_WR_ATOMIC_CMP_AND_SWP) {
		wr.wr.atomic.remote_addr = (uintptr_t)raddr;
		wr.wr.atomic.rkey = rmr->rkey;
		wr.wr.atomic.compare_add = add;
		wr.wr.atomic.swap = swap;
	} else {
		wr.wr.rdma.remote_addr = (uintptr_t)raddr;
		wr.wr.rdma.rkey = rmr->rkey;
	}
	if (ibv_post_send(e->a, &wr, &bad))
		return -1;
	return wait_wc(e->cq_a, &wc);
}

/* A SEND from a to b; *recv_status: the receive completion's (-1: none). */
static int send_msg(struct env *e, struct ibv_mr *smr, void *saddr, struct ibv_mr *rmr,
		    void *raddr, uint32_t len, int *recv_status, uint32_t *byte_len)
{
	struct ibv_sge ss = { (uintptr_t)saddr, len, smr->lkey };
	struct ibv_sge rs = { (uintptr_t)raddr, len, rmr->lkey };
	struct ibv_recv_wr rwr = { .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct ibv_send_wr swr, *sbad;
	struct ibv_wc wc;
	int st;

	memset(&swr, 0, sizeof(swr));
	swr.sg_list = &ss;
	swr.num_sge = 1;
	swr.opcode = IBV_WR_SEND;
	swr.send_flags = IBV_SEND_SIGNALED;
	if (ibv_post_recv(e->b, &rwr, &rbad) || ibv_post_send(e->a, &swr, &sbad))
		return -1;
	st = wait_wc(e->cq_a, &wc);
	*recv_status = wait_wc(e->cq_b, &wc);
	if (byte_len)
		*byte_len = wc.byte_len;
	return st;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 12));
}

static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
	return memcmp(a, b, n) == 0;
}

/* ---- modes -------------------------------------------------------------------------- */

/* Unmap + map again at the same address: the device reaches the new memory. */
static void mode_remap(struct env *e)
{
	uint8_t *r = map_region(NULL), *l = map_region(NULL);
	uint8_t want[REGION];
	struct ibv_mr *rmr = r ? reg_odp(e, r, REGION) : NULL;
	struct ibv_mr *lmr = l ? reg_odp(e, l, REGION) : NULL;
	uint32_t off = 100, len = 3 * PAGE + 77, got_len = 0;
	int rs;

	if (!rmr || !lmr) {
		check(0, "remap: ODP MRs over mmap'ed memory");
		return;
	}
	fill(l, REGION, 1);
	check(rdma(e, IBV_WR_RDMA_WRITE, lmr, l, len, rmr, r + off, 0, 0) == IBV_WC_SUCCESS &&
	      same(r + off, l, len), "remap: RDMA WRITE at an odd offset over 4 pages lands");
	/* The same address, new memory: its contents are what the device must see. */
	if (munmap(r, REGION) || map_region(r) != r) {
		check(0, "remap: unmap and map again at the same address");
		return;
	}
	fill(r, REGION, 2);
	memcpy(want, r, REGION);
	memset(l, 0, REGION);
	check(rdma(e, IBV_WR_RDMA_READ, lmr, l, len, rmr, r + off, 0, 0) == IBV_WC_SUCCESS &&
	      same(l, want + off, len), "remap: RDMA READ after the remap returns the new memory");
	fill(l, REGION, 3);
	check(rdma(e, IBV_WR_RDMA_WRITE, lmr, l + 5, len, rmr, r + off, 0, 0) == IBV_WC_SUCCESS &&
	      same(r + off, l + 5, len) && same(r, want, off),
	      "remap: RDMA WRITE after the remap lands in the new memory, nothing else moves");
	/* The requester's own buffer remapped too: a SEND gathers the new bytes. */
	if (munmap(l, REGION) || map_region(l) != l) {
		check(0, "remap: unmap and map again the local buffer");
		return;
	}
	fill(l, REGION, 4);
	memset(r, 0, REGION);
	check(send_msg(e, lmr, l + 3, rmr, r + 1, len, &rs, &got_len) == IBV_WC_SUCCESS &&
	      rs == IBV_WC_SUCCESS && got_len == len && same(r + 1, l + 3, len),
	      "remap: SEND from a remapped buffer into a remapped buffer");
	ibv_dereg_mr(rmr);
	ibv_dereg_mr(lmr);
	munmap(r, REGION);
	munmap(l, REGION);
}

static int expect_status(int got, int want, const char *what)
{
	if (got != want)
		printf("      %s: status %d (%s), expected %s\n", what, got,
		       got >= 0 ? ibv_wc_status_str((enum ibv_wc_status)got) : "none",
		       ibv_wc_status_str((enum ibv_wc_status)want));
	return got == want;
}

/* Access errors, never a crash. */
static void mode_errors(struct env *e)
{
	uint8_t *r = map_region(NULL), *l = map_region(NULL);
	struct ibv_mr *rmr = r ? reg_odp(e, r, REGION) : NULL;
	struct ibv_mr *lmr = l ? reg_odp(e, l, REGION) : NULL;
	uint8_t *hole = r + 2 * PAGE;
	int rs = -1, st;

	if (!rmr || !lmr || munmap(hole, PAGE)) {
		check(0, "errors: ODP MRs, and a page unmapped in the middle of one");
		return;
	}
	fill(l, REGION, 5);
	st = rdma(e, IBV_WR_RDMA_WRITE, lmr, l, 2 * PAGE, rmr, hole - PAGE + 10, 0, 0);
	check(expect_status(st, IBV_WC_REM_ACCESS_ERR, "WRITE"),
	      "errors: RDMA WRITE over an unmapped page: REM_ACCESS_ERR");
	new_pair(e);
	st = rdma(e, IBV_WR_RDMA_READ, lmr, l, PAGE, rmr, hole + 8, 0, 0);
	check(expect_status(st, IBV_WC_REM_ACCESS_ERR, "READ"),
	      "errors: RDMA READ of an unmapped page: REM_ACCESS_ERR");
	new_pair(e);
	st = rdma(e, IBV_WR_ATOMIC_FETCH_AND_ADD, lmr, l, 8, rmr, hole + 64, 1, 0);
	check(expect_status(st, IBV_WC_REM_ACCESS_ERR, "atomic"),
	      "errors: atomic on an unmapped page: REM_ACCESS_ERR");
	new_pair(e);
	st = send_msg(e, lmr, l, rmr, hole + 1, 100, &rs, NULL);
	check(expect_status(st, IBV_WC_REM_OP_ERR, "sender") &&
	      expect_status(rs, IBV_WC_LOC_PROT_ERR, "receiver"),
	      "errors: SEND into an unmapped page: receiver LOC_PROT_ERR, sender REM_OP_ERR");
	new_pair(e);
	if (munmap(l + PAGE, PAGE)) {
		check(0, "errors: unmap a page of the local buffer");
		return;
	}
	st = rdma(e, IBV_WR_RDMA_WRITE, lmr, l + 100, PAGE, rmr, r, 0, 0);
	check(expect_status(st, IBV_WC_LOC_PROT_ERR, "requester"),
	      "errors: RDMA WRITE gathering from an unmapped page: LOC_PROT_ERR");
	new_pair(e);
	/* Present before, read-only now: a write must not go through. The page is
	 * read-only before the device ever saw it (an mprotect of a present page
	 * is the documented gap, odp.h). */
	if (mprotect(r + 5 * PAGE, PAGE, PROT_READ)) {
		check(0, "errors: mprotect a page read-only");
		return;
	}
	st = rdma(e, IBV_WR_RDMA_WRITE, lmr, l + 2 * PAGE, 64, rmr, r + 5 * PAGE, 0, 0);
	check(expect_status(st, IBV_WC_REM_ACCESS_ERR, "WRITE"),
	      "errors: RDMA WRITE into a read-only page: REM_ACCESS_ERR");
	new_pair(e);
	st = rdma(e, IBV_WR_RDMA_READ, lmr, l + 2 * PAGE, 64, rmr, r + 5 * PAGE, 0, 0);
	check(expect_status(st, IBV_WC_SUCCESS, "READ"),
	      "errors: RDMA READ of that read-only page works");
	/* New memory where the hole was: the device reaches it again. */
	if (mmap(hole, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) != hole) {
		check(0, "errors: map the hole again");
		return;
	}
	st = rdma(e, IBV_WR_RDMA_WRITE, lmr, l + 3 * PAGE, PAGE, rmr, hole, 0, 0);
	check(st == IBV_WC_SUCCESS && same(hole, l + 3 * PAGE, PAGE),
	      "errors: memory mapped again where the hole was is reached");
	check(1, "errors: the process is alive after every access error");
	ibv_dereg_mr(rmr);
	ibv_dereg_mr(lmr);
	munmap(r, REGION);
	munmap(l, REGION);
}

/* Every operation at odd offsets, every byte checked. */
static void traffic(struct env *e, struct ibv_mr *lmr, uint8_t *l, struct ibv_mr *rmr, uint8_t *r,
		    const char *name)
{
	int bad = 0;
	char what[128];

	for (int i = 0; i < ROUNDS && !bad; i++) {
		uint32_t off = (uint32_t)(i * 37) % PAGE, len = 1 + (uint32_t)(i * 997) % (3 * PAGE);
		uint64_t *word = (uint64_t *)(void *)(r + 6 * PAGE + (i % 64) * 8);
		uint64_t before = *word, *result = (uint64_t *)(void *)(l + 6 * PAGE);
		int rs = -1, st;
		uint32_t got_len = 0;

		fill(l, 3 * PAGE + PAGE, (unsigned)i);
		st = rdma(e, IBV_WR_RDMA_WRITE, lmr, l, len, rmr, r + off, 0, 0);
		if (st != IBV_WC_SUCCESS || !same(r + off, l, len))
			bad = 1;
		memset(l + 3 * PAGE, 0, PAGE);
		fill(r + off, len > PAGE ? PAGE : len, (unsigned)i + 1000);
		if (!bad && (rdma(e, IBV_WR_RDMA_READ, lmr, l + 3 * PAGE, len > PAGE ? PAGE : len,
				  rmr, r + off, 0, 0) != IBV_WC_SUCCESS ||
			     !same(l + 3 * PAGE, r + off, len > PAGE ? PAGE : len)))
			bad = 2;
		if (!bad && (send_msg(e, lmr, l + 1, rmr, r + off + 3, len, &rs, &got_len) !=
			     IBV_WC_SUCCESS || rs != IBV_WC_SUCCESS || got_len != len ||
			     !same(r + off + 3, l + 1, len)))
			bad = 3;
		if (!bad && (rdma(e, IBV_WR_ATOMIC_FETCH_AND_ADD, lmr, result, 8, rmr, word, 5, 0) !=
			     IBV_WC_SUCCESS || *result != before || *word != before + 5))
			bad = 4;
		if (!bad && (rdma(e, IBV_WR_ATOMIC_CMP_AND_SWP, lmr, result, 8, rmr, word,
				  before + 5, (uint64_t)i) != IBV_WC_SUCCESS ||
			     *result != before + 5 || *word != (uint64_t)i))
			bad = 5;
		if (bad == 1)
			printf("      round %d (offset %u, length %u): WRITE status %d (%s)%s\n", i,
			       off, len, st, st >= 0 ? ibv_wc_status_str((enum ibv_wc_status)st) :
			       "no completion", st == IBV_WC_SUCCESS ? ", data wrong" : "");
		else if (bad)
			printf("      round %d (offset %u, length %u): %s wrong\n", i, off, len,
			       (const char *[]){ "", "WRITE", "READ", "SEND", "fetch-add",
						 "cmp-swap" }[bad]);
	}
	snprintf(what, sizeof(what), "%s: %d rounds of WRITE, READ, SEND, fetch-add, cmp-swap "
		 "at odd offsets, every byte right", name, ROUNDS);
	check(!bad, what);
}

static void mode_traffic(struct env *e, int prefetch)
{
	uint8_t *r = map_region(NULL), *l = map_region(NULL);
	struct ibv_mr *rmr = r ? reg_odp(e, r, REGION) : NULL;
	struct ibv_mr *lmr = l ? reg_odp(e, l, REGION) : NULL;

	if (!rmr || !lmr) {
		check(0, "traffic: ODP MRs");
		return;
	}
	if (prefetch) {
		struct ibv_sge sg[2] = { { (uintptr_t)r, REGION, rmr->lkey },
					 { (uintptr_t)l, REGION, lmr->lkey } };

		check(ibv_advise_mr(e->pd, IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE,
				    IBV_ADVISE_MR_FLAG_FLUSH, sg, 2) == 0,
		      "prefetch: ibv_advise_mr(PREFETCH_WRITE, FLUSH) over both MRs");
	}
	traffic(e, lmr, l, rmr, r, prefetch ? "prefetch" : "traffic");
	ibv_dereg_mr(rmr);
	ibv_dereg_mr(lmr);
	munmap(r, REGION);
	munmap(l, REGION);
}

static void check_arguments(struct env *e, struct ibv_mr *imr)
{
	uint8_t buf[64];
	struct ibv_mr *plain = ibv_reg_mr(e->pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	struct ibv_sge sg = { (uintptr_t)buf, sizeof(buf), plain ? plain->lkey : 0 };
	struct ibv_sge isg = { (uintptr_t)buf, sizeof(buf), imr->lkey };

	errno = 0;
	check(!ibv_reg_mr(e->pd, NULL, SIZE_MAX, IBV_ACCESS_LOCAL_WRITE) && errno == EINVAL,
	      "implicit: the whole address space without ON_DEMAND is EINVAL");
	check(!ibv_reg_mr(e->pd, buf, sizeof(buf), IBV_ACCESS_HUGETLB) && errno == EINVAL,
	      "implicit: HUGETLB without ON_DEMAND is EINVAL");
	check(plain && ibv_advise_mr(e->pd, IBV_ADVISE_MR_ADVICE_PREFETCH,
				     IBV_ADVISE_MR_FLAG_FLUSH, &sg, 1) == ENOENT,
	      "advise: a non-ODP MR, synchronous: ENOENT (as mlx5)");
	check(plain && ibv_advise_mr(e->pd, IBV_ADVISE_MR_ADVICE_PREFETCH, 0, &sg, 1) == EINVAL,
	      "advise: a non-ODP MR, asynchronous: EINVAL (as mlx5)");
	check(ibv_advise_mr(e->pd, (enum ibv_advise_mr_advice)7, 0, &isg, 1) == EINVAL,
	      "advise: unknown advice: EINVAL");
	check(ibv_advise_mr(e->pd, IBV_ADVISE_MR_ADVICE_PREFETCH, 0x10, &isg, 1) == EINVAL,
	      "advise: unknown flag: EINVAL");
	check(ibv_advise_mr(e->pd, IBV_ADVISE_MR_ADVICE_PREFETCH, 0, &isg, 0) == EINVAL,
	      "advise: no SGE: EINVAL");
	check(ibv_advise_mr(e->pd, IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT,
			    IBV_ADVISE_MR_FLAG_FLUSH, &isg, 1) == 0 &&
	      ibv_advise_mr(e->pd, IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE, 0, &isg, 1) == 0,
	      "advise: NO_FAULT synchronous and WRITE asynchronous on an implicit MR: 0");
	if (plain)
		ibv_dereg_mr(plain);
}

static void mode_implicit(struct env *e)
{
	uint8_t *r = map_region(NULL), *l = map_region(NULL);
	struct ibv_mr *imr = ibv_reg_mr(e->pd, NULL, SIZE_MAX, ACCESS_ALL | IBV_ACCESS_ON_DEMAND);

	check(imr && imr->addr == NULL && imr->length == SIZE_MAX,
	      "implicit: ibv_reg_mr(pd, NULL, SIZE_MAX, ON_DEMAND) gives an MR");
	if (!imr || !r || !l)
		return;
	/* One MR for both sides: its keys reach every address of the process. */
	traffic(e, imr, l, imr, r, "implicit");
	check_arguments(e, imr);
	ibv_dereg_mr(imr);
	munmap(r, REGION);
	munmap(l, REGION);
}

int main(int argc, char **argv)
{
	struct env e;
	const char *mode = argc == 2 ? argv[1] : "";

	if (strcmp(mode, "remap") && strcmp(mode, "errors") && strcmp(mode, "prefetch") &&
	    strcmp(mode, "fault") && strcmp(mode, "traffic") && strcmp(mode, "implicit"))
		return die("usage: odp_semantics remap|errors|prefetch|fault|traffic|implicit");
	if (env_open(&e))
		return die("cannot open the device, or create the PD, CQs and QPs");
	if (!strcmp(mode, "remap"))
		mode_remap(&e);
	else if (!strcmp(mode, "errors"))
		mode_errors(&e);
	else if (!strcmp(mode, "implicit"))
		mode_implicit(&e);
	else
		mode_traffic(&e, !strcmp(mode, "prefetch"));
	env_close(&e);
	printf("odp_semantics %s: %d failure(s)\n", mode, failures);
	return failures ? 1 : 0;
}
