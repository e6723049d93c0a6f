/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_rc_outstanding.c - a deep send queue of READs and atomics with
 * the device's max_rd_atomic outstanding, as ib_atomic_bw and ib_read_bw run
 * them, over a bad wire that also stalls (a receiver not scheduled for tens of
 * ms on a loaded machine, its socket buffer filling up).
 *
 * Each seed keeps a send queue of 128 WRs full in one or both directions (the
 * requester reposts as completions come, as perftest does with tx depth 128):
 * only CMP_AND_SWAP, only FETCH_ADD, only READs, or a mix, with random start
 * PSNs, some a few packets below 2^24. Every WR must complete with SUCCESS, in
 * order, exactly once; every atomic must return the value its turn in the
 * sequence saw and the counter must end at the value of every atomic executed
 * exactly once; every READ must bring the right bytes.
 *
 * Usage: test_rc_outstanding [SEEDS [FIRST_SEED]]   (default 300 seeds from 1;
 * 30 under SOFTHCA_VALGRIND). It stops at the first failing seed and prints how
 * to replay it with a trace.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scen.h"

#define DEPTH        128      /* perftest's default tx depth */
#define MAX_OPS      600
#define RD_ATOMIC    16       /* EMU_MAX_RD_ATOMIC: what the device reports */
#define READ_SRC     (64u * 1024)

enum mix { MIX_CSWP, MIX_FADD, MIX_READ, MIX_ALL, MIXES };
static const char *const mix_names[MIXES] = { "CMP_AND_SWP", "FETCH_ADD", "READ", "mixed" };

enum kind { K_CSWP, K_FADD, K_READ };

struct op {
	enum kind kind;
	uint32_t len;             /* READ */
	uint32_t roff;            /* READ: offset in the peer's source */
	uint64_t operand, swap;   /* atomics */
	uint64_t expect_old;
};

/* One direction: side `from` runs the send queue against side `to`. */
struct stream {
	int from, to;
	int n_ops;
	struct op ops[MAX_OPS];
	int posted, completed;
	uint32_t slot_len;        /* bytes per local result slot (DEPTH slots) */
	struct scen_buf *local;   /* requester: where READ data and atomic results land */
	struct scen_buf *src;     /* responder: what READs read */
	struct scen_buf *ctr;     /* responder: the atomics' counter */
	uint64_t ctr_init, ctr_final;
	int failed;               /* a completion was wrong: stop */
};

struct run {
	struct scen s;
	uint64_t seed;
	enum mix mix;
	int n_dirs;
	struct stream st[2];
};

/* ---- the plan ------------------------------------------------------------------- */

static uint64_t read_key(uint64_t seed, int dir)
{
	return (seed << 8) ^ ((uint64_t)dir << 4) ^ 0x5eadbeef00000000ull;
}

static enum kind pick_kind(enum mix mix, uint64_t *rng)
{
	switch (mix) {
	case MIX_CSWP:
		return K_CSWP;
	case MIX_FADD:
		return K_FADD;
	case MIX_READ:
		return K_READ;
	default:
		return (enum kind)scen_rand_range(rng, 0, 2);
	}
}

