/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/uhost.h - the process host: a softhca device living inside the
 * program's own process (user mode, no kernel module).
 *
 * It owns the engine (emu/core), a UDP socket on port 4791 (real RoCEv2 on the
 * wire), a progress thread, the engine's timers, and the "device side" of the
 * rings of include/softhca/abi.h: it consumes the SQ/RQ/SRQ rings the provider
 * posts into (on a doorbell) and produces CQEs into the CQ rings the provider
 * polls. The verbs layer (the drop-in libibverbs, provider/usermode/verbs*.c)
 * talks to it only through this header.
 *
 * Locking: one mutex per device (uh_lock/uh_unlock). Every function below that
 * takes a struct uh_dev and is marked [locked] must be called with the lock held;
 * the others take it themselves. emu_* calls on the device's objects are made only
 * with the lock held. Callbacks (async events, channel wakeups) never call back
 * into the verbs layer with the lock held.
 */
#ifndef SOFTHCA_PROVIDER_USERMODE_UHOST_H
#define SOFTHCA_PROVIDER_USERMODE_UHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "emu/core/emu.h"
#include "odp.h"
#include "softhca/abi.h"

struct uh_dev;
struct uh_channel;

/* ---- configuration (softhca run sets these through the environment) ------------ */

struct uh_config {
	char name[64];                 /* SOFTHCA_NAME, default "sh0" */
	struct sockaddr_storage addr;  /* SOFTHCA_ADDR, or the address of SOFTHCA_NETDEV,
					* or a free 127.0.0.N (N >= 2) picked at open */
	bool addr_set;                 /* false: pick a free loopback address */
	char netdev[64];               /* SOFTHCA_NETDEV ("" = none) */
	uint32_t port;                 /* SOFTHCA_PORT, UDP port, default 4791 */
	uint32_t mtu;                  /* SOFTHCA_MTU: IB MTU in bytes, default 4096 */
	uint64_t seed;                 /* SOFTHCA_SEED, default 0 */
	uint32_t abi_version;          /* SOFTHCA_ABI: 1 or 2, default 2 */
	enum emu_dma_policy order;     /* SOFTHCA_ORDER: strict (default), cqe-first,
					* relaxed, mix: the device's DMA policy */
	char pcap[4096];               /* SOFTHCA_PCAP: capture file ("" = none) */
	char stats[4096];              /* SOFTHCA_STATS: counters written here when the
					* device closes ("" = none) */
	bool no_progress_thread;       /* SOFTHCA_PROGRESS_THREAD=0: inline only */
	bool progress_signal;          /* SOFTHCA_PROGRESS_SIGNAL=1: arriving datagrams
					* signal the polling thread, whose handler
					* drives the device (uhost.c) */
	/* On-demand paging (provider/usermode/odp.h) */
	bool odp_prefault;             /* SOFTHCA_ODP_PREFAULT=1: first touch finds pages
					* present; default 0: it faults */
	uint64_t odp_fault_delay_us;   /* SOFTHCA_ODP_FAULT_DELAY: a fault is resolved this
					* many microseconds after it is asked (default 0) */
	uint64_t odp_invalidate_one_in; /* SOFTHCA_ODP_INVALIDATE=N: one ODP access in N
					 * (seeded) invalidates its MR's pages; 0 = never */
};

/* Limits of the ODP settings (config.c and softhca run check them). */
#define UH_ODP_FAULT_DELAY_MAX_US 10000000ull   /* 10 s */
#define UH_ODP_INVALIDATE_MIN     2ull          /* 1 would invalidate every access */

/*
 * Fill cfg from the SOFTHCA_* environment variables. A bad value is an error
 * naming the variable and the value (written into err), return -1; 0 on success.
 */
int uh_config_from_env(struct uh_config *cfg, char *err, size_t errlen);

/* ---- the device -------------------------------------------------------------------- */

