/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/signal_owner.c - --progress-signal when the thread the socket
 * signals is gone. The socket signals the thread that last polled the device;
 * when that thread has ended, no signal reaches anyone, and the progress thread
 * must notice (it looks every millisecond) and take the datagrams in itself.
 *
 * One device, two RC QPs connected through GID 0 (a -> b), one CQ.
 *   1. A worker thread runs ROUNDS RDMA WRITEs of 8 bytes, each followed by its
 *      poll of the CQ (so the worker is the thread the socket signals), checks
 *      each one landed, and ends.
 *   2. The main thread, which never polled, posts ROUNDS more WRITEs, one at a
 *      time, and for each waits on the target memory only (no verbs call, as
 *      ib_write_lat does) for at most TIMEOUT_S seconds; then polls the CQE.
 * Run it under `softhca run --progress-signal`. Exit 0 when every WRITE landed
 * in time; prints the wait of the slowest second-phase WRITE.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <infiniband/verbs.h>

#include "loop_qp.h"

#define ROUNDS 200
#define TIMEOUT_S 2.0

struct fixture {
	struct ibv_cq *cq;
	struct ibv_qp *a, *b;
	struct ibv_mr *smr, *rmr;
	volatile uint64_t *target;
	uint64_t *source;
	int failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int post_write(struct fixture *f, uint64_t value)
{
	struct ibv_sge sge = { (uintptr_t)f->source, sizeof(*f->source), f->smr->lkey };
	struct ibv_send_wr wr = { .wr_id = value, .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	*f->source = value;
	wr.wr.rdma.remote_addr = (uintptr_t)f->target;
	wr.wr.rdma.rkey = f->rmr->rkey;
	return ibv_post_send(f->a, &wr, &bad);
}

/* The CQE of the WRITE just posted, by polling (a verbs call, so this thread
 * becomes the one the socket signals). */
static int poll_one(struct fixture *f, uint64_t value)
{
	struct ibv_wc wc;
	double deadline = now_s() + TIMEOUT_S;
	int n;

	while ((n = ibv_poll_cq(f->cq, 1, &wc)) == 0 && now_s() < deadline)
		;
	if (n != 1 || wc.status != IBV_WC_SUCCESS || wc.wr_id != value)
		return -1;
	return 0;
}

static void *worker(void *arg)
{
	struct fixture *f = arg;

	for (uint64_t v = 1; v <= ROUNDS; v++) {
		if (post_write(f, v) || poll_one(f, v) || *f->target != v) {
			fprintf(stderr, "signal_owner: worker: WRITE %llu failed\n",
				(unsigned long long)v);
			f->failed = 1;
			break;
		}
	}
	return NULL;
}

static int die(const char *what)
{
	fprintf(stderr, "signal_owner: %s\n", what);
	return 2;
}

int main(void)
{
	struct fixture f = { 0 };
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	union ibv_gid gid;
	pthread_t t;
	double slowest = 0;

	ctx = loop_open_device(&gid);
	if (!ctx)
		return die("no device to run on");
	pd = ibv_alloc_pd(ctx);
	f.cq = ibv_create_cq(ctx, 8, NULL, NULL, 0);
	f.source = calloc(1, sizeof(uint64_t));
	f.target = calloc(1, sizeof(uint64_t));
	f.smr = pd && f.source ? ibv_reg_mr(pd, f.source, sizeof(uint64_t), IBV_ACCESS_LOCAL_WRITE) : NULL;
	f.rmr = pd && f.target ? ibv_reg_mr(pd, (void *)f.target, sizeof(uint64_t),
					   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE) : NULL;
	f.a = pd && f.cq ? loop_qp_create(pd, f.cq, f.cq, NULL, 4, 1) : NULL;
	f.b = pd && f.cq ? loop_qp_create(pd, f.cq, f.cq, NULL, 4, 1) : NULL;
	if (!f.smr || !f.rmr || !f.a || !f.b)
		return die("cannot create the PD, CQ, MRs or QPs");
	if (loop_qp_to_rts(f.a, f.b->qp_num, &gid, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE, 1) ||
	    loop_qp_to_rts(f.b, f.a->qp_num, &gid, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE, 1))
		return die("cannot connect the QPs");
	if (pthread_create(&t, NULL, worker, &f) || pthread_join(t, NULL))
		return die("cannot run the worker thread");
	if (f.failed)
		return 1;
	/* The worker is gone; the main thread waits on memory only. */
	for (uint64_t v = ROUNDS + 1; v <= 2 * ROUNDS; v++) {
		double start = now_s(), waited;

		if (post_write(&f, v))
			return die("post_send failed");
		while (*f.target != v && now_s() - start < TIMEOUT_S)
			;
		waited = now_s() - start;
		if (*f.target != v) {
			fprintf(stderr, "signal_owner: WRITE %llu never landed (%.1f s) with the "
				"signalled thread gone\n", (unsigned long long)v, waited);
			return 1;
		}
		if (waited > slowest)
			slowest = waited;
		if (poll_one(&f, v))
			return die("no CQE for a WRITE that landed");
	}
	printf("signal_owner: %d WRITEs with the polling thread, %d after it ended; "
	       "slowest wait on memory after it ended: %.0f us\n", ROUNDS, ROUNDS, slowest * 1e6);
	ibv_destroy_qp(f.a);
	ibv_destroy_qp(f.b);
	ibv_dereg_mr(f.smr);
	ibv_dereg_mr(f.rmr);
	ibv_destroy_cq(f.cq);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	free(f.source);
	free((void *)f.target);
	return 0;
}
