/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * test_fastpath.c - the provider's fast path (provider/fastpath.c) over rings
 * laid out as include/softhca/abi.h says: WRs into WQEs and back out as the
 * device reads them, CQEs into ibv_wc, post-time errors, full and empty rings,
 * wrap of the free-running indices, and the ibv_wr_* batch builders.
 *
 * The test plays the device: it reads the WQEs the fast path published, moves
 * cons, and writes CQEs and prod into CQ rings.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../provider/fastpath.h"

/* ---- rings and objects the test owns ----------------------------------------------- */

static struct softhca_ring_hdr *ring_new(uint32_t size, uint32_t stride)
{
	size_t bytes = (size_t)softhca_ring_bytes(size, stride);
	struct softhca_ring_hdr *h = aligned_alloc(64, (bytes + 63) & ~(size_t)63);

	ck_assert_ptr_nonnull(h);
	memset(h, 0, bytes);
	h->size = size;
	h->stride = stride;
	return h;
}

static void ring_start_at(struct softhca_ring_hdr *h, uint32_t idx)
{
	h->prod = idx;
	h->cons = idx;
}

static struct ibv_ah known_ah, unknown_ah;
static struct ibv_mw known_mw;
static struct ibv_mr known_mr;

enum { AH_HANDLE = 7, MW_HANDLE = 9, MR_HANDLE = 11 };

static uint32_t t_ah(struct ibv_ah *ah) { return ah == &known_ah ? AH_HANDLE : 0; }
static uint32_t t_mw(struct ibv_mw *mw) { return mw == &known_mw ? MW_HANDLE : 0; }
static uint32_t t_mr(struct ibv_mr *mr) { return mr == &known_mr ? MR_HANDLE : 0; }

static const struct fp_handles handles = { .ah = t_ah, .mw = t_mw, .mr = t_mr };

/* An SQ of 4 entries holding 4 SGEs or 64 bytes of inline data. */
static struct softhca_ring_hdr *sq_ring;
static struct fp_sq sq;

static void sq_setup(uint32_t qp_type)
{
	sq_ring = ring_new(4, fp_send_wqe_bytes_sge(4));
	ck_assert_int_eq(fp_sq_init(&sq, sq_ring, qp_type, 4, 64, &handles), 0);
}

static void rc_setup(void) { sq_setup(IBV_QPT_RC); }
static void ud_setup(void) { sq_setup(IBV_QPT_UD); sq.max_ud_msg = 1024; }
static void sq_teardown(void) { free(sq_ring); sq_ring = NULL; }

static struct softhca_send_wqe *sq_wqe(uint32_t idx)
{
	return softhca_ring_entry(sq_ring, idx);
}

static const struct softhca_sge *wqe_sges(const struct softhca_send_wqe *w)
{
	return (const struct softhca_sge *)(w + 1);
}

static struct ibv_send_wr send_wr(uint64_t wr_id, enum ibv_wr_opcode op, struct ibv_sge *sg,
				  int n)
{
	struct ibv_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = op;
	wr.sg_list = sg;
	wr.num_sge = n;
	wr.send_flags = IBV_SEND_SIGNALED;
	return wr;
}

/* ---- ring headers --------------------------------------------------------------------- */

START_TEST(ring_header_checked)
{
	struct softhca_ring_hdr *h = ring_new(4, 128);
	struct fp_sq s;
	struct fp_rq r;

	ck_assert(fp_ring_valid(h, 64));
	h->size = 6;
	ck_assert(!fp_ring_valid(h, 64));
	ck_assert_int_eq(fp_sq_init(&s, h, IBV_QPT_RC, 1, 0, &handles), EINVAL);
	h->size = 4;
	h->stride = 72;
	ck_assert(!fp_ring_valid(h, 64));
	h->stride = 48;                 /* smaller than a send WQE */
	ck_assert_int_eq(fp_sq_init(&s, h, IBV_QPT_RC, 1, 0, &handles), EINVAL);
	ck_assert_int_eq(fp_rq_init(&r, h, 2), 0);
	ck_assert_uint_eq(r.max_sge, 2);        /* (48 - 16) / 16 */
	ck_assert_int_eq(fp_sq_init(&s, NULL, IBV_QPT_RC, 1, 0, &handles), EINVAL);
	free(h);
}
END_TEST

