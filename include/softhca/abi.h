/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * include/softhca/abi.h - the ABI between a softhca device (the kernel module, or
 * the user-mode host inside the process) and the provider's fast path.
 *
 * The provider and the device share four kinds of rings: the send queue (SQ), the
 * receive queue (RQ), the shared receive queue (SRQ) and the completion queue (CQ).
 * A ring is one contiguous region: a struct softhca_ring_hdr, then `size` entries
 * of `stride` bytes each (size a power of two). The producer writes an entry, then
 * publishes it by a release store of `prod`; the consumer reads `prod` with an
 * acquire load, reads the entry, then publishes its progress by a release store of
 * `cons`. Indices are free-running 32-bit counters (entry = index & (size - 1)).
 * Producer and consumer indices sit on separate cache lines.
 *
 * SQ, RQ, SRQ: the provider produces WQEs, the device consumes them after a
 * doorbell. CQ: the device produces CQEs, the provider consumes them.
 *
 * The device never trusts ring contents: every WQE is validated when consumed and
 * a bad one completes in error (IBV_WC_LOC_QP_OP_ERR); indices out of range mark
 * the queue broken (the QP goes to error). Nothing a process writes into a ring
 * can crash the device.
 *
 * Versions. Structs only grow at the end; sizes travel with requests.
 *   1: the rings below.
 *   2: adds SOFTHCA_CQ_FLAG_ORDERED (create CQ): the device guarantees that a CQE
 *      becomes visible only after every data write of its work request, whatever
 *      its DMA-ordering policy (the 2007 mthca DMA-vs-CQ fix, as an ABI bump). A
 *      provider uses version 2 when the device offers it and falls back to 1.
 *
 * Values of opcodes, flags and statuses are those of libibverbs (enum ibv_*), so
 * the fast path passes them through.
 */
#ifndef SOFTHCA_ABI_H
#define SOFTHCA_ABI_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif

#define SOFTHCA_ABI_VERSION_MIN 1
#define SOFTHCA_ABI_VERSION_MAX 2

#define SOFTHCA_DRIVER_NAME "softhca"
#define SOFTHCA_CACHELINE 64

/* ---- rings -------------------------------------------------------------------- */

struct softhca_ring_hdr {
	uint32_t prod;                 /* written by the producer only */
	uint32_t prod_pad[SOFTHCA_CACHELINE / 4 - 1];
	uint32_t cons;                 /* written by the consumer only */
	uint32_t cons_pad[SOFTHCA_CACHELINE / 4 - 1];
	/* Constant after creation, written by the device. */
	uint32_t size;                 /* entries, a power of two */
	uint32_t stride;               /* bytes per entry, a multiple of 16 */
	uint32_t flags;                /* SOFTHCA_RING_* */
	uint32_t reserved[SOFTHCA_CACHELINE / 4 - 3];
};

#define SOFTHCA_RING_BROKEN (1u << 0)  /* the device stopped consuming (bad index) */

/* The first entry of a ring of this header. */
static inline void *softhca_ring_entry(struct softhca_ring_hdr *h, uint32_t idx)
{
	return (uint8_t *)(h + 1) + (size_t)(idx & (h->size - 1)) * h->stride;
}

/* Bytes of a ring region with size entries of stride bytes. */
static inline uint64_t softhca_ring_bytes(uint32_t size, uint32_t stride)
{
	return sizeof(struct softhca_ring_hdr) + (uint64_t)size * stride;
}

/* ---- work queue entries -------------------------------------------------------- */

struct softhca_sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;
};

/*
 * A send WQE: the fixed part below, then either num_sge struct softhca_sge or
 * inline_len bytes of inline data (SOFTHCA_WQE_INLINE), within the ring's stride.
 * Objects the WR names (address handle, memory window, MR of a bind) are given by
 * the handles the device returned when they were created, never by pointers.
 */
struct softhca_send_wqe {
	uint64_t wr_id;
	uint32_t opcode;               /* enum ibv_wr_opcode */
	uint32_t send_flags;           /* enum ibv_send_flags */
	uint32_t num_sge;
	uint32_t inline_len;
	uint32_t imm_data;             /* network byte order, as ibv_send_wr.imm_data */
	uint32_t invalidate_rkey;
	union {
		struct {
			uint64_t remote_addr;
			uint32_t rkey;
			uint32_t reserved;
		} rdma;
		struct {
			uint64_t remote_addr;
			uint64_t compare_add;
			uint64_t swap;
			uint32_t rkey;
			uint32_t reserved;
		} atomic;
		struct {
			uint32_t ah_handle;
			uint32_t remote_qpn;
			uint32_t remote_qkey;
			uint32_t reserved;
		} ud;
		struct {
			uint32_t mw_handle;
			uint32_t mr_handle;
			uint32_t rkey;         /* the window's new rkey */
			uint32_t access;
			uint64_t addr;
			uint64_t length;
		} bind;
	} wr;
	/* 64 bytes so far; struct softhca_sge[] or inline data follow */
};

struct softhca_recv_wqe {
	uint64_t wr_id;
	uint32_t num_sge;
	uint32_t reserved;
	/* struct softhca_sge[num_sge] follow */
};

/* ---- completion queue entries -------------------------------------------------------- */

struct softhca_cqe {
	uint64_t wr_id;
	uint32_t status;               /* enum ibv_wc_status */
	uint32_t opcode;               /* enum ibv_wc_opcode */
	uint32_t vendor_err;
	uint32_t byte_len;
	uint32_t imm_data;             /* network byte order; or the invalidated rkey */
	uint32_t qp_num;
	uint32_t src_qp;
	uint32_t wc_flags;             /* enum ibv_wc_flags */
	uint16_t pkey_index;
	uint16_t slid;
	uint8_t  sl;
	uint8_t  dlid_path_bits;
	uint16_t reserved;
	uint64_t reserved2;
};                                     /* 56 bytes, stride 64 */

/* ---- object creation (the device's answers) ------------------------------------------- */

/* Create CQ: request flags. SOFTHCA_CQ_FLAG_ORDERED exists from ABI version 2. */
#define SOFTHCA_CQ_FLAG_ORDERED (1u << 0)

struct softhca_create_cq_req {
	uint32_t size;                 /* bytes of this struct the provider knows */
	uint32_t flags;                /* SOFTHCA_CQ_FLAG_*, version 2 */
};

struct softhca_create_cq_resp {
	uint32_t size;
	uint32_t handle;
	uint32_t cqe;                  /* ring entries */
	uint32_t flags;                /* the flags the device honours */
	uint64_t ring_offset;          /* mmap offset of the CQ ring (kernel mode) */
};

struct softhca_create_qp_resp {
	uint32_t size;
	uint32_t handle;
	uint32_t qpn;
	uint32_t sq_size, sq_stride;
	uint32_t rq_size, rq_stride;
	uint32_t reserved;
	uint64_t sq_offset, rq_offset; /* mmap offsets (kernel mode) */
};

struct softhca_alloc_context_resp {
	uint32_t size;
	uint32_t abi_version;          /* the version the device speaks */
	uint32_t max_inline;
	uint32_t reserved;
};

#endif /* SOFTHCA_ABI_H */
