/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/unit/test_codec.c - RoCEv2 header codec (emu/core/codec.c): the opcode
 * table against IBA vol. 1 9.2, the wire layout, build/parse round trips, every
 * rejection, truncation at every length, and a random-bytes fuzz loop.
 */
#define _DEFAULT_SOURCE
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../emu/core/wire.h"

#include "expect.h"

/* ---- the expected opcode table, written out from IBA vol. 1 9.2 / 9.3 --------- */

#define SEND_REQ  (OPM_PAYLOAD | OPM_REQ | OPM_SEND)
#define WRITE_REQ (OPM_PAYLOAD | OPM_REQ | OPM_WRITE)
#define READ_RSP  (OPM_PAYLOAD | OPM_RESP | OPM_READ_RESP)

struct want_op {
	uint8_t opcode;
	const char *name;
	uint8_t hdr_len;
	uint32_t mask;
};

static const struct want_op want_ops[] = {
	{ 0x00, "RC_SEND_FIRST", 12, SEND_REQ | OPM_FIRST },
	{ 0x01, "RC_SEND_MIDDLE", 12, SEND_REQ | OPM_MIDDLE },
	{ 0x02, "RC_SEND_LAST", 12, SEND_REQ | OPM_LAST },
	{ 0x03, "RC_SEND_LAST_WITH_IMMEDIATE", 16, SEND_REQ | OPM_LAST | OPM_IMMDT },
	{ 0x04, "RC_SEND_ONLY", 12, SEND_REQ | OPM_ONLY },
	{ 0x05, "RC_SEND_ONLY_WITH_IMMEDIATE", 16, SEND_REQ | OPM_ONLY | OPM_IMMDT },
	{ 0x06, "RC_RDMA_WRITE_FIRST", 28, WRITE_REQ | OPM_FIRST | OPM_RETH },
	{ 0x07, "RC_RDMA_WRITE_MIDDLE", 12, WRITE_REQ | OPM_MIDDLE },
	{ 0x08, "RC_RDMA_WRITE_LAST", 12, WRITE_REQ | OPM_LAST },
	{ 0x09, "RC_RDMA_WRITE_LAST_WITH_IMMEDIATE", 16, WRITE_REQ | OPM_LAST | OPM_IMMDT },
	{ 0x0a, "RC_RDMA_WRITE_ONLY", 28, WRITE_REQ | OPM_ONLY | OPM_RETH },
	{ 0x0b, "RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE", 32,
	  WRITE_REQ | OPM_ONLY | OPM_RETH | OPM_IMMDT },
	{ 0x0c, "RC_RDMA_READ_REQUEST", 28, OPM_REQ | OPM_READ | OPM_ONLY | OPM_RETH },
	{ 0x0d, "RC_RDMA_READ_RESPONSE_FIRST", 16, READ_RSP | OPM_FIRST | OPM_AETH },
	{ 0x0e, "RC_RDMA_READ_RESPONSE_MIDDLE", 12, READ_RSP | OPM_MIDDLE },
	{ 0x0f, "RC_RDMA_READ_RESPONSE_LAST", 16, READ_RSP | OPM_LAST | OPM_AETH },
	{ 0x10, "RC_RDMA_READ_RESPONSE_ONLY", 16, READ_RSP | OPM_ONLY | OPM_AETH },
	{ 0x11, "RC_ACKNOWLEDGE", 16, OPM_RESP | OPM_ACK | OPM_ONLY | OPM_AETH },
	{ 0x12, "RC_ATOMIC_ACKNOWLEDGE", 24,
	  OPM_RESP | OPM_ACK | OPM_ONLY | OPM_AETH | OPM_ATMACK },
	{ 0x13, "RC_COMPARE_SWAP", 40, OPM_REQ | OPM_ATOMIC | OPM_ONLY | OPM_ATMETH },
	{ 0x14, "RC_FETCH_ADD", 40, OPM_REQ | OPM_ATOMIC | OPM_ONLY | OPM_ATMETH },
	{ 0x16, "RC_SEND_LAST_WITH_INVALIDATE", 16,
	  SEND_REQ | OPM_LAST | OPM_INV | OPM_IETH },
	{ 0x17, "RC_SEND_ONLY_WITH_INVALIDATE", 16,
	  SEND_REQ | OPM_ONLY | OPM_INV | OPM_IETH },
	{ 0x20, "UC_SEND_FIRST", 12, SEND_REQ | OPM_FIRST },
	{ 0x21, "UC_SEND_MIDDLE", 12, SEND_REQ | OPM_MIDDLE },
	{ 0x22, "UC_SEND_LAST", 12, SEND_REQ | OPM_LAST },
	{ 0x23, "UC_SEND_LAST_WITH_IMMEDIATE", 16, SEND_REQ | OPM_LAST | OPM_IMMDT },
	{ 0x24, "UC_SEND_ONLY", 12, SEND_REQ | OPM_ONLY },
	{ 0x25, "UC_SEND_ONLY_WITH_IMMEDIATE", 16, SEND_REQ | OPM_ONLY | OPM_IMMDT },
	{ 0x26, "UC_RDMA_WRITE_FIRST", 28, WRITE_REQ | OPM_FIRST | OPM_RETH },
	{ 0x27, "UC_RDMA_WRITE_MIDDLE", 12, WRITE_REQ | OPM_MIDDLE },
	{ 0x28, "UC_RDMA_WRITE_LAST", 12, WRITE_REQ | OPM_LAST },
	{ 0x29, "UC_RDMA_WRITE_LAST_WITH_IMMEDIATE", 16, WRITE_REQ | OPM_LAST | OPM_IMMDT },
	{ 0x2a, "UC_RDMA_WRITE_ONLY", 28, WRITE_REQ | OPM_ONLY | OPM_RETH },
	{ 0x2b, "UC_RDMA_WRITE_ONLY_WITH_IMMEDIATE", 32,
	  WRITE_REQ | OPM_ONLY | OPM_RETH | OPM_IMMDT },
	{ 0x64, "UD_SEND_ONLY", 20, SEND_REQ | OPM_ONLY | OPM_DETH },
	{ 0x65, "UD_SEND_ONLY_WITH_IMMEDIATE", 24, SEND_REQ | OPM_ONLY | OPM_DETH | OPM_IMMDT },
};

