/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/net.c - one UDP socket per device, batched through io_uring
 * (or sendmmsg/recvmmsg where io_uring is unavailable). See net.h.
 *
 * Send buffers are slots carrying their own msghdr, so a queued datagram needs
 * no other memory; they are recycled through a free list (all under the device
 * lock). The receive ring holds one multishot recvmsg over a ring of provided
 * buffers: datagrams come back in arrival order, one CQE each, with no SQE to
 * re-post per datagram. The multishot request is re-armed by whoever sees it
 * end (out of buffers, or cancelled because the thread that submitted it
 * exited: io_uring runs a request's completion work in the thread that
 * submitted it, interrupting it if it is busy or blocked).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "pcap.h"

/* The largest RoCEv2 UDP payload of a 4096-byte MTU is 4096 + 28 (BTH, RETH)
 * + 4 (ImmDt) + 3 (pad) + 4 (ICRC); the rest is margin. */
#define TX_SLOT_DATA   4352u
#define TX_SLOTS_MAX   8192u     /* in flight at most; beyond, a packet is lost */
#define TX_BATCH       256u      /* datagrams per submission */
#define TX_RING_CQ     4096u
#define RX_PAYLOAD     4352u     /* a bigger datagram is not RoCEv2: rx_short */
#define RX_BUFS        256u      /* provided buffers (power of two) */
#define RX_BUFS_GRO    128u      /* ... of GRO_BYTES each, with UDP_GRO */
#define GRO_BYTES      65536u    /* the largest UDP payload a coalesced datagram has */
#define GSO_SEGS_MAX   64u       /* datagrams per UDP_SEGMENT send (kernel: 64 or 128) */
#define GSO_BYTES_MAX  65000u    /* their total: one IPv4/IPv6 datagram's payload */
#define RX_BGID        1
#define RX_RING_SQ     16u
#define RX_RING_CQ     1024u
#define RX_BATCH       64u       /* recvmmsg */
#define CTRL_BYTES     192u
#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO  11        /* linux/in6.h: receive the flow label (glibc lacks it) */
#endif
#define SOCK_BUF_BYTES (8 << 20)
#define DEFAULT_TTL    64
#define SEND_RETRY_WAIT_MS 10
#define DELTA_CACHE    64u       /* ICRC port corrections remembered (power of two) */

enum { TAG_RX = 1 };   /* user_data of the multishot receive */

struct tx_slot {
	struct tx_slot *next_free;
	struct tx_slot *next_all;
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_storage to;
	union {
		char buf[CMSG_SPACE(sizeof(int)) * 2];
		struct cmsghdr align;
	} ctrl;
	size_t cap;
	/* Its destination takes UDP_SEGMENT sends: a loopback address only. Off
	 * the host, the kernel (or the NIC) cuts the datagrams before the wire,
	 * but numbers their IPv4 IDs 0, 1, 2... while the ICRC assumes 0 (what one
	 * DF datagram from an unconnected socket carries). On loopback nothing
	 * cuts them before a receiver: a UDP_GRO socket takes them whole, any
	 * other socket gets them one by one; a sniffer on lo sees them whole. */
	bool gso_ok;
	uint8_t tos, ttl;          /* what the control messages say */
	struct emu_netinfo wire;   /* as captured (--pcap) when it leaves */
	alignas(64) uint8_t data[];
};

/*
 * Consecutive queued datagrams to one destination, all of one size but the last
 * (which may be shorter), leave as one UDP_SEGMENT send: the kernel cuts the
 * buffer back into exactly these datagrams (on loopback it may even hand the
 * whole to a UDP_GRO receiver in one piece, which cuts it again). Each one is a
 * complete RoCEv2 packet with its own ICRC, as it would have been alone.
 */
struct tx_group {
	struct tx_group *next_free;
	struct tx_group *next_all;
	struct msghdr msg;
	union {
		char buf[CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctrl;
	uint32_t count;
	struct tx_slot *slots[GSO_SEGS_MAX];
	struct iovec iov[GSO_SEGS_MAX];
};

/* One send: a slot alone (tag = the slot) or a group (tag = the group | 1). */
struct tx_unit {
	struct msghdr *msg;
	uintptr_t tag;
	uint32_t segs;
};

/* One remembered ICRC port correction: a QP's packets come in few lengths. */
struct delta_ent {
	uint16_t sport, dport;
	uint32_t len;            /* 0: empty */
	uint32_t delta;
};

struct uh_net {
	int fd;
	int family;
	uint16_t port;
	uint32_t scope_id;
	uint8_t local[16];             /* bound address, IPv4-mapped for IPv4 */
	struct uh_pcap *pcap;
	struct uh_net_stats stats;
	struct delta_ent deltas[DELTA_CACHE];

	/* send slots */
	struct tx_slot *free_slots, *all_slots;
	uint32_t nslots;
	struct tx_slot *queue[TX_BATCH];
	uint32_t nqueued;
	uint32_t held;                 /* the first this many queued are held ACKs */
	struct tx_group *free_groups, *all_groups;
	struct tx_unit units[TX_BATCH];
	bool gso;                      /* UDP_SEGMENT sends */
	bool gro;                      /* UDP_GRO receives: buffers of GRO_BYTES */
	size_t rx_payload;             /* receive buffer payload room */
	unsigned rx_nbufs;             /* provided buffers (power of two) */

	bool uring;                    /* sends through io_uring */
	bool rx_uring;                 /* ... and receives (SOFTHCA_NET_RX=uring) */
	/* io_uring back end */
	struct io_uring txr, rxr;
	bool txr_up, rxr_up;
	struct io_uring_buf_ring *br;
	uint8_t *rx_bufs;
	size_t rx_buf_size;
	struct msghdr rx_tmpl;
	bool rx_armed;

