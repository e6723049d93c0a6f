/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * test_objects.c - device creation and limits, port and GID table, PD/CQ/SRQ/AH
 * objects and their busy rules, SRQ posting and the limit event, the key and
 * QPN tables, the timer list, drop counting and the PRNG.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../emu/core/internal.h"
#include "lib/unit_host.h"

static struct unit_host host;
static struct emu_dev *dev;
static struct emu_pd *pd;

static void setup(void)
{
	unit_host_init(&host);
	ck_assert_int_eq(emu_dev_create(&host.ops, NULL, &dev), 0);
	ck_assert_int_eq(emu_alloc_pd(dev, &pd), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(emu_dealloc_pd(pd), 0);
	emu_dev_destroy(dev);
	ck_assert_uint_eq(host.live_allocs, 0);
	unit_host_fini(&host);
}

static struct emu_dev *create_with(const struct emu_dev_config *cfg)
{
	struct emu_dev *d = NULL;

	ck_assert_int_eq(emu_dev_create(&host.ops, cfg, &d), 0);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* ---- device creation ---------------------------------------------------------------- */

START_TEST(create_requires_ops)
{
	static const size_t required[] = {
		offsetof(struct emu_host_ops, alloc), offsetof(struct emu_host_ops, free),
		offsetof(struct emu_host_ops, copy), offsetof(struct emu_host_ops, crc32),
		offsetof(struct emu_host_ops, now_ns), offsetof(struct emu_host_ops, tx_buf),
		offsetof(struct emu_host_ops, tx), offsetof(struct emu_host_ops, mr_map),
		offsetof(struct emu_host_ops, cq_post),
	};
	struct emu_dev *d = NULL;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		struct emu_host_ops ops = host.ops;

		memset((char *)&ops + required[i], 0, sizeof(void (*)(void)));
		ck_assert_int_eq(emu_dev_create(&ops, NULL, &d), -EMU_EINVAL);
		ck_assert_ptr_null(d);
	}
	ck_assert_int_eq(emu_dev_create(NULL, NULL, &d), -EMU_EINVAL);
	ck_assert_int_eq(emu_dev_create(&host.ops, NULL, NULL), -EMU_EINVAL);

	/* The optional ones may be missing. */
	{
		struct emu_host_ops ops = host.ops;

		ops.fault = NULL;
		ops.async_event = NULL;
		ops.trace = NULL;
		ck_assert_int_eq(emu_dev_create(&ops, NULL, &d), 0);
		emu_port_set_state(d, EMU_PORT_DOWN);
		emu_count_drop(d, NULL, EMU_DROP_ICRC, 0, 0);
		emu_dev_destroy(d);
	}
	ck_assert_uint_eq(host.n_events, 0);
	ck_assert_uint_eq(host.n_traces, 0);
}
END_TEST

START_TEST(create_mtu)
{
	static const struct { uint32_t bytes; int ret; uint32_t mtu; } cases[] = {
		{ 0, 0, EMU_MTU_4096 }, { 256, 0, EMU_MTU_256 }, { 512, 0, EMU_MTU_512 },
		{ 1024, 0, EMU_MTU_1024 }, { 2048, 0, EMU_MTU_2048 },
		{ 4096, 0, EMU_MTU_4096 }, { 128, -EMU_EINVAL, 0 }, { 1000, -EMU_EINVAL, 0 },
		{ 1500, -EMU_EINVAL, 0 }, { 8192, -EMU_EINVAL, 0 }, { 5, -EMU_EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct emu_dev_config cfg = { .port_mtu = cases[i].bytes };
		struct emu_port_attr pa;
		struct emu_dev *d = NULL;

		ck_assert_int_eq(emu_dev_create(&host.ops, &cfg, &d), cases[i].ret);
		if (cases[i].ret)
			continue;
		emu_port_query(d, &pa);
		ck_assert_uint_eq(pa.active_mtu, cases[i].mtu);
		ck_assert_uint_eq(pa.max_mtu, EMU_MTU_4096);
		emu_dev_destroy(d);
	}
}
END_TEST

START_TEST(create_defaults_and_overrides)
{
	struct emu_dev_config cfg = {
		.dev_id = 7, .seed = 99, .node_guid = 0x1122334455667788ull,
		.max_qp = 10, .max_cq = 11, .max_mr = 12, .max_mw = 13, .max_pd = 14,
		.max_srq = 15, .max_ah = 16, .max_qp_wr = 17, .max_cqe = 18, .max_srq_wr = 19,
		.max_unacked_psns = 20,
	};
	struct emu_dev_attr a;
	struct emu_port_attr pa;

	emu_dev_query(dev, &a);
	ck_assert_uint_eq(a.max_qp, 4096);
	ck_assert_uint_eq(a.max_qp_wr, 16384);
	ck_assert_uint_eq(a.max_sge, EMU_MAX_SGE);
	ck_assert_uint_eq(a.max_cq, 4096);
	ck_assert_uint_eq(a.max_cqe, 65536);
	ck_assert_uint_eq(a.max_mr, 65536);
	ck_assert_uint_eq(a.max_mw, 4096);
	ck_assert_uint_eq(a.max_pd, 4096);
	ck_assert_uint_eq(a.max_srq, 1024);
	ck_assert_uint_eq(a.max_srq_wr, 16384);
	ck_assert_uint_eq(a.max_srq_sge, EMU_MAX_SGE);
	ck_assert_uint_eq(a.max_ah, 65536);
	ck_assert_uint_eq(a.max_inline_data, EMU_MAX_INLINE);
	ck_assert_uint_eq(a.max_qp_rd_atom, EMU_MAX_RD_ATOMIC);
	ck_assert_uint_eq(a.max_qp_init_rd_atom, EMU_MAX_RD_ATOMIC);
	ck_assert_uint_eq(a.max_pkeys, 1);
	ck_assert(a.max_mr_size == UINT64_MAX);
	ck_assert_uint_eq(a.vendor_id, 0x5348);
	ck_assert_uint_eq(a.vendor_part_id, 1);
	ck_assert_uint_eq(a.fw_ver, 1);
	ck_assert_uint_eq(dev->cfg.max_unacked_psns, DEFAULT_MAX_UNACKED);

	emu_port_query(dev, &pa);
	ck_assert_uint_eq(pa.state, EMU_PORT_ACTIVE);
	ck_assert_uint_eq(pa.gid_tbl_len, EMU_GID_TABLE_LEN);
	ck_assert_uint_eq(pa.pkey_tbl_len, 1);

	{
		struct emu_dev *d = create_with(&cfg);

		emu_dev_query(d, &a);
		ck_assert_uint_eq(a.max_qp, 10);
		ck_assert_uint_eq(a.max_cq, 11);
		ck_assert_uint_eq(a.max_mr, 12);
		ck_assert_uint_eq(a.max_mw, 13);
		ck_assert_uint_eq(a.max_pd, 14);
		ck_assert_uint_eq(a.max_srq, 15);
		ck_assert_uint_eq(a.max_ah, 16);
		ck_assert_uint_eq(a.max_qp_wr, 17);
		ck_assert_uint_eq(a.max_cqe, 18);
		ck_assert_uint_eq(a.max_srq_wr, 19);
		ck_assert(a.node_guid == 0x1122334455667788ull);
		ck_assert_uint_eq(d->cfg.max_unacked_psns, 20);
		ck_assert_uint_eq(d->cfg.dev_id, 7);
		ck_assert(d->cfg.seed == 99);
		emu_dev_destroy(d);
	}
}
END_TEST

START_TEST(create_rejects_oversized_tables)
{
	struct emu_dev_config cfg = { .max_qp = 1u << 24 };
	struct emu_dev *d = NULL;

	ck_assert_int_eq(emu_dev_create(&host.ops, &cfg, &d), -EMU_EINVAL);
	cfg.max_qp = 0;
	cfg.max_mr = 1u << 24;
	ck_assert_int_eq(emu_dev_create(&host.ops, &cfg, &d), -EMU_EINVAL);
	cfg.max_mr = 0;
	cfg.max_unacked_psns = 1u << 23;
	ck_assert_int_eq(emu_dev_create(&host.ops, &cfg, &d), -EMU_EINVAL);
	ck_assert_ptr_null(d);
}
END_TEST

START_TEST(create_out_of_memory)
{
	struct emu_dev *d = NULL;
	size_t before = host.live_allocs;

	/* Fail the first, second and third allocation in turn: nothing leaks. */
	for (long budget = 0; budget < 3; budget++) {
		host.alloc_budget = budget;
		ck_assert_int_eq(emu_dev_create(&host.ops, NULL, &d), -EMU_ENOMEM);
		ck_assert_ptr_null(d);
		ck_assert_uint_eq(host.live_allocs, before);
	}
	host.alloc_budget = -1;
}
END_TEST

/* ---- port and GIDs ------------------------------------------------------------------- */

START_TEST(port_state_events)
{
	struct emu_port_attr pa;

	emu_port_set_state(dev, EMU_PORT_ACTIVE);       /* no change, no event */
	ck_assert_uint_eq(host.n_events, 0);
	emu_port_set_state(dev, EMU_PORT_DOWN);
	emu_port_query(dev, &pa);
	ck_assert_uint_eq(pa.state, EMU_PORT_DOWN);
	ck_assert_uint_eq(host.n_events, 1);
	ck_assert_uint_eq(host.events[0].type, EMU_EVENT_PORT_ERR);
	ck_assert_uint_eq(host.events[0].port, 1);
	emu_port_set_state(dev, EMU_PORT_DOWN);
	ck_assert_uint_eq(host.n_events, 1);
	emu_port_set_state(dev, EMU_PORT_ACTIVE);
	ck_assert_uint_eq(host.n_events, 2);
	ck_assert_uint_eq(host.events[1].type, EMU_EVENT_PORT_ACTIVE);
	ck_assert_uint_eq(unit_count_traces(&host, EMU_TR_EVENT), 2);
	/* Not a port state. */
	emu_port_set_state(dev, (enum emu_port_state)2);
	emu_port_query(dev, &pa);
	ck_assert_uint_eq(pa.state, EMU_PORT_ACTIVE);
	ck_assert_uint_eq(host.n_events, 2);
}
END_TEST

START_TEST(gid_table)
{
	static const uint8_t v4[4] = { 10, 0, 0, 1 };
	static const uint8_t v6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t zero[16];
	uint8_t gid[16], got[16];

	emu_gid_from_ipv4(gid, v4);
	ck_assert(emu_gid_is_ipv4(gid));
	ck_assert(!emu_gid_is_ipv4(v6));
	ck_assert_uint_eq(gid[10], 0xff);
	ck_assert_uint_eq(gid[11], 0xff);
	ck_assert_mem_eq(gid + 12, v4, 4);
	ck_assert_mem_eq(gid, zero, 10);

	ck_assert(!emu_gid_index_valid(dev, 0));
	ck_assert_int_eq(emu_gid_query(dev, 0, got), -EMU_EINVAL);
	ck_assert_int_eq(emu_gid_set(dev, 0, gid), 0);
	ck_assert_int_eq(emu_gid_set(dev, EMU_GID_TABLE_LEN - 1, v6), 0);
	ck_assert_int_eq(emu_gid_set(dev, EMU_GID_TABLE_LEN, v6), -EMU_EINVAL);
	ck_assert_int_eq(emu_gid_set(dev, 1, zero), -EMU_EINVAL);
	ck_assert(emu_gid_index_valid(dev, 0));
	ck_assert(!emu_gid_index_valid(dev, 1));
	ck_assert(emu_gid_index_valid(dev, EMU_GID_TABLE_LEN - 1));
	ck_assert(!emu_gid_index_valid(dev, EMU_GID_TABLE_LEN));
	ck_assert_int_eq(emu_gid_query(dev, 0, got), 0);
	ck_assert_mem_eq(got, gid, 16);
	ck_assert_int_eq(emu_gid_query(dev, EMU_GID_TABLE_LEN - 1, got), 0);
	ck_assert_mem_eq(got, v6, 16);
	ck_assert_int_eq(emu_gid_query(dev, EMU_GID_TABLE_LEN, got), -EMU_EINVAL);

	ck_assert_int_eq(emu_gid_del(dev, 0), 0);
	ck_assert(!emu_gid_index_valid(dev, 0));
	ck_assert_int_eq(emu_gid_query(dev, 0, got), -EMU_EINVAL);
	ck_assert_int_eq(emu_gid_del(dev, EMU_GID_TABLE_LEN), -EMU_EINVAL);
}
END_TEST

/* ---- limits and busy rules ------------------------------------------------------------ */

START_TEST(pd_limit)
{
	struct emu_dev_config cfg = { .max_pd = 2 };
	struct emu_dev *d = create_with(&cfg);
	struct emu_pd *p[3] = { 0 };

	ck_assert_int_eq(emu_alloc_pd(d, &p[0]), 0);
	ck_assert_int_eq(emu_alloc_pd(d, &p[1]), 0);
	ck_assert_int_eq(emu_alloc_pd(d, &p[2]), -EMU_ENOMEM);
	ck_assert_ptr_null(p[2]);
	ck_assert_int_eq(emu_dealloc_pd(p[0]), 0);
	ck_assert_int_eq(emu_alloc_pd(d, &p[2]), 0);
	ck_assert_int_eq(emu_dealloc_pd(p[1]), 0);
	ck_assert_int_eq(emu_dealloc_pd(p[2]), 0);
	emu_dev_destroy(d);
}
END_TEST

START_TEST(cq_limits_and_busy)
{
	struct emu_dev_config cfg = { .max_cq = 2, .max_cqe = 100 };
	struct emu_dev *d = create_with(&cfg);
	struct emu_cq *c[3] = { 0 };
	int cookie;

	ck_assert_int_eq(emu_create_cq(d, 0, NULL, &c[0]), -EMU_EINVAL);
	ck_assert_int_eq(emu_create_cq(d, 101, NULL, &c[0]), -EMU_EINVAL);
	ck_assert_ptr_null(c[0]);
	ck_assert_int_eq(emu_create_cq(d, 100, &cookie, &c[0]), 0);
	ck_assert_ptr_eq(c[0]->cookie, &cookie);
	ck_assert_uint_eq(c[0]->cqe, 100);
	ck_assert(!emu_cq_in_error(c[0]));
	ck_assert_int_eq(emu_create_cq(d, 1, NULL, &c[1]), 0);
	ck_assert_int_eq(emu_create_cq(d, 1, NULL, &c[2]), -EMU_ENOMEM);

	ck_assert_int_eq(emu_resize_cq(c[1], 0), -EMU_EINVAL);
	ck_assert_int_eq(emu_resize_cq(c[1], 101), -EMU_EINVAL);
	ck_assert_uint_eq(c[1]->cqe, 1);
	ck_assert_int_eq(emu_resize_cq(c[1], 50), 0);
	ck_assert_uint_eq(c[1]->cqe, 50);

	c[0]->error = true;
	ck_assert(emu_cq_in_error(c[0]));
	c[0]->refcount = 1;             /* as a QP using it would */
	ck_assert_int_eq(emu_destroy_cq(c[0]), -EMU_EBUSY);
	c[0]->refcount = 0;
	ck_assert_int_eq(emu_destroy_cq(c[0]), 0);
	ck_assert_int_eq(emu_create_cq(d, 1, NULL, &c[2]), 0);
	ck_assert_int_eq(emu_destroy_cq(c[1]), 0);
	ck_assert_int_eq(emu_destroy_cq(c[2]), 0);
	emu_dev_destroy(d);
}
END_TEST

START_TEST(pd_busy_rules)
{
	struct emu_srq_attr sa = { .max_wr = 4, .max_sge = 1 };
	struct emu_ah_attr aa = { .sgid_index = 0 };
	static const uint8_t v4[4] = { 10, 0, 0, 1 };
	uint8_t gid[16];
	struct emu_srq *srq;
	struct emu_ah *ah;
	struct emu_mr *mr;
	struct emu_mw *mw;
	static uint8_t mem[64];

	emu_gid_from_ipv4(gid, v4);
	ck_assert_int_eq(emu_gid_set(dev, 0, gid), 0);
	ck_assert_int_eq(emu_create_srq(pd, &sa, NULL, &srq), 0);
	ck_assert_int_eq(emu_dealloc_pd(pd), -EMU_EBUSY);
	ck_assert_int_eq(emu_create_ah(pd, &aa, &ah), 0);
	ck_assert_int_eq(emu_reg_mr(pd, (uintptr_t)mem, sizeof(mem), 0, NULL, &mr), 0);
	ck_assert_int_eq(emu_alloc_mw(pd, EMU_MW_TYPE_1, &mw), 0);
	ck_assert_uint_eq(pd->refcount, 4);

	ck_assert_int_eq(emu_destroy_srq(srq), 0);
	ck_assert_int_eq(emu_dealloc_pd(pd), -EMU_EBUSY);
	ck_assert_int_eq(emu_destroy_ah(ah), 0);
	ck_assert_int_eq(emu_dereg_mr(mr), 0);
	ck_assert_int_eq(emu_dealloc_pd(pd), -EMU_EBUSY);
	ck_assert_int_eq(emu_dealloc_mw(mw), 0);
	ck_assert_uint_eq(pd->refcount, 0);
	/* The fixture's teardown deallocates it. */
}
END_TEST

/* ---- SRQ ------------------------------------------------------------------------------------ */

static struct emu_rwqe *rwqe_alloc(uint32_t max_sge)
{
	struct emu_rwqe *w = calloc(1, sizeof(*w) + max_sge * sizeof(struct emu_sge));

	ck_assert_ptr_nonnull(w);
	return w;
}

static int post(struct emu_srq *srq, uint64_t wr_id, uint32_t nsge)
{
	struct emu_sge sg[4];
	struct emu_recv_wr wr = { .wr_id = wr_id, .num_sge = nsge, .sg_list = sg };

	for (uint32_t i = 0; i < 4; i++) {
		sg[i].addr = wr_id * 1000 + i;
		sg[i].length = (uint32_t)(wr_id + i);
		sg[i].lkey = (uint32_t)(0x100 + i);
	}
	return emu_post_srq_recv(srq, &wr);
}

START_TEST(srq_create_rules)
{
	struct emu_dev_config cfg = { .max_srq = 1, .max_srq_wr = 8 };
	struct emu_dev *d = create_with(&cfg);
	struct emu_pd *p;
	struct emu_srq *s = NULL, *s2 = NULL;
	struct emu_srq_attr a;
	static const struct emu_srq_attr bad[] = {
		{ .max_wr = 0, .max_sge = 1 },
		{ .max_wr = 9, .max_sge = 1 },
		{ .max_wr = 4, .max_sge = 0 },
		{ .max_wr = 4, .max_sge = EMU_MAX_SGE + 1 },
		{ .max_wr = 4, .max_sge = 1, .srq_limit = 4 },
	};

	ck_assert_int_eq(emu_alloc_pd(d, &p), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(emu_create_srq(p, &bad[i], NULL, &s), -EMU_EINVAL);
	ck_assert_int_eq(emu_create_srq(p, NULL, NULL, &s), -EMU_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(p->refcount, 0);

	a = (struct emu_srq_attr){ .max_wr = 8, .max_sge = EMU_MAX_SGE, .srq_limit = 7 };
	ck_assert_int_eq(emu_create_srq(p, &a, NULL, &s), 0);
	ck_assert_uint_eq(s->rq.slot_size,
			  sizeof(struct emu_rwqe) + EMU_MAX_SGE * sizeof(struct emu_sge));
	ck_assert_int_eq(emu_create_srq(p, &a, NULL, &s2), -EMU_ENOMEM);
	ck_assert_int_eq(emu_query_srq(s, &a), 0);
	ck_assert_uint_eq(a.max_wr, 8);
	ck_assert_uint_eq(a.max_sge, EMU_MAX_SGE);
	ck_assert_uint_eq(a.srq_limit, 7);

	s->refcount = 1;                 /* as a QP using it would */
	ck_assert_int_eq(emu_destroy_srq(s), -EMU_EBUSY);
	s->refcount = 0;
	ck_assert_int_eq(emu_destroy_srq(s), 0);
	ck_assert_int_eq(emu_dealloc_pd(p), 0);
	emu_dev_destroy(d);
}
END_TEST

START_TEST(srq_post_and_take)
{
	struct emu_srq_attr a = { .max_wr = 3, .max_sge = 2 };
	struct emu_rwqe *w = rwqe_alloc(2);
	struct emu_srq *srq;
	struct emu_recv_wr wr = { .wr_id = 1, .num_sge = 1, .sg_list = NULL };

	ck_assert_int_eq(emu_create_srq(pd, &a, NULL, &srq), 0);
	ck_assert(!emu_srq_take(srq, w));
	ck_assert_int_eq(post(srq, 1, 3), -EMU_EINVAL);      /* more SGEs than max_sge */
	ck_assert_int_eq(emu_post_srq_recv(srq, &wr), -EMU_EINVAL);
	ck_assert_int_eq(post(srq, 1, 2), 0);
	ck_assert_int_eq(post(srq, 2, 0), 0);
	ck_assert_int_eq(post(srq, 3, 1), 0);
	ck_assert_int_eq(post(srq, 4, 1), -EMU_ENOMEM);      /* full */

	ck_assert(emu_srq_take(srq, w));
	ck_assert_uint_eq(w->wr_id, 1);
	ck_assert_uint_eq(w->num_sge, 2);
	ck_assert_uint_eq(w->sge[0].addr, 1000);
	ck_assert_uint_eq(w->sge[1].addr, 1001);
	ck_assert_uint_eq(w->sge[1].length, 2);
	ck_assert_uint_eq(w->sge[1].lkey, 0x101);
	ck_assert_int_eq(post(srq, 4, 1), 0);                /* room again, wraps */
	ck_assert(emu_srq_take(srq, w));
	ck_assert_uint_eq(w->wr_id, 2);
	ck_assert_uint_eq(w->num_sge, 0);
	ck_assert(emu_srq_take(srq, w));
	ck_assert_uint_eq(w->wr_id, 3);
	ck_assert(emu_srq_take(srq, w));
	ck_assert_uint_eq(w->wr_id, 4);
	ck_assert_uint_eq(w->sge[0].addr, 4000);
	ck_assert(!emu_srq_take(srq, w));
	ck_assert_uint_eq(host.n_events, 0);

	ck_assert_int_eq(emu_destroy_srq(srq), 0);
	free(w);
}
END_TEST

START_TEST(srq_limit_event)
{
	struct emu_srq_attr a = { .max_wr = 8, .max_sge = 1, .srq_limit = 2 };
	struct emu_rwqe *w = rwqe_alloc(1);
	struct emu_srq *srq;
	int cookie;

	ck_assert_int_eq(emu_create_srq(pd, &a, &cookie, &srq), 0);
	for (uint64_t i = 1; i <= 4; i++)
		ck_assert_int_eq(post(srq, i, 1), 0);
	ck_assert(emu_srq_take(srq, w));                    /* 3 left */
	ck_assert(emu_srq_take(srq, w));                    /* 2 left: not below */
	ck_assert_uint_eq(host.n_events, 0);
	ck_assert(emu_srq_take(srq, w));                    /* 1 left: below 2 */
	ck_assert_uint_eq(host.n_events, 1);
	ck_assert_uint_eq(host.events[0].type, EMU_EVENT_SRQ_LIMIT_REACHED);
	ck_assert_ptr_eq(host.events[0].cookie, &cookie);
	ck_assert_uint_eq(srq->limit, 0);
	ck_assert_int_eq(emu_query_srq(srq, &a), 0);
	ck_assert_uint_eq(a.srq_limit, 0);
	ck_assert(emu_srq_take(srq, w));                    /* disarmed: no event */
	ck_assert_uint_eq(host.n_events, 1);

	/* Re-armed through modify. */
	a.srq_limit = 1;
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_LIMIT), 0);
	ck_assert_int_eq(post(srq, 5, 1), 0);
	ck_assert(emu_srq_take(srq, w));
	ck_assert_uint_eq(host.n_events, 2);
	ck_assert_uint_eq(host.events[1].type, EMU_EVENT_SRQ_LIMIT_REACHED);

	ck_assert_int_eq(emu_destroy_srq(srq), 0);
	free(w);
}
END_TEST

START_TEST(srq_modify)
{
	struct emu_srq_attr a = { .max_wr = 4, .max_sge = 1 };
	struct emu_rwqe *w = rwqe_alloc(1);
	struct emu_srq *srq;

	ck_assert_int_eq(emu_create_srq(pd, &a, NULL, &srq), 0);
	/* Make the ring wrap: tail at 2, three queued (ids 3, 4, 5). */
	for (uint64_t i = 1; i <= 4; i++)
		ck_assert_int_eq(post(srq, i, 1), 0);
	ck_assert(emu_srq_take(srq, w));
	ck_assert(emu_srq_take(srq, w));
	ck_assert_int_eq(post(srq, 5, 1), 0);

	a.max_wr = 2;                                        /* fewer than queued */
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_MAX_WR), -EMU_EINVAL);
	a.max_wr = 0;
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_MAX_WR), -EMU_EINVAL);
	a.max_wr = 16385;                                    /* beyond max_srq_wr */
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_MAX_WR), -EMU_EINVAL);
	a.srq_limit = 4;                                     /* not below max_wr */
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_LIMIT), -EMU_EINVAL);
	ck_assert_int_eq(emu_modify_srq(srq, &a, 1u << 5), -EMU_EINVAL);
	ck_assert_uint_eq(srq->rq.size, 4);
	ck_assert_uint_eq(srq->limit, 0);

	/* Grow with a limit in one call: the limit is checked against the new size. */
	a.max_wr = 8;
	a.srq_limit = 6;
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_MAX_WR | EMU_SRQ_LIMIT), 0);
	ck_assert_int_eq(emu_query_srq(srq, &a), 0);
	ck_assert_uint_eq(a.max_wr, 8);
	ck_assert_uint_eq(a.srq_limit, 6);
	ck_assert_uint_eq(ring_count(&srq->rq), 3);
	/* Shrinking below the armed limit is refused. */
	a.max_wr = 5;
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_MAX_WR), -EMU_EINVAL);
	/* Disarm, then fill the grown ring. */
	a.srq_limit = 0;
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_LIMIT), 0);
	for (uint64_t i = 6; i <= 10; i++)
		ck_assert_int_eq(post(srq, i, 1), 0);
	ck_assert_int_eq(post(srq, 11, 1), -EMU_ENOMEM);
	/* Queued WQEs kept their order and contents. */
	for (uint64_t i = 3; i <= 10; i++) {
		ck_assert(emu_srq_take(srq, w));
		ck_assert_uint_eq(w->wr_id, i);
		ck_assert_uint_eq(w->sge[0].addr, i * 1000);
	}
	ck_assert(!emu_srq_take(srq, w));

	/* Shrink to exactly what is queued. */
	ck_assert_int_eq(post(srq, 12, 1), 0);
	a.max_wr = 1;
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_MAX_WR), 0);
	ck_assert(emu_srq_take(srq, w));
	ck_assert_uint_eq(w->wr_id, 12);

	ck_assert_int_eq(emu_destroy_srq(srq), 0);
	free(w);
}
END_TEST

