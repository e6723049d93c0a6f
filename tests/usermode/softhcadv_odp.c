/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/softhcadv_odp.c - on-demand paging driven from a program through
 * softhca direct verbs (softhcadv.h): the fault-injection knobs of `softhca run
 * --odp-*` changed at run time, a deterministic invalidation of part of an ODP
 * MR, the device's view of each page, and the ODP counters.
 *
 * Usage:
 *   softhcadv_odp PREFAULT DELAY_US INVALIDATE   under `softhca run` started with
 *       those --odp-* settings (PREFAULT 0 or 1), which the program first reads
 *       back. Two RC QPs of one device, a -> b (path MTU 1024), RDMA WRITE and
 *       READ of 8-page ODP regions of b from a pinned buffer of a. Each knob must
 *       change what happens:
 *         first touch   pages absent, a WRITE faults (RNR NAKs, 8 pages made
 *                       present), pages present-rw after;
 *         prefault      a fresh region: no fault, 8 first-touch pages; one page
 *                       invalidated still faults under prefault;
 *         invalidate    softhcadv_mr_invalidate of 3 pages: exactly those become
 *                       "invalidated" and exactly those fault at the next WRITE
 *                       (and READ), the data right every time;
 *         fault delay   a WRITE takes at least the delay; a fault queued under a
 *                       10 s delay is released when the delay is set to 0;
 *         one in N      N=2 invalidates and faults, N=0 does neither; the same
 *                       seed (softhcadv_set_seed) makes the same choices;
 *         page states   present-ro (a read-only MR), failed (an unmapped page,
 *                       seen while the requester waits out a long RNR timer,
 *                       then REM_ACCESS_ERR and the page absent again), implicit
 *                       and iova MRs named by process address;
 *       and bad arguments answer EINVAL (EOPNOTSUPP for an unknown knob) with
 *       nothing changed.
 *   softhcadv_odp --not-softhca   on Debian's libibverbs: every ODP call answers
 *       EOPNOTSUPP, softhcadv_page_state_name still works.
 *
 * Prints PASS/FAIL per check and a summary; exit 0 on success, 1 on a failed
 * check, 2 when it cannot run.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "loop_qp.h"

#include "softhca/softhcadv.h"

#define PAGE 4096u
#define PAGES 8u
#define REGION (PAGES * PAGE)
#define WAIT_NS (60ull * 1000000000ull)      /* longest wait for one completion */
#define DELAY_US 200000ull                   /* the fault delay measured */
#define ROUNDS 40                            /* WRITEs per invalidation-rate run */
#define SEEDS 16

#define ODP_RW (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | \
		IBV_ACCESS_ON_DEMAND)
#define ALL_KNOBS (SOFTHCADV_ODP_CONFIG_PREFAULT | SOFTHCADV_ODP_CONFIG_FAULT_DELAY | \
		   SOFTHCADV_ODP_CONFIG_INVALIDATE)

static int failures;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failures++;
}

