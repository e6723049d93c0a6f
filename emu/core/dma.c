/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The DMA layer: every write the HCA makes into consumer memory (SEND payload,
 * WRITE payload, READ response data, atomic results) and every completion goes
 * through here, so that a policy can decide when each becomes visible.
 *
 * STRICT applies each at once. HOLD queues each, with a copy of its data, until
 * the host releases it; release applies them in the order they were made. The
 * transport never sees the difference: a write that is held has been checked
 * and its pages made present before it is queued, exactly as if it had landed.
 */
#include "internal.h"

enum dma_kind { DMA_DATA = 1, DMA_CQE = 2 };

struct emu_dma_op {
	struct emu_dma_op *next;
	uint32_t kind;                /* enum dma_kind */
	struct emu_qp *qp;
	uint64_t wr_index;
	uint32_t psn;
	/* DMA_DATA: where, by key (the MR may be gone by release) */
	uint32_t mr_key;
	uint64_t iova;
	uint32_t len;
	/* DMA_CQE */
	struct emu_cq *cq;
	struct emu_wc wc;
	bool solicited;
	uint8_t data[];
};

/* Map and optionally copy [iova, iova + len) of mr; NOT_PRESENT asks for a fault. */
static enum mem_result access_mr(struct emu_dev *dev, struct emu_mr *mr, uint64_t iova,
				 const uint8_t *src, uint32_t len)
{
	while (len) {
		void *dst = NULL;
		long n = dev->ops.mr_map(dev->ops.host, mr->cookie, iova, len, true, &dst);

		if (n == EMU_MAP_NOT_PRESENT) {
			dev->cnt.page_faults++;
			if (dev->ops.fault)
				dev->ops.fault(dev->ops.host, mr->cookie, iova, len, true);
			return MEM_NOT_PRESENT;
		}
		if (n < 0 || (uint64_t)n > len)
			return MEM_FAULT;
		if (src) {
			dev->ops.copy(dst, src, (size_t)n);
			src += n;
		}
		iova += (uint64_t)n;
		len -= (uint32_t)n;
	}
	return MEM_OK;
}

static void count_write(struct emu_qp *qp, uint32_t len, uint64_t wr_index, uint32_t psn)
{
	struct emu_dev *dev = qp->dev;

	dev->cnt.dma_writes++;
	dev->cnt.dma_bytes += len;
	qp->cnt.dma_writes++;
	qp->cnt.dma_bytes += len;
	emu_trace(dev, EMU_TR_DMA_WRITE, 0, qp->qpn, psn, wr_index, len, 0);
}

static struct emu_dma_op *new_op(struct emu_qp *qp, uint32_t kind, uint32_t datalen)
{
	struct emu_dma_op *op = emu_alloc(qp->dev, sizeof(*op) + datalen);

	if (op) {
		op->kind = kind;
		op->qp = qp;
	}
	return op;
}

static void enqueue(struct emu_dev *dev, struct emu_dma_op *op)
{
	if (dev->dma_tail)
		dev->dma_tail->next = op;
	else
		dev->dma_head = op;
	dev->dma_tail = op;
	dev->dma_nheld++;
	dev->cnt.dma_held++;
}

enum mem_result emu_dma_write(struct emu_qp *qp, const struct mem_ref *ref, uint32_t off,
			      const void *src, uint32_t len, uint64_t wr_index, uint32_t psn)
{
	struct emu_dev *dev = qp->dev;
	struct emu_dma_op *op;
	enum mem_result r;

	if (!len)
		return MEM_OK;
	if (dev->dma_policy == EMU_DMA_STRICT) {
		r = access_mr(dev, ref->mr, ref->iova + off, src, len);
		if (r == MEM_OK)
			count_write(qp, len, wr_index, psn);
		return r;
	}
	/* Held: the pages must be there now, as they would be for the real write. */
	r = access_mr(dev, ref->mr, ref->iova + off, NULL, len);
	if (r != MEM_OK)
		return r;
	op = new_op(qp, DMA_DATA, len);
	if (!op)
		return MEM_FAULT;
	op->mr_key = ref->mr->mem.key;
	op->iova = ref->iova + off;
	op->len = len;
	op->wr_index = wr_index;
	op->psn = psn;
	dev->ops.copy(op->data, src, len);
	enqueue(dev, op);
	return MEM_OK;
}