START_TEST(srq_modify_out_of_memory)
{
	struct emu_srq_attr a = { .max_wr = 2, .max_sge = 1 };
	struct emu_rwqe *w = rwqe_alloc(1);
	struct emu_srq *srq;

	ck_assert_int_eq(emu_create_srq(pd, &a, NULL, &srq), 0);
	ck_assert_int_eq(post(srq, 1, 1), 0);
	host.alloc_budget = 0;
	a.max_wr = 4;
	ck_assert_int_eq(emu_modify_srq(srq, &a, EMU_SRQ_MAX_WR), -EMU_ENOMEM);
	host.alloc_budget = -1;
	ck_assert_uint_eq(srq->rq.size, 2);
	ck_assert(emu_srq_take(srq, w));
	ck_assert_uint_eq(w->wr_id, 1);
	ck_assert_int_eq(emu_destroy_srq(srq), 0);
	free(w);
}
END_TEST

/* ---- AH ------------------------------------------------------------------------------------ */

START_TEST(ah_rules)
{
	struct emu_dev_config cfg = { .max_ah = 1 };
	struct emu_dev *d = create_with(&cfg);
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	struct emu_ah_attr attr = { .sgid_index = 1, .port_num = 1, .hop_limit = 64 };
	struct emu_pd *p;
	struct emu_ah *ah = NULL, *ah2 = NULL;
	uint8_t gid[16];

	ck_assert_int_eq(emu_alloc_pd(d, &p), 0);
	ck_assert_int_eq(emu_create_ah(p, &attr, &ah), -EMU_EINVAL);   /* no GID 1 */
	emu_gid_from_ipv4(gid, v4);
	ck_assert_int_eq(emu_gid_set(d, 1, gid), 0);
	attr.port_num = 2;
	ck_assert_int_eq(emu_create_ah(p, &attr, &ah), -EMU_EINVAL);
	attr.sgid_index = EMU_GID_TABLE_LEN;
	attr.port_num = 1;
	ck_assert_int_eq(emu_create_ah(p, &attr, &ah), -EMU_EINVAL);
	ck_assert_int_eq(emu_create_ah(p, NULL, &ah), -EMU_EINVAL);
	ck_assert_ptr_null(ah);

	attr.sgid_index = 1;
	emu_gid_from_ipv4(attr.dgid, v4);
	ck_assert_int_eq(emu_create_ah(p, &attr, &ah), 0);
	ck_assert_mem_eq(ah->attr.dgid, attr.dgid, 16);
	ck_assert_uint_eq(ah->attr.hop_limit, 64);
	attr.port_num = 0;
	ck_assert_int_eq(emu_create_ah(p, &attr, &ah2), -EMU_ENOMEM);  /* max_ah */
	ck_assert_uint_eq(p->refcount, 1);
	ck_assert_int_eq(emu_destroy_ah(ah), 0);
	ck_assert_int_eq(emu_create_ah(p, &attr, &ah2), 0);            /* port 0 is fine */
	ck_assert_int_eq(emu_destroy_ah(ah2), 0);
	ck_assert_int_eq(emu_dealloc_pd(p), 0);
	emu_dev_destroy(d);
}
END_TEST

