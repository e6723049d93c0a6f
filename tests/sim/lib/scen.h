/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/lib/scen.h - shared helpers of the simulation scenario tests.
 *
 * A scenario is two simulated HCAs joined by the virtual wire, each with a PD, a
 * send and a receive CQ and one QP, the two QPs connected to each other (RC, UC)
 * or addressing each other (UD) and moved RESET -> INIT -> RTR -> RTS with
 * realistic attributes. Helpers register buffers, post work requests, wait for
 * completions with a virtual-time limit (a hang becomes a failure with a
 * message), and compare data against seeded patterns.
 *
 * Tests use the SCEN_CHECK macros inside functions that end with a label `out:`
 * doing the cleanup, so that a failed check still destroys the scenario (the
 * valgrind twins of the tests must stay leak-free on failure paths too).
 */
#ifndef SOFTHCA_TESTS_SIM_SCEN_H
#define SOFTHCA_TESTS_SIM_SCEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "emu/sim/sim.h"

#define SCEN_SIDES     2
#define SCEN_MAX_QPS   16
#define SCEN_MAX_BUFS  64
#define SCEN_ANY       UINT32_MAX      /* "do not check" for scen_wc_matches */

#define SCEN_MS(x)     ((uint64_t)(x) * 1000000ull)
#define SCEN_SEC(x)    ((uint64_t)(x) * 1000000000ull)
/* Every right a buffer may need in these tests. */
#define SCEN_ACC_ALL   (EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE |      \
			EMU_ACCESS_REMOTE_READ | EMU_ACCESS_REMOTE_ATOMIC |     \
			EMU_ACCESS_MW_BIND)
#define SCEN_WAIT_NS   SCEN_SEC(10)    /* default virtual-time limit of a wait */

/* How the initial send PSNs are chosen. */
enum scen_psn_mode {
	SCEN_PSN_RANDOM = 0,    /* 24 seeded random bits */
	SCEN_PSN_NEAR_WRAP,     /* a few packets below 2^24, so traffic crosses 0 */
	SCEN_PSN_FIXED,         /* opts.sq_psn[] as given */
};

struct scen_opts {
	uint32_t port_mtu;            /* port MTU in bytes (device config) */
	uint32_t gid_index;           /* sgid_index and peer GID used in the AVs */
	enum scen_psn_mode psn_mode;
	uint32_t sq_psn[SCEN_SIDES];  /* SCEN_PSN_FIXED */
	uint32_t max_send_wr, max_recv_wr, max_send_sge, max_recv_sge, max_inline;
	uint32_t send_cqe, recv_cqe;
	bool     sq_sig_all;
	uint8_t  timeout, retry_cnt, rnr_retry, min_rnr_timer;
	uint8_t  max_rd_atomic, max_dest_rd_atomic;
	uint32_t access;              /* qp_access_flags of RC/UC QPs */
	uint32_t qkey;                /* UD */
	uint32_t max_unacked_psns;    /* device config; 0 = engine default */
	bool     leave_reset;         /* create the QPs but do not connect them */
	const struct sim_faults *faults; /* wire faults, both directions; NULL = none */
};

/* A registered buffer: memory from sim_alloc plus its MR. */
struct scen_buf {
	uint8_t *p;
	size_t len;
	int side;
	struct emu_mr *mr;
	uint32_t lkey, rkey;
};

/* What scen_create_qp hands the engine as the QP cookie. */
struct scen_qp_slot {
	struct emu_qp *qp;
	int side;
	uint32_t type;
};

struct scen {
	struct sim *sim;
	uint64_t seed;
	uint32_t qp_type;             /* enum emu_qp_type */
	uint32_t path_mtu;            /* enum emu_mtu */
	uint32_t mtu_bytes;
	struct scen_opts opts;
	struct sim_dev *dev[SCEN_SIDES];
	struct emu_dev *emu[SCEN_SIDES];
	struct emu_pd *pd[SCEN_SIDES];
	struct sim_cq *scq[SCEN_SIDES], *rcq[SCEN_SIDES];
	struct emu_qp *qp[SCEN_SIDES];
	uint32_t qpn[SCEN_SIDES];
	uint32_t sq_psn[SCEN_SIDES];  /* initial send PSN of each side's QP */
	struct emu_ah *ah[SCEN_SIDES];/* UD: AH of side i toward the other side */
	uint8_t gid[SCEN_SIDES][16];  /* GID opts.gid_index of each device */

	struct scen_qp_slot qps[SCEN_MAX_QPS];
	int n_qps;
	struct emu_ah *extra_ah[SCEN_MAX_QPS];
	int n_extra_ah;
	struct emu_srq *srqs[4];
	int n_srqs;
	struct emu_mw *mws[16];
	int n_mws;
	int n_bufs;
	bool initialised;
};

