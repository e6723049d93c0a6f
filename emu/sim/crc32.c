/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/crc32.c - CRC-32 (IEEE 802.3, reflected) by carry-less multiplication.
 *
 * The math, in the bit order the reflected CRC uses.
 *
 * P(x) = x^32 + x^26 + ... + 1 (0x104C11DB7). The CRC register c after a message M
 * of |M| bits, started from c0, is c = (c0 * x^|M| + M * x^32) mod P; zlib's
 * crc32() returns ~c with c0 = ~crc. The first bit of the message (bit 0 of byte
 * 0) is the highest-degree term of M. Adding c0 * x^|M| is the same as XORing c0
 * into the first 32 bits of M, which is how the fast paths start.
 *
 * Register convention: a 128-bit register loaded little-endian from 16 message
 * bytes has bit k (bit k%8 of byte k/8) standing for x^(127-k). Its low 64-bit
 * half ("q0") then stands for L(x) * x^64 and its high half ("q1") for H(x), where
 * a 64-bit field's bit j stands for x^(63-j) of L or H: R = L * x^64 + H.
 *
 * Carry-less multiply in this convention: if fields a and b stand for A and B,
 * bit m of clmul(a, b) is the XOR of a_i * b_j over i + j = m, the coefficient of
 * x^(63-i) * x^(63-j) = x^(126-m) in A * B. Read as a register (bit m is x^(127-m))
 * the product stands for x * A * B: one extra factor x, compensated in every
 * constant below by using an exponent one smaller.
 *
 * Folding. A register R followed, D bits later, by register R' contributes
 * R * x^D to the message; R * x^D = L * x^(D+64) + H * x^D, which is congruent
 * mod P to
 *     clmul(q0(R), k1) ^ clmul(q1(R), k2),  k1 = x^(D+63) mod P, k2 = x^(D-1) mod P
 * (each constant as a 64-bit field: the 32 coefficients of x^e mod P, degree
 * < 32, land in bits 32..63). The result has at most 96 significant bits and is
 * XORed into R'. D = 128 folds into the next 16 bytes, D = 512 into the next 64
 * (four 128-bit accumulators, or the next zmm), D = 2048 into the next 256 (four
 * zmm accumulators), and D = 384 / 256 collapse the lanes of a zmm.
 *
 * Final reduction of the last register R to the CRC, R * x^32 mod P:
 *  1. R * x^32 = L * x^96 + H * x^32. L * x^96 is congruent to
 *     clmul(q0(R), x^95 mod P); H * x^32 is q1(R) moved down to bits 32..95.
 *     Their sum S has degree < 96 (bits 32..127).
 *  2. S = A * x^64 + B with A of degree < 32 (bits 32..63) and B = q1(S).
 *     A * x^64 is congruent to clmul(q0(S), x^63 mod P), which lands in q1; the
 *     sum U = that ^ S has its 64 significant bits in q1 (degree < 64).
 *  3. Barrett: with U = Uh * x^32 + Ul, the quotient is
 *     Q = floor(Uh * mu / x^32), mu = floor(x^64 / P) (degree 32), exact over
 *     GF(2) for deg U < 64, and the CRC is U + Q * P (degree < 32). With Uh as
 *     the low 32 bits of a field (standing for Uh * x^32) and mu stored as its 33
 *     coefficients reflected into bits 0..32 (standing for mu * x^31), the
 *     product's bits 0..31 are Q as a field standing for Q * x^32; multiplied by
 *     P stored the same way, bits 32..63 of the product are the low 32
 *     coefficients of Q * P aligned with Ul in U shifted down by 64 bits. Their
 *     XOR, bits 32..63, is the CRC register (bit j = coefficient of x^(31-j)).
 *
 * The constants are in crc_consts below, as literals so that no initialisation
 * is needed; derive_consts() computes every one of them again from P (plain
 * shift-and-subtract for x^e mod P, long division for mu) and
 * sim_crc32_check_constants() compares the two, which tests/unit/test_crc32.c
 * runs, besides comparing every path with zlib.
 *
 * The last len % 16 bytes: 4 to 15 of them are right-aligned in a zeroed block
 * and reduced the same way (leading zero bytes add nothing); 1 to 3 go through
 * zlib's byte table. The ICRC's lengths are multiples of 4, so only the first
 * case happens on the packet path.
 */
