/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_rc_lossy_sweep.c - RC reliability under a bad wire, over many
 * seeds.
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
 * Usage: test_rc_lossy_sweep [SEEDS [FIRST_SEED]]   (default 1000 seeds from 1;
 * 100 under SOFTHCA_VALGRIND). It stops at the first failing seed and prints how
 * to replay it with a trace.
 */
#include "rc_sweep.h"

int main(int argc, char **argv)
{
	return rc_sweep_main(argc, argv, "rc_lossy_sweep", false);
}
