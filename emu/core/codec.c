/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/core/codec.c - RoCEv2 transport headers: the opcode table, parsing with
 * validation, and header building (IBA vol. 1 ch. 9).
 */
#include "emu.h"
#include "wire.h"

/* Header length follows from the mask, so the table cannot disagree with itself. */
#define HDR_LEN(m)                                    \
	(BTH_BYTES +                                  \
	 (((m) & OPM_DETH) ? DETH_BYTES : 0) +        \
	 (((m) & OPM_RETH) ? RETH_BYTES : 0) +        \
	 (((m) & OPM_ATMETH) ? ATMETH_BYTES : 0) +    \
	 (((m) & OPM_IMMDT) ? IMMDT_BYTES : 0) +      \
	 (((m) & OPM_IETH) ? IETH_BYTES : 0) +        \
	 (((m) & OPM_AETH) ? AETH_BYTES : 0) +        \
	 (((m) & OPM_ATMACK) ? ATMACK_BYTES : 0))

#define OP(code, str, m) [code] = { .name = (str), .mask = (m), .hdr_len = HDR_LEN(m) }

#define SEND_REQ  (OPM_PAYLOAD | OPM_REQ | OPM_SEND)
#define WRITE_REQ (OPM_PAYLOAD | OPM_REQ | OPM_WRITE)
#define READ_RSP  (OPM_PAYLOAD | OPM_RESP | OPM_READ_RESP)

/* SEND and RDMA WRITE opcodes are the same for RC and UC, only the class differs. */
#define SEND_WRITE_OPS(cls, pfx)                                                         \
	OP(cls | IB_OP_SEND_FIRST, pfx "SEND_FIRST", SEND_REQ | OPM_FIRST),              \
	OP(cls | IB_OP_SEND_MIDDLE, pfx "SEND_MIDDLE", SEND_REQ | OPM_MIDDLE),           \
	OP(cls | IB_OP_SEND_LAST, pfx "SEND_LAST", SEND_REQ | OPM_LAST),                 \
	OP(cls | IB_OP_SEND_LAST_IMM, pfx "SEND_LAST_WITH_IMMEDIATE",                    \
	   SEND_REQ | OPM_LAST | OPM_IMMDT),                                             \
	OP(cls | IB_OP_SEND_ONLY, pfx "SEND_ONLY", SEND_REQ | OPM_ONLY),                 \
	OP(cls | IB_OP_SEND_ONLY_IMM, pfx "SEND_ONLY_WITH_IMMEDIATE",                    \
	   SEND_REQ | OPM_ONLY | OPM_IMMDT),                                             \
	OP(cls | IB_OP_WRITE_FIRST, pfx "RDMA_WRITE_FIRST",                              \
	   WRITE_REQ | OPM_FIRST | OPM_RETH),                                            \
	OP(cls | IB_OP_WRITE_MIDDLE, pfx "RDMA_WRITE_MIDDLE", WRITE_REQ | OPM_MIDDLE),   \
	OP(cls | IB_OP_WRITE_LAST, pfx "RDMA_WRITE_LAST", WRITE_REQ | OPM_LAST),         \
	OP(cls | IB_OP_WRITE_LAST_IMM, pfx "RDMA_WRITE_LAST_WITH_IMMEDIATE",             \
	   WRITE_REQ | OPM_LAST | OPM_IMMDT),                                            \
	OP(cls | IB_OP_WRITE_ONLY, pfx "RDMA_WRITE_ONLY", WRITE_REQ | OPM_ONLY | OPM_RETH), \
	OP(cls | IB_OP_WRITE_ONLY_IMM, pfx "RDMA_WRITE_ONLY_WITH_IMMEDIATE",             \
	   WRITE_REQ | OPM_ONLY | OPM_RETH | OPM_IMMDT)

/*
 * Single-packet requests and acknowledgements are marked ONLY (FIRST|LAST) so that
 * "first/last packet of a message" tests need no special cases for them.
 */
