/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Requester (IBA 9.7.4): turns send WQEs into request packets, in order, within
 * the send window and the READ/atomic limit, and goes back to a PSN when the
 * completer asks for a retry.
 */
#include "internal.h"

static uint32_t send_window(const struct emu_qp *qp)
{
	uint32_t w = qp->dev->cfg.max_unacked_psns;

	return w ? w : DEFAULT_MAX_UNACKED;
}

static uint32_t class_of(const struct emu_qp *qp)
{
	return qp->type == EMU_QPT_UD ? OPC_UD : qp->type == EMU_QPT_UC ? OPC_UC : OPC_RC;
}

static bool is_send(uint32_t op)
{
	return op == EMU_WR_SEND || op == EMU_WR_SEND_WITH_IMM || op == EMU_WR_SEND_WITH_INV;
}

static bool is_write(uint32_t op)
{
	return op == EMU_WR_RDMA_WRITE || op == EMU_WR_RDMA_WRITE_WITH_IMM;
}

/* Number of packets of a message: for READ, the number of responses. */
static uint32_t packets_of(const struct emu_qp *qp, const struct emu_swqe *w)
{
	if (!is_send(w->wr.opcode) && !is_write(w->wr.opcode) &&
	    w->wr.opcode != EMU_WR_RDMA_READ)
		return 1;
	return w->length ? (w->length + qp->mtu - 1) / qp->mtu : 1;
}

/* The BTH opcode of packet i of n of a SEND or WRITE. */
static uint8_t data_opcode(const struct emu_qp *qp, const struct emu_swqe *w, uint32_t i,
			   uint32_t n)
{
	uint32_t op = w->wr.opcode;
	uint8_t base;

	if (is_send(op)) {
		if (n == 1)
			base = op == EMU_WR_SEND_WITH_IMM ? IB_OP_SEND_ONLY_IMM :
			       op == EMU_WR_SEND_WITH_INV ? IB_OP_SEND_ONLY_INV : IB_OP_SEND_ONLY;
		else if (i == 0)
			base = IB_OP_SEND_FIRST;
		else if (i + 1 < n)
			base = IB_OP_SEND_MIDDLE;
		else
			base = op == EMU_WR_SEND_WITH_IMM ? IB_OP_SEND_LAST_IMM :
			       op == EMU_WR_SEND_WITH_INV ? IB_OP_SEND_LAST_INV : IB_OP_SEND_LAST;
	} else {
		bool imm = op == EMU_WR_RDMA_WRITE_WITH_IMM;

		if (n == 1)
			base = imm ? IB_OP_WRITE_ONLY_IMM : IB_OP_WRITE_ONLY;
		else if (i == 0)
			base = IB_OP_WRITE_FIRST;
		else if (i + 1 < n)
			base = IB_OP_WRITE_MIDDLE;
		else
			base = imm ? IB_OP_WRITE_LAST_IMM : IB_OP_WRITE_LAST;
	}
	return (uint8_t)(class_of(qp) | base);
}

struct wqe_fill {
	struct emu_qp *qp;
	const struct emu_swqe *w;
	uint32_t off;
};

static enum mem_result fill_from_wqe(void *ctx, uint8_t *dst, uint32_t len)
{
	struct wqe_fill *f = ctx;

	if (f->w->wr.inline_data) {
		f->qp->dev->ops.copy(dst, (const uint8_t *)f->w->wr.inline_data + f->off, len);
		return MEM_OK;
	}
	return emu_sgl_read(f->qp, f->w->sge, f->w->wr.num_sge, f->off, dst, len);
}

/* Local checks of a WQE's SG list before anything is sent (IBA 10.7.2.1). */
static uint32_t check_local_sges(struct emu_qp *qp, const struct emu_swqe *w)
{
	uint32_t access = w->needs_response ? EMU_ACCESS_LOCAL_WRITE : 0;
	struct mem_ref ref;

	if (w->wr.inline_data)
		return EMU_WC_SUCCESS;
	for (uint32_t i = 0; i < w->wr.num_sge; i++) {
		if (!w->sge[i].length)
			continue;
		if (emu_lkey_check(qp, &w->sge[i], access, &ref) != MEM_OK)
			return EMU_WC_LOC_PROT_ERR;
	}
	return EMU_WC_SUCCESS;
}

/* Not a completion status: the WQE waits for its pages (see fault_in_sges). */
#define STATUS_STALLED UINT32_MAX

