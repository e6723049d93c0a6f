/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/core/emu.h - the engine's API: what a host calls.
 *
 * The objects and verbs mirror the InfiniBand verbs (IBA vol. 1, chapter 11) and
 * their numbering follows libibverbs (enum ibv_*) so that hosts can pass values
 * through unchanged. Return values are 0 or a negative errno (Linux numbering).
 *
 * All calls on one device and its objects must be serialised by the host (see
 * emu/host.h). Completions, events, packets and trace records come back through
 * the host's emu_host_ops, from inside these calls.
 */
#ifndef SOFTHCA_EMU_CORE_EMU_H
#define SOFTHCA_EMU_CORE_EMU_H

#include "../host.h"

/* errno values the engine returns (negated), Linux numbering. */
#define EMU_EPERM      1
#define EMU_ENOENT     2
#define EMU_EAGAIN    11
#define EMU_ENOMEM    12
#define EMU_EACCES    13
#define EMU_EFAULT    14
#define EMU_EBUSY     16
#define EMU_EINVAL    22
#define EMU_ENOSPC    28
#define EMU_ERANGE    34
#define EMU_EOPNOTSUPP 95

struct emu_dev;
struct emu_pd;
struct emu_mr;
struct emu_mw;
struct emu_cq;
struct emu_qp;
struct emu_srq;
struct emu_ah;
struct emu_sge;

/* ---- device ---------------------------------------------------------------- */

#define EMU_GID_TABLE_LEN 16
#define EMU_MAX_SGE       32
#define EMU_MAX_INLINE    256
#define EMU_MAX_RD_ATOMIC 16
#define EMU_PKEY_DEFAULT  0xffff

struct emu_dev_attr {
	uint64_t fw_ver;
	uint64_t node_guid;
	uint64_t max_mr_size;
	uint32_t max_qp;
	uint32_t max_qp_wr;
	uint32_t max_sge;
	uint32_t max_cq;
	uint32_t max_cqe;
	uint32_t max_mr;
	uint32_t max_mw;
	uint32_t max_pd;
	uint32_t max_srq;
	uint32_t max_srq_wr;
	uint32_t max_srq_sge;
	uint32_t max_ah;
	uint32_t max_inline_data;
	uint32_t max_qp_rd_atom;      /* max_rd_atomic a QP may ask for */
	uint32_t max_qp_init_rd_atom; /* max_dest_rd_atomic */
	uint32_t max_pkeys;
	uint32_t vendor_id;
	uint32_t vendor_part_id;
	/* On-demand paging (ibv_odp_caps): EMU_ODP_SUPPORT* and, per transport,
	 * EMU_ODP_SUPPORT_SEND... of the operations that may touch ODP memory. */
	uint64_t odp_general_caps;
	uint32_t odp_rc_caps;
	uint32_t odp_uc_caps;
	uint32_t odp_ud_caps;
};

/* ODP capabilities, numbered as enum ibv_odp_general_caps and
 * enum ibv_odp_transport_cap_bits. */
#define EMU_ODP_SUPPORT          (1u << 0)
#define EMU_ODP_SUPPORT_IMPLICIT (1u << 1)
#define EMU_ODP_SUPPORT_SEND     (1u << 0)
#define EMU_ODP_SUPPORT_RECV     (1u << 1)
#define EMU_ODP_SUPPORT_WRITE    (1u << 2)
#define EMU_ODP_SUPPORT_READ     (1u << 3)
#define EMU_ODP_SUPPORT_ATOMIC   (1u << 4)
#define EMU_ODP_SUPPORT_SRQ_RECV (1u << 5)

struct emu_dev_config {
	uint32_t dev_id;        /* stable identifier, used in traces and PRNG keys */
	uint64_t seed;          /* seed of every decision the engine takes */
	uint64_t node_guid;
	uint32_t port_mtu;      /* active IB MTU of the port: 256..4096 */
	/* Resource limits; 0 = the engine's default. */
	uint32_t max_qp, max_cq, max_mr, max_mw, max_pd, max_srq, max_ah;
	uint32_t max_qp_wr, max_cqe, max_srq_wr;
	/* RC send window in packets (unacknowledged PSNs); 0 = default (128). */
	uint32_t max_unacked_psns;
};

enum emu_port_state { EMU_PORT_DOWN = 1, EMU_PORT_ACTIVE = 4 };

struct emu_port_attr {
	uint32_t state;         /* enum emu_port_state */
	uint32_t max_mtu;       /* enum emu_mtu */
	uint32_t active_mtu;    /* enum emu_mtu */
	uint32_t gid_tbl_len;
	uint32_t pkey_tbl_len;
};