START_TEST(caps_clipped_to_stride)
{
	struct softhca_ring_hdr *h = ring_new(8, 128);
	struct fp_sq s;
	struct fp_rq r;

	ck_assert_int_eq(fp_sq_init(&s, h, IBV_QPT_RC, 30, 1000, &handles), 0);
	ck_assert_uint_eq(s.max_sge, 4);        /* (128 - 64) / 16 */
	ck_assert_uint_eq(s.max_inline, 64);
	ck_assert_int_eq(fp_rq_init(&r, h, 30), 0);
	ck_assert_uint_eq(r.max_sge, 7);        /* (128 - 16) / 16 */
	free(h);
}
END_TEST

/* ---- send WQEs ------------------------------------------------------------------------ */

START_TEST(send_roundtrip)
{
	struct ibv_sge sg[2] = { { 0x1000, 100, 0x11 }, { 0x2000, 200, 0x22 } };
	struct ibv_send_wr wr = send_wr(42, IBV_WR_SEND_WITH_IMM, sg, 2), *bad = NULL;
	struct softhca_send_wqe *w;
	uint32_t posted = 0;

	wr.imm_data = htonl(0xdeadbeef);
	wr.send_flags |= IBV_SEND_SOLICITED;
	ck_assert_int_eq(fp_post_send(&sq, &wr, &bad, &posted), 0);
	ck_assert_ptr_null(bad);
	ck_assert_uint_eq(posted, 1);
	ck_assert_uint_eq(sq_ring->prod, 1);
	w = sq_wqe(0);
	ck_assert_uint_eq(w->wr_id, 42);
	ck_assert_uint_eq(w->opcode, IBV_WR_SEND_WITH_IMM);
	ck_assert_uint_eq(w->send_flags, IBV_SEND_SIGNALED | IBV_SEND_SOLICITED);
	ck_assert_uint_eq(w->num_sge, 2);
	ck_assert_uint_eq(w->inline_len, 0);
	ck_assert_uint_eq(w->imm_data, htonl(0xdeadbeef));
	ck_assert_uint_eq(wqe_sges(w)[0].addr, 0x1000);
	ck_assert_uint_eq(wqe_sges(w)[0].length, 100);
	ck_assert_uint_eq(wqe_sges(w)[0].lkey, 0x11);
	ck_assert_uint_eq(wqe_sges(w)[1].addr, 0x2000);
	ck_assert_uint_eq(wqe_sges(w)[1].length, 200);
	ck_assert_uint_eq(wqe_sges(w)[1].lkey, 0x22);
}
END_TEST

START_TEST(rdma_and_atomic_fields)
{
	uint64_t target = 0;
	struct ibv_sge sg = { (uintptr_t)&target, 8, 0x33 };
	struct ibv_send_wr wr[3], *bad = NULL;
	struct softhca_send_wqe *w;

	wr[0] = send_wr(1, IBV_WR_RDMA_WRITE_WITH_IMM, &sg, 1);
	wr[0].imm_data = htonl(5);
	wr[0].wr.rdma.remote_addr = 0xabc000;
	wr[0].wr.rdma.rkey = 0x77;
	wr[1] = send_wr(2, IBV_WR_ATOMIC_CMP_AND_SWP, &sg, 1);
	wr[1].wr.atomic.remote_addr = 0x8000;
	wr[1].wr.atomic.compare_add = 10;
	wr[1].wr.atomic.swap = 20;
	wr[1].wr.atomic.rkey = 0x88;
	wr[2] = send_wr(3, IBV_WR_SEND_WITH_INV, &sg, 1);
	wr[2].invalidate_rkey = 0x1234;
	wr[0].next = &wr[1];
	wr[1].next = &wr[2];
	ck_assert_int_eq(fp_post_send(&sq, wr, &bad, NULL), 0);
	ck_assert_uint_eq(sq_ring->prod, 3);

	w = sq_wqe(0);
	ck_assert_uint_eq(w->wr.rdma.remote_addr, 0xabc000);
	ck_assert_uint_eq(w->wr.rdma.rkey, 0x77);
	ck_assert_uint_eq(w->imm_data, htonl(5));
	ck_assert_uint_eq(w->invalidate_rkey, 0);
	w = sq_wqe(1);
	ck_assert_uint_eq(w->opcode, IBV_WR_ATOMIC_CMP_AND_SWP);
	ck_assert_uint_eq(w->wr.atomic.remote_addr, 0x8000);
	ck_assert_uint_eq(w->wr.atomic.compare_add, 10);
	ck_assert_uint_eq(w->wr.atomic.swap, 20);
	ck_assert_uint_eq(w->wr.atomic.rkey, 0x88);
	ck_assert_uint_eq(w->imm_data, 0);
	w = sq_wqe(2);
	ck_assert_uint_eq(w->invalidate_rkey, 0x1234);
	ck_assert_uint_eq(w->imm_data, 0);      /* the union's other reading is not copied */
}
END_TEST

