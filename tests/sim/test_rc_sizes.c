/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_rc_sizes.c - RC SEND, RDMA WRITE and RDMA READ at the sizes
 * where segmentation goes wrong (0, 1, MTU-1, MTU, MTU+1, 1 MiB, 16 MiB) for
 * path MTUs 256, 1024 and 4096, and scatter/gather over several SGEs.
 *
 * 16 MiB runs at MTU 4096 only, and not under valgrind (SOFTHCA_VALGRIND), which
 * the output says.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scen.h"

#define GUARD     64u
#define BIG       (16u << 20)
#define MIB       (1u << 20)
#define WAIT_BIG  SCEN_SEC(600)

enum op { OP_SEND, OP_WRITE, OP_READ };
static const char *const op_names[] = { "SEND", "WRITE", "READ" };

struct bufs {
	struct scen_buf *src0;   /* side 0: SEND / WRITE source */
	struct scen_buf *buf1;   /* side 1: SEND / WRITE target, READ source */
	struct scen_buf *rd0;    /* side 0: READ target */
};

static bool zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* One operation of len bytes; data checked, guard bytes after it untouched. */
static int run_op(struct scen *s, struct bufs *b, enum op op, uint32_t len, uint64_t key)
{
	struct emu_wc wc;
	char what[96];
	uint8_t *target;
	const uint8_t *source;
	int rc = 1;

	snprintf(what, sizeof(what), "%s of %u bytes at MTU %u", op_names[op], len,
		 s->mtu_bytes);
	memset(b->buf1->p, 0, (size_t)len + GUARD);
	memset(b->rd0->p, 0, (size_t)len + GUARD);
	if (op == OP_READ) {
		scen_fill(b->buf1->p, len, key);
		source = b->buf1->p;
		target = b->rd0->p;
	} else {
		scen_fill(b->src0->p, len, key);
		source = b->src0->p;
		target = b->buf1->p;
	}

	switch (op) {
	case OP_SEND:
		SCEN_CHECK_OK(scen_post_recv(s->qp[1], key, b->buf1, 0, len + GUARD));
		SCEN_CHECK_OK(scen_post_send(s->qp[0], key, EMU_WR_SEND, EMU_SEND_SIGNALED,
					     b->src0, 0, len, 0));
		SCEN_CHECK(scen_wait_wc(s, s->rcq[1], 1, &wc, WAIT_BIG) == 1,
			   "%s: receive completion", what);
		SCEN_CHECK(scen_wc_matches(&wc, key, EMU_WC_SUCCESS, EMU_WC_RECV, len, what),
			   "%s: receive completion fields", what);
		break;
	case OP_WRITE:
		SCEN_CHECK_OK(scen_post_rdma(s->qp[0], key, EMU_WR_RDMA_WRITE,
					     EMU_SEND_SIGNALED, b->src0, 0, len, b->buf1, 0, 0));
		break;
	case OP_READ:
		SCEN_CHECK_OK(scen_post_rdma(s->qp[0], key, EMU_WR_RDMA_READ,
					     EMU_SEND_SIGNALED, b->rd0, 0, len, b->buf1, 0, 0));
		break;
	}
	SCEN_CHECK(scen_wait_wc(s, s->scq[0], 1, &wc, WAIT_BIG) == 1, "%s: requester completion",
		   what);
	SCEN_CHECK(scen_wc_matches(&wc, key, EMU_WC_SUCCESS,
				   op == OP_SEND ? EMU_WC_SEND :
				   op == OP_WRITE ? EMU_WC_RDMA_WRITE : EMU_WC_RDMA_READ,
				   SCEN_ANY, what), "%s: requester completion fields", what);
	SCEN_CHECK(scen_memcmp(target, source, len, what) == 0, "%s: data", what);
	SCEN_CHECK(zero(target + len, GUARD), "%s: bytes past the end were written", what);
	rc = 0;
out:
	return rc;
}

