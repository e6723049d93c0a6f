/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/ack_hold.c - ACK coalescing when the program stops answering.
 *
 * The user-mode device holds the ACK for a request it received until the
 * program's next post (it then leaves in the same send), once the program has
 * answered in time a few times in a row. This program first plays a ping-pong
 * with itself, which earns that trust, then stops answering: its requester
 * keeps posting RDMA WRITEs one at a time and waits for each completion while
 * the responder side posts nothing. The first ACK of that phase is held and
 * must leave anyway once its time is up (acks_held_late counts it); the holding
 * must then stop, so every later WRITE completes without waiting.
 *
 * One device, two RC QPs a and b connected through GID 0, one buffer with a
 * word for each direction, one CQ for both send queues. Phase 1: PINGS round
 * trips, a writes i into b's word, b sees it and writes i into a's word, a sees
 * it; each side posts its answer before it waits for its own completion, as
 * ib_write_lat does. Phase 2: ONEWAY WRITEs from a, each waited for.
 *
 * Usage: ack_hold [PINGS [ONEWAY]]   Prints the time each phase took. Exit 0
 * when every WRITE completed and carried its value, 1 on a failed check, 2 on a
 * setup error. The counters (softhca run --stats) are checked by the caller
 * (ack_coalescing.sh).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <infiniband/verbs.h>

#include "loop_qp.h"

#define SPIN_LIMIT 2000000000L

struct loop {
	struct ibv_qp *a, *b;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	volatile uint64_t *words;   /* [0] a's (written by b), [1] b's (written by a) */
	uint64_t src[2];            /* what each side writes from */
	struct ibv_mr *src_mr;
	uint64_t completed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qp writes value into the other side's word. */
static int post_write(struct loop *l, struct ibv_qp *qp, uint64_t value)
{
	int from = qp == l->a ? 0 : 1, to = qp == l->a ? 1 : 0;
	struct ibv_sge sge = { (uintptr_t)&l->src[from], sizeof(uint64_t), l->src_mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = value, .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { (uintptr_t)&l->words[to], l->mr->rkey },
	}, *bad;

	l->src[from] = value;
	return ibv_post_send(qp, &wr, &bad);
}

/* Polls the CQ (which also drives the device) once; -1 on an error CQE. */
static int poll_once(struct loop *l)
{
	struct ibv_wc wc[4];
	int n = ibv_poll_cq(l->cq, 4, wc);

	for (int i = 0; i < n; i++) {
		if (wc[i].status != IBV_WC_SUCCESS) {
			fprintf(stderr, "ack_hold: WRITE %" PRIu64 ": %s\n", wc[i].wr_id,
				ibv_wc_status_str(wc[i].status));
			return -1;
		}
		l->completed++;
	}
	return n < 0 ? -1 : 0;
}

static int wait_word(struct loop *l, int idx, uint64_t value)
{
	for (long spins = 0; spins < SPIN_LIMIT; spins++) {
		if (l->words[idx] == value)
			return 0;
		if (poll_once(l))
			return -1;
	}
	fprintf(stderr, "ack_hold: word %d never became %" PRIu64 " (holds %" PRIu64 ")\n", idx,
		value, l->words[idx]);
	return -1;
}

static int wait_completed(struct loop *l, uint64_t count)
{
	for (long spins = 0; spins < SPIN_LIMIT && l->completed < count; spins++)
		if (poll_once(l))
			return -1;
	if (l->completed < count) {
		fprintf(stderr, "ack_hold: %" PRIu64 " of %" PRIu64 " WRITEs completed\n",
			l->completed, count);
		return -1;
	}
	return 0;
}

static int ping_pong(struct loop *l, uint64_t pings)
{
	for (uint64_t i = 1; i <= pings; i++) {
		if (post_write(l, l->a, i) || wait_word(l, 1, i))
			return -1;
		if (post_write(l, l->b, i) || wait_word(l, 0, i))
			return -1;
	}
	return wait_completed(l, 2 * pings);
}

static int one_way(struct loop *l, uint64_t base, uint64_t count)
{
	for (uint64_t i = 1; i <= count; i++) {
		if (post_write(l, l->a, base + i) || wait_completed(l, l->completed + 1))
			return -1;
		if (l->words[1] != base + i) {
			fprintf(stderr, "ack_hold: completed WRITE %" PRIu64 " not in memory\n",
				base + i);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t pings = argc > 1 ? strtoull(argv[1], NULL, 0) : 500;
	uint64_t oneway = argc > 2 ? strtoull(argv[2], NULL, 0) : 500;
	unsigned int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
	struct loop l = { 0 };
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	union ibv_gid gid;
	double t0, t1, t2;

	if (!pings || !oneway) {
		fprintf(stderr, "usage: ack_hold [PINGS [ONEWAY]] (both > 0)\n");
		return 2;
	}
	ctx = loop_open_device(&gid);
	if (!ctx)
		return 2;
	pd = ibv_alloc_pd(ctx);
	l.cq = pd ? ibv_create_cq(ctx, 64, NULL, NULL, 0) : NULL;
	l.words = aligned_alloc(64, 64);
	if (!l.cq || !l.words)
		return 2;
	memset((void *)l.words, 0, 64);
	l.mr = ibv_reg_mr(pd, (void *)l.words, 64, access);
	l.src_mr = ibv_reg_mr(pd, l.src, sizeof(l.src), IBV_ACCESS_LOCAL_WRITE);
	l.a = l.mr && l.src_mr ? loop_qp_create(pd, l.cq, l.cq, NULL, 8, 1) : NULL;
	l.b = l.a ? loop_qp_create(pd, l.cq, l.cq, NULL, 8, 1) : NULL;
	if (!l.b || loop_qp_to_rts(l.a, l.b->qp_num, &gid, access, 1) ||
	    loop_qp_to_rts(l.b, l.a->qp_num, &gid, access, 1)) {
		fprintf(stderr, "ack_hold: cannot set up the QPs\n");
		return 2;
	}
	t0 = now_s();
	if (ping_pong(&l, pings))
		return 1;
	t1 = now_s();
	if (one_way(&l, pings, oneway))
		return 1;
	t2 = now_s();
	printf("ack_hold: %" PRIu64 " round trips in %.1f ms (%.1f us each), then %" PRIu64
	       " one-way WRITEs in %.1f ms (%.1f us each)\n", pings, (t1 - t0) * 1e3,
	       (t1 - t0) * 1e6 / (double)pings, oneway, (t2 - t1) * 1e3,
	       (t2 - t1) * 1e6 / (double)oneway);
	ibv_destroy_qp(l.b);
	ibv_destroy_qp(l.a);
	ibv_dereg_mr(l.src_mr);
	ibv_dereg_mr(l.mr);
	ibv_destroy_cq(l.cq);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	free((void *)l.words);
	return 0;
}
