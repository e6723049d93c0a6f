/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Responder (IBA 9.7.5.2, 9.9.3): executes incoming requests in PSN order, places
 * SEND data into receive WQEs and WRITE data into memory, answers READs and atomics,
 * acknowledges, and answers duplicates again (READ and atomic from the responder
 * resource cache).
 */
#include "internal.h"

/* What went wrong with a request, before it is mapped to a NAK (RC) or a dropped
 * message (UC). */
enum resp_err {
	R_OK = 0,
	R_RNR,          /* no receive WQE: try again later */
	R_FAULT,        /* an absent ODP page, asked for: try again later */
	R_INVALID,      /* malformed or out-of-sequence request */
	R_LEN,          /* the receive WQE is too small */
	R_ACCESS,       /* rkey, bounds or rights */
	R_LOCAL,        /* the receive WQE's own memory is bad */
};

/* ---- sending responses ---------------------------------------------------------- */

static void send_ack(struct emu_qp *qp, uint32_t psn, uint8_t syndrome)
{
	struct emu_pkt pkt;
	uint8_t type = syndrome & AETH_TYPE_MASK;

	emu_memset(&pkt, 0, sizeof(pkt));
	pkt.opcode = OPC_RC | IB_OP_ACK;
	pkt.psn = psn;
	pkt.aeth_syndrome = syndrome;
	pkt.aeth_msn = qp->resp_msn & PSN_MASK;
	emu_send_pkt(qp, &pkt, 0, NULL, NULL, qp->resp_msn);
	if (type == AETH_ACK) {
		qp->cnt.tx_acks++;
		qp->dev->cnt.tx_acks++;
	} else if (type == AETH_RNR_NAK) {
		qp->cnt.tx_rnr_naks++;
		qp->dev->cnt.tx_rnr_naks++;
		emu_trace(qp->dev, EMU_TR_RNR, pkt.opcode, qp->qpn, psn, 0, syndrome & 0x1f, 0);
	} else {
		qp->cnt.tx_naks++;
		qp->dev->cnt.tx_naks++;
		emu_trace(qp->dev, EMU_TR_NAK, pkt.opcode, qp->qpn, psn, 0, syndrome & 0x1f, 0);
	}
}

static void ack(struct emu_qp *qp, uint32_t psn)
{
	send_ack(qp, psn, AETH_ACK | AETH_CREDIT_INVALID);
}

/*
 * ACK coalescing: an in-order request asking for an ACK is answered once per
 * batch of arriving packets, with the newest PSN (ACKs are cumulative). The ACK
 * goes out when the host next runs the device's timers, which a pending ACK
 * makes due at once.
 */
static void ack_later(struct emu_qp *qp, uint32_t psn)
{
	if (!qp->ack_pending) {
		qp->ack_pending = true;
		qp->ack_next = qp->dev->ack_list;
		qp->dev->ack_list = qp;
	}
	qp->ack_psn = psn;
}

void emu_resp_forget_ack(struct emu_qp *qp)
{
	struct emu_qp **pp = &qp->dev->ack_list;

	if (!qp->ack_pending)
		return;
	while (*pp && *pp != qp)
		pp = &(*pp)->ack_next;
	if (*pp)
		*pp = qp->ack_next;
	qp->ack_pending = false;
	qp->ack_next = NULL;
}

void emu_resp_flush_acks(struct emu_dev *dev)
{
	while (dev->ack_list) {
		struct emu_qp *qp = dev->ack_list;

		dev->ack_list = qp->ack_next;
		qp->ack_next = NULL;
		qp->ack_pending = false;
		if (qp->state >= EMU_QPS_RTR && qp->state <= EMU_QPS_SQE)
			ack(qp, qp->ack_psn);
	}
}

/*
 * RNR NAK of psn. For the expected PSN it also stands for the sequence NAK: the
 * packets the requester sent behind it are dropped without another NAK, since
 * the requester resends them all after its RNR timer (a sequence NAK would only
 * make it go back early and spend a retry).
 */
