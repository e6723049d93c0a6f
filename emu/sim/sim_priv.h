/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/sim_priv.h - what the files of the simulation host share.
 *
 *   sim.c     the simulation, devices, event queue, virtual time, trace
 *   wire.c    the virtual wire: seeded drop / duplicate / corrupt / delay / reorder
 *   memory.c  tracked allocations, MRs (with the ODP page model), CQs, host ops
 *
 * Everything here is the simulator's own business; the engine only ever sees the
 * struct emu_host_ops of each device.
 */
#ifndef SOFTHCA_EMU_SIM_SIM_PRIV_H
#define SOFTHCA_EMU_SIM_SIM_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sim.h"

#define SIM_MAX_DEVS       64
#define SIM_PAGE_SHIFT     12
#define SIM_PAGE_SIZE      (1ull << SIM_PAGE_SHIFT)
#define SIM_DEFAULT_LATENCY_NS   1000
#define SIM_EXTRA_DELAY_FACTOR   20
#define SIM_DEFAULT_FAULT_DELAY_NS 2000
#define SIM_DEFAULT_PORT_MTU 4096
#define SIM_ROCE_V2_DPORT  4791
/* Steps at one virtual instant before the run is declared a livelock: an engine
 * timer that never moves its deadline would otherwise spin forever. */
#define SIM_LIVELOCK_STEPS 10000000ull

/*
 * Header of every tracked allocation: one circular list per owner, so that
 * whatever is still allocated when the owner goes away can be freed. dead_flag,
 * when set, is cleared when the block is freed: it tells a sim record that the
 * engine object it refers to is gone.
 */
struct sim_block {
	union {
		struct {
			struct sim_block *prev, *next;
			bool *dead_flag;
			size_t size;      /* bytes after the header */
		} l;
		max_align_t align;
	} u;
};

void  sim_blocks_init(struct sim_block *head);
void *sim_blocks_alloc(struct sim_block *head, size_t size);
void  sim_blocks_free(void *ptr);
/* Frees every block still on the list; returns how many there were. */
size_t sim_blocks_free_all(struct sim_block *head);
/* The block header of ptr if ptr is a block of the list, else NULL. */
struct sim_block *sim_blocks_find(struct sim_block *head, const void *ptr);

enum sim_ev_kind {
	SIM_EV_DELIVER = 1,       /* a datagram arrives at its destination */
	SIM_EV_FAULT_DONE,        /* an ODP fault has been resolved */
};

struct sim_mr;

struct sim_event {
	uint64_t time;
	uint64_t seq;             /* insertion order: ties are broken by it */
	uint32_t kind;            /* enum sim_ev_kind */
	/* SIM_EV_DELIVER */
	uint32_t src, dst;        /* device indices */
	uint32_t copy;            /* 0, or 1 for the duplicate */
	uint64_t pkt;             /* number of the datagram on its link */
	struct emu_netinfo ni;
	void *buf;
	size_t len;
	/* SIM_EV_FAULT_DONE */
	struct sim_mr *mr;
	uint64_t off, flen;
	uint32_t slot;            /* where it is in the event pool (sim.c's) */
};

/* A queued event: the heap orders these small keys, the body stays in the pool. */
struct sim_qent {
	uint64_t time;
	uint64_t seq;
	uint32_t slot;            /* where the body is in the event pool */
	uint32_t fifo;            /* 1 + link index for a key in (or heading) that
				   * link's FIFO, 0 for an event of the heap alone */
};

/* Events of one link in (time, seq) order, oldest at head: a ring. */
struct sim_fifo {
	struct sim_qent *ring;
	uint32_t head, count, cap;
};

/* One direction of a link between two devices. */
struct sim_link {
	struct sim_faults faults;
	uint64_t npkts;           /* datagrams sent on it: the PRNG key */
	uint64_t last_arrival;    /* keeps non-reordered datagrams in order */
	uint64_t stall_until;     /* a stall holds datagrams until then */
	uint32_t stall_held;      /* datagrams held by the current stall */
	struct sim_fifo fifo;     /* its deliveries that arrive in order */
};

struct sim_cq {
	struct sim_dev *dev;
	struct emu_cq *emu;
	bool alive;               /* the engine CQ exists */
	bool tracked;             /* alive is maintained by the allocator */
	struct emu_wc *ring;
	uint32_t cap, head, count;
	struct sim_cq *next;
};

/*
 * ODP pages of one piece of memory: the buffer of an explicit ODP MR, or one
 * sim_alloc block reached through an implicit MR (its "child", as mlx5 builds
 * child MRs of an implicit one on demand). Pages count from the start of the
 * piece, so that they do not depend on where malloc put it.
 */
struct sim_odp_space {
	uint8_t *base;
	uint64_t len;
	uint64_t npages;
	uint32_t id;              /* implicit: order of creation, for traces */
	uint8_t *present;         /* one bit per 4 KiB page */
	uint8_t *unbacked;        /* one bit per page: access error (sim_mr_set_unbacked) */
	struct sim_odp_space *next;
};

struct sim_mr {
	struct sim_dev *dev;
	uint32_t id;              /* per device, for traces (no pointers there) */
	uint8_t *buf;
	uint64_t len;
	bool odp;
	bool implicit;            /* ODP over the whole address space (buf NULL) */
	bool zero_based;
	bool alive;
	bool tracked;
	struct emu_mr *emu;
	struct sim_odp_space space;      /* explicit ODP: the buffer's pages */
	struct sim_odp_space *children;  /* implicit: the blocks reached so far */
	struct sim_odp_space *last_hit;  /* implicit: lookup cache */
	uint32_t n_children;
	struct sim_mr *next;
};

