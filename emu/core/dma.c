/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The DMA layer: every write the HCA makes into consumer memory (SEND payload,
 * WRITE payload, READ response data, atomic results) and every completion goes
 * through here, so that a policy can decide when each becomes visible (see the
 * policies in emu.h).
 *
 * A write that is not landed at once is held: an operation with a copy of its
 * data, queued on the device (oldest first) and on its QP. Its pages are checked
 * and made present before it is queued, exactly as if it had landed, so the
 * transport never sees the difference. An operation is in one of three states:
 *   HOLD  - the HOLD policy: only emu_dev_dma_release() (or a policy change, or
 *           the QP going away) lands it;
 *   WAIT  - CQE_FIRST data: waits for the CQE of its WR (or of a later WR of the
 *           same queue) to be published, or for its WR to end without one;
 *   READY - waits for the next deferral point (CQE_FIRST data whose CQE is
 *           visible, RELAXED pieces held back).
 * The WR of a write is (QP, queue, index); see EMU_DMA_SQ_WR in internal.h.
 */
#include "internal.h"

#define PIECE_BYTES 64u         /* RELAXED lands a write in pieces of this size... */
#define MAX_PIECES  64u         /* ...or larger, so that a write has at most this many */

enum dma_kind { DMA_DATA = 1, DMA_CQE = 2 };
enum dma_state { ST_HOLD = 1, ST_WAIT, ST_READY };
/* What a PRNG draw decides: part of its key, so that draws are independent. */
enum dma_purpose { P_MIX = 1, P_INTENSITY, P_ORDER, P_HOLD };

struct emu_dma_op {
	struct emu_dma_op *prev, *next;     /* the device's queue */
	struct emu_dma_op *qprev, *qnext;   /* the QP's queue */
	struct emu_qp *qp;
	struct emu_cq *cq;                  /* where the WR completes */
	uint64_t wr;                        /* index | EMU_DMA_SQ_WR for a send WR */
	uint32_t psn;
	uint8_t kind;                       /* enum dma_kind */
	uint8_t state;                      /* enum dma_state */
	uint8_t policy;                     /* the policy that held it */
	bool after_cqe;                     /* the CQE of its WR is visible */
	/* DMA_DATA: where, by key (the MR may be gone by release) */
	uint32_t mr_key;
	uint64_t iova;
	uint32_t len;
	uint32_t piece_len;                 /* len, or RELAXED's piece size */
	uint64_t pieces;                    /* pieces still held (bit i: piece i) */
	/* DMA_CQE */
	bool solicited;
	struct emu_wc wc;
	uint8_t data[];
};

/* One data write as the transport asked for it. */
struct dma_req {
	struct emu_qp *qp;
	struct emu_cq *cq;
	struct emu_mr *mr;
	uint64_t iova;
	const uint8_t *src;
	uint32_t len;
	uint64_t wr;
	uint32_t msg_off;                   /* where the write starts in its WR's message */
	uint32_t psn;
	uint32_t policy;
};

#define COUNT(qp, field) ((qp)->cnt.field++, (qp)->dev->cnt.field++)

/* ---- landing bytes ---------------------------------------------------------------- */

/* Orders the stores before it before those after it, for a consumer polling
 * memory on another CPU (a compiler barrier on x86). */