static void rnr_nak(struct emu_qp *qp, uint32_t psn, bool page_fault)
{
	if (page_fault) {
		qp->cnt.odp_rnr_naks++;
		qp->dev->cnt.odp_rnr_naks++;
	}
	if (psn == qp->resp_epsn)
		qp->resp_nak_sent = true;
	send_ack(qp, psn, (uint8_t)(AETH_RNR_NAK | (qp->attr.min_rnr_timer & AETH_VALUE_MASK)));
}

/* A class B/C error (IBA 9.9.3.1): NAK, then the responder QP goes to error. */
static void nak_fatal(struct emu_qp *qp, uint32_t psn, uint8_t code, uint32_t event)
{
	send_ack(qp, psn, (uint8_t)(AETH_NAK | code));
	emu_qp_error(qp, (int)event);
}

struct mem_fill {
	struct emu_qp *qp;
	struct mem_ref ref;
	uint32_t off;
};

static enum mem_result fill_from_mem(void *ctx, uint8_t *dst, uint32_t len)
{
	struct mem_fill *f = ctx;

	return emu_qp_mem(f->qp, emu_mem_read(f->qp->dev, &f->ref, f->off, dst, len));
}

/* READ responses for [va, va + len) from psn on (a new READ or a duplicate). */
static void send_read_responses(struct emu_qp *qp, uint32_t psn, const struct mem_ref *ref,
				uint32_t len)
{
	uint32_t n = len ? (len + qp->mtu - 1) / qp->mtu : 1;
	struct mem_fill f = { qp, { NULL, 0 }, 0 };

	if (ref)
		f.ref = *ref;
	for (uint32_t i = 0; i < n; i++) {
		struct emu_pkt pkt;
		uint32_t plen = len ? EMU_MIN(qp->mtu, len - i * qp->mtu) : 0;
		uint8_t op = n == 1 ? IB_OP_READ_RESP_ONLY : i == 0 ? IB_OP_READ_RESP_FIRST :
			     i + 1 == n ? IB_OP_READ_RESP_LAST : IB_OP_READ_RESP_MIDDLE;

		emu_memset(&pkt, 0, sizeof(pkt));
		pkt.opcode = OPC_RC | op;
		pkt.psn = psn_add(psn, i);
		pkt.aeth_syndrome = AETH_ACK | AETH_CREDIT_INVALID;
		pkt.aeth_msn = qp->resp_msn & PSN_MASK;
		f.off = i * qp->mtu;
		/* Memory that vanished mid-READ: stop; the requester's timer retries. */
		if (emu_send_pkt(qp, &pkt, plen, fill_from_mem, &f, qp->resp_msn) != MEM_OK)
			return;
	}
}

static void send_atomic_ack(struct emu_qp *qp, uint32_t psn, uint64_t orig)
{
	struct emu_pkt pkt;

	emu_memset(&pkt, 0, sizeof(pkt));
	pkt.opcode = OPC_RC | IB_OP_ATOMIC_ACK;
	pkt.psn = psn;
	pkt.aeth_syndrome = AETH_ACK | AETH_CREDIT_INVALID;
	pkt.aeth_msn = qp->resp_msn & PSN_MASK;
	pkt.atmack_orig = orig;
	emu_send_pkt(qp, &pkt, 0, NULL, NULL, qp->resp_msn);
}

/* ---- request checks ------------------------------------------------------------------ */

/* FIRST/ONLY (or READ/atomic) outside a message, MIDDLE/LAST of the same kind inside. */
static bool in_sequence(const struct emu_qp *qp, const struct emu_pkt *pkt)
{
	uint32_t kind = pkt->mask & (OPM_SEND | OPM_WRITE);

	if (qp->resp_in_msg)
		return kind && kind == qp->resp_op && !(pkt->mask & OPM_FIRST);
	if (pkt->mask & (OPM_READ | OPM_ATOMIC))
		return true;
	return (pkt->mask & OPM_FIRST) != 0;
}

