/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/core/internal.h - the engine's objects and the interfaces between its parts.
 *
 * Files of the engine and their one job each:
 *   dev.c     device, port, GID table, counters, key and QPN tables, timers
 *   mem.c     PD, MR, MW: keys, bounds and rights checks, bind and invalidate,
 *             copying to and from registered memory through the host
 *   cq.c      CQ, SRQ, AH objects
 *   qp.c      QP objects, the state machine and its attribute rules, flush
 *   req.c     requester: turns send WQEs into packets (RC, UC, UD)
 *   resp.c    responder: executes incoming requests, sends ACK/NAK/READ responses
 *   comp.c    completer: handles ACK/NAK/READ responses, retries, completes WQEs
 *   dma.c     DMA layer: every write into consumer memory and every CQE
 *   codec.c   RoCEv2 header encoding and validation (wire.h)
 *   icrc.c    ICRC (wire.h)
 *   util.c    small freestanding helpers (memset, PRNG)
 */
#ifndef SOFTHCA_EMU_CORE_INTERNAL_H
#define SOFTHCA_EMU_CORE_INTERNAL_H

#include "emu.h"
#include "wire.h"

#define QPN_BASE 0x11          /* QPNs 0 and 1 are the special QPs of IB */
#define MAX_HDR_BYTES 64       /* BTH + largest set of extended headers */
#define DEFAULT_MAX_UNACKED 128
#define ACKREQ_EVERY 16        /* ask for an ACK at least every this many packets */

#define EMU_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EMU_MAX(a, b) ((a) > (b) ? (a) : (b))
#define EMU_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define EMU_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- util.c ------------------------------------------------------------------ */

void emu_memset(void *dst, int c, size_t n);
/*
 * Eight bytes at a time, in strictly portable C: every access is through uint8_t,
 * which may alias anything, and compilers turn the eight byte loads (stores)
 * into one unaligned 8-byte move. Inline: most sizes are constants (addresses,
 * GIDs, headers) and become a few moves.
 */
static inline uint64_t emu_get_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void emu_put_le64(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	p[4] = (uint8_t)(v >> 32);
	p[5] = (uint8_t)(v >> 40);
	p[6] = (uint8_t)(v >> 48);
	p[7] = (uint8_t)(v >> 56);
}

static inline void emu_memcpy_small(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	for (; n >= 8; n -= 8, d += 8, s += 8)
		emu_put_le64(d, emu_get_le64(s));
	while (n--)
		*d++ = *s++;
}

static inline bool emu_memeq(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n >= 8; n -= 8, x += 8, y += 8)
		if (emu_get_le64(x) != emu_get_le64(y))
			return false;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* Deterministic PRNG value keyed by the device seed and stable identifiers. */
uint64_t emu_rng(uint64_t seed, uint64_t k1, uint64_t k2, uint64_t k3, uint64_t k4);

/* ---- objects --------------------------------------------------------------------- */

struct emu_pd {
	struct emu_dev *dev;
	uint32_t refcount;            /* objects created in this PD */
};

enum emu_mem_kind { EMU_MEM_MR = 1, EMU_MEM_MW = 2 };

/* Common head of MR and MW: both live in the device's key table.
 * A key is (table index << 8) | variable 8-bit key. */
struct emu_mem {
	uint32_t kind;                /* enum emu_mem_kind */
	uint32_t index;
	uint32_t key;                 /* current lkey/rkey */
	struct emu_pd *pd;
};

struct emu_mr {
	struct emu_mem mem;
	uint64_t iova;
	uint64_t length;
	uint32_t access;              /* EMU_ACCESS_* */
	uint32_t mw_count;            /* windows bound to this MR */
	void *cookie;                 /* host's, for mr_map / fault */
};

enum emu_mw_state { EMU_MW_FREE = 0, EMU_MW_BOUND = 1 };

