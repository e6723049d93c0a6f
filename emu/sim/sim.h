/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/sim.h - the deterministic simulation host.
 *
 * Several softhca devices (engines) in one process, joined by a virtual wire with
 * a virtual clock. Every packet is a real RoCEv2 datagram (BTH .. ICRC, with the
 * IP/UDP metadata of struct emu_netinfo); the wire delivers it after a delay, and
 * may drop, duplicate, reorder, delay or corrupt it, every decision drawn from the
 * simulation seed keyed by (link, packet number on that link). Engine timers run in
 * virtual time, so a 30-second retry timeout costs microseconds of real time.
 *
 * A run with the same seed and the same scenario takes the same decisions and
 * writes a byte-identical trace.
 *
 * Memory: a test allocates buffers with sim_alloc and registers them with
 * sim_reg_mr; the iova of such an MR is the buffer's address. Completions land in a
 * struct sim_cq, polled with sim_poll_cq.
 *
 * Not thread-safe: one simulation belongs to one thread.
 */
#ifndef SOFTHCA_EMU_SIM_SIM_H
#define SOFTHCA_EMU_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/emu.h"

struct sim;
struct sim_dev;
struct sim_cq;
struct sim_mr;

/* Faults of one direction of a link, in parts per million of packets. */
struct sim_faults {
	uint32_t drop_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;     /* delivered late: after packets sent after it */
	uint32_t corrupt_ppm;     /* one random bit of the datagram flipped */
	uint32_t delay_ppm;       /* extra delay of up to max_extra_delay_ns */
	uint64_t latency_ns;      /* base one-way latency; 0 = 1000 ns */
	uint64_t max_extra_delay_ns; /* for reorder and delay; 0 = 20 * latency */
	/* A receiver that is not scheduled (a loaded machine): with stall_ppm per
	 * datagram the link starts a stall of stall_ns, during which nothing is
	 * delivered; what was sent meanwhile arrives at its end, in a burst. Up to
	 * stall_queue datagrams are held (a socket buffer; 0 = no limit), later
	 * ones are dropped. A new stall begins no sooner than stall_gap_ns after
	 * the last one ended. */
	uint32_t stall_ppm;
	uint32_t stall_queue;
	uint64_t stall_ns;
	uint64_t stall_gap_ns;
};

struct sim_wire_stats {
	uint64_t sent, delivered, dropped, duplicated, reordered, delayed, corrupted;
	uint64_t blackholed;      /* to or from an isolated device */
	uint64_t stalls;          /* stalls begun (stall_ppm or sim_link_stall) */
	uint64_t stall_held;      /* datagrams held back by a stall */
	uint64_t stall_dropped;   /* datagrams dropped: stall_queue was full */
};

/* ---- the simulation ---------------------------------------------------------- */

struct sim *sim_create(uint64_t seed);
void sim_destroy(struct sim *s);   /* destroys devices and everything in them */
uint64_t sim_seed(const struct sim *s);

/* Trace: every engine trace record and every wire decision, one text line each,
 * to f (NULL: off). A running FNV-1a hash of the same text is kept either way. */
void sim_trace_to(struct sim *s, FILE *f);
uint64_t sim_trace_hash(const struct sim *s);

/* Faults on every link, both directions (replaces the previous setting). */
void sim_set_faults(struct sim *s, const struct sim_faults *f);
/* Faults of the direction from -> to only. */
void sim_set_link_faults(struct sim *s, struct sim_dev *from, struct sim_dev *to,
			 const struct sim_faults *f);
void sim_wire_stats(const struct sim *s, struct sim_wire_stats *out);
/* Stall the direction from -> to now for ns of virtual time (as stall_ppm does,
 * with that link's stall_queue), or lengthen the stall in progress. */
void sim_link_stall(struct sim *s, struct sim_dev *from, struct sim_dev *to, uint64_t ns);

/* ---- devices ------------------------------------------------------------------- */

/*
 * Add a device. cfg may be NULL for defaults; cfg->dev_id and cfg->seed are set by
 * the simulation (dev_id = order of creation, seed = the simulation's seed).
 * Device i (from 0) gets IPv4 address 10.0.0.(i+1) as GID 0 and IPv6 fd00::(i+1)
 * as GID 1, port ACTIVE, MTU cfg->port_mtu (default 4096).
 */