/* ---- key and QPN tables -------------------------------------------------------------------- */

START_TEST(key_table)
{
	struct emu_dev_config cfg = { .max_mr = 3, .max_mw = 1 };
	struct emu_dev *d = create_with(&cfg);
	struct emu_mem m[5];
	uint32_t old;

	memset(m, 0, sizeof(m));
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(emu_key_alloc(d, &m[i]), 0);
		ck_assert_uint_eq(m[i].key >> 8, m[i].index);
		ck_assert_uint_ne(m[i].key, 0);
		ck_assert_ptr_eq(emu_key_lookup(d, m[i].key), &m[i]);
		ck_assert_ptr_null(emu_key_lookup(d, m[i].key ^ 0x40));
	}
	ck_assert_int_eq(emu_key_alloc(d, &m[4]), -EMU_ENOMEM);          /* full */
	ck_assert_ptr_null(emu_key_lookup(d, 4u << 8 | (m[0].key & 0xff)));

	old = m[1].key;
	emu_key_free(d, &m[1]);
	ck_assert_ptr_null(emu_key_lookup(d, old));
	ck_assert_int_eq(emu_key_alloc(d, &m[4]), 0);
	ck_assert_uint_eq(m[4].index, m[1].index);
	ck_assert_uint_ne(m[4].key, old);
	ck_assert_ptr_null(emu_key_lookup(d, old));
	ck_assert_ptr_eq(emu_key_lookup(d, m[4].key), &m[4]);
	emu_dev_destroy(d);
}
END_TEST

