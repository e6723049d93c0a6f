/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/net.h - the UDP side of the process host: one UDP socket
 * bound to the device's address and port, batched sends and receives.
 *
 * Two back ends with the same behaviour:
 *   io_uring  sendmsg SQEs queued by uh_net_tx and submitted once per uh_net_flush
 *             (one io_uring_enter per batch) on a send ring, their completions
 *             reaped in batches; receives by recvmmsg, or with
 *             SOFTHCA_NET_RX=uring by one multishot recvmsg over a
 *             provided-buffer ring on a receive ring.
 *   syscalls  sendmmsg / recvmmsg, and poll() to wait. Used when io_uring cannot
 *             be set up (a seccomp profile, an old kernel), with
 *             --progress-signal, or when the environment says SOFTHCA_NET=syscalls.
 * Why recvmmsg receives by default: a multishot receive copies each datagram in
 * task work run by the thread that armed it (the progress thread), so a program
 * polling its CQ cannot take a datagram before that thread has had a core;
 * recvmmsg lets whichever thread holds the device lock take it at once.
 * Measured (bench/RESULTS.md): ib_write_lat 8 B typical 8-11 against 13-18 us,
 * ib_send_bw 64 B 0.97 against 0.38-0.61 M/s, ib_write_bw 64 KiB 2.9-3.0 against
 * 2.0-2.5 GB/s.
 * Both send runs of equal-sized datagrams to one destination as one UDP_SEGMENT
 * (GSO) send and receive with UDP_GRO where the kernel has them: on loopback the
 * datagrams of a message then cross the kernel as one, and each is still handed
 * to the engine (and the capture) as the RoCEv2 packet it is on the wire.
 * SOFTHCA_NET_GSO=0 / SOFTHCA_NET_GRO=0 turn them off.
 *
 * Wire details the engine relies on:
 *   - IPv4 datagrams leave with DF set (IP_PMTUDISC_DO) and, from an unconnected
 *     socket, IP identification 0: received datagrams are described to the
 *     engine with ip_id 0 and DF, which the ICRC covers. The kernel numbers the
 *     IDs of the datagrams it cuts from one UDP_SEGMENT send 0, 1, 2..., so
 *     IPv4 uses it only towards loopback addresses (127/8), where no device but
 *     a softhca (which cannot see the ID either) receives them; IPv6 has no ID.
 *   - The source port is the socket's port and the destination port the
 *     configured one, not the per-QP port the engine chose: the ICRC covers the
 *     UDP ports, so uh_net_tx corrects it for the ports actually sent (CRC-32 is
 *     linear: the correction is the CRC of the changed bits, moved over the rest
 *     of the packet), and the packet on the wire is self-consistent.
 *
 * Threading: every call but uh_net_wait and uh_net_kick is made by one thread at
 * a time (the device lock). uh_net_wait blocks without that lock, and
 * uh_net_kick ends it.
 */
#ifndef SOFTHCA_PROVIDER_USERMODE_NET_H
#define SOFTHCA_PROVIDER_USERMODE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "uhost.h"

struct uh_net;
struct uh_pcap;

/* One received datagram, described as the engine wants it. */
typedef void (*uh_net_rx_fn)(void *arg, const struct emu_netinfo *ni, const void *pkt,
			     size_t len);

struct uh_net_params {
	struct sockaddr_storage addr;  /* address to bind; its port is ignored */
	uint16_t port;                 /* bound port, and destination port of every send */
	struct uh_pcap *pcap;          /* NULL: no capture (not owned) */
	bool want_uring;               /* try io_uring first */
};

/* Bind and set up. -EADDRINUSE when the address is taken (the caller may try
 * another), other -errno with a message in err. */
int  uh_net_open(const struct uh_net_params *p, struct uh_net **out, char *err,
		 size_t errlen);
void uh_net_close(struct uh_net *n);
const char *uh_net_backend(const struct uh_net *n);   /* "io_uring", "io_uring sends, recvmmsg", "syscalls" */
int  uh_net_fd(const struct uh_net *n);

/* Transmit path (emu_host_ops.tx_buf / tx / tx_abort). */
void *uh_net_tx_buf(struct uh_net *n, size_t len);
void  uh_net_tx(struct uh_net *n, const struct emu_netinfo *ni, void *buf, size_t len);
void  uh_net_tx_abort(struct uh_net *n, void *buf);
bool  uh_net_tx_queued(const struct uh_net *n);
uint32_t uh_net_tx_count(const struct uh_net *n);   /* datagrams queued */
/* Held ACKs (the caller's ACK coalescing): uh_net_tx_hold marks everything
 * queued as held, uh_net_tx_held says how many still are (any send, including
 * the one a full queue makes by itself, ends the hold), and
 * uh_net_tx_held_to_end moves them behind what was queued after them, so an
 * ACK behind a larger request to the same peer joins its UDP_SEGMENT send (on
 * loopback the peer then takes both in one receive). */
void  uh_net_tx_hold(struct uh_net *n);
uint32_t uh_net_tx_held(const struct uh_net *n);
void  uh_net_tx_held_to_end(struct uh_net *n);
/* Every datagram queued is a positive RC ACK (no NAK, no request, no data). */
bool  uh_net_tx_only_acks(const struct uh_net *n);
/* Where an ACK goes: the peer's address and QP. */
struct uh_ack_key {
	struct sockaddr_storage to;
	socklen_t namelen;
	uint32_t dqpn;
};
/* The key of the first datagram queued, if it is an ACK. */
bool  uh_net_tx_first_ack(const struct uh_net *n, struct uh_ack_key *k);
/* An RC request (SEND, WRITE, READ, atomic) to that peer QP is queued: the
 * program answered. */
bool  uh_net_tx_request_to(const struct uh_net *n, const struct uh_ack_key *k);
/* On this thread (a signal handler): send buffers and groups come from the free
 * lists only, and a full socket is not waited for; none free or no room is a
 * packet lost. uh_net_reserve_tx fills the free lists for it. */
void  uh_net_no_alloc_here(bool on);
void  uh_net_reserve_tx(struct uh_net *n);
/* Send everything queued; reap finished sends. */
void  uh_net_flush(struct uh_net *n);

/* Deliver up to max received datagrams to fn without blocking; returns how many. */
size_t uh_net_rx(struct uh_net *n, uh_net_rx_fn fn, void *arg, size_t max);

/* Block until uh_net_kick, timeout_ns (< 0: none), or, with watch_rx, until a
 * datagram may be waiting. Called without the device lock. */
void uh_net_wait(struct uh_net *n, int64_t timeout_ns, bool watch_rx);
/* Any thread, with or without the lock. */
void uh_net_kick(struct uh_net *n);

void uh_net_get_stats(const struct uh_net *n, struct uh_net_stats *out);

/* The socket's receive buffer in bytes, as the kernel accounts it (0: unknown). */
size_t uh_net_rcvbuf(const struct uh_net *n);

/* The ICRC correction for a UDP payload of len bytes whose ports changed from
 * (old_sport, old_dport) to (sport, dport). Exposed for the tests. */
uint32_t uh_net_icrc_port_delta(uint16_t old_sport, uint16_t old_dport, uint16_t sport,
				uint16_t dport, size_t len);

#endif /* SOFTHCA_PROVIDER_USERMODE_NET_H */