#include <string.h>
#include <zlib.h>

#include "crc32.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define SIM_CRC32_X86 1
#include <immintrin.h>
#else
#define SIM_CRC32_X86 0
#endif

#define CRC32_POLY        0x104C11DB7ull   /* P(x), x^32 included */
#define CRC32_POLY_DEGREE 32

/* Minimum length for the 512-bit path: four zmm accumulators. */
#define VPCLMUL_MIN_LEN 256

struct crc_consts {
	uint64_t fold128[2];      /* { x^191, x^127 } mod P */
	uint64_t fold256[2];      /* { x^319, x^255 } */
	uint64_t fold384[2];      /* { x^447, x^383 } */
	uint64_t fold512[2];      /* { x^575, x^511 } */
	uint64_t fold2048[2];     /* { x^2111, x^2047 } */
	uint64_t reduce[2];       /* { x^95, x^63 } */
	uint64_t barrett[2];      /* { mu, P }, 33 bits each, reflected */
};

static const struct crc_consts crc_consts = {
	.fold128  = { 0x65673b4600000000ull, 0x9ba54c6f00000000ull },
	.fold256  = { 0x9570d49500000000ull, 0x01b5fd1d00000000ull },
	.fold384  = { 0x69ccfc0d00000000ull, 0x2a28386200000000ull },
	.fold512  = { 0x653d982200000000ull, 0xcad38e8f00000000ull },
	.fold2048 = { 0x7cc8e1e700000000ull, 0x03f9f86300000000ull },
	.reduce   = { 0xccaa009e00000000ull, 0xb8bc676500000000ull },
	.barrett  = { 0x1f7011641ull, 0x1db710641ull },
};

/* ---- derivation of the constants ------------------------------------------------ */

/* x^e mod P, normal bit order (bit d = coefficient of x^d). */
static uint64_t xpow_mod(uint32_t e)
{
	uint64_t r = 1;

	for (uint32_t i = 0; i < e; i++) {
		r <<= 1;
		if (r >> CRC32_POLY_DEGREE)
			r ^= CRC32_POLY;
	}
	return r;
}

/* Reverse the low n bits of v. */
static uint64_t reflect(uint64_t v, unsigned n)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < n; i++)
		if (v & (1ull << i))
			r |= 1ull << (n - 1 - i);
	return r;
}

/* x^e mod P as a 64-bit field (bit j = coefficient of x^(63-j)). */
static uint64_t field_of_xpow(uint32_t e)
{
	return reflect(xpow_mod(e), 64);
}

/* floor(x^64 / P) by long division; degree 32. */
static uint64_t barrett_mu(void)
{
	/* The dividend x^64 needs 65 bits: keep it as x^64 = x^32 * x^32 and divide
	 * the running remainder one degree at a time. */
	uint64_t rem = 1ull << 32;     /* x^32, then shifted in degree by degree */
	uint64_t q = 0;

	for (int d = 32; d >= 0; d--) {
		/* rem stands for the part of the dividend at degrees >= d + 32. */
		if (rem & (1ull << 32)) {
			q |= 1ull << d;
			rem ^= CRC32_POLY;
		}
		rem <<= 1;
	}
	return q;
}

static void fold_pair(uint64_t out[2], uint32_t distance)
{
	out[0] = field_of_xpow(distance + 63);
	out[1] = field_of_xpow(distance - 1);
}

static void derive_consts(struct crc_consts *k)
{
	fold_pair(k->fold128, 128);
	fold_pair(k->fold256, 256);
	fold_pair(k->fold384, 384);
	fold_pair(k->fold512, 512);
	fold_pair(k->fold2048, 2048);
	k->reduce[0] = field_of_xpow(95);
	k->reduce[1] = field_of_xpow(63);
	k->barrett[0] = reflect(barrett_mu(), 33);
	k->barrett[1] = reflect(CRC32_POLY, 33);
}