#define N_OPS ((int)(sizeof(want_ops) / sizeof(want_ops[0])))

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: fixed seed, so every run sees the same inputs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd32(void) { return (uint32_t)(rnd() >> 32); }

/* Every field set to something distinctive; 24-bit fields carry junk above bit 23. */
static void random_fields(struct emu_pkt *p, uint8_t opcode)
{
	memset(p, 0, sizeof(*p));
	p->opcode = opcode;
	p->se = rnd() & 1;
	p->mig = rnd() & 1;
	p->fecn = rnd() & 1;
	p->becn = rnd() & 1;
	p->ackreq = rnd() & 1;
	p->pkey = (uint16_t)rnd32();
	p->dqpn = rnd32();
	p->psn = rnd32();
	p->reth_va = rnd();
	p->reth_rkey = rnd32();
	p->reth_len = rnd32();
	p->atm_va = rnd();
	p->atm_rkey = rnd32();
	p->atm_swap = rnd();
	p->atm_compare = rnd();
	p->deth_qkey = rnd32();
	p->deth_sqpn = rnd32();
	p->imm = rnd32();
	p->ieth_rkey = rnd32();
	p->aeth_syndrome = (uint8_t)rnd32();
	p->aeth_msn = rnd32();
	p->atmack_orig = rnd();
}

/*
 * Builds a whole packet (headers, payload, zero pad, a dummy ICRC) into a buffer
 * of exactly the packet's size, so a read past the end is a heap overflow that
 * valgrind or ASan reports.
 */
static uint8_t *build_packet(struct emu_pkt *in, uint32_t paylen, size_t *len_out)
{
	const struct emu_opcode_info *info = &emu_opcodes[in->opcode];
	uint32_t pad = emu_pad_len(paylen);
	size_t len = info->hdr_len + paylen + pad + ICRC_BYTES;
	uint8_t *buf = malloc(len);
	uint32_t i;

	EXPECT(buf != NULL);
	in->pad = (uint8_t)pad;
	EXPECT_U(emu_pkt_build_hdr(buf, in), ==, info->hdr_len);
	for (i = 0; i < paylen; i++)
		buf[info->hdr_len + i] = (uint8_t)(i * 31 + 7);
	for (i = 0; i < pad; i++)
		buf[info->hdr_len + paylen + i] = 0;
	for (i = 0; i < ICRC_BYTES; i++)
		buf[len - ICRC_BYTES + i] = (uint8_t)(0xc0 + i);
	*len_out = len;
	return buf;
}

static uint8_t *dup_prefix(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	EXPECT(p != NULL);
	memcpy(p, src, len);
	return p;
}

#define M24 0xffffffu

