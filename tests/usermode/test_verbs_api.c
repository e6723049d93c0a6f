/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * test_verbs_api.c - a verbs program linked against the drop-in libibverbs.so.1
 * (build/lib/usermode), exercising its API the way programs use it: the device
 * list, open, device/port/GID/P_Key queries, PD/MR/MW/CQ/SRQ/QP/AH objects,
 * traffic between two QPs of the device (RC send/write/read/atomic, the ibv_wr_*
 * API with the extended CQ, SRQ, UD with address handles built from the GRH),
 * completion channels, and the error paths, which must answer EINVAL or
 * EOPNOTSUPP and never crash.
 *
 * The device binds to SOFTHCA_ADDR (ctest gives it its own loopback address);
 * the two QPs of a pair talk to each other through it.
 *
 * Prints one line per check and "N passed, M failed"; exits non-zero on any
 * failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

/* libibverbs' private query that pyverbs and ibv_devinfo use. */
int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num, unsigned int index,
		       int *type);

static int passed, failed;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (ok)
		passed++;
	else
		failed++;
}

#define CHECK(cond, ...) check(!!(cond), __VA_ARGS__)

/* ---- helpers ------------------------------------------------------------------------ */

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static union ibv_gid gid0;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Poll until n completions arrived (or 5 s passed); returns how many. */
static int poll_n(struct ibv_cq *cq, struct ibv_wc *wc, int n)
{
	double end = now_s() + 5.0;
	int got = 0;

	while (got < n && now_s() < end) {
		int r = ibv_poll_cq(cq, n - got, wc + got);

		if (r < 0)
			return -1;
		got += r;
	}
	return got;
}

static int to_init(struct ibv_qp *qp, int access)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.pkey_index = 0,
		.port_num = 1,
		.qp_access_flags = access,
	};

	if (qp->qp_type == IBV_QPT_UD) {
		a.qkey = 0x11111111;
		return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					     IBV_QP_QKEY);
	}
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
				     IBV_QP_ACCESS_FLAGS);
}

static int to_rtr(struct ibv_qp *qp, uint32_t dest_qpn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = IBV_MTU_1024,
		.dest_qp_num = dest_qpn,
		.rq_psn = 100,
		.max_dest_rd_atomic = 4,
		.min_rnr_timer = 1,
	};
	int mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;

	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = gid0;
	a.ah_attr.grh.sgid_index = 0;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = 1;
	if (qp->qp_type == IBV_QPT_RC)
		mask |= IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
	if (qp->qp_type == IBV_QPT_UD) {
		a.qp_state = IBV_QPS_RTR;
		return ibv_modify_qp(qp, &a, IBV_QP_STATE);
	}
	return ibv_modify_qp(qp, &a, mask);
}

static int to_rts(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTS,
		.sq_psn = 100,
		.timeout = 14,
		.retry_cnt = 7,
		.rnr_retry = 7,
		.max_rd_atomic = 4,
	};

	if (qp->qp_type == IBV_QPT_UD)
		return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
	if (qp->qp_type == IBV_QPT_UC)
		return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT |
				     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC);
}

static int connect_pair(struct ibv_qp *a, struct ibv_qp *b, int access)
{
	return to_init(a, access) || to_init(b, access) ||
	       to_rtr(a, b->qp_num) || to_rtr(b, a->qp_num) || to_rts(a) || to_rts(b);
}

static struct ibv_qp *make_qp(enum ibv_qp_type type, struct ibv_cq *cq, struct ibv_srq *srq)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = cq,
		.recv_cq = cq,
		.srq = srq,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16, .max_send_sge = 2,
			 .max_recv_sge = 2, .max_inline_data = 64 },
		.qp_type = type,
	};

	return ibv_create_qp(pd, &ia);
}

static int post_recv_buf(struct ibv_qp *qp, struct ibv_mr *mr, void *buf, uint32_t len,
			 uint64_t wr_id)
{
	struct ibv_sge sg = { (uintptr_t)buf, len, mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = wr_id, .sg_list = &sg, .num_sge = 1 }, *bad;

	return ibv_post_recv(qp, &wr, &bad);
}

/* ---- device and queries --------------------------------------------------------------- */

static void test_device_list(struct ibv_device ***list_out)
{
	int n = -1;
	struct ibv_device **list = ibv_get_device_list(&n);
	const char *want = getenv("SOFTHCA_NAME") ? getenv("SOFTHCA_NAME") : "sh0";

	CHECK(list && n == 1 && list[0] && !list[1], "one device in the list (n=%d)", n);
	if (!list || n != 1) {
		*list_out = list;
		return;
	}
	CHECK(strcmp(ibv_get_device_name(list[0]), want) == 0, "device name %s",
	      ibv_get_device_name(list[0]));
	CHECK(list[0]->node_type == IBV_NODE_CA && list[0]->transport_type == IBV_TRANSPORT_IB,
	      "node type CA, transport IB");
	CHECK(ibv_get_device_guid(list[0]) != 0, "node GUID %016llx",
	      (unsigned long long)be64toh(ibv_get_device_guid(list[0])));
	CHECK(ibv_get_device_index(list[0]) >= 0, "device index");
	*list_out = list;
}

