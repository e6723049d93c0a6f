/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/pcap.c - the capture file of SOFTHCA_PCAP (see pcap.h).
 *
 * The host sends and receives UDP payloads through a socket and never sees the
 * Ethernet, IP and UDP headers the kernel puts around them, so they are rebuilt
 * here from what the socket layer reports, the way a capture on the interface
 * would have shown them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "pcap.h"

#define ETH_HDR_BYTES  14
#define IPV4_HDR_BYTES 20
#define IPV6_HDR_BYTES 40
#define UDP_HDR_BYTES  8
#define MAX_HDR_BYTES  (ETH_HDR_BYTES + IPV6_HDR_BYTES + UDP_HDR_BYTES)
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define IPPROTO_UDP_NUM 17
#define SNAPLEN        65535
#define FLUSH_EVERY_NS 100000000ull
#define FRAME_ON_STACK 4608

struct uh_pcap {
	char *path;
	unsigned refs;
	pcap_t *dead;
	pcap_dumper_t *dumper;
	pthread_mutex_t lock;
	uint64_t last_flush_ns;
	unsigned long long count;
	struct uh_pcap *next;
};

/* Captures open in this process, shared by path. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uh_pcap *registry;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* ---- open / close ---------------------------------------------------------------- */

static struct uh_pcap *find_open(const char *path)
{
	for (struct uh_pcap *p = registry; p; p = p->next)
		if (!strcmp(p->path, path))
			return p;
	return NULL;
}

