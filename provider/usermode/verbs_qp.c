/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/verbs_qp.c - queue pairs (with the ibv_wr_* API), shared
 * receive queues, address handles and the post paths.
 *
 * Posting writes WQEs into the rings under the ring's producer lock, then rings
 * the doorbell under the device lock: the host moves the new WQEs into the engine
 * at once, so nothing waits in a ring for a progress thread.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verbs_priv.h"

/* ---- object handles as the fast path sees them ---------------------------------- */

static uint32_t ah_handle(struct ibv_ah *ah) { return to_ah(ah)->handle; }
static uint32_t mw_handle(struct ibv_mw *mw) { return to_mw(mw)->handle; }
static uint32_t mr_handle(struct ibv_mr *mr) { return to_mr(mr)->handle; }

static const struct fp_handles sh_handles = {
	.ah = ah_handle,
	.mw = mw_handle,
	.mr = mr_handle,
};

/* ---- post paths ------------------------------------------------------------------ */

static uint32_t qp_state(const struct sh_qp *qp)
{
	return __atomic_load_n(&qp->state, __ATOMIC_ACQUIRE);
}

static void set_qp_state(struct sh_qp *qp, uint32_t state)
{
	__atomic_store_n(&qp->state, state, __ATOMIC_RELEASE);
	qp->qpx.qp_base.state = (enum ibv_qp_state)state;
}

/* A send queue takes WRs from RTS on (SQD, SQE and ERR queue or flush them). */
static bool sq_postable(uint32_t state)
{
	return state != IBV_QPS_RESET && state != IBV_QPS_INIT && state != IBV_QPS_RTR &&
	       state != IBV_QPS_UNKNOWN;
}

void sh_qp_flush_sq_locked(struct sh_qp *qp)
{
	uh_qp_doorbell_sq(qp->ctx->uh, qp->uh);
}

static void ring_sq(struct sh_qp *qp)
{
	struct uh_dev *uh = qp->ctx->uh;

	uh_lock(uh);
	uh_qp_doorbell_sq(uh, qp->uh);
	uh_unlock(uh);
}

int sh_post_send(struct ibv_qp *ibqp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct sh_qp *qp = to_qp(ibqp);
	struct ibv_send_wr *dummy;
	uint32_t posted = 0;
	int err;

	if (!bad)
		bad = &dummy;
	uh_verbs_entry(qp->ctx->uh);
	if (!sq_postable(qp_state(qp))) {
		*bad = wr;
		return EINVAL;
	}
	pthread_spin_lock(&qp->sq_lock);
	err = fp_post_send(&qp->sq, wr, bad, &posted);
	pthread_spin_unlock(&qp->sq_lock);
	if (posted)
		ring_sq(qp);
	return err;
}

int sh_post_recv(struct ibv_qp *ibqp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct sh_qp *qp = to_qp(ibqp);
	struct uh_dev *uh = qp->ctx->uh;
	struct ibv_recv_wr *dummy;
	uint32_t posted = 0;
	int err;

	if (!bad)
		bad = &dummy;
	uh_verbs_entry(uh);
	if (ibqp->srq || !qp->rq.ring || qp_state(qp) == IBV_QPS_RESET) {
		*bad = wr;
		return EINVAL;
	}
	pthread_spin_lock(&qp->rq_lock);
	err = fp_post_recv(&qp->rq, wr, bad, &posted);
	pthread_spin_unlock(&qp->rq_lock);
	if (posted) {
		uh_lock(uh);
		uh_qp_doorbell_rq(uh, qp->uh);
		uh_unlock(uh);
	}
	return err;
}

int sh_post_srq_recv(struct ibv_srq *ibsrq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct sh_srq *srq = to_srq(ibsrq);
	struct uh_dev *uh = srq->ctx->uh;
	struct ibv_recv_wr *dummy;
	uint32_t posted = 0;
	int err;

	if (!bad)
		bad = &dummy;
	uh_verbs_entry(uh);
	pthread_spin_lock(&srq->lock);
	err = fp_post_recv(&srq->rq, wr, bad, &posted);
	pthread_spin_unlock(&srq->lock);
	if (posted) {
		uh_lock(uh);
		uh_srq_doorbell(uh, srq->uh);
		uh_unlock(uh);
	}
	return err;
}

/* ---- the ibv_wr_* API ------------------------------------------------------------- */

/* wr_start takes the SQ producer lock; wr_complete / wr_abort release it. */
static void qx_start(struct ibv_qp_ex *q)
{
	struct sh_qp *qp = to_qpx(q);

	uh_verbs_entry(qp->ctx->uh);
	pthread_spin_lock(&qp->sq_lock);
	fp_wr_start(&qp->sq);
	if (!sq_postable(qp_state(qp)))
		fp_wr_fail(&qp->sq, EINVAL);
}

static int qx_complete(struct ibv_qp_ex *q)
{
	struct sh_qp *qp = to_qpx(q);
	uint32_t posted = 0;
	int err = fp_wr_complete(&qp->sq, &posted);

	pthread_spin_unlock(&qp->sq_lock);
	if (posted)
		ring_sq(qp);
	return err;
}

