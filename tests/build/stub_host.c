/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/build/stub_host.c - the smallest host the engine can link against.
 *
 * check_freestanding.sh links every engine source with this file alone, into a
 * shared object with no C library and no undefined symbol allowed. Whatever the
 * engine needs beyond the host ops and the four memory functions below (which a
 * kernel provides too, and which gcc may call for struct copies and loops) fails
 * that link. Nothing here ever runs; it only has to be a complete, honest host.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/core/emu.h"

/* ---- what a kernel also provides ---------------------------------------------- */

/* Byte loops through volatile pointers, so that gcc cannot turn a loop back into
 * a call to the very function it implements. */
void *memcpy(void *dst, const void *src, size_t n)
{
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;

	if ((uintptr_t)d <= (uintptr_t)s) {
		while (n--)
			*d++ = *s++;
	} else {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	volatile unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a;
	const volatile unsigned char *y = b;

	for (; n; n--, x++, y++) {
		if (*x != *y)
			return *x < *y ? -1 : 1;
	}
	return 0;
}

/* ---- a trivial host --------------------------------------------------------------- */

/* A bump allocator over a static arena: zeroed memory, never given back. */
static unsigned char stub_arena[1u << 20];
static size_t stub_arena_used;

static void *stub_alloc(void *host, size_t size)
{
	size_t aligned = (size + 15u) & ~(size_t)15u;
	void *p;

	(void)host;
	if (aligned < size || aligned > sizeof(stub_arena) - stub_arena_used)
		return NULL;
	p = &stub_arena[stub_arena_used];
	stub_arena_used += aligned;
	return p;
}

static void stub_free(void *host, void *ptr)
{
	(void)host;
	(void)ptr;
}

static void stub_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}

static uint32_t stub_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc;
	int bit;

	while (len--) {
		c ^= *p++;
		for (bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

static uint64_t stub_now_ns(void *host)
{
	(void)host;
	return 0;
}

static void *stub_tx_buf(void *host, size_t len)
{
	(void)host;
	(void)len;
	return NULL;
}

static void stub_tx(void *host, const struct emu_netinfo *ni, void *buf, size_t len)
{
	(void)host;
	(void)ni;
	(void)buf;
	(void)len;
}

static long stub_mr_map(void *host, void *mr_cookie, uint64_t iova, uint64_t len,
			bool write, void **ptr)
{
	(void)host;
	(void)mr_cookie;
	(void)iova;
	(void)len;
	(void)write;
	*ptr = NULL;
	return -EMU_EFAULT;
}

static void stub_fault(void *host, void *mr_cookie, uint64_t iova, uint64_t len,
		       bool write)
{
	(void)host;
	(void)mr_cookie;
	(void)iova;
	(void)len;
	(void)write;
}

static int stub_cq_post(void *host, void *cq_cookie, const struct emu_wc *wc,
			bool solicited)
{
	(void)host;
	(void)cq_cookie;
	(void)wc;
	(void)solicited;
	return -EMU_ENOSPC;
}

static void stub_async_event(void *host, const struct emu_async_event *ev)
{
	(void)host;
	(void)ev;
}

static void stub_trace(void *host, const struct emu_trace_rec *rec)
{
	(void)host;
	(void)rec;
}

/* Exported, so that the link keeps it and everything the engine pulls in. */
int stub_host_start(void);

int stub_host_start(void)
{
	static struct emu_host_ops ops;
	struct emu_dev_config cfg;
	struct emu_dev *dev = NULL;
	int err;

	ops.host = &ops;
	ops.alloc = stub_alloc;
	ops.free = stub_free;
	ops.copy = stub_copy;
	ops.crc32 = stub_crc32;
	ops.now_ns = stub_now_ns;
	ops.tx_buf = stub_tx_buf;
	ops.tx = stub_tx;
	ops.mr_map = stub_mr_map;
	ops.fault = stub_fault;
	ops.cq_post = stub_cq_post;
	ops.async_event = stub_async_event;
	ops.trace = stub_trace;

	memset(&cfg, 0, sizeof(cfg));
	cfg.port_mtu = 1024;

	err = emu_dev_create(&ops, &cfg, &dev);
	if (err == 0)
		emu_dev_destroy(dev);
	return err;
}
