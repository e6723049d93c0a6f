/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/timeline.h - `softhca timeline TRACE [-o OUT.svg|OUT.html]`: draw a
 * trace written by the simulator (sim_trace_to) or by the user-mode host
 * (SOFTHCA_TRACE) as one lane per (device, QP), with packets, DMA writes and
 * CQEs in event order, so a reordering can be seen rather than read.
 */
#ifndef SOFTHCA_TOOLS_TIMELINE_H
#define SOFTHCA_TOOLS_TIMELINE_H

/* argv[0] is "timeline". Returns 0 on success, 1 on an I/O error, 2 on a usage error. */
int softhca_timeline_main(int argc, char **argv);

#endif /* SOFTHCA_TOOLS_TIMELINE_H */
