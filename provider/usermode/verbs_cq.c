/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/verbs_cq.c - completion queues (ibv_cq and ibv_cq_ex),
 * completion channels and completion events.
 *
 * The host writes CQEs into the CQ's ring; polling reads them there, under the
 * CQ's consumer lock, and only when the ring is empty drives the device once
 * (uh_progress) before looking again, so a program that polls makes progress even
 * with no progress thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verbs_priv.h"

#define SH_CQ_WC_FLAGS IBV_WC_STANDARD_FLAGS

/* ---- polling ------------------------------------------------------------------ */

static struct softhca_ring_hdr *cq_ring(struct sh_cq *cq)
{
	return cq->uh->ring;
}

int sh_poll_cq(struct ibv_cq *ibcq, int n, struct ibv_wc *wc)
{
	struct sh_cq *cq = to_cq(ibcq);
	int got;

	if (n <= 0)
		return 0;
	/* Before the ring is read: the CQEs this call returns keep their data held. */
	uh_verbs_entry(cq->ctx->uh);
	pthread_spin_lock(&cq->lock);
	got = fp_poll_cq(cq_ring(cq), n, wc);
	pthread_spin_unlock(&cq->lock);
	if (got)
		return got;
	uh_progress(cq->ctx->uh);
	pthread_spin_lock(&cq->lock);
	got = fp_poll_cq(cq_ring(cq), n, wc);
	pthread_spin_unlock(&cq->lock);
	return got;
}

int sh_req_notify_cq(struct ibv_cq *ibcq, int solicited_only)
{
	struct sh_cq *cq = to_cq(ibcq);
	struct uh_dev *uh = cq->ctx->uh;
	int ret;

	uh_lock(uh);
	uh_dma_deferral_point(uh);
	ret = uh_cq_arm(uh, cq->uh, solicited_only != 0);
	uh_unlock(uh);
	return sh_err(ret);
}

/* ---- extended polling (ibv_start_poll .. ibv_end_poll) ---------------------------- */

static void present(struct sh_cq *cq, const struct softhca_cqe *e, uint32_t idx)
{
	cq->cur = e;
	cq->cur_idx = idx;
	cq->cq.wr_id = e->wr_id;
	cq->cq.status = (enum ibv_wc_status)e->status;
}

/* On success the consumer lock stays held until end_poll, as the API requires. */
static int cqx_start_poll(struct ibv_cq_ex *ibcq, struct ibv_poll_cq_attr *attr)
{
	struct sh_cq *cq = to_cqx(ibcq);
	const struct softhca_cqe *e;
	uint32_t idx;

	if (attr && attr->comp_mask)
		return EINVAL;
	uh_verbs_entry(cq->ctx->uh);
	pthread_spin_lock(&cq->lock);
	idx = fp_cq_cons(cq_ring(cq));
	e = fp_cq_peek(cq_ring(cq), idx);
	if (!e) {
		pthread_spin_unlock(&cq->lock);
		uh_progress(cq->ctx->uh);
		pthread_spin_lock(&cq->lock);
		idx = fp_cq_cons(cq_ring(cq));
		e = fp_cq_peek(cq_ring(cq), idx);
	}
	if (!e) {
		cq->cur = NULL;
		pthread_spin_unlock(&cq->lock);
		return ENOENT;
	}
	present(cq, e, idx);
	return 0;
}

static int cqx_next_poll(struct ibv_cq_ex *ibcq)
{
	struct sh_cq *cq = to_cqx(ibcq);
	const struct softhca_cqe *e;
	uint32_t idx;

	if (!cq->cur)
		return ENOENT;
	idx = cq->cur_idx + 1;
	fp_cq_release(cq_ring(cq), idx);
	e = fp_cq_peek(cq_ring(cq), idx);
	if (!e) {
		cq->cur = NULL;
		return ENOENT;
	}
	present(cq, e, idx);
	return 0;
}

static void cqx_end_poll(struct ibv_cq_ex *ibcq)
{
	struct sh_cq *cq = to_cqx(ibcq);

	if (cq->cur)
		fp_cq_release(cq_ring(cq), cq->cur_idx + 1);
	cq->cur = NULL;
	pthread_spin_unlock(&cq->lock);
}

