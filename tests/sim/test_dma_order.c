/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_dma_order.c - the DMA-ordering model (issue 4) in simulation.
 *
 *  - The consumer of the 2007 DMA-vs-CQ race (shared/seeds/2007-dma-vs-cq-race.txt)
 *    polls the receive CQE and reads the buffer at once: under CQE_FIRST it sees
 *    the previous contents in every iteration, with an ordered CQ (the ABI 2 fix),
 *    under STRICT or under RELAXED in none; after the deferral point the data is
 *    always complete.
 *  - A last-byte poller over an RDMA WRITE is never fooled under STRICT (which
 *    claims in-order data) and is fooled under RELAXED for some seeds, the same
 *    way each time a seed is replayed.
 *  - MIX is reproducible per seed, whatever the buffers' addresses.
 *  - Which setting wins (QP, CQ, device, ordered CQ), what emu_qp_data_in_order
 *    answers, the counters, the trace records, the requester side (READ, atomic),
 *    WRs without a CQE, a region gone before release, and destroy.
 */
#define _GNU_SOURCE             /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scen.h"

#define LEN      3000u          /* three packets at MTU 1024 */
#define PIECES   3u             /* CQE_FIRST holds one write per packet */
#define POLL_LEN 4000u          /* four packets */

static uint8_t old_contents[LEN];

static int iterations(void)
{
	return 100;             /* cheap enough under valgrind too */
}

static int seeds(void)
{
	return scen_under_valgrind() ? 24 : 160;
}

/* ---- the 2007 consumer ------------------------------------------------------------ */

struct peek {
	bool stale;             /* the read right after the CQE differs from what was sent */
	bool old_intact;        /* ...and equals exactly what the buffer held before */
	bool complete;          /* after the deferral point: what was sent */
	uint32_t released;      /* writes the deferral point landed */
};

/*
 * One message from side 0 into dst on side 1 (SEND into a receive WQE, or
 * WRITE_WITH_IMM), consumed as the 2007 code did: poll the receive CQE, read the
 * buffer at once; then go on (a deferral point) and read it again.
 */
static int consume_one(struct scen *s, uint32_t opcode, struct scen_buf *src,
		       struct scen_buf *dst, uint64_t key, uint64_t wr_id, struct peek *pk)
{
	struct emu_wc wc;
	uint32_t want = opcode == EMU_WR_SEND ? EMU_WC_RECV : EMU_WC_RECV_RDMA_WITH_IMM;
	int rc = 1;

	memcpy(old_contents, dst->p, LEN);
	scen_fill(src->p, LEN, key);
	SCEN_CHECK_OK(scen_post_recv(s->qp[1], wr_id, dst, 0, LEN));
	if (opcode == EMU_WR_SEND)
		SCEN_CHECK_OK(scen_post_send(s->qp[0], wr_id, EMU_WR_SEND, EMU_SEND_SIGNALED,
					     src, 0, LEN, 0));
	else
		SCEN_CHECK_OK(scen_post_rdma(s->qp[0], wr_id, EMU_WR_RDMA_WRITE_WITH_IMM,
					     EMU_SEND_SIGNALED, src, 0, LEN, dst, 0,
					     (uint32_t)wr_id));
	SCEN_CHECK(scen_wait_one(s, s->rcq[1], &wc, wr_id, EMU_WC_SUCCESS, want, LEN,
				 "consumer"), "consumer completion");
	pk->stale = memcmp(dst->p, src->p, LEN) != 0;
	pk->old_intact = memcmp(dst->p, old_contents, LEN) == 0;
	pk->released = emu_dev_dma_deferral_point(s->emu[1]);
	pk->complete = memcmp(dst->p, src->p, LEN) == 0;
	SCEN_CHECK(scen_wait_one(s, s->scq[0], &wc, wr_id, EMU_WC_SUCCESS, SCEN_ANY, SCEN_ANY,
				 "producer"), "producer completion");
	rc = 0;
out:
	return rc;
}

enum consumer_mode { M_STRICT, M_CQE_FIRST, M_CQE_FIRST_ORDERED, M_RELAXED };

static const char *const mode_names[] = {
	"strict", "cqe-first", "cqe-first + ordered CQ", "relaxed",
};

