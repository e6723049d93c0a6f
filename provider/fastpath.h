/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/fastpath.h - the provider's fast path over the rings of
 * include/softhca/abi.h: ibv_send_wr -> struct softhca_send_wqe, ibv_recv_wr ->
 * struct softhca_recv_wqe, struct softhca_cqe -> ibv_wc, and the builders behind
 * the ibv_wr_* API.
 *
 * Shared by the user-mode drop-in libibverbs and the kernel-mode rdma-core
 * provider, so it knows the rings and libibverbs' types and nothing else: no
 * locks, no doorbells, no device. The caller serialises the producers of one
 * ring (one lock per SQ/RQ/SRQ) and the consumer of one CQ, and rings the
 * doorbell after a post published something.
 *
 * Errors are the ones libibverbs returns at post time (positive errno values):
 * EINVAL for a WR the QP cannot take (opcode not valid for the QP type, too many
 * SGEs, inline data too long, bad address handle, misaligned atomic), ENOMEM for
 * a full ring. Everything else is the device's to find and completes in error.
 */
#ifndef SOFTHCA_PROVIDER_FASTPATH_H
#define SOFTHCA_PROVIDER_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "../include/softhca/abi.h"

/*
 * How WQEs name the objects a WR points to: the handles the device gave them.
 * Each returns 0 for an object it does not know (the WR is then rejected).
 */
struct fp_handles {
	uint32_t (*ah)(struct ibv_ah *ah);
	uint32_t (*mw)(struct ibv_mw *mw);
	uint32_t (*mr)(struct ibv_mr *mr);
};

/* A send queue as the provider sees it. */
struct fp_sq {
	struct softhca_ring_hdr *ring;
	uint32_t qp_type;              /* enum ibv_qp_type */
	uint32_t max_sge;
	uint32_t max_inline;
	uint32_t max_ud_msg;           /* UD: bytes of one message (path MTU); 0 = unchecked */
	const struct fp_handles *handles;

	/* ibv_wr_* batch state, between fp_wr_start and fp_wr_complete/abort. */
	uint32_t batch_prod;           /* next slot of the batch */
	int batch_err;                 /* first error of the batch, latched */
	struct softhca_send_wqe *batch_cur; /* the WQE the setters patch, or NULL */
};

/* A receive queue (a QP's RQ or an SRQ). */
struct fp_rq {
	struct softhca_ring_hdr *ring;
	uint32_t max_sge;
};

/* ---- rings ------------------------------------------------------------------- */

/*
 * Checks what the device wrote into a ring header before the provider trusts it:
 * size a power of two, stride a multiple of 16 and at least min_stride.
 */
bool fp_ring_valid(const struct softhca_ring_hdr *h, uint32_t min_stride);

/* Entries a producer may still write. */
uint32_t fp_ring_space(struct softhca_ring_hdr *h);

/* ---- send queue -------------------------------------------------------------- */

/*
 * The rights a window binding grants: remote ones, and zero-based addressing.
 * Others a program passes (IBV_ACCESS_LOCAL_WRITE is common) mean nothing for a
 * window and are dropped, as devices do.
 */
static inline uint32_t fp_mw_access(uint32_t mw_access_flags)
{
	return mw_access_flags & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
				  IBV_ACCESS_REMOTE_ATOMIC | IBV_ACCESS_ZERO_BASED);
}

/* Bytes of a send WQE with n SGEs or n bytes of inline data. */
static inline uint32_t fp_send_wqe_bytes_sge(uint32_t n)
{
	return (uint32_t)sizeof(struct softhca_send_wqe) + n * (uint32_t)sizeof(struct softhca_sge);
}

static inline uint32_t fp_send_wqe_bytes_inline(uint32_t n)
{
	return (uint32_t)sizeof(struct softhca_send_wqe) + n;
}

/*
 * Fill sq; max_sge and max_inline are what the QP was granted, clipped here to
 * what the ring's stride holds. Returns EINVAL if the ring header is unusable.
 */