static void test_queries(void)
{
	struct ibv_device_attr da;
	struct ibv_device_attr_ex dax;
	struct ibv_query_device_ex_input in = { .comp_mask = 1 };
	struct ibv_port_attr pa;
	struct ibv_gid_entry ge, table[32];
	union ibv_gid g;
	__be16 pkey;
	int type = -1;
	ssize_t n;

	int ret;

	memset(&da, 0, sizeof(da));
	ret = ibv_query_device(ctx, &da);
	CHECK(ret == 0 && da.phys_port_cnt == 1 && da.max_qp > 0 &&
	      da.max_cqe > 0 && da.fw_ver[0], "ibv_query_device (fw %s, %d QPs)", da.fw_ver,
	      da.max_qp);
	memset(&dax, 0xff, sizeof(dax));
	CHECK(ibv_query_device_ex(ctx, NULL, &dax) == 0 && dax.orig_attr.max_qp == da.max_qp &&
	      dax.phys_port_cnt_ex == 1 &&
	      dax.odp_caps.general_caps == (IBV_ODP_SUPPORT | IBV_ODP_SUPPORT_IMPLICIT) &&
	      dax.completion_timestamp_mask == 0, "ibv_query_device_ex");
	CHECK(ibv_query_device_ex(ctx, &in, &dax) == EINVAL,
	      "ibv_query_device_ex with an unknown comp_mask: EINVAL");

	memset(&pa, 0xff, sizeof(pa));
	ret = ibv_query_port(ctx, 1, &pa);
	CHECK(ret == 0 && pa.state == IBV_PORT_ACTIVE &&
	      pa.link_layer == IBV_LINK_LAYER_ETHERNET && pa.gid_tbl_len >= 1 &&
	      pa.active_mtu >= IBV_MTU_256 && pa.active_mtu <= IBV_MTU_4096 &&
	      pa.port_cap_flags2 == 0 && pa.active_width && pa.active_speed,
	      "ibv_query_port (state %d, mtu %d, %d GIDs)", pa.state, pa.active_mtu,
	      pa.gid_tbl_len);
	CHECK(ibv_query_port(ctx, 2, &pa) != 0, "ibv_query_port of port 2 fails");
	/* The exported (non-inline) entry point, with the pre-port_cap_flags2 layout. */
	memset(&pa, 0, sizeof(pa));
	CHECK((ibv_query_port)(ctx, 1, (struct _compat_ibv_port_attr *)&pa) == 0 &&
	      pa.state == IBV_PORT_ACTIVE && pa.link_layer == IBV_LINK_LAYER_ETHERNET,
	      "ibv_query_port compat entry");

	CHECK(ibv_query_gid(ctx, 1, 0, &gid0) == 0 && gid0.global.interface_id != 0,
	      "ibv_query_gid index 0");
	{
		const char *addr = getenv("SOFTHCA_ADDR");
		struct in_addr a4;

		if (addr && inet_pton(AF_INET, addr, &a4) == 1)
			CHECK(gid0.raw[10] == 0xff && gid0.raw[11] == 0xff &&
			      memcmp(gid0.raw + 12, &a4, 4) == 0,
			      "GID 0 is the IPv4-mapped SOFTHCA_ADDR %s", addr);
	}
	CHECK(ibv_query_gid(ctx, 1, 5000, &g) != 0, "ibv_query_gid index 5000 fails");
	CHECK(ibv_query_gid(ctx, 3, 0, &g) != 0, "ibv_query_gid port 3 fails");
	CHECK(ibv_query_gid_ex(ctx, 1, 0, &ge, 0) == 0 && ge.gid_type == IBV_GID_TYPE_ROCE_V2 &&
	      memcmp(ge.gid.raw, gid0.raw, 16) == 0 && ge.port_num == 1 && ge.gid_index == 0,
	      "ibv_query_gid_ex: RoCE v2");
	CHECK(ibv_query_gid_ex(ctx, 1, 0, &ge, 1) == EINVAL, "ibv_query_gid_ex bad flags: EINVAL");
	CHECK(ibv_query_gid_ex(ctx, 1, (uint32_t)pa.gid_tbl_len - 1, &ge, 0) == ENODATA,
	      "ibv_query_gid_ex of an empty entry: ENODATA");
	n = ibv_query_gid_table(ctx, table, 32, 0);
	CHECK(n >= 1 && table[0].gid_type == IBV_GID_TYPE_ROCE_V2, "ibv_query_gid_table: %zd",
	      n);
	ret = ibv_query_gid_type(ctx, 1, 0, &type);
	CHECK(ret == 0 && type == 1,
	      "ibv_query_gid_type: RoCE v2 (%d)", type);
	CHECK(ibv_query_pkey(ctx, 1, 0, &pkey) == 0 && be16toh(pkey) == 0xffff,
	      "ibv_query_pkey 0xffff");
	CHECK(ibv_get_pkey_index(ctx, 1, htobe16(0xffff)) == 0, "ibv_get_pkey_index");
	CHECK(ibv_get_pkey_index(ctx, 1, htobe16(0x1234)) < 0, "unknown P_Key has no index");
}

/* ---- objects and error paths ---------------------------------------------------------- */