START_TEST(inline_copies_payload)
{
	char a[] = "hello, ", b[] = "world";
	struct ibv_sge sg[2] = { { (uintptr_t)a, 7, 0 }, { (uintptr_t)b, 5, 0 } };
	struct ibv_send_wr wr = send_wr(9, IBV_WR_SEND, sg, 2), *bad = NULL;
	struct softhca_send_wqe *w;

	wr.send_flags |= IBV_SEND_INLINE;
	ck_assert_int_eq(fp_post_send(&sq, &wr, &bad, NULL), 0);
	memset(a, 'x', sizeof(a));      /* the WQE must not point at the buffer */
	w = sq_wqe(0);
	ck_assert_uint_eq(w->inline_len, 12);
	ck_assert_uint_eq(w->num_sge, 0);
	ck_assert(w->send_flags & IBV_SEND_INLINE);
	ck_assert_mem_eq((const char *)(w + 1), "hello, world", 12);
}
END_TEST

START_TEST(inline_flag_ignored_without_payload)
{
	struct ibv_sge sg = { 0x1000, 64, 0x5 };
	struct ibv_send_wr wr = send_wr(9, IBV_WR_RDMA_READ, &sg, 1), *bad = NULL;
	struct softhca_send_wqe *w;

	wr.send_flags |= IBV_SEND_INLINE;
	ck_assert_int_eq(fp_post_send(&sq, &wr, &bad, NULL), 0);
	w = sq_wqe(0);
	ck_assert(!(w->send_flags & IBV_SEND_INLINE));
	ck_assert_uint_eq(w->num_sge, 1);
	ck_assert_uint_eq(wqe_sges(w)[0].addr, 0x1000);
}
END_TEST

START_TEST(bind_mw_names_handles)
{
	struct ibv_send_wr wr = send_wr(4, IBV_WR_BIND_MW, NULL, 0), *bad = NULL;
	struct softhca_send_wqe *w;

	wr.bind_mw.mw = &known_mw;
	wr.bind_mw.rkey = 0x501;
	wr.bind_mw.bind_info.mr = &known_mr;
	wr.bind_mw.bind_info.addr = 0x4000;
	wr.bind_mw.bind_info.length = 4096;
	wr.bind_mw.bind_info.mw_access_flags = IBV_ACCESS_REMOTE_READ;
	ck_assert_int_eq(fp_post_send(&sq, &wr, &bad, NULL), 0);
	w = sq_wqe(0);
	ck_assert_uint_eq(w->wr.bind.mw_handle, MW_HANDLE);
	ck_assert_uint_eq(w->wr.bind.mr_handle, MR_HANDLE);
	ck_assert_uint_eq(w->wr.bind.rkey, 0x501);
	ck_assert_uint_eq(w->wr.bind.access, IBV_ACCESS_REMOTE_READ);
	ck_assert_uint_eq(w->wr.bind.addr, 0x4000);
	ck_assert_uint_eq(w->wr.bind.length, 4096);

	wr.bind_mw.bind_info.mr = (struct ibv_mr *)&known_mw;   /* not an MR we know */
	ck_assert_int_eq(fp_post_send(&sq, &wr, &bad, NULL), EINVAL);
	ck_assert_ptr_eq(bad, &wr);
	ck_assert_uint_eq(sq_ring->prod, 1);
}
END_TEST

/* The first bad WR stops the list; the ones before it are posted. */
static void expect_rejected(struct ibv_send_wr *bad_one, int err)
{
	struct ibv_sge sg = { 0x1000, 8, 1 };
	struct ibv_send_wr good = send_wr(1, IBV_WR_SEND, &sg, 1), *bad = NULL;
	uint32_t posted = 99;

	if (sq.qp_type == IBV_QPT_UD)
		good.wr.ud.ah = &known_ah;
	good.next = bad_one;
	bad_one->next = NULL;
	ck_assert_int_eq(fp_post_send(&sq, &good, &bad, &posted), err);
	ck_assert_ptr_eq(bad, bad_one);
	ck_assert_uint_eq(posted, 1);
	ck_assert_uint_eq(sq_ring->prod, 1);
	ck_assert_uint_eq(sq_wqe(0)->wr_id, 1);
}

