/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_garbage.c - a device carrying live RC traffic is fed, through
 * sim_inject, random bytes, truncated copies of valid packets, valid packets with
 * a bad ICRC, and well-checksummed packets that are wrong in one field (transport
 * version, opcode, P_Key, destination GID, QPN, pad). Every one must be dropped and
 * counted under its reason, nothing may crash, nothing may act on memory, and the
 * live traffic must complete intact.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "emu/core/wire.h"
#include "scen.h"

#define NMSG      24
#define MSG_LEN   3000u
#define MAX_PKT   2048u
#define NROUNDS   400

static uint32_t zlib_crc32(uint32_t crc, const void *buf, size_t len)
{
	return (uint32_t)crc32(crc, buf, (uInt)len);
}

static const struct emu_host_ops crc_ops = { .crc32 = zlib_crc32 };

struct garbage {
	struct scen s;
	struct emu_netinfo ni;         /* from device 0 to device 1 */
	struct scen_buf *target;       /* side 1: what crafted WRITEs/atomics aim at */
	uint64_t injected;
	uint64_t want[EMU_DROP_REASONS]; /* injected packets with a known reason */
	uint64_t rng;
};

/* A complete packet from template p with paylen payload bytes and a good ICRC. */
static size_t build(struct garbage *g, const struct emu_pkt *tmpl, uint32_t paylen,
		    uint8_t *buf)
{
	struct emu_pkt p = *tmpl;
	uint32_t hdr, pad = emu_pad_len(paylen);
	size_t len;

	p.pad = (uint8_t)(emu_opcodes[p.opcode].mask & OPM_PAYLOAD ? pad : p.pad);
	hdr = emu_pkt_build_hdr(buf, &p);
	if (!hdr)
		return 0;
	scen_fill(buf + hdr, paylen, 0x9a9a + paylen);
	memset(buf + hdr + paylen, 0, pad);
	len = hdr + paylen + pad + ICRC_BYTES;
	emu_icrc_fill(&crc_ops, &g->ni, buf, len);
	return len;
}

static void inject(struct garbage *g, const struct emu_netinfo *ni, const uint8_t *buf,
		   size_t len, int reason)
{
	sim_inject(g->s.dev[1], ni, buf, len);
	g->injected++;
	if (reason >= 0)
		g->want[reason]++;
}

/* Templates of valid requests and responses for qp[1]. */
static void templates(struct garbage *g, struct emu_pkt *t, uint32_t *paylen, int *n)
{
	uint32_t qpn = g->s.qpn[1], psn = g->s.sq_psn[0];
	int i = 0;

	memset(t, 0, 6 * sizeof(*t));
	t[i] = (struct emu_pkt){ .opcode = OPC_RC | IB_OP_SEND_ONLY, .pkey = 0xffff,
				 .dqpn = qpn, .psn = psn, .ackreq = 1 };
	paylen[i++] = 64;
	t[i] = (struct emu_pkt){ .opcode = OPC_RC | IB_OP_WRITE_ONLY, .pkey = 0xffff,
				 .dqpn = qpn, .psn = psn, .ackreq = 1,
				 .reth_va = scen_addr(g->target, 0), .reth_rkey = g->target->rkey,
				 .reth_len = 100 };
	paylen[i++] = 100;
	t[i] = (struct emu_pkt){ .opcode = OPC_RC | IB_OP_READ_REQUEST, .pkey = 0xffff,
				 .dqpn = qpn, .psn = psn, .reth_va = scen_addr(g->target, 0),
				 .reth_rkey = g->target->rkey, .reth_len = 1024 };
	paylen[i++] = 0;
	t[i] = (struct emu_pkt){ .opcode = OPC_RC | IB_OP_CMP_SWAP, .pkey = 0xffff,
				 .dqpn = qpn, .psn = psn, .atm_va = scen_addr(g->target, 64),
				 .atm_rkey = g->target->rkey, .atm_compare = 0,
				 .atm_swap = 0xdeadbeef };
	paylen[i++] = 0;
	t[i] = (struct emu_pkt){ .opcode = OPC_RC | IB_OP_ACK, .pkey = 0xffff, .dqpn = qpn,
				 .psn = g->s.sq_psn[1] + 2, .aeth_syndrome = AETH_ACK | 0x1f,
				 .aeth_msn = 2 };
	paylen[i++] = 0;
	t[i] = (struct emu_pkt){ .opcode = OPC_RC | IB_OP_SEND_FIRST, .pkey = 0xffff,
				 .dqpn = qpn, .psn = psn };
	paylen[i++] = 1024;
	*n = i;
}

