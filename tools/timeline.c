/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/timeline.c - `softhca timeline`: a trace as a picture.
 *
 * The x axis is the order of events, not their time: the simulator stamps many
 * events with the same virtual time and the user-mode host stamps none, so only
 * the order keeps every event visible. Times, where the trace has them, label the
 * axis and every tooltip.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timeline.h"

#define EXIT_USAGE   2
#define DEFAULT_MAX  50000u
#define STEP_X       8
#define LABEL_W      170
#define TOP_H        86
#define LANE_H       30
#define TICK_EVERY   100     /* pixels between axis labels */

enum shape { SHAPE_PACKET, SHAPE_DMA, SHAPE_CQE, SHAPE_CONTROL };

struct kind {
	const char *name;
	const char *color;
	enum shape shape;
	const char *meaning;
};

/* Numbered as enum emu_trace_kind (emu/host.h): "kindN" lines map here too. */
static const struct kind kinds[] = {
	{ "?", "#aaaaaa", SHAPE_CONTROL, "unknown kind" },
	{ "tx", "#1f77b4", SHAPE_PACKET, "packet sent" },
	{ "rx", "#17becf", SHAPE_PACKET, "packet accepted" },
	{ "drop", "#d62728", SHAPE_PACKET, "packet dropped" },
	{ "retransmit", "#ff7f0e", SHAPE_CONTROL, "requester went back" },
	{ "nak", "#e377c2", SHAPE_PACKET, "NAK sent" },
	{ "rnr", "#bcbd22", SHAPE_PACKET, "RNR NAK" },
	{ "dma-write", "#2ca02c", SHAPE_DMA, "data write made visible" },
	{ "cqe", "#9467bd", SHAPE_CQE, "completion made visible" },
	{ "state", "#7f7f7f", SHAPE_CONTROL, "QP state change" },
	{ "stall", "#8c564b", SHAPE_CONTROL, "QP stalled" },
	{ "resume", "#c49c94", SHAPE_CONTROL, "QP resumed" },
	{ "event", "#000000", SHAPE_CONTROL, "asynchronous event" },
	{ "timeout", "#ff9896", SHAPE_CONTROL, "transport timer" },
	{ "dma-hold", "#ffbb78", SHAPE_DMA, "data write held back" },
	{ "dma-cqe-first", "#ff00ff", SHAPE_CQE, "CQE shown before its data" },
	{ "dma-deferral", "#98df8a", SHAPE_DMA, "held writes landed" },
};

#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

struct event {
	uint64_t t, wr, a, b;
	uint32_t dev, qpn, psn, op;
	uint16_t kind;
	bool has_t;
	char extra[40];
};

struct lane {
	uint32_t dev, qpn;
	unsigned count;
};

struct trace {
	struct event *ev;
	size_t n, cap;
	struct lane *lanes;
	size_t n_lanes;
	uint64_t lines, skipped_other, skipped_unknown, dropped_over_max;
};

