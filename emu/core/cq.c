/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * cq.c - completion queues, shared receive queues and address handles.
 */
#include "internal.h"

/* ---- completion queues ---------------------------------------------------------- */

static bool cqe_ok(const struct emu_dev *dev, uint32_t cqe)
{
	return cqe >= 1 && cqe <= dev->attr.max_cqe;
}

int emu_create_cq(struct emu_dev *dev, uint32_t cqe, void *cq_cookie, struct emu_cq **out)
{
	struct emu_cq *cq;

	if (!cqe_ok(dev, cqe))
		return -EMU_EINVAL;
	if (dev->n_cq >= dev->attr.max_cq)
		return -EMU_ENOMEM;
	cq = emu_alloc(dev, sizeof(*cq));
	if (!cq)
		return -EMU_ENOMEM;
	cq->dev = dev;
	cq->cookie = cq_cookie;
	cq->cqe = cqe;
	dev->n_cq++;
	*out = cq;
	return 0;
}

int emu_destroy_cq(struct emu_cq *cq)
{
	struct emu_dev *dev = cq->dev;

	if (cq->refcount)
		return -EMU_EBUSY;
	dev->n_cq--;
	emu_free(dev, cq);
	return 0;
}

/* The entries themselves live in the host's ring: only the bound is ours. */
int emu_resize_cq(struct emu_cq *cq, uint32_t cqe)
{
	if (!cqe_ok(cq->dev, cqe))
		return -EMU_EINVAL;
	cq->cqe = cqe;
	return 0;
}

bool emu_cq_in_error(const struct emu_cq *cq)
{
	return cq->error;
}

/* ---- shared receive queues ---------------------------------------------------------- */

static size_t rwqe_size(uint32_t max_sge)
{
	return sizeof(struct emu_rwqe) + (size_t)max_sge * sizeof(struct emu_sge);
}

static int ring_init(struct emu_dev *dev, struct emu_ring *r, uint32_t size,
		     uint32_t slot_size)
{
	r->slots = emu_alloc(dev, (size_t)size * slot_size);
	if (!r->slots)
		return -EMU_ENOMEM;
	r->size = size;
	r->slot_size = slot_size;
	r->head = 0;
	r->tail = 0;
	return 0;
}

static bool srq_attr_ok(const struct emu_dev *dev, const struct emu_srq_attr *attr)
{
	return attr->max_wr >= 1 && attr->max_wr <= dev->attr.max_srq_wr &&
	       attr->max_sge >= 1 && attr->max_sge <= dev->attr.max_srq_sge &&
	       attr->srq_limit < attr->max_wr;
}

int emu_create_srq(struct emu_pd *pd, const struct emu_srq_attr *attr, void *srq_cookie,
		   struct emu_srq **out)
{
	struct emu_dev *dev = pd->dev;
	struct emu_srq *srq;

	if (!attr || !srq_attr_ok(dev, attr))
		return -EMU_EINVAL;
	if (dev->n_srq >= dev->attr.max_srq)
		return -EMU_ENOMEM;
	srq = emu_alloc(dev, sizeof(*srq));
	if (!srq)
		return -EMU_ENOMEM;
	if (ring_init(dev, &srq->rq, attr->max_wr, (uint32_t)rwqe_size(attr->max_sge))) {
		emu_free(dev, srq);
		return -EMU_ENOMEM;
	}
	srq->pd = pd;
	srq->cookie = srq_cookie;
	srq->max_sge = attr->max_sge;
	srq->limit = attr->srq_limit;
	pd->refcount++;
	dev->n_srq++;
	*out = srq;
	return 0;
}

/* Move the queued WQEs, oldest first, into a ring of new_size slots. */
static int srq_resize(struct emu_srq *srq, uint32_t new_size)
{
	struct emu_dev *dev = srq->pd->dev;
	struct emu_ring old = srq->rq;
	uint32_t count = ring_count(&old);

	if (ring_init(dev, &srq->rq, new_size, old.slot_size)) {
		srq->rq = old;
		return -EMU_ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++)
		dev->ops.copy(ring_slot(&srq->rq, i), ring_slot(&old, old.tail + i),
			      old.slot_size);
	srq->rq.head = count;
	emu_free(dev, old.slots);
	return 0;
}