static void plan_stream(struct run *r, int dir)
{
	struct stream *st = &r->st[dir];
	uint64_t rng = r->seed * 0x9e3779b97f4a7c15ull + (uint64_t)dir * 131 + 7;
	uint32_t mtu = r->s.mtu_bytes;
	uint64_t ctr;

	st->from = dir;
	st->to = 1 - dir;
	st->n_ops = (int)scen_rand_range(&rng, 300, MAX_OPS);
	st->slot_len = 2 * mtu + 64;
	st->ctr_init = ctr = scen_rand(&rng);
	for (int i = 0; i < st->n_ops; i++) {
		struct op *op = &st->ops[i];

		memset(op, 0, sizeof(*op));
		op->kind = pick_kind(r->mix, &rng);
		switch (op->kind) {
		case K_READ:
			/* Mostly one packet (perftest's 64 bytes ... MTU), some
			 * two or three. */
			op->len = scen_rand_range(&rng, 0, 3) ? scen_rand_range(&rng, 1, mtu)
							     : scen_rand_range(&rng, mtu + 1,
									       st->slot_len);
			op->roff = scen_rand_range(&rng, 0, READ_SRC - op->len);
			break;
		case K_FADD:
			op->operand = scen_rand(&rng) >> scen_rand_range(&rng, 1, 63);
			op->expect_old = ctr;
			ctr += op->operand;
			break;
		case K_CSWP:
			op->swap = scen_rand(&rng);
			op->expect_old = ctr;
			/* A duplicate executed again would compare against the
			 * swapped value: mostly successful swaps show it. */
			if (scen_rand_range(&rng, 0, 9) < 8) {
				op->operand = ctr;
				ctr = op->swap;
			} else {
				op->operand = ctr ^ (1ull << scen_rand_range(&rng, 0, 63));
			}
			break;
		}
	}
	st->ctr_final = ctr;
}

static int alloc_stream(struct run *r, int dir)
{
	struct stream *st = &r->st[dir];
	struct scen *s = &r->s;

	st->local = scen_mr(s, st->from, (size_t)st->slot_len * DEPTH, SCEN_ACC_ALL);
	st->src = scen_mr(s, st->to, READ_SRC, SCEN_ACC_ALL);
	st->ctr = scen_mr(s, st->to, 8, SCEN_ACC_ALL);
	if (!st->local || !st->src || !st->ctr)
		return -1;
	scen_fill(st->src->p, READ_SRC, read_key(r->seed, dir));
	memcpy(st->ctr->p, &st->ctr_init, 8);
	return 0;
}

/* ---- posting and completing --------------------------------------------------------- */

static uint64_t wr_id_of(int dir, int i)
{
	return ((uint64_t)(dir + 1) << 32) | (uint64_t)i;
}

static size_t slot_of(const struct stream *st, int i)
{
	return (size_t)(i % DEPTH) * st->slot_len;
}

static int post_op(struct run *r, int dir, int i)
{
	struct stream *st = &r->st[dir];
	const struct op *op = &st->ops[i];
	struct emu_qp *qp = r->s.qp[st->from];
	uint64_t id = wr_id_of(dir, i);
	size_t slot = slot_of(st, i);

	/* The slot's old contents must not pass for the answer. */
	memset(st->local->p + slot, 0xa5, op->kind == K_READ ? op->len : 8);
	switch (op->kind) {
	case K_READ:
		return scen_post_rdma(qp, id, EMU_WR_RDMA_READ, EMU_SEND_SIGNALED, st->local, slot,
				      op->len, st->src, op->roff, 0);
	case K_FADD:
		return scen_post_atomic(qp, id, EMU_WR_ATOMIC_FETCH_AND_ADD, EMU_SEND_SIGNALED,
					st->local, slot, scen_addr(st->ctr, 0), st->ctr->rkey,
					op->operand, 0);
	default:
		return scen_post_atomic(qp, id, EMU_WR_ATOMIC_CMP_AND_SWP, EMU_SEND_SIGNALED,
					st->local, slot, scen_addr(st->ctr, 0), st->ctr->rkey,
					op->operand, op->swap);
	}
}

/* Keep DEPTH WRs posted, as perftest does. */
static int refill(struct run *r, int dir)
{
	struct stream *st = &r->st[dir];

	while (st->posted < st->n_ops && st->posted - st->completed < DEPTH) {
		int ret = post_op(r, dir, st->posted);

		if (ret) {
			printf("    dir %d: post of WR %d failed: %d\n", dir, st->posted, ret);
			return -1;
		}
		st->posted++;
	}
	return 0;
}