struct timeline_opts {
	const char *in, *out;
	const char *caption;       /* what the picture says it shows; NULL: the trace's name */
	bool html;
	bool decisions;            /* the decision listing instead of a picture */
	bool max_given;
	size_t max_events;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: softhca timeline TRACE [-o OUT.svg|OUT.html] [--max-events N]\n"
		"       softhca timeline --decisions TRACE [-o OUT.txt]\n\n"
		"Reads a trace written by the simulator (sim_trace_to, `t=... devN kind ...`\n"
		"lines) or by the user-mode host (SOFTHCA_TRACE / softhca run --trace, the same\n"
		"lines without t=) and draws one lane per (device, QP): packets, DMA writes\n"
		"(made visible, held back, landed at a deferral point) and CQEs in event order,\n"
		"colored by kind, with a legend and a tooltip per mark. Wire and simulator\n"
		"lines and lines it does not understand are skipped and counted.\n\n"
		"  -o FILE          write to FILE (.html or .htm: a self-contained page with the\n"
		"                   SVG inline; anything else: SVG); default: SVG on stdout\n"
		"  --max-events N   draw at most N events (default %u)\n"
		"  --decisions      no picture: list the HCA's decisions (dma-hold, dma-write,\n"
		"                   dma-cqe-first and cqe records), one per line without\n"
		"                   times, sorted by device, QP, WR, PSN, kind and values.\n"
		"                   Two runs with the same seed and order list the same\n"
		"                   decisions; packets, ACK coalescing and when held data\n"
		"                   lands depend on scheduling and are left out.\n"
		"  --help           this text\n\n"
		"Exit status: 0 on success, 1 if the trace cannot be read or the picture\n"
		"written, 2 on a usage error.\n", DEFAULT_MAX);
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "softhca timeline: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see softhca timeline --help)\n");
	return EXIT_USAGE;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* 0 to run, -1 after --help, or EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct timeline_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_events = DEFAULT_MAX;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return -1;
		}
		if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
			if (i + 1 >= argc || !*argv[i + 1])
				return bad("option %s needs a file name", a);
			o->out = argv[++i];
		} else if (strcmp(a, "--decisions") == 0) {
			o->decisions = true;
		} else if (strcmp(a, "--max-events") == 0) {
			char *end;
			unsigned long long n;

			if (i + 1 >= argc)
				return bad("option %s needs a value", a);
			errno = 0;
			n = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || errno || *argv[i] == '-' || n == 0 || n > 10000000)
				return bad("invalid --max-events value '%s': want 1 to 10000000",
					   argv[i]);
			o->max_events = (size_t)n;
			o->max_given = true;
		} else if (a[0] == '-' && a[1]) {
			return bad("unknown option '%s'", a);
		} else if (o->in) {
			return bad("more than one trace file: '%s'", a);
		} else {
			o->in = a;
		}
	}
	if (!o->in)
		return bad("%s", "no trace file given");
	if (o->decisions && o->max_given)
		return bad("%s", "--decisions lists every decision: no --max-events");
	if (o->decisions)
		o->max_events = SIZE_MAX;
	o->html = o->out && (ends_with(o->out, ".html") || ends_with(o->out, ".htm"));
	return 0;
}

/* ---- parsing ------------------------------------------------------------------------- */

static bool number(const char *s, int base, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*v = strtoull(s, &end, base);
	return !errno && *end == '\0';
}

static int kind_of(const char *word)
{
	uint64_t k;

	for (size_t i = 1; i < N_KINDS; i++)
		if (strcmp(word, kinds[i].name) == 0)
			return (int)i;
	if (strncmp(word, "kind", 4) == 0 && number(word + 4, 10, &k))
		return k < N_KINDS ? (int)k : 0;
	return -1;
}

/* key=value into the event; false if the key is known but the value is not a number. */
static bool field(struct event *e, const char *tok, unsigned *seen)
{
	static const char *const keys[] = { "qpn=", "psn=", "op=", "wr=", "a=", "b=" };
	uint64_t v;

	for (unsigned k = 0; k < 6; k++) {
		size_t n = strlen(keys[k]);

		if (strncmp(tok, keys[k], n) != 0)
			continue;
		if (!number(tok + n, k == 2 ? 16 : 10, &v))
			return false;
		*seen |= 1u << k;
		switch (k) {
		case 0: e->qpn = (uint32_t)v; break;
		case 1: e->psn = (uint32_t)v; break;
		case 2: e->op = (uint32_t)v; break;
		case 3: e->wr = v; break;
		case 4: e->a = v; break;
		default: e->b = v; break;
		}
		return true;
	}
	return false;
}

/* The rest of the line as printable ASCII (e.g. a drop's " (reason)"). */
static void keep_extra(struct event *e, const char *tok)
{
	size_t n = strlen(e->extra);

	if (n && n + 1 < sizeof(e->extra))
		e->extra[n++] = ' ';
	for (; *tok && n + 1 < sizeof(e->extra); tok++)
		e->extra[n++] = (*tok >= 0x20 && *tok < 0x7f) ? *tok : '?';
	e->extra[n] = '\0';
}