struct sim_dev *sim_add_dev(struct sim *s, const struct emu_dev_config *cfg);
struct emu_dev *sim_emu(struct sim_dev *d);
uint32_t sim_dev_index(const struct sim_dev *d);
/* A dead peer: an isolated device neither sends nor receives anything. */
void sim_dev_isolate(struct sim_dev *d, bool isolated);
/* Next asynchronous event of the device; false if none. */
bool sim_get_event(struct sim_dev *d, struct emu_async_event *ev);

/* ---- memory -------------------------------------------------------------------- */

/* Zeroed memory owned by the simulation (freed by sim_destroy). */
void *sim_alloc(struct sim *s, size_t len);

/* Register [buf, buf + len) with the engine: iova = (uintptr_t)buf. */
int sim_reg_mr(struct sim_dev *d, struct emu_pd *pd, void *buf, size_t len,
	       uint32_t access, struct emu_mr **out);

/*
 * On-demand paging in simulation: an MR registered with EMU_ACCESS_ON_DEMAND
 * starts with every 4 KiB page absent. An access to an absent page makes the
 * engine call fault(); the simulation makes the range present after
 * fault_delay_ns of virtual time and calls emu_dev_mem_ready().
 *
 * Implicit ODP: sim_reg_mr(d, pd, NULL, SIZE_MAX, access | EMU_ACCESS_ON_DEMAND)
 * registers the whole address space (iova 0, length UINT64_MAX). Its memory is
 * what sim_alloc handed out: each block is paged from its own start (a "child",
 * made on first touch, numbered in that order in traces); an address outside
 * every sim_alloc block is not backed (mr_map answers -EFAULT). For an
 * implicit MR, the off of the calls below is the address itself.
 *
 * Pages of an ODP MR count from byte offset off (explicit MRs: from the start of
 * the buffer, whatever the iova).
 */
void sim_set_fault_delay(struct sim *s, uint64_t fault_delay_ns);
/* Mark pages of an ODP MR absent (an invalidation): what the engine's DMA layer
 * holds for them lands first (emu_mr_invalidate); the next access faults. */
void sim_mr_invalidate(struct sim_dev *d, struct emu_mr *mr, uint64_t off, uint64_t len);
/* Mark pages of an ODP MR not backed by memory (unbacked true: mr_map answers
 * -EFAULT, an access error) or backed again (absent until faulted in). -EINVAL
 * if mr is not an ODP MR of d. */
int  sim_mr_set_unbacked(struct sim_dev *d, struct emu_mr *mr, uint64_t off, uint64_t len,
			 bool unbacked);
/* Make pages of an ODP MR present at once, without a fault (a test's setup). */
void sim_mr_make_present(struct sim_dev *d, struct emu_mr *mr, uint64_t off, uint64_t len);
/* fault() requests the simulation received (engine faults and prefetches). */
uint64_t sim_fault_count(const struct sim *s);

/* ---- completion queues ------------------------------------------------------------ */

/* A CQ of cqe entries whose completions are kept by the simulation. */
struct sim_cq *sim_create_cq(struct sim_dev *d, uint32_t cqe);
struct emu_cq *sim_cq_emu(struct sim_cq *cq);
/* Up to n completions, oldest first; returns how many. */
int sim_poll_cq(struct sim_cq *cq, struct emu_wc *wc, int n);

/* ---- time ----------------------------------------------------------------------------- */

uint64_t sim_now(const struct sim *s);
/* Process the next event (a packet arriving, a timer, a fault resolved), advancing
 * virtual time to it. false if nothing is pending. */
bool sim_step(struct sim *s);
/* Run until nothing is pending or virtual time passes now + max_ns. Returns
 * true if it went idle. */
bool sim_run(struct sim *s, uint64_t max_ns);
/* Run until cond(arg) is true (checked after each event), nothing is pending, or
 * virtual time passes now + max_ns. Returns cond's final value. */
bool sim_run_until(struct sim *s, bool (*cond)(void *arg), void *arg, uint64_t max_ns);

/* Hand a raw datagram to device d as if it came from the wire (for garbage and
 * known-answer tests). It is delivered at the current time, through the engine. */
void sim_inject(struct sim_dev *d, const struct emu_netinfo *ni, const void *pkt,
		size_t len);

/* Address of device d as a GID (index 0: IPv4-mapped). */
void sim_dev_gid(const struct sim_dev *d, uint32_t index, uint8_t gid[16]);

#endif /* SOFTHCA_EMU_SIM_SIM_H */