/* FIRST and MIDDLE packets carry exactly one path MTU (IBA 9.7.5.2.3). */
static bool length_ok(const struct emu_qp *qp, const struct emu_pkt *pkt)
{
	if (pkt->mask & OPM_LAST)
		return pkt->paylen <= qp->mtu;
	return pkt->paylen == qp->mtu;
}

static enum resp_err remote_check(struct emu_qp *qp, uint32_t rkey, uint64_t va, uint64_t len,
				  uint32_t access, struct mem_ref *ref)
{
	if (!(qp->attr.qp_access_flags & access))
		return R_ACCESS;
	return emu_rkey_check(qp, rkey, va, len, access, ref) == MEM_OK ? R_OK : R_ACCESS;
}

/* ---- SEND and WRITE data ----------------------------------------------------------------- */

/*
 * ODP: the packet's part of the receive WQE must be present before anything of
 * it is written, so that an RNR NAK leaves no half-written packet behind. On a
 * fault the rest of the receive buffer is asked for too: the message will
 * need it, and the retry should not meet one fault per page.
 */
static enum resp_err fault_in_recv(struct emu_qp *qp, uint32_t len)
{
	struct emu_rwqe *rw = qp->rwqe;
	uint32_t end = qp->rwqe_off + len;
	enum mem_result r;

	if (!emu_odp_active(qp->dev) || !len)
		return R_OK;
	r = emu_sgl_probe(qp, rw->sge, rw->num_sge, qp->rwqe_off, len, true);
	if (r == MEM_NOT_PRESENT) {
		emu_sgl_fault_ahead(qp, rw->sge, rw->num_sge, end, qp->rwqe_len - end, true);
		return R_FAULT;
	}
	return r == MEM_OK ? R_OK : R_LOCAL;
}

static enum resp_err recv_data(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	enum resp_err e;
	enum mem_result r;

	if (!emu_qp_take_rwqe(qp))
		return R_RNR;
	if (!length_ok(qp, pkt))
		return R_INVALID;
	if (pkt->paylen > qp->rwqe_len - qp->rwqe_off)
		return R_LEN;
	e = fault_in_recv(qp, pkt->paylen);
	if (e)
		return e;
	r = emu_qp_mem(qp, emu_dma_write_sgl(qp, qp->rwqe->sge, qp->rwqe->num_sge, qp->rwqe_off,
					     pkt->payload, pkt->paylen, qp->resp_msn, pkt->psn));
	if (r == MEM_NOT_PRESENT)
		return R_FAULT;
	if (r != MEM_OK)
		return R_LOCAL;
	qp->rwqe_off += pkt->paylen;
	return R_OK;
}

/* ODP: as fault_in_recv, for the packet of a WRITE at ref; on a fault the rest
 * of the WRITE is asked for too. */
static enum resp_err fault_in_write(struct emu_qp *qp, const struct mem_ref *ref, uint32_t len)
{
	struct mem_ref rest;
	enum mem_result r;

	if (!emu_odp_active(qp->dev) || !(ref->mr->access & EMU_ACCESS_ON_DEMAND))
		return R_OK;
	r = emu_qp_mem(qp, emu_mem_probe(qp->dev, ref, 0, len, true));
	if (r == MEM_NOT_PRESENT) {
		if (qp->resp_left > len &&
		    emu_rkey_check(qp, qp->resp_rkey, qp->resp_va + len, qp->resp_left - len,
				   EMU_ACCESS_REMOTE_WRITE, &rest) == MEM_OK)
			emu_mem_fault_ahead(qp->dev, &rest, qp->resp_left - len, true);
		return R_FAULT;
	}
	return r == MEM_OK ? R_OK : R_ACCESS;
}