/* The completion of op i: status, order, and what landed in its slot. */
static int check_wc(struct run *r, int dir, const struct emu_wc *wc)
{
	static const uint32_t wc_op[] = { EMU_WC_COMP_SWAP, EMU_WC_FETCH_ADD, EMU_WC_RDMA_READ };
	struct stream *st = &r->st[dir];
	int i = st->completed;
	const struct op *op;
	const uint8_t *got;
	uint64_t old;
	char what[64];

	if (i >= st->n_ops) {
		scen_print_wc(stdout, "    extra completion: ", wc);
		return -1;
	}
	op = &st->ops[i];
	snprintf(what, sizeof(what), "dir %d WR %d (%s)", dir, i,
		 op->kind == K_READ ? "READ" : op->kind == K_FADD ? "FETCH_ADD" : "CMP_AND_SWP");
	if (!scen_wc_matches(wc, wr_id_of(dir, i), EMU_WC_SUCCESS, wc_op[op->kind], SCEN_ANY, what))
		return -1;
	got = st->local->p + slot_of(st, i);
	if (op->kind == K_READ) {
		uint8_t *want = malloc(op->len);
		int rc;

		if (!want)
			return -1;
		memcpy(want, st->src->p + op->roff, op->len);
		rc = scen_memcmp(got, want, op->len, what);
		free(want);
		return rc;
	}
	memcpy(&old, got, 8);
	if (old != op->expect_old) {
		printf("    %s: original value 0x%016" PRIx64 ", expected 0x%016" PRIx64 "\n", what,
		       old, op->expect_old);
		return -1;
	}
	return 0;
}

static void poll_stream(struct run *r, int dir)
{
	struct stream *st = &r->st[dir];
	struct emu_wc wc[32];
	int n;

	while (!st->failed && (n = sim_poll_cq(r->s.scq[st->from], wc, 32)) > 0) {
		for (int k = 0; k < n && !st->failed; k++) {
			if (check_wc(r, dir, &wc[k]))
				st->failed = 1;
			else
				st->completed++;
		}
	}
	if (!st->failed && refill(r, dir))
		st->failed = 1;
}

/* The run's condition: polls, reposts, and says when to stop. */
static bool finished(void *arg)
{
	struct run *r = arg;
	bool done = true;

	for (int d = 0; d < r->n_dirs; d++) {
		poll_stream(r, d);
		if (r->st[d].failed)
			return true;
		done = done && r->st[d].completed == r->st[d].n_ops;
	}
	return done;
}

/* ---- one seed -------------------------------------------------------------------- */

struct totals {
	struct sim_wire_stats wire;
	uint64_t ops, retransmits, timeouts, dup_requests;
};

static void faults_of(uint64_t seed, struct sim_faults *f)
{
	uint64_t rng = seed ^ 0xfa017fa017ull;

	memset(f, 0, sizeof(*f));
	f->drop_ppm = scen_rand_range(&rng, 0, 50000);
	f->dup_ppm = scen_rand_range(&rng, 0, 30000);
	f->reorder_ppm = scen_rand_range(&rng, 0, 50000);
	f->delay_ppm = scen_rand_range(&rng, 0, 50000);
	f->max_extra_delay_ns = SCEN_MS(scen_rand_range(&rng, 0, 3)) + 20000;
	/* Stalls of 5 to 100 ms with at least 150 ms between them (the retry
	 * budget is 8 x 67 ms: a stall may cost a retry or two, never all of
	 * them), holding a socket buffer's worth of datagrams (sometimes less
	 * than a window). */
	f->stall_ppm = scen_rand_range(&rng, 500, 5000);
	f->stall_ns = SCEN_MS(scen_rand_range(&rng, 5, 100));
	f->stall_gap_ns = SCEN_MS(150);
	f->stall_queue = scen_rand_range(&rng, 0, 1) ? 0 : scen_rand_range(&rng, 8, 256);
}