static int run_consumer(uint32_t opcode, enum consumer_mode mode)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_counters dc, qc;
	int n = iterations(), stale = 0, rc = 1;
	bool cqe_first = mode == M_CQE_FIRST;

	if (scen_init(&s, 2007 + (uint64_t)mode, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	if (mode == M_CQE_FIRST || mode == M_CQE_FIRST_ORDERED)
		SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_CQE_FIRST));
	if (mode == M_RELAXED)
		SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_RELAXED));
	if (mode == M_CQE_FIRST_ORDERED)
		SCEN_CHECK_OK(emu_cq_set_ordered(sim_cq_emu(s.rcq[1]), true));
	for (int i = 0; i < n; i++) {
		struct peek pk;

		if (consume_one(&s, opcode, src, dst, 1000u * (uint64_t)mode + (uint64_t)i + 1,
				(uint64_t)i, &pk))
			goto out;
		stale += pk.stale;
		SCEN_CHECK(!pk.stale || pk.old_intact,
			   "iteration %d: a stale read must see the old contents whole", i);
		SCEN_CHECK(pk.complete, "iteration %d: data incomplete after the deferral point",
			   i);
		SCEN_CHECK(pk.released == (cqe_first ? PIECES : 0),
			   "iteration %d: deferral point landed %u writes", i, pk.released);
	}
	printf("    %s, %s: stale after the CQE in %d of %d\n",
	       opcode == EMU_WR_SEND ? "SEND" : "WRITE_WITH_IMM", mode_names[mode], stale, n);
	SCEN_CHECK(stale == (cqe_first ? n : 0), "stale in %d of %d", stale, n);
	emu_dev_counters(s.emu[1], &dc);
	emu_qp_counters(s.qp[1], &qc);
	SCEN_CHECK(dc.dma_cqe_early == (cqe_first ? (uint64_t)n : 0) &&
		   qc.dma_cqe_early == dc.dma_cqe_early,
		   "cqe_early dev %llu qp %llu", (unsigned long long)dc.dma_cqe_early,
		   (unsigned long long)qc.dma_cqe_early);
	SCEN_CHECK(dc.dma_deferred == (cqe_first ? (uint64_t)n * PIECES : dc.dma_deferred) &&
		   qc.dma_deferred == dc.dma_deferred,
		   "deferred dev %llu qp %llu", (unsigned long long)dc.dma_deferred,
		   (unsigned long long)qc.dma_deferred);
	SCEN_CHECK(mode == M_RELAXED || mode == M_CQE_FIRST || dc.dma_deferred == 0,
		   "deferred %llu without a deferring policy",
		   (unsigned long long)dc.dma_deferred);
	SCEN_CHECK(mode != M_RELAXED || (dc.dma_deferred > 0 && dc.dma_reordered > 0),
		   "relaxed: deferred %llu reordered %llu", (unsigned long long)dc.dma_deferred,
		   (unsigned long long)dc.dma_reordered);
	SCEN_CHECK(dc.dma_lost == 0 && emu_dev_dma_held(s.emu[1]) == 0, "lost %llu held %u",
		   (unsigned long long)dc.dma_lost, emu_dev_dma_held(s.emu[1]));
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_consumer_send(void)
{
	for (int m = M_STRICT; m <= M_RELAXED; m++)
		if (run_consumer(EMU_WR_SEND, (enum consumer_mode)m))
			return 1;
	return 0;
}

static int test_consumer_write_imm(void)
{
	for (int m = M_STRICT; m <= M_RELAXED; m++)
		if (run_consumer(EMU_WR_RDMA_WRITE_WITH_IMM, (enum consumer_mode)m))
			return 1;
	return 0;
}

/* ---- trace records of CQE_FIRST ------------------------------------------------------ */

/* The line of the kind, by the simulator's name or as "kind<N>". */
static const char *find_rec(const char *from, const char *name, unsigned kind, uint32_t qpn)
{
	char a[64], b[64];

	snprintf(a, sizeof(a), "dev1 %s qpn=%u ", name, qpn);
	snprintf(b, sizeof(b), "dev1 kind%u qpn=%u ", kind, qpn);
	for (const char *p = from; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *end = strchr(p, '\n');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char line[512];

		if (n >= sizeof(line))
			continue;
		memcpy(line, p, n);
		line[n] = 0;
		if (strstr(line, a) || (kind && strstr(line, b)))
			return p;
	}
	return NULL;
}

static bool rec_has(const char *rec, const char *what)
{
	const char *end = strchr(rec, '\n');
	const char *hit = strstr(rec, what);

	return hit && (!end || hit < end);
}

