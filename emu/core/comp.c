/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Completer (IBA 9.7.5.1, 9.9): handles what comes back to the requester (ACK,
 * NAK, RNR NAK, READ responses, atomic acknowledgements), completes send WQEs in
 * order, and runs the transport and RNR timers.
 */
#include "internal.h"

/* RNR timer field of an RNR NAK (IBA table 45), in ns. */
static const uint32_t rnr_timer_ns[32] = {
	655360000, 10000, 20000, 30000, 40000, 60000, 80000, 120000,
	160000, 240000, 320000, 480000, 640000, 960000, 1280000, 1920000,
	2560000, 3840000, 5120000, 7680000, 10240000, 15360000, 20480000, 30720000,
	40960000, 61440000, 81920000, 122880000, 163840000, 245760000, 327680000,
	491520000,
};

/* Local ACK timeout: 4.096 us * 2^timeout; 0 means no timer (IBA 11.2.4.2). */
static uint64_t transport_timeout_ns(const struct emu_qp *qp)
{
	return qp->attr.timeout ? 4096ull << qp->attr.timeout : 0;
}

static uint64_t now(const struct emu_qp *qp)
{
	return qp->dev->ops.now_ns(qp->dev->ops.host);
}

static bool outstanding(const struct emu_qp *qp)
{
	return psn_diff(qp->req_psn, qp->comp_psn) > 0;
}

void emu_comp_arm_timer(struct emu_qp *qp)
{
	uint64_t t = transport_timeout_ns(qp);

	if (qp->rnr_wait)
		return;
	if (!outstanding(qp) || !t) {
		emu_qp_timer_set(qp, UINT64_MAX, false);
		return;
	}
	if (qp->timer_deadline == UINT64_MAX)
		emu_qp_timer_set(qp, now(qp) + t, false);
}

static void restart_timer(struct emu_qp *qp)
{
	if (qp->rnr_wait)
		return;                      /* the RNR timer is running instead */
	emu_qp_timer_set(qp, UINT64_MAX, false);
	emu_comp_arm_timer(qp);
}

/* The oldest send WQE not yet completed, or NULL. */
static struct emu_swqe *oldest_pending(struct emu_qp *qp)
{
	for (uint64_t n = qp->sq.tail; n != qp->sq.head; n++) {
		struct emu_swqe *w = sq_wqe(qp, n);

		if (w->state != WQE_DONE)
			return w;
	}
	return NULL;
}

static struct emu_swqe *wqe_holding(struct emu_qp *qp, uint32_t psn)
{
	for (uint64_t n = qp->sq.tail; n != qp->req_next || n != qp->sq.head; n++) {
		struct emu_swqe *w;

		if (n == qp->sq.head)
			break;
		w = sq_wqe(qp, n);
		if (w->state == WQE_POSTED)
			break;
		if (w->state != WQE_DONE && psn_diff(psn, w->first_psn) >= 0 &&
		    psn_diff(psn, w->last_psn) <= 0)
			return w;
	}
	return NULL;
}

static void fail_with(struct emu_qp *qp, struct emu_swqe *w, uint32_t status)
{
	if (!w)
		w = oldest_pending(qp);
	if (w)
		emu_qp_complete_send(qp, w, status);
	emu_qp_error(qp, -1);
}

static void progress_made(struct emu_qp *qp)
{
	qp->retry_left = qp->attr.retry_cnt;
	qp->rnr_left = qp->attr.rnr_retry;
	qp->rewound = false;
}

/* Retry from psn (a timeout, a sequence NAK, or responses found missing). */
static void retry_from(struct emu_qp *qp, uint32_t psn)
{
	if (qp->rewound && psn == qp->comp_psn)
		return;                      /* this gap is being resent already */
	if (!qp->retry_left) {
		fail_with(qp, wqe_holding(qp, psn), EMU_WC_RETRY_EXC_ERR);
		return;
	}
	qp->retry_left--;
	qp->rewound = true;
	emu_req_rewind(qp, psn);
	restart_timer(qp);
	emu_req_run(qp);
}

/*
 * An acknowledgement may cover packets the requester had gone back to resend:
 * move the send cursor past them.
 */
static void catch_up(struct emu_qp *qp)
{
	if (psn_diff(qp->comp_psn, qp->req_psn) <= 0)
		return;
	if (qp->req_next != qp->sq.head) {
		struct emu_swqe *w = sq_wqe(qp, qp->req_next);
		int32_t done = psn_diff(qp->comp_psn, w->first_psn);

		if (w->state == WQE_SENDING && !w->needs_response && done > (int32_t)w->sent_pkts &&
		    done <= (int32_t)w->npkts)
			w->sent_pkts = (uint32_t)done;
	}
	qp->req_psn = qp->comp_psn;
}

/*
 * Everything up to and including psn was executed by the responder: complete the
 * SENDs and WRITEs it covers. A READ or atomic it covers whose response never came
 * means responses were lost: resend from there. Returns false if it did so (or the
 * QP failed), true if the caller may go on with its packet.
 */