static void report(struct run *r, const struct sim_faults *f)
{
	struct sim_wire_stats ws;
	struct emu_counters c;

	printf("    seed %" PRIu64 ": %s, %d direction(s), MTU %u, initial PSNs 0x%06x / 0x%06x\n",
	       r->seed, mix_names[r->mix], r->n_dirs, r->s.mtu_bytes, r->s.sq_psn[0],
	       r->s.sq_psn[1]);
	printf("    faults: drop %u dup %u reorder %u delay %u ppm, stall %u ppm of %" PRIu64
	       " ms, queue %u\n", f->drop_ppm, f->dup_ppm, f->reorder_ppm, f->delay_ppm,
	       f->stall_ppm, f->stall_ns / 1000000, f->stall_queue);
	for (int d = 0; d < r->n_dirs; d++)
		printf("    dir %d: %d of %d WRs completed, %d posted\n", d, r->st[d].completed,
		       r->st[d].n_ops, r->st[d].posted);
	sim_wire_stats(r->s.sim, &ws);
	printf("    wire: %" PRIu64 " sent, %" PRIu64 " dropped, %" PRIu64 " stalls, %" PRIu64
	       " held, %" PRIu64 " overflowed; virtual time %.3f s\n", ws.sent, ws.dropped,
	       ws.stalls, ws.stall_held, ws.stall_dropped, (double)sim_now(r->s.sim) / 1e9);
	for (int side = 0; side < 2 && r->s.emu[side]; side++) {
		emu_dev_counters(r->s.emu[side], &c);
		printf("    device %d: ", side);
		scen_print_counters(stdout, "", &c);
	}
}

static void add_totals(struct totals *t, struct run *r)
{
	struct sim_wire_stats ws;
	struct emu_counters c;

	sim_wire_stats(r->s.sim, &ws);
	t->wire.sent += ws.sent;
	t->wire.dropped += ws.dropped;
	t->wire.stalls += ws.stalls;
	t->wire.stall_held += ws.stall_held;
	t->wire.stall_dropped += ws.stall_dropped;
	for (int side = 0; side < 2; side++) {
		emu_dev_counters(r->s.emu[side], &c);
		t->retransmits += c.retransmits;
		t->timeouts += c.timeouts;
		t->dup_requests += c.duplicate_requests;
	}
	for (int d = 0; d < r->n_dirs; d++)
		t->ops += (uint64_t)r->st[d].n_ops;
}

