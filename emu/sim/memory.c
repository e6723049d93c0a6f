/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/memory.c - the host side of memory: tracked allocations, memory regions
 * with the on-demand-paging model, completion queues, and the emu_host_ops table of
 * a simulated device.
 *
 * ODP pages are counted from the start of the registered buffer (implicit ODP:
 * of each sim_alloc block), not from virtual page boundaries: buffer addresses
 * change from run to run, and the page a byte falls in must not, or the faults
 * (and the trace) would change with them.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "sim_priv.h"

#define SIM_ENOSPC 28
#define SIM_EFAULT 14
#define SIM_EINVAL 22
#define SIM_ENOMEM 12
#define SIM_EOPNOTSUPP 95

/* ---- tracked allocations ------------------------------------------------------------ */

void sim_blocks_init(struct sim_block *head)
{
	head->u.l.prev = head;
	head->u.l.next = head;
	head->u.l.dead_flag = NULL;
}

void *sim_blocks_alloc(struct sim_block *head, size_t size)
{
	struct sim_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = calloc(1, sizeof(*b) + size);
	if (!b)
		return NULL;
	b->u.l.size = size;
	b->u.l.next = head;
	b->u.l.prev = head->u.l.prev;
	head->u.l.prev->u.l.next = b;
	head->u.l.prev = b;
	return b + 1;
}

void sim_blocks_free(void *ptr)
{
	struct sim_block *b;

	if (!ptr)
		return;
	b = (struct sim_block *)ptr - 1;
	b->u.l.prev->u.l.next = b->u.l.next;
	b->u.l.next->u.l.prev = b->u.l.prev;
	if (b->u.l.dead_flag)
		*b->u.l.dead_flag = false;
	free(b);
}

size_t sim_blocks_free_all(struct sim_block *head)
{
	size_t n = 0;

	while (head->u.l.next != head) {
		struct sim_block *b = head->u.l.next;

		/* Whoever watched this block is going away too. */
		b->u.l.dead_flag = NULL;
		sim_blocks_free(b + 1);
		n++;
	}
	return n;
}

struct sim_block *sim_blocks_find(struct sim_block *head, const void *ptr)
{
	for (struct sim_block *b = head->u.l.next; b != head; b = b->u.l.next)
		if ((const void *)(b + 1) == ptr)
			return b;
	return NULL;
}

/* Watch the engine object at obj: *alive turns false when the engine frees it.
 * Only possible if obj is the start of an engine allocation. */
static bool watch_engine_object(struct sim_dev *d, const void *obj, bool *alive)
{
	struct sim_block *b = sim_blocks_find(&d->engine_mem, obj);

	if (!b)
		return false;
	b->u.l.dead_flag = alive;
	return true;
}

void *sim_alloc(struct sim *s, size_t len)
{
	return sim_blocks_alloc(&s->mem, len);
}

/* ---- ODP pages ---------------------------------------------------------------------- */

static bool bit_get(const uint8_t *bits, uint64_t i)
{
	return bits[i / 8] & (1u << (i % 8));
}

