/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_dma_hold.c - the DMA layer's hold queue: with EMU_DMA_HOLD every
 * write into consumer memory and every completion waits until the host releases
 * it, and release makes them visible in the order the HCA made them (data before
 * its CQE). Switching back to STRICT releases everything, and so do destroying
 * and resetting the QP.
 */
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define LEN 3000u       /* three packets at MTU 1024 */

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* A WRITE_WITH_IMM held at the responder: nothing visible until released. */
static int test_write_imm_held(void)
{
	struct scen s;
	struct scen_buf *src, *dst, *rbuf;
	struct emu_wc wc;
	struct emu_counters c;
	uint32_t held, released = 0;
	int rc = 1;

	if (scen_init(&s, 11, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	src = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	dst = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	rbuf = scen_mr(&s, 1, 64, SCEN_ACC_ALL);
	SCEN_CHECK(src && dst && rbuf, "buffers");
	scen_fill(src->p, LEN, 5);
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_HOLD));
	SCEN_CHECK_OK(scen_post_recv(s.qp[1], 77, rbuf, 0, 64));
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 1, EMU_WR_RDMA_WRITE_WITH_IMM, EMU_SEND_SIGNALED,
				     src, 0, LEN, dst, 0, 0x1234));
	/* The requester completes: the responder acknowledged, as hardware would. */
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], &wc, 1, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "requester"), "requester completion");
	sim_run(s.sim, SCEN_MS(1));
	held = emu_dev_dma_held(s.emu[1]);
	SCEN_CHECK(held == 4, "held %u operations, want 3 data writes + 1 CQE", held);
	SCEN_CHECK(all_zero(dst->p, LEN), "data visible before release");
	SCEN_CHECK(sim_poll_cq(s.rcq[1], &wc, 1) == 0, "CQE visible before release");

	/* One at a time, in order: 1024, 2048, 3000 bytes, then the CQE. */
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t upto = i == 2 ? LEN : (i + 1) * 1024;

		released += emu_dev_dma_release(s.emu[1], 1);
		SCEN_CHECK(memcmp(dst->p, src->p, upto) == 0, "release %u: first %u bytes", i, upto);
		SCEN_CHECK(all_zero(dst->p + upto, LEN - upto), "release %u: later bytes early", i);
		SCEN_CHECK(sim_poll_cq(s.rcq[1], &wc, 1) == 0, "CQE before its data");
	}
	released += emu_dev_dma_release(s.emu[1], 10);
	SCEN_CHECK(released == 4, "released %u", released);
	SCEN_CHECK(sim_poll_cq(s.rcq[1], &wc, 1) == 1, "CQE after release");
	SCEN_CHECK(scen_wc_matches(&wc, 77, EMU_WC_SUCCESS, EMU_WC_RECV_RDMA_WITH_IMM, LEN,
				   "responder"), "responder completion");
	SCEN_CHECK(wc.imm_data == 0x1234 && (wc.wc_flags & EMU_WC_WITH_IMM), "immediate");
	emu_dev_counters(s.emu[1], &c);
	SCEN_CHECK(c.dma_held == 4 && c.dma_lost == 0, "counters held %llu lost %llu",
		   (unsigned long long)c.dma_held, (unsigned long long)c.dma_lost);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* READ data held at the requester; going back to STRICT releases all of it. */
