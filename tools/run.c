/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/run.c - `softhca run [options] -- PROGRAM ARGS`.
 *
 * The device lives inside PROGRAM (the drop-in libibverbs.so.1 hosts it), so
 * this command only prepares PROGRAM's environment and execs it. Everything it
 * can check is checked here, before exec, because a bad value found later by
 * the drop-in surfaces inside PROGRAM as a bare "no device" and is much harder
 * to read. Each option overrides the SOFTHCA_* variable of the same meaning;
 * variables inherited from the caller's environment are checked the same way.
 */
#define _DEFAULT_SOURCE

#include "run.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_DEFAULT_PORT 4791
#define RUN_NAME_MAX 63   /* struct uh_config: char name[64] */
#define RUN_PATH_LEN 4096 /* struct uh_config: char pcap[4096] */
#define RUN_DROPIN "libibverbs.so.1"
#define RUN_LIBDIR_ENV "SOFTHCA_LIBDIR"

enum run_opt_id {
	OPT_ADDR,
	OPT_NETDEV,
	OPT_NAME,
	OPT_PORT,
	OPT_MTU,
	OPT_SEED,
	OPT_ABI,
	OPT_PCAP,
	OPT_ORDER,
	OPT_TRACE,
	OPT_STATS,
	OPT_NO_PROGRESS_THREAD,
	OPT_PROGRESS_SIGNAL,
	OPT_ODP_PREFAULT,
	OPT_ODP_FAULT_DELAY,
	OPT_ODP_INVALIDATE,
	OPT_COUNT
};

struct run_opt {
	const char *name;    /* the long option without its "--" */
	const char *env;     /* the variable the drop-in reads */
	const char *metavar; /* NULL: a flag, which sets env to flag_value */
	const char *flag_value;
	const char *help;
};

static const struct run_opt run_opts[OPT_COUNT] = {
	[OPT_ADDR] = { "addr", "SOFTHCA_ADDR", "ADDR", NULL,
		       "bind the device to this IPv4 or IPv6 address\n"
		       "(GID 0 is its GID); default: a free loopback\n"
		       "address 127.0.0.N, N >= 2" },
	[OPT_NETDEV] = { "netdev", "SOFTHCA_NETDEV", "IFACE", NULL,
			 "bind the device to the address of this interface:\n"
			 "its first IPv4 address, else its first global IPv6\n"
			 "one; the port MTU fits the interface's MTU" },
	[OPT_NAME] = { "name", "SOFTHCA_NAME", "NAME", NULL,
		       "device name, 1-63 of [A-Za-z0-9_-] (default sh0)" },
	[OPT_PORT] = { "port", "SOFTHCA_PORT", "N", NULL,
		       "UDP port, 1-65535 (default 4791, the RoCEv2 port)" },
	[OPT_MTU] = { "mtu", "SOFTHCA_MTU", "N", NULL,
		      "largest IB MTU of the port: 256, 512, 1024, 2048\n"
		      "or 4096 (default 4096)" },
	[OPT_SEED] = { "seed", "SOFTHCA_SEED", "N", NULL,
		       "seed of every engine decision, decimal or 0x-hex\n"
		       "64-bit (default 0)" },
	[OPT_ABI] = { "abi", "SOFTHCA_ABI", "1|2", NULL,
		      "ring ABI version of the provider (default 2)" },
	[OPT_PCAP] = { "pcap", "SOFTHCA_PCAP", "FILE", NULL,
		       "write every RoCEv2 packet the device sends or\n"
		       "receives to this pcap file (created or truncated)" },
	[OPT_ORDER] = { "order", "SOFTHCA_ORDER", "POLICY", NULL,
			"DMA ordering: strict, cqe-first, relaxed or mix" },
	[OPT_TRACE] = { "trace", "SOFTHCA_TRACE", "FILE", NULL,
			"append the engine's trace to this file" },
	[OPT_STATS] = { "stats", "SOFTHCA_STATS", "FILE", NULL,
			"write the device's counters (packets, drops by\n"
			"reason, retransmits, DMA...) to this file at exit" },
	[OPT_NO_PROGRESS_THREAD] = { "no-progress-thread", "SOFTHCA_PROGRESS_THREAD", NULL, "0",
				     "no progress thread: the device advances only\n"
				     "inside verbs calls (post, poll, get_cq_event)" },
	[OPT_PROGRESS_SIGNAL] = { "progress-signal", "SOFTHCA_PROGRESS_SIGNAL", NULL, "1",
				  "arriving datagrams interrupt the thread that last\n"
				  "polled the device (SIGURG), whose handler takes\n"
				  "them in: no thread wake-up on the way, for a\n"
				  "program that spins on memory (ib_write_lat); uses\n"
				  "recvmmsg, not io_uring. Not with --trace, --pcap,\n"
				  "--order other than strict, completion channels or\n"
				  "ODP MRs (the progress thread then drives the device)" },
	[OPT_ODP_PREFAULT] = { "odp-prefault", "SOFTHCA_ODP_PREFAULT", NULL, "1",
			       "on-demand paging: pages of ODP MRs start present\n"
			       "(default: the first touch of a page faults)" },
	[OPT_ODP_FAULT_DELAY] = { "odp-fault-delay", "SOFTHCA_ODP_FAULT_DELAY", "US", NULL,
				  "on-demand paging: resolve each page fault US\n"
				  "microseconds after the device asks (0 to 10000000,\n"
				  "default 0)" },
	[OPT_ODP_INVALIDATE] = { "odp-invalidate", "SOFTHCA_ODP_INVALIDATE", "N", NULL,
				 "on-demand paging: one ODP access in N (drawn from\n"
				 "the seed) invalidates the pages of its MR, which\n"
				 "fault again; N >= 2, 0 = never (default)" },
};

