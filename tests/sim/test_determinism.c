/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_determinism.c - the same seed replays the same run.
 *
 * A lossy RC scenario (drops, reordering, duplicates, corruption; SENDs, WRITEs,
 * READs and atomics in both directions) runs twice with seed S: the trace hash
 * and the trace text must be identical, although the buffers sit at different
 * addresses in the second run. A third run of seed S with tracing off must give
 * the same hash (the hash is kept either way), and seed S + 1 a different one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scen.h"

#define SEED 4242u
#define NOPS 24

struct outcome {
	uint64_t hash;
	uint64_t end_ns;
	uint64_t sent, dropped, retransmits;
	uint64_t wr_ids[2][NOPS];
	uintptr_t buf_addr;
};

static const struct sim_faults lossy = {
	.drop_ppm = 100000, .reorder_ppm = 100000, .dup_ppm = 50000, .corrupt_ppm = 5000,
};

static int run_scenario(uint64_t seed, FILE *trace, size_t shift, struct outcome *res)
{
	struct scen s;
	struct scen_opts o;
	struct scen_buf *src[2], *dst[2], *ctr[2];
	struct emu_wc wc[NOPS];
	struct sim_wire_stats ws;
	struct emu_counters c;
	/* Junk allocations move this run's buffers to other addresses. */
	void *junk = shift ? malloc(shift) : NULL;
	int rc = 1;

	memset(res, 0, sizeof(*res));
	scen_opts_default(&o);
	o.faults = &lossy;
	if (scen_init(&s, seed, EMU_QPT_RC, EMU_MTU_1024, &o))
		goto out;
	if (trace)
		sim_trace_to(s.sim, trace);
	if (shift)
		SCEN_CHECK(sim_alloc(s.sim, shift) != NULL, "shift");
	for (int side = 0; side < 2; side++) {
		src[side] = scen_mr(&s, side, NOPS * 4096, SCEN_ACC_ALL);
		dst[side] = scen_mr(&s, side, NOPS * 4096, SCEN_ACC_ALL);
		ctr[side] = scen_mr(&s, side, 8, SCEN_ACC_ALL);
		SCEN_CHECK(src[side] && dst[side] && ctr[side], "buffers");
		scen_fill(src[side]->p, NOPS * 4096, seed * 2 + (uint64_t)side);
	}
	res->buf_addr = (uintptr_t)src[0]->p;
	for (int side = 0; side < 2; side++) {
		int peer = 1 - side;
		for (int i = 0; i < NOPS; i++)
			SCEN_CHECK_OK(scen_post_recv(s.qp[peer], (uint64_t)i, dst[peer],
						     (size_t)i * 4096, 4096));
		for (int i = 0; i < NOPS; i++) {
			uint64_t id = (uint64_t)side << 8 | (uint64_t)i;
			size_t off = (size_t)i * 4096;
			uint32_t len = 1 + (uint32_t)(i * 397 % 4000);

			switch (i % 4) {
			case 0:
				SCEN_CHECK_OK(scen_post_send(s.qp[side], id, EMU_WR_SEND,
							     EMU_SEND_SIGNALED, src[side], off, len,
							     0));
				break;
			case 1:
				SCEN_CHECK_OK(scen_post_rdma(s.qp[side], id, EMU_WR_RDMA_WRITE_WITH_IMM,
							     EMU_SEND_SIGNALED, src[side], off, len,
							     dst[peer], off, (uint32_t)i));
				break;
			case 2:
				SCEN_CHECK_OK(scen_post_rdma(s.qp[side], id, EMU_WR_RDMA_READ,
							     EMU_SEND_SIGNALED, dst[side], off, len,
							     src[peer], off, 0));
				break;
			default:
				SCEN_CHECK_OK(scen_post_atomic(s.qp[side], id,
							       EMU_WR_ATOMIC_FETCH_AND_ADD,
							       EMU_SEND_SIGNALED, dst[side], off,
							       scen_addr(ctr[peer], 0), ctr[peer]->rkey,
							       (uint64_t)i, 0));
				break;
			}
		}
	}
	for (int side = 0; side < 2; side++) {
		int n = scen_wait_wc(&s, s.scq[side], NOPS, wc, SCEN_SEC(600));
		SCEN_CHECK(n == NOPS, "side %d: %d of %d completions", side, n, NOPS);
		for (int i = 0; i < NOPS; i++) {
			SCEN_CHECK(wc[i].status == EMU_WC_SUCCESS, "side %d WR %d: %s", side, i,
				   scen_status_name(wc[i].status));
			res->wr_ids[side][i] = wc[i].wr_id;
		}
	}
	sim_run(s.sim, SCEN_SEC(1));
	res->hash = sim_trace_hash(s.sim);
	res->end_ns = sim_now(s.sim);
	sim_wire_stats(s.sim, &ws);
	res->sent = ws.sent;
	res->dropped = ws.dropped;
	for (int side = 0; side < 2; side++) {
		emu_dev_counters(s.emu[side], &c);
		res->retransmits += c.retransmits;
	}
	rc = 0;
out:
	scen_destroy(&s);
	free(junk);
	if (trace)
		fflush(trace);
	return rc;
}

