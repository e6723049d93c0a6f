/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Queue pairs: creation, the state machine (IBA 10.3.1, 11.2.4), posting of work
 * requests, completion in order, flush on error.
 */
#include "internal.h"

/* ---- creation ------------------------------------------------------------------ */

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static int ring_init(struct emu_dev *dev, struct emu_ring *r, uint32_t size, size_t slot)
{
	r->size = size ? size : 1;
	r->slot_size = (uint32_t)align8(slot);
	r->head = r->tail = 0;
	r->slots = emu_alloc(dev, (size_t)r->size * r->slot_size);
	return r->slots ? 0 : -EMU_ENOMEM;
}

static int check_init_attr(struct emu_pd *pd, const struct emu_qp_init_attr *a)
{
	const struct emu_dev_attr *da = &pd->dev->attr;

	if (a->qp_type != EMU_QPT_RC && a->qp_type != EMU_QPT_UC && a->qp_type != EMU_QPT_UD)
		return -EMU_EINVAL;
	if (!a->send_cq || !a->recv_cq)
		return -EMU_EINVAL;
	if (a->send_cq->dev != pd->dev || a->recv_cq->dev != pd->dev)
		return -EMU_EINVAL;
	if (a->srq && (a->srq->pd->dev != pd->dev || a->qp_type == EMU_QPT_UC))
		return -EMU_EINVAL;
	if (a->cap.max_send_wr > da->max_qp_wr || a->cap.max_send_sge > da->max_sge ||
	    a->cap.max_inline_data > da->max_inline_data)
		return -EMU_EINVAL;
	if (!a->srq && (a->cap.max_recv_wr > da->max_qp_wr || a->cap.max_recv_sge > da->max_sge))
		return -EMU_EINVAL;
	return 0;
}

static void free_qp_memory(struct emu_dev *dev, struct emu_qp *qp)
{
	emu_free(dev, qp->sq.slots);
	emu_free(dev, qp->rq.slots);
	emu_free(dev, qp->rwqe);
	emu_free(dev, qp->res);
	emu_free(dev, qp);
}

static int alloc_qpn(struct emu_dev *dev, struct emu_qp *qp)
{
	for (uint32_t i = 0; i < dev->attr.max_qp; i++) {
		uint32_t slot = (dev->qp_next + i) % dev->attr.max_qp;

		if (!dev->qp_tbl[slot]) {
			dev->qp_tbl[slot] = qp;
			dev->qp_next = slot + 1;
			qp->qpn = QPN_BASE + slot;
			return 0;
		}
	}
	return -EMU_ENOMEM;
}

int emu_create_qp(struct emu_pd *pd, struct emu_qp_init_attr *a, void *cookie,
		  struct emu_qp **out)
{
	struct emu_dev *dev;
	struct emu_qp *qp;
	uint32_t rsge;
	int ret;

	if (!pd || !a || !out)
		return -EMU_EINVAL;
	dev = pd->dev;
	ret = check_init_attr(pd, a);
	if (ret)
		return ret;
	if (dev->n_qp >= dev->attr.max_qp)
		return -EMU_ENOMEM;
	qp = emu_alloc(dev, sizeof(*qp));
	if (!qp)
		return -EMU_ENOMEM;
	qp->dev = dev;
	qp->pd = pd;
	qp->cookie = cookie;
	qp->type = a->qp_type;
	qp->state = EMU_QPS_RESET;
	qp->scq = a->send_cq;
	qp->rcq = a->recv_cq;
	qp->srq = a->srq;
	qp->sq_sig_all = a->sq_sig_all;
	qp->max_send_sge = a->cap.max_send_sge ? a->cap.max_send_sge : 1;
	qp->max_inline = a->cap.max_inline_data;
	qp->max_recv_sge = a->srq ? 0 : (a->cap.max_recv_sge ? a->cap.max_recv_sge : 1);
	qp->timer_deadline = UINT64_MAX;
	qp->attr.path_mtu = dev->active_mtu;
	qp->mtu = emu_mtu_bytes(dev->active_mtu);
	qp->attr.port_num = 1;