static enum resp_err write_data(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	struct mem_ref ref;
	enum resp_err e;
	enum mem_result r;

	if (pkt->mask & OPM_FIRST) {
		qp->resp_va = pkt->reth_va;
		qp->resp_rkey = pkt->reth_rkey;
		qp->resp_left = pkt->reth_len;
		qp->resp_total = pkt->reth_len;
		if ((pkt->mask & OPM_LAST) ? pkt->paylen != pkt->reth_len
					   : pkt->reth_len <= qp->mtu)
			return R_INVALID;
		if (pkt->reth_len) {
			e = remote_check(qp, pkt->reth_rkey, pkt->reth_va, pkt->reth_len,
					 EMU_ACCESS_REMOTE_WRITE, &ref);
			if (e)
				return e;
		}
	}
	if ((pkt->mask & OPM_IMMDT) && !emu_qp_take_rwqe(qp))
		return R_RNR;
	if (!length_ok(qp, pkt) || pkt->paylen > qp->resp_left ||
	    ((pkt->mask & OPM_LAST) && pkt->paylen != qp->resp_left))
		return R_INVALID;
	if (!pkt->paylen)
		return R_OK;
	/* Checked again per packet: the region may have gone since the first one. */
	e = remote_check(qp, qp->resp_rkey, qp->resp_va, pkt->paylen, EMU_ACCESS_REMOTE_WRITE, &ref);
	if (!e)
		e = fault_in_write(qp, &ref, pkt->paylen);
	if (e)
		return e;
	r = emu_qp_mem(qp, emu_dma_write(qp, &ref, qp->resp_total - qp->resp_left, pkt->payload,
					 pkt->paylen, qp->resp_msn, pkt->psn));
	if (r == MEM_NOT_PRESENT)
		return R_FAULT;
	if (r != MEM_OK)
		return R_ACCESS;
	qp->resp_va += pkt->paylen;
	qp->resp_left -= pkt->paylen;
	return R_OK;
}

/* The end of a SEND or WRITE message: the receive completion, if any. */
static enum resp_err finish_message(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	struct emu_wc wc;

	qp->resp_in_msg = false;
	if (!(pkt->mask & OPM_SEND) && !(pkt->mask & OPM_IMMDT)) {
		emu_dma_no_cqe(qp, qp->resp_msn);
		return R_OK;
	}
	emu_memset(&wc, 0, sizeof(wc));
	wc.wr_id = qp->rwqe->wr_id;
	wc.status = EMU_WC_SUCCESS;
	if (pkt->mask & OPM_SEND) {
		wc.opcode = EMU_WC_RECV;
		wc.byte_len = qp->rwqe_off;
	} else {
		wc.opcode = EMU_WC_RECV_RDMA_WITH_IMM;
		wc.byte_len = qp->resp_total;
	}
	if (pkt->mask & OPM_IMMDT) {
		wc.wc_flags |= EMU_WC_WITH_IMM;
		wc.imm_data = pkt->imm;
	}
	if (pkt->mask & OPM_IETH) {
		if (emu_invalidate_rkey(qp, pkt->ieth_rkey, true) != EMU_WC_SUCCESS)
			return R_LOCAL;
		wc.wc_flags |= EMU_WC_WITH_INV;
		wc.invalidated_rkey = pkt->ieth_rkey;
	}
	emu_qp_complete_recv(qp, &wc, pkt->se);
	return R_OK;
}

static void complete_recv_error(struct emu_qp *qp, uint32_t status)
{
	struct emu_wc wc;

	if (!qp->resp_have_rwqe)
		return;
	emu_memset(&wc, 0, sizeof(wc));
	wc.wr_id = qp->rwqe->wr_id;
	wc.status = status;
	wc.opcode = EMU_WC_RECV;
	emu_qp_complete_recv(qp, &wc, false);
}

/* ---- RC ---------------------------------------------------------------------------------------- */

