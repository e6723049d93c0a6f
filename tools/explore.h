/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/explore.h - `softhca explore --seeds A..B [--order POLICY] [--jobs N]
 * [--timeout S] [--timeline FILE] -- PROGRAM ARGS`: run PROGRAM once per seed
 * (SOFTHCA_SEED, and SOFTHCA_ORDER when given, in its environment), stop at the
 * first failing seed and print the command line that replays it; with
 * --timeline, replay it with SOFTHCA_TRACE=FILE.trace and draw FILE from it.
 */
#ifndef SOFTHCA_TOOLS_EXPLORE_H
#define SOFTHCA_TOOLS_EXPLORE_H

/*
 * argv[0] is "explore". Returns 0 when every seed passed (or after --help),
 * 1 when a seed failed (the smallest failing seed is reported, whatever --jobs),
 * 2 on a usage error.
 */
int softhca_explore_main(int argc, char **argv);

#endif /* SOFTHCA_TOOLS_EXPLORE_H */
