/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/test_sim_wire.c - the simulator on its own: virtual wire, virtual time,
 * host memory (ODP pages), CQ ring and events, with no working transport.
 *
 * Datagrams are built with the engine's codec (valid RC SEND_ONLY requests to a QP
 * that does not exist) and sent through a device's host tx() as the engine would
 * send them. The receiving engine must drop each one: as EMU_DROP_QPN when intact,
 * or earlier (ICRC, or a header check) when the wire corrupted it. Which bit the
 * wire flipped is read back from the trace, so every drop is accounted for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/core/wire.h"
#include "emu/sim/sim.h"

/* Test-only entry points of emu/sim. */
void sim_test_tx(struct sim_dev *d, const struct emu_netinfo *ni, const void *pkt,
		 size_t len);
const struct emu_host_ops *sim_test_ops(struct sim_dev *d);
void *sim_test_mr_cookie(struct sim_dev *d, struct emu_mr *mr);

#define ABSENT_QPN   0x123456u
#define PAYLOAD      64
#define N_PKTS       2000
#define SPACING_NS   100
#define BTH_MASKED_BYTE 4      /* FECN/BECN/resv6: not covered by the ICRC */

static int failures;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			failures++;                                             \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

/* ---- packets ----------------------------------------------------------------------- */

static void make_ni(struct sim_dev *from, struct sim_dev *to, bool v6,
		    struct emu_netinfo *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->ip_version = v6 ? 6 : 4;
	ni->ttl = 64;
	ni->frag_off = v6 ? 0 : 0x4000;
	ni->udp_sport = 49152;
	ni->udp_dport = ROCE_V2_UDP_DPORT;
	sim_dev_gid(from, v6 ? 1 : 0, ni->src);
	sim_dev_gid(to, v6 ? 1 : 0, ni->dst);
}

/* A valid RC SEND_ONLY to ABSENT_QPN; returns its length. */
static size_t make_send(struct sim_dev *from, const struct emu_netinfo *ni, uint32_t psn,
			uint8_t *buf)
{
	const struct emu_host_ops *ops = sim_test_ops(from);
	struct emu_pkt p;
	uint32_t hdr;
	size_t len;

	memset(&p, 0, sizeof(p));
	p.opcode = OPC_RC | IB_OP_SEND_ONLY;
	p.pkey = EMU_PKEY_DEFAULT;
	p.dqpn = ABSENT_QPN;
	p.psn = psn & PSN_MASK;
	hdr = emu_pkt_build_hdr(buf, &p);
	for (uint32_t i = 0; i < PAYLOAD; i++)
		buf[hdr + i] = (uint8_t)(psn * 7 + i);
	len = hdr + PAYLOAD + ICRC_BYTES;
	emu_icrc_fill(ops, ni, buf, len);
	return len;
}

/* ---- trace capture ---------------------------------------------------------------- */

struct delivery {
	uint64_t pkt;
	uint32_t copy;
};

struct corruption {
	uint64_t pkt;
	uint32_t copy;
	uint64_t bit;
};

struct run_result {
	uint64_t hash;
	size_t trace_bytes;
	struct sim_wire_stats st;
	struct emu_counters rx;           /* of the receiving device */
	struct delivery *order;
	size_t n_order;
	struct corruption *bad;
	size_t n_bad;
	uint64_t *reordered;              /* pkt * 2 + copy of each reordered copy */
	size_t n_reordered;
	uint64_t end_time;
};

static void *grow(void *p, size_t n, size_t size)
{
	void *q = realloc(p, (n + 1) * size);

	if (!q) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return q;
}