/*
 * Create the device: the engine (GID 0 = the IPv4-mapped or IPv6 GID of the bound
 * address), the UDP socket bound to it (port cfg->port), the progress thread. On
 * failure returns -errno and writes a message into err.
 */
int  uh_dev_open(const struct uh_config *cfg, struct uh_dev **out, char *err, size_t errlen);
void uh_dev_close(struct uh_dev *d);   /* objects must be gone; stops the thread */
const struct uh_config *uh_dev_config(const struct uh_dev *d); /* with the bound address */

void uh_lock(struct uh_dev *d);
void uh_unlock(struct uh_dev *d);
struct emu_dev *uh_emu(struct uh_dev *d);     /* [locked] for every use */

/* Drive the device once without blocking: take what arrived from the network, run
 * due timers. Called from the poll and post paths (progress inline). */
void uh_progress(struct uh_dev *d);

/*
 * A verbs call enters the device: a DMA deferral point (emu.h), made before the
 * call's own work. Lands the data held back (cqe-first, relaxed) once the program
 * has polled every CQE that may have gone out before its data; a CQE still in
 * a ring keeps its data held, so the call that polls it does not land it.
 * uh_verbs_entry takes the lock itself (and not at all while nothing was ever
 * held); uh_dma_deferral_point is [locked].
 */
void uh_verbs_entry(struct uh_dev *d);
void uh_dma_deferral_point(struct uh_dev *d);

/* With --progress-signal: something the signal handler must not do comes into
 * use (a DMA policy other than strict set through softhcadv): from now on the
 * progress thread takes the datagrams. Takes the lock itself. */
void uh_signal_forbid(struct uh_dev *d);

/* Asynchronous events: uh_async_fd is readable while one is queued. */
int  uh_async_fd(const struct uh_dev *d);
bool uh_get_async_event(struct uh_dev *d, struct emu_async_event *ev); /* non-blocking */

/* ---- handles: how WQEs name address handles, windows and MRs ------------------ */

enum uh_handle_kind { UH_H_AH = 1, UH_H_MW = 2, UH_H_MR = 3 };

uint32_t uh_handle_add(struct uh_dev *d, enum uh_handle_kind kind, void *obj); /* [locked], 0 = full */
void     uh_handle_del(struct uh_dev *d, uint32_t handle);                     /* [locked] */
void    *uh_handle_get(struct uh_dev *d, enum uh_handle_kind kind, uint32_t handle); /* [locked] */

/* ---- memory --------------------------------------------------------------------------- */

/*
 * Register [addr, addr + len) of this process with iova as its address in the MR
 * (iova == addr for ibv_reg_mr). [locked]
 */
int uh_reg_mr(struct uh_dev *d, struct emu_pd *pd, void *addr, size_t len, uint64_t iova,
	      uint32_t access, struct emu_mr **out);
int uh_dereg_mr(struct uh_dev *d, struct emu_mr *mr);                          /* [locked] */
/* ibv_rereg_mr: the MR in place, keys kept (-EOPNOTSUPP for ODP, -EBUSY with a
 * window bound, -EFAULT for memory not mapped as the access needs). [locked] */
int uh_rereg_mr(struct uh_dev *d, struct emu_mr *mr, struct emu_pd *pd, void *addr,
		size_t len, uint64_t iova, uint32_t access);

/* ibv_advise_mr advice, numbered as enum ibv_advise_mr_advice. */
enum uh_prefetch_advice {
	UH_PREFETCH = 0,
	UH_PREFETCH_WRITE = 1,
	UH_PREFETCH_NO_FAULT = 2,
};

/* One SGE of an ibv_advise_mr call. */
struct uh_prefetch {
	uint32_t lkey;
	uint64_t addr;                   /* iova in the MR */
	uint64_t length;
	enum uh_prefetch_advice advice;
	bool dry_run;                    /* only check that lkey names a fitting MR */
};