struct sim_dev {
	struct sim *sim;
	uint32_t index;
	struct emu_dev *emu;
	struct emu_host_ops ops;
	uint8_t gid[2][16];
	bool isolated;
	struct sim_block engine_mem;      /* what the engine allocated */
	struct emu_async_event *events;   /* ring */
	size_t ev_head, ev_count, ev_cap;
	struct sim_mr *mrs;
	struct sim_cq *cqs;
	uint32_t next_mr_id;
	uint64_t nodest_pkts;             /* datagrams to unknown addresses */
};

/*
 * Packet buffers are kept on a free list per size class and reused: a datagram
 * costs no malloc/free on the packet path. Each buffer has a header in front
 * telling its class.
 */
#define SIM_EV_CHUNK         256               /* event bodies per pool chunk */
#define SIM_PKT_CLASSES      2
#define SIM_PKT_LARGE        SIM_PKT_CLASSES   /* class of a buffer too big to pool */
#define SIM_PKT_POOL_MAX     4096              /* free buffers kept per class */

struct sim_pkt_hdr {
	union {
		struct {
			struct sim_pkt_hdr *next;   /* on the free list */
			uint32_t cls;
		} h;
		max_align_t align;
	} u;
};

struct sim_pkt_pool {
	struct sim_pkt_hdr *free;
	size_t nfree;
};

struct sim {
	uint64_t seed;
	uint64_t now;
	uint64_t seq;
	uint64_t same_time_steps;
	/* The event queue: a binary min-heap on (time, seq) holding every event
	 * that is not in a link FIFO, plus the head of every non-empty link FIFO
	 * (a k-way merge), so it stays small when datagrams arrive in order. */
	struct sim_qent *heap;
	size_t nheap, heap_cap;
	/* Bodies of queued events, in chunks that never move (an event runs in
	 * place while it queues others); slot s is evchunk[s / SIM_EV_CHUNK]
	 * [s % SIM_EV_CHUNK]. */
	struct sim_event **evchunk;
	size_t nevchunks;
	uint32_t *evfree;                 /* stack of free slots */
	size_t nevfree;
	struct sim_pkt_pool pkt_pool[SIM_PKT_CLASSES];
	struct sim_dev *devs[SIM_MAX_DEVS];
	uint32_t ndevs;
	struct sim_link *links;           /* [from * SIM_MAX_DEVS + to] */
	struct sim_wire_stats stats;
	FILE *trace;
	uint64_t hash;
	uint64_t fault_delay;
	uint64_t faults;
	struct sim_block mem;             /* sim_alloc and the sim's records */
	bool destroying;
	bool trace_off;                   /* sim_bench_trace_off: no text, no hash */
};

/* sim.c */
void sim_tracef(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The fast way to a trace line, for the lines written per packet: the same text
 * sim_tracef would write, built without printf. sim_trace_begin returns false
 * when the trace is off (nothing to build); otherwise append, then end.
 */
#define SIM_TRACE_LINE_MAX 512
struct sim_line {
	size_t n;
	char buf[SIM_TRACE_LINE_MAX];
};
bool sim_trace_begin(struct sim *s, struct sim_line *l);
void sim_trace_end(struct sim *s, struct sim_line *l);
void sim_line_u64(struct sim_line *l, uint64_t v);

/* Inline: the strings are mostly literals, whose length is then a constant. */
static inline void sim_line_str(struct sim_line *l, const char *str)
{
	size_t n = strlen(str);
	size_t room = SIM_TRACE_LINE_MAX - 1 - l->n;

	if (n > room)
		n = room;
	memcpy(l->buf + l->n, str, n);
	l->n += n;
}

/* v as two lower-case hex digits at least (printf "%02x"). */
void sim_line_hex02(struct sim_line *l, uint32_t v);

/* Packet buffers (see struct sim_pkt_hdr); sim_pkt_free(s, NULL) does nothing. */
void *sim_pkt_alloc(struct sim *s, size_t len);
void  sim_pkt_free(struct sim *s, void *buf);
/* Queue an event (copied); false if out of memory. */
bool sim_push_event(struct sim *s, const struct sim_event *ev);
/* The same without the copy: a zeroed event to fill, then queued with
 * sim_queue_event before the next sim_new_event. NULL if out of memory. */
struct sim_event *sim_new_event(struct sim *s);
void sim_queue_event(struct sim *s, struct sim_event *ev);
/* Deterministic 64-bit value keyed by the seed and four identifiers. */
uint64_t sim_rng(uint64_t seed, uint64_t k1, uint64_t k2, uint64_t k3, uint64_t k4);

/* wire.c */
void sim_wire_tx(struct sim_dev *src, const struct emu_netinfo *ni, void *buf,
		 size_t len);
void sim_wire_deliver(struct sim *s, struct sim_event *ev);

/* memory.c */
void sim_host_ops_init(struct sim_dev *d);
void sim_fault_done(struct sim *s, struct sim_event *ev);
/* Destroy the engine MRs and CQs the simulation created and that still exist. */
void sim_release_engine_objects(struct sim_dev *d);

/* Test-only entry points (tests/sim declare them themselves). */
void sim_test_tx(struct sim_dev *d, const struct emu_netinfo *ni, const void *pkt,
		 size_t len);
const struct emu_host_ops *sim_test_ops(struct sim_dev *d);
void *sim_test_mr_cookie(struct sim_dev *d, struct emu_mr *mr);

/* Bench-only (bench/ declares it itself): no trace text and no trace hash at all,
 * so that a benchmark can measure the engine without the trace. sim_trace_hash()
 * then no longer describes the run. Devices added while it is off get no trace
 * callback at all. */
void sim_bench_trace_off(struct sim *s, bool off);

#endif /* SOFTHCA_EMU_SIM_SIM_PRIV_H */
