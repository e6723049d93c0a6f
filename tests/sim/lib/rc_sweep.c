/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/lib/rc_sweep.c - the mixed RC stream of the lossy sweeps
 * (test_rc_lossy_sweep, test_odp_sweep): plan, post, run, check, summarise.
 * See rc_sweep.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_sweep.h"
#include "scen.h"

#define MAX_OPS     50
#define EXTRA_RECV  2
#define HDR_MAGIC   0x53455121u   /* "SEQ!" */
#define HDR_BYTES   16u

enum kind { K_SEND, K_SEND_IMM, K_WRITE, K_WRITE_IMM, K_READ, K_FADD, K_CSWP, K_KINDS };

static const char *const kind_names[] = {
	"SEND", "SEND_WITH_IMM", "RDMA_WRITE", "RDMA_WRITE_WITH_IMM", "RDMA_READ",
	"FETCH_ADD", "CMP_AND_SWP",
};

struct op {
	enum kind kind;
	uint64_t wr_id;
	uint32_t len;
	size_t off;              /* in src / rd (requester) and wdst / rsrc (responder) */
	uint32_t imm;
	uint64_t operand, swap;  /* atomics */
	uint64_t expect_old;
};

/* One direction of the stream: side `from` sends to side `to`. */
struct stream {
	int from, to;
	int n_ops;
	struct op ops[MAX_OPS];
	int n_recv;                       /* ops that consume a receive WQE */
	int recv_op[MAX_OPS];             /* op index of the k-th of them */
	uint32_t recv_slot;               /* bytes per receive buffer */
	size_t bytes;                     /* payload space used */
	struct scen_buf *src, *rd, *res;  /* requester side */
	struct scen_buf *wdst, *rsrc, *rbuf, *ctr; /* responder side */
	uint64_t ctr_init, ctr_final;
	struct emu_wc swc[MAX_OPS + 4];
	int n_swc;
	struct emu_wc rwc[MAX_OPS + EXTRA_RECV + 4];
	int n_rwc;
};

struct sweep {
	struct scen s;
	uint64_t seed;
	bool odp_mode;                    /* ODP buffers, faults, invalidations, policies */
	enum emu_dma_policy policy;
	struct stream st[2];
	uint64_t rng;                     /* access flags, invalidations */
	struct scen_buf *odp[16];         /* ODP buffers, for invalidations */
	int n_odp;
	uint64_t next_inval;              /* virtual time of the next one */
	uint64_t inval_every;
	uint64_t invalidations;
};

/* Most buffers are ODP; a seeded few are plain, so both kinds meet. */
static uint32_t buf_access(struct sweep *w)
{
	return scen_rand_range(&w->rng, 0, 7) ? SCEN_ACC_ALL | EMU_ACCESS_ON_DEMAND : SCEN_ACC_ALL;
}

static struct scen_buf *stream_mr(struct sweep *w, int side, size_t len)
{
	uint32_t access = w->odp_mode ? buf_access(w) : SCEN_ACC_ALL;
	struct scen_buf *b = scen_mr(&w->s, side, len, access);

	if (b && (access & EMU_ACCESS_ON_DEMAND) && w->n_odp < 16)
		w->odp[w->n_odp++] = b;
	return b;
}

static const struct sim_faults lossy = {
	.drop_ppm = 100000,
	.reorder_ppm = 100000,
	.dup_ppm = 50000,
	.corrupt_ppm = 2000,
};

/* ---- generating the stream ---------------------------------------------------------- */

static enum kind pick_kind(uint64_t *rng)
{
	static const uint8_t weight[K_KINDS] = { 30, 10, 15, 10, 15, 10, 10 };
	uint32_t r = scen_rand_range(rng, 0, 99);

	for (int k = 0; k < K_KINDS; k++) {
		if (r < weight[k])
			return (enum kind)k;
		r -= weight[k];
	}
	return K_SEND;
}

/* Sizes around the packet boundaries are where segmentation breaks. */
static uint32_t pick_len(uint64_t *rng, uint32_t mtu, uint32_t min, uint32_t max)
{
	uint32_t len;

	switch (scen_rand_range(rng, 0, 3)) {
	case 0:
		len = mtu * scen_rand_range(rng, 1, 3) + scen_rand_range(rng, 0, 2) - 1;
		break;
	case 1:
		len = scen_rand_range(rng, min, 64);
		break;
	default:
		len = scen_rand_range(rng, min, max);
		break;
	}
	return len < min ? min : len > max ? max : len;
}