enum mem_result emu_dma_write_sgl(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
				  uint32_t off, const void *src, uint32_t len,
				  uint64_t wr_index, uint32_t psn)
{
	const uint8_t *p = src;

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
		r = emu_dma_write(qp, &ref, 0, p, n, wr_index, psn);
		if (r != MEM_OK)
			return r;
		p += n;
		len -= n;
		off = 0;
	}
	return len ? MEM_BAD_RANGE : MEM_OK;
}

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

void emu_dma_cqe(struct emu_qp *qp, struct emu_cq *cq, const struct emu_wc *wc,
		 bool solicited, uint64_t wr_index)
{
	struct emu_dma_op *op;

	if (qp->dev->dma_policy == EMU_DMA_STRICT || !(op = new_op(qp, DMA_CQE, 0))) {
		publish_cqe(qp, cq, wc, solicited, wr_index);
		return;
	}
	op->cq = cq;
	op->wc = *wc;
	op->solicited = solicited;
	op->wr_index = wr_index;
	enqueue(qp->dev, op);
}

/* Apply one held operation. A write whose region has gone since is lost. */
static void apply(struct emu_dev *dev, struct emu_dma_op *op)
{
	if (op->kind == DMA_CQE) {
		publish_cqe(op->qp, op->cq, &op->wc, op->solicited, op->wr_index);
		return;
	}
	{
		struct emu_mem *m = emu_key_lookup(dev, op->mr_key);
		struct emu_mr *mr = m && m->kind == EMU_MEM_MR ?
				    EMU_CONTAINER_OF(m, struct emu_mr, mem) : NULL;

		if (mr && access_mr(dev, mr, op->iova, op->data, op->len) == MEM_OK)
			count_write(op->qp, op->len, op->wr_index, op->psn);
		else
			dev->cnt.dma_lost++;
	}
}

static struct emu_dma_op *dequeue(struct emu_dev *dev)
{
	struct emu_dma_op *op = dev->dma_head;

	if (op) {
		dev->dma_head = op->next;
		if (!dev->dma_head)
			dev->dma_tail = NULL;
		dev->dma_nheld--;
	}
	return op;
}

uint32_t emu_dev_dma_release(struct emu_dev *dev, uint32_t max)
{
	uint32_t n = 0;

	while (n < max) {
		struct emu_dma_op *op = dequeue(dev);

		if (!op)
			break;
		apply(dev, op);
		emu_free(dev, op);
		n++;
	}
	return n;
}

uint32_t emu_dev_dma_held(const struct emu_dev *dev)
{
	return dev->dma_nheld;
}

int emu_dev_set_dma_policy(struct emu_dev *dev, enum emu_dma_policy policy)
{
	if (!dev || (policy != EMU_DMA_STRICT && policy != EMU_DMA_HOLD))
		return -EMU_EINVAL;
	dev->dma_policy = policy;
	if (policy == EMU_DMA_STRICT)
		emu_dev_dma_release(dev, UINT32_MAX);
	return 0;
}

/*
 * Everything held for qp lands before the QP goes away. The queue is in order,
 * so releasing up to the QP's last operation keeps the order of all others too.
 */
void emu_dma_flush_qp(struct emu_qp *qp)
{
	struct emu_dev *dev = qp->dev;
	uint32_t upto = 0, i = 0;

	for (struct emu_dma_op *op = dev->dma_head; op; op = op->next) {
		i++;
		if (op->qp == qp)
			upto = i;
	}
	emu_dev_dma_release(dev, upto);
}