	/* syscalls back end */
	int evfd;
	struct mmsghdr *rmsgs;
	struct iovec *riov;
	struct sockaddr_in6 *rnames;
	uint8_t *rctrl;
	uint8_t *rdata;
	struct mmsghdr smsgs[TX_BATCH];
};

/* ---- ICRC correction for the ports on the wire ----------------------------------- */

/*
 * The ports are followed in the ICRC'd stream by the UDP length and checksum
 * (4), the BTH (12) and the rest of the UDP payload but the ICRC (len - 16):
 * len bytes in all.
 */
uint32_t uh_net_icrc_port_delta(uint16_t old_sport, uint16_t old_dport, uint16_t sport,
				uint16_t dport, size_t len)
{
	uint16_t ds = old_sport ^ sport, dd = old_dport ^ dport;
	const uint8_t diff[4] = { (uint8_t)(ds >> 8), (uint8_t)ds, (uint8_t)(dd >> 8),
				  (uint8_t)dd };

	if (!ds && !dd)
		return 0;
	return emu_icrc_delta(diff, sizeof(diff), len);
}

/* uh_net_icrc_port_delta costs a few hundred ns (bit by bit); each QP sends from
 * one port and its packets come in few lengths, so the answers are kept. */
static uint32_t port_delta(struct uh_net *n, uint16_t sport, uint16_t dport, size_t len)
{
	uint32_t h = ((uint32_t)sport * 0x9e3779b1u) ^ ((uint32_t)dport * 0x85ebca6bu) ^
		     ((uint32_t)len * 0xc2b2ae35u);
	struct delta_ent *e = &n->deltas[(h >> 16) & (DELTA_CACHE - 1)];

	if (e->len != len || e->sport != sport || e->dport != dport) {
		e->delta = uh_net_icrc_port_delta(sport, dport, n->port, n->port, len);
		e->sport = sport;
		e->dport = dport;
		e->len = (uint32_t)len;
	}
	return e->delta;
}

static void fix_icrc(uint8_t *pkt, size_t len, uint32_t delta)
{
	uint8_t *p = pkt + len - 4;
	uint32_t icrc = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			(uint32_t)p[3] << 24;

	icrc ^= delta;
	p[0] = (uint8_t)icrc;
	p[1] = (uint8_t)(icrc >> 8);
	p[2] = (uint8_t)(icrc >> 16);
	p[3] = (uint8_t)(icrc >> 24);
}

/* ---- addresses ------------------------------------------------------------------- */

static void mapped_from_v4(uint8_t out[16], const struct in_addr *a)
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, a, 4);
}

static bool is_mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

static void addr_from_sockaddr(uint8_t out[16], const struct sockaddr *sa, uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;

		mapped_from_v4(out, &a->sin_addr);
		*port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const void *)sa;

		memcpy(out, &a->sin6_addr, 16);
		*port = ntohs(a->sin6_port);
	}
}

/* ---- socket ---------------------------------------------------------------------- */

static int setopt_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

static void grow_buffers(int fd)
{
	/* Over the sysctl limit only with CAP_NET_ADMIN; best effort either way. */
	if (setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCK_BUF_BYTES))
		(void)setopt_int(fd, SOL_SOCKET, SO_RCVBUF, SOCK_BUF_BYTES);
	if (setopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCK_BUF_BYTES))
		(void)setopt_int(fd, SOL_SOCKET, SO_SNDBUF, SOCK_BUF_BYTES);
}

/* SOFTHCA_NET_GSO / SOFTHCA_NET_GRO: unset or "1" on, "0" off; -1: neither. */
static int env_switch(const char *name, bool *on)
{
	const char *v = getenv(name);

	*on = !v || !*v || !strcmp(v, "1");
	return *on || !strcmp(v, "0") ? 0 : -1;
}

/*
 * UDP_SEGMENT sends and UDP_GRO receives where the kernel has them (Linux 4.18
 * and 5.0): on loopback a message of many datagrams then crosses the kernel as
 * one. SOFTHCA_NET_GSO=0 / SOFTHCA_NET_GRO=0 turn them off.
 */
static int set_offloads(struct uh_net *n, char *err, size_t errlen)
{
	int v = 0;
	socklen_t vlen = sizeof(v);
	bool gso, gro;

	if (env_switch("SOFTHCA_NET_GSO", &gso)) {
		snprintf(err, errlen, "SOFTHCA_NET_GSO=%s: not 0 (off) or 1 (on, the default)",
			 getenv("SOFTHCA_NET_GSO"));
		return -EINVAL;
	}
	if (env_switch("SOFTHCA_NET_GRO", &gro)) {
		snprintf(err, errlen, "SOFTHCA_NET_GRO=%s: not 0 (off) or 1 (on, the default)",
			 getenv("SOFTHCA_NET_GRO"));
		return -EINVAL;
	}
	n->gso = gso && !getsockopt(n->fd, SOL_UDP, UDP_SEGMENT, &v, &vlen);
	n->gro = gro && !setopt_int(n->fd, SOL_UDP, UDP_GRO, 1);
	n->rx_payload = n->gro ? GRO_BYTES : RX_PAYLOAD;
	n->rx_nbufs = n->gro ? RX_BUFS_GRO : RX_BUFS;
	return 0;
}

