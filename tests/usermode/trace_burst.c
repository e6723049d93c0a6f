/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/trace_burst.c - a pipelined workload for the trace determinism
 * test (trace_determinism.sh): unlike order_2007, many messages are in flight at
 * once, so how packets batch on their way through the UDP socket (and with it
 * ACK coalescing) depends on scheduling, while the HCA's decisions must not.
 *
 * One device, two RC QPs connected through GID 0 (a -> b). ROUNDS times: b posts
 * DEPTH receives, a posts DEPTH SENDs of BYTES bytes (a per-message pattern, MTU
 * 1024: BYTES / 1024 packets each) and one RDMA WRITE of BYTES into a second
 * buffer of b; then every CQE is polled, one more verbs call is made (a
 * deferral point) and every buffer must hold its pattern.
 *
 * Usage: trace_burst   (policy, seed and ABI from softhca run). Exit 0 when
 * every completion succeeded and every buffer was complete; prints the QPNs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "loop_qp.h"

#define ROUNDS 10
#define DEPTH 16
#define BYTES 8192
#define SPIN_LIMIT 100000000L

static int die(const char *what)
{
	fprintf(stderr, "trace_burst: %s\n", what);
	return 2;
}

/* The QPs of this test: GID 0 of the one device, these rights. */
static int to_rts(struct ibv_qp *qp, uint32_t dest_qpn, const union ibv_gid *gid)
{
	return loop_qp_to_rts(qp, dest_qpn, gid, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE, 1);
}

static unsigned char pattern_of(int round, int msg)
{
	return (unsigned char)(round * (DEPTH + 1) + msg + 1);
}

static int post_round(struct ibv_qp *a, struct ibv_qp *b, struct ibv_mr *smr,
		      struct ibv_mr *rmr, int round)
{
	unsigned char *sbuf = smr->addr;
	uint8_t *rbase = rmr->addr;

	for (int m = 0; m <= DEPTH; m++)
		memset(sbuf + (size_t)m * BYTES, pattern_of(round, m), BYTES);
	for (int m = 0; m < DEPTH; m++) {
		struct ibv_sge rs = { (uintptr_t)(rbase + (size_t)m * BYTES), BYTES, rmr->lkey };
		struct ibv_recv_wr rwr = { .wr_id = (uint64_t)m, .sg_list = &rs, .num_sge = 1 };
		struct ibv_recv_wr *bad;

		if (ibv_post_recv(b, &rwr, &bad))
			return -1;
	}
	for (int m = 0; m <= DEPTH; m++) {
		struct ibv_sge ss = { (uintptr_t)(sbuf + (size_t)m * BYTES), BYTES, smr->lkey };
		struct ibv_send_wr swr = { .wr_id = (uint64_t)m, .sg_list = &ss, .num_sge = 1,
					   .send_flags = IBV_SEND_SIGNALED }, *bad;

		if (m < DEPTH) {
			swr.opcode = IBV_WR_SEND;
		} else {
			swr.opcode = IBV_WR_RDMA_WRITE;
			swr.wr.rdma.remote_addr = (uintptr_t)(rbase + (size_t)DEPTH * BYTES);
			swr.wr.rdma.rkey = rmr->rkey;
		}
		if (ibv_post_send(a, &swr, &bad))
			return -1;
	}
	return 0;
}

/* DEPTH + 1 send CQEs and DEPTH receive CQEs, on the one CQ. */
static int poll_round(struct ibv_cq *cq)
{
	int want = 2 * DEPTH + 1, got = 0;

	for (long spins = 0; got < want && spins < SPIN_LIMIT; spins++) {
		struct ibv_wc wc[8];
		int n = ibv_poll_cq(cq, 8, wc);

		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++)
			if (wc[i].status != IBV_WC_SUCCESS)
				return -1;
		got += n;
	}
	return got == want ? 0 : -1;
}

static int check_round(struct ibv_cq *cq, struct ibv_mr *rmr, int round)
{
	const unsigned char *rbuf = rmr->addr;
	struct ibv_wc wc;

	/* The deferral point that lands whatever the policy held back. */
	if (ibv_poll_cq(cq, 1, &wc) != 0)
		return -1;
	for (int m = 0; m <= DEPTH; m++)
		for (size_t i = 0; i < BYTES; i++)
			if (rbuf[(size_t)m * BYTES + i] != pattern_of(round, m))
				return -2;
	return 0;
}

int main(void)
{
	size_t span = (size_t)(DEPTH + 1) * BYTES;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *a, *b;
	struct ibv_mr *smr, *rmr;
	union ibv_gid gid;
	void *sbuf, *rbuf;

	ctx = loop_open_device(&gid);
	if (!ctx)
		return die("no device to run on");
	pd = ibv_alloc_pd(ctx);
	cq = ibv_create_cq(ctx, 4 * DEPTH, NULL, NULL, 0);
	sbuf = calloc(1, span);
	rbuf = calloc(1, span);
	smr = pd && sbuf ? ibv_reg_mr(pd, sbuf, span, IBV_ACCESS_LOCAL_WRITE) : NULL;
	rmr = pd && rbuf ? ibv_reg_mr(pd, rbuf, span, IBV_ACCESS_LOCAL_WRITE |
				      IBV_ACCESS_REMOTE_WRITE) : NULL;
	a = pd && cq ? loop_qp_create(pd, cq, cq, NULL, DEPTH + 1, DEPTH) : NULL;
	b = pd && cq ? loop_qp_create(pd, cq, cq, NULL, DEPTH + 1, DEPTH) : NULL;
	if (!smr || !rmr || !a || !b)
		return die("cannot create the PD, CQ, MRs or QPs");
	if (to_rts(a, b->qp_num, &gid) || to_rts(b, a->qp_num, &gid))
		return die("cannot connect the QPs");
	printf("qpns a=%u b=%u\n", a->qp_num, b->qp_num);
	for (int r = 0; r < ROUNDS; r++) {
		int ret;

		if (post_round(a, b, smr, rmr, r) || poll_round(cq))
			return die("a verbs call or a completion failed");
		ret = check_round(cq, rmr, r);
		if (ret)
			return die(ret == -2 ? "a buffer is incomplete after the deferral point"
					     : "the deferral poll failed");
	}
	printf("trace_burst: %d rounds of %d SENDs and a WRITE of %d bytes, data complete\n",
	       ROUNDS, DEPTH, BYTES);
	ibv_destroy_qp(a);
	ibv_destroy_qp(b);
	ibv_destroy_cq(cq);
	ibv_dereg_mr(smr);
	ibv_dereg_mr(rmr);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	free(sbuf);
	free(rbuf);
	return 0;
}
