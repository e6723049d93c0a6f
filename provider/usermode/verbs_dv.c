/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/verbs_dv.c - the drop-in's side of softhca direct verbs
 * (include/softhca/softhcadv.h): the table of include/softhca/softhcadv_ops.h,
 * exported as softhcadv_private_ops@SOFTHCA_PRIVATE_1 (libibverbs.map), which
 * libsofthcadv.so.1 finds at run time.
 *
 * Each entry checks that its object belongs to this library (its context's
 * poll_cq is ours), then makes the engine call under the device lock, as every
 * verbs call does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "verbs_priv.h"

#include "softhca/softhcadv_ops.h"

/* ---- whose objects ------------------------------------------------------------------ */

static bool ours(struct ibv_context *ctx)
{
	return ctx && ctx->ops.poll_cq == sh_poll_cq;
}

static bool ours_qp(struct ibv_qp *qp)
{
	return qp && ours(qp->context) && to_qp(qp)->uh;
}

static bool ours_cq(struct ibv_cq *cq)
{
	return cq && ours(cq->context) && to_cq(cq)->uh;
}

static bool ours_mr(struct ibv_mr *mr)
{
	return mr && ours(mr->context) && to_mr(mr)->emu;
}

/* ---- orders -------------------------------------------------------------------------- */

static int to_emu_order(uint32_t order, enum emu_dma_policy *out)
{
	switch (order) {
	case SOFTHCADV_ORDER_INHERIT: *out = EMU_DMA_INHERIT; return 0;
	case SOFTHCADV_ORDER_STRICT: *out = EMU_DMA_STRICT; return 0;
	case SOFTHCADV_ORDER_CQE_FIRST: *out = EMU_DMA_CQE_FIRST; return 0;
	case SOFTHCADV_ORDER_RELAXED: *out = EMU_DMA_RELAXED; return 0;
	case SOFTHCADV_ORDER_MIX: *out = EMU_DMA_MIX; return 0;
	default: return EINVAL;
	}
}

/* EMU_DMA_HOLD is the engine's test mechanism, never set through softhcadv;
 * should a test of the engine set it, it reads as strict (held data lands in
 * order). */
static uint32_t from_emu_order(enum emu_dma_policy p)
{
	switch (p) {
	case EMU_DMA_INHERIT: return SOFTHCADV_ORDER_INHERIT;
	case EMU_DMA_CQE_FIRST: return SOFTHCADV_ORDER_CQE_FIRST;
	case EMU_DMA_RELAXED: return SOFTHCADV_ORDER_RELAXED;
	case EMU_DMA_MIX: return SOFTHCADV_ORDER_MIX;
	default: return SOFTHCADV_ORDER_STRICT;
	}
}

static int dv_set_dev_order(struct ibv_context *ctx, uint32_t order)
{
	enum emu_dma_policy p;
	struct uh_dev *uh;
	int ret;

	if (!ours(ctx))
		return EOPNOTSUPP;
	if (to_emu_order(order, &p) || p == EMU_DMA_INHERIT)
		return EINVAL;
	uh = ctx_uh(ctx);
	if (p != EMU_DMA_STRICT)
		uh_signal_forbid(uh);
	uh_lock(uh);
	ret = emu_dev_set_dma_policy(uh_emu(uh), p);
	uh_unlock(uh);
	return sh_err(ret);
}

static int dv_set_qp_order(struct ibv_qp *ibqp, uint32_t order)
{
	enum emu_dma_policy p;
	struct sh_qp *qp;
	int ret;

	if (!ours_qp(ibqp))
		return EOPNOTSUPP;
	if (to_emu_order(order, &p))
		return EINVAL;
	qp = to_qp(ibqp);
	if (p != EMU_DMA_STRICT && p != EMU_DMA_INHERIT)
		uh_signal_forbid(qp->ctx->uh);
	uh_lock(qp->ctx->uh);
	ret = emu_qp_set_dma_policy(qp->uh->emu, p);
	uh_unlock(qp->ctx->uh);
	return sh_err(ret);
}

static int dv_set_cq_order(struct ibv_cq *ibcq, uint32_t order)
{
	enum emu_dma_policy p;
	struct sh_cq *cq;
	int ret;

	if (!ours_cq(ibcq))
		return EOPNOTSUPP;
	if (to_emu_order(order, &p))
		return EINVAL;
	cq = to_cq(ibcq);
	if (p != EMU_DMA_STRICT && p != EMU_DMA_INHERIT)
		uh_signal_forbid(cq->ctx->uh);
	uh_lock(cq->ctx->uh);
	ret = emu_cq_set_dma_policy(cq->uh->emu, p);
	uh_unlock(cq->ctx->uh);
	return sh_err(ret);
}