static enum ibv_wc_opcode cqx_read_opcode(struct ibv_cq_ex *c)
{
	return (enum ibv_wc_opcode)to_cqx(c)->cur->opcode;
}

static uint32_t cqx_read_vendor_err(struct ibv_cq_ex *c) { return to_cqx(c)->cur->vendor_err; }
static uint32_t cqx_read_byte_len(struct ibv_cq_ex *c) { return to_cqx(c)->cur->byte_len; }
static __be32 cqx_read_imm_data(struct ibv_cq_ex *c) { return to_cqx(c)->cur->imm_data; }
static uint32_t cqx_read_qp_num(struct ibv_cq_ex *c) { return to_cqx(c)->cur->qp_num; }
static uint32_t cqx_read_src_qp(struct ibv_cq_ex *c) { return to_cqx(c)->cur->src_qp; }
static unsigned int cqx_read_wc_flags(struct ibv_cq_ex *c) { return to_cqx(c)->cur->wc_flags; }
static uint32_t cqx_read_slid(struct ibv_cq_ex *c) { return to_cqx(c)->cur->slid; }
static uint8_t cqx_read_sl(struct ibv_cq_ex *c) { return to_cqx(c)->cur->sl; }
static uint8_t cqx_read_dlid_path_bits(struct ibv_cq_ex *c) { return to_cqx(c)->cur->dlid_path_bits; }

/* Fields a CQ of ours never carries: asking for them is refused at creation, and
 * a program that reads them anyway gets zero rather than a crash. */
static uint64_t cqx_read_zero64(struct ibv_cq_ex *c) { (void)c; return 0; }
static uint16_t cqx_read_cvlan(struct ibv_cq_ex *c) { (void)c; return 0; }
static uint32_t cqx_read_flow_tag(struct ibv_cq_ex *c) { (void)c; return 0; }

static void cqx_read_tm_info(struct ibv_cq_ex *c, struct ibv_wc_tm_info *tm)
{
	(void)c;
	memset(tm, 0, sizeof(*tm));
}

static void set_cqx_ops(struct ibv_cq_ex *c)
{
	c->start_poll = cqx_start_poll;
	c->next_poll = cqx_next_poll;
	c->end_poll = cqx_end_poll;
	c->read_opcode = cqx_read_opcode;
	c->read_vendor_err = cqx_read_vendor_err;
	c->read_byte_len = cqx_read_byte_len;
	c->read_imm_data = cqx_read_imm_data;
	c->read_qp_num = cqx_read_qp_num;
	c->read_src_qp = cqx_read_src_qp;
	c->read_wc_flags = cqx_read_wc_flags;
	c->read_slid = cqx_read_slid;
	c->read_sl = cqx_read_sl;
	c->read_dlid_path_bits = cqx_read_dlid_path_bits;
	c->read_completion_ts = cqx_read_zero64;
	c->read_cvlan = cqx_read_cvlan;
	c->read_flow_tag = cqx_read_flow_tag;
	c->read_tm_info = cqx_read_tm_info;
	c->read_completion_wallclock_ns = cqx_read_zero64;
}

/* ---- creation and destruction ----------------------------------------------------- */

static int check_cq_attr(struct ibv_context *ctx, const struct ibv_cq_init_attr_ex *a)
{
	struct ibv_device_attr d;

	if (a->comp_mask & ~(uint32_t)IBV_CQ_INIT_ATTR_MASK_FLAGS)
		return EOPNOTSUPP;      /* parent domains */
	if (a->wc_flags & ~(uint64_t)SH_CQ_WC_FLAGS)
		return EOPNOTSUPP;      /* timestamps, VLAN, flow tag, tag matching */
	if ((a->comp_mask & IBV_CQ_INIT_ATTR_MASK_FLAGS) &&
	    (a->flags & ~(uint32_t)IBV_CREATE_CQ_ATTR_SINGLE_THREADED))
		return EOPNOTSUPP;
	if (a->comp_vector >= (uint32_t)ctx->num_comp_vectors)
		return EINVAL;
	if (ibv_query_device(ctx, &d))
		return EINVAL;
	if (a->cqe < 1 || a->cqe > (uint32_t)d.max_cqe)
		return EINVAL;
	return 0;
}