static bool ack_through(struct emu_qp *qp, uint32_t psn)
{
	for (uint64_t n = qp->sq.tail; n != qp->sq.head; n++) {
		struct emu_swqe *w = sq_wqe(qp, n);

		if (w->state == WQE_DONE)
			continue;
		if (w->state == WQE_POSTED || psn_diff(psn, w->first_psn) < 0)
			break;
		if (w->needs_response) {
			/* Its responses through psn came already (a NAK or RNR NAK
			 * of a READ's later part, asked for again): nothing lost. */
			if (psn_diff(psn, qp->comp_psn) < 0)
				break;
			retry_from(qp, qp->comp_psn);
			return false;
		}
		if (psn_diff(psn, w->last_psn) < 0) {
			if (psn_diff(psn, qp->comp_psn) >= 0) {
				qp->comp_psn = psn_add(psn, 1);
				progress_made(qp);
			}
			break;
		}
		qp->comp_psn = psn_add(w->last_psn, 1);
		progress_made(qp);
		emu_qp_complete_send(qp, w, EMU_WC_SUCCESS);
		if (qp->state == EMU_QPS_ERR)
			return false;
	}
	catch_up(qp);
	return true;
}

static void response_done(struct emu_qp *qp, struct emu_swqe *w)
{
	if (qp->rd_atomic_out)
		qp->rd_atomic_out--;
	emu_qp_complete_send(qp, w, EMU_WC_SUCCESS);
}

/* A local write of response data met an absent ODP page (fault() was asked):
 * wait for the host, then ask the responder again from comp_psn. A retried
 * atomic is answered from the responder's resource cache, not executed again. */
static void response_fault(struct emu_qp *qp)
{
	emu_req_rewind(qp, qp->comp_psn);
	qp->rewound = true;
	emu_qp_stall(qp, EMU_STALL_PAGE_FAULT);
}

static void read_response(struct emu_qp *qp, struct emu_swqe *w, const struct emu_pkt *pkt)
{
	uint32_t idx = (uint32_t)psn_diff(pkt->psn, w->first_psn);
	uint32_t off = idx * qp->mtu;
	bool last = (pkt->mask & OPM_LAST) != 0;
	enum mem_result r;

	if (pkt->psn != qp->comp_psn) {
		retry_from(qp, qp->comp_psn);    /* earlier responses were lost */
		return;
	}
	if (last ? (pkt->psn != w->last_psn || pkt->paylen != w->length - off)
		 : (pkt->psn == w->last_psn || pkt->paylen != qp->mtu)) {
		fail_with(qp, w, EMU_WC_BAD_RESP_ERR);
		return;
	}
	r = emu_qp_mem(qp, emu_dma_write_sgl(qp, w->sge, w->wr.num_sge, off, pkt->payload,
					     pkt->paylen, w->index | EMU_DMA_SQ_WR, pkt->psn));
	if (r == MEM_NOT_PRESENT) {
		/* The responses behind this one will need the rest too. */
		emu_sgl_fault_ahead(qp, w->sge, w->wr.num_sge, off + pkt->paylen,
				    w->length - off - pkt->paylen, true);
		response_fault(qp);
		return;
	}
	if (r != MEM_OK) {
		fail_with(qp, w, EMU_WC_LOC_PROT_ERR);
		return;
	}
	w->read_done = off + pkt->paylen;
	qp->comp_psn = psn_add(pkt->psn, 1);
	progress_made(qp);
	if (last)
		response_done(qp, w);
}

static void atomic_response(struct emu_qp *qp, struct emu_swqe *w, const struct emu_pkt *pkt)
{
	uint64_t orig = pkt->atmack_orig;
	enum mem_result r;

	if (pkt->psn != w->first_psn || pkt->psn != qp->comp_psn) {
		retry_from(qp, qp->comp_psn);
		return;
	}
	/* The original value lands in host byte order, as on a verbs HCA. */
	r = emu_qp_mem(qp, emu_dma_write_sgl(qp, w->sge, 1, 0, &orig, 8, w->index | EMU_DMA_SQ_WR,
					     pkt->psn));
	if (r == MEM_NOT_PRESENT) {
		response_fault(qp);
		return;
	}
	if (r != MEM_OK) {
		fail_with(qp, w, EMU_WC_LOC_PROT_ERR);
		return;
	}
	qp->comp_psn = psn_add(pkt->psn, 1);
	progress_made(qp);
	response_done(qp, w);
}

static uint32_t nak_status(uint32_t code)
{
	switch (code) {
	case AETH_NAK_INVALID_REQ:
		return EMU_WC_REM_INV_REQ_ERR;
	case AETH_NAK_REM_ACCESS:
		return EMU_WC_REM_ACCESS_ERR;
	case AETH_NAK_INVALID_RD:
		return EMU_WC_REM_INV_RD_REQ_ERR;
	default:
		return EMU_WC_REM_OP_ERR;
	}
}