enum line_class { LINE_EVENT, LINE_OTHER, LINE_UNKNOWN };

static enum line_class parse_line(char *line, struct event *e)
{
	char *save = NULL, *tok;
	unsigned seen = 0;
	uint64_t v;
	int k;

	memset(e, 0, sizeof(*e));
	line[strcspn(line, "\r\n")] = '\0';
	tok = strtok_r(line, " \t", &save);
	if (!tok)
		return LINE_OTHER;
	if (strncmp(tok, "t=", 2) == 0) {
		if (!number(tok + 2, 10, &e->t))
			return LINE_UNKNOWN;
		e->has_t = true;
		tok = strtok_r(NULL, " \t", &save);
		if (!tok)
			return LINE_UNKNOWN;
	}
	if (strcmp(tok, "wire") == 0 || strcmp(tok, "sim") == 0)
		return LINE_OTHER;
	if (strncmp(tok, "dev", 3) != 0 || !number(tok + 3, 10, &v) || v > UINT32_MAX)
		return LINE_UNKNOWN;
	e->dev = (uint32_t)v;
	tok = strtok_r(NULL, " \t", &save);
	if (!tok || (k = kind_of(tok)) < 0)
		return LINE_UNKNOWN;
	e->kind = (uint16_t)k;
	while ((tok = strtok_r(NULL, " \t", &save)))
		if (!field(e, tok, &seen))
			keep_extra(e, tok);
	/* Without a QPN there is no lane: "devN event ... lost" and the like. */
	return (seen & 1u) ? LINE_EVENT : LINE_UNKNOWN;
}

static int add_event(struct trace *tr, const struct event *e)
{
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 1024;
		struct event *ev = realloc(tr->ev, cap * sizeof(*ev));

		if (!ev)
			return -1;
		tr->ev = ev;
		tr->cap = cap;
	}
	tr->ev[tr->n++] = *e;
	return 0;
}

static int read_trace(FILE *f, struct trace *tr, size_t max_events)
{
	char *line = NULL;
	size_t len = 0;
	struct event e;

	while (getline(&line, &len, f) >= 0) {
		tr->lines++;
		switch (parse_line(line, &e)) {
		case LINE_EVENT:
			if (tr->n >= max_events) {
				tr->dropped_over_max++;
			} else if (add_event(tr, &e)) {
				free(line);
				return -1;
			}
			break;
		case LINE_OTHER:
			tr->skipped_other++;
			break;
		default:
			tr->skipped_unknown++;
			break;
		}
	}
	free(line);
	return ferror(f) ? -1 : 0;
}

static int lane_cmp(const void *x, const void *y)
{
	const struct lane *a = x, *b = y;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return a->qpn < b->qpn ? -1 : a->qpn > b->qpn;
}

static int build_lanes(struct trace *tr)
{
	size_t n = 0;

	tr->lanes = calloc(tr->n ? tr->n : 1, sizeof(*tr->lanes));
	if (!tr->lanes)
		return -1;
	for (size_t i = 0; i < tr->n; i++) {
		tr->lanes[n].dev = tr->ev[i].dev;
		tr->lanes[n].qpn = tr->ev[i].qpn;
		n++;
	}
	qsort(tr->lanes, n, sizeof(*tr->lanes), lane_cmp);
	tr->n_lanes = 0;
	for (size_t i = 0; i < n; i++)
		if (!tr->n_lanes || lane_cmp(&tr->lanes[tr->n_lanes - 1], &tr->lanes[i]))
			tr->lanes[tr->n_lanes++] = tr->lanes[i];
	return 0;
}

static size_t lane_index(const struct trace *tr, const struct event *e)
{
	struct lane key = { e->dev, e->qpn, 0 };
	const struct lane *l = bsearch(&key, tr->lanes, tr->n_lanes, sizeof(key), lane_cmp);

	return l ? (size_t)(l - tr->lanes) : 0;
}

