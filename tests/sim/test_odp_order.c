/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_odp_order.c - the DMA-ordering policies meet on-demand paging.
 *
 *   invalidate-held   RELAXED holds some 64-byte pieces of an RDMA WRITE back;
 *                     an invalidation of a few bytes elsewhere in the same page
 *                     takes the whole page, so the held pieces land before it
 *                     goes (not lost at the next deferral point, dma_lost 0),
 *                     for an explicit and an implicit ODP MR.
 *   implicit-replay   RELAXED over an implicit ODP MR: the same seed takes the
 *                     same decisions (byte-identical trace) wherever the
 *                     buffers lie in the address space.
 */
#define _GNU_SOURCE             /* open_memstream */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scen.h"

#define ODP        (SCEN_ACC_ALL | EMU_ACCESS_ON_DEMAND)
#define PAGE       4096u
#define BUF_LEN    (4u * PAGE)
#define WRITE_LEN  1000u        /* 16 pieces, inside page 0 */
#define MAX_TRIES  16           /* RELAXED leaves some WRs alone: try more WRs */

/* The responder's target: an explicit ODP MR over buf, or the implicit MR. */
struct target {
	uint8_t *buf;
	struct emu_mr *mr;
	uint32_t rkey;
	bool implicit;
};

static int make_target(struct scen *s, bool implicit, struct target *t)
{
	int ret;

	t->implicit = implicit;
	t->buf = sim_alloc(s->sim, BUF_LEN);
	if (!t->buf)
		return -1;
	ret = implicit ? sim_reg_mr(s->dev[1], s->pd[1], NULL, SIZE_MAX, ODP, &t->mr)
		       : sim_reg_mr(s->dev[1], s->pd[1], t->buf, BUF_LEN, ODP, &t->mr);
	if (ret) {
		printf("    sim_reg_mr: %d\n", ret);
		return -1;
	}
	t->rkey = emu_mr_rkey(t->mr);
	return 0;
}

/* sim_mr_* offsets: from the buffer start, or the address (implicit). */
static uint64_t target_off(const struct target *t, uint64_t off)
{
	return t->implicit ? (uint64_t)(uintptr_t)t->buf + off : off;
}

static int invalidate_held(bool implicit)
{
	struct scen s;
	struct scen_buf *src;
	struct target t;
	struct emu_counters c;
	uint32_t held = 0;
	int tries, rc = 1;

	SCEN_CHECK(scen_init(&s, 21, EMU_QPT_RC, EMU_MTU_1024, NULL) == 0, "setup");
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_RELAXED));
	src = scen_mr(&s, 0, BUF_LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && make_target(&s, implicit, &t) == 0, "buffers");
	sim_mr_make_present(s.dev[1], t.mr, target_off(&t, 0), BUF_LEN);

	/* WRITEs (each a new message: new decisions) until RELAXED holds pieces. */
	for (tries = 0; tries < MAX_TRIES && !held; tries++) {
		scen_fill(src->p, WRITE_LEN, 100 + (uint64_t)tries);
		SCEN_CHECK_OK(scen_post_rdma_key(s.qp[0], (uint64_t)tries, EMU_WR_RDMA_WRITE,
						 EMU_SEND_SIGNALED, src, 0, WRITE_LEN,
						 (uint64_t)(uintptr_t)t.buf, t.rkey, 0));
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, (uint64_t)tries, EMU_WC_SUCCESS,
					 EMU_WC_RDMA_WRITE, SCEN_ANY, "WRITE"), "write");
		held = emu_dev_dma_held(s.emu[1]);
		if (!held) {
			SCEN_CHECK(memcmp(t.buf, src->p, WRITE_LEN) == 0, "nothing held, data "
				   "incomplete");
		}
	}
	SCEN_CHECK(held > 0, "RELAXED held nothing in %d WRITEs", MAX_TRIES);
	SCEN_CHECK(memcmp(t.buf, src->p, WRITE_LEN) != 0, "held pieces already visible");

	/* Ten bytes past the WRITE, in the same page: the page goes, whole. */
	sim_mr_invalidate(s.dev[1], t.mr, target_off(&t, 2000), 10);
	SCEN_CHECK(emu_dev_dma_held(s.emu[1]) == 0, "%u writes still held after their page "
		   "was invalidated", emu_dev_dma_held(s.emu[1]));
	SCEN_CHECK(scen_memcmp(t.buf, src->p, WRITE_LEN, "data at the invalidation") == 0,
		   "held pieces did not land before the page went");
	emu_dev_dma_deferral_point(s.emu[1]);
	emu_dev_counters(s.emu[1], &c);
	printf("    %s MR: %u writes held after WRITE %d; lost %" PRIu64 ", invalidations %"
	       PRIu64 "\n", implicit ? "implicit" : "explicit", held, tries - 1, c.dma_lost,
	       c.odp_invalidations);
	SCEN_CHECK(c.dma_lost == 0, "%" PRIu64 " held pieces lost", c.dma_lost);
	SCEN_CHECK(scen_memcmp(t.buf, src->p, WRITE_LEN, "data after the deferral point") == 0,
		   "data");
	/* The page faults in again on the next access, and the data still arrives. */
	scen_fill(src->p, WRITE_LEN, 999);
	SCEN_CHECK_OK(scen_post_rdma_key(s.qp[0], 999, EMU_WR_RDMA_WRITE, EMU_SEND_SIGNALED, src,
					 0, WRITE_LEN, (uint64_t)(uintptr_t)t.buf, t.rkey, 0));
	SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 999, EMU_WC_SUCCESS, EMU_WC_RDMA_WRITE,
				 SCEN_ANY, "WRITE after the invalidation"), "write again");
	emu_dev_dma_deferral_point(s.emu[1]);
	SCEN_CHECK(scen_memcmp(t.buf, src->p, WRITE_LEN, "data of the next WRITE") == 0, "data");
	emu_dev_counters(s.emu[1], &c);
	SCEN_CHECK(c.page_faults > 0 && c.dma_lost == 0, "page faults %" PRIu64 ", lost %"
		   PRIu64, c.page_faults, c.dma_lost);
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_invalidate_held(void)
{
	if (invalidate_held(false))
		return 1;
	return invalidate_held(true);
}