static int set_ip_options(int fd, int family)
{
	if (family == AF_INET)
		return setopt_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO) ||
		       setopt_int(fd, IPPROTO_IP, IP_TTL, DEFAULT_TTL) ||
		       setopt_int(fd, IPPROTO_IP, IP_PKTINFO, 1) ||
		       setopt_int(fd, IPPROTO_IP, IP_RECVTOS, 1) ||
		       setopt_int(fd, IPPROTO_IP, IP_RECVTTL, 1);
	/* The flow label only fills a UD receive's GRH: without it, 0 there. */
	(void)setopt_int(fd, IPPROTO_IPV6, IPV6_FLOWINFO, 1);
	return setopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) ||
	       setopt_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO) ||
	       setopt_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, DEFAULT_TTL) ||
	       setopt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) ||
	       setopt_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1) ||
	       setopt_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
}

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)ss)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static int open_socket(struct uh_net *n, const struct uh_net_params *p, char *err,
		       size_t errlen)
{
	struct sockaddr_storage ss = p->addr;
	socklen_t sslen;
	char text[INET6_ADDRSTRLEN];
	int e;

	n->family = ss.ss_family;
	if (n->family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(p->port);
		sslen = sizeof(struct sockaddr_in);
		mapped_from_v4(n->local, &((struct sockaddr_in *)&ss)->sin_addr);
	} else if (n->family == AF_INET6) {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(p->port);
		sslen = sizeof(struct sockaddr_in6);
		memcpy(n->local, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		n->scope_id = ((struct sockaddr_in6 *)&ss)->sin6_scope_id;
	} else {
		snprintf(err, errlen, "address family %d is not IPv4 or IPv6", n->family);
		return -EAFNOSUPPORT;
	}
	n->fd = socket(n->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (n->fd < 0) {
		e = errno;
		snprintf(err, errlen, "UDP socket: %s", strerror(e));
		return -e;
	}
	if (set_ip_options(n->fd, n->family)) {
		e = errno;
		snprintf(err, errlen, "UDP socket options: %s", strerror(e));
		return -e;
	}
	grow_buffers(n->fd);
	e = set_offloads(n, err, errlen);
	if (e)
		return e;
	if (bind(n->fd, (struct sockaddr *)&ss, sslen)) {
		e = errno;
		snprintf(err, errlen, "bind %s port %u: %s%s", addr_text(&ss, text, sizeof(text)),
			 p->port, strerror(e), e == EADDRNOTAVAIL ?
			 " (not an address of this host)" : "");
		return -e;
	}
	n->port = p->port;
	return 0;
}

/* ---- receive: building the engine's view of a datagram --------------------------- */

/* Returns the segment size of a coalesced (UDP_GRO) datagram, 0 for a plain one. */
static size_t parse_cmsgs(struct uh_net *n, struct emu_netinfo *ni, struct cmsghdr *c,
			  struct cmsghdr *(*next)(void *ctx, struct cmsghdr *c), void *ctx)
{
	size_t gso = 0;

	(void)n;
	for (; c; c = next(ctx, c)) {
		int v;

		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			gso = v > 0 ? (size_t)v : 0;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			mapped_from_v4(ni->dst, &pi.ipi_addr);
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
			ni->tos = *(const uint8_t *)CMSG_DATA(c);
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			ni->ttl = (uint8_t)v;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(ni->dst, &pi.ipi6_addr, 16);
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			ni->tos = (uint8_t)v;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			ni->ttl = (uint8_t)v;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_FLOWINFO) {
			uint32_t flowinfo;   /* traffic class and flow label, network order */

			memcpy(&flowinfo, CMSG_DATA(c), sizeof(flowinfo));
			ni->flow_label = ntohl(flowinfo) & 0xfffff;
		}
	}
	return gso;
}

static void netinfo_init(struct uh_net *n, struct emu_netinfo *ni, const struct sockaddr *from)
{
	memset(ni, 0, sizeof(*ni));
	ni->ip_version = n->family == AF_INET ? 4 : 6;
	ni->ttl = DEFAULT_TTL;
	/* What an unconnected DF socket sends; the IP ID itself is not visible here,
	 * so a peer that numbers its packets (rdma_rxe, hardware) is solved for. */
	ni->ip_id = 0;
	if (n->family == AF_INET)
		ni->flags = EMU_NI_IP_ID_UNKNOWN;
	ni->frag_off = n->family == AF_INET ? 0x4000 : 0;
	addr_from_sockaddr(ni->src, from, &ni->udp_sport);
	memcpy(ni->dst, n->local, 16);
	ni->udp_dport = n->port;
}

static void deliver(struct uh_net *n, const struct emu_netinfo *ni, const void *pkt,
		    size_t len, uh_net_rx_fn fn, void *arg)
{
	n->stats.rx_datagrams++;
	if (n->pcap)
		uh_pcap_write(n->pcap, ni, pkt, len);
	fn(arg, ni, pkt, len);
}

/*
 * A received UDP payload: one datagram, or (gso > 0) datagrams of gso bytes
 * each but the last that the kernel kept together (UDP_GRO). Each goes to the
 * engine, and the capture, as the datagram it was on the wire. Returns how many.
 */
static size_t deliver_all(struct uh_net *n, const struct emu_netinfo *ni, const uint8_t *pkt,
			  size_t len, size_t gso, uh_net_rx_fn fn, void *arg)
{
	size_t count = 0;

	if (!gso) {
		if (len > RX_PAYLOAD) {
			n->stats.rx_short++;
			return 0;
		}
		deliver(n, ni, pkt, len, fn, arg);
		return 1;
	}
	if (gso > RX_PAYLOAD) {
		n->stats.rx_short++;
		return 0;
	}
	for (size_t off = 0; off < len; off += gso, count++)
		deliver(n, ni, pkt + off, len - off < gso ? len - off : gso, fn, arg);
	return count;
}

/* ---- send slots ------------------------------------------------------------------ */

static struct tx_slot *slot_of(void *buf)
{
	return (struct tx_slot *)((uint8_t *)buf - offsetof(struct tx_slot, data));
}

/* This thread is in a signal handler: send from the free lists only, never wait
 * (uh_net_no_alloc_here). */
static __thread bool no_alloc_here;

static struct tx_slot *slot_alloc(struct uh_net *n, size_t len)
{
	struct tx_slot *s;

	if (len <= TX_SLOT_DATA && n->free_slots) {
		s = n->free_slots;
		n->free_slots = s->next_free;
		return s;
	}
	if (n->nslots >= TX_SLOTS_MAX || no_alloc_here)
		return NULL;
	s = aligned_alloc(64, (sizeof(*s) + (len > TX_SLOT_DATA ? len : TX_SLOT_DATA) + 63) &
			  ~(size_t)63);
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->cap = len > TX_SLOT_DATA ? len : TX_SLOT_DATA;
	s->next_all = n->all_slots;
	n->all_slots = s;
	n->nslots++;
	return s;
}

static void slot_free(struct uh_net *n, struct tx_slot *s)
{
	s->next_free = n->free_slots;
	n->free_slots = s;
}

void uh_net_no_alloc_here(bool on)
{
	no_alloc_here = on;
}

static struct tx_group *group_alloc(struct uh_net *n);

/* Send buffers and groups for a signal handler, which must not allocate. */
#define TX_RESERVE 256u
#define TX_GROUP_RESERVE 32u
void uh_net_reserve_tx(struct uh_net *n)
{
	struct tx_slot *held[TX_RESERVE];
	struct tx_group *groups[TX_GROUP_RESERVE];
	uint32_t got = 0, ngroups = 0;

	while (got < TX_RESERVE && (held[got] = slot_alloc(n, TX_SLOT_DATA)))
		got++;
	while (got)
		slot_free(n, held[--got]);
	while (ngroups < TX_GROUP_RESERVE && (groups[ngroups] = group_alloc(n)))
		ngroups++;
	while (ngroups) {
		struct tx_group *g = groups[--ngroups];

		g->next_free = n->free_groups;
		n->free_groups = g;
	}
}

void *uh_net_tx_buf(struct uh_net *n, size_t len)
{
	struct tx_slot *s = slot_alloc(n, len);

	return s ? s->data : NULL;
}

void uh_net_tx_abort(struct uh_net *n, void *buf)
{
	if (buf)
		slot_free(n, slot_of(buf));
}

bool uh_net_tx_queued(const struct uh_net *n)
{
	return n->nqueued != 0;
}

uint32_t uh_net_tx_count(const struct uh_net *n)
{
	return n->nqueued;
}

void uh_net_tx_hold(struct uh_net *n)
{
	n->held = n->nqueued;
}

uint32_t uh_net_tx_held(const struct uh_net *n)
{
	return n->held;
}

void uh_net_tx_held_to_end(struct uh_net *n)
{
	struct tx_slot *first[TX_BATCH];
	uint32_t count = n->held;

	n->held = 0;
	if (!count || count >= n->nqueued)
		return;
	memcpy(first, n->queue, count * sizeof(first[0]));
	memmove(n->queue, n->queue + count, (n->nqueued - count) * sizeof(first[0]));
	memcpy(n->queue + n->nqueued - count, first, count * sizeof(first[0]));
}

/* RC ACKNOWLEDGE (BTH opcode 0x11) whose AETH syndrome says ACK, not a NAK. */
#define BTH_OPCODE_RC_ACK 0x11
#define AETH_TYPE_MASK    0x60

static bool is_ack(const struct tx_slot *s)
{
	return s->iov.iov_len >= 20 && s->data[0] == BTH_OPCODE_RC_ACK &&
	       !(s->data[12] & AETH_TYPE_MASK);
}

static uint32_t dest_qpn(const struct tx_slot *s)
{
	return (uint32_t)s->data[5] << 16 | (uint32_t)s->data[6] << 8 | s->data[7];
}

bool uh_net_tx_only_acks(const struct uh_net *n)
{
	for (uint32_t i = 0; i < n->nqueued; i++)
		if (!is_ack(n->queue[i]))
			return false;
	return true;
}

bool uh_net_tx_first_ack(const struct uh_net *n, struct uh_ack_key *k)
{
	const struct tx_slot *s = n->nqueued ? n->queue[0] : NULL;

	if (!s || !is_ack(s))
		return false;
	k->dqpn = dest_qpn(s);
	k->namelen = s->msg.msg_namelen;
	memcpy(&k->to, &s->to, sizeof(k->to));
	return true;
}

/* An RC request: SEND, RDMA WRITE, READ request, atomic (not a response). */
static bool is_rc_request(const struct tx_slot *s)
{
	uint8_t op = s->data[0];

	return s->iov.iov_len >= 12 && op >> 5 == 0 &&
	       (op <= 0x0c || op == 0x13 || op == 0x14 || op == 0x16 || op == 0x17);
}

bool uh_net_tx_request_to(const struct uh_net *n, const struct uh_ack_key *k)
{
	for (uint32_t i = 0; i < n->nqueued; i++) {
		const struct tx_slot *s = n->queue[i];

		if (is_rc_request(s) && dest_qpn(s) == k->dqpn &&
		    s->msg.msg_namelen == k->namelen && !memcmp(&s->to, &k->to, k->namelen))
			return true;
	}
	return false;
}

static bool set_destination(struct uh_net *n, struct tx_slot *s, const struct emu_netinfo *ni)
{
	memset(&s->to, 0, sizeof(s->to));
	if (is_mapped(ni->dst)) {
		struct sockaddr_in *a = (struct sockaddr_in *)&s->to;

		if (n->family != AF_INET)
			return false;
		a->sin_family = AF_INET;
		a->sin_port = htons(n->port);
		memcpy(&a->sin_addr, ni->dst + 12, 4);
		s->msg.msg_namelen = sizeof(*a);
		s->gso_ok = ni->dst[12] == 127;     /* see gso_ok */
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s->to;

		if (n->family != AF_INET6)
			return false;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(n->port);
		memcpy(&a->sin6_addr, ni->dst, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr))
			a->sin6_scope_id = n->scope_id;
		s->msg.msg_namelen = sizeof(*a);
		s->gso_ok = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	s->msg.msg_name = &s->to;
	return true;
}

/* Per-datagram TOS and TTL, only when they differ from the socket's defaults. */
static void set_cmsgs(struct uh_net *n, struct tx_slot *s, const struct emu_netinfo *ni)
{
	struct cmsghdr *c;
	size_t used = 0;
	int level = n->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;

	s->msg.msg_control = NULL;
	s->msg.msg_controllen = 0;
	s->tos = ni->tos;
	s->ttl = ni->ttl;
	if (ni->tos == 0 && ni->ttl == DEFAULT_TTL)
		return;
	s->msg.msg_control = s->ctrl.buf;
	s->msg.msg_controllen = sizeof(s->ctrl.buf);
	c = CMSG_FIRSTHDR(&s->msg);
	if (ni->tos) {
		int v = ni->tos;

		c->cmsg_level = level;
		c->cmsg_type = n->family == AF_INET ? IP_TOS : IPV6_TCLASS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &v, sizeof(v));
		used += CMSG_SPACE(sizeof(int));
		c = CMSG_NXTHDR(&s->msg, c);
	}
	if (ni->ttl != DEFAULT_TTL && c) {
		int v = ni->ttl ? ni->ttl : DEFAULT_TTL;

		c->cmsg_level = level;
		c->cmsg_type = n->family == AF_INET ? IP_TTL : IPV6_HOPLIMIT;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &v, sizeof(v));
		used += CMSG_SPACE(sizeof(int));
	}
	s->msg.msg_controllen = used;
}