struct emu_mw {
	struct emu_mem mem;
	uint32_t type;                /* enum emu_mw_type */
	uint32_t state;               /* enum emu_mw_state */
	struct emu_mr *mr;            /* bound MR */
	struct emu_qp *qp;            /* type 2: the QP it is bound to */
	uint64_t addr;
	uint64_t length;
	uint32_t access;
};

struct emu_cq {
	struct emu_dev *dev;
	void *cookie;
	uint32_t cqe;
	uint32_t refcount;            /* QPs using it */
	bool error;                   /* overflowed */
	/* DMA layer (dma.c) */
	uint8_t dma_policy;           /* enum emu_dma_policy + 1; 0 = inherit */
	bool dma_ordered;             /* data before CQE whatever the policy */
};

struct emu_ah {
	struct emu_pd *pd;
	struct emu_ah_attr attr;
};

/* A receive WQE (RQ or SRQ slot). sge[] has max_sge entries. */
struct emu_rwqe {
	uint64_t wr_id;
	uint32_t num_sge;
	uint32_t reserved;
	struct emu_sge sge[];
};

/* A ring of fixed-size slots (RQ, SRQ, SQ). head - tail = entries in use. */
struct emu_ring {
	uint8_t *slots;
	uint32_t slot_size;
	uint32_t size;                /* slots (max_wr) */
	uint64_t head;                /* producer count */
	uint64_t tail;                /* consumer count */
};

static inline void *ring_slot(const struct emu_ring *r, uint64_t n)
{
	return r->slots + (size_t)(n % r->size) * r->slot_size;
}
static inline uint32_t ring_count(const struct emu_ring *r) { return (uint32_t)(r->head - r->tail); }

struct emu_srq {
	struct emu_pd *pd;
	void *cookie;
	struct emu_ring rq;
	uint32_t max_sge;
	uint32_t limit;               /* armed when non-zero */
	uint32_t refcount;            /* QPs using it */
};

/* Send WQE states. */
enum wqe_state {
	WQE_POSTED = 0,               /* not yet started by the requester */
	WQE_SENDING,                  /* some packets sent */
	WQE_SENT,                     /* all packets sent, awaiting ACK/response */
	WQE_DONE,                     /* completed (CQE written if signaled) */
};

/* A send WQE (SQ slot): the WR as posted plus the requester's progress.
 * sge[] has max_send_sge entries, followed by max_inline bytes of inline data. */
struct emu_swqe {
	struct emu_send_wr wr;        /* sg_list/inline_data point into this slot */
	uint64_t index;               /* WR index in this QP (stable id) */
	uint32_t state;               /* enum wqe_state */
	uint32_t length;              /* total payload bytes */
	uint32_t first_psn;           /* PSN of the first packet */
	uint32_t last_psn;            /* PSN of the last packet (or last response) */
	uint32_t npkts;               /* packets (or READ responses) of the message */
	uint32_t sent_pkts;           /* packets sent so far (requester cursor) */
	uint32_t read_done;           /* READ: response bytes received so far */
	uint32_t status;              /* completion status once known */
	bool     signaled;
	bool     needs_response;      /* READ or atomic */
	struct emu_sge sge[];
};

/* One responder resource: a READ or atomic kept for replay of duplicates. */
struct emu_resp_res {
	bool     valid;
	bool     atomic;
	uint32_t first_psn;
	uint32_t last_psn;
	/* READ: the request as received */
	uint64_t va;
	uint32_t rkey;
	uint32_t length;
	/* atomic: the value returned */
	uint64_t atomic_orig;
};

struct emu_qp {
	struct emu_dev *dev;
	struct emu_pd *pd;
	void *cookie;
	uint32_t qpn;
	uint32_t type;                /* enum emu_qp_type */
	uint32_t state;               /* enum emu_qp_state */
	struct emu_qp_attr attr;      /* current attributes (state fields excluded) */
	struct emu_cq *scq, *rcq;
	struct emu_srq *srq;
	bool sq_sig_all;
	struct emu_counters cnt;

