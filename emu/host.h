/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/host.h - the contract between the softhca engine (emu/core) and a host.
 *
 * The engine is host-agnostic C: it has no libc, no threads, no allocator and no
 * clock of its own. Everything it needs from the outside world comes through the
 * function table below, and this header is the only door out of the engine.
 *
 * A host (the simulator, the user-mode process host, the kernel module) fills one
 * struct emu_host_ops per device and passes it to emu_dev_create().
 *
 * Concurrency: the engine is not thread-safe. A host serialises every call into
 * one device (all emu_* calls taking that device or one of its objects). Calls on
 * different devices may run concurrently. The engine calls back into the host only
 * from inside such a call, on the same thread.
 */
#ifndef SOFTHCA_EMU_HOST_H
#define SOFTHCA_EMU_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Network metadata of one RoCEv2 datagram: what the IP and UDP headers around the
 * UDP payload (BTH .. ICRC) hold. The ICRC covers a masked copy of these headers,
 * so the engine needs them to compute and check it.
 *
 * Addresses are always 16 bytes: IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), which
 * is also the form of a RoCEv2 GID for an IPv4 address.
 */
struct emu_netinfo {
	uint8_t  ip_version;   /* 4 or 6 */
	uint8_t  tos;          /* IPv4 TOS / IPv6 traffic class (masked in ICRC) */
	uint8_t  ttl;          /* IPv4 TTL / IPv6 hop limit (masked in ICRC) */
	uint8_t  flags;        /* EMU_NI_* */
	uint16_t ip_id;        /* IPv4 identification (covered by the ICRC) */
	uint16_t frag_off;     /* IPv4 flags+fragment offset, host order: 0x4000 = DF */
	uint32_t flow_label;   /* IPv6 only (masked in ICRC) */
	uint16_t udp_sport;    /* host order */
	uint16_t udp_dport;    /* host order, 4791 for RoCEv2 */
	uint8_t  src[16];      /* source address / GID */
	uint8_t  dst[16];      /* destination address / GID */
};

/*
 * emu_netinfo.flags: EMU_NI_IP_ID_UNKNOWN - a received IPv4 packet whose header
 * the host did not see (a UDP socket shows addresses and ports, not the
 * identification). ip_id is then a guess (0, what Linux sends from a DF socket
 * with no connection); if the ICRC does not match with it, the engine solves for
 * the identification that makes it match (Linux's rdma_rxe and hardware number
 * their packets), which leaves 16 of the ICRC's 32 bits to catch corruption.
 */
#define EMU_NI_IP_ID_UNKNOWN 0x01

/* Answer of emu_host_ops.mr_map for a range that is valid but not present now. */
#define EMU_MAP_NOT_PRESENT 0

/* Kinds of structured trace record (see emu_host_ops.trace). */
enum emu_trace_kind {
	EMU_TR_TX = 1,        /* a packet handed to the host for sending */
	EMU_TR_RX,            /* a packet accepted by the engine */
	EMU_TR_DROP,          /* a received packet dropped; a = enum emu_drop_reason */
	EMU_TR_RETRANSMIT,    /* the requester went back to psn */
	EMU_TR_NAK,           /* a NAK sent (a = syndrome) */
	EMU_TR_RNR,           /* an RNR NAK sent or received */
	EMU_TR_DMA_WRITE,     /* a data write made visible; a = length */
	EMU_TR_CQE,           /* a completion made visible; a = status, b = opcode */
	EMU_TR_STATE,         /* a QP state change; a = old, b = new */
	EMU_TR_STALL,         /* a QP stalled; a = enum emu_stall_reason */
	EMU_TR_RESUME,        /* a stalled QP resumed */
	EMU_TR_EVENT,         /* an asynchronous event; a = event type */
	EMU_TR_TIMEOUT,       /* the transport timer fired */
	EMU_TR_DMA_HOLD,      /* a data write held back by the ordering policy; a = length
			       * (a, b of DMA_HOLD and DMA_WRITE: see emu/core/emu.h) */
	EMU_TR_DMA_CQE_FIRST, /* the next CQE is made visible before its WR's data;
			       * a = writes of that WR still held */
	EMU_TR_DMA_DEFERRAL,  /* a deferral point landed held writes; a = how many */
};