void uh_net_tx(struct uh_net *n, const struct emu_netinfo *ni, void *buf, size_t len)
{
	struct tx_slot *s = slot_of(buf);
	struct emu_netinfo wire;

	if (len < 16 || len > s->cap || !set_destination(n, s, ni)) {
		n->stats.tx_errors++;
		slot_free(n, s);
		return;
	}
	fix_icrc(s->data, len, port_delta(n, ni->udp_sport, ni->udp_dport, len));
	set_cmsgs(n, s, ni);
	s->iov.iov_base = s->data;
	s->iov.iov_len = len;
	s->msg.msg_iov = &s->iov;
	s->msg.msg_iovlen = 1;
	s->msg.msg_flags = 0;
	if (n->pcap) {
		wire = *ni;
		wire.udp_sport = n->port;
		wire.udp_dport = n->port;
		s->wire = wire;
	}
	if (n->nqueued == TX_BATCH)
		uh_net_flush(n);
	n->queue[n->nqueued++] = s;
}

/* ---- send units: single datagrams and UDP_SEGMENT groups -------------------------- */

static struct tx_group *group_alloc(struct uh_net *n)
{
	struct tx_group *g = n->free_groups;

	if (g) {
		n->free_groups = g->next_free;
		return g;
	}
	if (no_alloc_here)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->next_all = n->all_groups;
	n->all_groups = g;
	return g;
}

