/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tools/softhca.c - the `softhca` command.
 *
 * Subcommands live in one table; each has a run function taking its own argv
 * (argv[0] is the subcommand's name) and a usage text. Today:
 *   softhca demo [--seed N] [--loss PCT]
 *       two simulated HCAs on a lossy virtual wire run every RC operation, verify
 *       each, and print a summary. Exit 0 only if everything verified.
 *   softhca run [options] -- PROGRAM ARGS  (tools/run.c)
 *       runs PROGRAM on a user-mode device hosted in its own process.
 * Exit status 2 means a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu/sim/sim.h"
#include "run.h"
#include "explore.h"
#include "timeline.h"

#define EXIT_USAGE 2

/*
 * A subcommand: run gets argv[0] = its name and handles its own options, --help
 * included (a command that runs another program must pass that program's own
 * --help through untouched).
 */
struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static int cmd_demo(int argc, char **argv);

static const struct command commands[] = {
	{ "demo", "run every RC operation between two simulated HCAs on a lossy wire",
	  cmd_demo },
	{ "run", "run a verbs program on a user-mode softhca device (no kernel module)",
	  softhca_run_main },
	{ "explore", "run a program across seeds and report the first failing one",
	  softhca_explore_main },
	{ "timeline", "draw a trace as an SVG/HTML timeline per (device, QP)",
	  softhca_timeline_main },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage_main(FILE *f)
{
	fprintf(f, "usage: softhca <command> [options]\n"
		   "       softhca <command> --help\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage_main(stdout);
		return 0;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "softhca: unknown command '%s'\n\n", argv[1]);
	usage_main(stderr);
	return EXIT_USAGE;
}

/* ==== demo ======================================================================== */

static void usage_demo(FILE *f)
{
	fprintf(f,
		"usage: softhca demo [--seed N] [--loss PCT]\n\n"
		"Two simulated HCAs joined by a virtual wire that drops PCT%% of the packets,\n"
		"reorders PCT%% and duplicates PCT/2%%, run every RC operation (SEND,\n"
		"SEND_WITH_IMM, SEND_WITH_INV, RDMA WRITE, WRITE_WITH_IMM, RDMA READ, both\n"
		"atomics, memory-window bind, LOCAL_INV), verify each, and print a summary:\n"
		"operations, packets, retransmissions, NAKs, drops by reason, virtual time and\n"
		"the trace hash (the same seed gives the same hash).\n\n"
		"  --seed N     simulation seed (default 1)\n"
		"  --loss PCT   drop percentage, 0 to 50 (default 10); from about 20%% on, an\n"
		"               operation may legitimately fail with RETRY_EXC_ERR when its\n"
		"               packets or their ACKs are lost 8 times in a row\n"
		"  --help       this text\n\n"
		"Exit status: 0 if every operation verified, 1 if one failed, 2 on a usage error.\n");
}

struct demo_opts {
	uint64_t seed;
	double loss;
};

static int demo_bad_option(const char *fmt, const char *arg)
{
	fprintf(stderr, "softhca demo: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see softhca demo --help)\n");
	return EXIT_USAGE;
}

/* "--name value" or "--name=value"; *i advances past what was used. */
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

/* 0 to run, -1 after --help, or EXIT_USAGE. */
static int parse_demo(int argc, char **argv, struct demo_opts *o)
{
	o->seed = 1;
	o->loss = 10.0;
	for (int i = 1; i < argc; i++) {
		const char *v;
		char *end;

		if (is_help(argv[i])) {
			usage_demo(stdout);
			return -1;
		}
		if ((v = option_value(argc, argv, &i, "--seed"))) {
			if (!*v)
				return demo_bad_option("option %s needs a value", "--seed");
			errno = 0;
			o->seed = strtoull(v, &end, 0);
			if (!*v || *end || errno || *v == '-')
				return demo_bad_option("invalid --seed value '%s': want an "
						       "unsigned integer", v);
		} else if ((v = option_value(argc, argv, &i, "--loss"))) {
			if (!*v)
				return demo_bad_option("option %s needs a value", "--loss");
			errno = 0;
			o->loss = strtod(v, &end);
			if (!*v || *end || errno || !(o->loss >= 0.0 && o->loss <= 50.0))
				return demo_bad_option("invalid --loss value '%s': want a "
						       "percentage from 0 to 50", v);
		} else {
			return demo_bad_option("unknown option '%s'", argv[i]);
		}
	}
	return 0;
}

/* ---- the demo's two HCAs --------------------------------------------------------------- */

enum demo_op {
	OP_SEND, OP_SEND_IMM, OP_SEND_INV, OP_WRITE, OP_WRITE_IMM, OP_READ,
	OP_FETCH_ADD, OP_CMP_SWAP, OP_BIND_MW, OP_LOCAL_INV, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"SEND", "SEND_WITH_IMM", "SEND_WITH_INV", "RDMA_WRITE", "RDMA_WRITE_WITH_IMM",
	"RDMA_READ", "ATOMIC_FETCH_ADD", "ATOMIC_CMP_SWAP", "BIND_MW (type 2)", "LOCAL_INV",
};

#define ROUNDS     12
#define MTU        EMU_MTU_1024
#define MTU_BYTES  1024u
#define MAX_MSG    (3 * MTU_BYTES + 77)
#define WAIT_NS    (120ull * 1000000000ull)
#define ALL_ACCESS (EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE | \
		    EMU_ACCESS_REMOTE_READ | EMU_ACCESS_REMOTE_ATOMIC | EMU_ACCESS_MW_BIND)

struct region {
	uint8_t *p;
	size_t len;
	struct emu_mr *mr;
};

/* Side A (index 0) is the requester, side B (index 1) the responder. */
struct demo {
	struct sim *sim;
	struct sim_dev *dev[2];
	struct emu_pd *pd[2];
	struct sim_cq *scq[2], *rcq[2];
	struct emu_qp *qp[2];
	struct region src, rd, res;       /* A */
	struct region dst, rsrc, ctr, rbuf, win; /* B */
	struct emu_mw *mw;                /* B's type 2 window */
	uint32_t mw_rkey;
	bool mw_bound;
	uint64_t counter;                 /* expected value of B's counter */
	uint64_t rng;
	unsigned count[OP_COUNT], ok[OP_COUNT];
	char why[256];
};

static uint64_t rnd(struct demo *d)
{
	uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill(struct demo *d, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd(d);
}

static int fail(struct demo *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record why the current operation failed; returns -1. */
static int fail(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return -1;
}

static int region(struct demo *d, int side, size_t len, struct region *r)
{
	r->p = sim_alloc(d->sim, len);
	r->len = len;
	if (!r->p || sim_reg_mr(d->dev[side], d->pd[side], r->p, len, ALL_ACCESS, &r->mr)) {
		fprintf(stderr, "softhca demo: cannot register %zu bytes\n", len);
		return -1;
	}
	return 0;
}

static int connect_qp(struct demo *d, int side, uint32_t sq_psn, uint32_t rq_psn)
{
	struct emu_qp_attr a;
	int peer = 1 - side, ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ |
			    EMU_ACCESS_REMOTE_ATOMIC;
	ret = emu_modify_qp(d->qp[side], &a, EMU_QP_STATE | EMU_QP_PKEY_INDEX | EMU_QP_PORT |
			    EMU_QP_ACCESS_FLAGS);
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RTR;
	a.path_mtu = MTU;
	a.dest_qp_num = emu_qp_num(d->qp[peer]);
	a.rq_psn = rq_psn;
	a.max_dest_rd_atomic = 16;
	a.min_rnr_timer = 12;
	sim_dev_gid(d->dev[peer], 0, a.ah_attr.dgid);
	a.ah_attr.hop_limit = 64;
	a.ah_attr.port_num = 1;
	a.ah_attr.is_global = 1;
	ret = emu_modify_qp(d->qp[side], &a, EMU_QP_STATE | EMU_QP_AV | EMU_QP_PATH_MTU |
			    EMU_QP_DEST_QPN | EMU_QP_RQ_PSN | EMU_QP_MAX_DEST_RD_ATOMIC |
			    EMU_QP_MIN_RNR_TIMER);
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RTS;
	a.sq_psn = sq_psn;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 16;
	return emu_modify_qp(d->qp[side], &a, EMU_QP_STATE | EMU_QP_SQ_PSN | EMU_QP_TIMEOUT |
			     EMU_QP_RETRY_CNT | EMU_QP_RNR_RETRY | EMU_QP_MAX_QP_RD_ATOMIC);
}

static int demo_setup(struct demo *d, const struct demo_opts *o)
{
	struct sim_faults f;
	uint32_t loss_ppm = (uint32_t)(o->loss * 10000.0 + 0.5);

	d->sim = sim_create(o->seed);
	if (!d->sim)
		return -1;
	d->rng = o->seed ^ 0xdeadbeefcafef00dull;
	memset(&f, 0, sizeof(f));
	f.drop_ppm = loss_ppm;
	f.reorder_ppm = loss_ppm;
	f.dup_ppm = loss_ppm / 2;
	sim_set_faults(d->sim, &f);
	for (int side = 0; side < 2; side++) {
		struct emu_qp_init_attr ia;

		d->dev[side] = sim_add_dev(d->sim, NULL);
		if (!d->dev[side] || emu_alloc_pd(sim_emu(d->dev[side]), &d->pd[side]))
			return -1;
		d->scq[side] = sim_create_cq(d->dev[side], 256);
		d->rcq[side] = sim_create_cq(d->dev[side], 256);
		if (!d->scq[side] || !d->rcq[side])
			return -1;
		memset(&ia, 0, sizeof(ia));
		ia.qp_type = EMU_QPT_RC;
		ia.send_cq = sim_cq_emu(d->scq[side]);
		ia.recv_cq = sim_cq_emu(d->rcq[side]);
		ia.cap.max_send_wr = 64;
		ia.cap.max_recv_wr = 64;
		ia.cap.max_send_sge = 2;
		ia.cap.max_recv_sge = 2;
		if (emu_create_qp(d->pd[side], &ia, d, &d->qp[side]))
			return -1;
	}
	if (connect_qp(d, 0, 0xfffff0, 0x000100) || connect_qp(d, 1, 0x000100, 0xfffff0))
		return -1;
	if (region(d, 0, MAX_MSG, &d->src) || region(d, 0, MAX_MSG, &d->rd) ||
	    region(d, 0, 8, &d->res) || region(d, 1, MAX_MSG, &d->dst) ||
	    region(d, 1, MAX_MSG, &d->rsrc) || region(d, 1, 8, &d->ctr) ||
	    region(d, 1, MAX_MSG, &d->rbuf) || region(d, 1, 8192, &d->win))
		return -1;
	if (emu_alloc_mw(d->pd[1], EMU_MW_TYPE_2, &d->mw))
		return -1;
	d->counter = rnd(d);
	memcpy(d->ctr.p, &d->counter, 8);
	return 0;
}

static void demo_teardown(struct demo *d)
{
	if (d->mw)
		emu_dealloc_mw(d->mw);
	for (int side = 0; side < 2; side++)
		if (d->qp[side])
			emu_destroy_qp(d->qp[side]);
	if (d->sim)
		sim_destroy(d->sim);
}

/* ---- one verified operation ------------------------------------------------------------ */

struct wc_wait {
	struct sim_cq *cq;
	struct emu_wc *wc;
	bool got;
};

static bool wc_arrived(void *arg)
{
	struct wc_wait *w = arg;

	if (!w->got)
		w->got = sim_poll_cq(w->cq, w->wc, 1) == 1;
	return w->got;
}

static const char *status_name(uint32_t status)
{
	static const char *const names[] = {
		"SUCCESS", "LOC_LEN_ERR", "LOC_QP_OP_ERR", "LOC_EEC_OP_ERR", "LOC_PROT_ERR",
		"WR_FLUSH_ERR", "MW_BIND_ERR", "BAD_RESP_ERR", "LOC_ACCESS_ERR",
		"REM_INV_REQ_ERR", "REM_ACCESS_ERR", "REM_OP_ERR", "RETRY_EXC_ERR",
		"RNR_RETRY_EXC_ERR", "LOC_RDD_VIOL_ERR", "REM_INV_RD_REQ_ERR", "REM_ABORT_ERR",
		"INV_EECN_ERR", "INV_EEC_STATE_ERR", "FATAL_ERR", "RESP_TIMEOUT_ERR",
		"GENERAL_ERR",
	};
	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "an unknown status";
}

/* One completion on cq: wr_id, SUCCESS and opcode checked. */
static int wait_wc(struct demo *d, struct sim_cq *cq, uint64_t wr_id, uint32_t opcode,
		   struct emu_wc *wc, const char *what)
{
	struct wc_wait w = { .cq = cq, .wc = wc, .got = false };

	if (!wc_arrived(&w))
		sim_run_until(d->sim, wc_arrived, &w, WAIT_NS);
	if (!w.got)
		return fail(d, "%s: no completion", what);
	if (wc->wr_id != wr_id)
		return fail(d, "%s: completion of another WR", what);
	if (wc->status != EMU_WC_SUCCESS)
		return fail(d, "%s: completed with %s%s", what, status_name(wc->status),
			    wc->status == EMU_WC_RETRY_EXC_ERR ?
			    " (the transport gave up after retry_cnt = 7 retries: at high "
			    "loss rates that is the expected outcome)" : "");
	if (wc->opcode != opcode)
		return fail(d, "%s: completion opcode %u, want %u", what, wc->opcode, opcode);
	return 0;
}

static int post(struct demo *d, int side, struct emu_send_wr *wr, const char *what)
{
	int ret = emu_post_send(d->qp[side], wr);

	return ret ? fail(d, "%s: post failed (%d)", what, ret) : 0;
}

static int post_recv(struct demo *d, uint64_t wr_id)
{
	struct emu_sge sge = { (uintptr_t)d->rbuf.p, MAX_MSG, emu_mr_lkey(d->rbuf.mr) };
	struct emu_recv_wr wr = { .wr_id = wr_id, .num_sge = 1, .sg_list = &sge };

	return emu_post_recv(d->qp[1], &wr) ? fail(d, "post_recv failed") : 0;
}

static void wr_init(struct emu_send_wr *wr, struct emu_sge *sge, uint64_t wr_id,
		    uint32_t opcode, const struct region *r, uint32_t len)
{
	memset(wr, 0, sizeof(*wr));
	wr->wr_id = wr_id;
	wr->opcode = opcode;
	wr->send_flags = EMU_SEND_SIGNALED;
	if (len) {
		sge->addr = (uintptr_t)r->p;
		sge->length = len;
		sge->lkey = emu_mr_lkey(r->mr);
		wr->num_sge = 1;
		wr->sg_list = sge;
	}
}

static uint32_t msg_len(struct demo *d)
{
	return 1 + (uint32_t)(rnd(d) % MAX_MSG);
}

/* SEND, SEND_WITH_IMM, SEND_WITH_INV (of the bound window). */
static int do_send(struct demo *d, enum demo_op op, uint64_t id)
{
	static const uint32_t opcodes[] = { EMU_WR_SEND, EMU_WR_SEND_WITH_IMM,
					    EMU_WR_SEND_WITH_INV };
	struct emu_send_wr wr;
	struct emu_sge sge;
	struct emu_wc wc;
	uint32_t len = msg_len(d), imm = (uint32_t)rnd(d), want_flags = 0;

	fill(d, d->src.p, len);
	if (post_recv(d, id))
		return -1;
	wr_init(&wr, &sge, id, opcodes[op], &d->src, len);
	if (op == OP_SEND_IMM) {
		wr.imm_data = imm;
		want_flags = EMU_WC_WITH_IMM;
	} else if (op == OP_SEND_INV) {
		wr.invalidate_rkey = d->mw_rkey;
		want_flags = EMU_WC_WITH_INV;
	}
	if (post(d, 0, &wr, op_names[op]) ||
	    wait_wc(d, d->rcq[1], id, EMU_WC_RECV, &wc, op_names[op]))
		return -1;
	if (wc.byte_len != len)
		return fail(d, "%s: received %u bytes, sent %u", op_names[op], wc.byte_len, len);
	if (wc.wc_flags != want_flags)
		return fail(d, "%s: wc_flags 0x%x, want 0x%x", op_names[op], wc.wc_flags,
			    want_flags);
	if (op == OP_SEND_IMM && wc.imm_data != imm)
		return fail(d, "%s: imm 0x%x, want 0x%x", op_names[op], wc.imm_data, imm);
	if (op == OP_SEND_INV) {
		if (wc.invalidated_rkey != d->mw_rkey)
			return fail(d, "%s: invalidated rkey 0x%x, want 0x%x", op_names[op],
				    wc.invalidated_rkey, d->mw_rkey);
		d->mw_bound = false;
	}
	if (memcmp(d->rbuf.p, d->src.p, len))
		return fail(d, "%s: received data differ (%u bytes)", op_names[op], len);
	return wait_wc(d, d->scq[0], id, EMU_WC_SEND, &wc, op_names[op]);
}

/* RDMA WRITE, WRITE_WITH_IMM, READ. */
static int do_rdma(struct demo *d, enum demo_op op, uint64_t id)
{
	struct emu_send_wr wr;
	struct emu_sge sge;
	struct emu_wc wc;
	uint32_t len = msg_len(d), imm = (uint32_t)rnd(d);
	bool read = op == OP_READ;
	const struct region *remote = read ? &d->rsrc : &d->dst;

	fill(d, read ? d->rsrc.p : d->src.p, len);
	if (op == OP_WRITE_IMM && post_recv(d, id))
		return -1;
	wr_init(&wr, &sge, id, read ? EMU_WR_RDMA_READ : op == OP_WRITE ? EMU_WR_RDMA_WRITE :
		EMU_WR_RDMA_WRITE_WITH_IMM, read ? &d->rd : &d->src, len);
	wr.imm_data = imm;
	wr.wr.rdma.remote_addr = (uintptr_t)remote->p;
	wr.wr.rdma.rkey = emu_mr_rkey(remote->mr);
	if (post(d, 0, &wr, op_names[op]) ||
	    wait_wc(d, d->scq[0], id, read ? EMU_WC_RDMA_READ : EMU_WC_RDMA_WRITE, &wc,
		    op_names[op]))
		return -1;
	if (op == OP_WRITE_IMM) {
		if (wait_wc(d, d->rcq[1], id, EMU_WC_RECV_RDMA_WITH_IMM, &wc, op_names[op]))
			return -1;
		if (wc.imm_data != imm || !(wc.wc_flags & EMU_WC_WITH_IMM) || wc.byte_len != len)
			return fail(d, "%s: imm 0x%x byte_len %u wrong", op_names[op],
				    wc.imm_data, wc.byte_len);
	}
	if (read ? memcmp(d->rd.p, d->rsrc.p, len) : memcmp(d->dst.p, d->src.p, len))
		return fail(d, "%s: data differ (%u bytes)", op_names[op], len);
	return 0;
}

static int do_atomic(struct demo *d, enum demo_op op, uint64_t id)
{
	struct emu_send_wr wr;
	struct emu_sge sge;
	struct emu_wc wc;
	uint64_t old = d->counter, got, now, add = rnd(d) >> 8, swap = rnd(d);
	bool equal = op == OP_CMP_SWAP && (rnd(d) & 3) != 0;

	wr_init(&wr, &sge, id, op == OP_FETCH_ADD ? EMU_WR_ATOMIC_FETCH_AND_ADD :
		EMU_WR_ATOMIC_CMP_AND_SWP, &d->res, 8);
	wr.wr.atomic.remote_addr = (uintptr_t)d->ctr.p;
	wr.wr.atomic.rkey = emu_mr_rkey(d->ctr.mr);
	wr.wr.atomic.compare_add = op == OP_FETCH_ADD ? add : equal ? old : ~old;
	wr.wr.atomic.swap = swap;
	if (post(d, 0, &wr, op_names[op]) ||
	    wait_wc(d, d->scq[0], id, op == OP_FETCH_ADD ? EMU_WC_FETCH_ADD : EMU_WC_COMP_SWAP,
		    &wc, op_names[op]))
		return -1;
	d->counter = op == OP_FETCH_ADD ? old + add : equal ? swap : old;
	memcpy(&got, d->res.p, 8);
	memcpy(&now, d->ctr.p, 8);
	if (got != old)
		return fail(d, "%s: returned a wrong original value", op_names[op]);
	if (now != d->counter)
		return fail(d, "%s: the counter holds a wrong value", op_names[op]);
	return 0;
}

/* Bind B's type 2 window over part of its region, then WRITE through it. */
static int do_bind(struct demo *d, uint64_t id)
{
	struct emu_send_wr wr;
	struct emu_sge sge;
	struct emu_wc wc;
	uint32_t off = (uint32_t)(rnd(d) % 4096), len = 1 + (uint32_t)(rnd(d) % MAX_MSG);

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = id;
	wr.opcode = EMU_WR_BIND_MW;
	wr.send_flags = EMU_SEND_SIGNALED;
	wr.wr.bind.mw = d->mw;
	wr.wr.bind.rkey = (emu_mw_rkey(d->mw) & ~0xffu) | ((emu_mw_rkey(d->mw) + 1) & 0xffu);
	wr.wr.bind.info.mr = d->win.mr;
	wr.wr.bind.info.addr = (uintptr_t)d->win.p + off;
	wr.wr.bind.info.length = len;
	wr.wr.bind.info.access = EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ;
	if (post(d, 1, &wr, "BIND_MW") ||
	    wait_wc(d, d->scq[1], id, EMU_WC_BIND_MW, &wc, "BIND_MW"))
		return -1;
	d->mw_rkey = emu_mw_rkey(d->mw);
	d->mw_bound = true;
	if (d->mw_rkey != wr.wr.bind.rkey)
		return fail(d, "BIND_MW: window rkey 0x%x, want 0x%x", d->mw_rkey,
			    wr.wr.bind.rkey);
	fill(d, d->src.p, len);
	wr_init(&wr, &sge, id, EMU_WR_RDMA_WRITE, &d->src, len);
	wr.wr.rdma.remote_addr = (uintptr_t)d->win.p + off;
	wr.wr.rdma.rkey = d->mw_rkey;
	if (post(d, 0, &wr, "WRITE through the window") ||
	    wait_wc(d, d->scq[0], id, EMU_WC_RDMA_WRITE, &wc, "WRITE through the window"))
		return -1;
	if (memcmp(d->win.p + off, d->src.p, len))
		return fail(d, "WRITE through the window: data differ (%u bytes)", len);
	return 0;
}

static int do_local_inv(struct demo *d, uint64_t id)
{
	struct emu_send_wr wr;
	struct emu_wc wc;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = id;
	wr.opcode = EMU_WR_LOCAL_INV;
	wr.send_flags = EMU_SEND_SIGNALED;
	wr.invalidate_rkey = d->mw_rkey;
	if (post(d, 1, &wr, "LOCAL_INV") ||
	    wait_wc(d, d->scq[1], id, EMU_WC_LOCAL_INV, &wc, "LOCAL_INV"))
		return -1;
	d->mw_bound = false;
	return 0;
}

static int run_op(struct demo *d, enum demo_op op, uint64_t id)
{
	switch (op) {
	case OP_SEND:
	case OP_SEND_IMM:
	case OP_SEND_INV:
		return do_send(d, op, id);
	case OP_WRITE:
	case OP_WRITE_IMM:
	case OP_READ:
		return do_rdma(d, op, id);
	case OP_FETCH_ADD:
	case OP_CMP_SWAP:
		return do_atomic(d, op, id);
	case OP_BIND_MW:
		return do_bind(d, id);
	case OP_LOCAL_INV:
		return do_local_inv(d, id);
	default:
		return -1;
	}
}

/* The order of one round: a window must be bound before it is invalidated. */
static const enum demo_op round_order[] = {
	OP_SEND, OP_WRITE, OP_BIND_MW, OP_SEND_IMM, OP_READ, OP_SEND_INV, OP_FETCH_ADD,
	OP_WRITE_IMM, OP_BIND_MW, OP_CMP_SWAP, OP_LOCAL_INV,
};

/* ---- summary ----------------------------------------------------------------------------- */

static void print_summary(struct demo *d, const struct demo_opts *o, double real_s)
{
	struct emu_counters c[2];
	struct sim_wire_stats ws;
	unsigned total = 0, total_ok = 0;

	for (int side = 0; side < 2; side++)
		emu_dev_counters(sim_emu(d->dev[side]), &c[side]);
	sim_wire_stats(d->sim, &ws);

	printf("\n%-26s %7s %7s\n", "operation", "count", "ok");
	for (int op = 0; op < OP_COUNT; op++) {
		printf("%-26s %7u %7u\n", op_names[op], d->count[op], d->ok[op]);
		total += d->count[op];
		total_ok += d->ok[op];
	}
	printf("%-26s %7u %7u\n\n", "total", total, total_ok);

	printf("%-26s %12s %12s\n", "", "hca0", "hca1");
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "packets sent", c[0].tx_packets,
	       c[1].tx_packets);
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "packets received", c[0].rx_packets,
	       c[1].rx_packets);
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "retransmits", c[0].retransmits,
	       c[1].retransmits);
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "transport timeouts", c[0].timeouts,
	       c[1].timeouts);
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "NAKs sent", c[0].tx_naks, c[1].tx_naks);
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "RNR NAKs sent", c[0].tx_rnr_naks,
	       c[1].tx_rnr_naks);
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "duplicate requests",
	       c[0].duplicate_requests, c[1].duplicate_requests);
	printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", "drops (total)", c[0].rx_drops,
	       c[1].rx_drops);
	for (int r = 0; r < EMU_DROP_REASONS; r++) {
		char label[40];

		if (!c[0].drops[r] && !c[1].drops[r])
			continue;
		snprintf(label, sizeof(label), "  drop: %s",
			 emu_drop_reason_name((enum emu_drop_reason)r));
		printf("%-26s %12" PRIu64 " %12" PRIu64 "\n", label, c[0].drops[r],
		       c[1].drops[r]);
	}
	printf("\nwire: %" PRIu64 " packets, %" PRIu64 " dropped, %" PRIu64 " duplicated, %"
	       PRIu64 " reordered, %" PRIu64 " corrupted\n", ws.sent, ws.dropped, ws.duplicated,
	       ws.reordered, ws.corrupted);
	printf("virtual time: %.6f s   (real time %.3f s)\n", (double)sim_now(d->sim) / 1e9,
	       real_s);
	printf("trace hash:   %016" PRIx64 "   (seed %" PRIu64 ", loss %.1f%%)\n",
	       sim_trace_hash(d->sim), o->seed, o->loss);
}