START_TEST(rc_rejects_too_many_sges)
{
	struct ibv_sge sg[5] = { { 0 } };
	struct ibv_send_wr wr = send_wr(2, IBV_WR_SEND, sg, 5);

	expect_rejected(&wr, EINVAL);
}
END_TEST

START_TEST(rc_rejects_negative_sges)
{
	struct ibv_sge sg = { 0 };
	struct ibv_send_wr wr = send_wr(2, IBV_WR_SEND, &sg, -1);

	expect_rejected(&wr, EINVAL);
}
END_TEST

START_TEST(rc_rejects_long_inline)
{
	static char buf[65];
	struct ibv_sge sg = { (uintptr_t)buf, 65, 0 };
	struct ibv_send_wr wr = send_wr(2, IBV_WR_SEND, &sg, 1);

	wr.send_flags |= IBV_SEND_INLINE;
	expect_rejected(&wr, EINVAL);
}
END_TEST

START_TEST(rc_rejects_bad_atomics)
{
	struct ibv_sge sg = { 0x1000, 8, 1 };
	struct ibv_send_wr wr = send_wr(2, IBV_WR_ATOMIC_FETCH_AND_ADD, &sg, 1);

	wr.wr.atomic.remote_addr = 0x1004;       /* not 8-byte aligned */
	expect_rejected(&wr, EINVAL);
	sq_ring->prod = sq_ring->cons = 0;
	wr.wr.atomic.remote_addr = 0x1008;
	sg.length = 4;
	expect_rejected(&wr, EINVAL);
}
END_TEST

START_TEST(rc_rejects_unknown_opcodes)
{
	struct ibv_send_wr wr = send_wr(2, IBV_WR_TSO, NULL, 0);

	expect_rejected(&wr, EINVAL);
	sq_ring->prod = sq_ring->cons = 0;
	wr.opcode = IBV_WR_ATOMIC_WRITE;
	expect_rejected(&wr, EINVAL);
}
END_TEST

START_TEST(opcodes_by_qp_type)
{
	ck_assert(fp_opcode_valid(IBV_QPT_RC, IBV_WR_RDMA_READ));
	ck_assert(fp_opcode_valid(IBV_QPT_RC, IBV_WR_SEND_WITH_INV));
	ck_assert(!fp_opcode_valid(IBV_QPT_UC, IBV_WR_RDMA_READ));
	ck_assert(!fp_opcode_valid(IBV_QPT_UC, IBV_WR_ATOMIC_CMP_AND_SWP));
	ck_assert(fp_opcode_valid(IBV_QPT_UC, IBV_WR_RDMA_WRITE_WITH_IMM));
	ck_assert(fp_opcode_valid(IBV_QPT_UD, IBV_WR_SEND_WITH_IMM));
	ck_assert(!fp_opcode_valid(IBV_QPT_UD, IBV_WR_RDMA_WRITE));
	ck_assert(!fp_opcode_valid(IBV_QPT_XRC_SEND, IBV_WR_SEND));
}
END_TEST

START_TEST(ud_send_carries_ah_handle)
{
	struct ibv_sge sg = { 0x1000, 1024, 1 };
	struct ibv_send_wr wr = send_wr(3, IBV_WR_SEND, &sg, 1), *bad = NULL;
	struct softhca_send_wqe *w;

	wr.wr.ud.ah = &known_ah;
	wr.wr.ud.remote_qpn = 0x123456;
	wr.wr.ud.remote_qkey = 0x11111111;
	ck_assert_int_eq(fp_post_send(&sq, &wr, &bad, NULL), 0);
	w = sq_wqe(0);
	ck_assert_uint_eq(w->wr.ud.ah_handle, AH_HANDLE);
	ck_assert_uint_eq(w->wr.ud.remote_qpn, 0x123456);
	ck_assert_uint_eq(w->wr.ud.remote_qkey, 0x11111111);
}
END_TEST

START_TEST(ud_rejects_bad_ah_opcode_and_size)
{
	struct ibv_sge sg = { 0x1000, 8, 1 };
	struct ibv_send_wr wr = send_wr(2, IBV_WR_SEND, &sg, 1);

	wr.wr.ud.ah = &unknown_ah;
	expect_rejected(&wr, EINVAL);
	sq_ring->prod = sq_ring->cons = 0;
	wr.wr.ud.ah = NULL;
	expect_rejected(&wr, EINVAL);
	sq_ring->prod = sq_ring->cons = 0;
	wr.wr.ud.ah = &known_ah;
	sg.length = 1025;                       /* more than one MTU */
	expect_rejected(&wr, EINVAL);
	sq_ring->prod = sq_ring->cons = 0;
	sg.length = 8;
	wr.opcode = IBV_WR_RDMA_WRITE;
	expect_rejected(&wr, EINVAL);
}
END_TEST