/* A unit's datagrams are sent (or lost): recycle what it holds. */
static void unit_done(struct uh_net *n, uintptr_t tag)
{
	struct tx_group *g;

	if (!(tag & 1)) {
		if (tag)
			slot_free(n, (struct tx_slot *)tag);
		return;
	}
	g = (struct tx_group *)(tag & ~(uintptr_t)1);
	for (uint32_t i = 0; i < g->count; i++)
		slot_free(n, g->slots[i]);
	g->next_free = n->free_groups;
	n->free_groups = g;
}

static uint32_t unit_segs(uintptr_t tag)
{
	return (tag & 1) ? ((struct tx_group *)(tag & ~(uintptr_t)1))->count : 1;
}

/* May s follow first (whose datagrams are gso bytes each) in one group? */
static bool joins_group(const struct tx_slot *first, const struct tx_slot *s, size_t gso,
			uint32_t count, size_t bytes)
{
	return count < GSO_SEGS_MAX && bytes + s->iov.iov_len <= GSO_BYTES_MAX &&
	       s->iov.iov_len <= gso && s->gso_ok && s->tos == first->tos &&
	       s->ttl == first->ttl && s->msg.msg_namelen == first->msg.msg_namelen &&
	       !memcmp(&s->to, &first->to, first->msg.msg_namelen);
}

/* queue[first..] as one group of count datagrams: a unit, or false (no memory). */
static bool make_group(struct uh_net *n, uint32_t first, uint32_t count, struct tx_unit *u)
{
	struct tx_group *g = group_alloc(n);
	struct tx_slot *s0 = n->queue[first];
	struct cmsghdr *c;
	uint16_t gso = (uint16_t)s0->iov.iov_len;

	if (!g)
		return false;
	g->count = count;
	for (uint32_t i = 0; i < count; i++) {
		g->slots[i] = n->queue[first + i];
		g->iov[i] = g->slots[i]->iov;
	}
	memset(&g->msg, 0, sizeof(g->msg));
	g->msg.msg_name = &s0->to;
	g->msg.msg_namelen = s0->msg.msg_namelen;
	g->msg.msg_iov = g->iov;
	g->msg.msg_iovlen = count;
	/* The first datagram's TOS and TTL (the same for all), then the size. */
	memcpy(g->ctrl.buf, s0->ctrl.buf, s0->msg.msg_controllen);
	g->msg.msg_control = g->ctrl.buf;
	g->msg.msg_controllen = s0->msg.msg_controllen + CMSG_SPACE(sizeof(gso));
	c = (struct cmsghdr *)(void *)(g->ctrl.buf + s0->msg.msg_controllen);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(gso));
	memcpy(CMSG_DATA(c), &gso, sizeof(gso));
	u->msg = &g->msg;
	u->tag = (uintptr_t)g | 1;
	u->segs = count;
	return true;
}

/* The queue as sends; the queue is empty afterwards. Returns how many. */
static uint32_t build_units(struct uh_net *n)
{
	uint32_t nunits = 0, i = 0;

	/* Captured in the order they leave (held ACKs go behind the request that
	 * carries them: uh_net_tx_to_end). */
	for (uint32_t q = 0; n->pcap && q < n->nqueued; q++)
		uh_pcap_write(n->pcap, &n->queue[q]->wire, n->queue[q]->data,
			      n->queue[q]->iov.iov_len);
	n->held = 0;   /* whatever was held leaves now */

	while (i < n->nqueued) {
		struct tx_slot *s0 = n->queue[i];
		struct tx_unit *u = &n->units[nunits++];
		size_t gso = s0->iov.iov_len, bytes = gso;
		uint32_t count = 1;

		if (n->gso && s0->gso_ok) {
			/* Only the last datagram of a group may be shorter. */
			while (i + count < n->nqueued &&
			       n->queue[i + count - 1]->iov.iov_len == gso &&
			       joins_group(s0, n->queue[i + count], gso, count, bytes)) {
				bytes += n->queue[i + count]->iov.iov_len;
				count++;
			}
		}
		if (count < 2 || !make_group(n, i, count, u)) {
			count = 1;
			u->msg = &s0->msg;
			u->tag = (uintptr_t)s0;
			u->segs = 1;
		}
		i += count;
	}
	n->nqueued = 0;
	return nunits;
}

/* The result of one send: res < 0 is -errno. */
static void unit_result(struct uh_net *n, uintptr_t tag, int res)
{
	uint32_t segs = unit_segs(tag);

	n->stats.tx_sends++;
	if (res < 0) {
		n->stats.tx_errors += segs;
		/* A kernel or route that refuses segmentation: send one by one
		 * from now on (what was lost is retransmitted by the transport). */
		if ((tag & 1) && (res == -EINVAL || res == -EIO || res == -EOPNOTSUPP))
			n->gso = false;
	} else {
		n->stats.tx_datagrams += segs;
	}
	unit_done(n, tag);
}

/* ---- io_uring back end ----------------------------------------------------------- */

static void uring_reap_tx(struct uh_net *n)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&n->txr, head, cqe) {
		uintptr_t tag = (uintptr_t)cqe->user_data;

		if (tag)
			unit_result(n, tag, cqe->res);
		seen++;
	}
	io_uring_cq_advance(&n->txr, seen);
}