static void handle_nak(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	uint32_t code = pkt->aeth_syndrome & AETH_VALUE_MASK;

	qp->cnt.rx_naks++;
	qp->dev->cnt.rx_naks++;
	emu_trace(qp->dev, EMU_TR_NAK, pkt->opcode, qp->qpn, pkt->psn, 0, code, 1);
	if (!ack_through(qp, psn_add(pkt->psn, PSN_MASK)))
		return;
	if (code == AETH_NAK_PSN_SEQ && qp->rnr_wait) {
		/* Packets sent behind an RNR-NAKed one: the RNR timer resends them
		 * all; going back now would skip the wait and spend a retry. */
		return;
	}
	if (code == AETH_NAK_PSN_SEQ) {
		qp->cnt.seq_errors++;
		retry_from(qp, pkt->psn);
		return;
	}
	fail_with(qp, wqe_holding(qp, pkt->psn), nak_status(code));
}

static void handle_rnr(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	struct emu_swqe *w;

	qp->cnt.rx_rnr_naks++;
	qp->dev->cnt.rx_rnr_naks++;
	emu_trace(qp->dev, EMU_TR_RNR, pkt->opcode, qp->qpn, pkt->psn, 0,
		  pkt->aeth_syndrome & AETH_VALUE_MASK, 1);
	if (!ack_through(qp, psn_add(pkt->psn, PSN_MASK)))
		return;
	w = wqe_holding(qp, pkt->psn);
	if (!w || qp->rnr_wait)
		return;
	if (!qp->rnr_left) {
		fail_with(qp, w, EMU_WC_RNR_RETRY_EXC_ERR);
		return;
	}
	if (qp->attr.rnr_retry != 7)
		qp->rnr_left--;
	emu_req_rewind(qp, pkt->psn);
	qp->rnr_wait = true;
	emu_qp_timer_set(qp, now(qp) + rnr_timer_ns[pkt->aeth_syndrome & AETH_VALUE_MASK], true);
}

void emu_comp_rx(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	uint32_t comp_before = qp->comp_psn;
	struct emu_swqe *w;

	if (psn_diff(pkt->psn, qp->comp_psn) < 0 || !qp->req_started ||
	    psn_diff(pkt->psn, qp->req_max_psn) >= 0) {
		/* A stale duplicate, or an answer to nothing we sent. */
		emu_count_drop(qp->dev, qp, EMU_DROP_PSN, pkt->opcode, pkt->psn);
		return;
	}
	if (pkt->mask & OPM_AETH) {
		uint8_t type = pkt->aeth_syndrome & AETH_TYPE_MASK;

		if (type == AETH_NAK) {
			handle_nak(qp, pkt);
			goto out;
		}
		if (type == AETH_RNR_NAK) {
			handle_rnr(qp, pkt);
			goto out;
		}
	}
	if (pkt->mask & OPM_ACK) {
		qp->cnt.rx_acks++;
		qp->dev->cnt.rx_acks++;
	}
	w = wqe_holding(qp, pkt->psn);
	if (w && w->needs_response && (pkt->mask & (OPM_READ_RESP | OPM_ATMACK))) {
		/* Everything before the response is acknowledged by it. */
		if (!ack_through(qp, psn_add(w->first_psn, PSN_MASK)))
			goto out;
		if (qp->state == EMU_QPS_ERR)
			return;
		if (w->wr.opcode == EMU_WR_RDMA_READ && (pkt->mask & OPM_READ_RESP))
			read_response(qp, w, pkt);
		else if (w->wr.opcode != EMU_WR_RDMA_READ && (pkt->mask & OPM_ATMACK))
			atomic_response(qp, w, pkt);
		else
			fail_with(qp, w, EMU_WC_BAD_RESP_ERR);
	} else if (pkt->mask & (OPM_READ_RESP | OPM_ATMACK)) {
		emu_count_drop(qp->dev, qp, EMU_DROP_PSN, pkt->opcode, pkt->psn);
		return;
	} else {
		ack_through(qp, pkt->psn);
	}
out:
	if (qp->state == EMU_QPS_ERR || qp->state == EMU_QPS_RESET)
		return;
	/* A response may complete what a stalled requester had gone back to
	 * resend: the next WQE must start at the PSN it had, past comp_psn. */
	catch_up(qp);
	if (qp->comp_psn != comp_before)
		restart_timer(qp);
	emu_req_run(qp);
}

void emu_comp_timer(struct emu_qp *qp)
{
	if (qp->state != EMU_QPS_RTS && qp->state != EMU_QPS_SQD)
		return;
	if (qp->rnr_wait) {
		qp->rnr_wait = false;
		emu_req_run(qp);
		return;
	}
	if (!outstanding(qp))
		return;
	qp->cnt.timeouts++;
	qp->dev->cnt.timeouts++;
	emu_trace(qp->dev, EMU_TR_TIMEOUT, 0, qp->qpn, qp->comp_psn, 0, qp->retry_left, 0);
	qp->rewound = false;
	retry_from(qp, qp->comp_psn);
}