	/* send queue: tail = oldest not completed, req_next = next to start */
	struct emu_ring sq;
	uint64_t req_next;            /* next WQE the requester starts */
	uint64_t wr_count;            /* WR index source */
	uint32_t max_send_sge;
	uint32_t max_inline;

	/* receive queue (unused with an SRQ) */
	struct emu_ring rq;
	uint32_t max_recv_sge;

	/* ---- requester (req.c) ---- */
	uint32_t req_psn;             /* next PSN to send */
	uint32_t mtu;                 /* path MTU in bytes */
	uint32_t rd_atomic_out;       /* READ/atomic in flight */
	uint32_t pkts_since_ackreq;
	uint32_t req_max_psn;         /* one past the highest PSN ever sent */
	bool     req_started;         /* req_max_psn is meaningful */
	uint16_t udp_sport;

	/* ---- completer (comp.c) ---- */
	uint32_t comp_psn;            /* oldest PSN not yet acknowledged */
	uint32_t retry_left;
	uint32_t rnr_left;
	uint64_t timer_deadline;      /* transport or RNR timer, UINT64_MAX off */
	bool     rnr_wait;            /* timer is the RNR timer */
	bool     rewound;             /* already went back to comp_psn (once per PSN) */
	bool     timer_linked;
	struct emu_qp *timer_next;    /* device list of QPs with a timer */

	/* ---- responder (resp.c) ---- */
	uint32_t resp_epsn;           /* expected PSN */
	uint32_t resp_msn;            /* message sequence number */
	bool     resp_nak_sent;       /* sequence NAK sent for resp_epsn */
	uint32_t resp_op;             /* opcode class of the message in progress (0 = none) */
	bool     resp_in_msg;         /* inside a multi-packet SEND or WRITE */
	bool     resp_have_rwqe;      /* rwqe holds the current receive WQE */
	struct emu_rwqe *rwqe;        /* copy of the receive WQE being filled */
	uint32_t rwqe_off;            /* bytes written into it */
	uint32_t rwqe_len;            /* its total capacity */
	uint64_t resp_va;             /* WRITE in progress: next address */
	uint32_t resp_rkey;
	uint32_t resp_left;           /* bytes still to come */
	uint32_t resp_total;          /* the WRITE's DMA length */
	struct emu_resp_res *res;     /* max_dest_rd_atomic entries */
	uint32_t res_count;
	uint32_t res_next;
	uint32_t uc_drop_msg;         /* UC: drop until the next FIRST/ONLY */
	bool     ack_pending;         /* an ACK of ack_psn waits for the batch's end */
	uint32_t ack_psn;
	struct emu_qp *ack_next;      /* device list of QPs with an ACK pending */

	/* ---- stall (ODP) ---- */
	uint32_t stall;               /* enum emu_stall_reason */

	bool sq_drained_pending;      /* SQD: raise SQ_DRAINED when drained */
	bool last_wqe_reached_sent;

	/* ---- DMA layer (dma.c) ---- */
	uint8_t dma_policy;           /* enum emu_dma_policy + 1; 0 = inherit */
	uint32_t dma_nheld;           /* operations of this QP held */
	struct emu_dma_op *dma_head;  /* this QP's held operations, oldest first */
	struct emu_dma_op *dma_tail;
};

struct emu_dma_op;

struct emu_dev {
	struct emu_host_ops ops;
	struct emu_dev_config cfg;
	struct emu_dev_attr attr;
	uint32_t port_state;
	uint32_t active_mtu;          /* enum emu_mtu */
	uint8_t gid[EMU_GID_TABLE_LEN][16];
	bool gid_valid[EMU_GID_TABLE_LEN];
	struct emu_counters cnt;

	struct emu_qp **qp_tbl;       /* by qpn - QPN_BASE */
	uint32_t qp_next;             /* next slot to try */
	struct emu_mem **key_tbl;     /* MRs and MWs by key index */
	uint32_t key_next;
	uint8_t key_gen;              /* varies the 8-bit key of new MRs */

	uint32_t n_pd, n_cq, n_srq, n_ah, n_qp, n_mr, n_mw;

