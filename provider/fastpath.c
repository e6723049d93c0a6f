/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/fastpath.c - WRs into WQE rings, CQEs out of CQ rings (see fastpath.h).
 *
 * Ordering: a producer writes its entries, then publishes them with one release
 * store of prod; it reads the device's cons with an acquire load, so a slot the
 * device has released is not overwritten before the device finished reading it.
 * The CQ consumer mirrors this: acquire on prod, release on cons.
 */
#include "fastpath.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* Largest message a WR may describe (IBA: 2^31 bytes). */
#define FP_MAX_MSG 0x80000000ull

static uint32_t load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- rings ------------------------------------------------------------------- */

bool fp_ring_valid(const struct softhca_ring_hdr *h, uint32_t min_stride)
{
	if (!h || h->size == 0 || (h->size & (h->size - 1)) != 0)
		return false;
	return h->stride % 16 == 0 && h->stride >= min_stride;
}

/* Used entries between the device's cons and the producer's index prod. */
static uint32_t ring_used(struct softhca_ring_hdr *h, uint32_t prod)
{
	return prod - load_acquire(&h->cons);
}

uint32_t fp_ring_space(struct softhca_ring_hdr *h)
{
	uint32_t used = ring_used(h, h->prod);

	return used >= h->size ? 0 : h->size - used;
}

/* ---- opcodes ----------------------------------------------------------------- */

bool fp_opcode_valid(uint32_t qp_type, uint32_t opcode)
{
	switch (qp_type) {
	case IBV_QPT_RC:
		return opcode <= IBV_WR_SEND_WITH_INV;
	case IBV_QPT_UC:
		return opcode == IBV_WR_SEND || opcode == IBV_WR_SEND_WITH_IMM ||
		       opcode == IBV_WR_RDMA_WRITE || opcode == IBV_WR_RDMA_WRITE_WITH_IMM ||
		       opcode == IBV_WR_LOCAL_INV || opcode == IBV_WR_BIND_MW;
	case IBV_QPT_UD:
		return opcode == IBV_WR_SEND || opcode == IBV_WR_SEND_WITH_IMM;
	default:
		return false;
	}
}

static bool carries_payload(uint32_t opcode)
{
	return opcode == IBV_WR_SEND || opcode == IBV_WR_SEND_WITH_IMM ||
	       opcode == IBV_WR_SEND_WITH_INV || opcode == IBV_WR_RDMA_WRITE ||
	       opcode == IBV_WR_RDMA_WRITE_WITH_IMM;
}

static bool is_atomic(uint32_t opcode)
{
	return opcode == IBV_WR_ATOMIC_CMP_AND_SWP || opcode == IBV_WR_ATOMIC_FETCH_AND_ADD;
}

static bool has_imm(uint32_t opcode)
{
	return opcode == IBV_WR_SEND_WITH_IMM || opcode == IBV_WR_RDMA_WRITE_WITH_IMM;
}

/* ---- send queue -------------------------------------------------------------- */

int fp_sq_init(struct fp_sq *sq, struct softhca_ring_hdr *ring, uint32_t qp_type,
	       uint32_t max_sge, uint32_t max_inline, const struct fp_handles *handles)
{
	uint32_t room;

	memset(sq, 0, sizeof(*sq));
	if (!fp_ring_valid(ring, (uint32_t)sizeof(struct softhca_send_wqe)) || !handles)
		return EINVAL;
	room = ring->stride - (uint32_t)sizeof(struct softhca_send_wqe);
	sq->ring = ring;
	sq->qp_type = qp_type;
	sq->max_sge = max_sge < room / sizeof(struct softhca_sge) ?
		      max_sge : room / (uint32_t)sizeof(struct softhca_sge);
	sq->max_inline = max_inline < room ? max_inline : room;
	sq->handles = handles;
	return 0;
}

static uint64_t sge_total(const struct ibv_sge *sg, uint32_t n)
{
	uint64_t len = 0;

	for (uint32_t i = 0; i < n; i++)
		len += sg[i].length;
	return len;
}

static int check_sges(const struct fp_sq *sq, const struct ibv_send_wr *wr, bool inl,
		      uint64_t *len)
{
	if (wr->num_sge < 0 || (wr->num_sge > 0 && !wr->sg_list))
		return EINVAL;
	*len = sge_total(wr->sg_list, (uint32_t)wr->num_sge);
	if (inl)
		return *len > sq->max_inline ? EINVAL : 0;
	return (uint32_t)wr->num_sge > sq->max_sge ? EINVAL : 0;
}