	ret = ring_init(dev, &qp->sq, a->cap.max_send_wr, sizeof(struct emu_swqe) +
			qp->max_send_sge * sizeof(struct emu_sge) + qp->max_inline);
	if (!ret && !a->srq)
		ret = ring_init(dev, &qp->rq, a->cap.max_recv_wr, sizeof(struct emu_rwqe) +
				qp->max_recv_sge * sizeof(struct emu_sge));
	rsge = a->srq ? a->srq->max_sge : qp->max_recv_sge;
	if (!ret) {
		qp->rwqe = emu_alloc(dev, sizeof(struct emu_rwqe) + rsge * sizeof(struct emu_sge));
		qp->res = emu_alloc(dev, dev->attr.max_qp_init_rd_atom * sizeof(*qp->res));
		if (!qp->rwqe || !qp->res)
			ret = -EMU_ENOMEM;
	}
	if (!ret)
		ret = alloc_qpn(dev, qp);
	if (ret) {
		free_qp_memory(dev, qp);
		return ret;
	}
	/* RoCEv2 source port: entropy for ECMP, stable per QP (IBA A17.5.1.2.1). */
	qp->udp_sport = (uint16_t)(0xc000 | (emu_rng(dev->cfg.seed, 0x5150, dev->cfg.dev_id,
						     qp->qpn, 0) & 0x3fff));
	if (!a->srq) {
		a->cap.max_recv_wr = qp->rq.size;
		a->cap.max_recv_sge = qp->max_recv_sge;
	} else {
		a->cap.max_recv_wr = 0;
		a->cap.max_recv_sge = 0;
	}
	a->cap.max_send_wr = qp->sq.size;
	a->cap.max_send_sge = qp->max_send_sge;
	qp->attr.cap = a->cap;
	pd->refcount++;
	qp->scq->refcount++;
	qp->rcq->refcount++;
	if (qp->srq)
		qp->srq->refcount++;
	dev->n_qp++;
	*out = qp;
	return 0;
}

/* Type 2 windows bound to a QP die with it (IBA 10.6.7.2.4). */
static void unbind_qp_windows(struct emu_qp *qp)
{
	struct emu_dev *dev = qp->dev;
	uint32_t n = dev->attr.max_mr + dev->attr.max_mw;

	for (uint32_t i = 0; i < n; i++) {
		struct emu_mem *m = dev->key_tbl[i];
		struct emu_mw *mw;

		if (!m || m->kind != EMU_MEM_MW)
			continue;
		mw = EMU_CONTAINER_OF(m, struct emu_mw, mem);
		if (mw->qp == qp && mw->state == EMU_MW_BOUND) {
			mw->mr->mw_count--;
			mw->mr = NULL;
			mw->state = EMU_MW_FREE;
		}
		if (mw->qp == qp)
			mw->qp = NULL;
	}
}

int emu_destroy_qp(struct emu_qp *qp)
{
	struct emu_dev *dev;

	if (!qp)
		return -EMU_EINVAL;
	dev = qp->dev;
	emu_dma_flush_qp(qp);
	emu_resp_forget_ack(qp);
	emu_qp_timer_set(qp, UINT64_MAX, false);
	if (qp->stall != EMU_STALL_NONE)
		dev->n_stalled--;
	unbind_qp_windows(qp);
	dev->qp_tbl[qp->qpn - QPN_BASE] = NULL;
	qp->pd->refcount--;
	qp->scq->refcount--;
	qp->rcq->refcount--;
	if (qp->srq)
		qp->srq->refcount--;
	dev->n_qp--;
	free_qp_memory(dev, qp);
	return 0;
}

uint32_t emu_qp_num(const struct emu_qp *qp) { return qp->qpn; }
uint32_t emu_qp_state(const struct emu_qp *qp) { return qp->state; }

/* ---- the state machine ------------------------------------------------------------ */

