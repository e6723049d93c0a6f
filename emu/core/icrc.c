/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/core/icrc.c - RoCEv2 invariant CRC (IBA vol. 1 annex A17.3.3).
 *
 * The ICRC covers everything that does not change hop by hop: a pseudo-header made
 * of 8 bytes of ones standing for the LRH, the IP and UDP headers with their
 * variant fields set to ones, and the BTH with its FECN/BECN byte set to ones;
 * then the rest of the packet as sent. The pseudo-header is built on the stack and
 * the payload is fed to the CRC in place.
 */
#include "emu.h"
#include "wire.h"
#include "internal.h"

#define MASKED_LRH_BYTES 8
#define IPV4_HDR_BYTES   20
#define IPV6_HDR_BYTES   40
#define UDP_HDR_BYTES    8
#define IPPROTO_UDP_NUM  17
#define BTH_FECN_BECN_BYTE 4

#define PSEUDO_MAX_BYTES \
	(MASKED_LRH_BYTES + IPV6_HDR_BYTES + UDP_HDR_BYTES + BTH_BYTES)

/* IPv4-mapped addresses keep the IPv4 address in their last 4 bytes. */
#define IPV4_MAPPED_OFFSET 12

/* TOS, TTL and header checksum are masked; the identification is not. */
static uint8_t *put_ipv4(uint8_t *p, const struct emu_netinfo *ni, uint16_t udp_len)
{
	p[0] = 0x45;
	p[1] = 0xff;
	put_be16(p + 2, (uint16_t)(IPV4_HDR_BYTES + udp_len));
	put_be16(p + 4, ni->ip_id);
	put_be16(p + 6, ni->frag_off);
	p[8] = 0xff;
	p[9] = IPPROTO_UDP_NUM;
	p[10] = 0xff;
	p[11] = 0xff;
	emu_memcpy_small(p + 12, ni->src + IPV4_MAPPED_OFFSET, 4);
	emu_memcpy_small(p + 16, ni->dst + IPV4_MAPPED_OFFSET, 4);
	return p + IPV4_HDR_BYTES;
}

/* Traffic class, flow label and hop limit are masked. */
static uint8_t *put_ipv6(uint8_t *p, const struct emu_netinfo *ni, uint16_t udp_len)
{
	p[0] = 0x6f;
	p[1] = 0xff;
	p[2] = 0xff;
	p[3] = 0xff;
	put_be16(p + 4, udp_len);
	p[6] = IPPROTO_UDP_NUM;
	p[7] = 0xff;
	emu_memcpy_small(p + 8, ni->src, 16);
	emu_memcpy_small(p + 24, ni->dst, 16);
	return p + IPV6_HDR_BYTES;
}

/* The UDP checksum is masked. */
static uint8_t *put_udp(uint8_t *p, const struct emu_netinfo *ni, uint16_t udp_len)
{
	put_be16(p, ni->udp_sport);
	put_be16(p + 2, ni->udp_dport);
	put_be16(p + 4, udp_len);
	p[6] = 0xff;
	p[7] = 0xff;
	return p + UDP_HDR_BYTES;
}

static size_t build_pseudo(uint8_t *buf, const struct emu_netinfo *ni,
			   const uint8_t *pkt, size_t len)
{
	uint16_t udp_len = (uint16_t)(UDP_HDR_BYTES + len);
	uint8_t *p = buf;

	emu_memset(p, 0xff, MASKED_LRH_BYTES);
	p += MASKED_LRH_BYTES;
	/* Anything but 6 is taken as IPv4, the common case of RoCEv2. */
	if (ni->ip_version == 6)
		p = put_ipv6(p, ni, udp_len);
	else
		p = put_ipv4(p, ni, udp_len);
	p = put_udp(p, ni, udp_len);
	emu_memcpy_small(p, pkt, BTH_BYTES);
	p[BTH_FECN_BECN_BYTE] = 0xff;
	return (size_t)(p + BTH_BYTES - buf);
}