static int test_read_strict_releases(void)
{
	struct scen s;
	struct scen_buf *local, *remote;
	struct emu_wc wc;
	int rc = 1;

	if (scen_init(&s, 12, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	local = scen_mr(&s, 0, LEN, SCEN_ACC_ALL);
	remote = scen_mr(&s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(local && remote, "buffers");
	scen_fill(remote->p, LEN, 9);
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[0], EMU_DMA_HOLD));
	SCEN_CHECK_OK(scen_post_rdma(s.qp[0], 3, EMU_WR_RDMA_READ, EMU_SEND_SIGNALED, local, 0,
				     LEN, remote, 0, 0));
	sim_run(s.sim, SCEN_MS(1));
	SCEN_CHECK(emu_dev_dma_held(s.emu[0]) == 4, "held %u", emu_dev_dma_held(s.emu[0]));
	SCEN_CHECK(all_zero(local->p, LEN), "READ data visible before release");
	SCEN_CHECK(sim_poll_cq(s.scq[0], &wc, 1) == 0, "READ CQE visible before release");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[0], EMU_DMA_STRICT));
	SCEN_CHECK(emu_dev_dma_held(s.emu[0]) == 0, "still held");
	SCEN_CHECK(memcmp(local->p, remote->p, LEN) == 0, "READ data after release");
	SCEN_CHECK(sim_poll_cq(s.scq[0], &wc, 1) == 1, "READ CQE after release");
	SCEN_CHECK(scen_wc_matches(&wc, 3, EMU_WC_SUCCESS, EMU_WC_RDMA_READ, SCEN_ANY, "read"),
		   "read completion");
	SCEN_CHECK(emu_dev_set_dma_policy(s.emu[0], (enum emu_dma_policy)7) == -EMU_EINVAL,
		   "a bad policy is refused");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* A completed WRITE of LEN bytes whose data the responder (device 1) holds:
 * 0, or 1 after a failed check. */
static int held_write(struct scen *s, uint64_t seed, uint64_t wr_id, struct scen_buf **src,
		      struct scen_buf **dst)
{
	struct emu_wc wc;

	if (scen_init(s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL))
		return 1;
	*src = scen_mr(s, 0, LEN, SCEN_ACC_ALL);
	*dst = scen_mr(s, 1, LEN, SCEN_ACC_ALL);
	SCEN_CHECK(*src && *dst, "buffers");
	scen_fill((*src)->p, LEN, (uint8_t)seed);
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s->emu[1], EMU_DMA_HOLD));
	SCEN_CHECK_OK(scen_post_rdma(s->qp[0], wr_id, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, *src,
				     0, LEN, *dst, 0, 0));
	SCEN_CHECK(scen_wait_one(s, s->scq[0], &wc, wr_id, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "write"), "write completion");
	SCEN_CHECK(emu_dev_dma_held(s->emu[1]) == 3, "held %u", emu_dev_dma_held(s->emu[1]));
	SCEN_CHECK(all_zero((*dst)->p, LEN), "data visible before release");
	return 0;
out:
	return 1;
}

/* Destroying a QP lands what was held for it first. */
static int test_destroy_flushes(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	int rc = 1;

	if (held_write(&s, 13, 4, &src, &dst))
		goto out;
	SCEN_CHECK_OK(emu_destroy_qp(s.qp[1]));
	for (int i = 0; i < s.n_qps; i++)       /* scen_destroy must not destroy it again */
		if (s.qps[i].qp == s.qp[1])
			s.qps[i] = s.qps[--s.n_qps];
	s.qp[1] = NULL;
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "held after destroy");
	SCEN_CHECK(memcmp(dst->p, src->p, LEN) == 0, "data landed at destroy");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

/* A reset lands what was held for the QP first, as a device finishes its DMA
 * before the modify returns: nothing lands later into reused buffers. */
static int test_reset_flushes(void)
{
	struct scen s;
	struct scen_buf *src, *dst;
	struct emu_qp_attr a;
	int rc = 1;

	if (held_write(&s, 14, 5, &src, &dst))
		goto out;
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RESET;
	SCEN_CHECK_OK(emu_modify_qp(s.qp[1], &a, EMU_QP_STATE));
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "held after the reset: %u",
		   emu_dev_dma_held(s.emu[1]));
	SCEN_CHECK(memcmp(dst->p, src->p, LEN) == 0, "data landed at the reset");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct scen_test tests[] = {
		{ "write_imm_held", test_write_imm_held },
		{ "read_strict_releases", test_read_strict_releases },
		{ "destroy_flushes", test_destroy_flushes },
		{ "reset_flushes", test_reset_flushes },
	};

	return scen_run_tests("dma_hold", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