static int check_attr_values(struct emu_qp *qp, const struct emu_qp_attr *a, uint32_t mask)
{
	const struct emu_dev_attr *da = &qp->dev->attr;

	if ((mask & EMU_QP_PATH_MTU) && (a->path_mtu < EMU_MTU_256 || a->path_mtu > EMU_MTU_4096))
		return -EMU_EINVAL;
	if ((mask & EMU_QP_AV) && !emu_gid_index_valid(qp->dev, a->ah_attr.sgid_index))
		return -EMU_EINVAL;
	if ((mask & EMU_QP_MAX_QP_RD_ATOMIC) && a->max_rd_atomic > da->max_qp_rd_atom)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_MAX_DEST_RD_ATOMIC) && a->max_dest_rd_atomic > da->max_qp_init_rd_atom)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_RETRY_CNT) && a->retry_cnt > 7)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_RNR_RETRY) && a->rnr_retry > 7)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_TIMEOUT) && a->timeout > 31)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_MIN_RNR_TIMER) && a->min_rnr_timer > 31)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_PKEY_INDEX) && a->pkey_index != 0)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_PORT) && a->port_num != 1)
		return -EMU_EINVAL;
	if ((mask & EMU_QP_DEST_QPN) && a->dest_qp_num > PSN_MASK)
		return -EMU_EINVAL;
	/* ON_DEMAND is an MR's property; programs pass it along to the QP too
	 * (pyverbs' test_odp does) and verbs HCAs ignore it there. */
	if ((mask & EMU_QP_ACCESS_FLAGS) &&
	    (a->qp_access_flags & ~(uint32_t)(EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE |
					      EMU_ACCESS_REMOTE_READ | EMU_ACCESS_REMOTE_ATOMIC |
					      EMU_ACCESS_ON_DEMAND)))
		return -EMU_EINVAL;
	if ((mask & EMU_QP_CAP) &&
	    (a->cap.max_send_wr > qp->sq.size || a->cap.max_send_sge > qp->max_send_sge ||
	     a->cap.max_inline_data > qp->max_inline ||
	     (!qp->srq && (a->cap.max_recv_wr > qp->rq.size || a->cap.max_recv_sge > qp->max_recv_sge))))
		return -EMU_EINVAL;
	return 0;
}

static void apply_attrs(struct emu_qp *qp, const struct emu_qp_attr *a, uint32_t mask)
{
	struct emu_qp_attr *q = &qp->attr;

	if (mask & EMU_QP_PATH_MTU) {
		q->path_mtu = a->path_mtu;
		qp->mtu = emu_mtu_bytes(a->path_mtu);
	}
	if (mask & EMU_QP_QKEY)
		q->qkey = a->qkey;
	if (mask & EMU_QP_RQ_PSN)
		q->rq_psn = a->rq_psn & PSN_MASK;
	if (mask & EMU_QP_SQ_PSN)
		q->sq_psn = a->sq_psn & PSN_MASK;
	if (mask & EMU_QP_DEST_QPN)
		q->dest_qp_num = a->dest_qp_num;
	if (mask & EMU_QP_ACCESS_FLAGS)
		q->qp_access_flags = a->qp_access_flags & ~(uint32_t)EMU_ACCESS_ON_DEMAND;
	if (mask & EMU_QP_PKEY_INDEX)
		q->pkey_index = a->pkey_index;
	if (mask & EMU_QP_EN_SQD_ASYNC_NOTIFY)
		q->en_sqd_async_notify = a->en_sqd_async_notify;
	if (mask & EMU_QP_MAX_QP_RD_ATOMIC)
		q->max_rd_atomic = a->max_rd_atomic;
	if (mask & EMU_QP_MAX_DEST_RD_ATOMIC)
		q->max_dest_rd_atomic = a->max_dest_rd_atomic;
	if (mask & EMU_QP_MIN_RNR_TIMER)
		q->min_rnr_timer = a->min_rnr_timer;
	if (mask & EMU_QP_PORT)
		q->port_num = a->port_num;
	if (mask & EMU_QP_TIMEOUT)
		q->timeout = a->timeout;
	if (mask & EMU_QP_RETRY_CNT) {
		q->retry_cnt = a->retry_cnt;
		qp->retry_left = a->retry_cnt;
	}
	if (mask & EMU_QP_RNR_RETRY) {
		q->rnr_retry = a->rnr_retry;
		qp->rnr_left = a->rnr_retry;
	}
	if (mask & EMU_QP_AV)
		q->ah_attr = a->ah_attr;
}