/* A packet shorter than BTH + ICRC has no ICRC to speak of: 0, and check fails. */
uint32_t emu_icrc_compute(const struct emu_host_ops *ops, const struct emu_netinfo *ni,
			  const uint8_t *pkt, size_t len)
{
	uint8_t pseudo[PSEUDO_MAX_BYTES];
	size_t pseudo_len;
	uint32_t crc;

	if (len < BTH_BYTES + ICRC_BYTES)
		return 0;
	pseudo_len = build_pseudo(pseudo, ni, pkt, len);
	crc = ops->crc32(0, pseudo, pseudo_len);
	return ops->crc32(crc, pkt + BTH_BYTES, len - BTH_BYTES - ICRC_BYTES);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * Solving for an unseen IPv4 identification. A CRC is affine: two streams of
 * the same length that differ in some bits have CRCs that differ by the CRC
 * register (started at 0, no final inversion) of the differing bits followed by
 * the zero bytes after them. So the ICRC computed with identification 0 differs
 * from the one sent with identification I by L(I), linear in the 16 bits of I:
 * bit k of I contributes the register of that bit, carried through the bytes
 * that follow the field. The CRC-32 is reflected: x^0 is the register's top bit.
 */
#define CRC32_POLY_REFLECTED 0xedb88320u
#define IPV4_ID_OFFSET (MASKED_LRH_BYTES + 4)
#define IP_ID_BITS 16

static uint32_t crc_times_x(uint32_t v)
{
	return (v >> 1) ^ ((v & 1u) ? CRC32_POLY_REFLECTED : 0);
}

/* a * b mod P */
static uint32_t crc_mulmod(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;

	for (int i = 0; i < 32; i++) {
		if (a & (0x80000000u >> i))
			prod ^= b;
		b = crc_times_x(b);
	}
	return prod;
}

/* x^(8 * nbytes) mod P: what carrying a register through nbytes zero bytes does. */
static uint32_t crc_shift_bytes(uint64_t nbytes)
{
	uint32_t result = 0x80000000u, power = 0x80000000u;    /* both x^0 */

	for (int i = 0; i < 8; i++)
		power = crc_times_x(power);                     /* x^8 */
	for (; nbytes; nbytes >>= 1) {                          /* x^(8 * 2^i) */
		if (nbytes & 1u)
			result = crc_mulmod(result, power);
		power = crc_mulmod(power, power);
	}
	return result;
}

/* The CRC register (started at 0, no inversion) after n bytes. */
static uint32_t crc_register(const uint8_t *bytes, size_t n)
{
	uint32_t reg = 0;

	for (size_t i = 0; i < n; i++) {
		reg ^= bytes[i];
		for (int b = 0; b < 8; b++)
			reg = crc_times_x(reg);
	}
	return reg;
}

uint32_t emu_icrc_delta(const uint8_t *diff, size_t n, size_t tail_bytes)
{
	return crc_mulmod(crc_register(diff, n), crc_shift_bytes(tail_bytes));
}

/* The register of identification bit k (0 = least significant) alone. */
static uint32_t ip_id_bit_register(int k)
{
	const uint8_t field[2] = { (uint8_t)((1u << k) >> 8), (uint8_t)(1u << k) };

	return crc_register(field, sizeof(field));
}

/*
 * Is diff (computed ICRC ^ received ICRC) L(I) for some identification I, with
 * tail_bytes of the CRC'd stream after the field? Gaussian elimination over the
 * 16 columns of L: each is independent (multiplying by x^n is invertible modulo
 * P), so at most one I answers, and it is 2^-16 likely for a random diff.
 */
static bool ip_id_solves(uint32_t diff, size_t tail_bytes)
{
	uint32_t shift = crc_shift_bytes(tail_bytes);
	uint32_t basis[32] = { 0 };     /* indexed by the pivot bit */

	for (int k = 0; k < IP_ID_BITS; k++) {
		uint32_t v = crc_mulmod(ip_id_bit_register(k), shift);

		for (int bit = 31; bit >= 0 && v; bit--) {
			if (!(v & (1u << bit)))
				continue;
			if (!basis[bit]) {
				basis[bit] = v;
				v = 0;
			} else {
				v ^= basis[bit];
			}
		}
	}
	for (int bit = 31; bit >= 0 && diff; bit--)
		if ((diff & (1u << bit)) && basis[bit])
			diff ^= basis[bit];
	return diff == 0;
}

bool emu_icrc_check(const struct emu_host_ops *ops, const struct emu_netinfo *ni,
		    const uint8_t *pkt, size_t len)
{
	uint32_t computed, received;
	size_t pseudo_len = MASKED_LRH_BYTES + IPV4_HDR_BYTES + UDP_HDR_BYTES + BTH_BYTES;

	if (len < BTH_BYTES + ICRC_BYTES)
		return false;
	computed = emu_icrc_compute(ops, ni, pkt, len);
	received = get_le32(pkt + len - ICRC_BYTES);
	if (computed == received)
		return true;
	if (ni->ip_version == 6 || !(ni->flags & EMU_NI_IP_ID_UNKNOWN))
		return false;
	/* The field's 2 bytes are followed by the rest of the pseudo-header and by
	 * the packet after its BTH, ICRC excluded. */
	return ip_id_solves(computed ^ received, pseudo_len - IPV4_ID_OFFSET - 2 +
				  (len - BTH_BYTES - ICRC_BYTES));
}

void emu_icrc_fill(const struct emu_host_ops *ops, const struct emu_netinfo *ni,
		   uint8_t *pkt, size_t len)
{
	if (len < BTH_BYTES + ICRC_BYTES)
		return;
	put_le32(pkt + len - ICRC_BYTES, emu_icrc_compute(ops, ni, pkt, len));
}
