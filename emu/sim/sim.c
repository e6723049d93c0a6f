/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/sim.c - the simulation: devices, the event queue, virtual time, trace.
 *
 * Determinism rules: every ordering is by (virtual time, insertion number) or by
 * device index, every random decision comes from sim_rng() keyed by the seed and
 * stable identifiers, and trace lines hold no pointers and no wall-clock time.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_priv.h"

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME  0x100000001b3ull

/* ---- PRNG ------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t sim_rng(uint64_t seed, uint64_t k1, uint64_t k2, uint64_t k3, uint64_t k4)
{
	uint64_t h = splitmix64(seed);

	h = splitmix64(h ^ k1);
	h = splitmix64(h ^ k2);
	h = splitmix64(h ^ k3);
	return splitmix64(h ^ k4);
}

/* ---- trace ------------------------------------------------------------------------- */

static void trace_hash(struct sim *s, const char *text, size_t len)
{
	uint64_t h = s->hash;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)text[i];
		h *= FNV64_PRIME;
	}
	s->hash = h;
}

void sim_tracef(struct sim *s, const char *fmt, ...)
{
	char line[512];
	size_t used;
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "t=%" PRIu64 " ", s->now);
	used = (n > 0 && (size_t)n < sizeof(line)) ? (size_t)n : 0;
	va_start(ap, fmt);
	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	va_end(ap);
	if (n > 0)
		used += (size_t)n;
	/* A line too long is cut the same way every run, so it still hashes stably. */
	if (used > sizeof(line) - 2)
		used = sizeof(line) - 2;
	line[used++] = '\n';
	line[used] = '\0';
	trace_hash(s, line, used);
	if (s->trace)
		fputs(line, s->trace);
}

void sim_trace_to(struct sim *s, FILE *f)
{
	s->trace = f;
}

uint64_t sim_trace_hash(const struct sim *s)
{
	return s->hash;
}

/* ---- event queue: a binary min-heap on (time, seq) ------------------------------- */

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->time != b->time ? a->time < b->time : a->seq < b->seq;
}

static void ev_swap(struct sim_event *a, struct sim_event *b)
{
	struct sim_event t = *a;

	*a = *b;
	*b = t;
}

bool sim_push_event(struct sim *s, const struct sim_event *ev)
{
	size_t i;

	if (s->nheap == s->heap_cap) {
		size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
		struct sim_event *h = realloc(s->heap, cap * sizeof(*h));

		if (!h)
			return false;
		s->heap = h;
		s->heap_cap = cap;
	}
	i = s->nheap++;
	s->heap[i] = *ev;
	s->heap[i].seq = s->seq++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!ev_before(&s->heap[i], &s->heap[parent]))
			break;
		ev_swap(&s->heap[i], &s->heap[parent]);
		i = parent;
	}
	return true;
}

static void pop_event(struct sim *s, struct sim_event *out)
{
	size_t i = 0;

	*out = s->heap[0];
	s->heap[0] = s->heap[--s->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nheap && ev_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->nheap && ev_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		ev_swap(&s->heap[i], &s->heap[m]);
		i = m;
	}
}

/* ---- the simulation ---------------------------------------------------------------- */

struct sim *sim_create(uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->links = calloc((size_t)SIM_MAX_DEVS * SIM_MAX_DEVS, sizeof(*s->links));
	if (!s->links) {
		free(s);
		return NULL;
	}
	s->seed = seed;
	s->hash = FNV64_OFFSET;
	s->fault_delay = SIM_DEFAULT_FAULT_DELAY_NS;
	sim_blocks_init(&s->mem);
	return s;
}

uint64_t sim_seed(const struct sim *s)
{
	return s->seed;
}

static void destroy_dev(struct sim_dev *d)
{
	sim_release_engine_objects(d);
	emu_dev_destroy(d->emu);
	/* Objects the test created through emu_* and did not destroy (QPs, PDs...),
	 * if emu_dev_destroy left them: the device is gone, so is its memory. */
	sim_blocks_free_all(&d->engine_mem);
	free(d->events);
	free(d);
}