static int test_cqe_first_trace(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct peek pk;
	char *text = NULL, want[64];
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	const char *hold, *early, *cqe, *write, *defer;
	int rc = 1;

	SCEN_CHECK(f != NULL, "open_memstream");
	if (scen_init(&s, 77, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_CQE_FIRST));
	sim_trace_to(s.sim, f);
	if (consume_one(&s, EMU_WR_SEND, src, dst, 5, 0, &pk))
		goto out;
	sim_trace_to(s.sim, NULL);
	fclose(f);
	f = NULL;
	SCEN_CHECK(pk.stale && pk.complete, "stale %d complete %d", pk.stale, pk.complete);
	/* held (b = policy << 8), then the CQE_FIRST mark and the CQE, then the data
	 * with HELD | AFTER_CQE, then the deferral point. */
	hold = find_rec(text, "dma-hold", EMU_TR_DMA_HOLD, s.qpn[1]);
	early = find_rec(text, "dma-cqe-first", EMU_TR_DMA_CQE_FIRST, s.qpn[1]);
	cqe = find_rec(text, "cqe", 0, s.qpn[1]);
	write = find_rec(text, "dma-write", 0, s.qpn[1]);
	defer = find_rec(text, "dma-deferral", EMU_TR_DMA_DEFERRAL, 0);
	SCEN_CHECK(hold && early && cqe && write && defer,
		   "records hold %p early %p cqe %p write %p deferral %p", (const void *)hold,
		   (const void *)early, (const void *)cqe, (const void *)write,
		   (const void *)defer);
	SCEN_CHECK(hold < early && early < cqe && cqe < write && write < defer,
		   "order of the records");
	snprintf(want, sizeof(want), " b=%u\n", EMU_DMA_CQE_FIRST << 8);
	SCEN_CHECK(rec_has(hold, want) && rec_has(hold, " a=1024 "), "hold record");
	SCEN_CHECK(rec_has(early, " a=3 "), "cqe-first record: 3 writes held");
	snprintf(want, sizeof(want), " b=%u\n",
		 EMU_DMA_TR_HELD | EMU_DMA_TR_AFTER_CQE | EMU_DMA_CQE_FIRST << 8);
	SCEN_CHECK(rec_has(write, want), "data record flags");
	SCEN_CHECK(rec_has(defer, " a=3 "), "deferral record");
	rc = 0;
out:
	if (f)
		fclose(f);
	scen_destroy(&s);
	free(text);
	return rc;
}

/* ---- the last-byte poller ------------------------------------------------------------ */

struct poll_result {
	bool in_order;          /* what emu_qp_data_in_order claimed */
	bool fooled;            /* the last byte was there, some other byte was not */
	int first_bad;          /* the first such offset, or -1 */
	uint64_t hash;          /* of the whole run's trace */
	char *trace;            /* the trace text (with_trace) */
	size_t trace_len;
};

/*
 * Side 0 RDMA WRITEs POLL_LEN bytes into side 1, whose consumer polls the last
 * byte (after every event of the simulation) instead of waiting for a
 * completion, then reads the whole buffer.
 */
static int poll_last_byte(uint64_t seed, enum emu_dma_policy policy, bool with_trace,
			  struct poll_result *res)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_wc wc;
	FILE *f = NULL;
	int rc = 1;

	memset(res, 0, sizeof(*res));
	res->first_bad = -1;
	if (scen_init(&s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	if (with_trace) {
		f = open_memstream(&res->trace, &res->trace_len);
		SCEN_CHECK(f != NULL, "open_memstream");
		sim_trace_to(s.sim, f);
	}
	src = scen_mr(&s, 0, POLL_LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, POLL_LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	scen_fill(src->p, POLL_LEN, seed);
	src->p[POLL_LEN - 1] = 0xa5;            /* the flag the poller waits for */
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], policy));
	res->in_order = emu_qp_data_in_order(s.qp[1]);
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, src, 0,
				     POLL_LEN, dst, 0, 0));
	while (dst->p[POLL_LEN - 1] != 0xa5)
		SCEN_CHECK(sim_step(s.sim), "idle before the last byte landed");
	for (uint32_t i = 0; i < POLL_LEN; i++)
		if (dst->p[i] != src->p[i]) {
			res->fooled = true;
			res->first_bad = (int)i;
			break;
		}
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "write"), "write completion");
	emu_dev_dma_deferral_point(s.emu[1]);
	SCEN_CHECK(memcmp(dst->p, src->p, POLL_LEN) == 0, "data incomplete after deferral");
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "still held");
	res->hash = sim_trace_hash(s.sim);
	rc = 0;
out:
	if (f) {
		sim_trace_to(s.sim, NULL);
		fclose(f);
	}
	scen_destroy(&s);
	return rc;
}

static int test_poller_strict(void)
{
	struct poll_result r;
	int n = seeds(), rc = 1;

	for (int i = 0; i < n; i++) {
		if (poll_last_byte(100 + (uint64_t)i, EMU_DMA_STRICT, false, &r))
			goto out;
		SCEN_CHECK(r.in_order, "strict must claim in-order data");
		SCEN_CHECK(!r.fooled, "seed %d: fooled at offset %d under strict", 100 + i,
			   r.first_bad);
	}
	printf("    strict: in order claimed, fooled for 0 of %d seeds\n", n);
	rc = 0;
out:
	return rc;
}