int fp_sq_init(struct fp_sq *sq, struct softhca_ring_hdr *ring, uint32_t qp_type,
	       uint32_t max_sge, uint32_t max_inline, const struct fp_handles *handles);

/*
 * Validate and write the WRs of the list into the ring, then publish them. On the
 * first WR that cannot be posted, stops, sets *bad_wr to it and returns its error;
 * the WRs before it are published all the same. *posted (may be NULL) counts
 * the WQEs published, so the caller knows whether to ring the doorbell.
 */
int fp_post_send(struct fp_sq *sq, struct ibv_send_wr *wr, struct ibv_send_wr **bad_wr,
		 uint32_t *posted);

/* Is this opcode one a QP of this type can post? */
bool fp_opcode_valid(uint32_t qp_type, uint32_t opcode);

/* ---- receive queues ---------------------------------------------------------- */

int fp_rq_init(struct fp_rq *rq, struct softhca_ring_hdr *ring, uint32_t max_sge);

/* As fp_post_send, for receive WRs. */
int fp_post_recv(struct fp_rq *rq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad_wr,
		 uint32_t *posted);

/* ---- completion queues ------------------------------------------------------- */

void fp_cqe_to_wc(const struct softhca_cqe *cqe, struct ibv_wc *wc);

/* Take up to n completions; returns how many (0 when the ring is empty). */
int fp_poll_cq(struct softhca_ring_hdr *cq, int n, struct ibv_wc *wc);

/* The CQE at index idx if the device has published it, else NULL. */
const struct softhca_cqe *fp_cq_peek(struct softhca_ring_hdr *cq, uint32_t idx);

/* The consumer's index (the first CQE not yet taken). */
uint32_t fp_cq_cons(struct softhca_ring_hdr *cq);

/* Hand the entries before new_cons back to the device. */
void fp_cq_release(struct softhca_ring_hdr *cq, uint32_t new_cons);

/* ---- ibv_wr_* builders ----------------------------------------------------------
 * fp_wr_start opens a batch; each fp_wr_<opcode> appends one WQE (taking wr_id
 * and flags from the caller, i.e. ibv_qp_ex.wr_id / wr_flags); the setters patch
 * the last WQE; fp_wr_complete publishes the batch, or, if any step failed,
 * publishes nothing and returns the first error; fp_wr_abort drops the batch.
 */
void fp_wr_start(struct fp_sq *sq);
void fp_wr_rdma(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t opcode,
		uint32_t rkey, uint64_t remote_addr, __be32 imm_data);
void fp_wr_atomic(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t opcode,
		  uint32_t rkey, uint64_t remote_addr, uint64_t compare_add, uint64_t swap);
void fp_wr_send(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t opcode,
		__be32 imm_data, uint32_t invalidate_rkey);
void fp_wr_local_inv(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, uint32_t rkey);
void fp_wr_bind_mw(struct fp_sq *sq, uint64_t wr_id, uint32_t flags, struct ibv_mw *mw,
		   uint32_t rkey, const struct ibv_mw_bind_info *info);
/* An operation the device does not support: fails the batch with err. */
void fp_wr_fail(struct fp_sq *sq, int err);
void fp_wr_set_sge_list(struct fp_sq *sq, size_t n, const struct ibv_sge *sg);
void fp_wr_set_inline_list(struct fp_sq *sq, size_t n, const struct ibv_data_buf *buf);
void fp_wr_set_ud_addr(struct fp_sq *sq, struct ibv_ah *ah, uint32_t remote_qpn,
		       uint32_t remote_qkey);
/* Returns 0 or the batch's error; *posted (may be NULL) counts what was published. */
int  fp_wr_complete(struct fp_sq *sq, uint32_t *posted);
void fp_wr_abort(struct fp_sq *sq);

#endif /* SOFTHCA_PROVIDER_FASTPATH_H */
