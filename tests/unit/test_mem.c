/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * test_mem.c - PD, MR and MW objects; lkey and rkey checks; window bind,
 * rebind, unbind and invalidate; copies through the host, including the
 * on-demand-paging "not present" path.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../emu/core/internal.h"
#include "lib/unit_host.h"

#define BUF_LEN 4096

static struct unit_host host;
static struct emu_dev *dev;
static struct emu_pd *pd, *pd2;
static struct emu_qp *qp, *qp2, *qp_other_pd;
static uint8_t *buf;
static struct unit_mr umr = { .present = true };

static struct emu_qp *fake_qp(struct emu_pd *p, uint32_t qpn)
{
	struct emu_qp *q = calloc(1, sizeof(*q));

	ck_assert_ptr_nonnull(q);
	q->dev = dev;
	q->pd = p;
	q->qpn = qpn;
	q->type = EMU_QPT_RC;
	q->timer_deadline = UINT64_MAX;
	return q;
}

static void create_dev(void)
{
	unit_host_init(&host);
	ck_assert_int_eq(emu_dev_create(&host.ops, NULL, &dev), 0);
	ck_assert_int_eq(emu_alloc_pd(dev, &pd), 0);
	ck_assert_int_eq(emu_alloc_pd(dev, &pd2), 0);
	qp = fake_qp(pd, QPN_BASE);
	qp2 = fake_qp(pd, QPN_BASE + 1);
	qp_other_pd = fake_qp(pd2, QPN_BASE + 2);
	buf = malloc(BUF_LEN);
	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < BUF_LEN; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	memset(&umr, 0, sizeof(umr));
	umr.present = true;
}

static void setup(void)
{
	create_dev();
}

static void teardown(void)
{
	free(qp);
	free(qp2);
	free(qp_other_pd);
	free(buf);
	ck_assert_int_eq(emu_dealloc_pd(pd), 0);
	ck_assert_int_eq(emu_dealloc_pd(pd2), 0);
	emu_dev_destroy(dev);
	/* Every object the engine allocated has been given back. */
	ck_assert_uint_eq(host.live_allocs, 0);
	unit_host_fini(&host);
}

static uint64_t base(void)
{
	return (uint64_t)(uintptr_t)buf;
}

static struct emu_mr *reg(struct emu_pd *p, uint32_t access)
{
	struct emu_mr *mr = NULL;

	ck_assert_int_eq(emu_reg_mr(p, base(), BUF_LEN, access, &umr, &mr), 0);
	ck_assert_ptr_nonnull(mr);
	return mr;
}

static struct emu_sge sge_of(uint64_t addr, uint32_t len, uint32_t lkey)
{
	struct emu_sge s = { .addr = addr, .length = len, .lkey = lkey };

	return s;
}

#define ALL_RIGHTS (EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE | \
		    EMU_ACCESS_REMOTE_READ | EMU_ACCESS_REMOTE_ATOMIC | EMU_ACCESS_MW_BIND)

/* ---- PD / MR objects ---------------------------------------------------------------- */

START_TEST(mr_create_and_keys)
{
	struct emu_mr *a = reg(pd, EMU_ACCESS_LOCAL_WRITE);
	struct emu_mr *b = reg(pd, EMU_ACCESS_LOCAL_WRITE);

	ck_assert_uint_eq(emu_mr_lkey(a), emu_mr_rkey(a));
	ck_assert_uint_ne(emu_mr_lkey(a), 0);
	ck_assert_uint_ne(emu_mr_lkey(a), emu_mr_lkey(b));
	ck_assert_uint_eq(a->iova, base());
	ck_assert_uint_eq(a->length, BUF_LEN);
	ck_assert_uint_eq(pd->refcount, 2);
	ck_assert_ptr_eq(emu_key_lookup(dev, emu_mr_lkey(a)), &a->mem);
	ck_assert_int_eq(emu_dealloc_pd(pd), -EMU_EBUSY);
	ck_assert_int_eq(emu_dereg_mr(a), 0);
	ck_assert_int_eq(emu_dereg_mr(b), 0);
	ck_assert_uint_eq(pd->refcount, 0);
}
END_TEST