static int check_send_wr(const struct fp_sq *sq, const struct ibv_send_wr *wr)
{
	bool inl = (wr->send_flags & IBV_SEND_INLINE) && carries_payload(wr->opcode);
	uint64_t len;
	int err;

	if (!fp_opcode_valid(sq->qp_type, wr->opcode))
		return EINVAL;
	err = check_sges(sq, wr, inl, &len);
	if (err)
		return err;
	if (len > FP_MAX_MSG)
		return EINVAL;
	if (is_atomic(wr->opcode) &&
	    (wr->num_sge != 1 || len != 8 || (wr->wr.atomic.remote_addr & 7) != 0))
		return EINVAL;
	if (sq->qp_type == IBV_QPT_UD) {
		if (!wr->wr.ud.ah || !sq->handles->ah(wr->wr.ud.ah))
			return EINVAL;
		if (sq->max_ud_msg && len > sq->max_ud_msg)
			return EINVAL;
	}
	if (wr->opcode == IBV_WR_BIND_MW) {
		if (!wr->bind_mw.mw || !sq->handles->mw(wr->bind_mw.mw) ||
		    !wr->bind_mw.bind_info.mr || !sq->handles->mr(wr->bind_mw.bind_info.mr))
			return EINVAL;
	}
	return 0;
}

static void copy_inline(struct softhca_send_wqe *w, const struct ibv_sge *sg, uint32_t n)
{
	uint8_t *dst = (uint8_t *)(w + 1);

	for (uint32_t i = 0; i < n; i++) {
		if (sg[i].length)
			memcpy(dst, (const void *)(uintptr_t)sg[i].addr, sg[i].length);
		dst += sg[i].length;
	}
}

static void copy_sges(struct softhca_send_wqe *w, const struct ibv_sge *sg, uint32_t n)
{
	struct softhca_sge *dst = (struct softhca_sge *)(w + 1);

	for (uint32_t i = 0; i < n; i++) {
		dst[i].addr = sg[i].addr;
		dst[i].length = sg[i].length;
		dst[i].lkey = sg[i].lkey;
	}
}

static void fill_wqe_remote(const struct fp_sq *sq, struct softhca_send_wqe *w,
			    const struct ibv_send_wr *wr)
{
	const struct ibv_mw_bind_info *bi = &wr->bind_mw.bind_info;

	switch (wr->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_RDMA_READ:
		w->wr.rdma.remote_addr = wr->wr.rdma.remote_addr;
		w->wr.rdma.rkey = wr->wr.rdma.rkey;
		break;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		w->wr.atomic.remote_addr = wr->wr.atomic.remote_addr;
		w->wr.atomic.compare_add = wr->wr.atomic.compare_add;
		w->wr.atomic.swap = wr->wr.atomic.swap;
		w->wr.atomic.rkey = wr->wr.atomic.rkey;
		break;
	case IBV_WR_BIND_MW:
		w->wr.bind.mw_handle = sq->handles->mw(wr->bind_mw.mw);
		w->wr.bind.mr_handle = sq->handles->mr(bi->mr);
		w->wr.bind.rkey = wr->bind_mw.rkey;
		w->wr.bind.access = fp_mw_access(bi->mw_access_flags);
		w->wr.bind.addr = bi->addr;
		w->wr.bind.length = bi->length;
		break;
	default:
		if (sq->qp_type == IBV_QPT_UD) {
			w->wr.ud.ah_handle = sq->handles->ah(wr->wr.ud.ah);
			w->wr.ud.remote_qpn = wr->wr.ud.remote_qpn;
			w->wr.ud.remote_qkey = wr->wr.ud.remote_qkey;
		}
		break;
	}
}

static void write_send_wqe(const struct fp_sq *sq, struct softhca_send_wqe *w,
			   const struct ibv_send_wr *wr)
{
	bool inl = (wr->send_flags & IBV_SEND_INLINE) && carries_payload(wr->opcode);
	uint32_t n = (uint32_t)wr->num_sge;

	memset(w, 0, sizeof(*w));
	w->wr_id = wr->wr_id;
	w->opcode = wr->opcode;
	w->send_flags = wr->send_flags;
	if (has_imm(wr->opcode))
		w->imm_data = wr->imm_data;
	if (wr->opcode == IBV_WR_SEND_WITH_INV || wr->opcode == IBV_WR_LOCAL_INV)
		w->invalidate_rkey = wr->invalidate_rkey;
	fill_wqe_remote(sq, w, wr);
	if (inl) {
		w->inline_len = (uint32_t)sge_total(wr->sg_list, n);
		copy_inline(w, wr->sg_list, n);
	} else {
		w->send_flags &= ~(uint32_t)IBV_SEND_INLINE;
		w->num_sge = n;
		copy_sges(w, wr->sg_list, n);
	}
}