static void qx_abort(struct ibv_qp_ex *q)
{
	struct sh_qp *qp = to_qpx(q);

	fp_wr_abort(&qp->sq);
	pthread_spin_unlock(&qp->sq_lock);
}

static struct fp_sq *qx_sq(struct ibv_qp_ex *q) { return &to_qpx(q)->sq; }

static void qx_send(struct ibv_qp_ex *q)
{
	fp_wr_send(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_SEND, 0, 0);
}

static void qx_send_imm(struct ibv_qp_ex *q, __be32 imm)
{
	fp_wr_send(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_SEND_WITH_IMM, imm, 0);
}

static void qx_send_inv(struct ibv_qp_ex *q, uint32_t rkey)
{
	fp_wr_send(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_SEND_WITH_INV, 0, rkey);
}

static void qx_rdma_write(struct ibv_qp_ex *q, uint32_t rkey, uint64_t addr)
{
	fp_wr_rdma(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_RDMA_WRITE, rkey, addr, 0);
}

static void qx_rdma_write_imm(struct ibv_qp_ex *q, uint32_t rkey, uint64_t addr, __be32 imm)
{
	fp_wr_rdma(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_RDMA_WRITE_WITH_IMM, rkey, addr, imm);
}

static void qx_rdma_read(struct ibv_qp_ex *q, uint32_t rkey, uint64_t addr)
{
	fp_wr_rdma(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_RDMA_READ, rkey, addr, 0);
}

static void qx_cmp_swp(struct ibv_qp_ex *q, uint32_t rkey, uint64_t addr, uint64_t compare,
		       uint64_t swap)
{
	fp_wr_atomic(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_ATOMIC_CMP_AND_SWP, rkey, addr,
		     compare, swap);
}

static void qx_fetch_add(struct ibv_qp_ex *q, uint32_t rkey, uint64_t addr, uint64_t add)
{
	fp_wr_atomic(qx_sq(q), q->wr_id, q->wr_flags, IBV_WR_ATOMIC_FETCH_AND_ADD, rkey, addr,
		     add, 0);
}

static void qx_bind_mw(struct ibv_qp_ex *q, struct ibv_mw *mw, uint32_t rkey,
		       const struct ibv_mw_bind_info *info)
{
	/* Type 1 windows bind through ibv_bind_mw, not through the send queue. */
	if (!mw || mw->type != IBV_MW_TYPE_2) {
		fp_wr_fail(qx_sq(q), EINVAL);
		return;
	}
	fp_wr_bind_mw(qx_sq(q), q->wr_id, q->wr_flags, mw, rkey, info);
}

static void qx_local_inv(struct ibv_qp_ex *q, uint32_t rkey)
{
	fp_wr_local_inv(qx_sq(q), q->wr_id, q->wr_flags, rkey);
}

static void qx_send_tso(struct ibv_qp_ex *q, void *hdr, uint16_t hdr_sz, uint16_t mss)
{
	(void)hdr; (void)hdr_sz; (void)mss;
	fp_wr_fail(qx_sq(q), EOPNOTSUPP);
}

static void qx_atomic_write(struct ibv_qp_ex *q, uint32_t rkey, uint64_t addr, const void *wr)
{
	(void)rkey; (void)addr; (void)wr;
	fp_wr_fail(qx_sq(q), EOPNOTSUPP);
}

static void qx_set_ud_addr(struct ibv_qp_ex *q, struct ibv_ah *ah, uint32_t qpn, uint32_t qkey)
{
	fp_wr_set_ud_addr(qx_sq(q), ah, qpn, qkey);
}

static void qx_set_xrc_srqn(struct ibv_qp_ex *q, uint32_t srqn)
{
	(void)srqn;
	fp_wr_fail(qx_sq(q), EOPNOTSUPP);
}

static void qx_set_inline_data(struct ibv_qp_ex *q, void *addr, size_t length)
{
	struct ibv_data_buf b = { .addr = addr, .length = length };

	fp_wr_set_inline_list(qx_sq(q), 1, &b);
}

static void qx_set_inline_data_list(struct ibv_qp_ex *q, size_t n, const struct ibv_data_buf *b)
{
	fp_wr_set_inline_list(qx_sq(q), n, b);
}

static void qx_set_sge(struct ibv_qp_ex *q, uint32_t lkey, uint64_t addr, uint32_t length)
{
	struct ibv_sge s = { .addr = addr, .length = length, .lkey = lkey };

	fp_wr_set_sge_list(qx_sq(q), 1, &s);
}

static void qx_set_sge_list(struct ibv_qp_ex *q, size_t n, const struct ibv_sge *sg)
{
	fp_wr_set_sge_list(qx_sq(q), n, sg);
}

