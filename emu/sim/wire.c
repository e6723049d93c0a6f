/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/wire.c - the virtual wire.
 *
 * Every fault decision on a datagram is drawn from sim_rng(seed, link, packet
 * number on that link, copy, decision), so it depends only on the seed and on how
 * many datagrams went over that link before: not on other links, wall time or the
 * order in which the test looks at things.
 *
 * Datagrams of a link arrive in the order they were sent unless they are reordered:
 * a delayed datagram holds back the ones behind it (as a queue in a switch would),
 * a reordered one is held back alone so that later datagrams overtake it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

#define PPM 1000000u

/* Decision numbers: each fault question has its own PRNG stream. */
enum wire_decision {
	DECIDE_DROP = 1,
	DECIDE_DUP,
	DECIDE_CORRUPT,
	DECIDE_CORRUPT_BIT,
	DECIDE_REORDER,
	DECIDE_REORDER_NS,
	DECIDE_DELAY,
	DECIDE_DELAY_NS,
	DECIDE_STALL,
};

struct wire_pkt {
	struct sim *sim;
	struct sim_link *link;
	uint32_t src, dst;
	uint64_t link_id;
	uint64_t pkt;
	uint32_t copy;
	uint64_t latency;
	uint64_t max_extra;
};

static uint64_t draw(const struct wire_pkt *w, enum wire_decision what)
{
	return sim_rng(w->sim->seed, w->link_id, w->pkt, w->copy, what);
}

static bool chance(const struct wire_pkt *w, enum wire_decision what, uint32_t ppm)
{
	if (!ppm)
		return false;
	return draw(w, what) % PPM < ppm;
}

static struct sim_dev *find_dev(const struct sim *s, const uint8_t addr[16])
{
	for (uint32_t i = 0; i < s->ndevs; i++) {
		const struct sim_dev *d = s->devs[i];

		if (!memcmp(d->gid[0], addr, 16) || !memcmp(d->gid[1], addr, 16))
			return s->devs[i];
	}
	return NULL;
}