const struct emu_opcode_info emu_opcodes[256] = {
	SEND_WRITE_OPS(OPC_RC, "RC_"),
	OP(OPC_RC | IB_OP_READ_REQUEST, "RC_RDMA_READ_REQUEST",
	   OPM_REQ | OPM_READ | OPM_ONLY | OPM_RETH),
	OP(OPC_RC | IB_OP_READ_RESP_FIRST, "RC_RDMA_READ_RESPONSE_FIRST",
	   READ_RSP | OPM_FIRST | OPM_AETH),
	OP(OPC_RC | IB_OP_READ_RESP_MIDDLE, "RC_RDMA_READ_RESPONSE_MIDDLE",
	   READ_RSP | OPM_MIDDLE),
	OP(OPC_RC | IB_OP_READ_RESP_LAST, "RC_RDMA_READ_RESPONSE_LAST",
	   READ_RSP | OPM_LAST | OPM_AETH),
	OP(OPC_RC | IB_OP_READ_RESP_ONLY, "RC_RDMA_READ_RESPONSE_ONLY",
	   READ_RSP | OPM_ONLY | OPM_AETH),
	OP(OPC_RC | IB_OP_ACK, "RC_ACKNOWLEDGE",
	   OPM_RESP | OPM_ACK | OPM_ONLY | OPM_AETH),
	OP(OPC_RC | IB_OP_ATOMIC_ACK, "RC_ATOMIC_ACKNOWLEDGE",
	   OPM_RESP | OPM_ACK | OPM_ONLY | OPM_AETH | OPM_ATMACK),
	OP(OPC_RC | IB_OP_CMP_SWAP, "RC_COMPARE_SWAP",
	   OPM_REQ | OPM_ATOMIC | OPM_ONLY | OPM_ATMETH),
	OP(OPC_RC | IB_OP_FETCH_ADD, "RC_FETCH_ADD",
	   OPM_REQ | OPM_ATOMIC | OPM_ONLY | OPM_ATMETH),
	OP(OPC_RC | IB_OP_SEND_LAST_INV, "RC_SEND_LAST_WITH_INVALIDATE",
	   SEND_REQ | OPM_LAST | OPM_INV | OPM_IETH),
	OP(OPC_RC | IB_OP_SEND_ONLY_INV, "RC_SEND_ONLY_WITH_INVALIDATE",
	   SEND_REQ | OPM_ONLY | OPM_INV | OPM_IETH),

	SEND_WRITE_OPS(OPC_UC, "UC_"),

	OP(OPC_UD | IB_OP_SEND_ONLY, "UD_SEND_ONLY", SEND_REQ | OPM_ONLY | OPM_DETH),
	OP(OPC_UD | IB_OP_SEND_ONLY_IMM, "UD_SEND_ONLY_WITH_IMMEDIATE",
	   SEND_REQ | OPM_ONLY | OPM_DETH | OPM_IMMDT),
};

/* BTH byte 1: SE, MigReq, pad count, transport header version. */
#define BTH_SE      0x80
#define BTH_MIG     0x40
#define BTH_PAD_SHIFT 4
#define BTH_PAD_MASK  0x3
#define BTH_TVER_MASK 0xf
/* BTH byte 4: FECN, BECN, 6 reserved bits. */
#define BTH_FECN    0x80
#define BTH_BECN    0x40
/* BTH byte 8: AckReq, 7 reserved bits. */
#define BTH_ACKREQ  0x80