static void set_qpx_ops(struct ibv_qp_ex *q)
{
	q->wr_atomic_cmp_swp = qx_cmp_swp;
	q->wr_atomic_fetch_add = qx_fetch_add;
	q->wr_bind_mw = qx_bind_mw;
	q->wr_local_inv = qx_local_inv;
	q->wr_rdma_read = qx_rdma_read;
	q->wr_rdma_write = qx_rdma_write;
	q->wr_rdma_write_imm = qx_rdma_write_imm;
	q->wr_send = qx_send;
	q->wr_send_imm = qx_send_imm;
	q->wr_send_inv = qx_send_inv;
	q->wr_send_tso = qx_send_tso;
	q->wr_set_ud_addr = qx_set_ud_addr;
	q->wr_set_xrc_srqn = qx_set_xrc_srqn;
	q->wr_set_inline_data = qx_set_inline_data;
	q->wr_set_inline_data_list = qx_set_inline_data_list;
	q->wr_set_sge = qx_set_sge;
	q->wr_set_sge_list = qx_set_sge_list;
	q->wr_start = qx_start;
	q->wr_complete = qx_complete;
	q->wr_abort = qx_abort;
	q->wr_atomic_write = qx_atomic_write;
}

SH_EXPORT struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *ibqp)
{
	struct sh_qp *qp = to_qp(ibqp);

	if (!ibqp || !qp->extended) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	return &qp->qpx;
}

/* ---- queue pairs ------------------------------------------------------------------ */

#define SH_QP_OPS_RC (IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | \
		      IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM | \
		      IBV_QP_EX_WITH_RDMA_READ | IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | \
		      IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD | IBV_QP_EX_WITH_LOCAL_INV | \
		      IBV_QP_EX_WITH_BIND_MW | IBV_QP_EX_WITH_SEND_WITH_INV)
#define SH_QP_OPS_UC (IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | \
		      IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM | \
		      IBV_QP_EX_WITH_LOCAL_INV | IBV_QP_EX_WITH_BIND_MW)
#define SH_QP_OPS_UD (IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM)

static uint64_t send_ops_of(uint32_t qp_type)
{
	switch (qp_type) {
	case IBV_QPT_RC: return SH_QP_OPS_RC;
	case IBV_QPT_UC: return SH_QP_OPS_UC;
	case IBV_QPT_UD: return SH_QP_OPS_UD;
	default:         return 0;
	}
}

static int check_qp_attr(const struct ibv_qp_init_attr_ex *a)
{
	const uint32_t known = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_CREATE_FLAGS |
			       IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;

	if (a->comp_mask & ~known)
		return EOPNOTSUPP;      /* XRC, TSO, RSS */
	if ((a->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS) && a->create_flags)
		return EOPNOTSUPP;
	if (a->qp_type != IBV_QPT_RC && a->qp_type != IBV_QPT_UC && a->qp_type != IBV_QPT_UD)
		return EOPNOTSUPP;
	if (!(a->comp_mask & IBV_QP_INIT_ATTR_PD) || !a->pd || !a->send_cq || !a->recv_cq)
		return EINVAL;
	if ((a->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) &&
	    (a->send_ops_flags & ~send_ops_of(a->qp_type)))
		return EOPNOTSUPP;
	return 0;
}

static void qp_free(struct sh_qp *qp)
{
	pthread_spin_destroy(&qp->sq_lock);
	pthread_spin_destroy(&qp->rq_lock);
	pthread_cond_destroy(&qp->qpx.qp_base.cond);
	pthread_mutex_destroy(&qp->qpx.qp_base.mutex);
	free(qp);
}

static struct sh_qp *qp_alloc(void)
{
	struct sh_qp *qp = calloc(1, sizeof(*qp));