static int die(const char *what)
{
	fprintf(stderr, "softhcadv_odp: %s (errno %d)\n", what, errno);
	return 2;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the device, two QPs ----------------------------------------------------------- */

struct env {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	union ibv_gid gid;
	struct ibv_cq *cq_a, *cq_b;
	struct ibv_qp *a, *b;             /* a requests, b responds */
	uint8_t *src;                     /* a's pinned buffer */
	struct ibv_mr *src_mr;
};

/* The QPs of this test: GID 0 of the one device, these rights. */
static int to_rts(struct ibv_qp *qp, uint32_t dest_qpn, const union ibv_gid *gid)
{
	return loop_qp_to_rts(qp, dest_qpn, gid, IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ, 4);
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
	e->a = loop_qp_create(e->pd, e->cq_a, e->cq_a, NULL, 8, 8);
	e->b = loop_qp_create(e->pd, e->cq_b, e->cq_b, NULL, 8, 8);
	if (!e->a || !e->b)
		return -1;
	if (to_rts(e->a, e->b->qp_num, &e->gid) || to_rts(e->b, e->a->qp_num, &e->gid))
		return -1;
	e->src = aligned_alloc(PAGE, REGION);
	if (!e->src)
		return -1;
	memset(e->src, 0, REGION);
	e->src_mr = ibv_reg_mr(e->pd, e->src, REGION, IBV_ACCESS_LOCAL_WRITE);
	return e->src_mr ? 0 : -1;
}

static void env_close(struct env *e)
{
	ibv_destroy_qp(e->a);
	ibv_destroy_qp(e->b);
	ibv_destroy_cq(e->cq_a);
	ibv_destroy_cq(e->cq_b);
	ibv_dereg_mr(e->src_mr);
	free(e->src);
	ibv_dealloc_pd(e->pd);
	ibv_close_device(e->ctx);
}

static uint8_t *map_pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---- work requests ------------------------------------------------------------------ */

/* The status of the next completion of cq; -1 if none came in WAIT_NS. */
static int wait_wc(struct ibv_cq *cq)
{
	uint64_t deadline = now_ns() + WAIT_NS;
	struct ibv_wc wc;

	while (now_ns() < deadline) {
		int n = ibv_poll_cq(cq, 1, &wc);

		if (n < 0)
			return -1;
		if (n == 1)
			return (int)wc.status;
	}
	return -1;
}

/* Post one RDMA op of a: len bytes between src + off and raddr (rkey). */
static int post_rdma(struct env *e, enum ibv_wr_opcode op, size_t off, uint32_t len,
		     uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge s = { (uintptr_t)(e->src + off), len, e->src_mr->lkey };
	struct ibv_send_wr wr, *bad;

	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &s;
	wr.num_sge = 1;
	wr.opcode = op;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	return ibv_post_send(e->a, &wr, &bad);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* RDMA WRITE of len bytes of pattern to the process address dst of mr (at iova
 * raddr); true when it completed and the bytes are there. */
static bool write_at(struct env *e, struct ibv_mr *mr, uint8_t *dst, uint64_t raddr,
		     uint32_t len, uint8_t pattern)
{
	int st;

	memset(e->src, pattern, len);
	if (post_rdma(e, IBV_WR_RDMA_WRITE, 0, len, raddr, mr->rkey))
		return false;
	st = wait_wc(e->cq_a);
	if (st != IBV_WC_SUCCESS) {
		printf("  WRITE completed with status %d\n", st);
		return false;
	}
	return all_bytes(dst, len, pattern);
}

/* The same into an MR registered at its own process address. */
static bool write_to(struct env *e, struct ibv_mr *mr, size_t off, uint32_t len, uint8_t pattern)
{
	uint8_t *dst = (uint8_t *)mr->addr + off;

	return write_at(e, mr, dst, (uintptr_t)dst, len, pattern);
}

/* RDMA READ of len bytes at off of mr into src; true when the bytes match. */
static bool read_from(struct env *e, struct ibv_mr *mr, size_t off, uint32_t len)
{
	const uint8_t *from = (const uint8_t *)mr->addr + off;

	memset(e->src, 0xee, len);
	if (post_rdma(e, IBV_WR_RDMA_READ, 0, len, (uintptr_t)from, mr->rkey) ||
	    wait_wc(e->cq_a) != IBV_WC_SUCCESS)
		return false;
	return memcmp(e->src, from, len) == 0;
}

/* ---- softhcadv helpers -------------------------------------------------------------- */

static struct softhcadv_counters counters(struct env *e)
{
	struct softhcadv_counters c;
	int ret = softhcadv_query_counters(e->ctx, &c, sizeof(c));

	if (ret || c.size != sizeof(c)) {
		check(0, "softhcadv_query_counters: %s, size %u of %zu", strerror(ret), c.size,
		      sizeof(c));
		memset(&c, 0, sizeof(c));
	}
	return c;
}

static struct softhcadv_counters qp_counters(struct ibv_qp *qp)
{
	struct softhcadv_counters c;
	int ret = softhcadv_query_qp_counters(qp, &c, sizeof(c));

	if (ret) {
		check(0, "softhcadv_query_qp_counters: %s", strerror(ret));
		memset(&c, 0, sizeof(c));
	}
	return c;
}

#define DELTA(c0, c1, f) ((c1).f - (c0).f)

static int set_knobs(struct env *e, uint32_t mask, bool prefault, uint64_t delay_us,
		     uint64_t one_in)
{
	struct softhcadv_odp_config cfg = { .comp_mask = mask, .prefault = prefault,
					    .fault_delay_us = delay_us,
					    .invalidate_one_in = one_in };

	return softhcadv_set_odp_config(e->ctx, &cfg);
}

static struct softhcadv_odp_config get_knobs(struct env *e)
{
	struct softhcadv_odp_config cfg = { .comp_mask = ALL_KNOBS };
	int ret = softhcadv_get_odp_config(e->ctx, &cfg);

	if (ret || cfg.comp_mask != ALL_KNOBS)
		check(0, "softhcadv_get_odp_config: %s, comp_mask %#x", strerror(ret),
		      cfg.comp_mask);
	return cfg;
}

static bool knobs_are(struct env *e, bool prefault, uint64_t delay_us, uint64_t one_in)
{
	struct softhcadv_odp_config c = get_knobs(e);

	if (c.prefault == prefault && c.fault_delay_us == delay_us &&
	    c.invalidate_one_in == one_in)
		return true;
	printf("  knobs: prefault %d delay %" PRIu64 " us one in %" PRIu64 "\n", c.prefault,
	       c.fault_delay_us, c.invalidate_one_in);
	return false;
}

static const char *state_name(enum softhcadv_page_state s)
{
	const char *n = softhcadv_page_state_name(s);

	return n ? n : "?";
}

/* The state of page pg of mr; -1 on error (printed). */
static int page_state(struct ibv_mr *mr, unsigned pg)
{
	enum softhcadv_page_state s;
	int ret = softhcadv_mr_page_state(mr, (uint8_t *)mr->addr + (size_t)pg * PAGE + 17, &s);

	if (ret) {
		printf("  softhcadv_mr_page_state(page %u): %s\n", pg, strerror(ret));
		return -1;
	}
	return (int)s;
}

/* Do pages [first, first + n) of mr all hold want? */
static bool pages_are(struct ibv_mr *mr, unsigned first, unsigned n,
		      enum softhcadv_page_state want)
{
	for (unsigned pg = first; pg < first + n; pg++) {
		int s = page_state(mr, pg);

		if (s != (int)want) {
			printf("  page %u is %s, want %s\n", pg,
			       s < 0 ? "an error" : state_name((enum softhcadv_page_state)s),
			       state_name(want));
			return false;
		}
	}
	return true;
}

/* ---- the phases -------------------------------------------------------------------- */

static void phase_start_config(struct env *e, bool prefault, uint64_t delay, uint64_t one_in)
{
	printf("-- the knobs of softhca run, then all off\n");
	check(softhcadv_is_softhca(e->ctx), "softhcadv_is_softhca");
	check(knobs_are(e, prefault, delay, one_in),
	      "softhcadv_get_odp_config reads the --odp-* options (%d, %" PRIu64 ", %" PRIu64 ")",
	      prefault, delay, one_in);
	check(set_knobs(e, ALL_KNOBS, false, 0, 0) == 0 && knobs_are(e, false, 0, 0),
	      "set prefault off, delay 0, no invalidations; read back");
}

/* Pages start absent and fault at first touch; only b's QP answers RNR NAKs. */
static void phase_first_touch(struct env *e, struct ibv_mr *r)
{
	struct softhcadv_counters c0 = counters(e), c1, qa0 = qp_counters(e->a);
	struct softhcadv_counters qb0 = qp_counters(e->b), qa1, qb1;

	printf("-- first touch faults\n");
	check(pages_are(r, 0, PAGES, SOFTHCADV_PAGE_ABSENT), "a fresh ODP MR: every page absent");
	check(write_to(e, r, 0, REGION, 0x11), "WRITE of 8 pages: data right");
	c1 = counters(e);
	qa1 = qp_counters(e->a);
	qb1 = qp_counters(e->b);
	printf("  page_faults +%" PRIu64 " odp_rnr_naks +%" PRIu64 " odp_fault_requests +%" PRIu64
	       " odp_fault_pages +%" PRIu64 "\n", DELTA(c0, c1, page_faults),
	       DELTA(c0, c1, odp_rnr_naks), DELTA(c0, c1, odp_fault_requests),
	       DELTA(c0, c1, odp_fault_pages));
	check(DELTA(c0, c1, page_faults) > 0 && DELTA(c0, c1, odp_rnr_naks) > 0 &&
	      DELTA(c0, c1, odp_fault_requests) > 0, "page faults, RNR NAKs and fault requests");
	check(DELTA(c0, c1, odp_fault_pages) == PAGES, "exactly 8 pages made present by faults");
	check(DELTA(c0, c1, odp_first_touch_pages) == 0, "no first-touch pages without prefault");
	check(pages_are(r, 0, PAGES, SOFTHCADV_PAGE_PRESENT_RW), "every page present-rw after");
	check(DELTA(qb0, qb1, odp_rnr_naks) == DELTA(c0, c1, odp_rnr_naks) &&
	      DELTA(qa0, qa1, odp_rnr_naks) == 0 && DELTA(qa0, qa1, rx_rnr_naks) ==
	      DELTA(c0, c1, odp_rnr_naks),
	      "QP counters: b sent the RNR NAKs (+%" PRIu64 "), a received them (+%" PRIu64 ")",
	      DELTA(qb0, qb1, odp_rnr_naks), DELTA(qa0, qa1, rx_rnr_naks));
	check(qb1.odp_fault_requests == 0 && qb1.odp_fault_pages == 0,
	      "QP counters: the host's odp_* fields are 0 for a QP");
}

/* Prefault: a fresh region is present at first touch; an invalidated page of it
 * faults all the same. */
static void phase_prefault(struct env *e, struct ibv_mr *r2)
{
	struct softhcadv_counters c0, c1;

	printf("-- prefault\n");
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_PREFAULT, true, 999, 999) == 0 &&
	      knobs_are(e, true, 0, 0), "prefault on (comp_mask PREFAULT only: the rest kept)");
	c0 = counters(e);
	check(write_to(e, r2, 0, REGION, 0x22), "WRITE of 8 pages: data right");
	c1 = counters(e);
	printf("  page_faults +%" PRIu64 " odp_first_touch_pages +%" PRIu64 "\n",
	       DELTA(c0, c1, page_faults), DELTA(c0, c1, odp_first_touch_pages));
	check(DELTA(c0, c1, page_faults) == 0 && DELTA(c0, c1, odp_rnr_naks) == 0,
	      "no fault, no RNR NAK under prefault");
	check(DELTA(c0, c1, odp_first_touch_pages) == PAGES, "8 pages present at first touch");
	check(pages_are(r2, 0, PAGES, SOFTHCADV_PAGE_PRESENT_RW), "every page present-rw");

	check(softhcadv_mr_invalidate(r2, (uint8_t *)r2->addr + 3 * PAGE, 1) == 0,
	      "invalidate one byte of page 3");
	check(pages_are(r2, 3, 1, SOFTHCADV_PAGE_INVALIDATED) &&
	      pages_are(r2, 0, 3, SOFTHCADV_PAGE_PRESENT_RW) &&
	      pages_are(r2, 4, PAGES - 4, SOFTHCADV_PAGE_PRESENT_RW),
	      "page 3 invalidated, the others present-rw");
	c0 = counters(e);
	check(write_to(e, r2, 0, REGION, 0x23), "WRITE again: data right");
	c1 = counters(e);
	check(DELTA(c0, c1, page_faults) > 0 && DELTA(c0, c1, odp_fault_pages) == 1 &&
	      DELTA(c0, c1, odp_first_touch_pages) == 0,
	      "the invalidated page faults under prefault (page_faults +%" PRIu64
	      ", fault pages +%" PRIu64 ")", DELTA(c0, c1, page_faults),
	      DELTA(c0, c1, odp_fault_pages));
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_PREFAULT, false, 0, 0) == 0 &&
	      knobs_are(e, false, 0, 0), "prefault off");
}

