/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/rq_refill.c - a receive queue kept full, as ib_send_bw keeps it:
 * every receive CQE polled is at once replaced by a new receive. The slot of a
 * polled receive must be free by then, whichever thread (the program's or the
 * progress thread) wrote the CQE; a post_recv that answers ENOMEM here is the
 * bug CI once met as "Couldn't post recv" in ib_send_bw.
 *
 * One device, two RC QPs connected through GID 0 (a -> b). b has a receive
 * queue (or, with "srq", a shared receive queue) of DEPTH entries, filled at the
 * start; a keeps WINDOW small SENDs in flight (rnr_retry 7: a SEND that finds
 * the queue empty is retried, never lost). COUNT messages in all; every message
 * carries its sequence number and the receiver checks it.
 *
 * Usage: rq_refill rq|srq [COUNT]   Exit 0 when all COUNT arrived in order and
 * every post succeeded, 1 on a failed check, 2 on a setup error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "loop_qp.h"

#define DEPTH 4
#define WINDOW 32
#define MSG 8
#define SPIN_LIMIT 2000000000L

struct side {
	struct ibv_qp *qp;
	struct ibv_srq *srq;
	struct ibv_mr *mr;
	uint64_t *slots;        /* DEPTH receive buffers (b) or WINDOW send buffers (a) */
};

static int die(const char *what)
{
	fprintf(stderr, "rq_refill: %s\n", what);
	return 2;
}

static int post_one_recv(struct side *b, unsigned int slot)
{
	struct ibv_sge sge = { (uintptr_t)&b->slots[slot], MSG, b->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = slot, .sg_list = &sge, .num_sge = 1 }, *bad;

	return b->srq ? ibv_post_srq_recv(b->srq, &wr, &bad) : ibv_post_recv(b->qp, &wr, &bad);
}

static int post_one_send(struct side *a, uint64_t seq)
{
	unsigned int slot = (unsigned int)(seq % WINDOW);
	struct ibv_sge sge = { (uintptr_t)&a->slots[slot], MSG, a->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = seq, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED }, *bad;

	a->slots[slot] = seq;
	return ibv_post_send(a->qp, &wr, &bad);
}

/* Receive CQEs: check the sequence, put a new receive in the slot at once. */
static int drain_recv(struct ibv_cq *cq, struct side *b, uint64_t *received)
{
	struct ibv_wc wc[DEPTH];
	int n = ibv_poll_cq(cq, DEPTH, wc);

	for (int i = 0; i < n; i++) {
		unsigned int slot = (unsigned int)wc[i].wr_id;
		int err;

		if (wc[i].status != IBV_WC_SUCCESS) {
			fprintf(stderr, "rq_refill: receive %llu: %s\n",
				(unsigned long long)*received, ibv_wc_status_str(wc[i].status));
			return 1;
		}
		if (b->slots[slot] != *received) {
			fprintf(stderr, "rq_refill: receive %llu carried %llu\n",
				(unsigned long long)*received, (unsigned long long)b->slots[slot]);
			return 1;
		}
		(*received)++;
		err = post_one_recv(b, slot);
		if (err) {
			fprintf(stderr, "rq_refill: post_recv right after polling receive %llu: %s\n",
				(unsigned long long)*received, strerror(err));
			return 1;
		}
	}
	return n < 0 ? 1 : 0;
}

static int drain_send(struct ibv_cq *cq, uint64_t *completed)
{
	struct ibv_wc wc[WINDOW];
	int n = ibv_poll_cq(cq, WINDOW, wc);

	for (int i = 0; i < n; i++) {
		if (wc[i].status != IBV_WC_SUCCESS) {
			fprintf(stderr, "rq_refill: send %llu: %s\n",
				(unsigned long long)wc[i].wr_id, ibv_wc_status_str(wc[i].status));
			return 1;
		}
		(*completed)++;
	}
	return n < 0 ? 1 : 0;
}