	if (!qp)
		return NULL;
	pthread_spin_init(&qp->sq_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_init(&qp->rq_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&qp->qpx.qp_base.mutex, NULL);
	pthread_cond_init(&qp->qpx.qp_base.cond, NULL);
	return qp;
}

/* The rings the host made, as the fast path uses them. */
static int qp_init_rings(struct sh_qp *qp, const struct ibv_qp_init_attr_ex *a,
			 const struct emu_qp_cap *cap, uint32_t ud_mtu)
{
	int err = fp_sq_init(&qp->sq, qp->uh->sq, a->qp_type, cap->max_send_sge,
			     cap->max_inline_data, &sh_handles);

	if (!err && !a->srq)
		err = qp->uh->rq ? fp_rq_init(&qp->rq, qp->uh->rq, cap->max_recv_sge) : EINVAL;
	qp->sq.max_ud_msg = ud_mtu;
	return err;
}

static int qp_create_on_device(struct sh_context *c, struct sh_qp *qp,
			       const struct ibv_qp_init_attr_ex *a, struct emu_qp_cap *cap)
{
	uint32_t ud_mtu = a->qp_type == IBV_QPT_UD ? sh_port_mtu_bytes(&c->vctx.context) : 0;
	struct emu_qp_init_attr ea;
	int ret;

	memset(&ea, 0, sizeof(ea));
	ea.qp_type = a->qp_type;
	ea.send_cq = to_cq(a->send_cq)->uh->emu;
	ea.recv_cq = to_cq(a->recv_cq)->uh->emu;
	ea.srq = a->srq ? to_srq(a->srq)->uh->emu : NULL;
	ea.cap.max_send_wr = a->cap.max_send_wr;
	ea.cap.max_recv_wr = a->cap.max_recv_wr;
	ea.cap.max_send_sge = a->cap.max_send_sge;
	ea.cap.max_recv_sge = a->cap.max_recv_sge;
	ea.cap.max_inline_data = a->cap.max_inline_data;
	ea.sq_sig_all = a->sq_sig_all != 0;
	uh_lock(c->uh);
	ret = uh_create_qp(c->uh, to_pd(a->pd)->emu, &ea, qp, &qp->uh);
	if (!ret) {
		*cap = ea.cap;
		ret = -qp_init_rings(qp, a, cap, ud_mtu);
		if (ret)
			uh_destroy_qp(c->uh, qp->uh);
	}
	uh_unlock(c->uh);
	return sh_err(ret);
}

static void qp_fill(struct sh_qp *qp, struct ibv_context *ctx, struct ibv_qp_init_attr_ex *a,
		    const struct emu_qp_cap *cap)
{
	struct ibv_qp *q = &qp->qpx.qp_base;

	qp->ctx = to_ctx(ctx);
	q->context = ctx;
	q->qp_context = a->qp_context;
	q->pd = a->pd;
	q->send_cq = a->send_cq;
	q->recv_cq = a->recv_cq;
	q->srq = a->srq;
	q->qp_num = emu_qp_num(qp->uh->emu);
	q->handle = q->qp_num;
	q->qp_type = a->qp_type;
	set_qp_state(qp, IBV_QPS_RESET);
	/* What the rings really hold is what the program is told it may use. */
	qp->max_send_wr = cap->max_send_wr;
	qp->max_recv_wr = a->srq ? 0 : cap->max_recv_wr;
	qp->max_send_sge = qp->sq.max_sge;
	qp->max_recv_sge = a->srq ? 0 : qp->rq.max_sge;
	qp->max_inline = qp->sq.max_inline;
	qp->sq_sig_all = a->sq_sig_all != 0;
	a->cap.max_send_wr = qp->max_send_wr;
	a->cap.max_recv_wr = qp->max_recv_wr;
	a->cap.max_send_sge = qp->max_send_sge;
	a->cap.max_recv_sge = qp->max_recv_sge;
	a->cap.max_inline_data = qp->max_inline;
	if ((a->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) && a->send_ops_flags) {
		qp->extended = true;
		set_qpx_ops(&qp->qpx);
	}
}

static struct ibv_qp *create_qp(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *a)
{
	struct emu_qp_cap cap;
	struct sh_qp *qp;
	int err;

	err = check_qp_attr(a);
	qp = err ? NULL : qp_alloc();
	if (!err && !qp)
		err = ENOMEM;
	if (!err)
		err = qp_create_on_device(to_ctx(ctx), qp, a, &cap);
	if (err) {
		if (qp)
			qp_free(qp);
		errno = err;
		return NULL;
	}
	qp_fill(qp, ctx, a, &cap);
	return &qp->qpx.qp_base;
}

SH_EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	struct ibv_qp_init_attr_ex a;
	struct ibv_qp *qp;

	if (!pd || !attr) {
		errno = EINVAL;
		return NULL;
	}
	memset(&a, 0, sizeof(a));
	memcpy(&a, attr, sizeof(*attr));
	a.comp_mask = IBV_QP_INIT_ATTR_PD;
	a.pd = pd;
	qp = create_qp(pd->context, &a);
	if (qp)
		attr->cap = a.cap;
	return qp;
}

struct ibv_qp *sh_create_qp_ex(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *attr)
{
	if (!ctx || !attr) {
		errno = EINVAL;
		return NULL;
	}
	if ((attr->comp_mask & IBV_QP_INIT_ATTR_PD) && attr->pd && attr->pd->context != ctx) {
		errno = EINVAL;
		return NULL;
	}
	return create_qp(ctx, attr);
}

/* Attribute mask bits that mean the same to the engine (IBA 11.2.4). */
#define SH_QP_ATTR_MASK ((1u << 21) - 1)

static void ah_to_emu(const struct ibv_ah_attr *a, struct emu_ah_attr *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->dgid, a->grh.dgid.raw, 16);
	e->flow_label = a->grh.flow_label;
	e->sgid_index = a->grh.sgid_index;
	e->hop_limit = a->grh.hop_limit;
	e->traffic_class = a->grh.traffic_class;
	e->sl = a->sl;
	e->port_num = a->port_num;
	e->is_global = a->is_global;
}

static void ah_from_emu(const struct emu_ah_attr *e, struct ibv_ah_attr *a)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->grh.dgid.raw, e->dgid, 16);
	a->grh.flow_label = e->flow_label;
	a->grh.sgid_index = e->sgid_index;
	a->grh.hop_limit = e->hop_limit;
	a->grh.traffic_class = e->traffic_class;
	a->sl = e->sl;
	a->port_num = e->port_num;
	a->is_global = 1;       /* RoCE addresses are always global */
}