static int run_mtu(uint32_t path_mtu, bool with_big)
{
	struct scen s;
	struct scen_opts o;
	struct bufs b;
	uint32_t mtu = emu_mtu_bytes(path_mtu);
	uint32_t sizes[] = { 0, 1, mtu - 1, mtu, mtu + 1, MIB, BIG };
	size_t nsizes = sizeof(sizes) / sizeof(sizes[0]) - (with_big ? 0 : 1);
	size_t max = with_big ? BIG : MIB;
	uint64_t key = path_mtu << 8;
	int rc = 1;

	scen_opts_default(&o);
	o.psn_mode = SCEN_PSN_NEAR_WRAP;
	if (scen_init(&s, 100 + path_mtu, EMU_QPT_RC, path_mtu, &o))
		goto out;
	b.src0 = scen_mr(&s, 0, max + GUARD, SCEN_ACC_ALL);
	b.buf1 = scen_mr(&s, 1, max + GUARD, SCEN_ACC_ALL);
	b.rd0 = scen_mr(&s, 0, max + GUARD, SCEN_ACC_ALL);
	SCEN_CHECK(b.src0 && b.buf1 && b.rd0, "buffers");
	for (size_t i = 0; i < nsizes; i++)
		for (int op = OP_SEND; op <= OP_READ; op++)
			SCEN_CHECK(run_op(&s, &b, (enum op)op, sizes[i], ++key) == 0,
				   "%s of %u bytes at MTU %u", op_names[op], sizes[i], mtu);
	SCEN_CHECK(scen_expect_no_wc(&s, s.scq[0], SCEN_MS(10), "scq[0]") == 0 &&
		   scen_expect_no_wc(&s, s.rcq[1], 0, "rcq[1]") == 0,
		   "no completion beyond the expected ones");
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static int test_mtu_256(void)
{
	return run_mtu(EMU_MTU_256, false);
}

static int test_mtu_1024(void)
{
	return run_mtu(EMU_MTU_1024, false);
}

static int test_mtu_4096(void)
{
	if (scen_under_valgrind()) {
		printf("    SKIPPED under valgrind: the 16 MiB transfers (1 MiB and smaller "
		       "still run)\n");
		return run_mtu(EMU_MTU_4096, false);
	}
	return run_mtu(EMU_MTU_4096, true);
}

/* ---- scatter / gather ------------------------------------------------------------ */

struct seg {
	const struct scen_buf *b;
	size_t off;
	uint32_t len;
};

static void make_sgl(const struct seg *segs, int n, struct emu_sge *sge)
{
	for (int i = 0; i < n; i++)
		sge[i] = scen_sge(segs[i].b, segs[i].off, segs[i].len);
}

/* Concatenate what segs cover into out. */
static size_t gather(const struct seg *segs, int n, uint8_t *out)
{
	size_t pos = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + pos, segs[i].b->p + segs[i].off, segs[i].len);
		pos += segs[i].len;
	}
	return pos;
}