static void rc_fail(struct emu_qp *qp, const struct emu_pkt *pkt, enum resp_err e)
{
	switch (e) {
	case R_RNR:
	case R_FAULT:
		rnr_nak(qp, pkt->psn, e == R_FAULT);
		break;
	case R_LEN:
		complete_recv_error(qp, EMU_WC_LOC_LEN_ERR);
		nak_fatal(qp, pkt->psn, AETH_NAK_INVALID_REQ, EMU_EVENT_QP_REQ_ERR);
		break;
	case R_ACCESS:
		nak_fatal(qp, pkt->psn, AETH_NAK_REM_ACCESS, EMU_EVENT_QP_ACCESS_ERR);
		break;
	case R_LOCAL:
		complete_recv_error(qp, EMU_WC_LOC_PROT_ERR);
		nak_fatal(qp, pkt->psn, AETH_NAK_REM_OP, EMU_EVENT_QP_FATAL);
		break;
	default:
		nak_fatal(qp, pkt->psn, AETH_NAK_INVALID_REQ, EMU_EVENT_QP_REQ_ERR);
		break;
	}
}

static void accept_psn(struct emu_qp *qp, uint32_t npsn)
{
	qp->resp_epsn = psn_add(qp->resp_epsn, npsn);
	qp->resp_nak_sent = false;
}

static void rc_send_or_write(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	enum resp_err e = (pkt->mask & OPM_SEND) ? recv_data(qp, pkt) : write_data(qp, pkt);

	if (e == R_OK && (pkt->mask & OPM_LAST))
		e = finish_message(qp, pkt);
	if (e) {
		rc_fail(qp, pkt, e);
		return;
	}
	accept_psn(qp, 1);
	if (pkt->mask & OPM_LAST) {
		qp->resp_msn++;
	} else {
		qp->resp_in_msg = true;
		qp->resp_op = pkt->mask & (OPM_SEND | OPM_WRITE);
	}
	if (pkt->ackreq)
		ack_later(qp, pkt->psn);
}

static void remember(struct emu_qp *qp, const struct emu_resp_res *r)
{
	uint32_t n = EMU_MAX(qp->attr.max_dest_rd_atomic, 1u);

	if (qp->res_next >= n)
		qp->res_next = 0;
	qp->res[qp->res_next] = *r;
	qp->res_next = (qp->res_next + 1) % n;
	if (qp->res_count < n)
		qp->res_count++;
}

static void rc_read(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	struct emu_resp_res res;
	struct mem_ref ref = { NULL, 0 };
	uint32_t len = pkt->reth_len;
	uint32_t n = len ? (len + qp->mtu - 1) / qp->mtu : 1;

	if (!qp->attr.max_dest_rd_atomic) {
		rc_fail(qp, pkt, R_INVALID);
		return;
	}
	if (len) {
		enum resp_err e = remote_check(qp, pkt->reth_rkey, pkt->reth_va, len,
					       EMU_ACCESS_REMOTE_READ, &ref);
		enum mem_result r;

		if (e) {
			rc_fail(qp, pkt, e);
			return;
		}
		/* Fault everything in before the first response goes out. */
		r = emu_qp_mem(qp, emu_mem_probe(qp->dev, &ref, 0, len, false));
		if (r == MEM_NOT_PRESENT) {
			rc_fail(qp, pkt, R_FAULT);
			return;
		}
		if (r != MEM_OK) {
			rc_fail(qp, pkt, R_ACCESS);
			return;
		}
	}
	emu_memset(&res, 0, sizeof(res));
	res.valid = true;
	res.first_psn = pkt->psn;
	res.last_psn = psn_add(pkt->psn, n - 1);
	res.va = pkt->reth_va;
	res.rkey = pkt->reth_rkey;
	res.length = len;
	remember(qp, &res);
	accept_psn(qp, n);
	qp->resp_msn++;
	send_read_responses(qp, pkt->psn, len ? &ref : NULL, len);
}