/* Back to RESET: every queue emptied without completions (IBA 10.3.1). */
static void reset_qp(struct emu_qp *qp)
{
	emu_resp_forget_ack(qp);
	emu_qp_timer_set(qp, UINT64_MAX, false);
	if (qp->stall != EMU_STALL_NONE)
		qp->dev->n_stalled--;
	qp->stall = EMU_STALL_NONE;
	qp->sq.head = qp->sq.tail = 0;
	qp->rq.head = qp->rq.tail = 0;
	qp->req_next = 0;
	qp->rd_atomic_out = 0;
	qp->pkts_since_ackreq = 0;
	qp->req_started = false;
	qp->rnr_wait = false;
	qp->rewound = false;
	qp->resp_nak_sent = false;
	qp->resp_in_msg = false;
	qp->resp_have_rwqe = false;
	qp->res_count = qp->res_next = 0;
	emu_memset(qp->res, 0, qp->dev->attr.max_qp_init_rd_atom * sizeof(*qp->res));
	qp->uc_drop_msg = 0;
	qp->sq_drained_pending = false;
	qp->last_wqe_reached_sent = false;
	emu_memset(&qp->cnt, 0, sizeof(qp->cnt));
}

static void set_state(struct emu_qp *qp, uint32_t next)
{
	emu_trace(qp->dev, EMU_TR_STATE, 0, qp->qpn, 0, 0, qp->state, next);
	qp->state = next;
}

static bool sq_idle(const struct emu_qp *qp)
{
	return qp->sq.tail == qp->req_next && psn_diff(qp->req_psn, qp->comp_psn) <= 0;
}

static void check_sq_drained(struct emu_qp *qp)
{
	if (qp->state == EMU_QPS_SQD && qp->sq_drained_pending && sq_idle(qp)) {
		qp->sq_drained_pending = false;
		emu_event(qp->dev, EMU_EVENT_SQ_DRAINED, qp->cookie, qp->qpn);
	}
}

int emu_modify_qp(struct emu_qp *qp, const struct emu_qp_attr *a, uint32_t mask)
{
	uint32_t cur, next;
	int ret;

	if (!qp || !a)
		return -EMU_EINVAL;
	cur = qp->state;
	if ((mask & EMU_QP_CUR_STATE) && a->cur_qp_state != cur)
		return -EMU_EINVAL;
	next = (mask & EMU_QP_STATE) ? a->qp_state : cur;
	if (next > EMU_QPS_ERR || !emu_modify_qp_is_ok(qp->type, cur, next, mask))
		return -EMU_EINVAL;
	ret = check_attr_values(qp, a, mask);
	if (ret)
		return ret;
	apply_attrs(qp, a, mask);

	if (next == cur && next != EMU_QPS_RESET)
		return 0;
	switch (next) {
	case EMU_QPS_RESET:
		/* As a device finishes its DMA before the modify returns: held data
		 * lands now, not into buffers the program reuses after the reset. */
		emu_dma_flush_qp(qp);
		reset_qp(qp);
		set_state(qp, next);
		break;
	case EMU_QPS_RTR:
		qp->resp_epsn = qp->attr.rq_psn;
		qp->resp_msn = 0;
		set_state(qp, next);
		break;
	case EMU_QPS_RTS:
		if (cur == EMU_QPS_RTR) {
			qp->req_psn = qp->attr.sq_psn;
			qp->comp_psn = qp->attr.sq_psn;
			qp->retry_left = qp->attr.retry_cnt;
			qp->rnr_left = qp->attr.rnr_retry;
		}
		set_state(qp, next);
		emu_req_run(qp);
		break;
	case EMU_QPS_SQD:
		qp->sq_drained_pending = qp->attr.en_sqd_async_notify;
		set_state(qp, next);
		check_sq_drained(qp);
		break;
	case EMU_QPS_ERR:
		emu_qp_error(qp, -1);
		break;
	default:
		set_state(qp, next);
		break;
	}
	return 0;
}