static int test_poller_relaxed(void)
{
	struct poll_result a, b;
	int n = seeds(), fooled = 0, rc = 1;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < n; i++) {
		uint64_t seed = 100 + (uint64_t)i;
		bool trace = i < 8;     /* the text of a few, the hash of all */

		if (poll_last_byte(seed, EMU_DMA_RELAXED, trace, &a) ||
		    poll_last_byte(seed, EMU_DMA_RELAXED, trace, &b))
			goto out;
		SCEN_CHECK(!a.in_order, "relaxed must not claim in-order data");
		SCEN_CHECK(a.fooled == b.fooled && a.first_bad == b.first_bad,
			   "seed %llu replayed differently: fooled %d at %d, then %d at %d",
			   (unsigned long long)seed, a.fooled, a.first_bad, b.fooled,
			   b.first_bad);
		SCEN_CHECK(a.hash == b.hash, "seed %llu: trace hash differs on replay",
			   (unsigned long long)seed);
		SCEN_CHECK(!trace || (a.trace_len == b.trace_len &&
				      memcmp(a.trace, b.trace, a.trace_len) == 0),
			   "seed %llu: trace text differs on replay", (unsigned long long)seed);
		if (trace && i == 0)
			printf("    seed %llu: %zu bytes of identical trace twice\n",
			       (unsigned long long)seed, a.trace_len);
		fooled += a.fooled;
		free(a.trace);
		free(b.trace);
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
	}
	printf("    relaxed: fooled for %d of %d seeds, each replayed the same way\n", fooled, n);
	SCEN_CHECK(fooled > 0, "relaxed never fooled the poller");
	rc = 0;
out:
	free(a.trace);
	free(b.trace);
	return rc;
}

/* ---- MIX ------------------------------------------------------------------------------ */

#define MIX_MSGS 24
#define MIX_SLOT 4096u

struct mix_out {
	uint64_t hash;
	uint32_t stale;                 /* bit i: message i was stale at its completion */
	uint32_t n_stale;
	struct emu_counters q[2];       /* the QPs' counters */
};

/*
 * Both devices MIX; side 0 sends SENDs, WRITE_WITH_IMMs, WRITEs and READs, one at a
 * time. At each completion the consumer (side 1 for SEND and WRITE_WITH_IMM, side
 * 0 for READ, the poller-less WRITE at the requester's completion) reads the
 * data at once, then both sides reach a deferral point and the data must be
 * complete. shift moves the buffers.
 */
