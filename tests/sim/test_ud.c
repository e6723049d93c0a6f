/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_ud.c - Unreliable Datagram QPs: SEND and SEND_WITH_IMM with the
 * 40-byte GRH in front of every received message (IPv4: 20 zero bytes and then
 * the IPv4 header, as rdma-core expects; IPv6: the IPv6 header), over GID 0
 * (IPv4) and GID 1 (IPv6); messages up to the path MTU and the error for a
 * larger one; wrong Q_Key, unknown QPN and missing receive WQE dropped and
 * counted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define MTU     1024u
#define GRH     40u
#define SLOT    (GRH + MTU)
#define QKEY    0x0badcafeu

static int setup(struct scen *s, uint64_t seed, uint32_t gid_index)
{
	struct scen_opts o;

	scen_opts_default(&o);
	o.port_mtu = MTU;
	o.gid_index = gid_index;
	o.qkey = QKEY;
	return scen_init(s, seed, EMU_QPT_UD, EMU_MTU_1024, &o);
}

static int post_ud(struct scen *s, uint64_t wr_id, uint32_t opcode, struct scen_buf *b,
		   size_t off, uint32_t len, uint32_t imm, uint32_t qpn, uint32_t qkey)
{
	struct emu_sge sge = scen_sge(b, off, len);
	struct emu_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = opcode;
	wr.send_flags = EMU_SEND_SIGNALED;
	wr.imm_data = imm;
	wr.num_sge = len ? 1 : 0;
	wr.sg_list = len ? &sge : NULL;
	wr.wr.ud.ah = s->ah[0];
	wr.wr.ud.remote_qpn = qpn;
	wr.wr.ud.remote_qkey = qkey;
	return emu_post_send(s->qp[0], &wr);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static bool ipv4_checksum_ok(const uint8_t *h)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += be16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* The GRH must describe the datagram the message came in. */
static int check_grh(const struct scen *s, const uint8_t *g, uint32_t udp_payload,
		     uint32_t gid_index)
{
	int rc = 1;

	if (gid_index == 0) {
		const uint8_t *ip = g + 20;
		for (int i = 0; i < 20; i++)
			SCEN_CHECK(g[i] == 0, "IPv4 GRH byte %d is 0x%02x, want 0", i, g[i]);
		SCEN_CHECK(ip[0] == 0x45, "IPv4 version/IHL 0x%02x", ip[0]);
		SCEN_CHECK(be16(ip + 2) == 20 + 8 + udp_payload, "IPv4 total length %u, want %u",
			   be16(ip + 2), 20 + 8 + udp_payload);
		SCEN_CHECK(ip[9] == 17, "IPv4 protocol %u, want UDP", ip[9]);
		SCEN_CHECK(ipv4_checksum_ok(ip), "IPv4 header checksum");
		SCEN_CHECK(memcmp(ip + 12, s->gid[0] + 12, 4) == 0, "IPv4 source address %u.%u.%u.%u",
			   ip[12], ip[13], ip[14], ip[15]);
		SCEN_CHECK(memcmp(ip + 16, s->gid[1] + 12, 4) == 0,
			   "IPv4 destination address %u.%u.%u.%u", ip[16], ip[17], ip[18], ip[19]);
	} else {
		SCEN_CHECK((g[0] >> 4) == 6, "IPv6 version %u", g[0] >> 4);
		SCEN_CHECK(be16(g + 4) == 8 + udp_payload, "IPv6 payload length %u, want %u",
			   be16(g + 4), 8 + udp_payload);
		SCEN_CHECK(g[6] == 17, "IPv6 next header %u, want UDP", g[6]);
		SCEN_CHECK(memcmp(g + 8, s->gid[0], 16) == 0, "IPv6 source is the sender's GID 1");
		SCEN_CHECK(memcmp(g + 24, s->gid[1], 16) == 0,
			   "IPv6 destination is the receiver's GID 1");
	}
	rc = 0;
out:
	return rc;
}

static int run_send_recv(uint32_t gid_index)
{
	static const uint32_t lens[] = { 0, 1, 100, MTU - 1, MTU };
	const int n = (int)(sizeof(lens) / sizeof(lens[0]));
	struct scen s;
	struct scen_buf *src, *rbuf;
	struct emu_wc wc;
	int rc = 1;

	if (setup(&s, 10 + gid_index, gid_index))
		goto out;
	SCEN_CHECK(emu_gid_is_ipv4(s.gid[0]) == (gid_index == 0),
		   "GID %u of the simulation is %s", gid_index,
		   emu_gid_is_ipv4(s.gid[0]) ? "IPv4" : "IPv6");
	src = scen_mr(&s, 0, 2 * (size_t)n * MTU, SCEN_ACC_ALL);
	rbuf = scen_mr(&s, 1, 2 * (size_t)n * SLOT, SCEN_ACC_ALL);
	SCEN_CHECK(src && rbuf, "buffers");
	scen_fill(src->p, 2 * (size_t)n * MTU, 3);
	for (int k = 0; k < 2 * n; k++)
		SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x100 + k, rbuf, (size_t)k * SLOT, SLOT));
	for (int k = 0; k < 2 * n; k++) {
		bool imm = k >= n;
		uint32_t len = lens[k % n];

		SCEN_CHECK_OK(post_ud(&s, (uint64_t)k, imm ? EMU_WR_SEND_WITH_IMM : EMU_WR_SEND,
				      src, (size_t)k * MTU, len, 0x1000 + k, s.qpn[1], QKEY));
	}
	for (int k = 0; k < 2 * n; k++) {
		bool imm = k >= n;
		uint32_t len = lens[k % n];
		uint32_t udp_payload = 12 + 8 + (imm ? 4 : 0) + len + ((4 - (len & 3)) & 3) + 4;
		char what[64];

		snprintf(what, sizeof(what), "UD %s of %u bytes, GID %u",
			 imm ? "SEND_WITH_IMM" : "SEND", len, gid_index);
		SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 0x100 + k, EMU_WC_SUCCESS,
					 EMU_WC_RECV, GRH + len, what), "%s: receive", what);
		SCEN_CHECK(wc.src_qp == s.qpn[0], "%s: src_qp 0x%x, want 0x%x", what, wc.src_qp,
			   s.qpn[0]);
		SCEN_CHECK(wc.qp_num == s.qpn[1], "%s: qp_num 0x%x", what, wc.qp_num);
		SCEN_CHECK(wc.wc_flags & EMU_WC_WITH_GRH, "%s: flags 0x%x lack WITH_GRH", what,
			   wc.wc_flags);
		SCEN_CHECK(!!(wc.wc_flags & EMU_WC_WITH_IMM) == imm, "%s: flags 0x%x", what,
			   wc.wc_flags);
		if (imm)
			SCEN_CHECK(wc.imm_data == 0x1000u + (uint32_t)k, "%s: imm 0x%x", what,
				   wc.imm_data);
		SCEN_CHECK(check_grh(&s, rbuf->p + (size_t)k * SLOT, udp_payload, gid_index) == 0,
			   "%s: GRH", what);
		SCEN_CHECK(scen_memcmp(rbuf->p + (size_t)k * SLOT + GRH, src->p + (size_t)k * MTU,
				       len, what) == 0, "%s: data", what);
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, (uint64_t)k, EMU_WC_SUCCESS,
					 EMU_WC_SEND, SCEN_ANY, what), "%s: send completion", what);
	}
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_ipv4(void)
{
	return run_send_recv(0);
}