int emu_query_qp(const struct emu_qp *qp, struct emu_qp_attr *a)
{
	if (!qp || !a)
		return -EMU_EINVAL;
	*a = qp->attr;
	a->qp_state = qp->state;
	a->cur_qp_state = qp->state;
	a->sq_draining = qp->state == EMU_QPS_SQD && !sq_idle(qp);
	return 0;
}

/* ---- completion ------------------------------------------------------------------------ */

static uint32_t wc_opcode_of(uint32_t wr_opcode)
{
	switch (wr_opcode) {
	case EMU_WR_RDMA_WRITE:
	case EMU_WR_RDMA_WRITE_WITH_IMM:
		return EMU_WC_RDMA_WRITE;
	case EMU_WR_RDMA_READ:
		return EMU_WC_RDMA_READ;
	case EMU_WR_ATOMIC_CMP_AND_SWP:
		return EMU_WC_COMP_SWAP;
	case EMU_WR_ATOMIC_FETCH_AND_ADD:
		return EMU_WC_FETCH_ADD;
	case EMU_WR_LOCAL_INV:
		return EMU_WC_LOCAL_INV;
	case EMU_WR_BIND_MW:
		return EMU_WC_BIND_MW;
	default:
		return EMU_WC_SEND;
	}
}

static void write_send_cqe(struct emu_qp *qp, struct emu_swqe *wqe)
{
	struct emu_wc wc;

	emu_memset(&wc, 0, sizeof(wc));
	wc.wr_id = wqe->wr.wr_id;
	wc.status = wqe->status;
	wc.opcode = wc_opcode_of(wqe->wr.opcode);
	wc.byte_len = wqe->length;
	wc.qp_num = qp->qpn;
	wc.qp_cookie = qp->cookie;
	emu_dma_cqe(qp, qp->scq, &wc, false, wqe->index);
}

/*
 * Mark wqe done and publish completions in SQ order: a WQE's completion may not
 * overtake an older WQE that is still in flight (IBA 10.8.3).
 */
void emu_qp_complete_send(struct emu_qp *qp, struct emu_swqe *wqe, uint32_t status)
{
	wqe->state = WQE_DONE;
	wqe->status = status;
	while (qp->sq.tail != qp->sq.head) {
		struct emu_swqe *w = sq_wqe(qp, qp->sq.tail);

		uint64_t tail = qp->sq.tail;

		if (w->state != WQE_DONE)
			break;
		if (w->signaled || w->status != EMU_WC_SUCCESS)
			write_send_cqe(qp, w);
		if (qp->sq.tail != tail)
			return;             /* a CQ overflow flushed the queue meanwhile */
		qp->sq.tail++;
		if (qp->req_next < qp->sq.tail)
			qp->req_next = qp->sq.tail;
	}
	check_sq_drained(qp);
}

static void flush_send_queue(struct emu_qp *qp)
{
	for (uint64_t n = qp->sq.tail; n != qp->sq.head; n++) {
		struct emu_swqe *w = sq_wqe(qp, n);

		if (w->state != WQE_DONE) {
			w->state = WQE_DONE;
			w->status = EMU_WC_WR_FLUSH_ERR;
		}
	}
	qp->req_next = qp->sq.head;
	qp->rd_atomic_out = 0;
	while (qp->sq.tail != qp->sq.head) {
		struct emu_swqe *w = sq_wqe(qp, qp->sq.tail);

		if (w->signaled || w->status != EMU_WC_SUCCESS)
			write_send_cqe(qp, w);
		qp->sq.tail++;
	}
}

