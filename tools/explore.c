/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/explore.c - `softhca explore`: run a program across seeds.
 *
 * Seeds are started in ascending order and a seed above a known failure is never
 * started, so when the loop ends every seed below the reported one has run and
 * passed: the answer is the smallest failing seed whatever --jobs is, and a
 * rerun finds the same seed.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "explore.h"
#include "timeline.h"

#define EXIT_USAGE   2
#define MAX_JOBS     256
#define OUTPUT_TAIL  4096
#define POLL_NS      2000000L

struct explore_opts {
	uint64_t first, last;
	const char *order;
	const char *timeline;      /* --timeline FILE: picture of the failing seed */
	unsigned jobs;
	double timeout_s;          /* 0: none */
	char **prog_argv;          /* NULL-terminated, prog_argv[0] as given */
	char prog_path[PATH_MAX];  /* what is executed */
	bool prog_is_self;         /* "softhca" was replaced by this executable */
};

struct job {
	pid_t pid;
	uint64_t seed;
	FILE *out;                 /* the child's stdout and stderr */
	double deadline;
	bool timed_out;
};

/* Set by SIGINT/SIGTERM: the seeds run in their own process groups, so the
 * terminal's ^C reaches only this process, which must take them down itself. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	interrupted = sig;
}

struct failure {
	uint64_t seed;
	int status;
	bool timed_out;
	FILE *out;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: softhca explore --seeds A..B [--order POLICY] [--jobs N] [--timeout S]\n"
		"                       [--timeline FILE.svg|FILE.html] -- PROGRAM ARGS\n\n"
		"Runs PROGRAM once per seed from A to B with SOFTHCA_SEED=seed (and\n"
		"SOFTHCA_ORDER=POLICY with --order) in its environment, and stops at the first\n"
		"seed that fails: non-zero exit, death by a signal or, with --timeout, running\n"
		"longer than S seconds. It prints that seed, the tail of its output and the\n"
		"command line that replays it. PROGRAM is typically `softhca run -- ...`; a\n"
		"PROGRAM named softhca is this very executable.\n\n"
		"  --seeds A..B    the seeds, inclusive (a single N means N..N)\n"
		"  --order POLICY  also set SOFTHCA_ORDER=POLICY (strict, cqe-first, relaxed...)\n"
		"  --jobs N        run N seeds at a time, 1 to %d (default 1); the seed\n"
		"                  reported is still the smallest failing one\n"
		"  --timeout S     a seed running longer than S seconds fails (default: none)\n"
		"  --timeline FILE replay the failing seed once more with SOFTHCA_TRACE=FILE.trace\n"
		"                  and draw that trace into FILE (as `softhca timeline`: .html\n"
		"                  or .htm a page, else SVG): one lane per device and QP\n"
		"  --help          this text\n\n"
		"Progress goes to stderr: a bar on a terminal, otherwise a line per 10%%.\n"
		"Exit status: 0 if every seed passed, 1 if one failed, 2 on a usage error.\n",
		MAX_JOBS);
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "softhca explore: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see softhca explore --help)\n");
	return EXIT_USAGE;
}

static bool parse_u64(const char *s, const char *end, uint64_t *v)
{
	char buf[32], *e;
	size_t n = (size_t)(end - s);

	if (n == 0 || n >= sizeof(buf) || *s < '0' || *s > '9')
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*v = strtoull(buf, &e, 10);
	return !errno && *e == '\0';
}

static bool parse_range(const char *s, struct explore_opts *o)
{
	const char *dots = strstr(s, "..");

	if (!dots)
		return parse_u64(s, s + strlen(s), &o->first) && (o->last = o->first, true);
	return parse_u64(s, dots, &o->first) &&
	       parse_u64(dots + 2, dots + strlen(dots), &o->last) && o->first <= o->last;
}

/* "--name value" or "--name=value"; NULL if argv[*i] is not --name. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		return "";
	return argv[++*i];
}

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* PATH lookup as execvp would do it, so a missing program is a usage error. */
static bool resolve_program(struct explore_opts *o)
{
	const char *name = o->prog_argv[0];
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		snprintf(o->prog_path, sizeof(o->prog_path), "%s", name);
		return executable(o->prog_path);
	}
	if (strcmp(name, "softhca") == 0) {
		ssize_t n = readlink("/proc/self/exe", o->prog_path, sizeof(o->prog_path) - 1);

		if (n > 0) {
			o->prog_path[n] = '\0';
			o->prog_is_self = true;
			return true;
		}
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		int n = snprintf(o->prog_path, sizeof(o->prog_path), "%.*s%s%s", (int)len, path,
				 len ? "/" : "", name);

		if (n > 0 && (size_t)n < sizeof(o->prog_path) && executable(o->prog_path))
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/* 0 to run, -1 after --help, or EXIT_USAGE. */
static int parse(int argc, char **argv, struct explore_opts *o)
{
	bool have_seeds = false;
	int i;

	memset(o, 0, sizeof(*o));
	o->jobs = 1;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *v;
		char *end;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return -1;
		}
		if ((v = option_value(argc, argv, &i, "--seeds"))) {
			if (!parse_range(v, o))
				return bad("invalid --seeds value '%s': want A..B with unsigned "
					   "integers A <= B", v);
			have_seeds = true;
		} else if ((v = option_value(argc, argv, &i, "--order"))) {
			if (!*v || strchr(v, '='))
				return bad("invalid --order value '%s'", v);
			o->order = v;
		} else if ((v = option_value(argc, argv, &i, "--jobs"))) {
			unsigned long n;

			errno = 0;
			n = strtoul(v, &end, 10);
			if (!*v || *end || errno || *v == '-' || n < 1 || n > MAX_JOBS)
				return bad("invalid --jobs value '%s': want 1 to 256", v);
			o->jobs = (unsigned)n;
		} else if ((v = option_value(argc, argv, &i, "--timeline"))) {
			if (!*v)
				return bad("%s", "--timeline needs a file name");
			o->timeline = v;
		} else if ((v = option_value(argc, argv, &i, "--timeout"))) {
			errno = 0;
			o->timeout_s = strtod(v, &end);
			if (!*v || *end || errno || !(o->timeout_s > 0.0 && o->timeout_s < 1e7))
				return bad("invalid --timeout value '%s': want seconds > 0", v);
		} else {
			return bad("unknown option '%s' (the program goes after --)", argv[i]);
		}
	}
	if (!have_seeds)
		return bad("%s", "--seeds A..B is required");
	if (i >= argc || i + 1 >= argc)
		return bad("%s", "no program: give it after --");
	o->prog_argv = argv + i + 1;
	if (!resolve_program(o))
		return bad("program '%s' not found or not executable", o->prog_argv[0]);
	return 0;
}