static void rc_atomic(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	struct emu_resp_res res;
	struct mem_ref ref;
	uint64_t orig, val;
	enum resp_err e;
	enum mem_result r;

	if (!qp->attr.max_dest_rd_atomic || (pkt->atm_va & 7)) {
		rc_fail(qp, pkt, R_INVALID);
		return;
	}
	e = remote_check(qp, pkt->atm_rkey, pkt->atm_va, 8, EMU_ACCESS_REMOTE_ATOMIC, &ref);
	if (e) {
		rc_fail(qp, pkt, e);
		return;
	}
	/* Present and writable before anything is read: an atomic that meets an
	 * absent page is not executed at all, and runs once when retried. */
	r = emu_qp_mem(qp, emu_mem_probe(qp->dev, &ref, 0, 8, true));
	if (r == MEM_OK)
		r = emu_qp_mem(qp, emu_mem_read(qp->dev, &ref, 0, &orig, 8));
	if (r != MEM_OK) {
		rc_fail(qp, pkt, r == MEM_NOT_PRESENT ? R_FAULT : R_ACCESS);
		return;
	}
	if ((pkt->opcode & ~OPC_CLASS_MASK) == IB_OP_CMP_SWAP)
		val = orig == pkt->atm_compare ? pkt->atm_swap : orig;
	else
		val = orig + pkt->atm_swap;
	if (val != orig && emu_dma_write(qp, &ref, 0, &val, 8, qp->resp_msn, pkt->psn) != MEM_OK) {
		rc_fail(qp, pkt, R_ACCESS);
		return;
	}
	emu_memset(&res, 0, sizeof(res));
	res.valid = true;
	res.atomic = true;
	res.first_psn = res.last_psn = pkt->psn;
	res.atomic_orig = orig;
	remember(qp, &res);
	accept_psn(qp, 1);
	emu_dma_no_cqe(qp, qp->resp_msn);
	qp->resp_msn++;
	send_atomic_ack(qp, pkt->psn, orig);
}

static struct emu_resp_res *find_res(struct emu_qp *qp, uint32_t psn, bool atomic)
{
	for (uint32_t i = 0; i < qp->res_count; i++) {
		struct emu_resp_res *r = &qp->res[i];

		if (r->valid && r->atomic == atomic && psn_diff(psn, r->first_psn) >= 0 &&
		    psn_diff(psn, r->last_psn) <= 0)
			return r;
	}
	return NULL;
}

/* A request we executed before: its answer was lost (IBA 9.9.2.3). */
static void rc_duplicate(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	struct emu_resp_res *r;

	qp->cnt.duplicate_requests++;
	qp->dev->cnt.duplicate_requests++;
	if (pkt->mask & OPM_READ) {
		struct mem_ref ref;
		uint32_t len = pkt->reth_len;
		enum mem_result m = MEM_OK;

		r = find_res(qp, pkt->psn, false);
		if (!r || pkt->reth_rkey != r->rkey ||
		    (len && remote_check(qp, pkt->reth_rkey, pkt->reth_va, len,
					 EMU_ACCESS_REMOTE_READ, &ref) != R_OK))
			return;
		/* The pages may have been invalidated since the first answer. */
		if (len)
			m = emu_qp_mem(qp, emu_mem_probe(qp->dev, &ref, 0, len, false));
		if (m == MEM_NOT_PRESENT)
			rnr_nak(qp, pkt->psn, true);
		else if (m != MEM_OK)
			rc_fail(qp, pkt, R_ACCESS);
		else
			send_read_responses(qp, pkt->psn, len ? &ref : NULL, len);
		return;
	}
	if (pkt->mask & OPM_ATOMIC) {
		r = find_res(qp, pkt->psn, true);
		if (r && r->first_psn == pkt->psn)
			send_atomic_ack(qp, pkt->psn, r->atomic_orig);
		return;
	}
	/* SEND/WRITE: acknowledge everything executed so far. */
	if (pkt->ackreq || (pkt->mask & OPM_LAST))
		ack(qp, psn_add(qp->resp_epsn, PSN_MASK));
}