static void assert_fields_equal(const struct emu_pkt *in, const struct emu_pkt *out,
				uint32_t mask, const char *name)
{
	EXPECT_MSG(out->opcode == in->opcode, "%s opcode", name);
	EXPECT_MSG(out->se == in->se && out->mig == in->mig, "%s se/mig", name);
	EXPECT_MSG(out->pad == in->pad && out->tver == 0, "%s pad/tver", name);
	EXPECT_MSG(out->fecn == in->fecn && out->becn == in->becn, "%s fecn/becn", name);
	EXPECT_MSG(out->ackreq == in->ackreq, "%s ackreq", name);
	EXPECT_MSG(out->pkey == in->pkey, "%s pkey", name);
	EXPECT_MSG(out->dqpn == (in->dqpn & M24), "%s dqpn", name);
	EXPECT_MSG(out->psn == (in->psn & M24), "%s psn", name);

#define FIELD(bit, f, want) \
	EXPECT_MSG(out->f == ((mask & (bit)) ? (want) : 0), "%s " #f, name)
	FIELD(OPM_RETH, reth_va, in->reth_va);
	FIELD(OPM_RETH, reth_rkey, in->reth_rkey);
	FIELD(OPM_RETH, reth_len, in->reth_len);
	FIELD(OPM_ATMETH, atm_va, in->atm_va);
	FIELD(OPM_ATMETH, atm_rkey, in->atm_rkey);
	FIELD(OPM_ATMETH, atm_swap, in->atm_swap);
	FIELD(OPM_ATMETH, atm_compare, in->atm_compare);
	FIELD(OPM_DETH, deth_qkey, in->deth_qkey);
	FIELD(OPM_DETH, deth_sqpn, in->deth_sqpn & M24);
	FIELD(OPM_IMMDT, imm, in->imm);
	FIELD(OPM_IETH, ieth_rkey, in->ieth_rkey);
	FIELD(OPM_AETH, aeth_syndrome, in->aeth_syndrome);
	FIELD(OPM_AETH, aeth_msn, in->aeth_msn & M24);
	FIELD(OPM_ATMACK, atmack_orig, in->atmack_orig);
#undef FIELD
}

/* ---- the table --------------------------------------------------------------- */

START_TEST(test_table_supported)
{
	const struct want_op *w = &want_ops[_i];
	const struct emu_opcode_info *info = &emu_opcodes[w->opcode];

	EXPECT(info->name != NULL);
	ck_assert_str_eq(info->name, w->name);
	EXPECT_MSG(info->mask == w->mask, "%s mask 0x%x, want 0x%x", w->name,
		      info->mask, w->mask);
	EXPECT_MSG(info->hdr_len == w->hdr_len, "%s hdr_len %u, want %u", w->name,
		      info->hdr_len, w->hdr_len);
	EXPECT_U(info->hdr_len, <=, 64);
}
END_TEST

START_TEST(test_table_nothing_else)
{
	int op, i, supported = 0;

	for (op = 0; op < 256; op++) {
		bool want = false;

		for (i = 0; i < N_OPS; i++)
			want |= want_ops[i].opcode == op;
		if (want) {
			supported++;
			continue;
		}
		EXPECT_MSG(emu_opcodes[op].name == NULL, "opcode 0x%02x has name %s", op,
			      emu_opcodes[op].name);
	}
	EXPECT_I(supported, ==, 37);   /* RC 23, UC 12, UD 2 */
	ck_assert_ptr_null(emu_opcodes[0x81].name);   /* CNP */
	ck_assert_ptr_null(emu_opcodes[0x15].name);   /* RC reserved */
	ck_assert_ptr_null(emu_opcodes[0x18].name);
	ck_assert_ptr_null(emu_opcodes[0x40].name);   /* RD */
	ck_assert_ptr_null(emu_opcodes[0x2c].name);   /* UC READ request does not exist */
}
END_TEST

/* ---- wire layout at fixed offsets ------------------------------------------------- */

START_TEST(test_layout_bth)
{
	struct emu_pkt p = {
		.opcode = 0x0a, .se = 1, .mig = 1, .pad = 3, .fecn = 1, .becn = 1,
		.ackreq = 1, .pkey = 0xabcd, .dqpn = 0xff123456, .psn = 0x12fedcba,
	};
	uint8_t buf[64];

	memset(buf, 0xa5, sizeof(buf));
	EXPECT_U(emu_pkt_build_hdr(buf, &p), ==, 28);
	EXPECT_U(buf[0], ==, 0x0a);
	EXPECT_U(buf[1], ==, 0x80 | 0x40 | 0x30);
	EXPECT_U(buf[2], ==, 0xab);
	EXPECT_U(buf[3], ==, 0xcd);
	EXPECT_U(buf[4], ==, 0xc0);          /* FECN, BECN, reserved 0 */
	EXPECT_U(buf[5], ==, 0x12);
	EXPECT_U(buf[6], ==, 0x34);
	EXPECT_U(buf[7], ==, 0x56);
	EXPECT_U(buf[8], ==, 0x80);          /* AckReq, reserved 0 */
	EXPECT_U(buf[9], ==, 0xfe);
	EXPECT_U(buf[10], ==, 0xdc);
	EXPECT_U(buf[11], ==, 0xba);
	EXPECT_U(buf[28], ==, 0xa5);         /* nothing written past hdr_len */

	p.se = p.mig = p.fecn = p.becn = p.ackreq = 0;
	p.pad = 0;
	memset(buf, 0xff, sizeof(buf));
	emu_pkt_build_hdr(buf, &p);
	EXPECT_U(buf[1], ==, 0);
	EXPECT_U(buf[4], ==, 0);
	EXPECT_U(buf[8], ==, 0);
}
END_TEST

START_TEST(test_layout_ext_headers)
{
	struct emu_pkt p = {
		.opcode = 0x0b, .reth_va = 0x0102030405060708ull, .reth_rkey = 0x11121314,
		.reth_len = 0x21222324, .imm = 0x31323334,
	};
	uint8_t buf[64];
	static const uint8_t reth_imm[] = {
		1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x21, 0x22, 0x23, 0x24,
		0x31, 0x32, 0x33, 0x34 };
	static const uint8_t atmeth[] = {
		0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x91, 0x92, 0x93, 0x94,
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8 };
	static const uint8_t deth_imm[] = {
		0x41, 0x42, 0x43, 0x44, 0x00, 0x51, 0x52, 0x53, 0x61, 0x62, 0x63, 0x64 };
	static const uint8_t aeth_atmack[] = {
		0x7f, 0x71, 0x72, 0x73, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8 };

	memset(buf, 0xee, sizeof(buf));
	EXPECT_U(emu_pkt_build_hdr(buf, &p), ==, 32);
	EXPECT(memcmp(buf + 12, reth_imm, sizeof(reth_imm)) == 0);

	memset(&p, 0, sizeof(p));
	p.opcode = 0x13;
	p.atm_va = 0x8182838485868788ull;
	p.atm_rkey = 0x91929394;
	p.atm_swap = 0xa1a2a3a4a5a6a7a8ull;
	p.atm_compare = 0xb1b2b3b4b5b6b7b8ull;
	EXPECT_U(emu_pkt_build_hdr(buf, &p), ==, 40);
	EXPECT(memcmp(buf + 12, atmeth, sizeof(atmeth)) == 0);

	memset(&p, 0, sizeof(p));
	memset(buf, 0xee, sizeof(buf));
	p.opcode = 0x65;
	p.deth_qkey = 0x41424344;
	p.deth_sqpn = 0xff515253;
	p.imm = 0x61626364;
	EXPECT_U(emu_pkt_build_hdr(buf, &p), ==, 24);
	EXPECT(memcmp(buf + 12, deth_imm, sizeof(deth_imm)) == 0);

	memset(&p, 0, sizeof(p));
	p.opcode = 0x12;
	p.aeth_syndrome = 0x7f;
	p.aeth_msn = 0xee717273;
	p.atmack_orig = 0xc1c2c3c4c5c6c7c8ull;
	EXPECT_U(emu_pkt_build_hdr(buf, &p), ==, 24);
	EXPECT(memcmp(buf + 12, aeth_atmack, sizeof(aeth_atmack)) == 0);

	memset(&p, 0, sizeof(p));
	p.opcode = 0x17;
	p.ieth_rkey = 0xd1d2d3d4;
	EXPECT_U(emu_pkt_build_hdr(buf, &p), ==, 16);
	EXPECT_U(get_be32(buf + 12), ==, 0xd1d2d3d4);
}
END_TEST

START_TEST(test_build_unsupported)
{
	int op;

	for (op = 0; op < 256; op++) {
		struct emu_pkt p = { .opcode = (uint8_t)op };
		uint8_t buf[64];
		int i;

		if (emu_opcodes[op].name)
			continue;
		memset(buf, 0x5a, sizeof(buf));
		EXPECT_U(emu_pkt_build_hdr(buf, &p), ==, 0);
		for (i = 0; i < 64; i++)
			EXPECT_MSG(buf[i] == 0x5a, "opcode 0x%02x wrote byte %d", op, i);
	}
}
END_TEST

/* ---- round trips ------------------------------------------------------------------- */

static void round_trip(uint8_t opcode, uint32_t paylen)
{
	const struct emu_opcode_info *info = &emu_opcodes[opcode];
	struct emu_pkt in, out;
	enum emu_drop_reason why = EMU_DROP_REASONS;
	size_t len;
	uint8_t *buf;
	uint32_t i;

	random_fields(&in, opcode);
	buf = build_packet(&in, paylen, &len);
	memset(&out, 0x77, sizeof(out));
	EXPECT_MSG(emu_pkt_parse(buf, len, &out, &why), "%s paylen %u rejected (%d)",
		      info->name, paylen, (int)why);
	assert_fields_equal(&in, &out, info->mask, info->name);
	EXPECT_U(out.mask, ==, info->mask);
	EXPECT_U(out.hdr_len, ==, info->hdr_len);
	EXPECT_U(out.paylen, ==, paylen);
	EXPECT_U(out.pad, ==, emu_pad_len(paylen));
	EXPECT_PTR(out.payload, ==, buf + info->hdr_len);
	for (i = 0; i < paylen; i++)
		EXPECT_U(out.payload[i], ==, (uint8_t)(i * 31 + 7));
	free(buf);
}

START_TEST(test_round_trip)
{
	static const uint32_t sizes[] = { 0, 1, 2, 3, 4, 5, 1024, 1023, 4096 };
	const struct want_op *w = &want_ops[_i];
	size_t s;
	int rep;

	rng_state = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	for (rep = 0; rep < 8; rep++) {
		if (!(w->mask & OPM_PAYLOAD)) {
			round_trip(w->opcode, 0);
			continue;
		}
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			round_trip(w->opcode, sizes[s]);
	}
}
END_TEST

/* Each BTH flag alone, so a swapped pair of bits cannot hide behind random values. */
START_TEST(test_round_trip_single_flags)
{
	int flag;

	for (flag = 0; flag < 5; flag++) {
		struct emu_pkt in = { .opcode = 0x04 }, out;
		enum emu_drop_reason why;
		uint8_t buf[16];

		in.se = flag == 0;
		in.mig = flag == 1;
		in.fecn = flag == 2;
		in.becn = flag == 3;
		in.ackreq = flag == 4;
		emu_pkt_build_hdr(buf, &in);
		EXPECT(emu_pkt_parse(buf, sizeof(buf), &out, &why));
		EXPECT_U(out.se, ==, in.se);
		EXPECT_U(out.mig, ==, in.mig);
		EXPECT_U(out.fecn, ==, in.fecn);
		EXPECT_U(out.becn, ==, in.becn);
		EXPECT_U(out.ackreq, ==, in.ackreq);
	}
}
END_TEST

/* ---- rejections ------------------------------------------------------------------- */

static void expect_reject(const uint8_t *buf, size_t len, enum emu_drop_reason want,
			  const char *what)
{
	uint8_t *copy = dup_prefix(buf, len);
	struct emu_pkt out;
	enum emu_drop_reason why = EMU_DROP_REASONS;

	EXPECT_MSG(!emu_pkt_parse(copy, len, &out, &why), "%s accepted", what);
	EXPECT_MSG(why == want, "%s: reason %d, want %d", what, (int)why, (int)want);
	free(copy);
}

START_TEST(test_reject_unsupported_opcodes)
{
	int op, n = 0;

	for (op = 0; op < 256; op++) {
		uint8_t buf[128] = { 0 };
		size_t len;
		char what[32];

		if (emu_opcodes[op].name)
			continue;
		buf[0] = (uint8_t)op;
		snprintf(what, sizeof(what), "opcode 0x%02x", op);
		for (len = BTH_BYTES + ICRC_BYTES; len <= sizeof(buf); len += 4)
			expect_reject(buf, len, EMU_DROP_OPCODE, what);
		n++;
	}
	EXPECT_I(n, ==, 256 - 37);
}
END_TEST

START_TEST(test_reject_version)
{
	const struct want_op *w = &want_ops[_i];
	struct emu_pkt in;
	size_t len;
	uint8_t *buf;
	int tver;

	rng_state = 42;
	random_fields(&in, w->opcode);
	buf = build_packet(&in, (w->mask & OPM_PAYLOAD) ? 8 : 0, &len);
	for (tver = 1; tver < 16; tver++) {
		buf[1] = (uint8_t)((buf[1] & 0xf0) | tver);
		expect_reject(buf, len, EMU_DROP_VERSION, w->name);
	}
	/* the version is checked before the length */
	expect_reject(buf, BTH_BYTES + ICRC_BYTES, EMU_DROP_VERSION, w->name);
	free(buf);

	/* build_hdr writes the version it is given */
	random_fields(&in, w->opcode);
	in.tver = 3;
	buf = build_packet(&in, 0, &len);
	EXPECT_U(buf[1] & 0xf, ==, 3);
	expect_reject(buf, len, EMU_DROP_VERSION, w->name);
	free(buf);
}
END_TEST

/*
 * Every truncation. Below hdr_len + ICRC the packet is short. For opcodes without
 * payload every shorter length is therefore rejected. For opcodes with payload a
 * prefix can itself be a well-formed shorter packet (the parser cannot tell a cut
 * packet from a shorter one: that is the ICRC's job), so the verdict must be exactly
 * the one the length rules give, and an accepted prefix must add up.
 */
static void truncations(uint8_t opcode, uint32_t paylen)
{
	const struct emu_opcode_info *info = &emu_opcodes[opcode];
	struct emu_pkt in, out;
	size_t full, len;
	uint8_t *buf;

	random_fields(&in, opcode);
	buf = build_packet(&in, paylen, &full);
	for (len = 0; len < full; len++) {
		uint8_t *copy = dup_prefix(buf, len);
		enum emu_drop_reason why = EMU_DROP_REASONS;
		bool ok = emu_pkt_parse(copy, len, &out, &why);
		bool want_ok = false;
		enum emu_drop_reason want_why = EMU_DROP_SHORT;

		if (len >= (size_t)info->hdr_len + ICRC_BYTES) {
			EXPECT(info->mask & OPM_PAYLOAD);
			want_ok = len - info->hdr_len - ICRC_BYTES >= in.pad &&
				  (len - ICRC_BYTES) % 4 == 0;
			want_why = EMU_DROP_PAD;
		}
		EXPECT_MSG(ok == want_ok, "%s cut to %zu of %zu: %s", info->name, len, full,
			      ok ? "accepted" : "rejected");
		if (ok) {
			EXPECT_U(out.hdr_len + out.paylen + out.pad + ICRC_BYTES, ==, len);
			EXPECT_PTR(out.payload, ==, copy + info->hdr_len);
		} else {
			EXPECT_MSG(why == want_why, "%s cut to %zu: reason %d, want %d",
				      info->name, len, (int)why, (int)want_why);
		}
		free(copy);
	}
	free(buf);
}

START_TEST(test_reject_truncated)
{
	const struct want_op *w = &want_ops[_i];

	rng_state = 7 + (uint64_t)_i;
	if (!(w->mask & OPM_PAYLOAD)) {
		truncations(w->opcode, 0);
		return;
	}
	truncations(w->opcode, 0);
	truncations(w->opcode, 1);
	truncations(w->opcode, 3);
	truncations(w->opcode, 6);
	truncations(w->opcode, 64);
}
END_TEST

START_TEST(test_reject_pad)
{
	const struct want_op *w = &want_ops[_i];
	struct emu_pkt in;
	size_t len;
	uint8_t *buf;
	int pad;

	rng_state = 99;
	random_fields(&in, w->opcode);
	if (!(w->mask & OPM_PAYLOAD)) {
		/* no payload, so any pad count is wrong, whatever the length */
		buf = build_packet(&in, 0, &len);
		for (pad = 1; pad < 4; pad++) {
			buf[1] = (uint8_t)((buf[1] & ~0x30) | (pad << 4));
			expect_reject(buf, len, EMU_DROP_PAD, w->name);
		}
		free(buf);
		return;
	}
	/* pad larger than what follows the headers */
	buf = build_packet(&in, 0, &len);
	for (pad = 1; pad < 4; pad++) {
		buf[1] = (uint8_t)((buf[1] & ~0x30) | (pad << 4));
		expect_reject(buf, len, EMU_DROP_PAD, w->name);
	}
	free(buf);
	buf = build_packet(&in, 2, &len);       /* pad 2: 4 bytes after the headers */
	buf[1] = (uint8_t)(buf[1] | 0x30);      /* pad 3 still fits */
	{
		struct emu_pkt out;
		enum emu_drop_reason why;

		EXPECT(emu_pkt_parse(buf, len, &out, &why));
		EXPECT_U(out.paylen, ==, 1);
		EXPECT_U(out.pad, ==, 3);
	}
	/* payload + pad not a multiple of 4 */
	expect_reject(buf, len - 1, EMU_DROP_PAD, w->name);
	free(buf);
	{
		uint8_t tmp[64 + 7] = { 0 };
		size_t extra;

		EXPECT_U(emu_pkt_build_hdr(tmp, &(struct emu_pkt){ .opcode = w->opcode }), ==, w->hdr_len);
		for (extra = 1; extra < 8; extra++) {
			if (extra % 4 == 0)
				continue;
			expect_reject(tmp, w->hdr_len + ICRC_BYTES + extra, EMU_DROP_PAD, w->name);
		}
	}
}
END_TEST

START_TEST(test_reject_payload_on_header_only_opcode)
{
	const struct want_op *w = &want_ops[_i];
	uint8_t buf[64 + 16] = { 0 };
	size_t extra;

	if (w->mask & OPM_PAYLOAD) {
		EXPECT(w->opcode != 0x0c && w->opcode != 0x11 && w->opcode != 0x12 &&
			  w->opcode != 0x13 && w->opcode != 0x14);
		return;
	}
	EXPECT_U(emu_pkt_build_hdr(buf, &(struct emu_pkt){ .opcode = w->opcode }), ==, w->hdr_len);
	for (extra = 1; extra <= 16; extra++)
		expect_reject(buf, w->hdr_len + ICRC_BYTES + extra, EMU_DROP_LENGTH, w->name);
}
END_TEST

/* The length rules are checked in the documented order. */
START_TEST(test_reject_order)
{
	uint8_t buf[64] = { 0 };
	struct emu_pkt out;

	/* shorter than BTH + ICRC beats an unknown opcode and a bad version */
	buf[0] = 0x15;
	buf[1] = 0x0f;
	expect_reject(buf, 15, EMU_DROP_SHORT, "short unknown");
	/* unknown opcode beats bad version */
	expect_reject(buf, 16, EMU_DROP_OPCODE, "unknown bad version");
	/* bad version beats short-for-the-opcode */
	buf[0] = 0x13;
	expect_reject(buf, 16, EMU_DROP_VERSION, "atomic bad version");
	/* short-for-the-opcode beats a bad pad */
	buf[1] = 0x30;
	expect_reject(buf, 40, EMU_DROP_SHORT, "atomic short pad");
	/* bad pad beats bad length */
	expect_reject(buf, 48, EMU_DROP_PAD, "atomic pad and payload");
	/* why may be NULL */
	EXPECT(!emu_pkt_parse(buf, 48, &out, NULL));
}
END_TEST

/* ---- fuzz ------------------------------------------------------------------------- */

/*
 * A page whose end touches a PROT_NONE page: a packet placed at its end faults on
 * any read past len even without valgrind.
 */
struct guarded {
	uint8_t *base;
	size_t page;
};

static void guarded_init(struct guarded *g)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->base = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(g->base != MAP_FAILED);
	EXPECT_I(mprotect(g->base + g->page, g->page, PROT_NONE), ==, 0);
}