static void test_mr_and_errors(void)
{
	static char buf[8192], buf2[64];
	struct ibv_mr *mr, *mr2;
	struct ibv_cq_init_attr_ex cqa = { .cqe = 8, .wc_flags = IBV_WC_EX_WITH_COMPLETION_TIMESTAMP };
	struct ibv_qp_init_attr_ex qa;
	struct ibv_cq *cq;
	struct ibv_sge sg = { 0 };
	struct ibv_alloc_dm_attr dma = { .length = 64 };
	struct ibv_xrcd_init_attr xa = { 0 };
	struct ibv_td_init_attr ta = { 0 };
	volatile int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_RELAXED_ORDERING;

	mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
	CHECK(mr && mr->lkey && mr->rkey && mr->addr == buf && mr->length == sizeof(buf),
	      "ibv_reg_mr");
	mr2 = ibv_reg_mr(pd, buf, 100, access);     /* optional flags, through iova2 */
	CHECK(mr2 != NULL, "ibv_reg_mr with IBV_ACCESS_RELAXED_ORDERING");
	if (mr2)
		ibv_dereg_mr(mr2);
	mr2 = ibv_reg_mr_iova(pd, buf, 100, 0x10000, IBV_ACCESS_LOCAL_WRITE);
	CHECK(mr2 != NULL, "ibv_reg_mr_iova");
	if (mr2)
		ibv_dereg_mr(mr2);
	mr2 = ibv_reg_mr(pd, buf, 100, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_ON_DEMAND);
	CHECK(mr2 != NULL, "ODP MR");
	if (mr2)
		ibv_dereg_mr(mr2);
	errno = 0;
	CHECK(!ibv_reg_mr(pd, buf, 100, IBV_ACCESS_REMOTE_WRITE) && errno == EINVAL,
	      "remote write without local write: EINVAL");
	errno = 0;
	CHECK(!ibv_reg_mr(pd, buf, 0, IBV_ACCESS_LOCAL_WRITE) && errno == EINVAL,
	      "zero-length MR: EINVAL");
	if (mr) {
		uint32_t lkey = mr->lkey;

		uint32_t rkey = mr->rkey;

		CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
				   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE) == 0 &&
		      mr->lkey == lkey && mr->rkey == rkey && mr->addr == buf && mr->pd == pd,
		      "ibv_rereg_mr CHANGE_ACCESS: done, the keys kept");
		errno = 0;
		CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
				   IBV_ACCESS_REMOTE_WRITE) == IBV_REREG_MR_ERR_INPUT &&
		      errno == EINVAL, "ibv_rereg_mr to remote write without local write: EINVAL");
		errno = 0;
		CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_PD, pd, NULL, 0, IBV_ACCESS_LOCAL_WRITE) ==
		      IBV_REREG_MR_ERR_INPUT && errno == EINVAL,
		      "ibv_rereg_mr with access but no CHANGE_ACCESS: EINVAL");
		{
			struct ibv_pd *pd2 = ibv_alloc_pd(ctx);

			CHECK(pd2 && ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_PD, pd2, NULL, 0, 0) == 0 &&
			      mr->pd == pd2 && mr->lkey == lkey && ibv_dealloc_pd(pd2) == EBUSY,
			      "ibv_rereg_mr CHANGE_PD: the new PD holds it, the keys kept");
			CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_PD, pd, NULL, 0, 0) == 0 &&
			      mr->pd == pd && pd2 && ibv_dealloc_pd(pd2) == 0,
			      "ibv_rereg_mr CHANGE_PD back: the other PD is free again");
		}
		CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_TRANSLATION, NULL, buf2, sizeof(buf2), 0) ==
		      0 && mr->addr == buf2 && mr->length == sizeof(buf2) && mr->rkey == rkey,
		      "ibv_rereg_mr CHANGE_TRANSLATION: the new range, the keys kept");
		errno = 0;
		CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_TRANSLATION, NULL, NULL, 64, 0) ==
		      IBV_REREG_MR_ERR_INPUT && errno == EINVAL && mr->addr == buf2,
		      "ibv_rereg_mr CHANGE_TRANSLATION to NULL: EINVAL, the MR unchanged");
		CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_TRANSLATION, NULL, buf, sizeof(buf), 0) ==
		      0 && mr->addr == buf && mr->length == sizeof(buf),
		      "ibv_rereg_mr CHANGE_TRANSLATION back");
		errno = 0;
		CHECK(ibv_rereg_mr(mr, 1 << 10, NULL, NULL, 0, 0) == IBV_REREG_MR_ERR_INPUT &&
		      errno == EINVAL, "ibv_rereg_mr bad flags: EINVAL");
		sg.addr = (uintptr_t)buf;
		sg.length = 8;
		sg.lkey = mr->lkey;
		CHECK(ibv_advise_mr(pd, IBV_ADVISE_MR_ADVICE_PREFETCH, 0, &sg, 1) == EINVAL,
		      "ibv_advise_mr of a non-ODP MR, asynchronous: EINVAL (as mlx5)");
		CHECK(ibv_advise_mr(pd, IBV_ADVISE_MR_ADVICE_PREFETCH, IBV_ADVISE_MR_FLAG_FLUSH,
				    &sg, 1) == ENOENT,
		      "ibv_advise_mr of a non-ODP MR, synchronous: ENOENT (as mlx5)");
		CHECK(ibv_dealloc_pd(pd) == EBUSY, "ibv_dealloc_pd with an MR: EBUSY");
		CHECK(ibv_dereg_mr(mr) == 0, "ibv_dereg_mr");
	}

	errno = 0;
	CHECK(!ibv_create_cq(ctx, 0, NULL, NULL, 0) && errno == EINVAL, "CQ of 0 entries: EINVAL");
	errno = 0;
	CHECK(!ibv_create_cq(ctx, 1 << 30, NULL, NULL, 0) && errno == EINVAL,
	      "CQ beyond max_cqe: EINVAL");
	errno = 0;
	CHECK(!ibv_create_cq(ctx, 8, NULL, NULL, 5) && errno == EINVAL,
	      "CQ on comp vector 5: EINVAL");
	errno = 0;
	CHECK(!ibv_create_cq_ex(ctx, &cqa) && errno == EOPNOTSUPP,
	      "CQ with completion timestamps: EOPNOTSUPP");

	cq = ibv_create_cq(ctx, 8, NULL, NULL, 0);
	CHECK(cq && cq->cqe >= 8, "ibv_create_cq");
	CHECK(cq && ibv_resize_cq(cq, 32) == 0 && cq->cqe >= 32, "ibv_resize_cq up to 32");
	CHECK(cq && ibv_resize_cq(cq, 8) == 0 && cq->cqe >= 8 && cq->cqe < 32,
	      "ibv_resize_cq down to 8");
	CHECK(cq && ibv_resize_cq(cq, 0) == EINVAL && ibv_resize_cq(cq, -1) == EINVAL &&
	      ibv_resize_cq(cq, 1 << 30) == EINVAL && cq->cqe >= 8,
	      "ibv_resize_cq to 0, -1, beyond max_cqe: EINVAL, the CQ unchanged");
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = qa.recv_cq = cq;
	qa.cap.max_send_wr = qa.cap.max_recv_wr = 4;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	qa.comp_mask = IBV_QP_INIT_ATTR_PD;
	qa.pd = pd;
	qa.qp_type = IBV_QPT_RAW_PACKET;
	errno = 0;
	CHECK(!ibv_create_qp_ex(ctx, &qa) && errno == EOPNOTSUPP, "RAW_PACKET QP: EOPNOTSUPP");
	qa.qp_type = IBV_QPT_XRC_SEND;
	errno = 0;
	CHECK(!ibv_create_qp_ex(ctx, &qa) && errno == EOPNOTSUPP, "XRC QP: EOPNOTSUPP");
	qa.qp_type = IBV_QPT_RC;
	qa.comp_mask |= IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	qa.send_ops_flags = IBV_QP_EX_WITH_TSO;
	errno = 0;
	CHECK(!ibv_create_qp_ex(ctx, &qa) && errno == EOPNOTSUPP, "TSO send op: EOPNOTSUPP");
	qa.qp_type = IBV_QPT_UD;
	qa.send_ops_flags = IBV_QP_EX_WITH_RDMA_WRITE;
	errno = 0;
	CHECK(!ibv_create_qp_ex(ctx, &qa) && errno == EOPNOTSUPP, "RDMA write on UD: EOPNOTSUPP");
	qa.send_cq = NULL;
	qa.comp_mask = IBV_QP_INIT_ATTR_PD;
	errno = 0;
	CHECK(!ibv_create_qp_ex(ctx, &qa) && errno == EINVAL, "QP without CQ: EINVAL");

	errno = 0;
	CHECK(!ibv_alloc_dm(ctx, &dma) && errno == EOPNOTSUPP, "ibv_alloc_dm: EOPNOTSUPP");
	errno = 0;
	CHECK(!ibv_open_xrcd(ctx, &xa) && errno == EOPNOTSUPP, "ibv_open_xrcd: EOPNOTSUPP");
	errno = 0;
	CHECK(!ibv_alloc_td(ctx, &ta) && errno == EOPNOTSUPP, "ibv_alloc_td: EOPNOTSUPP");
	errno = 0;
	CHECK(!ibv_import_device(3) && errno == EOPNOTSUPP, "ibv_import_device: EOPNOTSUPP");
	errno = 0;
	CHECK(!ibv_reg_dmabuf_mr(pd, 0, 4096, 0, 3, IBV_ACCESS_LOCAL_WRITE) && errno == EOPNOTSUPP,
	      "ibv_reg_dmabuf_mr: EOPNOTSUPP");
	CHECK(ibv_destroy_cq(cq) == 0, "ibv_destroy_cq");
}

/* ---- RC traffic --------------------------------------------------------------------------- */