static int mix_run(uint64_t seed, size_t shift, struct mix_out *o)
{
	struct scen s;
	struct scen_buf *src, *dst, *rsrc, *rdst;
	struct emu_wc wc;
	int rc = 1;

	memset(o, 0, sizeof(*o));
	if (scen_init(&s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	if (shift)
		SCEN_CHECK(sim_alloc(s.sim, shift) != NULL, "shift");
	src = scen_mr(&s, 0, MIX_MSGS * MIX_SLOT, SCEN_ACC_ALL);
	rdst = scen_mr(&s, 0, MIX_MSGS * MIX_SLOT, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, MIX_MSGS * MIX_SLOT, SCEN_ACC_ALL);
	rsrc = scen_mr(&s, 1, MIX_MSGS * MIX_SLOT, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst && rsrc && rdst, "buffers");
	scen_fill(src->p, MIX_MSGS * MIX_SLOT, seed);
	scen_fill(rsrc->p, MIX_MSGS * MIX_SLOT, seed + 1);
	for (int side = 0; side < 2; side++)
		SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[side], EMU_DMA_MIX));
	SCEN_CHECK(!emu_qp_data_in_order(s.qp[0]) && !emu_qp_data_in_order(s.qp[1]),
		   "MIX must not claim in-order data");
	for (int i = 0; i < MIX_MSGS; i++) {
		size_t off = (size_t)i * MIX_SLOT;
		uint32_t len = 700 + (uint32_t)(i * 331 % 3300);
		const uint8_t *got, *want;
		bool stale;

		switch (i % 4) {
		case 0:
		case 1:
			SCEN_CHECK_OK(scen_post_recv(s.qp[1], (uint64_t)i, dst, off, len));
			if (i % 4 == 0)
				SCEN_CHECK_OK(scen_post_send(s.qp[0], (uint64_t)i, EMU_WR_SEND,
							     EMU_SEND_SIGNALED, src, off, len, 0));
			else
				SCEN_CHECK_OK(scen_post_rdma(s.qp[0], (uint64_t)i,
							     EMU_WR_RDMA_WRITE_WITH_IMM,
							     EMU_SEND_SIGNALED, src, off, len,
							     dst, off, 0));
			SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, (uint64_t)i, EMU_WC_SUCCESS,
						 SCEN_ANY, len, "receive"), "receive completion");
			got = dst->p + off;
			want = src->p + off;
			stale = memcmp(got, want, len) != 0;
			SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, (uint64_t)i, EMU_WC_SUCCESS,
						 SCEN_ANY, SCEN_ANY, "send"), "send completion");
			break;
		case 2:
			SCEN_CHECK_OK(scen_post_rdma(s.qp[0], (uint64_t)i, EMU_WR_RDMA_WRITE,
						     EMU_SEND_SIGNALED, src, off, len, dst, off, 0));
			SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, (uint64_t)i, EMU_WC_SUCCESS,
						 EMU_WC_RDMA_WRITE, SCEN_ANY, "write"), "write");
			got = dst->p + off;
			want = src->p + off;
			stale = memcmp(got, want, len) != 0;
			break;
		default:
			SCEN_CHECK_OK(scen_post_rdma(s.qp[0], (uint64_t)i, EMU_WR_RDMA_READ,
						     EMU_SEND_SIGNALED, rdst, off, len, rsrc, off,
						     0));
			SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, (uint64_t)i, EMU_WC_SUCCESS,
						 EMU_WC_RDMA_READ, SCEN_ANY, "read"), "read");
			got = rdst->p + off;
			want = rsrc->p + off;
			stale = memcmp(got, want, len) != 0;
			break;
		}
		if (stale) {
			o->stale |= 1u << i;
			o->n_stale++;
		}
		emu_dev_dma_deferral_point(s.emu[0]);
		emu_dev_dma_deferral_point(s.emu[1]);
		SCEN_CHECK(memcmp(got, want, len) == 0, "message %d incomplete after deferral", i);
	}
	for (int side = 0; side < 2; side++) {
		SCEN_CHECK(emu_dev_dma_held(s.emu[side]) == 0, "side %d still holds", side);
		emu_qp_counters(s.qp[side], &o->q[side]);
	}
	o->hash = sim_trace_hash(s.sim);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_mix_reproducible(void)
{
	struct mix_out a, b, c;
	uint64_t early, deferred, reordered;
	int rc = 1;

	if (mix_run(31, 0, &a) || mix_run(31, 4096 + 64, &b) || mix_run(32, 0, &c))
		goto out;
	SCEN_CHECK(a.hash == b.hash && a.stale == b.stale,
		   "seed 31 replayed differently (hash %016llx / %016llx, stale %08x / %08x)",
		   (unsigned long long)a.hash, (unsigned long long)b.hash, a.stale, b.stale);
	SCEN_CHECK(a.hash != c.hash, "seeds 31 and 32 gave the same trace");
	early = a.q[0].dma_cqe_early + a.q[1].dma_cqe_early;
	deferred = a.q[0].dma_deferred + a.q[1].dma_deferred;
	reordered = a.q[0].dma_reordered + a.q[1].dma_reordered;
	printf("    seed 31: stale at completion %u of %d (mask %08x); cqe-first %llu, "
	       "deferred %llu, reordered %llu; seed 32 mask %08x\n", a.n_stale, MIX_MSGS,
	       a.stale, (unsigned long long)early, (unsigned long long)deferred,
	       (unsigned long long)reordered, c.stale);
	/* Every stale read was a CQE made visible before its data (the WRITE without
	 * a CQE at the responder lands when it ends or is held by RELAXED, which a
	 * requester completion does not wait for). */
	SCEN_CHECK(early > 0 && deferred > 0 && reordered > 0, "the mix did not mix");
	SCEN_CHECK(a.n_stale >= early, "stale %u < CQEs first %llu", a.n_stale,
		   (unsigned long long)early);
	rc = 0;
out:
	return rc;
}

/* ---- which setting wins --------------------------------------------------------------- */

/* One SEND consumed as in 2007; *stale as seen right after the CQE. */
static int stale_once(struct scen *s, struct scen_buf *src, struct scen_buf *dst,
		      uint64_t *key, bool *stale)
{
	struct peek pk;

	++*key;
	if (consume_one(s, EMU_WR_SEND, src, dst, *key, *key, &pk))
		return 1;
	if (!pk.complete) {
		printf("    data incomplete after the deferral point\n");
		return 1;
	}
	*stale = pk.stale;
	return 0;
}