struct run_value {
	const char *value;   /* NULL: unset, the drop-in's default applies */
	bool from_option;    /* else inherited from the environment */
	char origin[64];     /* how messages name it: "--mtu" or "SOFTHCA_MTU" */
};

struct run_ctx {
	struct run_value v[OPT_COUNT];
	bool verbose;
	int prog;                    /* argv index of PROGRAM */
	char pcap_path[RUN_PATH_LEN];
	char trace_path[RUN_PATH_LEN];
	char stats_path[RUN_PATH_LEN];
	char dropin_dir[PATH_MAX];
	char ld_path[2 * PATH_MAX];  /* sized for a dir plus a typical inherited value */
};

static void run_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void run_err(const char *fmt, ...)
{
	va_list ap;

	fputs("softhca run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "--mtu 5000" or "SOFTHCA_MTU=5000": the way the user wrote the bad value. */
static void value_err(const struct run_value *rv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void value_err(const struct run_value *rv, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "softhca run: %s%s%s: ", rv->origin, rv->from_option ? " " : "=",
		rv->value);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *out)
{
	fputs("usage: softhca run [options] [--] PROGRAM [ARGS...]\n"
	      "\n"
	      "Runs PROGRAM, an unmodified dynamically linked verbs program, on a\n"
	      "user-mode softhca device hosted inside PROGRAM's own process. The device\n"
	      "sends real RoCEv2 (UDP port 4791); no kernel module and no root needed.\n"
	      "softhca run puts the drop-in libibverbs.so.1 first on LD_LIBRARY_PATH,\n"
	      "passes the options below as environment variables and execs PROGRAM:\n"
	      "its exit status is PROGRAM's. Each option overrides its variable; a\n"
	      "variable already in the environment is used (and checked) when its\n"
	      "option is not given.\n"
	      "\n"
	      "options:\n", out);
	for (int i = 0; i < OPT_COUNT; i++) {
		const struct run_opt *o = &run_opts[i];
		char lhs[64];
		const char *h = o->help;

		snprintf(lhs, sizeof(lhs), "--%s%s%s", o->name, o->metavar ? " " : "",
			 o->metavar ? o->metavar : "");
		fprintf(out, "  %-24s ", lhs);
		/* continuation lines of the help text line up under its first line */
		for (; *h; h++) {
			fputc(*h, out);
			if (*h == '\n')
				fprintf(out, "  %-24s ", "");
		}
		if (o->metavar)
			fprintf(out, "\n  %-24s [%s]\n", "", o->env);
		else
			fprintf(out, "\n  %-24s [%s=%s]\n", "", o->env, o->flag_value);
	}
	fprintf(out,
		"  %-24s print the environment set and the program run\n"
		"  %-24s this help\n"
		"\n"
		"environment:\n"
		"  %-24s directory holding the drop-in libibverbs.so.1;\n"
		"  %-24s default: <dir of softhca>/../lib/usermode\n"
		"  %-24s (build tree), then <dir of softhca>/../lib/softhca\n"
		"  %-24s (installed)\n"
		"\n"
		"exit status: PROGRAM's; 2 for a bad option or value, a missing drop-in or\n"
		"a program that is not found; 126 or 127 if exec itself fails.\n"
		"\n"
		"examples:\n"
		"  softhca run -- ibv_devinfo -v\n"
		"  softhca run --addr 127.0.0.2 -- ibv_rc_pingpong -g 0\n"
		"  softhca run --addr 127.0.0.3 -- ibv_rc_pingpong -g 0 127.0.0.1\n"
		"  softhca run --netdev eth0 --pcap /tmp/sh0.pcap -- ib_write_bw -d sh0 -x 0\n"
		"  softhca run --odp-fault-delay 200 --odp-invalidate 50 --seed 7 \\\n"
		"      --stats /tmp/odp.txt -- ib_write_bw -d sh0 -x 0 --odp\n",
		"-v, --verbose", "-h, --help", RUN_LIBDIR_ENV, "", "", "");
}

/* ---- checking values ---------------------------------------------------------------- */

/* Plain decimal (or 0x-hex when hex_ok) into a uint64_t, no sign, no junk. */
static bool parse_u64(const char *s, bool hex_ok, uint64_t *out)
{
	int base = 10;
	char *end;

	if (hex_ok && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
		return false;
	errno = 0;
	*out = strtoull(s, &end, base);
	return errno == 0 && *end == '\0';
}

static bool check_name(const struct run_value *rv)
{
	size_t len = strlen(rv->value);

	if (len == 0 || len > RUN_NAME_MAX) {
		value_err(rv, "a device name has 1 to %d characters", RUN_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rv->value[i];

		if (!isalnum(c) && c != '_' && c != '-') {
			value_err(rv, "a device name uses only letters, digits, '_' and '-'");
			return false;
		}
	}
	return true;
}

static bool check_port(const struct run_value *rv, uint16_t *port)
{
	uint64_t n;

	if (!parse_u64(rv->value, false, &n) || n < 1 || n > 65535) {
		value_err(rv, "not a UDP port (1 to 65535)");
		return false;
	}
	*port = (uint16_t)n;
	return true;
}

static bool check_mtu(const struct run_value *rv)
{
	uint64_t n;

	if (!parse_u64(rv->value, false, &n) ||
	    (n != 256 && n != 512 && n != 1024 && n != 2048 && n != 4096)) {
		value_err(rv, "an IB MTU is one of 256, 512, 1024, 2048, 4096");
		return false;
	}
	return true;
}

static bool check_seed(const struct run_value *rv)
{
	uint64_t n;

	if (!parse_u64(rv->value, true, &n)) {
		value_err(rv, "not an unsigned 64-bit number (decimal or 0x-hex)");
		return false;
	}
	return true;
}

static bool check_abi(const struct run_value *rv)
{
	if (strcmp(rv->value, "1") != 0 && strcmp(rv->value, "2") != 0) {
		value_err(rv, "the ABI version is 1 or 2");
		return false;
	}
	return true;
}

static bool check_order(const struct run_value *rv)
{
	/* The engine's policies (enum emu_dma_policy) a user-mode device runs. */
	static const char *const names[] = { "strict", "cqe-first", "relaxed", "mix" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(rv->value, names[i]) == 0)
			return true;
	}
	value_err(rv, "unknown ordering policy (strict, cqe-first, relaxed or mix)");
	return false;
}

static bool check_odp_prefault(const struct run_value *rv)
{
	if (strcmp(rv->value, "0") != 0 && strcmp(rv->value, "1") != 0) {
		value_err(rv, "must be 0 (first touch faults) or 1 (pages start present)");
		return false;
	}
	return true;
}

/* The limits of provider/usermode/uhost.h (UH_ODP_*). */
#define RUN_ODP_DELAY_MAX_US 10000000ull
#define RUN_ODP_INVALIDATE_MIN 2ull

static bool check_odp_delay(const struct run_value *rv)
{
	uint64_t n;

	if (!parse_u64(rv->value, false, &n) || n > RUN_ODP_DELAY_MAX_US) {
		value_err(rv, "not a fault delay in microseconds (0 to %llu)",
			  RUN_ODP_DELAY_MAX_US);
		return false;
	}
	return true;
}

static bool check_odp_invalidate(const struct run_value *rv)
{
	uint64_t n;

	if (!parse_u64(rv->value, false, &n) || (n && n < RUN_ODP_INVALIDATE_MIN)) {
		value_err(rv, "not 0 (never) or N >= %llu (one ODP access in N invalidates)",
			  RUN_ODP_INVALIDATE_MIN);
		return false;
	}
	return true;
}

static bool check_progress(const struct run_value *rv)
{
	if (strcmp(rv->value, "0") != 0 && strcmp(rv->value, "1") != 0) {
		value_err(rv, "must be 0 (no progress thread) or 1");
		return false;
	}
	return true;
}

static bool check_progress_signal(const struct run_value *rv, const struct run_value *thread)
{
	if (strcmp(rv->value, "0") != 0 && strcmp(rv->value, "1") != 0) {
		value_err(rv, "must be 0 or 1 (signal-driven progress)");
		return false;
	}
	if (rv->value[0] == '1' && thread->value && thread->value[0] == '0') {
		run_err("%s needs the progress thread (%s given)", rv->origin, thread->origin);
		return false;
	}
	return true;
}

/*
 * An output file: its directory must exist and be writable. The path handed on
 * is absolute, so PROGRAM changing directory does not move the file.
 */
static bool check_out_file(const struct run_value *rv, char *abs, size_t abslen)
{
	char dir[PATH_MAX], real_dir[PATH_MAX];
	const char *slash = strrchr(rv->value, '/');
	const char *base = slash ? slash + 1 : rv->value;
	struct stat st;
	int n;

	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		value_err(rv, "not a file name");
		return false;
	}
	if (slash && (size_t)(slash - rv->value) >= sizeof(dir)) {
		value_err(rv, "path too long");
		return false;
	}
	if (!slash)
		strcpy(dir, ".");
	else if (slash == rv->value)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rv->value), rv->value);
	if (!realpath(dir, real_dir)) {
		value_err(rv, "directory %s: %s", dir, strerror(errno));
		return false;
	}
	if (access(real_dir, W_OK | X_OK) != 0) {
		value_err(rv, "directory %s: %s", real_dir, strerror(errno));
		return false;
	}
	n = snprintf(abs, abslen, "%s%s%s", real_dir, strcmp(real_dir, "/") ? "/" : "", base);
	if (n < 0 || (size_t)n >= abslen) {
		value_err(rv, "path too long (at most %zu bytes)", abslen - 1);
		return false;
	}
	if (stat(abs, &st) == 0 && S_ISDIR(st.st_mode)) {
		value_err(rv, "is a directory");
		return false;
	}
	return true;
}