static int dv_get_dev_order(struct ibv_context *ctx, uint32_t *order)
{
	struct uh_dev *uh;

	if (!ours(ctx))
		return EOPNOTSUPP;
	if (!order)
		return EINVAL;
	uh = ctx_uh(ctx);
	uh_lock(uh);
	*order = from_emu_order(emu_dev_get_dma_policy(uh_emu(uh)));
	uh_unlock(uh);
	return 0;
}

static int dv_get_qp_order(struct ibv_qp *ibqp, uint32_t *order)
{
	struct sh_qp *qp;

	if (!ours_qp(ibqp))
		return EOPNOTSUPP;
	if (!order)
		return EINVAL;
	qp = to_qp(ibqp);
	uh_lock(qp->ctx->uh);
	*order = from_emu_order(emu_qp_get_dma_policy(qp->uh->emu));
	uh_unlock(qp->ctx->uh);
	return 0;
}

static int dv_get_cq_order(struct ibv_cq *ibcq, uint32_t *order)
{
	struct sh_cq *cq;

	if (!ours_cq(ibcq))
		return EOPNOTSUPP;
	if (!order)
		return EINVAL;
	cq = to_cq(ibcq);
	uh_lock(cq->ctx->uh);
	*order = from_emu_order(emu_cq_get_dma_policy(cq->uh->emu));
	uh_unlock(cq->ctx->uh);
	return 0;
}

static int dv_get_cq_ordered(struct ibv_cq *ibcq, bool *ordered)
{
	struct sh_cq *cq;

	if (!ours_cq(ibcq))
		return EOPNOTSUPP;
	if (!ordered)
		return EINVAL;
	cq = to_cq(ibcq);
	uh_lock(cq->ctx->uh);
	*ordered = emu_cq_ordered(cq->uh->emu);
	uh_unlock(cq->ctx->uh);
	return 0;
}

/* ---- seed and deferral point ------------------------------------------------------------ */

static int dv_set_seed(struct ibv_context *ctx, uint64_t seed)
{
	struct uh_dev *uh;

	if (!ours(ctx))
		return EOPNOTSUPP;
	uh = ctx_uh(ctx);
	uh_lock(uh);
	emu_dev_set_seed(uh_emu(uh), seed);
	uh_odp_set_seed(uh, seed);      /* the injected invalidations' choices too */
	uh_unlock(uh);
	return 0;
}

static int dv_get_seed(struct ibv_context *ctx, uint64_t *seed)
{
	struct uh_dev *uh;

	if (!ours(ctx))
		return EOPNOTSUPP;
	if (!seed)
		return EINVAL;
	uh = ctx_uh(ctx);
	uh_lock(uh);
	*seed = emu_dev_get_seed(uh_emu(uh));
	uh_unlock(uh);
	return 0;
}

static int dv_deferral_point(struct ibv_context *ctx)
{
	struct uh_dev *uh;

	if (!ours(ctx))
		return EOPNOTSUPP;
	uh = ctx_uh(ctx);
	uh_lock(uh);
	uh_dma_deferral_point(uh);
	uh_unlock(uh);
	return 0;
}

/* ---- counters ------------------------------------------------------------------------- */

/* One field per engine drop reason, in enum order: a new reason needs a new field
 * (at the end of struct softhcadv_counters) and this check updated. */
_Static_assert(EMU_DROP_REASONS == 15, "struct softhcadv_counters names 15 drop reasons");
_Static_assert(offsetof(struct softhcadv_counters, drop_mcast) -
	       offsetof(struct softhcadv_counters, drop_short) == 14 * sizeof(uint64_t),
	       "drop_* fields are contiguous");

#define DV_COUNTERS_MIN (offsetof(struct softhcadv_counters, tx_packets) + sizeof(uint64_t))

static void from_emu_counters(const struct emu_counters *e, struct softhcadv_counters *c)
{
	uint64_t *drop = &c->drop_short;

	c->tx_packets = e->tx_packets;
	c->tx_bytes = e->tx_bytes;
	c->rx_packets = e->rx_packets;
	c->rx_bytes = e->rx_bytes;
	c->tx_acks = e->tx_acks;
	c->rx_acks = e->rx_acks;
	c->tx_naks = e->tx_naks;
	c->rx_naks = e->rx_naks;
	c->tx_rnr_naks = e->tx_rnr_naks;
	c->rx_rnr_naks = e->rx_rnr_naks;
	c->retransmits = e->retransmits;
	c->timeouts = e->timeouts;
	c->duplicate_requests = e->duplicate_requests;
	c->seq_errors = e->seq_errors;
	c->rx_drops = e->rx_drops;
	for (unsigned r = 0; r < EMU_DROP_REASONS; r++)
		drop[r] = e->drops[r];
	c->completions = e->completions;
	c->completion_errors = e->completion_errors;
	c->dma_writes = e->dma_writes;
	c->dma_bytes = e->dma_bytes;
	c->dma_held = e->dma_held;
	c->dma_deferred = e->dma_deferred;
	c->dma_reordered = e->dma_reordered;
	c->dma_cqe_early = e->dma_cqe_early;
	c->dma_lost = e->dma_lost;
	c->page_faults = e->page_faults;
	c->odp_stalls = e->odp_stalls;
	c->odp_rnr_naks = e->odp_rnr_naks;
	c->odp_invalidations = e->odp_invalidations;
	c->odp_prefetches = e->odp_prefetches;
	c->odp_unbacked = e->odp_unbacked;
}