START_TEST(mr_create_rejects)
{
	struct emu_mr *mr = NULL;
	uint64_t top = UINT64_MAX - 9;

	/* Remote write and atomic need local write (IBA 10.6.3.1). */
	ck_assert_int_eq(emu_reg_mr(pd, base(), BUF_LEN, EMU_ACCESS_REMOTE_WRITE, &umr, &mr),
			 -EMU_EINVAL);
	ck_assert_int_eq(emu_reg_mr(pd, base(), BUF_LEN, EMU_ACCESS_REMOTE_ATOMIC, &umr, &mr),
			 -EMU_EINVAL);
	/* An access bit verbs does not define. */
	ck_assert_int_eq(emu_reg_mr(pd, base(), BUF_LEN, 1u << 12, &umr, &mr), -EMU_EINVAL);
	ck_assert_int_eq(emu_reg_mr(pd, base(), 0, EMU_ACCESS_LOCAL_WRITE, &umr, &mr),
			 -EMU_EINVAL);
	/* iova + length past 2^64. */
	ck_assert_int_eq(emu_reg_mr(pd, top, 10, EMU_ACCESS_LOCAL_WRITE, &umr, &mr),
			 -EMU_EINVAL);
	ck_assert_ptr_null(mr);
	ck_assert_uint_eq(pd->refcount, 0);
	ck_assert_uint_eq(dev->n_mr, 0);

	/* Ending exactly at 2^64 is fine; so is an optional bit (ignored). */
	ck_assert_int_eq(emu_reg_mr(pd, top, 9, EMU_ACCESS_LOCAL_WRITE, &umr, &mr), 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_int_eq(emu_reg_mr(pd, base(), BUF_LEN,
				    EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_RELAXED_ORDERING | (1u << 25),
				    &umr, &mr), 0);
	ck_assert_uint_eq(mr->access, EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_RELAXED_ORDERING);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(mr_limit)
{
	struct emu_dev_config cfg = { .max_mr = 2 };
	struct emu_dev *d;
	struct emu_pd *p;
	struct emu_mr *m[3];

	ck_assert_int_eq(emu_dev_create(&host.ops, &cfg, &d), 0);
	ck_assert_int_eq(emu_alloc_pd(d, &p), 0);
	ck_assert_int_eq(emu_reg_mr(p, base(), BUF_LEN, 0, &umr, &m[0]), 0);
	ck_assert_int_eq(emu_reg_mr(p, base(), BUF_LEN, 0, &umr, &m[1]), 0);
	ck_assert_int_eq(emu_reg_mr(p, base(), BUF_LEN, 0, &umr, &m[2]), -EMU_ENOMEM);
	ck_assert_int_eq(emu_dereg_mr(m[0]), 0);
	ck_assert_int_eq(emu_reg_mr(p, base(), BUF_LEN, 0, &umr, &m[2]), 0);
	ck_assert_int_eq(emu_dereg_mr(m[1]), 0);
	ck_assert_int_eq(emu_dereg_mr(m[2]), 0);
	ck_assert_int_eq(emu_dealloc_pd(p), 0);
	emu_dev_destroy(d);
}
END_TEST

START_TEST(mw_create)
{
	struct emu_mw *mw1, *mw2, *bad = NULL;

	ck_assert_int_eq(emu_alloc_mw(pd, 3, &bad), -EMU_EINVAL);
	ck_assert_int_eq(emu_alloc_mw(pd, 0, &bad), -EMU_EINVAL);
	ck_assert_ptr_null(bad);
	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_1, &mw1), 0);
	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_2, &mw2), 0);
	ck_assert_uint_eq(mw1->state, EMU_MW_FREE);
	ck_assert_uint_eq(mw2->type, EMU_MW_TYPE_2);
	ck_assert_uint_ne(emu_mw_rkey(mw1), emu_mw_rkey(mw2));
	ck_assert_uint_eq(pd->refcount, 2);
	ck_assert_int_eq(emu_dealloc_mw(mw1), 0);
	ck_assert_int_eq(emu_dealloc_mw(mw2), 0);
	ck_assert_uint_eq(pd->refcount, 0);
}
END_TEST

/* ---- lkey checks --------------------------------------------------------------------- */

START_TEST(lkey_ok_and_ref)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_LOCAL_WRITE);
	struct emu_sge s = sge_of(base() + 100, 200, emu_mr_lkey(mr));
	struct mem_ref ref = { 0 };

	ck_assert_int_eq(emu_lkey_check(qp, &s, EMU_ACCESS_LOCAL_WRITE, &ref), MEM_OK);
	ck_assert_ptr_eq(ref.mr, mr);
	ck_assert_uint_eq(ref.iova, base() + 100);
	/* The whole region, and an empty SGE at its very end. */
	s = sge_of(base(), BUF_LEN, emu_mr_lkey(mr));
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_OK);
	s = sge_of(base() + BUF_LEN, 0, emu_mr_lkey(mr));
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_OK);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(lkey_failures)
{
	struct emu_mr *mr = reg(pd, 0);
	struct emu_mr *other = reg(pd2, EMU_ACCESS_LOCAL_WRITE);
	uint32_t key = emu_mr_lkey(mr);
	struct emu_mw *mw;
	struct emu_sge s;
	struct mem_ref ref;

	s = sge_of(base(), 16, key ^ 0x01);          /* wrong key byte */
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_KEY);
	s = sge_of(base(), 16, key + 0x100);         /* an empty slot */
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_KEY);
	s = sge_of(base(), 16, 0xffffff00u);         /* beyond the table */
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_KEY);
	s = sge_of(base(), 16, emu_mr_lkey(other));  /* another PD */
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_KEY);
	s = sge_of(base() - 1, 16, key);             /* starts one byte early */
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_RANGE);
	s = sge_of(base() + BUF_LEN - 15, 16, key);  /* ends one byte late */
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_RANGE);
	s = sge_of(base() + BUF_LEN - 16, 16, key);  /* ends exactly at the end */
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_OK);
	s = sge_of(base(), 16, key);                 /* write into a read-only MR */
	ck_assert_int_eq(emu_lkey_check(qp, &s, EMU_ACCESS_LOCAL_WRITE, &ref),
			 MEM_BAD_ACCESS);
	/* A window's key is never an lkey. */
	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_1, &mw), 0);
	s = sge_of(base(), 16, emu_mw_rkey(mw));
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_KEY);

	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_int_eq(emu_dereg_mr(other), 0);
}
END_TEST

