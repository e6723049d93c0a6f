/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Packet transmission shared by requester and responder: addressing from the
 * QP's path, header encoding, payload fill, ICRC, hand-off to the host.
 */
#include "internal.h"

void emu_qp_netinfo(const struct emu_qp *qp, const struct emu_ah_attr *av,
		    struct emu_netinfo *ni)
{
	const struct emu_dev *dev = qp->dev;
	const uint8_t *sgid = dev->gid[av->sgid_index < EMU_GID_TABLE_LEN ? av->sgid_index : 0];

	emu_memset(ni, 0, sizeof(*ni));
	ni->ip_version = emu_gid_is_ipv4(sgid) ? 4 : 6;
	ni->tos = av->traffic_class;
	ni->ttl = av->hop_limit ? av->hop_limit : 64;
	ni->ip_id = 0;
	ni->frag_off = 0x4000;       /* DF: RoCEv2 packets are never fragmented */
	ni->flow_label = av->flow_label & 0xfffff;
	ni->udp_sport = qp->udp_sport;
	ni->udp_dport = ROCE_V2_UDP_DPORT;
	emu_memcpy_small(ni->src, sgid, 16);
	emu_memcpy_small(ni->dst, av->dgid, 16);
}

static void abandon_buffer(struct emu_dev *dev, void *buf)
{
	if (dev->ops.tx_abort)
		dev->ops.tx_abort(dev->ops.host, buf);
	else
		dev->ops.free(dev->ops.host, buf);
}

enum mem_result emu_send_pkt_av(struct emu_qp *qp, const struct emu_ah_attr *av,
				struct emu_pkt *pkt, uint32_t paylen, emu_fill_fn fill,
				void *ctx, uint64_t wr_index)
{
	struct emu_dev *dev = qp->dev;
	struct emu_netinfo ni;
	uint32_t hdr_len = emu_opcodes[pkt->opcode].hdr_len;
	uint32_t pad = emu_pad_len(paylen);
	size_t total = hdr_len + paylen + pad + ICRC_BYTES;
	uint8_t *buf;

	pkt->pad = (uint8_t)pad;
	pkt->pkey = EMU_PKEY_DEFAULT;
	pkt->tver = 0;
	buf = dev->ops.tx_buf(dev->ops.host, total);
	if (!buf) {
		/* No buffer is a packet lost on the wire: the transport recovers. */
		return MEM_OK;
	}
	emu_pkt_build_hdr(buf, pkt);
	if (paylen) {
		enum mem_result r = fill(ctx, buf + hdr_len, paylen);

		if (r != MEM_OK) {
			abandon_buffer(dev, buf);
			return r;
		}
	}
	for (uint32_t i = 0; i < pad; i++)
		buf[hdr_len + paylen + i] = 0;
	emu_qp_netinfo(qp, av, &ni);
	emu_icrc_fill(&dev->ops, &ni, buf, total);
	dev->cnt.tx_packets++;
	dev->cnt.tx_bytes += total;
	qp->cnt.tx_packets++;
	qp->cnt.tx_bytes += total;
	emu_trace(dev, EMU_TR_TX, pkt->opcode, qp->qpn, pkt->psn, wr_index, paylen, pkt->dqpn);
	dev->ops.tx(dev->ops.host, &ni, buf, total);
	return MEM_OK;
}

enum mem_result emu_send_pkt(struct emu_qp *qp, struct emu_pkt *pkt, uint32_t paylen,
			     emu_fill_fn fill, void *ctx, uint64_t wr_index)
{
	pkt->dqpn = qp->attr.dest_qp_num;
	return emu_send_pkt_av(qp, &qp->attr.ah_attr, pkt, paylen, fill, ctx, wr_index);
}