/* softhcadv_mr_invalidate: exactly the pages touched go, exactly those fault. */
static void phase_invalidate(struct env *e, struct ibv_mr *r)
{
	uint8_t *base = r->addr;
	struct softhcadv_counters c0 = counters(e), c1;

	printf("-- softhcadv_mr_invalidate\n");
	check(softhcadv_mr_invalidate(r, base + PAGE + 100, 2 * PAGE) == 0,
	      "invalidate [page 1 + 100, + 2 pages): pages 1, 2 and 3");
	c1 = counters(e);
	check(pages_are(r, 0, 1, SOFTHCADV_PAGE_PRESENT_RW) &&
	      pages_are(r, 1, 3, SOFTHCADV_PAGE_INVALIDATED) &&
	      pages_are(r, 4, PAGES - 4, SOFTHCADV_PAGE_PRESENT_RW),
	      "pages 1-3 invalidated, the others present-rw");
	check(DELTA(c0, c1, odp_invalidations) == 1 &&
	      DELTA(c0, c1, odp_requested_invalidations) == 1 &&
	      DELTA(c0, c1, odp_invalidated_pages) == 3,
	      "counters: odp_invalidations +%" PRIu64 ", requested +%" PRIu64
	      ", invalidated pages +%" PRIu64 " (want 1, 1, 3)", DELTA(c0, c1, odp_invalidations),
	      DELTA(c0, c1, odp_requested_invalidations), DELTA(c0, c1, odp_invalidated_pages));
	check(softhcadv_mr_invalidate(r, base + PAGE, 3 * PAGE) == 0 &&
	      DELTA(c1, counters(e), odp_invalidated_pages) == 0,
	      "invalidating absent pages again drops nothing");

	c0 = counters(e);
	check(write_to(e, r, 0, REGION, 0x33), "WRITE of 8 pages after: data right");
	c1 = counters(e);
	check(DELTA(c0, c1, page_faults) > 0 && DELTA(c0, c1, odp_fault_pages) == 3,
	      "the 3 invalidated pages fault again, only they (page_faults +%" PRIu64
	      ", fault pages +%" PRIu64 ")", DELTA(c0, c1, page_faults),
	      DELTA(c0, c1, odp_fault_pages));
	check(pages_are(r, 0, PAGES, SOFTHCADV_PAGE_PRESENT_RW), "every page present-rw again");

	/* The READ path (the responder reads the ODP pages) faults the same way. */
	memset(base, 0x34, REGION);
	check(softhcadv_mr_invalidate(r, base, REGION) == 0, "invalidate the whole MR");
	c0 = counters(e);
	check(read_from(e, r, 0, REGION), "READ of 8 pages after: data right");
	c1 = counters(e);
	check(DELTA(c0, c1, page_faults) > 0 && DELTA(c0, c1, odp_fault_pages) == PAGES,
	      "the READ faults the 8 pages back (fault pages +%" PRIu64 ")",
	      DELTA(c0, c1, odp_fault_pages));
	check(pages_are(r, 0, PAGES, SOFTHCADV_PAGE_PRESENT_RW) ||
	      pages_are(r, 0, PAGES, SOFTHCADV_PAGE_PRESENT_RO),
	      "pages present after the READ");
}