int  emu_dev_create(const struct emu_host_ops *ops, const struct emu_dev_config *cfg,
		    struct emu_dev **out);
void emu_dev_destroy(struct emu_dev *dev);
void emu_dev_query(const struct emu_dev *dev, struct emu_dev_attr *attr);
void emu_port_query(const struct emu_dev *dev, struct emu_port_attr *attr);
/* Port state changes raise PORT_ACTIVE / PORT_ERR. */
void emu_port_set_state(struct emu_dev *dev, enum emu_port_state state);
/* GID table: 16-byte GIDs. An IPv4 address is stored IPv4-mapped. */
int  emu_gid_set(struct emu_dev *dev, uint32_t index, const uint8_t gid[16]);
int  emu_gid_del(struct emu_dev *dev, uint32_t index);
int  emu_gid_query(const struct emu_dev *dev, uint32_t index, uint8_t gid[16]);
/* Helpers for IPv4-mapped GIDs (::ffff:a.b.c.d); ipv4 in network byte order. */
void emu_gid_from_ipv4(uint8_t gid[16], const uint8_t ipv4[4]);
bool emu_gid_is_ipv4(const uint8_t gid[16]);

/*
 * How the ICRC of a packet changes when n consecutive bytes of the stream it
 * covers change by diff (XOR), with tail_bytes of the stream after them: XOR the
 * answer into the ICRC. A host that rewrites header bytes (ports) uses it to
 * correct the ICRC without computing it again.
 */
uint32_t emu_icrc_delta(const uint8_t *diff, size_t n, size_t tail_bytes);

/*
 * A received RoCEv2 datagram: ni describes its IP and UDP headers, pkt is the UDP
 * payload (BTH .. ICRC). The engine validates everything before using any length,
 * and drops (and counts) whatever is malformed. It does not keep pkt.
 */
void emu_dev_rx(struct emu_dev *dev, const struct emu_netinfo *ni,
		const void *pkt, size_t len);

/* Timers: the earliest deadline (host ns) at which emu_dev_run_timers() must be
 * called, or UINT64_MAX if no timer is armed. Hosts ask after every call. */
uint64_t emu_dev_next_deadline(const struct emu_dev *dev);
void     emu_dev_run_timers(struct emu_dev *dev);

/* The host has made (part of) an MR present after fault(): stalled QPs retry. */
void emu_dev_mem_ready(struct emu_dev *dev);

/*
 * The DMA layer's policy: when the writes the HCA makes into consumer memory
 * (payload, READ response data, atomic results) and its completions become
 * visible.
 *   STRICT    - in order, at once (the default). Each write lands after every
 *               earlier one, and its last byte after all its other bytes.
 *   HOLD      - every write and completion is queued, in order, until the host
 *               releases it with emu_dev_dma_release(): the mechanism the ordering
 *               policies build on, usable by tests of visibility.
 *   CQE_FIRST - the CQE of a WR becomes visible before that WR's data; the data is
 *               held until a deferral point (emu_dev_dma_deferral_point) after
 *               its CQE was published. The 2007 DMA-vs-CQ race, every time. Data
 *               of a WR that will have no CQE needs no deferral point: an RDMA
 *               WRITE without immediate or an atomic lands, in order, when its
 *               message ends at the responder; the data of an unsignaled READ or
 *               atomic lands as it arrives at the requester.
 *   RELAXED   - the data of one write (a packet's payload, or its part in one
 *               SGE) lands in 64-byte pieces in a seeded order, and a seeded part
 *               of the pieces (never the write's last one) is held until the next
 *               deferral point. A CQE still follows all the data of its WR (and of
 *               the WRs before it on the same queue): publishing it first lands
 *               what is held.
 *   MIX       - each WR takes STRICT, CQE_FIRST or RELAXED, a seeded choice.
 * Every decision is drawn from emu_rng keyed by the device's seed and dev_id,
 * the QPN, the WR (send or receive queue, WR index / message number), the
 * write's offset in the WR's message, and the piece: never by time or address
 * (nor by an offset in an implicit ODP MR, which is an address), so the same
 * seed makes the same decisions.
 *
 * Which policy applies to a WR: the QP's own setting if it has one, else the
 * setting of the CQ the WR completes to (the send CQ for send WRs, the receive
 * CQ for incoming messages), else the device's. The QP is the most specific: a
 * CQ may be shared by many QPs, a QP's WRs are its own. Whatever the policy, a
 * CQE on an ordered CQ (emu_cq_set_ordered: the ABI 2 fix of the 2007 race)
 * never becomes visible before the data of its WR: CQE_FIRST acts as STRICT
 * for WRs completing there.
 *
 * Changing a policy (device, QP or CQ) first lands, in order, whatever is held
 * under the old one (for the device: everything; for a QP: its writes and CQEs;
 * for a CQ: those of WRs completing there).
 */