static int test_precedence(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_counters qc;
	struct emu_cq *rcq, *scq;
	uint64_t key = 0;
	uint32_t n_stale = 0;
	bool st;
	int rc = 1;

	if (scen_init(&s, 55, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	rcq = sim_cq_emu(s.rcq[1]);
	scq = sim_cq_emu(s.scq[1]);
	SCEN_CHECK(emu_qp_get_dma_policy(s.qp[1]) == EMU_DMA_INHERIT &&
		   emu_cq_get_dma_policy(rcq) == EMU_DMA_INHERIT &&
		   emu_dev_get_dma_policy(s.emu[1]) == EMU_DMA_STRICT && !emu_cq_ordered(rcq),
		   "defaults");
#define EXPECT(want, what)                                                             \
	do {                                                                           \
		if (stale_once(&s, src, dst, &key, &st))                               \
			goto out;                                                      \
		SCEN_CHECK(st == (want), "%s: stale %d", what, st);                    \
		n_stale += st;                                                         \
	} while (0)
	EXPECT(false, "all strict");
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_CQE_FIRST));
	SCEN_CHECK(emu_qp_get_dma_policy(s.qp[1]) == EMU_DMA_CQE_FIRST, "qp get");
	EXPECT(true, "QP cqe-first over device strict");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_CQE_FIRST));
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_STRICT));
	EXPECT(false, "QP strict over device cqe-first");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_STRICT));
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_INHERIT));
	SCEN_CHECK_OK(emu_cq_set_dma_policy(rcq, EMU_DMA_CQE_FIRST));
	SCEN_CHECK(emu_cq_get_dma_policy(rcq) == EMU_DMA_CQE_FIRST, "cq get");
	EXPECT(true, "receive CQ cqe-first over device strict");
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_STRICT));
	EXPECT(false, "QP strict over CQ cqe-first");
	SCEN_CHECK_OK(emu_cq_set_dma_policy(rcq, EMU_DMA_STRICT));
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_CQE_FIRST));
	EXPECT(true, "QP cqe-first over CQ strict");
	SCEN_CHECK_OK(emu_cq_set_ordered(rcq, true));
	SCEN_CHECK(emu_cq_ordered(rcq), "ordered get");
	EXPECT(false, "ordered CQ over QP cqe-first");
	SCEN_CHECK_OK(emu_cq_set_ordered(rcq, false));
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_INHERIT));
	SCEN_CHECK_OK(emu_cq_set_dma_policy(rcq, EMU_DMA_INHERIT));
	SCEN_CHECK_OK(emu_cq_set_dma_policy(scq, EMU_DMA_CQE_FIRST));
	EXPECT(false, "the send CQ does not govern receives");
	SCEN_CHECK_OK(emu_cq_set_dma_policy(scq, EMU_DMA_INHERIT));
#undef EXPECT
	emu_qp_counters(s.qp[1], &qc);
	SCEN_CHECK(qc.dma_cqe_early == n_stale && n_stale == 3, "cqe_early %llu, stale %u",
		   (unsigned long long)qc.dma_cqe_early, n_stale);

	/* What emu_qp_data_in_order answers. */
#define IN_ORDER(want, what)                                                           \
	SCEN_CHECK(emu_qp_data_in_order(s.qp[1]) == (want), "in order: %s", what)
	IN_ORDER(true, "strict");
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_RELAXED));
	IN_ORDER(false, "QP relaxed");
	SCEN_CHECK_OK(emu_cq_set_ordered(rcq, true));
	IN_ORDER(false, "QP relaxed, ordered CQ");
	SCEN_CHECK_OK(emu_cq_set_ordered(rcq, false));
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_INHERIT));
	SCEN_CHECK_OK(emu_cq_set_dma_policy(rcq, EMU_DMA_RELAXED));
	IN_ORDER(false, "receive CQ relaxed");
	SCEN_CHECK_OK(emu_cq_set_dma_policy(rcq, EMU_DMA_INHERIT));
	SCEN_CHECK_OK(emu_cq_set_dma_policy(scq, EMU_DMA_RELAXED));
	IN_ORDER(false, "send CQ relaxed (READ data)");
	SCEN_CHECK_OK(emu_cq_set_dma_policy(scq, EMU_DMA_INHERIT));
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_MIX));
	IN_ORDER(false, "device mix");
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_STRICT));
	IN_ORDER(true, "QP strict over device mix");
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_INHERIT));
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_CQE_FIRST));
	IN_ORDER(true, "device cqe-first");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_HOLD));
	IN_ORDER(true, "device hold");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_STRICT));
	IN_ORDER(true, "strict again");