/* One round of every kind of garbage; returns packets injected. */
static void inject_round(struct garbage *g, int round)
{
	static uint8_t buf[MAX_PKT + 64];
	struct emu_pkt t[6], p;
	uint32_t paylen[6];
	int nt;
	size_t len;

	templates(g, t, paylen, &nt);
	p = t[round % nt];

	switch (round % 9) {
	case 0: {       /* random bytes of random length */
		size_t n = scen_rand_range(&g->rng, 0, 300);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)scen_rand(&g->rng);
		inject(g, &g->ni, buf, n, -1);
		break;
	}
	case 1: {       /* a valid BTH, the rest random */
		len = build(g, &p, paylen[round % nt], buf);
		for (size_t i = BTH_BYTES; i < len; i++)
			buf[i] = (uint8_t)scen_rand(&g->rng);
		inject(g, &g->ni, buf, len, -1);
		break;
	}
	case 2: {       /* truncated copies of a valid packet */
		len = build(g, &p, paylen[round % nt], buf);
		size_t cut[] = { 0, 1, BTH_BYTES - 1, BTH_BYTES, BTH_BYTES + 3,
				 emu_opcodes[p.opcode].hdr_len, len - ICRC_BYTES - 1,
				 len - ICRC_BYTES, len - 1 };
		for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
			if (cut[i] < len)
				inject(g, &g->ni, buf, cut[i], -1);
		break;
	}
	case 3:         /* a bad ICRC: one bit of the ICRC, then one of the payload */
		len = build(g, &p, paylen[round % nt], buf);
		buf[len - 1 - (size_t)(round % 4)] ^= (uint8_t)(1u << (round % 8));
		inject(g, &g->ni, buf, len, EMU_DROP_ICRC);
		len = build(g, &p, paylen[round % nt], buf);
		buf[BTH_BYTES + 1] ^= 0x10;    /* inside a header or the payload */
		inject(g, &g->ni, buf, len, EMU_DROP_ICRC);
		break;
	case 4:         /* transport header version 1 */
		p.tver = 1;
		len = build(g, &p, paylen[round % nt], buf);
		inject(g, &g->ni, buf, len, EMU_DROP_VERSION);
		break;
	case 5:         /* an opcode that does not exist */
		p.opcode = OPC_RC | 0x1d;
		memset(buf, 0, 64);
		buf[0] = p.opcode;
		put_be16(buf + 2, 0xffff);
		put_be24(buf + 5, p.dqpn);
		put_be24(buf + 9, p.psn);
		emu_icrc_fill(&crc_ops, &g->ni, buf, 48);
		inject(g, &g->ni, buf, 48, EMU_DROP_OPCODE);
		break;
	case 6:         /* a P_Key of another partition */
		p.pkey = 0x1234;
		len = build(g, &p, paylen[round % nt], buf);
		inject(g, &g->ni, buf, len, EMU_DROP_PKEY);
		break;
	case 7: {       /* a destination that is not this device's GID */
		struct emu_netinfo other = g->ni;
		other.dst[15] ^= 0x40;
		len = build(g, &p, paylen[round % nt], buf);
		emu_icrc_fill(&crc_ops, &other, buf, len);
		inject(g, &other, buf, len, EMU_DROP_DGID);
		break;
	}
	default:        /* no such QP; and an ACK with a pad count */
		p.dqpn = 0xabcdef;
		len = build(g, &p, paylen[round % nt], buf);
		inject(g, &g->ni, buf, len, EMU_DROP_QPN);
		p = t[4];
		p.pad = 2;
		len = build(g, &p, 0, buf);
		inject(g, &g->ni, buf, len, EMU_DROP_PAD);
		break;
	}
}

/* The templates must be valid packets, or the checks would prove nothing. */
static int check_templates(struct garbage *g)
{
	static uint8_t buf[MAX_PKT + 64];
	struct emu_pkt t[6], parsed;
	uint32_t paylen[6];
	enum emu_drop_reason why;
	int nt, rc = 1;

	templates(g, t, paylen, &nt);
	for (int i = 0; i < nt; i++) {
		size_t len = build(g, &t[i], paylen[i], buf);
		SCEN_CHECK(len > 0, "template %d builds", i);
		SCEN_CHECK(emu_pkt_parse(buf, len, &parsed, &why), "template %d parses (%s)", i,
			   emu_drop_reason_name(why));
		SCEN_CHECK(parsed.paylen == paylen[i] && parsed.dqpn == t[i].dqpn,
			   "template %d decodes", i);
		SCEN_CHECK(emu_icrc_check(&crc_ops, &g->ni, buf, len), "template %d ICRC", i);
	}
	rc = 0;
out:
	return rc;
}