static void flush_recv_wqe(struct emu_qp *qp, uint64_t wr_id)
{
	struct emu_wc wc;

	emu_memset(&wc, 0, sizeof(wc));
	wc.wr_id = wr_id;
	wc.status = EMU_WC_WR_FLUSH_ERR;
	wc.opcode = EMU_WC_RECV;
	emu_qp_complete_recv(qp, &wc, false);
}

static void flush_recv_queue(struct emu_qp *qp)
{
	if (qp->resp_have_rwqe)
		flush_recv_wqe(qp, qp->rwqe->wr_id);
	qp->resp_have_rwqe = false;
	if (qp->srq) {
		/* The SRQ's WQEs belong to no QP; tell the owner this QP takes no more. */
		if (!qp->last_wqe_reached_sent) {
			qp->last_wqe_reached_sent = true;
			emu_event(qp->dev, EMU_EVENT_QP_LAST_WQE_REACHED, qp->cookie, qp->qpn);
		}
		return;
	}
	while (qp->rq.tail != qp->rq.head) {
		struct emu_rwqe *r = ring_slot(&qp->rq, qp->rq.tail);

		qp->rq.tail++;
		flush_recv_wqe(qp, r->wr_id);
	}
}

void emu_qp_error(struct emu_qp *qp, int ev)
{
	if (qp->state == EMU_QPS_ERR || qp->state == EMU_QPS_RESET)
		return;
	set_state(qp, EMU_QPS_ERR);
	emu_qp_timer_set(qp, UINT64_MAX, false);
	if (qp->stall != EMU_STALL_NONE) {
		qp->dev->n_stalled--;
		qp->stall = EMU_STALL_NONE;
	}
	qp->rnr_wait = false;
	if (ev >= 0)
		emu_event(qp->dev, (uint32_t)ev, qp->cookie, qp->qpn);
	flush_send_queue(qp);
	flush_recv_queue(qp);
}

void emu_qp_complete_recv(struct emu_qp *qp, const struct emu_wc *wc_in, bool solicited)
{
	struct emu_wc wc = *wc_in;

	wc.qp_num = qp->qpn;
	wc.qp_cookie = qp->cookie;
	qp->resp_have_rwqe = false;
	emu_dma_cqe(qp, qp->rcq, &wc, solicited, qp->resp_msn);
}

bool emu_qp_take_rwqe(struct emu_qp *qp)
{
	struct emu_rwqe *r = qp->rwqe;
	uint32_t len = 0;

	if (qp->resp_have_rwqe)
		return true;
	if (qp->srq) {
		if (!emu_srq_take(qp->srq, r))
			return false;
	} else {
		struct emu_rwqe *slot;

		if (qp->rq.tail == qp->rq.head)
			return false;
		slot = ring_slot(&qp->rq, qp->rq.tail);
		emu_memcpy_small(r, slot, sizeof(*r) + slot->num_sge * sizeof(struct emu_sge));
		qp->rq.tail++;
	}
	for (uint32_t i = 0; i < r->num_sge; i++)
		len += r->sge[i].length;
	qp->rwqe_len = len;
	qp->rwqe_off = 0;
	qp->resp_have_rwqe = true;
	return true;
}

/* ---- stalls (ODP) ------------------------------------------------------------------------ */

void emu_qp_stall(struct emu_qp *qp, uint32_t reason)
{
	if (qp->stall == EMU_STALL_NONE) {
		qp->dev->n_stalled++;
		if (reason == EMU_STALL_PAGE_FAULT) {
			qp->cnt.odp_stalls++;
			qp->dev->cnt.odp_stalls++;
		}
	}
	qp->stall = reason;
	emu_trace(qp->dev, EMU_TR_STALL, 0, qp->qpn, qp->req_psn, 0, reason, 0);
}