/* ---- the decision listing ------------------------------------------------------------- */

/*
 * The records that are the HCA's decisions: where each write went and when it
 * became visible relative to its CQE (held, reordered, after the CQE), and the
 * completions. Left out: packets (how they batch through a socket, and with it
 * ACK coalescing, depends on scheduling), state changes, timers, and
 * dma-deferral (how many held writes one verbs call happens to land).
 */
static bool is_decision(uint16_t kind)
{
	static const char *const names[] = { "dma-hold", "dma-write", "dma-cqe-first", "cqe" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(kinds[kind].name, names[i]) == 0)
			return true;
	return false;
}

#define CMP_FIELD(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

/* A total order on everything a decision line shows, so the listing of a set of
 * decisions is one text whatever order the trace had them in. */
static int decision_cmp(const void *p, const void *q)
{
	const struct event *a = p, *b = q;

	CMP_FIELD(a->dev, b->dev);
	CMP_FIELD(a->qpn, b->qpn);
	CMP_FIELD(a->wr, b->wr);
	CMP_FIELD(a->psn, b->psn);
	CMP_FIELD(a->kind, b->kind);
	CMP_FIELD(a->a, b->a);
	CMP_FIELD(a->b, b->b);
	CMP_FIELD(a->op, b->op);
	return strcmp(a->extra, b->extra);
}

static size_t keep_decisions(struct trace *tr)
{
	size_t n = 0;

	for (size_t i = 0; i < tr->n; i++)
		if (is_decision(tr->ev[i].kind))
			tr->ev[n++] = tr->ev[i];
	tr->n = n;
	qsort(tr->ev, tr->n, sizeof(*tr->ev), decision_cmp);
	return n;
}

static void write_decisions(FILE *f, const struct trace *tr)
{
	for (size_t i = 0; i < tr->n; i++) {
		const struct event *e = &tr->ev[i];

		fprintf(f, "dev%u %s qpn=%u psn=%u op=0x%02x wr=%" PRIu64 " a=%" PRIu64
			" b=%" PRIu64 "%s%s\n", e->dev, kinds[e->kind].name, e->qpn, e->psn,
			e->op, e->wr, e->a, e->b, e->extra[0] ? " " : "", e->extra);
	}
}

/* ---- drawing --------------------------------------------------------------------------- */

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

static void draw_mark(FILE *f, const struct event *e, size_t idx, double x, double yc)
{
	const struct kind *k = &kinds[e->kind];

	switch (k->shape) {
	case SHAPE_PACKET:
		fprintf(f, "<rect class=\"mark k-%s\" x=\"%.1f\" y=\"%.1f\" width=\"5\" "
			"height=\"10\" fill=\"%s\">", k->name, x - 2.5, yc - 5, k->color);
		break;
	case SHAPE_DMA:
		fprintf(f, "<rect class=\"mark k-%s\" x=\"%.1f\" y=\"%.1f\" width=\"3\" "
			"height=\"22\" fill=\"%s\">", k->name, x - 1.5, yc - 11, k->color);
		break;
	case SHAPE_CQE:
		fprintf(f, "<circle class=\"mark k-%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" "
			"fill=\"%s\" stroke=\"#000\" stroke-width=\"0.5\">", k->name, x, yc,
			k->color);
		break;
	default:
		fprintf(f, "<polygon class=\"mark k-%s\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f "
			"%.1f,%.1f\" fill=\"%s\">", k->name, x, yc - 6, x + 4, yc, x, yc + 6,
			x - 4, yc, k->color);
		break;
	}
	fprintf(f, "<title>#%zu ", idx);
	if (e->has_t)
		fprintf(f, "t=%" PRIu64 " ", e->t);
	fprintf(f, "dev%u qpn=%u %s psn=%u op=0x%02x wr=%" PRIu64 " a=%" PRIu64 " b=%" PRIu64,
		e->dev, e->qpn, k->name, e->psn, e->op, e->wr, e->a, e->b);
	if (e->extra[0]) {
		fputc(' ', f);
		put_escaped(f, e->extra);
	}
	fprintf(f, "</title>%s\n", k->shape == SHAPE_CQE ? "</circle>" :
		k->shape == SHAPE_CONTROL ? "</polygon>" : "</rect>");
}