START_TEST(lkey_overflow)
{
	/* An MR at the top of the address space: addr + length of a bad SGE
	 * wraps around to a small number, which a naive end check accepts. */
	uint64_t top = UINT64_MAX - 4095;
	struct emu_mr *mr;
	struct emu_sge s;
	struct mem_ref ref;

	ck_assert_int_eq(emu_reg_mr(pd, top, 4095, 0, &umr, &mr), 0);
	s = sge_of(UINT64_MAX - 10, 100, emu_mr_lkey(mr));
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_RANGE);
	s = sge_of(UINT64_MAX - 10, 10, emu_mr_lkey(mr));
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_OK);
	s = sge_of(UINT64_MAX - 10, 11, emu_mr_lkey(mr));
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(lkey_after_dereg)
{
	struct emu_mr *mr = reg(pd, 0);
	struct emu_sge s = sge_of(base(), 16, emu_mr_lkey(mr));
	struct mem_ref ref;
	struct emu_mr *again;

	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_KEY);
	/* The slot is reused by a later registration, with another key byte. */
	again = reg(pd, 0);
	ck_assert_uint_ne(emu_mr_lkey(again), s.lkey);
	ck_assert_int_eq(emu_lkey_check(qp, &s, 0, &ref), MEM_BAD_KEY);
	ck_assert_int_eq(emu_dereg_mr(again), 0);
}
END_TEST

/* ---- rkey checks on MRs ---------------------------------------------------------------- */

START_TEST(rkey_mr_ok)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct mem_ref ref = { 0 };

	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), base() + 8, 8,
					EMU_ACCESS_REMOTE_ATOMIC, &ref), MEM_OK);
	ck_assert_ptr_eq(ref.mr, mr);
	ck_assert_uint_eq(ref.iova, base() + 8);
	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), base(), BUF_LEN,
					EMU_ACCESS_REMOTE_READ | EMU_ACCESS_REMOTE_WRITE, &ref),
			 MEM_OK);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(rkey_mr_failures)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_REMOTE_READ);
	struct emu_mr *other = reg(pd2, EMU_ACCESS_REMOTE_READ);
	uint32_t rkey = emu_mr_rkey(mr);
	struct mem_ref ref;

	ck_assert_int_eq(emu_rkey_check(qp, rkey ^ 0x80, base(), 8, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp, 0, base(), 8, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(other), base(), 8,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base() - 1, 8, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base() + BUF_LEN - 7, 8,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base() + BUF_LEN - 8, 8,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_OK);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base(), (uint64_t)BUF_LEN + 1,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_BAD_RANGE);
	/* va + len wraps past 2^64. */
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base() + 16, UINT64_MAX - 8,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base(), 8, EMU_ACCESS_REMOTE_WRITE, &ref),
			 MEM_BAD_ACCESS);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base(), 8, EMU_ACCESS_REMOTE_ATOMIC, &ref),
			 MEM_BAD_ACCESS);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base(), 8,
					EMU_ACCESS_REMOTE_READ | EMU_ACCESS_REMOTE_WRITE, &ref),
			 MEM_BAD_ACCESS);
	/* Order of the checks: key, PD, range, rights. */
	ck_assert_int_eq(emu_rkey_check(qp_other_pd, rkey, base() - 1, 8,
					EMU_ACCESS_REMOTE_WRITE, &ref), MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp, rkey, base() - 1, 8, EMU_ACCESS_REMOTE_WRITE,
					&ref), MEM_BAD_RANGE);

	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_int_eq(emu_dereg_mr(other), 0);
}
END_TEST

START_TEST(rkey_mr_top_of_space)
{
	uint64_t top = UINT64_MAX - 4095;
	struct emu_mr *mr;
	struct mem_ref ref;

	ck_assert_int_eq(emu_reg_mr(pd, top, 4095, EMU_ACCESS_REMOTE_READ, &umr, &mr), 0);
	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), UINT64_MAX - 1, 16,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), UINT64_MAX - 1, 1,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_OK);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(rkey_zero_based_mr)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_REMOTE_READ | EMU_ACCESS_ZERO_BASED);
	struct mem_ref ref;
	uint8_t out[16];

	ck_assert_uint_eq(mr->iova, 0);
	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), 0, 16, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_OK);
	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), BUF_LEN - 16, 16,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_OK);
	ck_assert_uint_eq(ref.iova, BUF_LEN - 16);
	umr.offset = base();
	ck_assert_int_eq(emu_mem_read(dev, &ref, 0, out, 16), MEM_OK);
	ck_assert_mem_eq(out, buf + BUF_LEN - 16, 16);
	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), base(), 16,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

/* ---- memory windows: type 1 ----------------------------------------------------------- */

static struct emu_mw_bind_info bind_info(struct emu_mr *mr, uint64_t off, uint64_t len,
					 uint32_t access)
{
	struct emu_mw_bind_info i = {
		.mr = mr, .addr = base() + off, .length = len, .access = access,
	};

	return i;
}

