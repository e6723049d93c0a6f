/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * include/softhca/softhcadv.h - softhca direct verbs: what a verbs program can ask
 * of a softhca device beyond libibverbs, in the spirit of mlx5dv.h.
 *
 * Link with -lsofthcadv (libsofthcadv.so.1). The library holds no HCA code: at
 * run time it looks for the implementation inside the libibverbs.so.1 the
 * program uses. Under `softhca run` (the user-mode drop-in) it finds it; on
 * Debian's own libibverbs, with real hardware or rdma_rxe, it does not, and then
 * softhcadv_is_softhca() answers false and every other call returns EOPNOTSUPP.
 * So one binary runs everywhere and asks softhcadv_is_softhca() before relying
 * on anything here.
 *
 * Every call returns 0 or a positive errno (errno itself is left alone):
 *   EINVAL      a NULL object, an unknown value, or a value the object cannot take
 *               (INHERIT for a device), or an output buffer too small;
 *   EOPNOTSUPP  the object is not a softhca one, or this softhca lacks the call
 *               (an older drop-in than this library) or the setting asked
 *               (a comp_mask bit it does not know).
 * Calls are thread-safe: they take the device's lock like any verbs call.
 *
 * DMA ordering (see docs/usermode.md and emu/core/emu.h): every write the HCA
 * makes into the program's memory, and every CQE, goes through a policy that
 * decides when it becomes visible. The policy of a work request is the QP's own
 * setting, else that of the CQ it completes to, else the device's. On an ordered
 * CQ (ABI 2, the default of `softhca run`: the fix of the 2007 race) a CQE never
 * shows before its data, whatever the policy: use `softhca run --abi 1` to see
 * cqe-first on such a CQ. Changing a policy first lands, in order, whatever the
 * old one held back. `softhca run --order` and SOFTHCA_ORDER set the device's
 * policy at open; these calls change it, and the QPs' and CQs', afterwards.
 *
 * Versioning: new calls and enum values are only ever added; struct
 * softhcadv_counters only grows at its end and travels with its size.
 */
#ifndef SOFTHCA_SOFTHCADV_H
#define SOFTHCA_SOFTHCADV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the device ------------------------------------------------------------------ */

/* Is ctx a context of a softhca device (the user-mode drop-in)? false for NULL. */
bool softhcadv_is_softhca(struct ibv_context *ctx);

/* ---- DMA ordering ------------------------------------------------------------------ */

enum softhcadv_order {
	SOFTHCADV_ORDER_INHERIT = 0,   /* QP, CQ: no setting of its own (the default) */
	SOFTHCADV_ORDER_STRICT = 1,    /* data in order, at once, before its CQE */
	SOFTHCADV_ORDER_CQE_FIRST = 2, /* the CQE shows before its data; the data lands
					* at the program's next verbs call after it
					* polled that CQE */
	SOFTHCADV_ORDER_RELAXED = 3,   /* a message's data lands in a seeded order,
					* part of it at the next verbs call */
	SOFTHCADV_ORDER_MIX = 4,       /* each WR one of the three, a seeded choice */
};

int softhcadv_set_dev_order(struct ibv_context *ctx, enum softhcadv_order order);
int softhcadv_set_qp_order(struct ibv_qp *qp, enum softhcadv_order order);
int softhcadv_set_cq_order(struct ibv_cq *cq, enum softhcadv_order order);
/* The setting itself: INHERIT for a QP or CQ without one. */
int softhcadv_get_dev_order(struct ibv_context *ctx, enum softhcadv_order *order);
int softhcadv_get_qp_order(struct ibv_qp *qp, enum softhcadv_order *order);
int softhcadv_get_cq_order(struct ibv_cq *cq, enum softhcadv_order *order);
/* Is the CQ ordered (ABI 2: never a CQE before its data)? */
int softhcadv_get_cq_ordered(struct ibv_cq *cq, bool *ordered);

/*
 * The policy's name as `softhca run --order` spells it ("strict", "cqe-first",
 * "relaxed", "mix"; "inherit"), NULL for an unknown value; and back (0 or
 * EINVAL). These two need no device and work everywhere.
 */
const char *softhcadv_order_name(enum softhcadv_order order);
int softhcadv_order_from_name(const char *name, enum softhcadv_order *order);

/*
 * The seed of every later decision of the device (as `softhca run --seed` sets
 * it at open). Held data lands first. Decisions are keyed by the seed and by
 * stable identifiers (device, QPN, WR, offset), so the same seed set before the
 * same traffic gives the same decisions.
 */