static void draw_legend(FILE *f, const struct trace *tr, double y)
{
	bool used[N_KINDS] = { false };
	double x = 10;

	for (size_t i = 0; i < tr->n; i++)
		used[tr->ev[i].kind] = true;
	fprintf(f, "<g class=\"legend\">\n");
	for (size_t k = 0; k < N_KINDS; k++) {
		if (!used[k])
			continue;
		fprintf(f, "<g class=\"legend-item\"><rect x=\"%.0f\" y=\"%.0f\" width=\"10\" "
			"height=\"10\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.0f\">%s<title>%s"
			"</title></text></g>\n", x, y - 9, kinds[k].color, x + 14, y, kinds[k].name,
			kinds[k].meaning);
		x += 24 + 7.0 * (double)strlen(kinds[k].name);
	}
	fprintf(f, "</g>\n");
}

static void draw_axis(FILE *f, const struct trace *tr, double bottom)
{
	size_t every = TICK_EVERY / STEP_X;
	bool timed = tr->n && tr->ev[0].has_t;

	fprintf(f, "<g class=\"axis\" font-size=\"10\" fill=\"#555\">\n"
		"<text x=\"10\" y=\"%.0f\">%s</text>\n", bottom + 14,
		timed ? "t (ns) at event" : "event #");
	for (size_t i = 0; i < tr->n; i += every) {
		double x = LABEL_W + (double)i * STEP_X + STEP_X / 2.0;

		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>",
			x, TOP_H, x, bottom);
		if (tr->ev[i].has_t)
			fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">%" PRIu64 "</text>\n", x, bottom + 14,
				tr->ev[i].t);
		else
			fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">%zu</text>\n", x, bottom + 14, i);
	}
	fprintf(f, "</g>\n");
}

static void draw_lanes(FILE *f, const struct trace *tr, double width)
{
	for (size_t l = 0; l < tr->n_lanes; l++) {
		double y = TOP_H + (double)l * LANE_H;

		fprintf(f, "<g class=\"lane\" data-dev=\"%u\" data-qpn=\"%u\">"
			"<rect x=\"0\" y=\"%.0f\" width=\"%.0f\" height=\"%d\" fill=\"%s\"/>"
			"<text class=\"lane-label\" x=\"8\" y=\"%.0f\">dev%u qpn %u</text></g>\n",
			tr->lanes[l].dev, tr->lanes[l].qpn, y, width, LANE_H,
			l % 2 ? "#f4f4f4" : "#ffffff", y + LANE_H / 2.0 + 4, tr->lanes[l].dev,
			tr->lanes[l].qpn);
	}
}

static void write_svg(FILE *f, const struct trace *tr, const char *source)
{
	double width = LABEL_W + (double)(tr->n ? tr->n : 1) * STEP_X + 20;
	double bottom = TOP_H + (double)tr->n_lanes * LANE_H;

	if (width < 900)
		width = 900;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"font-family=\"monospace\" font-size=\"12\">\n", width, bottom + 30);
	fprintf(f, "<title>softhca timeline of ");
	put_escaped(f, source);
	fprintf(f, "</title>\n<text x=\"10\" y=\"18\" font-size=\"14\">softhca timeline: ");
	put_escaped(f, source);
	fprintf(f, "</text>\n<text x=\"10\" y=\"36\">%zu events, %zu lanes (device, QP); "
		"%" PRIu64 " wire/sim lines and %" PRIu64 " unknown lines skipped",
		tr->n, tr->n_lanes, tr->skipped_other, tr->skipped_unknown);
	if (tr->dropped_over_max)
		fprintf(f, "; %" PRIu64 " events past --max-events not drawn",
			tr->dropped_over_max);
	fprintf(f, "</text>\n");
	draw_legend(f, tr, 62);
	draw_lanes(f, tr, width);
	draw_axis(f, tr, bottom);
	fprintf(f, "<g class=\"marks\">\n");
	for (size_t i = 0; i < tr->n; i++) {
		size_t l = lane_index(tr, &tr->ev[i]);

		draw_mark(f, &tr->ev[i], i, LABEL_W + (double)i * STEP_X + STEP_X / 2.0,
			  TOP_H + (double)l * LANE_H + LANE_H / 2.0);
	}
	fprintf(f, "</g>\n</svg>\n");
}