static void bit_put(uint8_t *bits, uint64_t i, bool on)
{
	if (on)
		bits[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		bits[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static int space_init(struct sim *s, struct sim_odp_space *sp, uint8_t *base, uint64_t len)
{
	size_t bytes;

	sp->base = base;
	sp->len = len;
	sp->npages = (len + SIM_PAGE_SIZE - 1) >> SIM_PAGE_SHIFT;
	bytes = (size_t)(sp->npages + 7) / 8 + 1;
	sp->present = sim_blocks_alloc(&s->mem, bytes);
	sp->unbacked = sim_blocks_alloc(&s->mem, bytes);
	return sp->present && sp->unbacked ? 0 : -SIM_ENOMEM;
}

enum page_op { PAGES_PRESENT, PAGES_ABSENT, PAGES_UNBACKED, PAGES_BACKED };

/* Apply op to the pages of [off, off + len) of a space (clipped to it). */
static void space_set(struct sim_odp_space *sp, uint64_t off, uint64_t len, enum page_op op)
{
	uint64_t first, last;

	if (!len || off >= sp->len)
		return;
	if (len > sp->len - off)
		len = sp->len - off;
	first = off >> SIM_PAGE_SHIFT;
	last = (off + len - 1) >> SIM_PAGE_SHIFT;
	for (uint64_t p = first; p <= last; p++) {
		switch (op) {
		case PAGES_PRESENT:
		case PAGES_ABSENT:
			bit_put(sp->present, p, op == PAGES_PRESENT);
			break;
		case PAGES_UNBACKED:
		case PAGES_BACKED:
			/* Memory that comes back is new memory: it faults in first. */
			bit_put(sp->unbacked, p, op == PAGES_UNBACKED);
			bit_put(sp->present, p, false);
			break;
		}
	}
}

static bool page_usable(const struct sim_odp_space *sp, uint64_t page)
{
	return bit_get(sp->present, page) && !bit_get(sp->unbacked, page);
}

/* mr_map's answer for want bytes at off of a space: bytes usable from off on,
 * EMU_MAP_NOT_PRESENT, or -EFAULT for an unbacked page. */
static long space_map(const struct sim_odp_space *sp, uint64_t off, uint64_t want)
{
	uint64_t page = off >> SIM_PAGE_SHIFT;
	uint64_t end = off + want;
	uint64_t run_end;

	if (bit_get(sp->unbacked, page))
		return -SIM_EFAULT;
	if (!bit_get(sp->present, page))
		return EMU_MAP_NOT_PRESENT;
	while (page + 1 < sp->npages && ((page + 1) << SIM_PAGE_SHIFT) < end &&
	       page_usable(sp, page + 1))
		page++;
	run_end = (page + 1) << SIM_PAGE_SHIFT;
	run_end = (run_end < end ? run_end : end) - off;
	return run_end > (uint64_t)LONG_MAX ? LONG_MAX : (long)run_end;
}

/* ---- implicit ODP: the address space is the memory of sim_alloc --------------------- */

static bool space_holds(const struct sim_odp_space *sp, uint64_t addr)
{
	uint64_t base = (uint64_t)(uintptr_t)sp->base;

	return addr >= base && addr - base < sp->len;
}

static struct sim_odp_space *new_child(struct sim_mr *mr, struct sim_block *b)
{
	struct sim *s = mr->dev->sim;
	struct sim_odp_space *sp = sim_blocks_alloc(&s->mem, sizeof(*sp));

	if (!sp || space_init(s, sp, (uint8_t *)(b + 1), b->u.l.size))
		return NULL;
	sp->id = mr->n_children++;
	sp->next = mr->children;
	mr->children = sp;
	return sp;
}

/* The child of an implicit MR holding addr, made on first touch; NULL where no
 * sim_alloc memory is (unbacked). */
static struct sim_odp_space *implicit_space(struct sim_mr *mr, uint64_t addr)
{
	struct sim_block *head = &mr->dev->sim->mem;

	if (mr->last_hit && space_holds(mr->last_hit, addr))
		return mr->last_hit;
	for (struct sim_odp_space *sp = mr->children; sp; sp = sp->next)
		if (space_holds(sp, addr))
			return mr->last_hit = sp;
	for (struct sim_block *b = head->u.l.next; b != head; b = b->u.l.next) {
		uint64_t base = (uint64_t)(uintptr_t)(b + 1);

		if (addr >= base && addr - base < b->u.l.size)
			return mr->last_hit = new_child(mr, b);
	}
	return NULL;
}

/* Apply op to [addr, addr + len) of an implicit MR: to every sim_alloc block the
 * range touches (absent ones need no child: a new child starts absent). */
static void implicit_set(struct sim_mr *mr, uint64_t addr, uint64_t len, enum page_op op)
{
	struct sim_block *head = &mr->dev->sim->mem;
	uint64_t end = len > UINT64_MAX - addr ? UINT64_MAX : addr + len;
	struct sim_block *b, *next;

	for (b = head->u.l.next; b != head; b = next) {
		uint64_t base = (uint64_t)(uintptr_t)(b + 1);
		uint64_t lo, hi;
		struct sim_odp_space *sp;

		next = b->u.l.next;   /* a new child adds blocks at the tail: not visited */
		if (base >= end || base + b->u.l.size <= addr || !b->u.l.size)
			continue;
		lo = addr > base ? addr : base;
		hi = end < base + b->u.l.size ? end : base + b->u.l.size;
		sp = op == PAGES_ABSENT ? NULL : implicit_space(mr, lo);
		if (op == PAGES_ABSENT)
			for (sp = mr->children; sp && !space_holds(sp, lo); sp = sp->next)
				;
		if (sp)
			space_set(sp, lo - base, hi - lo, op);
	}
}

static void mr_pages_set(struct sim_mr *mr, uint64_t off, uint64_t len, enum page_op op)
{
	if (mr->implicit)
		implicit_set(mr, off, len, op);
	else if (mr->odp)
		space_set(&mr->space, off, len, op);
}

/* ---- memory regions ------------------------------------------------------------------- */

/*
 * Offset in the buffer of an engine address. A zero-based MR is addressed by
 * offsets from 0; an engine may also hand back the registered iova (the buffer
 * address), so both forms are accepted: they cannot be confused unless the buffer
 * lies below its own length in the address space.
 */
static bool mr_offset(const struct sim_mr *mr, uint64_t iova, uint64_t *off)
{
	uint64_t base = (uint64_t)(uintptr_t)mr->buf;

	if (mr->zero_based && iova < mr->len) {
		*off = iova;
		return true;
	}
	if (iova >= base && iova - base < mr->len) {
		*off = iova - base;
		return true;
	}
	return false;
}

static long implicit_map(struct sim_mr *mr, uint64_t addr, uint64_t len, void **ptr)
{
	struct sim_odp_space *sp = implicit_space(mr, addr);
	uint64_t off;
	long got;

	if (!sp)
		return -SIM_EFAULT;
	off = addr - (uint64_t)(uintptr_t)sp->base;
	got = space_map(sp, off, sp->len - off < len ? sp->len - off : len);
	if (got > 0)
		*ptr = sp->base + off;
	return got;
}

static long host_mr_map(void *host, void *mr_cookie, uint64_t iova, uint64_t len,
			bool write, void **ptr)
{
	struct sim_mr *mr = mr_cookie;
	uint64_t off, avail;

	(void)host;
	(void)write;
	if (!len)
		return -SIM_EINVAL;
	if (mr->implicit)
		return implicit_map(mr, iova, len, ptr);
	if (!mr_offset(mr, iova, &off))
		return -SIM_EFAULT;
	avail = mr->len - off < len ? mr->len - off : len;
	if (mr->odp) {
		long got = space_map(&mr->space, off, avail);

		if (got <= 0)
			return got;
		avail = (uint64_t)got;
	}
	if (avail > (uint64_t)LONG_MAX)
		avail = (uint64_t)LONG_MAX;
	*ptr = mr->buf + off;
	return (long)avail;
}

static void host_fault(void *host, void *mr_cookie, uint64_t iova, uint64_t len, bool write)
{
	struct sim_dev *d = host;
	struct sim *s = d->sim;
	struct sim_mr *mr = mr_cookie;
	struct sim_event ev;
	uint64_t off = 0;

	s->faults++;
	if (mr->implicit) {
		/* Addresses change from run to run: the trace names the child. */
		struct sim_odp_space *sp = implicit_space(mr, iova);

		off = iova;
		if (sp)
			sim_tracef(s, "sim fault dev%u mr=%u child=%u off=%" PRIu64 " len=%"
				   PRIu64 " %s", d->index, mr->id, sp->id,
				   iova - (uint64_t)(uintptr_t)sp->base, len, write ? "write" : "read");
		else
			sim_tracef(s, "sim fault dev%u mr=%u unbacked len=%" PRIu64 " %s",
				   d->index, mr->id, len, write ? "write" : "read");
	} else {
		if (!mr_offset(mr, iova, &off))
			off = mr->len;    /* nothing to make present; still answer */
		sim_tracef(s, "sim fault dev%u mr=%u off=%" PRIu64 " len=%" PRIu64 " %s",
			   d->index, mr->id, off, len, write ? "write" : "read");
	}
	if (s->destroying)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.time = s->now + s->fault_delay;
	ev.kind = SIM_EV_FAULT_DONE;
	ev.dst = d->index;
	ev.mr = mr;
	ev.off = off;
	ev.flen = len;
	if (!sim_push_event(s, &ev))
		sim_tracef(s, "sim fault dev%u mr=%u lost: out of memory", d->index, mr->id);
}

void sim_fault_done(struct sim *s, struct sim_event *ev)
{
	struct sim_mr *mr = ev->mr;
	struct sim_dev *d = s->devs[ev->dst];

	mr_pages_set(mr, ev->off, ev->flen, PAGES_PRESENT);
	if (mr->implicit)
		sim_tracef(s, "sim fault-done dev%u mr=%u len=%" PRIu64, d->index, mr->id,
			   ev->flen);
	else
		sim_tracef(s, "sim fault-done dev%u mr=%u off=%" PRIu64 " len=%" PRIu64,
			   d->index, mr->id, ev->off, ev->flen);
	emu_dev_mem_ready(d->emu);
}

int sim_reg_mr(struct sim_dev *d, struct emu_pd *pd, void *buf, size_t len,
	       uint32_t access, struct emu_mr **out)
{
	struct sim *s = d->sim;
	struct sim_mr *mr;
	int rc;

	mr = sim_blocks_alloc(&s->mem, sizeof(*mr));
	if (!mr)
		return -SIM_ENOMEM;
	mr->dev = d;
	mr->id = d->next_mr_id++;
	mr->buf = buf;
	mr->len = len;
	mr->odp = access & EMU_ACCESS_ON_DEMAND;
	mr->zero_based = access & EMU_ACCESS_ZERO_BASED;
	mr->implicit = mr->odp && !buf && len == SIZE_MAX;
	if (mr->odp && !mr->implicit) {
		if (!buf || len > ((uint64_t)1 << 40))
			return -SIM_EINVAL;
		rc = space_init(s, &mr->space, buf, len);
		if (rc)
			return rc;
	}
	rc = emu_reg_mr(pd, (uint64_t)(uintptr_t)buf, mr->implicit ? UINT64_MAX : len, access,
			mr, &mr->emu);
	if (rc)
		return rc;
	mr->alive = true;
	mr->tracked = watch_engine_object(d, mr->emu, &mr->alive);
	mr->next = d->mrs;
	d->mrs = mr;
	sim_tracef(s, "sim reg-mr dev%u mr=%u len=%zu access=0x%x", d->index, mr->id,
		   len, access);
	*out = mr->emu;
	return 0;
}

static struct sim_mr *find_mr(struct sim_dev *d, const struct emu_mr *emu)
{
	for (struct sim_mr *mr = d->mrs; mr; mr = mr->next)
		if (mr->emu == emu && (mr->alive || !mr->tracked))
			return mr;
	return NULL;
}

/* The engine's iova of byte offset off of an MR (implicit: off is the address). */
static uint64_t mr_iova(const struct sim_mr *mr, uint64_t off)
{
	if (mr->implicit || mr->zero_based)
		return off;
	return (uint64_t)(uintptr_t)mr->buf + off;
}

/* Offsets of an implicit MR are addresses: not for the trace. */
static void trace_range(struct sim_dev *d, const char *what, const struct sim_mr *mr,
			uint64_t off, uint64_t len)
{
	if (mr->implicit)
		sim_tracef(d->sim, "sim %s dev%u mr=%u len=%" PRIu64, what, d->index, mr->id, len);
	else
		sim_tracef(d->sim, "sim %s dev%u mr=%u off=%" PRIu64 " len=%" PRIu64, what,
			   d->index, mr->id, off, len);
}

/* [off, off + len) of a space widened to the whole pages space_set changes. */
static void space_span(const struct sim_odp_space *sp, uint64_t *off, uint64_t *len)
{
	uint64_t lo = *off, hi;

	if (!*len || lo >= sp->len)
		return;
	hi = *len > sp->len - lo ? sp->len : lo + *len;
	lo &= ~(SIM_PAGE_SIZE - 1);
	hi = (hi + SIM_PAGE_SIZE - 1) & ~(SIM_PAGE_SIZE - 1);   /* sp->len < 2^40 */
	if (hi > sp->len)
		hi = sp->len;
	*off = lo;
	*len = hi - lo;
}

/* The sim_alloc block holding addr of an implicit MR, or NULL. */
static struct sim_odp_space *implicit_child(struct sim_mr *mr, uint64_t addr)
{
	struct sim_odp_space *sp;

	for (sp = mr->children; sp && !space_holds(sp, addr); sp = sp->next)
		;
	return sp;
}

/*
 * Pages go absent whole: the engine must hear of every byte that does, or data
 * its DMA layer holds for the rest of a page would be landed into an absent
 * page (lost) instead of before the invalidation. [off, off + len) widened to
 * the pages mr_pages_set changes (implicit MRs: those of the children holding
 * its first and last byte; off is an address there).
 */
static void mr_page_span(struct sim_mr *mr, uint64_t *off, uint64_t *len)
{
	struct sim_odp_space *first, *last;
	uint64_t lo, hi, end, n;

	if (!mr->implicit) {
		space_span(&mr->space, off, len);
		return;
	}
	if (!*len)
		return;
	end = *len > UINT64_MAX - *off ? UINT64_MAX : *off + *len;
	lo = *off;
	hi = end;
	first = implicit_child(mr, lo);
	last = implicit_child(mr, end - 1);
	if (first) {
		uint64_t rel = lo - (uint64_t)(uintptr_t)first->base;

		n = 1;
		space_span(first, &rel, &n);
		lo = (uint64_t)(uintptr_t)first->base + rel;
	}
	if (last) {
		uint64_t rel = end - 1 - (uint64_t)(uintptr_t)last->base;

		n = 1;
		space_span(last, &rel, &n);
		hi = (uint64_t)(uintptr_t)last->base + rel + n;
	}
	*off = lo;
	*len = hi - lo;
}

void sim_mr_invalidate(struct sim_dev *d, struct emu_mr *emu, uint64_t off, uint64_t len)
{
	struct sim_mr *mr = find_mr(d, emu);
	uint64_t span_off = off, span_len = len;

	if (!mr || !mr->odp)
		return;
	/* What the DMA layer holds for the pages lands while they are still there. */
	mr_page_span(mr, &span_off, &span_len);
	if (mr->alive || !mr->tracked)
		(void)emu_mr_invalidate(mr->emu, mr_iova(mr, span_off), span_len);
	mr_pages_set(mr, off, len, PAGES_ABSENT);
	trace_range(d, "invalidate", mr, off, len);
}

int sim_mr_set_unbacked(struct sim_dev *d, struct emu_mr *emu, uint64_t off, uint64_t len,
			bool unbacked)
{
	struct sim_mr *mr = find_mr(d, emu);

	if (!mr || !mr->odp)
		return -SIM_EINVAL;
	if (unbacked && (mr->alive || !mr->tracked)) {
		uint64_t span_off = off, span_len = len;

		mr_page_span(mr, &span_off, &span_len);
		(void)emu_mr_invalidate(mr->emu, mr_iova(mr, span_off), span_len);
	}
	mr_pages_set(mr, off, len, unbacked ? PAGES_UNBACKED : PAGES_BACKED);
	trace_range(d, unbacked ? "unback" : "back", mr, off, len);
	return 0;
}

void sim_mr_make_present(struct sim_dev *d, struct emu_mr *emu, uint64_t off, uint64_t len)
{
	struct sim_mr *mr = find_mr(d, emu);

	if (!mr || !mr->odp)
		return;
	mr_pages_set(mr, off, len, PAGES_PRESENT);
	trace_range(d, "present", mr, off, len);
}

void sim_set_fault_delay(struct sim *s, uint64_t fault_delay_ns)
{
	s->fault_delay = fault_delay_ns;
}

uint64_t sim_fault_count(const struct sim *s)
{
	return s->faults;
}

void *sim_test_mr_cookie(struct sim_dev *d, struct emu_mr *emu)
{
	return find_mr(d, emu);
}

/* ---- completion queues ---------------------------------------------------------------- */

struct sim_cq *sim_create_cq(struct sim_dev *d, uint32_t cqe)
{
	struct sim *s = d->sim;
	struct sim_cq *cq = sim_blocks_alloc(&s->mem, sizeof(*cq));

	if (!cq)
		return NULL;
	cq->dev = d;
	cq->cap = cqe;
	cq->ring = sim_blocks_alloc(&s->mem, (size_t)(cqe ? cqe : 1) * sizeof(*cq->ring));
	if (!cq->ring)
		return NULL;
	if (emu_create_cq(d->emu, cqe, cq, &cq->emu) != 0)
		return NULL;
	cq->alive = true;
	cq->tracked = watch_engine_object(d, cq->emu, &cq->alive);
	cq->next = d->cqs;
	d->cqs = cq;
	return cq;
}

struct emu_cq *sim_cq_emu(struct sim_cq *cq)
{
	return cq->emu;
}

int sim_poll_cq(struct sim_cq *cq, struct emu_wc *wc, int n)
{
	int got = 0;

	while (got < n && cq->count) {
		wc[got++] = cq->ring[cq->head];
		cq->head = (cq->head + 1) % cq->cap;
		cq->count--;
	}
	return got;
}

static int host_cq_post(void *host, void *cq_cookie, const struct emu_wc *wc, bool solicited)
{
	struct sim_cq *cq = cq_cookie;

	(void)host;
	(void)solicited;
	if (cq->count >= cq->cap)
		return -SIM_ENOSPC;
	cq->ring[(cq->head + cq->count) % cq->cap] = *wc;
	cq->count++;
	return 0;
}

void sim_release_engine_objects(struct sim_dev *d)
{
	/* MRs first: nothing in the engine holds an MR that a CQ would wait for. */
	for (struct sim_mr *mr = d->mrs; mr; mr = mr->next)
		if (mr->alive && mr->tracked)
			(void)emu_dereg_mr(mr->emu);
	for (struct sim_cq *cq = d->cqs; cq; cq = cq->next)
		if (cq->alive && cq->tracked)
			(void)emu_destroy_cq(cq->emu);
}

/* ---- the rest of the host ops ------------------------------------------------------- */

static void *host_alloc(void *host, size_t size)
{
	struct sim_dev *d = host;

	return sim_blocks_alloc(&d->engine_mem, size);
}

static void host_free(void *host, void *ptr)
{
	(void)host;
	sim_blocks_free(ptr);
}

static void host_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}

static uint64_t host_now_ns(void *host)
{
	struct sim_dev *d = host;

	return d->sim->now;
}

static void *host_tx_buf(void *host, size_t len)
{
	struct sim_dev *d = host;

	return sim_pkt_alloc(d->sim, len);
}

/* A buffer the engine could not fill goes back where it came from. */
static void host_tx_abort(void *host, void *buf)
{
	struct sim_dev *d = host;

	sim_pkt_free(d->sim, buf);
}

static void host_tx(void *host, const struct emu_netinfo *ni, void *buf, size_t len)
{
	sim_wire_tx(host, ni, buf, len);
}

static void host_async_event(void *host, const struct emu_async_event *ev)
{
	struct sim_dev *d = host;

	if (d->ev_count == d->ev_cap) {
		size_t cap = d->ev_cap ? d->ev_cap * 2 : 16;
		struct emu_async_event *ring = malloc(cap * sizeof(*ring));

		if (!ring) {
			sim_tracef(d->sim, "dev%u event type=%u lost: out of memory",
				   d->index, ev->type);
			return;
		}
		for (size_t i = 0; i < d->ev_count; i++)
			ring[i] = d->events[(d->ev_head + i) % d->ev_cap];
		free(d->events);
		d->events = ring;
		d->ev_cap = cap;
		d->ev_head = 0;
	}
	d->events[(d->ev_head + d->ev_count) % d->ev_cap] = *ev;
	d->ev_count++;
}

/*
 * The text of
 *   "dev%u %s qpn=%u psn=%u op=0x%02x wr=%" PRIu64 " a=%" PRIu64 " b=%" PRIu64 "%s"
 * with the kind's name (or "kind%u") and, for a drop, " (reason)"; built
 * without printf because it is written several times per packet.
 */
static void host_trace(void *host, const struct emu_trace_rec *rec)
{
	struct sim_dev *d = host;
	struct sim_line l;

	if (!sim_trace_begin(d->sim, &l))
		return;
	sim_line_str(&l, "dev");
	sim_line_u64(&l, rec->dev_id);
	sim_line_str(&l, " ");
	if (emu_trace_kind_name(rec->kind)) {
		sim_line_str(&l, emu_trace_kind_name(rec->kind));
	} else {
		sim_line_str(&l, "kind");
		sim_line_u64(&l, rec->kind);
	}
	sim_line_str(&l, " qpn=");
	sim_line_u64(&l, rec->qpn);
	sim_line_str(&l, " psn=");
	sim_line_u64(&l, rec->psn);
	sim_line_str(&l, " op=0x");
	sim_line_hex02(&l, rec->opcode);
	sim_line_str(&l, " wr=");
	sim_line_u64(&l, rec->wr_index);
	sim_line_str(&l, " a=");
	sim_line_u64(&l, rec->a);
	sim_line_str(&l, " b=");
	sim_line_u64(&l, rec->b);
	if (rec->kind == EMU_TR_DROP && rec->a < EMU_DROP_REASONS) {
		const char *name = emu_drop_reason_name((enum emu_drop_reason)rec->a);

		sim_line_str(&l, " (");
		sim_line_str(&l, name ? name : "?");
		sim_line_str(&l, ")");
	}
	sim_trace_end(d->sim, &l);
}

void sim_host_ops_init(struct sim_dev *d)
{
	d->ops.host = d;
	d->ops.alloc = host_alloc;
	d->ops.free = host_free;
	d->ops.copy = host_copy;
	d->ops.crc32 = sim_crc32;
	d->ops.now_ns = host_now_ns;
	d->ops.tx_buf = host_tx_buf;
	d->ops.tx = host_tx;
	d->ops.tx_abort = host_tx_abort;
	d->ops.mr_map = host_mr_map;
	d->ops.fault = host_fault;
	d->ops.cq_post = host_cq_post;
	d->ops.async_event = host_async_event;
	/* With the trace off from the start, the engine need not build records. */
	d->ops.trace = d->sim->trace_off ? NULL : host_trace;
}