START_TEST(mw1_bind_rules)
{
	struct emu_mr *nobind = reg(pd, EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_READ);
	struct emu_mr *ro = reg(pd, EMU_ACCESS_MW_BIND | EMU_ACCESS_REMOTE_READ);
	struct emu_mr *other_pd = reg(pd2, ALL_RIGHTS);
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct emu_mw *mw, *mw_other_pd;
	struct emu_mw_bind_info i;
	uint32_t key0;

	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_1, &mw), 0);
	ck_assert_int_eq(emu_alloc_mw(pd2, EMU_MW_TYPE_1, &mw_other_pd), 0);
	key0 = emu_mw_rkey(mw);

	i = bind_info(nobind, 0, 64, EMU_ACCESS_REMOTE_READ);      /* no MW_BIND */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_MW_BIND_ERR);
	i = bind_info(ro, 0, 64, EMU_ACCESS_REMOTE_WRITE);         /* MR not writable */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_MW_BIND_ERR);
	i = bind_info(ro, 0, 64, EMU_ACCESS_REMOTE_ATOMIC);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_MW_BIND_ERR);
	i = bind_info(other_pd, 0, 64, EMU_ACCESS_REMOTE_READ);    /* MR of another PD */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_MW_BIND_ERR);
	i = bind_info(mr, 0, 64, EMU_ACCESS_REMOTE_READ);          /* MW of another PD */
	ck_assert_uint_eq(emu_mw_bind(qp, mw_other_pd, 0, &i), EMU_WC_MW_BIND_ERR);
	i = bind_info(mr, BUF_LEN - 63, 64, EMU_ACCESS_REMOTE_READ); /* past the MR */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_MW_BIND_ERR);
	i = bind_info(mr, 0, 64, EMU_ACCESS_REMOTE_READ);
	i.addr = base() - 1;                                        /* before the MR */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_MW_BIND_ERR);
	i = bind_info(mr, 0, 64, EMU_ACCESS_REMOTE_READ | EMU_ACCESS_ZERO_BASED);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_MW_BIND_ERR);
	/* Nothing changed by the failures. */
	ck_assert_uint_eq(mw->state, EMU_MW_FREE);
	ck_assert_uint_eq(emu_mw_rkey(mw), key0);
	ck_assert_uint_eq(mr->mw_count + ro->mw_count + nobind->mw_count, 0);

	/* A read-only MR may carry a read-only window. */
	i = bind_info(ro, 0, 64, EMU_ACCESS_REMOTE_READ);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_SUCCESS);
	ck_assert_uint_eq(ro->mw_count, 1);

	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_uint_eq(ro->mw_count, 0);
	ck_assert_int_eq(emu_dealloc_mw(mw_other_pd), 0);
	ck_assert_int_eq(emu_dereg_mr(nobind), 0);
	ck_assert_int_eq(emu_dereg_mr(ro), 0);
	ck_assert_int_eq(emu_dereg_mr(other_pd), 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(mw1_bind_use_rebind_unbind)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct emu_mr *mr_b = reg(pd, ALL_RIGHTS);
	struct emu_mw *mw;
	struct emu_mw_bind_info i;
	struct mem_ref ref;
	uint32_t k0, k1, k2, k3;

	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_1, &mw), 0);
	k0 = emu_mw_rkey(mw);
	/* An unbound window grants nothing. */
	ck_assert_int_eq(emu_rkey_check(qp, k0, base(), 1, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_KEY);

	i = bind_info(mr, 256, 512, EMU_ACCESS_REMOTE_READ);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_SUCCESS);
	k1 = emu_mw_rkey(mw);
	ck_assert_uint_eq(k1 >> 8, k0 >> 8);
	ck_assert_uint_eq(k1 & 0xff, (k0 + 1) & 0xff);
	ck_assert_uint_eq(mw->state, EMU_MW_BOUND);
	ck_assert_ptr_eq(mw->mr, mr);
	ck_assert_ptr_null(mw->qp);
	ck_assert_uint_eq(mr->mw_count, 1);

	/* Any QP of the PD may use a type 1 window. */
	ck_assert_int_eq(emu_rkey_check(qp2, k1, base() + 256, 512, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_OK);
	ck_assert_ptr_eq(ref.mr, mr);
	ck_assert_uint_eq(ref.iova, base() + 256);
	ck_assert_int_eq(emu_rkey_check(qp, k1, base() + 255, 2, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, k1, base() + 767, 2, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, k1, base() + 256, 8, EMU_ACCESS_REMOTE_WRITE,
					&ref), MEM_BAD_ACCESS);
	ck_assert_int_eq(emu_rkey_check(qp_other_pd, k1, base() + 256, 8,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp, k0, base() + 256, 8, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_BAD_KEY);
	/* Bound: the MR cannot go away. */
	ck_assert_int_eq(emu_dereg_mr(mr), -EMU_EBUSY);

	/* Rebinding moves the window, and the old rkey dies. */
	i = bind_info(mr_b, 0, 128, EMU_ACCESS_REMOTE_WRITE);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_SUCCESS);
	k2 = emu_mw_rkey(mw);
	ck_assert_uint_eq(k2 & 0xff, (k1 + 1) & 0xff);
	ck_assert_uint_eq(mr->mw_count, 0);
	ck_assert_uint_eq(mr_b->mw_count, 1);
	ck_assert_int_eq(emu_rkey_check(qp, k1, base() + 256, 8, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp, k2, base(), 128, EMU_ACCESS_REMOTE_WRITE, &ref),
			 MEM_OK);
	ck_assert_ptr_eq(ref.mr, mr_b);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);

	/* Rebinding on the same MR keeps one count. */
	i = bind_info(mr_b, 64, 64, EMU_ACCESS_REMOTE_WRITE);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_SUCCESS);
	ck_assert_uint_eq(mr_b->mw_count, 1);

	/* Length 0 unbinds. */
	i = bind_info(NULL, 0, 0, 0);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_SUCCESS);
	k3 = emu_mw_rkey(mw);
	ck_assert_uint_ne(k3, k2);
	ck_assert_uint_eq(mw->state, EMU_MW_FREE);
	ck_assert_uint_eq(mr_b->mw_count, 0);
	ck_assert_int_eq(emu_rkey_check(qp, k3, base(), 8, EMU_ACCESS_REMOTE_WRITE, &ref),
			 MEM_BAD_KEY);
	ck_assert_int_eq(emu_dereg_mr(mr_b), 0);
	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
}
END_TEST

