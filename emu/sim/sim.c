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

/* A line too long is cut the same way every run, so it still hashes stably. */
static void trace_emit(struct sim *s, char *line, size_t used)
{
	if (used > SIM_TRACE_LINE_MAX - 2)
		used = SIM_TRACE_LINE_MAX - 2;
	line[used++] = '\n';
	line[used] = '\0';
	trace_hash(s, line, used);
	if (s->trace)
		fputs(line, s->trace);
}

/* Two digits at a time from a table: the trace has several numbers per line. */
void sim_line_u64(struct sim_line *l, uint64_t v)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233"
		"34353637383940414243444546474849505152535455565758596061626364656667"
		"6869707172737475767778798081828384858687888990919293949596979899";
	char digits[20];
	size_t at = sizeof(digits);

	while (v >= 100) {
		const char *pair = pairs + 2 * (v % 100);

		v /= 100;
		digits[--at] = pair[1];
		digits[--at] = pair[0];
	}
	if (v >= 10) {
		digits[--at] = pairs[2 * v + 1];
		digits[--at] = pairs[2 * v];
	} else {
		digits[--at] = (char)('0' + v);
	}
	while (at < sizeof(digits) && l->n < SIM_TRACE_LINE_MAX - 1)
		l->buf[l->n++] = digits[at++];
}