int fp_post_send(struct fp_sq *sq, struct ibv_send_wr *wr, struct ibv_send_wr **bad_wr,
		 uint32_t *posted)
{
	struct softhca_ring_hdr *h = sq->ring;
	uint32_t prod = h->prod, start = prod;
	int err = 0;

	for (; wr; wr = wr->next) {
		err = check_send_wr(sq, wr);
		if (!err && ring_used(h, prod) >= h->size)
			err = ENOMEM;
		if (err) {
			*bad_wr = wr;
			break;
		}
		write_send_wqe(sq, softhca_ring_entry(h, prod), wr);
		prod++;
	}
	if (prod != start)
		store_release(&h->prod, prod);
	if (posted)
		*posted = prod - start;
	return err;
}

/* ---- receive queues ---------------------------------------------------------- */

int fp_rq_init(struct fp_rq *rq, struct softhca_ring_hdr *ring, uint32_t max_sge)
{
	uint32_t room;

	memset(rq, 0, sizeof(*rq));
	if (!fp_ring_valid(ring, (uint32_t)sizeof(struct softhca_recv_wqe)))
		return EINVAL;
	room = (ring->stride - (uint32_t)sizeof(struct softhca_recv_wqe)) /
	       (uint32_t)sizeof(struct softhca_sge);
	rq->ring = ring;
	rq->max_sge = max_sge < room ? max_sge : room;
	return 0;
}

static int check_recv_wr(const struct fp_rq *rq, const struct ibv_recv_wr *wr)
{
	if (wr->num_sge < 0 || (uint32_t)wr->num_sge > rq->max_sge)
		return EINVAL;
	if (wr->num_sge > 0 && !wr->sg_list)
		return EINVAL;
	return 0;
}

static void write_recv_wqe(struct softhca_recv_wqe *w, const struct ibv_recv_wr *wr)
{
	struct softhca_sge *dst = (struct softhca_sge *)(w + 1);

	w->wr_id = wr->wr_id;
	w->num_sge = (uint32_t)wr->num_sge;
	w->reserved = 0;
	for (int i = 0; i < wr->num_sge; i++) {
		dst[i].addr = wr->sg_list[i].addr;
		dst[i].length = wr->sg_list[i].length;
		dst[i].lkey = wr->sg_list[i].lkey;
	}
}

int fp_post_recv(struct fp_rq *rq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad_wr,
		 uint32_t *posted)
{
	struct softhca_ring_hdr *h = rq->ring;
	uint32_t prod = h->prod, start = prod;
	int err = 0;

	for (; wr; wr = wr->next) {
		err = check_recv_wr(rq, wr);
		if (!err && ring_used(h, prod) >= h->size)
			err = ENOMEM;
		if (err) {
			*bad_wr = wr;
			break;
		}
		write_recv_wqe(softhca_ring_entry(h, prod), wr);
		prod++;
	}
	if (prod != start)
		store_release(&h->prod, prod);
	if (posted)
		*posted = prod - start;
	return err;
}

/* ---- completion queues ------------------------------------------------------- */

void fp_cqe_to_wc(const struct softhca_cqe *cqe, struct ibv_wc *wc)
{
	wc->wr_id = cqe->wr_id;
	wc->status = (enum ibv_wc_status)cqe->status;
	wc->opcode = (enum ibv_wc_opcode)cqe->opcode;
	wc->vendor_err = cqe->vendor_err;
	wc->byte_len = cqe->byte_len;
	/* One field carries the immediate (network order) or the invalidated rkey. */
	wc->imm_data = cqe->imm_data;
	wc->qp_num = cqe->qp_num;
	wc->src_qp = cqe->src_qp;
	wc->wc_flags = cqe->wc_flags;
	wc->pkey_index = cqe->pkey_index;
	wc->slid = cqe->slid;
	wc->sl = cqe->sl;
	wc->dlid_path_bits = cqe->dlid_path_bits;
}

/* Published, unconsumed entries from cons on; a count beyond the ring size means
 * a device that broke the ring, and is read as empty rather than overrun. */