static uint8_t *guarded_place(struct guarded *g, const uint8_t *src, size_t len)
{
	uint8_t *p = g->base + g->page - len;

	memcpy(p, src, len);
	return p;
}

static void guarded_free(struct guarded *g)
{
	munmap(g->base, 2 * g->page);
}

static uint8_t supported_opcode(void)
{
	return want_ops[rnd() % N_OPS].opcode;
}

static void check_accepted(const uint8_t *buf, size_t len, const struct emu_pkt *out)
{
	const struct emu_opcode_info *info = &emu_opcodes[buf[0]];

	EXPECT(info->name != NULL);
	EXPECT_U(out->opcode, ==, buf[0]);
	EXPECT_U(out->mask, ==, info->mask);
	EXPECT_U(out->hdr_len, ==, info->hdr_len);
	EXPECT_U(out->hdr_len + out->paylen + out->pad + ICRC_BYTES, ==, len);
	EXPECT_PTR(out->payload, ==, buf + out->hdr_len);
	EXPECT_U(out->tver, ==, 0);
	EXPECT_U(out->pad, <=, 3);
	EXPECT_U(out->dqpn, <=, M24);
	EXPECT_U(out->psn, <=, M24);
	EXPECT_U(out->deth_sqpn, <=, M24);
	EXPECT_U(out->aeth_msn, <=, M24);
	if (!(info->mask & OPM_PAYLOAD))
		EXPECT_U(out->paylen, ==, 0);
}

