/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/unit/lib/pcap_read.h - a small reader of classic pcap files (not pcapng)
 * and a decoder of RoCEv2 frames, for known-answer tests.
 *
 * Parsed by hand, so the tests need no libpcap. Both byte orders and both
 * timestamp resolutions of the classic format are accepted.
 */
#ifndef SOFTHCA_TESTS_UNIT_LIB_PCAP_READ_H
#define SOFTHCA_TESTS_UNIT_LIB_PCAP_READ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../../emu/host.h"

#define PCAPR_LINKTYPE_ETHERNET 1

struct pcapr {
	FILE    *file;
	int      swapped;     /* file written on a host of the other byte order */
	uint32_t linktype;
	uint32_t snaplen;
	uint8_t *buf;         /* the current frame */
	size_t   buf_size;
};

/* One frame as stored. caplen < origlen means the capture cut it short. */
struct pcapr_frame {
	const uint8_t *data;  /* valid until the next pcapr_next() or pcapr_close() */
	size_t caplen;
	size_t origlen;
};

/* 0, or -1 with a message on stderr (no such file, not a classic pcap file). */
int  pcapr_open(struct pcapr *r, const char *path);
/* 1: *frame filled; 0: end of file; -1: truncated or corrupt record. */
int  pcapr_next(struct pcapr *r, struct pcapr_frame *frame);
void pcapr_close(struct pcapr *r);

/*
 * Decode an Ethernet frame (at most one 802.1Q tag) carrying IPv4 or IPv6 and UDP
 * into the network metadata the engine sees and the UDP payload (BTH .. ICRC).
 * IPv4 addresses come out IPv4-mapped. Link padding is cut off using the UDP
 * length. Returns 0, or -1 if the frame is not a complete unfragmented UDP datagram
 * (IPv4 options and IPv6 extension headers are not supported).
 */
int pcapr_decode_udp(const uint8_t *frame, size_t len, struct emu_netinfo *ni,
		     const uint8_t **payload, size_t *paylen);

#endif /* SOFTHCA_TESTS_UNIT_LIB_PCAP_READ_H */