static void test_rc_traffic(void)
{
	static char sbuf[4096], rbuf[4096], rdma[4096];
	static uint64_t atom __attribute__((aligned(8))) = 5, old __attribute__((aligned(8)));
	struct ibv_cq *cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	struct ibv_qp *a, *b;
	struct ibv_mr *smr, *rmr, *dmr, *amr, *omr;
	struct ibv_sge sg;
	struct ibv_send_wr wr, *bad = NULL;
	struct ibv_wc wc[4];
	struct ibv_qp_attr qattr;
	struct ibv_qp_init_attr qinit;
	int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
		  IBV_ACCESS_REMOTE_ATOMIC;
	int n;

	a = make_qp(IBV_QPT_RC, cq, NULL);
	b = make_qp(IBV_QPT_RC, cq, NULL);
	CHECK(cq && a && b && a->qp_num != b->qp_num, "two RC QPs");
	if (!cq || !a || !b)
		return;
	smr = ibv_reg_mr(pd, sbuf, sizeof(sbuf), acc);
	rmr = ibv_reg_mr(pd, rbuf, sizeof(rbuf), acc);
	dmr = ibv_reg_mr(pd, rdma, sizeof(rdma), acc);
	amr = ibv_reg_mr(pd, &atom, 8, acc);
	omr = ibv_reg_mr(pd, &old, 8, acc);

	/* Posting before RTS is refused at once. */
	memset(&sg, 0, sizeof(sg));
	sg.addr = (uintptr_t)sbuf;
	sg.length = 16;
	sg.lkey = smr->lkey;
	memset(&wr, 0, sizeof(wr));
	wr.wr_id = 1;
	wr.sg_list = &sg;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	CHECK(ibv_post_send(a, &wr, &bad) == EINVAL && bad == &wr, "post_send in RESET: EINVAL");
	CHECK(post_recv_buf(a, rmr, rbuf, 16, 1) == EINVAL, "post_recv in RESET: EINVAL");

	CHECK(connect_pair(a, b, acc) == 0, "RC pair to RTS");
	CHECK(ibv_query_qp(a, &qattr, IBV_QP_STATE | IBV_QP_CAP, &qinit) == 0 &&
	      qattr.qp_state == IBV_QPS_RTS && qattr.dest_qp_num == b->qp_num &&
	      qinit.qp_type == IBV_QPT_RC && qinit.cap.max_send_sge >= 2,
	      "ibv_query_qp: RTS, dest QPN, caps");

	/* SEND with immediate, inline */
	strcpy(sbuf, "hello over RoCEv2");
	CHECK(post_recv_buf(b, rmr, rbuf, sizeof(rbuf), 77) == 0, "post_recv");
	wr.opcode = IBV_WR_SEND_WITH_IMM;
	wr.imm_data = htonl(0xabcd);
	wr.send_flags = IBV_SEND_SIGNALED | IBV_SEND_INLINE;
	sg.length = (uint32_t)strlen(sbuf) + 1;
	CHECK(ibv_post_send(a, &wr, &bad) == 0, "post SEND_WITH_IMM inline");
	CHECK(poll_n(cq, wc, 2) == 2, "two completions");
	{
		struct ibv_wc *rw = wc[0].opcode == IBV_WC_RECV ? &wc[0] : &wc[1];

		CHECK(rw->status == IBV_WC_SUCCESS && rw->opcode == IBV_WC_RECV &&
		      rw->wr_id == 77 && rw->byte_len == sg.length &&
		      (rw->wc_flags & IBV_WC_WITH_IMM) && ntohl(rw->imm_data) == 0xabcd &&
		      rw->qp_num == b->qp_num, "receive completion: %s",
		      ibv_wc_status_str(rw->status));
		CHECK(strcmp(rbuf, "hello over RoCEv2") == 0, "received payload");
	}

	/* RDMA WRITE then READ back */
	for (int i = 0; i < 4096; i++)
		sbuf[i] = (char)(i * 7);
	sg.length = 4096;
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = (uintptr_t)rdma;
	wr.wr.rdma.rkey = dmr->rkey;
	wr.wr_id = 2;
	CHECK(ibv_post_send(a, &wr, &bad) == 0 && poll_n(cq, wc, 1) == 1 &&
	      wc[0].status == IBV_WC_SUCCESS && wc[0].opcode == IBV_WC_RDMA_WRITE &&
	      memcmp(rdma, sbuf, 4096) == 0, "RDMA WRITE 4096 bytes");
	/* The CQ has been used (its ring indices moved on): it must go on working
	 * in a ring of another size. (A resize with CQEs still unpolled: pyverbs'
	 * test_cq.test_resize_cq, in usermode/pyverbs.) */
	CHECK(ibv_resize_cq(cq, 64) == 0 && cq->cqe >= 64, "ibv_resize_cq of a used CQ to 64");
	memset(rbuf, 0, sizeof(rbuf));
	sg.addr = (uintptr_t)rbuf;
	sg.lkey = rmr->lkey;
	wr.opcode = IBV_WR_RDMA_READ;
	wr.wr_id = 3;
	CHECK(ibv_post_send(a, &wr, &bad) == 0 && poll_n(cq, wc, 1) == 1 &&
	      wc[0].status == IBV_WC_SUCCESS && wc[0].opcode == IBV_WC_RDMA_READ &&
	      memcmp(rbuf, sbuf, 4096) == 0, "RDMA READ 4096 bytes");

	/* atomics */
	sg.addr = (uintptr_t)&old;
	sg.length = 8;
	sg.lkey = omr->lkey;
	wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
	wr.wr.atomic.remote_addr = (uintptr_t)&atom;
	wr.wr.atomic.rkey = amr->rkey;
	wr.wr.atomic.compare_add = 10;
	wr.wr_id = 4;
	CHECK(ibv_post_send(a, &wr, &bad) == 0 && poll_n(cq, wc, 1) == 1 &&
	      wc[0].status == IBV_WC_SUCCESS && old == 5 && atom == 15, "FETCH_AND_ADD");
	wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
	wr.wr.atomic.compare_add = 15;
	wr.wr.atomic.swap = 99;
	CHECK(ibv_post_send(a, &wr, &bad) == 0 && poll_n(cq, wc, 1) == 1 &&
	      wc[0].status == IBV_WC_SUCCESS && old == 15 && atom == 99, "CMP_AND_SWP");

	/* post-time errors, with bad_wr */
	{
		struct ibv_sge many[3] = { sg, sg, sg };
		struct ibv_send_wr w2 = wr;

		w2.opcode = IBV_WR_SEND;
		w2.sg_list = many;
		w2.num_sge = 3;
		CHECK(ibv_post_send(a, &w2, &bad) == EINVAL && bad == &w2,
		      "too many SGEs: EINVAL");
		w2.num_sge = 1;
		many[0].length = 4096;
		w2.send_flags = IBV_SEND_INLINE;
		CHECK(ibv_post_send(a, &w2, &bad) == EINVAL && bad == &w2,
		      "inline beyond max_inline_data: EINVAL");
		w2.opcode = IBV_WR_TSO;
		w2.send_flags = 0;
		CHECK(ibv_post_send(a, &w2, &bad) == EINVAL && bad == &w2,
		      "TSO opcode on RC: EINVAL");
	}
	{
		struct ibv_sge rsg[3] = { sg, sg, sg };
		struct ibv_recv_wr rw = { .wr_id = 9, .sg_list = rsg, .num_sge = 3 }, *rbad;

		CHECK(ibv_post_recv(b, &rw, &rbad) == EINVAL && rbad == &rw,
		      "recv with too many SGEs: EINVAL");
	}
	CHECK(ibv_query_qp_data_in_order(a, IBV_WR_RDMA_WRITE, 0) == 1,
	      "ibv_query_qp_data_in_order: in order");
	{
		struct ibv_ece ece = { 0 };

		CHECK(ibv_query_ece(a, &ece) == EOPNOTSUPP && ibv_set_ece(a, &ece) == EOPNOTSUPP,
		      "ECE: EOPNOTSUPP");
	}
	CHECK(ibv_qp_to_qp_ex(a) == NULL, "ibv_qp_to_qp_ex of a QP without send ops: NULL");
	CHECK(ibv_destroy_cq(cq) == EBUSY, "ibv_destroy_cq with QPs: EBUSY");

	/* to ERR: posted work flushes */
	CHECK(post_recv_buf(b, rmr, rbuf, 16, 78) == 0, "post a receive to flush");
	qattr.qp_state = IBV_QPS_ERR;
	CHECK(ibv_modify_qp(b, &qattr, IBV_QP_STATE) == 0, "modify to ERR");
	memset(wc, 0, sizeof(wc));
	n = poll_n(cq, wc, 1);
	CHECK(n == 1 && wc[0].status == IBV_WC_WR_FLUSH_ERR && wc[0].wr_id == 78,
	      "the pending receive is flushed: %s", ibv_wc_status_str(wc[0].status));
	CHECK(ibv_query_qp(b, &qattr, IBV_QP_STATE, &qinit) == 0 && qattr.qp_state == IBV_QPS_ERR &&
	      b->state == IBV_QPS_ERR, "ibv_query_qp: ERR");

	/* to RESET: the QP's completions not yet polled leave the CQ (as mlx5
	 * cleans them), another QP's stay. Receives posted in ERR flush at once. */
	CHECK(ibv_modify_qp(a, &qattr, IBV_QP_STATE) == 0, "a to ERR");
	CHECK(post_recv_buf(b, rmr, rbuf, 16, 80) == 0 && post_recv_buf(a, rmr, rbuf, 16, 81) == 0 &&
	      post_recv_buf(b, rmr, rbuf, 16, 82) == 0, "receives posted in ERR");
	usleep(100000);   /* let whatever thread flushes them do it */
	qattr.qp_state = IBV_QPS_RESET;
	CHECK(ibv_modify_qp(b, &qattr, IBV_QP_STATE) == 0, "b to RESET");
	memset(wc, 0, sizeof(wc));
	n = poll_n(cq, wc, 1);
	usleep(100000);
	n += ibv_poll_cq(cq, 2, wc + 1);
	CHECK(n == 1 && wc[0].wr_id == 81 && wc[0].qp_num == a->qp_num &&
	      wc[0].status == IBV_WC_WR_FLUSH_ERR,
	      "after b's RESET only a's flushed receive is left: %d CQEs, the first %llu", n,
	      (unsigned long long)wc[0].wr_id);
	/* Receives taken by the device and dropped by a reset, with no completion:
	 * their ring slots come back (else each such reset shrinks the RQ). */
	{
		struct ibv_qp_attr rs = { .qp_state = IBV_QPS_RESET };
		uint32_t depth = qinit.cap.max_recv_wr;
		int all = to_init(b, acc) == 0;

		for (int round = 0; round < 3 && all; round++) {
			for (uint32_t i = 0; i < depth && all; i++)
				all = post_recv_buf(b, rmr, rbuf, 16, 90 + i) == 0;
			all = all && ibv_modify_qp(b, &rs, IBV_QP_STATE) == 0 && to_init(b, acc) == 0;
		}
		CHECK(all && depth > 0, "a full RQ (%u) reset from INIT three times: refilled each time",
		      depth);
		CHECK(ibv_poll_cq(cq, 4, wc) == 0, "no completion for receives a reset dropped");
	}

	CHECK(ibv_destroy_qp(a) == 0 && ibv_destroy_qp(b) == 0, "ibv_destroy_qp");
	ibv_dereg_mr(smr);
	ibv_dereg_mr(rmr);
	ibv_dereg_mr(dmr);
	ibv_dereg_mr(amr);
	ibv_dereg_mr(omr);
	CHECK(ibv_destroy_cq(cq) == 0, "ibv_destroy_cq");
}

