/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * bench/odp_fault.c - the time to serve one on-demand-paging fault in user mode.
 *
 * A verbs program (run it under `softhca run`; bench/odp_perf.sh does): two RC QPs
 * of one device, connected through GID 0, ODP MRs of PAGES pages each. It times
 * 64-byte RDMA WRITEs, post to completion:
 *   warm       source and target pages present (the baseline);
 *   remote     the target page absent: the responder faults, answers RNR NAK,
 *              the requester retries after the RNR timer (min_rnr_timer 1 =
 *              10 us here; ibv_rc_pingpong and perftest use 12 = 640 us);
 *   local      the source page absent: the requester's QP stalls, the host
 *              resolves the fault, the QP resumes (no RNR on the wire).
 * Each first-touch sample uses a page never touched before. Prints the median
 * and the 90th percentile of each, and the fault cost (median - warm median).
 *
 * Usage: bench_odp_fault [PAGES]   (default 512 samples of each kind)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <infiniband/verbs.h>

#define PAGE 4096u
#define MSG 64u

struct bench {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *a, *b;
	union ibv_gid gid;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int to_rts(struct ibv_qp *qp, uint32_t dest, const union ibv_gid *gid)
{
	struct ibv_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			  IBV_QP_ACCESS_FLAGS))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_4096;
	a.dest_qp_num = dest;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 1;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = *gid;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			  IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static struct ibv_qp *make_qp(struct bench *b)
{
	struct ibv_qp_init_attr ia;

	memset(&ia, 0, sizeof(ia));
	ia.send_cq = b->cq;
	ia.recv_cq = b->cq;
	ia.qp_type = IBV_QPT_RC;
	ia.cap.max_send_wr = 4;
	ia.cap.max_recv_wr = 4;
	ia.cap.max_send_sge = 1;
	ia.cap.max_recv_sge = 1;
	return ibv_create_qp(b->pd, &ia);
}

/* One signaled 64-byte WRITE; its time in microseconds, or -1. */
static double write_us(struct bench *b, struct ibv_mr *lmr, uint8_t *src, struct ibv_mr *rmr,
		       uint8_t *dst)
{
	struct ibv_sge s = { (uintptr_t)src, MSG, lmr->lkey };
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	double t0 = now_us();
	int n;

	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &s;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = (uintptr_t)dst;
	wr.wr.rdma.rkey = rmr->rkey;
	if (ibv_post_send(b->a, &wr, &bad))
		return -1;
	while ((n = ibv_poll_cq(b->cq, 1, &wc)) == 0)
		;
	if (n < 0 || wc.status != IBV_WC_SUCCESS)
		return -1;
	return now_us() - t0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static void report(const char *name, double *v, unsigned n, double base)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%-8s median %8.1f us  p90 %8.1f us", name, v[n / 2], v[n * 9 / 10]);
	if (base > 0)
		printf("  fault cost (median - warm median) %8.1f us", v[n / 2] - base);
	printf("\n");
}

int main(int argc, char **argv)
{
	unsigned pages = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 512;
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct bench b;
	uint8_t *src, *dst;
	struct ibv_mr *smr, *dmr;
	double *warm, *remote, *local;
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_ON_DEMAND;

	memset(&b, 0, sizeof(b));
	if (pages < 2 || !list || !list[0] || !(b.ctx = ibv_open_device(list[0])) ||
	    ibv_query_gid(b.ctx, 1, 0, &b.gid) || !(b.pd = ibv_alloc_pd(b.ctx)) ||
	    !(b.cq = ibv_create_cq(b.ctx, 16, NULL, NULL, 0)) || !(b.a = make_qp(&b)) ||
	    !(b.b = make_qp(&b)) || to_rts(b.a, b.b->qp_num, &b.gid) ||
	    to_rts(b.b, b.a->qp_num, &b.gid)) {
		fprintf(stderr, "bench_odp_fault: cannot set up the device, PD, CQ and QPs\n");
		return 2;
	}
	ibv_free_device_list(list);
	src = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	warm = calloc(pages, sizeof(double));
	remote = calloc(pages, sizeof(double));
	local = calloc(pages, sizeof(double));
	smr = src != MAP_FAILED ? ibv_reg_mr(b.pd, src, (size_t)pages * PAGE, access) : NULL;
	dmr = dst != MAP_FAILED ? ibv_reg_mr(b.pd, dst, (size_t)pages * PAGE, access) : NULL;
	if (!smr || !dmr || !warm || !remote || !local) {
		fprintf(stderr, "bench_odp_fault: cannot register the ODP MRs\n");
		return 2;
	}
	/* Page 0 of each made present once; then warm, remote, local per page. */
	if (write_us(&b, smr, src, dmr, dst) < 0)
		return 2;
	for (unsigned i = 1; i < pages; i++) {
		warm[i - 1] = write_us(&b, smr, src, dmr, dst);
		remote[i - 1] = write_us(&b, smr, src, dmr, dst + (size_t)i * PAGE);
		local[i - 1] = write_us(&b, smr, src + (size_t)i * PAGE, dmr, dst);
		if (warm[i - 1] < 0 || remote[i - 1] < 0 || local[i - 1] < 0) {
			fprintf(stderr, "bench_odp_fault: a WRITE failed\n");
			return 1;
		}
	}
	printf("64-byte RDMA WRITE, %u samples each:\n", pages - 1);
	report("warm", warm, pages - 1, 0);
	report("remote", remote, pages - 1, warm[(pages - 1) / 2]);
	report("local", local, pages - 1, warm[(pages - 1) / 2]);
	ibv_dereg_mr(smr);
	ibv_dereg_mr(dmr);
	ibv_destroy_qp(b.a);
	ibv_destroy_qp(b.b);
	ibv_destroy_cq(b.cq);
	ibv_dealloc_pd(b.pd);
	ibv_close_device(b.ctx);
	free(warm);
	free(remote);
	free(local);
	return 0;
}