void sim_destroy(struct sim *s)
{
	if (!s)
		return;
	s->destroying = true;
	/* The test may have closed its trace file already; the hash goes on. */
	s->trace = NULL;
	for (size_t i = 0; i < s->nheap; i++)
		free(s->heap[i].buf);
	s->nheap = 0;
	for (uint32_t i = 0; i < s->ndevs; i++)
		destroy_dev(s->devs[i]);
	sim_blocks_free_all(&s->mem);
	free(s->heap);
	free(s->links);
	free(s);
}

/* ---- devices ---------------------------------------------------------------------- */

static void make_gids(struct sim_dev *d)
{
	const uint8_t ipv4[4] = { 10, 0, 0, (uint8_t)(d->index + 1) };
	uint8_t *v6 = d->gid[1];

	emu_gid_from_ipv4(d->gid[0], ipv4);
	memset(v6, 0, 16);
	v6[0] = 0xfd;
	v6[15] = (uint8_t)(d->index + 1);
}

struct sim_dev *sim_add_dev(struct sim *s, const struct emu_dev_config *cfg)
{
	struct emu_dev_config c;
	struct emu_port_attr port;
	struct sim_dev *d;

	if (s->ndevs >= SIM_MAX_DEVS)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->sim = s;
	d->index = s->ndevs;
	sim_blocks_init(&d->engine_mem);
	sim_host_ops_init(d);

	if (cfg)
		c = *cfg;
	else
		memset(&c, 0, sizeof(c));
	c.dev_id = d->index;
	c.seed = s->seed;
	if (!c.port_mtu)
		c.port_mtu = SIM_DEFAULT_PORT_MTU;
	if (emu_dev_create(&d->ops, &c, &d->emu) != 0) {
		sim_blocks_free_all(&d->engine_mem);
		free(d);
		return NULL;
	}
	make_gids(d);
	if (emu_gid_set(d->emu, 0, d->gid[0]) != 0 ||
	    emu_gid_set(d->emu, 1, d->gid[1]) != 0) {
		emu_dev_destroy(d->emu);
		sim_blocks_free_all(&d->engine_mem);
		free(d);
		return NULL;
	}
	emu_port_query(d->emu, &port);
	if (port.state != EMU_PORT_ACTIVE)
		emu_port_set_state(d->emu, EMU_PORT_ACTIVE);
	s->devs[s->ndevs++] = d;
	sim_tracef(s, "sim add dev%u mtu=%u", d->index, c.port_mtu);
	return d;
}

struct emu_dev *sim_emu(struct sim_dev *d)
{
	return d->emu;
}

uint32_t sim_dev_index(const struct sim_dev *d)
{
	return d->index;
}

void sim_dev_isolate(struct sim_dev *d, bool isolated)
{
	d->isolated = isolated;
	sim_tracef(d->sim, "sim isolate dev%u %s", d->index, isolated ? "on" : "off");
}

bool sim_get_event(struct sim_dev *d, struct emu_async_event *ev)
{
	if (!d->ev_count)
		return false;
	*ev = d->events[d->ev_head];
	d->ev_head = (d->ev_head + 1) % d->ev_cap;
	d->ev_count--;
	return true;
}

void sim_dev_gid(const struct sim_dev *d, uint32_t index, uint8_t gid[16])
{
	if (index < 2)
		memcpy(gid, d->gid[index], 16);
	else if (emu_gid_query(d->emu, index, gid) != 0)
		memset(gid, 0, 16);
}

void sim_inject(struct sim_dev *d, const struct emu_netinfo *ni, const void *pkt,
		size_t len)
{
	struct emu_netinfo def;

	if (!ni) {
		/* From an address no device has, to the device's IPv4 GID. */
		const uint8_t stranger[4] = { 10, 0, 0, 254 };

		memset(&def, 0, sizeof(def));
		def.ip_version = 4;
		def.ttl = 64;
		def.frag_off = 0x4000;
		def.udp_sport = 49152;
		def.udp_dport = SIM_ROCE_V2_DPORT;
		emu_gid_from_ipv4(def.src, stranger);
		memcpy(def.dst, d->gid[0], 16);
		ni = &def;
	}
	sim_tracef(d->sim, "sim inject dev%u len=%zu", d->index, len);
	emu_dev_rx(d->emu, ni, pkt, len);
}