static uint32_t cq_ready(struct softhca_ring_hdr *cq, uint32_t cons)
{
	uint32_t ready = load_acquire(&cq->prod) - cons;

	return ready > cq->size ? 0 : ready;
}

int fp_poll_cq(struct softhca_ring_hdr *cq, int n, struct ibv_wc *wc)
{
	uint32_t cons = cq->cons;
	uint32_t ready = cq_ready(cq, cons);
	int got = 0;

	while (got < n && (uint32_t)got < ready) {
		fp_cqe_to_wc(softhca_ring_entry(cq, cons + (uint32_t)got), &wc[got]);
		got++;
	}
	if (got)
		store_release(&cq->cons, cons + (uint32_t)got);
	return got;
}

const struct softhca_cqe *fp_cq_peek(struct softhca_ring_hdr *cq, uint32_t idx)
{
	uint32_t cons = cq->cons;

	if (idx - cons >= cq_ready(cq, cons))
		return NULL;
	return softhca_ring_entry(cq, idx);
}

uint32_t fp_cq_cons(struct softhca_ring_hdr *cq)
{
	return cq->cons;
}

void fp_cq_release(struct softhca_ring_hdr *cq, uint32_t new_cons)
{
	store_release(&cq->cons, new_cons);
}

/* ---- ibv_wr_* builders ---------------------------------------------------------- */

void fp_wr_start(struct fp_sq *sq)
{
	sq->batch_prod = sq->ring->prod;
	sq->batch_err = 0;
	sq->batch_cur = NULL;
}

void fp_wr_fail(struct fp_sq *sq, int err)
{
	if (!sq->batch_err)
		sq->batch_err = err;
	sq->batch_cur = NULL;
}

/* Append a WQE of this opcode to the batch, or latch why it cannot be. */
static struct softhca_send_wqe *wr_append(struct fp_sq *sq, uint64_t wr_id, uint32_t flags,
					  uint32_t opcode)
{
	struct softhca_send_wqe *w;

	if (sq->batch_err)
		return NULL;
	if (!fp_opcode_valid(sq->qp_type, opcode)) {
		fp_wr_fail(sq, EINVAL);
		return NULL;
	}
	if (ring_used(sq->ring, sq->batch_prod) >= sq->ring->size) {
		fp_wr_fail(sq, ENOMEM);
		return NULL;
	}
	w = softhca_ring_entry(sq->ring, sq->batch_prod++);
	memset(w, 0, sizeof(*w));
	w->wr_id = wr_id;
	w->opcode = opcode;
	/* Inline or not is decided by the setter the caller uses. */
	w->send_flags = flags & ~(uint32_t)IBV_SEND_INLINE;
	sq->batch_cur = w;
	return w;
}

void fp_wr_rdma(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t opcode,
		uint32_t rkey, uint64_t remote_addr, __be32 imm_data)
{
	struct softhca_send_wqe *w = wr_append(sq, wr_id, flags, opcode);

	if (!w)
		return;
	w->wr.rdma.remote_addr = remote_addr;
	w->wr.rdma.rkey = rkey;
	if (has_imm(opcode))
		w->imm_data = imm_data;
}

void fp_wr_atomic(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t opcode,
		  uint32_t rkey, uint64_t remote_addr, uint64_t compare_add, uint64_t swap)
{
	struct softhca_send_wqe *w;

	if (!is_atomic(opcode) || (remote_addr & 7) != 0) {
		fp_wr_fail(sq, EINVAL);
		return;
	}
	w = wr_append(sq, wr_id, flags, opcode);
	if (!w)
		return;
	w->wr.atomic.remote_addr = remote_addr;
	w->wr.atomic.compare_add = compare_add;
	w->wr.atomic.swap = swap;
	w->wr.atomic.rkey = rkey;
}

void fp_wr_send(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t opcode,
		__be32 imm_data, uint32_t invalidate_rkey)
{
	struct softhca_send_wqe *w = wr_append(sq, wr_id, flags, opcode);

	if (!w)
		return;
	if (has_imm(opcode))
		w->imm_data = imm_data;
	if (opcode == IBV_WR_SEND_WITH_INV)
		w->invalidate_rkey = invalidate_rkey;
}

void fp_wr_local_inv(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t rkey)
{
	struct softhca_send_wqe *w = wr_append(sq, wr_id, flags, IBV_WR_LOCAL_INV);

	if (w)
		w->invalidate_rkey = rkey;
}