static uint64_t payload_key(uint64_t seed, int dir, int i)
{
	return (seed << 20) ^ ((uint64_t)dir << 16) ^ (uint64_t)i ^ 0xabcd000000000000ull;
}

static void make_payload(uint8_t *p, uint32_t len, uint64_t seed, int dir, int i)
{
	uint32_t hdr[4] = { HDR_MAGIC, (uint32_t)dir, (uint32_t)i, len };

	scen_fill(p, len, payload_key(seed, dir, i));
	if (len >= HDR_BYTES)
		memcpy(p, hdr, HDR_BYTES);
}

static void plan_stream(struct sweep *w, int dir)
{
	struct stream *st = &w->st[dir];
	uint64_t rng = w->seed * 0x9e3779b97f4a7c15ull + (uint64_t)dir * 77 + 1;
	uint32_t mtu = w->s.mtu_bytes;
	uint32_t maxlen = 3 * mtu + 100;
	uint64_t ctr;

	st->from = dir;
	st->to = 1 - dir;
	st->n_ops = (int)scen_rand_range(&rng, 20, MAX_OPS);
	st->recv_slot = maxlen;
	st->ctr_init = ctr = scen_rand(&rng);
	st->bytes = 0;
	for (int i = 0; i < st->n_ops; i++) {
		struct op *op = &st->ops[i];

		op->kind = pick_kind(&rng);
		op->wr_id = ((uint64_t)(dir + 1) << 32) | (uint64_t)i;
		op->off = st->bytes;
		switch (op->kind) {
		case K_SEND:
		case K_SEND_IMM:
			op->len = pick_len(&rng, mtu, HDR_BYTES, maxlen);
			break;
		case K_WRITE:
		case K_READ:
			op->len = pick_len(&rng, mtu, 1, maxlen);
			break;
		case K_WRITE_IMM:
			op->len = pick_len(&rng, mtu, 0, maxlen);
			break;
		case K_FADD:
			op->len = 8;
			op->operand = scen_rand(&rng) >> scen_rand_range(&rng, 0, 63);
			op->expect_old = ctr;
			ctr += op->operand;
			break;
		case K_CSWP:
			op->len = 8;
			op->swap = scen_rand(&rng);
			op->expect_old = ctr;
			if (scen_rand_range(&rng, 0, 9) < 7) {
				op->operand = ctr;
				ctr = op->swap;
			} else {
				op->operand = ctr ^ (1ull << scen_rand_range(&rng, 0, 63));
			}
			break;
		default:
			break;
		}
		op->imm = (uint32_t)scen_rand(&rng);
		st->bytes += (op->len + 7) & ~7u;
		if (op->kind == K_SEND || op->kind == K_SEND_IMM || op->kind == K_WRITE_IMM)
			st->recv_op[st->n_recv++] = i;
	}
	st->ctr_final = ctr;
}

static int alloc_stream(struct sweep *w, int dir)
{
	struct stream *st = &w->st[dir];
	size_t bytes = st->bytes + 8;

	st->src = stream_mr(w, st->from, bytes);
	st->rd = stream_mr(w, st->from, bytes);
	st->res = stream_mr(w, st->from, 8 * MAX_OPS);
	st->wdst = stream_mr(w, st->to, bytes);
	st->rsrc = stream_mr(w, st->to, bytes);
	st->rbuf = stream_mr(w, st->to, (size_t)st->recv_slot * (size_t)(st->n_recv + EXTRA_RECV));
	st->ctr = stream_mr(w, st->to, 8);
	if (!st->src || !st->rd || !st->res || !st->wdst || !st->rsrc || !st->rbuf || !st->ctr)
		return -1;
	for (int i = 0; i < st->n_ops; i++) {
		struct op *op = &st->ops[i];
		if (op->kind == K_READ)
			scen_fill(st->rsrc->p + op->off, op->len, payload_key(w->seed, dir, i) + 1);
		else if (op->kind != K_FADD && op->kind != K_CSWP)
			make_payload(st->src->p + op->off, op->len, w->seed, dir, i);
	}
	memcpy(st->ctr->p, &st->ctr_init, 8);
	return 0;
}