/*
 * Prefetch one SGE into an ODP MR of pd (sync: done when this returns; else
 * queued for the progress thread). -ENOENT: lkey names no ODP MR of pd (or, for
 * PREFETCH_WRITE, no writable one); -EFAULT (sync only): the range leaves the MR,
 * or part of it is not mapped with the rights asked. [locked]
 */
int uh_advise_mr(struct uh_dev *d, struct emu_pd *pd, const struct uh_prefetch *p, bool sync);

/* ---- completion channels and CQs ------------------------------------------------------ */

/* A completion channel: a real file descriptor, readable while an armed CQ of the
 * channel has fired (poll/epoll work on it). */
int  uh_channel_create(struct uh_dev *d, struct uh_channel **out);
int  uh_channel_fd(const struct uh_channel *ch);
/* Take the next fired CQ: its user pointer. Blocks on the fd unless the fd is
 * O_NONBLOCK (then -EAGAIN). */
int  uh_channel_get(struct uh_channel *ch, void **cq_user);
int  uh_channel_destroy(struct uh_channel *ch);  /* -EBUSY while CQs use it */

struct uh_cq {
	struct emu_cq *emu;
	struct softhca_ring_hdr *ring;   /* CQEs: produced by the host, polled by the provider */
	struct uh_channel *channel;      /* may be NULL */
	void *user;                      /* the verbs layer's CQ */
	uint32_t flags;                  /* SOFTHCA_CQ_FLAG_* honoured */
	/* host-private state follows in the implementation */
};

/* cqe: at least this many entries (the ring is rounded up to a power of two). [locked] */
int  uh_create_cq(struct uh_dev *d, uint32_t cqe, uint32_t flags, struct uh_channel *ch,
		  void *user, struct uh_cq **out);
int  uh_destroy_cq(struct uh_dev *d, struct uh_cq *cq);                       /* [locked] */
/* ibv_resize_cq: a new ring of at least cqe entries with the unpolled CQEs in it
 * (-EINVAL if they do not fit). The caller keeps the CQ's pollers out. [locked] */
int  uh_resize_cq(struct uh_dev *d, struct uh_cq *cq, uint32_t cqe);
/* A QP went to RESET: its CQEs not yet polled leave the CQ, the others keep
 * their order (as mlx5 cleans its CQs). With keep_recv its receive CQEs stay:
 * they name SRQ buffers the device has used, which the program must learn of
 * to post them again (mlx5 gives them back to the SRQ instead; here the SRQ
 * slot is already free). Returns how many went. The caller keeps the CQ's
 * pollers out. [locked] */
int  uh_cq_purge_qp(struct uh_dev *d, struct uh_cq *cq, uint32_t qpn, bool keep_recv);
/* Arm: the next completion (or next solicited one) wakes the channel. [locked] */
int  uh_cq_arm(struct uh_dev *d, struct uh_cq *cq, bool solicited_only);

/* ---- QPs and SRQs: rings posted by the provider, consumed on a doorbell ---------------- */

struct uh_srq {
	struct emu_srq *emu;
	struct softhca_ring_hdr *rq;     /* struct softhca_recv_wqe entries */
	void *user;
};

struct uh_qp {
	struct emu_qp *emu;
	struct softhca_ring_hdr *sq;     /* struct softhca_send_wqe entries */
	struct softhca_ring_hdr *rq;     /* NULL with an SRQ */
	void *user;
};

/*
 * Create a QP in the engine (attr as emu_create_qp takes it; caps are rounded up
 * and written back) and its rings: SQ stride fits max_send_sge SGEs or
 * max_inline_data bytes, whichever is larger. [locked]
 */
int  uh_create_qp(struct uh_dev *d, struct emu_pd *pd, struct emu_qp_init_attr *attr,
		  void *user, struct uh_qp **out);
int  uh_destroy_qp(struct uh_dev *d, struct uh_qp *qp);                       /* [locked] */
/* A QP went to RESET: its rings start empty, as the engine's queues did (the
 * receive slots the engine held without a completion come back, WQEs the
 * device had not taken are dropped, a ring marked broken works again). [locked] */
