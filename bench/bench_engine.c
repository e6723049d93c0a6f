/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * bench/bench_engine.c - engine cost through the simulator, on one core.
 *
 * Two devices in one simulation, no faults, one RC QP pair. The send queue is kept
 * full (unsignaled WRs with a signaled one every --signal-every), receives are
 * reposted as they complete, and the simulation runs as fast as the CPU allows:
 * virtual time is not real time, so what is measured is the real (CLOCK_MONOTONIC)
 * time the engines, the ICRC and the virtual wire take per packet.
 *
 * Results, one line per operation: messages per second (= request packets per
 * second when a message fits one MTU), all packets per second including ACKs and
 * READ responses, payload bytes per second (GB = 1e9 bytes), and messages per
 * CPU-second of this process (the same work measured in CPU time, which other
 * load on the machine disturbs less). Each operation runs --runs times; the line
 * gives the medians and the spread of msg/s.
 *
 * Data are checked at the end of every run (the last message of every buffer
 * slot carries its sequence number and the slot's pattern), and the completion
 * and packet counters must agree (every request sent once, nothing dropped or
 * retransmitted), so the benchmark cannot measure nothing.
 *
 * By default the simulator's trace is off (no text, no hash): what is measured is
 * the engine, the ICRC and the virtual wire. --trace-hash measures with the
 * running trace hash every simulation test pays for.
 *
 *   bench_engine                        SEND 64 B, then WRITE 4 KiB: 3 runs of 3 s
 *   bench_engine --op read --size 65536 --mtu 1024 --seconds 5
 *   bench_engine --trace-hash           with the trace hash of the tests
 *   bench_engine --crc                  the CRC-32 implementations alone
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu/sim/crc32.h"
#include "emu/sim/sim.h"

/* Bench-only entry point of the simulator (emu/sim/sim_priv.h). */
void sim_bench_trace_off(struct sim *s, bool off);

#define MAX_RUNS       15
#define POLL_BATCH     64
#define STEPS_PER_POLL 256
#define DRAIN_NS       (10ull * 1000 * 1000 * 1000)   /* virtual */
#define SEQ_BYTES      8
#define SIZE_DEFAULT   UINT32_MAX

enum bench_op { OP_SEND, OP_WRITE, OP_READ };

struct opts {
	double seconds;
	uint32_t size;           /* SIZE_DEFAULT: the op's */
	int op;                  /* -1 = SEND and WRITE */
	uint32_t mtu;            /* path MTU in bytes */
	uint32_t depth;          /* outstanding WRs */
	uint32_t signal_every;
	uint32_t window;         /* device send window in PSNs; 0 = engine default */
	int runs;
	bool trace_hash;         /* the simulator's trace hash on, as in the tests */
	const char *trace_file;  /* trace text of every run, for debugging */
	bool crc;                /* measure the CRC-32 implementations alone */
	uint64_t seed;
};

struct side {
	struct sim_dev *dev;
	struct emu_pd *pd;
	struct sim_cq *scq, *rcq;
	struct emu_qp *qp;
	uint8_t *buf;            /* depth slots of size bytes */
	struct emu_mr *mr;
	uint32_t lkey, rkey;
};

struct bench {
	const struct opts *o;
	enum bench_op op;
	uint32_t size;
	struct sim *sim;
	FILE *trace;
	struct side a, b;        /* a requests, b responds */
	uint64_t posted, completed;          /* send WRs of a */
	uint64_t recv_posted, recv_done;     /* receive WRs of b (SEND) */
	bool failed;
};

struct result {
	double secs;
	double cpu_secs;         /* CPU time of this process over the same span */
	uint64_t msgs, pkts, req_pkts;
	double msg_rate, pkt_rate, bytes_rate;
};

static const char *op_name(enum bench_op op)
{
	return op == OP_SEND ? "send" : op == OP_WRITE ? "write" : "read";
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static uint32_t mtu_enum(uint32_t bytes)
{
	for (uint32_t e = EMU_MTU_256; e <= EMU_MTU_4096; e++)
		if (emu_mtu_bytes(e) == bytes)
			return e;
	return 0;
}

static void fail(struct bench *b, const char *fmt, const char *what, long v)
{
	if (!b->failed)
		fprintf(stderr, fmt, what, v);
	b->failed = true;
}

/* ---- data: a pattern per slot, and the message's sequence number in front ------------ */

static uint8_t pattern_byte(uint64_t slot, uint64_t i)
{
	uint64_t z = (slot + 1) * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull;

	return (uint8_t)(z >> 56);
}

static void fill_slots(uint8_t *buf, uint32_t depth, uint32_t size)
{
	for (uint64_t s = 0; s < depth; s++)
		for (uint64_t i = 0; i < size; i++)
			buf[s * size + i] = pattern_byte(s, i);
}

static void stamp(uint8_t *slot, uint32_t size, uint64_t seq)
{
	if (size >= SEQ_BYTES)
		memcpy(slot, &seq, SEQ_BYTES);
}

/* Does slot s hold message seq: its sequence number and the slot's pattern? */
static bool slot_holds(const uint8_t *slot, uint32_t size, uint64_t s, uint64_t seq)
{
	uint64_t got;

	if (size >= SEQ_BYTES) {
		memcpy(&got, slot, SEQ_BYTES);
		if (got != seq)
			return false;
	}
	for (uint64_t i = size >= SEQ_BYTES ? SEQ_BYTES : 0; i < size; i++)
		if (slot[i] != pattern_byte(s, i))
			return false;
	return true;
}

/* ---- set up ------------------------------------------------------------------------------ */

static int make_side(struct bench *b, struct side *sd)
{
	const struct opts *o = b->o;
	struct emu_dev_config cfg;
	struct emu_qp_init_attr ia;
	size_t len = (size_t)o->depth * b->size;

	memset(&cfg, 0, sizeof(cfg));
	cfg.port_mtu = 4096;
	cfg.max_unacked_psns = o->window;
	sd->dev = sim_add_dev(b->sim, &cfg);
	if (!sd->dev || emu_alloc_pd(sim_emu(sd->dev), &sd->pd))
		return -1;
	sd->scq = sim_create_cq(sd->dev, 2 * o->depth);
	sd->rcq = sim_create_cq(sd->dev, 2 * o->depth);
	sd->buf = sim_alloc(b->sim, len ? len : 1);
	if (!sd->scq || !sd->rcq || !sd->buf)
		return -1;
	if (sim_reg_mr(sd->dev, sd->pd, sd->buf, len ? len : 1,
		       EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ,
		       &sd->mr))
		return -1;
	sd->lkey = emu_mr_lkey(sd->mr);
	sd->rkey = emu_mr_rkey(sd->mr);
	memset(&ia, 0, sizeof(ia));
	ia.qp_type = EMU_QPT_RC;
	ia.send_cq = sim_cq_emu(sd->scq);
	ia.recv_cq = sim_cq_emu(sd->rcq);
	ia.cap.max_send_wr = o->depth;
	ia.cap.max_recv_wr = o->depth;
	ia.cap.max_send_sge = 1;
	ia.cap.max_recv_sge = 1;
	return emu_create_qp(sd->pd, &ia, sd, &sd->qp) ? -1 : 0;
}

static int connect_qp(struct bench *b, struct side *sd, const struct side *peer,
		      uint32_t sq_psn, uint32_t rq_psn)
{
	struct emu_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ;
	if (emu_modify_qp(sd->qp, &a, EMU_QP_STATE | EMU_QP_PKEY_INDEX | EMU_QP_PORT |
			  EMU_QP_ACCESS_FLAGS))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RTR;
	a.path_mtu = mtu_enum(b->o->mtu);
	a.dest_qp_num = emu_qp_num(peer->qp);
	a.rq_psn = rq_psn;
	sim_dev_gid(peer->dev, 0, a.ah_attr.dgid);
	a.ah_attr.hop_limit = 64;
	a.ah_attr.port_num = 1;
	a.ah_attr.is_global = 1;
	a.max_dest_rd_atomic = 16;
	a.min_rnr_timer = 1;
	if (emu_modify_qp(sd->qp, &a, EMU_QP_STATE | EMU_QP_AV | EMU_QP_PATH_MTU |
			  EMU_QP_DEST_QPN | EMU_QP_RQ_PSN | EMU_QP_MAX_DEST_RD_ATOMIC |
			  EMU_QP_MIN_RNR_TIMER))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RTS;
	a.sq_psn = sq_psn;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 16;
	return emu_modify_qp(sd->qp, &a, EMU_QP_STATE | EMU_QP_SQ_PSN | EMU_QP_TIMEOUT |
			     EMU_QP_RETRY_CNT | EMU_QP_RNR_RETRY |
			     EMU_QP_MAX_QP_RD_ATOMIC) ? -1 : 0;
}

static int post_recv(struct bench *b)
{
	struct side *sd = &b->b;
	uint64_t slot = b->recv_posted % b->o->depth;
	struct emu_sge sge = { (uint64_t)(uintptr_t)(sd->buf + slot * b->size), b->size,
			       sd->lkey };
	struct emu_recv_wr wr = { b->recv_posted, 1, &sge };
	int ret = emu_post_recv(sd->qp, &wr);

	if (ret)
		return ret;
	b->recv_posted++;
	return 0;
}

static int setup(struct bench *b)
{
	b->sim = sim_create(b->o->seed);
	if (!b->sim)
		return -1;
	/* The trace file needs the trace text, and the hash comes with it. */
	if (!b->o->trace_hash && !b->trace)
		sim_bench_trace_off(b->sim, true);
	if (b->trace)
		sim_trace_to(b->sim, b->trace);
	if (make_side(b, &b->a) || make_side(b, &b->b))
		return -1;
	if (connect_qp(b, &b->a, &b->b, 1000, 5000) || connect_qp(b, &b->b, &b->a, 5000, 1000))
		return -1;
	/* Requests carry the source slots' pattern; READ fetches it from b. */
	fill_slots(b->op == OP_READ ? b->b.buf : b->a.buf, b->o->depth, b->size);
	if (b->op == OP_SEND)
		while (b->recv_posted < b->o->depth)
			if (post_recv(b))
				return -1;
	return 0;
}

/* ---- the loop ---------------------------------------------------------------------------- */

static int post_one(struct bench *b)
{
	const struct opts *o = b->o;
	uint64_t i = b->posted;
	uint64_t slot = i % o->depth;
	uint8_t *src = (b->op == OP_READ ? b->b.buf : b->a.buf) + slot * b->size;
	struct emu_sge sge = { (uint64_t)(uintptr_t)(b->a.buf + slot * b->size), b->size,
			       b->a.lkey };
	struct emu_send_wr wr;
	int ret;

	stamp(src, b->size, i);
	memset(&wr, 0, sizeof(wr));
	wr.wr_id = i;
	wr.num_sge = b->size ? 1 : 0;
	wr.sg_list = &sge;
	if ((i + 1) % o->signal_every == 0)
		wr.send_flags = EMU_SEND_SIGNALED;
	if (b->op == OP_SEND) {
		wr.opcode = EMU_WR_SEND;
	} else {
		wr.opcode = b->op == OP_WRITE ? EMU_WR_RDMA_WRITE : EMU_WR_RDMA_READ;
		wr.wr.rdma.remote_addr = (uint64_t)(uintptr_t)(b->b.buf + slot * b->size);
		wr.wr.rdma.rkey = b->b.rkey;
	}
	ret = emu_post_send(b->a.qp, &wr);
	if (ret)
		return ret;
	b->posted++;
	return 0;
}

/* Poll both CQs; repost receives. */
static void poll_all(struct bench *b)
{
	struct emu_wc wc[POLL_BATCH];
	int n;

	while ((n = sim_poll_cq(b->a.scq, wc, POLL_BATCH)) > 0)
		for (int i = 0; i < n; i++) {
			if (wc[i].status != EMU_WC_SUCCESS)
				fail(b, "bench: %s completion status %ld\n", "send",
				     (long)wc[i].status);
			/* RC completes in order: everything up to this WR is done. */
			b->completed = wc[i].wr_id + 1;
		}
	while ((n = sim_poll_cq(b->b.rcq, wc, POLL_BATCH)) > 0)
		for (int i = 0; i < n; i++) {
			if (wc[i].status != EMU_WC_SUCCESS || wc[i].byte_len != b->size ||
			    wc[i].wr_id != b->recv_done)
				fail(b, "bench: %s completion wrong (status %ld)\n", "recv",
				     (long)wc[i].status);
			b->recv_done++;
			if (post_recv(b))
				fail(b, "bench: %s failed (%ld)\n", "post_recv", 0);
		}
}

/* Whole groups of signal_every WRs, so that the last WR posted is signaled. */
static void fill_sq(struct bench *b)
{
	uint32_t group = b->o->signal_every;

	while (b->posted - b->completed + group <= b->o->depth)
		for (uint32_t i = 0; i < group; i++)
			if (post_one(b)) {
				fail(b, "bench: %s failed at WR %ld\n", "post_send",
				     (long)b->posted);
				return;
			}
}

static uint64_t total_tx_packets(const struct bench *b)
{
	struct emu_counters ca, cb;

	emu_dev_counters(sim_emu(b->a.dev), &ca);
	emu_dev_counters(sim_emu(b->b.dev), &cb);
	return ca.tx_packets + cb.tx_packets;
}

static bool all_done(void *arg)
{
	struct bench *b = arg;

	poll_all(b);
	return b->completed == b->posted || b->failed;
}

/* The last message in every slot, and counters that match the work done. */
static int verify(struct bench *b, uint64_t pkts_per_msg)
{
	const uint8_t *dst = b->op == OP_SEND || b->op == OP_WRITE ? b->b.buf : b->a.buf;
	uint64_t n = b->completed;
	struct emu_counters ca, cb;

	if (!n) {
		fprintf(stderr, "bench: no message completed\n");
		return -1;
	}
	for (uint64_t slot = 0; slot < b->o->depth && slot < n; slot++) {
		uint64_t last = n - 1 - ((n - 1 - slot) % b->o->depth);

		if (!slot_holds(dst + slot * b->size, b->size, slot, last)) {
			fprintf(stderr, "bench: slot %" PRIu64 " does not hold message %" PRIu64
				"\n", slot, last);
			return -1;
		}
	}
	if (b->op == OP_SEND && b->recv_done != n) {
		fprintf(stderr, "bench: %" PRIu64 " receives for %" PRIu64 " sends\n",
			b->recv_done, n);
		return -1;
	}
	emu_dev_counters(sim_emu(b->a.dev), &ca);
	emu_dev_counters(sim_emu(b->b.dev), &cb);
	/* No faults: not one retransmission, drop or timeout, every request sent once. */
	if (ca.retransmits || cb.rx_drops || ca.rx_drops || ca.timeouts ||
	    ca.tx_packets != (b->op == OP_READ ? n : n * pkts_per_msg)) {
		fprintf(stderr, "bench: counters: tx %" PRIu64 " for %" PRIu64 " messages, "
			"retransmits %" PRIu64 ", drops %" PRIu64 "/%" PRIu64 "\n",
			ca.tx_packets, n, ca.retransmits, ca.rx_drops, cb.rx_drops);
		return -1;
	}
	return 0;
}

/*
 * The measured part: keep the SQ full, run the simulation, poll, until the time
 * is up. Returns the time it stopped. Not inlined, so that a profiler can count
 * this part alone (valgrind --tool=callgrind --toggle-collect=bench_loop).
 */
__attribute__((noinline)) double bench_loop(struct bench *b, double t0);
__attribute__((noinline)) double bench_loop(struct bench *b, double t0)
{
	double t1 = t0;

	for (uint64_t iter = 0; !b->failed; iter++) {
		fill_sq(b);
		for (int i = 0; i < STEPS_PER_POLL; i++)
			if (!sim_step(b->sim))
				break;
		poll_all(b);
		if ((iter & 15) == 0 && (t1 = now_s()) - t0 >= b->o->seconds)
			break;
	}
	return t1;
}

static int run_once(const struct opts *o, enum bench_op op, uint32_t size, struct result *r)
{
	struct bench b;
	uint32_t mtu = o->mtu;
	uint64_t pkts_per_msg = size ? (size + mtu - 1) / mtu : 1;
	uint64_t pkts0, msgs0 = 0;
	double t0, t1, c0;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.op = op;
	b.size = size;
	if (o->trace_file && !(b.trace = fopen(o->trace_file, "w"))) {
		perror(o->trace_file);
		return -1;
	}
	if (setup(&b)) {
		fprintf(stderr, "bench: set-up failed\n");
		goto out;
	}
	pkts0 = total_tx_packets(&b);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now_s();
	t1 = bench_loop(&b, t0);
	r->cpu_secs = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	msgs0 = b.completed;
	r->pkts = total_tx_packets(&b) - pkts0;
	if (b.failed)
		goto out;
	/* Drain (not timed), then check. */
	if (!sim_run_until(b.sim, all_done, &b, DRAIN_NS) || b.failed) {
		fprintf(stderr, "bench: %" PRIu64 " of %" PRIu64 " WRs completed\n",
			b.completed, b.posted);
		goto out;
	}
	if (verify(&b, pkts_per_msg))
		goto out;
	r->secs = t1 - t0;
	r->msgs = msgs0;
	r->req_pkts = msgs0 * (op == OP_READ ? 1 : pkts_per_msg);
	r->msg_rate = (double)msgs0 / r->secs;
	r->pkt_rate = (double)r->pkts / r->secs;
	r->bytes_rate = (double)msgs0 * size / r->secs;
	rc = 0;
out:
	sim_destroy(b.sim);
	if (b.trace)
		fclose(b.trace);
	return rc;
}

/* ---- reporting ----------------------------------------------------------------------------- */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int bench_op(const struct opts *o, enum bench_op op)
{
	uint32_t size = o->size != SIZE_DEFAULT ? o->size : op == OP_SEND ? 64 : 4096;
	double msg[MAX_RUNS], pkt[MAX_RUNS], bytes[MAX_RUNS], req[MAX_RUNS], cpu[MAX_RUNS];
	double m_msg, m_req, m_pkt, m_bytes, m_cpu;
	struct result r;
	uint64_t msgs = 0;

	for (int i = 0; i < o->runs; i++) {
		if (run_once(o, op, size, &r))
			return -1;
		msg[i] = r.msg_rate;
		req[i] = (double)r.req_pkts / r.secs;
		pkt[i] = r.pkt_rate;
		bytes[i] = r.bytes_rate;
		cpu[i] = (double)r.msgs / r.cpu_secs;
		msgs += r.msgs;
	}
	m_req = median(req, o->runs);
	m_pkt = median(pkt, o->runs);
	m_bytes = median(bytes, o->runs);
	m_cpu = median(cpu, o->runs);
	m_msg = median(msg, o->runs);     /* sorts msg[]: [0] is the minimum */
	printf("%s %u B mtu %u: %.3f M msg/s, %.3f M request pkt/s, %.3f M pkt/s with "
	       "ACKs/responses, %.3f GB/s payload; %.3f M msg per CPU-second; median of %d "
	       "x %.1f s (msg/s %.3f..%.3f M), %" PRIu64 " msgs checked, crc32 %s, trace %s\n",
	       op_name(op), size, o->mtu, m_msg / 1e6, m_req / 1e6, m_pkt / 1e6,
	       m_bytes / 1e9, m_cpu / 1e6, o->runs, o->seconds, msg[0] / 1e6,
	       msg[o->runs - 1] / 1e6, msgs, sim_crc32_impl_name(sim_crc32_best()),
	       o->trace_hash ? "hashed" : "off");
	fflush(stdout);
	return 0;
}

/* ---- CRC-32 alone ----------------------------------------------------------------------- */

/*
 * Throughput of every CRC-32 implementation this CPU runs, on the lengths the
 * ICRC sees: the IPv4 pseudo-header (48), a 64-byte SEND's covered bytes (64), a
 * 4 KiB WRITE_ONLY's (4112), and a long buffer. Each call is chained on the
 * previous result, as the ICRC chains pseudo-header and packet, so short lengths
 * measure latency.
 */
static int bench_crc(const struct opts *o)
{
	static const size_t lens[] = { 48, 64, 4112, 65536 };
	uint8_t *buf = malloc(65536);

	if (!buf)
		return -1;
	for (size_t i = 0; i < 65536; i++)
		buf[i] = pattern_byte(0, i);
	for (int impl = 0; impl < SIM_CRC32_IMPLS; impl++) {
		if (!sim_crc32_impl_available((enum sim_crc32_impl)impl))
			continue;
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			uint64_t calls = 0;
			uint32_t crc = 0;
			double t0 = now_s(), t;

			if (sim_crc32_with((enum sim_crc32_impl)impl, 0x5eed, buf, lens[l]) !=
			    sim_crc32_with(SIM_CRC32_ZLIB, 0x5eed, buf, lens[l])) {
				fprintf(stderr, "bench: crc32 %s differs from zlib\n",
					sim_crc32_impl_name((enum sim_crc32_impl)impl));
				free(buf);
				return -1;
			}

			do {
				for (int k = 0; k < 1000; k++)
					crc = sim_crc32_with((enum sim_crc32_impl)impl, crc, buf,
							     lens[l]);
				calls += 1000;
			} while ((t = now_s() - t0) < o->seconds / 8);
			printf("crc32 %-7s %6zu B: %7.2f GB/s, %8.1f ns/call (same as zlib; "
			       "last %08x)\n", sim_crc32_impl_name((enum sim_crc32_impl)impl),
			       lens[l], (double)calls * (double)lens[l] / t / 1e9,
			       t / (double)calls * 1e9, crc);
		}
	}
	free(buf);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_engine [--op send|write|read] [--size BYTES] [--mtu BYTES]\n"
		"                    [--seconds S] [--runs N] [--depth WRS] [--signal-every N]\n"
		"                    [--window PSNS] [--seed N] [--trace-off | --trace-hash]\n"
		"                    [--trace-file PATH] | --crc [--seconds S]\n"
		"Without --op: SEND of 64 bytes, then RDMA WRITE of 4096 bytes. Without\n"
		"--size: 64 bytes for send, 4096 for write and read. Defaults: 3 runs of\n"
		"3 s, MTU 4096, 1024 WRs outstanding, one WR in 64 signaled.\n"
		"--trace-off (the default): no trace text and no trace hash: the engine and\n"
		"the wire only. --trace-hash: the simulator's running hash of every trace\n"
		"line, as every simulation test pays for it. --trace-file: the trace text of\n"
		"every run to PATH (slow).\n"
		"--crc: throughput of each CRC-32 implementation alone, for --seconds.\n");
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int parse(int argc, char **argv, struct opts *o)
{
	o->seconds = 3;
	o->size = SIZE_DEFAULT;
	o->op = -1;
	o->mtu = 4096;
	o->depth = 1024;
	o->signal_every = 64;
	o->window = 0;
	o->runs = 3;
	o->trace_hash = false;
	o->trace_file = NULL;
	o->crc = false;
	o->seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint32_t u;

		if (!strcmp(a, "--crc")) {
			o->crc = true;
			continue;
		}
		if (!strcmp(a, "--trace-off") || !strcmp(a, "--trace-hash")) {
			o->trace_hash = !strcmp(a, "--trace-hash");
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!v)
			goto bad;
		i++;
		if (!strcmp(a, "--seconds")) {
			o->seconds = strtod(v, NULL);
			if (!(o->seconds > 0))
				goto bad;
		} else if (!strcmp(a, "--op")) {
			if (!strcmp(v, "send"))
				o->op = OP_SEND;
			else if (!strcmp(v, "write"))
				o->op = OP_WRITE;
			else if (!strcmp(v, "read"))
				o->op = OP_READ;
			else
				goto bad;
		} else if (!strcmp(a, "--size") && parse_u32(v, &u) && u <= (1u << 30)) {
			o->size = u;
		} else if (!strcmp(a, "--mtu") && parse_u32(v, &u) && mtu_enum(u)) {
			o->mtu = u;
		} else if (!strcmp(a, "--depth") && parse_u32(v, &u) && u >= 2 && u <= 16384) {
			o->depth = u;
		} else if (!strcmp(a, "--signal-every") && parse_u32(v, &u) && u >= 1) {
			o->signal_every = u;
		} else if (!strcmp(a, "--window") && parse_u32(v, &u)) {
			o->window = u;
		} else if (!strcmp(a, "--runs") && parse_u32(v, &u) && u >= 1 && u <= MAX_RUNS) {
			o->runs = (int)u;
		} else if (!strcmp(a, "--trace-file")) {
			o->trace_file = v;
		} else if (!strcmp(a, "--seed") && parse_u32(v, &u)) {
			o->seed = u;
		} else {
			goto bad;
		}
	}
	if (o->signal_every > o->depth)
		goto bad;
	return 0;
bad:
	usage(stderr);
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (parse(argc, argv, &o))
		return 2;
	if (o.crc)
		return bench_crc(&o) ? 1 : 0;
	if (o.op >= 0)
		return bench_op(&o, (enum bench_op)o.op) ? 1 : 0;
	if (bench_op(&o, OP_SEND) || bench_op(&o, OP_WRITE))
		return 1;
	return 0;
}