static void from_odp_stats(const struct odp_stats *o, struct softhcadv_counters *c)
{
	c->odp_fault_requests = o->fault_requests;
	c->odp_fault_pages = o->fault_pages;
	c->odp_fault_errors = o->fault_errors;
	c->odp_access_errors = o->access_errors;
	c->odp_first_touch_pages = o->first_touch_pages;
	c->odp_injected_invalidations = o->injected_invalidations;
	c->odp_invalidated_pages = o->invalidated_pages;
	c->odp_vanished_pages = o->vanished_pages;
	c->odp_prefetch_requests = o->prefetch_requests;
	c->odp_prefetch_pages = o->prefetch_pages;
	c->odp_fault_delay_max_ns = o->fault_delay_max_ns;
	c->odp_requested_invalidations = o->requested_invalidations;
}

/* Versioned by size (softhcadv.h): whole fields that fit, the rest zeroed. */
static void copy_counters(struct softhcadv_counters *full, void *out, size_t outlen)
{
	size_t filled = sizeof(*full);

	if (outlen < filled)
		filled = DV_COUNTERS_MIN - sizeof(uint64_t) +
			 (outlen - (DV_COUNTERS_MIN - sizeof(uint64_t))) / sizeof(uint64_t) *
			 sizeof(uint64_t);
	full->size = (uint32_t)filled;
	full->reserved = 0;
	memset(out, 0, outlen);
	memcpy(out, full, filled);
}

static int dv_query_counters(struct ibv_context *ctx, struct softhcadv_counters *out,
			     size_t outlen)
{
	struct softhcadv_counters full;
	struct uh_net_stats ns;
	struct emu_counters e;
	struct odp_stats os;
	struct uh_dev *uh;

	if (!ours(ctx))
		return EOPNOTSUPP;
	if (!out || outlen < DV_COUNTERS_MIN || outlen > UINT32_MAX)
		return EINVAL;
	uh = ctx_uh(ctx);
	uh_lock(uh);
	emu_dev_counters(uh_emu(uh), &e);
	uh_unlock(uh);
	uh_net_stats(uh, &ns);          /* these two take the lock themselves */
	uh_odp_stats(uh, &os);
	memset(&full, 0, sizeof(full));
	from_emu_counters(&e, &full);
	from_odp_stats(&os, &full);
	full.net_rx_datagrams = ns.rx_datagrams;
	full.net_tx_datagrams = ns.tx_datagrams;
	full.net_rx_errors = ns.rx_errors;
	full.net_tx_errors = ns.tx_errors;
	full.net_rx_short = ns.rx_short;
	copy_counters(&full, out, outlen);
	return 0;
}

static int dv_query_qp_counters(struct ibv_qp *ibqp, struct softhcadv_counters *out,
				size_t outlen)
{
	struct softhcadv_counters full;
	struct emu_counters e;
	struct sh_qp *qp;

	if (!ours_qp(ibqp))
		return EOPNOTSUPP;
	if (!out || outlen < DV_COUNTERS_MIN || outlen > UINT32_MAX)
		return EINVAL;
	qp = to_qp(ibqp);
	uh_lock(qp->ctx->uh);
	emu_qp_counters(qp->uh->emu, &e);
	uh_unlock(qp->ctx->uh);
	memset(&full, 0, sizeof(full));
	from_emu_counters(&e, &full);
	copy_counters(&full, out, outlen);
	return 0;
}

/* ---- on-demand paging ------------------------------------------------------------------- */

_Static_assert(SOFTHCADV_ODP_FAULT_DELAY_MAX_US == UH_ODP_FAULT_DELAY_MAX_US &&
	       SOFTHCADV_ODP_INVALIDATE_MIN == UH_ODP_INVALIDATE_MIN,
	       "softhcadv's ODP limits are those of softhca run");

#define DV_ODP_CONFIG_KNOWN (SOFTHCADV_ODP_CONFIG_PREFAULT | SOFTHCADV_ODP_CONFIG_FAULT_DELAY | \
			     SOFTHCADV_ODP_CONFIG_INVALIDATE)