static void format_endpoint(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		char scope[IF_NAMESIZE + 1] = "";

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		if (sin6->sin6_scope_id && if_indextoname(sin6->sin6_scope_id, scope + 1))
			scope[0] = '%';
		snprintf(out, len, "[%s%s]:%u", host, scope, ntohs(sin6->sin6_port));
	}
}

/*
 * Bind a UDP socket where the device will bind, and let it go: an address that
 * is not local, or a port some other device or program holds, is reported now.
 */
static bool check_bindable(struct sockaddr_storage *ss, uint16_t port)
{
	socklen_t len;
	char shown[INET6_ADDRSTRLEN + IF_NAMESIZE + 16];
	int fd, rc, saved;

	if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	}
	format_endpoint(ss, shown, sizeof(shown));
	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		run_err("cannot create a UDP socket for %s: %s", shown, strerror(errno));
		return false;
	}
	rc = bind(fd, (struct sockaddr *)ss, len);
	saved = errno;
	close(fd);
	if (rc != 0) {
		run_err("cannot bind %s: %s", shown, strerror(saved));
		return false;
	}
	return true;
}

/*
 * IPv4 as inet_pton reads it (four decimal parts: "1.2.3" is a mistake, not
 * 1.2.0.3), or IPv6 with an optional %scope (an interface name or index), which
 * a link-local address needs. An IPv4-mapped IPv6 address stands for the IPv4
 * one, as the drop-in takes it.
 */