static int run(struct ibv_cq *scq, struct ibv_cq *rcq, struct side *a, struct side *b,
	       uint64_t count)
{
	uint64_t posted = 0, completed = 0, received = 0;

	for (unsigned int s = 0; s < DEPTH; s++)
		if (post_one_recv(b, s))
			return die("cannot fill the receive queue");
	for (long spins = 0; received < count && spins < SPIN_LIMIT; spins++) {
		while (posted < count && posted - completed < WINDOW) {
			if (post_one_send(a, posted))
				return die("post_send failed with room in the window");
			posted++;
		}
		if (drain_recv(rcq, b, &received) || drain_send(scq, &completed))
			return 1;
	}
	if (received != count) {
		fprintf(stderr, "rq_refill: %llu of %llu messages arrived\n",
			(unsigned long long)received, (unsigned long long)count);
		return 1;
	}
	printf("rq_refill: %llu messages through a %s of %d, every receive replaced at once\n",
	       (unsigned long long)count, b->srq ? "shared receive queue" : "receive queue", DEPTH);
	return 0;
}

int main(int argc, char **argv)
{
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *scq, *rcq;
	struct side a = { 0 }, b = { 0 };
	union ibv_gid gid;
	uint64_t count = 200000;
	bool use_srq;
	int ret;

	if (argc < 2 || (strcmp(argv[1], "rq") && strcmp(argv[1], "srq")))
		return die("usage: rq_refill rq|srq [COUNT]");
	use_srq = !strcmp(argv[1], "srq");
	if (argc > 2 && (count = strtoull(argv[2], NULL, 10)) == 0)
		return die("COUNT must be a positive number");
	ctx = loop_open_device(&gid);
	if (!ctx)
		return die("no device to run on");
	pd = ibv_alloc_pd(ctx);
	scq = ibv_create_cq(ctx, WINDOW, NULL, NULL, 0);
	rcq = ibv_create_cq(ctx, DEPTH, NULL, NULL, 0);
	a.slots = calloc(WINDOW, sizeof(uint64_t));
	b.slots = calloc(DEPTH, sizeof(uint64_t));
	if (!pd || !scq || !rcq || !a.slots || !b.slots)
		return die("cannot create PD, CQs or buffers");
	if (use_srq) {
		struct ibv_srq_init_attr sa = { .attr = { .max_wr = DEPTH, .max_sge = 1 } };

		b.srq = ibv_create_srq(pd, &sa);
		if (!b.srq)
			return die("cannot create the SRQ");
	}
	a.mr = ibv_reg_mr(pd, a.slots, WINDOW * sizeof(uint64_t), IBV_ACCESS_LOCAL_WRITE);
	b.mr = ibv_reg_mr(pd, b.slots, DEPTH * sizeof(uint64_t), IBV_ACCESS_LOCAL_WRITE);
	a.qp = loop_qp_create(pd, scq, scq, NULL, WINDOW, DEPTH);
	b.qp = loop_qp_create(pd, scq, rcq, b.srq, WINDOW, DEPTH);
	if (!a.mr || !b.mr || !a.qp || !b.qp)
		return die("cannot register memory or create the QPs");
	if (loop_qp_to_rts(a.qp, b.qp->qp_num, &gid, IBV_ACCESS_LOCAL_WRITE, 1) ||
	    loop_qp_to_rts(b.qp, a.qp->qp_num, &gid, IBV_ACCESS_LOCAL_WRITE, 1))
		return die("cannot bring the QPs to RTS");
	ret = run(scq, rcq, &a, &b, count);
	ibv_destroy_qp(a.qp);
	ibv_destroy_qp(b.qp);
	if (b.srq)
		ibv_destroy_srq(b.srq);
	ibv_dereg_mr(a.mr);
	ibv_dereg_mr(b.mr);
	ibv_destroy_cq(scq);
	ibv_destroy_cq(rcq);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	free(a.slots);
	free(b.slots);
	return ret;
}