void emu_qp_unstall(struct emu_qp *qp)
{
	if (qp->stall == EMU_STALL_NONE)
		return;
	qp->stall = EMU_STALL_NONE;
	qp->dev->n_stalled--;
	emu_trace(qp->dev, EMU_TR_RESUME, 0, qp->qpn, qp->req_psn, 0, 0, 0);
	emu_req_run(qp);
}

/* ---- posting ------------------------------------------------------------------------------ */

static bool opcode_allowed(uint32_t type, uint32_t op)
{
	switch (type) {
	case EMU_QPT_UD:
		return op == EMU_WR_SEND || op == EMU_WR_SEND_WITH_IMM;
	case EMU_QPT_UC:
		return op == EMU_WR_SEND || op == EMU_WR_SEND_WITH_IMM ||
		       op == EMU_WR_RDMA_WRITE || op == EMU_WR_RDMA_WRITE_WITH_IMM ||
		       op == EMU_WR_LOCAL_INV || op == EMU_WR_BIND_MW;
	case EMU_QPT_RC:
		return op <= EMU_WR_SEND_WITH_INV;
	default:
		return false;
	}
}

static bool carries_payload(uint32_t op)
{
	return op == EMU_WR_SEND || op == EMU_WR_SEND_WITH_IMM || op == EMU_WR_SEND_WITH_INV ||
	       op == EMU_WR_RDMA_WRITE || op == EMU_WR_RDMA_WRITE_WITH_IMM;
}

static bool is_atomic(uint32_t op)
{
	return op == EMU_WR_ATOMIC_CMP_AND_SWP || op == EMU_WR_ATOMIC_FETCH_AND_ADD;
}

/* Checks a verbs provider does at post time; the rest shows up as a completion. */
static int check_send_wr(struct emu_qp *qp, const struct emu_send_wr *wr, uint64_t *total)
{
	bool inl = (wr->send_flags & EMU_SEND_INLINE) && carries_payload(wr->opcode);
	uint64_t len = 0;

	if (!opcode_allowed(qp->type, wr->opcode))
		return -EMU_EINVAL;
	if (inl) {
		if (wr->inline_len > qp->max_inline || (wr->inline_len && !wr->inline_data))
			return -EMU_EINVAL;
		len = wr->inline_len;
	} else {
		if (wr->num_sge > qp->max_send_sge || (wr->num_sge && !wr->sg_list))
			return -EMU_EINVAL;
		for (uint32_t i = 0; i < wr->num_sge; i++)
			len += wr->sg_list[i].length;
	}
	if (len > 0x80000000ull)
		return -EMU_EINVAL;
	if (is_atomic(wr->opcode) && (wr->num_sge != 1 || len != 8))
		return -EMU_EINVAL;
	if (qp->type == EMU_QPT_UD) {
		if (!wr->wr.ud.ah || wr->wr.ud.ah->pd->dev != qp->dev || len > qp->mtu)
			return -EMU_EINVAL;
	}
	if (wr->opcode == EMU_WR_BIND_MW && (!wr->wr.bind.mw || !wr->wr.bind.info.mr))
		return -EMU_EINVAL;
	*total = len;
	return 0;
}

static void copy_wr_into_slot(struct emu_qp *qp, struct emu_swqe *w,
			      const struct emu_send_wr *wr, uint32_t len)
{
	uint8_t *inline_area = (uint8_t *)&w->sge[qp->max_send_sge];

	w->wr = *wr;
	w->wr.sg_list = w->sge;
	w->wr.inline_data = NULL;
	if ((wr->send_flags & EMU_SEND_INLINE) && carries_payload(wr->opcode)) {
		if (wr->inline_len)
			qp->dev->ops.copy(inline_area, wr->inline_data, wr->inline_len);
		w->wr.inline_data = inline_area;
		w->wr.num_sge = 0;
	} else {
		w->wr.send_flags &= ~(uint32_t)EMU_SEND_INLINE;
		w->wr.inline_len = 0;
		emu_memcpy_small(w->sge, wr->sg_list, wr->num_sge * sizeof(struct emu_sge));
	}
	w->index = qp->wr_count++;
	w->state = WQE_POSTED;
	w->length = len;
	w->status = EMU_WC_SUCCESS;
	w->signaled = qp->sq_sig_all || (wr->send_flags & EMU_SEND_SIGNALED);
	w->needs_response = wr->opcode == EMU_WR_RDMA_READ || is_atomic(wr->opcode);
	w->sent_pkts = 0;
	w->read_done = 0;
	w->npkts = 0;
}