/*
 * One trace record. Keyed by stable identifiers only (device id, QPN, PSN, WR
 * index), never by addresses or wall-clock time, so the same seed and scenario give
 * the same records.
 */
struct emu_trace_rec {
	uint16_t kind;        /* enum emu_trace_kind */
	uint8_t  opcode;      /* BTH opcode where it applies, else 0 */
	uint8_t  reserved;
	uint32_t dev_id;
	uint32_t qpn;
	uint32_t psn;
	uint64_t wr_index;    /* per-QP index of the WR, or 0 */
	uint64_t a, b;        /* kind-specific */
};

/* Asynchronous event, numbered as enum ibv_event_type. */
struct emu_async_event {
	uint32_t type;        /* EMU_EVENT_* (emu/core/emu.h) */
	uint32_t port;
	void    *cookie;      /* the host cookie of the QP, CQ or SRQ concerned */
	uint32_t qpn;
};

struct emu_wc;

struct emu_host_ops {
	void *host;           /* passed back as the first argument of every call */

	/* Memory for engine objects. Must return zeroed memory or NULL. */
	void *(*alloc)(void *host, size_t size);
	void  (*free)(void *host, void *ptr);

	/* Plain memory copy (payload); may be the host's fastest memcpy. */
	void  (*copy)(void *dst, const void *src, size_t len);

	/* CRC-32 (IEEE 802.3), with the semantics of zlib's crc32(): start from 0,
	 * pre- and post-inversion inside, chainable: crc32(crc32(0, a), b) equals
	 * crc32(0, a || b). (Linux: ~crc32_le(~crc, buf, len).) */
	uint32_t (*crc32)(uint32_t crc, const void *buf, size_t len);

	/* Monotonic time in nanoseconds (virtual in the simulator). */
	uint64_t (*now_ns)(void *host);

	/* Transmit. The engine asks for a buffer of len bytes, fills it with the UDP
	 * payload (BTH .. ICRC) and hands it back with tx(). tx_buf may return NULL
	 * (no buffer): the engine treats the packet as lost on the wire. tx() takes
	 * ownership of the buffer. */
	void *(*tx_buf)(void *host, size_t len);
	void  (*tx)(void *host, const struct emu_netinfo *ni, void *buf, size_t len);
	/* Give back a tx_buf buffer the engine could not fill (its payload source
	 * vanished). Optional: when NULL, the engine passes the buffer to free(). */
	void  (*tx_abort)(void *host, void *buf);

	/*
	 * Translate [iova, iova + len) of a memory region the host registered (its
	 * cookie is what the host gave emu_reg_mr) into host memory.
	 * Returns the number of bytes (> 0, <= len) contiguous at *ptr,
	 * EMU_MAP_NOT_PRESENT if the range is valid but not present now (on-demand
	 * paging: the engine stalls and calls fault()), or a negative errno if the
	 * range is not backed by memory at all (an access error).
	 */
	long  (*mr_map)(void *host, void *mr_cookie, uint64_t iova, uint64_t len,
			bool write, void **ptr);

	/* Ask the host to make [iova, iova + len) of an MR present. Asynchronous:
	 * the host calls emu_dev_mem_ready() when done. May be NULL if the host never
	 * answers EMU_MAP_NOT_PRESENT. */
	void  (*fault)(void *host, void *mr_cookie, uint64_t iova, uint64_t len,
		       bool write);

	/*
	 * Publish one completion into the CQ whose host cookie is cq_cookie.
	 * Returns 0, or a negative errno (-ENOSPC = -28) if the CQ is full: the
	 * engine then reports a CQ overflow error. solicited is true when the
	 * completion should wake a CQ armed for solicited events only.
	 */
	int   (*cq_post)(void *host, void *cq_cookie, const struct emu_wc *wc,
			 bool solicited);

	/* An asynchronous event (QP fatal, CQ error, SRQ limit, port state...). */
	void  (*async_event)(void *host, const struct emu_async_event *ev);

	/* Structured trace record. May be NULL. */
	void  (*trace)(void *host, const struct emu_trace_rec *rec);
};

#endif /* SOFTHCA_EMU_HOST_H */
