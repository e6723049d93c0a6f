/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/lib/loop_qp.h - for the C test programs that connect RC QPs of
 * one device to each other through GID 0 (port 1, MTU 1024, PSNs 0).
 */
#ifndef SOFTHCA_TESTS_USERMODE_LOOP_QP_H
#define SOFTHCA_TESTS_USERMODE_LOOP_QP_H

#include <stdint.h>

#include <infiniband/verbs.h>

/*
 * RESET -> INIT -> RTR -> RTS towards dest_qpn at gid, with these remote access
 * flags and rd_atomic READs/atomics outstanding both ways; timeout 14, retry 7,
 * rnr_retry 7 (ODP: a responder's page fault is an RNR NAK), min_rnr_timer 1
 * (10 us). Returns 0 or what ibv_modify_qp returned.
 */
int loop_qp_to_rts(struct ibv_qp *qp, uint32_t dest_qpn, const union ibv_gid *gid,
		   unsigned int access, uint8_t rd_atomic);

/*
 * The first verbs device (under softhca run: the user-mode one), opened, and its
 * GID 0 in *gid. NULL, with the reason on stderr, when there is none, it cannot
 * be opened or its GID 0 cannot be read.
 */
struct ibv_context *loop_open_device(union ibv_gid *gid);

/*
 * An RC QP with one SGE each way, these CQs, max_send send WRs and, without an
 * SRQ, max_recv receive WRs (with one, its receives come from the SRQ).
 */
struct ibv_qp *loop_qp_create(struct ibv_pd *pd, struct ibv_cq *send_cq, struct ibv_cq *recv_cq,
			      struct ibv_srq *srq, uint32_t max_send, uint32_t max_recv);

#endif