static void resp_rc(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	int32_t d = psn_diff(pkt->psn, qp->resp_epsn);

	if (d > 0) {
		/* A gap: ask once for a resend from the expected PSN (IBA 9.7.5.2.1). */
		qp->cnt.seq_errors++;
		qp->dev->cnt.seq_errors++;
		if (!qp->resp_nak_sent) {
			qp->resp_nak_sent = true;
			send_ack(qp, qp->resp_epsn, AETH_NAK | AETH_NAK_PSN_SEQ);
		}
		return;
	}
	if (d < 0) {
		rc_duplicate(qp, pkt);
		return;
	}
	if (!in_sequence(qp, pkt)) {
		rc_fail(qp, pkt, R_INVALID);
		return;
	}
	if (pkt->mask & OPM_READ)
		rc_read(qp, pkt);
	else if (pkt->mask & OPM_ATOMIC)
		rc_atomic(qp, pkt);
	else
		rc_send_or_write(qp, pkt);
}

/* ---- UC: no ACKs; a gap loses the message in progress (IBA 9.7.5.2.2) ---------------------------- */

static void uc_abandon_message(struct emu_qp *qp)
{
	qp->resp_in_msg = false;
	qp->rwqe_off = 0;           /* a partly filled receive WQE is reused */
	qp->uc_drop_msg = 1;
}

static void resp_uc(struct emu_qp *qp, const struct emu_pkt *pkt)
{
	enum resp_err e;

	if (pkt->psn != qp->resp_epsn) {
		qp->cnt.seq_errors++;
		qp->dev->cnt.seq_errors++;
		uc_abandon_message(qp);
	}
	qp->resp_epsn = psn_add(pkt->psn, 1);
	if (pkt->mask & OPM_FIRST) {
		if (qp->resp_in_msg)
			uc_abandon_message(qp);
		qp->uc_drop_msg = 0;
	}
	if (qp->uc_drop_msg || !in_sequence(qp, pkt)) {
		qp->uc_drop_msg = 1;
		emu_count_drop(qp->dev, qp, EMU_DROP_PSN, pkt->opcode, pkt->psn);
		return;
	}
	e = (pkt->mask & OPM_SEND) ? recv_data(qp, pkt) : write_data(qp, pkt);
	if (e == R_OK && (pkt->mask & OPM_LAST))
		e = finish_message(qp, pkt);
	if (e) {
		/* No RNR on UC: a missing receive WQE or an absent page (asked for
		 * already) loses the message. */
		emu_count_drop(qp->dev, qp, e == R_RNR || e == R_FAULT ? EMU_DROP_NO_RECV :
			       EMU_DROP_LENGTH, pkt->opcode, pkt->psn);
		uc_abandon_message(qp);
		return;
	}
	if (pkt->mask & OPM_LAST) {
		qp->resp_msn++;
	} else {
		qp->resp_in_msg = true;
		qp->resp_op = pkt->mask & (OPM_SEND | OPM_WRITE);
	}
}

/* ---- UD ------------------------------------------------------------------------------------------ */

static uint16_t ipv4_checksum(const uint8_t *h)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += get_be16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * The 40 bytes a UD receive buffer starts with: for RoCEv2 over IPv4, 20 bytes of
 * zero then the IPv4 header; over IPv6, the IPv6 header (as rdma-core expects).
 */