enum emu_dma_policy {
	EMU_DMA_STRICT = 0,
	EMU_DMA_HOLD = 1,
	EMU_DMA_CQE_FIRST = 2,
	EMU_DMA_RELAXED = 3,
	EMU_DMA_MIX = 4,
	EMU_DMA_INHERIT = 255,    /* QP, CQ: no setting of its own */
};

/* The seed of every later decision (emu_dev_config.seed at creation); held
 * writes land first. */
void     emu_dev_set_seed(struct emu_dev *dev, uint64_t seed);
uint64_t emu_dev_get_seed(const struct emu_dev *dev);
/* -EINVAL for a value outside the enum, or INHERIT for a device. */
int emu_dev_set_dma_policy(struct emu_dev *dev, enum emu_dma_policy policy);
int emu_qp_set_dma_policy(struct emu_qp *qp, enum emu_dma_policy policy);
int emu_cq_set_dma_policy(struct emu_cq *cq, enum emu_dma_policy policy);
/* The setting itself (INHERIT when a QP or CQ has none). */
enum emu_dma_policy emu_dev_get_dma_policy(const struct emu_dev *dev);
enum emu_dma_policy emu_qp_get_dma_policy(const struct emu_qp *qp);
enum emu_dma_policy emu_cq_get_dma_policy(const struct emu_cq *cq);
/* Ordered CQ (SOFTHCA_CQ_FLAG_ORDERED of ABI 2): data before CQE, always. */
int  emu_cq_set_ordered(struct emu_cq *cq, bool ordered);
bool emu_cq_ordered(const struct emu_cq *cq);
/*
 * Does the data of every WQE of qp become visible in ascending order with its
 * last byte last, under the policies that apply to it now (both queues)? True
 * for STRICT, HOLD and CQE_FIRST (held data lands in order), false for RELAXED
 * and MIX. What ibv_query_qp_data_in_order answers (as a whole message).
 */
bool emu_qp_data_in_order(const struct emu_qp *qp);
/*
 * A deferral point: the consumer has gone on after polling (user mode: the
 * program's next verbs call on the device). Lands, oldest first, every held
 * data write whose CQE has been published (CQE_FIRST) and every piece RELAXED
 * held back; returns how many writes (pieces) became visible.
 */
uint32_t emu_dev_dma_deferral_point(struct emu_dev *dev);
/* Make up to max held writes/completions visible, oldest first, whatever held
 * them; returns how many. */
uint32_t emu_dev_dma_release(struct emu_dev *dev, uint32_t max);
/* Writes and completions held now (every policy). */
uint32_t emu_dev_dma_held(const struct emu_dev *dev);

/*
 * Trace records of the DMA layer (emu/host.h): EMU_TR_DMA_WRITE (a write made
 * visible) and EMU_TR_DMA_HOLD (a write held back) have a = bytes and
 *   b = EMU_DMA_TR_* flags | policy that placed it << 8 | byte offset in its write << 32
 * (b = 0 for a STRICT write). EMU_TR_DMA_CQE_FIRST precedes the EMU_TR_CQE of a
 * completion made visible before its WR's data (a = writes of that WR still held);
 * EMU_TR_DMA_DEFERRAL marks a deferral point that landed a > 0 writes.
 */
#define EMU_DMA_TR_HELD       (1u << 0)  /* was held back, lands now */
#define EMU_DMA_TR_REORDERED  (1u << 1)  /* lands before a lower offset of its write */
#define EMU_DMA_TR_AFTER_CQE  (1u << 2)  /* the CQE of its WR is already visible */

/* ---- counters -------------------------------------------------------------- */

