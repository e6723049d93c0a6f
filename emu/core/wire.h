/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/core/wire.h - RoCEv2 wire formats (IBA vol. 1 ch. 9, RoCEv2 annex A17).
 *
 * A RoCEv2 datagram's UDP payload is: BTH, the extended transport headers its
 * opcode calls for (in this order: DETH, RETH, AtomicETH, ImmDt, IETH for requests;
 * AETH, AtomicAckETH for responses), the payload, 0..3 pad bytes, and the 4-byte
 * ICRC. All multi-byte fields are big-endian on the wire.
 *
 * Parsing validates every length before it is used; struct emu_pkt then holds the
 * decoded fields and a pointer to the payload inside the caller's buffer.
 */
#ifndef SOFTHCA_EMU_CORE_WIRE_H
#define SOFTHCA_EMU_CORE_WIRE_H

#include "emu.h"

#define ROCE_V2_UDP_DPORT 4791

/* Header sizes in bytes. */
#define BTH_BYTES      12
#define DETH_BYTES     8
#define RETH_BYTES     16
#define ATMETH_BYTES   28
#define IMMDT_BYTES    4
#define IETH_BYTES     4
#define AETH_BYTES     4
#define ATMACK_BYTES   8
#define ICRC_BYTES     4

/* Transport classes: the top 3 bits of the opcode. */
#define OPC_RC 0x00
#define OPC_UC 0x20
#define OPC_RD 0x40
#define OPC_UD 0x60
#define OPC_CLASS_MASK 0xe0

/* Operations: the low 5 bits of the opcode. */
enum ib_op {
	IB_OP_SEND_FIRST = 0x00,
	IB_OP_SEND_MIDDLE = 0x01,
	IB_OP_SEND_LAST = 0x02,
	IB_OP_SEND_LAST_IMM = 0x03,
	IB_OP_SEND_ONLY = 0x04,
	IB_OP_SEND_ONLY_IMM = 0x05,
	IB_OP_WRITE_FIRST = 0x06,
	IB_OP_WRITE_MIDDLE = 0x07,
	IB_OP_WRITE_LAST = 0x08,
	IB_OP_WRITE_LAST_IMM = 0x09,
	IB_OP_WRITE_ONLY = 0x0a,
	IB_OP_WRITE_ONLY_IMM = 0x0b,
	IB_OP_READ_REQUEST = 0x0c,
	IB_OP_READ_RESP_FIRST = 0x0d,
	IB_OP_READ_RESP_MIDDLE = 0x0e,
	IB_OP_READ_RESP_LAST = 0x0f,
	IB_OP_READ_RESP_ONLY = 0x10,
	IB_OP_ACK = 0x11,
	IB_OP_ATOMIC_ACK = 0x12,
	IB_OP_CMP_SWAP = 0x13,
	IB_OP_FETCH_ADD = 0x14,
	IB_OP_SEND_LAST_INV = 0x16,
	IB_OP_SEND_ONLY_INV = 0x17,
};

/* Opcode properties (struct emu_opcode_info.mask). */
#define OPM_DETH      (1u << 0)
#define OPM_RETH      (1u << 1)
#define OPM_ATMETH    (1u << 2)
#define OPM_IMMDT     (1u << 3)
#define OPM_IETH      (1u << 4)
#define OPM_AETH      (1u << 5)
#define OPM_ATMACK    (1u << 6)
#define OPM_PAYLOAD   (1u << 7)   /* may carry payload */
#define OPM_REQ       (1u << 8)   /* a request (to the responder) */
#define OPM_RESP      (1u << 9)   /* a response (to the requester) */
#define OPM_FIRST     (1u << 10)
#define OPM_MIDDLE    (1u << 11)
#define OPM_LAST      (1u << 12)
#define OPM_ONLY      (OPM_FIRST | OPM_LAST)
#define OPM_SEND      (1u << 13)
#define OPM_WRITE     (1u << 14)
#define OPM_READ      (1u << 15)  /* READ request */
#define OPM_READ_RESP (1u << 16)
#define OPM_ATOMIC    (1u << 17)  /* CMP_SWAP or FETCH_ADD request */
#define OPM_ACK       (1u << 18)  /* ACK or ATOMIC_ACK */
#define OPM_INV       (1u << 19)  /* SEND with invalidate */

struct emu_opcode_info {
	const char *name;     /* NULL: opcode not supported */
	uint32_t mask;        /* OPM_* */
	uint8_t  hdr_len;     /* BTH + extended headers */
};

/* Indexed by the full 8-bit BTH opcode; entries with name NULL are rejected. */
extern const struct emu_opcode_info emu_opcodes[256];