/* Reads back the wire lines of a trace. */
static void parse_trace(FILE *f, struct run_result *r)
{
	char line[600];

	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		const char *w = strstr(line, " wire ");
		uint64_t pkt, bit, extra;
		unsigned int copy;
		size_t len;

		r->trace_bytes += strlen(line);
		if (!w)
			continue;
		if (sscanf(w, " wire deliver dev0->dev1 pkt=%" SCNu64 " copy=%u len=%zu",
			   &pkt, &copy, &len) == 3) {
			r->order = grow(r->order, r->n_order, sizeof(*r->order));
			r->order[r->n_order++] = (struct delivery){ pkt, copy };
		} else if (sscanf(w, " wire corrupt dev0->dev1 pkt=%" SCNu64 " copy=%u bit=%" SCNu64,
				  &pkt, &copy, &bit) == 3) {
			r->bad = grow(r->bad, r->n_bad, sizeof(*r->bad));
			r->bad[r->n_bad++] = (struct corruption){ pkt, copy, bit };
		} else if (sscanf(w, " wire reorder dev0->dev1 pkt=%" SCNu64 " copy=%u extra=%" SCNu64,
				  &pkt, &copy, &extra) == 3) {
			r->reordered = grow(r->reordered, r->n_reordered, sizeof(uint64_t));
			r->reordered[r->n_reordered++] = pkt * 2 + copy;
		}
	}
}

static void free_result(struct run_result *r)
{
	free(r->order);
	free(r->bad);
	free(r->reordered);
}

/*
 * N_PKTS datagrams from dev0 to dev1, one every SPACING_NS, every fourth over IPv6,
 * through a wire with every fault on; then run to idle.
 */
static void run_faulty(uint64_t seed, struct run_result *r)
{
	const struct sim_faults faults = {
		.drop_ppm = 100000, .dup_ppm = 100000, .reorder_ppm = 100000,
		.corrupt_ppm = 100000, .delay_ppm = 50000,
	};
	struct sim *s = sim_create(seed);
	struct sim_dev *d0, *d1;
	FILE *trace = tmpfile();
	uint8_t pkt[256];

	memset(r, 0, sizeof(*r));
	if (!s || !trace) {
		fprintf(stderr, "cannot create a simulation or a temporary file\n");
		exit(2);
	}
	d0 = sim_add_dev(s, NULL);
	d1 = sim_add_dev(s, NULL);
	CHECK(d0 && d1, "sim_add_dev failed");
	if (!d0 || !d1)
		exit(1);
	sim_trace_to(s, trace);
	sim_set_faults(s, &faults);
	for (uint32_t i = 0; i < N_PKTS; i++) {
		struct emu_netinfo ni;
		size_t len;

		make_ni(d0, d1, i % 4 == 3, &ni);
		len = make_send(d0, &ni, i, pkt);
		sim_test_tx(d0, &ni, pkt, len);
		sim_run(s, SPACING_NS);
	}
	CHECK(sim_run(s, UINT64_MAX), "did not go idle");
	r->end_time = sim_now(s);
	r->hash = sim_trace_hash(s);
	sim_wire_stats(s, &r->st);
	emu_dev_counters(sim_emu(d1), &r->rx);
	sim_trace_to(s, NULL);
	parse_trace(trace, r);
	fclose(trace);
	sim_destroy(s);
}

static bool was_reordered(const struct run_result *r, uint64_t pkt, uint32_t copy)
{
	for (size_t i = 0; i < r->n_reordered; i++)
		if (r->reordered[i] == pkt * 2 + copy)
			return true;
	return false;
}

static bool same_order(const struct run_result *a, const struct run_result *b)
{
	if (a->n_order != b->n_order)
		return false;
	for (size_t i = 0; i < a->n_order; i++)
		if (a->order[i].pkt != b->order[i].pkt || a->order[i].copy != b->order[i].copy)
			return false;
	return true;
}

static bool in_range(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi;
}

/* ---- tests ------------------------------------------------------------------------- */