static int test_ipv6(void)
{
	return run_send_recv(1);
}

/* A message larger than the path MTU: refused at post, or completed in error;
 * never delivered. */
static int test_larger_than_mtu(void)
{
	struct scen s;
	struct scen_buf *src, *rbuf;
	struct emu_wc wc;
	int rc = 1, ret;

	if (setup(&s, 20, 0))
		goto out;
	src = scen_mr(&s, 0, 2 * MTU, SCEN_ACC_ALL);
	rbuf = scen_mr(&s, 1, 4 * SLOT, SCEN_ACC_ALL);
	SCEN_CHECK(src && rbuf, "buffers");
	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x100, rbuf, 0, 4 * SLOT));
	ret = post_ud(&s, 1, EMU_WR_SEND, src, 0, MTU + 1, 0, s.qpn[1], QKEY);
	if (ret < 0) {
		printf("    MTU + 1 bytes refused at post: %d\n", ret);
	} else {
		SCEN_CHECK(scen_wait_wc(&s, s.scq[0], 1, &wc, SCEN_WAIT_NS) == 1,
			   "the oversized SEND completes");
		scen_print_wc(stdout, "    oversized SEND: ", &wc);
		SCEN_CHECK(wc.wr_id == 1 && wc.status != EMU_WC_SUCCESS,
			   "an oversized UD SEND must fail, it completed with %s",
			   scen_status_name(wc.status));
	}
	SCEN_CHECK(scen_expect_no_wc(&s, s.rcq[1], SCEN_MS(10), "rcq[1]") == 0,
		   "nothing delivered");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* Wrong Q_Key, unknown QPN and no receive WQE: the sender completes, the
 * receiver drops and counts the reason. */
