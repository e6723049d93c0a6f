/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/sim/lib/scen.c - shared helpers of the simulation scenario tests.
 */
#define _POSIX_C_SOURCE 200809L

#include "scen.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small utilities ----------------------------------------------------------- */

uint64_t scen_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t scen_rand_range(uint64_t *state, uint32_t lo, uint32_t hi)
{
	uint64_t span = (uint64_t)hi - lo + 1;

	return lo + (uint32_t)(scen_rand(state) % span);
}

void scen_fill(void *buf, size_t len, uint64_t key)
{
	uint8_t *p = buf;
	uint64_t st = key ^ 0x5eed5eed5eed5eedull;
	size_t i = 0;

	while (i < len) {
		uint64_t v = scen_rand(&st);
		for (int b = 0; b < 8 && i < len; b++, i++)
			p[i] = (uint8_t)(v >> (8 * b));
	}
}

int scen_memcmp(const void *got, const void *want, size_t len, const char *what)
{
	const uint8_t *g = got, *w = want;

	if (memcmp(g, w, len) == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (g[i] != w[i]) {
			size_t bad = 0;
			for (size_t j = i; j < len; j++)
				bad += g[j] != w[j];
			printf("    %s: %zu of %zu bytes differ, first at offset %zu "
			       "(got 0x%02x, want 0x%02x)\n", what, bad, len, i, g[i], w[i]);
			break;
		}
	}
	return -1;
}

int scen_check_pattern(const void *buf, size_t len, uint64_t key, const char *what)
{
	uint8_t *want;
	int rc;

	if (len == 0)
		return 0;
	want = malloc(len);
	if (!want) {
		printf("    %s: out of memory for the comparison\n", what);
		return -1;
	}
	scen_fill(want, len, key);
	rc = scen_memcmp(buf, want, len, what);
	free(want);
	return rc;
}

bool scen_under_valgrind(void)
{
	const char *v = getenv("SOFTHCA_VALGRIND");

	return v && *v && strcmp(v, "0") != 0;
}

