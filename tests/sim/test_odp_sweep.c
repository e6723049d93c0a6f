/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_odp_sweep.c - on-demand paging under a bad wire, over many
 * seeds: the stream of test_rc_lossy_sweep.c (same checks) with every buffer
 * of both sides, the receive buffers and the atomic counter included,
 * registered with EMU_ACCESS_ON_DEMAND (a seeded few are plain MRs), a seeded
 * fault delay, and seeded invalidations of random ranges of random ODP buffers
 * while the traffic runs. Faults stall requesters and make responders answer
 * RNR NAK on top of the wire's drops, reorders, duplicates and corruptions;
 * nothing may be lost, duplicated or completed with an error, and the device
 * and QP counters of faults must agree.
 *
 * Each seed also picks the DMA-ordering policy of both devices (STRICT,
 * CQE_FIRST, RELAXED or MIX, by seed % 4), and the test acts as a program that
 * goes on after polling: every poll is followed by a deferral point. Held data
 * must land before its pages are invalidated: no write may be lost (dma_lost)
 * and every byte must be right once the stream is done.
 *
 * The stream (tests/sim/lib/rc_sweep.c):
 *
 * Each seed runs a mixed stream of 20-50 WRs in each direction (SENDs of random
 * sizes, multi-packet ones included, WRITEs, WRITE_WITH_IMMs, READs, and both
 * atomics on a counter of the peer) over a wire that drops 10%, reorders 10%,
 * duplicates 5% and corrupts 0.2% of the packets. Every message must arrive
 * exactly once, intact and in order (the receiver checks the sequence number in
 * each message), every READ must return the right bytes, every atomic the right
 * old value (and the counter must end at the expected value), every WR must
 * complete with SUCCESS, and nothing else may complete.
 *
 * Usage: test_odp_sweep [SEEDS [FIRST_SEED]]   (default 1000 seeds from 1;
 * 50 under SOFTHCA_VALGRIND). It stops at the first failing seed and prints how
 * to replay it with a trace.
 */
#include "rc_sweep.h"

int main(int argc, char **argv)
{
	return rc_sweep_main(argc, argv, "odp_sweep", true);
}