int softhcadv_set_seed(struct ibv_context *ctx, uint64_t seed);
int softhcadv_get_seed(struct ibv_context *ctx, uint64_t *seed);

/*
 * A deferral point, as the program's next verbs call would make: lands the data
 * held back (cqe-first, relaxed) once every CQE that may have come before its
 * data has been polled. Returns 0 whether or not anything landed.
 */
int softhcadv_deferral_point(struct ibv_context *ctx);

/* ---- counters ------------------------------------------------------------------------- */

/*
 * The device's counters since it opened (or a QP's, where noted). Versioned by
 * size: pass sizeof(struct softhcadv_counters) as outlen. The library fills the
 * fields it knows that fit in outlen, zeroes the rest of the outlen bytes and
 * sets `size` to the bytes it filled; a field at or past `size` was not filled.
 * outlen below offsetof(struct softhcadv_counters, tx_packets) + 8 is EINVAL.
 * New fields are only added at the end.
 */
struct softhcadv_counters {
	uint32_t size;                  /* out: bytes filled, header included */
	uint32_t reserved;
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_acks, rx_acks;
	uint64_t tx_naks, rx_naks;      /* NAKs other than RNR */
	uint64_t tx_rnr_naks, rx_rnr_naks;
	uint64_t retransmits;           /* packets sent again */
	uint64_t timeouts;              /* transport timer expirations */
	uint64_t duplicate_requests;    /* answered again by the responder */
	uint64_t seq_errors;            /* PSN sequence errors seen */
	uint64_t rx_drops;              /* received packets dropped, every reason */
	/* ... by reason */
	uint64_t drop_short, drop_opcode, drop_version, drop_pad, drop_length;
	uint64_t drop_icrc, drop_pkey, drop_qkey, drop_qpn, drop_qp_state;
	uint64_t drop_qp_type, drop_dgid, drop_psn, drop_no_recv, drop_mcast;
	uint64_t completions, completion_errors;
	/* The DMA-ordering layer */
	uint64_t dma_writes, dma_bytes; /* writes made visible (relaxed: per piece) */
	uint64_t dma_held;              /* writes and CQEs queued by a policy */
	uint64_t dma_deferred;          /* writes (pieces) held by cqe-first/relaxed */
	uint64_t dma_reordered;         /* pieces landed before a lower offset */
	uint64_t dma_cqe_early;         /* CQEs made visible before their WR's data */
	uint64_t dma_lost;              /* held writes whose memory vanished */
	uint64_t page_faults;           /* on-demand paging: pages found absent */
	/* The UDP layer (device only; 0 for a QP) */
	uint64_t net_rx_datagrams, net_tx_datagrams, net_rx_errors, net_tx_errors;
	uint64_t net_rx_short;
	/* On-demand paging in the engine (page_faults above is its count of
	 * accesses that found a page absent, each one a fault asked of the host) */
	uint64_t odp_stalls;            /* the send side stopped on an absent page */
	uint64_t odp_rnr_naks;          /* RNR NAKs sent for an absent page (also in
					 * tx_rnr_naks) */
	uint64_t odp_invalidations;     /* invalidations of a range (device only):
					 * injected ones and softhcadv_mr_invalidate */
	uint64_t odp_prefetches;        /* faults asked by ibv_advise_mr (device only) */
	uint64_t odp_unbacked;          /* accesses to unmapped or protected memory:
					 * access errors */
	/* ... and in the host's page model (device only; 0 for a QP) */
	uint64_t odp_fault_requests;    /* distinct faults asked */
	uint64_t odp_fault_pages;       /* pages faults made present */
	uint64_t odp_fault_errors;      /* faults that met unmapped/protected memory */
	uint64_t odp_access_errors;     /* accesses answered "failed page" */
	uint64_t odp_first_touch_pages; /* pages present at first touch (prefault) */
	uint64_t odp_injected_invalidations; /* seeded: all present pages of one MR */
	uint64_t odp_invalidated_pages; /* present pages invalidations made absent */
	uint64_t odp_vanished_pages;    /* present pages found unmapped at an access */
	uint64_t odp_prefetch_requests; /* prefetches (one per SGE) */
	uint64_t odp_prefetch_pages;    /* pages prefetches made present */
	uint64_t odp_fault_delay_max_ns; /* longest time from a fault to its resolution */
	uint64_t odp_requested_invalidations; /* softhcadv_mr_invalidate calls */
};

int softhcadv_query_counters(struct ibv_context *ctx, struct softhcadv_counters *out,
			     size_t outlen);