/* ---- full, empty, wrap ------------------------------------------------------------------- */

static void post_n(uint32_t n, uint64_t first_id, int expect)
{
	struct ibv_sge sg = { 0x1000, 8, 1 };
	struct ibv_send_wr wr[8], *bad = NULL;
	uint32_t posted = 0;

	ck_assert_uint_le(n, 8);
	for (uint32_t i = 0; i < n; i++) {
		wr[i] = send_wr(first_id + i, IBV_WR_SEND, &sg, 1);
		wr[i].next = i + 1 < n ? &wr[i + 1] : NULL;
	}
	ck_assert_int_eq(fp_post_send(&sq, wr, &bad, &posted), expect);
	if (expect == ENOMEM)
		ck_assert_ptr_eq(bad, &wr[posted]);
}

static void check_ids(uint32_t from_idx, uint32_t n, uint64_t first_id)
{
	for (uint32_t i = 0; i < n; i++)
		ck_assert_uint_eq(sq_wqe(from_idx + i)->wr_id, first_id + i);
}

START_TEST(sq_full_then_drained)
{
	ck_assert_uint_eq(fp_ring_space(sq_ring), 4);
	post_n(4, 100, 0);
	ck_assert_uint_eq(fp_ring_space(sq_ring), 0);
	post_n(1, 200, ENOMEM);
	ck_assert_uint_eq(sq_ring->prod, 4);
	check_ids(0, 4, 100);
	sq_ring->cons = 2;                      /* the device took two */
	post_n(3, 300, ENOMEM);                 /* two fit, the third does not */
	ck_assert_uint_eq(sq_ring->prod, 6);
	check_ids(4, 2, 300);                   /* slots 0 and 1, reused */
	ck_assert_uint_eq(sq_wqe(2)->wr_id, 102);
}
END_TEST

START_TEST(sq_wraps_32bit_index)
{
	ring_start_at(sq_ring, 0xfffffffeu);
	post_n(4, 10, 0);
	ck_assert_uint_eq(sq_ring->prod, 2);    /* wrapped */
	check_ids(0xfffffffeu, 4, 10);
	post_n(1, 20, ENOMEM);
	sq_ring->cons = 1;                      /* the device consumed 3, across the wrap */
	post_n(3, 30, 0);
	ck_assert_uint_eq(sq_ring->prod, 5);
	check_ids(2, 3, 30);
	ck_assert_uint_eq(sq_wqe(1)->wr_id, 13);
}
END_TEST

/* ---- receive WQEs ------------------------------------------------------------------------- */

START_TEST(recv_roundtrip_full_and_errors)
{
	struct softhca_ring_hdr *h = ring_new(2, 64);
	struct ibv_sge sg[3] = { { 0x10, 1, 2 }, { 0x20, 3, 4 }, { 0x30, 5, 6 } };
	struct ibv_recv_wr wr[3], *bad = NULL;
	struct softhca_recv_wqe *w;
	const struct softhca_sge *s;
	struct fp_rq rq;
	uint32_t posted;

	ck_assert_int_eq(fp_rq_init(&rq, h, 3), 0);
	for (int i = 0; i < 3; i++) {
		memset(&wr[i], 0, sizeof(wr[i]));
		wr[i].wr_id = 50 + (uint64_t)i;
		wr[i].sg_list = sg;
		wr[i].num_sge = 3;
		wr[i].next = i < 2 ? &wr[i + 1] : NULL;
	}
	ck_assert_int_eq(fp_post_recv(&rq, wr, &bad, &posted), ENOMEM);
	ck_assert_uint_eq(posted, 2);
	ck_assert_ptr_eq(bad, &wr[2]);
	w = softhca_ring_entry(h, 1);
	s = (const struct softhca_sge *)(w + 1);
	ck_assert_uint_eq(w->wr_id, 51);
	ck_assert_uint_eq(w->num_sge, 3);
	ck_assert_uint_eq(s[2].addr, 0x30);
	ck_assert_uint_eq(s[2].length, 5);
	ck_assert_uint_eq(s[2].lkey, 6);

	h->cons = 2;
	wr[2].num_sge = 4;                      /* more than the QP has */
	ck_assert_int_eq(fp_post_recv(&rq, &wr[2], &bad, &posted), EINVAL);
	ck_assert_uint_eq(posted, 0);
	ck_assert_uint_eq(h->prod, 2);
	wr[2].num_sge = 0;                      /* zero SGEs are fine */
	ck_assert_int_eq(fp_post_recv(&rq, &wr[2], &bad, &posted), 0);
	ck_assert_uint_eq(h->prod, 3);
	free(h);
}
END_TEST