static void qp_attr_to_emu(const struct ibv_qp_attr *a, int mask, struct emu_qp_attr *e)
{
	memset(e, 0, sizeof(*e));
	e->qp_state = a->qp_state;
	e->cur_qp_state = a->cur_qp_state;
	e->path_mtu = a->path_mtu;
	e->qkey = a->qkey;
	e->rq_psn = a->rq_psn;
	e->sq_psn = a->sq_psn;
	e->dest_qp_num = a->dest_qp_num;
	e->qp_access_flags = (uint32_t)a->qp_access_flags;
	e->pkey_index = a->pkey_index;
	e->en_sqd_async_notify = a->en_sqd_async_notify;
	e->sq_draining = a->sq_draining;
	e->max_rd_atomic = a->max_rd_atomic;
	e->max_dest_rd_atomic = a->max_dest_rd_atomic;
	e->min_rnr_timer = a->min_rnr_timer;
	e->port_num = a->port_num;
	e->timeout = a->timeout;
	e->retry_cnt = a->retry_cnt;
	e->rnr_retry = a->rnr_retry;
	if (mask & IBV_QP_AV)
		ah_to_emu(&a->ah_attr, &e->ah_attr);
	e->cap.max_send_wr = a->cap.max_send_wr;
	e->cap.max_recv_wr = a->cap.max_recv_wr;
	e->cap.max_send_sge = a->cap.max_send_sge;
	e->cap.max_recv_sge = a->cap.max_recv_sge;
	e->cap.max_inline_data = a->cap.max_inline_data;
}

/*
 * A QP reset (or destroy) leaves no completion of its own behind in its CQs, as
 * mlx5 cleans them: a program that resets a QP after an error (pyverbs restates
 * its QPs) then polls only what comes after. The CQs' consumer locks are taken
 * before the device lock, lower address first (two QPs may share two CQs in
 * either role), so that no poll reads a ring while it is compacted; a thread
 * inside an extended poll of one of those CQs must not reset the QP.
 */
static void lock_qp_cqs(struct ibv_qp *ibqp, struct sh_cq **first, struct sh_cq **second)
{
	struct sh_cq *s = ibqp->send_cq ? to_cq(ibqp->send_cq) : NULL;
	struct sh_cq *r = ibqp->recv_cq ? to_cq(ibqp->recv_cq) : NULL;

	if (r == s)
		r = NULL;
	if (s && r && (uintptr_t)r < (uintptr_t)s) {
		struct sh_cq *t = s;

		s = r;
		r = t;
	}
	*first = s;
	*second = r;
	if (s)
		pthread_spin_lock(&s->lock);
	if (r)
		pthread_spin_lock(&r->lock);
}

static void unlock_qp_cqs(struct sh_cq *first, struct sh_cq *second)
{
	if (second)
		pthread_spin_unlock(&second->lock);
	if (first)
		pthread_spin_unlock(&first->lock);
}

/* [device lock held, and the CQs' locks] A QP with an SRQ keeps its receive
 * CQEs (see uh_cq_purge_qp). */
static void purge_qp_cqes(struct uh_dev *uh, struct ibv_qp *ibqp, struct sh_cq *first,
			  struct sh_cq *second)
{
	bool keep_recv = ibqp->srq != NULL;

	if (first)
		(void)uh_cq_purge_qp(uh, first->uh, ibqp->qp_num, keep_recv);
	if (second)
		(void)uh_cq_purge_qp(uh, second->uh, ibqp->qp_num, keep_recv);
}

SH_EXPORT int ibv_modify_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *attr, int mask)
{
	struct sh_qp *qp = to_qp(ibqp);
	struct sh_cq *c1 = NULL, *c2 = NULL;
	struct emu_qp_attr ea;
	struct uh_dev *uh;
	bool reset;
	int ret;

	if (!ibqp || !attr)
		return EINVAL;
	if (mask & IBV_QP_RATE_LIMIT)
		return EOPNOTSUPP;
	if ((uint32_t)mask & ~SH_QP_ATTR_MASK)
		return EINVAL;
	qp_attr_to_emu(attr, mask, &ea);
	uh = qp->ctx->uh;
	reset = (mask & IBV_QP_STATE) && attr->qp_state == IBV_QPS_RESET;
	if (reset)
		lock_qp_cqs(ibqp, &c1, &c2);
	uh_lock(uh);
	ret = emu_modify_qp(qp->uh->emu, &ea, (uint32_t)mask);
	if (!ret && reset) {
		uh_qp_reset(uh, qp->uh);
		purge_qp_cqes(uh, ibqp, c1, c2);
	}
	uh_unlock(uh);
	if (reset)
		unlock_qp_cqs(c1, c2);
	if (ret)
		return sh_err(ret);
	if (mask & IBV_QP_STATE)
		set_qp_state(qp, attr->qp_state);
	return 0;
}