/* ---- set up and tear down ------------------------------------------------------ */

void scen_opts_default(struct scen_opts *o);

/*
 * Two devices, PDs, CQs and QPs of qp_type with path MTU mtu (enum emu_mtu), both
 * QPs in RTS (unless opts->leave_reset). opts may be NULL for the defaults.
 * Returns 0, or -1 after printing why.
 */
int  scen_init(struct scen *s, uint64_t seed, uint32_t qp_type, uint32_t mtu,
	       const struct scen_opts *opts);
/* Destroys the QPs, AHs and SRQs the helpers made, then the simulation with the
 * rest. Safe on a zeroed or half-initialised scen. */
void scen_destroy(struct scen *s);

/* A further QP on side with the scenario's caps; recorded for scen_destroy. */
struct emu_qp *scen_create_qp(struct scen *s, int side, uint32_t qp_type,
			      struct sim_cq *scq, struct sim_cq *rcq,
			      struct emu_srq *srq);
/* The cookie the engine got for qp (compare with wc.qp_cookie / event cookie). */
void *scen_qp_cookie(const struct scen *s, const struct emu_qp *qp);
/* An SRQ on side; its cookie is the returned pointer's address in s->srqs. */
struct emu_srq *scen_create_srq(struct scen *s, int side, uint32_t max_wr,
				uint32_t max_sge);
void *scen_srq_cookie(const struct scen *s, const struct emu_srq *srq);

/* A memory window on side's PD; deallocated by scen_destroy unless the test
 * does it first with scen_dealloc_mw. NULL on failure (printed). */
struct emu_mw *scen_alloc_mw(struct scen *s, int side, enum emu_mw_type type);
int scen_dealloc_mw(struct scen *s, struct emu_mw *mw);

/* Attributes of each transition, as scen_init uses them (for tests that drive
 * emu_modify_qp themselves). side picks the peer GID of the AV. */
void scen_attr_init(const struct scen *s, uint32_t qp_type, struct emu_qp_attr *a,
		    uint32_t *mask);
void scen_attr_rtr(const struct scen *s, int side, uint32_t qp_type, uint32_t dest_qpn,
		   uint32_t rq_psn, struct emu_qp_attr *a, uint32_t *mask);
void scen_attr_rts(const struct scen *s, uint32_t qp_type, uint32_t sq_psn,
		   struct emu_qp_attr *a, uint32_t *mask);
/* RESET -> INIT -> RTR -> RTS; 0 or the first failing emu_modify_qp result. */
int  scen_qp_connect(struct scen *s, int side, struct emu_qp *qp, uint32_t dest_qpn,
		     uint32_t rq_psn, uint32_t sq_psn);
int  scen_qp_to_state(struct emu_qp *qp, uint32_t state);

/* ---- memory --------------------------------------------------------------------- */

/* len bytes of zeroed memory on side, registered with access. NULL on failure
 * (printed). The struct lives in simulation memory: nothing to free. */
struct scen_buf *scen_mr(struct scen *s, int side, size_t len, uint32_t access);
struct emu_sge scen_sge(const struct scen_buf *b, size_t off, uint32_t len);

/* Deterministic byte pattern keyed by key: the same key gives the same bytes. */
void scen_fill(void *buf, size_t len, uint64_t key);
/* 0 if equal; otherwise prints the first differing offset and returns -1. */
int  scen_memcmp(const void *got, const void *want, size_t len, const char *what);
/* 0 if buf holds scen_fill(key) bytes. */
int  scen_check_pattern(const void *buf, size_t len, uint64_t key, const char *what);
/* splitmix64 step: a small seeded generator for the tests' own choices. */
uint64_t scen_rand(uint64_t *state);
uint32_t scen_rand_range(uint64_t *state, uint32_t lo, uint32_t hi); /* [lo, hi] */

/* ---- posting ---------------------------------------------------------------------- */

int scen_post_recv(struct emu_qp *qp, uint64_t wr_id, const struct scen_buf *b,
		   size_t off, uint32_t len);
/* SEND family with one SGE (len 0: no SGE). imm is the immediate data of
 * SEND_WITH_IMM, or the rkey to invalidate of SEND_WITH_INV. */
int scen_post_send(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode, uint32_t flags,
		   const struct scen_buf *b, size_t off, uint32_t len, uint32_t imm);
/* RDMA WRITE / WRITE_WITH_IMM / READ to an explicit remote address and key. */
int scen_post_rdma_key(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode,
		       uint32_t flags, const struct scen_buf *local, size_t loff,
		       uint32_t len, uint64_t raddr, uint32_t rkey, uint32_t imm);