START_TEST(qp_table)
{
	struct emu_qp q = { .qpn = QPN_BASE + 5 };
	struct emu_dev_config cfg = { .max_qp = 8 };
	struct emu_dev *d = create_with(&cfg);

	d->qp_tbl[5] = &q;
	ck_assert_ptr_eq(emu_qp_lookup(d, QPN_BASE + 5), &q);
	ck_assert_ptr_null(emu_qp_lookup(d, QPN_BASE + 4));
	ck_assert_ptr_null(emu_qp_lookup(d, 0));
	ck_assert_ptr_null(emu_qp_lookup(d, 1));
	ck_assert_ptr_null(emu_qp_lookup(d, QPN_BASE - 1));
	ck_assert_ptr_null(emu_qp_lookup(d, QPN_BASE + 8));
	ck_assert_ptr_null(emu_qp_lookup(d, 0xffffff));
	ck_assert_ptr_null(emu_qp_lookup(d, UINT32_MAX));
	d->qp_tbl[5] = NULL;
	emu_dev_destroy(d);
}
END_TEST

/* ---- timers -------------------------------------------------------------------------------- */

static size_t timer_list_len(const struct emu_dev *d)
{
	size_t n = 0;

	for (const struct emu_qp *q = d->timer_list; q; q = q->timer_next)
		n++;
	return n;
}

