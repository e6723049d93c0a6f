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

#endif