/* AETH syndrome (IBA 9.7.5.1). */
#define AETH_TYPE_MASK   0x60
#define AETH_ACK         0x00
#define AETH_RNR_NAK     0x20
#define AETH_NAK         0x60
#define AETH_VALUE_MASK  0x1f
#define AETH_NAK_PSN_SEQ       0
#define AETH_NAK_INVALID_REQ   1
#define AETH_NAK_REM_ACCESS    2
#define AETH_NAK_REM_OP        3
#define AETH_NAK_INVALID_RD    4
#define AETH_CREDIT_INVALID    0x1f   /* "no credit count" */

/* A decoded packet. payload points into the buffer that was parsed. */
struct emu_pkt {
	/* BTH */
	uint8_t  opcode;
	uint8_t  se;          /* solicited event */
	uint8_t  mig;
	uint8_t  pad;         /* pad count 0..3 */
	uint8_t  tver;
	uint8_t  fecn, becn;
	uint8_t  ackreq;
	uint16_t pkey;
	uint32_t dqpn;        /* 24 bits */
	uint32_t psn;         /* 24 bits */
	/* extended headers, valid when the opcode's mask says so */
	uint64_t reth_va;
	uint32_t reth_rkey;
	uint32_t reth_len;
	uint64_t atm_va;
	uint32_t atm_rkey;
	uint64_t atm_swap;    /* swap data, or the add value of FETCH_ADD */
	uint64_t atm_compare;
	uint32_t deth_qkey;
	uint32_t deth_sqpn;   /* 24 bits */
	uint32_t imm;         /* host order */
	uint32_t ieth_rkey;
	uint8_t  aeth_syndrome;
	uint32_t aeth_msn;    /* 24 bits */
	uint64_t atmack_orig;
	/* derived */
	uint32_t mask;        /* emu_opcodes[opcode].mask */
	uint32_t hdr_len;
	const uint8_t *payload;
	uint32_t paylen;      /* payload bytes, without pad */
};

/*
 * Parse and validate the UDP payload (BTH .. ICRC) of a RoCEv2 datagram: known and
 * supported opcode, transport version 0, the headers the opcode needs fit, the pad
 * is 0 for opcodes without payload, and header + payload + pad + ICRC == len.
 * Does not check the ICRC (emu_icrc_check) or anything that needs QP state.
 * Returns true, or false with *why set.
 */
bool emu_pkt_parse(const uint8_t *buf, size_t len, struct emu_pkt *pkt,
		   enum emu_drop_reason *why);

/*
 * Write BTH and the extended headers the opcode calls for, from pkt, into buf
 * (at least pkt hdr_len bytes: emu_opcodes[pkt->opcode].hdr_len). pkt->pad is
 * written into the BTH as given. Returns the header length, 0 for an unsupported
 * opcode.
 */
uint32_t emu_pkt_build_hdr(uint8_t *buf, const struct emu_pkt *pkt);

/* Pad bytes needed after a payload of paylen bytes. */
static inline uint32_t emu_pad_len(uint32_t paylen) { return (4 - (paylen & 3)) & 3; }

/*
 * ICRC (IBA A17.3.3): CRC-32 over the IP and UDP headers described by ni, with
 * the variant fields masked to ones (IPv4 TOS, TTL, header checksum; IPv6 traffic
 * class, flow label, hop limit; UDP checksum), preceded by 8 bytes of ones for
 * the masked LRH, then BTH with the FECN/BECN/resv6 byte masked to ones, then the
 * rest of the packet up to the ICRC. len is the whole UDP payload including the 4
 * ICRC bytes. The ICRC is stored as the 4 trailing bytes of the packet in
 * little-endian order (as Linux rxe and hardware put it on the wire).
 */
uint32_t emu_icrc_compute(const struct emu_host_ops *ops, const struct emu_netinfo *ni,
			  const uint8_t *pkt, size_t len);
bool     emu_icrc_check(const struct emu_host_ops *ops, const struct emu_netinfo *ni,
			const uint8_t *pkt, size_t len);
void     emu_icrc_fill(const struct emu_host_ops *ops, const struct emu_netinfo *ni,
		       uint8_t *pkt, size_t len);

/* ---- PSN arithmetic (24 bits, wrapping) -------------------------------------- */

#define PSN_MASK 0xffffffu

static inline uint32_t psn_add(uint32_t psn, uint32_t n) { return (psn + n) & PSN_MASK; }

/* Signed distance a - b in the 24-bit circle, in [-2^23, 2^23). */
static inline int32_t psn_diff(uint32_t a, uint32_t b)
{
	uint32_t d = (a - b) & PSN_MASK;
	return (d & 0x800000u) ? (int32_t)d - 0x1000000 : (int32_t)d;
}

/* ---- big-endian helpers --------------------------------------------------------- */

static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t get_be24(const uint8_t *p)
{ return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2]; }
static inline uint32_t get_be32(const uint8_t *p)
{ return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline uint64_t get_be64(const uint8_t *p)
{ return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4); }
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be24(uint8_t *p, uint32_t v)
{ p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{ p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static inline void put_be64(uint8_t *p, uint64_t v)
{ put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v); }

#endif /* SOFTHCA_EMU_CORE_WIRE_H */