static void uring_submit_tx(struct uh_net *n)
{
	for (int tries = 0; tries < 4; tries++) {
		int ret = io_uring_submit(&n->txr);

		n->stats.tx_submits++;
		if (ret >= 0 || (ret != -EBUSY && ret != -EAGAIN && ret != -EINTR))
			return;
		uring_reap_tx(n);
	}
}

static void uring_flush(struct uh_net *n)
{
	uint32_t nunits = build_units(n);

	for (uint32_t i = 0; i < nunits; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&n->txr);

		if (!sqe) {
			uring_submit_tx(n);
			uring_reap_tx(n);
			sqe = io_uring_get_sqe(&n->txr);
			if (!sqe) {
				unit_result(n, n->units[i].tag, -ENOBUFS);
				continue;
			}
		}
		io_uring_prep_sendmsg(sqe, n->fd, n->units[i].msg, 0);
		io_uring_sqe_set_data64(sqe, (uint64_t)n->units[i].tag);
	}
	uring_submit_tx(n);
	uring_reap_tx(n);
}

static uint8_t *rx_buf(struct uh_net *n, unsigned bid)
{
	return n->rx_bufs + (size_t)bid * n->rx_buf_size;
}

static void rx_recycle(struct uh_net *n, unsigned bid)
{
	io_uring_buf_ring_add(n->br, rx_buf(n, bid), (unsigned)n->rx_buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(n->rx_nbufs), 0);
	io_uring_buf_ring_advance(n->br, 1);
}

static bool uring_arm_rx(struct uh_net *n)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&n->rxr);

	if (!sqe) {
		io_uring_submit(&n->rxr);
		sqe = io_uring_get_sqe(&n->rxr);
		if (!sqe)
			return false;
	}
	io_uring_prep_recvmsg_multishot(sqe, n->fd, &n->rx_tmpl, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RX_BGID;
	io_uring_sqe_set_data64(sqe, TAG_RX);
	if (io_uring_submit(&n->rxr) < 0)
		return false;
	n->rx_armed = true;
	return true;
}

struct uring_cmsg_ctx {
	struct io_uring_recvmsg_out *out;
	struct msghdr *msg;
};

static struct cmsghdr *uring_next_cmsg(void *ctx, struct cmsghdr *c)
{
	struct uring_cmsg_ctx *x = ctx;

	return io_uring_recvmsg_cmsg_nexthdr(x->out, x->msg, c);
}

static size_t uring_datagram(struct uh_net *n, struct io_uring_cqe *cqe, uh_net_rx_fn fn,
			     void *arg)
{
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	struct io_uring_recvmsg_out *out;
	struct uring_cmsg_ctx ctx;
	struct emu_netinfo ni;
	size_t delivered = 0, gso;

	n->stats.rx_reads++;
	if (bid >= n->rx_nbufs)
		return 0;
	out = io_uring_recvmsg_validate(rx_buf(n, bid), cqe->res, &n->rx_tmpl);
	if (!out || out->namelen > n->rx_tmpl.msg_namelen) {
		n->stats.rx_errors++;
	} else if (out->flags & MSG_TRUNC) {
		n->stats.rx_short++;
	} else {
		ctx.out = out;
		ctx.msg = &n->rx_tmpl;
		netinfo_init(n, &ni, io_uring_recvmsg_name(out));
		gso = parse_cmsgs(n, &ni, io_uring_recvmsg_cmsg_firsthdr(out, &n->rx_tmpl),
				  uring_next_cmsg, &ctx);
		delivered = deliver_all(n, &ni, io_uring_recvmsg_payload(out, &n->rx_tmpl),
					io_uring_recvmsg_payload_length(out, cqe->res,
									&n->rx_tmpl),
					gso, fn, arg);
	}
	rx_recycle(n, bid);
	return delivered;
}

static size_t uring_rx(struct uh_net *n, uh_net_rx_fn fn, void *arg, size_t max)
{
	struct io_uring_cqe *cqe;
	size_t got = 0;

	while (got < max && io_uring_peek_cqe(&n->rxr, &cqe) == 0) {
		if (cqe->user_data == TAG_RX) {
			if (!(cqe->flags & IORING_CQE_F_MORE))
				n->rx_armed = false;
			if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER))
				got += uring_datagram(n, cqe, fn, arg);
			else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED)
				n->stats.rx_errors++;
		}
		io_uring_cqe_seen(&n->rxr, cqe);
	}
	if (!n->rx_armed && uring_arm_rx(n))
		n->stats.rx_rearms++;
	return got;
}

/*
 * The ring's descriptor is readable while its CQ holds entries. Waiting in
 * poll() rather than in io_uring_enter() keeps the wait an ordinary blocking
 * system call, which tools that serialise threads (valgrind) let others run
 * through.
 */
/*
 * Cancel the multishot receive and wait (briefly) for its last completion: a
 * request in flight holds the socket, and a ring torn down with it still pending
 * releases the socket only later, from a kernel worker - the port would stay
 * taken for a moment after the process is gone, and the next program bound to
 * the same address would fail with EADDRINUSE.
 */
static void uring_cancel_rx(struct uh_net *n)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&n->rxr);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, TAG_RX, 0);
	io_uring_sqe_set_data64(sqe, 0);
	if (io_uring_submit(&n->rxr) < 0)
		return;
	for (int i = 0; i < 64; i++) {
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 5000000 };
		struct io_uring_cqe *cqe;
		bool last;

		if (io_uring_wait_cqe_timeout(&n->rxr, &cqe, &ts))
			return;
		last = cqe->user_data == TAG_RX && !(cqe->flags & IORING_CQE_F_MORE);
		io_uring_cqe_seen(&n->rxr, cqe);
		if (last)
			return;
	}
}

static void uring_teardown(struct uh_net *n)
{
	if (n->rxr_up) {
		uring_cancel_rx(n);
		if (n->br)
			io_uring_unregister_buf_ring(&n->rxr, RX_BGID);
		io_uring_queue_exit(&n->rxr);
		n->rxr_up = false;
	}
	if (n->txr_up) {
		io_uring_queue_exit(&n->txr);
		n->txr_up = false;
	}
	free(n->br);
	n->br = NULL;
	free(n->rx_bufs);
	n->rx_bufs = NULL;
	n->uring = false;
}