static bool parse_addr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *scope = strchr(text, '%');
	size_t len = scope ? (size_t)(scope - text) : strlen(text);

	memset(ss, 0, sizeof(*ss));
	if (!scope && inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (len >= sizeof(host))
		return false;
	memcpy(host, text, len);
	host[len] = '\0';
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return false;
	ss->ss_family = AF_INET6;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct in_addr v4;

		if (scope)
			return false;
		memcpy(&v4, &sin6->sin6_addr.s6_addr[12], sizeof(v4));
		memset(ss, 0, sizeof(*ss));
		sin->sin_family = AF_INET;
		sin->sin_addr = v4;
		return true;
	}
	if (scope) {
		uint64_t index;

		scope++;
		if (parse_u64(scope, false, &index) && index > 0 && index <= UINT32_MAX)
			sin6->sin6_scope_id = (uint32_t)index;
		else if ((sin6->sin6_scope_id = if_nametoindex(scope)) == 0)
			return false;
	}
	return true;
}

static bool check_addr(const struct run_value *rv, uint16_t port)
{
	struct sockaddr_storage ss;

	if (!parse_addr(rv->value, &ss)) {
		value_err(rv, "not an IPv4 or IPv6 address");
		return false;
	}
	return check_bindable(&ss, port);
}