static int test_drops(void)
{
	struct scen s;
	struct scen_buf *src, *rbuf;
	struct emu_counters before, after;
	struct emu_wc wc[2];
	int rc = 1;

	if (setup(&s, 30, 0))
		goto out;
	src = scen_mr(&s, 0, MTU, SCEN_ACC_ALL);
	rbuf = scen_mr(&s, 1, 2 * SLOT, SCEN_ACC_ALL);
	SCEN_CHECK(src && rbuf, "buffers");
	scen_fill(src->p, MTU, 30);
	emu_dev_counters(s.emu[1], &before);

	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 0x100, rbuf, 0, SLOT));
	SCEN_CHECK_OK(post_ud(&s, 1, EMU_WR_SEND, src, 0, 64, 0, s.qpn[1], QKEY ^ 0x10));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 1, EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY,
				 "send with a wrong Q_Key"), "sender completes");
	SCEN_CHECK(scen_expect_no_wc(&s, s.rcq[1], SCEN_MS(10), "rcq[1]") == 0,
		   "wrong Q_Key not delivered");
	emu_dev_counters(s.emu[1], &after);
	SCEN_CHECK(after.drops[EMU_DROP_QKEY] == before.drops[EMU_DROP_QKEY] + 1,
		   "Q_Key drops %" PRIu64 " -> %" PRIu64, before.drops[EMU_DROP_QKEY],
		   after.drops[EMU_DROP_QKEY]);

	SCEN_CHECK_OK(post_ud(&s, 2, EMU_WR_SEND, src, 0, 64, 0, s.qpn[1] + 100, QKEY));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 2, EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY,
				 "send to an unknown QPN"), "sender completes");
	SCEN_CHECK(scen_expect_no_wc(&s, s.rcq[1], SCEN_MS(10), "rcq[1]") == 0,
		   "unknown QPN not delivered");
	emu_dev_counters(s.emu[1], &before);
	SCEN_CHECK(before.drops[EMU_DROP_QPN] == after.drops[EMU_DROP_QPN] + 1,
		   "QPN drops %" PRIu64 " -> %" PRIu64, after.drops[EMU_DROP_QPN],
		   before.drops[EMU_DROP_QPN]);

	/* The one receive WQE is still there: this one is delivered ... */
	SCEN_CHECK_OK(post_ud(&s, 3, EMU_WR_SEND, src, 0, 64, 0, s.qpn[1], QKEY));
	SCEN_CHECK(scen_wait_one(&s, s.rcq[1], NULL, 0x100, EMU_WC_SUCCESS, EMU_WC_RECV,
				 GRH + 64, "delivered after the drops"), "receive");
	SCEN_CHECK(scen_memcmp(rbuf->p + GRH, src->p, 64, "data") == 0, "data");
	/* ... and the next finds no receive WQE. */
	SCEN_CHECK_OK(post_ud(&s, 4, EMU_WR_SEND, src, 0, 64, 0, s.qpn[1], QKEY));
	SCEN_CHECK(scen_wait_wc(&s, s.scq[0], 2, wc, SCEN_WAIT_NS) == 2, "sender completes");
	SCEN_CHECK(scen_wc_matches(&wc[0], 3, EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY, "send 3") &&
		   scen_wc_matches(&wc[1], 4, EMU_WC_SUCCESS, EMU_WC_SEND, SCEN_ANY, "send 4"),
		   "sender completions");
	SCEN_CHECK(scen_expect_no_wc(&s, s.rcq[1], SCEN_MS(10), "rcq[1]") == 0,
		   "nothing delivered without a receive WQE");
	emu_dev_counters(s.emu[1], &after);
	SCEN_CHECK(after.drops[EMU_DROP_NO_RECV] == before.drops[EMU_DROP_NO_RECV] + 1,
		   "no-receive drops %" PRIu64 " -> %" PRIu64, before.drops[EMU_DROP_NO_RECV],
		   after.drops[EMU_DROP_NO_RECV]);
	SCEN_CHECK(after.rx_drops == before.rx_drops + 1, "rx_drops %" PRIu64 " -> %" PRIu64,
		   before.rx_drops, after.rx_drops);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "ipv4_gid0", test_ipv4 },
	{ "ipv6_gid1", test_ipv6 },
	{ "larger_than_mtu", test_larger_than_mtu },
	{ "drops", test_drops },
};

int main(int argc, char **argv)
{
	return scen_run_tests("ud", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