/*
 * ODP: every absent page of a WQE's SG list is asked for before the WQE starts
 * (as mlx5 faults all the data segments of a WQE at once), so that one stall
 * covers the whole message. The destination of a READ or atomic is probed for
 * writing. An unbacked range is a local protection error (as on mlx5).
 */
static uint32_t fault_in_sges(struct emu_qp *qp, const struct emu_swqe *w)
{
	enum mem_result r;

	if (!emu_odp_active(qp->dev) || w->wr.inline_data || !w->length)
		return EMU_WC_SUCCESS;
	r = emu_sgl_probe(qp, w->sge, w->wr.num_sge, 0, w->length, w->needs_response);
	if (r == MEM_NOT_PRESENT) {
		emu_qp_stall(qp, EMU_STALL_PAGE_FAULT);
		return STATUS_STALLED;
	}
	return r == MEM_OK ? EMU_WC_SUCCESS : EMU_WC_LOC_PROT_ERR;
}

static void fail_wqe(struct emu_qp *qp, struct emu_swqe *w, uint32_t status)
{
	emu_qp_complete_send(qp, w, status);
	emu_qp_error(qp, -1);
}

/* Should packet psn, the last of what we send now or of a message, ask for an ACK? */
static bool want_ack(struct emu_qp *qp, uint32_t psn, bool last_of_msg)
{
	bool last_queued = qp->req_next + 1 == qp->sq.head;

	qp->pkts_since_ackreq++;
	if ((last_of_msg && last_queued) || qp->pkts_since_ackreq >= ACKREQ_EVERY ||
	    psn_diff(psn_add(psn, 1), qp->comp_psn) >= (int32_t)send_window(qp)) {
		qp->pkts_since_ackreq = 0;
		return true;
	}
	return false;
}

static void note_sent(struct emu_qp *qp, uint32_t psn, uint32_t span)
{
	uint32_t end = psn_add(psn, span);

	if (qp->req_started && psn_diff(psn, qp->req_max_psn) < 0) {
		qp->cnt.retransmits++;
		qp->dev->cnt.retransmits++;
	}
	if (!qp->req_started || psn_diff(end, qp->req_max_psn) > 0) {
		qp->req_max_psn = end;
		qp->req_started = true;
	}
}

static enum mem_result send_data_packet(struct emu_qp *qp, struct emu_swqe *w, uint32_t i)
{
	struct emu_pkt pkt;
	struct wqe_fill f = { qp, w, i * qp->mtu };
	uint32_t n = w->npkts;
	uint32_t paylen = w->length ? EMU_MIN(qp->mtu, w->length - f.off) : 0;
	const struct emu_ah_attr *av = &qp->attr.ah_attr;
	enum mem_result r;

	emu_memset(&pkt, 0, sizeof(pkt));
	pkt.opcode = data_opcode(qp, w, i, n);
	pkt.psn = psn_add(w->first_psn, i);
	if (qp->type == EMU_QPT_RC)
		pkt.ackreq = want_ack(qp, pkt.psn, i + 1 == n);
	if (i + 1 == n && (w->wr.send_flags & EMU_SEND_SOLICITED))
		pkt.se = 1;
	if (emu_opcodes[pkt.opcode].mask & OPM_RETH) {
		pkt.reth_va = w->wr.wr.rdma.remote_addr;
		pkt.reth_rkey = w->wr.wr.rdma.rkey;
		pkt.reth_len = w->length;
	}
	pkt.imm = w->wr.imm_data;
	pkt.ieth_rkey = w->wr.invalidate_rkey;
	if (qp->type == EMU_QPT_UD) {
		uint32_t qkey = w->wr.wr.ud.remote_qkey;

		/* A Q_Key with the high bit set means "use the QP's own" (IBA 10.2.5). */
		pkt.deth_qkey = (qkey & 0x80000000u) ? qp->attr.qkey : qkey;
		pkt.deth_sqpn = qp->qpn;
		pkt.dqpn = w->wr.wr.ud.remote_qpn & PSN_MASK;
		av = &w->wr.wr.ud.ah->attr;
		r = emu_send_pkt_av(qp, av, &pkt, paylen, fill_from_wqe, &f, w->index);
	} else {
		r = emu_send_pkt(qp, &pkt, paylen, fill_from_wqe, &f, w->index);
	}
	if (r == MEM_OK)
		note_sent(qp, pkt.psn, 1);
	return r;
}

