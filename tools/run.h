/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/run.h - `softhca run [options] -- PROGRAM ARGS`: run an unmodified verbs
 * program on a user-mode softhca device hosted inside the program's own process.
 *
 * The subcommand checks every option before anything runs, puts the drop-in
 * libibverbs.so.1 first on LD_LIBRARY_PATH, passes the device configuration in
 * SOFTHCA_* environment variables (read by provider/usermode/config.c) and
 * execs PROGRAM, so PROGRAM's exit status is the command's.
 */
#ifndef SOFTHCA_TOOLS_RUN_H
#define SOFTHCA_TOOLS_RUN_H

/* Exit statuses of softhca run when it does not reach PROGRAM. */
enum {
	SOFTHCA_RUN_EXIT_USAGE = 2,     /* bad option or value, missing drop-in or program */
	SOFTHCA_RUN_EXIT_NOEXEC = 126,  /* PROGRAM was found but exec failed */
	SOFTHCA_RUN_EXIT_NOTFOUND = 127 /* PROGRAM vanished between the check and exec */
};

/*
 * argv[0] is "run"; argv[1..argc-1] are the options, "--" and PROGRAM ARGS.
 * Returns only when PROGRAM was not executed: 0 after --help, otherwise one of
 * the exit statuses above, with the reason already printed on stderr.
 */
int softhca_run_main(int argc, char **argv);

#endif /* SOFTHCA_TOOLS_RUN_H */