static int uring_rings(struct uh_net *n)
{
	struct io_uring_params prm;
	int ret;

	memset(&prm, 0, sizeof(prm));
	prm.flags = IORING_SETUP_CQSIZE;
	prm.cq_entries = TX_RING_CQ;
	ret = io_uring_queue_init_params(TX_BATCH, &n->txr, &prm);
	if (ret)
		return ret;
	n->txr_up = true;
	if (!(prm.features & IORING_FEAT_NODROP))
		return -EOPNOTSUPP;
	if (!n->rx_uring)
		return 0;
	memset(&prm, 0, sizeof(prm));
	prm.flags = IORING_SETUP_CQSIZE;
	prm.cq_entries = RX_RING_CQ;
	ret = io_uring_queue_init_params(RX_RING_SQ, &n->rxr, &prm);
	if (ret)
		return ret;
	n->rxr_up = true;
	return 0;
}

static int uring_buffers(struct uh_net *n)
{
	struct io_uring_buf_reg reg;
	int ret;

	n->rx_tmpl.msg_namelen = sizeof(struct sockaddr_in6);
	n->rx_tmpl.msg_controllen = CTRL_BYTES;
	n->rx_buf_size = (sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_in6) +
			  CTRL_BYTES + n->rx_payload + 63) & ~(size_t)63;
	if (posix_memalign((void **)&n->br, 4096, n->rx_nbufs * sizeof(struct io_uring_buf)))
		return -ENOMEM;
	n->rx_bufs = aligned_alloc(64, n->rx_nbufs * n->rx_buf_size);
	if (!n->rx_bufs)
		return -ENOMEM;
	/* The kernel fills these behind the back of memory checkers: start defined. */
	memset(n->rx_bufs, 0, n->rx_nbufs * n->rx_buf_size);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)n->br;
	reg.ring_entries = n->rx_nbufs;
	reg.bgid = RX_BGID;
	ret = io_uring_register_buf_ring(&n->rxr, &reg, 0);
	if (ret) {
		free(n->br);
		n->br = NULL;
		return ret;
	}
	io_uring_buf_ring_init(n->br);
	for (unsigned i = 0; i < n->rx_nbufs; i++)
		io_uring_buf_ring_add(n->br, rx_buf(n, i), (unsigned)n->rx_buf_size,
				      (unsigned short)i, io_uring_buf_ring_mask(n->rx_nbufs), (int)i);
	io_uring_buf_ring_advance(n->br, (int)n->rx_nbufs);
	return 0;
}

/* The multishot recvmsg is refused at once by a kernel that lacks it. */
static int uring_check_arm(struct uh_net *n)
{
	struct io_uring_cqe *cqe;

	if (!uring_arm_rx(n))
		return -EIO;
	if (io_uring_peek_cqe(&n->rxr, &cqe) == 0 && cqe->user_data == TAG_RX &&
	    !(cqe->flags & IORING_CQE_F_MORE) && cqe->res < 0) {
		int ret = cqe->res;

		io_uring_cqe_seen(&n->rxr, cqe);
		return ret;
	}
	return 0;
}

static bool uring_setup(struct uh_net *n)
{
	struct io_uring_probe *probe;
	bool ops_ok;

	if (uring_rings(n))
		goto fail;
	probe = io_uring_get_probe_ring(&n->txr);
	ops_ok = probe && io_uring_opcode_supported(probe, IORING_OP_SENDMSG) &&
		 (!n->rx_uring || io_uring_opcode_supported(probe, IORING_OP_RECVMSG));
	if (probe)
		io_uring_free_probe(probe);
	if (!ops_ok || (n->rx_uring && (uring_buffers(n) || uring_check_arm(n))))
		goto fail;
	n->uring = true;
	return true;
fail:
	uring_teardown(n);
	return false;
}

/* ---- syscalls back end ----------------------------------------------------------- */