int emu_post_send(struct emu_qp *qp, const struct emu_send_wr *wr)
{
	uint64_t len;
	struct emu_swqe *w;
	int ret;

	if (!qp || !wr)
		return -EMU_EINVAL;
	if (qp->state == EMU_QPS_RESET || qp->state == EMU_QPS_INIT || qp->state == EMU_QPS_RTR)
		return -EMU_EINVAL;
	ret = check_send_wr(qp, wr, &len);
	if (ret)
		return ret;
	if (ring_count(&qp->sq) >= qp->sq.size)
		return -EMU_ENOMEM;
	w = sq_wqe(qp, qp->sq.head);
	copy_wr_into_slot(qp, w, wr, (uint32_t)len);
	qp->sq.head++;
	if (qp->state == EMU_QPS_ERR || qp->state == EMU_QPS_SQE) {
		/* A WR posted to a QP in error completes at once, flushed (IBA 10.8.3.1). */
		flush_send_queue(qp);
		return 0;
	}
	emu_req_run(qp);
	return 0;
}

int emu_post_recv(struct emu_qp *qp, const struct emu_recv_wr *wr)
{
	struct emu_rwqe *r;

	if (!qp || !wr)
		return -EMU_EINVAL;
	if (qp->srq || qp->state == EMU_QPS_RESET)
		return -EMU_EINVAL;
	if (wr->num_sge > qp->max_recv_sge || (wr->num_sge && !wr->sg_list))
		return -EMU_EINVAL;
	if (ring_count(&qp->rq) >= qp->rq.size)
		return -EMU_ENOMEM;
	r = ring_slot(&qp->rq, qp->rq.head);
	r->wr_id = wr->wr_id;
	r->num_sge = wr->num_sge;
	emu_memcpy_small(r->sge, wr->sg_list, wr->num_sge * sizeof(struct emu_sge));
	qp->rq.head++;
	if (qp->state == EMU_QPS_ERR)
		flush_recv_queue(qp);
	return 0;
}

int emu_bind_mw_type1(struct emu_qp *qp, struct emu_mw *mw, uint64_t wr_id,
		      uint32_t send_flags, const struct emu_mw_bind_info *info,
		      uint32_t *new_rkey)
{
	struct emu_send_wr wr;
	uint32_t status;

	if (!qp || !mw || !info || mw->type != EMU_MW_TYPE_1)
		return -EMU_EINVAL;
	if (qp->state != EMU_QPS_RTS)
		return -EMU_EINVAL;
	if (ring_count(&qp->sq) >= qp->sq.size)
		return -EMU_ENOMEM;
	emu_memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = EMU_WR_BIND_MW;
	wr.send_flags = send_flags & (EMU_SEND_SIGNALED | EMU_SEND_FENCE);
	wr.wr.bind.mw = mw;
	wr.wr.bind.info = *info;
	status = emu_mw_bind(qp, mw, 0, info);
	if (status != EMU_WC_SUCCESS)
		return -EMU_EINVAL;
	/* Ordered with the QP's other WRs: completes behind anything in flight. */
	{
		struct emu_swqe *w = sq_wqe(qp, qp->sq.head);

		copy_wr_into_slot(qp, w, &wr, 0);
		qp->sq.head++;
		emu_qp_complete_send(qp, w, EMU_WC_SUCCESS);
	}
	if (new_rkey)
		*new_rkey = mw->mem.key;
	return 0;
}