void sim_line_hex02(struct sim_line *l, uint32_t v)
{
	static const char hex[] = "0123456789abcdef";
	char digits[8];
	int n = 0;

	do {
		digits[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	if (n < 2)
		digits[n++] = '0';
	while (n && l->n < SIM_TRACE_LINE_MAX - 1)
		l->buf[l->n++] = digits[--n];
}

/* "t=<now> ", as sim_tracef starts every line. */
bool sim_trace_begin(struct sim *s, struct sim_line *l)
{
	if (s->trace_off)
		return false;
	l->n = 0;
	sim_line_str(l, "t=");
	sim_line_u64(l, s->now);
	sim_line_str(l, " ");
	return true;
}

void sim_trace_end(struct sim *s, struct sim_line *l)
{
	trace_emit(s, l->buf, l->n);
}

void sim_tracef(struct sim *s, const char *fmt, ...)
{
	struct sim_line l;
	va_list ap;
	int n;

	if (!sim_trace_begin(s, &l))
		return;
	va_start(ap, fmt);
	n = vsnprintf(l.buf + l.n, sizeof(l.buf) - l.n, fmt, ap);
	va_end(ap);
	if (n > 0)
		l.n += (size_t)n;
	trace_emit(s, l.buf, l.n);
}

void sim_trace_to(struct sim *s, FILE *f)
{
	s->trace = f;
}

uint64_t sim_trace_hash(const struct sim *s)
{
	return s->hash;
}

void sim_bench_trace_off(struct sim *s, bool off)
{
	s->trace_off = off;
}

/* ---- event queue ------------------------------------------------------------------ */

/*
 * Events are totally ordered by (time, seq): the same order whatever structure
 * holds them, so the queue below takes exactly the decisions a single heap of
 * every event would take.
 *
 * Most events are deliveries on a link, and a link's in-order deliveries arrive
 * in the order they were queued. Those go to the link's FIFO, and only each FIFO's
 * head is in the heap (a k-way merge): with a few busy links the heap holds a
 * few entries, not every packet in flight. A delivery queued earlier than the
 * last one of its link (a reordered datagram) and every other kind of event go
 * to the heap alone. Bodies stay in a pool slot from push to pop.
 */
static bool qent_before(const struct sim_qent *a, const struct sim_qent *b)
{
	return a->time != b->time ? a->time < b->time : a->seq < b->seq;
}

static struct sim_event *ev_body(const struct sim *s, uint32_t slot)
{
	return &s->evchunk[slot / SIM_EV_CHUNK][slot % SIM_EV_CHUNK];
}

static bool evpool_grow(struct sim *s)
{
	size_t base = s->nevchunks * SIM_EV_CHUNK;
	struct sim_event **chunks;
	uint32_t *stack;

	if (base + SIM_EV_CHUNK > UINT32_MAX)
		return false;
	chunks = realloc(s->evchunk, (s->nevchunks + 1) * sizeof(*chunks));
	if (!chunks)
		return false;
	s->evchunk = chunks;
	stack = realloc(s->evfree, (base + SIM_EV_CHUNK) * sizeof(*stack));
	if (!stack)
		return false;
	s->evfree = stack;
	chunks[s->nevchunks] = malloc(SIM_EV_CHUNK * sizeof(**chunks));
	if (!chunks[s->nevchunks])
		return false;
	s->nevchunks++;
	for (size_t i = base + SIM_EV_CHUNK; i > base; i--)
		s->evfree[s->nevfree++] = (uint32_t)(i - 1);
	return true;
}

static bool heap_reserve(struct sim *s)
{
	size_t cap;
	struct sim_qent *h;

	if (s->nheap < s->heap_cap)
		return true;
	cap = s->heap_cap ? s->heap_cap * 2 : 64;
	h = realloc(s->heap, cap * sizeof(*h));
	if (!h)
		return false;
	s->heap = h;
	s->heap_cap = cap;
	return true;
}

/* Room reserved by heap_reserve. */
static void heap_insert(struct sim *s, const struct sim_qent *key)
{
	size_t i;

	/* Sift up: move parents down into the hole until key fits. */
	for (i = s->nheap++; i > 0; ) {
		size_t parent = (i - 1) / 2;

		if (!qent_before(key, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = *key;
}

/* Put key where the top was and sift it down. */
static void heap_replace_top(struct sim *s, const struct sim_qent *key)
{
	size_t i = 0, n = s->nheap;

	for (;;) {
		size_t l = 2 * i + 1, m = l;

		if (l >= n)
			break;
		if (l + 1 < n && qent_before(&s->heap[l + 1], &s->heap[l]))
			m = l + 1;
		if (!qent_before(&s->heap[m], key))
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	s->heap[i] = *key;
}

static void heap_remove_top(struct sim *s)
{
	if (--s->nheap)
		heap_replace_top(s, &s->heap[s->nheap]);
}

static bool fifo_append(struct sim_fifo *f, const struct sim_qent *key)
{
	if (f->count == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 64;
		struct sim_qent *ring;

		if (cap < f->cap)
			return false;
		ring = malloc((size_t)cap * sizeof(*ring));
		if (!ring)
			return false;
		for (uint32_t i = 0; i < f->count; i++)
			ring[i] = f->ring[(f->head + i) % f->cap];
		free(f->ring);
		f->ring = ring;
		f->head = 0;
		f->cap = cap;
	}
	f->ring[(f->head + f->count) % f->cap] = *key;
	f->count++;
	return true;
}

static const struct sim_qent *fifo_tail(const struct sim_fifo *f)
{
	return &f->ring[(f->head + f->count - 1) % f->cap];
}

/* The link FIFO a delivery may join, or NULL. */
static struct sim_fifo *fifo_of(struct sim *s, const struct sim_event *ev, uint32_t *link)
{
	if (ev->kind != SIM_EV_DELIVER || ev->src >= SIM_MAX_DEVS || ev->dst >= SIM_MAX_DEVS)
		return NULL;
	*link = ev->src * SIM_MAX_DEVS + ev->dst;
	return &s->links[*link].fifo;
}

/*
 * The slot is taken from the free stack now and given back by pop_event's
 * caller after the event ran; the heap has room for the key before the caller
 * fills anything, so queueing cannot fail.
 */
struct sim_event *sim_new_event(struct sim *s)
{
	struct sim_event *ev;
	uint32_t slot;

	if (!heap_reserve(s) || (!s->nevfree && !evpool_grow(s)))
		return NULL;
	slot = s->evfree[--s->nevfree];
	ev = ev_body(s, slot);
	memset(ev, 0, sizeof(*ev));
	ev->slot = slot;
	return ev;
}

void sim_queue_event(struct sim *s, struct sim_event *ev)
{
	struct sim_qent key;
	struct sim_fifo *f;
	uint32_t link = 0;

	ev->seq = s->seq++;
	key.time = ev->time;
	key.seq = ev->seq;
	key.slot = ev->slot;
	f = fifo_of(s, ev, &link);
	/* Keys in a FIFO carry its tag already: the head goes to the heap as is. */
	key.fifo = link + 1;
	if (f && f->count && !qent_before(&key, fifo_tail(f)) && fifo_append(f, &key))
		return;                  /* behind the head, which is in the heap */
	if (!f || f->count || !fifo_append(f, &key))
		key.fifo = 0;            /* in the heap alone */
	heap_insert(s, &key);
}

bool sim_push_event(struct sim *s, const struct sim_event *ev)
{
	struct sim_event *e = sim_new_event(s);
	uint32_t slot;

	if (!e)
		return false;
	slot = e->slot;
	*e = *ev;
	e->slot = slot;
	sim_queue_event(s, e);
	return true;
}

/* The next event, in place; the caller gives its slot back after running it. */
static struct sim_event *pop_event(struct sim *s)
{
	struct sim_qent top = s->heap[0];

	if (top.fifo) {
		struct sim_fifo *f = &s->links[top.fifo - 1].fifo;

		f->head = (f->head + 1) % f->cap;
		if (--f->count) {
			heap_replace_top(s, &f->ring[f->head]);
			return ev_body(s, top.slot);
		}
	}
	heap_remove_top(s);
	return ev_body(s, top.slot);
}

static void release_event(struct sim *s, const struct sim_event *ev)
{
	s->evfree[s->nevfree++] = ev->slot;
}

/* Datagram buffers of every queued event, and the FIFOs. */
static void queue_free(struct sim *s)
{
	for (size_t i = 0; i < s->nheap; i++)
		if (!s->heap[i].fifo)
			sim_pkt_free(s, ev_body(s, s->heap[i].slot)->buf);
	s->nheap = 0;
	for (size_t l = 0; s->links && l < (size_t)SIM_MAX_DEVS * SIM_MAX_DEVS; l++) {
		struct sim_fifo *f = &s->links[l].fifo;

		for (uint32_t i = 0; i < f->count; i++)
			sim_pkt_free(s, ev_body(s, f->ring[(f->head + i) % f->cap].slot)->buf);
		free(f->ring);
		memset(f, 0, sizeof(*f));
	}
}

/* ---- packet buffers ----------------------------------------------------------------- */

/* Room of each pooled class: small datagrams (ACKs, short messages), and one MTU
 * of 4096 bytes with every header. */
static const size_t pkt_class_size[SIM_PKT_CLASSES] = { 256, 4096 + 256 };

void *sim_pkt_alloc(struct sim *s, size_t len)
{
	struct sim_pkt_hdr *h;
	uint32_t cls = SIM_PKT_LARGE;

	for (uint32_t c = 0; c < SIM_PKT_CLASSES; c++)
		if (len <= pkt_class_size[c]) {
			cls = c;
			break;
		}
	if (cls != SIM_PKT_LARGE && s->pkt_pool[cls].free) {
		h = s->pkt_pool[cls].free;
		s->pkt_pool[cls].free = h->u.h.next;
		s->pkt_pool[cls].nfree--;
		return h + 1;
	}
	if (len > SIZE_MAX - sizeof(*h))
		return NULL;
	h = malloc(sizeof(*h) + (cls == SIM_PKT_LARGE ? (len ? len : 1) : pkt_class_size[cls]));
	if (!h)
		return NULL;
	h->u.h.cls = cls;
	return h + 1;
}

void sim_pkt_free(struct sim *s, void *buf)
{
	struct sim_pkt_hdr *h;
	struct sim_pkt_pool *pool;

	if (!buf)
		return;
	h = (struct sim_pkt_hdr *)buf - 1;
	if (h->u.h.cls == SIM_PKT_LARGE || s->destroying) {
		free(h);
		return;
	}
	pool = &s->pkt_pool[h->u.h.cls];
	if (pool->nfree >= SIM_PKT_POOL_MAX) {
		free(h);
		return;
	}
	h->u.h.next = pool->free;
	pool->free = h;
	pool->nfree++;
}

static void pkt_pools_free(struct sim *s)
{
	for (uint32_t c = 0; c < SIM_PKT_CLASSES; c++) {
		struct sim_pkt_hdr *h = s->pkt_pool[c].free;

		while (h) {
			struct sim_pkt_hdr *next = h->u.h.next;

			free(h);
			h = next;
		}
		s->pkt_pool[c].free = NULL;
		s->pkt_pool[c].nfree = 0;
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
	queue_free(s);
	for (uint32_t i = 0; i < s->ndevs; i++)
		destroy_dev(s->devs[i]);
	sim_blocks_free_all(&s->mem);
	pkt_pools_free(s);
	free(s->heap);
	for (size_t i = 0; i < s->nevchunks; i++)
		free(s->evchunk[i]);
	free(s->evchunk);
	free(s->evfree);
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
		sim_pkt_free(s, ev->buf);
		break;
	}
}

bool sim_step(struct sim *s)
{
	struct sim_event *ev;
	uint64_t when;
	uint32_t dev = 0;

	switch (next_thing(s, &when, &dev)) {
	case NEXT_EVENT:
		ev = pop_event(s);
		advance_to(s, when);
		run_event(s, ev);
		release_event(s, ev);
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
