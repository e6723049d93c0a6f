/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/config.c - the SOFTHCA_* environment of a user-mode device.
 *
 * `softhca run` passes its options to the program through the environment, so a
 * value here was typed by a person: every bad value is an error that names the
 * variable, the value and what would have been accepted. An empty variable is
 * the same as an unset one (a wrapper exporting "" means "no choice").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uhost.h"

#define DEFAULT_NAME "sh0"
#define DEFAULT_PORT 4791u
#define DEFAULT_MTU  4096u
#define DEFAULT_ABI  2u

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The value of a variable, or NULL when unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Decimal, or hexadecimal with 0x; no sign, no blanks, no trailing text. */
static bool parse_u64(const char *s, uint64_t *out)
{
	int base = 10;
	char *end;
	unsigned long long v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s || !((*s >= '0' && *s <= '9') || (base == 16 && strchr("abcdefABCDEF", *s))))
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_range(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return false;
	if (!parse_u64(s, &v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/*
 * An IPv4 or IPv6 literal (IPv6 may carry a %scope). An IPv4-mapped IPv6 literal
 * is taken as the IPv4 address it maps: the socket is then an IPv4 one.
 */
static bool parse_addr(const char *s, struct sockaddr_storage *out)
{
	struct addrinfo hints, *res = NULL;
	bool ok = false;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(s, NULL, &hints, &res) != 0 || !res)
		return false;
	memset(out, 0, sizeof(*out));
	if (res->ai_family == AF_INET && res->ai_addrlen <= sizeof(*out)) {
		memcpy(out, res->ai_addr, res->ai_addrlen);
		ok = true;
	} else if (res->ai_family == AF_INET6 && res->ai_addrlen <= sizeof(*out)) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)res->ai_addr;

		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			struct sockaddr_in *a4 = (struct sockaddr_in *)out;

			a4->sin_family = AF_INET;
			memcpy(&a4->sin_addr, &a6->sin6_addr.s6_addr[12], 4);
		} else {
			memcpy(out, res->ai_addr, res->ai_addrlen);
		}
		ok = true;
	}
	freeaddrinfo(res);
	return ok;
}

static void set_defaults(struct uh_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", DEFAULT_NAME);
	cfg->port = DEFAULT_PORT;
	cfg->mtu = DEFAULT_MTU;
	cfg->abi_version = DEFAULT_ABI;
	cfg->order = EMU_DMA_STRICT;
}

static int read_identity(struct uh_config *cfg, char *err, size_t errlen)
{
	const char *v;

	if ((v = env("SOFTHCA_NAME"))) {
		if (!name_ok(v))
			return fail(err, errlen, "SOFTHCA_NAME=%s: not 1 to 63 characters of "
				    "A-Z, a-z, 0-9, '_' and '-'", v);
		snprintf(cfg->name, sizeof(cfg->name), "%s", v);
	}
	if ((v = env("SOFTHCA_ADDR"))) {
		if (!parse_addr(v, &cfg->addr))
			return fail(err, errlen, "SOFTHCA_ADDR=%s: not an IPv4 or IPv6 address",
				    v);
		cfg->addr_set = true;
	}
	if ((v = env("SOFTHCA_NETDEV"))) {
		if (strlen(v) >= IF_NAMESIZE || strchr(v, '/') || strchr(v, ' '))
			return fail(err, errlen, "SOFTHCA_NETDEV=%s: not a network interface "
				    "name (at most %d characters)", v, IF_NAMESIZE - 1);
		snprintf(cfg->netdev, sizeof(cfg->netdev), "%s", v);
	}
	if (cfg->addr_set && cfg->netdev[0])
		return fail(err, errlen, "SOFTHCA_ADDR and SOFTHCA_NETDEV are both set: "
			    "give the address or the interface, not both");
	return 0;
}

static int read_numbers(struct uh_config *cfg, char *err, size_t errlen)
{
	const char *v;
	uint64_t n;

	if ((v = env("SOFTHCA_PORT"))) {
		if (!parse_range(v, 1, 65535, &n))
			return fail(err, errlen, "SOFTHCA_PORT=%s: not a UDP port (1 to 65535)",
				    v);
		cfg->port = (uint32_t)n;
	}
	if ((v = env("SOFTHCA_MTU"))) {
		if (!parse_range(v, 256, 4096, &n) || (n & (n - 1)))
			return fail(err, errlen, "SOFTHCA_MTU=%s: not one of 256, 512, 1024, "
				    "2048, 4096", v);
		cfg->mtu = (uint32_t)n;
	}
	if ((v = env("SOFTHCA_SEED"))) {
		if (!parse_u64(v, &n))
			return fail(err, errlen, "SOFTHCA_SEED=%s: not a 64-bit unsigned number "
				    "(decimal, or hexadecimal with 0x)", v);
		cfg->seed = n;
	}
	if ((v = env("SOFTHCA_ABI"))) {
		if (!parse_range(v, SOFTHCA_ABI_VERSION_MIN, SOFTHCA_ABI_VERSION_MAX, &n))
			return fail(err, errlen, "SOFTHCA_ABI=%s: not 1 or 2", v);
		cfg->abi_version = (uint32_t)n;
	}
	return 0;
}