START_TEST(timer_list)
{
	struct emu_qp *q = calloc(3, sizeof(*q));

	ck_assert_ptr_nonnull(q);
	for (int i = 0; i < 3; i++) {
		q[i].dev = dev;
		q[i].qpn = QPN_BASE + (uint32_t)i;
		q[i].timer_deadline = UINT64_MAX;
	}
	ck_assert(emu_dev_next_deadline(dev) == UINT64_MAX);

	emu_qp_timer_set(&q[0], 300, false);
	emu_qp_timer_set(&q[1], 100, true);
	emu_qp_timer_set(&q[2], 200, false);
	ck_assert(q[0].timer_linked && q[1].timer_linked && q[2].timer_linked);
	ck_assert(q[1].rnr_wait);
	ck_assert_uint_eq(timer_list_len(dev), 3);
	ck_assert(emu_dev_next_deadline(dev) == 100);

	emu_qp_timer_set(&q[1], UINT64_MAX, false);         /* disarm the earliest */
	ck_assert(!q[1].timer_linked);
	ck_assert(!q[1].rnr_wait);
	ck_assert(q[1].timer_deadline == UINT64_MAX);
	ck_assert_uint_eq(timer_list_len(dev), 2);
	ck_assert(emu_dev_next_deadline(dev) == 200);

	emu_qp_timer_set(&q[0], 50, false);                 /* re-arm: not linked twice */
	ck_assert_uint_eq(timer_list_len(dev), 2);
	ck_assert(emu_dev_next_deadline(dev) == 50);
	emu_qp_timer_set(&q[0], 500, true);                 /* later than before */
	ck_assert(q[0].rnr_wait);
	ck_assert(emu_dev_next_deadline(dev) == 200);

	emu_qp_timer_set(&q[1], UINT64_MAX, false);         /* disarming twice is harmless */
	ck_assert_uint_eq(timer_list_len(dev), 2);

	/* Before any deadline nothing fires and nothing changes. */
	host.now = 199;
	emu_dev_run_timers(dev);
	ck_assert_uint_eq(timer_list_len(dev), 2);
	ck_assert(q[2].timer_deadline == 200 && q[0].timer_deadline == 500);

	emu_qp_timer_set(&q[2], UINT64_MAX, false);
	emu_qp_timer_set(&q[0], UINT64_MAX, false);
	ck_assert_ptr_null(dev->timer_list);
	ck_assert(emu_dev_next_deadline(dev) == UINT64_MAX);
	free(q);
}
END_TEST

