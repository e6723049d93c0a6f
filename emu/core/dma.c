/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The DMA layer: every write the HCA makes into consumer memory (SEND payload,
 * WRITE payload, READ response data, atomic results) and every completion goes
 * through here, so that an ordering policy can decide when each becomes visible.
 *
 * Policy now: strict - in order, at once. The hooks where a policy would hold,
 * reorder and release writes are the two functions below; everything the engine
 * writes passes through them with its stable identifiers (QPN, WR index, PSN).
 */
#include "internal.h"

static enum mem_result copy_to_mr(struct emu_dev *dev, const struct mem_ref *ref,
				  uint32_t off, const uint8_t *src, uint32_t len)
{
	uint64_t iova = ref->iova + off;

	while (len) {
		void *dst = NULL;
		long n = dev->ops.mr_map(dev->ops.host, ref->mr->cookie, iova, len, true, &dst);

		if (n == EMU_MAP_NOT_PRESENT) {
			dev->cnt.page_faults++;
			if (dev->ops.fault)
				dev->ops.fault(dev->ops.host, ref->mr->cookie, iova, len, true);
			return MEM_NOT_PRESENT;
		}
		if (n < 0 || (uint64_t)n > len)
			return MEM_FAULT;
		dev->ops.copy(dst, src, (size_t)n);
		src += n;
		iova += (uint64_t)n;
		len -= (uint32_t)n;
	}
	return MEM_OK;
}

enum mem_result emu_dma_write(struct emu_qp *qp, const struct mem_ref *ref, uint32_t off,
			      const void *src, uint32_t len, uint64_t wr_index, uint32_t psn)
{
	struct emu_dev *dev = qp->dev;
	enum mem_result r;

	if (!len)
		return MEM_OK;
	r = copy_to_mr(dev, ref, off, src, len);
	if (r == MEM_OK) {
		dev->cnt.dma_writes++;
		dev->cnt.dma_bytes += len;
		qp->cnt.dma_writes++;
		qp->cnt.dma_bytes += len;
		emu_trace(dev, EMU_TR_DMA_WRITE, 0, qp->qpn, psn, wr_index, len, off);
	}
	return r;
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

void emu_dma_cqe(struct emu_qp *qp, struct emu_cq *cq, const struct emu_wc *wc,
		 bool solicited, uint64_t wr_index)
{
	struct emu_dev *dev = qp->dev;
	int ret;

	if (cq->error)
		return;
	ret = dev->ops.cq_post(dev->ops.host, cq->cookie, wc, solicited);
	if (ret) {
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