/* ---- ibv_wr_* and ibv_cq_ex ------------------------------------------------------------------ */

static void test_qp_ex(void)
{
	static char sbuf[256], rbuf[256];
	struct ibv_cq_init_attr_ex cqa = { .cqe = 16, .wc_flags = IBV_WC_STANDARD_FLAGS };
	struct ibv_qp_init_attr_ex qa;
	struct ibv_cq_ex *cqx = ibv_create_cq_ex(ctx, &cqa);
	struct ibv_poll_cq_attr pa = { 0 };
	struct ibv_qp *a, *b;
	struct ibv_qp_ex *qx;
	struct ibv_mr *smr, *rmr;
	int found = 0, ret, n = 0;
	double end;

	CHECK(cqx != NULL, "ibv_create_cq_ex");
	if (!cqx)
		return;
	memset(&qa, 0, sizeof(qa));
	qa.send_cq = qa.recv_cq = ibv_cq_ex_to_cq(cqx);
	qa.cap.max_send_wr = qa.cap.max_recv_wr = 8;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	qa.cap.max_inline_data = 32;
	qa.qp_type = IBV_QPT_RC;
	qa.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	qa.pd = pd;
	qa.send_ops_flags = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_RDMA_WRITE;
	a = ibv_create_qp_ex(ctx, &qa);
	b = ibv_create_qp_ex(ctx, &qa);
	CHECK(a && b, "ibv_create_qp_ex with send ops");
	if (!a || !b)
		return;
	qx = ibv_qp_to_qp_ex(a);
	CHECK(qx != NULL, "ibv_qp_to_qp_ex");
	smr = ibv_reg_mr(pd, sbuf, sizeof(sbuf), IBV_ACCESS_LOCAL_WRITE);
	rmr = ibv_reg_mr(pd, rbuf, sizeof(rbuf), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	CHECK(connect_pair(a, b, IBV_ACCESS_REMOTE_WRITE) == 0, "pair to RTS");
	strcpy(sbuf, "via ibv_wr_send");
	post_recv_buf(b, rmr, rbuf, sizeof(rbuf), 50);

	ibv_wr_start(qx);
	qx->wr_id = 60;
	qx->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_send(qx);
	ibv_wr_set_sge(qx, smr->lkey, (uintptr_t)sbuf, 16);
	qx->wr_id = 61;
	ibv_wr_rdma_write(qx, rmr->rkey, (uintptr_t)rbuf + 128);
	ibv_wr_set_inline_data(qx, "inline write", 13);
	CHECK(ibv_wr_complete(qx) == 0, "ibv_wr_complete of send + inline write");

	end = now_s() + 5;
	while (n < 3 && now_s() < end) {
		ret = ibv_start_poll(cqx, &pa);
		if (ret == ENOENT)
			continue;
		do {
			n++;
			if (cqx->status == IBV_WC_SUCCESS) {
				if (cqx->wr_id == 50 && ibv_wc_read_opcode(cqx) == IBV_WC_RECV &&
				    ibv_wc_read_byte_len(cqx) == 16 &&
				    ibv_wc_read_qp_num(cqx) == b->qp_num)
					found |= 1;
				if (cqx->wr_id == 60 && ibv_wc_read_opcode(cqx) == IBV_WC_SEND)
					found |= 2;
				if (cqx->wr_id == 61 && ibv_wc_read_opcode(cqx) == IBV_WC_RDMA_WRITE)
					found |= 4;
			}
		} while (ibv_next_poll(cqx) == 0);
		ibv_end_poll(cqx);
	}
	CHECK(n == 3 && found == 7, "extended CQ: three completions (%d, mask %d)", n, found);
	CHECK(strcmp(rbuf, "via ibv_wr_send") == 0 && strcmp(rbuf + 128, "inline write") == 0,
	      "payloads of the batch");
	CHECK(ibv_start_poll(cqx, &pa) == ENOENT, "ibv_start_poll on an empty CQ: ENOENT");

	ibv_wr_start(qx);
	qx->wr_id = 62;
	ibv_wr_send(qx);
	ibv_wr_set_inline_data(qx, sbuf, 200);  /* beyond max_inline_data */
	CHECK(ibv_wr_complete(qx) == EINVAL, "batch with too long inline data: EINVAL");
	ibv_wr_start(qx);
	ibv_wr_send(qx);
	ibv_wr_abort(qx);
	CHECK(ibv_start_poll(cqx, &pa) == ENOENT, "nothing posted by the failed or aborted batch");

	ibv_destroy_qp(a);
	ibv_destroy_qp(b);
	ibv_dereg_mr(smr);
	ibv_dereg_mr(rmr);
	CHECK(ibv_destroy_cq(ibv_cq_ex_to_cq(cqx)) == 0, "destroy the extended CQ");
}

/* ---- completion channel ----------------------------------------------------------------------- */

static void test_channel(void)
{
	static char buf[64];
	struct ibv_comp_channel *ch = ibv_create_comp_channel(ctx);
	struct ibv_cq *cq, *ev_cq = NULL;
	struct ibv_qp *a, *b;
	struct ibv_mr *mr;
	struct ibv_sge sg;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc[2];
	void *ev_ctx = NULL;
	struct pollfd p;
	const char *pt = getenv("SOFTHCA_PROGRESS_THREAD");
	int inline_only = pt && strcmp(pt, "0") == 0;
	int flags, readable = 0, got = 0;
	double end;

	CHECK(ch && ch->fd >= 0, "ibv_create_comp_channel (fd %d)", ch ? ch->fd : -1);
	if (!ch)
		return;
	cq = ibv_create_cq(ctx, 8, (void *)0x1234, ch, 0);
	CHECK(cq && cq->channel == ch, "CQ on the channel");
	CHECK(ibv_destroy_comp_channel(ch) == EBUSY, "destroying a channel in use: EBUSY");
	a = make_qp(IBV_QPT_RC, cq, NULL);
	b = make_qp(IBV_QPT_RC, cq, NULL);
	mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	CHECK(a && b && mr && connect_pair(a, b, 0) == 0, "pair on the channel's CQ");
	if (!a || !b || !mr)
		return;
	CHECK(ibv_req_notify_cq(cq, 0) == 0, "ibv_req_notify_cq");
	flags = fcntl(ch->fd, F_GETFL);
	fcntl(ch->fd, F_SETFL, flags | O_NONBLOCK);
	CHECK(ibv_get_cq_event(ch, &ev_cq, &ev_ctx) != 0 && errno == EAGAIN,
	      "no event yet: EAGAIN on a non-blocking channel");
	fcntl(ch->fd, F_SETFL, flags);

	post_recv_buf(b, mr, buf + 32, 32, 1);
	sg.addr = (uintptr_t)buf;
	sg.length = 8;
	sg.lkey = mr->lkey;
	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &sg;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	ibv_post_send(a, &wr, &bad);
	p.fd = ch->fd;
	p.events = POLLIN;
	/* Without a progress thread only polling drives the device: poll the CQ
	 * while waiting, as such a program must. */
	for (end = now_s() + 5; now_s() < end; ) {
		readable = poll(&p, 1, inline_only ? 1 : 5000) == 1;
		if (readable)
			break;
		if (inline_only && got < 2)
			got += ibv_poll_cq(cq, 2 - got, wc + got);
	}
	CHECK(readable, "the channel fd becomes readable");
	CHECK(ibv_get_cq_event(ch, &ev_cq, &ev_ctx) == 0 && ev_cq == cq && ev_ctx == (void *)0x1234,
	      "ibv_get_cq_event returns the CQ and its context");
	ibv_ack_cq_events(cq, 1);
	CHECK(got + poll_n(cq, wc + got, 2 - got) == 2, "the completions behind the event");
	ibv_destroy_qp(a);
	ibv_destroy_qp(b);
	ibv_dereg_mr(mr);
	CHECK(ibv_destroy_cq(cq) == 0, "destroy the CQ after acking its event");
	CHECK(ibv_destroy_comp_channel(ch) == 0, "ibv_destroy_comp_channel");
}

/* ---- SRQ -------------------------------------------------------------------------------------- */

static void test_srq(void)
{
	static char buf[256];
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 16, .max_sge = 1, .srq_limit = 0 } };
	struct ibv_srq_attr q;
	struct ibv_srq *srq = ibv_create_srq(pd, &sa);
	struct ibv_cq *cq = ibv_create_cq(ctx, 32, NULL, NULL, 0);
	struct ibv_qp *a, *b;
	struct ibv_mr *mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	struct ibv_sge sg = { (uintptr_t)buf, 64, mr ? mr->lkey : 0 };
	struct ibv_recv_wr rw = { .wr_id = 88, .sg_list = &sg, .num_sge = 1 }, *rbad;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc[2];
	int n;

	CHECK(srq && sa.attr.max_wr >= 16, "ibv_create_srq (max_wr %u)", sa.attr.max_wr);
	if (!srq || !cq || !mr)
		return;
	CHECK(ibv_query_srq(srq, &q) == 0 && q.max_wr >= 16, "ibv_query_srq");
	q.srq_limit = 2;
	CHECK(ibv_modify_srq(srq, &q, IBV_SRQ_LIMIT) == 0, "ibv_modify_srq limit");
	CHECK(ibv_modify_srq(srq, &q, IBV_SRQ_MAX_WR) == EOPNOTSUPP, "SRQ resize: EOPNOTSUPP");
	a = make_qp(IBV_QPT_RC, cq, NULL);
	b = make_qp(IBV_QPT_RC, cq, srq);
	CHECK(a && b && connect_pair(a, b, 0) == 0, "pair with an SRQ on the receiver");
	if (!a || !b)
		return;
	CHECK(ibv_post_recv(b, &rw, &rbad) == EINVAL, "post_recv to a QP with an SRQ: EINVAL");
	for (int i = 0; i < 4; i++)
		CHECK(ibv_post_srq_recv(srq, &rw, &rbad) == 0, "ibv_post_srq_recv %d", i);
	sg.addr = (uintptr_t)buf + 128;
	memcpy(buf + 128, "srq!", 5);
	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &sg;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	n = ibv_post_send(a, &wr, &bad) == 0 ? poll_n(cq, wc, 2) : -1;
	CHECK(n == 2, "send to the SRQ");
	CHECK((wc[0].wr_id == 88 || wc[1].wr_id == 88) && memcmp(buf, "srq!", 5) == 0,
	      "received through the SRQ");
	/* Two more leave one receive, below the limit of 2: SRQ_LIMIT_REACHED. */
	for (int i = 0; i < 2; i++) {
		n = ibv_post_send(a, &wr, &bad) == 0 ? poll_n(cq, wc, 2) : -1;
		CHECK(n == 2, "send %d more to the SRQ", i + 1);
	}
	{
		struct ibv_async_event ev;
		int fl = fcntl(ctx->async_fd, F_GETFL);
		double end = now_s() + 5;
		int got = -1;

		fcntl(ctx->async_fd, F_SETFL, fl | O_NONBLOCK);
		while (now_s() < end && (got = ibv_get_async_event(ctx, &ev)) != 0)
			;
		fcntl(ctx->async_fd, F_SETFL, fl);
		CHECK(got == 0 && ev.event_type == IBV_EVENT_SRQ_LIMIT_REACHED &&
		      ev.element.srq == srq, "async event: %s",
		      got == 0 ? ibv_event_type_str(ev.event_type) : "none");
		if (got == 0)
			ibv_ack_async_event(&ev);
	}
	/* A reset keeps the receive CQEs of a QP with an SRQ: they name SRQ buffers
	 * used, which the program must hear of to post them again. */
	{
		double end = now_s() + 20;
		struct ibv_qp_attr rs = { .qp_state = IBV_QPS_RESET };
		int recv = 0;

		memset(buf, 0, 8);
		memcpy(buf + 128, "srq2", 5);
		CHECK(ibv_post_send(a, &wr, &bad) == 0, "one more SEND to the SRQ");
		while (memcmp(buf, "srq2", 5) && now_s() < end)
			usleep(1000);   /* the progress thread takes it in (valgrind: let it run) */
		CHECK(memcmp(buf, "srq2", 5) == 0, "the SEND arrived");
		CHECK(ibv_modify_qp(b, &rs, IBV_QP_STATE) == 0, "reset the SRQ's QP");
		n = poll_n(cq, wc, 2);
		for (int i = 0; i < n; i++)
			recv += wc[i].opcode == IBV_WC_RECV && wc[i].wr_id == 88 &&
				wc[i].qp_num == b->qp_num && wc[i].status == IBV_WC_SUCCESS;
		CHECK(recv == 1, "the SRQ receive's CQE outlived the reset (%d CQEs)", n);
	}
	CHECK(ibv_destroy_srq(srq) == EBUSY, "destroying an SRQ in use: EBUSY");
	ibv_destroy_qp(a);
	ibv_destroy_qp(b);
	CHECK(ibv_destroy_srq(srq) == 0, "ibv_destroy_srq");
	ibv_dereg_mr(mr);
	ibv_destroy_cq(cq);
}