#define FUZZ_ITERATIONS 300000
#define FUZZ_MAX_LEN 96

START_TEST(test_fuzz_random_bytes)
{
	uint64_t reasons[EMU_DROP_REASONS] = { 0 };
	uint64_t accepted = 0;
	struct guarded g;
	int iter, r;

	rng_state = 0x0123456789abcdefull;
	guarded_init(&g);
	for (iter = 0; iter < FUZZ_ITERATIONS; iter++) {
		size_t len = rnd() % (FUZZ_MAX_LEN + 1), i;
		uint8_t *buf = malloc(len ? len : 1);
		struct emu_pkt out, out2;
		enum emu_drop_reason why = EMU_DROP_REASONS, why2 = EMU_DROP_REASONS;
		bool ok, ok2;

		EXPECT(buf != NULL);
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		/* steer most inputs past the first checks so the deep paths run too */
		if (len > 0 && rnd() % 4 != 0)
			buf[0] = supported_opcode();
		if (len > 1 && rnd() % 4 != 0)
			buf[1] &= 0xf0;
		if (len > 1 && rnd() % 2 == 0)
			buf[1] &= 0xcf;

		ok = emu_pkt_parse(buf, len, &out, &why);
		ok2 = emu_pkt_parse(guarded_place(&g, buf, len), len, &out2, &why2);
		EXPECT(ok == ok2);
		if (ok) {
			check_accepted(buf, len, &out);
			accepted++;
		} else {
			EXPECT_I(why, <, EMU_DROP_REASONS);
			EXPECT_I(why, ==, why2);
			reasons[why]++;
		}
		free(buf);
	}
	guarded_free(&g);
	/* the loop must have exercised every outcome, or it proves little */
	EXPECT_MSG(accepted > 1000, "only %llu accepted", (unsigned long long)accepted);
	for (r = EMU_DROP_SHORT; r <= EMU_DROP_LENGTH; r++)
		EXPECT_MSG(reasons[r] > 100, "reason %d seen %llu times", r,
			      (unsigned long long)reasons[r]);
	for (r = EMU_DROP_LENGTH + 1; r < EMU_DROP_REASONS; r++)
		EXPECT_U(reasons[r], ==, 0);
}
END_TEST