enum emu_drop_reason {
	EMU_DROP_SHORT = 0,      /* shorter than the headers its opcode needs */
	EMU_DROP_OPCODE,         /* unknown or unsupported opcode */
	EMU_DROP_VERSION,        /* BTH transport header version not 0 */
	EMU_DROP_PAD,            /* pad/length inconsistent with the opcode */
	EMU_DROP_LENGTH,         /* payload length beyond packet or MTU */
	EMU_DROP_ICRC,           /* ICRC mismatch */
	EMU_DROP_PKEY,           /* P_Key mismatch */
	EMU_DROP_QKEY,           /* Q_Key mismatch (UD) */
	EMU_DROP_QPN,            /* no such QP */
	EMU_DROP_QP_STATE,       /* QP in a state that does not receive */
	EMU_DROP_QP_TYPE,        /* opcode class does not match the QP type */
	EMU_DROP_DGID,           /* destination is not a local GID */
	EMU_DROP_PSN,            /* out of window / unexpected (UC, UD, stale ACK) */
	EMU_DROP_NO_RECV,        /* UD/UC: no receive WQE */
	EMU_DROP_MCAST,          /* multicast not supported */
	EMU_DROP_REASONS
};

struct emu_counters {
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_acks, rx_acks;
	uint64_t tx_naks, rx_naks;          /* NAKs other than RNR */
	uint64_t tx_rnr_naks, rx_rnr_naks;
	uint64_t retransmits;               /* packets sent again */
	uint64_t timeouts;                  /* transport timer expirations */
	uint64_t duplicate_requests;        /* answered again by the responder */
	uint64_t seq_errors;                /* PSN sequence errors seen */
	uint64_t rx_drops;                  /* total of drops[] */
	uint64_t drops[EMU_DROP_REASONS];
	uint64_t completions, completion_errors;
	uint64_t dma_writes, dma_bytes;     /* made visible (RELAXED: per piece) */
	uint64_t dma_held;                  /* writes and CQEs queued by the policy */
	uint64_t dma_lost;                  /* held writes whose region vanished */
	uint64_t dma_deferred;              /* writes (pieces) held by CQE_FIRST/RELAXED */
	uint64_t dma_reordered;             /* pieces landed before a lower offset of their write */
	uint64_t dma_cqe_early;             /* CQEs made visible before their WR's data */
	uint64_t page_faults;               /* ODP: mr_map answered not present (each
					     * one a fault() request to the host) */
	/* ODP (see "On-demand paging" below) */
	uint64_t odp_stalls;                /* the send side stopped on an absent page of
					     * its own (payload gather, READ/atomic
					     * result scatter) until emu_dev_mem_ready */
	uint64_t odp_rnr_naks;              /* RNR NAKs sent because a page of the
					     * responder was absent (also in tx_rnr_naks) */
	uint64_t odp_invalidations;         /* emu_mr_invalidate calls (device only) */
	uint64_t odp_prefetches;            /* fault() requests made by emu_advise_mr
					     * (device only; not in page_faults) */
	uint64_t odp_unbacked;              /* accesses mr_map answered "not backed"
					     * (a negative errno): access errors */
};

void emu_dev_counters(const struct emu_dev *dev, struct emu_counters *out);
void emu_qp_counters(const struct emu_qp *qp, struct emu_counters *out);
const char *emu_drop_reason_name(enum emu_drop_reason r);
/* Short name of a trace record kind ("tx", "dma-hold"...), NULL if unknown. */
const char *emu_trace_kind_name(uint32_t kind);

/* ---- protection domains, memory regions, memory windows --------------------- */

/* Access flags, numbered as enum ibv_access_flags. */
#define EMU_ACCESS_LOCAL_WRITE   (1u << 0)
#define EMU_ACCESS_REMOTE_WRITE  (1u << 1)
#define EMU_ACCESS_REMOTE_READ   (1u << 2)
#define EMU_ACCESS_REMOTE_ATOMIC (1u << 3)
#define EMU_ACCESS_MW_BIND       (1u << 4)
#define EMU_ACCESS_ZERO_BASED    (1u << 5)
#define EMU_ACCESS_ON_DEMAND     (1u << 6)
#define EMU_ACCESS_RELAXED_ORDERING (1u << 20)

int  emu_alloc_pd(struct emu_dev *dev, struct emu_pd **out);
int  emu_dealloc_pd(struct emu_pd *pd);   /* -EBUSY while objects use it */

/* Register [iova, iova + length). mr_cookie identifies the memory to the host
 * (emu_host_ops.mr_map). */
int  emu_reg_mr(struct emu_pd *pd, uint64_t iova, uint64_t length, uint32_t access,
		void *mr_cookie, struct emu_mr **out);