static void channel_ref(struct ibv_context *ctx, struct ibv_comp_channel *ch, int delta)
{
	if (!ch)
		return;
	pthread_mutex_lock(&ctx->mutex);
	ch->refcnt += delta;
	pthread_mutex_unlock(&ctx->mutex);
}

static void cq_free(struct sh_cq *cq)
{
	pthread_spin_destroy(&cq->lock);
	pthread_cond_destroy(&cq->cq.cond);
	pthread_mutex_destroy(&cq->cq.mutex);
	free(cq);
}

static struct sh_cq *cq_alloc(void)
{
	struct sh_cq *cq = calloc(1, sizeof(*cq));

	if (!cq)
		return NULL;
	pthread_spin_init(&cq->lock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&cq->cq.mutex, NULL);
	pthread_cond_init(&cq->cq.cond, NULL);
	return cq;
}

/* Version 2 devices guarantee data before CQE on request; ask for it, as a
 * provider that knows the fix does. */
static uint32_t cq_create_flags(struct uh_dev *uh)
{
	return uh_dev_config(uh)->abi_version >= 2 ? SOFTHCA_CQ_FLAG_ORDERED : 0;
}

static int cq_create_on_device(struct sh_context *c, struct sh_cq *cq,
			       const struct ibv_cq_init_attr_ex *a)
{
	struct uh_channel *uch = a->channel ? ((struct sh_channel *)a->channel)->uh : NULL;
	int ret;

	uh_lock(c->uh);
	ret = uh_create_cq(c->uh, a->cqe, cq_create_flags(c->uh), uch, cq, &cq->uh);
	if (!ret && !fp_ring_valid(cq->uh->ring, (uint32_t)sizeof(struct softhca_cqe))) {
		uh_destroy_cq(c->uh, cq->uh);
		ret = -EINVAL;
	}
	uh_unlock(c->uh);
	return sh_err(ret);
}

static struct ibv_cq_ex *create_cq(struct ibv_context *ctx, const struct ibv_cq_init_attr_ex *a)
{
	struct sh_cq *cq;
	int err;

	err = check_cq_attr(ctx, a);
	cq = err ? NULL : cq_alloc();
	if (!err && !cq)
		err = ENOMEM;
	if (!err)
		err = cq_create_on_device(to_ctx(ctx), cq, a);
	if (err) {
		if (cq)
			cq_free(cq);
		errno = err;
		return NULL;
	}
	cq->ctx = to_ctx(ctx);
	cq->wc_flags = a->wc_flags;
	cq->cq.context = ctx;
	cq->cq.channel = a->channel;
	cq->cq.cq_context = a->cq_context;
	cq->cq.cqe = (int)cq->uh->ring->size;
	set_cqx_ops(&cq->cq);
	channel_ref(ctx, a->channel, 1);
	return &cq->cq;
}

SH_EXPORT struct ibv_cq *ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
				       struct ibv_comp_channel *channel, int comp_vector)
{
	struct ibv_cq_init_attr_ex a;
	struct ibv_cq_ex *cq;

	if (!context || cqe < 1 || comp_vector < 0) {
		errno = EINVAL;
		return NULL;
	}
	memset(&a, 0, sizeof(a));
	a.cqe = (uint32_t)cqe;
	a.cq_context = cq_context;
	a.channel = channel;
	a.comp_vector = (uint32_t)comp_vector;
	a.wc_flags = SH_CQ_WC_FLAGS;
	cq = create_cq(context, &a);
	return cq ? ibv_cq_ex_to_cq(cq) : NULL;
}

struct ibv_cq_ex *sh_create_cq_ex(struct ibv_context *ctx, struct ibv_cq_init_attr_ex *attr)
{
	if (!ctx || !attr) {
		errno = EINVAL;
		return NULL;
	}
	return create_cq(ctx, attr);
}