/* ---- completion queues ---------------------------------------------------------------------- */

static void device_cqe(struct softhca_ring_hdr *cq, uint64_t wr_id, uint32_t status)
{
	struct softhca_cqe *e = softhca_ring_entry(cq, cq->prod);

	memset(e, 0, sizeof(*e));
	e->wr_id = wr_id;
	e->status = status;
	e->opcode = IBV_WC_RECV;
	e->byte_len = (uint32_t)wr_id * 10;
	e->imm_data = htonl(0x01020304);
	e->qp_num = 0x11;
	e->src_qp = 0x22;
	e->wc_flags = IBV_WC_WITH_IMM | IBV_WC_GRH;
	e->pkey_index = 3;
	e->slid = 4;
	e->sl = 5;
	e->dlid_path_bits = 6;
	e->vendor_err = 7;
	__atomic_store_n(&cq->prod, cq->prod + 1, __ATOMIC_RELEASE);
}

START_TEST(cqe_to_wc_all_fields)
{
	struct softhca_ring_hdr *cq = ring_new(4, 64);
	struct ibv_wc wc[4];

	device_cqe(cq, 3, IBV_WC_REM_ACCESS_ERR);
	memset(wc, 0xa5, sizeof(wc));
	ck_assert_int_eq(fp_poll_cq(cq, 4, wc), 1);
	ck_assert_uint_eq(wc[0].wr_id, 3);
	ck_assert_int_eq(wc[0].status, IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(wc[0].opcode, IBV_WC_RECV);
	ck_assert_uint_eq(wc[0].byte_len, 30);
	ck_assert_uint_eq(wc[0].imm_data, htonl(0x01020304));
	ck_assert_uint_eq(wc[0].qp_num, 0x11);
	ck_assert_uint_eq(wc[0].src_qp, 0x22);
	ck_assert_uint_eq(wc[0].wc_flags, IBV_WC_WITH_IMM | IBV_WC_GRH);
	ck_assert_uint_eq(wc[0].pkey_index, 3);
	ck_assert_uint_eq(wc[0].slid, 4);
	ck_assert_uint_eq(wc[0].sl, 5);
	ck_assert_uint_eq(wc[0].dlid_path_bits, 6);
	ck_assert_uint_eq(wc[0].vendor_err, 7);
	ck_assert_uint_eq(cq->cons, 1);
	ck_assert_int_eq(fp_poll_cq(cq, 4, wc), 0);     /* empty */
	free(cq);
}
END_TEST

START_TEST(cq_partial_polls_and_wrap)
{
	struct softhca_ring_hdr *cq = ring_new(4, 64);
	struct ibv_wc wc[4];
	uint64_t next = 1;

	ring_start_at(cq, 0xfffffffdu);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 4; i++)
			device_cqe(cq, next + (uint64_t)i, IBV_WC_SUCCESS);
		ck_assert_int_eq(fp_poll_cq(cq, 3, wc), 3);
		ck_assert_uint_eq(wc[0].wr_id, next);
		ck_assert_uint_eq(wc[2].wr_id, next + 2);
		ck_assert_int_eq(fp_poll_cq(cq, 3, wc), 1);
		ck_assert_uint_eq(wc[0].wr_id, next + 3);
		ck_assert_int_eq(fp_poll_cq(cq, 3, wc), 0);
		next += 4;
	}
	ck_assert_uint_eq(cq->cons, 0xfffffffdu + 12);
	ck_assert_int_eq(fp_poll_cq(cq, 0, wc), 0);
	free(cq);
}
END_TEST

START_TEST(cq_peek_and_release)
{
	struct softhca_ring_hdr *cq = ring_new(4, 64);
	const struct softhca_cqe *e;

	ck_assert_ptr_null(fp_cq_peek(cq, 0));
	device_cqe(cq, 1, 0);
	device_cqe(cq, 2, 0);
	e = fp_cq_peek(cq, fp_cq_cons(cq));
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->wr_id, 1);
	ck_assert_uint_eq(fp_cq_peek(cq, 1)->wr_id, 2);
	ck_assert_ptr_null(fp_cq_peek(cq, 2));
	fp_cq_release(cq, 1);
	ck_assert_uint_eq(fp_cq_cons(cq), 1);
	ck_assert_ptr_null(fp_cq_peek(cq, 0));          /* behind the consumer */
	ck_assert_uint_eq(fp_cq_peek(cq, 1)->wr_id, 2);
	free(cq);
}
END_TEST