void fp_wr_bind_mw(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, struct ibv_mw *mw,
		   uint32_t rkey, const struct ibv_mw_bind_info *info)
{
	uint32_t mw_handle = mw ? sq->handles->mw(mw) : 0;
	uint32_t mr_handle = info && info->mr ? sq->handles->mr(info->mr) : 0;
	struct softhca_send_wqe *w;

	if (!mw_handle || !mr_handle) {
		fp_wr_fail(sq, EINVAL);
		return;
	}
	w = wr_append(sq, wr_id, flags, IBV_WR_BIND_MW);
	if (!w)
		return;
	w->wr.bind.mw_handle = mw_handle;
	w->wr.bind.mr_handle = mr_handle;
	w->wr.bind.rkey = rkey;
	w->wr.bind.access = fp_mw_access(info->mw_access_flags);
	w->wr.bind.addr = info->addr;
	w->wr.bind.length = info->length;
}

/* The WQE the setters patch; latches EINVAL when there is none. */
static struct softhca_send_wqe *wr_current(struct fp_sq *sq)
{
	if (sq->batch_err)
		return NULL;
	if (!sq->batch_cur)
		fp_wr_fail(sq, EINVAL);
	return sq->batch_cur;
}

static bool ud_len_ok(const struct fp_sq *sq, uint64_t len)
{
	return sq->qp_type != IBV_QPT_UD || !sq->max_ud_msg || len <= sq->max_ud_msg;
}

void fp_wr_set_sge_list(struct fp_sq *sq, size_t n, const struct ibv_sge *sg)
{
	struct softhca_send_wqe *w = wr_current(sq);
	uint64_t len;

	if (!w)
		return;
	if (n > sq->max_sge || (n && !sg)) {
		fp_wr_fail(sq, EINVAL);
		return;
	}
	len = sge_total(sg, (uint32_t)n);
	if (len > FP_MAX_MSG || !ud_len_ok(sq, len) ||
	    (is_atomic(w->opcode) && (n != 1 || len != 8))) {
		fp_wr_fail(sq, EINVAL);
		return;
	}
	w->send_flags &= ~(uint32_t)IBV_SEND_INLINE;
	w->inline_len = 0;
	w->num_sge = (uint32_t)n;
	copy_sges(w, sg, (uint32_t)n);
}

void fp_wr_set_inline_list(struct fp_sq *sq, size_t n, const struct ibv_data_buf *buf)
{
	struct softhca_send_wqe *w = wr_current(sq);
	uint8_t *dst;
	uint64_t len = 0;

	if (!w)
		return;
	if (!carries_payload(w->opcode) || (n && !buf)) {
		fp_wr_fail(sq, EINVAL);
		return;
	}
	for (size_t i = 0; i < n; i++)
		len += buf[i].length;
	if (len > sq->max_inline || !ud_len_ok(sq, len)) {
		fp_wr_fail(sq, EINVAL);
		return;
	}
	dst = (uint8_t *)(w + 1);
	for (size_t i = 0; i < n; i++) {
		if (buf[i].length)
			memcpy(dst, buf[i].addr, buf[i].length);
		dst += buf[i].length;
	}
	w->send_flags |= IBV_SEND_INLINE;
	w->num_sge = 0;
	w->inline_len = (uint32_t)len;
}

void fp_wr_set_ud_addr(struct fp_sq *sq, struct ibv_ah *ah, uint32_t remote_qpn,
		       uint32_t remote_qkey)
{
	struct softhca_send_wqe *w = wr_current(sq);
	uint32_t handle;

	if (!w)
		return;
	handle = (sq->qp_type == IBV_QPT_UD && ah) ? sq->handles->ah(ah) : 0;
	if (!handle) {
		fp_wr_fail(sq, EINVAL);
		return;
	}
	w->wr.ud.ah_handle = handle;
	w->wr.ud.remote_qpn = remote_qpn;
	w->wr.ud.remote_qkey = remote_qkey;
}

int fp_wr_complete(struct fp_sq *sq, uint32_t *posted)
{
	uint32_t start = sq->ring->prod;
	int err = sq->batch_err;

	if (posted)
		*posted = 0;
	if (!err && sq->batch_prod != start) {
		store_release(&sq->ring->prod, sq->batch_prod);
		if (posted)
			*posted = sq->batch_prod - start;
	}
	fp_wr_abort(sq);
	return err;
}

void fp_wr_abort(struct fp_sq *sq)
{
	sq->batch_prod = sq->ring->prod;
	sq->batch_err = 0;
	sq->batch_cur = NULL;
}