/*
 * A new ring, the unpolled CQEs moved into it, under the CQ's consumer lock so
 * that no poll reads the old one meanwhile. ibv_cq.cqe becomes the new ring's
 * size (at least cqe); fewer entries than the CQEs not yet polled is EINVAL.
 * A CQ in an extended poll (between ibv_start_poll and ibv_end_poll) holds the
 * lock: resizing it from that thread is a program error, as on every provider.
 */
SH_EXPORT int ibv_resize_cq(struct ibv_cq *ibcq, int cqe)
{
	struct sh_cq *cq;
	struct uh_dev *uh;
	int ret;

	if (!ibcq || cqe <= 0)
		return EINVAL;
	cq = to_cq(ibcq);
	uh = cq->ctx->uh;
	pthread_spin_lock(&cq->lock);
	uh_lock(uh);
	ret = uh_resize_cq(uh, cq->uh, (uint32_t)cqe);
	if (!ret)
		ibcq->cqe = (int)cq->uh->ring->size;
	uh_unlock(uh);
	pthread_spin_unlock(&cq->lock);
	return sh_err(ret);
}

/* ibv_destroy_cq waits until every event handed out on the CQ was acknowledged. */
static void wait_events_acked(struct sh_cq *cq)
{
	struct ibv_cq_ex *c = &cq->cq;

	pthread_mutex_lock(&c->mutex);
	while (c->comp_events_completed != cq->comp_events ||
	       c->async_events_completed != cq->async_events)
		pthread_cond_wait(&c->cond, &c->mutex);
	pthread_mutex_unlock(&c->mutex);
}

SH_EXPORT int ibv_destroy_cq(struct ibv_cq *ibcq)
{
	struct sh_cq *cq = to_cq(ibcq);
	struct uh_dev *uh;
	int ret;

	if (!ibcq)
		return EINVAL;
	wait_events_acked(cq);
	uh = cq->ctx->uh;
	uh_lock(uh);
	ret = uh_destroy_cq(uh, cq->uh);        /* -EBUSY while a QP uses it */
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	channel_ref(ibcq->context, ibcq->channel, -1);
	cq_free(cq);
	return 0;
}

/* ---- completion channels and events ---------------------------------------------- */

SH_EXPORT struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *context)
{
	struct sh_channel *ch;
	int ret;

	if (!context) {
		errno = EINVAL;
		return NULL;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	ret = uh_channel_create(ctx_uh(context), &ch->uh);
	if (ret) {
		free(ch);
		errno = sh_err(ret);
		return NULL;
	}
	ch->ch.context = context;
	ch->ch.fd = uh_channel_fd(ch->uh);
	ch->ch.refcnt = 0;
	return &ch->ch;
}

SH_EXPORT int ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	struct sh_channel *ch = (struct sh_channel *)channel;
	int busy, ret;

	if (!channel)
		return EINVAL;
	pthread_mutex_lock(&channel->context->mutex);
	busy = channel->refcnt;
	pthread_mutex_unlock(&channel->context->mutex);
	if (busy)
		return EBUSY;
	ret = uh_channel_destroy(ch->uh);
	if (ret)
		return sh_err(ret);
	free(ch);
	return 0;
}

SH_EXPORT int ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq_out,
			       void **cq_context)
{
	struct sh_channel *ch = (struct sh_channel *)channel;
	struct sh_cq *cq;
	void *user = NULL;
	int ret;

	if (!channel || !cq_out || !cq_context) {
		errno = EINVAL;
		return -1;
	}
	if (channel->context)
		uh_verbs_entry(ctx_uh(channel->context));
	ret = uh_channel_get(ch->uh, &user);
	if (ret || !user) {
		errno = ret ? sh_err(ret) : EIO;
		return -1;
	}
	cq = user;
	pthread_mutex_lock(&cq->cq.mutex);
	cq->comp_events++;
	pthread_mutex_unlock(&cq->cq.mutex);
	*cq_out = ibv_cq_ex_to_cq(&cq->cq);
	*cq_context = cq->cq.cq_context;
	return 0;
}

SH_EXPORT void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	if (!cq)
		return;
	pthread_mutex_lock(&cq->mutex);
	cq->comp_events_completed += nevents;
	pthread_cond_signal(&cq->cond);
	pthread_mutex_unlock(&cq->mutex);
}