static bool two_more_delivered(void *arg)
{
	struct sim_wire_stats st;

	sim_wire_stats(arg, &st);
	return st.delivered >= 4;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void test_latency(void)
{
	struct sim *s = sim_create(7);
	struct sim_dev *d0 = sim_add_dev(s, NULL);
	struct sim_dev *d1 = sim_add_dev(s, NULL);
	struct sim_faults slow = { .latency_ns = 5000 };
	struct sim_wire_stats st;
	struct emu_counters rx;
	struct emu_netinfo ni;
	uint8_t pkt[256];
	uint8_t gid[16];
	size_t len;

	CHECK(sim_seed(s) == 7, "seed %" PRIu64, sim_seed(s));
	CHECK(sim_dev_index(d0) == 0 && sim_dev_index(d1) == 1, "indices");
	sim_dev_gid(d1, 0, gid);
	CHECK(emu_gid_is_ipv4(gid) && gid[12] == 10 && gid[13] == 0 && gid[14] == 0 &&
	      gid[15] == 2, "dev1 GID 0 is not 10.0.0.2");
	sim_dev_gid(d1, 1, gid);
	CHECK(gid[0] == 0xfd && gid[1] == 0 && gid[14] == 0 && gid[15] == 2,
	      "dev1 GID 1 is not fd00::2");
	CHECK(emu_gid_query(sim_emu(d1), 1, gid) == 0 && gid[0] == 0xfd && gid[15] == 2,
	      "the engine does not have GID 1");

	make_ni(d0, d1, false, &ni);
	len = make_send(d0, &ni, 1, pkt);
	CHECK(emu_icrc_check(sim_test_ops(d1), &ni, pkt, len), "test packet ICRC");
	CHECK(!sim_step(s), "something pending in a new simulation");
	sim_test_tx(d0, &ni, pkt, len);
	CHECK(sim_now(s) == 0, "time moved on tx: %" PRIu64, sim_now(s));
	CHECK(sim_step(s), "nothing pending after tx");
	CHECK(sim_now(s) == 1000, "default latency: arrived at %" PRIu64, sim_now(s));
	CHECK(!sim_step(s), "more than one event for one datagram");

	sim_set_faults(s, &slow);
	sim_test_tx(d0, &ni, pkt, len);
	CHECK(sim_run(s, 4999) == false, "went idle before the latency");
	CHECK(sim_now(s) == 5999, "sim_run stops at now + max_ns: %" PRIu64, sim_now(s));
	CHECK(sim_run(s, 1000000), "not idle");
	CHECK(sim_now(s) == 6000, "5000 ns latency: arrived at %" PRIu64, sim_now(s));

	sim_wire_stats(s, &st);
	CHECK(st.sent == 2 && st.delivered == 2 && st.dropped == 0, "stats %" PRIu64
	      " %" PRIu64 " %" PRIu64, st.sent, st.delivered, st.dropped);
	emu_dev_counters(sim_emu(d1), &rx);
	CHECK(rx.drops[EMU_DROP_QPN] == 2 && rx.rx_drops == 2,
	      "dev1 drops qpn=%" PRIu64 " total=%" PRIu64, rx.drops[EMU_DROP_QPN], rx.rx_drops);

	/* sim_run_until checks after each event. */
	for (int i = 0; i < 3; i++) {
		sim_test_tx(d0, &ni, pkt, len);
		sim_run(s, 100);
	}
	CHECK(sim_run_until(s, two_more_delivered, s, UINT64_MAX), "condition never true");
	sim_wire_stats(s, &st);
	CHECK(st.delivered == 4 && sim_now(s) == 11100,
	      "stopped after %" PRIu64 " deliveries at %" PRIu64, st.delivered, sim_now(s));
	CHECK(!sim_run_until(s, never, s, UINT64_MAX), "never-true condition returned true");
	sim_wire_stats(s, &st);
	CHECK(st.delivered == 5 && sim_now(s) == 11200, "run_until to idle: %"
	      PRIu64 " at %" PRIu64, st.delivered, sim_now(s));

	/* sim_inject reaches the engine at once, without the wire. */
	sim_inject(d1, &ni, pkt, len);
	CHECK(sim_now(s) == 11200, "inject moved time");
	emu_dev_counters(sim_emu(d1), &rx);
	CHECK(rx.drops[EMU_DROP_QPN] == 6, "inject not delivered: %" PRIu64,
	      rx.drops[EMU_DROP_QPN]);
	sim_wire_stats(s, &st);
	CHECK(st.sent == 5, "inject went over the wire");
	sim_destroy(s);
}

static void test_faulty_wire(void)
{
	struct run_result a, b, c;
	uint64_t exp_qpn = 0, icrc_sure = 0, icrc_maybe = 0;
	size_t inversions = 0, fifo_breaks = 0;
	uint64_t last_fifo = 0;
	bool have_fifo = false;

	run_faulty(42, &a);
	run_faulty(42, &b);
	run_faulty(43, &c);

	/* Every datagram sent ends delivered, dropped or blackholed; duplicates add one. */
	CHECK(a.st.sent == N_PKTS, "sent %" PRIu64, a.st.sent);
	CHECK(a.st.delivered + a.st.dropped + a.st.blackholed == a.st.sent + a.st.duplicated,
	      "delivered %" PRIu64 " dropped %" PRIu64 " blackholed %" PRIu64 " sent %" PRIu64
	      " duplicated %" PRIu64, a.st.delivered, a.st.dropped, a.st.blackholed,
	      a.st.sent, a.st.duplicated);
	CHECK(a.st.blackholed == 0, "blackholed %" PRIu64, a.st.blackholed);
	/* 10 % of 2000 is 200 (sd ~13); of ~1980 copies, 198. */
	CHECK(in_range(a.st.dropped, 140, 260), "dropped %" PRIu64, a.st.dropped);
	CHECK(in_range(a.st.duplicated, 130, 250), "duplicated %" PRIu64, a.st.duplicated);
	CHECK(in_range(a.st.reordered, 130, 270), "reordered %" PRIu64, a.st.reordered);
	CHECK(in_range(a.st.corrupted, 130, 270), "corrupted %" PRIu64, a.st.corrupted);
	CHECK(in_range(a.st.delayed, 50, 150), "delayed %" PRIu64, a.st.delayed);
	CHECK(a.n_order == a.st.delivered, "%zu deliver lines for %" PRIu64 " deliveries",
	      a.n_order, a.st.delivered);
	CHECK(a.n_bad == a.st.corrupted, "%zu corrupt lines", a.n_bad);
	CHECK(a.n_reordered == a.st.reordered, "%zu reorder lines", a.n_reordered);

	/* Reordered copies are overtaken; all others keep their order. */
	for (size_t i = 0; i < a.n_order; i++) {
		const struct delivery *d = &a.order[i];

		if (i && d->pkt < a.order[i - 1].pkt)
			inversions++;
		if (was_reordered(&a, d->pkt, d->copy))
			continue;
		if (have_fifo && d->pkt < last_fifo)
			fifo_breaks++;
		last_fifo = d->pkt;
		have_fifo = true;
	}
	CHECK(inversions >= a.st.reordered / 2, "only %zu inversions", inversions);
	CHECK(fifo_breaks == 0, "%zu datagrams overtaken without a reorder", fifo_breaks);

	/* The receiver dropped every delivered datagram, each for the right reason. */
	for (size_t i = 0; i < a.n_bad; i++) {
		uint64_t byte = a.bad[i].bit / 8;

		if (byte == BTH_MASKED_BYTE)
			exp_qpn++;              /* the ICRC does not see it */
		else if (byte < 2)
			icrc_maybe++;           /* opcode / version / pad: may fail parsing */
		else
			icrc_sure++;
	}
	exp_qpn += a.st.delivered - a.n_bad;
	CHECK(a.rx.rx_drops == a.st.delivered, "rx drops %" PRIu64 " delivered %" PRIu64,
	      a.rx.rx_drops, a.st.delivered);
	CHECK(a.rx.drops[EMU_DROP_QPN] == exp_qpn, "QPN drops %" PRIu64 " expected %" PRIu64,
	      a.rx.drops[EMU_DROP_QPN], exp_qpn);
	CHECK(in_range(a.rx.drops[EMU_DROP_ICRC], icrc_sure, icrc_sure + icrc_maybe),
	      "ICRC drops %" PRIu64 " expected %" PRIu64 "..%" PRIu64,
	      a.rx.drops[EMU_DROP_ICRC], icrc_sure, icrc_sure + icrc_maybe);
	CHECK(icrc_sure > 100, "only %" PRIu64 " payload corruptions", icrc_sure);

	/* Same seed: same trace, same order. Other seed: other trace. */
	CHECK(a.hash == b.hash, "same seed, hashes %016" PRIx64 " %016" PRIx64, a.hash, b.hash);
	CHECK(a.trace_bytes == b.trace_bytes, "same seed, trace sizes %zu %zu",
	      a.trace_bytes, b.trace_bytes);
	CHECK(same_order(&a, &b), "same seed, different delivery order");
	CHECK(!memcmp(&a.st, &b.st, sizeof(a.st)), "same seed, different stats");
	CHECK(a.end_time == b.end_time, "same seed, end times %" PRIu64 " %" PRIu64,
	      a.end_time, b.end_time);
	CHECK(a.hash != c.hash, "seeds 42 and 43 give the same trace hash");
	CHECK(memcmp(&a.st, &c.st, sizeof(a.st)) != 0, "seeds 42 and 43 give the same stats");

	free_result(&a);
	free_result(&b);
	free_result(&c);
}

static void test_blackhole_and_unknown(void)
{
	struct sim *s = sim_create(3);
	struct sim_dev *d0 = sim_add_dev(s, NULL);
	struct sim_dev *d1 = sim_add_dev(s, NULL);
	struct sim_wire_stats st;
	struct emu_counters rx;
	struct emu_netinfo ni, nowhere;
	uint8_t pkt[256];
	size_t len;

	make_ni(d0, d1, false, &ni);
	len = make_send(d0, &ni, 5, pkt);

	sim_dev_isolate(d1, true);
	for (int i = 0; i < 10; i++)
		sim_test_tx(d0, &ni, pkt, len);
	/* Isolated after sending: lost in flight. */
	sim_dev_isolate(d1, false);
	sim_test_tx(d0, &ni, pkt, len);
	sim_dev_isolate(d1, true);
	CHECK(sim_run(s, UINT64_MAX), "not idle");
	sim_dev_isolate(d1, false);
	/* A dead sender sends nothing. */
	sim_dev_isolate(d0, true);
	sim_test_tx(d0, &ni, pkt, len);
	sim_dev_isolate(d0, false);

	nowhere = ni;
	nowhere.dst[15] = 99;          /* 10.0.0.99: no such device */
	sim_test_tx(d0, &nowhere, pkt, len);
	CHECK(sim_run(s, UINT64_MAX), "not idle");

	sim_wire_stats(s, &st);
	CHECK(st.sent == 13, "sent %" PRIu64, st.sent);
	CHECK(st.blackholed == 12, "blackholed %" PRIu64, st.blackholed);
	CHECK(st.dropped == 1, "dropped %" PRIu64, st.dropped);
	CHECK(st.delivered == 0, "delivered %" PRIu64, st.delivered);
	emu_dev_counters(sim_emu(d1), &rx);
	CHECK(rx.rx_drops == 0 && rx.rx_packets == 0, "an isolated device received");

	/* Back on line: delivered again. */
	sim_test_tx(d0, &ni, pkt, len);
	CHECK(sim_run(s, UINT64_MAX), "not idle");
	sim_wire_stats(s, &st);
	CHECK(st.delivered == 1, "delivered %" PRIu64, st.delivered);
	sim_destroy(s);
}

static void test_link_faults(void)
{
	struct sim *s = sim_create(11);
	struct sim_dev *d0 = sim_add_dev(s, NULL);
	struct sim_dev *d1 = sim_add_dev(s, NULL);
	const struct sim_faults all_drop = { .drop_ppm = 1000000 };
	struct sim_wire_stats st;
	struct emu_netinfo fwd, back;
	uint8_t pkt[256];
	size_t len;

	sim_set_link_faults(s, d0, d1, &all_drop);
	make_ni(d0, d1, true, &fwd);
	make_ni(d1, d0, true, &back);
	for (int i = 0; i < 5; i++) {
		len = make_send(d0, &fwd, (uint32_t)i, pkt);
		sim_test_tx(d0, &fwd, pkt, len);
		len = make_send(d1, &back, (uint32_t)i, pkt);
		sim_test_tx(d1, &back, pkt, len);
	}
	CHECK(sim_run(s, UINT64_MAX), "not idle");
	sim_wire_stats(s, &st);
	CHECK(st.dropped == 5 && st.delivered == 5, "one direction only: dropped %" PRIu64
	      " delivered %" PRIu64, st.dropped, st.delivered);
	sim_destroy(s);
}

static void test_odp_memory(void)
{
	const uint64_t len = 3 * 4096 + 100;
	struct sim *s = sim_create(5);
	struct sim_dev *d = sim_add_dev(s, NULL);
	const struct emu_host_ops *ops = sim_test_ops(d);
	uint8_t *buf = sim_alloc(s, len);
	struct emu_mr *odp, *plain, *zb, *gone;
	struct emu_pd *pd;
	void *cookie, *ptr = NULL;
	uint64_t base = (uint64_t)(uintptr_t)buf;
	bool zeroed = true;
	long got;

	CHECK(buf != NULL, "sim_alloc");
	for (uint64_t i = 0; buf && i < len; i++)
		zeroed &= buf[i] == 0;
	CHECK(zeroed, "sim_alloc memory is not zeroed");
	CHECK(emu_alloc_pd(sim_emu(d), &pd) == 0, "emu_alloc_pd");
	CHECK(sim_reg_mr(d, pd, buf, len, EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_ON_DEMAND,
			 &odp) == 0, "ODP sim_reg_mr");
	CHECK(sim_reg_mr(d, pd, buf, len, EMU_ACCESS_LOCAL_WRITE, &plain) == 0, "sim_reg_mr");
	CHECK(sim_reg_mr(d, pd, buf, len, EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_ZERO_BASED,
			 &zb) == 0, "zero-based sim_reg_mr");
	CHECK(sim_reg_mr(d, pd, buf, 64, 0, &gone) == 0, "sim_reg_mr");
	/* The test deregisters this one itself: sim_destroy must not do it again. */
	CHECK(emu_dereg_mr(gone) == 0, "emu_dereg_mr");
	sim_set_fault_delay(s, 3000);

	cookie = sim_test_mr_cookie(d, odp);
	CHECK(cookie != NULL, "no cookie");
	got = ops->mr_map(ops->host, cookie, base, 10, false, &ptr);
	CHECK(got == EMU_MAP_NOT_PRESENT, "fresh ODP page mapped: %ld", got);
	got = ops->mr_map(ops->host, cookie, base + len, 1, false, &ptr);
	CHECK(got == -EMU_EFAULT, "past the end: %ld", got);
	got = ops->mr_map(ops->host, cookie, base - 1, 1, false, &ptr);
	CHECK(got == -EMU_EFAULT, "before the start: %ld", got);

	ops->fault(ops->host, cookie, base + 4096, 8192, true);
	CHECK(sim_fault_count(s) == 1, "fault count %" PRIu64, sim_fault_count(s));
	got = ops->mr_map(ops->host, cookie, base + 4096, 10, true, &ptr);
	CHECK(got == EMU_MAP_NOT_PRESENT, "present before the fault delay: %ld", got);
	CHECK(sim_step(s), "no fault event");
	CHECK(sim_now(s) == 3000, "fault resolved at %" PRIu64, sim_now(s));
	got = ops->mr_map(ops->host, cookie, base + 4096, 100000, true, &ptr);
	CHECK(got == 8192 && ptr == buf + 4096, "faulted range: %ld", got);
	got = ops->mr_map(ops->host, cookie, base + 100, 10, false, &ptr);
	CHECK(got == EMU_MAP_NOT_PRESENT, "page 0 became present: %ld", got);

	sim_mr_invalidate(d, odp, 5000, 1);
	got = ops->mr_map(ops->host, cookie, base + 4096, 10, false, &ptr);
	CHECK(got == EMU_MAP_NOT_PRESENT, "invalidated page still present: %ld", got);
	got = ops->mr_map(ops->host, cookie, base + 8197, 10, false, &ptr);
	CHECK(got == 10 && ptr == buf + 8197, "page 2 lost: %ld", got);

	cookie = sim_test_mr_cookie(d, plain);
	got = ops->mr_map(ops->host, cookie, base + 10, 50, false, &ptr);
	CHECK(got == 50 && ptr == buf + 10, "plain MR: %ld", got);
	got = ops->mr_map(ops->host, cookie, base + len - 5, 50, false, &ptr);
	CHECK(got == 5 && ptr == buf + len - 5, "plain MR tail: %ld", got);
	got = ops->mr_map(ops->host, cookie, base + len, 1, false, &ptr);
	CHECK(got == -EMU_EFAULT, "plain MR past the end: %ld", got);

	cookie = sim_test_mr_cookie(d, zb);
	got = ops->mr_map(ops->host, cookie, 10, 5, false, &ptr);
	CHECK(got == 5 && ptr == buf + 10, "zero-based MR: %ld", got);

	/* A fault that outlives its wait: sim_run stops at the limit. */
	sim_set_fault_delay(s, 30000000000ull);
	cookie = sim_test_mr_cookie(d, odp);
	ops->fault(ops->host, cookie, base, 1, false);
	CHECK(!sim_run(s, 1000), "went idle with a fault pending");
	CHECK(sim_now(s) == 4000, "time after sim_run(1000): %" PRIu64, sim_now(s));
	CHECK(sim_run(s, UINT64_MAX), "not idle");
	CHECK(sim_now(s) == 30000003000ull, "30 s fault resolved at %" PRIu64, sim_now(s));
	got = ops->mr_map(ops->host, cookie, base, 1, false, &ptr);
	CHECK(got == 1, "page 0 after its fault: %ld", got);
	CHECK(sim_fault_count(s) == 2, "fault count %" PRIu64, sim_fault_count(s));
	/* MRs and the PD are left for sim_destroy (valgrind checks it cleans up). */
	sim_destroy(s);
}

static void test_cq_and_events(void)
{
	struct sim *s = sim_create(9);
	struct sim_dev *d = sim_add_dev(s, NULL);
	const struct emu_host_ops *ops = sim_test_ops(d);
	struct sim_cq *cq = sim_create_cq(d, 2);
	struct emu_async_event ev;
	struct emu_wc wc[4];

	CHECK(cq != NULL && sim_cq_emu(cq) != NULL, "sim_create_cq");
	if (!cq) {
		sim_destroy(s);
		return;
	}
	memset(wc, 0, sizeof(wc));
	wc[0].wr_id = 100;
	wc[1].wr_id = 101;
	wc[2].wr_id = 102;
	CHECK(ops->cq_post(ops->host, cq, &wc[0], false) == 0, "post 1");
	CHECK(ops->cq_post(ops->host, cq, &wc[1], true) == 0, "post 2");
	CHECK(ops->cq_post(ops->host, cq, &wc[2], false) == -EMU_ENOSPC, "overflow not seen");
	memset(wc, 0, sizeof(wc));
	CHECK(sim_poll_cq(cq, wc, 1) == 1 && wc[0].wr_id == 100, "poll oldest first");
	CHECK(ops->cq_post(ops->host, cq, &wc[0], false) == 0, "post after poll");
	CHECK(sim_poll_cq(cq, wc, 4) == 2 && wc[0].wr_id == 101 && wc[1].wr_id == 100,
	      "poll order");
	CHECK(sim_poll_cq(cq, wc, 4) == 0, "empty CQ polled");

	CHECK(!sim_get_event(d, &ev), "event in a new device");
	emu_port_set_state(sim_emu(d), EMU_PORT_DOWN);
	emu_port_set_state(sim_emu(d), EMU_PORT_ACTIVE);
	CHECK(sim_get_event(d, &ev) && ev.type == EMU_EVENT_PORT_ERR, "no PORT_ERR event");
	CHECK(sim_get_event(d, &ev) && ev.type == EMU_EVENT_PORT_ACTIVE, "no PORT_ACTIVE event");
	for (uint32_t i = 0; i < 40; i++) {
		struct emu_async_event e = { .type = EMU_EVENT_QP_FATAL, .qpn = i };

		ops->async_event(ops->host, &e);
	}
	for (uint32_t i = 0; i < 40; i++)
		CHECK(sim_get_event(d, &ev) && ev.qpn == i, "event %u", i);
	CHECK(!sim_get_event(d, &ev), "event left over");
	/* The CQ is left for sim_destroy. */
	sim_destroy(s);
}

int main(void)
{
	test_latency();
	test_faulty_wire();
	test_blackhole_and_unknown();
	test_link_faults();
	test_odp_memory();
	test_cq_and_events();
	if (failures) {
		fprintf(stderr, "test_sim_wire: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_sim_wire: all checks passed\n");
	return 0;
}