static int run_seed(uint64_t seed, struct totals *t)
{
	static const uint32_t mtus[] = { EMU_MTU_1024, EMU_MTU_4096 };
	struct run *r = calloc(1, sizeof(*r));
	struct sim_faults f;
	struct scen_opts o;
	int rc = 1;

	if (!r)
		return 1;
	r->seed = seed;
	r->mix = (enum mix)(seed % MIXES);
	r->n_dirs = (seed / MIXES) % 2 ? 2 : 1;
	faults_of(seed, &f);
	scen_opts_default(&o);
	o.faults = &f;
	o.max_send_wr = DEPTH;
	o.send_cqe = 2 * DEPTH;
	o.max_rd_atomic = RD_ATOMIC;
	o.max_dest_rd_atomic = RD_ATOMIC;
	o.timeout = 14;            /* perftest's: 67 ms */
	o.retry_cnt = 7;
	o.rnr_retry = 7;
	o.psn_mode = (seed / (2 * MIXES)) % 2 ? SCEN_PSN_NEAR_WRAP : SCEN_PSN_RANDOM;
	if (scen_init(&r->s, seed, EMU_QPT_RC, mtus[(seed / 4) % 2], &o))
		goto out;
	for (int d = 0; d < r->n_dirs; d++) {
		plan_stream(r, d);
		SCEN_CHECK(alloc_stream(r, d) == 0, "buffers of direction %d", d);
	}
	if (!finished(r))
		sim_run_until(r->s.sim, finished, r, SCEN_SEC(600));
	for (int d = 0; d < r->n_dirs; d++) {
		struct stream *st = &r->st[d];
		uint64_t ctr;

		SCEN_CHECK(!st->failed, "direction %d: a completion was wrong", d);
		SCEN_CHECK(st->completed == st->n_ops, "direction %d: %d of %d WRs completed "
			   "(virtual time %.3f s)", d, st->completed, st->n_ops,
			   (double)sim_now(r->s.sim) / 1e9);
		memcpy(&ctr, st->ctr->p, 8);
		SCEN_CHECK(ctr == st->ctr_final, "direction %d: counter 0x%016" PRIx64 ", "
			   "expected 0x%016" PRIx64 " (an atomic ran twice or not at all)", d, ctr,
			   st->ctr_final);
	}
	/* Late duplicates and retransmissions: nothing more may complete. */
	sim_run(r->s.sim, SCEN_SEC(2));
	for (int d = 0; d < r->n_dirs; d++) {
		SCEN_CHECK(scen_expect_no_wc(&r->s, r->s.scq[r->st[d].from], 0, "after the run") == 0,
			   "direction %d: completions after the last WR", d);
	}
	add_totals(t, r);
	rc = 0;
out:
	if (rc && r->s.sim)
		report(r, &f);
	scen_destroy(&r->s);
	free(r);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t count = scen_under_valgrind() ? 30 : 300;
	uint64_t first = 1;
	struct totals t;
	uint64_t r0 = scen_real_ns();

	if (argc > 1)
		count = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		first = strtoull(argv[2], NULL, 0);
	if (count == 0) {
		printf("usage: %s [SEEDS [FIRST_SEED]]\n", argv[0]);
		return 2;
	}
	memset(&t, 0, sizeof(t));
	printf("rc_outstanding: %" PRIu64 " seeds from %" PRIu64 "%s: tx depth %d, %d READ/atomic "
	       "outstanding, loss, duplication, reordering, delays and stalls of 5-100 ms\n",
	       count, first, scen_under_valgrind() ? " (reduced under valgrind)" : "", DEPTH,
	       RD_ATOMIC);
	for (uint64_t i = 0; i < count; i++) {
		uint64_t seed = first + i;

		if (run_seed(seed, &t)) {
			printf("FAIL rc_outstanding: seed %" PRIu64 " failed after %" PRIu64
			       " good seeds\n", seed, i);
			printf("  replay: SOFTHCA_TRACE=1 %s 1 %" PRIu64 "\n", argv[0], seed);
			printf("rc_outstanding: 0 passed, 1 failed\n");
			return 1;
		}
	}
	printf("  ran %" PRIu64 " seeds, %" PRIu64 " WRs in %.2f s real time\n", count, t.ops,
	       (double)(scen_real_ns() - r0) / 1e9);
	printf("  wire: %" PRIu64 " packets, %" PRIu64 " dropped, %" PRIu64 " stalls holding %"
	       PRIu64 " packets, %" PRIu64 " overflowed\n", t.wire.sent, t.wire.dropped,
	       t.wire.stalls, t.wire.stall_held, t.wire.stall_dropped);
	printf("  engines: %" PRIu64 " retransmits, %" PRIu64 " timeouts, %" PRIu64
	       " duplicate requests\n", t.retransmits, t.timeouts, t.dup_requests);
	/* A sweep whose faults never happened would prove nothing. */
	if (!t.wire.dropped || !t.wire.stalls || !t.wire.stall_held || !t.retransmits ||
	    !t.dup_requests) {
		printf("FAIL rc_outstanding: the faults did not take effect\n");
		printf("rc_outstanding: 0 passed, 1 failed\n");
		return 1;
	}
	printf("PASS rc_outstanding\nrc_outstanding: 1 passed, 0 failed\n");
	return 0;
}
