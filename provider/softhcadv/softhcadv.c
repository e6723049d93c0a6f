/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/softhcadv/softhcadv.c - libsofthcadv.so.1, softhca direct verbs
 * (include/softhca/softhcadv.h).
 *
 * A thin shim: the implementation lives in the softhca libibverbs.so.1 (the
 * user-mode drop-in), which exports a table of entry points under a private
 * version node (include/softhca/softhcadv_ops.h). The table is looked up once,
 * in the libibverbs.so.1 the process has loaded. Without it (Debian's own
 * libibverbs, real hardware, rdma_rxe) every object is "not softhca": the calls
 * answer EOPNOTSUPP and softhcadv_is_softhca() false, and nothing is touched.
 *
 * This library does not link libibverbs itself: it only needs the types, so it
 * never pulls a second libibverbs into a process.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "softhca/softhcadv.h"
#include "softhca/softhcadv_ops.h"

#define DV_EXPORT __attribute__((visibility("default")))

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const struct softhcadv_ops *g_ops;

/*
 * The libibverbs.so.1 already loaded, whatever scope it was loaded in (a Python
 * extension loads it RTLD_LOCAL, out of reach of RTLD_DEFAULT), else the global
 * scope. The handle stays open: the table must outlive this call.
 */
static void find_ops(void)
{
	void *lib = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_NOLOAD);
	softhcadv_ops_fn get = NULL;

	if (lib)
		get = (softhcadv_ops_fn)dlvsym(lib, SOFTHCADV_OPS_SYMBOL, SOFTHCADV_OPS_VERSION);
	if (!get)
		get = (softhcadv_ops_fn)dlvsym(RTLD_DEFAULT, SOFTHCADV_OPS_SYMBOL,
					       SOFTHCADV_OPS_VERSION);
	if (get) {
		const struct softhcadv_ops *ops = get();

		/* A table too short to say whether a context is ours is no table. */
		if (ops && ops->size >= offsetof(struct softhcadv_ops, is_softhca) +
				       sizeof(ops->is_softhca) && ops->is_softhca)
			g_ops = ops;
	}
	if (lib && !g_ops)
		dlclose(lib);
}

static const struct softhcadv_ops *ops(void)
{
	pthread_once(&g_once, find_ops);
	return g_ops;
}

/* The entry `member` of the drop-in's table, or NULL if its table is older. */
#define DV_ENTRY(o, member) \
	((o) && (o)->size >= offsetof(struct softhcadv_ops, member) + sizeof((o)->member) ? \
	 (o)->member : NULL)

/* Call entry `member` with the given arguments; EOPNOTSUPP without it. */
#define DV_CALL(member, ...) \
	do { \
		const struct softhcadv_ops *o_ = ops(); \
		if (!DV_ENTRY(o_, member)) \
			return EOPNOTSUPP; \
		return o_->member(__VA_ARGS__); \
	} while (0)

DV_EXPORT bool softhcadv_is_softhca(struct ibv_context *ctx)
{
	const struct softhcadv_ops *o;

	if (!ctx)
		return false;
	o = ops();
	return o && o->is_softhca(ctx);
}

/* ---- ordering ------------------------------------------------------------------------- */

static bool valid_order(enum softhcadv_order order)
{
	return softhcadv_order_name(order) != NULL;
}

DV_EXPORT int softhcadv_set_dev_order(struct ibv_context *ctx, enum softhcadv_order order)
{
	if (!ctx || !valid_order(order) || order == SOFTHCADV_ORDER_INHERIT)
		return ctx && !softhcadv_is_softhca(ctx) ? EOPNOTSUPP : EINVAL;
	DV_CALL(set_dev_order, ctx, (uint32_t)order);
}

DV_EXPORT int softhcadv_set_qp_order(struct ibv_qp *qp, enum softhcadv_order order)
{
	if (!qp || !valid_order(order))
		return qp && !softhcadv_is_softhca(qp->context) ? EOPNOTSUPP : EINVAL;
	DV_CALL(set_qp_order, qp, (uint32_t)order);
}

DV_EXPORT int softhcadv_set_cq_order(struct ibv_cq *cq, enum softhcadv_order order)
{
	if (!cq || !valid_order(order))
		return cq && !softhcadv_is_softhca(cq->context) ? EOPNOTSUPP : EINVAL;
	DV_CALL(set_cq_order, cq, (uint32_t)order);
}

/* Orders come back as uint32_t from the table and are checked before use.
 * raw is read here, after the call (argument evaluation order is unspecified). */
static int order_out(int ret, const uint32_t *rawp, enum softhcadv_order *order)
{
	uint32_t raw = *rawp;

	if (ret)
		return ret;
	if (!valid_order((enum softhcadv_order)raw))
		return EPROTO;
	*order = (enum softhcadv_order)raw;
	return 0;
}

DV_EXPORT int softhcadv_get_dev_order(struct ibv_context *ctx, enum softhcadv_order *order)
{
	const struct softhcadv_ops *o = ops();
	uint32_t raw = 0;

	if (!ctx || !order)
		return EINVAL;
	if (!DV_ENTRY(o, get_dev_order))
		return EOPNOTSUPP;
	return order_out(o->get_dev_order(ctx, &raw), &raw, order);
}