/* An IPv6 address the device may use: not link-local, loopback, multicast,
 * unspecified or IPv4-mapped (the drop-in's rule, provider/usermode/uhost.c). */
static bool is_global6(const struct sockaddr_in6 *sin6)
{
	const struct in6_addr *a = &sin6->sin6_addr;

	return !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
	       !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_UNSPECIFIED(a) &&
	       !IN6_IS_ADDR_V4MAPPED(a);
}

/* Rank of an interface address as the device's address: lower is preferred,
 * -1 is unusable. */
static int addr_rank(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return 0;
	if (sa->sa_family == AF_INET6 && is_global6((const struct sockaddr_in6 *)sa))
		return 1;
	return -1;
}

static bool check_netdev(const struct run_value *rv, uint16_t port)
{
	struct ifaddrs *ifa_list, *ifa;
	struct sockaddr_storage best;
	int best_rank = 2;
	bool up = false;

	if (strlen(rv->value) >= IF_NAMESIZE || if_nametoindex(rv->value) == 0) {
		value_err(rv, "no such network interface");
		return false;
	}
	if (getifaddrs(&ifa_list) != 0) {
		value_err(rv, "cannot list the interface's addresses: %s", strerror(errno));
		return false;
	}
	for (ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
		int rank;

		if (strcmp(ifa->ifa_name, rv->value) != 0 || !ifa->ifa_addr)
			continue;
		up |= (ifa->ifa_flags & IFF_UP) != 0;
		rank = addr_rank(ifa->ifa_addr);
		if (rank < 0 || rank >= best_rank)
			continue;
		best_rank = rank;
		memset(&best, 0, sizeof(best));
		memcpy(&best, ifa->ifa_addr, rank == 0 ? sizeof(struct sockaddr_in)
						       : sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa_list);
	if (best_rank == 2) {
		value_err(rv, "the interface has no IPv4 address and no global IPv6 address");
		return false;
	}
	if (!up)
		fprintf(stderr, "softhca run: warning: interface %s is down\n", rv->value);
	return check_bindable(&best, port);
}

/* ---- finding the drop-in and the program ------------------------------------------------ */

static bool dropin_in(const char *dir)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, RUN_DROPIN);

	return n > 0 && (size_t)n < sizeof(path) && access(path, R_OK) == 0;
}

/* Drop the last path component: "/a/b/c" -> "/a/b", "/a" -> "/". */
static void strip_last(char *path)
{
	char *slash = strrchr(path, '/');

	if (!slash)
		return;
	if (slash == path)
		slash[1] = '\0';
	else
		*slash = '\0';
}