/* The fault delay: a WRITE that faults takes at least that long; a fault queued
 * under a long delay is released when the delay is shortened. */
static void phase_delay(struct env *e, struct ibv_mr *r)
{
	struct softhcadv_counters c0, c1;
	uint64_t t0, took, asked;
	int st, early;

	printf("-- fault delay\n");
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_FAULT_DELAY, true, DELAY_US, 7) == 0 &&
	      knobs_are(e, false, DELAY_US, 0), "delay %llu us (comp_mask FAULT_DELAY only)",
	      (unsigned long long)DELAY_US);
	check(softhcadv_mr_invalidate(r, r->addr, REGION) == 0, "invalidate the whole MR");
	c0 = counters(e);
	t0 = now_ns();
	check(write_to(e, r, 0, REGION, 0x44), "WRITE: data right");
	took = now_ns() - t0;
	c1 = counters(e);
	check(took >= DELAY_US * 1000u && c1.odp_fault_delay_max_ns >= DELAY_US * 1000u &&
	      DELTA(c0, c1, page_faults) > 0,
	      "the faulting WRITE took %" PRIu64 " us, longest fault %" PRIu64 " us (want >= %llu)",
	      took / 1000u, c1.odp_fault_delay_max_ns / 1000u, (unsigned long long)DELAY_US);

	/* 10 s, the limit; the fault waits, then the delay goes to 0. */
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_FAULT_DELAY, false,
			SOFTHCADV_ODP_FAULT_DELAY_MAX_US, 0) == 0, "delay 10 s (the limit)");
	check(softhcadv_mr_invalidate(r, r->addr, REGION) == 0, "invalidate the whole MR");
	c0 = counters(e);
	memset(e->src, 0x45, REGION);
	if (post_rdma(e, IBV_WR_RDMA_WRITE, 0, REGION, (uintptr_t)r->addr, r->rkey)) {
		check(0, "post a WRITE");
		return;
	}
	t0 = now_ns();
	asked = 0;
	early = 0;
	while (now_ns() - t0 < 5000000000ull && !asked) {
		struct ibv_wc wc;

		/* Nothing can complete yet; polling drives the device. */
		early += ibv_poll_cq(e->cq_a, 1, &wc) != 0;
		asked = DELTA(c0, counters(e), odp_fault_requests);
	}
	check(asked > 0 && !early, "the WRITE's fault is queued, nothing completed");
	if (early)
		return;           /* its completion is gone: nothing to wait for */
	t0 = now_ns();
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_FAULT_DELAY, false, 0, 0) == 0, "delay 0");
	st = wait_wc(e->cq_a);
	took = now_ns() - t0;
	check(st == IBV_WC_SUCCESS && all_bytes(r->addr, REGION, 0x45) &&
	      took < 5000000000ull, "the queued fault is released: WRITE done %" PRIu64
	      " ms after the delay went to 0 (status %d)", took / 1000000u, st);
}

