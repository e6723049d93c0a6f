/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * include/softhca/softhcadv_ops.h - the private contract between libsofthcadv.so.1
 * (provider/softhcadv) and a softhca libibverbs.so.1 (the user-mode drop-in,
 * provider/usermode/verbs_dv.c). Programs use softhcadv.h, never this.
 *
 * The drop-in exports one function, SOFTHCADV_OPS_SYMBOL, under its own version
 * node SOFTHCADV_OPS_VERSION (not one of libibverbs'), which returns a table of
 * entry points. libsofthcadv looks it up at run time in the libibverbs.so.1 the
 * process has loaded; Debian's libibverbs has no such symbol, so the same program
 * runs there with softhcadv_is_softhca() false.
 *
 * The table grows only at its end; `size` says how much of it the drop-in has,
 * so a newer libsofthcadv on an older drop-in sees the missing entries as absent
 * (EOPNOTSUPP) and an older one ignores the newer entries. A change that cannot
 * follow that rule takes a new version node (SOFTHCA_PRIVATE_2) and symbol.
 * Orders travel as enum softhcadv_order values; errors as positive errnos.
 */
#ifndef SOFTHCA_SOFTHCADV_OPS_H
#define SOFTHCA_SOFTHCADV_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "softhcadv.h"

#define SOFTHCADV_OPS_SYMBOL  "softhcadv_private_ops"
#define SOFTHCADV_OPS_VERSION "SOFTHCA_PRIVATE_1"

struct softhcadv_ops {
	uint32_t size;          /* sizeof(struct softhcadv_ops) as the drop-in was built */
	uint32_t reserved;
	bool (*is_softhca)(struct ibv_context *ctx);
	int (*set_dev_order)(struct ibv_context *ctx, uint32_t order);
	int (*set_qp_order)(struct ibv_qp *qp, uint32_t order);
	int (*set_cq_order)(struct ibv_cq *cq, uint32_t order);
	int (*get_dev_order)(struct ibv_context *ctx, uint32_t *order);
	int (*get_qp_order)(struct ibv_qp *qp, uint32_t *order);
	int (*get_cq_order)(struct ibv_cq *cq, uint32_t *order);
	int (*get_cq_ordered)(struct ibv_cq *cq, bool *ordered);
	int (*set_seed)(struct ibv_context *ctx, uint64_t seed);
	int (*get_seed)(struct ibv_context *ctx, uint64_t *seed);
	int (*deferral_point)(struct ibv_context *ctx);
	int (*query_counters)(struct ibv_context *ctx, struct softhcadv_counters *out,
			      size_t outlen);
	int (*query_qp_counters)(struct ibv_qp *qp, struct softhcadv_counters *out,
				 size_t outlen);
	/* on-demand paging; page states travel as enum softhcadv_page_state values */
	int (*set_odp_config)(struct ibv_context *ctx, const struct softhcadv_odp_config *cfg);
	int (*get_odp_config)(struct ibv_context *ctx, struct softhcadv_odp_config *cfg);
	int (*mr_invalidate)(struct ibv_mr *mr, void *addr, size_t len);
	int (*mr_page_state)(struct ibv_mr *mr, void *addr, uint32_t *state);
	/* new entries go here */
};

/* The exported entry point: the drop-in's table. */
typedef const struct softhcadv_ops *(*softhcadv_ops_fn)(void);

#endif /* SOFTHCA_SOFTHCADV_OPS_H */