int sim_crc32_check_constants(void)
{
	const uint64_t *want, *have;
	struct crc_consts k;
	int bad = 0;

	derive_consts(&k);
	want = (const uint64_t *)&k;
	have = (const uint64_t *)&crc_consts;
	for (size_t i = 0; i < sizeof(k) / sizeof(uint64_t); i++)
		if (want[i] != have[i])
			bad++;
	return bad;
}

/* ---- zlib ------------------------------------------------------------------------ */

static uint32_t crc32_zlib(uint32_t crc, const void *buf, size_t len)
{
	return (uint32_t)crc32_z(crc, buf, len);
}


#if SIM_CRC32_X86

/* CRC register after a few bytes, one at a time through zlib's byte table. */
static uint32_t raw_bytewise(uint32_t c, const uint8_t *p, size_t n)
{
	const z_crc_t *table = get_crc_table();

	while (n--)
		c = (uint32_t)table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

/* ---- 128-bit folding (PCLMULQDQ + SSE4.1) ------------------------------------------ */

#define TARGET_PCLMUL __attribute__((target("pclmul,sse4.1")))
#define TARGET_VPCLMUL __attribute__((target("pclmul,sse4.1,avx512f,vpclmulqdq")))

static inline TARGET_PCLMUL __m128i pair128(const uint64_t k[2])
{
	return _mm_set_epi64x((long long)k[1], (long long)k[0]);
}

static inline TARGET_PCLMUL __m128i load128(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* x folded forward by the distance of k, XORed into next. */
static inline TARGET_PCLMUL __m128i fold128(__m128i x, __m128i k, __m128i next)
{
	__m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
	__m128i hi = _mm_clmulepi64_si128(x, k, 0x11);

	return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The CRC register of a message whose last 128 bits (all folded) are x. */
static inline TARGET_PCLMUL uint32_t reduce128(__m128i x)
{
	const __m128i red = pair128(crc_consts.reduce);
	const __m128i bar = pair128(crc_consts.barrett);
	const __m128i zero = _mm_setzero_si128();
	__m128i s, u, g, q;

	/* 1: S = clmul(q0, x^95) ^ (q1 moved to bits 32..95) */
	s = _mm_clmulepi64_si128(x, red, 0x00);
	s = _mm_xor_si128(s, _mm_bslli_si128(_mm_bsrli_si128(x, 8), 4));
	/* 2: U = clmul(q0(S), x^63) ^ S, significant in q1; g = U >> 64 */
	u = _mm_xor_si128(_mm_clmulepi64_si128(s, red, 0x10), s);
	g = _mm_bsrli_si128(u, 8);
	/* 3: Barrett. Q = low 32 bits of clmul(Uh, mu); CRC = bits 32..63 of Q*P ^ g */
	q = _mm_clmulepi64_si128(_mm_blend_epi16(zero, g, 0x03), bar, 0x00);
	q = _mm_clmulepi64_si128(_mm_blend_epi16(zero, q, 0x03), bar, 0x10);
	return (uint32_t)_mm_extract_epi32(_mm_xor_si128(q, g), 1);
}

/* Fold 16-byte blocks into x until fewer than 16 bytes are left. */
static inline TARGET_PCLMUL __m128i fold_blocks(__m128i x, const uint8_t **pp, size_t *np)
{
	const __m128i k128 = pair128(crc_consts.fold128);
	const uint8_t *p = *pp;
	size_t n = *np;

	for (; n >= 16; p += 16, n -= 16)
		x = fold128(x, k128, load128(p));
	*pp = p;
	*np = n;
	return x;
}

/* CRC register after n bytes at p (n >= 16, a multiple of 16) from register c. */
static TARGET_PCLMUL uint32_t raw_pclmul(uint32_t c, const uint8_t *p, size_t n)
{
	__m128i x0 = _mm_xor_si128(load128(p), _mm_cvtsi32_si128((int)c));

	if (n >= 64) {
		const __m128i k512 = pair128(crc_consts.fold512);
		const __m128i k128 = pair128(crc_consts.fold128);
		__m128i x1 = load128(p + 16), x2 = load128(p + 32), x3 = load128(p + 48);

		/* Four independent chains hide the multiplier's latency. */
		for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
			x0 = fold128(x0, k512, load128(p));
			x1 = fold128(x1, k512, load128(p + 16));
			x2 = fold128(x2, k512, load128(p + 32));
			x3 = fold128(x3, k512, load128(p + 48));
		}
		x1 = fold128(x0, k128, x1);
		x2 = fold128(x1, k128, x2);
		x0 = fold128(x2, k128, x3);
	} else {
		p += 16;
		n -= 16;
	}
	x0 = fold_blocks(x0, &p, &n);
	return reduce128(x0);
}

/*
 * CRC register after r bytes at p, 4 <= r <= 15, from register c: the bytes
 * right-aligned in a zeroed block (leading zeros add nothing to the message
 * polynomial) with c XORed into their first four, as at the start of any
 * message, then the same final reduction.
 */
static TARGET_PCLMUL uint32_t raw_pclmul_short(uint32_t c, const uint8_t *p, size_t r)
{
	uint8_t block[16] = { 0 };
	uint8_t *first = block + 16 - r;

	memcpy(first, p, r);
	for (int i = 0; i < 4; i++)
		first[i] ^= (uint8_t)(c >> (8 * i));
	return reduce128(load128(block));
}

/* ---- 512-bit folding (VPCLMULQDQ + AVX-512F) ---------------------------------------- */

static inline TARGET_VPCLMUL __m512i load512(const uint8_t *p)
{
	return _mm512_loadu_si512((const void *)p);
}

static inline TARGET_VPCLMUL __m512i fold512(__m512i z, __m512i k, __m512i next)
{
	__m512i lo = _mm512_clmulepi64_epi128(z, k, 0x00);
	__m512i hi = _mm512_clmulepi64_epi128(z, k, 0x11);

	return _mm512_ternarylogic_epi64(lo, hi, next, 0x96);   /* lo ^ hi ^ next */
}

static TARGET_VPCLMUL uint32_t raw_vpclmul(uint32_t c, const uint8_t *p, size_t n)
{
	const __m512i k2048 = _mm512_broadcast_i32x4(pair128(crc_consts.fold2048));
	const __m512i k512 = _mm512_broadcast_i32x4(pair128(crc_consts.fold512));
	/* Lane i of the last zmm is 3 - i lanes before its end: fold it that far. */
	const __m512i klanes = _mm512_set_epi64(
		0, 0,
		(long long)crc_consts.fold128[1], (long long)crc_consts.fold128[0],
		(long long)crc_consts.fold256[1], (long long)crc_consts.fold256[0],
		(long long)crc_consts.fold384[1], (long long)crc_consts.fold384[0]);
	__m512i z0, z1, z2, z3, t;
	__m128i x;

	z0 = _mm512_xor_si512(load512(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)c)));
	z1 = load512(p + 64);
	z2 = load512(p + 128);
	z3 = load512(p + 192);
	for (p += 256, n -= 256; n >= 256; p += 256, n -= 256) {
		z0 = fold512(z0, k2048, load512(p));
		z1 = fold512(z1, k2048, load512(p + 64));
		z2 = fold512(z2, k2048, load512(p + 128));
		z3 = fold512(z3, k2048, load512(p + 192));
	}
	z1 = fold512(z0, k512, z1);
	z2 = fold512(z1, k512, z2);
	z3 = fold512(z2, k512, z3);
	for (; n >= 64; p += 64, n -= 64)
		z3 = fold512(z3, k512, load512(p));

	/* Lanes 0..2 folded onto lane 3 (klanes' lane 3 is zero: it stays out). */
	t = _mm512_xor_si512(_mm512_clmulepi64_epi128(z3, klanes, 0x00),
			     _mm512_clmulepi64_epi128(z3, klanes, 0x11));
	x = _mm_xor_si128(_mm512_extracti32x4_epi32(t, 0), _mm512_extracti32x4_epi32(t, 1));
	x = _mm_xor_si128(x, _mm512_extracti32x4_epi32(t, 2));
	x = _mm_xor_si128(x, _mm512_extracti32x4_epi32(z3, 3));
	x = fold_blocks(x, &p, &n);
	return reduce128(x);
}