/* One ODP access in N invalidates its MR: N=2 does, N=0 does not. */
static void phase_rate(struct env *e, struct ibv_mr *r)
{
	struct softhcadv_counters c0, c1;
	bool right = true;

	printf("-- invalidate one access in N\n");
	check(write_to(e, r, 0, REGION, 0x50), "warm: every page present");
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_INVALIDATE, true, 999, 2) == 0 &&
	      knobs_are(e, false, 0, 2), "one in 2 (comp_mask INVALIDATE only)");
	c0 = counters(e);
	for (unsigned i = 0; i < ROUNDS; i++)
		right &= write_to(e, r, (i % PAGES) * PAGE, PAGE, (uint8_t)(0x60 + i));
	c1 = counters(e);
	printf("  one in 2: injected invalidations +%" PRIu64 " page_faults +%" PRIu64 "\n",
	       DELTA(c0, c1, odp_injected_invalidations), DELTA(c0, c1, page_faults));
	check(right, "%d WRITEs of a page: data right every time", ROUNDS);
	check(DELTA(c0, c1, odp_injected_invalidations) > 0 && DELTA(c0, c1, page_faults) > 0 &&
	      DELTA(c0, c1, odp_invalidations) >= DELTA(c0, c1, odp_injected_invalidations),
	      "invalidations injected, pages faulted again");
	check(c1.dma_lost == c0.dma_lost, "no held write lost");

	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_INVALIDATE, false, 0, 0) == 0 &&
	      knobs_are(e, false, 0, 0), "never");
	check(write_to(e, r, 0, REGION, 0x51), "warm: every page present");
	c0 = counters(e);
	right = true;
	for (unsigned i = 0; i < ROUNDS; i++)
		right &= write_to(e, r, (i % PAGES) * PAGE, PAGE, (uint8_t)(0x90 + i));
	c1 = counters(e);
	check(right && DELTA(c0, c1, odp_injected_invalidations) == 0 &&
	      DELTA(c0, c1, page_faults) == 0, "N=0: no invalidation, no fault (+%" PRIu64
	      ", +%" PRIu64 "), data right", DELTA(c0, c1, odp_injected_invalidations),
	      DELTA(c0, c1, page_faults));
}

/*
 * The same seed, the same choices: for each seed, one single-packet WRITE to a
 * present page under "one in 2" (one decision), twice over.
 */
static void phase_seed(struct env *e, struct ibv_mr *r)
{
	bool chose[2][SEEDS], right = true, same = true;
	unsigned yes = 0;

	printf("-- the seed restarts the invalidation choices\n");
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned s = 0; s < SEEDS; s++) {
			struct softhcadv_counters c0;

			right &= set_knobs(e, SOFTHCADV_ODP_CONFIG_INVALIDATE, false, 0, 0) == 0;
			right &= write_to(e, r, 0, REGION, (uint8_t)s);
			right &= set_knobs(e, SOFTHCADV_ODP_CONFIG_INVALIDATE, false, 0, 2) == 0;
			right &= softhcadv_set_seed(e->ctx, 1000 + s) == 0;
			c0 = counters(e);
			right &= write_to(e, r, 0, 512, (uint8_t)(s + 100));
			chose[pass][s] = DELTA(c0, counters(e), odp_injected_invalidations) > 0;
		}
	}
	right &= set_knobs(e, SOFTHCADV_ODP_CONFIG_INVALIDATE, false, 0, 0) == 0;
	for (unsigned s = 0; s < SEEDS; s++) {
		same &= chose[0][s] == chose[1][s];
		yes += chose[0][s];
		printf("%c", chose[0][s] ? 'I' : '.');
	}
	printf("  (I: seed invalidated)\n");
	check(right, "every call and WRITE of the seed runs succeeded");
	check(same, "the same seeds made the same choices");
	check(yes > 0 && yes < SEEDS, "%u of %u seeds invalidated (some, not all)", yes, SEEDS);
}

