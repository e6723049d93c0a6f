/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/pcap.h - capture of the RoCEv2 datagrams a user-mode device
 * sends and receives (SOFTHCA_PCAP=FILE), framed as they were on the wire.
 *
 * Every datagram becomes an Ethernet frame (locally administered MACs derived
 * from the IP addresses, 02:00:a:b:c:d), a real IPv4 header (header checksum,
 * DF, identification 0, the TTL and TOS) or IPv6 header, a UDP header (the real
 * ports and length; checksum 0 over IPv4, computed over IPv6 where 0 is not
 * allowed) and the UDP payload as sent: BTH .. ICRC.
 *
 * Devices of one process that name the same file share one capture. Writes are
 * thread-safe; the file is flushed every 100 ms of writes and when the last user
 * closes it.
 */
#ifndef SOFTHCA_PROVIDER_USERMODE_PCAP_H
#define SOFTHCA_PROVIDER_USERMODE_PCAP_H

#include <stddef.h>

#include "emu/host.h"

struct uh_pcap;

/* Open (or share) the capture file path. On failure returns -errno and writes
 * a message into err. */
int  uh_pcap_open(const char *path, struct uh_pcap **out, char *err, size_t errlen);
void uh_pcap_close(struct uh_pcap *p);

/* One datagram: ni holds the headers as they were on the wire (real ports). */
void uh_pcap_write(struct uh_pcap *p, const struct emu_netinfo *ni, const void *payload,
		   size_t len);

/* Datagrams written so far (all users of the file). */
unsigned long long uh_pcap_count(struct uh_pcap *p);

#endif /* SOFTHCA_PROVIDER_USERMODE_PCAP_H */