START_TEST(mw1_key_byte_wraps)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct emu_mw *mw;
	struct emu_mw_bind_info i = bind_info(mr, 0, 8, EMU_ACCESS_REMOTE_READ);
	uint32_t k0;

	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_1, &mw), 0);
	k0 = emu_mw_rkey(mw);
	for (int n = 0; n < 256; n++)
		ck_assert_uint_eq(emu_mw_bind(qp, mw, 0, &i), EMU_WC_SUCCESS);
	/* 256 binds bring the byte round; the index never changes. */
	ck_assert_uint_eq(emu_mw_rkey(mw), k0);
	ck_assert_uint_eq(mr->mw_count, 1);
	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

/* ---- memory windows: type 2 ----------------------------------------------------------- */

static uint32_t with_byte(uint32_t key, uint8_t b)
{
	return (key & ~0xffu) | b;
}

START_TEST(mw2_bind_rules)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct emu_mw *mw, *mw_b;
	struct emu_mw_bind_info i = bind_info(mr, 0, 256, EMU_ACCESS_REMOTE_READ);
	struct mem_ref ref;
	uint32_t k;

	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_2, &mw), 0);
	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_2, &mw_b), 0);
	k = with_byte(emu_mw_rkey(mw), 0x5a);

	/* The index part of the key is the window's own. */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, emu_mw_rkey(mw_b), &i), EMU_WC_MW_BIND_ERR);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, k + 0x100, &i), EMU_WC_MW_BIND_ERR);
	ck_assert_uint_eq(mw->state, EMU_MW_FREE);

	ck_assert_uint_eq(emu_mw_bind(qp, mw, k, &i), EMU_WC_SUCCESS);
	ck_assert_uint_eq(emu_mw_rkey(mw), k);
	ck_assert_ptr_eq(mw->qp, qp);
	ck_assert_uint_eq(mr->mw_count, 1);

	/* Only the QP it is bound to may use it. */
	ck_assert_int_eq(emu_rkey_check(qp, k, base(), 256, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_OK);
	ck_assert_ptr_eq(ref.mr, mr);
	ck_assert_int_eq(emu_rkey_check(qp2, k, base(), 256, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp, k, base(), 257, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, k, base(), 8, EMU_ACCESS_REMOTE_ATOMIC, &ref),
			 MEM_BAD_ACCESS);

	/* A bound type 2 window is not bound again before it is invalidated. */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, with_byte(k, 0x5b), &i), EMU_WC_MW_BIND_ERR);
	ck_assert_uint_eq(emu_mw_rkey(mw), k);
	ck_assert_uint_eq(mr->mw_count, 1);

	ck_assert_int_eq(emu_dereg_mr(mr), -EMU_EBUSY);
	ck_assert_uint_eq(emu_invalidate_rkey(qp, k, false), EMU_WC_SUCCESS);
	ck_assert_uint_eq(mr->mw_count, 0);
	ck_assert_uint_eq(emu_mw_rkey(mw), k);
	ck_assert_int_eq(emu_rkey_check(qp, k, base(), 8, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_KEY);
	ck_assert_uint_eq(emu_mw_bind(qp2, mw, with_byte(k, 0x5b), &i), EMU_WC_SUCCESS);
	ck_assert_ptr_eq(mw->qp, qp2);

	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_int_eq(emu_dealloc_mw(mw_b), 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(mw2_invalidate_rules)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct emu_mw *mw, *mw1;
	struct emu_mw_bind_info i = bind_info(mr, 0, 64, EMU_ACCESS_REMOTE_WRITE);
	uint32_t k;

	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_2, &mw), 0);
	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_1, &mw1), 0);
	k = with_byte(emu_mw_rkey(mw), 0x11);

	/* Not bound yet. */
	ck_assert_uint_eq(emu_invalidate_rkey(qp, k, false), EMU_WC_LOC_QP_OP_ERR);
	ck_assert_uint_eq(emu_invalidate_rkey(qp, k, true), EMU_WC_REM_OP_ERR);

	ck_assert_uint_eq(emu_mw_bind(qp, mw, k, &i), EMU_WC_SUCCESS);
	/* Wrong key byte, an MR's key, a type 1 window, another PD's QP. */
	ck_assert_uint_eq(emu_invalidate_rkey(qp, with_byte(k, 0x12), false),
			  EMU_WC_LOC_QP_OP_ERR);
	ck_assert_uint_eq(emu_invalidate_rkey(qp, emu_mr_rkey(mr), false),
			  EMU_WC_LOC_QP_OP_ERR);
	ck_assert_uint_eq(emu_invalidate_rkey(qp, emu_mr_rkey(mr), true), EMU_WC_REM_OP_ERR);
	ck_assert_uint_eq(emu_invalidate_rkey(qp, emu_mw_rkey(mw1), false),
			  EMU_WC_LOC_QP_OP_ERR);
	ck_assert_uint_eq(emu_invalidate_rkey(qp_other_pd, k, false), EMU_WC_LOC_QP_OP_ERR);
	/* Remotely, only through the QP the window is bound to. */
	ck_assert_uint_eq(emu_invalidate_rkey(qp2, k, true), EMU_WC_REM_OP_ERR);
	ck_assert_uint_eq(mw->state, EMU_MW_BOUND);
	ck_assert_uint_eq(mr->mw_count, 1);

	ck_assert_uint_eq(emu_invalidate_rkey(qp, k, true), EMU_WC_SUCCESS);
	ck_assert_uint_eq(mw->state, EMU_MW_FREE);
	ck_assert_uint_eq(mr->mw_count, 0);
	ck_assert_uint_eq(emu_mw_rkey(mw), k);
	/* Twice is an error. */
	ck_assert_uint_eq(emu_invalidate_rkey(qp, k, true), EMU_WC_REM_OP_ERR);

	/* Locally, any QP of the PD may invalidate. */
	ck_assert_uint_eq(emu_mw_bind(qp, mw, k, &i), EMU_WC_SUCCESS);
	ck_assert_uint_eq(emu_invalidate_rkey(qp2, k, false), EMU_WC_SUCCESS);
	ck_assert_uint_eq(mr->mw_count, 0);

	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_int_eq(emu_dealloc_mw(mw1), 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(mw2_zero_based)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct emu_mw *mw;
	struct emu_mw_bind_info i = bind_info(mr, 1024, 100,
					      EMU_ACCESS_REMOTE_READ | EMU_ACCESS_ZERO_BASED);
	struct mem_ref ref;
	uint32_t k;
	uint8_t out[10];

	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_2, &mw), 0);
	k = with_byte(emu_mw_rkey(mw), 0x33);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, k, &i), EMU_WC_SUCCESS);
	ck_assert_int_eq(emu_rkey_check(qp, k, 90, 10, EMU_ACCESS_REMOTE_READ, &ref), MEM_OK);
	ck_assert_ptr_eq(ref.mr, mr);
	ck_assert_uint_eq(ref.iova, base() + 1024 + 90);
	ck_assert_int_eq(emu_mem_read(dev, &ref, 0, out, 10), MEM_OK);
	ck_assert_mem_eq(out, buf + 1114, 10);
	ck_assert_int_eq(emu_rkey_check(qp, k, 91, 10, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, k, base() + 1024, 10, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_uint_eq(mr->mw_count, 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(dealloc_bound_mw)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS);
	struct emu_mw *mw;
	struct emu_mw_bind_info i = bind_info(mr, 0, 64, EMU_ACCESS_REMOTE_READ);
	uint32_t k;

	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_2, &mw), 0);
	k = with_byte(emu_mw_rkey(mw), 7);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, k, &i), EMU_WC_SUCCESS);
	ck_assert_int_eq(emu_dereg_mr(mr), -EMU_EBUSY);
	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_ptr_null(emu_key_lookup(dev, k));
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