/* A READ request for what is still missing from psn on (first send or retry). */
static void send_read_request(struct emu_qp *qp, struct emu_swqe *w, uint32_t psn)
{
	struct emu_pkt pkt;
	uint32_t off = (uint32_t)psn_diff(psn, w->first_psn) * qp->mtu;

	emu_memset(&pkt, 0, sizeof(pkt));
	pkt.opcode = OPC_RC | IB_OP_READ_REQUEST;
	pkt.psn = psn;
	pkt.ackreq = 1;
	pkt.reth_va = w->wr.wr.rdma.remote_addr + off;
	pkt.reth_rkey = w->wr.wr.rdma.rkey;
	pkt.reth_len = w->length - off;
	emu_send_pkt(qp, &pkt, 0, NULL, NULL, w->index);
	note_sent(qp, psn, (uint32_t)psn_diff(w->last_psn, psn) + 1);
}

static void send_atomic_request(struct emu_qp *qp, struct emu_swqe *w)
{
	struct emu_pkt pkt;

	emu_memset(&pkt, 0, sizeof(pkt));
	pkt.opcode = OPC_RC | (w->wr.opcode == EMU_WR_ATOMIC_CMP_AND_SWP ? IB_OP_CMP_SWAP :
			       IB_OP_FETCH_ADD);
	pkt.psn = w->first_psn;
	pkt.ackreq = 1;
	pkt.atm_va = w->wr.wr.atomic.remote_addr;
	pkt.atm_rkey = w->wr.wr.atomic.rkey;
	if (w->wr.opcode == EMU_WR_ATOMIC_CMP_AND_SWP) {
		pkt.atm_swap = w->wr.wr.atomic.swap;
		pkt.atm_compare = w->wr.wr.atomic.compare_add;
	} else {
		pkt.atm_swap = w->wr.wr.atomic.compare_add;
	}
	emu_send_pkt(qp, &pkt, 0, NULL, NULL, w->index);
	note_sent(qp, pkt.psn, 1);
}

/* LOCAL_INV and BIND_MW: no packets, done when the requester reaches them. */
static void run_local_op(struct emu_qp *qp, struct emu_swqe *w)
{
	uint32_t status;

	if (w->wr.opcode == EMU_WR_LOCAL_INV)
		status = emu_invalidate_rkey(qp, w->wr.invalidate_rkey, false);
	else
		status = emu_mw_bind(qp, w->wr.wr.bind.mw, w->wr.wr.bind.rkey, &w->wr.wr.bind.info);
	qp->req_next++;
	if (status != EMU_WC_SUCCESS)
		fail_wqe(qp, w, status);
	else
		emu_qp_complete_send(qp, w, status);
}

/* Begin a WQE: check it and give it its PSNs. false if it may not start yet. */
static bool start_wqe(struct emu_qp *qp, struct emu_swqe *w)
{
	uint32_t status;

	if ((w->wr.send_flags & EMU_SEND_FENCE) && qp->rd_atomic_out)
		return false;
	if (w->needs_response && qp->rd_atomic_out >= EMU_MAX(qp->attr.max_rd_atomic, 1u))
		return false;
	if (qp->type == EMU_QPT_RC && psn_diff(qp->req_psn, qp->comp_psn) >= (int32_t)send_window(qp))
		return false;
	status = check_local_sges(qp, w);
	if (status == EMU_WC_SUCCESS)
		status = fault_in_sges(qp, w);
	if (status == STATUS_STALLED)
		return false;
	if (status != EMU_WC_SUCCESS) {
		qp->req_next++;
		fail_wqe(qp, w, status);
		return false;
	}
	w->npkts = packets_of(qp, w);
	w->first_psn = qp->req_psn;
	w->last_psn = psn_add(qp->req_psn, w->npkts - 1);
	w->sent_pkts = 0;
	w->read_done = 0;
	w->state = WQE_SENDING;
	if (w->needs_response)
		qp->rd_atomic_out++;
	return true;
}

