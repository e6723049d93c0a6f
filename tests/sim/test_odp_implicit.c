/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_odp_implicit.c - implicit ODP across many regions.
 *
 * Each side registers one implicit ODP MR (the whole address space: iova 0,
 * length UINT64_MAX) and allocates many separate buffers of random sizes that
 * were never registered on their own. A seeded series of RDMA WRITEs, READs,
 * SENDs and FETCH_ADDs between random ranges of random buffers goes through the
 * implicit lkeys and rkeys, with seeded invalidations of random ranges between
 * them. Every WR must complete with SUCCESS and the right byte count, and at the
 * end every byte of every buffer on both sides must equal a shadow copy kept by
 * the test.
 *
 * Usage: test_odp_implicit [SEEDS [FIRST_SEED]]  (default 30 seeds, 5 under
 * SOFTHCA_VALGRIND).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scen.h"

#define NREG     40
#define NOPS     60
#define MAXREG   20000u
#define ODP_ALL  (SCEN_ACC_ALL | EMU_ACCESS_ON_DEMAND)

struct region {
	uint8_t *p;          /* sim_alloc memory, reached through the implicit MR */
	uint8_t *shadow;     /* what it must hold (plain malloc: not in the MR) */
	uint32_t len;
};

struct side {
	struct emu_mr *mr;
	uint32_t key;
	struct region reg[NREG];
};

struct imp {
	struct scen s;
	uint64_t rng;
	struct side sd[2];
};

enum op { OP_WRITE, OP_READ, OP_SEND, OP_FADD, OP_KINDS };

static int setup(struct imp *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->rng = seed * 0x9e3779b97f4a7c15ull + 11;
	if (scen_init(&t->s, seed, EMU_QPT_RC, EMU_MTU_1024, NULL))
		return -1;
	sim_set_fault_delay(t->s.sim, 1000 + scen_rand_range(&t->rng, 0, 30000));
	for (int side = 0; side < 2; side++) {
		struct side *sd = &t->sd[side];
		int ret = sim_reg_mr(t->s.dev[side], t->s.pd[side], NULL, SIZE_MAX, ODP_ALL, &sd->mr);

		if (ret) {
			printf("    implicit sim_reg_mr on side %d: %d\n", side, ret);
			return -1;
		}
		sd->key = emu_mr_lkey(sd->mr);
		for (int i = 0; i < NREG; i++) {
			struct region *r = &sd->reg[i];

			r->len = scen_rand_range(&t->rng, 64, MAXREG);
			r->p = sim_alloc(t->s.sim, r->len);
			r->shadow = malloc(r->len);
			if (!r->p || !r->shadow)
				return -1;
			scen_fill(r->p, r->len, seed * 1000 + (uint64_t)side * NREG + (uint64_t)i);
			memcpy(r->shadow, r->p, r->len);
		}
	}
	return 0;
}

static void teardown(struct imp *t)
{
	for (int side = 0; side < 2; side++)
		for (int i = 0; i < NREG; i++)
			free(t->sd[side].reg[i].shadow);
	scen_destroy(&t->s);
}

/* A random range of a random region of side: [*off, *off + len). */
static struct region *pick(struct imp *t, int side, uint32_t len, uint32_t *off)
{
	struct region *r;

	do
		r = &t->sd[side].reg[scen_rand_range(&t->rng, 0, NREG - 1)];
	while (r->len < len);
	*off = scen_rand_range(&t->rng, 0, r->len - len);
	return r;
}

static uint64_t addr(const struct region *r, uint32_t off)
{
	return (uint64_t)(uintptr_t)(r->p + off);
}

static int post(struct imp *t, uint32_t opcode, const struct region *l, uint32_t loff,
		uint32_t len, uint64_t raddr, uint64_t add)
{
	struct emu_sge sge = { addr(l, loff), len, t->sd[0].key };
	struct emu_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = 1;
	wr.opcode = opcode;
	wr.send_flags = EMU_SEND_SIGNALED;
	wr.num_sge = 1;
	wr.sg_list = &sge;
	if (opcode == EMU_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = raddr;
		wr.wr.atomic.rkey = t->sd[1].key;
		wr.wr.atomic.compare_add = add;
	} else {
		wr.wr.rdma.remote_addr = raddr;
		wr.wr.rdma.rkey = t->sd[1].key;
	}
	return emu_post_send(t->s.qp[0], &wr);
}