/* A read-only ODP MR: its pages become present read-only. */
static void phase_read_only(struct env *e)
{
	uint8_t *ro = map_pages(2);
	struct ibv_mr *mr;

	printf("-- a read-only ODP MR\n");
	if (!ro) {
		check(0, "mmap");
		return;
	}
	memset(ro, 0x5a, 2 * PAGE);
	mr = ibv_reg_mr(e->pd, ro, 2 * PAGE, IBV_ACCESS_REMOTE_READ | IBV_ACCESS_ON_DEMAND);
	check(mr != NULL, "register it (REMOTE_READ | ON_DEMAND)");
	if (mr) {
		check(read_from(e, mr, 0, PAGE), "READ of page 0: data right");
		check(pages_are(mr, 0, 1, SOFTHCADV_PAGE_PRESENT_RO) &&
		      pages_are(mr, 1, 1, SOFTHCADV_PAGE_ABSENT),
		      "page 0 present-ro, page 1 absent");
		ibv_dereg_mr(mr);
	}
	munmap(ro, 2 * PAGE);
}

/* An implicit ODP MR and an MR at another iova: pages named by process address. */
static void phase_addresses(struct env *e)
{
	uint8_t *buf = map_pages(4);
	const uint64_t iova = 0x7000000000ull;
	enum softhcadv_page_state s = SOFTHCADV_PAGE_ABSENT;
	struct ibv_mr *imp, *off;
	int ret;

	printf("-- implicit and iova MRs\n");
	if (!buf) {
		check(0, "mmap");
		return;
	}
	imp = ibv_reg_mr(e->pd, NULL, SIZE_MAX, ODP_RW);
	check(imp != NULL, "implicit ODP MR");
	if (imp) {
		/* Each state is read before the check that prints it (argument
		 * evaluation order is unspecified). */
		ret = softhcadv_mr_page_state(imp, buf, &s);
		check(ret == 0 && s == SOFTHCADV_PAGE_ABSENT,
		      "implicit: a page never touched is absent (%s)", state_name(s));
		check(write_at(e, imp, buf + PAGE, (uintptr_t)(buf + PAGE), PAGE, 0x71),
		      "implicit: WRITE to page 1 of a mapping");
		ret = softhcadv_mr_page_state(imp, buf + PAGE, &s);
		check(ret == 0 && s == SOFTHCADV_PAGE_PRESENT_RW,
		      "implicit: that page present-rw (%s)", state_name(s));
		ret = softhcadv_mr_invalidate(imp, buf + PAGE, PAGE);
		ret = ret ? ret : softhcadv_mr_page_state(imp, buf + PAGE, &s);
		check(ret == 0 && s == SOFTHCADV_PAGE_INVALIDATED, "implicit: invalidated (%s)",
		      state_name(s));
		ibv_dereg_mr(imp);
	}
	off = ibv_reg_mr_iova(e->pd, buf, 4 * PAGE, iova, ODP_RW);
	check(off != NULL, "ODP MR at iova %#" PRIx64, iova);
	if (off) {
		check(write_at(e, off, buf + 2 * PAGE, iova + 2 * PAGE, PAGE, 0x72),
		      "iova MR: WRITE to iova + 2 pages lands at buf + 2 pages");
		check(pages_are(off, 2, 1, SOFTHCADV_PAGE_PRESENT_RW) &&
		      pages_are(off, 0, 2, SOFTHCADV_PAGE_ABSENT),
		      "iova MR: states by process address");
		check(softhcadv_mr_page_state(off, (void *)(uintptr_t)iova, &s) == EINVAL,
		      "iova MR: the iova is not a process address of it: EINVAL");
		ibv_dereg_mr(off);
	}
	munmap(buf, 4 * PAGE);
}