/* ---- posting ------------------------------------------------------------------------------ */

static uint64_t recv_wr_id(int dir, int k)
{
	return ((uint64_t)(dir + 1) << 32) | 0x80000000u | (uint64_t)k;
}

static int post_recvs(struct sweep *w, int dir)
{
	struct stream *st = &w->st[dir];

	for (int k = 0; k < st->n_recv + EXTRA_RECV; k++) {
		int ret = scen_post_recv(w->s.qp[st->to], recv_wr_id(dir, k), st->rbuf,
					 (size_t)k * st->recv_slot, st->recv_slot);
		if (ret) {
			printf("    post_recv %d failed: %d\n", k, ret);
			return -1;
		}
	}
	return 0;
}

static int post_op(struct sweep *w, int dir, int i)
{
	struct stream *st = &w->st[dir];
	struct op *op = &st->ops[i];
	struct emu_qp *qp = w->s.qp[st->from];
	const uint32_t sig = EMU_SEND_SIGNALED;

	switch (op->kind) {
	case K_SEND:
		return scen_post_send(qp, op->wr_id, EMU_WR_SEND, sig, st->src, op->off,
				      op->len, 0);
	case K_SEND_IMM:
		return scen_post_send(qp, op->wr_id, EMU_WR_SEND_WITH_IMM, sig, st->src,
				      op->off, op->len, op->imm);
	case K_WRITE:
		return scen_post_rdma(qp, op->wr_id, EMU_WR_RDMA_WRITE, sig, st->src, op->off,
				      op->len, st->wdst, op->off, 0);
	case K_WRITE_IMM:
		return scen_post_rdma(qp, op->wr_id, EMU_WR_RDMA_WRITE_WITH_IMM, sig, st->src,
				      op->off, op->len, st->wdst, op->off, op->imm);
	case K_READ:
		return scen_post_rdma(qp, op->wr_id, EMU_WR_RDMA_READ, sig, st->rd, op->off,
				      op->len, st->rsrc, op->off, 0);
	case K_FADD:
		return scen_post_atomic(qp, op->wr_id, EMU_WR_ATOMIC_FETCH_AND_ADD, sig,
					st->res, 8 * (size_t)i, scen_addr(st->ctr, 0),
					st->ctr->rkey, op->operand, 0);
	case K_CSWP:
		return scen_post_atomic(qp, op->wr_id, EMU_WR_ATOMIC_CMP_AND_SWP, sig,
					st->res, 8 * (size_t)i, scen_addr(st->ctr, 0),
					st->ctr->rkey, op->operand, op->swap);
	default:
		return -1;
	}
}

/* ---- waiting --------------------------------------------------------------------------- */

static void poll_stream(struct sweep *w, struct stream *st)
{
	int cap_s = (int)(sizeof(st->swc) / sizeof(st->swc[0]));
	int cap_r = (int)(sizeof(st->rwc) / sizeof(st->rwc[0]));

	if (st->n_swc < cap_s)
		st->n_swc += sim_poll_cq(w->s.scq[st->from], st->swc + st->n_swc,
					 cap_s - st->n_swc);
	if (st->n_rwc < cap_r)
		st->n_rwc += sim_poll_cq(w->s.rcq[st->to], st->rwc + st->n_rwc,
					 cap_r - st->n_rwc);
}

static bool all_done(void *arg);

/* Stop the run for the next invalidation, or when everything is done. */
static bool done_or_invalidation_due(void *arg)
{
	struct sweep *w = arg;

	return sim_now(w->s.sim) >= w->next_inval || all_done(arg);
}

/* A random range (up to 3 pages, anywhere) of a random ODP buffer goes absent. */
static void invalidate_some(struct sweep *w)
{
	struct scen_buf *b;
	uint64_t off, len;

	if (!w->n_odp)
		return;
	b = w->odp[scen_rand_range(&w->rng, 0, (uint32_t)w->n_odp - 1)];
	off = scen_rand_range(&w->rng, 0, (uint32_t)b->len - 1);
	len = scen_rand_range(&w->rng, 1, 3 * 4096);
	sim_mr_invalidate(w->s.dev[b->side], b->mr, off, len);
	w->invalidations++;
}