static int one_op(struct imp *t, int n)
{
	static const uint32_t wc_op[OP_KINDS] = { EMU_WC_RDMA_WRITE, EMU_WC_RDMA_READ,
						  EMU_WC_SEND, EMU_WC_FETCH_ADD };
	enum op kind = (enum op)scen_rand_range(&t->rng, 0, OP_KINDS - 1);
	uint32_t len = kind == OP_FADD ? 8 : scen_rand_range(&t->rng, 1, 3 * 1024 + 10);
	uint32_t loff, roff;
	struct region *l = pick(t, 0, len, &loff), *r = pick(t, 1, len + 8, &roff);
	uint64_t add = scen_rand(&t->rng), old = 0;
	char what[64];
	int rc = 1;

	snprintf(what, sizeof(what), "op %d (kind %d, %u bytes)", n, (int)kind, len);
	if (kind == OP_FADD) {
		roff &= ~7u;          /* regions start 16-byte aligned */
		memcpy(&old, r->shadow + roff, 8);
	}
	switch (kind) {
	case OP_WRITE:
		SCEN_CHECK_OK(post(t, EMU_WR_RDMA_WRITE, l, loff, len, addr(r, roff), 0));
		memcpy(r->shadow + roff, l->shadow + loff, len);
		break;
	case OP_READ:
		SCEN_CHECK_OK(post(t, EMU_WR_RDMA_READ, l, loff, len, addr(r, roff), 0));
		memcpy(l->shadow + loff, r->shadow + roff, len);
		break;
	case OP_SEND: {
		struct emu_sge rs = { addr(r, roff), len, t->sd[1].key };
		struct emu_recv_wr rw = { 2, 1, &rs };

		SCEN_CHECK_OK(emu_post_recv(t->s.qp[1], &rw));
		SCEN_CHECK_OK(post(t, EMU_WR_SEND, l, loff, len, 0, 0));
		memcpy(r->shadow + roff, l->shadow + loff, len);
		SCEN_CHECK(scen_wait_one(&t->s, t->s.rcq[1], NULL, 2, EMU_WC_SUCCESS, EMU_WC_RECV,
					 len, what), "receive");
		break;
	}
	default: {
		uint64_t sum = old + add;

		SCEN_CHECK_OK(post(t, EMU_WR_ATOMIC_FETCH_AND_ADD, l, loff, 8, addr(r, roff), add));
		memcpy(l->shadow + loff, &old, 8);
		memcpy(r->shadow + roff, &sum, 8);
		break;
	}
	}
	SCEN_CHECK(scen_wait_one(&t->s, t->s.scq[0], NULL, 1, EMU_WC_SUCCESS, wc_op[kind],
				 kind == OP_FADD ? SCEN_ANY : len, what), "%s", what);
	rc = 0;
out:
	return rc;
}

static void invalidate_some(struct imp *t)
{
	int side = (int)scen_rand_range(&t->rng, 0, 1);
	uint32_t len = scen_rand_range(&t->rng, 1, 3 * 4096), off;
	struct region *r = &t->sd[side].reg[scen_rand_range(&t->rng, 0, NREG - 1)];

	off = scen_rand_range(&t->rng, 0, r->len - 1);
	sim_mr_invalidate(t->s.dev[side], t->sd[side].mr, addr(r, off), len);
}

static int run_seed(uint64_t seed, uint64_t *faults)
{
	struct imp *t = calloc(1, sizeof(*t));
	struct emu_counters c[2];
	int rc = 1;

	if (!t)
		return 1;
	SCEN_CHECK(setup(t, seed) == 0, "setup");
	for (int n = 0; n < NOPS; n++) {
		SCEN_CHECK(one_op(t, n) == 0, "seed %" PRIu64 " op %d", seed, n);
		if (scen_rand_range(&t->rng, 0, 2) == 0)
			invalidate_some(t);
	}
	for (int side = 0; side < 2; side++)
		for (int i = 0; i < NREG; i++) {
			const struct region *r = &t->sd[side].reg[i];
			char what[48];

			snprintf(what, sizeof(what), "side %d region %d", side, i);
			SCEN_CHECK(scen_memcmp(r->p, r->shadow, r->len, what) == 0, "seed %" PRIu64
				   ": %s", seed, what);
		}
	emu_dev_counters(t->s.emu[0], &c[0]);
	emu_dev_counters(t->s.emu[1], &c[1]);
	SCEN_CHECK(c[0].page_faults && c[1].page_faults, "no faults through the implicit MRs");
	SCEN_CHECK(!c[0].odp_unbacked && !c[1].odp_unbacked, "an access met no memory");
	*faults += c[0].page_faults + c[1].page_faults;
	rc = 0;
out:
	teardown(t);
	free(t);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t count = scen_under_valgrind() ? 5 : 30, first = 1, faults = 0;

	if (argc > 1)
		count = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		first = strtoull(argv[2], NULL, 0);
	printf("odp_implicit: %" PRIu64 " seeds from %" PRIu64 ", %d regions per side, %d ops\n",
	       count, first, NREG, NOPS);
	for (uint64_t i = 0; i < count; i++) {
		if (run_seed(first + i, &faults)) {
			printf("FAIL odp_implicit: seed %" PRIu64 "\n  replay: SOFTHCA_TRACE=1 %s 1 %"
			       PRIu64 "\nodp_implicit: 0 passed, 1 failed\n", first + i, argv[0],
			       first + i);
			return 1;
		}
	}
	printf("  %" PRIu64 " page faults through implicit MRs\nPASS odp_implicit\n"
	       "odp_implicit: 1 passed, 0 failed\n", faults);
	return 0;
}