static void qp_attr_from_emu(const struct sh_qp *qp, const struct emu_qp_attr *e,
			     struct ibv_qp_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->qp_state = (enum ibv_qp_state)e->qp_state;
	a->cur_qp_state = (enum ibv_qp_state)e->qp_state;
	a->path_mtu = (enum ibv_mtu)e->path_mtu;
	a->path_mig_state = IBV_MIG_MIGRATED;
	a->qkey = e->qkey;
	a->rq_psn = e->rq_psn;
	a->sq_psn = e->sq_psn;
	a->dest_qp_num = e->dest_qp_num;
	a->qp_access_flags = (unsigned int)e->qp_access_flags;
	a->cap.max_send_wr = qp->max_send_wr;
	a->cap.max_recv_wr = qp->max_recv_wr;
	a->cap.max_send_sge = qp->max_send_sge;
	a->cap.max_recv_sge = qp->max_recv_sge;
	a->cap.max_inline_data = qp->max_inline;
	ah_from_emu(&e->ah_attr, &a->ah_attr);
	a->pkey_index = e->pkey_index;
	a->en_sqd_async_notify = e->en_sqd_async_notify;
	a->sq_draining = e->sq_draining;
	a->max_rd_atomic = e->max_rd_atomic;
	a->max_dest_rd_atomic = e->max_dest_rd_atomic;
	a->min_rnr_timer = e->min_rnr_timer;
	a->port_num = e->port_num ? e->port_num : SH_PORT_NUM;
	a->timeout = e->timeout;
	a->retry_cnt = e->retry_cnt;
	a->rnr_retry = e->rnr_retry;
}

SH_EXPORT int ibv_query_qp(struct ibv_qp *ibqp, struct ibv_qp_attr *attr, int mask,
			   struct ibv_qp_init_attr *init_attr)
{
	struct sh_qp *qp = to_qp(ibqp);
	struct emu_qp_attr ea;
	struct uh_dev *uh;
	int ret;

	(void)mask;     /* every attribute is returned; the mask only says which matter */
	if (!ibqp || !attr || !init_attr)
		return EINVAL;
	uh = qp->ctx->uh;
	uh_lock(uh);
	ret = emu_query_qp(qp->uh->emu, &ea);
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	qp_attr_from_emu(qp, &ea, attr);
	memset(init_attr, 0, sizeof(*init_attr));
	init_attr->qp_context = ibqp->qp_context;
	init_attr->send_cq = ibqp->send_cq;
	init_attr->recv_cq = ibqp->recv_cq;
	init_attr->srq = ibqp->srq;
	init_attr->cap = attr->cap;
	init_attr->qp_type = ibqp->qp_type;
	init_attr->sq_sig_all = qp->sq_sig_all;
	set_qp_state(qp, ea.qp_state);
	return 0;
}

/* The engine knows which policies apply to the QP now (emu_qp_data_in_order):
 * in order for strict and cqe-first, not for relaxed and mix. */
SH_EXPORT int ibv_query_qp_data_in_order(struct ibv_qp *ibqp, enum ibv_wr_opcode op,
					 uint32_t flags)
{
	struct sh_qp *qp;
	struct uh_dev *uh;
	bool in_order;

	(void)op;
	if (!ibqp || flags)
		return 0;
	qp = to_qp(ibqp);
	uh = qp->ctx->uh;
	uh_lock(uh);
	in_order = emu_qp_data_in_order(qp->uh->emu);
	uh_unlock(uh);
	return in_order ? 1 : 0;
}

static void wait_qp_events_acked(struct sh_qp *qp)
{
	struct ibv_qp *q = &qp->qpx.qp_base;

	pthread_mutex_lock(&q->mutex);
	while (q->events_completed != qp->async_events)
		pthread_cond_wait(&q->cond, &q->mutex);
	pthread_mutex_unlock(&q->mutex);
}

SH_EXPORT int ibv_destroy_qp(struct ibv_qp *ibqp)
{
	struct sh_qp *qp = to_qp(ibqp);
	struct sh_cq *c1 = NULL, *c2 = NULL;
	struct uh_dev *uh;
	int ret;

	if (!ibqp)
		return EINVAL;
	wait_qp_events_acked(qp);
	uh = qp->ctx->uh;
	lock_qp_cqs(ibqp, &c1, &c2);
	uh_lock(uh);
	ret = uh_destroy_qp(uh, qp->uh);
	if (!ret)
		purge_qp_cqes(uh, ibqp, c1, c2);
	uh_unlock(uh);
	unlock_qp_cqs(c1, c2);
	if (ret)
		return sh_err(ret);
	qp_free(qp);
	return 0;
}

/* ---- shared receive queues ------------------------------------------------------ */

static void srq_free(struct sh_srq *srq)
{
	pthread_spin_destroy(&srq->lock);
	pthread_cond_destroy(&srq->srq.cond);
	pthread_mutex_destroy(&srq->srq.mutex);
	free(srq);
}