static int write_output(const struct timeline_opts *o, const struct trace *tr)
{
	FILE *f = o->out ? fopen(o->out, "w") : stdout;
	int bad_write;

	if (!f) {
		fprintf(stderr, "softhca timeline: cannot write %s: %s\n", o->out, strerror(errno));
		return 1;
	}
	if (o->decisions) {
		write_decisions(f, tr);
	} else if (o->html) {
		fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
			"<title>softhca timeline</title></head>\n<body>\n");
	} else {
		fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	}
	if (!o->decisions)
		write_svg(f, tr, o->caption ? o->caption : o->in);
	if (o->html)
		fprintf(f, "</body></html>\n");
	bad_write = ferror(f);
	if (o->out)
		bad_write |= fclose(f);
	else
		bad_write |= fflush(f);
	if (bad_write) {
		fprintf(stderr, "softhca timeline: writing %s failed\n", o->out ? o->out : "stdout");
		return 1;
	}
	return 0;
}

/* Read o->in, write o->out: the picture or the decision listing. 0, or 1 on an
 * I/O error. */
static int timeline_run(const struct timeline_opts *o)
{
	struct trace tr;
	FILE *in;
	int ret;

	memset(&tr, 0, sizeof(tr));
	in = strcmp(o->in, "-") == 0 ? stdin : fopen(o->in, "r");
	if (!in) {
		fprintf(stderr, "softhca timeline: cannot read %s: %s\n", o->in, strerror(errno));
		return 1;
	}
	ret = read_trace(in, &tr, o->max_events);
	if (in != stdin)
		fclose(in);
	if (!ret && o->decisions)
		keep_decisions(&tr);
	if (ret || build_lanes(&tr)) {
		fprintf(stderr, "softhca timeline: reading %s failed\n", o->in);
		ret = 1;
	} else {
		ret = write_output(o, &tr);
	}
	if (!ret)
		fprintf(stderr, "softhca timeline: %zu %s in %zu lanes from %" PRIu64
			" lines (%" PRIu64 " wire/sim lines, %" PRIu64 " unknown lines skipped%s)"
			"%s%s\n", tr.n, o->decisions ? "decisions" : "events", tr.n_lanes,
			tr.lines, tr.skipped_other, tr.skipped_unknown,
			tr.dropped_over_max ? ", events past --max-events not drawn" : "",
			o->out ? " -> " : "", o->out ? o->out : "");
	free(tr.ev);
	free(tr.lanes);
	return ret;
}

int softhca_timeline_draw(const char *trace, const char *out, const char *caption)
{
	struct timeline_opts o;

	memset(&o, 0, sizeof(o));
	o.in = trace;
	o.out = out;
	o.caption = caption;
	o.max_events = DEFAULT_MAX;
	o.html = out && (ends_with(out, ".html") || ends_with(out, ".htm"));
	return timeline_run(&o);
}

int softhca_timeline_main(int argc, char **argv)
{
	struct timeline_opts o;
	int ret = parse_args(argc, argv, &o);

	if (ret)
		return ret < 0 ? 0 : ret;
	return timeline_run(&o);
}
