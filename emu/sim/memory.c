/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/memory.c - the host side of memory: tracked allocations, memory regions
 * with the on-demand-paging model, completion queues, and the emu_host_ops table of
 * a simulated device.
 *
 * ODP pages are counted from the start of the registered buffer, not from virtual
 * page boundaries: buffer addresses change from run to run, and the page a byte
 * falls in must not, or the faults (and the trace) would change with them.
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

/* ---- ODP page bitmap ---------------------------------------------------------------- */

static bool page_present(const struct sim_mr *mr, uint64_t page)
{
	return mr->present[page / 8] & (1u << (page % 8));
}

static void pages_set(struct sim_mr *mr, uint64_t off, uint64_t len, bool present)
{
	uint64_t first, last;

	if (!mr->odp || !len || off >= mr->len)
		return;
	if (len > mr->len - off)
		len = mr->len - off;
	first = off >> SIM_PAGE_SHIFT;
	last = (off + len - 1) >> SIM_PAGE_SHIFT;
	for (uint64_t p = first; p <= last; p++) {
		if (present)
			mr->present[p / 8] |= (uint8_t)(1u << (p % 8));
		else
			mr->present[p / 8] &= (uint8_t)~(1u << (p % 8));
	}
}

/* Bytes present from off on, at most want. */
static uint64_t present_run(const struct sim_mr *mr, uint64_t off, uint64_t want)
{
	uint64_t page = off >> SIM_PAGE_SHIFT;
	uint64_t end = off + want;
	uint64_t run_end;

	if (!page_present(mr, page))
		return 0;
	while (page + 1 < mr->npages && ((page + 1) << SIM_PAGE_SHIFT) < end &&
	       page_present(mr, page + 1))
		page++;
	run_end = (page + 1) << SIM_PAGE_SHIFT;
	return (run_end < end ? run_end : end) - off;
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

static long host_mr_map(void *host, void *mr_cookie, uint64_t iova, uint64_t len,
			bool write, void **ptr)
{
	struct sim_mr *mr = mr_cookie;
	uint64_t off, avail;

	(void)host;
	(void)write;
	if (!len)
		return -SIM_EINVAL;
	if (!mr_offset(mr, iova, &off))
		return -SIM_EFAULT;
	avail = mr->len - off < len ? mr->len - off : len;
	if (mr->odp) {
		avail = present_run(mr, off, avail);
		if (!avail)
			return EMU_MAP_NOT_PRESENT;
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
	if (!mr_offset(mr, iova, &off))
		off = mr->len;    /* nothing to make present; still answer */
	sim_tracef(s, "sim fault dev%u mr=%u off=%" PRIu64 " len=%" PRIu64 " %s",
		   d->index, mr->id, off, len, write ? "write" : "read");
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

	pages_set(mr, ev->off, ev->flen, true);
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
	if (mr->odp) {
		/* Implicit ODP (the whole address space) has no buffer to page. */
		if (!buf || len > ((uint64_t)1 << 40))
			return -SIM_EOPNOTSUPP;
		mr->npages = (len + SIM_PAGE_SIZE - 1) >> SIM_PAGE_SHIFT;
		mr->present = sim_blocks_alloc(&s->mem, (size_t)(mr->npages + 7) / 8 + 1);
		if (!mr->present)
			return -SIM_ENOMEM;
	}
	rc = emu_reg_mr(pd, (uint64_t)(uintptr_t)buf, len, access, mr, &mr->emu);
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

void sim_mr_invalidate(struct sim_dev *d, struct emu_mr *emu, uint64_t off, uint64_t len)
{
	struct sim_mr *mr = find_mr(d, emu);

	if (!mr)
		return;
	pages_set(mr, off, len, false);
	sim_tracef(d->sim, "sim invalidate dev%u mr=%u off=%" PRIu64 " len=%" PRIu64,
		   d->index, mr->id, off, len);
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