static void sys_send_batch(struct uh_net *n, uint32_t count)
{
	uint32_t done = 0;
	int waited = 0;

	for (uint32_t i = 0; i < count; i++) {
		memset(&n->smsgs[i], 0, sizeof(n->smsgs[i]));
		n->smsgs[i].msg_hdr = *n->units[i].msg;
	}
	while (done < count) {
		int r = sendmmsg(n->fd, n->smsgs + done, count - done, MSG_DONTWAIT);

		n->stats.tx_submits++;
		if (r > 0) {
			for (int i = 0; i < r; i++)
				unit_result(n, n->units[done + (uint32_t)i].tag, 0);
			done += (uint32_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) &&
		    !waited && !no_alloc_here) {
			struct pollfd pfd = { .fd = n->fd, .events = POLLOUT };

			(void)poll(&pfd, 1, SEND_RETRY_WAIT_MS);
			waited = 1;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* The send at done is refused (or the socket is full): lost. */
		unit_result(n, n->units[done].tag, r < 0 ? -errno : -EIO);
		done++;
	}
}

static void sys_flush(struct uh_net *n)
{
	sys_send_batch(n, build_units(n));
}

struct sys_cmsg_ctx {
	struct msghdr *msg;
};

static struct cmsghdr *sys_next_cmsg(void *ctx, struct cmsghdr *c)
{
	struct sys_cmsg_ctx *x = ctx;

	return CMSG_NXTHDR(x->msg, c);
}

static size_t sys_rx(struct uh_net *n, uh_net_rx_fn fn, void *arg, size_t max)
{
	size_t got = 0;

	while (got < max) {
		unsigned want = (unsigned)(max - got < RX_BATCH ? max - got : RX_BATCH);
		int r;

		for (unsigned i = 0; i < want; i++) {
			struct msghdr *m = &n->rmsgs[i].msg_hdr;

			n->riov[i].iov_base = n->rdata + (size_t)i * n->rx_payload;
			n->riov[i].iov_len = n->rx_payload;
			m->msg_name = &n->rnames[i];
			m->msg_namelen = sizeof(n->rnames[i]);
			m->msg_iov = &n->riov[i];
			m->msg_iovlen = 1;
			m->msg_control = n->rctrl + (size_t)i * CTRL_BYTES;
			m->msg_controllen = CTRL_BYTES;
			m->msg_flags = 0;
		}
		r = recvmmsg(n->fd, n->rmsgs, want, MSG_DONTWAIT, NULL);
		if (r <= 0) {
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				n->stats.rx_errors++;
			break;
		}
		n->stats.rx_reads += (uint64_t)r;
		for (int i = 0; i < r; i++) {
			struct msghdr *m = &n->rmsgs[i].msg_hdr;
			struct sys_cmsg_ctx ctx = { m };
			struct emu_netinfo ni;
			size_t gso;

			if (m->msg_flags & MSG_TRUNC) {
				n->stats.rx_short++;
				continue;
			}
			netinfo_init(n, &ni, (struct sockaddr *)m->msg_name);
			gso = parse_cmsgs(n, &ni, CMSG_FIRSTHDR(m), sys_next_cmsg, &ctx);
			got += deliver_all(n, &ni, n->riov[i].iov_base, n->rmsgs[i].msg_len, gso,
					   fn, arg);
		}
		if ((unsigned)r < want)
			break;
	}
	return got;
}

static int sys_setup(struct uh_net *n)
{
	n->rmsgs = calloc(RX_BATCH, sizeof(*n->rmsgs));
	n->riov = calloc(RX_BATCH, sizeof(*n->riov));
	n->rnames = calloc(RX_BATCH, sizeof(*n->rnames));
	n->rctrl = calloc(RX_BATCH, CTRL_BYTES);
	n->rdata = malloc((size_t)RX_BATCH * n->rx_payload);
	if (!n->rmsgs || !n->riov || !n->rnames || !n->rctrl || !n->rdata)
		return -ENOMEM;
	return 0;
}

/* ---- the interface --------------------------------------------------------------- */

void uh_net_flush(struct uh_net *n)
{
	if (n->uring) {
		if (n->nqueued)
			uring_flush(n);
		else
			uring_reap_tx(n);
	} else if (n->nqueued) {
		sys_flush(n);
	}
}

size_t uh_net_rx(struct uh_net *n, uh_net_rx_fn fn, void *arg, size_t max)
{
	return n->rx_uring ? uring_rx(n, fn, arg, max) : sys_rx(n, fn, arg, max);
}

/*
 * The receive ring's descriptor is readable while its CQ holds entries, the
 * socket while datagrams wait. Waiting in poll() rather than in io_uring_enter()
 * keeps the wait an ordinary blocking system call, which tools that serialise
 * threads (valgrind) let other threads run through.
 */
void uh_net_wait(struct uh_net *n, int64_t timeout_ns, bool watch_rx)
{
	struct pollfd pfd[2] = { { .fd = n->evfd, .events = POLLIN },
				 { .fd = n->rx_uring ? n->rxr.ring_fd : n->fd, .events = POLLIN } };
	struct timespec ts;
	uint64_t v;

	if (watch_rx && n->rx_uring && io_uring_cq_ready(&n->rxr))
		return;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
	}
	if (ppoll(pfd, watch_rx ? 2 : 1, timeout_ns >= 0 ? &ts : NULL, NULL) > 0 &&
	    (pfd[0].revents & POLLIN))
		(void)!read(n->evfd, &v, sizeof(v));
}

void uh_net_kick(struct uh_net *n)
{
	uint64_t one = 1;

	(void)!write(n->evfd, &one, sizeof(one));
}

void uh_net_get_stats(const struct uh_net *n, struct uh_net_stats *out)
{
	*out = n->stats;
}

size_t uh_net_rcvbuf(const struct uh_net *n)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &v, &len) || v <= 0)
		return 0;
	return (size_t)v;
}

const char *uh_net_backend(const struct uh_net *n)
{
	return n->rx_uring ? "io_uring" : n->uring ? "io_uring sends, recvmmsg" : "syscalls";
}

int uh_net_fd(const struct uh_net *n)
{
	return n->fd;
}

static bool uring_wanted(const struct uh_net_params *p)
{
	const char *v = getenv("SOFTHCA_NET");

	if (v && !strcmp(v, "syscalls"))
		return false;
	return p->want_uring;
}

/* The multishot receive is opt-in (see net.h): SOFTHCA_NET_RX=uring; unset,
 * empty or "recvmmsg" is the default; -1 for anything else. */
static int uring_rx_wanted(bool *want)
{
	const char *v = getenv("SOFTHCA_NET_RX");

	*want = v && !strcmp(v, "uring");
	return *want || !v || !*v || !strcmp(v, "recvmmsg") ? 0 : -1;
}

int uh_net_open(const struct uh_net_params *p, struct uh_net **out, char *err, size_t errlen)
{
	struct uh_net *n = calloc(1, sizeof(*n));
	int ret;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n->fd = -1;
	n->pcap = p->pcap;
	n->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->evfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-ret));
		free(n);
		return ret;
	}
	ret = open_socket(n, p, err, errlen);
	if (!ret && uring_rx_wanted(&n->rx_uring)) {
		snprintf(err, errlen, "SOFTHCA_NET_RX=%s: not uring or recvmmsg (the default)",
			 getenv("SOFTHCA_NET_RX"));
		ret = -EINVAL;
	}
	if (!ret && !(uring_wanted(p) && uring_setup(n)))
		n->rx_uring = false;
	if (!ret && !n->rx_uring) {
		ret = sys_setup(n);
		if (ret)
			snprintf(err, errlen, "out of memory");
	}
	if (ret) {
		uh_net_close(n);
		return ret;
	}
	*out = n;
	return 0;
}

void uh_net_close(struct uh_net *n)
{
	if (!n)
		return;
	if (n->uring)
		uh_net_flush(n);
	/* Exiting the rings cancels what is still in flight; the slots go after. */
	uring_teardown(n);
	if (n->fd >= 0)
		close(n->fd);
	if (n->evfd >= 0)
		close(n->evfd);
	while (n->all_slots) {
		struct tx_slot *s = n->all_slots;

		n->all_slots = s->next_all;
		free(s);
	}
	while (n->all_groups) {
		struct tx_group *g = n->all_groups;

		n->all_groups = g->next_all;
		free(g);
	}
	free(n->rmsgs);
	free(n->riov);
	free(n->rnames);
	free(n->rctrl);
	free(n->rdata);
	free(n);
}
