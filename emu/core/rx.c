/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Receive: every datagram from the host is validated here before any part of the
 * transport sees it (IBA 9.6 header validation, RoCEv2 ICRC), then handed to the
 * responder (requests) or the completer (responses) of its QP.
 */
#include "internal.h"

static bool local_gid(const struct emu_dev *dev, const uint8_t gid[16])
{
	for (uint32_t i = 0; i < EMU_GID_TABLE_LEN; i++)
		if (dev->gid_valid[i] && emu_memeq(dev->gid[i], gid, 16))
			return true;
	return false;
}

static bool class_matches(uint32_t qp_type, uint8_t opcode)
{
	switch (opcode & OPC_CLASS_MASK) {
	case OPC_RC:
		return qp_type == EMU_QPT_RC;
	case OPC_UC:
		return qp_type == EMU_QPT_UC;
	case OPC_UD:
		return qp_type == EMU_QPT_UD;
	default:
		return false;
	}
}

/* Requests are taken from RTR on; responses only by a requester that sends. */
static bool state_accepts(const struct emu_qp *qp, const struct emu_pkt *pkt)
{
	if (pkt->mask & OPM_RESP)
		return qp->state == EMU_QPS_RTS || qp->state == EMU_QPS_SQD ||
		       qp->state == EMU_QPS_SQE;
	return qp->state >= EMU_QPS_RTR && qp->state <= EMU_QPS_SQE;
}

/* Connected QPs take packets from their peer only. */
static bool from_peer(const struct emu_qp *qp, const struct emu_netinfo *ni)
{
	if (qp->type == EMU_QPT_UD)
		return true;
	return emu_memeq(ni->src, qp->attr.ah_attr.dgid, 16);
}

static struct emu_qp *validate(struct emu_dev *dev, const struct emu_netinfo *ni,
			       const uint8_t *buf, size_t len, struct emu_pkt *pkt)
{
	enum emu_drop_reason why;
	struct emu_qp *qp;
	uint32_t mtu;

	if (!emu_pkt_parse(buf, len, pkt, &why)) {
		emu_count_drop(dev, NULL, why, len ? buf[0] : 0, 0);
		return NULL;
	}
	if (!emu_icrc_check(&dev->ops, ni, buf, len)) {
		emu_count_drop(dev, NULL, EMU_DROP_ICRC, pkt->opcode, pkt->psn);
		return NULL;
	}
	if (!local_gid(dev, ni->dst)) {
		emu_count_drop(dev, NULL, EMU_DROP_DGID, pkt->opcode, pkt->psn);
		return NULL;
	}
	if ((pkt->pkey & 0x7fff) != (EMU_PKEY_DEFAULT & 0x7fff)) {
		emu_count_drop(dev, NULL, EMU_DROP_PKEY, pkt->opcode, pkt->psn);
		return NULL;
	}
	if (pkt->dqpn == PSN_MASK) {
		emu_count_drop(dev, NULL, EMU_DROP_MCAST, pkt->opcode, pkt->psn);
		return NULL;
	}
	qp = emu_qp_lookup(dev, pkt->dqpn);
	if (!qp || !from_peer(qp, ni)) {
		emu_count_drop(dev, NULL, EMU_DROP_QPN, pkt->opcode, pkt->psn);
		return NULL;
	}
	if (!class_matches(qp->type, pkt->opcode)) {
		emu_count_drop(dev, qp, EMU_DROP_QP_TYPE, pkt->opcode, pkt->psn);
		return NULL;
	}
	if (!state_accepts(qp, pkt)) {
		emu_count_drop(dev, qp, EMU_DROP_QP_STATE, pkt->opcode, pkt->psn);
		return NULL;
	}
	mtu = qp->type == EMU_QPT_UD ? emu_mtu_bytes(dev->active_mtu) : qp->mtu;
	if (pkt->paylen > mtu) {
		emu_count_drop(dev, qp, EMU_DROP_LENGTH, pkt->opcode, pkt->psn);
		return NULL;
	}
	return qp;
}

void emu_dev_rx(struct emu_dev *dev, const struct emu_netinfo *ni, const void *data, size_t len)
{
	const uint8_t *buf = data;
	struct emu_pkt pkt;
	struct emu_qp *qp;

	if (!dev || !ni || (!buf && len))
		return;
	dev->cnt.rx_packets++;
	dev->cnt.rx_bytes += len;
	if (dev->port_state != EMU_PORT_ACTIVE)
		return;
	qp = validate(dev, ni, buf, len, &pkt);
	if (!qp)
		return;
	qp->cnt.rx_packets++;
	qp->cnt.rx_bytes += len;
	emu_trace(dev, EMU_TR_RX, pkt.opcode, qp->qpn, pkt.psn, 0, pkt.paylen, 0);
	if (pkt.mask & OPM_RESP) {
		if (qp->type != EMU_QPT_RC) {
			emu_count_drop(dev, qp, EMU_DROP_QP_TYPE, pkt.opcode, pkt.psn);
			return;
		}
		emu_comp_rx(qp, &pkt);
	} else {
		emu_resp_rx(qp, &pkt, ni);
	}
}