static void addr_text(const uint8_t a[16], char *out, size_t size)
{
	static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	size_t used = 0;

	if (!memcmp(a, v4_prefix, sizeof(v4_prefix))) {
		snprintf(out, size, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
		return;
	}
	for (int i = 0; i < 16 && used + 6 < size; i += 2)
		used += (size_t)snprintf(out + used, size - used, "%s%02x%02x",
					 i ? ":" : "", a[i], a[i + 1]);
}

static void corrupt(const struct wire_pkt *w, uint8_t *buf, size_t len)
{
	uint64_t bit;

	if (!len)
		return;
	bit = draw(w, DECIDE_CORRUPT_BIT) % ((uint64_t)len * 8);
	buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	w->sim->stats.corrupted++;
	sim_tracef(w->sim, "wire corrupt dev%u->dev%u pkt=%" PRIu64 " copy=%u bit=%" PRIu64,
		   w->src, w->dst, w->pkt, w->copy, bit);
}

/* Extra delay of this copy, and whether it may be overtaken. */
static uint64_t extra_delay(const struct wire_pkt *w, const struct sim_faults *f,
			    bool *reordered)
{
	struct sim *s = w->sim;
	uint64_t half = w->max_extra / 2;
	uint64_t extra;

	*reordered = false;
	if (chance(w, DECIDE_REORDER, f->reorder_ppm)) {
		extra = half + 1 + draw(w, DECIDE_REORDER_NS) % (w->max_extra - half);
		*reordered = true;
		s->stats.reordered++;
		sim_tracef(s, "wire reorder dev%u->dev%u pkt=%" PRIu64 " copy=%u extra=%" PRIu64,
			   w->src, w->dst, w->pkt, w->copy, extra);
		return extra;
	}
	if (chance(w, DECIDE_DELAY, f->delay_ppm)) {
		extra = 1 + draw(w, DECIDE_DELAY_NS) % w->max_extra;
		s->stats.delayed++;
		sim_tracef(s, "wire delay dev%u->dev%u pkt=%" PRIu64 " copy=%u extra=%" PRIu64,
			   w->src, w->dst, w->pkt, w->copy, extra);
		return extra;
	}
	return 0;
}

static void schedule_copy(const struct wire_pkt *w, const struct emu_netinfo *ni,
			  uint8_t *buf, size_t len)
{
	const struct sim_faults *f = &w->link->faults;
	struct sim *s = w->sim;
	struct sim_event *ev;
	bool reordered;
	uint64_t at;

	if (chance(w, DECIDE_CORRUPT, f->corrupt_ppm))
		corrupt(w, buf, len);
	at = s->now + w->latency + extra_delay(w, f, &reordered);
	if (at < w->link->stall_until)
		at = w->link->stall_until;   /* the receiver runs again then */
	if (!reordered) {
		if (at < w->link->last_arrival)
			at = w->link->last_arrival;
		w->link->last_arrival = at;
	}
	ev = sim_new_event(s);
	if (!ev) {
		/* Out of memory in the simulator itself: the datagram is lost, visibly. */
		s->stats.dropped++;
		sim_tracef(s, "wire nomem dev%u->dev%u pkt=%" PRIu64 " copy=%u",
			   w->src, w->dst, w->pkt, w->copy);
		sim_pkt_free(s, buf);
		return;
	}
	ev->time = at;
	ev->kind = SIM_EV_DELIVER;
	ev->src = w->src;
	ev->dst = w->dst;
	ev->copy = w->copy;
	ev->pkt = w->pkt;
	ev->ni = *ni;
	ev->buf = buf;
	ev->len = len;
	sim_queue_event(s, ev);
}

static void no_destination(struct sim_dev *src, const struct emu_netinfo *ni, void *buf)
{
	struct sim *s = src->sim;
	uint64_t pkt = src->nodest_pkts++;
	char text[48];

	addr_text(ni->dst, text, sizeof(text));
	if (src->isolated) {
		s->stats.blackholed++;
		sim_tracef(s, "wire blackhole dev%u->%s pkt=%" PRIu64, src->index, text, pkt);
	} else {
		s->stats.dropped++;
		sim_tracef(s, "wire nodest dev%u->%s pkt=%" PRIu64, src->index, text, pkt);
	}
	sim_pkt_free(s, buf);
}

static void begin_stall(struct sim *s, struct sim_link *link, uint32_t src, uint32_t dst,
			uint64_t ns)
{
	if (link->stall_until <= s->now) {
		link->stall_held = 0;
		s->stats.stalls++;
	}
	if (s->now + ns > link->stall_until)
		link->stall_until = s->now + ns;
	sim_tracef(s, "wire stall dev%u->dev%u until=%" PRIu64, src, dst, link->stall_until);
}

/*
 * A stall may begin with this datagram; one in progress holds it back, or drops
 * it when the receiver's queue is full. true if the datagram goes on.
 */
static bool stall_admits(const struct wire_pkt *w)
{
	struct sim_link *link = w->link;
	const struct sim_faults *f = &link->faults;
	struct sim *s = w->sim;

	if (f->stall_ns && link->stall_until + f->stall_gap_ns <= s->now &&
	    chance(w, DECIDE_STALL, f->stall_ppm))
		begin_stall(s, link, w->src, w->dst, f->stall_ns);
	if (link->stall_until <= s->now)
		return true;
	if (f->stall_queue && link->stall_held >= f->stall_queue) {
		s->stats.stall_dropped++;
		s->stats.dropped++;
		sim_tracef(s, "wire overflow dev%u->dev%u pkt=%" PRIu64, w->src, w->dst, w->pkt);
		return false;
	}
	link->stall_held++;
	s->stats.stall_held++;
	return true;
}

void sim_link_stall(struct sim *s, struct sim_dev *from, struct sim_dev *to, uint64_t ns)
{
	struct sim_link *link = &s->links[(size_t)from->index * SIM_MAX_DEVS + to->index];

	begin_stall(s, link, from->index, to->index, ns);
}

void sim_wire_tx(struct sim_dev *src, const struct emu_netinfo *ni, void *buf, size_t len)
{
	struct sim *s = src->sim;
	struct sim_dev *dst;
	struct wire_pkt w;
	bool dup;

	if (s->destroying) {
		sim_pkt_free(s, buf);
		return;
	}
	s->stats.sent++;
	dst = find_dev(s, ni->dst);
	if (!dst) {
		no_destination(src, ni, buf);
		return;
	}
	w.sim = s;
	w.copy = 0;
	w.src = src->index;
	w.dst = dst->index;
	w.link_id = (uint64_t)w.src * SIM_MAX_DEVS + w.dst;
	w.link = &s->links[w.link_id];
	w.pkt = w.link->npkts++;
	w.latency = w.link->faults.latency_ns ? w.link->faults.latency_ns
					      : SIM_DEFAULT_LATENCY_NS;
	w.max_extra = w.link->faults.max_extra_delay_ns ? w.link->faults.max_extra_delay_ns
		      : w.latency * SIM_EXTRA_DELAY_FACTOR;
	if (w.max_extra < 2)
		w.max_extra = 2;

	if (src->isolated || dst->isolated) {
		s->stats.blackholed++;
		sim_tracef(s, "wire blackhole dev%u->dev%u pkt=%" PRIu64, w.src, w.dst, w.pkt);
		sim_pkt_free(s, buf);
		return;
	}
	if (chance(&w, DECIDE_DROP, w.link->faults.drop_ppm)) {
		s->stats.dropped++;
		sim_tracef(s, "wire drop dev%u->dev%u pkt=%" PRIu64, w.src, w.dst, w.pkt);
		sim_pkt_free(s, buf);
		return;
	}
	if (!stall_admits(&w)) {
		sim_pkt_free(s, buf);
		return;
	}
	dup = chance(&w, DECIDE_DUP, w.link->faults.dup_ppm);
	if (dup) {
		uint8_t *copy = sim_pkt_alloc(s, len);

		if (copy) {
			memcpy(copy, buf, len);
			s->stats.duplicated++;
			sim_tracef(s, "wire dup dev%u->dev%u pkt=%" PRIu64, w.src, w.dst, w.pkt);
		}
		schedule_copy(&w, ni, buf, len);
		if (copy) {
			w.copy = 1;
			schedule_copy(&w, ni, copy, len);
		}
		return;
	}
	schedule_copy(&w, ni, buf, len);
}

/* One line per datagram: built without printf (the text of
 * "wire deliver dev%u->dev%u pkt=%" PRIu64 " copy=%u len=%zu"). */
static void trace_deliver(struct sim *s, const struct sim_event *ev)
{
	struct sim_line l;

	if (!sim_trace_begin(s, &l))
		return;
	sim_line_str(&l, "wire deliver dev");
	sim_line_u64(&l, ev->src);
	sim_line_str(&l, "->dev");
	sim_line_u64(&l, ev->dst);
	sim_line_str(&l, " pkt=");
	sim_line_u64(&l, ev->pkt);
	sim_line_str(&l, " copy=");
	sim_line_u64(&l, ev->copy);
	sim_line_str(&l, " len=");
	sim_line_u64(&l, ev->len);
	sim_trace_end(s, &l);
}

void sim_wire_deliver(struct sim *s, struct sim_event *ev)
{
	struct sim_dev *dst = s->devs[ev->dst];

	if (dst->isolated) {
		s->stats.blackholed++;
		sim_tracef(s, "wire blackhole dev%u->dev%u pkt=%" PRIu64 " copy=%u",
			   ev->src, ev->dst, ev->pkt, ev->copy);
	} else {
		s->stats.delivered++;
		trace_deliver(s, ev);
		emu_dev_rx(dst->emu, &ev->ni, ev->buf, ev->len);
	}
	sim_pkt_free(s, ev->buf);
	ev->buf = NULL;
}

/* ---- configuration and statistics ------------------------------------------------- */

void sim_set_faults(struct sim *s, const struct sim_faults *f)
{
	struct sim_faults none;

	if (!f) {
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	for (size_t i = 0; i < (size_t)SIM_MAX_DEVS * SIM_MAX_DEVS; i++)
		s->links[i].faults = *f;
	sim_tracef(s, "sim faults all drop=%u dup=%u reorder=%u corrupt=%u delay=%u"
		   " latency=%" PRIu64 " extra=%" PRIu64, f->drop_ppm, f->dup_ppm,
		   f->reorder_ppm, f->corrupt_ppm, f->delay_ppm, f->latency_ns,
		   f->max_extra_delay_ns);
	if (f->stall_ppm)
		sim_tracef(s, "sim faults all stall=%u stall_ns=%" PRIu64 " stall_queue=%u",
			   f->stall_ppm, f->stall_ns, f->stall_queue);
}

void sim_set_link_faults(struct sim *s, struct sim_dev *from, struct sim_dev *to,
			 const struct sim_faults *f)
{
	struct sim_link *link = &s->links[(size_t)from->index * SIM_MAX_DEVS + to->index];

	if (f)
		link->faults = *f;
	else
		memset(&link->faults, 0, sizeof(link->faults));
	sim_tracef(s, "sim faults dev%u->dev%u drop=%u dup=%u reorder=%u corrupt=%u"
		   " delay=%u latency=%" PRIu64 " extra=%" PRIu64, from->index, to->index,
		   link->faults.drop_ppm, link->faults.dup_ppm, link->faults.reorder_ppm,
		   link->faults.corrupt_ppm, link->faults.delay_ppm,
		   link->faults.latency_ns, link->faults.max_extra_delay_ns);
}

void sim_wire_stats(const struct sim *s, struct sim_wire_stats *out)
{
	*out = s->stats;
}