static void phase_bad_arguments(struct env *e, struct ibv_mr *r)
{
	uint8_t *base = r->addr;
	enum softhcadv_page_state s;
	struct softhcadv_odp_config cfg;
	int ret;

	printf("-- bad arguments\n");
	check(write_to(e, r, 0, REGION, 0xa0), "warm: every page present");
	check(softhcadv_mr_page_state(e->src_mr, e->src, &s) == EINVAL, "page state, pinned MR");
	check(softhcadv_mr_invalidate(e->src_mr, e->src, PAGE) == EINVAL, "invalidate, pinned MR");
	check(softhcadv_mr_invalidate(r, base - 1, 2) == EINVAL, "invalidate from before the MR");
	check(softhcadv_mr_invalidate(r, base + REGION, 1) == EINVAL, "invalidate after the MR");
	check(softhcadv_mr_invalidate(r, base + PAGE, REGION) == EINVAL,
	      "invalidate past the end of the MR");
	check(softhcadv_mr_invalidate(r, base, SIZE_MAX) == EINVAL, "invalidate SIZE_MAX bytes");
	check(softhcadv_mr_invalidate(r, base, 0) == EINVAL, "invalidate 0 bytes");
	check(softhcadv_mr_invalidate(NULL, base, 1) == EINVAL, "invalidate, NULL MR");
	check(softhcadv_mr_page_state(r, base - 1, &s) == EINVAL, "page state before the MR");
	check(softhcadv_mr_page_state(r, base + REGION, &s) == EINVAL, "page state after the MR");
	check(softhcadv_mr_page_state(r, base, NULL) == EINVAL, "page state, NULL out");
	check(softhcadv_mr_page_state(NULL, base, &s) == EINVAL, "page state, NULL MR");
	check(pages_are(r, 0, PAGES, SOFTHCADV_PAGE_PRESENT_RW), "the MR's pages untouched");

	check(set_knobs(e, ALL_KNOBS, true, 5, 3) == 0 && knobs_are(e, true, 5, 3),
	      "set prefault, 5 us, one in 3");
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_FAULT_DELAY, false,
			SOFTHCADV_ODP_FAULT_DELAY_MAX_US + 1, 0) == EINVAL, "delay above 10 s");
	check(set_knobs(e, SOFTHCADV_ODP_CONFIG_INVALIDATE, false, 0, 1) == EINVAL,
	      "one in 1");
	check(set_knobs(e, ALL_KNOBS, false, 0, 1) == EINVAL, "a good value with a bad one");
	check(set_knobs(e, 1u << 7, false, 0, 0) == EOPNOTSUPP, "an unknown comp_mask bit");
	check(set_knobs(e, ALL_KNOBS | 1u << 7, false, 0, 0) == EOPNOTSUPP,
	      "known bits with an unknown one");
	check(softhcadv_set_odp_config(e->ctx, NULL) == EINVAL, "set, NULL config");
	check(softhcadv_set_odp_config(NULL, &cfg) == EINVAL, "set, NULL context");
	check(softhcadv_get_odp_config(e->ctx, NULL) == EINVAL, "get, NULL config");
	check(knobs_are(e, true, 5, 3), "nothing changed by the bad calls");

	memset(&cfg, 0, sizeof(cfg));
	cfg.comp_mask = SOFTHCADV_ODP_CONFIG_FAULT_DELAY | 1u << 9;
	cfg.invalidate_one_in = 0xdead;
	ret = softhcadv_get_odp_config(e->ctx, &cfg);
	check(ret == 0 &&
	      cfg.comp_mask == SOFTHCADV_ODP_CONFIG_FAULT_DELAY && cfg.fault_delay_us == 5 &&
	      !cfg.prefault && cfg.invalidate_one_in == 0xdead,
	      "get fills only what comp_mask asks and it knows (mask out %#x)", cfg.comp_mask);
	check(set_knobs(e, 0, true, 1, 1) == 0 && knobs_are(e, true, 5, 3),
	      "comp_mask 0 changes nothing");
	check(set_knobs(e, ALL_KNOBS, false, 0, 0) == 0 && knobs_are(e, false, 0, 0),
	      "all off again");

	check(strcmp(state_name(SOFTHCADV_PAGE_INVALIDATED), "invalidated") == 0 &&
	      strcmp(state_name(SOFTHCADV_PAGE_PRESENT_RO), "present-ro") == 0 &&
	      !softhcadv_page_state_name((enum softhcadv_page_state)5),
	      "page state names");
}

/*
 * A page that is not mapped: its fault marks it failed, which shows while the
 * requester waits out the responder's longest RNR timer (655 ms); the retry then
 * completes REM_ACCESS_ERR and the page is absent again. Leaves a in error: last.
 */
static void phase_failed(struct env *e)
{
	uint8_t *f = map_pages(4);
	struct softhcadv_counters c0, c1;
	struct ibv_qp_attr attr;
	struct ibv_mr *mr;
	int st = -1, seen = -1;
	uint64_t t0;

	printf("-- a failed page\n");
	if (!f) {
		check(0, "mmap");
		return;
	}
	mr = ibv_reg_mr(e->pd, f, 4 * PAGE, ODP_RW);
	memset(&attr, 0, sizeof(attr));
	attr.min_rnr_timer = 0;           /* 655.36 ms */
	if (!mr || munmap(f + 2 * PAGE, PAGE) ||
	    ibv_modify_qp(e->b, &attr, IBV_QP_MIN_RNR_TIMER)) {
		check(0, "register, unmap page 2, set b's RNR timer to 655 ms");
		if (mr)
			ibv_dereg_mr(mr);
		munmap(f, 4 * PAGE);
		return;
	}
	c0 = counters(e);
	memset(e->src, 0x80, 100);
	if (post_rdma(e, IBV_WR_RDMA_WRITE, 0, 100, (uintptr_t)(f + 2 * PAGE), mr->rkey) == 0) {
		struct ibv_wc wc;
		int n = 0;

		t0 = now_ns();
		while (now_ns() - t0 < WAIT_NS && (n = ibv_poll_cq(e->cq_a, 1, &wc)) == 0) {
			if (page_state(mr, 2) == SOFTHCADV_PAGE_FAILED)
				seen = 1;
		}
		st = n == 1 ? (int)wc.status : -1;
	}
	c1 = counters(e);
	check(seen == 1, "page 2 read back failed while the requester waited");
	check(st == IBV_WC_REM_ACCESS_ERR, "the WRITE completed REM_ACCESS_ERR (status %d)", st);
	check(pages_are(mr, 2, 1, SOFTHCADV_PAGE_ABSENT), "page 2 absent again after the error");
	check(DELTA(c0, c1, odp_fault_errors) == 1 && DELTA(c0, c1, odp_access_errors) == 1 &&
	      DELTA(c0, c1, odp_unbacked) >= 1,
	      "counters: fault errors +%" PRIu64 ", access errors +%" PRIu64 ", unbacked +%" PRIu64,
	      DELTA(c0, c1, odp_fault_errors), DELTA(c0, c1, odp_access_errors),
	      DELTA(c0, c1, odp_unbacked));
	ibv_dereg_mr(mr);
	munmap(f, 2 * PAGE);
	munmap(f + 3 * PAGE, PAGE);
}