static int test_sgl(void)
{
	struct scen s;
	struct scen_buf *a0, *b0, *r1, *w1, *d0;
	struct emu_sge ssge[4], rsge[4];
	struct emu_send_wr wr;
	struct emu_recv_wr rwr;
	struct emu_wc wc;
	static uint8_t want[16384], got[16384];
	int rc = 1;

	if (scen_init(&s, 77, EMU_QPT_RC, EMU_MTU_1024, NULL))
		goto out;
	a0 = scen_mr(&s, 0, 8192, SCEN_ACC_ALL);
	b0 = scen_mr(&s, 0, 8192, SCEN_ACC_ALL);
	r1 = scen_mr(&s, 1, 8192, SCEN_ACC_ALL);
	w1 = scen_mr(&s, 1, 8192, SCEN_ACC_ALL);
	d0 = scen_mr(&s, 0, 8192, SCEN_ACC_ALL);
	SCEN_CHECK(a0 && b0 && r1 && w1 && d0, "buffers");
	scen_fill(a0->p, 8192, 1);
	scen_fill(b0->p, 8192, 2);
	scen_fill(w1->p + 4096, 4096, 3);
	{
		/* SEND: 3 gathered segments (2 MRs) into 4 scattered ones. */
		const struct seg src[] = { { a0, 10, 100 }, { b0, 0, 1500 }, { a0, 5000, 7 } };
		const struct seg dst[] = { { r1, 0, 50 }, { r1, 1000, 1000 }, { r1, 3000, 10 },
					   { r1, 5000, 2000 } };
		size_t n = gather(src, 3, want);

		make_sgl(src, 3, ssge);
		make_sgl(dst, 4, rsge);
		rwr = (struct emu_recv_wr){ .wr_id = 1, .num_sge = 4, .sg_list = rsge };
		SCEN_CHECK_OK(emu_post_recv(s.qp[1], &rwr));
		memset(&wr, 0, sizeof(wr));
		wr.wr_id = 2;
		wr.opcode = EMU_WR_SEND;
		wr.send_flags = EMU_SEND_SIGNALED;
		wr.num_sge = 3;
		wr.sg_list = ssge;
		SCEN_CHECK_OK(emu_post_send(s.qp[0], &wr));
		SCEN_CHECK(scen_wait_one(&s, s.rcq[1], &wc, 1, EMU_WC_SUCCESS, EMU_WC_RECV,
					 (uint32_t)n, "sgl send"), "receive");
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 2, EMU_WC_SUCCESS, EMU_WC_SEND,
					 SCEN_ANY, "sgl send"), "send");
		/* 1607 bytes fill 50 + 1000 + 10 and 547 of the last segment. */
		{
			const struct seg filled[] = { { r1, 0, 50 }, { r1, 1000, 1000 },
						      { r1, 3000, 10 }, { r1, 5000, 547 } };
			gather(filled, 4, got);
		}
		SCEN_CHECK(scen_memcmp(got, want, n, "scattered receive") == 0, "data");
		SCEN_CHECK(zero(r1->p + 50, 950) && zero(r1->p + 2000, 1000) &&
			   zero(r1->p + 3010, 1990) && zero(r1->p + 5547, 8192 - 5547),
			   "bytes outside the receive segments stay zero");
	}
	{
		/* WRITE gathering 3 segments into one remote range. */
		const struct seg src[] = { { b0, 100, 1 }, { a0, 0, 2047 }, { b0, 4096, 1025 } };
		size_t n = gather(src, 3, want);

		make_sgl(src, 3, ssge);
		memset(&wr, 0, sizeof(wr));
		wr.wr_id = 3;
		wr.opcode = EMU_WR_RDMA_WRITE;
		wr.send_flags = EMU_SEND_SIGNALED;
		wr.num_sge = 3;
		wr.sg_list = ssge;
		wr.wr.rdma.remote_addr = scen_addr(w1, 0);
		wr.wr.rdma.rkey = w1->rkey;
		SCEN_CHECK_OK(emu_post_send(s.qp[0], &wr));
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 3, EMU_WC_SUCCESS,
					 EMU_WC_RDMA_WRITE, SCEN_ANY, "sgl write"), "write");
		SCEN_CHECK(scen_memcmp(w1->p, want, n, "gathered write") == 0, "data");
	}
	{
		/* READ scattering into 4 local segments. */
		const struct seg dst[] = { { d0, 0, 3 }, { d0, 100, 1024 }, { d0, 2000, 1 },
					   { d0, 4000, 3000 } };

		make_sgl(dst, 4, ssge);
		memset(&wr, 0, sizeof(wr));
		wr.wr_id = 4;
		wr.opcode = EMU_WR_RDMA_READ;
		wr.send_flags = EMU_SEND_SIGNALED;
		wr.num_sge = 4;
		wr.sg_list = ssge;
		wr.wr.rdma.remote_addr = scen_addr(w1, 4096);
		wr.wr.rdma.rkey = w1->rkey;
		SCEN_CHECK_OK(emu_post_send(s.qp[0], &wr));
		SCEN_CHECK(scen_wait_one(&s, s.scq[0], NULL, 4, EMU_WC_SUCCESS, EMU_WC_RDMA_READ,
					 SCEN_ANY, "sgl read"), "read");
		gather(dst, 4, got);
		SCEN_CHECK(scen_memcmp(got, w1->p + 4096, 4028, "scattered read") == 0, "data");
		SCEN_CHECK(zero(d0->p + 3, 97) && zero(d0->p + 1124, 876) &&
			   zero(d0->p + 2001, 1999) && zero(d0->p + 7000, 1192),
			   "bytes outside the read segments stay zero");
	}
	rc = 0;
out:
	scen_destroy(&s);
	return rc;
}

static const struct scen_test tests[] = {
	{ "mtu_256", test_mtu_256 },
	{ "mtu_1024", test_mtu_1024 },
	{ "mtu_4096", test_mtu_4096 },
	{ "scatter_gather", test_sgl },
};

int main(int argc, char **argv)
{
	return scen_run_tests("rc_sizes", tests, sizeof(tests) / sizeof(tests[0]), argc,
			      argv);
}