/*
 * Fake QPs stay in RESET: a QP without a transport has nothing to retransmit
 * or resume, so what the engine does for them is only the device's part.
 */
static struct emu_qp *reset_qps(int n)
{
	struct emu_qp *q = calloc((size_t)n, sizeof(*q));

	ck_assert_ptr_nonnull(q);
	for (int i = 0; i < n; i++) {
		q[i].dev = dev;
		q[i].pd = pd;
		q[i].type = EMU_QPT_RC;
		q[i].state = EMU_QPS_RESET;
		q[i].qpn = QPN_BASE + (uint32_t)i;
		q[i].timer_deadline = UINT64_MAX;
	}
	return q;
}

START_TEST(run_timers_disarms_expired)
{
	struct emu_qp *q = reset_qps(4);

	emu_qp_timer_set(&q[0], 1000, false);
	emu_qp_timer_set(&q[1], 400, false);
	emu_qp_timer_set(&q[2], 500, true);
	emu_qp_timer_set(&q[3], 501, false);
	host.now = 500;                      /* a deadline equal to now has expired */
	emu_dev_run_timers(dev);
	ck_assert(!q[1].timer_linked && q[1].timer_deadline == UINT64_MAX);
	ck_assert(!q[2].timer_linked && q[2].timer_deadline == UINT64_MAX);
	ck_assert(q[0].timer_linked && q[0].timer_deadline == 1000);
	ck_assert(q[3].timer_linked && q[3].timer_deadline == 501);
	ck_assert_uint_eq(timer_list_len(dev), 2);
	ck_assert(emu_dev_next_deadline(dev) == 501);

	host.now = 5000;
	emu_dev_run_timers(dev);
	ck_assert_ptr_null(dev->timer_list);
	ck_assert(emu_dev_next_deadline(dev) == UINT64_MAX);
	free(q);
}
END_TEST