/* ---- the replay command ------------------------------------------------------------ */

static void print_quoted(FILE *f, const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_@%+=:,./-";

	if (*s && strspn(s, safe) == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static void print_replay(FILE *f, const struct explore_opts *o, uint64_t seed)
{
	fprintf(f, "SOFTHCA_SEED=%" PRIu64, seed);
	if (o->order) {
		fputs(" SOFTHCA_ORDER=", f);
		print_quoted(f, o->order);
	}
	fputc(' ', f);
	print_quoted(f, o->prog_is_self ? o->prog_path : o->prog_argv[0]);
	for (char **a = o->prog_argv + 1; *a; a++) {
		fputc(' ', f);
		print_quoted(f, *a);
	}
	fputc('\n', f);
}

/* ---- progress ------------------------------------------------------------------------ */

struct progress {
	bool tty;
	uint64_t total, done;
	unsigned last_decile;
};

static void progress_update(struct progress *p)
{
	if (p->tty) {
		unsigned width = 40, fill = (unsigned)((double)p->done * width / (double)p->total);

		fputs("\r[", stderr);
		for (unsigned k = 0; k < width; k++)
			fputc(k < fill ? '#' : '.', stderr);
		fprintf(stderr, "] %" PRIu64 "/%" PRIu64 " seeds", p->done, p->total);
		fflush(stderr);
		return;
	}
	unsigned decile = (unsigned)((double)p->done * 10 / (double)p->total);

	/* A short range crosses several tenths at once: one line, not several. */
	if (decile > p->last_decile) {
		p->last_decile = decile;
		fprintf(stderr, "softhca explore: %u%% (%" PRIu64 "/%" PRIu64 " seeds passed)\n",
			decile * 10, p->done, p->total);
	}
}

static void progress_end(struct progress *p)
{
	if (p->tty && p->done)
		fputc('\n', stderr);
}

/* ---- running the seeds --------------------------------------------------------------- */

static pid_t start_seed(const struct explore_opts *o, uint64_t seed, FILE *out,
		       const char *trace)
{
	pid_t pid;
	char text[24];

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid != 0)
		return pid;
	/* Own process group: a timeout or an abandoned seed kills the whole tree. */
	setpgid(0, 0);
	snprintf(text, sizeof(text), "%" PRIu64, seed);
	setenv("SOFTHCA_SEED", text, 1);
	if (o->order)
		setenv("SOFTHCA_ORDER", o->order, 1);
	if (trace)
		setenv("SOFTHCA_TRACE", trace, 1);
	int null = open("/dev/null", O_RDONLY);

	if (null >= 0)
		dup2(null, STDIN_FILENO);
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(out), STDERR_FILENO);
	execv(o->prog_path, o->prog_argv);
	fprintf(stderr, "softhca explore: cannot execute %s: %s\n", o->prog_path,
		strerror(errno));
	_exit(127);
}

