/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/timeline.h - `softhca timeline TRACE [-o OUT.svg|OUT.html]`: draw a
 * trace written by the simulator (sim_trace_to) or by the user-mode host
 * (SOFTHCA_TRACE) as one lane per (device, QP), with packets, DMA writes and
 * CQEs in event order, so a reordering can be seen rather than read; or, with
 * --decisions, list the HCA's decisions in a canonical order, for comparing runs.
 */
#ifndef SOFTHCA_TOOLS_TIMELINE_H
#define SOFTHCA_TOOLS_TIMELINE_H

/* argv[0] is "timeline". Returns 0 on success, 1 on an I/O error, 2 on a usage error. */
int softhca_timeline_main(int argc, char **argv);

/*
 * Draw the trace file `trace` into `out` (.html/.htm: a page, else SVG), titled
 * with caption (NULL: the trace's name); what `softhca explore --timeline` uses.
 * Returns 0, or 1 on an I/O error (reported on stderr).
 */
int softhca_timeline_draw(const char *trace, const char *out, const char *caption);

#endif /* SOFTHCA_TOOLS_TIMELINE_H */