/* ---- re-registration (ibv_rereg_mr) ------------------------------------------------------ */

START_TEST(mr_rereg_in_place)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE);
	uint32_t key = emu_mr_rkey(mr);
	struct mem_ref ref = { 0 };

	ck_assert_int_eq(emu_rkey_check(qp, key, base(), 8, EMU_ACCESS_REMOTE_WRITE, &ref),
			 MEM_OK);
	/* New access: the same key now refuses the write, grants the read. */
	ck_assert_int_eq(emu_rereg_mr(mr, pd, base(), BUF_LEN,
				      EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_READ, &umr), 0);
	ck_assert_uint_eq(emu_mr_rkey(mr), key);
	ck_assert_uint_eq(emu_mr_lkey(mr), key);
	ck_assert_int_eq(emu_rkey_check(qp, key, base(), 8, EMU_ACCESS_REMOTE_WRITE, &ref),
			 MEM_BAD_ACCESS);
	ck_assert_int_eq(emu_rkey_check(qp, key, base(), 8, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_OK);
	/* New range: the old end is outside, the new one inside. */
	ck_assert_int_eq(emu_rereg_mr(mr, pd, base(), 64, EMU_ACCESS_REMOTE_READ |
				      EMU_ACCESS_LOCAL_WRITE, &umr), 0);
	ck_assert_int_eq(emu_rkey_check(qp, key, base() + 64, 8, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_RANGE);
	ck_assert_int_eq(emu_rkey_check(qp, key, base() + 56, 8, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_OK);
	/* New PD: the refcounts move, a QP of the old PD is refused. */
	ck_assert_int_eq(emu_rereg_mr(mr, pd2, base(), BUF_LEN, EMU_ACCESS_REMOTE_READ |
				      EMU_ACCESS_LOCAL_WRITE, &umr), 0);
	ck_assert_uint_eq(pd->refcount, 0);
	ck_assert_uint_eq(pd2->refcount, 1);
	ck_assert_int_eq(emu_rkey_check(qp, key, base(), 8, EMU_ACCESS_REMOTE_READ, &ref),
			 MEM_BAD_KEY);
	ck_assert_int_eq(emu_rkey_check(qp_other_pd, key, base(), 8, EMU_ACCESS_REMOTE_READ,
					&ref), MEM_OK);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_uint_eq(pd2->refcount, 0);
}
END_TEST

START_TEST(mr_rereg_refused)
{
	struct emu_mr *mr = reg(pd, ALL_RIGHTS), *odp = NULL;
	struct emu_mw *mw;
	struct emu_mw_bind_info i = bind_info(mr, 0, 64, EMU_ACCESS_REMOTE_READ);
	uint32_t key = emu_mr_rkey(mr);

	/* Arguments emu_reg_mr refuses, on-demand paging either way: unchanged. */
	ck_assert_int_eq(emu_rereg_mr(mr, pd, base(), BUF_LEN, EMU_ACCESS_REMOTE_WRITE, &umr),
			 -EMU_EINVAL);
	ck_assert_int_eq(emu_rereg_mr(mr, pd, base(), 0, EMU_ACCESS_LOCAL_WRITE, &umr),
			 -EMU_EINVAL);
	ck_assert_int_eq(emu_rereg_mr(mr, pd, base(), BUF_LEN,
				      EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_ON_DEMAND, &umr),
			 -EMU_EINVAL);
	ck_assert_int_eq(emu_reg_mr(pd, base(), BUF_LEN,
				    EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_ON_DEMAND, &umr, &odp), 0);
	ck_assert_int_eq(emu_rereg_mr(odp, pd, base(), BUF_LEN, EMU_ACCESS_LOCAL_WRITE, &umr),
			 -EMU_EINVAL);
	ck_assert_int_eq(emu_dereg_mr(odp), 0);
	/* A window bound to it: busy, as for deregistration. */
	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_2, &mw), 0);
	ck_assert_uint_eq(emu_mw_bind(qp, mw, with_byte(emu_mw_rkey(mw), 3), &i), EMU_WC_SUCCESS);
	ck_assert_int_eq(emu_rereg_mr(mr, pd, base(), BUF_LEN, EMU_ACCESS_LOCAL_WRITE, &umr),
			 -EMU_EBUSY);
	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_uint_eq(emu_mr_rkey(mr), key);
	ck_assert_uint_eq(mr->access, ALL_RIGHTS);
	ck_assert_uint_eq(mr->length, BUF_LEN);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

/* ---- copies through the host ----------------------------------------------------------- */

START_TEST(mem_read_copies)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_REMOTE_READ);
	struct mem_ref ref;
	uint8_t out[300];

	ck_assert_int_eq(emu_rkey_check(qp, emu_mr_rkey(mr), base() + 100, 400,
					EMU_ACCESS_REMOTE_READ, &ref), MEM_OK);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(emu_mem_read(dev, &ref, 50, out, 300), MEM_OK);
	ck_assert_mem_eq(out, buf + 150, 300);
	ck_assert_uint_eq(umr.maps, 1);

	/* The host maps 7 bytes at a time: the engine walks the range. */
	umr.max_chunk = 7;
	umr.maps = 0;
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(emu_mem_read(dev, &ref, 0, out, 100), MEM_OK);
	ck_assert_mem_eq(out, buf + 100, 100);
	ck_assert_uint_eq(umr.maps, 15);

	umr.maps = 0;
	ck_assert_int_eq(emu_mem_probe(dev, &ref, 0, 70, true), MEM_OK);
	ck_assert_uint_eq(umr.maps, 10);
	/* Nothing to read: the host is not asked. */
	umr.maps = 0;
	ck_assert_int_eq(emu_mem_read(dev, &ref, 0, out, 0), MEM_OK);
	ck_assert_uint_eq(umr.maps, 0);
	ck_assert_uint_eq(dev->cnt.page_faults, 0);
	ck_assert_uint_eq(host.n_faults, 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(mem_read_host_error)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_REMOTE_READ);
	struct mem_ref ref = { .mr = mr, .iova = base() };
	uint8_t out[16];

	umr.error = -14;
	ck_assert_int_eq(emu_mem_read(dev, &ref, 0, out, 16), MEM_FAULT);
	ck_assert_int_eq(emu_mem_probe(dev, &ref, 0, 16, true), MEM_FAULT);
	ck_assert_uint_eq(dev->cnt.page_faults, 0);
	ck_assert_uint_eq(host.n_faults, 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(odp_not_present)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE |
			       EMU_ACCESS_REMOTE_READ | EMU_ACCESS_ON_DEMAND);
	struct mem_ref ref = { .mr = mr, .iova = base() + 64 };
	uint8_t out[32];
	struct emu_counters c;

	umr.present = false;
	ck_assert_int_eq(emu_mem_read(dev, &ref, 16, out, 32), MEM_NOT_PRESENT);
	ck_assert_uint_eq(host.n_faults, 1);
	ck_assert_ptr_eq(host.faults[0].mr_cookie, &umr);
	ck_assert_uint_eq(host.faults[0].iova, base() + 80);
	ck_assert_uint_eq(host.faults[0].len, 32);
	ck_assert(!host.faults[0].write);
	emu_dev_counters(dev, &c);
	ck_assert_uint_eq(c.page_faults, 1);

	ck_assert_int_eq(emu_mem_probe(dev, &ref, 0, 8, true), MEM_NOT_PRESENT);
	ck_assert_uint_eq(host.n_faults, 2);
	ck_assert(host.faults[1].write);
	ck_assert_uint_eq(host.faults[1].iova, base() + 64);
	ck_assert_uint_eq(host.faults[1].len, 8);
	emu_dev_counters(dev, &c);
	ck_assert_uint_eq(c.page_faults, 2);

	/* Once present, the same read succeeds. */
	umr.present = true;
	ck_assert_int_eq(emu_mem_read(dev, &ref, 16, out, 32), MEM_OK);
	ck_assert_mem_eq(out, buf + 80, 32);
	ck_assert_uint_eq(host.n_faults, 2);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

