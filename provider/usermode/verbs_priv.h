/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/verbs_priv.h - the objects of the drop-in libibverbs and what
 * its verbs*.c files share.
 *
 * Every verbs object is a struct of ours whose first member is the libibverbs
 * struct a program holds (struct ibv_cq_ex for CQs, struct ibv_qp_ex for QPs...),
 * so a program's pointer converts back with a cast. Each keeps the handle of its
 * device-side twin (struct uh_* or struct emu_*) and nothing is looked up by
 * number on the fast path.
 *
 * Locking: the device lock (uh_lock) covers every call into the host and the
 * engine. A ring has one producer lock (SQ, RQ, SRQ) or one consumer lock (CQ),
 * spinlocks: a post writes its WQEs, drops the ring lock, then rings the
 * doorbell; a poll that finds the ring empty drops the CQ lock, drives the
 * device (uh_progress), and looks again. Only an extended CQ keeps its lock
 * from ibv_start_poll to ibv_end_poll, as the API requires. What rewrites a
 * CQ's ring (ibv_resize_cq, a QP's reset or destroy purging its CQEs) takes the
 * CQ locks first (two: lower address first), then the device lock; the host
 * never takes a ring lock, so no cycle can form (a thread inside an extended
 * poll of that CQ must not make those calls itself).
 */
#ifndef SOFTHCA_PROVIDER_USERMODE_VERBS_PRIV_H
#define SOFTHCA_PROVIDER_USERMODE_VERBS_PRIV_H

#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../fastpath.h"
#include "uhost.h"

/* What the library exports; everything else stays inside (-fvisibility=hidden). */
#define SH_EXPORT __attribute__((visibility("default")))

#define SH_PORT_NUM 1

#define sh_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct sh_device {
	struct ibv_device ibdev;        /* first: the ibv_device * programs hold */
	struct uh_config cfg;
	uint64_t node_guid;             /* host order; valid when guid_known */
	bool guid_known;
};

struct sh_context {
	struct verbs_context vctx;      /* ends with the struct ibv_context programs hold */
	struct sh_device *dev;
	struct uh_dev *uh;
};

struct sh_pd {
	struct ibv_pd pd;
	struct emu_pd *emu;
};

struct sh_mr {
	struct ibv_mr mr;
	struct emu_mr *emu;
	uint32_t handle;                /* UH_H_MR: names the MR in bind WQEs */
	uint64_t iova;                  /* as registered (ibv_rereg_mr keeps it) */
	unsigned int access;            /* ... and the access flags */
};

struct sh_mw {
	struct ibv_mw mw;
	struct emu_mw *emu;
	uint32_t handle;                /* UH_H_MW */
};

struct sh_ah {
	struct ibv_ah ah;
	struct emu_ah *emu;
	uint32_t handle;                /* UH_H_AH: names the AH in UD WQEs */
};

struct sh_channel {
	struct ibv_comp_channel ch;
	struct uh_channel *uh;
};

struct sh_cq {
	struct ibv_cq_ex cq;            /* struct ibv_cq is its prefix */
	struct sh_context *ctx;
	struct uh_cq *uh;
	pthread_spinlock_t lock;        /* the one consumer of the ring */
	uint64_t wc_flags;              /* ibv_create_cq_ex: what read_* may be asked */
	const struct softhca_cqe *cur;  /* the CQE start/next_poll present */
	uint32_t cur_idx;
	uint32_t comp_events;           /* completion events handed out (under cq.mutex) */
	uint32_t async_events;          /* async events handed out (under cq.mutex) */
};

struct sh_srq {
	struct ibv_srq srq;
	struct sh_context *ctx;
	struct uh_srq *uh;
	struct fp_rq rq;
	pthread_spinlock_t lock;
	uint32_t max_wr;
	uint32_t async_events;
};