/* Valid packets with one random byte changed: parse stays consistent. */
START_TEST(test_fuzz_mutated_valid)
{
	struct guarded g;
	uint64_t accepted = 0;
	int iter;

	rng_state = 0xfeedfacecafebeefull;
	guarded_init(&g);
	for (iter = 0; iter < 50000; iter++) {
		struct emu_pkt in, out;
		enum emu_drop_reason why;
		uint8_t opcode = supported_opcode();
		uint32_t paylen = (emu_opcodes[opcode].mask & OPM_PAYLOAD) ? rnd() % 40 : 0;
		size_t len, cut;
		uint8_t *buf, *p;

		random_fields(&in, opcode);
		buf = build_packet(&in, paylen, &len);
		buf[rnd() % len] = (uint8_t)rnd();
		cut = len - (rnd() % 3 == 0 ? rnd() % (len + 1) : 0);
		p = guarded_place(&g, buf, cut);
		if (emu_pkt_parse(p, cut, &out, &why)) {
			check_accepted(p, cut, &out);
			accepted++;
		}
		free(buf);
	}
	guarded_free(&g);
	EXPECT_U(accepted, >, 1000);
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *table = tcase_create("table");
	TCase *rt = tcase_create("round_trip");
	TCase *rej = tcase_create("reject");
	TCase *fuzz = tcase_create("fuzz");

	tcase_add_loop_test(table, test_table_supported, 0, N_OPS);
	tcase_add_test(table, test_table_nothing_else);
	tcase_add_test(table, test_layout_bth);
	tcase_add_test(table, test_layout_ext_headers);
	tcase_add_test(table, test_build_unsupported);
	suite_add_tcase(s, table);

	tcase_add_loop_test(rt, test_round_trip, 0, N_OPS);
	tcase_add_test(rt, test_round_trip_single_flags);
	suite_add_tcase(s, rt);

	tcase_add_test(rej, test_reject_unsupported_opcodes);
	tcase_add_loop_test(rej, test_reject_version, 0, N_OPS);
	tcase_add_loop_test(rej, test_reject_truncated, 0, N_OPS);
	tcase_add_loop_test(rej, test_reject_pad, 0, N_OPS);
	tcase_add_loop_test(rej, test_reject_payload_on_header_only_opcode, 0, N_OPS);
	tcase_add_test(rej, test_reject_order);
	tcase_set_timeout(rej, 120);
	suite_add_tcase(s, rej);

	/* valgrind slows the fuzz loop down a lot */
	tcase_set_timeout(fuzz, 600);
	tcase_add_test(fuzz, test_fuzz_random_bytes);
	tcase_add_test(fuzz, test_fuzz_mutated_valid);
	suite_add_tcase(s, fuzz);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