	struct emu_qp *timer_list;    /* QPs whose timer is armed */
	struct emu_qp *ack_list;      /* QPs with a coalesced ACK to send */
	uint32_t dma_policy;          /* enum emu_dma_policy */
	struct emu_dma_op *dma_head;  /* held writes and completions, oldest first */
	struct emu_dma_op *dma_tail;
	uint32_t dma_nheld;
	uint32_t dma_nready;          /* of them, waiting only for a deferral point */
	bool dma_custom;              /* a non-STRICT policy was set (device, QP or CQ):
				       * until then nothing can be held */
	uint32_t n_stalled;           /* QPs with stall != NONE */
	uint32_t n_odp_mr;            /* MRs with EMU_ACCESS_ON_DEMAND: until there is
				       * one, no probe is needed before a write */
};

/* ---- dev.c ---------------------------------------------------------------------- */

void *emu_alloc(struct emu_dev *dev, size_t size);
void  emu_free(struct emu_dev *dev, void *p);
void  emu_trace(struct emu_dev *dev, uint16_t kind, uint8_t opcode, uint32_t qpn,
		uint32_t psn, uint64_t wr_index, uint64_t a, uint64_t b);
void  emu_event(struct emu_dev *dev, uint32_t type, void *cookie, uint32_t qpn);
void  emu_count_drop(struct emu_dev *dev, struct emu_qp *qp, enum emu_drop_reason why,
		     uint8_t opcode, uint32_t psn);
struct emu_qp *emu_qp_lookup(struct emu_dev *dev, uint32_t qpn);
struct emu_mem *emu_key_lookup(struct emu_dev *dev, uint32_t key);
int  emu_key_alloc(struct emu_dev *dev, struct emu_mem *mem);
void emu_key_free(struct emu_dev *dev, struct emu_mem *mem);
/* Arm (deadline != UINT64_MAX) or disarm the QP's timer. */
void emu_qp_timer_set(struct emu_qp *qp, uint64_t deadline, bool rnr);
bool emu_gid_index_valid(const struct emu_dev *dev, uint32_t index);

/* ---- mem.c ---------------------------------------------------------------------- */

/* Outcome of a key / bounds / rights check or of a memory copy. */
enum mem_result {
	MEM_OK = 0,
	MEM_BAD_KEY,          /* no such key, wrong PD, wrong QP (type 2 MW) */
	MEM_BAD_RANGE,        /* outside the region */
	MEM_BAD_ACCESS,       /* the region does not grant the right */
	MEM_NOT_PRESENT,      /* ODP: fault requested, retry later */
	MEM_FAULT,            /* the host has no memory there */
};

/* A checked, resolved remote or local reference into registered memory. */
struct mem_ref {
	struct emu_mr *mr;
	uint64_t iova;        /* in the MR's address space */
};

/* Resolve rkey for a remote access by qp of [va, va + len) needing access. */
enum mem_result emu_rkey_check(struct emu_qp *qp, uint32_t rkey, uint64_t va,
			       uint64_t len, uint32_t access, struct mem_ref *ref);
/* Resolve one local SGE for qp; access = EMU_ACCESS_LOCAL_WRITE when written. */
enum mem_result emu_lkey_check(struct emu_qp *qp, const struct emu_sge *sge,
			       uint32_t access, struct mem_ref *ref);
/* Copy between registered memory and a buffer (checks already done).
 * MEM_NOT_PRESENT after asking the host to fault the range in. */
enum mem_result emu_mem_read(struct emu_dev *dev, const struct mem_ref *ref, uint32_t off,
			     void *dst, uint32_t len);
/* Walk [iova, iova + len) of mr through the host's mr_map, calling fn (NULL: only
 * map) for each contiguous piece; last is true for the final one. MEM_NOT_PRESENT
 * after asking the host to fault the rest in, MEM_FAULT if not backed. */
typedef void (*emu_chunk_fn)(void *ctx, void *ptr, uint64_t n, bool last);
enum mem_result emu_mem_walk(struct emu_dev *dev, struct emu_mr *mr, uint64_t iova,
			     uint64_t len, bool write, emu_chunk_fn fn, void *ctx);