static bool find_dropin(struct run_ctx *c)
{
	static const char *const rel[] = { "lib/usermode", "lib/softhca" };
	const char *libdir = getenv(RUN_LIBDIR_ENV);
	char exe[PATH_MAX], tried[2][PATH_MAX];
	ssize_t n;

	if (libdir && *libdir) {
		if (!realpath(libdir, c->dropin_dir) || !dropin_in(c->dropin_dir)) {
			run_err("%s=%s: no %s there", RUN_LIBDIR_ENV, libdir, RUN_DROPIN);
			return false;
		}
		return true;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		run_err("cannot find the softhca executable (/proc/self/exe): %s; set %s",
			n < 0 ? strerror(errno) : "empty", RUN_LIBDIR_ENV);
		return false;
	}
	exe[n] = '\0';
	strip_last(exe); /* <prefix>/bin/softhca -> <prefix>/bin */
	strip_last(exe); /* -> <prefix> */
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		int len = snprintf(tried[i], sizeof(tried[i]), "%s%s%s", exe,
				   strcmp(exe, "/") ? "/" : "", rel[i]);

		if (len > 0 && (size_t)len < sizeof(tried[i]) && dropin_in(tried[i]) &&
		    realpath(tried[i], c->dropin_dir))
			return true;
	}
	run_err("the user-mode %s is in neither %s nor %s: build it (cmake --build build "
		"--target softhca_ibverbs) or point %s at it",
		RUN_DROPIN, tried[0], tried[1], RUN_LIBDIR_ENV);
	return false;
}

enum found { FOUND, NOT_FOUND, NO_PERMISSION, IS_DIR };

static enum found probe_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno == EACCES ? NO_PERMISSION : NOT_FOUND;
	if (S_ISDIR(st.st_mode))
		return IS_DIR;
	return access(path, X_OK) == 0 ? FOUND : NO_PERMISSION;
}

/*
 * Look PROGRAM up as execvp will: a name with a '/' is a path; any other name
 * is searched along PATH (an empty entry is the current directory). As with
 * execvp, an entry that exists but cannot be executed does not stop the
 * search, it only changes the error if nothing better is found.
 */
static bool find_program(const char *prog)
{
	const char *path = getenv("PATH");
	enum found best = NOT_FOUND;
	char default_path[256];
	char candidate[PATH_MAX];

	if (*prog == '\0') {
		run_err("an empty program name");
		return false;
	}
	if (strchr(prog, '/')) {
		best = probe_file(prog);
	} else {
		if (!path) {
			size_t n = confstr(_CS_PATH, default_path, sizeof(default_path));

			path = n > 0 && n <= sizeof(default_path) ? default_path : "/bin:/usr/bin";
		}
		for (const char *p = path; best != FOUND; p++) {
			const char *end = strchr(p, ':');
			int len;
			enum found f = NOT_FOUND;
			int n;

			if (!end)
				end = p + strlen(p);
			len = (int)(end - p);

			if (len == 0)
				n = snprintf(candidate, sizeof(candidate), "%s", prog);
			else
				n = snprintf(candidate, sizeof(candidate), "%.*s/%s", len, p, prog);
			/* a path too long to exist is one execvp could not run either */
			if (n > 0 && (size_t)n < sizeof(candidate))
				f = probe_file(candidate);
			if (f == FOUND || (f != NOT_FOUND && best == NOT_FOUND))
				best = f;
			if (*end == '\0')
				break;
			p = end;
		}
	}
	switch (best) {
	case FOUND:
		return true;
	case NO_PERMISSION:
		run_err("%s: permission denied", prog);
		return false;
	case IS_DIR:
		run_err("%s: is a directory", prog);
		return false;
	default:
		run_err("%s: not found", prog);
		return false;
	}
}

/* ---- parsing ------------------------------------------------------------------------------- */

static int find_opt(const char *name, size_t len)
{
	for (int i = 0; i < OPT_COUNT; i++)
		if (strlen(run_opts[i].name) == len && strncmp(run_opts[i].name, name, len) == 0)
			return i;
	return -1;
}

static void set_value(struct run_ctx *c, int id, const char *value, bool from_option)
{
	struct run_value *rv = &c->v[id];

	rv->value = value;
	rv->from_option = from_option;
	if (from_option)
		snprintf(rv->origin, sizeof(rv->origin), "--%s", run_opts[id].name);
	else
		snprintf(rv->origin, sizeof(rv->origin), "%s", run_opts[id].env);
}