/* ---- implicit-replay ------------------------------------------------------------------ */

#define REPLAY_WRITES 8
#define REPLAY_LEN    3000u     /* three packets at MTU 1024 */

struct replay {
	char *trace;
	size_t trace_len;
	uintptr_t target;         /* where the target buffer was */
	uint64_t reordered, deferred;
};

/* One run of seed: pad bytes of simulation memory first, so that the target
 * lands elsewhere in the address space. */
static int replay_once(uint64_t seed, size_t pad, struct replay *out)
{
	struct scen s;
	struct scen_buf *src;
	struct target t;
	struct emu_counters c;
	FILE *f = NULL;
	int rc = 1;

	memset(out, 0, sizeof(*out));
	SCEN_CHECK(scen_init(&s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL) == 0, "setup");
	SCEN_CHECK(!pad || sim_alloc(s.sim, pad), "pad");
	f = open_memstream(&out->trace, &out->trace_len);
	SCEN_CHECK(f != NULL, "open_memstream");
	sim_trace_to(s.sim, f);
	SCEN_CHECK_OK(emu_dev_set_dma_policy(s.emu[1], EMU_DMA_RELAXED));
	src = scen_mr(&s, 0, BUF_LEN, SCEN_ACC_ALL);
	SCEN_CHECK(src && make_target(&s, true, &t) == 0, "buffers");
	out->target = (uintptr_t)t.buf;
	scen_fill(src->p, BUF_LEN, seed);
	for (int i = 0; i < REPLAY_WRITES; i++) {
		uint32_t off = (uint32_t)i * 97u;

		SCEN_CHECK_OK(scen_post_rdma_key(s.qp[0], (uint64_t)i, EMU_WR_RDMA_WRITE,
						 EMU_SEND_SIGNALED, src, off, REPLAY_LEN,
						 (uint64_t)(uintptr_t)t.buf + off, t.rkey, 0));
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, (uint64_t)i, EMU_WC_SUCCESS,
					 EMU_WC_RDMA_WRITE, SCEN_ANY, "WRITE"), "write");
		emu_dev_dma_deferral_point(s.emu[1]);
		SCEN_CHECK(scen_memcmp(t.buf + off, src->p + off, REPLAY_LEN, "written data") == 0,
			   "data");
	}
	emu_dev_counters(s.emu[1], &c);
	out->reordered = c.dma_reordered;
	out->deferred = c.dma_deferred;
	rc = 0;
out:
	if (f) {
		sim_trace_to(s.sim, NULL);
		fclose(f);
	}
	scen_destroy(&s);
	return rc;
}

static int test_implicit_replay(void)
{
	struct replay a, b;
	int rc = 1;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (uint64_t seed = 40; seed < 44; seed++) {
		free(a.trace);
		free(b.trace);
		if (replay_once(seed, 0, &a) || replay_once(seed, 3 * PAGE + 192, &b))
			goto out;
		SCEN_CHECK(a.target != b.target, "both runs put the target at %#" PRIxPTR
			   ": the test proves nothing", a.target);
		SCEN_CHECK(a.reordered > 0 && a.deferred > 0, "seed %" PRIu64 ": RELAXED "
			   "reordered %" PRIu64 " and held %" PRIu64 " pieces: nothing to compare",
			   seed, a.reordered, a.deferred);
		SCEN_CHECK(a.reordered == b.reordered && a.deferred == b.deferred,
			   "seed %" PRIu64 ": reordered %" PRIu64 "/%" PRIu64 ", held %" PRIu64
			   "/%" PRIu64 " with the target elsewhere", seed, a.reordered,
			   b.reordered, a.deferred, b.deferred);
		SCEN_CHECK(a.trace_len == b.trace_len &&
			   memcmp(a.trace, b.trace, a.trace_len) == 0,
			   "seed %" PRIu64 ": the trace changed with the target's address "
			   "(%zu / %zu bytes)", seed, a.trace_len, b.trace_len);
		printf("    seed %" PRIu64 ": same %zu-byte trace at two addresses (%" PRIu64
		       " pieces reordered, %" PRIu64 " held)\n", seed, a.trace_len, a.reordered,
		       a.deferred);
	}
	rc = 0;
out:
	free(a.trace);
	free(b.trace);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct scen_test tests[] = {
		{ "invalidate-held", test_invalidate_held },
		{ "implicit-replay", test_implicit_replay },
	};

	return scen_run_tests("odp_order", tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