#undef IN_ORDER

	SCEN_CHECK(emu_qp_set_dma_policy(s.qp[1], (enum emu_dma_policy)9) == -EMU_EINVAL,
		   "bad QP policy");
	SCEN_CHECK(emu_cq_set_dma_policy(rcq, (enum emu_dma_policy)5) == -EMU_EINVAL,
		   "bad CQ policy");
	SCEN_CHECK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_INHERIT) == -EMU_EINVAL,
		   "a device cannot inherit");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* Changing a policy lands what the old one held. */
static int test_change_lands(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_wc wc;
	int rc = 1;

	if (scen_init(&s, 56, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	scen_fill(src->p, LEN, 8);
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_CQE_FIRST));
	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 1, dst, 0, LEN));
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 1, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, LEN, 0));
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 1, EMU_WC_SUCCESS, EMU_WC_RECV, LEN, "recv"),
		   "recv");
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == PIECES, "held %u", emu_dev_dma_held(s.emu[1]));
	SCEN_CHECK(memcmp(dst->p, src->p, LEN) != 0, "landed before the change");
	SCEN_CHECK_OK(emu_qp_set_dma_policy(s.qp[1], EMU_DMA_STRICT));
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "held after the change");
	SCEN_CHECK(memcmp(dst->p, src->p, LEN) == 0, "data after the change");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* ---- the requester side and WRs without a CQE --------------------------------------------- */

static int test_requester_side(void)
{
	struct scen s;
	struct scen_buf *local, *remote, *src, *dst;
	struct emu_wc wc;
	struct emu_counters c1;
	uint64_t v;
	int rc = 1;

	if (scen_init(&s, 57, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	local = scen_mr(&s, 0, 2 * LEN + 8, SCEN_ACC_ALL);
	remote = scen_mr(&s, 1, 2 * LEN + 8, SCEN_ACC_ALL);
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(local && remote && src && dst, "buffers");
	scen_fill(remote->p, 2 * LEN, 3);
	memset(remote->p + 2 * LEN, 0, 8);
	remote->p[2 * LEN] = 40;                 /* the atomic's target: 40 */
	for (int side = 0; side < 2; side++)
		SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[side], EMU_DMA_CQE_FIRST));

	/* An unsignaled READ has no CQE to follow: its data lands as it arrives. The
	 * signaled one after it completes before its data. */
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 1, EMU_WR_RDMA_READ, 0, local, 0, LEN, remote, 0,
				     0));
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 2, EMU_WR_RDMA_READ, EMU_SEND_SIGNALED, local, LEN,
				     LEN, remote, LEN, 0));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, 2, EMU_WC_SUCCESS, EMU_WC_RDMA_READ, LEN,
				 "read"), "read completion");
	SCEN_CHECK(memcmp(local->p, remote->p, LEN) == 0, "unsignaled READ data held");
	SCEN_CHECK(memcmp(local->p + LEN, remote->p + LEN, LEN) != 0,
		   "signaled READ data visible with its CQE");
	SCEN_CHECK(emu_dev_dma_deferral_point(s.emu[0]) == PIECES, "deferral point");
	SCEN_CHECK(memcmp(local->p + LEN, remote->p + LEN, LEN) == 0, "READ data after deferral");

	/* Fetch-and-add: the responder's write has no CQE and lands at once; the
	 * requester's result follows its CQE. */
	memset(local->p + 2 * LEN, 0xee, 8);
	SCEN_CHECK_OK(scen_post_atomic(s.qp[0], 3, EMU_WR_ATOMIC_FETCH_AND_ADD,
				       EMU_SEND_SIGNALED, local, 2 * LEN,
				       scen_addr(remote, 2 * LEN), remote->rkey, 2, 0));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, 3, EMU_WC_SUCCESS, EMU_WC_FETCH_ADD,
				 SCEN_ANY, "atomic"), "atomic completion");
	memcpy(&v, remote->p + 2 * LEN, 8);
	SCEN_CHECK(v == 42, "remote value %llu, want 42 at once", (unsigned long long)v);
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "responder holds %u",
		   emu_dev_dma_held(s.emu[1]));
	SCEN_CHECK(local->p[2 * LEN] == 0xee, "atomic result visible with its CQE");
	SCEN_CHECK(emu_dev_dma_deferral_point(s.emu[0]) == 1, "deferral point (atomic)");
	memcpy(&v, local->p + 2 * LEN, 8);
	SCEN_CHECK(v == 40, "atomic result %llu, want 40", (unsigned long long)v);

	/* An RDMA WRITE has no CQE at the responder: its data lands when it ends. */
	scen_fill(src->p, LEN, 4);
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 4, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, src, 0,
				     LEN, dst, 0, 0));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, 4, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "write"), "write completion");
	SCEN_CHECK(memcmp(dst->p, src->p, LEN) == 0, "WRITE data held without a CQE");
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "responder holds %u",
		   emu_dev_dma_held(s.emu[1]));
	emu_dev_counters(s.emu[1], &c1);
	SCEN_CHECK(c1.dma_deferred == PIECES + 1 && c1.dma_cqe_early == 0,
		   "responder deferred %llu (3 WRITE + 1 atomic), cqe_early %llu",
		   (unsigned long long)c1.dma_deferred, (unsigned long long)c1.dma_cqe_early);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* A held write whose MR is deregistered before it lands is lost and counted. */