int  emu_dereg_mr(struct emu_mr *mr);     /* -EBUSY while a MW is bound to it */
/* Re-register in place (ibv_rereg_mr): the MR now covers [iova, iova + length)
 * of the memory mr_cookie names, in pd, with access; its keys stay. Data the
 * DMA layer holds for the old range lands first. -EBUSY while a MW is bound to
 * it; -EINVAL for arguments emu_reg_mr refuses, for a pd of another device, or
 * for on-demand paging on either side (an ODP MR's pages are the host's page
 * model, which a re-registration would have to rebuild). */
int  emu_rereg_mr(struct emu_mr *mr, struct emu_pd *pd, uint64_t iova, uint64_t length,
		  uint32_t access, void *mr_cookie);
uint32_t emu_mr_lkey(const struct emu_mr *mr);
uint32_t emu_mr_rkey(const struct emu_mr *mr);

/*
 * On-demand paging. An MR registered with EMU_ACCESS_ON_DEMAND is not pinned:
 * mr_map may answer EMU_MAP_NOT_PRESENT for any part of it, and implicit ODP is
 * the whole address space (iova 0, length UINT64_MAX, EMU_ACCESS_ON_DEMAND; the
 * engine refuses that length without it). What the engine does with an answer:
 *   - requester, reading a SEND/WRITE payload or writing a READ response or an
 *     atomic result: the QP's send side stalls (odp_stalls), fault() is asked,
 *     and the QP goes on where it stopped at emu_dev_mem_ready(). Before a WQE
 *     starts, all of its SG list is probed so that one stall faults all of it
 *     (as mlx5 faults every data segment of a WQE). A READ response or atomic
 *     result that meets an absent page is asked for again from the responder
 *     (whose resource cache answers a retried atomic without executing it twice).
 *   - responder, for an incoming SEND, WRITE, READ or atomic: RNR NAK
 *     (odp_rnr_naks), fault() for the rest of the message; nothing of that
 *     packet is executed or written, the receive WQE stays with the QP for the
 *     retry, and later packets are dropped without a sequence NAK until the
 *     retried one arrives. The requester treats it as any RNR NAK: it waits the
 *     RNR timer and it counts against rnr_retry (a requester cannot tell why a
 *     responder was not ready; with ODP, use rnr_retry 7 as on mlx5). UD and UC
 *     have no RNR: the datagram or the message is dropped.
 *   - a negative errno (nothing backs the range): requester LOC_PROT_ERR (as
 *     mlx5); responder REM_ACCESS_ERR NAK for WRITE/READ/atomic, and for a SEND
 *     the receive WQE completes LOC_PROT_ERR and the requester REM_OP_ERR.
 */
/* The host is about to make [iova, iova + len) of an ODP MR absent (an mmu
 * notifier, a simulated invalidation). Data writes the DMA layer still holds
 * for that range land first, as a real HCA finishes its in-flight DMA before an
 * invalidation completes; later accesses fault. -EINVAL if mr is not ODP.
 * The range is what goes absent: a host that unmaps whole pages passes the
 * whole pages, or data held for the rest of a page is lost (dma_lost). */
int  emu_mr_invalidate(struct emu_mr *mr, uint64_t iova, uint64_t len);
/* ibv_advise_mr: prefetch [sge->addr, + sge->length) of the ODP MR sge->lkey
 * names in pd: fault() is asked for what is absent (odp_prefetches), unless
 * EMU_ADVISE_NO_FAULT. Asynchronous: the host calls emu_dev_mem_ready when done.
 * -ENOENT: no ODP MR of pd has that key; -EINVAL: outside the MR, unknown
 * flags; -EACCES: EMU_ADVISE_WRITE on an MR without LOCAL_WRITE; -EFAULT:
 * part of the range is not backed. */
#define EMU_ADVISE_WRITE    (1u << 0)   /* IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE */
#define EMU_ADVISE_NO_FAULT (1u << 1)   /* IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT */
int  emu_advise_mr(struct emu_pd *pd, const struct emu_sge *sge, uint32_t flags);

enum emu_mw_type { EMU_MW_TYPE_1 = 1, EMU_MW_TYPE_2 = 2 };
int  emu_alloc_mw(struct emu_pd *pd, enum emu_mw_type type, struct emu_mw **out);
int  emu_dealloc_mw(struct emu_mw *mw);
uint32_t emu_mw_rkey(const struct emu_mw *mw);

/* ---- completion queues -------------------------------------------------------- */