static void run_with_invalidations(struct sweep *w, uint64_t budget_ns)
{
	uint64_t end = sim_now(w->s.sim) + budget_ns;

	while (!all_done(w) && sim_now(w->s.sim) < end) {
		if (!sim_run_until(w->s.sim, done_or_invalidation_due, w, end - sim_now(w->s.sim)) &&
		    sim_now(w->s.sim) < w->next_inval && sim_now(w->s.sim) < end)
			return;      /* idle: nothing left that could finish the stream */
		if (sim_now(w->s.sim) >= w->next_inval) {
			invalidate_some(w);
			w->next_inval = sim_now(w->s.sim) + 1 +
					scen_rand_range(&w->rng, 0, (uint32_t)w->inval_every);
		}
	}
}

/* The program goes on after its polls: what the DMA layer deferred may land. */
static void deferral_points(struct sweep *w)
{
	if (w->policy == EMU_DMA_STRICT)
		return;
	emu_dev_dma_deferral_point(w->s.emu[0]);
	emu_dev_dma_deferral_point(w->s.emu[1]);
}

static bool all_done(void *arg)
{
	struct sweep *w = arg;
	bool done = true;

	deferral_points(w);
	for (int d = 0; d < 2; d++) {
		struct stream *st = &w->st[d];
		poll_stream(w, st);
		done = done && st->n_swc >= st->n_ops && st->n_rwc >= st->n_recv;
	}
	return done;
}

/* ---- checking ---------------------------------------------------------------------------- */

static uint32_t wc_opcode_of(enum kind k)
{
	static const uint32_t map[K_KINDS] = {
		EMU_WC_SEND, EMU_WC_SEND, EMU_WC_RDMA_WRITE, EMU_WC_RDMA_WRITE,
		EMU_WC_RDMA_READ, EMU_WC_FETCH_ADD, EMU_WC_COMP_SWAP,
	};
	return map[k];
}

static int check_sender(struct sweep *w, int dir)
{
	struct stream *st = &w->st[dir];

	for (int i = 0; i < st->n_ops; i++) {
		const struct op *op = &st->ops[i];
		char what[80];

		snprintf(what, sizeof(what), "dir %d WR %d (%s, %u bytes)", dir, i,
			 kind_names[op->kind], op->len);
		if (!scen_wc_matches(&st->swc[i], op->wr_id, EMU_WC_SUCCESS,
				     wc_opcode_of(op->kind), SCEN_ANY, what))
			return -1;
		if (op->kind == K_READ &&
		    scen_memcmp(st->rd->p + op->off, st->rsrc->p + op->off, op->len, what))
			return -1;
		if (op->kind == K_WRITE || op->kind == K_WRITE_IMM) {
			if (scen_memcmp(st->wdst->p + op->off, st->src->p + op->off, op->len,
					what))
				return -1;
		}
		if (op->kind == K_FADD || op->kind == K_CSWP) {
			uint64_t old;
			memcpy(&old, st->res->p + 8 * (size_t)i, 8);
			if (old != op->expect_old) {
				printf("    %s returned 0x%" PRIx64 ", want 0x%" PRIx64 "\n", what,
				       old, op->expect_old);
				return -1;
			}
		}
	}
	{
		uint64_t ctr;
		memcpy(&ctr, st->ctr->p, 8);
		if (ctr != st->ctr_final) {
			printf("    dir %d: counter ends at 0x%" PRIx64 ", want 0x%" PRIx64 "\n",
			       dir, ctr, st->ctr_final);
			return -1;
		}
	}
	return 0;
}

static int check_message(struct sweep *w, int dir, int k, const struct op *op, int i)
{
	struct stream *st = &w->st[dir];
	const uint8_t *got = st->rbuf->p + (size_t)k * st->recv_slot;
	uint32_t hdr[4];
	uint8_t *want;
	int rc;

	memcpy(hdr, got, HDR_BYTES);
	if (hdr[0] != HDR_MAGIC || hdr[1] != (uint32_t)dir) {
		printf("    dir %d receive %d: no message header (magic 0x%x dir %u)\n", dir, k,
		       hdr[0], hdr[1]);
		return -1;
	}
	if (hdr[2] != (uint32_t)i) {
		printf("    dir %d receive %d: message %u arrived where message %d was due "
		       "(lost, duplicated or out of order)\n", dir, k, hdr[2], i);
		return -1;
	}
	want = malloc(op->len);
	if (!want)
		return -1;
	make_payload(want, op->len, w->seed, dir, i);
	rc = scen_memcmp(got, want, op->len, "message payload");
	free(want);
	return rc;
}