START_TEST(cq_overrun_reads_empty)
{
	struct softhca_ring_hdr *cq = ring_new(4, 64);
	struct ibv_wc wc[8];

	cq->prod = 9;                           /* a device that broke the ring */
	ck_assert_int_eq(fp_poll_cq(cq, 8, wc), 0);
	ck_assert_ptr_null(fp_cq_peek(cq, 0));
	free(cq);
}
END_TEST

/* ---- ibv_wr_* batches ------------------------------------------------------------------------- */

START_TEST(wr_batch_publishes_on_complete)
{
	char payload[] = "inline!";
	struct ibv_data_buf db = { payload, 7 };
	struct ibv_sge sg = { 0x5000, 16, 0x9 };
	struct softhca_send_wqe *w;
	uint32_t posted;

	fp_wr_start(&sq);
	fp_wr_send(&sq, 1, IBV_SEND_SIGNALED, IBV_WR_SEND, 0, 0);
	fp_wr_set_sge_list(&sq, 1, &sg);
	fp_wr_rdma(&sq, 2, 0, IBV_WR_RDMA_WRITE_WITH_IMM, 0x44, 0x9000, htonl(8));
	fp_wr_set_inline_list(&sq, 1, &db);
	ck_assert_uint_eq(sq_ring->prod, 0);    /* nothing visible before complete */
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), 0);
	ck_assert_uint_eq(posted, 2);
	ck_assert_uint_eq(sq_ring->prod, 2);
	w = sq_wqe(0);
	ck_assert_uint_eq(w->wr_id, 1);
	ck_assert_uint_eq(w->send_flags, IBV_SEND_SIGNALED);
	ck_assert_uint_eq(w->num_sge, 1);
	ck_assert_uint_eq(wqe_sges(w)[0].addr, 0x5000);
	w = sq_wqe(1);
	ck_assert_uint_eq(w->opcode, IBV_WR_RDMA_WRITE_WITH_IMM);
	ck_assert_uint_eq(w->wr.rdma.rkey, 0x44);
	ck_assert_uint_eq(w->wr.rdma.remote_addr, 0x9000);
	ck_assert_uint_eq(w->imm_data, htonl(8));
	ck_assert(w->send_flags & IBV_SEND_INLINE);
	ck_assert_uint_eq(w->inline_len, 7);
	ck_assert_mem_eq((const char *)(w + 1), "inline!", 7);
}
END_TEST

START_TEST(wr_batch_error_publishes_nothing)
{
	struct ibv_sge sg[5] = { { 0 } };
	uint32_t posted = 9;

	fp_wr_start(&sq);
	fp_wr_send(&sq, 1, 0, IBV_WR_SEND, 0, 0);
	fp_wr_set_sge_list(&sq, 1, sg);
	fp_wr_send(&sq, 2, 0, IBV_WR_SEND, 0, 0);
	fp_wr_set_sge_list(&sq, 5, sg);         /* one SGE too many */
	fp_wr_send(&sq, 3, 0, IBV_WR_SEND, 0, 0);
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), EINVAL);
	ck_assert_uint_eq(posted, 0);
	ck_assert_uint_eq(sq_ring->prod, 0);

	/* The next batch starts clean. */
	fp_wr_start(&sq);
	fp_wr_send(&sq, 4, 0, IBV_WR_SEND, 0, 0);
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), 0);
	ck_assert_uint_eq(posted, 1);
	ck_assert_uint_eq(sq_wqe(0)->wr_id, 4);
}
END_TEST

START_TEST(wr_batch_abort_and_full)
{
	uint32_t posted;

	fp_wr_start(&sq);
	fp_wr_send(&sq, 1, 0, IBV_WR_SEND, 0, 0);
	fp_wr_abort(&sq);
	ck_assert_uint_eq(sq_ring->prod, 0);

	fp_wr_start(&sq);
	for (uint64_t i = 0; i < 5; i++)
		fp_wr_send(&sq, i, 0, IBV_WR_SEND, 0, 0);
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), ENOMEM);
	ck_assert_uint_eq(sq_ring->prod, 0);

	fp_wr_start(&sq);
	fp_wr_set_sge_list(&sq, 0, NULL);       /* a setter with no WR to patch */
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), EINVAL);

	fp_wr_start(&sq);
	fp_wr_atomic(&sq, 1, 0, IBV_WR_ATOMIC_FETCH_AND_ADD, 1, 0x1001, 1, 0);
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), EINVAL);

	fp_wr_start(&sq);
	fp_wr_fail(&sq, EOPNOTSUPP);
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), EOPNOTSUPP);
	ck_assert_uint_eq(sq_ring->prod, 0);
}
END_TEST

