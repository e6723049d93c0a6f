/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/lib/rc_sweep.h - RC reliability over many seeds: each seed runs a
 * mixed stream of 20-50 WRs in each direction (SENDs of random sizes,
 * multi-packet ones included, WRITEs, WRITE_WITH_IMMs, READs, and both atomics
 * on a counter of the peer) over a wire that drops 10%, reorders 10%,
 * duplicates 5% and corrupts 0.2% of the packets. Every message must arrive
 * exactly once, intact and in order, every READ return the right bytes, every
 * atomic the right old value (and the counter end at the expected value), every
 * WR complete with SUCCESS, and nothing else complete.
 *
 * With odp, the buffers (a seeded few excepted) are ODP MRs with a seeded fault
 * delay and seeded invalidations while the traffic runs, each seed picks the
 * DMA-ordering policy (seed % 4) and every poll is followed by a deferral point;
 * the device and QP fault counters must agree and no held write may be lost.
 */
#ifndef SOFTHCA_TESTS_SIM_RC_SWEEP_H
#define SOFTHCA_TESTS_SIM_RC_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "emu/sim/sim.h"

struct rc_sweep_totals {
	struct sim_wire_stats wire;
	uint64_t retransmits, timeouts, naks, dup_requests, ops;
	uint64_t page_faults, stalls, odp_rnr, invalidations;
	uint64_t dma_deferred, dma_reordered, dma_cqe_early;
};

/*
 * The whole test program: argv is [SEEDS [FIRST_SEED]] (default 1000 seeds from
 * 1; 100, or 50 with odp, under SOFTHCA_VALGRIND). Stops at the first failing
 * seed and prints how to replay it; returns the exit status.
 */
int rc_sweep_main(int argc, char **argv, const char *name, bool odp);

#endif