static void parse_bth(const uint8_t *p, struct emu_pkt *pkt)
{
	pkt->opcode = p[0];
	pkt->se = (p[1] & BTH_SE) ? 1 : 0;
	pkt->mig = (p[1] & BTH_MIG) ? 1 : 0;
	pkt->pad = (p[1] >> BTH_PAD_SHIFT) & BTH_PAD_MASK;
	pkt->tver = p[1] & BTH_TVER_MASK;
	pkt->pkey = get_be16(p + 2);
	pkt->fecn = (p[4] & BTH_FECN) ? 1 : 0;
	pkt->becn = (p[4] & BTH_BECN) ? 1 : 0;
	pkt->dqpn = get_be24(p + 5);
	pkt->ackreq = (p[8] & BTH_ACKREQ) ? 1 : 0;
	pkt->psn = get_be24(p + 9);
}

static void clear_ext_fields(struct emu_pkt *pkt)
{
	pkt->reth_va = 0;
	pkt->reth_rkey = 0;
	pkt->reth_len = 0;
	pkt->atm_va = 0;
	pkt->atm_rkey = 0;
	pkt->atm_swap = 0;
	pkt->atm_compare = 0;
	pkt->deth_qkey = 0;
	pkt->deth_sqpn = 0;
	pkt->imm = 0;
	pkt->ieth_rkey = 0;
	pkt->aeth_syndrome = 0;
	pkt->aeth_msn = 0;
	pkt->atmack_orig = 0;
}

/* Caller guarantees the buffer holds all headers of pkt->mask after the BTH. */
static void parse_ext(const uint8_t *p, struct emu_pkt *pkt)
{
	uint32_t m = pkt->mask;

	if (m & OPM_DETH) {
		pkt->deth_qkey = get_be32(p);
		pkt->deth_sqpn = get_be24(p + 5);
		p += DETH_BYTES;
	}
	if (m & OPM_RETH) {
		pkt->reth_va = get_be64(p);
		pkt->reth_rkey = get_be32(p + 8);
		pkt->reth_len = get_be32(p + 12);
		p += RETH_BYTES;
	}
	if (m & OPM_ATMETH) {
		pkt->atm_va = get_be64(p);
		pkt->atm_rkey = get_be32(p + 8);
		pkt->atm_swap = get_be64(p + 12);
		pkt->atm_compare = get_be64(p + 20);
		p += ATMETH_BYTES;
	}
	if (m & OPM_IMMDT) {
		pkt->imm = get_be32(p);
		p += IMMDT_BYTES;
	}
	if (m & OPM_IETH) {
		pkt->ieth_rkey = get_be32(p);
		p += IETH_BYTES;
	}
	if (m & OPM_AETH) {
		pkt->aeth_syndrome = p[0];
		pkt->aeth_msn = get_be24(p + 1);
		p += AETH_BYTES;
	}
	if (m & OPM_ATMACK)
		pkt->atmack_orig = get_be64(p);
}

static bool reject(enum emu_drop_reason *why, enum emu_drop_reason reason)
{
	if (why)
		*why = reason;
	return false;
}

/* Lengths are checked in an order where no subtraction can wrap. */
static bool check_lengths(size_t len, uint32_t mask, uint32_t hdr_len, uint8_t pad,
			  enum emu_drop_reason *why)
{
	if (len < (size_t)hdr_len + ICRC_BYTES)
		return reject(why, EMU_DROP_SHORT);
	if (!(mask & OPM_PAYLOAD)) {
		if (pad != 0)
			return reject(why, EMU_DROP_PAD);
		if (len != (size_t)hdr_len + ICRC_BYTES)
			return reject(why, EMU_DROP_LENGTH);
		return true;
	}
	if (len - hdr_len - ICRC_BYTES < pad)
		return reject(why, EMU_DROP_PAD);
	if ((len - ICRC_BYTES) % 4 != 0)
		return reject(why, EMU_DROP_PAD);
	/* paylen is 32 bits; no real datagram comes near this. */
	if ((uint64_t)len > UINT32_MAX)
		return reject(why, EMU_DROP_LENGTH);
	return true;
}

bool emu_pkt_parse(const uint8_t *buf, size_t len, struct emu_pkt *pkt,
		   enum emu_drop_reason *why)
{
	const struct emu_opcode_info *info;