/*
 * Options up to "--" or the first argument that is not an option. Returns 0 to
 * go on, or the exit status: -1 stands for a clean exit after --help.
 */
static int parse_args(struct run_ctx *c, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *value;
		int id;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return -1;
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			c->verbose = true;
			continue;
		}
		if (a[0] != '-')
			break;
		if (a[1] != '-' || a[2] == '\0') {
			run_err("unknown option %s (see softhca run --help)", a);
			return SOFTHCA_RUN_EXIT_USAGE;
		}
		name = a + 2;
		eq = strchr(name, '=');
		id = find_opt(name, eq ? (size_t)(eq - name) : strlen(name));
		if (id < 0) {
			run_err("unknown option --%.*s (see softhca run --help)",
				eq ? (int)(eq - name) : (int)strlen(name), name);
			return SOFTHCA_RUN_EXIT_USAGE;
		}
		if (!run_opts[id].metavar) {
			if (eq) {
				run_err("--%s takes no value", run_opts[id].name);
				return SOFTHCA_RUN_EXIT_USAGE;
			}
			set_value(c, id, run_opts[id].flag_value, true);
			continue;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc && strcmp(argv[i + 1], "--") != 0) {
			value = argv[++i];
		} else {
			run_err("--%s needs a value: --%s %s", run_opts[id].name, run_opts[id].name,
				run_opts[id].metavar);
			return SOFTHCA_RUN_EXIT_USAGE;
		}
		if (*value == '\0') {
			run_err("--%s: empty value", run_opts[id].name);
			return SOFTHCA_RUN_EXIT_USAGE;
		}
		set_value(c, id, value, true);
	}
	if (i >= argc) {
		run_err("no program to run (usage: softhca run [options] -- PROGRAM [ARGS...])");
		return SOFTHCA_RUN_EXIT_USAGE;
	}
	c->prog = i;
	return 0;
}

/* Variables the options did not set come from the environment, if there. */
static bool merge_env(struct run_ctx *c)
{
	bool addr_opt = c->v[OPT_ADDR].from_option, netdev_opt = c->v[OPT_NETDEV].from_option;

	if (addr_opt && netdev_opt) {
		run_err("--addr and --netdev exclude each other: the device binds to one address");
		return false;
	}
	for (int id = 0; id < OPT_COUNT; id++) {
		const char *env;

		if (c->v[id].from_option)
			continue;
		/* an address given one way replaces the other way inherited */
		if ((id == OPT_NETDEV && addr_opt) || (id == OPT_ADDR && netdev_opt))
			continue;
		env = getenv(run_opts[id].env);
		/* the drop-in takes an empty variable as an unset one */
		if (env && *env)
			set_value(c, id, env, false);
	}
	if (c->v[OPT_ADDR].value && c->v[OPT_NETDEV].value) {
		run_err("SOFTHCA_ADDR and SOFTHCA_NETDEV are both set in the environment: the "
			"device binds to one address; unset one, or give --addr or --netdev");
		return false;
	}
	return true;
}