static void kill_job(struct job *j)
{
	int st;

	kill(-j->pid, SIGKILL);
	kill(j->pid, SIGKILL);
	waitpid(j->pid, &st, 0);
	fclose(j->out);
	j->pid = 0;
}

static void describe(FILE *f, const struct failure *fl, double timeout_s)
{
	if (fl->timed_out)
		fprintf(f, "timed out after %g s", timeout_s);
	else if (WIFSIGNALED(fl->status))
		fprintf(f, "killed by signal %d (%s)", WTERMSIG(fl->status),
			strsignal(WTERMSIG(fl->status)));
	else
		fprintf(f, "exit status %d", WEXITSTATUS(fl->status));
}

static void print_tail(FILE *out)
{
	char buf[OUTPUT_TAIL + 1];
	long size;
	size_t n;

	fflush(out);
	if (fseek(out, 0, SEEK_END) || (size = ftell(out)) <= 0)
		return;
	fseek(out, size > OUTPUT_TAIL ? size - OUTPUT_TAIL : 0, SEEK_SET);
	n = fread(buf, 1, OUTPUT_TAIL, out);
	buf[n] = '\0';
	fprintf(stderr, "---- output of the failing seed%s ----\n%s%s"
		"---- end of output ----\n", size > OUTPUT_TAIL ? " (tail)" : "", buf,
		n && buf[n - 1] != '\n' ? "\n" : "");
}

struct run_state {
	struct job jobs[MAX_JOBS];
	unsigned running;
	uint64_t next;             /* next seed to start */
	bool exhausted;            /* every seed up to last started */
	bool have_failure;
	struct failure fail;
	struct progress prog;
};

static struct job *job_of(struct run_state *r, pid_t pid)
{
	for (unsigned k = 0; k < MAX_JOBS; k++)
		if (r->jobs[k].pid == pid)
			return &r->jobs[k];
	return NULL;
}

/* A lower failing seed makes every running seed above it irrelevant. */
static void record_failure(struct run_state *r, struct job *j, int status)
{
	if (r->have_failure)
		fclose(r->fail.out);
	r->have_failure = true;
	r->fail.seed = j->seed;
	r->fail.status = status;
	r->fail.timed_out = j->timed_out;
	r->fail.out = j->out;
	j->pid = 0;
	r->running--;
	for (unsigned k = 0; k < MAX_JOBS; k++)
		if (r->jobs[k].pid && r->jobs[k].seed > r->fail.seed) {
			kill_job(&r->jobs[k]);
			r->running--;
		}
}