static int dv_set_odp_config(struct ibv_context *ctx, const struct softhcadv_odp_config *cfg)
{
	struct uh_odp_knobs k = { 0 };

	if (!ours(ctx))
		return EOPNOTSUPP;
	if (!cfg)
		return EINVAL;
	if (cfg->comp_mask & ~(uint32_t)DV_ODP_CONFIG_KNOWN)
		return EOPNOTSUPP;
	if (cfg->comp_mask & SOFTHCADV_ODP_CONFIG_PREFAULT) {
		k.which |= UH_ODP_KNOB_PREFAULT;
		k.prefault = cfg->prefault;
	}
	if (cfg->comp_mask & SOFTHCADV_ODP_CONFIG_FAULT_DELAY) {
		k.which |= UH_ODP_KNOB_FAULT_DELAY;
		k.fault_delay_us = cfg->fault_delay_us;
	}
	if (cfg->comp_mask & SOFTHCADV_ODP_CONFIG_INVALIDATE) {
		k.which |= UH_ODP_KNOB_INVALIDATE;
		k.invalidate_one_in = cfg->invalidate_one_in;
	}
	return sh_err(uh_odp_set_knobs(ctx_uh(ctx), &k));
}

static int dv_get_odp_config(struct ibv_context *ctx, struct softhcadv_odp_config *cfg)
{
	struct uh_odp_knobs k;
	uint32_t want;

	if (!ours(ctx))
		return EOPNOTSUPP;
	if (!cfg)
		return EINVAL;
	want = cfg->comp_mask & DV_ODP_CONFIG_KNOWN;
	uh_odp_get_knobs(ctx_uh(ctx), &k);
	if (want & SOFTHCADV_ODP_CONFIG_PREFAULT)
		cfg->prefault = k.prefault;
	if (want & SOFTHCADV_ODP_CONFIG_FAULT_DELAY)
		cfg->fault_delay_us = k.fault_delay_us;
	if (want & SOFTHCADV_ODP_CONFIG_INVALIDATE)
		cfg->invalidate_one_in = k.invalidate_one_in;
	cfg->comp_mask = want;
	return 0;
}

static int dv_mr_invalidate(struct ibv_mr *ibmr, void *addr, size_t len)
{
	if (!ours_mr(ibmr))
		return EOPNOTSUPP;
	return sh_err(uh_odp_invalidate(ctx_uh(ibmr->context), to_mr(ibmr)->emu,
					(uintptr_t)addr, len));
}

static uint32_t from_odp_page_state(enum odp_page_state s)
{
	switch (s) {
	case ODP_PAGE_PRESENT_RO: return SOFTHCADV_PAGE_PRESENT_RO;
	case ODP_PAGE_PRESENT_RW: return SOFTHCADV_PAGE_PRESENT_RW;
	case ODP_PAGE_FAILED: return SOFTHCADV_PAGE_FAILED;
	case ODP_PAGE_INVALIDATED: return SOFTHCADV_PAGE_INVALIDATED;
	default: return SOFTHCADV_PAGE_ABSENT;
	}
}

static int dv_mr_page_state(struct ibv_mr *ibmr, void *addr, uint32_t *state)
{
	enum odp_page_state s;
	int ret;

	if (!ours_mr(ibmr))
		return EOPNOTSUPP;
	if (!state)
		return EINVAL;
	ret = uh_odp_page_state(ctx_uh(ibmr->context), to_mr(ibmr)->emu, (uintptr_t)addr, &s);
	if (!ret)
		*state = from_odp_page_state(s);
	return sh_err(ret);
}

/* ---- the exported table ------------------------------------------------------------------ */

static const struct softhcadv_ops dv_ops = {
	.size = sizeof(struct softhcadv_ops),
	.is_softhca = ours,
	.set_dev_order = dv_set_dev_order,
	.set_qp_order = dv_set_qp_order,
	.set_cq_order = dv_set_cq_order,
	.get_dev_order = dv_get_dev_order,
	.get_qp_order = dv_get_qp_order,
	.get_cq_order = dv_get_cq_order,
	.get_cq_ordered = dv_get_cq_ordered,
	.set_seed = dv_set_seed,
	.get_seed = dv_get_seed,
	.deferral_point = dv_deferral_point,
	.query_counters = dv_query_counters,
	.query_qp_counters = dv_query_qp_counters,
	.set_odp_config = dv_set_odp_config,
	.get_odp_config = dv_get_odp_config,
	.mr_invalidate = dv_mr_invalidate,
	.mr_page_state = dv_mr_page_state,
};

/* Exported as softhcadv_private_ops@@SOFTHCA_PRIVATE_1 (libibverbs.map). */
SH_EXPORT const struct softhcadv_ops *softhcadv_private_ops(void);

SH_EXPORT const struct softhcadv_ops *softhcadv_private_ops(void)
{
	return &dv_ops;
}