static int test_region_gone(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_wc wc;
	struct emu_counters c;
	int rc = 1;

	if (scen_init(&s, 58, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	scen_fill(src->p, LEN, 9);
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_CQE_FIRST));
	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 1, dst, 0, LEN));
	SCEN_CHECK_OK(scen_post_send(s.qp[0], 1, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0, LEN, 0));
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 1, EMU_WC_SUCCESS, EMU_WC_RECV, LEN, "recv"),
		   "recv");
	SCEN_CHECK_OK(emu_dereg_mr(dst->mr));
	SCEN_CHECK(emu_dev_dma_deferral_point(s.emu[1]) == PIECES, "deferral point");
	emu_dev_counters(s.emu[1], &c);
	SCEN_CHECK(c.dma_lost == PIECES, "lost %llu", (unsigned long long)c.dma_lost);
	for (uint32_t i = 0; i < LEN; i++)
		SCEN_CHECK(dst->p[i] == 0, "byte %u written after its MR went", i);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* Destroying a QP lands what CQE_FIRST and RELAXED held for it. Returns 2 if
 * the seed's decisions held nothing (RELAXED leaves some WRs alone). */
static int destroy_with_held(enum emu_dma_policy policy, uint32_t opcode, uint64_t seed)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_wc wc;
	int rc = 1;

	if (scen_init(&s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst, "buffers");
	scen_fill(src->p, LEN, 10);
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], policy));
	if (opcode == EMU_WR_SEND) {
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], 1, dst, 0, LEN));
		SCEN_CHECK_OK(scen_post_send(s.qp[0], 1, EMU_WR_SEND, EMU_SEND_SIGNALED, src, 0,
					     LEN, 0));
		SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 1, EMU_WC_SUCCESS, EMU_WC_RECV, LEN,
					 "recv"), "recv");
	} else {
		SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 1, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED,
					     src, 0, LEN, dst, 0, 0));
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
					 SCEN_ANY, "write"), "write");
	}
	if (!emu_dev_dma_held(s.emu[1]) && policy == EMU_DMA_RELAXED) {
		SCEN_CHECK(memcmp(dst->p, src->p, LEN) == 0, "nothing held, data incomplete");
		rc = 2;
		goto out;
	}
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) > 0, "nothing held");
	SCEN_CHECK(memcmp(dst->p, src->p, LEN) != 0, "all landed already");
	SCEN_CHECK_OK(emu_destroy_qp(s.qp[1]));
	for (int i = 0; i < s.n_qps; i++)       /* scen_destroy must not destroy it again */
		if (s.qps[i].qp == s.qp[1])
			s.qps[i] = s.qps[--s.n_qps];
	s.qp[1] = NULL;
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "held after destroy");
	SCEN_CHECK(memcmp(dst->p, src->p, LEN) == 0, "data landed at destroy");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_destroy_lands(void)
{
	if (destroy_with_held(EMU_DMA_CQE_FIRST, EMU_WR_SEND, 59))
		return 1;
	for (uint64_t seed = 59; seed < 59 + 32; seed++) {
		int r = destroy_with_held(EMU_DMA_RELAXED, EMU_WR_RDMA_WRITE, seed);

		if (r != 2)
			return r;
	}
	printf("    relaxed held nothing for 32 seeds\n");
	return 1;
}

int main(int argc, char **argv)
{
	static const struct scen_test tests[] = {
		{ "consumer_send", test_consumer_send },
		{ "consumer_write_imm", test_consumer_write_imm },
		{ "cqe_first_trace", test_cqe_first_trace },
		{ "poller_strict", test_poller_strict },
		{ "poller_relaxed", test_poller_relaxed },
		{ "mix_reproducible", test_mix_reproducible },
		{ "precedence", test_precedence },
		{ "change_lands", test_change_lands },
		{ "requester_side", test_requester_side },
		{ "region_gone", test_region_gone },
		{ "destroy_lands", test_destroy_lands },
	};

	return scen_run_tests("dma_order", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