START_TEST(wr_batch_ud)
{
	struct ibv_sge sg = { 0x1000, 100, 1 }, big = { 0x1000, 2000, 1 };
	struct softhca_send_wqe *w;
	uint32_t posted;

	fp_wr_start(&sq);
	fp_wr_send(&sq, 7, 0, IBV_WR_SEND_WITH_IMM, htonl(3), 0);
	fp_wr_set_ud_addr(&sq, &known_ah, 0x42, 0x1234);
	fp_wr_set_sge_list(&sq, 1, &sg);
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), 0);
	w = sq_wqe(0);
	ck_assert_uint_eq(w->wr.ud.ah_handle, AH_HANDLE);
	ck_assert_uint_eq(w->wr.ud.remote_qpn, 0x42);
	ck_assert_uint_eq(w->wr.ud.remote_qkey, 0x1234);
	ck_assert_uint_eq(w->imm_data, htonl(3));

	fp_wr_start(&sq);
	fp_wr_send(&sq, 8, 0, IBV_WR_SEND, 0, 0);
	fp_wr_set_ud_addr(&sq, &unknown_ah, 0x42, 0x1234);
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), EINVAL);

	fp_wr_start(&sq);
	fp_wr_send(&sq, 9, 0, IBV_WR_SEND, 0, 0);
	fp_wr_set_ud_addr(&sq, &known_ah, 0x42, 0x1234);
	fp_wr_set_sge_list(&sq, 1, &big);       /* beyond the MTU */
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), EINVAL);

	fp_wr_start(&sq);
	fp_wr_rdma(&sq, 10, 0, IBV_WR_RDMA_READ, 1, 0x1000, 0);   /* not on UD */
	ck_assert_int_eq(fp_wr_complete(&sq, &posted), EINVAL);
	ck_assert_uint_eq(sq_ring->prod, 1);
}
END_TEST

static Suite *fastpath_suite(void)
{
	Suite *s = suite_create("fastpath");
	TCase *rings = tcase_create("rings");
	TCase *rc = tcase_create("rc");
	TCase *ud = tcase_create("ud");
	TCase *cq = tcase_create("cq");

	tcase_add_test(rings, ring_header_checked);
	tcase_add_test(rings, caps_clipped_to_stride);
	tcase_add_test(rings, opcodes_by_qp_type);
	tcase_add_test(rings, recv_roundtrip_full_and_errors);

	tcase_add_checked_fixture(rc, rc_setup, sq_teardown);
	tcase_add_test(rc, send_roundtrip);
	tcase_add_test(rc, rdma_and_atomic_fields);
	tcase_add_test(rc, inline_copies_payload);
	tcase_add_test(rc, inline_flag_ignored_without_payload);
	tcase_add_test(rc, bind_mw_names_handles);
	tcase_add_test(rc, rc_rejects_too_many_sges);
	tcase_add_test(rc, rc_rejects_negative_sges);
	tcase_add_test(rc, rc_rejects_long_inline);
	tcase_add_test(rc, rc_rejects_bad_atomics);
	tcase_add_test(rc, rc_rejects_unknown_opcodes);
	tcase_add_test(rc, sq_full_then_drained);
	tcase_add_test(rc, sq_wraps_32bit_index);
	tcase_add_test(rc, wr_batch_publishes_on_complete);
	tcase_add_test(rc, wr_batch_error_publishes_nothing);
	tcase_add_test(rc, wr_batch_abort_and_full);

	tcase_add_checked_fixture(ud, ud_setup, sq_teardown);
	tcase_add_test(ud, ud_send_carries_ah_handle);
	tcase_add_test(ud, ud_rejects_bad_ah_opcode_and_size);
	tcase_add_test(ud, wr_batch_ud);

	tcase_add_test(cq, cqe_to_wc_all_fields);
	tcase_add_test(cq, cq_partial_polls_and_wrap);
	tcase_add_test(cq, cq_peek_and_release);
	tcase_add_test(cq, cq_overrun_reads_empty);

	suite_add_tcase(s, rings);
	suite_add_tcase(s, rc);
	suite_add_tcase(s, ud);
	suite_add_tcase(s, cq);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fastpath_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