int scen_post_rdma(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode, uint32_t flags,
		   const struct scen_buf *local, size_t loff, uint32_t len,
		   const struct scen_buf *remote, size_t roff, uint32_t imm);
int scen_post_atomic(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode, uint32_t flags,
		     const struct scen_buf *local, size_t loff, uint64_t raddr,
		     uint32_t rkey, uint64_t compare_add, uint64_t swap);
int scen_post_local_inv(struct emu_qp *qp, uint64_t wr_id, uint32_t flags,
			uint32_t rkey);
/* Type 2 bind through a BIND_MW WR; *new_rkey gets the key the WR asks for. */
int scen_post_bind_mw(struct emu_qp *qp, uint64_t wr_id, uint32_t flags,
		      struct emu_mw *mw, const struct scen_buf *b, size_t off,
		      uint64_t len, uint32_t access, uint32_t *new_rkey);
/* The next rkey of a window: same index, key byte + 1 (ibv_inc_rkey). */
uint32_t scen_next_rkey(uint32_t rkey);
static inline uint64_t scen_addr(const struct scen_buf *b, size_t off)
{
	return (uint64_t)(uintptr_t)(b->p + off);
}

/* ---- running and completions ---------------------------------------------------- */

/*
 * Poll cq until n completions are collected into wc[], running the simulation at
 * most max_ns of virtual time. Returns how many were collected; on a shortfall it
 * prints what (if anything) arrived, the virtual time and whether it went idle.
 */
int  scen_wait_wc(struct scen *s, struct sim_cq *cq, int n, struct emu_wc *wc,
		  uint64_t max_ns);
/* Wait (SCEN_WAIT_NS) for one completion on cq into *wc (may be NULL) and check
 * it with scen_wc_matches. */
bool scen_wait_one(struct scen *s, struct sim_cq *cq, struct emu_wc *wc, uint64_t wr_id,
		   uint32_t status, uint32_t opcode, uint32_t byte_len, const char *what);
/* Run up to run_ns (or until idle), then 0 if cq holds nothing; otherwise prints
 * the unexpected completions and returns -1. */
int  scen_expect_no_wc(struct scen *s, struct sim_cq *cq, uint64_t run_ns,
		       const char *what);
/* Does wc match? Fields given as SCEN_ANY are not checked. Prints on mismatch. */
bool scen_wc_matches(const struct emu_wc *wc, uint64_t wr_id, uint32_t status,
		     uint32_t opcode, uint32_t byte_len, const char *what);
/* Wait for an async event of type on side's device; others are printed and
 * discarded. true if found (into *ev if not NULL). */
bool scen_wait_event(struct scen *s, int side, uint32_t type, struct emu_async_event *ev,
		     uint64_t max_ns);
/* Drain pending events of side, false if one of type was among them. */
bool scen_no_event(struct scen *s, int side, uint32_t type);

const char *scen_status_name(uint32_t status);
const char *scen_wc_opcode_name(uint32_t opcode);
const char *scen_event_name(uint32_t type);
const char *scen_qp_state_name(uint32_t state);
void scen_print_wc(FILE *f, const char *prefix, const struct emu_wc *wc);
void scen_print_counters(FILE *f, const char *prefix, const struct emu_counters *c);

/* SOFTHCA_VALGRIND set (and not "0"): run smaller. */
bool scen_under_valgrind(void);
/* Real (wall-clock) monotonic time in ns, to show virtual time is not real. */
uint64_t scen_real_ns(void);

/* ---- checks and the test runner ------------------------------------------------ */

void scen_failf(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* In a function with `int rc = 1; ... rc = 0; out: cleanup; return rc;`. */
#define SCEN_CHECK(cond, ...)                                                 \
	do {                                                                  \
		if (!(cond)) {                                                \
			scen_failf(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
			goto out;                                             \
		}                                                             \
	} while (0)

/* An engine call returning 0 or -errno. */
#define SCEN_CHECK_OK(call)                                                   \
	do {                                                                  \
		int scen_ret_ = (call);                                       \
		if (scen_ret_ != 0) {                                         \
			scen_failf(__FILE__, __LINE__, #call,                 \
				   "returned %d", scen_ret_);                 \
			goto out;                                             \
		}                                                             \
	} while (0)

struct scen_test {
	const char *name;
	int (*fn)(void);   /* 0 = pass */
};

/*
 * Runs every test (or only those whose name contains argv[1]), printing PASS/FAIL
 * per test and a closing "N passed, N failed" line. Returns the exit status.
 */
int scen_run_tests(const char *suite, const struct scen_test *tests, size_t n,
		   int argc, char **argv);

#endif /* SOFTHCA_TESTS_SIM_SCEN_H */