static int srq_create_on_device(struct sh_context *c, struct sh_pd *pd, struct sh_srq *srq,
				struct ibv_srq_attr *attr)
{
	struct emu_srq_attr ea = {
		.max_wr = attr->max_wr,
		.max_sge = attr->max_sge,
		.srq_limit = attr->srq_limit,
	};
	int ret;

	uh_lock(c->uh);
	ret = uh_create_srq(c->uh, pd->emu, &ea, srq, &srq->uh);
	if (!ret)
		ret = emu_query_srq(srq->uh->emu, &ea);
	if (!ret) {
		ret = -fp_rq_init(&srq->rq, srq->uh->rq, ea.max_sge);
		if (ret)
			uh_destroy_srq(c->uh, srq->uh);
	}
	uh_unlock(c->uh);
	if (ret)
		return sh_err(ret);
	attr->max_wr = ea.max_wr;
	attr->max_sge = srq->rq.max_sge;
	srq->max_wr = ea.max_wr;
	return 0;
}

SH_EXPORT struct ibv_srq *ibv_create_srq(struct ibv_pd *pd, struct ibv_srq_init_attr *attr)
{
	struct sh_srq *srq;
	int err;

	if (!pd || !attr || attr->attr.max_wr == 0) {
		errno = EINVAL;
		return NULL;
	}
	srq = calloc(1, sizeof(*srq));
	if (!srq) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_spin_init(&srq->lock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&srq->srq.mutex, NULL);
	pthread_cond_init(&srq->srq.cond, NULL);
	err = srq_create_on_device(to_ctx(pd->context), to_pd(pd), srq, &attr->attr);
	if (err) {
		srq_free(srq);
		errno = err;
		return NULL;
	}
	srq->ctx = to_ctx(pd->context);
	srq->srq.context = pd->context;
	srq->srq.srq_context = attr->srq_context;
	srq->srq.pd = pd;
	return &srq->srq;
}

struct ibv_srq *sh_create_srq_ex(struct ibv_context *ctx, struct ibv_srq_init_attr_ex *attr)
{
	if (!ctx || !attr) {
		errno = EINVAL;
		return NULL;
	}
	if ((attr->comp_mask & ~(uint32_t)(IBV_SRQ_INIT_ATTR_PD | IBV_SRQ_INIT_ATTR_TYPE)) ||
	    ((attr->comp_mask & IBV_SRQ_INIT_ATTR_TYPE) && attr->srq_type != IBV_SRQT_BASIC)) {
		errno = EOPNOTSUPP;     /* XRC and tag-matching SRQs */
		return NULL;
	}
	if (!(attr->comp_mask & IBV_SRQ_INIT_ATTR_PD) || !attr->pd) {
		errno = EINVAL;
		return NULL;
	}
	/* A basic SRQ: the prefix of the _ex attributes is the plain ones. */
	return ibv_create_srq(attr->pd, (struct ibv_srq_init_attr *)attr);
}

SH_EXPORT int ibv_modify_srq(struct ibv_srq *ibsrq, struct ibv_srq_attr *attr, int mask)
{
	struct sh_srq *srq = to_srq(ibsrq);
	struct emu_srq_attr ea;
	struct uh_dev *uh;
	int ret;

	if (!ibsrq || !attr || (mask & ~(IBV_SRQ_MAX_WR | IBV_SRQ_LIMIT)))
		return EINVAL;
	if (mask & IBV_SRQ_MAX_WR)
		return EOPNOTSUPP;      /* the ring cannot grow (no IBV_DEVICE_SRQ_RESIZE) */
	if (!mask)
		return 0;
	memset(&ea, 0, sizeof(ea));
	ea.srq_limit = attr->srq_limit;
	uh = srq->ctx->uh;
	uh_lock(uh);
	ret = emu_modify_srq(srq->uh->emu, &ea, EMU_SRQ_LIMIT);
	uh_unlock(uh);
	return sh_err(ret);
}

SH_EXPORT int ibv_query_srq(struct ibv_srq *ibsrq, struct ibv_srq_attr *attr)
{
	struct sh_srq *srq = to_srq(ibsrq);
	struct emu_srq_attr ea;
	struct uh_dev *uh;
	int ret;

	if (!ibsrq || !attr)
		return EINVAL;
	uh = srq->ctx->uh;
	uh_lock(uh);
	ret = emu_query_srq(srq->uh->emu, &ea);
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	attr->max_wr = ea.max_wr;
	attr->max_sge = srq->rq.max_sge;
	attr->srq_limit = ea.srq_limit;
	return 0;
}

SH_EXPORT int ibv_destroy_srq(struct ibv_srq *ibsrq)
{
	struct sh_srq *srq = to_srq(ibsrq);
	struct uh_dev *uh;
	int ret;

	if (!ibsrq)
		return EINVAL;
	pthread_mutex_lock(&ibsrq->mutex);
	while (ibsrq->events_completed != srq->async_events)
		pthread_cond_wait(&ibsrq->cond, &ibsrq->mutex);
	pthread_mutex_unlock(&ibsrq->mutex);
	uh = srq->ctx->uh;
	uh_lock(uh);
	ret = uh_destroy_srq(uh, srq->uh);      /* -EBUSY while a QP uses it */
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	srq_free(srq);
	return 0;
}

