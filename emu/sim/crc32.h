/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * emu/sim/crc32.h - a fast CRC-32 for the userspace hosts.
 *
 * The ICRC is a CRC-32 over every byte of every packet, computed by the sender
 * and again by the receiver, so its speed bounds the engine's payload rate.
 * sim_crc32() has the semantics of zlib's crc32() (IEEE 802.3 polynomial,
 * reflected, pre- and post-inversion inside, chainable, a NULL buffer gives 0)
 * and the same results for every input; it folds with carry-less multiplication
 * where the CPU has it and falls back to zlib elsewhere.
 */
#ifndef SOFTHCA_EMU_SIM_CRC32_H
#define SOFTHCA_EMU_SIM_CRC32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fastest implementation this CPU runs. */
uint32_t sim_crc32(uint32_t crc, const void *buf, size_t len);

/* Each implementation on its own, for tests and benchmarks. */
enum sim_crc32_impl {
	SIM_CRC32_ZLIB = 0,       /* zlib's crc32_z */
	SIM_CRC32_PCLMUL,         /* 128-bit folding with PCLMULQDQ */
	SIM_CRC32_VPCLMUL,        /* 512-bit folding with VPCLMULQDQ (AVX-512) */
	SIM_CRC32_IMPLS
};

bool sim_crc32_impl_available(enum sim_crc32_impl impl);
const char *sim_crc32_impl_name(enum sim_crc32_impl impl);
/* The one sim_crc32() uses for long buffers. */
enum sim_crc32_impl sim_crc32_best(void);
/* impl must be available. */
uint32_t sim_crc32_with(enum sim_crc32_impl impl, uint32_t crc, const void *buf,
			size_t len);

/* Derives every folding and Barrett constant again from the polynomial and
 * compares it with the table the fast paths use; returns the number of
 * mismatches (0 when the table is right). */
int sim_crc32_check_constants(void);

#endif /* SOFTHCA_EMU_SIM_CRC32_H */
