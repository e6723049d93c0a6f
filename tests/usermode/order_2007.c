/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/order_2007.c - the consumer of the 2007 DMA-vs-CQ race, in
 * user mode: it reads the receive buffer right after polling the receive CQE.
 *
 * Two RC QPs of one device (one device per process) connected to each other
 * through GID 0: QP a SENDs BYTES bytes of a per-iteration pattern to QP b,
 * ITERATIONS times. After each receive CQE the buffer is read at once (stale
 * if it does not hold the whole new pattern), then the program makes one more
 * verbs call (an empty poll) and the buffer must be complete.
 *
 * Usage: order_2007 EXPECTED_STALE   (the device's policy comes from
 * SOFTHCA_ORDER / SOFTHCA_ABI, as `softhca run --order --abi` sets them).
 * Exit 0 when stale == EXPECTED_STALE, every buffer was complete afterwards and
 * ibv_query_qp_data_in_order answered 1 (0 under relaxed and mix).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>

#define ITERATIONS 100
#define BYTES 4096
#define SPIN_LIMIT 100000000L

struct side {
	struct ibv_cq *scq, *rcq;
	struct ibv_qp *qp;
};

static int die(const char *what)
{
	fprintf(stderr, "order_2007: %s\n", what);
	return 2;
}

static int poll_one(struct ibv_cq *cq, struct ibv_wc *wc)
{
	for (long spins = 0; spins < SPIN_LIMIT; spins++) {
		int n = ibv_poll_cq(cq, 1, wc);

		if (n < 0)
			return -1;
		if (n == 1)
			return wc->status == IBV_WC_SUCCESS ? 0 : -1;
	}
	return -1;
}

static int make_side(struct ibv_context *ctx, struct ibv_pd *pd, struct side *s)
{
	struct ibv_qp_init_attr ia;

	s->scq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	s->rcq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	if (!s->scq || !s->rcq)
		return -1;
	memset(&ia, 0, sizeof(ia));
	ia.send_cq = s->scq;
	ia.recv_cq = s->rcq;
	ia.qp_type = IBV_QPT_RC;
	ia.cap.max_send_wr = 4;
	ia.cap.max_recv_wr = 4;
	ia.cap.max_send_sge = 1;
	ia.cap.max_recv_sge = 1;
	s->qp = ibv_create_qp(pd, &ia);
	return s->qp ? 0 : -1;
}

static int connect_qp(struct ibv_qp *qp, uint32_t dest_qpn, const union ibv_gid *gid)
{
	struct ibv_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			  IBV_QP_ACCESS_FLAGS))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = dest_qpn;
	a.rq_psn = 0;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 1;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = *gid;
	a.ah_attr.grh.sgid_index = 0;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			  IBV_QP_MIN_RNR_TIMER))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static int holds(const unsigned char *buf, unsigned char pattern)
{
	for (size_t i = 0; i < BYTES; i++) {
		if (buf[i] != pattern)
			return 0;
	}
	return 1;
}

/* One SEND from a to b; *stale: the buffer read right after the CQE was not new. */
static int one_round(struct side *a, struct side *b, struct ibv_mr *smr, struct ibv_mr *rmr,
		     unsigned char pattern, int *stale)
{
	unsigned char *sbuf = smr->addr, *rbuf = rmr->addr;
	struct ibv_sge rs = { (uintptr_t)rbuf, BYTES, rmr->lkey };
	struct ibv_sge ss = { (uintptr_t)sbuf, BYTES, smr->lkey };
	struct ibv_recv_wr rwr = { .wr_id = pattern, .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct ibv_send_wr swr = { .wr_id = pattern, .sg_list = &ss, .num_sge = 1,
				   .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED }, *sbad;
	struct ibv_wc wc;

	memset(sbuf, pattern, BYTES);
	if (ibv_post_recv(b->qp, &rwr, &rbad) || ibv_post_send(a->qp, &swr, &sbad))
		return -1;
	/* The send CQE first: the receive CQE is then polled last, and the read
	 * below is the program's first step after it. */
	if (poll_one(a->scq, &wc) || poll_one(b->rcq, &wc) || wc.byte_len != BYTES)
		return -1;
	*stale = !holds(rbuf, pattern);
	if (ibv_poll_cq(b->rcq, 1, &wc) != 0)
		return -1;
	return holds(rbuf, pattern) ? 0 : -2;
}

int main(int argc, char **argv)
{
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *smr, *rmr;
	struct side a, b;
	union ibv_gid gid;
	const char *order = getenv("SOFTHCA_ORDER");
	int expected, stale = 0, incomplete = 0, in_order, want_in_order;

	if (argc != 2)
		return die("usage: order_2007 EXPECTED_STALE");
	expected = atoi(argv[1]);
	list = ibv_get_device_list(NULL);
	if (!list || !list[0])
		return die("no device");
	ctx = ibv_open_device(list[0]);
	if (!ctx || ibv_query_gid(ctx, 1, 0, &gid))
		return die("cannot open the device or read GID 0");
	pd = ibv_alloc_pd(ctx);
	smr = pd ? ibv_reg_mr(pd, calloc(1, BYTES), BYTES, IBV_ACCESS_LOCAL_WRITE) : NULL;
	rmr = pd ? ibv_reg_mr(pd, calloc(1, BYTES), BYTES, IBV_ACCESS_LOCAL_WRITE) : NULL;
	if (!smr || !rmr || make_side(ctx, pd, &a) || make_side(ctx, pd, &b))
		return die("cannot create PD, MRs, CQs or QPs");
	if (connect_qp(a.qp, b.qp->qp_num, &gid) || connect_qp(b.qp, a.qp->qp_num, &gid))
		return die("cannot connect the QPs");
	want_in_order = !order || (strcmp(order, "relaxed") && strcmp(order, "mix"));
	in_order = ibv_query_qp_data_in_order(b.qp, IBV_WR_SEND, 0);
	for (int i = 0; i < ITERATIONS; i++) {
		int s = 0, r = one_round(&a, &b, smr, rmr, (unsigned char)(i + 1), &s);

		if (r == -1)
			return die("a verbs call or a completion failed");
		stale += s;
		incomplete += r == -2;
	}
	printf("stale %d/%d, incomplete after the next verbs call %d/%d (expected stale %d); "
	       "data_in_order %d (expected %d)\n", stale, ITERATIONS, incomplete, ITERATIONS,
	       expected, in_order, want_in_order);
	ibv_destroy_qp(a.qp);
	ibv_destroy_qp(b.qp);
	ibv_destroy_cq(a.scq);
	ibv_destroy_cq(a.rcq);
	ibv_destroy_cq(b.scq);
	ibv_destroy_cq(b.rcq);
	{
		void *sbuf = smr->addr, *rbuf = rmr->addr;

		ibv_dereg_mr(smr);
		ibv_dereg_mr(rmr);
		free(sbuf);
		free(rbuf);
	}
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	ibv_free_device_list(list);
	return stale == expected && incomplete == 0 && in_order == want_in_order ? 0 : 1;
}
