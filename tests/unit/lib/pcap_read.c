/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/unit/lib/pcap_read.c - classic pcap reader and RoCEv2 frame decoder for tests.
 */
#include "pcap_read.h"

#include <stdlib.h>
#include <string.h>

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_GLOBAL_HDR_BYTES 24
#define PCAP_RECORD_HDR_BYTES 16
/* No sane capture of RoCEv2 traffic has bigger frames; guards against garbage. */
#define PCAP_MAX_FRAME (256u * 1024u)

#define ETH_HDR_BYTES   14
#define VLAN_TAG_BYTES  4
#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_IPV6  0x86dd
#define ETHERTYPE_VLAN  0x8100
#define IPV4_HDR_BYTES  20
#define IPV6_HDR_BYTES  40
#define UDP_HDR_BYTES   8
#define IPPROTO_UDP_NUM 17
#define IPV4_MF_OFFSET_MASK 0x3fff   /* more-fragments flag and fragment offset */

static uint32_t rd32(const uint8_t *p, int swapped)
{
	if (swapped)
		return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		       ((uint32_t)p[2] << 8) | p[3];
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The magic is read little-endian; the byte-swapped magic means a big-endian file. */
static int detect_order(const uint8_t *hdr, int *swapped)
{
	uint32_t magic = rd32(hdr, 0);

	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		*swapped = 0;
		return 0;
	}
	magic = rd32(hdr, 1);
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		*swapped = 1;
		return 0;
	}
	return -1;
}

int pcapr_open(struct pcapr *r, const char *path)
{
	uint8_t hdr[PCAP_GLOBAL_HDR_BYTES];

	memset(r, 0, sizeof(*r));
	r->file = fopen(path, "rb");
	if (!r->file) {
		perror(path);
		return -1;
	}
	if (fread(hdr, 1, sizeof(hdr), r->file) != sizeof(hdr) ||
	    detect_order(hdr, &r->swapped) != 0) {
		fprintf(stderr, "%s: not a classic pcap file\n", path);
		pcapr_close(r);
		return -1;
	}
	r->snaplen = rd32(hdr + 16, r->swapped);
	r->linktype = rd32(hdr + 20, r->swapped);
	return 0;
}

static int grow(struct pcapr *r, size_t size)
{
	uint8_t *p;

	if (size <= r->buf_size)
		return 0;
	p = realloc(r->buf, size);
	if (!p)
		return -1;
	r->buf = p;
	r->buf_size = size;
	return 0;
}

int pcapr_next(struct pcapr *r, struct pcapr_frame *frame)
{
	uint8_t rec[PCAP_RECORD_HDR_BYTES];
	size_t got = fread(rec, 1, sizeof(rec), r->file);
	uint32_t caplen;

	if (got == 0 && feof(r->file))
		return 0;
	if (got != sizeof(rec))
		return -1;
	caplen = rd32(rec + 8, r->swapped);
	if (caplen > PCAP_MAX_FRAME || grow(r, caplen ? caplen : 1) != 0)
		return -1;
	if (fread(r->buf, 1, caplen, r->file) != caplen)
		return -1;
	frame->data = r->buf;
	frame->caplen = caplen;
	frame->origlen = rd32(rec + 12, r->swapped);
	return 1;
}

void pcapr_close(struct pcapr *r)
{
	if (r->file)
		fclose(r->file);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

static void map_ipv4(uint8_t out[16], const uint8_t *ipv4)
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, ipv4, 4);
}

/* Returns the UDP datagram length the IP header announces, or 0 if unusable. */
static size_t decode_ipv4(const uint8_t *ip, size_t len, struct emu_netinfo *ni)
{
	size_t total;

	if (len < IPV4_HDR_BYTES || ip[0] != 0x45 || ip[9] != IPPROTO_UDP_NUM)
		return 0;
	total = be16(ip + 2);
	if (total < IPV4_HDR_BYTES + UDP_HDR_BYTES || total > len)
		return 0;
	ni->ip_version = 4;
	ni->tos = ip[1];
	ni->ip_id = be16(ip + 4);
	ni->frag_off = be16(ip + 6);
	if (ni->frag_off & IPV4_MF_OFFSET_MASK)
		return 0;
	ni->ttl = ip[8];
	map_ipv4(ni->src, ip + 12);
	map_ipv4(ni->dst, ip + 16);
	return total - IPV4_HDR_BYTES;
}

static size_t decode_ipv6(const uint8_t *ip, size_t len, struct emu_netinfo *ni)
{
	uint32_t first = be32(ip);
	size_t plen;

	if (len < IPV6_HDR_BYTES || (first >> 28) != 6 || ip[6] != IPPROTO_UDP_NUM)
		return 0;
	plen = be16(ip + 4);
	if (plen < UDP_HDR_BYTES || plen > len - IPV6_HDR_BYTES)
		return 0;
	ni->ip_version = 6;
	ni->tos = (uint8_t)(first >> 20);
	ni->flow_label = first & 0xfffff;
	ni->ttl = ip[7];
	memcpy(ni->src, ip + 8, 16);
	memcpy(ni->dst, ip + 24, 16);
	return plen;
}

int pcapr_decode_udp(const uint8_t *frame, size_t len, struct emu_netinfo *ni,
		     const uint8_t **payload, size_t *paylen)
{
	size_t off = ETH_HDR_BYTES, ip_hdr, udp_len;
	uint16_t type;

	memset(ni, 0, sizeof(*ni));
	if (len < ETH_HDR_BYTES)
		return -1;
	type = be16(frame + 12);
	if (type == ETHERTYPE_VLAN) {
		if (len < ETH_HDR_BYTES + VLAN_TAG_BYTES)
			return -1;
		type = be16(frame + 16);
		off += VLAN_TAG_BYTES;
	}
	if (type == ETHERTYPE_IPV4) {
		udp_len = decode_ipv4(frame + off, len - off, ni);
		ip_hdr = IPV4_HDR_BYTES;
	} else if (type == ETHERTYPE_IPV6) {
		udp_len = decode_ipv6(frame + off, len - off, ni);
		ip_hdr = IPV6_HDR_BYTES;
	} else {
		return -1;
	}
	if (udp_len < UDP_HDR_BYTES)
		return -1;
	off += ip_hdr;
	/* The UDP length must agree with the IP header's idea of the datagram. */
	if (be16(frame + off + 4) != udp_len)
		return -1;
	ni->udp_sport = be16(frame + off);
	ni->udp_dport = be16(frame + off + 2);
	*payload = frame + off + UDP_HDR_BYTES;
	*paylen = udp_len - UDP_HDR_BYTES;
	return 0;
}