struct sh_qp {
	struct ibv_qp_ex qpx;           /* struct ibv_qp is its first member */
	struct sh_context *ctx;
	struct uh_qp *uh;
	struct fp_sq sq;
	struct fp_rq rq;
	pthread_spinlock_t sq_lock;
	pthread_spinlock_t rq_lock;
	uint32_t state;                 /* enum ibv_qp_state, as the last modify left it */
	uint32_t max_send_wr, max_recv_wr, max_send_sge, max_recv_sge, max_inline;
	bool sq_sig_all;
	bool extended;                  /* created with send ops: ibv_qp_to_qp_ex works */
	uint32_t async_events;
};

static inline struct sh_context *to_ctx(struct ibv_context *c)
{
	return sh_container_of(c, struct sh_context, vctx.context);
}

static inline struct sh_pd *to_pd(struct ibv_pd *p) { return (struct sh_pd *)p; }
static inline struct sh_mr *to_mr(struct ibv_mr *m) { return (struct sh_mr *)m; }
static inline struct sh_mw *to_mw(struct ibv_mw *m) { return (struct sh_mw *)m; }
static inline struct sh_ah *to_ah(struct ibv_ah *a) { return (struct sh_ah *)a; }
static inline struct sh_cq *to_cq(struct ibv_cq *c) { return (struct sh_cq *)c; }
static inline struct sh_cq *to_cqx(struct ibv_cq_ex *c) { return (struct sh_cq *)c; }
static inline struct sh_srq *to_srq(struct ibv_srq *s) { return (struct sh_srq *)s; }
static inline struct sh_qp *to_qp(struct ibv_qp *q) { return (struct sh_qp *)q; }
static inline struct sh_qp *to_qpx(struct ibv_qp_ex *q) { return (struct sh_qp *)q; }

static inline struct uh_dev *ctx_uh(struct ibv_context *c) { return to_ctx(c)->uh; }

/* A negative errno of the host or engine as the positive errno verbs return. */
static inline int sh_err(int ret) { return ret < 0 ? -ret : ret; }

/* ---- verbs_device.c ---------------------------------------------------------- */

int  sh_query_device_ex(struct ibv_context *ctx, const struct ibv_query_device_ex_input *in,
			struct ibv_device_attr_ex *attr, size_t attr_size);
int  sh_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr,
		   size_t attr_len);
/* Active path MTU of the port in bytes (UD message limit). */
uint32_t sh_port_mtu_bytes(struct ibv_context *ctx);
/* Index of a local GID equal to gid, or -1. */
int  sh_find_gid(struct ibv_context *ctx, const uint8_t gid[16]);

/* ---- verbs_mem.c ------------------------------------------------------------- */

struct ibv_mw *sh_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type type);
int  sh_dealloc_mw(struct ibv_mw *mw);
int  sh_bind_mw(struct ibv_qp *qp, struct ibv_mw *mw, struct ibv_mw_bind *bind);
int  sh_advise_mr(struct ibv_pd *pd, enum ibv_advise_mr_advice advice, uint32_t flags,
		  struct ibv_sge *sg_list, uint32_t num_sge);

/* ---- verbs_cq.c -------------------------------------------------------------- */

int  sh_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);
int  sh_req_notify_cq(struct ibv_cq *cq, int solicited_only);
struct ibv_cq_ex *sh_create_cq_ex(struct ibv_context *ctx, struct ibv_cq_init_attr_ex *attr);

/* ---- verbs_qp.c -------------------------------------------------------------- */

int  sh_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad);
int  sh_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
int  sh_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
struct ibv_qp *sh_create_qp_ex(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *attr);
struct ibv_srq *sh_create_srq_ex(struct ibv_context *ctx, struct ibv_srq_init_attr_ex *attr);
/* Ring the SQ doorbell of a QP. [device lock held] */
void sh_qp_flush_sq_locked(struct sh_qp *qp);

/* ---- verbs_compat.c ---------------------------------------------------------- */

int  sh_close_xrcd(struct ibv_xrcd *xrcd);

#endif /* SOFTHCA_PROVIDER_USERMODE_VERBS_PRIV_H */