uint64_t scen_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void scen_failf(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	printf("  FAILED %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- names ------------------------------------------------------------------------ */

const char *scen_status_name(uint32_t status)
{
	static const char *const names[] = {
		"SUCCESS", "LOC_LEN_ERR", "LOC_QP_OP_ERR", "LOC_EEC_OP_ERR",
		"LOC_PROT_ERR", "WR_FLUSH_ERR", "MW_BIND_ERR", "BAD_RESP_ERR",
		"LOC_ACCESS_ERR", "REM_INV_REQ_ERR", "REM_ACCESS_ERR", "REM_OP_ERR",
		"RETRY_EXC_ERR", "RNR_RETRY_EXC_ERR", "LOC_RDD_VIOL_ERR",
		"REM_INV_RD_REQ_ERR", "REM_ABORT_ERR", "INV_EECN_ERR",
		"INV_EEC_STATE_ERR", "FATAL_ERR", "RESP_TIMEOUT_ERR", "GENERAL_ERR",
	};
	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "?";
}

const char *scen_wc_opcode_name(uint32_t opcode)
{
	switch (opcode) {
	case EMU_WC_SEND: return "SEND";
	case EMU_WC_RDMA_WRITE: return "RDMA_WRITE";
	case EMU_WC_RDMA_READ: return "RDMA_READ";
	case EMU_WC_COMP_SWAP: return "COMP_SWAP";
	case EMU_WC_FETCH_ADD: return "FETCH_ADD";
	case EMU_WC_BIND_MW: return "BIND_MW";
	case EMU_WC_LOCAL_INV: return "LOCAL_INV";
	case EMU_WC_RECV: return "RECV";
	case EMU_WC_RECV_RDMA_WITH_IMM: return "RECV_RDMA_WITH_IMM";
	default: return "?";
	}
}

const char *scen_event_name(uint32_t type)
{
	static const char *const names[] = {
		"CQ_ERR", "QP_FATAL", "QP_REQ_ERR", "QP_ACCESS_ERR", "COMM_EST",
		"SQ_DRAINED", "PATH_MIG", "PATH_MIG_ERR", "DEVICE_FATAL",
		"PORT_ACTIVE", "PORT_ERR", "LID_CHANGE", "PKEY_CHANGE", "SM_CHANGE",
		"SRQ_ERR", "SRQ_LIMIT_REACHED", "QP_LAST_WQE_REACHED",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

const char *scen_qp_state_name(uint32_t state)
{
	static const char *const names[] = {
		"RESET", "INIT", "RTR", "RTS", "SQD", "SQE", "ERR",
	};
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

void scen_print_wc(FILE *f, const char *prefix, const struct emu_wc *wc)
{
	fprintf(f, "%swr_id=0x%" PRIx64 " status=%s(%u) opcode=%s(%u) byte_len=%u "
		"qp_num=0x%x src_qp=0x%x flags=0x%x imm=0x%x inv_rkey=0x%x\n",
		prefix, wc->wr_id, scen_status_name(wc->status), wc->status,
		scen_wc_opcode_name(wc->opcode), wc->opcode, wc->byte_len, wc->qp_num,
		wc->src_qp, wc->wc_flags, wc->imm_data, wc->invalidated_rkey);
}

void scen_print_counters(FILE *f, const char *prefix, const struct emu_counters *c)
{
	fprintf(f, "%stx %" PRIu64 " rx %" PRIu64 " acks %" PRIu64 "/%" PRIu64
		" naks %" PRIu64 "/%" PRIu64 " rnr %" PRIu64 "/%" PRIu64
		" retransmits %" PRIu64 " timeouts %" PRIu64 " dup_req %" PRIu64
		" seq_err %" PRIu64 " drops %" PRIu64 " faults %" PRIu64 "\n",
		prefix, c->tx_packets, c->rx_packets, c->tx_acks, c->rx_acks,
		c->tx_naks, c->rx_naks, c->tx_rnr_naks, c->rx_rnr_naks, c->retransmits,
		c->timeouts, c->duplicate_requests, c->seq_errors, c->rx_drops,
		c->page_faults);
	if (c->page_faults || c->odp_stalls || c->odp_rnr_naks || c->odp_invalidations ||
	    c->odp_prefetches || c->odp_unbacked)
		fprintf(f, "%s  odp: stalls %" PRIu64 " rnr_naks %" PRIu64 " invalidations %"
			PRIu64 " prefetches %" PRIu64 " unbacked %" PRIu64 "\n", prefix,
			c->odp_stalls, c->odp_rnr_naks, c->odp_invalidations,
			c->odp_prefetches, c->odp_unbacked);
	for (int r = 0; r < EMU_DROP_REASONS; r++)
		if (c->drops[r])
			fprintf(f, "%s  drop %s: %" PRIu64 "\n", prefix,
				emu_drop_reason_name((enum emu_drop_reason)r), c->drops[r]);
}

/* ---- QP attributes ---------------------------------------------------------------- */

void scen_opts_default(struct scen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->port_mtu = 4096;
	o->gid_index = 0;
	o->psn_mode = SCEN_PSN_RANDOM;
	o->max_send_wr = 128;
	o->max_recv_wr = 128;
	o->max_send_sge = 4;
	o->max_recv_sge = 4;
	o->max_inline = 64;
	o->send_cqe = 256;
	o->recv_cqe = 256;
	o->timeout = 14;
	o->retry_cnt = 7;
	o->rnr_retry = 7;
	o->min_rnr_timer = 12;
	o->max_rd_atomic = 16;
	o->max_dest_rd_atomic = 16;
	o->access = EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ |
		    EMU_ACCESS_REMOTE_ATOMIC;
	o->qkey = 0x11112222;
}

static void fill_av(const struct scen *s, int side, struct emu_ah_attr *av)
{
	memset(av, 0, sizeof(*av));
	memcpy(av->dgid, s->gid[1 - side], 16);
	av->sgid_index = (uint8_t)s->opts.gid_index;
	av->hop_limit = 64;
	av->port_num = 1;
	av->is_global = 1;
}

void scen_attr_init(const struct scen *s, uint32_t qp_type, struct emu_qp_attr *a,
		    uint32_t *mask)
{
	memset(a, 0, sizeof(*a));
	a->qp_state = EMU_QPS_INIT;
	a->pkey_index = 0;
	a->port_num = 1;
	*mask = EMU_QP_STATE | EMU_QP_PKEY_INDEX | EMU_QP_PORT;
	if (qp_type == EMU_QPT_UD) {
		a->qkey = s->opts.qkey;
		*mask |= EMU_QP_QKEY;
	} else {
		a->qp_access_flags = qp_type == EMU_QPT_UC ?
			(s->opts.access & EMU_ACCESS_REMOTE_WRITE) : s->opts.access;
		*mask |= EMU_QP_ACCESS_FLAGS;
	}
}

void scen_attr_rtr(const struct scen *s, int side, uint32_t qp_type, uint32_t dest_qpn,
		   uint32_t rq_psn, struct emu_qp_attr *a, uint32_t *mask)
{
	memset(a, 0, sizeof(*a));
	a->qp_state = EMU_QPS_RTR;
	*mask = EMU_QP_STATE;
	if (qp_type == EMU_QPT_UD)
		return;
	a->path_mtu = s->path_mtu;
	a->dest_qp_num = dest_qpn;
	a->rq_psn = rq_psn;
	fill_av(s, side, &a->ah_attr);
	*mask |= EMU_QP_AV | EMU_QP_PATH_MTU | EMU_QP_DEST_QPN | EMU_QP_RQ_PSN;
	if (qp_type == EMU_QPT_RC) {
		a->max_dest_rd_atomic = s->opts.max_dest_rd_atomic;
		a->min_rnr_timer = s->opts.min_rnr_timer;
		*mask |= EMU_QP_MAX_DEST_RD_ATOMIC | EMU_QP_MIN_RNR_TIMER;
	}
}

void scen_attr_rts(const struct scen *s, uint32_t qp_type, uint32_t sq_psn,
		   struct emu_qp_attr *a, uint32_t *mask)
{
	memset(a, 0, sizeof(*a));
	a->qp_state = EMU_QPS_RTS;
	a->sq_psn = sq_psn;
	*mask = EMU_QP_STATE | EMU_QP_SQ_PSN;
	if (qp_type == EMU_QPT_RC) {
		a->timeout = s->opts.timeout;
		a->retry_cnt = s->opts.retry_cnt;
		a->rnr_retry = s->opts.rnr_retry;
		a->max_rd_atomic = s->opts.max_rd_atomic;
		*mask |= EMU_QP_TIMEOUT | EMU_QP_RETRY_CNT | EMU_QP_RNR_RETRY |
			 EMU_QP_MAX_QP_RD_ATOMIC;
	}
}

static const char *qp_of(const struct scen *s, const struct emu_qp *qp)
{
	return (s->qp[0] == qp) ? "qp[0]" : (s->qp[1] == qp) ? "qp[1]" : "extra qp";
}

int scen_qp_connect(struct scen *s, int side, struct emu_qp *qp, uint32_t dest_qpn,
		    uint32_t rq_psn, uint32_t sq_psn)
{
	struct emu_qp_attr a;
	uint32_t mask, type = s->qp_type;
	int ret;

	for (int i = 0; i < s->n_qps; i++)
		if (s->qps[i].qp == qp)
			type = s->qps[i].type;

	scen_attr_init(s, type, &a, &mask);
	ret = emu_modify_qp(qp, &a, mask);
	if (ret) {
		printf("  %s: modify RESET->INIT failed: %d\n", qp_of(s, qp), ret);
		return ret;
	}
	scen_attr_rtr(s, side, type, dest_qpn, rq_psn, &a, &mask);
	ret = emu_modify_qp(qp, &a, mask);
	if (ret) {
		printf("  %s: modify INIT->RTR failed: %d\n", qp_of(s, qp), ret);
		return ret;
	}
	scen_attr_rts(s, type, sq_psn, &a, &mask);
	ret = emu_modify_qp(qp, &a, mask);
	if (ret) {
		printf("  %s: modify RTR->RTS failed: %d\n", qp_of(s, qp), ret);
		return ret;
	}
	return 0;
}

int scen_qp_to_state(struct emu_qp *qp, uint32_t state)
{
	struct emu_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = state;
	return emu_modify_qp(qp, &a, EMU_QP_STATE);
}

/* ---- objects ----------------------------------------------------------------------- */

struct emu_qp *scen_create_qp(struct scen *s, int side, uint32_t qp_type,
			      struct sim_cq *scq, struct sim_cq *rcq,
			      struct emu_srq *srq)
{
	struct emu_qp_init_attr ia;
	struct scen_qp_slot *slot;
	int ret;

	if (s->n_qps >= SCEN_MAX_QPS) {
		printf("  scen_create_qp: too many QPs\n");
		return NULL;
	}
	slot = &s->qps[s->n_qps];
	memset(&ia, 0, sizeof(ia));
	ia.qp_type = qp_type;
	ia.send_cq = sim_cq_emu(scq);
	ia.recv_cq = sim_cq_emu(rcq);
	ia.srq = srq;
	ia.cap.max_send_wr = s->opts.max_send_wr;
	ia.cap.max_recv_wr = srq ? 0 : s->opts.max_recv_wr;
	ia.cap.max_send_sge = s->opts.max_send_sge;
	ia.cap.max_recv_sge = srq ? 0 : s->opts.max_recv_sge;
	ia.cap.max_inline_data = s->opts.max_inline;
	ia.sq_sig_all = s->opts.sq_sig_all;
	ret = emu_create_qp(s->pd[side], &ia, slot, &slot->qp);
	if (ret) {
		printf("  emu_create_qp(side %d, type %u) failed: %d\n", side, qp_type, ret);
		return NULL;
	}
	slot->side = side;
	slot->type = qp_type;
	s->n_qps++;
	return slot->qp;
}

void *scen_qp_cookie(const struct scen *s, const struct emu_qp *qp)
{
	for (int i = 0; i < s->n_qps; i++)
		if (s->qps[i].qp == qp)
			return (void *)&s->qps[i];
	return NULL;
}

struct emu_srq *scen_create_srq(struct scen *s, int side, uint32_t max_wr,
				uint32_t max_sge)
{
	struct emu_srq_attr a = { .max_wr = max_wr, .max_sge = max_sge, .srq_limit = 0 };
	int i = s->n_srqs, ret;

	if (i >= (int)(sizeof(s->srqs) / sizeof(s->srqs[0]))) {
		printf("  scen_create_srq: too many SRQs\n");
		return NULL;
	}
	ret = emu_create_srq(s->pd[side], &a, &s->srqs[i], &s->srqs[i]);
	if (ret) {
		printf("  emu_create_srq(side %d) failed: %d\n", side, ret);
		s->srqs[i] = NULL;
		return NULL;
	}
	s->n_srqs++;
	return s->srqs[i];
}

void *scen_srq_cookie(const struct scen *s, const struct emu_srq *srq)
{
	for (int i = 0; i < s->n_srqs; i++)
		if (s->srqs[i] == srq)
			return (void *)&s->srqs[i];
	return NULL;
}

struct emu_mw *scen_alloc_mw(struct scen *s, int side, enum emu_mw_type type)
{
	struct emu_mw *mw = NULL;
	int ret;

	if (s->n_mws >= (int)(sizeof(s->mws) / sizeof(s->mws[0]))) {
		printf("  scen_alloc_mw: too many windows\n");
		return NULL;
	}
	ret = emu_alloc_mw(s->pd[side], type, &mw);
	if (ret) {
		printf("  emu_alloc_mw(side %d, type %d) failed: %d\n", side, (int)type, ret);
		return NULL;
	}
	s->mws[s->n_mws++] = mw;
	return mw;
}

int scen_dealloc_mw(struct scen *s, struct emu_mw *mw)
{
	for (int i = 0; i < s->n_mws; i++) {
		if (s->mws[i] == mw) {
			s->mws[i] = s->mws[--s->n_mws];
			return emu_dealloc_mw(mw);
		}
	}
	printf("  scen_dealloc_mw: unknown window\n");
	return -EMU_EINVAL;
}

static uint32_t initial_psn(const struct scen *s, int side, uint64_t *st)
{
	switch (s->opts.psn_mode) {
	case SCEN_PSN_FIXED:
		return s->opts.sq_psn[side] & 0xffffffu;
	case SCEN_PSN_NEAR_WRAP:
		return 0xffffffu - scen_rand_range(st, 0, 40);
	default:
		return (uint32_t)scen_rand(st) & 0xffffffu;
	}
}

static int create_side(struct scen *s, int side)
{
	struct emu_dev_config cfg;
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	cfg.port_mtu = s->opts.port_mtu;
	cfg.max_unacked_psns = s->opts.max_unacked_psns;
	cfg.node_guid = 0x02000000000000a0ull + (uint64_t)side;
	s->dev[side] = sim_add_dev(s->sim, &cfg);
	if (!s->dev[side]) {
		printf("  sim_add_dev(%d) failed\n", side);
		return -1;
	}
	s->emu[side] = sim_emu(s->dev[side]);
	ret = emu_alloc_pd(s->emu[side], &s->pd[side]);
	if (ret) {
		printf("  emu_alloc_pd(%d) failed: %d\n", side, ret);
		return -1;
	}
	s->scq[side] = sim_create_cq(s->dev[side], s->opts.send_cqe);
	s->rcq[side] = sim_create_cq(s->dev[side], s->opts.recv_cqe);
	if (!s->scq[side] || !s->rcq[side]) {
		printf("  sim_create_cq(%d) failed\n", side);
		return -1;
	}
	return 0;
}

static int create_ud_ah(struct scen *s, int side)
{
	struct emu_ah_attr av;
	int ret;

	fill_av(s, side, &av);
	ret = emu_create_ah(s->pd[side], &av, &s->ah[side]);
	if (ret) {
		printf("  emu_create_ah(side %d) failed: %d\n", side, ret);
		s->ah[side] = NULL;
		return -1;
	}
	return 0;
}

int scen_init(struct scen *s, uint64_t seed, uint32_t qp_type, uint32_t mtu,
	      const struct scen_opts *opts)
{
	uint64_t st = seed * 0x100000001b3ull + 7;
	const char *trace = getenv("SOFTHCA_TRACE");

	memset(s, 0, sizeof(*s));
	if (opts)
		s->opts = *opts;
	else
		scen_opts_default(&s->opts);
	s->seed = seed;
	s->qp_type = qp_type;
	s->path_mtu = mtu;
	s->mtu_bytes = emu_mtu_bytes(mtu);
	s->sim = sim_create(seed);
	if (!s->sim) {
		printf("  sim_create failed\n");
		return -1;
	}
	s->initialised = true;
	if (trace && *trace && strcmp(trace, "0") != 0)
		sim_trace_to(s->sim, stderr);
	if (s->opts.faults)
		sim_set_faults(s->sim, s->opts.faults);
	for (int side = 0; side < SCEN_SIDES; side++)
		if (create_side(s, side))
			return -1;
	for (int side = 0; side < SCEN_SIDES; side++)
		sim_dev_gid(s->dev[side], s->opts.gid_index, s->gid[side]);
	for (int side = 0; side < SCEN_SIDES; side++) {
		s->qp[side] = scen_create_qp(s, side, qp_type, s->scq[side], s->rcq[side],
					     NULL);
		if (!s->qp[side])
			return -1;
		s->qpn[side] = emu_qp_num(s->qp[side]);
		s->sq_psn[side] = initial_psn(s, side, &st);
	}
	if (qp_type == EMU_QPT_UD)
		for (int side = 0; side < SCEN_SIDES; side++)
			if (create_ud_ah(s, side))
				return -1;
	if (s->opts.leave_reset)
		return 0;
	for (int side = 0; side < SCEN_SIDES; side++) {
		int peer = 1 - side;
		if (scen_qp_connect(s, side, s->qp[side], s->qpn[peer], s->sq_psn[peer],
				    s->sq_psn[side]))
			return -1;
	}
	return 0;
}

void scen_destroy(struct scen *s)
{
	if (!s->initialised)
		return;
	for (int i = 0; i < s->n_mws; i++) {
		int ret = emu_dealloc_mw(s->mws[i]);
		if (ret)
			printf("  warning: emu_dealloc_mw failed: %d\n", ret);
	}
	for (int i = s->n_qps - 1; i >= 0; i--) {
		int ret = emu_destroy_qp(s->qps[i].qp);
		if (ret)
			printf("  warning: emu_destroy_qp failed: %d\n", ret);
	}
	for (int side = 0; side < SCEN_SIDES; side++)
		if (s->ah[side])
			emu_destroy_ah(s->ah[side]);
	for (int i = 0; i < s->n_extra_ah; i++)
		emu_destroy_ah(s->extra_ah[i]);
	for (int i = 0; i < s->n_srqs; i++)
		emu_destroy_srq(s->srqs[i]);
	sim_destroy(s->sim);
	memset(s, 0, sizeof(*s));
}

/* ---- memory ----------------------------------------------------------------------- */

struct scen_buf *scen_mr(struct scen *s, int side, size_t len, uint32_t access)
{
	struct scen_buf *b = sim_alloc(s->sim, sizeof(*b));
	int ret;

	if (!b) {
		printf("  sim_alloc of a buffer record failed\n");
		return NULL;
	}
	/* A zero-length buffer still gets one byte so that its address is real. */
	b->p = sim_alloc(s->sim, len ? len : 1);
	if (!b->p) {
		printf("  sim_alloc(%zu) failed\n", len);
		return NULL;
	}
	b->len = len;
	b->side = side;
	ret = sim_reg_mr(s->dev[side], s->pd[side], b->p, len, access, &b->mr);
	if (ret) {
		printf("  sim_reg_mr(side %d, len %zu, access 0x%x) failed: %d\n", side, len,
		       access, ret);
		return NULL;
	}
	b->lkey = emu_mr_lkey(b->mr);
	b->rkey = emu_mr_rkey(b->mr);
	s->n_bufs++;
	return b;
}

struct emu_sge scen_sge(const struct scen_buf *b, size_t off, uint32_t len)
{
	struct emu_sge sge = { .addr = scen_addr(b, off), .length = len, .lkey = b->lkey };

	return sge;
}

/* ---- posting ---------------------------------------------------------------------- */

int scen_post_recv(struct emu_qp *qp, uint64_t wr_id, const struct scen_buf *b,
		   size_t off, uint32_t len)
{
	struct emu_sge sge = scen_sge(b, off, len);
	struct emu_recv_wr wr = { .wr_id = wr_id, .num_sge = 1, .sg_list = &sge };

	return emu_post_recv(qp, &wr);
}

int scen_post_send(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode, uint32_t flags,
		   const struct scen_buf *b, size_t off, uint32_t len, uint32_t imm)
{
	struct emu_sge sge;
	struct emu_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = opcode;
	wr.send_flags = flags;
	if (opcode == EMU_WR_SEND_WITH_INV)
		wr.invalidate_rkey = imm;
	else
		wr.imm_data = imm;
	if (len) {
		sge = scen_sge(b, off, len);
		wr.num_sge = 1;
		wr.sg_list = &sge;
	}
	return emu_post_send(qp, &wr);
}

int scen_post_rdma_key(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode,
		       uint32_t flags, const struct scen_buf *local, size_t loff,
		       uint32_t len, uint64_t raddr, uint32_t rkey, uint32_t imm)
{
	struct emu_sge sge;
	struct emu_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = opcode;
	wr.send_flags = flags;
	wr.imm_data = imm;
	if (len) {
		sge = scen_sge(local, loff, len);
		wr.num_sge = 1;
		wr.sg_list = &sge;
	}
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	return emu_post_send(qp, &wr);
}

int scen_post_rdma(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode, uint32_t flags,
		   const struct scen_buf *local, size_t loff, uint32_t len,
		   const struct scen_buf *remote, size_t roff, uint32_t imm)
{
	return scen_post_rdma_key(qp, wr_id, opcode, flags, local, loff, len,
				  scen_addr(remote, roff), remote->rkey, imm);
}

int scen_post_atomic(struct emu_qp *qp, uint64_t wr_id, uint32_t opcode, uint32_t flags,
		     const struct scen_buf *local, size_t loff, uint64_t raddr,
		     uint32_t rkey, uint64_t compare_add, uint64_t swap)
{
	struct emu_sge sge = scen_sge(local, loff, 8);
	struct emu_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = opcode;
	wr.send_flags = flags;
	wr.num_sge = 1;
	wr.sg_list = &sge;
	wr.wr.atomic.remote_addr = raddr;
	wr.wr.atomic.rkey = rkey;
	wr.wr.atomic.compare_add = compare_add;
	wr.wr.atomic.swap = swap;
	return emu_post_send(qp, &wr);
}

int scen_post_local_inv(struct emu_qp *qp, uint64_t wr_id, uint32_t flags, uint32_t rkey)
{
	struct emu_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = EMU_WR_LOCAL_INV;
	wr.send_flags = flags;
	wr.invalidate_rkey = rkey;
	return emu_post_send(qp, &wr);
}

uint32_t scen_next_rkey(uint32_t rkey)
{
	return (rkey & ~0xffu) | ((rkey + 1) & 0xffu);
}

int scen_post_bind_mw(struct emu_qp *qp, uint64_t wr_id, uint32_t flags,
		      struct emu_mw *mw, const struct scen_buf *b, size_t off,
		      uint64_t len, uint32_t access, uint32_t *new_rkey)
{
	struct emu_send_wr wr;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = EMU_WR_BIND_MW;
	wr.send_flags = flags;
	wr.wr.bind.mw = mw;
	wr.wr.bind.rkey = scen_next_rkey(emu_mw_rkey(mw));
	wr.wr.bind.info.mr = b->mr;
	wr.wr.bind.info.addr = scen_addr(b, off);
	wr.wr.bind.info.length = len;
	wr.wr.bind.info.access = access;
	if (new_rkey)
		*new_rkey = wr.wr.bind.rkey;
	return emu_post_send(qp, &wr);
}

/* ---- running ---------------------------------------------------------------------- */

struct wc_wait {
	struct sim_cq *cq;
	struct emu_wc *wc;
	int want, got;
};

static bool wc_wait_cond(void *arg)
{
	struct wc_wait *w = arg;

	if (w->got < w->want)
		w->got += sim_poll_cq(w->cq, w->wc + w->got, w->want - w->got);
	return w->got >= w->want;
}

int scen_wait_wc(struct scen *s, struct sim_cq *cq, int n, struct emu_wc *wc,
		 uint64_t max_ns)
{
	struct wc_wait w = { .cq = cq, .wc = wc, .want = n, .got = 0 };
	uint64_t start = sim_now(s->sim);

	if (!wc_wait_cond(&w))
		sim_run_until(s->sim, wc_wait_cond, &w, max_ns);
	if (w.got < n) {
		printf("    waited %.6f s of virtual time for %d completion(s), got %d "
		       "(now %.6f s)\n", (double)(sim_now(s->sim) - start) / 1e9, n, w.got,
		       (double)sim_now(s->sim) / 1e9);
		for (int i = 0; i < w.got; i++)
			scen_print_wc(stdout, "      got: ", &wc[i]);
	}
	return w.got;
}

bool scen_wait_one(struct scen *s, struct sim_cq *cq, struct emu_wc *wc, uint64_t wr_id,
		   uint32_t status, uint32_t opcode, uint32_t byte_len, const char *what)
{
	struct emu_wc local;

	if (!wc)
		wc = &local;
	if (scen_wait_wc(s, cq, 1, wc, SCEN_WAIT_NS) != 1) {
		printf("    %s: no completion\n", what);
		return false;
	}
	return scen_wc_matches(wc, wr_id, status, opcode, byte_len, what);
}

int scen_expect_no_wc(struct scen *s, struct sim_cq *cq, uint64_t run_ns,
		      const char *what)
{
	struct emu_wc wc[8];
	int n, total = 0;

	sim_run(s->sim, run_ns);
	while ((n = sim_poll_cq(cq, wc, 8)) > 0) {
		for (int i = 0; i < n; i++) {
			printf("    unexpected completion on %s: ", what);
			scen_print_wc(stdout, "", &wc[i]);
		}
		total += n;
	}
	return total ? -1 : 0;
}

bool scen_wc_matches(const struct emu_wc *wc, uint64_t wr_id, uint32_t status,
		     uint32_t opcode, uint32_t byte_len, const char *what)
{
	bool ok = wc->wr_id == wr_id &&
		  (status == SCEN_ANY || wc->status == status) &&
		  (opcode == SCEN_ANY || wc->opcode == opcode) &&
		  (byte_len == SCEN_ANY || wc->byte_len == byte_len);

	if (!ok) {
		printf("    %s: completion mismatch\n", what);
		scen_print_wc(stdout, "      got:  ", wc);
		printf("      want: wr_id=0x%" PRIx64 " status=%s opcode=%s byte_len=",
		       wr_id, status == SCEN_ANY ? "*" : scen_status_name(status),
		       opcode == SCEN_ANY ? "*" : scen_wc_opcode_name(opcode));
		if (byte_len == SCEN_ANY)
			printf("*\n");
		else
			printf("%u\n", byte_len);
	}
	return ok;
}

struct event_wait {
	struct sim_dev *dev;
	uint32_t type;
	bool found;
	struct emu_async_event ev;
};

static bool event_wait_cond(void *arg)
{
	struct event_wait *w = arg;
	struct emu_async_event ev;

	while (!w->found && sim_get_event(w->dev, &ev)) {
		if (ev.type == w->type) {
			w->found = true;
			w->ev = ev;
		} else {
			printf("    (other event on device %u: %s qpn 0x%x)\n",
			       sim_dev_index(w->dev), scen_event_name(ev.type), ev.qpn);
		}
	}
	return w->found;
}

bool scen_wait_event(struct scen *s, int side, uint32_t type, struct emu_async_event *ev,
		     uint64_t max_ns)
{
	struct event_wait w = { .dev = s->dev[side], .type = type, .found = false };

	if (!event_wait_cond(&w))
		sim_run_until(s->sim, event_wait_cond, &w, max_ns);
	if (!w.found)
		printf("    no %s event on side %d within %.6f s of virtual time\n",
		       scen_event_name(type), side, (double)max_ns / 1e9);
	else if (ev)
		*ev = w.ev;
	return w.found;
}

bool scen_no_event(struct scen *s, int side, uint32_t type)
{
	struct emu_async_event ev;
	bool none = true;

	while (sim_get_event(s->dev[side], &ev)) {
		if (ev.type == type) {
			printf("    unexpected %s event on side %d (qpn 0x%x)\n",
			       scen_event_name(type), side, ev.qpn);
			none = false;
		}
	}
	return none;
}

/* ---- runner ----------------------------------------------------------------------- */

int scen_run_tests(const char *suite, const struct scen_test *tests, size_t n,
		   int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	unsigned passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t t0;
		int rc;

		if (filter && !strstr(tests[i].name, filter))
			continue;
		printf("%s/%s ...\n", suite, tests[i].name);
		fflush(stdout);
		t0 = scen_real_ns();
		rc = tests[i].fn();
		printf("%s %s/%s (%.3f s)\n", rc == 0 ? "PASS" : "FAIL", suite,
		       tests[i].name, (double)(scen_real_ns() - t0) / 1e9);
		fflush(stdout);
		if (rc == 0)
			passed++;
		else
			failed++;
	}
	if (passed + failed == 0) {
		printf("%s: no test matched \"%s\"\n", suite, filter ? filter : "");
		return 2;
	}
	printf("%s: %u passed, %u failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}