/* Work completion status, numbered as enum ibv_wc_status. */
enum emu_wc_status {
	EMU_WC_SUCCESS = 0,
	EMU_WC_LOC_LEN_ERR,
	EMU_WC_LOC_QP_OP_ERR,
	EMU_WC_LOC_EEC_OP_ERR,
	EMU_WC_LOC_PROT_ERR,
	EMU_WC_WR_FLUSH_ERR,
	EMU_WC_MW_BIND_ERR,
	EMU_WC_BAD_RESP_ERR,
	EMU_WC_LOC_ACCESS_ERR,
	EMU_WC_REM_INV_REQ_ERR,
	EMU_WC_REM_ACCESS_ERR,
	EMU_WC_REM_OP_ERR,
	EMU_WC_RETRY_EXC_ERR,
	EMU_WC_RNR_RETRY_EXC_ERR,
	EMU_WC_LOC_RDD_VIOL_ERR,
	EMU_WC_REM_INV_RD_REQ_ERR,
	EMU_WC_REM_ABORT_ERR,
	EMU_WC_INV_EECN_ERR,
	EMU_WC_INV_EEC_STATE_ERR,
	EMU_WC_FATAL_ERR,
	EMU_WC_RESP_TIMEOUT_ERR,
	EMU_WC_GENERAL_ERR,
};

/* Work completion opcode, numbered as enum ibv_wc_opcode. */
enum emu_wc_opcode {
	EMU_WC_SEND = 0,
	EMU_WC_RDMA_WRITE,
	EMU_WC_RDMA_READ,
	EMU_WC_COMP_SWAP,
	EMU_WC_FETCH_ADD,
	EMU_WC_BIND_MW,
	EMU_WC_LOCAL_INV,
	EMU_WC_RECV = 128,
	EMU_WC_RECV_RDMA_WITH_IMM,
};

/* wc_flags, numbered as enum ibv_wc_flags. */
#define EMU_WC_WITH_GRH (1u << 0)
#define EMU_WC_WITH_IMM (1u << 1)
#define EMU_WC_WITH_INV (1u << 3)

struct emu_wc {
	uint64_t wr_id;
	uint32_t status;        /* enum emu_wc_status */
	uint32_t opcode;        /* enum emu_wc_opcode */
	uint32_t vendor_err;
	uint32_t byte_len;
	uint32_t imm_data;      /* host order; valid with EMU_WC_WITH_IMM */
	uint32_t invalidated_rkey; /* valid with EMU_WC_WITH_INV */
	uint32_t qp_num;
	uint32_t src_qp;        /* UD */
	uint32_t wc_flags;
	uint16_t pkey_index;
	uint8_t  sl;
	uint8_t  reserved;
	void    *qp_cookie;     /* host cookie of the QP the completion belongs to */
};

/* cq_cookie identifies the CQ to the host (emu_host_ops.cq_post). */
int  emu_create_cq(struct emu_dev *dev, uint32_t cqe, void *cq_cookie,
		   struct emu_cq **out);
int  emu_destroy_cq(struct emu_cq *cq);   /* -EBUSY while a QP uses it */
int  emu_resize_cq(struct emu_cq *cq, uint32_t cqe);
bool emu_cq_in_error(const struct emu_cq *cq);

/* ---- shared receive queues ------------------------------------------------------ */

struct emu_sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;
};

struct emu_recv_wr {
	uint64_t wr_id;
	uint32_t num_sge;
	const struct emu_sge *sg_list;
};

struct emu_srq_attr {
	uint32_t max_wr;
	uint32_t max_sge;
	uint32_t srq_limit;
};

#define EMU_SRQ_MAX_WR (1u << 0)
#define EMU_SRQ_LIMIT  (1u << 1)

int  emu_create_srq(struct emu_pd *pd, const struct emu_srq_attr *attr,
		    void *srq_cookie, struct emu_srq **out);
int  emu_modify_srq(struct emu_srq *srq, const struct emu_srq_attr *attr, uint32_t mask);
int  emu_query_srq(const struct emu_srq *srq, struct emu_srq_attr *attr);
int  emu_destroy_srq(struct emu_srq *srq);
int  emu_post_srq_recv(struct emu_srq *srq, const struct emu_recv_wr *wr);

/* ---- address handles ------------------------------------------------------------ */

struct emu_ah_attr {
	uint8_t  dgid[16];
	uint32_t flow_label;
	uint8_t  sgid_index;
	uint8_t  hop_limit;
	uint8_t  traffic_class;
	uint8_t  sl;
	uint8_t  port_num;
	uint8_t  is_global;    /* RoCE always uses a GRH; accepted either way */
};