/* Prepare a write: like read but only maps (for ODP checks before DMA). */
enum mem_result emu_mem_probe(struct emu_dev *dev, const struct mem_ref *ref, uint32_t off,
			      uint32_t len, bool write);
/* ODP: probe the part [off, off + len) of an SG list (every SGE of an ODP MR),
 * asking the host to fault in every absent piece, not only the first:
 * MEM_NOT_PRESENT if something was absent, MEM_FAULT if not backed, or the
 * result of a failed key check. Counts the QP's page faults. */
enum mem_result emu_sgl_probe(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
			      uint32_t off, uint32_t len, bool write);
/* ODP: ask the host to fault in [off, off + len) of an SG list / len bytes of a
 * reference ahead of use, without looking (the rest of a message whose first
 * part faulted). Not counted as page faults: no access met an absent page. */
void emu_sgl_fault_ahead(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
			 uint32_t off, uint32_t len, bool write);
void emu_mem_fault_ahead(struct emu_dev *dev, const struct mem_ref *ref, uint64_t len,
			 bool write);
/* The transport of qp met result r: an absent page is also a page fault of the
 * QP (mr_map's answer counted the device's already). */
static inline enum mem_result emu_qp_mem(struct emu_qp *qp, enum mem_result r)
{
	if (r == MEM_NOT_PRESENT)
		qp->cnt.page_faults++;
	return r;
}
/* Is a probe before writing needed (an ODP MR exists on the device)? */
static inline bool emu_odp_active(const struct emu_dev *dev)
{
	return dev->n_odp_mr != 0;
}
/* Gather len bytes at offset off of a WQE's SG list (already validated). */
enum mem_result emu_sgl_read(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
			     uint32_t off, void *dst, uint32_t len);
/* Bind / invalidate memory windows; results are completion statuses. */
uint32_t emu_mw_bind(struct emu_qp *qp, struct emu_mw *mw, uint32_t new_rkey,
		     const struct emu_mw_bind_info *info);
uint32_t emu_invalidate_rkey(struct emu_qp *qp, uint32_t rkey, bool remote);

/* ---- dma.c ---------------------------------------------------------------------- */

/*
 * The WR a write or CQE belongs to is (QP, queue, index): a receive-side write
 * (SEND, WRITE and atomic data at the responder) carries the message number
 * (resp_msn), a send-side one (READ response data, atomic result at the
 * requester) the send WQE's index or'ed with EMU_DMA_SQ_WR. CQEs need no mark:
 * their opcode tells the queue. Traces show the index without the mark.
 */
#define EMU_DMA_SQ_WR (1ull << 63)

/* Write len bytes at ref (resolved, probed) with the ordering policy of the QP.
 * wr_index, msg_off (where the write starts in the WR's message) and psn are
 * the stable ids of the write: the ordering decisions are keyed by them, never
 * by an address. */
enum mem_result emu_dma_write(struct emu_qp *qp, const struct mem_ref *ref, uint32_t msg_off,
			      const void *src, uint32_t len, uint64_t wr_index, uint32_t psn);
/* Scatter len bytes into an SG list at byte offset off, which is also the
 * offset in the message (receive WQE, READ or atomic destination). */
enum mem_result emu_dma_write_sgl(struct emu_qp *qp, const struct emu_sge *sge,
				  uint32_t nsge, uint32_t off, const void *src, uint32_t len,
				  uint64_t wr_index, uint32_t psn);
/* ODP: [iova, iova + len) of mr is about to be unmapped; held data writes there
 * (and those of the same QP held before them) land now. */
void emu_dma_invalidate(struct emu_dev *dev, const struct emu_mr *mr, uint64_t iova,
			uint64_t len);
/* Apply every held write and completion of qp (before it goes away). */
void emu_dma_flush_qp(struct emu_qp *qp);
/* The receive-side message wr_index of qp ended without a CQE (RDMA WRITE without
 * immediate, atomic): CQE_FIRST lands its held data now. Inline: on every WRITE. */