static inline void release_fence(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/*
 * The host's copy is a memcpy, which promises no order; the in-order answer
 * (emu_qp_data_in_order) does. So each write's last byte is stored alone, after
 * a fence, and each write starts after a fence: when the last byte of a message
 * is visible, so is every other byte of it, and of every write before it.
 */
static void land(struct emu_dev *dev, uint8_t *dst, const uint8_t *src, size_t n, bool last)
{
	if (!last) {
		dev->ops.copy(dst, src, n);
		return;
	}
	if (n > 1)
		dev->ops.copy(dst, src, n - 1);
	release_fence();
	*(volatile uint8_t *)(dst + n - 1) = src[n - 1];
}

struct land_ctx {
	struct emu_dev *dev;
	const uint8_t *src;
};

static void land_chunk(void *ctx, void *ptr, uint64_t n, bool last)
{
	struct land_ctx *c = ctx;

	land(c->dev, ptr, c->src, (size_t)n, last);
	c->src += n;
}

/* Map and optionally copy [iova, iova + len) of mr; NOT_PRESENT asks for a fault. */
static enum mem_result access_mr(struct emu_dev *dev, struct emu_mr *mr, uint64_t iova,
				 const uint8_t *src, uint32_t len)
{
	struct land_ctx c = { dev, src };

	if (!src)
		return emu_mem_walk(dev, mr, iova, len, true, NULL, NULL);
	release_fence();
	return emu_mem_walk(dev, mr, iova, len, true, land_chunk, &c);
}

/* b of the EMU_TR_DMA_WRITE / EMU_TR_DMA_HOLD records (emu.h). */
static uint64_t trace_b(uint32_t flags, uint32_t policy, uint32_t off)
{
	return flags | (uint64_t)policy << 8 | (uint64_t)off << 32;
}

static void count_write(struct emu_qp *qp, uint32_t len, uint64_t wr, uint32_t psn, uint64_t b)
{
	struct emu_dev *dev = qp->dev;

	dev->cnt.dma_writes++;
	dev->cnt.dma_bytes += len;
	qp->cnt.dma_writes++;
	qp->cnt.dma_bytes += len;
	emu_trace(dev, EMU_TR_DMA_WRITE, 0, qp->qpn, psn, wr & ~EMU_DMA_SQ_WR, len, b);
}

/* ---- policy ------------------------------------------------------------------------ */

static bool policy_valid(uint32_t p)
{
	return p <= EMU_DMA_MIX;
}

static struct emu_cq *wr_cq(const struct emu_qp *qp, uint64_t wr)
{
	return (wr & EMU_DMA_SQ_WR) ? qp->scq : qp->rcq;
}

/* The most specific setting: the QP's, the CQ's, the device's. */
static uint32_t setting(const struct emu_qp *qp, const struct emu_cq *cq)
{
	if (qp->dma_policy)
		return qp->dma_policy - 1u;
	if (cq->dma_policy)
		return cq->dma_policy - 1u;
	return qp->dev->dma_policy;
}

static uint64_t qp_key(const struct emu_qp *qp)
{
	return (uint64_t)qp->dev->cfg.dev_id << 32 | qp->qpn;
}

static uint64_t wr_draw(const struct emu_qp *qp, uint64_t wr, uint32_t purpose)
{
	return emu_rng(qp->dev->cfg.seed, qp_key(qp), wr, 0, purpose);
}

/* The policy of one WR: MIX resolved, an ordered CQ honoured. */
static uint32_t wr_policy(const struct emu_qp *qp, const struct emu_cq *cq, uint64_t wr)
{
	static const uint8_t mix[3] = { EMU_DMA_STRICT, EMU_DMA_CQE_FIRST, EMU_DMA_RELAXED };
	uint32_t p = setting(qp, cq);

	if (p == EMU_DMA_MIX)
		p = mix[(uint32_t)(wr_draw(qp, wr, P_MIX) >> 32) % 3];
	if (p == EMU_DMA_CQE_FIRST && cq->dma_ordered)
		p = EMU_DMA_STRICT;
	return p;
}

/* Will the send WR wr_index complete with a CQE if it succeeds? */
static bool send_wr_signaled(const struct emu_qp *qp, uint64_t wr_index)
{
	for (uint64_t n = qp->sq.tail; n != qp->sq.head; n++) {
		const struct emu_swqe *w = sq_wqe(qp, n);

		if (w->index == wr_index)
			return w->signaled;
	}
	return true;
}

/* a is b or an earlier WR of the same queue. */
static bool wr_at_or_before(uint64_t a, uint64_t b)
{
	return ((a ^ b) & EMU_DMA_SQ_WR) == 0 && (int32_t)((uint32_t)a - (uint32_t)b) <= 0;
}

/* ---- the queues ------------------------------------------------------------------------ */

static struct emu_dma_op *new_op(struct emu_qp *qp, uint32_t kind, uint32_t datalen)
{
	struct emu_dma_op *op = emu_alloc(qp->dev, sizeof(*op) + datalen);

	if (op) {
		op->kind = (uint8_t)kind;
		op->qp = qp;
	}
	return op;
}

static void enqueue(struct emu_dev *dev, struct emu_dma_op *op, uint32_t state)
{
	struct emu_qp *qp = op->qp;

	op->state = (uint8_t)state;
	op->prev = dev->dma_tail;
	if (dev->dma_tail)
		dev->dma_tail->next = op;
	else
		dev->dma_head = op;
	dev->dma_tail = op;
	op->qprev = qp->dma_tail;
	if (qp->dma_tail)
		qp->dma_tail->qnext = op;
	else
		qp->dma_head = op;
	qp->dma_tail = op;
	dev->dma_nheld++;
	qp->dma_nheld++;
	if (state == ST_READY)
		dev->dma_nready++;
	COUNT(qp, dma_held);
}

static void unlink_op(struct emu_dev *dev, struct emu_dma_op *op)
{
	struct emu_qp *qp = op->qp;

	if (op->prev)
		op->prev->next = op->next;
	else
		dev->dma_head = op->next;
	if (op->next)
		op->next->prev = op->prev;
	else
		dev->dma_tail = op->prev;
	if (op->qprev)
		op->qprev->qnext = op->qnext;
	else
		qp->dma_head = op->qnext;
	if (op->qnext)
		op->qnext->qprev = op->qprev;
	else
		qp->dma_tail = op->qprev;
	dev->dma_nheld--;
	qp->dma_nheld--;
	if (op->state == ST_READY)
		dev->dma_nready--;
}

static void make_ready(struct emu_dev *dev, struct emu_dma_op *op)
{
	if (op->state == ST_WAIT) {
		op->state = ST_READY;
		dev->dma_nready++;
	}
}

static uint32_t popcount64(uint64_t v)
{
	uint32_t n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

/* ---- completions ------------------------------------------------------------------------ */

/* CQ overflow (IBA 11.4.2.1): the CQ goes to error, and so does the QP. */
static void cq_overflow(struct emu_qp *qp, struct emu_cq *cq)
{
	cq->error = true;
	emu_event(qp->dev, EMU_EVENT_CQ_ERR, cq->cookie, 0);
	emu_qp_error(qp, EMU_EVENT_QP_FATAL);
}

static void publish_cqe(struct emu_qp *qp, struct emu_cq *cq, const struct emu_wc *wc,
			bool solicited, uint64_t wr_index)
{
	struct emu_dev *dev = qp->dev;

	if (cq->error)
		return;
	if (dev->ops.cq_post(dev->ops.host, cq->cookie, wc, solicited)) {
		cq_overflow(qp, cq);
		return;
	}
	dev->cnt.completions++;
	qp->cnt.completions++;
	if (wc->status != EMU_WC_SUCCESS) {
		dev->cnt.completion_errors++;
		qp->cnt.completion_errors++;
	}
	emu_trace(dev, EMU_TR_CQE, 0, qp->qpn, 0, wr_index, wc->status, wc->opcode);
}

/* ---- landing what is held ---------------------------------------------------------------- */

static struct emu_mr *mr_by_key(struct emu_dev *dev, uint32_t key)
{
	struct emu_mem *m = emu_key_lookup(dev, key);

	return m && m->kind == EMU_MEM_MR ? EMU_CONTAINER_OF(m, struct emu_mr, mem) : NULL;
}

/* Land the pieces still held of a data operation; a piece whose region has gone
 * since is lost. Returns the pieces landed or lost. */
static uint32_t land_held(struct emu_dev *dev, struct emu_dma_op *op)
{
	struct emu_mr *mr = mr_by_key(dev, op->mr_key);
	uint32_t flags = EMU_DMA_TR_HELD | (op->after_cqe ? EMU_DMA_TR_AFTER_CQE : 0);
	uint32_t n = 0;

	for (uint32_t i = 0; i < MAX_PIECES && op->pieces >> i; i++) {
		uint32_t off = i * op->piece_len;
		uint32_t len = EMU_MIN(op->piece_len, op->len - off);

		if (!(op->pieces >> i & 1))
			continue;
		n++;
		if (mr && access_mr(dev, mr, op->iova + off, op->data + off, len) == MEM_OK)
			count_write(op->qp, len, op->wr, op->psn,
				    trace_b(flags, op->policy, off));
		else
			dev->cnt.dma_lost++;
	}
	op->pieces = 0;
	return n;
}

/* Take op off the queues, make it visible, free it. Publishing a CQE may raise a
 * CQ overflow that queues or lands more: callers must not hold list pointers
 * across a CQE operation. */
static void release_op(struct emu_dev *dev, struct emu_dma_op *op)
{
	unlink_op(dev, op);
	if (op->kind == DMA_CQE)
		publish_cqe(op->qp, op->cq, &op->wc, op->solicited, op->wr & ~EMU_DMA_SQ_WR);
	else
		land_held(dev, op);
	emu_free(dev, op);
}

/*
 * Land, oldest first, the data qp holds (not HOLD) for wr and the WRs before it
 * on its queue; only those waiting for a CQE if wait_only. Data operations
 * publish nothing, so walking the list while landing is safe.
 */
static void land_wr_data(struct emu_qp *qp, uint64_t wr, bool wait_only)
{
	struct emu_dma_op *op, *next;

	for (op = qp->dma_head; op; op = next) {
		next = op->qnext;
		if (op->kind != DMA_DATA || op->state == ST_HOLD ||
		    (wait_only && op->state != ST_WAIT) || !wr_at_or_before(op->wr, wr))
			continue;
		release_op(qp->dev, op);
	}
}

/* CQE_FIRST: the CQE of wr goes out now; its data (and that of the WRs before
 * it) may land from the next deferral point on. */
static void settle_before_cqe(struct emu_qp *qp, uint64_t wr)
{
	uint32_t own = 0;

	for (struct emu_dma_op *op = qp->dma_head; op; op = op->qnext) {
		if (op->kind != DMA_DATA || op->state == ST_HOLD || !wr_at_or_before(op->wr, wr))
			continue;
		if (op->wr == wr)
			own += popcount64(op->pieces);
		op->after_cqe = true;
		make_ready(qp->dev, op);
	}
	if (own) {
		COUNT(qp, dma_cqe_early);
		emu_trace(qp->dev, EMU_TR_DMA_CQE_FIRST, 0, qp->qpn, 0, wr & ~EMU_DMA_SQ_WR, own, 0);
	}
}

/* ---- data writes ---------------------------------------------------------------------------- */

static struct emu_dma_op *data_op(const struct dma_req *w, uint32_t piece_len, uint64_t pieces)
{
	struct emu_dma_op *op = new_op(w->qp, DMA_DATA, w->len);

	if (op) {
		op->cq = w->cq;
		op->wr = w->wr;
		op->psn = w->psn;
		op->policy = (uint8_t)w->policy;
		op->mr_key = w->mr->mem.key;
		op->iova = w->iova;
		op->len = w->len;
		op->piece_len = piece_len;
		op->pieces = pieces;
		w->qp->dev->ops.copy(op->data, w->src, w->len);
	}
	return op;
}

static void trace_hold(const struct dma_req *w, uint32_t off, uint32_t len)
{
	emu_trace(w->qp->dev, EMU_TR_DMA_HOLD, 0, w->qp->qpn, w->psn, w->wr & ~EMU_DMA_SQ_WR, len,
		  trace_b(0, w->policy, off));
}

/* HOLD, CQE_FIRST: the whole write waits, in one piece. */
static enum mem_result hold_whole(const struct dma_req *w)
{
	struct emu_dma_op *op = data_op(w, w->len, 1);

	if (!op && w->policy == EMU_DMA_HOLD)
		return MEM_FAULT;
	if (!op) {              /* no memory to hold it: it lands now */
		if (access_mr(w->qp->dev, w->mr, w->iova, w->src, w->len) != MEM_OK)
			return MEM_FAULT;
		count_write(w->qp, w->len, w->wr, w->psn, trace_b(0, w->policy, 0));
		return MEM_OK;
	}
	trace_hold(w, 0, w->len);
	if (w->policy == EMU_DMA_CQE_FIRST)
		COUNT(w->qp, dma_deferred);
	enqueue(w->qp->dev, op, w->policy == EMU_DMA_HOLD ? ST_HOLD : ST_WAIT);
	return MEM_OK;
}

static uint32_t piece_size(uint32_t len)
{
	uint64_t size = PIECE_BYTES;

	while (((uint64_t)len + size - 1) / size > MAX_PIECES)
		size *= 2;
	return (uint32_t)size;
}

/* Held pieces per 16, by a per-WR intensity: some WRs are left alone. */
static uint32_t hold_per_16(const struct dma_req *w)
{
	static const uint8_t per16[4] = { 0, 2, 4, 8 };

	return per16[wr_draw(w->qp, w->wr, P_INTENSITY) & 3];
}

/* A seeded order of the pieces 0..n-1 (Fisher-Yates). */
static void piece_order(uint64_t key, uint32_t n, uint8_t order[MAX_PIECES])
{
	for (uint32_t i = 0; i < n; i++)
		order[i] = (uint8_t)i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(emu_rng(key, i, P_ORDER, 0, 0) >> 32) % (i + 1);
		uint8_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

/* Which pieces stay held: never the last, whose byte a poller may wait for. */
static uint64_t held_pieces(const struct dma_req *w, uint64_t key, uint32_t n)
{
	uint32_t per16 = hold_per_16(w);
	uint64_t held = 0;

	for (uint32_t i = 0; per16 && i + 1 < n; i++)
		if ((emu_rng(key, i, P_HOLD, 0, 0) & 15) < per16)
			held |= 1ull << i;
	return held;
}

/*
 * RELAXED: the pieces of the write land in a seeded order, and a seeded part of
 * them is held until a deferral point or the CQE of the WR. Decisions are keyed
 * by the WR and by the write's offset in the WR's message, which a
 * retransmitted packet shares with the original. Not by its address or its
 * offset in the MR: in an implicit ODP MR (iova 0) that is an address, which
 * changes from run to run, and the same seed must decide the same.
 */
static enum mem_result write_relaxed(const struct dma_req *w)
{
	struct emu_dev *dev = w->qp->dev;
	uint64_t key = emu_rng(dev->cfg.seed, qp_key(w->qp), w->wr, w->msg_off, 0);
	uint32_t size = piece_size(w->len);
	uint32_t n = (uint32_t)(((uint64_t)w->len + size - 1) / size);
	uint64_t held = held_pieces(w, key, n), landed = 0;
	uint8_t order[MAX_PIECES];
	struct emu_dma_op *op = NULL;

	if (held && !(op = data_op(w, size, held)))
		held = 0;               /* no memory to hold it: land it all */
	piece_order(key, n, order);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = order[k], off = i * size, len = EMU_MIN(size, w->len - off);
		uint64_t below = (1ull << i) - 1;
		uint32_t flags = (landed & below) != below ? EMU_DMA_TR_REORDERED : 0;

		if (held >> i & 1) {
			trace_hold(w, off, len);
			COUNT(w->qp, dma_deferred);
			continue;
		}
		if (access_mr(dev, w->mr, w->iova + off, w->src + off, len) != MEM_OK)
			dev->cnt.dma_lost++;    /* cannot happen: probed just before */
		else
			count_write(w->qp, len, w->wr, w->psn, trace_b(flags, w->policy, off));
		if (flags)
			COUNT(w->qp, dma_reordered);
		landed |= 1ull << i;
	}
	if (op)
		enqueue(dev, op, ST_READY);
	return MEM_OK;
}

static enum mem_result dma_write(struct dma_req *w)
{
	struct emu_dev *dev = w->qp->dev;
	enum mem_result r;

	if (!w->len)
		return MEM_OK;
	w->cq = wr_cq(w->qp, w->wr);
	w->policy = wr_policy(w->qp, w->cq, w->wr);
	/* A send WR without a CQE: nothing for its data to follow. */
	if (w->policy == EMU_DMA_CQE_FIRST && (w->wr & EMU_DMA_SQ_WR) &&
	    !send_wr_signaled(w->qp, w->wr & ~EMU_DMA_SQ_WR))
		w->policy = EMU_DMA_STRICT;
	if (w->policy == EMU_DMA_STRICT) {
		r = access_mr(dev, w->mr, w->iova, w->src, w->len);
		if (r == MEM_OK)
			count_write(w->qp, w->len, w->wr, w->psn, 0);
		return r;
	}
	/* Held in whole or in part: the pages must be there now, as for the real write. */
	r = access_mr(dev, w->mr, w->iova, NULL, w->len);
	if (r != MEM_OK)
		return r;
	return w->policy == EMU_DMA_RELAXED ? write_relaxed(w) : hold_whole(w);
}

enum mem_result emu_dma_write(struct emu_qp *qp, const struct mem_ref *ref, uint32_t msg_off,
			      const void *src, uint32_t len, uint64_t wr_index, uint32_t psn)
{
	struct dma_req w;
	enum mem_result r;

	/* Only STRICT was ever set: the common case, kept short. */
	if (!qp->dev->dma_custom) {
		if (!len)
			return MEM_OK;
		r = access_mr(qp->dev, ref->mr, ref->iova, src, len);
		if (r == MEM_OK)
			count_write(qp, len, wr_index, psn, 0);
		return r;
	}
	w.qp = qp;
	w.mr = ref->mr;
	w.iova = ref->iova;
	w.src = src;
	w.len = len;
	w.wr = wr_index;
	w.msg_off = msg_off;
	w.psn = psn;
	return dma_write(&w);
}

enum mem_result emu_dma_write_sgl(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
				  uint32_t off, const void *src, uint32_t len,
				  uint64_t wr_index, uint32_t psn)
{
	const uint8_t *p = src;
	uint32_t msg_off = off;         /* an SG list holds its message from offset 0 */

	for (uint32_t i = 0; i < nsge && len; i++) {
		struct mem_ref ref;
		struct emu_sge part;
		uint32_t n;
		enum mem_result r;

		if (off >= sge[i].length) {
			off -= sge[i].length;
			continue;
		}
		n = EMU_MIN(len, sge[i].length - off);
		part.addr = sge[i].addr + off;
		part.length = n;
		part.lkey = sge[i].lkey;
		r = emu_lkey_check(qp, &part, EMU_ACCESS_LOCAL_WRITE, &ref);
		if (r != MEM_OK)
			return r;
		r = emu_dma_write(qp, &ref, msg_off, p, n, wr_index, psn);
		if (r != MEM_OK)
			return r;
		p += n;
		len -= n;
		msg_off += n;
		off = 0;
	}
	return len ? MEM_BAD_RANGE : MEM_OK;
}

void emu_dma_land_no_cqe(struct emu_qp *qp, uint64_t wr_index)
{
	land_wr_data(qp, wr_index, true);
}

/* ---- CQEs ------------------------------------------------------------------------------------- */

void emu_dma_cqe(struct emu_qp *qp, struct emu_cq *cq, const struct emu_wc *wc,
		 bool solicited, uint64_t wr_index)
{
	uint64_t wr = wc->opcode >= EMU_WC_RECV ? wr_index : wr_index | EMU_DMA_SQ_WR;
	uint32_t policy;
	struct emu_dma_op *op;

	if (!qp->dev->dma_custom) {     /* nothing was ever held */
		publish_cqe(qp, cq, wc, solicited, wr_index);
		return;
	}
	policy = wr_policy(qp, cq, wr);
	if (policy == EMU_DMA_HOLD && (op = new_op(qp, DMA_CQE, 0))) {
		op->cq = cq;
		op->wc = *wc;
		op->solicited = solicited;
		op->wr = wr;
		op->policy = EMU_DMA_HOLD;
		enqueue(qp->dev, op, ST_HOLD);
		return;
	}
	if (qp->dma_nheld) {
		if (policy == EMU_DMA_CQE_FIRST)
			settle_before_cqe(qp, wr);
		else
			land_wr_data(qp, wr, false);
	}
	publish_cqe(qp, cq, wc, solicited, wr_index);
}

/* ---- the host's calls ---------------------------------------------------------------------- */

uint32_t emu_dev_dma_deferral_point(struct emu_dev *dev)
{
	struct emu_dma_op *op, *next;
	uint32_t n = 0;

	if (!dev || !dev->dma_nready)
		return 0;
	for (op = dev->dma_head; op; op = next) {
		next = op->next;
		if (op->state != ST_READY)
			continue;
		unlink_op(dev, op);
		n += land_held(dev, op);
		emu_free(dev, op);
	}
	if (n)
		emu_trace(dev, EMU_TR_DMA_DEFERRAL, 0, 0, 0, 0, n, 0);
	return n;
}

uint32_t emu_dev_dma_release(struct emu_dev *dev, uint32_t max)
{
	uint32_t n = 0;

	while (n < max && dev->dma_head) {
		release_op(dev, dev->dma_head);
		n++;
	}
	return n;
}

uint32_t emu_dev_dma_held(const struct emu_dev *dev)
{
	return dev->dma_nheld;
}

/* Does held data op touch [iova, iova + len) of the MR with key? */
static bool op_overlaps(const struct emu_dma_op *op, uint32_t key, uint64_t iova, uint64_t len)
{
	if (op->kind != DMA_DATA || op->mr_key != key)
		return false;
	return op->iova >= iova ? op->iova - iova < len : iova - op->iova < op->len;
}

/* ODP invalidation: held data bound for the range lands while its pages are still
 * there, with the data its QP holds before it so that the QP's writes stay in
 * order. Data operations publish nothing (no CQE moves), but landing frees
 * operations, so the search starts again from the head after each. */
void emu_dma_invalidate(struct emu_dev *dev, const struct emu_mr *mr, uint64_t iova,
			uint64_t len)
{
	for (;;) {
		struct emu_dma_op *op = dev->dma_head, *q, *next;

		while (op && !op_overlaps(op, mr->mem.key, iova, len))
			op = op->next;
		if (!op)
			return;
		for (q = op->qp->dma_head; q; q = next) {
			bool last = q == op;

			next = q->qnext;
			if (q->kind == DMA_DATA)
				release_op(dev, q);
			if (last)
				break;
		}
	}
}

/* Everything held for qp lands, in order, before the QP goes away. */
void emu_dma_flush_qp(struct emu_qp *qp)
{
	while (qp->dma_head)
		release_op(qp->dev, qp->dma_head);
}

/* A CQ's setting changes: what is held for WRs completing there lands first.
 * From the head again after each: a CQE may land or queue more. */
static void flush_cq(struct emu_dev *dev, const struct emu_cq *cq)
{
	for (;;) {
		struct emu_dma_op *op = dev->dma_head;

		while (op && op->cq != cq)
			op = op->next;
		if (!op)
			return;
		release_op(dev, op);
	}
}

int emu_dev_set_dma_policy(struct emu_dev *dev, enum emu_dma_policy policy)
{
	if (!dev || !policy_valid(policy))
		return -EMU_EINVAL;
	if (policy != EMU_DMA_STRICT)
		dev->dma_custom = true;
	if (dev->dma_policy != (uint32_t)policy) {
		dev->dma_policy = policy;
		emu_dev_dma_release(dev, UINT32_MAX);
	}
	return 0;
}

/* A new seed applies to decisions not yet taken: what is held lands first, so
 * nothing decided under the old seed is mixed with the new one. */
void emu_dev_set_seed(struct emu_dev *dev, uint64_t seed)
{
	if (!dev || dev->cfg.seed == seed)
		return;
	emu_dev_dma_release(dev, UINT32_MAX);
	dev->cfg.seed = seed;
}

uint64_t emu_dev_get_seed(const struct emu_dev *dev)
{
	return dev->cfg.seed;
}

static uint8_t own_setting(enum emu_dma_policy policy)
{
	return policy == EMU_DMA_INHERIT ? 0 : (uint8_t)(policy + 1);
}

int emu_qp_set_dma_policy(struct emu_qp *qp, enum emu_dma_policy policy)
{
	if (!qp || (!policy_valid(policy) && policy != EMU_DMA_INHERIT))
		return -EMU_EINVAL;
	if (policy != EMU_DMA_STRICT && policy != EMU_DMA_INHERIT)
		qp->dev->dma_custom = true;
	if (qp->dma_policy != own_setting(policy)) {
		qp->dma_policy = own_setting(policy);
		emu_dma_flush_qp(qp);
	}
	return 0;
}

int emu_cq_set_dma_policy(struct emu_cq *cq, enum emu_dma_policy policy)
{
	if (!cq || (!policy_valid(policy) && policy != EMU_DMA_INHERIT))
		return -EMU_EINVAL;
	if (policy != EMU_DMA_STRICT && policy != EMU_DMA_INHERIT)
		cq->dev->dma_custom = true;
	if (cq->dma_policy != own_setting(policy)) {
		cq->dma_policy = own_setting(policy);
		flush_cq(cq->dev, cq);
	}
	return 0;
}

enum emu_dma_policy emu_dev_get_dma_policy(const struct emu_dev *dev)
{
	return (enum emu_dma_policy)dev->dma_policy;
}

enum emu_dma_policy emu_qp_get_dma_policy(const struct emu_qp *qp)
{
	return qp->dma_policy ? (enum emu_dma_policy)(qp->dma_policy - 1) : EMU_DMA_INHERIT;
}

enum emu_dma_policy emu_cq_get_dma_policy(const struct emu_cq *cq)
{
	return cq->dma_policy ? (enum emu_dma_policy)(cq->dma_policy - 1) : EMU_DMA_INHERIT;
}

/* Turning the flag on needs no landing: a CQE published from now on lands its
 * WR's data first, and data whose CQE is out already was out of order before. */
int emu_cq_set_ordered(struct emu_cq *cq, bool ordered)
{
	if (!cq)
		return -EMU_EINVAL;
	cq->dma_ordered = ordered;
	return 0;
}

bool emu_cq_ordered(const struct emu_cq *cq)
{
	return cq->dma_ordered;
}

static bool keeps_order(uint32_t policy)
{
	return policy != EMU_DMA_RELAXED && policy != EMU_DMA_MIX;
}

bool emu_qp_data_in_order(const struct emu_qp *qp)
{
	return keeps_order(setting(qp, qp->scq)) && keeps_order(setting(qp, qp->rcq));
}