static bool check_values(struct run_ctx *c)
{
	struct run_value *v = c->v;
	uint16_t port = RUN_DEFAULT_PORT;

	if (v[OPT_NAME].value && !check_name(&v[OPT_NAME]))
		return false;
	if (v[OPT_PORT].value && !check_port(&v[OPT_PORT], &port))
		return false;
	if (v[OPT_MTU].value && !check_mtu(&v[OPT_MTU]))
		return false;
	if (v[OPT_SEED].value && !check_seed(&v[OPT_SEED]))
		return false;
	if (v[OPT_ABI].value && !check_abi(&v[OPT_ABI]))
		return false;
	if (v[OPT_ORDER].value && !check_order(&v[OPT_ORDER]))
		return false;
	if (v[OPT_NO_PROGRESS_THREAD].value && !check_progress(&v[OPT_NO_PROGRESS_THREAD]))
		return false;
	if (v[OPT_PROGRESS_SIGNAL].value && !check_progress_signal(&v[OPT_PROGRESS_SIGNAL],
								    &v[OPT_NO_PROGRESS_THREAD]))
		return false;
	if (v[OPT_ODP_PREFAULT].value && !check_odp_prefault(&v[OPT_ODP_PREFAULT]))
		return false;
	if (v[OPT_ODP_FAULT_DELAY].value && !check_odp_delay(&v[OPT_ODP_FAULT_DELAY]))
		return false;
	if (v[OPT_ODP_INVALIDATE].value && !check_odp_invalidate(&v[OPT_ODP_INVALIDATE]))
		return false;
	if (v[OPT_PCAP].value) {
		if (!check_out_file(&v[OPT_PCAP], c->pcap_path, sizeof(c->pcap_path)))
			return false;
		v[OPT_PCAP].value = c->pcap_path;
	}
	if (v[OPT_TRACE].value) {
		if (!check_out_file(&v[OPT_TRACE], c->trace_path, sizeof(c->trace_path)))
			return false;
		v[OPT_TRACE].value = c->trace_path;
	}
	if (v[OPT_STATS].value) {
		if (!check_out_file(&v[OPT_STATS], c->stats_path, sizeof(c->stats_path)))
			return false;
		v[OPT_STATS].value = c->stats_path;
	}
	if (v[OPT_ADDR].value && !check_addr(&v[OPT_ADDR], port))
		return false;
	if (v[OPT_NETDEV].value && !check_netdev(&v[OPT_NETDEV], port))
		return false;
	return true;
}

/* ---- the environment and exec ------------------------------------------------------------ */

static bool set_env(struct run_ctx *c)
{
	const char *old = getenv("LD_LIBRARY_PATH");
	int n;

	for (int id = 0; id < OPT_COUNT; id++) {
		const struct run_value *rv = &c->v[id];
		int rc = rv->value ? setenv(run_opts[id].env, rv->value, 1)
				   : unsetenv(run_opts[id].env);

		if (rc != 0) {
			run_err("cannot set %s: %s", run_opts[id].env, strerror(errno));
			return false;
		}
	}
	/* no trailing ':' when there was nothing: an empty entry means "." to ld.so */
	n = snprintf(c->ld_path, sizeof(c->ld_path), "%s%s%s", c->dropin_dir,
		     old && *old ? ":" : "", old && *old ? old : "");
	if (n < 0 || (size_t)n >= sizeof(c->ld_path)) {
		run_err("LD_LIBRARY_PATH would be too long (%d bytes)", n);
		return false;
	}
	if (setenv("LD_LIBRARY_PATH", c->ld_path, 1) != 0) {
		run_err("cannot set LD_LIBRARY_PATH: %s", strerror(errno));
		return false;
	}
	return true;
}

static void print_plan(const struct run_ctx *c, char **args)
{
	fprintf(stderr, "softhca run: LD_LIBRARY_PATH=%s\n", c->ld_path);
	for (int id = 0; id < OPT_COUNT; id++)
		if (c->v[id].value)
			fprintf(stderr, "softhca run: %s=%s%s\n", run_opts[id].env, c->v[id].value,
				c->v[id].from_option ? "" : " (from the environment)");
	fputs("softhca run: exec", stderr);
	for (; *args; args++)
		fprintf(stderr, " %s", *args);
	fputc('\n', stderr);
}

int softhca_run_main(int argc, char **argv)
{
	struct run_ctx *c = calloc(1, sizeof(*c));
	char **args;
	int rc, saved;

	if (!c) {
		run_err("out of memory");
		return SOFTHCA_RUN_EXIT_USAGE;
	}
	rc = parse_args(c, argc, argv);
	if (rc == -1) {
		usage(stdout);
		free(c);
		return 0;
	}
	if (rc != 0 || !merge_env(c) || !check_values(c) || !find_dropin(c) ||
	    !find_program(argv[c->prog]) || !set_env(c)) {
		free(c);
		return SOFTHCA_RUN_EXIT_USAGE;
	}
	args = argv + c->prog;
	if (c->verbose)
		print_plan(c, args);
	fflush(NULL);
	execvp(args[0], args);
	saved = errno;
	run_err("cannot execute %s: %s", args[0], strerror(saved));
	free(c);
	return saved == ENOENT ? SOFTHCA_RUN_EXIT_NOTFOUND : SOFTHCA_RUN_EXIT_NOEXEC;
}