int emu_modify_srq(struct emu_srq *srq, const struct emu_srq_attr *attr, uint32_t mask)
{
	const struct emu_dev *dev = srq->pd->dev;
	uint32_t max_wr = srq->rq.size;
	int ret;

	if (!attr || (mask & ~(EMU_SRQ_MAX_WR | EMU_SRQ_LIMIT)))
		return -EMU_EINVAL;
	if (mask & EMU_SRQ_MAX_WR) {
		max_wr = attr->max_wr;
		if (max_wr < 1 || max_wr > dev->attr.max_srq_wr ||
		    max_wr < ring_count(&srq->rq))
			return -EMU_EINVAL;
	}
	/* A limit that stays armed must remain below the (possibly new) size. */
	if ((mask & EMU_SRQ_LIMIT) ? attr->srq_limit >= max_wr : srq->limit >= max_wr)
		return -EMU_EINVAL;
	if ((mask & EMU_SRQ_MAX_WR) && max_wr != srq->rq.size) {
		ret = srq_resize(srq, max_wr);
		if (ret)
			return ret;
	}
	if (mask & EMU_SRQ_LIMIT)
		srq->limit = attr->srq_limit;
	return 0;
}

int emu_query_srq(const struct emu_srq *srq, struct emu_srq_attr *attr)
{
	attr->max_wr = srq->rq.size;
	attr->max_sge = srq->max_sge;
	attr->srq_limit = srq->limit;
	return 0;
}

int emu_destroy_srq(struct emu_srq *srq)
{
	struct emu_pd *pd = srq->pd;
	struct emu_dev *dev = pd->dev;

	if (srq->refcount)
		return -EMU_EBUSY;
	pd->refcount--;
	dev->n_srq--;
	emu_free(dev, srq->rq.slots);
	emu_free(dev, srq);
	return 0;
}

int emu_post_srq_recv(struct emu_srq *srq, const struct emu_recv_wr *wr)
{
	struct emu_rwqe *slot;

	if (!wr || wr->num_sge > srq->max_sge || (wr->num_sge && !wr->sg_list))
		return -EMU_EINVAL;
	if (ring_count(&srq->rq) >= srq->rq.size)
		return -EMU_ENOMEM;
	slot = ring_slot(&srq->rq, srq->rq.head);
	slot->wr_id = wr->wr_id;
	slot->num_sge = wr->num_sge;
	for (uint32_t i = 0; i < wr->num_sge; i++)
		slot->sge[i] = wr->sg_list[i];
	srq->rq.head++;
	return 0;
}

bool emu_srq_take(struct emu_srq *srq, struct emu_rwqe *out)
{
	const struct emu_rwqe *slot;

	if (!ring_count(&srq->rq))
		return false;
	slot = ring_slot(&srq->rq, srq->rq.tail);
	out->wr_id = slot->wr_id;
	out->num_sge = slot->num_sge;
	for (uint32_t i = 0; i < slot->num_sge; i++)
		out->sge[i] = slot->sge[i];
	srq->rq.tail++;
	if (srq->limit && ring_count(&srq->rq) < srq->limit) {
		srq->limit = 0;
		emu_event(srq->pd->dev, EMU_EVENT_SRQ_LIMIT_REACHED, srq->cookie, 0);
	}
	return true;
}

/* ---- address handles ------------------------------------------------------------------ */

int emu_create_ah(struct emu_pd *pd, const struct emu_ah_attr *attr, struct emu_ah **out)
{
	struct emu_dev *dev = pd->dev;
	struct emu_ah *ah;

	if (!attr || !emu_gid_index_valid(dev, attr->sgid_index) || attr->port_num > 1)
		return -EMU_EINVAL;
	if (dev->n_ah >= dev->attr.max_ah)
		return -EMU_ENOMEM;
	ah = emu_alloc(dev, sizeof(*ah));
	if (!ah)
		return -EMU_ENOMEM;
	ah->pd = pd;
	ah->attr = *attr;
	pd->refcount++;
	dev->n_ah++;
	*out = ah;
	return 0;
}

int emu_destroy_ah(struct emu_ah *ah)
{
	struct emu_pd *pd = ah->pd;

	pd->refcount--;
	pd->dev->n_ah--;
	emu_free(pd->dev, ah);
	return 0;
}