START_TEST(odp_without_fault_op)
{
	struct unit_host h2;
	struct emu_dev *d;
	struct emu_pd *p;
	struct emu_mr *mr;
	struct mem_ref ref;
	uint8_t out[8];

	unit_host_init(&h2);
	h2.ops.fault = NULL;
	ck_assert_int_eq(emu_dev_create(&h2.ops, NULL, &d), 0);
	ck_assert_int_eq(emu_alloc_pd(d, &p), 0);
	ck_assert_int_eq(emu_reg_mr(p, base(), BUF_LEN, EMU_ACCESS_ON_DEMAND, &umr, &mr), 0);
	ref.mr = mr;
	ref.iova = base();
	umr.present = false;
	ck_assert_int_eq(emu_mem_read(d, &ref, 0, out, 8), MEM_NOT_PRESENT);
	ck_assert_uint_eq(d->cnt.page_faults, 1);
	ck_assert_uint_eq(h2.n_faults, 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_int_eq(emu_dealloc_pd(p), 0);
	emu_dev_destroy(d);
	ck_assert_uint_eq(h2.live_allocs, 0);
	unit_host_fini(&h2);
}
END_TEST

START_TEST(sgl_read_gathers)
{
	struct emu_mr *mr = reg(pd, 0);
	uint32_t key = emu_mr_lkey(mr);
	struct emu_sge sgl[4] = {
		sge_of(base() + 0, 10, key),
		sge_of(base() + 1000, 0, key),
		sge_of(base() + 500, 20, key),
		sge_of(base() + 2000, 30, key),
	};
	uint8_t expect[60], out[60];

	memcpy(expect, buf + 0, 10);
	memcpy(expect + 10, buf + 500, 20);
	memcpy(expect + 30, buf + 2000, 30);

	memset(out, 0, sizeof(out));
	ck_assert_int_eq(emu_sgl_read(qp, sgl, 4, 0, out, 60), MEM_OK);
	ck_assert_mem_eq(out, expect, 60);
	/* From inside the first SGE across the others. */
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(emu_sgl_read(qp, sgl, 4, 5, out, 40), MEM_OK);
	ck_assert_mem_eq(out, expect + 5, 40);
	/* Starting exactly on an SGE boundary. */
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(emu_sgl_read(qp, sgl, 4, 30, out, 30), MEM_OK);
	ck_assert_mem_eq(out, expect + 30, 30);
	/* Past the end of the list. */
	ck_assert_int_eq(emu_sgl_read(qp, sgl, 4, 31, out, 30), MEM_BAD_RANGE);
	ck_assert_int_eq(emu_sgl_read(qp, sgl, 4, 60, out, 0), MEM_OK);

	/* The MR went away after the WR was posted. */
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_int_eq(emu_sgl_read(qp, sgl, 4, 0, out, 10), MEM_BAD_KEY);
}
END_TEST

START_TEST(sgl_read_not_present)
{
	struct emu_mr *mr = reg(pd, EMU_ACCESS_ON_DEMAND);
	struct emu_sge s = sge_of(base() + 8, 64, emu_mr_lkey(mr));
	uint8_t out[64];

	umr.present = false;
	ck_assert_int_eq(emu_sgl_read(qp, &s, 1, 4, out, 16), MEM_NOT_PRESENT);
	ck_assert_uint_eq(host.n_faults, 1);
	ck_assert_uint_eq(host.faults[0].iova, base() + 12);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
}
END_TEST

static Suite *mem_suite(void)
{
	Suite *s = suite_create("mem");
	TCase *objs = tcase_create("objects");
	TCase *keys = tcase_create("keys");
	TCase *mw = tcase_create("windows");
	TCase *copy = tcase_create("copies");

	tcase_add_checked_fixture(objs, setup, teardown);
	tcase_add_test(objs, mr_create_and_keys);
	tcase_add_test(objs, mr_rereg_in_place);
	tcase_add_test(objs, mr_rereg_refused);
	tcase_add_test(objs, mr_create_rejects);
	tcase_add_test(objs, mr_limit);
	tcase_add_test(objs, mw_create);
	suite_add_tcase(s, objs);

	tcase_add_checked_fixture(keys, setup, teardown);
	tcase_add_test(keys, lkey_ok_and_ref);
	tcase_add_test(keys, lkey_failures);
	tcase_add_test(keys, lkey_overflow);
	tcase_add_test(keys, lkey_after_dereg);
	tcase_add_test(keys, rkey_mr_ok);
	tcase_add_test(keys, rkey_mr_failures);
	tcase_add_test(keys, rkey_mr_top_of_space);
	tcase_add_test(keys, rkey_zero_based_mr);
	suite_add_tcase(s, keys);

	tcase_add_checked_fixture(mw, setup, teardown);
	tcase_add_test(mw, mw1_bind_rules);
	tcase_add_test(mw, mw1_bind_use_rebind_unbind);
	tcase_add_test(mw, mw1_key_byte_wraps);
	tcase_add_test(mw, mw2_bind_rules);
	tcase_add_test(mw, mw2_invalidate_rules);
	tcase_add_test(mw, mw2_zero_based);
	tcase_add_test(mw, dealloc_bound_mw);
	suite_add_tcase(s, mw);

	tcase_add_checked_fixture(copy, setup, teardown);
	tcase_add_test(copy, mem_read_copies);
	tcase_add_test(copy, mem_read_host_error);
	tcase_add_test(copy, odp_not_present);
	tcase_add_test(copy, odp_without_fault_op);
	tcase_add_test(copy, sgl_read_gathers);
	tcase_add_test(copy, sgl_read_not_present);
	suite_add_tcase(s, copy);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