START_TEST(mem_ready_resumes_stalled)
{
	struct emu_qp *q = reset_qps(3);

	for (int i = 0; i < 3; i++)
		dev->qp_tbl[i] = &q[i];
	emu_qp_stall(&q[0], EMU_STALL_PAGE_FAULT);
	emu_qp_stall(&q[2], EMU_STALL_PAGE_FAULT);
	ck_assert_uint_eq(q[0].stall, EMU_STALL_PAGE_FAULT);
	emu_dev_mem_ready(dev);
	ck_assert_uint_eq(q[0].stall, EMU_STALL_NONE);
	ck_assert_uint_eq(q[1].stall, EMU_STALL_NONE);
	ck_assert_uint_eq(q[2].stall, EMU_STALL_NONE);
	ck_assert_uint_eq(dev->n_stalled, 0);
	for (int i = 0; i < 3; i++)
		dev->qp_tbl[i] = NULL;
	free(q);
}
END_TEST

/* ---- drops, traces, names -------------------------------------------------------------------- */

START_TEST(drop_counting)
{
	struct emu_qp q = { .qpn = 0x123 };
	struct emu_counters c;

	emu_count_drop(dev, NULL, EMU_DROP_ICRC, 0x04, 77);
	emu_count_drop(dev, &q, EMU_DROP_PSN, 0x06, 78);
	emu_count_drop(dev, &q, EMU_DROP_PSN, 0x06, 79);

	emu_dev_counters(dev, &c);
	ck_assert_uint_eq(c.drops[EMU_DROP_ICRC], 1);
	ck_assert_uint_eq(c.drops[EMU_DROP_PSN], 2);
	ck_assert_uint_eq(c.rx_drops, 3);
	ck_assert_uint_eq(c.drops[EMU_DROP_SHORT], 0);
	emu_qp_counters(&q, &c);
	ck_assert_uint_eq(c.drops[EMU_DROP_PSN], 2);
	ck_assert_uint_eq(c.drops[EMU_DROP_ICRC], 0);
	ck_assert_uint_eq(c.rx_drops, 2);

	ck_assert_uint_eq(unit_count_traces(&host, EMU_TR_DROP), 3);
	ck_assert_uint_eq(host.traces[0].a, EMU_DROP_ICRC);
	ck_assert_uint_eq(host.traces[0].qpn, 0);
	ck_assert_uint_eq(host.traces[0].psn, 77);
	ck_assert_uint_eq(host.traces[0].opcode, 0x04);
	ck_assert_uint_eq(host.traces[1].a, EMU_DROP_PSN);
	ck_assert_uint_eq(host.traces[1].qpn, 0x123);
	ck_assert_uint_eq(host.traces[1].psn, 78);
}
END_TEST