void uh_qp_reset(struct uh_dev *d, struct uh_qp *qp);
int  uh_create_srq(struct uh_dev *d, struct emu_pd *pd, struct emu_srq_attr *attr,
		   void *user, struct uh_srq **out);                          /* [locked] */
int  uh_destroy_srq(struct uh_dev *d, struct uh_srq *srq);                    /* [locked] */

/*
 * Doorbells: consume every WQE the provider has published. A WQE the device
 * cannot accept (bad handle, bad opcode, too many SGEs) completes with
 * IBV_WC_LOC_QP_OP_ERR. [locked]
 */
void uh_qp_doorbell_sq(struct uh_dev *d, struct uh_qp *qp);
void uh_qp_doorbell_rq(struct uh_dev *d, struct uh_qp *qp);
void uh_srq_doorbell(struct uh_dev *d, struct uh_srq *srq);

/* ---- counters ------------------------------------------------------------------------ */

/* Packets the network layer dropped before the engine (short, not RoCEv2...). */
struct uh_net_stats {
	uint64_t rx_datagrams, tx_datagrams, rx_errors, tx_errors, rx_short;
	/* How they crossed the kernel: sends (one UDP_SEGMENT send carries many
	 * datagrams), receives (one UDP_GRO receive too), submissions (system
	 * calls that sent). */
	uint64_t tx_sends, rx_reads, tx_submits;
	/* Times the receive was armed again after it ended (io_uring: the
	 * multishot recvmsg ran out of provided buffers, as it does when a
	 * backlog built up while the process was not running). */
	uint64_t rx_rearms;
};
void uh_net_stats(struct uh_dev *d, struct uh_net_stats *out);

/* ---- on-demand paging at run time (softhcadv, provider/usermode/verbs_dv.c) ----------- */

/* The knobs `softhca run --odp-*` sets at open (struct uh_config), changed later. */
enum uh_odp_knob {
	UH_ODP_KNOB_PREFAULT = 1u << 0,
	UH_ODP_KNOB_FAULT_DELAY = 1u << 1,
	UH_ODP_KNOB_INVALIDATE = 1u << 2,
};

struct uh_odp_knobs {
	uint32_t which;                /* set: the knobs to change (enum uh_odp_knob) */
	bool prefault;
	uint64_t fault_delay_us;       /* at most UH_ODP_FAULT_DELAY_MAX_US */
	uint64_t invalidate_one_in;    /* 0 (never) or at least UH_ODP_INVALIDATE_MIN */
};

/* Change the knobs k->which names, in one lock section. -EINVAL (nothing
 * changed): a value beyond its limit. Faults already queued wait for the new
 * delay counted from when they were asked. */
int  uh_odp_set_knobs(struct uh_dev *d, const struct uh_odp_knobs *k);
void uh_odp_get_knobs(struct uh_dev *d, struct uh_odp_knobs *k);
/* The seeded invalidation decisions restart from seed. [locked] */
void uh_odp_set_seed(struct uh_dev *d, uint64_t seed);
/*
 * addr is a process address of the MR (its addr plus an offset; any address of
 * an implicit one). -EINVAL: mr is not an ODP MR of d, or the range is empty or
 * leaves the MR. uh_odp_invalidate first lands the data the engine holds for
 * the range (emu_mr_invalidate), then makes the present pages it touches absent.
 */
int  uh_odp_invalidate(struct uh_dev *d, struct emu_mr *mr, uintptr_t addr, uint64_t len);
int  uh_odp_page_state(struct uh_dev *d, struct emu_mr *mr, uintptr_t addr,
		       enum odp_page_state *out);
void uh_odp_stats(struct uh_dev *d, struct odp_stats *out);

#endif /* SOFTHCA_PROVIDER_USERMODE_UHOST_H */