/* Send what the window allows of a started WQE. true when all of it is sent. */
static bool continue_wqe(struct emu_qp *qp, struct emu_swqe *w)
{
	if (w->wr.opcode == EMU_WR_RDMA_READ) {
		send_read_request(qp, w, psn_add(w->first_psn, w->sent_pkts));
		w->sent_pkts = w->npkts;
		qp->req_psn = psn_add(w->last_psn, 1);
	} else if (w->needs_response) {
		send_atomic_request(qp, w);
		w->sent_pkts = 1;
		qp->req_psn = psn_add(w->last_psn, 1);
	}
	while (w->sent_pkts < w->npkts) {
		uint32_t psn = psn_add(w->first_psn, w->sent_pkts);
		enum mem_result r;

		if (qp->type == EMU_QPT_RC &&
		    psn_diff(psn, qp->comp_psn) >= (int32_t)send_window(qp))
			return false;
		r = send_data_packet(qp, w, w->sent_pkts);
		if (r == MEM_OK)
			qp->req_psn = psn_add(psn, 1);
		if (r == MEM_NOT_PRESENT) {
			emu_qp_stall(qp, EMU_STALL_PAGE_FAULT);
			return false;
		}
		if (r != MEM_OK) {
			/* A key, right or unbacked page (ODP: mr_map's negative errno)
			 * is a protection error, as on mlx5. */
			qp->req_next++;
			fail_wqe(qp, w, r == MEM_BAD_ACCESS || r == MEM_BAD_KEY || r == MEM_FAULT ?
				 EMU_WC_LOC_PROT_ERR : EMU_WC_LOC_ACCESS_ERR);
			return false;
		}
		w->sent_pkts++;
	}
	return true;
}

void emu_req_run(struct emu_qp *qp)
{
	if (qp->type == EMU_QPT_RC && qp->rnr_wait)
		return;
	while (qp->stall == EMU_STALL_NONE && qp->req_next != qp->sq.head) {
		struct emu_swqe *w = sq_wqe(qp, qp->req_next);

		if (qp->state != EMU_QPS_RTS && qp->state != EMU_QPS_SQD)
			return;
		if (w->state == WQE_DONE) {       /* completed at post time (type 1 bind) */
			qp->req_next++;
			continue;
		}
		if (w->state == WQE_POSTED) {
			if (qp->state == EMU_QPS_SQD)
				break;
			if (w->wr.opcode == EMU_WR_LOCAL_INV || w->wr.opcode == EMU_WR_BIND_MW) {
				run_local_op(qp, w);
				continue;
			}
			if (!start_wqe(qp, w))
				break;
		}
		if (!continue_wqe(qp, w))
			break;
		w->state = WQE_SENT;
		qp->req_next++;
		if (qp->type != EMU_QPT_RC)
			emu_qp_complete_send(qp, w, EMU_WC_SUCCESS);
	}
	if (qp->type == EMU_QPT_RC && (qp->state == EMU_QPS_RTS || qp->state == EMU_QPS_SQD))
		emu_comp_arm_timer(qp);
}

/*
 * Go back to psn: the WQE holding it resumes at that packet, every later WQE starts
 * again (IBA 9.7.4.1.5: retry from the first unacknowledged packet). PSNs are given
 * in order, so the resent WQEs get the PSNs they had before.
 */
void emu_req_rewind(struct emu_qp *qp, uint32_t psn)
{
	uint64_t end = qp->req_next, n;

	/* The WQE at req_next may be partly sent (the window closed, or an ODP
	 * page of its payload was absent): its PSNs can be asked for again too. */
	if (end != qp->sq.head && sq_wqe(qp, end)->state == WQE_SENDING)
		end++;
	for (n = qp->sq.tail; n != end; n++) {
		struct emu_swqe *w = sq_wqe(qp, n);

		if (w->state == WQE_DONE || w->state == WQE_POSTED)
			continue;
		if (psn_diff(psn, w->first_psn) >= 0 && psn_diff(psn, w->last_psn) <= 0)
			break;
	}
	if (n == end)
		return;
	emu_trace(qp->dev, EMU_TR_RETRANSMIT, 0, qp->qpn, psn, sq_wqe(qp, n)->index, 0, 0);
	qp->rd_atomic_out = 0;
	for (uint64_t k = qp->sq.tail; k != end; k++) {
		struct emu_swqe *w = sq_wqe(qp, k);

		if (k < n) {
			if (w->state != WQE_DONE && w->needs_response)
				qp->rd_atomic_out++;
			continue;
		}
		if (k == n) {
			w->state = WQE_SENDING;
			w->sent_pkts = (uint32_t)psn_diff(psn, w->first_psn);
			if (w->needs_response)
				qp->rd_atomic_out++;
		} else if (w->state != WQE_DONE) {
			w->state = WQE_POSTED;
		}
	}
	qp->req_next = n;
	qp->req_psn = psn;
	qp->pkts_since_ackreq = 0;
}