static void build_grh(uint8_t grh[40], const struct emu_netinfo *ni, uint32_t udp_len)
{
	emu_memset(grh, 0, 40);
	if (ni->ip_version == 4) {
		uint8_t *h = grh + 20;

		h[0] = 0x45;
		h[1] = ni->tos;
		put_be16(h + 2, (uint16_t)(20 + 8 + udp_len));
		put_be16(h + 4, ni->ip_id);
		put_be16(h + 6, ni->frag_off);
		h[8] = ni->ttl;
		h[9] = 17;
		emu_memcpy_small(h + 12, ni->src + 12, 4);
		emu_memcpy_small(h + 16, ni->dst + 12, 4);
		put_be16(h + 10, ipv4_checksum(h));
	} else {
		put_be32(grh, (6u << 28) | ((uint32_t)ni->tos << 20) | (ni->flow_label & 0xfffff));
		put_be16(grh + 4, (uint16_t)(8 + udp_len));
		grh[6] = 17;
		grh[7] = ni->ttl;
		emu_memcpy_small(grh + 8, ni->src, 16);
		emu_memcpy_small(grh + 24, ni->dst, 16);
	}
}

static void resp_ud(struct emu_qp *qp, const struct emu_pkt *pkt, const struct emu_netinfo *ni)
{
	uint8_t grh[40];
	struct emu_wc wc;
	uint32_t udp_len = pkt->hdr_len + pkt->paylen + pkt->pad + ICRC_BYTES;
	enum mem_result r;

	if (pkt->deth_qkey != qp->attr.qkey) {
		emu_count_drop(qp->dev, qp, EMU_DROP_QKEY, pkt->opcode, pkt->psn);
		return;
	}
	if (!emu_qp_take_rwqe(qp)) {
		emu_count_drop(qp->dev, qp, EMU_DROP_NO_RECV, pkt->opcode, pkt->psn);
		return;
	}
	emu_memset(&wc, 0, sizeof(wc));
	wc.wr_id = qp->rwqe->wr_id;
	wc.opcode = EMU_WC_RECV;
	if (40 + pkt->paylen > qp->rwqe_len) {
		wc.status = EMU_WC_LOC_LEN_ERR;
		emu_qp_complete_recv(qp, &wc, false);
		return;
	}
	build_grh(grh, ni, udp_len);
	r = MEM_OK;
	if (emu_odp_active(qp->dev))
		r = emu_sgl_probe(qp, qp->rwqe->sge, qp->rwqe->num_sge, 0, 40 + pkt->paylen, true);
	if (r == MEM_OK)
		r = emu_qp_mem(qp, emu_dma_write_sgl(qp, qp->rwqe->sge, qp->rwqe->num_sge, 0, grh,
						     40, qp->resp_msn, pkt->psn));
	if (r == MEM_OK)
		r = emu_qp_mem(qp, emu_dma_write_sgl(qp, qp->rwqe->sge, qp->rwqe->num_sge, 40,
						     pkt->payload, pkt->paylen, qp->resp_msn,
						     pkt->psn));
	if (r == MEM_NOT_PRESENT) {
		/* UD has no RNR: the datagram is lost, the receive WQE waits for the next. */
		emu_count_drop(qp->dev, qp, EMU_DROP_NO_RECV, pkt->opcode, pkt->psn);
		return;
	}
	wc.status = r == MEM_OK ? EMU_WC_SUCCESS : EMU_WC_LOC_PROT_ERR;
	wc.byte_len = 40 + pkt->paylen;
	wc.src_qp = pkt->deth_sqpn;
	wc.wc_flags = EMU_WC_WITH_GRH;
	if (pkt->mask & OPM_IMMDT) {
		wc.wc_flags |= EMU_WC_WITH_IMM;
		wc.imm_data = pkt->imm;
	}
	qp->resp_msn++;
	emu_qp_complete_recv(qp, &wc, pkt->se);
}

void emu_resp_rx(struct emu_qp *qp, const struct emu_pkt *pkt, const struct emu_netinfo *ni)
{
	switch (qp->type) {
	case EMU_QPT_RC:
		resp_rc(qp, pkt);
		break;
	case EMU_QPT_UC:
		resp_uc(qp, pkt);
		break;
	default:
		resp_ud(qp, pkt, ni);
		break;
	}
}