int  emu_create_ah(struct emu_pd *pd, const struct emu_ah_attr *attr, struct emu_ah **out);
int  emu_destroy_ah(struct emu_ah *ah);

/* ---- queue pairs ------------------------------------------------------------------ */

enum emu_qp_type { EMU_QPT_RC = 2, EMU_QPT_UC = 3, EMU_QPT_UD = 4 };

enum emu_qp_state {
	EMU_QPS_RESET = 0, EMU_QPS_INIT, EMU_QPS_RTR, EMU_QPS_RTS,
	EMU_QPS_SQD, EMU_QPS_SQE, EMU_QPS_ERR,
};

/* Path MTU, numbered as enum ibv_mtu. */
enum emu_mtu { EMU_MTU_256 = 1, EMU_MTU_512, EMU_MTU_1024, EMU_MTU_2048, EMU_MTU_4096 };

static inline uint32_t emu_mtu_bytes(uint32_t mtu) { return (mtu >= 1 && mtu <= 5) ? 128u << mtu : 0; }

struct emu_qp_cap {
	uint32_t max_send_wr;
	uint32_t max_recv_wr;
	uint32_t max_send_sge;
	uint32_t max_recv_sge;
	uint32_t max_inline_data;
};

struct emu_qp_init_attr {
	uint32_t qp_type;          /* enum emu_qp_type */
	struct emu_cq  *send_cq;
	struct emu_cq  *recv_cq;
	struct emu_srq *srq;       /* optional */
	struct emu_qp_cap cap;     /* in: requested; out: granted */
	bool sq_sig_all;
};

/* Attribute mask, numbered as enum ibv_qp_attr_mask. */
#define EMU_QP_STATE               (1u << 0)
#define EMU_QP_CUR_STATE           (1u << 1)
#define EMU_QP_EN_SQD_ASYNC_NOTIFY (1u << 2)
#define EMU_QP_ACCESS_FLAGS        (1u << 3)
#define EMU_QP_PKEY_INDEX          (1u << 4)
#define EMU_QP_PORT                (1u << 5)
#define EMU_QP_QKEY                (1u << 6)
#define EMU_QP_AV                  (1u << 7)
#define EMU_QP_PATH_MTU            (1u << 8)
#define EMU_QP_TIMEOUT             (1u << 9)
#define EMU_QP_RETRY_CNT           (1u << 10)
#define EMU_QP_RNR_RETRY           (1u << 11)
#define EMU_QP_RQ_PSN              (1u << 12)
#define EMU_QP_MAX_QP_RD_ATOMIC    (1u << 13)
#define EMU_QP_ALT_PATH            (1u << 14)
#define EMU_QP_MIN_RNR_TIMER       (1u << 15)
#define EMU_QP_SQ_PSN              (1u << 16)
#define EMU_QP_MAX_DEST_RD_ATOMIC  (1u << 17)
#define EMU_QP_PATH_MIG_STATE      (1u << 18)
#define EMU_QP_CAP                 (1u << 19)
#define EMU_QP_DEST_QPN            (1u << 20)

struct emu_qp_attr {
	uint32_t qp_state;
	uint32_t cur_qp_state;
	uint32_t path_mtu;          /* enum emu_mtu */
	uint32_t qkey;
	uint32_t rq_psn;
	uint32_t sq_psn;
	uint32_t dest_qp_num;
	uint32_t qp_access_flags;   /* REMOTE_WRITE/READ/ATOMIC */
	uint16_t pkey_index;
	uint8_t  en_sqd_async_notify;
	uint8_t  sq_draining;
	uint8_t  max_rd_atomic;
	uint8_t  max_dest_rd_atomic;
	uint8_t  min_rnr_timer;     /* IB encoding, 5 bits */
	uint8_t  port_num;
	uint8_t  timeout;           /* 4.096 us * 2^timeout; 0 = infinite */
	uint8_t  retry_cnt;         /* 0..7 */
	uint8_t  rnr_retry;         /* 0..7, 7 = infinite */
	struct emu_ah_attr ah_attr;
	struct emu_qp_cap cap;
};

int  emu_create_qp(struct emu_pd *pd, struct emu_qp_init_attr *attr, void *qp_cookie,
		   struct emu_qp **out);
int  emu_modify_qp(struct emu_qp *qp, const struct emu_qp_attr *attr, uint32_t mask);
int  emu_query_qp(const struct emu_qp *qp, struct emu_qp_attr *attr);
int  emu_destroy_qp(struct emu_qp *qp);
uint32_t emu_qp_num(const struct emu_qp *qp);
uint32_t emu_qp_state(const struct emu_qp *qp);