/* ---- address handles ------------------------------------------------------------- */

SH_EXPORT struct ibv_ah *ibv_create_ah(struct ibv_pd *pd, struct ibv_ah_attr *attr)
{
	struct emu_ah_attr ea;
	struct sh_ah *ah;
	struct uh_dev *uh;
	int ret;

	/* RoCE addresses by GID: an AH without a GRH names no one. */
	if (!pd || !attr || !attr->is_global || attr->port_num != SH_PORT_NUM) {
		errno = EINVAL;
		return NULL;
	}
	ah = calloc(1, sizeof(*ah));
	if (!ah) {
		errno = ENOMEM;
		return NULL;
	}
	ah_to_emu(attr, &ea);
	uh = ctx_uh(pd->context);
	uh_lock(uh);
	ret = emu_create_ah(to_pd(pd)->emu, &ea, &ah->emu);
	if (!ret) {
		ah->handle = uh_handle_add(uh, UH_H_AH, ah->emu);
		if (!ah->handle) {
			emu_destroy_ah(ah->emu);
			ret = -ENOMEM;
		}
	}
	uh_unlock(uh);
	if (ret) {
		free(ah);
		errno = sh_err(ret);
		return NULL;
	}
	ah->ah.context = pd->context;
	ah->ah.pd = pd;
	ah->ah.handle = ah->handle;
	return &ah->ah;
}

SH_EXPORT int ibv_destroy_ah(struct ibv_ah *ibah)
{
	struct sh_ah *ah = to_ah(ibah);
	struct uh_dev *uh;
	int ret;

	if (!ibah)
		return EINVAL;
	uh = ctx_uh(ibah->context);
	uh_lock(uh);
	ret = emu_destroy_ah(ah->emu);
	if (!ret)
		uh_handle_del(uh, ah->handle);
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	free(ah);
	return 0;
}

/*
 * The 40 bytes in front of a UD receive: over IPv4 the IPv4 header sits in the
 * last 20 (RoCEv2 convention), over IPv6 the IPv6 header fills them.
 */
static int gids_of_grh(const struct ibv_grh *grh, uint8_t remote[16], uint8_t local[16],
		       uint8_t *tclass, uint32_t *flow)
{
	const uint8_t *ip4 = (const uint8_t *)grh + 20;
	uint32_t vtf = be32toh(grh->version_tclass_flow);

	if (ip4[0] == 0x45) {
		emu_gid_from_ipv4(remote, ip4 + 12);
		emu_gid_from_ipv4(local, ip4 + 16);
		*tclass = ip4[1];
		*flow = 0;
		return 0;
	}
	if ((vtf >> 28) != 6)
		return EINVAL;
	memcpy(remote, grh->sgid.raw, 16);
	memcpy(local, grh->dgid.raw, 16);
	*tclass = (uint8_t)(vtf >> 20);
	*flow = vtf & 0xfffff;
	return 0;
}

SH_EXPORT int ibv_init_ah_from_wc(struct ibv_context *context, uint8_t port_num,
				  struct ibv_wc *wc, struct ibv_grh *grh,
				  struct ibv_ah_attr *ah_attr)
{
	uint8_t remote[16], local[16], tclass;
	uint32_t flow;
	int idx;

	if (!context || !wc || !grh || !ah_attr || port_num != SH_PORT_NUM ||
	    !(wc->wc_flags & IBV_WC_GRH) ||
	    gids_of_grh(grh, remote, local, &tclass, &flow)) {
		errno = EINVAL;
		return -1;
	}
	idx = sh_find_gid(context, local);
	if (idx < 0) {
		errno = ENOENT;
		return -1;
	}
	memset(ah_attr, 0, sizeof(*ah_attr));
	memcpy(ah_attr->grh.dgid.raw, remote, 16);
	ah_attr->grh.flow_label = flow;
	ah_attr->grh.sgid_index = (uint8_t)idx;
	ah_attr->grh.hop_limit = 0xff;
	ah_attr->grh.traffic_class = tclass;
	ah_attr->dlid = wc->slid;
	ah_attr->sl = wc->sl;
	ah_attr->src_path_bits = wc->dlid_path_bits;
	ah_attr->is_global = 1;
	ah_attr->port_num = port_num;
	return 0;
}

SH_EXPORT struct ibv_ah *ibv_create_ah_from_wc(struct ibv_pd *pd, struct ibv_wc *wc,
					       struct ibv_grh *grh, uint8_t port_num)
{
	struct ibv_ah_attr attr;

	if (!pd) {
		errno = EINVAL;
		return NULL;
	}
	if (ibv_init_ah_from_wc(pd->context, port_num, wc, grh, &attr))
		return NULL;
	return ibv_create_ah(pd, &attr);
}