static int check_receiver(struct sweep *w, int dir)
{
	struct stream *st = &w->st[dir];

	for (int k = 0; k < st->n_recv; k++) {
		int i = st->recv_op[k];
		const struct op *op = &st->ops[i];
		const struct emu_wc *wc = &st->rwc[k];
		bool imm = op->kind != K_SEND;
		char what[80];

		snprintf(what, sizeof(what), "dir %d receive %d (WR %d, %s, %u bytes)", dir, k, i,
			 kind_names[op->kind], op->len);
		if (!scen_wc_matches(wc, recv_wr_id(dir, k), EMU_WC_SUCCESS,
				     op->kind == K_WRITE_IMM ? EMU_WC_RECV_RDMA_WITH_IMM :
				     EMU_WC_RECV, op->len, what))
			return -1;
		if (!!(wc->wc_flags & EMU_WC_WITH_IMM) != imm || (imm && wc->imm_data != op->imm)) {
			printf("    %s: wc_flags 0x%x imm 0x%x, want imm %s 0x%x\n", what,
			       wc->wc_flags, wc->imm_data, imm ? "yes" : "no", op->imm);
			return -1;
		}
		if (op->kind != K_WRITE_IMM && check_message(w, dir, k, op, i))
			return -1;
	}
	return 0;
}

static int check_counts(struct sweep *w)
{
	int rc = 0;

	for (int d = 0; d < 2; d++) {
		struct stream *st = &w->st[d];
		if (st->n_swc != st->n_ops) {
			printf("    dir %d: %d send completions for %d WRs\n", d, st->n_swc,
			       st->n_ops);
			for (int i = st->n_ops; i < st->n_swc; i++)
				scen_print_wc(stdout, "      extra: ", &st->swc[i]);
			rc = -1;
		}
		if (st->n_rwc != st->n_recv) {
			printf("    dir %d: %d receive completions for %d messages\n", d,
			       st->n_rwc, st->n_recv);
			for (int k = st->n_recv; k < st->n_rwc; k++)
				scen_print_wc(stdout, "      extra: ", &st->rwc[k]);
			rc = -1;
		}
	}
	return rc;
}

/* ---- one seed ------------------------------------------------------------------------------ */

/* The QP counts the faults its transport met; with one QP per device the two
 * must agree, and the device's ODP counters must tell the same story. */
static int check_odp_counters(struct sweep *w)
{
	for (int side = 0; side < 2; side++) {
		struct emu_counters d, q;

		emu_dev_counters(w->s.emu[side], &d);
		emu_qp_counters(w->s.qp[side], &q);
		if (d.page_faults != q.page_faults || d.odp_stalls != q.odp_stalls ||
		    d.odp_rnr_naks != q.odp_rnr_naks) {
			printf("    side %d: device page_faults/stalls/odp_rnr %" PRIu64 "/%" PRIu64
			       "/%" PRIu64 ", QP %" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n", side,
			       d.page_faults, d.odp_stalls, d.odp_rnr_naks, q.page_faults,
			       q.odp_stalls, q.odp_rnr_naks);
			return -1;
		}
		if (d.odp_rnr_naks > d.tx_rnr_naks || d.odp_unbacked || d.dma_lost) {
			printf("    side %d: odp_rnr_naks %" PRIu64 " > tx_rnr_naks %" PRIu64
			       ", or unbacked %" PRIu64 " / dma_lost %" PRIu64 " not 0\n", side,
			       d.odp_rnr_naks, d.tx_rnr_naks, d.odp_unbacked, d.dma_lost);
			return -1;
		}
	}
	return 0;
}