/*
 * The attribute rules of IBA 11.2.4 / Linux ib_modify_qp_is_ok: may a QP of type
 * qp_type go from cur to next with exactly the attributes in mask?
 */
bool emu_modify_qp_is_ok(uint32_t qp_type, uint32_t cur, uint32_t next, uint32_t mask);

/* Send opcodes, numbered as enum ibv_wr_opcode. */
enum emu_wr_opcode {
	EMU_WR_RDMA_WRITE = 0,
	EMU_WR_RDMA_WRITE_WITH_IMM,
	EMU_WR_SEND,
	EMU_WR_SEND_WITH_IMM,
	EMU_WR_RDMA_READ,
	EMU_WR_ATOMIC_CMP_AND_SWP,
	EMU_WR_ATOMIC_FETCH_AND_ADD,
	EMU_WR_LOCAL_INV,
	EMU_WR_BIND_MW,
	EMU_WR_SEND_WITH_INV,
};

/* Send flags, numbered as enum ibv_send_flags. */
#define EMU_SEND_FENCE     (1u << 0)
#define EMU_SEND_SIGNALED  (1u << 1)
#define EMU_SEND_SOLICITED (1u << 2)
#define EMU_SEND_INLINE    (1u << 3)

struct emu_mw_bind_info {
	struct emu_mr *mr;
	uint64_t addr;
	uint64_t length;
	uint32_t access;       /* remote rights granted through the window */
};

struct emu_send_wr {
	uint64_t wr_id;
	uint32_t opcode;        /* enum emu_wr_opcode */
	uint32_t send_flags;
	uint32_t num_sge;
	const struct emu_sge *sg_list;
	/* With EMU_SEND_INLINE: the payload, copied at post time (sg_list unused). */
	const void *inline_data;
	uint32_t inline_len;
	uint32_t imm_data;      /* host order */
	uint32_t invalidate_rkey; /* SEND_WITH_INV, LOCAL_INV */
	union {
		struct { uint64_t remote_addr; uint32_t rkey; } rdma;
		struct { uint64_t remote_addr; uint64_t compare_add; uint64_t swap;
			 uint32_t rkey; } atomic;
		struct { struct emu_ah *ah; uint32_t remote_qpn; uint32_t remote_qkey; } ud;
		struct { struct emu_mw *mw; uint32_t rkey; /* new rkey (key byte) */
			 struct emu_mw_bind_info info; } bind;
	} wr;
};

/* Post one WR. Errors (bad opcode, too many SGEs, full queue, wrong state) are
 * returned at once and nothing is queued. */
int  emu_post_send(struct emu_qp *qp, const struct emu_send_wr *wr);
int  emu_post_recv(struct emu_qp *qp, const struct emu_recv_wr *wr);

/* Type 1 memory window bind (ibv_bind_mw): done at once, through the QP for
 * ordering; completes with a BIND_MW completion if signaled. */
int  emu_bind_mw_type1(struct emu_qp *qp, struct emu_mw *mw, uint64_t wr_id,
		       uint32_t send_flags, const struct emu_mw_bind_info *info,
		       uint32_t *new_rkey);

/* Async event types, numbered as enum ibv_event_type. */
enum emu_event_type {
	EMU_EVENT_CQ_ERR = 0,
	EMU_EVENT_QP_FATAL,
	EMU_EVENT_QP_REQ_ERR,
	EMU_EVENT_QP_ACCESS_ERR,
	EMU_EVENT_COMM_EST,
	EMU_EVENT_SQ_DRAINED,
	EMU_EVENT_PATH_MIG,
	EMU_EVENT_PATH_MIG_ERR,
	EMU_EVENT_DEVICE_FATAL,
	EMU_EVENT_PORT_ACTIVE,
	EMU_EVENT_PORT_ERR,
	EMU_EVENT_LID_CHANGE,
	EMU_EVENT_PKEY_CHANGE,
	EMU_EVENT_SM_CHANGE,
	EMU_EVENT_SRQ_ERR,
	EMU_EVENT_SRQ_LIMIT_REACHED,
	EMU_EVENT_QP_LAST_WQE_REACHED,
};

/* Stall reasons (a QP waiting on its host). */
enum emu_stall_reason {
	EMU_STALL_NONE = 0,
	EMU_STALL_PAGE_FAULT,    /* an ODP page is not present */
};

#endif /* SOFTHCA_EMU_CORE_EMU_H */
