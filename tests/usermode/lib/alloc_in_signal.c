/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/lib/alloc_in_signal.c - an LD_PRELOAD library for the
 * --progress-signal test: the SIGURG handler of the user-mode drop-in must never
 * allocate or free memory (malloc is not async-signal-safe: the signal may have
 * interrupted the program inside malloc). Every allocation call is checked: a
 * thread whose signal mask has SIGURG blocked but SIGSEGV not is inside that
 * handler, which blocks every signal but the fault signals while it runs (the
 * drop-in's progress thread, and the drop-in around pthread_create, block
 * every signal; the programs tested block none). Such calls are counted, the
 * first few reported
 * with a backtrace on stderr, and the count appended at exit to the file named
 * by SOFTHCA_TEST_ALLOC_REPORT ("allocations_in_sigurg N PID": every process
 * that ran with the library adds its line).
 *
 * The real allocator is reached through glibc's __libc_* entry points.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

#define REPORTS_WITH_BACKTRACE 4
#define KERNEL_SIGSET_BYTES 8

static atomic_ulong hits;
static __thread int reporting;

static int in_sigurg_handler(void)
{
	unsigned long set = 0;
	int saved = errno, ret;

	ret = (int)syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &set, KERNEL_SIGSET_BYTES);
	errno = saved;
	if (ret)
		return 0;
	return (set & (1ul << (SIGURG - 1))) && !(set & (1ul << (SIGSEGV - 1)));
}

static void check(const char *what)
{
	static const char head[] = "\nalloc_in_signal: allocation inside the SIGURG handler: ";
	void *frames[32];
	int n;

	if (reporting || !in_sigurg_handler())
		return;
	if (atomic_fetch_add(&hits, 1) >= REPORTS_WITH_BACKTRACE)
		return;
	reporting = 1;
	(void)!write(2, head, sizeof(head) - 1);
	(void)!write(2, what, strlen(what));
	(void)!write(2, "\n", 1);
	n = backtrace(frames, 32);
	backtrace_symbols_fd(frames, n, 2);
	reporting = 0;
}

/* backtrace() loads libgcc on first use, which allocates: do it now. */
__attribute__((constructor)) static void warm_up(void)
{
	void *frames[2];

	(void)backtrace(frames, 2);
}

__attribute__((destructor)) static void write_report(void)
{
	const char *path = getenv("SOFTHCA_TEST_ALLOC_REPORT");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	fprintf(f, "allocations_in_sigurg %lu %d\n", (unsigned long)atomic_load(&hits), (int)getpid());
	fclose(f);
}

void *malloc(size_t size)
{
	check("malloc");
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	check("calloc");
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	check("realloc");
	return __libc_realloc(p, size);
}

void free(void *p)
{
	if (p)
		check("free");
	__libc_free(p);
}

void *aligned_alloc(size_t align, size_t size)
{
	check("aligned_alloc");
	return __libc_memalign(align, size);
}

void *memalign(size_t align, size_t size)
{
	check("memalign");
	return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	check("posix_memalign");
	p = __libc_memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