static void add_totals(struct rc_sweep_totals *t, struct sweep *w)
{
	struct sim_wire_stats ws;
	struct emu_counters c;

	sim_wire_stats(w->s.sim, &ws);
	t->wire.sent += ws.sent;
	t->wire.dropped += ws.dropped;
	t->wire.duplicated += ws.duplicated;
	t->wire.reordered += ws.reordered;
	t->wire.corrupted += ws.corrupted;
	for (int side = 0; side < 2; side++) {
		emu_dev_counters(w->s.emu[side], &c);
		t->retransmits += c.retransmits;
		t->timeouts += c.timeouts;
		t->naks += c.tx_naks;
		t->dup_requests += c.duplicate_requests;
		t->page_faults += c.page_faults;
		t->stalls += c.odp_stalls;
		t->odp_rnr += c.odp_rnr_naks;
		t->dma_deferred += c.dma_deferred;
		t->dma_reordered += c.dma_reordered;
		t->dma_cqe_early += c.dma_cqe_early;
	}
	t->invalidations += w->invalidations;
	t->ops += (uint64_t)(w->st[0].n_ops + w->st[1].n_ops);
}

static int run_seed(uint64_t seed, bool odp, struct rc_sweep_totals *t)
{
	static const uint32_t mtus[] = { EMU_MTU_256, EMU_MTU_1024, EMU_MTU_4096 };
	static const enum emu_dma_policy policies[] = {
		EMU_DMA_STRICT, EMU_DMA_CQE_FIRST, EMU_DMA_RELAXED, EMU_DMA_MIX,
	};
	struct sweep *w = calloc(1, sizeof(*w));
	struct scen_opts o;
	int rc = 1;

	if (!w)
		return 1;
	w->seed = seed;
	w->odp_mode = odp;
	w->rng = seed * 0xd1342543de82ef95ull + 3;
	scen_opts_default(&o);
	/* Short RNR timers (IB code 1..4: 10-40 us) or the QP's usual 640 us. */
	if (odp)
		o.min_rnr_timer = (uint8_t)((seed & 3) ? scen_rand_range(&w->rng, 1, 4) : 12);
	o.faults = &lossy;
	o.psn_mode = (seed & 1) ? SCEN_PSN_NEAR_WRAP : SCEN_PSN_RANDOM;
	if (scen_init(&w->s, seed, EMU_QPT_RC, mtus[seed % 3], &o))
		goto out;
	if (odp) {
		w->policy = policies[seed % 4];
		for (int side = 0; side < 2; side++)
			SCEN_CHECK_OK(emu_dev_set_dma_policy(w->s.emu[side], w->policy));
		sim_set_fault_delay(w->s.sim, 500 + scen_rand_range(&w->rng, 0, 50000));
		w->inval_every = 2000 + scen_rand_range(&w->rng, 0, 200000);
		w->next_inval = sim_now(w->s.sim) + w->inval_every;
	}
	for (int d = 0; d < 2; d++) {
		plan_stream(w, d);
		SCEN_CHECK(alloc_stream(w, d) == 0, "buffers of direction %d", d);
		SCEN_CHECK(post_recvs(w, d) == 0, "receive WQEs of direction %d", d);
	}
	/* Interleave the two directions' posts, as two busy peers would. */
	for (int i = 0; i < MAX_OPS; i++)
		for (int d = 0; d < 2; d++)
			if (i < w->st[d].n_ops)
				SCEN_CHECK_OK(post_op(w, d, i));
	if (odp)
		run_with_invalidations(w, SCEN_SEC(600));
	else if (!all_done(w))
		sim_run_until(w->s.sim, all_done, w, SCEN_SEC(600));
	/* Let the wire drain (duplicates, late retransmissions) before looking for
	 * completions that should not exist. */
	sim_run(w->s.sim, SCEN_SEC(2));
	all_done(w);
	deferral_points(w);     /* after the last poll, before looking at the data */
	SCEN_CHECK(check_counts(w) == 0, "every WR completes exactly once, nothing else "
		   "(virtual time %.3f s)", (double)sim_now(w->s.sim) / 1e9);
	for (int d = 0; d < 2; d++) {
		SCEN_CHECK(check_sender(w, d) == 0, "requester results of direction %d", d);
		SCEN_CHECK(check_receiver(w, d) == 0, "receiver results of direction %d", d);
	}
	SCEN_CHECK(!odp || check_odp_counters(w) == 0, "ODP counters");
	add_totals(t, w);
	rc = 0;
out:
	if (rc) {
		struct emu_counters c;
		printf("    seed %" PRIu64 ": MTU %u, %d + %d WRs, initial PSNs 0x%06x / 0x%06x\n",
		       seed, w->s.mtu_bytes, w->st[0].n_ops, w->st[1].n_ops, w->s.sq_psn[0],
		       w->s.sq_psn[1]);
		if (odp)
			printf("    %d ODP buffers, %" PRIu64 " invalidations, DMA policy %d\n",
			       w->n_odp, w->invalidations, (int)w->policy);
		for (int side = 0; side < 2 && w->s.emu[side]; side++) {
			emu_dev_counters(w->s.emu[side], &c);
			printf("    device %d: ", side);
			scen_print_counters(stdout, "", &c);
		}
	}
	scen_destroy(&w->s);
	free(w);
	return rc;
}