static bool cpu_has_pclmul(void)
{
	return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

static bool cpu_has_vpclmul(void)
{
	return cpu_has_pclmul() && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("vpclmulqdq");
}

/*
 * The choice for sim_crc32(), made once when the program (or library) is
 * loaded, before any thread can call it; picked stays false for a call from
 * another constructor that runs first, which then asks the CPU itself.
 */
static enum sim_crc32_impl picked_impl;
static bool picked;

__attribute__((constructor)) static void pick_impl(void)
{
	__builtin_cpu_init();
	picked_impl = cpu_has_vpclmul() ? SIM_CRC32_VPCLMUL :
		      cpu_has_pclmul() ? SIM_CRC32_PCLMUL : SIM_CRC32_ZLIB;
	picked = true;
}

#else /* !SIM_CRC32_X86 */

static bool cpu_has_pclmul(void) { return false; }
static bool cpu_has_vpclmul(void) { return false; }

#endif

/* ---- the API ------------------------------------------------------------------------- */

bool sim_crc32_impl_available(enum sim_crc32_impl impl)
{
	switch (impl) {
	case SIM_CRC32_ZLIB:
		return true;
	case SIM_CRC32_PCLMUL:
		return cpu_has_pclmul();
	case SIM_CRC32_VPCLMUL:
		return cpu_has_vpclmul();
	default:
		return false;
	}
}

const char *sim_crc32_impl_name(enum sim_crc32_impl impl)
{
	switch (impl) {
	case SIM_CRC32_ZLIB:
		return "zlib";
	case SIM_CRC32_PCLMUL:
		return "pclmul";
	case SIM_CRC32_VPCLMUL:
		return "vpclmul";
	default:
		return "?";
	}
}

enum sim_crc32_impl sim_crc32_best(void)
{
	if (cpu_has_vpclmul())
		return SIM_CRC32_VPCLMUL;
	if (cpu_has_pclmul())
		return SIM_CRC32_PCLMUL;
	return SIM_CRC32_ZLIB;
}

/*
 * Whole 16-byte blocks by the chosen folding path, a rest of 4 to 15 bytes as
 * one padded block, a rest of 1 to 3 bytes byte by byte. A NULL buffer goes to
 * zlib untouched: it answers 0 there, whatever the length.
 */
uint32_t sim_crc32_with(enum sim_crc32_impl impl, uint32_t crc, const void *buf,
			size_t len)
{
#if SIM_CRC32_X86
	const uint8_t *p = buf;
	size_t whole = len & ~(size_t)15;
	size_t rest = len - whole;
	uint32_t c = ~crc;

	if (impl == SIM_CRC32_ZLIB || !p)
		return crc32_zlib(crc, buf, len);
	if (impl == SIM_CRC32_VPCLMUL && whole >= VPCLMUL_MIN_LEN)
		c = raw_vpclmul(c, p, whole);
	else if (whole)
		c = raw_pclmul(c, p, whole);
	if (rest >= 4)
		c = raw_pclmul_short(c, p + whole, rest);
	else if (rest)
		c = raw_bytewise(c, p + whole, rest);
	return ~c;
#else
	(void)impl;
	return crc32_zlib(crc, buf, len);
#endif
}

uint32_t sim_crc32(uint32_t crc, const void *buf, size_t len)
{
#if SIM_CRC32_X86
	return sim_crc32_with(picked ? picked_impl : sim_crc32_best(), crc, buf, len);
#else
	return crc32_zlib(crc, buf, len);
#endif
}