static double real_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_demo(int argc, char **argv)
{
	struct demo_opts o;
	struct demo *d;
	double t0 = real_seconds();
	int ret, failed = 0;
	uint64_t id = 1;

	ret = parse_demo(argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(stderr, "softhca demo: out of memory\n");
		return 1;
	}
	printf("softhca demo: 2 simulated HCAs, RC, path MTU %u, seed %" PRIu64 ", wire "
	       "drops %.1f%%, reorders %.1f%%, duplicates %.1f%%\n", MTU_BYTES, o.seed, o.loss,
	       o.loss, o.loss / 2);
	if (demo_setup(d, &o)) {
		fprintf(stderr, "softhca demo: setting up the simulation failed\n");
		demo_teardown(d);
		free(d);
		return 1;
	}
	for (int r = 0; r < ROUNDS && !failed; r++) {
		for (size_t k = 0; k < sizeof(round_order) / sizeof(round_order[0]); k++) {
			enum demo_op op = round_order[k];

			d->count[op]++;
			if (run_op(d, op, id++)) {
				printf("FAILED: %s #%u: %s\n", op_names[op], d->count[op], d->why);
				failed = 1;
				break;
			}
			d->ok[op]++;
		}
	}
	print_summary(d, &o, real_seconds() - t0);
	printf("result: %s\n", failed ? "FAILED" : "every operation verified");
	demo_teardown(d);
	free(d);
	return failed;
}