/* The ODP sweep's own summary: faults, stalls, RNR NAKs and invalidations must
 * have happened, and the DMA policies must have held, reordered and deferred. */
static bool odp_took_effect(const struct rc_sweep_totals *t, uint64_t count, const char *name)
{
	printf("  ODP: %" PRIu64 " page faults, %" PRIu64 " requester stalls, %" PRIu64
	       " RNR NAKs for absent pages, %" PRIu64 " invalidations\n", t->page_faults,
	       t->stalls, t->odp_rnr, t->invalidations);
	printf("  DMA: %" PRIu64 " writes deferred, %" PRIu64 " pieces reordered, %" PRIu64
	       " CQEs before their data; none lost\n", t->dma_deferred, t->dma_reordered,
	       t->dma_cqe_early);
	if (!t->page_faults || !t->stalls || !t->odp_rnr || !t->invalidations ||
	    (count >= 4 && (!t->dma_deferred || !t->dma_reordered || !t->dma_cqe_early))) {
		printf("FAIL %s: the ODP faults or the DMA policies did not take effect\n", name);
		printf("%s: 0 passed, 1 failed\n", name);
		return false;
	}
	return true;
}

int rc_sweep_main(int argc, char **argv, const char *name, bool odp)
{
	uint64_t count = scen_under_valgrind() ? (odp ? 50 : 100) : 1000;
	uint64_t first = 1;
	struct rc_sweep_totals t;
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
	printf("%s: %" PRIu64 " seeds from %" PRIu64 "%s, faults: drop 10%%, "
	       "reorder 10%%, duplicate 5%%, corrupt 0.2%%\n", name, count, first,
	       scen_under_valgrind() ? " (reduced under valgrind)" : "");
	for (uint64_t i = 0; i < count; i++) {
		uint64_t seed = first + i;
		if (run_seed(seed, odp, &t)) {
			printf("FAIL %s: seed %" PRIu64 " failed after %" PRIu64
			       " good seeds\n", name, seed, i);
			printf("  replay: SOFTHCA_TRACE=1 %s 1 %" PRIu64 "\n", argv[0], seed);
			printf("%s: 0 passed, 1 failed\n", name);
			return 1;
		}
	}
	printf("  ran %" PRIu64 " seeds, %" PRIu64 " WRs in %.2f s real time\n", count, t.ops,
	       (double)(scen_real_ns() - r0) / 1e9);
	printf("  wire: %" PRIu64 " packets, %" PRIu64 " dropped, %" PRIu64 " duplicated, %"
	       PRIu64 " reordered, %" PRIu64 " corrupted\n", t.wire.sent, t.wire.dropped,
	       t.wire.duplicated, t.wire.reordered, t.wire.corrupted);
	printf("  engines: %" PRIu64 " retransmits, %" PRIu64 " timeouts, %" PRIu64
	       " NAKs, %" PRIu64 " duplicate requests\n", t.retransmits, t.timeouts, t.naks,
	       t.dup_requests);
	if (odp && !odp_took_effect(&t, count, name))
		return 1;
	/* A sweep whose faults never happened would prove nothing. */
	if (!t.wire.dropped || !t.wire.duplicated || !t.wire.reordered || !t.retransmits ||
	    (count >= 100 && !t.wire.corrupted)) {
		printf("FAIL %s: the faults did not take effect\n", name);
		printf("%s: 0 passed, 1 failed\n", name);
		return 1;
	}
	printf("PASS %s\n%s: 1 passed, 0 failed\n", name, name);
	return 0;
}