/* The same, counting only what concerns qp (no net_* counts, no rx_drops of
 * packets that never reached a QP). */
int softhcadv_query_qp_counters(struct ibv_qp *qp, struct softhcadv_counters *out,
				size_t outlen);

/* ---- on-demand paging ---------------------------------------------------------------- */

/*
 * An MR registered with IBV_ACCESS_ON_DEMAND is not pinned: the device keeps its
 * own view of each 4 KiB page, and an access to a page that is not present
 * faults (the QP stalls, or the responder answers RNR NAK, until the page is
 * resolved against the process's mappings). See docs/usermode.md.
 *
 * The fault-injection knobs below are those of `softhca run --odp-prefault
 * --odp-fault-delay US --odp-invalidate N` (SOFTHCA_ODP_*), which set them at
 * open; these calls read and change them while the device runs.
 */

#define SOFTHCADV_ODP_FAULT_DELAY_MAX_US 10000000ull /* 10 s */
#define SOFTHCADV_ODP_INVALIDATE_MIN     2ull        /* 1 would invalidate every access */

enum softhcadv_odp_config_mask {
	SOFTHCADV_ODP_CONFIG_PREFAULT    = 1u << 0,
	SOFTHCADV_ODP_CONFIG_FAULT_DELAY = 1u << 1,
	SOFTHCADV_ODP_CONFIG_INVALIDATE  = 1u << 2,
};

struct softhcadv_odp_config {
	/* set: the fields to change (the others stay as they are); get: in, the
	 * fields wanted, out, those filled. A later field comes with a new bit. */
	uint32_t comp_mask;
	bool prefault;                  /* the first touch of a page never present
					 * finds it present (no fault); false: it
					 * faults (the default) */
	uint8_t reserved[3];
	uint64_t fault_delay_us;        /* a fault is resolved this long after it is
					 * asked, at most ..._FAULT_DELAY_MAX_US; faults
					 * already waiting then wait for the new delay */
	uint64_t invalidate_one_in;     /* one ODP access in N (a seeded choice)
					 * invalidates the present pages of its MR;
					 * 0 = never, else at least ..._INVALIDATE_MIN */
};

/*
 * EINVAL (nothing changed): a value beyond its limit; EOPNOTSUPP: a comp_mask
 * bit this softhca does not know. The seeded invalidations restart with
 * softhcadv_set_seed, so the same seed before the same traffic makes the same
 * choices.
 */
int softhcadv_set_odp_config(struct ibv_context *ctx, const struct softhcadv_odp_config *cfg);
int softhcadv_get_odp_config(struct ibv_context *ctx, struct softhcadv_odp_config *cfg);

/*
 * Invalidate [addr, addr + len) of an ODP MR (process addresses, inside
 * [mr->addr, mr->addr + mr->length); any address of an implicit ODP MR), as the
 * kernel's MMU notifier does when a mapping changes: data the device still holds
 * for the range lands first, then every present page the range touches becomes
 * absent and the next access to it faults again (prefault or not). Pages not
 * present are left as they are. EINVAL: not an ODP MR, len 0, or the range leaves
 * the MR.
 */
int softhcadv_mr_invalidate(struct ibv_mr *mr, void *addr, size_t len);

/* The device's view of one page of an ODP MR. */
enum softhcadv_page_state {
	SOFTHCADV_PAGE_ABSENT = 0,      /* never present: the next access faults
					 * (under prefault, finds it present) */
	SOFTHCADV_PAGE_PRESENT_RO = 1,  /* present for reading only */
	SOFTHCADV_PAGE_PRESENT_RW = 2,  /* present for reading and writing */
	SOFTHCADV_PAGE_FAILED = 3,      /* a fault found it unmapped or without the
					 * rights asked: the next access completes in
					 * error, then the page is absent again */
	SOFTHCADV_PAGE_INVALIDATED = 4, /* absent again after being present (an
					 * invalidation, or found unmapped): the next
					 * access faults, under prefault too */
};

/* The state of the page holding addr (EINVAL: not an ODP MR, or addr outside it). */
int softhcadv_mr_page_state(struct ibv_mr *mr, void *addr, enum softhcadv_page_state *state);
/* "absent", "present-ro", "present-rw", "failed", "invalidated"; NULL for an
 * unknown value. Needs no device. */
const char *softhcadv_page_state_name(enum softhcadv_page_state state);

#ifdef __cplusplus
}
#endif

#endif /* SOFTHCA_SOFTHCADV_H */