static int run_softhca(bool prefault, uint64_t delay, uint64_t one_in)
{
	uint8_t *r_mem = map_pages(PAGES), *r2_mem = map_pages(PAGES);
	struct ibv_mr *r, *r2;
	struct env e;

	if (!r_mem || !r2_mem)
		return die("mmap");
	if (env_open(&e))
		return die("cannot open the device or create the QPs: run me under softhca run");
	r = ibv_reg_mr(e.pd, r_mem, REGION, ODP_RW);
	r2 = ibv_reg_mr(e.pd, r2_mem, REGION, ODP_RW);
	if (!r || !r2)
		return die("cannot register the ODP MRs");

	phase_start_config(&e, prefault, delay, one_in);
	phase_first_touch(&e, r);
	phase_prefault(&e, r2);
	phase_invalidate(&e, r);
	phase_delay(&e, r);
	phase_rate(&e, r);
	phase_seed(&e, r);
	phase_read_only(&e);
	phase_addresses(&e);
	phase_bad_arguments(&e, r);
	phase_failed(&e);

	ibv_dereg_mr(r);
	ibv_dereg_mr(r2);
	env_close(&e);
	munmap(r_mem, REGION);
	munmap(r2_mem, REGION);
	printf("softhcadv_odp: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}

/* ---- on Debian's libibverbs --------------------------------------------------------- */

static void check_not_softhca(struct ibv_context *ctx, const char *what)
{
	struct softhcadv_odp_config cfg = { .comp_mask = ALL_KNOBS };
	struct ibv_mr mr = { .context = ctx };
	enum softhcadv_page_state s;
	uint8_t byte;

	check(!softhcadv_is_softhca(ctx), "%s: not softhca", what);
	check(softhcadv_set_odp_config(ctx, &cfg) == EOPNOTSUPP, "%s: set_odp_config", what);
	check(softhcadv_get_odp_config(ctx, &cfg) == EOPNOTSUPP, "%s: get_odp_config", what);
	check(softhcadv_mr_invalidate(&mr, &byte, 1) == EOPNOTSUPP, "%s: mr_invalidate", what);
	check(softhcadv_mr_page_state(&mr, &byte, &s) == EOPNOTSUPP, "%s: mr_page_state", what);
}

static int run_not_softhca(void)
{
	struct ibv_device **list;
	struct ibv_context *fake;
	Dl_info info;
	int n = 0;

	if (!dladdr((void *)ibv_get_device_list, &info) || !info.dli_fname)
		return die("cannot tell which libibverbs is loaded");
	printf("libibverbs: %s\n", info.dli_fname);
	check(!dlvsym(RTLD_DEFAULT, "softhcadv_private_ops", "SOFTHCA_PRIVATE_1"),
	      "the softhca drop-in is not loaded (run me without softhca run)");
	fake = calloc(1, sizeof(*fake));
	if (!fake)
		return die("out of memory");
	check_not_softhca(fake, "a context of nothing");
	check(softhcadv_get_odp_config(fake, NULL) == EINVAL, "NULL config: EINVAL");
	check(softhcadv_mr_invalidate(NULL, NULL, 1) == EINVAL, "NULL MR: EINVAL");
	free(fake);
	check(strcmp(state_name(SOFTHCADV_PAGE_FAILED), "failed") == 0,
	      "softhcadv_page_state_name needs no device");

	list = ibv_get_device_list(&n);
	for (int i = 0; list && i < n; i++) {
		struct ibv_context *ctx = ibv_open_device(list[i]);

		printf("device %s: %s\n", ibv_get_device_name(list[i]),
		       ctx ? "opened" : "cannot open");
		if (ctx) {
			check_not_softhca(ctx, ibv_get_device_name(list[i]));
			ibv_close_device(ctx);
		}
	}
	if (list)
		ibv_free_device_list(list);
	printf("softhcadv_odp --not-softhca: %d devices, %d failure(s)\n", n, failures);
	return failures ? 1 : 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !*end && !errno;
}

int main(int argc, char **argv)
{
	uint64_t prefault, delay, one_in;

	if (argc == 2 && strcmp(argv[1], "--not-softhca") == 0)
		return run_not_softhca();
	if (argc != 4 || !parse_u64(argv[1], &prefault) || prefault > 1 ||
	    !parse_u64(argv[2], &delay) || !parse_u64(argv[3], &one_in))
		return die("usage: softhcadv_odp PREFAULT(0|1) DELAY_US INVALIDATE | --not-softhca");
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run_softhca(prefault == 1, delay, one_in);
}