static void finish_job(struct run_state *r, struct job *j, int status)
{
	bool ok = !j->timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (!ok && (!r->have_failure || j->seed < r->fail.seed)) {
		record_failure(r, j, status);
		return;
	}
	fclose(j->out);
	j->pid = 0;
	r->running--;
	if (ok) {
		r->prog.done++;
		progress_update(&r->prog);
	}
}

static bool may_start(const struct run_state *r, const struct explore_opts *o)
{
	return !r->exhausted && r->running < o->jobs &&
	       (!r->have_failure || r->next < r->fail.seed);
}

static int start_next(struct run_state *r, const struct explore_opts *o)
{
	struct job *j = job_of(r, 0);
	FILE *out = tmpfile();

	if (!out) {
		fprintf(stderr, "softhca explore: tmpfile: %s\n", strerror(errno));
		return -1;
	}
	/* Only the seed it belongs to may inherit it (dup2 clears the flag there). */
	fcntl(fileno(out), F_SETFD, FD_CLOEXEC);
	j->seed = r->next;
	j->out = out;
	j->timed_out = false;
	j->deadline = o->timeout_s > 0 ? now_s() + o->timeout_s : 0;
	j->pid = start_seed(o, j->seed, out, NULL);
	if (j->pid < 0) {
		fprintf(stderr, "softhca explore: fork: %s\n", strerror(errno));
		fclose(out);
		j->pid = 0;
		return -1;
	}
	setpgid(j->pid, j->pid);
	r->running++;
	if (r->next == o->last)
		r->exhausted = true;
	else
		r->next++;
	return 0;
}

static void check_timeouts(struct run_state *r)
{
	double t = now_s();

	for (unsigned k = 0; k < MAX_JOBS; k++) {
		struct job *j = &r->jobs[k];

		if (j->pid && j->deadline > 0 && t > j->deadline && !j->timed_out) {
			j->timed_out = true;
			kill(-j->pid, SIGKILL);
			kill(j->pid, SIGKILL);
		}
	}
}

/* Reap one child if there is one; 1 if reaped, 0 if none ready, -1 on error. */
static int reap(struct run_state *r)
{
	int status;
	pid_t pid = waitpid(-1, &status, WNOHANG);
	struct job *j;

	if (pid < 0)
		return errno == EINTR ? 0 : -1;
	if (pid == 0)
		return 0;
	j = job_of(r, pid);
	if (j)
		finish_job(r, j, status);
	return 1;
}

static int run_seeds(struct run_state *r, const struct explore_opts *o)
{
	const struct timespec pause = { 0, POLL_NS };

	r->next = o->first;
	while (may_start(r, o) || r->running) {
		if (interrupted) {
			fprintf(stderr, "\nsofthca explore: interrupted by signal %d\n",
				(int)interrupted);
			return -1;
		}
		while (may_start(r, o))
			if (start_next(r, o))
				return -1;
		if (reap(r) == 0) {
			check_timeouts(r);
			nanosleep(&pause, NULL);
		}
	}
	return 0;
}

/* ---- the picture of the failing seed ---------------------------------------------------- */

/* Run seed once more, alone, writing its trace; its wait status, or -1. */
static int replay_traced(const struct explore_opts *o, uint64_t seed, const char *trace,
			 bool *timed_out)
{
	const struct timespec pause = { 0, POLL_NS };
	double deadline = o->timeout_s > 0 ? now_s() + o->timeout_s : 0;
	FILE *out = tmpfile();
	int status;
	pid_t pid;

	*timed_out = false;
	if (!out)
		return -1;
	pid = start_seed(o, seed, out, trace);
	fclose(out);
	if (pid < 0)
		return -1;
	setpgid(pid, pid);
	for (;;) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return status;
		if (got < 0 && errno != EINTR)
			return -1;
		if (interrupted || (deadline > 0 && now_s() > deadline)) {
			*timed_out = !interrupted;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return status;
		}
		nanosleep(&pause, NULL);
	}
}