/* ---- UD and address handles --------------------------------------------------------------------- */

static void test_ud(void)
{
	static char buf[2048];
	struct ibv_cq *cq = ibv_create_cq(ctx, 32, NULL, NULL, 0);
	struct ibv_qp *a = make_qp(IBV_QPT_UD, cq, NULL), *b = make_qp(IBV_QPT_UD, cq, NULL);
	struct ibv_mr *mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	struct ibv_ah_attr aa;
	struct ibv_ah *ah, *back;
	struct ibv_sge sg;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc[2], *rw;

	CHECK(cq && a && b && mr, "UD QPs");
	if (!cq || !a || !b || !mr)
		return;
	CHECK(to_init(a, 0) == 0 && to_init(b, 0) == 0 && to_rtr(a, 0) == 0 && to_rtr(b, 0) == 0 &&
	      to_rts(a) == 0 && to_rts(b) == 0, "UD QPs to RTS");
	memset(&aa, 0, sizeof(aa));
	aa.port_num = 1;
	errno = 0;
	CHECK(!ibv_create_ah(pd, &aa) && errno == EINVAL, "AH without a GRH on RoCE: EINVAL");
	aa.is_global = 1;
	aa.grh.dgid = gid0;
	aa.grh.hop_limit = 64;
	ah = ibv_create_ah(pd, &aa);
	CHECK(ah != NULL, "ibv_create_ah");
	if (!ah)
		return;
	post_recv_buf(b, mr, buf, 1024 + 40, 5);
	memcpy(buf + 1500, "datagram", 9);
	sg.addr = (uintptr_t)buf + 1500;
	sg.length = 9;
	sg.lkey = mr->lkey;
	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &sg;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.ud.ah = ah;
	wr.wr.ud.remote_qpn = b->qp_num;
	wr.wr.ud.remote_qkey = 0x11111111;
	CHECK(ibv_post_send(a, &wr, &bad) == 0 && poll_n(cq, wc, 2) == 2, "UD send");
	rw = wc[0].opcode == IBV_WC_RECV ? &wc[0] : &wc[1];
	CHECK(rw->status == IBV_WC_SUCCESS && (rw->wc_flags & IBV_WC_GRH) &&
	      rw->byte_len == 9 + 40 && rw->src_qp == a->qp_num &&
	      memcmp(buf + 40, "datagram", 9) == 0, "UD receive with a GRH from QP %u",
	      rw->src_qp);
	CHECK(ibv_init_ah_from_wc(ctx, 1, rw, (struct ibv_grh *)buf, &aa) == 0 &&
	      aa.is_global && memcmp(aa.grh.dgid.raw, gid0.raw, 16) == 0 &&
	      aa.grh.sgid_index == 0, "ibv_init_ah_from_wc");
	back = ibv_create_ah_from_wc(pd, rw, (struct ibv_grh *)buf, 1);
	CHECK(back != NULL, "ibv_create_ah_from_wc");

	/* UD post-time errors */
	wr.opcode = IBV_WR_RDMA_WRITE;
	CHECK(ibv_post_send(a, &wr, &bad) == EINVAL && bad == &wr, "RDMA WRITE on UD: EINVAL");
	wr.opcode = IBV_WR_SEND;
	sg.length = 2000;
	{
		struct ibv_port_attr pa;

		ibv_query_port(ctx, 1, &pa);
		if (pa.active_mtu < IBV_MTU_2048)
			CHECK(ibv_post_send(a, &wr, &bad) == EINVAL,
			      "UD message beyond the MTU: EINVAL");
	}
	if (back)
		CHECK(ibv_destroy_ah(back) == 0, "destroy AH from WC");
	CHECK(ibv_destroy_ah(ah) == 0, "ibv_destroy_ah");
	ibv_destroy_qp(a);
	ibv_destroy_qp(b);
	ibv_dereg_mr(mr);
	ibv_destroy_cq(cq);
}

