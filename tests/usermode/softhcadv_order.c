/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/softhcadv_order.c - softhca direct verbs (softhcadv.h) from a
 * program: the DMA-ordering policy set per QP, per CQ and per device in code,
 * the seed, the deferral point and the counters.
 *
 * Usage:
 *   softhcadv_order EXPECTED_STALE   under `softhca run` with no --order: the
 *       device starts strict. Two pairs of RC QPs of one device, X (ax -> bx) and
 *       Y (ay -> by), each pair with its own CQs, SEND 4 KiB 100 times per phase;
 *       after each receive CQE the buffer is read at once (the 2007 consumer),
 *       then softhcadv_deferral_point() and the buffer must be complete. Phases:
 *         1. QP bx cqe-first                     X stale EXPECTED, Y 0
 *         2. bx back to inherit, by's recv CQ cqe-first   X 0, Y EXPECTED
 *         3. device cqe-first, QP by strict      X EXPECTED, Y 0
 *       EXPECTED is 100 with --abi 1 and 0 with --abi 2, whose ordered CQs never
 *       show a CQE before its data. In every phase the counters read through
 *       softhcadv must agree: dma_cqe_early of the device and of each QP equal
 *       the stale reads seen on it, completions count every CQE polled.
 *       Also: getters, seed, bad arguments, versioned counter sizes,
 *       ibv_query_qp_data_in_order under per-QP settings.
 *   softhcadv_order --not-softhca   without softhca run, on Debian's libibverbs:
 *       softhcadv_is_softhca() is false for every context (and for a context
 *       that is not libibverbs' at all), every call answers EOPNOTSUPP, nothing
 *       crashes. Fails if the drop-in was loaded after all.
 *
 * Prints one line per phase and "qpns ax=N bx=N ay=N by=N"; exit 0 on success,
 * 1 on a failed check, 2 when it cannot run.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "loop_qp.h"

#include "softhca/softhcadv.h"

#define ITERATIONS 100
#define BYTES 4096
#define SPIN_LIMIT 100000000L

static int failures;

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			failures++; \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

static int die(const char *what)
{
	fprintf(stderr, "softhcadv_order: %s\n", what);
	return 2;
}

/* ---- the loopback pairs -------------------------------------------------------------- */

struct pair {
	const char *name;
	struct ibv_cq *scq, *rcq;       /* of the sender a, of the receiver b */
	struct ibv_qp *a, *b;
	struct ibv_mr *smr, *rmr;
	int stale;                      /* in the current phase */
};

static int poll_one(struct ibv_cq *cq, struct ibv_wc *wc)
{
	for (long spins = 0; spins < SPIN_LIMIT; spins++) {
		int n = ibv_poll_cq(cq, 1, wc);

		if (n < 0)
			return -1;
		if (n == 1)
			return wc->status == IBV_WC_SUCCESS ? 0 : -1;
	}
	return -1;
}

/* The QPs of this test: GID 0 of the one device, these rights. */
static int to_rts(struct ibv_qp *qp, uint32_t dest_qpn, const union ibv_gid *gid)
{
	return loop_qp_to_rts(qp, dest_qpn, gid, IBV_ACCESS_LOCAL_WRITE, 1);
}

static int make_pair(struct ibv_context *ctx, struct ibv_pd *pd, const union ibv_gid *gid,
		     const char *name, struct pair *p)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->scq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	p->rcq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	if (!p->scq || !p->rcq)
		return -1;
	/* a's receive queue and b's send queue are unused: each takes the CQ of its
	 * own side, so every CQE of b is on rcq. */
	p->a = loop_qp_create(pd, p->scq, p->scq, NULL, 4, 4);
	p->b = loop_qp_create(pd, p->rcq, p->rcq, NULL, 4, 4);
	p->smr = ibv_reg_mr(pd, calloc(1, BYTES), BYTES, IBV_ACCESS_LOCAL_WRITE);
	p->rmr = ibv_reg_mr(pd, calloc(1, BYTES), BYTES, IBV_ACCESS_LOCAL_WRITE);
	if (!p->a || !p->b || !p->smr || !p->rmr)
		return -1;
	return to_rts(p->a, p->b->qp_num, gid) || to_rts(p->b, p->a->qp_num, gid) ? -1 : 0;
}