static int create(const char *path, struct uh_pcap **out, char *err, size_t errlen)
{
	struct uh_pcap *p = calloc(1, sizeof(*p));
	int e;

	if (!p || !(p->path = strdup(path))) {
		free(p);
		snprintf(err, errlen, "capture %s: out of memory", path);
		return -ENOMEM;
	}
	p->dead = pcap_open_dead(DLT_EN10MB, SNAPLEN);
	if (!p->dead) {
		free(p->path);
		free(p);
		snprintf(err, errlen, "capture %s: libpcap could not start", path);
		return -ENOMEM;
	}
	errno = 0;
	p->dumper = pcap_dump_open(p->dead, path);
	if (!p->dumper) {
		e = errno ? errno : EIO;
		snprintf(err, errlen, "capture %s: %s", path, pcap_geterr(p->dead));
		pcap_close(p->dead);
		free(p->path);
		free(p);
		return -e;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->refs = 1;
	p->last_flush_ns = mono_ns();
	p->next = registry;
	registry = p;
	*out = p;
	return 0;
}

int uh_pcap_open(const char *path, struct uh_pcap **out, char *err, size_t errlen)
{
	struct uh_pcap *p;
	int ret = 0;

	if (!path || !*path || !out)
		return -EINVAL;
	pthread_mutex_lock(&registry_lock);
	p = find_open(path);
	if (p) {
		p->refs++;
		*out = p;
	} else {
		ret = create(path, out, err, errlen);
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

void uh_pcap_close(struct uh_pcap *p)
{
	struct uh_pcap **pp;

	if (!p)
		return;
	pthread_mutex_lock(&registry_lock);
	if (--p->refs) {
		pthread_mutex_lock(&p->lock);
		pcap_dump_flush(p->dumper);
		pthread_mutex_unlock(&p->lock);
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	for (pp = &registry; *pp && *pp != p; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = p->next;
	pthread_mutex_unlock(&registry_lock);
	pcap_dump_close(p->dumper);
	pcap_close(p->dead);
	pthread_mutex_destroy(&p->lock);
	free(p->path);
	free(p);
}

unsigned long long uh_pcap_count(struct uh_pcap *p)
{
	unsigned long long n;

	pthread_mutex_lock(&p->lock);
	n = p->count;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* ---- frames ---------------------------------------------------------------------- */

/* 02:00 and the last four address bytes: locally administered, stable, readable. */
static void put_mac(uint8_t *p, const uint8_t addr[16])
{
	p[0] = 0x02;
	p[1] = 0x00;
	memcpy(p + 2, addr + 12, 4);
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t put_ipv4(uint8_t *h, const struct emu_netinfo *ni, size_t udp_len)
{
	h[0] = 0x45;
	h[1] = ni->tos;
	put16(h + 2, (uint16_t)(IPV4_HDR_BYTES + udp_len));
	put16(h + 4, ni->ip_id);
	put16(h + 6, ni->frag_off);
	h[8] = ni->ttl;
	h[9] = IPPROTO_UDP_NUM;
	put16(h + 10, 0);
	memcpy(h + 12, ni->src + 12, 4);
	memcpy(h + 16, ni->dst + 12, 4);
	put16(h + 10, fold(sum16(0, h, IPV4_HDR_BYTES)));
	return IPV4_HDR_BYTES;
}

static size_t put_ipv6(uint8_t *h, const struct emu_netinfo *ni, size_t udp_len)
{
	put32(h, (6u << 28) | ((uint32_t)ni->tos << 20) | (ni->flow_label & 0xfffff));
	put16(h + 4, (uint16_t)udp_len);
	h[6] = IPPROTO_UDP_NUM;
	h[7] = ni->ttl;
	memcpy(h + 8, ni->src, 16);
	memcpy(h + 24, ni->dst, 16);
	return IPV6_HDR_BYTES;
}

/* RFC 8200 8.1: over IPv6 a UDP checksum of 0 is not allowed. */
static uint16_t udp6_checksum(const struct emu_netinfo *ni, const uint8_t *udp,
			      const uint8_t *payload, size_t len, size_t udp_len)
{
	uint8_t pseudo[8] = { 0 };
	uint32_t sum = 0;
	uint16_t c;

	put32(pseudo, (uint32_t)udp_len);
	pseudo[7] = IPPROTO_UDP_NUM;
	sum = sum16(sum, ni->src, 16);
	sum = sum16(sum, ni->dst, 16);
	sum = sum16(sum, pseudo, sizeof(pseudo));
	sum = sum16(sum, udp, UDP_HDR_BYTES);
	sum = sum16(sum, payload, len);
	c = fold(sum);
	return c ? c : 0xffff;
}

/* Headers of the frame into h (MAX_HDR_BYTES); returns their length. */
static size_t build_headers(uint8_t *h, const struct emu_netinfo *ni, const void *payload,
			    size_t len)
{
	size_t udp_len = UDP_HDR_BYTES + len;
	bool v6 = ni->ip_version == 6;
	size_t off;
	uint8_t *udp;

	put_mac(h, ni->dst);
	put_mac(h + 6, ni->src);
	put16(h + 12, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
	off = ETH_HDR_BYTES;
	off += v6 ? put_ipv6(h + off, ni, udp_len) : put_ipv4(h + off, ni, udp_len);
	udp = h + off;
	put16(udp, ni->udp_sport);
	put16(udp + 2, ni->udp_dport);
	put16(udp + 4, (uint16_t)udp_len);
	put16(udp + 6, 0);
	if (v6)
		put16(udp + 6, udp6_checksum(ni, udp, payload, len, udp_len));
	return off + UDP_HDR_BYTES;
}

static void dump_frame(struct uh_pcap *p, const uint8_t *frame, size_t len)
{
	struct pcap_pkthdr hdr;
	struct timeval tv;
	uint64_t now;

	gettimeofday(&tv, NULL);
	hdr.ts = tv;
	hdr.len = (bpf_u_int32)len;
	hdr.caplen = (bpf_u_int32)(len < SNAPLEN ? len : SNAPLEN);
	pthread_mutex_lock(&p->lock);
	pcap_dump((u_char *)p->dumper, &hdr, frame);
	p->count++;
	now = mono_ns();
	if (now - p->last_flush_ns >= FLUSH_EVERY_NS) {
		pcap_dump_flush(p->dumper);
		p->last_flush_ns = now;
	}
	pthread_mutex_unlock(&p->lock);
}

void uh_pcap_write(struct uh_pcap *p, const struct emu_netinfo *ni, const void *payload,
		   size_t len)
{
	uint8_t stack[FRAME_ON_STACK];
	uint8_t *frame = stack;
	size_t hlen;

	if (!p || !ni || (len && !payload) || len > SNAPLEN)
		return;
	if (MAX_HDR_BYTES + len > sizeof(stack)) {
		frame = malloc(MAX_HDR_BYTES + len);
		if (!frame)
			return;
	}
	hlen = build_headers(frame, ni, payload, len);
	if (len)
		memcpy(frame + hlen, payload, len);
	dump_frame(p, frame, hlen + len);
	if (frame != stack)
		free(frame);
}