	if (len < BTH_BYTES + ICRC_BYTES)
		return reject(why, EMU_DROP_SHORT);
	info = &emu_opcodes[buf[0]];
	if (!info->name)
		return reject(why, EMU_DROP_OPCODE);
	if ((buf[1] & BTH_TVER_MASK) != 0)
		return reject(why, EMU_DROP_VERSION);
	if (!check_lengths(len, info->mask, info->hdr_len,
			   (buf[1] >> BTH_PAD_SHIFT) & BTH_PAD_MASK, why))
		return false;

	parse_bth(buf, pkt);
	pkt->mask = info->mask;
	pkt->hdr_len = info->hdr_len;
	clear_ext_fields(pkt);
	parse_ext(buf + BTH_BYTES, pkt);
	pkt->paylen = (uint32_t)(len - info->hdr_len - pkt->pad - ICRC_BYTES);
	pkt->payload = buf + info->hdr_len;
	return true;
}

static void build_bth(uint8_t *p, const struct emu_pkt *pkt)
{
	p[0] = pkt->opcode;
	p[1] = (uint8_t)((pkt->se ? BTH_SE : 0) | (pkt->mig ? BTH_MIG : 0) |
			 ((pkt->pad & BTH_PAD_MASK) << BTH_PAD_SHIFT) |
			 (pkt->tver & BTH_TVER_MASK));
	put_be16(p + 2, pkt->pkey);
	p[4] = (uint8_t)((pkt->fecn ? BTH_FECN : 0) | (pkt->becn ? BTH_BECN : 0));
	put_be24(p + 5, pkt->dqpn & PSN_MASK);
	p[8] = pkt->ackreq ? BTH_ACKREQ : 0;
	put_be24(p + 9, pkt->psn & PSN_MASK);
}

static uint8_t *build_req_ext(uint8_t *p, uint32_t m, const struct emu_pkt *pkt)
{
	if (m & OPM_DETH) {
		put_be32(p, pkt->deth_qkey);
		p[4] = 0;
		put_be24(p + 5, pkt->deth_sqpn & PSN_MASK);
		p += DETH_BYTES;
	}
	if (m & OPM_RETH) {
		put_be64(p, pkt->reth_va);
		put_be32(p + 8, pkt->reth_rkey);
		put_be32(p + 12, pkt->reth_len);
		p += RETH_BYTES;
	}
	if (m & OPM_ATMETH) {
		put_be64(p, pkt->atm_va);
		put_be32(p + 8, pkt->atm_rkey);
		put_be64(p + 12, pkt->atm_swap);
		put_be64(p + 20, pkt->atm_compare);
		p += ATMETH_BYTES;
	}
	if (m & OPM_IMMDT) {
		put_be32(p, pkt->imm);
		p += IMMDT_BYTES;
	}
	if (m & OPM_IETH) {
		put_be32(p, pkt->ieth_rkey);
		p += IETH_BYTES;
	}
	return p;
}

static void build_resp_ext(uint8_t *p, uint32_t m, const struct emu_pkt *pkt)
{
	if (m & OPM_AETH) {
		p[0] = pkt->aeth_syndrome;
		put_be24(p + 1, pkt->aeth_msn & PSN_MASK);
		p += AETH_BYTES;
	}
	if (m & OPM_ATMACK)
		put_be64(p, pkt->atmack_orig);
}

uint32_t emu_pkt_build_hdr(uint8_t *buf, const struct emu_pkt *pkt)
{
	const struct emu_opcode_info *info = &emu_opcodes[pkt->opcode];
	uint8_t *p;

	if (!info->name)
		return 0;
	build_bth(buf, pkt);
	p = build_req_ext(buf + BTH_BYTES, info->mask, pkt);
	build_resp_ext(p, info->mask, pkt);
	return info->hdr_len;
}