static void free_pair(struct pair *p)
{
	void *sbuf = p->smr->addr, *rbuf = p->rmr->addr;

	ibv_destroy_qp(p->a);
	ibv_destroy_qp(p->b);
	ibv_destroy_cq(p->scq);
	ibv_destroy_cq(p->rcq);
	ibv_dereg_mr(p->smr);
	ibv_dereg_mr(p->rmr);
	free(sbuf);
	free(rbuf);
}

static bool holds(const unsigned char *buf, unsigned char pattern)
{
	for (size_t i = 0; i < BYTES; i++)
		if (buf[i] != pattern)
			return false;
	return true;
}

/* One SEND a -> b, the buffer read right after the receive CQE; then a
 * softhcadv deferral point, after which it must be complete. -1: verbs failed. */
static int one_round(struct ibv_context *ctx, struct pair *p, unsigned char pattern)
{
	unsigned char *sbuf = p->smr->addr, *rbuf = p->rmr->addr;
	struct ibv_sge rs = { (uintptr_t)rbuf, BYTES, p->rmr->lkey };
	struct ibv_sge ss = { (uintptr_t)sbuf, BYTES, p->smr->lkey };
	struct ibv_recv_wr rwr = { .wr_id = pattern, .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct ibv_send_wr swr = { .wr_id = pattern, .sg_list = &ss, .num_sge = 1,
				   .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED }, *sbad;
	struct ibv_wc wc;
	int ret;

	memset(sbuf, pattern, BYTES);
	if (ibv_post_recv(p->b, &rwr, &rbad) || ibv_post_send(p->a, &swr, &sbad))
		return -1;
	if (poll_one(p->scq, &wc) || poll_one(p->rcq, &wc) || wc.byte_len != BYTES)
		return -1;
	p->stale += !holds(rbuf, pattern);
	ret = softhcadv_deferral_point(ctx);
	CHECK(ret == 0, "softhcadv_deferral_point: %s", strerror(ret));
	CHECK(holds(rbuf, pattern), "%s: buffer incomplete after the deferral point",
	      p->name);
	return 0;
}

/* ---- counters ------------------------------------------------------------------------- */

static struct softhcadv_counters dev_counters(struct ibv_context *ctx)
{
	struct softhcadv_counters c;
	int ret = softhcadv_query_counters(ctx, &c, sizeof(c));

	CHECK(ret == 0 && c.size == sizeof(c), "softhcadv_query_counters: %s, size %u",
	      strerror(ret), c.size);
	return c;
}

static uint64_t qp_cqe_early(struct ibv_qp *qp)
{
	struct softhcadv_counters c;
	int ret = softhcadv_query_qp_counters(qp, &c, sizeof(c));

	CHECK(ret == 0 && c.size == sizeof(c), "softhcadv_query_qp_counters: %s",
	      strerror(ret));
	return c.dma_cqe_early;
}

/* ---- phases --------------------------------------------------------------------------- */

struct phase_want {
	const char *what;
	int stale_x, stale_y;
};

static int run_phase(struct ibv_context *ctx, struct pair *x, struct pair *y,
		     const struct phase_want *w)
{
	struct ibv_qp *qps[4] = { x->a, x->b, y->a, y->b };
	uint64_t early0[4], early1[4], qp_sum = 0;
	struct softhcadv_counters c0 = dev_counters(ctx), c1;

	for (int q = 0; q < 4; q++)
		early0[q] = qp_cqe_early(qps[q]);
	x->stale = y->stale = 0;
	for (int i = 0; i < ITERATIONS; i++) {
		unsigned char pattern = (unsigned char)(i + 1);

		if (one_round(ctx, x, pattern) || one_round(ctx, y, (unsigned char)~pattern))
			return -1;
	}
	c1 = dev_counters(ctx);
	for (int q = 0; q < 4; q++) {
		early1[q] = qp_cqe_early(qps[q]);
		qp_sum += early1[q] - early0[q];
	}
	printf("%s: stale X %d/%d (want %d), Y %d/%d (want %d); dma_cqe_early dev +%" PRIu64
	       " bx +%" PRIu64 " by +%" PRIu64 ", dma_deferred +%" PRIu64 ", completions +%"
	       PRIu64 "\n", w->what, x->stale, ITERATIONS, w->stale_x, y->stale, ITERATIONS,
	       w->stale_y, c1.dma_cqe_early - c0.dma_cqe_early, early1[1] - early0[1],
	       early1[3] - early0[3], c1.dma_deferred - c0.dma_deferred,
	       c1.completions - c0.completions);
	CHECK(x->stale == w->stale_x, "%s: X stale %d, want %d", w->what, x->stale, w->stale_x);
	CHECK(y->stale == w->stale_y, "%s: Y stale %d, want %d", w->what, y->stale, w->stale_y);
	/* The counters tell the same story as the buffers. */
	CHECK(early1[1] - early0[1] == (uint64_t)x->stale, "%s: bx dma_cqe_early", w->what);
	CHECK(early1[3] - early0[3] == (uint64_t)y->stale, "%s: by dma_cqe_early", w->what);
	CHECK(c1.dma_cqe_early - c0.dma_cqe_early == (uint64_t)(x->stale + y->stale),
	      "%s: device dma_cqe_early", w->what);
	CHECK(qp_sum == c1.dma_cqe_early - c0.dma_cqe_early,
	      "%s: the QPs' dma_cqe_early do not add up to the device's", w->what);
	CHECK((c1.dma_deferred > c0.dma_deferred) == (x->stale + y->stale > 0),
	      "%s: dma_deferred +%" PRIu64 " with %d stale reads", w->what,
	      c1.dma_deferred - c0.dma_deferred, x->stale + y->stale);
	CHECK(c1.completions - c0.completions == 4u * ITERATIONS,
	      "%s: completions +%" PRIu64 ", want %d", w->what,
	      c1.completions - c0.completions, 4 * ITERATIONS);
	CHECK(c1.dma_lost == c0.dma_lost, "%s: dma_lost grew", w->what);
	return 0;
}

/* got is read after ret was computed (argument evaluation order is unspecified). */
static void want_order(const char *what, int ret, const enum softhcadv_order *got,
		       enum softhcadv_order want)
{
	CHECK(ret == 0 && *got == want, "%s: %s, order %s, want %s", what, strerror(ret),
	      softhcadv_order_name(*got) ? softhcadv_order_name(*got) : "?",
	      softhcadv_order_name(want));
}

static void set_ok(const char *what, int ret)
{
	CHECK(ret == 0, "%s: %s", what, strerror(ret));
}

/* ---- argument checks, sizes, seed ---------------------------------------------------- */

static void check_api(struct ibv_context *ctx, struct pair *x)
{
	struct softhcadv_counters c;
	enum softhcadv_order o = SOFTHCADV_ORDER_MIX;
	uint64_t seed = 1;
	bool ordered;

	CHECK(softhcadv_is_softhca(ctx), "softhcadv_is_softhca is false under softhca run");
	CHECK(!softhcadv_is_softhca(NULL), "softhcadv_is_softhca(NULL)");
	want_order("device order at start", softhcadv_get_dev_order(ctx, &o), &o,
		   SOFTHCADV_ORDER_STRICT);
	want_order("QP order at start", softhcadv_get_qp_order(x->b, &o), &o,
		   SOFTHCADV_ORDER_INHERIT);
	want_order("CQ order at start", softhcadv_get_cq_order(x->rcq, &o), &o,
		   SOFTHCADV_ORDER_INHERIT);
	CHECK(softhcadv_get_cq_ordered(x->rcq, &ordered) == 0, "softhcadv_get_cq_ordered");
	printf("receive CQs ordered (ABI 2): %s\n", ordered ? "yes" : "no");

	/* The seed: what SOFTHCA_SEED set, then what we set. */
	set_ok("softhcadv_get_seed", softhcadv_get_seed(ctx, &seed));
	CHECK(seed == strtoull(getenv("SOFTHCA_SEED") ? getenv("SOFTHCA_SEED") : "0", NULL, 0),
	      "seed at start %" PRIu64 " is not SOFTHCA_SEED", seed);
	set_ok("softhcadv_set_seed", softhcadv_set_seed(ctx, 0x5eed0fdeadbeefull));
	set_ok("softhcadv_get_seed", softhcadv_get_seed(ctx, &seed));
	CHECK(seed == 0x5eed0fdeadbeefull, "seed read back %" PRIx64, seed);

	/* Bad arguments: errnos, and nothing changed. */
	CHECK(softhcadv_set_dev_order(ctx, SOFTHCADV_ORDER_INHERIT) == EINVAL, "dev INHERIT");
	CHECK(softhcadv_set_dev_order(ctx, (enum softhcadv_order)99) == EINVAL, "dev 99");
	CHECK(softhcadv_set_qp_order(x->b, (enum softhcadv_order)-1) == EINVAL, "qp -1");
	CHECK(softhcadv_set_cq_order(x->rcq, (enum softhcadv_order)5) == EINVAL, "cq 5");
	CHECK(softhcadv_set_qp_order(NULL, SOFTHCADV_ORDER_STRICT) == EINVAL, "NULL qp");
	CHECK(softhcadv_set_cq_order(NULL, SOFTHCADV_ORDER_STRICT) == EINVAL, "NULL cq");
	CHECK(softhcadv_set_dev_order(NULL, SOFTHCADV_ORDER_STRICT) == EINVAL, "NULL ctx");
	CHECK(softhcadv_get_dev_order(ctx, NULL) == EINVAL, "NULL out");
	CHECK(softhcadv_query_counters(ctx, &c, 15) == EINVAL, "counters outlen 15");
	CHECK(softhcadv_query_counters(ctx, NULL, sizeof(c)) == EINVAL, "counters NULL");
	want_order("device order after bad calls", softhcadv_get_dev_order(ctx, &o), &o,
		   SOFTHCADV_ORDER_STRICT);

	/* Names as softhca run --order spells them. */
	CHECK(softhcadv_order_from_name("cqe-first", &o) == 0 &&
	      o == SOFTHCADV_ORDER_CQE_FIRST, "name cqe-first");
	CHECK(softhcadv_order_from_name("sideways", &o) == EINVAL, "name sideways");
	CHECK(!softhcadv_order_name((enum softhcadv_order)7), "name of 7");

}

/* Versioned by size: an old, shorter struct gets what fits; a newer, longer one
 * gets the rest zeroed. After traffic, so that the first fields are not 0. */
static void check_counter_sizes(struct ibv_context *ctx)
{
	struct softhcadv_counters c, full = dev_counters(ctx);
	unsigned char big[sizeof(c) + 24];

	memset(&c, 0xa5, sizeof(c));
	set_ok("counters outlen 24", softhcadv_query_counters(ctx, &c, 24));
	CHECK(c.size == 24 && c.tx_packets == full.tx_packets && c.tx_packets > 0 &&
	      c.rx_packets == 0xa5a5a5a5a5a5a5a5ull,
	      "counters outlen 24: size %u tx_packets %" PRIu64 " (want %" PRIu64 "), "
	      "rx_packets %" PRIx64 " (want untouched)", c.size, c.tx_packets,
	      full.tx_packets, c.rx_packets);
	memset(&c, 0xa5, sizeof(c));
	set_ok("counters outlen 30", softhcadv_query_counters(ctx, &c, 30));
	CHECK(c.size == 24, "counters outlen 30: size %u, want 24 (whole fields)", c.size);
	memset(big, 0xa5, sizeof(big));
	set_ok("counters outlen +24", softhcadv_query_counters(ctx, (void *)big, sizeof(big)));
	memcpy(&c, big, sizeof(c));
	CHECK(c.size == sizeof(c), "counters longer struct: size %u", c.size);
	for (size_t i = sizeof(c); i < sizeof(big); i++)
		CHECK(big[i] == 0, "counters longer struct: byte %zu not zeroed", i);
}

/* data_in_order follows per-QP settings: relaxed device, one QP kept strict. */
static void check_in_order(struct ibv_context *ctx, struct pair *x, struct pair *y)
{
	set_ok("dev relaxed", softhcadv_set_dev_order(ctx, SOFTHCADV_ORDER_RELAXED));
	set_ok("by strict", softhcadv_set_qp_order(y->b, SOFTHCADV_ORDER_STRICT));
	CHECK(ibv_query_qp_data_in_order(x->b, IBV_WR_SEND, 0) == 0,
	      "data_in_order of an inheriting QP on a relaxed device");
	CHECK(ibv_query_qp_data_in_order(y->b, IBV_WR_SEND, 0) == 1,
	      "data_in_order of a strict QP on a relaxed device");
	set_ok("dev strict", softhcadv_set_dev_order(ctx, SOFTHCADV_ORDER_STRICT));
	set_ok("by inherit", softhcadv_set_qp_order(y->b, SOFTHCADV_ORDER_INHERIT));
}

static int run_softhca(int expected)
{
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct pair x, y;
	union ibv_gid gid;
	enum softhcadv_order o;

	ctx = loop_open_device(&gid);
	if (!ctx)
		return die("no device to run on");
	pd = ibv_alloc_pd(ctx);
	if (!pd || make_pair(ctx, pd, &gid, "X", &x) || make_pair(ctx, pd, &gid, "Y", &y))
		return die("cannot create the PD, CQs, MRs or QPs");
	printf("qpns ax=%u bx=%u ay=%u by=%u\n", x.a->qp_num, x.b->qp_num, y.a->qp_num,
	       y.b->qp_num);
	check_api(ctx, &x);
	check_in_order(ctx, &x, &y);

	set_ok("bx cqe-first", softhcadv_set_qp_order(x.b, SOFTHCADV_ORDER_CQE_FIRST));
	want_order("bx", softhcadv_get_qp_order(x.b, &o), &o, SOFTHCADV_ORDER_CQE_FIRST);
	want_order("by", softhcadv_get_qp_order(y.b, &o), &o, SOFTHCADV_ORDER_INHERIT);
	CHECK(ibv_query_qp_data_in_order(x.b, IBV_WR_SEND, 0) == 1, "cqe-first is in order");
	if (run_phase(ctx, &x, &y, &(struct phase_want){ "phase 1, QP bx cqe-first",
							 expected, 0 }))
		return die("a verbs call or a completion failed");

	set_ok("bx inherit", softhcadv_set_qp_order(x.b, SOFTHCADV_ORDER_INHERIT));
	set_ok("by rcq cqe-first", softhcadv_set_cq_order(y.rcq, SOFTHCADV_ORDER_CQE_FIRST));
	want_order("by rcq", softhcadv_get_cq_order(y.rcq, &o), &o, SOFTHCADV_ORDER_CQE_FIRST);
	if (run_phase(ctx, &x, &y, &(struct phase_want){ "phase 2, CQ of by cqe-first",
							 0, expected }))
		return die("a verbs call or a completion failed");

	set_ok("by rcq inherit", softhcadv_set_cq_order(y.rcq, SOFTHCADV_ORDER_INHERIT));
	set_ok("dev cqe-first", softhcadv_set_dev_order(ctx, SOFTHCADV_ORDER_CQE_FIRST));
	set_ok("by strict", softhcadv_set_qp_order(y.b, SOFTHCADV_ORDER_STRICT));
	want_order("device", softhcadv_get_dev_order(ctx, &o), &o, SOFTHCADV_ORDER_CQE_FIRST);
	if (run_phase(ctx, &x, &y, &(struct phase_want){
			"phase 3, device cqe-first, QP by strict", expected, 0 }))
		return die("a verbs call or a completion failed");

	check_counter_sizes(ctx);
	free_pair(&x);
	free_pair(&y);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	printf("softhcadv_order: %s\n", failures ? "FAILED" : "all checks passed");
	return failures ? 1 : 0;
}

/* ---- on Debian's libibverbs -------------------------------------------------------------- */

static void check_not_softhca(struct ibv_context *ctx, const char *what)
{
	struct softhcadv_counters c;
	enum softhcadv_order o;
	uint64_t seed;

	CHECK(!softhcadv_is_softhca(ctx), "%s: softhcadv_is_softhca is true", what);
	CHECK(softhcadv_set_dev_order(ctx, SOFTHCADV_ORDER_CQE_FIRST) == EOPNOTSUPP,
	      "%s: set_dev_order", what);
	CHECK(softhcadv_set_seed(ctx, 1) == EOPNOTSUPP, "%s: set_seed", what);
	CHECK(softhcadv_get_seed(ctx, &seed) == EOPNOTSUPP, "%s: get_seed", what);
	CHECK(softhcadv_get_dev_order(ctx, &o) == EOPNOTSUPP, "%s: get_dev_order", what);
	CHECK(softhcadv_deferral_point(ctx) == EOPNOTSUPP, "%s: deferral_point", what);
	CHECK(softhcadv_query_counters(ctx, &c, sizeof(c)) == EOPNOTSUPP,
	      "%s: query_counters", what);
}

static int run_not_softhca(void)
{
	struct ibv_device **list;
	struct ibv_context *fake;
	Dl_info info;
	int n = 0;

	/* This run must really be on another libibverbs than the drop-in. */
	if (!dladdr((void *)ibv_get_device_list, &info) || !info.dli_fname)
		return die("cannot tell which libibverbs is loaded");
	printf("libibverbs: %s\n", info.dli_fname);
	CHECK(!dlvsym(RTLD_DEFAULT, "softhcadv_private_ops", "SOFTHCA_PRIVATE_1"),
	      "the softhca drop-in is loaded: run me without softhca run");

	/* A context that no libibverbs made: without a softhca library the answer
	 * comes without touching it. */
	fake = calloc(1, sizeof(*fake));
	if (!fake)
		return die("out of memory");
	check_not_softhca(fake, "a context of nothing");
	{
		struct ibv_qp qp = { .context = fake };
		struct ibv_cq cq = { .context = fake };
		struct softhcadv_counters c;
		enum softhcadv_order o;

		CHECK(softhcadv_set_qp_order(&qp, SOFTHCADV_ORDER_STRICT) == EOPNOTSUPP,
		      "set_qp_order");
		CHECK(softhcadv_set_cq_order(&cq, SOFTHCADV_ORDER_STRICT) == EOPNOTSUPP,
		      "set_cq_order");
		CHECK(softhcadv_get_qp_order(&qp, &o) == EOPNOTSUPP, "get_qp_order");
		CHECK(softhcadv_query_qp_counters(&qp, &c, sizeof(c)) == EOPNOTSUPP,
		      "query_qp_counters");
	}
	free(fake);

	list = ibv_get_device_list(&n);
	if (!list) {
		printf("ibv_get_device_list: none (%s)\n", strerror(errno));
	} else {
		for (int i = 0; i < n; i++) {
			struct ibv_context *ctx = ibv_open_device(list[i]);

			printf("device %s: %s\n", ibv_get_device_name(list[i]),
			       ctx ? "opened" : "cannot open");
			if (ctx) {
				check_not_softhca(ctx, ibv_get_device_name(list[i]));
				ibv_close_device(ctx);
			}
		}
		ibv_free_device_list(list);
	}
	printf("not softhca: %d devices, %s\n", n, failures ? "FAILED" : "all calls refused");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	char *end;
	long expected;

	if (argc == 2 && strcmp(argv[1], "--not-softhca") == 0)
		return run_not_softhca();
	if (argc != 2)
		return die("usage: softhcadv_order EXPECTED_STALE | --not-softhca");
	expected = strtol(argv[1], &end, 10);
	if (!*argv[1] || *end || expected < 0 || expected > ITERATIONS)
		return die("EXPECTED_STALE: a number of stale reads out of 100");
	return run_softhca((int)expected);
}