/* ---- memory windows ----------------------------------------------------------------------- */

static void test_mw(void)
{
	static char local[64], remote[256];
	struct ibv_cq *cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	struct ibv_qp *a = make_qp(IBV_QPT_RC, cq, NULL), *b = make_qp(IBV_QPT_RC, cq, NULL);
	struct ibv_mr *lmr = ibv_reg_mr(pd, local, sizeof(local), IBV_ACCESS_LOCAL_WRITE);
	struct ibv_mr *rmr = ibv_reg_mr(pd, remote, sizeof(remote),
					IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
					IBV_ACCESS_MW_BIND);
	struct ibv_mw *mw = ibv_alloc_mw(pd, IBV_MW_TYPE_1);
	struct ibv_mw_bind bind;
	struct ibv_sge sg;
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc[2];
	uint32_t old_rkey;
	int n;

	CHECK(cq && a && b && lmr && rmr && mw, "MW objects (rkey %#x)", mw ? mw->rkey : 0);
	if (!cq || !a || !b || !lmr || !rmr || !mw)
		return;
	CHECK(connect_pair(a, b, IBV_ACCESS_REMOTE_WRITE) == 0, "pair to RTS");
	memset(&bind, 0, sizeof(bind));
	bind.wr_id = 31;
	bind.send_flags = IBV_SEND_SIGNALED;
	bind.bind_info.mr = rmr;
	bind.bind_info.addr = (uintptr_t)remote + 64;
	bind.bind_info.length = 64;
	/* Local write means nothing for a window; programs pass it all the same. */
	bind.bind_info.mw_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE;
	old_rkey = mw->rkey;
	CHECK(ibv_bind_mw(b, mw, &bind) == 0 && mw->rkey != old_rkey, "ibv_bind_mw type 1");
	CHECK(poll_n(cq, wc, 1) == 1 && wc[0].wr_id == 31 && wc[0].opcode == IBV_WC_BIND_MW &&
	      wc[0].status == IBV_WC_SUCCESS, "bind completion");
	memcpy(local, "through the window", 19);
	sg.addr = (uintptr_t)local;
	sg.length = 19;
	sg.lkey = lmr->lkey;
	memset(&wr, 0, sizeof(wr));
	wr.sg_list = &sg;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = (uintptr_t)remote + 64;
	wr.wr.rdma.rkey = mw->rkey;
	CHECK(ibv_post_send(a, &wr, &bad) == 0 && poll_n(cq, wc, 1) == 1 &&
	      wc[0].status == IBV_WC_SUCCESS && memcmp(remote + 64, local, 19) == 0,
	      "RDMA WRITE through the window");
	wr.wr.rdma.remote_addr = (uintptr_t)remote;     /* outside the window */
	memset(wc, 0, sizeof(wc));
	n = ibv_post_send(a, &wr, &bad) == 0 ? poll_n(cq, wc, 1) : -1;
	CHECK(n == 1 && wc[0].status == IBV_WC_REM_ACCESS_ERR, "outside the window: %s",
	      ibv_wc_status_str(wc[0].status));
	CHECK(ibv_dereg_mr(rmr) == EBUSY, "deregistering an MR with a bound window: EBUSY");
	ibv_destroy_qp(a);
	ibv_destroy_qp(b);
	CHECK(ibv_dealloc_mw(mw) == 0, "ibv_dealloc_mw");
	CHECK(ibv_dereg_mr(rmr) == 0, "then the MR goes");
	ibv_dereg_mr(lmr);
	ibv_destroy_cq(cq);
}