/* ---- time ------------------------------------------------------------------------- */

uint64_t sim_now(const struct sim *s)
{
	return s->now;
}

enum next_kind { NEXT_NONE, NEXT_EVENT, NEXT_TIMER };

/* The earliest thing to do: queue events win ties with timers, lower device
 * indices win ties among timers. */
static enum next_kind next_thing(const struct sim *s, uint64_t *when, uint32_t *dev)
{
	enum next_kind kind = NEXT_NONE;
	uint64_t best = UINT64_MAX;

	if (s->nheap) {
		best = s->heap[0].time;
		kind = NEXT_EVENT;
	}
	for (uint32_t i = 0; i < s->ndevs; i++) {
		uint64_t t = emu_dev_next_deadline(s->devs[i]->emu);

		if (t == UINT64_MAX)
			continue;
		if (kind == NEXT_NONE || t < best) {
			best = t;
			kind = NEXT_TIMER;
			*dev = i;
		}
	}
	*when = best;
	return kind;
}

static void advance_to(struct sim *s, uint64_t t)
{
	if (t > s->now) {
		s->now = t;
		s->same_time_steps = 0;
		return;
	}
	if (++s->same_time_steps >= SIM_LIVELOCK_STEPS) {
		fprintf(stderr, "sim: livelock: %llu steps at t=%" PRIu64 " ns\n",
			SIM_LIVELOCK_STEPS, s->now);
		abort();
	}
}

static void run_event(struct sim *s, struct sim_event *ev)
{
	switch (ev->kind) {
	case SIM_EV_DELIVER:
		sim_wire_deliver(s, ev);
		break;
	case SIM_EV_FAULT_DONE:
		sim_fault_done(s, ev);
		break;
	default:
		free(ev->buf);
		break;
	}
}

bool sim_step(struct sim *s)
{
	struct sim_event ev;
	uint64_t when;
	uint32_t dev = 0;

	switch (next_thing(s, &when, &dev)) {
	case NEXT_EVENT:
		pop_event(s, &ev);
		advance_to(s, when);
		run_event(s, &ev);
		return true;
	case NEXT_TIMER:
		advance_to(s, when);
		emu_dev_run_timers(s->devs[dev]->emu);
		return true;
	default:
		return false;
	}
}

static uint64_t limit_after(const struct sim *s, uint64_t max_ns)
{
	return max_ns > UINT64_MAX - s->now ? UINT64_MAX : s->now + max_ns;
}

/* Run one step if one is due by limit; otherwise move time to limit. */
static bool step_within(struct sim *s, uint64_t limit, bool *idle)
{
	uint64_t when;
	uint32_t dev = 0;

	*idle = false;
	if (next_thing(s, &when, &dev) == NEXT_NONE) {
		*idle = true;
		return false;
	}
	if (when > s->now && when > limit) {
		if (limit > s->now)
			s->now = limit;
		return false;
	}
	return sim_step(s);
}

bool sim_run(struct sim *s, uint64_t max_ns)
{
	uint64_t limit = limit_after(s, max_ns);
	bool idle;

	while (step_within(s, limit, &idle))
		;
	return idle;
}

bool sim_run_until(struct sim *s, bool (*cond)(void *arg), void *arg, uint64_t max_ns)
{
	uint64_t limit = limit_after(s, max_ns);
	bool idle;

	while (!cond(arg)) {
		if (!step_within(s, limit, &idle))
			return cond(arg);
	}
	return true;
}

/* ---- test-only ------------------------------------------------------------------- */

void sim_test_tx(struct sim_dev *d, const struct emu_netinfo *ni, const void *pkt,
		 size_t len)
{
	void *buf = d->ops.tx_buf(d, len);

	if (!buf)
		return;
	memcpy(buf, pkt, len);
	d->ops.tx(d, ni, buf, len);
}

const struct emu_host_ops *sim_test_ops(struct sim_dev *d)
{
	return &d->ops;
}
