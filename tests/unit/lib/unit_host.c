/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * unit_host.c - a minimal host for unit tests of the engine (see unit_host.h).
 */
#include "unit_host.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void *uh_alloc(void *host, size_t size)
{
	struct unit_host *h = host;
	void *p;

	if (h->alloc_budget == 0)
		return NULL;
	p = calloc(1, size ? size : 1);
	if (!p)
		return NULL;
	if (h->alloc_budget > 0)
		h->alloc_budget--;
	h->live_allocs++;
	return p;
}

static void uh_free(void *host, void *ptr)
{
	struct unit_host *h = host;

	if (!ptr)
		return;
	h->live_allocs--;
	free(ptr);
}

static void uh_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}

static uint32_t uh_crc32(uint32_t crc, const void *buf, size_t len)
{
	return (uint32_t)crc32_z(crc, buf, len);
}

static uint64_t uh_now(void *host)
{
	return ((struct unit_host *)host)->now;
}

static void *uh_tx_buf(void *host, size_t len)
{
	struct unit_host *h = host;

	if (h->tx_buf_fail)
		return NULL;
	return malloc(len ? len : 1);
}

static void uh_tx(void *host, const struct emu_netinfo *ni, void *buf, size_t len)
{
	struct unit_host *h = host;

	if (h->n_pkts < UNIT_MAX_PKTS) {
		struct unit_pkt *p = &h->pkts[h->n_pkts];

		p->ni = *ni;
		p->buf = buf;
		p->len = len;
	} else {
		free(buf);
	}
	h->n_pkts++;
}

static long uh_mr_map(void *host, void *mr_cookie, uint64_t iova, uint64_t len,
		      bool write, void **ptr)
{
	struct unit_mr *mr = mr_cookie;
	uint64_t n = len;

	(void)host;
	(void)write;
	mr->maps++;
	if (mr->error)
		return mr->error;
	if (!mr->present)
		return EMU_MAP_NOT_PRESENT;
	if (mr->max_chunk && n > mr->max_chunk)
		n = mr->max_chunk;
	if (n > (uint64_t)LONG_MAX)
		n = (uint64_t)LONG_MAX;
	*ptr = (void *)(uintptr_t)(iova + mr->offset);
	return (long)n;
}

static void uh_fault(void *host, void *mr_cookie, uint64_t iova, uint64_t len, bool write)
{
	struct unit_host *h = host;

	if (h->n_faults < UNIT_MAX_FAULTS) {
		struct unit_fault *f = &h->faults[h->n_faults];

		f->mr_cookie = mr_cookie;
		f->iova = iova;
		f->len = len;
		f->write = write;
	}
	h->n_faults++;
}

static int uh_cq_post(void *host, void *cq_cookie, const struct emu_wc *wc, bool solicited)
{
	struct unit_host *h = host;

	if (h->cq_post_ret)
		return h->cq_post_ret;
	if (h->n_wcs < UNIT_MAX_WCS) {
		struct unit_wc *w = &h->wcs[h->n_wcs];

		w->cq_cookie = cq_cookie;
		w->wc = *wc;
		w->solicited = solicited;
	}
	h->n_wcs++;
	return 0;
}

static void uh_async_event(void *host, const struct emu_async_event *ev)
{
	struct unit_host *h = host;

	if (h->n_events < UNIT_MAX_EVENTS)
		h->events[h->n_events] = *ev;
	h->n_events++;
}

static void uh_trace(void *host, const struct emu_trace_rec *rec)
{
	struct unit_host *h = host;

	if (h->n_traces < UNIT_MAX_TRACES)
		h->traces[h->n_traces] = *rec;
	h->n_traces++;
}

void unit_host_init(struct unit_host *h)
{
	memset(h, 0, sizeof(*h));
	h->alloc_budget = -1;
	h->ops.host = h;
	h->ops.alloc = uh_alloc;
	h->ops.free = uh_free;
	h->ops.copy = uh_copy;
	h->ops.crc32 = uh_crc32;
	h->ops.now_ns = uh_now;
	h->ops.tx_buf = uh_tx_buf;
	h->ops.tx = uh_tx;
	h->ops.mr_map = uh_mr_map;
	h->ops.fault = uh_fault;
	h->ops.cq_post = uh_cq_post;
	h->ops.async_event = uh_async_event;
	h->ops.trace = uh_trace;
}

static void free_pkts(struct unit_host *h)
{
	size_t kept = h->n_pkts < UNIT_MAX_PKTS ? h->n_pkts : UNIT_MAX_PKTS;

	for (size_t i = 0; i < kept; i++) {
		free(h->pkts[i].buf);
		h->pkts[i].buf = NULL;
	}
}

void unit_host_fini(struct unit_host *h)
{
	free_pkts(h);
	h->n_pkts = 0;
}

void unit_host_clear(struct unit_host *h)
{
	free_pkts(h);
	h->n_pkts = 0;
	h->n_wcs = 0;
	h->n_events = 0;
	h->n_traces = 0;
	h->n_faults = 0;
}

size_t unit_count_traces(const struct unit_host *h, uint16_t kind)
{
	size_t kept = h->n_traces < UNIT_MAX_TRACES ? h->n_traces : UNIT_MAX_TRACES;
	size_t n = 0;

	for (size_t i = 0; i < kept; i++)
		n += h->traces[i].kind == kind;
	return n;
}

size_t unit_count_events(const struct unit_host *h, uint32_t type)
{
	size_t kept = h->n_events < UNIT_MAX_EVENTS ? h->n_events : UNIT_MAX_EVENTS;
	size_t n = 0;

	for (size_t i = 0; i < kept; i++)
		n += h->events[i].type == type;
	return n;
}
