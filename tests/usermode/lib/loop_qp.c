/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* tests/usermode/lib/loop_qp.c - see loop_qp.h. */
#include <stdio.h>
#include <string.h>

#include "loop_qp.h"

struct ibv_context *loop_open_device(union ibv_gid *gid)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = NULL;

	if (!list || !list[0]) {
		fprintf(stderr, "no verbs device: run me under softhca run\n");
	} else if (!(ctx = ibv_open_device(list[0]))) {
		fprintf(stderr, "cannot open %s\n", ibv_get_device_name(list[0]));
	} else if (ibv_query_gid(ctx, 1, 0, gid)) {
		fprintf(stderr, "cannot read GID 0 of %s\n", ibv_get_device_name(list[0]));
		ibv_close_device(ctx);
		ctx = NULL;
	}
	if (list)
		ibv_free_device_list(list);
	return ctx;
}

struct ibv_qp *loop_qp_create(struct ibv_pd *pd, struct ibv_cq *send_cq, struct ibv_cq *recv_cq,
			      struct ibv_srq *srq, uint32_t max_send, uint32_t max_recv)
{
	struct ibv_qp_init_attr ia;

	memset(&ia, 0, sizeof(ia));
	ia.send_cq = send_cq;
	ia.recv_cq = recv_cq;
	ia.srq = srq;
	ia.qp_type = IBV_QPT_RC;
	ia.cap.max_send_wr = max_send;
	ia.cap.max_recv_wr = srq ? 0 : max_recv;
	ia.cap.max_send_sge = 1;
	ia.cap.max_recv_sge = srq ? 0 : 1;
	return ibv_create_qp(pd, &ia);
}

int loop_qp_to_rts(struct ibv_qp *qp, uint32_t dest_qpn, const union ibv_gid *gid,
		   unsigned int access, uint8_t rd_atomic)
{
	struct ibv_qp_attr a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = access;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			    IBV_QP_ACCESS_FLAGS);
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = dest_qpn;
	a.max_dest_rd_atomic = rd_atomic;
	a.min_rnr_timer = 1;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = *gid;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = 1;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			    IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			    IBV_QP_MIN_RNR_TIMER);
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = rd_atomic;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}