/* FILE.trace next to the picture; 0, or 1 with the reason on stderr. */
static int draw_failing_seed(const struct explore_opts *o, uint64_t seed)
{
	char trace[PATH_MAX], caption[PATH_MAX + 64];
	struct failure again = { .seed = seed };
	struct stat st;
	int status;

	if ((size_t)snprintf(trace, sizeof(trace), "%s.trace", o->timeline) >= sizeof(trace)) {
		fprintf(stderr, "softhca explore: --timeline %s: name too long\n", o->timeline);
		return 1;
	}
	/* The host appends to the trace: start from nothing. */
	if (unlink(trace) && errno != ENOENT) {
		fprintf(stderr, "softhca explore: cannot remove %s: %s\n", trace, strerror(errno));
		return 1;
	}
	status = replay_traced(o, seed, trace, &again.timed_out);
	if (status == -1 && !again.timed_out) {
		fprintf(stderr, "softhca explore: cannot replay seed %" PRIu64 ": %s\n", seed,
			strerror(errno));
		return 1;
	}
	again.status = status;
	printf("timeline: seed %" PRIu64 " replayed with SOFTHCA_TRACE=%s: ", seed, trace);
	if (!again.timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		printf("it passed this time (the failure did not reproduce)\n");
	else {
		printf("failed again (");
		describe(stdout, &again, o->timeout_s);
		printf(")\n");
	}
	if (stat(trace, &st) || st.st_size == 0) {
		fprintf(stderr, "softhca explore: the replay wrote no trace to %s: does PROGRAM run "
			"a verbs program under `softhca run` (which honours SOFTHCA_TRACE)?\n",
			trace);
		return 1;
	}
	fflush(stdout);
	snprintf(caption, sizeof(caption), "seed %" PRIu64 "%s%s: %s", seed,
		 o->order ? ", order " : "", o->order ? o->order : "", trace);
	if (softhca_timeline_draw(trace, o->timeline, caption))
		return 1;
	printf("timeline: %s\n", o->timeline);
	return 0;
}

int softhca_explore_main(int argc, char **argv)
{
	struct explore_opts o;
	struct run_state *r;
	double t0 = now_s();
	int ret = parse(argc, argv, &o);

	if (ret)
		return ret < 0 ? 0 : ret;
	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "softhca explore: out of memory\n");
		return 1;
	}
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	r->prog.tty = isatty(STDERR_FILENO);
	r->prog.total = o.last - o.first + 1;
	if (r->prog.total == 0)
		r->prog.total = UINT64_MAX;
	if (run_seeds(r, &o)) {
		for (unsigned k = 0; k < MAX_JOBS; k++)
			if (r->jobs[k].pid)
				kill_job(&r->jobs[k]);
		if (r->have_failure)
			fclose(r->fail.out);
		progress_end(&r->prog);
		free(r);
		return interrupted ? 128 + (int)interrupted : 1;
	}
	progress_end(&r->prog);
	if (r->have_failure) {
		print_tail(r->fail.out);
		fclose(r->fail.out);
		printf("softhca explore: seed %" PRIu64 " FAILED (", r->fail.seed);
		describe(stdout, &r->fail, o.timeout_s);
		if (r->fail.seed > o.first)
			printf("); seeds %" PRIu64 "..%" PRIu64 " passed\n", o.first,
			       r->fail.seed - 1);
		else
			printf("); it is the first seed of the range\n");
		printf("replay: ");
		print_replay(stdout, &o, r->fail.seed);
		if (o.timeline)
			draw_failing_seed(&o, r->fail.seed);
		free(r);
		return 1;
	}
	printf("softhca explore: all %" PRIu64 " seeds passed (%" PRIu64 "..%" PRIu64
	       ", order %s, %u job%s) in %.2f s\n", r->prog.done, o.first, o.last,
	       o.order ? o.order : "(default)", o.jobs, o.jobs == 1 ? "" : "s", now_s() - t0);
	free(r);
	return 0;
}