static const struct {
	const char *name;
	enum emu_dma_policy policy;
} orders[] = {
	{ "strict", EMU_DMA_STRICT },
	{ "cqe-first", EMU_DMA_CQE_FIRST },
	{ "relaxed", EMU_DMA_RELAXED },
	{ "mix", EMU_DMA_MIX },
};

static int read_order(struct uh_config *cfg, char *err, size_t errlen)
{
	const char *v = env("SOFTHCA_ORDER");

	if (!v)
		return 0;
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		if (!strcmp(v, orders[i].name)) {
			cfg->order = orders[i].policy;
			return 0;
		}
	}
	return fail(err, errlen, "SOFTHCA_ORDER=%s: not strict, cqe-first, relaxed or mix", v);
}

static int read_switches(struct uh_config *cfg, char *err, size_t errlen)
{
	const char *v;

	if ((v = env("SOFTHCA_STATS"))) {
		if (strlen(v) >= sizeof(cfg->stats))
			return fail(err, errlen, "SOFTHCA_STATS: path longer than %zu bytes",
				    sizeof(cfg->stats) - 1);
		snprintf(cfg->stats, sizeof(cfg->stats), "%s", v);
	}
	if ((v = env("SOFTHCA_PCAP"))) {
		if (strlen(v) >= sizeof(cfg->pcap))
			return fail(err, errlen, "SOFTHCA_PCAP: path longer than %zu bytes",
				    sizeof(cfg->pcap) - 1);
		snprintf(cfg->pcap, sizeof(cfg->pcap), "%s", v);
	}
	if ((v = env("SOFTHCA_PROGRESS_THREAD"))) {
		if (strcmp(v, "0") && strcmp(v, "1"))
			return fail(err, errlen, "SOFTHCA_PROGRESS_THREAD=%s: not 0 or 1", v);
		cfg->no_progress_thread = v[0] == '0';
	}
	if ((v = env("SOFTHCA_PROGRESS_SIGNAL"))) {
		if (strcmp(v, "0") && strcmp(v, "1"))
			return fail(err, errlen, "SOFTHCA_PROGRESS_SIGNAL=%s: not 0 or 1", v);
		cfg->progress_signal = v[0] == '1';
	}
	if (cfg->progress_signal && cfg->no_progress_thread)
		return fail(err, errlen, "SOFTHCA_PROGRESS_SIGNAL=1 needs the progress thread "
			    "(SOFTHCA_PROGRESS_THREAD=0 given)");
	return 0;
}

/*
 * On-demand paging: SOFTHCA_ODP_PREFAULT (0 or 1), SOFTHCA_ODP_FAULT_DELAY
 * (microseconds), SOFTHCA_ODP_INVALIDATE (one access in N; 0 = never).
 */
static int read_odp(struct uh_config *cfg, char *err, size_t errlen)
{
	const char *v;
	uint64_t n;

	if ((v = env("SOFTHCA_ODP_PREFAULT"))) {
		if (strcmp(v, "0") && strcmp(v, "1"))
			return fail(err, errlen, "SOFTHCA_ODP_PREFAULT=%s: not 0 (first touch "
				    "faults) or 1 (pages start present)", v);
		cfg->odp_prefault = v[0] == '1';
	}
	if ((v = env("SOFTHCA_ODP_FAULT_DELAY"))) {
		if (!parse_range(v, 0, UH_ODP_FAULT_DELAY_MAX_US, &n))
			return fail(err, errlen, "SOFTHCA_ODP_FAULT_DELAY=%s: not a delay in "
				    "microseconds, 0 to %llu", v, UH_ODP_FAULT_DELAY_MAX_US);
		cfg->odp_fault_delay_us = n;
	}
	if ((v = env("SOFTHCA_ODP_INVALIDATE"))) {
		if (!parse_range(v, 0, UINT64_MAX, &n) || (n && n < UH_ODP_INVALIDATE_MIN))
			return fail(err, errlen, "SOFTHCA_ODP_INVALIDATE=%s: not 0 (never) or N >= "
				    "%llu (one ODP access in N invalidates its MR's pages)", v,
				    UH_ODP_INVALIDATE_MIN);
		cfg->odp_invalidate_one_in = n;
	}
	return 0;
}

int uh_config_from_env(struct uh_config *cfg, char *err, size_t errlen)
{
	if (!cfg)
		return fail(err, errlen, "no configuration to fill");
	set_defaults(cfg);
	if (err && errlen)
		err[0] = '\0';
	if (read_identity(cfg, err, errlen) || read_numbers(cfg, err, errlen) ||
	    read_order(cfg, err, errlen) || read_switches(cfg, err, errlen) ||
	    read_odp(cfg, err, errlen))
		return -1;
	return 0;
}