void emu_dma_land_no_cqe(struct emu_qp *qp, uint64_t wr_index);
static inline void emu_dma_no_cqe(struct emu_qp *qp, uint64_t wr_index)
{
	if (qp->dma_nheld)
		emu_dma_land_no_cqe(qp, wr_index);
}
/* Publish a completion on cq. Handles overflow (CQ error event, QPs to error). */
void emu_dma_cqe(struct emu_qp *qp, struct emu_cq *cq, const struct emu_wc *wc,
		 bool solicited, uint64_t wr_index);

/* ---- cq.c ---------------------------------------------------------------------- */

/* Take the oldest WQE of an SRQ into out (room for srq->max_sge SGEs); raises
 * SRQ_LIMIT_REACHED and disarms when the count falls below an armed limit. */
bool emu_srq_take(struct emu_srq *srq, struct emu_rwqe *out);

/* ---- qp.c ----------------------------------------------------------------------- */

/* Move to ERR (RC, or any type on a fatal error), flush everything, raise ev
 * (or no event if ev < 0). */
void emu_qp_error(struct emu_qp *qp, int ev);
/* Complete WQEs in SQ order from sq.tail while they are DONE or flushable. */
void emu_qp_complete_send(struct emu_qp *qp, struct emu_swqe *wqe, uint32_t status);
/* Take the next receive WQE (RQ or SRQ) into qp->rwqe. false if none. */
bool emu_qp_take_rwqe(struct emu_qp *qp);
void emu_qp_complete_recv(struct emu_qp *qp, const struct emu_wc *wc, bool solicited);
static inline struct emu_swqe *sq_wqe(const struct emu_qp *qp, uint64_t n)
{
	return (struct emu_swqe *)ring_slot(&qp->sq, n);
}
void emu_qp_stall(struct emu_qp *qp, uint32_t reason);
void emu_qp_unstall(struct emu_qp *qp);

/* ---- req.c / comp.c / resp.c ---------------------------------------------------- */

void emu_req_run(struct emu_qp *qp);                 /* send what may be sent */
void emu_req_rewind(struct emu_qp *qp, uint32_t psn); /* go back to psn */
void emu_comp_rx(struct emu_qp *qp, const struct emu_pkt *pkt);
void emu_comp_timer(struct emu_qp *qp);
/* Start the transport timer if packets are outstanding and it is not running. */
void emu_comp_arm_timer(struct emu_qp *qp);
void emu_resp_rx(struct emu_qp *qp, const struct emu_pkt *pkt,
		 const struct emu_netinfo *ni);
/* Send the ACKs coalesced while a batch of packets came in (from run_timers:
 * a pending ACK makes the device's next deadline "now"). */
void emu_resp_flush_acks(struct emu_dev *dev);
void emu_resp_forget_ack(struct emu_qp *qp);
/* Build, checksum and send one packet; payload may be NULL with paylen 0. The
 * payload is produced by fill (called with the packet's payload area). */
typedef enum mem_result (*emu_fill_fn)(void *ctx, uint8_t *dst, uint32_t len);
enum mem_result emu_send_pkt(struct emu_qp *qp, struct emu_pkt *pkt, uint32_t paylen,
			     emu_fill_fn fill, void *ctx, uint64_t wr_index);
/* The same along an explicit path (UD: the WR's address handle); the caller sets
 * pkt->dqpn. emu_send_pkt uses the QP's primary path and destination QP. */
enum mem_result emu_send_pkt_av(struct emu_qp *qp, const struct emu_ah_attr *av,
				struct emu_pkt *pkt, uint32_t paylen, emu_fill_fn fill,
				void *ctx, uint64_t wr_index);
void emu_qp_netinfo(const struct emu_qp *qp, const struct emu_ah_attr *av,
		    struct emu_netinfo *ni);

#endif /* SOFTHCA_EMU_CORE_INTERNAL_H */