static int test_garbage_under_traffic(void)
{
	struct garbage *g = calloc(1, sizeof(*g));
	struct scen *s = &g->s;
	struct scen_buf *src[2], *dst[2];
	struct emu_counters before, after;
	struct emu_wc wc[2 * NMSG];
	int rc = 1, got[2][2] = { { 0 } }, round = 0, left;

	if (!g)
		return 1;
	g->rng = 0x6a7b;
	if (scen_init(s, 31, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	g->target = scen_mr(s, 1, 4096, SCEN_ACC_ALL);
	for (int side = 0; side < 2; side++) {
		src[side] = scen_mr(s, side, NMSG * MSG_LEN, SCEN_ACC_ALL);
		dst[side] = scen_mr(s, side, NMSG * MSG_LEN, SCEN_ACC_ALL);
		SCEN_CHECK(src[side] && dst[side], "buffers");
		scen_fill(src[side]->p, NMSG * MSG_LEN, 310 + (uint64_t)side);
	}
	SCEN_CHECK(g->target != NULL, "target buffer");
	g->ni.ip_version = 4;
	g->ni.ttl = 64;
	g->ni.frag_off = 0x4000;
	g->ni.udp_sport = 0xc123;
	g->ni.udp_dport = ROCE_V2_UDP_DPORT;
	memcpy(g->ni.src, s->gid[0], 16);
	memcpy(g->ni.dst, s->gid[1], 16);
	SCEN_CHECK(check_templates(g) == 0, "packet templates are valid");
	emu_dev_counters(s->emu[1], &before);

	for (int side = 0; side < 2; side++) {
		int peer = 1 - side;
		for (int i = 0; i < NMSG; i++) {
			size_t off = (size_t)i * MSG_LEN;
			SCEN_CHECK_OK(scen_post_recv(s->qp[peer], (uint64_t)i, dst[peer], off,
						     MSG_LEN));
			SCEN_CHECK_OK(scen_post_send(s->qp[side], (uint64_t)i, EMU_WR_SEND,
						     EMU_SEND_SIGNALED, src[side], off, MSG_LEN, 0));
		}
	}
	/* Interleave: a round of garbage, then a few events of real traffic. */
	left = 4 * NMSG;
	while ((left > 0 || round < NROUNDS) && sim_now(s->sim) < SCEN_SEC(60)) {
		bool stepped = false;

		if (round < NROUNDS)
			inject_round(g, round++);
		for (int k = 0; k < 3; k++)
			stepped = sim_step(s->sim) || stepped;
		for (int side = 0; side < 2; side++) {
			int n = sim_poll_cq(s->scq[side], wc, 2 * NMSG);
			for (int i = 0; i < n; i++, got[side][0]++, left--)
				SCEN_CHECK(scen_wc_matches(&wc[i], (uint64_t)got[side][0],
							   EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY,
							   "live send"), "send of side %d", side);
			n = sim_poll_cq(s->rcq[side], wc, 2 * NMSG);
			for (int i = 0; i < n; i++, got[side][1]++, left--)
				SCEN_CHECK(scen_wc_matches(&wc[i], (uint64_t)got[side][1],
							   EMU_WC_SUCCESS, EMU_WC_RECV, MSG_LEN,
							   "live receive"), "receive of side %d", side);
		}
		if (!stepped && round >= NROUNDS)
			break;
	}
	SCEN_CHECK(left == 0, "%d completions of the live traffic missing", left);
	sim_run(s->sim, SCEN_MS(100));
	for (int side = 0; side < 2; side++) {
		int peer = 1 - side;
		SCEN_CHECK(scen_memcmp(dst[peer]->p, src[side]->p, NMSG * MSG_LEN,
				       "live traffic data") == 0, "traffic from side %d intact",
			   side);
		SCEN_CHECK(scen_expect_no_wc(s, s->scq[side], 0, "scq") == 0 &&
			   scen_expect_no_wc(s, s->rcq[side], 0, "rcq") == 0,
			   "no completion caused by garbage");
	}
	{
		static const uint8_t zeros[4096];
		SCEN_CHECK(memcmp(g->target->p, zeros, 4096) == 0,
			   "a dropped WRITE or atomic changed memory");
	}
	emu_dev_counters(s->emu[1], &after);
	printf("    injected %" PRIu64 " packets into device 1 in %d rounds\n", g->injected,
	       round);
	scen_print_counters(stdout, "    device 1 drops: ", &after);
	SCEN_CHECK(after.rx_drops - before.rx_drops == g->injected,
		   "%" PRIu64 " drops counted for %" PRIu64 " injected packets",
		   after.rx_drops - before.rx_drops, g->injected);
	{
		uint64_t sum = 0;
		for (int r = 0; r < EMU_DROP_REASONS; r++)
			sum += after.drops[r];
		SCEN_CHECK(sum == after.rx_drops, "drops by reason add up to %" PRIu64
			   ", rx_drops is %" PRIu64, sum, after.rx_drops);
	}
	for (int r = 0; r < EMU_DROP_REASONS; r++) {
		uint64_t d = after.drops[r] - before.drops[r];
		SCEN_CHECK(d >= g->want[r], "reason %s: %" PRIu64 " drops, but %" PRIu64
			   " packets were injected with that fault",
			   emu_drop_reason_name((enum emu_drop_reason)r), d, g->want[r]);
	}
	rc = 0;
out:
	scen_destroy(s);
	free(g);
	return rc;
}

static const struct scen_test tests[] = {
	{ "garbage_under_traffic", test_garbage_under_traffic },
};

int main(int argc, char **argv)
{
	return scen_run_tests("garbage", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