/* ---- what needs no device ------------------------------------------------------------------- */

static void test_misc(void)
{
	CHECK(strcmp(ibv_wc_status_str(IBV_WC_SUCCESS), "success") == 0 &&
	      strcmp(ibv_wc_status_str((enum ibv_wc_status)999), "unknown") == 0,
	      "ibv_wc_status_str");
	CHECK(strcmp(ibv_port_state_str(IBV_PORT_ACTIVE), "active") == 0, "ibv_port_state_str");
	CHECK(strcmp(ibv_node_type_str(IBV_NODE_CA), "InfiniBand channel adapter") == 0,
	      "ibv_node_type_str");
	CHECK(strcmp(ibv_event_type_str(IBV_EVENT_PORT_ACTIVE), "port active") == 0,
	      "ibv_event_type_str");
	CHECK(ibv_rate_to_mult(IBV_RATE_10_GBPS) == 4 && mult_to_ibv_rate(4) == IBV_RATE_10_GBPS &&
	      ibv_rate_to_mbps(IBV_RATE_100_GBPS) == 103125 &&
	      mbps_to_ibv_rate(25781) == IBV_RATE_25_GBPS, "rate conversions");
	CHECK(ibv_fork_init() == 0 && ibv_is_fork_initialized() == IBV_FORK_UNNEEDED,
	      "fork: not needed");
}

int main(void)
{
	struct ibv_device **list = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_misc();
	test_device_list(&list);
	if (list && list[0]) {
		ctx = ibv_open_device(list[0]);
		CHECK(ctx != NULL, "ibv_open_device: %s", ctx ? "ok" : strerror(errno));
	}
	if (ctx) {
		pd = ibv_alloc_pd(ctx);
		CHECK(pd != NULL, "ibv_alloc_pd");
	}
	if (ctx) {
		int fd = ctx->cmd_fd >= 0 ? dup(ctx->cmd_fd) : -1;

		CHECK(fd >= 0 && ctx->async_fd >= 0, "the context has command and async fds");
		if (fd >= 0)
			close(fd);
	}
	if (ctx && pd) {
		test_queries();
		test_mr_and_errors();
		test_rc_traffic();
		test_qp_ex();
		test_channel();
		test_srq();
		test_ud();
		test_mw();
		CHECK(ibv_dealloc_pd(pd) == 0, "ibv_dealloc_pd");
	}
	if (ctx)
		CHECK(ibv_close_device(ctx) == 0, "ibv_close_device");
	if (list && list[0]) {
		/* The device can be opened again after its last context closed. */
		ctx = ibv_open_device(list[0]);
		CHECK(ctx && ibv_close_device(ctx) == 0, "open and close again");
	}
	ibv_free_device_list(list);
	printf("verbs_api: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
