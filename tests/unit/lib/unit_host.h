/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * unit_host.h - a minimal host for unit tests of the engine.
 *
 * It records everything the engine hands out (packets, completions, events,
 * trace records, fault requests) in fixed arrays that a test inspects, runs a
 * fake clock that only moves when the test sets it, and maps MR iovas as plain
 * process addresses. Nothing is global: a test may run several hosts.
 */
#ifndef SOFTHCA_TESTS_UNIT_HOST_H
#define SOFTHCA_TESTS_UNIT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../emu/core/emu.h"

#define UNIT_MAX_PKTS   64
#define UNIT_MAX_WCS    256
#define UNIT_MAX_EVENTS 64
#define UNIT_MAX_TRACES 1024
#define UNIT_MAX_FAULTS 64

/*
 * The host side of one MR, passed to emu_reg_mr as its cookie. mr_map answers
 * with the process address iova + offset, and:
 *   - EMU_MAP_NOT_PRESENT while present is false (on-demand paging);
 *   - error (a negative errno) when it is non-zero;
 *   - at most max_chunk bytes per answer when it is non-zero, so that a test
 *     can make the engine walk a range in pieces.
 * For a zero-based MR set offset to the buffer's address.
 */
struct unit_mr {
	bool present;
	long error;
	uint64_t offset;
	uint64_t max_chunk;
	uint64_t maps;          /* mr_map calls */
};

struct unit_pkt {
	struct emu_netinfo ni;
	uint8_t *buf;           /* owned by the host, freed by unit_host_fini */
	size_t len;
};

struct unit_wc {
	void *cq_cookie;
	struct emu_wc wc;
	bool solicited;
};

struct unit_fault {
	void *mr_cookie;
	uint64_t iova, len;
	bool write;
};

/* Each array keeps the first UNIT_MAX_* records; n_* counts them all. */
struct unit_host {
	struct emu_host_ops ops;

	uint64_t now;            /* the fake clock, in ns */

	struct unit_pkt pkts[UNIT_MAX_PKTS];
	size_t n_pkts;
	bool tx_buf_fail;        /* tx_buf answers NULL */

	struct unit_wc wcs[UNIT_MAX_WCS];
	size_t n_wcs;
	int cq_post_ret;         /* non-zero: cq_post fails with it, records nothing */

	struct emu_async_event events[UNIT_MAX_EVENTS];
	size_t n_events;

	struct emu_trace_rec traces[UNIT_MAX_TRACES];
	size_t n_traces;

	struct unit_fault faults[UNIT_MAX_FAULTS];
	size_t n_faults;

	long alloc_budget;       /* >= 0: allocations left before alloc fails */
	size_t live_allocs;      /* allocations not yet freed */
};

/* Fill h->ops; every callback is set. A test may clear optional ones
 * (fault, async_event, trace) before creating a device. */
void unit_host_init(struct unit_host *h);
/* Free the recorded packets. */
void unit_host_fini(struct unit_host *h);
/* Forget the records (packets are freed). */
void unit_host_clear(struct unit_host *h);

/* Records of one trace kind / one event type seen so far. */
size_t unit_count_traces(const struct unit_host *h, uint16_t kind);
size_t unit_count_events(const struct unit_host *h, uint32_t type);

#endif /* SOFTHCA_TESTS_UNIT_HOST_H */