DV_EXPORT int softhcadv_get_qp_order(struct ibv_qp *qp, enum softhcadv_order *order)
{
	const struct softhcadv_ops *o = ops();
	uint32_t raw = 0;

	if (!qp || !order)
		return EINVAL;
	if (!DV_ENTRY(o, get_qp_order))
		return EOPNOTSUPP;
	return order_out(o->get_qp_order(qp, &raw), &raw, order);
}

DV_EXPORT int softhcadv_get_cq_order(struct ibv_cq *cq, enum softhcadv_order *order)
{
	const struct softhcadv_ops *o = ops();
	uint32_t raw = 0;

	if (!cq || !order)
		return EINVAL;
	if (!DV_ENTRY(o, get_cq_order))
		return EOPNOTSUPP;
	return order_out(o->get_cq_order(cq, &raw), &raw, order);
}

DV_EXPORT int softhcadv_get_cq_ordered(struct ibv_cq *cq, bool *ordered)
{
	if (!cq || !ordered)
		return EINVAL;
	DV_CALL(get_cq_ordered, cq, ordered);
}

static const char *const order_names[] = {
	[SOFTHCADV_ORDER_INHERIT] = "inherit",
	[SOFTHCADV_ORDER_STRICT] = "strict",
	[SOFTHCADV_ORDER_CQE_FIRST] = "cqe-first",
	[SOFTHCADV_ORDER_RELAXED] = "relaxed",
	[SOFTHCADV_ORDER_MIX] = "mix",
};

#define N_ORDERS (sizeof(order_names) / sizeof(order_names[0]))

DV_EXPORT const char *softhcadv_order_name(enum softhcadv_order order)
{
	return (unsigned)order < N_ORDERS ? order_names[order] : NULL;
}

DV_EXPORT int softhcadv_order_from_name(const char *name, enum softhcadv_order *order)
{
	if (!name || !order)
		return EINVAL;
	for (unsigned k = 0; k < N_ORDERS; k++) {
		if (strcmp(name, order_names[k]) == 0) {
			*order = (enum softhcadv_order)k;
			return 0;
		}
	}
	return EINVAL;
}

/* ---- seed, deferral point, counters --------------------------------------------------------- */

DV_EXPORT int softhcadv_set_seed(struct ibv_context *ctx, uint64_t seed)
{
	if (!ctx)
		return EINVAL;
	DV_CALL(set_seed, ctx, seed);
}

DV_EXPORT int softhcadv_get_seed(struct ibv_context *ctx, uint64_t *seed)
{
	if (!ctx || !seed)
		return EINVAL;
	DV_CALL(get_seed, ctx, seed);
}

DV_EXPORT int softhcadv_deferral_point(struct ibv_context *ctx)
{
	if (!ctx)
		return EINVAL;
	DV_CALL(deferral_point, ctx);
}

DV_EXPORT int softhcadv_query_counters(struct ibv_context *ctx, struct softhcadv_counters *out,
				       size_t outlen)
{
	if (!ctx || !out)
		return EINVAL;
	DV_CALL(query_counters, ctx, out, outlen);
}

DV_EXPORT int softhcadv_query_qp_counters(struct ibv_qp *qp, struct softhcadv_counters *out,
					  size_t outlen)
{
	if (!qp || !out)
		return EINVAL;
	DV_CALL(query_qp_counters, qp, out, outlen);
}

/* ---- on-demand paging ------------------------------------------------------------------- */

DV_EXPORT int softhcadv_set_odp_config(struct ibv_context *ctx,
				       const struct softhcadv_odp_config *cfg)
{
	if (!ctx || !cfg)
		return EINVAL;
	DV_CALL(set_odp_config, ctx, cfg);
}

DV_EXPORT int softhcadv_get_odp_config(struct ibv_context *ctx, struct softhcadv_odp_config *cfg)
{
	if (!ctx || !cfg)
		return EINVAL;
	DV_CALL(get_odp_config, ctx, cfg);
}

DV_EXPORT int softhcadv_mr_invalidate(struct ibv_mr *mr, void *addr, size_t len)
{
	if (!mr)
		return EINVAL;
	DV_CALL(mr_invalidate, mr, addr, len);
}

static const char *const page_state_names[] = {
	[SOFTHCADV_PAGE_ABSENT] = "absent",
	[SOFTHCADV_PAGE_PRESENT_RO] = "present-ro",
	[SOFTHCADV_PAGE_PRESENT_RW] = "present-rw",
	[SOFTHCADV_PAGE_FAILED] = "failed",
	[SOFTHCADV_PAGE_INVALIDATED] = "invalidated",
};

#define N_PAGE_STATES (sizeof(page_state_names) / sizeof(page_state_names[0]))

DV_EXPORT const char *softhcadv_page_state_name(enum softhcadv_page_state state)
{
	return (unsigned)state < N_PAGE_STATES ? page_state_names[state] : NULL;
}

DV_EXPORT int softhcadv_mr_page_state(struct ibv_mr *mr, void *addr,
				      enum softhcadv_page_state *state)
{
	const struct softhcadv_ops *o = ops();
	uint32_t raw = 0;
	int ret;

	if (!mr || !state)
		return EINVAL;
	if (!DV_ENTRY(o, mr_page_state))
		return EOPNOTSUPP;
	ret = o->mr_page_state(mr, addr, &raw);
	if (ret)
		return ret;
	/* A state newer than this library knows is not passed on as a lie. */
	if (!softhcadv_page_state_name((enum softhcadv_page_state)raw))
		return EPROTO;
	*state = (enum softhcadv_page_state)raw;
	return 0;
}