/* 0 if the two files hold the same bytes; otherwise prints the first differing
 * line of each. *lines gets the line count of a. */
static int compare_files(FILE *a, FILE *b, long *lines)
{
	char la[1024], lb[1024];
	long n = 0;

	rewind(a);
	rewind(b);
	for (;;) {
		char *ra = fgets(la, sizeof(la), a);
		char *rb = fgets(lb, sizeof(lb), b);

		if (!ra && !rb)
			break;
		n++;
		if (!ra || !rb || strcmp(la, lb) != 0) {
			printf("    traces differ at line %ld:\n      first:  %s      second: %s\n",
			       n, ra ? la : "(end)\n", rb ? lb : "(end)\n");
			return -1;
		}
	}
	*lines = n;
	return 0;
}

static int test_same_seed_same_trace(void)
{
	FILE *f1 = tmpfile(), *f2 = tmpfile();
	struct outcome r1, r2, r3, r4;
	long lines = 0;
	int rc = 1;

	SCEN_CHECK(f1 && f2, "temporary files");
	SCEN_CHECK(run_scenario(SEED, f1, 0, &r1) == 0, "first run of seed %u", SEED);
	SCEN_CHECK(run_scenario(SEED, f2, NOPS * 4096, &r2) == 0, "second run of seed %u", SEED);
	printf("    seed %u: %" PRIu64 " packets, %" PRIu64 " dropped, %" PRIu64
	       " retransmits, %.6f s virtual, hash %016" PRIx64 "\n", SEED, r1.sent,
	       r1.dropped, r1.retransmits, (double)r1.end_ns / 1e9, r1.hash);
	SCEN_CHECK(r1.dropped > 0 && r1.retransmits > 0, "the scenario has faults to replay");
	if (r1.buf_addr == r2.buf_addr)
		printf("    note: both runs got their buffers at the same address (%#lx)\n", (unsigned long)r1.buf_addr);
	else
		printf("    the second run's buffers were at other addresses\n");
	SCEN_CHECK(compare_files(f1, f2, &lines) == 0, "identical trace text");
	SCEN_CHECK(lines > 100, "the trace has only %ld lines", lines);
	printf("    trace: %ld identical lines\n", lines);
	SCEN_CHECK(r1.hash == r2.hash, "hash %016" PRIx64 " vs %016" PRIx64, r1.hash, r2.hash);
	SCEN_CHECK(r1.end_ns == r2.end_ns && r1.sent == r2.sent &&
		   memcmp(r1.wr_ids, r2.wr_ids, sizeof(r1.wr_ids)) == 0,
		   "same completions at the same virtual time");

	SCEN_CHECK(run_scenario(SEED, NULL, 0, &r3) == 0, "run of seed %u without trace", SEED);
	SCEN_CHECK(r3.hash == r1.hash, "the hash without a trace file (%016" PRIx64 ") differs "
		   "from the traced run's (%016" PRIx64 ")", r3.hash, r1.hash);

	SCEN_CHECK(run_scenario(SEED + 1, NULL, 0, &r4) == 0, "run of seed %u", SEED + 1);
	printf("    seed %u: hash %016" PRIx64 "\n", SEED + 1, r4.hash);
	SCEN_CHECK(r4.hash != r1.hash, "seed %u and seed %u give the same hash", SEED, SEED + 1);
	rc = 0;
out:
	if (f1)
		fclose(f1);
	if (f2)
		fclose(f2);
	return rc;
}

static const struct scen_test tests[] = {
	{ "same_seed_same_trace", test_same_seed_same_trace },
};

int main(int argc, char **argv)
{
	return scen_run_tests("determinism", tests, sizeof(tests) / sizeof(tests[0]), argc,
			      argv);
}