START_TEST(trace_and_event_records)
{
	struct emu_dev_config cfg = { .dev_id = 42 };
	struct emu_dev *d = create_with(&cfg);
	int cookie;

	unit_host_clear(&host);
	emu_trace(d, EMU_TR_RETRANSMIT, 0x0a, 0x20, 0x123456, 9, 1, 2);
	ck_assert_uint_eq(host.n_traces, 1);
	ck_assert_uint_eq(host.traces[0].kind, EMU_TR_RETRANSMIT);
	ck_assert_uint_eq(host.traces[0].dev_id, 42);
	ck_assert_uint_eq(host.traces[0].opcode, 0x0a);
	ck_assert_uint_eq(host.traces[0].qpn, 0x20);
	ck_assert_uint_eq(host.traces[0].psn, 0x123456);
	ck_assert_uint_eq(host.traces[0].wr_index, 9);
	ck_assert_uint_eq(host.traces[0].a, 1);
	ck_assert_uint_eq(host.traces[0].b, 2);

	emu_event(d, EMU_EVENT_QP_FATAL, &cookie, 0x33);
	ck_assert_uint_eq(host.n_events, 1);
	ck_assert_uint_eq(host.events[0].type, EMU_EVENT_QP_FATAL);
	ck_assert_uint_eq(host.events[0].port, 1);
	ck_assert_ptr_eq(host.events[0].cookie, &cookie);
	ck_assert_uint_eq(host.events[0].qpn, 0x33);
	ck_assert_uint_eq(host.n_traces, 2);
	ck_assert_uint_eq(host.traces[1].kind, EMU_TR_EVENT);
	ck_assert_uint_eq(host.traces[1].a, EMU_EVENT_QP_FATAL);
	ck_assert_uint_eq(host.traces[1].qpn, 0x33);
	emu_dev_destroy(d);
}
END_TEST

START_TEST(drop_reason_names)
{
	for (int r = 0; r < EMU_DROP_REASONS; r++) {
		const char *n = emu_drop_reason_name((enum emu_drop_reason)r);

		ck_assert_ptr_nonnull(n);
		ck_assert_str_ne(n, "unknown");
		for (int o = 0; o < r; o++)
			ck_assert_str_ne(n, emu_drop_reason_name((enum emu_drop_reason)o));
	}
	ck_assert_str_eq(emu_drop_reason_name(EMU_DROP_ICRC), "icrc");
	ck_assert_str_eq(emu_drop_reason_name(EMU_DROP_REASONS), "unknown");
}
END_TEST

/* ---- util ------------------------------------------------------------------------------------- */

START_TEST(rng_is_keyed)
{
	uint64_t a = emu_rng(1, 2, 3, 4, 5);
	unsigned ones = 0;

	ck_assert(a == emu_rng(1, 2, 3, 4, 5));
	ck_assert(a != emu_rng(2, 2, 3, 4, 5));
	ck_assert(a != emu_rng(1, 3, 3, 4, 5));
	ck_assert(a != emu_rng(1, 2, 3, 4, 6));
	ck_assert(emu_rng(0, 1, 2, 0, 0) != emu_rng(0, 2, 1, 0, 0));
	ck_assert(emu_rng(0, 0, 0, 0, 0) != 0);
	/* Consecutive keys give well-mixed values: about half the bits set. */
	for (uint64_t k = 0; k < 1000; k++)
		ones += (unsigned)__builtin_popcountll(emu_rng(7, k, 0, 0, 0));
	ck_assert_uint_gt(ones, 1000 * 32 - 1000);
	ck_assert_uint_lt(ones, 1000 * 32 + 1000);
}
END_TEST

START_TEST(util_helpers)
{
	uint8_t a[9], b[9];

	emu_memset(a, 0xab, sizeof(a));
	for (int i = 0; i < 9; i++)
		ck_assert_uint_eq(a[i], 0xab);
	emu_memcpy_small(b, a, sizeof(a));
	ck_assert(emu_memeq(a, b, sizeof(a)));
	b[8] = 0;
	ck_assert(!emu_memeq(a, b, sizeof(a)));
	ck_assert(emu_memeq(a, b, 8));
	ck_assert(emu_memeq(a, b, 0));
}
END_TEST

static Suite *objects_suite(void)
{
	Suite *s = suite_create("objects");
	TCase *tc = tcase_create("objects");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_requires_ops);
	tcase_add_test(tc, create_mtu);
	tcase_add_test(tc, create_defaults_and_overrides);
	tcase_add_test(tc, create_rejects_oversized_tables);
	tcase_add_test(tc, create_out_of_memory);
	tcase_add_test(tc, port_state_events);
	tcase_add_test(tc, gid_table);
	tcase_add_test(tc, pd_limit);
	tcase_add_test(tc, cq_limits_and_busy);
	tcase_add_test(tc, pd_busy_rules);
	tcase_add_test(tc, srq_create_rules);
	tcase_add_test(tc, srq_post_and_take);
	tcase_add_test(tc, srq_limit_event);
	tcase_add_test(tc, srq_modify);
	tcase_add_test(tc, srq_modify_out_of_memory);
	tcase_add_test(tc, ah_rules);
	tcase_add_test(tc, key_table);
	tcase_add_test(tc, qp_table);
	tcase_add_test(tc, timer_list);
	tcase_add_test(tc, run_timers_disarms_expired);
	tcase_add_test(tc, mem_ready_resumes_stalled);
	tcase_add_test(tc, drop_counting);
	tcase_add_test(tc, trace_and_event_records);
	tcase_add_test(tc, drop_reason_names);
	tcase_add_test(tc, rng_is_keyed);
	tcase_add_test(tc, util_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(objects_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
