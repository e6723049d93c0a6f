/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * tests/usermode/test_uhost.c - the user-mode process host on its own, over real
 * UDP on loopback: two devices in this process, objects made through uhost.h and
 * the engine API, work requests written into the rings as the provider would,
 * completions read back from the CQ rings.
 *
 * Run in four configurations: io_uring sends and recvmmsg receives with a
 * progress thread, the same with io_uring's multishot receive
 * (SOFTHCA_NET_RX=uring), sendmmsg/recvmmsg with a progress thread, io_uring
 * with inline progress only (and IPv6 where the host has it). Each checks SEND
 * (with immediate, inline), RDMA WRITE (with immediate), RDMA READ, both atomics,
 * UD through an address handle, refused WQEs, an overrun ring, completion
 * channels (any and solicited), a CQ overflow as an async event, garbage
 * datagrams (dropped and counted while traffic goes on), and the capture file,
 * decoded with tshark when it is installed.
 *
 * Exit 0 when every check passed; otherwise each failure is printed. A check that
 * cannot run (no tshark) is reported as not run, never as passed.
 *   test_uhost            the tests
 *   test_uhost --bench    a throughput and latency loop instead (not a test)
 *   TEST_UHOST_ONLY=label runs one configuration (uring-thread, uringrx-thread,
 *                         syscalls-thread, uring-inline, ipv6)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <zlib.h>

#include "emu/core/wire.h"
#include "net.h"
#include "uhost.h"

#define BUF_BYTES   (1u << 20)
#define WAIT_NS     30000000000ull   /* only a failure waits this long */
#define TEST_PORT   4791

static int failures;
static int not_run;

static uint32_t test_zcrc(uint32_t crc, const void *buf, size_t len);

#define CHECK(cond, ...)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			failures++;                                                 \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                               \
			fputc('\n', stderr);                                        \
		}                                                                   \
	} while (0)

/* A check whose failure makes the rest of a phase meaningless. */
#define REQUIRE(cond, ...)                                                          \
	do {                                                                        \
		bool ok_ = (cond);                                                  \
		CHECK(ok_, __VA_ARGS__);                                            \
		if (!ok_)                                                           \
			return -1;                                                  \
	} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- a device and its objects, as a verbs layer would hold them ------------------ */

struct side {
	const char *name;
	struct uh_dev *dev;
	struct emu_pd *pd;
	uint8_t *buf;
	struct emu_mr *mr;
	struct uh_channel *ch;
	struct uh_cq *cq;
	uint32_t cq_cons;
	struct uh_qp *qp, *qp2, *ud, *qp3;
	uint32_t sq_prod[4], rq_prod[4];
	struct uh_srq *srq;
	uint32_t srq_prod;
	struct emu_mw *mw;
	uint8_t gid[16];
};

static struct side A = { .name = "A" }, B = { .name = "B" };
static bool inline_progress;

static void progress_all(void)
{
	uh_progress(A.dev);
	uh_progress(B.dev);
}

static struct uh_qp **qp_slot(struct side *s, int which)
{
	return which == 0 ? &s->qp : which == 1 ? &s->qp2 : which == 2 ? &s->ud : &s->qp3;
}

/* Write one send WQE (fixed part + SGEs or inline bytes) and ring the doorbell. */
static void post_send(struct side *s, int which, const struct softhca_send_wqe *w,
		      const void *tail, size_t tail_len)
{
	struct uh_qp *qp = *qp_slot(s, which);
	struct softhca_ring_hdr *h = qp->sq;
	uint32_t prod = s->sq_prod[which];
	uint8_t *e = softhca_ring_entry(h, prod);

	memcpy(e, w, sizeof(*w));
	if (tail_len)
		memcpy(e + sizeof(*w), tail, tail_len);
	__atomic_store_n(&h->prod, prod + 1, __ATOMIC_RELEASE);
	s->sq_prod[which] = prod + 1;
	uh_lock(s->dev);
	uh_qp_doorbell_sq(s->dev, qp);
	uh_unlock(s->dev);
}

static void post_recv(struct side *s, int which, uint64_t wr_id, uint64_t addr, uint32_t len)
{
	struct uh_qp *qp = *qp_slot(s, which);
	struct softhca_ring_hdr *h = qp->rq;
	uint32_t prod = s->rq_prod[which];
	uint8_t *e = softhca_ring_entry(h, prod);
	struct softhca_recv_wqe w = { .wr_id = wr_id, .num_sge = 1 };
	struct softhca_sge sge = { .addr = addr, .length = len, .lkey = emu_mr_lkey(s->mr) };

	memcpy(e, &w, sizeof(w));
	memcpy(e + sizeof(w), &sge, sizeof(sge));
	__atomic_store_n(&h->prod, prod + 1, __ATOMIC_RELEASE);
	s->rq_prod[which] = prod + 1;
	uh_lock(s->dev);
	uh_qp_doorbell_rq(s->dev, qp);
	uh_unlock(s->dev);
}

static bool cq_take(struct uh_cq *cq, uint32_t *cons, struct softhca_cqe *out)
{
	struct softhca_ring_hdr *h = cq->ring;
	uint32_t prod = __atomic_load_n(&h->prod, __ATOMIC_ACQUIRE);

	if (prod == *cons)
		return false;
	memcpy(out, softhca_ring_entry(h, *cons), sizeof(*out));
	(*cons)++;
	__atomic_store_n(&h->cons, *cons, __ATOMIC_RELEASE);
	return true;
}

static bool wait_cqe(struct side *s, struct softhca_cqe *out)
{
	uint64_t end = now_ns() + WAIT_NS;

	while (now_ns() < end) {
		if (cq_take(s->cq, &s->cq_cons, out))
			return true;
		progress_all();
		if (!inline_progress)
			usleep(20);
	}
	fprintf(stderr, "  no completion on %s within %llu s\n", s->name,
		(unsigned long long)(WAIT_NS / 1000000000ull));
	return false;
}

static struct softhca_sge sge_of(struct side *s, uint64_t off, uint32_t len)
{
	struct softhca_sge g = { (uint64_t)(uintptr_t)(s->buf + off), len, emu_mr_lkey(s->mr) };

	return g;
}

/* ---- set up ---------------------------------------------------------------------- */

static int modify(struct uh_qp *qp, struct side *self, struct emu_qp_attr *a, uint32_t mask)
{
	int ret;

	uh_lock(self->dev);
	ret = emu_modify_qp(qp->emu, a, mask);
	uh_unlock(self->dev);
	return ret;
}

static uint32_t path_mtu = EMU_MTU_1024;

static int connect_rc(struct side *s, struct uh_qp *qp, const struct side *peer, uint32_t dqpn)
{
	struct emu_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ |
			    EMU_ACCESS_REMOTE_ATOMIC;
	REQUIRE(!modify(qp, s, &a, EMU_QP_STATE | EMU_QP_PKEY_INDEX | EMU_QP_PORT |
			EMU_QP_ACCESS_FLAGS), "INIT");
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RTR;
	a.path_mtu = path_mtu;
	a.dest_qp_num = dqpn;
	a.rq_psn = 100;
	a.max_dest_rd_atomic = 4;
	a.min_rnr_timer = 1;
	memcpy(a.ah_attr.dgid, peer->gid, 16);
	a.ah_attr.is_global = 1;
	a.ah_attr.hop_limit = 64;
	a.ah_attr.port_num = 1;
	REQUIRE(!modify(qp, s, &a, EMU_QP_STATE | EMU_QP_AV | EMU_QP_PATH_MTU |
			EMU_QP_DEST_QPN | EMU_QP_RQ_PSN | EMU_QP_MAX_DEST_RD_ATOMIC |
			EMU_QP_MIN_RNR_TIMER), "RTR");
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_RTS;
	a.sq_psn = 100;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 4;
	REQUIRE(!modify(qp, s, &a, EMU_QP_STATE | EMU_QP_SQ_PSN | EMU_QP_TIMEOUT |
			EMU_QP_RETRY_CNT | EMU_QP_RNR_RETRY | EMU_QP_MAX_QP_RD_ATOMIC), "RTS");
	return 0;
}

static int connect_ud(struct side *s, struct uh_qp *qp)
{
	struct emu_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_INIT;
	a.port_num = 1;
	a.qkey = 0x11111111;
	REQUIRE(!modify(qp, s, &a, EMU_QP_STATE | EMU_QP_PKEY_INDEX | EMU_QP_PORT | EMU_QP_QKEY),
		"UD INIT");
	a.qp_state = EMU_QPS_RTR;
	REQUIRE(!modify(qp, s, &a, EMU_QP_STATE), "UD RTR");
	a.qp_state = EMU_QPS_RTS;
	a.sq_psn = 7;
	REQUIRE(!modify(qp, s, &a, EMU_QP_STATE | EMU_QP_SQ_PSN), "UD RTS");
	return 0;
}

static int make_qp(struct side *s, uint32_t type, struct uh_qp **out)
{
	struct emu_qp_init_attr attr;
	int ret;

	memset(&attr, 0, sizeof(attr));
	attr.qp_type = type;
	if (out == &s->qp3 && s->srq)
		attr.srq = s->srq->emu;
	attr.send_cq = s->cq->emu;
	attr.recv_cq = s->cq->emu;
	attr.cap.max_send_wr = 60;      /* rounded up to 64 */
	attr.cap.max_recv_wr = 60;
	attr.cap.max_send_sge = 2;
	attr.cap.max_recv_sge = 1;
	attr.cap.max_inline_data = 100;
	uh_lock(s->dev);
	ret = uh_create_qp(s->dev, s->pd, &attr, s, out);
	uh_unlock(s->dev);
	REQUIRE(!ret, "create QP on %s: %d", s->name, ret);
	CHECK(attr.srq ? !(*out)->rq : (*out)->rq && (*out)->rq->size == 64,
	      "receive ring only without an SRQ");
	CHECK(attr.cap.max_send_wr == 64 && (*out)->sq->size == 64,
	      "send queue rounded to 64: cap %u ring %u", attr.cap.max_send_wr, (*out)->sq->size);
	CHECK((*out)->sq->stride % 16 == 0 && (*out)->sq->stride >= 64 + 100,
	      "SQ stride %u holds 100 inline bytes", (*out)->sq->stride);
	return 0;
}

static int open_side(struct side *s, const char *pcap)
{
	struct uh_config cfg;
	char err[256];
	int ret;

	if (pcap)
		setenv("SOFTHCA_PCAP", pcap, 1);
	else
		unsetenv("SOFTHCA_PCAP");
	REQUIRE(uh_config_from_env(&cfg, err, sizeof(err)) == 0, "config: %s", err);
	ret = uh_dev_open(&cfg, &s->dev, err, sizeof(err));
	REQUIRE(ret == 0, "open %s: %d %s", s->name, ret, err);
	uh_lock(s->dev);
	ret = emu_gid_query(uh_emu(s->dev), 0, s->gid);
	if (!ret)
		ret = emu_alloc_pd(uh_emu(s->dev), &s->pd);
	uh_unlock(s->dev);
	REQUIRE(!ret, "GID / PD on %s", s->name);
	REQUIRE(!posix_memalign((void **)&s->buf, 4096, BUF_BYTES), "buffer");
	memset(s->buf, 0, BUF_BYTES);
	REQUIRE(!uh_channel_create(s->dev, &s->ch), "channel");
	uh_lock(s->dev);
	ret = uh_reg_mr(s->dev, s->pd, s->buf, BUF_BYTES, (uint64_t)(uintptr_t)s->buf,
			EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ |
			EMU_ACCESS_REMOTE_ATOMIC | EMU_ACCESS_MW_BIND, &s->mr);
	if (!ret)
		ret = uh_create_cq(s->dev, 200, SOFTHCA_CQ_FLAG_ORDERED, s->ch, s, &s->cq);
	uh_unlock(s->dev);
	REQUIRE(!ret, "MR / CQ on %s: %d", s->name, ret);
	CHECK(s->cq->ring->size == 256 && s->cq->ring->stride == 64,
	      "CQ ring %u x %u", s->cq->ring->size, s->cq->ring->stride);
	CHECK(s->cq->flags == SOFTHCA_CQ_FLAG_ORDERED, "ordered CQ honoured at ABI 2");
	s->cq_cons = 0;
	memset(s->sq_prod, 0, sizeof(s->sq_prod));
	memset(s->rq_prod, 0, sizeof(s->rq_prod));
	return 0;
}

/* leave_objects: close the device with its objects alive (the host frees them). */
static void close_side(struct side *s, bool leave_objects)
{
	if (!s->dev)
		return;
	uh_lock(s->dev);
	if (!leave_objects) {
		if (s->ud)
			CHECK(!uh_destroy_qp(s->dev, s->ud), "destroy UD QP");
		if (s->qp3)
			CHECK(!uh_destroy_qp(s->dev, s->qp3), "destroy QP3");
		if (s->srq)
			CHECK(!uh_destroy_srq(s->dev, s->srq), "destroy SRQ");
		if (s->qp2)
			CHECK(!uh_destroy_qp(s->dev, s->qp2), "destroy QP2");
		if (s->qp)
			CHECK(!uh_destroy_qp(s->dev, s->qp), "destroy QP");
		if (s->ch && s->cq)
			CHECK(uh_channel_destroy(s->ch) == -EBUSY, "channel busy while its CQ lives");
		if (s->cq)
			CHECK(!uh_destroy_cq(s->dev, s->cq), "destroy CQ");
		if (s->mw)
			CHECK(!emu_dealloc_mw(s->mw), "dealloc MW");
		if (s->mr)
			CHECK(!uh_dereg_mr(s->dev, s->mr), "dereg MR");
		if (s->pd)
			CHECK(!emu_dealloc_pd(s->pd), "dealloc PD");
	}
	uh_unlock(s->dev);
	uh_dev_close(s->dev);
	/* After the CQs (and, left behind, the device): nothing uses the channel. */
	if (s->ch)
		CHECK(uh_channel_destroy(s->ch) == 0, "destroy channel");
	free(s->buf);
	{
		const char *name = s->name;

		memset(s, 0, sizeof(*s));
		s->name = name;
	}
}

/* ---- the checks ------------------------------------------------------------------ */

static int expect_cqe(struct side *s, uint64_t wr_id, uint32_t status, uint32_t opcode,
		      struct softhca_cqe *out)
{
	struct softhca_cqe c;

	REQUIRE(wait_cqe(s, &c), "completion %" PRIu64 " on %s", wr_id, s->name);
	CHECK(c.wr_id == wr_id, "%s wr_id %" PRIu64 " want %" PRIu64, s->name, c.wr_id, wr_id);
	CHECK(c.status == status, "%s wr %" PRIu64 " status %u want %u (vendor_err %u)",
	      s->name, wr_id, c.status, status, c.vendor_err);
	CHECK(c.opcode == opcode, "%s wr %" PRIu64 " opcode %u want %u", s->name, wr_id,
	      c.opcode, opcode);
	if (out)
		*out = c;
	return 0;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static int test_send(void)
{
	struct softhca_send_wqe w;
	struct softhca_sge g[2];
	struct softhca_cqe c;
	uint8_t inl[100];

	fill(A.buf, 3000, 1);
	post_recv(&B, 0, 501, (uint64_t)(uintptr_t)(B.buf + 0x10000), 4096);
	post_recv(&B, 0, 502, (uint64_t)(uintptr_t)(B.buf + 0x20000), 4096);
	post_recv(&B, 0, 503, (uint64_t)(uintptr_t)(B.buf + 0x30000), 4096);

	/* Two SGEs, 3000 bytes: three packets at MTU 1024. */
	memset(&w, 0, sizeof(w));
	w.wr_id = 1;
	w.opcode = EMU_WR_SEND;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 2;
	g[0] = sge_of(&A, 0, 1000);
	g[1] = sge_of(&A, 1000, 2000);
	post_send(&A, 0, &w, g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 1, 0, EMU_WC_SEND, NULL), "send");
	REQUIRE(!expect_cqe(&B, 501, 0, EMU_WC_RECV, &c), "recv");
	CHECK(c.byte_len == 3000, "recv byte_len %u", c.byte_len);
	CHECK(c.qp_num == emu_qp_num(B.qp->emu), "recv qp_num");
	CHECK(!memcmp(B.buf + 0x10000, A.buf, 3000), "SEND payload arrived intact");

	/* With immediate: network byte order in the WQE and in the CQE. */
	w.wr_id = 2;
	w.opcode = EMU_WR_SEND_WITH_IMM;
	w.imm_data = htonl(0x12345678);
	w.num_sge = 1;
	g[0] = sge_of(&A, 0, 64);
	post_send(&A, 0, &w, g, sizeof(g[0]));
	REQUIRE(!expect_cqe(&A, 2, 0, EMU_WC_SEND, NULL), "send imm");
	REQUIRE(!expect_cqe(&B, 502, 0, EMU_WC_RECV, &c), "recv imm");
	CHECK((c.wc_flags & EMU_WC_WITH_IMM) && c.imm_data == htonl(0x12345678),
	      "imm_data %08x flags %x", c.imm_data, c.wc_flags);

	/* Inline: the bytes travel in the WQE itself. */
	fill(inl, sizeof(inl), 7);
	w.wr_id = 3;
	w.opcode = EMU_WR_SEND;
	w.send_flags = EMU_SEND_SIGNALED | EMU_SEND_INLINE;
	w.num_sge = 0;
	w.inline_len = sizeof(inl);
	post_send(&A, 0, &w, inl, sizeof(inl));
	REQUIRE(!expect_cqe(&A, 3, 0, EMU_WC_SEND, NULL), "inline send");
	REQUIRE(!expect_cqe(&B, 503, 0, EMU_WC_RECV, &c), "recv inline");
	CHECK(c.byte_len == sizeof(inl) && !memcmp(B.buf + 0x30000, inl, sizeof(inl)),
	      "inline payload");
	return 0;
}

static int test_rdma(void)
{
	struct softhca_send_wqe w;
	struct softhca_sge g;
	struct softhca_cqe c;
	uint64_t v;

	/* WRITE 10000 bytes into B. */
	fill(A.buf + 0x40000, 10000, 3);
	memset(&w, 0, sizeof(w));
	w.wr_id = 10;
	w.opcode = EMU_WR_RDMA_WRITE;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	w.wr.rdma.remote_addr = (uint64_t)(uintptr_t)(B.buf + 0x50000);
	w.wr.rdma.rkey = emu_mr_rkey(B.mr);
	g = sge_of(&A, 0x40000, 10000);
	post_send(&A, 0, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 10, 0, EMU_WC_RDMA_WRITE, NULL), "write");
	CHECK(!memcmp(B.buf + 0x50000, A.buf + 0x40000, 10000), "WRITE landed");

	/* WRITE with immediate consumes a receive. */
	post_recv(&B, 0, 504, (uint64_t)(uintptr_t)(B.buf + 0x60000), 16);
	w.wr_id = 11;
	w.opcode = EMU_WR_RDMA_WRITE_WITH_IMM;
	w.imm_data = htonl(0xa1b2c3d4);
	g = sge_of(&A, 0x40000, 32);
	post_send(&A, 0, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 11, 0, EMU_WC_RDMA_WRITE, NULL), "write imm");
	REQUIRE(!expect_cqe(&B, 504, 0, EMU_WC_RECV_RDMA_WITH_IMM, &c), "recv write imm");
	CHECK(c.imm_data == htonl(0xa1b2c3d4) && (c.wc_flags & EMU_WC_WITH_IMM), "write imm data");

	/* READ 5000 bytes back from B. */
	fill(B.buf + 0x70000, 5000, 9);
	w.wr_id = 12;
	w.opcode = EMU_WR_RDMA_READ;
	w.imm_data = 0;
	w.wr.rdma.remote_addr = (uint64_t)(uintptr_t)(B.buf + 0x70000);
	g = sge_of(&A, 0x80000, 5000);
	post_send(&A, 0, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 12, 0, EMU_WC_RDMA_READ, &c), "read");
	CHECK(c.byte_len == 5000, "read byte_len %u", c.byte_len);
	CHECK(!memcmp(A.buf + 0x80000, B.buf + 0x70000, 5000), "READ data");

	/* Atomics on an 8-byte word of B. */
	v = 1000;
	memcpy(B.buf + 0x90000, &v, 8);
	memset(&w, 0, sizeof(w));
	w.wr_id = 13;
	w.opcode = EMU_WR_ATOMIC_FETCH_AND_ADD;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	w.wr.atomic.remote_addr = (uint64_t)(uintptr_t)(B.buf + 0x90000);
	w.wr.atomic.rkey = emu_mr_rkey(B.mr);
	w.wr.atomic.compare_add = 234;
	g = sge_of(&A, 0xa0000, 8);
	post_send(&A, 0, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 13, 0, EMU_WC_FETCH_ADD, NULL), "fetch-add");
	memcpy(&v, A.buf + 0xa0000, 8);
	CHECK(v == 1000, "fetch-add returned %" PRIu64, v);
	memcpy(&v, B.buf + 0x90000, 8);
	CHECK(v == 1234, "fetch-add result %" PRIu64, v);

	w.wr_id = 14;
	w.opcode = EMU_WR_ATOMIC_CMP_AND_SWP;
	w.wr.atomic.compare_add = 1234;
	w.wr.atomic.swap = 0x5555aaaa5555aaaaull;
	g = sge_of(&A, 0xa0008, 8);
	post_send(&A, 0, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 14, 0, EMU_WC_COMP_SWAP, NULL), "cmp-swap");
	memcpy(&v, A.buf + 0xa0008, 8);
	CHECK(v == 1234, "cmp-swap returned %" PRIu64, v);
	memcpy(&v, B.buf + 0x90000, 8);
	CHECK(v == 0x5555aaaa5555aaaaull, "cmp-swap result %" PRIx64, v);
	return 0;
}

/*
 * An IPv6 datagram's flow label reaches the GRH of a UD receive. Linux labels
 * its own IPv6 UDP datagrams with a hash of the flow when
 * net.ipv6.auto_flowlabels is 1 (the default), so the label is not 0 then;
 * otherwise this cannot be told from a label never read, and is not run.
 */
static void check_grh_flow_label(const uint8_t *grh)
{
	uint32_t word = (uint32_t)grh[0] << 24 | (uint32_t)grh[1] << 16 | (uint32_t)grh[2] << 8 |
			grh[3];
	FILE *f;
	int autolabels = -1;

	if (!memcmp(B.gid, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
		return;              /* IPv4: the GRH carries no flow label */
	f = fopen("/proc/sys/net/ipv6/auto_flowlabels", "r");
	if (f) {
		if (fscanf(f, "%d", &autolabels) != 1)
			autolabels = -1;
		fclose(f);
	}
	if (autolabels != 1) {
		printf("   NOT RUN: IPv6 flow label in the GRH (net.ipv6.auto_flowlabels is %d,"
		       " not 1)\n", autolabels);
		return;
	}
	CHECK((word >> 28) == 6 && (word & 0xfffff) != 0,
	      "UD receive over IPv6: GRH version %u, flow label 0x%05x (the wire's, not 0)",
	      word >> 28, word & 0xfffff);
}

static int test_ud(void)
{
	struct emu_ah_attr aa;
	struct emu_ah *ah = NULL;
	struct softhca_send_wqe w;
	struct softhca_sge g;
	struct softhca_cqe c;
	uint32_t handle;
	int ret;

	REQUIRE(!make_qp(&A, EMU_QPT_UD, &A.ud) && !make_qp(&B, EMU_QPT_UD, &B.ud), "UD QPs");
	REQUIRE(!connect_ud(&A, A.ud) && !connect_ud(&B, B.ud), "UD states");
	memset(&aa, 0, sizeof(aa));
	memcpy(aa.dgid, B.gid, 16);
	aa.is_global = 1;
	aa.port_num = 1;
	aa.hop_limit = 64;
	uh_lock(A.dev);
	ret = emu_create_ah(A.pd, &aa, &ah);
	handle = ret ? 0 : uh_handle_add(A.dev, UH_H_AH, ah);
	uh_unlock(A.dev);
	REQUIRE(!ret && handle, "AH and its handle");

	post_recv(&B, 2, 601, (uint64_t)(uintptr_t)(B.buf + 0xb0000), 40 + 512);
	fill(A.buf + 0xc0000, 300, 11);
	memset(&w, 0, sizeof(w));
	w.wr_id = 20;
	w.opcode = EMU_WR_SEND;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	w.wr.ud.ah_handle = handle;
	w.wr.ud.remote_qpn = emu_qp_num(B.ud->emu);
	w.wr.ud.remote_qkey = 0x11111111;
	g = sge_of(&A, 0xc0000, 300);
	post_send(&A, 2, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 20, 0, EMU_WC_SEND, NULL), "UD send");
	REQUIRE(!expect_cqe(&B, 601, 0, EMU_WC_RECV, &c), "UD recv");
	CHECK(c.byte_len == 40 + 300, "UD byte_len %u (GRH + payload)", c.byte_len);
	CHECK(c.src_qp == emu_qp_num(A.ud->emu), "UD src_qp %u", c.src_qp);
	CHECK(!memcmp(B.buf + 0xb0000 + 40, A.buf + 0xc0000, 300), "UD payload");
	check_grh_flow_label(B.buf + 0xb0000);

	/* A handle that names nothing: the WQE completes in error, the QP goes down. */
	w.wr_id = 21;
	w.wr.ud.ah_handle = handle + 1;
	post_send(&A, 2, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 21, EMU_WC_LOC_QP_OP_ERR, EMU_WC_SEND, &c), "bad AH handle");
	CHECK(c.vendor_err == 4, "vendor_err %u for a bad handle", c.vendor_err);
	uh_lock(A.dev);
	CHECK(emu_qp_state(A.ud->emu) == EMU_QPS_ERR, "QP in error after a bad WQE");
	CHECK(uh_handle_get(A.dev, UH_H_MW, handle) == NULL, "a handle has one kind");
	uh_handle_del(A.dev, handle);
	CHECK(uh_handle_get(A.dev, UH_H_AH, handle) == NULL, "deleted handle");
	CHECK(!emu_destroy_ah(ah), "destroy AH");
	uh_unlock(A.dev);
	return 0;
}

static int test_bad_wqes(void)
{
	struct softhca_send_wqe w;
	struct softhca_cqe c;
	struct softhca_ring_hdr *h;
	int ret = 0;

	REQUIRE(!make_qp(&A, EMU_QPT_RC, &A.qp2) && !make_qp(&B, EMU_QPT_RC, &B.qp2), "QP2s");
	ret |= connect_rc(&A, A.qp2, &B, emu_qp_num(B.qp2->emu));
	ret |= connect_rc(&B, B.qp2, &A, emu_qp_num(A.qp2->emu));
	REQUIRE(!ret, "QP2 connected");

	memset(&w, 0, sizeof(w));
	w.wr_id = 30;
	w.opcode = 99;
	w.send_flags = EMU_SEND_SIGNALED;
	post_send(&A, 1, &w, NULL, 0);
	REQUIRE(!expect_cqe(&A, 30, EMU_WC_LOC_QP_OP_ERR, EMU_WC_SEND, &c), "bad opcode");
	CHECK(c.vendor_err == 1, "vendor_err %u for a bad opcode", c.vendor_err);
	/* A QP in error still validates what it is given. */
	w.wr_id = 31;
	w.opcode = EMU_WR_SEND;
	w.num_sge = 33;
	post_send(&A, 1, &w, NULL, 0);
	REQUIRE(!expect_cqe(&A, 31, EMU_WC_LOC_QP_OP_ERR, EMU_WC_SEND, &c), "too many SGEs");
	CHECK(c.vendor_err == 2, "vendor_err %u for too many SGEs", c.vendor_err);

	/* The provider claims more WQEs than the ring has: the ring is broken. */
	h = B.qp2->sq;
	__atomic_store_n(&h->prod, h->size + 5, __ATOMIC_RELEASE);
	uh_lock(B.dev);
	uh_qp_doorbell_sq(B.dev, B.qp2);
	CHECK(emu_qp_state(B.qp2->emu) == EMU_QPS_ERR, "overrun QP in error");
	uh_unlock(B.dev);
	CHECK(__atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & SOFTHCA_RING_BROKEN,
	      "overrun ring marked broken");
	CHECK(__atomic_load_n(&h->cons, __ATOMIC_ACQUIRE) == 0, "nothing consumed");
	return 0;
}

static bool fd_readable(int fd, int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;

	do {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, inline_progress ? 1 : (timeout_ms ? 10 : 0)) == 1 &&
		    (p.revents & POLLIN))
			return true;
		progress_all();
	} while (now_ns() < end);
	return false;
}

static int test_channels(void)
{
	struct softhca_send_wqe w;
	struct softhca_sge g;
	int fd = uh_channel_fd(A.ch), fl;
	void *user = NULL;

	CHECK(!fd_readable(fd, 0), "channel idle before arming");
	uh_lock(A.dev);
	CHECK(!uh_cq_arm(A.dev, A.cq, false), "arm");
	uh_unlock(A.dev);
	post_recv(&B, 0, 505, (uint64_t)(uintptr_t)(B.buf + 0x10000), 64);
	memset(&w, 0, sizeof(w));
	w.wr_id = 40;
	w.opcode = EMU_WR_SEND;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	g = sge_of(&A, 0, 64);
	post_send(&A, 0, &w, &g, sizeof(g));
	CHECK(fd_readable(fd, 5000), "channel readable after an armed completion");
	CHECK(uh_channel_get(A.ch, &user) == 0 && user == &A, "channel gives the CQ's user");
	CHECK(!fd_readable(fd, 0), "channel idle after the event was taken");
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	CHECK(uh_channel_get(A.ch, &user) == -EAGAIN, "non-blocking get on an idle channel");
	fcntl(fd, F_SETFL, fl);
	REQUIRE(!expect_cqe(&A, 40, 0, EMU_WC_SEND, NULL), "send for the channel");
	REQUIRE(!expect_cqe(&B, 505, 0, EMU_WC_RECV, NULL), "recv for the channel");

	/* Solicited only: an unsolicited SEND does not wake B, a solicited one does. */
	fd = uh_channel_fd(B.ch);
	uh_lock(B.dev);
	CHECK(!uh_cq_arm(B.dev, B.cq, true), "arm solicited");
	uh_unlock(B.dev);
	post_recv(&B, 0, 506, (uint64_t)(uintptr_t)(B.buf + 0x10000), 64);
	post_recv(&B, 0, 507, (uint64_t)(uintptr_t)(B.buf + 0x10000), 64);
	w.wr_id = 41;
	post_send(&A, 0, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 41, 0, EMU_WC_SEND, NULL), "unsolicited send");
	REQUIRE(!expect_cqe(&B, 506, 0, EMU_WC_RECV, NULL), "unsolicited recv");
	CHECK(!fd_readable(fd, 50), "an unsolicited completion does not wake");
	w.wr_id = 42;
	w.send_flags = EMU_SEND_SIGNALED | EMU_SEND_SOLICITED;
	post_send(&A, 0, &w, &g, sizeof(g));
	CHECK(fd_readable(fd, 5000), "a solicited completion wakes");
	CHECK(uh_channel_get(B.ch, &user) == 0 && user == &B, "B's channel event");
	REQUIRE(!expect_cqe(&A, 42, 0, EMU_WC_SEND, NULL), "solicited send");
	REQUIRE(!expect_cqe(&B, 507, 0, EMU_WC_RECV, NULL), "solicited recv");
	return 0;
}

static int small_cq_user;

/* A CQ too small for what is posted: the engine reports a CQ error. */
static int test_cq_overflow(void)
{
	struct emu_qp_init_attr attr;
	struct emu_async_event ev;
	struct softhca_send_wqe w;
	struct uh_cq *cq = NULL;
	struct uh_qp *qp = NULL;
	struct softhca_ring_hdr *h;
	bool got = false;
	int ret;

	uh_lock(A.dev);
	ret = uh_create_cq(A.dev, 1, 0, NULL, &small_cq_user, &cq);
	if (!ret) {
		memset(&attr, 0, sizeof(attr));
		attr.qp_type = EMU_QPT_RC;
		attr.send_cq = cq->emu;
		attr.recv_cq = cq->emu;
		attr.cap.max_send_wr = 4;
		attr.cap.max_recv_wr = 4;
		ret = uh_create_qp(A.dev, A.pd, &attr, NULL, &qp);
	}
	uh_unlock(A.dev);
	REQUIRE(!ret, "small CQ and its QP");
	CHECK(cq->ring->size == 1, "CQ of 1 entry");
	/* In RESET the WQEs wait in the ring; moving to error flushes two of them
	 * into a CQ of one entry. */
	h = qp->rq;
	for (uint32_t i = 0; i < 2; i++) {
		struct softhca_recv_wqe rw = { .wr_id = 70 + i, .num_sge = 0 };

		memcpy(softhca_ring_entry(h, i), &rw, sizeof(rw));
	}
	__atomic_store_n(&h->prod, 2, __ATOMIC_RELEASE);
	uh_lock(A.dev);
	uh_qp_doorbell_rq(A.dev, qp);
	CHECK(__atomic_load_n(&h->cons, __ATOMIC_ACQUIRE) == 0, "RQ waits while in RESET");
	uh_unlock(A.dev);
	{
		struct emu_qp_attr a;

		memset(&a, 0, sizeof(a));
		a.qp_state = EMU_QPS_INIT;
		a.port_num = 1;
		CHECK(!modify(qp, &A, &a, EMU_QP_STATE | EMU_QP_PKEY_INDEX | EMU_QP_PORT |
			      EMU_QP_ACCESS_FLAGS), "small QP to INIT");
		progress_all();
		/* Taken by the engine now, but a receive WQE keeps its ring slot
		 * until it completes: the ring is exactly as full as the RQ. */
		CHECK(__atomic_load_n(&h->cons, __ATOMIC_ACQUIRE) == 0,
		      "RQ slots held until the receives complete");
		a.qp_state = EMU_QPS_ERR;
		CHECK(!modify(qp, &A, &a, EMU_QP_STATE), "small QP to ERR");
	}
	CHECK(fd_readable(uh_async_fd(A.dev), 2000), "async fd readable");
	while (uh_get_async_event(A.dev, &ev))
		if (ev.type == EMU_EVENT_CQ_ERR && ev.cookie == (void *)&small_cq_user)
			got = true;
	CHECK(got, "CQ_ERR event naming the CQ's user pointer");
	CHECK(!fd_readable(uh_async_fd(A.dev), 0), "async fd idle once drained");
	(void)w;
	uh_lock(A.dev);
	CHECK(!uh_destroy_qp(A.dev, qp), "destroy small QP");
	CHECK(!uh_destroy_cq(A.dev, cq), "destroy small CQ");
	uh_unlock(A.dev);
	return 0;
}


/* ---- SRQ, memory windows, more WQEs than the engine holds ------------------------ */

static void post_srq(struct side *s, uint64_t wr_id, uint32_t num_sge, uint64_t addr,
		     uint32_t len)
{
	struct softhca_ring_hdr *h = s->srq->rq;
	uint8_t *e = softhca_ring_entry(h, s->srq_prod);
	struct softhca_recv_wqe w = { .wr_id = wr_id, .num_sge = num_sge };
	struct softhca_sge sge = { .addr = addr, .length = len, .lkey = emu_mr_lkey(s->mr) };

	memcpy(e, &w, sizeof(w));
	memcpy(e + sizeof(w), &sge, sizeof(sge));
	s->srq_prod++;
	__atomic_store_n(&h->prod, s->srq_prod, __ATOMIC_RELEASE);
	uh_lock(s->dev);
	uh_srq_doorbell(s->dev, s->srq);
	uh_unlock(s->dev);
}

static int srq_user;

static int test_srq(void)
{
	struct emu_srq_attr sa = { .max_wr = 10, .max_sge = 1, .srq_limit = 0 };
	struct emu_async_event ev;
	struct softhca_send_wqe w;
	struct softhca_sge g;
	struct softhca_cqe c;
	bool got = false;
	int ret;

	uh_lock(B.dev);
	ret = uh_create_srq(B.dev, B.pd, &sa, &srq_user, &B.srq);
	uh_unlock(B.dev);
	REQUIRE(!ret, "create SRQ: %d", ret);
	CHECK(sa.max_wr == 16 && B.srq->rq->size == 16, "SRQ rounded to 16: %u", sa.max_wr);
	REQUIRE(!make_qp(&A, EMU_QPT_RC, &A.qp3) && !make_qp(&B, EMU_QPT_RC, &B.qp3), "QP3s");
	REQUIRE(!connect_rc(&A, A.qp3, &B, emu_qp_num(B.qp3->emu)) &&
		!connect_rc(&B, B.qp3, &A, emu_qp_num(A.qp3->emu)), "QP3 connected");
	post_srq(&B, 801, 1, (uint64_t)(uintptr_t)(B.buf + 0xd0000), 256);
	post_srq(&B, 802, 1, (uint64_t)(uintptr_t)(B.buf + 0xd1000), 256);
	memset(&w, 0, sizeof(w));
	w.opcode = EMU_WR_SEND;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	fill(A.buf + 0xe0000, 200, 21);
	g = sge_of(&A, 0xe0000, 200);
	for (uint64_t i = 0; i < 2; i++) {
		w.wr_id = 80 + i;
		post_send(&A, 3, &w, &g, sizeof(g));
		REQUIRE(!expect_cqe(&A, 80 + i, 0, EMU_WC_SEND, NULL), "send to SRQ");
		REQUIRE(!expect_cqe(&B, 801 + i, 0, EMU_WC_RECV, &c), "recv from SRQ");
		CHECK(c.byte_len == 200 && c.qp_num == emu_qp_num(B.qp3->emu), "SRQ recv");
	}
	CHECK(!memcmp(B.buf + 0xd1000, A.buf + 0xe0000, 200), "SRQ payload");
	/* A WQE the SRQ cannot take: no CQ to tell, so an SRQ error event. */
	post_srq(&B, 803, 5, (uint64_t)(uintptr_t)B.buf, 8);
	CHECK(__atomic_load_n(&B.srq->rq->flags, __ATOMIC_ACQUIRE) & SOFTHCA_RING_BROKEN,
	      "SRQ ring broken by a bad WQE");
	CHECK(fd_readable(uh_async_fd(B.dev), 2000), "B's async fd readable");
	while (uh_get_async_event(B.dev, &ev))
		if (ev.type == EMU_EVENT_SRQ_ERR && ev.cookie == (void *)&srq_user)
			got = true;
	CHECK(got, "SRQ_ERR event naming the SRQ's user pointer");
	return 0;
}

/* A type 2 window bound by a BIND_MW WQE that names the window and the MR by
 * their handles; then A writes through it. */
static int test_mw(void)
{
	struct softhca_send_wqe w;
	struct softhca_sge g;
	uint32_t hmw, hmr, rkey;
	int ret;

	uh_lock(B.dev);
	ret = emu_alloc_mw(B.pd, EMU_MW_TYPE_2, &B.mw);
	hmw = ret ? 0 : uh_handle_add(B.dev, UH_H_MW, B.mw);
	hmr = uh_handle_add(B.dev, UH_H_MR, B.mr);
	uh_unlock(B.dev);
	REQUIRE(!ret && hmw && hmr && hmw != hmr, "MW and handles");
	rkey = (emu_mw_rkey(B.mw) & ~0xffu) | ((emu_mw_rkey(B.mw) + 1) & 0xffu);
	memset(&w, 0, sizeof(w));
	w.wr_id = 90;
	w.opcode = EMU_WR_BIND_MW;
	w.send_flags = EMU_SEND_SIGNALED;
	w.wr.bind.mw_handle = hmw;
	w.wr.bind.mr_handle = hmr;
	w.wr.bind.rkey = rkey;
	w.wr.bind.access = EMU_ACCESS_REMOTE_WRITE;
	w.wr.bind.addr = (uint64_t)(uintptr_t)(B.buf + 0xf0000);
	w.wr.bind.length = 4096;
	post_send(&B, 0, &w, NULL, 0);
	REQUIRE(!expect_cqe(&B, 90, 0, EMU_WC_BIND_MW, NULL), "bind MW");
	uh_lock(B.dev);
	CHECK(emu_mw_rkey(B.mw) == rkey, "window rkey after bind");
	uh_unlock(B.dev);

	fill(A.buf + 0xf0000, 4096, 31);
	memset(&w, 0, sizeof(w));
	w.wr_id = 91;
	w.opcode = EMU_WR_RDMA_WRITE;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	w.wr.rdma.remote_addr = (uint64_t)(uintptr_t)(B.buf + 0xf0000);
	w.wr.rdma.rkey = rkey;
	g = sge_of(&A, 0xf0000, 4096);
	post_send(&A, 0, &w, &g, sizeof(g));
	REQUIRE(!expect_cqe(&A, 91, 0, EMU_WC_RDMA_WRITE, NULL), "write through the window");
	CHECK(!memcmp(B.buf + 0xf0000, A.buf + 0xf0000, 4096), "data through the window");
	uh_lock(B.dev);
	uh_handle_del(B.dev, hmw);
	uh_handle_del(B.dev, hmr);
	uh_unlock(B.dev);
	return 0;
}

/*
 * A provider that only looks at ring space posts more than the engine holds:
 * what does not fit waits in the ring and goes in as completions free room,
 * still in order.
 */
static void burst_post(struct softhca_send_wqe *w, uint32_t i)
{
	struct softhca_sge g = sge_of(&A, 0x100 * (i % 64), 0x100);

	w->wr_id = 1000 + i;
	w->wr.rdma.remote_addr = (uint64_t)(uintptr_t)(B.buf + 0x100 * (i % 64));
	post_send(&A, 0, w, &g, sizeof(g));
}

static int test_burst(void)
{
	struct softhca_ring_hdr *h = A.qp->sq;
	struct softhca_send_wqe w;
	struct softhca_cqe c;
	const uint32_t total = 300;
	uint32_t posted = 0, done = 0, cons, start = A.sq_prod[0];
	uint64_t end = now_ns() + WAIT_NS;

	memset(&w, 0, sizeof(w));
	w.opcode = EMU_WR_RDMA_WRITE;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	w.wr.rdma.rkey = emu_mr_rkey(B.mr);
	/* B held still: nothing A sends is acknowledged, so the engine fills up with
	 * the first ring's worth and the second stays in the ring. */
	uh_lock(B.dev);
	for (; posted < 2 * h->size; posted++) {
		if (posted == h->size)
			CHECK(__atomic_load_n(&h->cons, __ATOMIC_ACQUIRE) - start == h->size,
			      "the engine took the first %u WQEs", h->size);
		burst_post(&w, posted);
	}
	cons = __atomic_load_n(&h->cons, __ATOMIC_ACQUIRE) - start;
	uh_unlock(B.dev);
	CHECK(cons == h->size && A.sq_prod[0] - start == 2 * h->size,
	      "WQEs wait in the ring while the engine is full: cons %u prod %u", cons,
	      A.sq_prod[0] - start);
	/* A verbs program keeps at most max_send_wr WRs outstanding until it polls
	 * them; this one keeps up to twice that, as the ring lets it (a slot is free
	 * once the engine has taken its WQE), but never more than its CQ holds. */
	while (done < total && now_ns() < end) {
		while (posted < total && posted - done < 2 * h->size &&
		       A.sq_prod[0] - __atomic_load_n(&h->cons, __ATOMIC_ACQUIRE) < h->size)
			burst_post(&w, posted++);
		while (cq_take(A.cq, &A.cq_cons, &c)) {
			CHECK(c.wr_id == 1000 + done && c.status == 0,
			      "burst completion %u: wr %" PRIu64 " status %u", done, c.wr_id, c.status);
			done++;
		}
		progress_all();
	}
	CHECK(done == total, "burst: %u of %u completed", done, total);
	return 0;
}

/* ---- the device's own surroundings ----------------------------------------------- */

static int count_uring_fds(void)
{
	char path[64], target[128];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		n += strstr(target, "io_uring") != NULL;
	}
	return n;
}

static int open_one(struct uh_dev **d, char *err, size_t errlen)
{
	struct uh_config cfg;

	if (uh_config_from_env(&cfg, err, errlen))
		return -EINVAL;
	return uh_dev_open(&cfg, d, err, errlen);
}

static bool find_ipv4_netdev(char *name, size_t len, uint32_t *mtu)
{
	struct ifaddrs *ifs, *i;
	bool found = false;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || getifaddrs(&ifs)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	for (i = ifs; i && !found; i = i->ifa_next) {
		struct ifreq ifr;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->ifa_name);
		if (ioctl(fd, SIOCGIFMTU, &ifr))
			continue;
		snprintf(name, len, "%s", i->ifa_name);
		*mtu = (uint32_t)ifr.ifr_mtu;
		found = true;
	}
	freeifaddrs(ifs);
	close(fd);
	return found;
}

static bool addr_free(const char *addr);

/* Other tests may run at the same time: an address nobody holds now. */
static int pick_free_loopback(char *out, size_t len)
{
	for (int n = 250; n >= 200; n--) {
		snprintf(out, len, "127.0.0.%d", n);
		if (addr_free(out))
			return 0;
	}
	return -1;
}

static void test_addressing(void)
{
	struct uh_dev *d = NULL;
	char err[256], ifname[64], addr[32];
	uint32_t ifmtu, want;
	int ret;

	printf("== addressing\n");
	setenv("SOFTHCA_NETDEV", "nosuchif0", 1);
	ret = open_one(&d, err, sizeof(err));
	CHECK(ret < 0 && strstr(err, "nosuchif0: no such network interface"),
	      "missing netdev: %d %s", ret, err);
	unsetenv("SOFTHCA_NETDEV");

	setenv("SOFTHCA_ADDR", "192.0.2.123", 1);
	ret = open_one(&d, err, sizeof(err));
	CHECK(ret < 0 && strstr(err, "not an address of this host"),
	      "foreign address: %d %s", ret, err);

	/* Two devices on one address and port: the second is refused. */
	ret = pick_free_loopback(addr, sizeof(addr));
	CHECK(ret == 0, "a free address in 127.0.0.200-250");
	setenv("SOFTHCA_ADDR", addr, 1);
	setenv("SOFTHCA_MTU", "1024", 1);
	ret = ret ? ret : open_one(&d, err, sizeof(err));
	CHECK(ret == 0, "open on %s: %s", addr, err);
	if (!ret) {
		struct uh_dev *d2 = NULL;

		CHECK(uh_dev_config(d)->mtu == 1024, "SOFTHCA_MTU caps the MTU");
		CHECK(open_one(&d2, err, sizeof(err)) == -EADDRINUSE && strstr(err, addr),
		      "address in use: %s", err);
		uh_dev_close(d);
	}
	unsetenv("SOFTHCA_ADDR");
	unsetenv("SOFTHCA_MTU");

	if (!find_ipv4_netdev(ifname, sizeof(ifname), &ifmtu)) {
		fprintf(stderr, "NOT RUN: no IPv4 network interface but loopback\n");
		not_run++;
		return;
	}
	setenv("SOFTHCA_NETDEV", ifname, 1);
	ret = open_one(&d, err, sizeof(err));
	unsetenv("SOFTHCA_NETDEV");
	if (ret == -EADDRINUSE) {
		fprintf(stderr, "NOT RUN: %s\n", err);
		not_run++;
		return;
	}
	CHECK(ret == 0, "open on %s: %s", ifname, err);
	if (ret)
		return;
	want = 4096;
	while (want >= 256 && want + 80 > ifmtu)
		want /= 2;
	CHECK(uh_dev_config(d)->mtu == want, "%s MTU %u gives IB MTU %u, want %u", ifname, ifmtu,
	      uh_dev_config(d)->mtu, want);
	printf("   %s: MTU %u -> IB MTU %u\n", ifname, ifmtu, uh_dev_config(d)->mtu);
	uh_dev_close(d);
}

static bool find_global_ipv6(char *out, size_t len)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs))
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		const struct sockaddr_in6 *a = (const void *)i->ifa_addr;

		if (!a || a->sin6_family != AF_INET6 || IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
		    IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || !(i->ifa_flags & IFF_UP))
			continue;
		found = inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)len) != NULL;
	}
	freeifaddrs(ifs);
	return found;
}

/* ---- garbage on the wire --------------------------------------------------------- */

static void send_raw(int fd, const struct sockaddr_storage *to, const void *p, size_t n)
{
	socklen_t len = to->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
		sizeof(struct sockaddr_in6);

	CHECK(sendto(fd, p, n, 0, (const struct sockaddr *)to, len) == (ssize_t)n,
	      "garbage sendto: %s", strerror(errno));
}

static int test_garbage(void)
{
	const struct uh_config *bc = uh_dev_config(B.dev);
	struct emu_counters before, after;
	struct uh_net_stats ns0, ns1;
	uint8_t pkt[9000];
	uint64_t end;
	int fd, sent = 0;
	uint32_t qpn = emu_qp_num(B.qp->emu);

	uh_lock(B.dev);
	emu_dev_counters(uh_emu(B.dev), &before);
	uh_unlock(B.dev);
	uh_net_stats(B.dev, &ns0);
	fd = socket(bc->addr.ss_family, SOCK_DGRAM, 0);
	REQUIRE(fd >= 0, "plain UDP socket");
	send_raw(fd, &bc->addr, pkt, 0), sent++;
	memset(pkt, 0x04, 8);
	send_raw(fd, &bc->addr, pkt, 1), sent++;
	send_raw(fd, &bc->addr, pkt, 8), sent++;            /* a truncated BTH */
	for (int i = 0; i < 10; i++) {
		fill(pkt, 64 + i, 100 + (uint32_t)i);
		send_raw(fd, &bc->addr, pkt, 64 + (size_t)i), sent++;
	}
	/* A well-formed RC SEND ONLY to B's QP with a wrong ICRC. */
	memset(pkt, 0, 64);
	pkt[0] = 0x04;
	pkt[2] = 0xff;
	pkt[3] = 0xff;
	pkt[5] = (uint8_t)(qpn >> 16);
	pkt[6] = (uint8_t)(qpn >> 8);
	pkt[7] = (uint8_t)qpn;
	pkt[11] = 100;
	fill(pkt + 12, 52, 5);
	send_raw(fd, &bc->addr, pkt, 64), sent++;
	/* Bigger than any RoCEv2 packet: the network layer cannot take it whole. */
	fill(pkt, sizeof(pkt), 6);
	send_raw(fd, &bc->addr, pkt, sizeof(pkt));
	close(fd);

	end = now_ns() + WAIT_NS;
	do {
		progress_all();
		usleep(1000);
		uh_net_stats(B.dev, &ns1);
	} while ((ns1.rx_datagrams - ns0.rx_datagrams < (uint64_t)sent ||
		  ns1.rx_short == ns0.rx_short) && now_ns() < end);
	uh_lock(B.dev);
	emu_dev_counters(uh_emu(B.dev), &after);
	uh_unlock(B.dev);
	CHECK(ns1.rx_datagrams - ns0.rx_datagrams == (uint64_t)sent,
	      "datagrams handed to the engine: %" PRIu64 " of %d",
	      ns1.rx_datagrams - ns0.rx_datagrams, sent);
	CHECK(ns1.rx_short - ns0.rx_short == 1, "oversized datagram counted as rx_short");
	CHECK(after.rx_drops - before.rx_drops == (uint64_t)sent,
	      "engine dropped %" PRIu64 " of %d garbage datagrams",
	      after.rx_drops - before.rx_drops, sent);
	CHECK(after.drops[EMU_DROP_SHORT] - before.drops[EMU_DROP_SHORT] >= 3,
	      "short drops %" PRIu64, after.drops[EMU_DROP_SHORT] - before.drops[EMU_DROP_SHORT]);
	CHECK(after.drops[EMU_DROP_ICRC] - before.drops[EMU_DROP_ICRC] >= 1,
	      "ICRC drops %" PRIu64, after.drops[EMU_DROP_ICRC] - before.drops[EMU_DROP_ICRC]);
	CHECK(after.drops[EMU_DROP_ICRC] == before.drops[EMU_DROP_ICRC] +
	      (after.rx_drops - before.rx_drops) - (after.drops[EMU_DROP_SHORT] -
	      before.drops[EMU_DROP_SHORT]) - (after.drops[EMU_DROP_OPCODE] -
	      before.drops[EMU_DROP_OPCODE]) - (after.drops[EMU_DROP_VERSION] -
	      before.drops[EMU_DROP_VERSION]) - (after.drops[EMU_DROP_PAD] -
	      before.drops[EMU_DROP_PAD]) - (after.drops[EMU_DROP_LENGTH] -
	      before.drops[EMU_DROP_LENGTH]), "garbage is dropped before the QP checks");
	/* Real traffic is unharmed. */
	return test_send();
}

/* ---- the ICRC correction of net.c against the engine's own ICRC ------------------ */

static uint32_t test_zcrc(uint32_t crc, const void *buf, size_t len)
{
	return (uint32_t)crc32(crc, buf, (uInt)len);
}

static void test_icrc_delta(void)
{
	struct emu_host_ops ops = { .crc32 = test_zcrc };
	struct emu_netinfo ni;
	uint8_t pkt[5000];

	for (size_t len = 16; len <= sizeof(pkt); len = len * 3 / 2 + 1) {
		uint32_t a, b, want;

		fill(pkt, len, (uint32_t)len);
		memset(&ni, 0, sizeof(ni));
		ni.ip_version = (len & 1) ? 4 : 6;
		ni.frag_off = 0x4000;
		ni.udp_sport = (uint16_t)(0xc000 | len);
		ni.udp_dport = 4791;
		ni.src[15] = 1;
		ni.dst[15] = 2;
		a = emu_icrc_compute(&ops, &ni, pkt, len);
		ni.udp_sport = 4791;
		ni.udp_dport = 5000;
		want = emu_icrc_compute(&ops, &ni, pkt, len);
		b = a ^ uh_net_icrc_port_delta((uint16_t)(0xc000 | len), 4791, 4791, 5000, len);
		CHECK(b == want, "ICRC port correction, len %zu: %08x want %08x", len, b, want);
	}
}

/* ---- configuration --------------------------------------------------------------- */

static void expect_env_error(const char *var, const char *value, const char *want)
{
	struct uh_config cfg;
	char err[256] = "";

	setenv(var, value, 1);
	CHECK(uh_config_from_env(&cfg, err, sizeof(err)) == -1 && strstr(err, want),
	      "%s=%s: got \"%s\", want \"%s\"", var, value, err, want);
	unsetenv(var);
}

static void test_config(void)
{
	struct uh_config cfg;
	char err[256];

	expect_env_error("SOFTHCA_MTU", "1000",
			 "SOFTHCA_MTU=1000: not one of 256, 512, 1024, 2048, 4096");
	expect_env_error("SOFTHCA_MTU", "8192", "SOFTHCA_MTU=8192");
	expect_env_error("SOFTHCA_PORT", "0", "SOFTHCA_PORT=0: not a UDP port");
	expect_env_error("SOFTHCA_PORT", "65536", "SOFTHCA_PORT=65536");
	expect_env_error("SOFTHCA_PORT", "47x", "SOFTHCA_PORT=47x");
	expect_env_error("SOFTHCA_NAME", "bad name", "SOFTHCA_NAME=bad name");
	expect_env_error("SOFTHCA_ADDR", "300.1.1.1", "SOFTHCA_ADDR=300.1.1.1: not an IPv4 or IPv6");
	expect_env_error("SOFTHCA_SEED", "-1", "SOFTHCA_SEED=-1");
	expect_env_error("SOFTHCA_SEED", "0x", "SOFTHCA_SEED=0x");
	expect_env_error("SOFTHCA_ABI", "3", "SOFTHCA_ABI=3: not 1 or 2");
	expect_env_error("SOFTHCA_PROGRESS_THREAD", "yes", "SOFTHCA_PROGRESS_THREAD=yes");
	setenv("SOFTHCA_NETDEV", "lo", 1);
	expect_env_error("SOFTHCA_ADDR", "127.0.0.9", "both set");
	unsetenv("SOFTHCA_NETDEV");

	setenv("SOFTHCA_SEED", "0xDEADbeef00000001", 1);
	setenv("SOFTHCA_ADDR", "fd00::5", 1);
	setenv("SOFTHCA_MTU", "2048", 1);
	setenv("SOFTHCA_NAME", "sh_test-1", 1);
	CHECK(uh_config_from_env(&cfg, err, sizeof(err)) == 0, "good config: %s", err);
	CHECK(cfg.seed == 0xdeadbeef00000001ull, "hex seed");
	CHECK(cfg.addr_set && cfg.addr.ss_family == AF_INET6, "IPv6 address");
	CHECK(cfg.mtu == 2048 && !strcmp(cfg.name, "sh_test-1") && cfg.port == 4791 &&
	      cfg.abi_version == 2, "values and defaults");
	setenv("SOFTHCA_ADDR", "::ffff:127.0.0.7", 1);
	CHECK(uh_config_from_env(&cfg, err, sizeof(err)) == 0 && cfg.addr.ss_family == AF_INET,
	      "IPv4-mapped literal taken as IPv4");
	unsetenv("SOFTHCA_SEED");
	unsetenv("SOFTHCA_ADDR");
	unsetenv("SOFTHCA_MTU");
	unsetenv("SOFTHCA_NAME");
}

/* ---- capture --------------------------------------------------------------------- */

static bool have_tool(const char *cmd)
{
	char line[256];

	snprintf(line, sizeof(line), "%s -v >/dev/null 2>&1", cmd);
	return system(line) == 0;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Read a capture with libpcap and check every RoCEv2 datagram the devices sent
 * (UDP source port 4791): its ICRC, computed by the engine over the IP and UDP
 * headers as captured, is right; over IPv4, DF is set and the identification is
 * 0 (what the receiving engine assumes). Returns the number of such datagrams.
 */
/* from_a, from_b: when not NULL, count only datagrams from these GIDs; a live
 * capture of lo also holds other programs' RoCEv2 traffic (tests running
 * alongside), which is not ours to judge. */
static uint64_t verify_frames(const char *path, bool need_id0, const uint8_t *from_a,
			      const uint8_t *from_b)
{
	struct emu_host_ops ops = { .crc32 = test_zcrc };
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const uint8_t *f;
	uint64_t ours = 0, bad_icrc = 0, bad_ip = 0;
	pcap_t *pc = pcap_open_offline(path, errbuf);
	int r;

	if (!pc) {
		CHECK(0, "open capture %s: %s", path, errbuf);
		return 0;
	}
	CHECK(pcap_datalink(pc) == DLT_EN10MB, "capture link type %d", pcap_datalink(pc));
	while ((r = pcap_next_ex(pc, &h, &f)) == 1) {
		struct emu_netinfo ni;
		const uint8_t *ip = f + 14, *udp;
		size_t len;

		memset(&ni, 0, sizeof(ni));
		if (h->caplen >= 14 + 20 + 8 && be16(f + 12) == 0x0800 && ip[9] == 17) {
			udp = ip + (ip[0] & 0x0f) * 4;
			ni.ip_version = 4;
			ni.tos = ip[1];
			ni.ttl = ip[8];
			ni.ip_id = be16(ip + 4);
			ni.frag_off = be16(ip + 6);
			emu_gid_from_ipv4(ni.src, ip + 12);
			emu_gid_from_ipv4(ni.dst, ip + 16);
		} else if (h->caplen >= 14 + 40 + 8 && be16(f + 12) == 0x86dd && ip[6] == 17) {
			udp = ip + 40;
			ni.ip_version = 6;
			ni.ttl = ip[7];
			memcpy(ni.src, ip + 8, 16);
			memcpy(ni.dst, ip + 24, 16);
		} else {
			continue;
		}
		if (be16(udp) != TEST_PORT)
			continue;
		if (from_a && memcmp(ni.src, from_a, 16) && memcmp(ni.src, from_b, 16))
			continue;
		len = be16(udp + 4) - 8u;
		if (udp + 8 + len > f + h->caplen)
			continue;
		ni.udp_sport = be16(udp);
		ni.udp_dport = be16(udp + 2);
		ours++;
		if (!emu_icrc_check(&ops, &ni, udp + 8, len))
			bad_icrc++;
		if (ni.ip_version == 4 && (ni.frag_off != 0x4000 || (need_id0 && ni.ip_id != 0)))
			bad_ip++;
	}
	pcap_close(pc);
	CHECK(bad_icrc == 0, "%s: %" PRIu64 " of %" PRIu64 " datagrams with a wrong ICRC", path,
	      bad_icrc, ours);
	CHECK(bad_ip == 0, "%s: %" PRIu64 " of %" PRIu64 " datagrams without DF or with IP ID != 0",
	      path, bad_ip, ours);
	return ours;
}

/* Every packet of A's capture decodes in tshark as RoCEv2 with an opcode and a
 * PSN, none malformed, the IPv4 header checksum is right, and the opcodes this
 * run sent are all there. */
static void check_pcap(const char *path, uint64_t want_packets, bool v6)
{
	static const unsigned want_ops[] = {
		0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		0x11, 0x12, 0x13, 0x14,
	};
	bool seen[sizeof(want_ops) / sizeof(want_ops[0])] = { false };
	char cmd[1024], line[512];
	uint64_t n = 0, bad = 0;
	FILE *p;

	CHECK(verify_frames(path, true, NULL, NULL) == want_packets, "frames in %s", path);
	if (!have_tool("tshark")) {
		fprintf(stderr, "NOT RUN: tshark is not installed, capture not decoded\n");
		not_run++;
		return;
	}
	/* The header checksum that must be right: IPv4's, or UDP's over IPv6. */
	snprintf(cmd, sizeof(cmd), "tshark -r '%s' -o ip.check_checksum:TRUE "
		 "-o udp.check_checksum:TRUE -T fields -E separator=, -E 'aggregator=;' "
		 "-e infiniband.bth.opcode -e infiniband.bth.psn -e %s -e _ws.malformed "
		 "-e _ws.expert.severity 2>/dev/null", path,
		 v6 ? "udp.checksum.status" : "ip.checksum.status");
	p = popen(cmd, "r");
	if (!p) {
		CHECK(0, "popen tshark");
		return;
	}
	while (fgets(line, sizeof(line), p)) {
		char *rest = line, *f[5];

		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < 5; i++)
			f[i] = strsep(&rest, ",");
		n++;
		if (!f[4] || !*f[0] || !*f[1] || strcmp(f[2], "1") || *f[3]) {
			if (bad++ < 5)
				fprintf(stderr, "  tshark: \"%s\"\n", line);
			continue;
		}
		for (size_t i = 0; i < sizeof(want_ops) / sizeof(want_ops[0]); i++)
			if (strtoul(f[0], NULL, 10) == want_ops[i])
				seen[i] = true;
	}
	CHECK(pclose(p) == 0, "tshark ran");
	CHECK(n == want_packets, "tshark read %" PRIu64 " packets, want %" PRIu64, n,
	      want_packets);
	CHECK(bad == 0, "%" PRIu64 " packets not decoded as good RoCEv2", bad);
	for (size_t i = 0; i < sizeof(want_ops) / sizeof(want_ops[0]); i++)
		CHECK(seen[i], "opcode 0x%02x in the capture", want_ops[i]);
}

/* A capture of the loopback interface itself, by dumpcap: what the kernel
 * really sent. */
struct live {
	pid_t pid;
	char path[256];
};

static bool live_start(struct live *lv)
{
	char log[300], line[512] = "";
	uint64_t end;
	bool started = false;
	int fd;

	lv->pid = -1;
	if (!have_tool("dumpcap")) {
		fprintf(stderr, "NOT RUN: dumpcap is not installed, no live capture\n");
		not_run++;
		return false;
	}
	snprintf(lv->path, sizeof(lv->path), "/tmp/test_uhost.%d.live.pcap", (int)getpid());
	snprintf(log, sizeof(log), "%s.log", lv->path);
	fd = open(log, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	lv->pid = fork();
	if (lv->pid == 0) {
		/* Never outlive the test, even one killed by a timeout. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 2);
		execlp("dumpcap", "dumpcap", "-P", "-a", "duration:300", "-i", "lo", "-f", "udp",
		       "-w", lv->path, (char *)NULL);
		_exit(127);
	}
	close(fd);
	/* dumpcap says so once the capture is open. */
	for (end = now_ns() + 5000000000ull; lv->pid > 0 && !started && now_ns() < end;) {
		FILE *f = fopen(log, "r");

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "Capturing on"))
				started = true;
		if (f)
			fclose(f);
		if (!started && waitpid(lv->pid, NULL, WNOHANG) != 0)
			break;
		usleep(10000);
	}
	remove(log);
	/* It says so a little before packets really flow into the capture. */
	if (started)
		usleep(1000000);
	if (!started) {
		fprintf(stderr, "NOT RUN: dumpcap cannot capture on lo here (%s)\n", line);
		not_run++;
		if (lv->pid > 0) {
			kill(lv->pid, SIGKILL);
			waitpid(lv->pid, NULL, 0);
		}
		lv->pid = -1;
		return false;
	}
	return true;
}

static void live_stop(struct live *lv, uint64_t min_packets, const uint8_t *gid_a,
		      const uint8_t *gid_b)
{
	int status;
	uint64_t got;

	if (lv->pid <= 0)
		return;
	/* The kernel hands captured packets over in blocks, at the latest after the
	 * block timeout (1 s): dumpcap stopped earlier would write none. */
	usleep(1500000);
	kill(lv->pid, SIGINT);
	waitpid(lv->pid, &status, 0);
	/* Every captured frame of ours must be right (verify_frames); a capture
	 * on a loaded machine may miss some (dumpcap's buffer, its start-up), so
	 * the count only has to show the devices' traffic was seen at all. */
	got = verify_frames(lv->path, true, gid_a, gid_b);
	printf("   live capture on lo: %" PRIu64 " datagrams of the two devices (A sent %" PRIu64 ")\n", got,
	       min_packets);
	CHECK(got > 0 && min_packets > 0, "live capture holds %" PRIu64 " of the devices' "
	      "datagrams (A sent %" PRIu64 ")", got, min_packets);
	if (got > 0)
		remove(lv->path);
}

/* ---- a simple loop for numbers --------------------------------------------------- */

static void print_counters(const char *who, struct side *s)
{
	struct emu_counters c;

	uh_lock(s->dev);
	emu_dev_counters(uh_emu(s->dev), &c);
	uh_unlock(s->dev);
	printf("   %s: tx %" PRIu64 " rx %" PRIu64 " retransmits %" PRIu64 " timeouts %" PRIu64
	       " seq_errors %" PRIu64 " naks %" PRIu64 "/%" PRIu64 " drops %" PRIu64 "\n", who,
	       c.tx_packets, c.rx_packets, c.retransmits, c.timeouts, c.seq_errors, c.tx_naks,
	       c.rx_naks, c.rx_drops);
}

static bool bench_take(struct softhca_cqe *c)
{
	uint64_t end = now_ns() + WAIT_NS;

	while (!cq_take(A.cq, &A.cq_cons, c)) {
		progress_all();
		if (now_ns() > end)
			return false;
	}
	return c->status == 0;
}

/* RDMA WRITEs of size bytes, depth in flight, on a 4096-MTU QP pair. */
static void bench_bw(struct uh_qp *qa, int which, uint32_t size, uint32_t depth, uint32_t total)
{
	struct softhca_send_wqe w;
	struct softhca_sge g;
	struct softhca_cqe c;
	uint32_t posted = 0, done = 0;
	uint64_t t0, t1;

	(void)qa;
	memset(&w, 0, sizeof(w));
	w.opcode = EMU_WR_RDMA_WRITE;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	w.wr.rdma.remote_addr = (uint64_t)(uintptr_t)(B.buf + 0x80000);
	w.wr.rdma.rkey = emu_mr_rkey(B.mr);
	g = sge_of(&A, 0, size);
	t0 = now_ns();
	while (done < total) {
		while (posted < total && posted - done < depth) {
			w.wr_id = posted++;
			post_send(&A, which, &w, &g, sizeof(g));
		}
		if (!bench_take(&c)) {
			fprintf(stderr, "bench: stuck or failed at %u of %u (status %u)\n", done,
				total, c.status);
			return;
		}
		done++;
	}
	t1 = now_ns();
	printf("   bench: RDMA WRITE %u x %u B, depth %u: %.1f MB/s, %.0f msg/s\n", total, size,
	       depth, (double)total * size / ((double)(t1 - t0) / 1e9) / 1e6,
	       (double)total / ((double)(t1 - t0) / 1e9));
}

static void bench(void)
{
	struct softhca_send_wqe w;
	struct softhca_sge g;
	struct softhca_cqe c;
	uint64_t t0, t1;
	int ret = 0;

	path_mtu = EMU_MTU_4096;
	ret |= make_qp(&A, EMU_QPT_RC, &A.qp2) | make_qp(&B, EMU_QPT_RC, &B.qp2);
	if (!ret)
		ret |= connect_rc(&A, A.qp2, &B, emu_qp_num(B.qp2->emu)) |
		       connect_rc(&B, B.qp2, &A, emu_qp_num(A.qp2->emu));
	path_mtu = EMU_MTU_1024;
	if (ret)
		return;
	for (int i = 0; i < 3; i++)
		bench_bw(A.qp2, 1, 65536, 32, 5000);
	for (int i = 0; i < 3; i++)
		bench_bw(A.qp2, 1, 64, 32, 100000);
	print_counters("A", &A);
	print_counters("B", &B);

	/* 8-byte WRITE round trips, one at a time. */
	memset(&w, 0, sizeof(w));
	w.opcode = EMU_WR_RDMA_WRITE;
	w.send_flags = EMU_SEND_SIGNALED;
	w.num_sge = 1;
	w.wr.rdma.remote_addr = (uint64_t)(uintptr_t)(B.buf + 0x80000);
	w.wr.rdma.rkey = emu_mr_rkey(B.mr);
	g = sge_of(&A, 0, 8);
	t0 = now_ns();
	for (uint32_t i = 0; i < 5000; i++) {
		w.wr_id = i;
		post_send(&A, 1, &w, &g, sizeof(g));
		if (!bench_take(&c))
			return;
	}
	t1 = now_ns();
	printf("   bench: 8 B RDMA WRITE completion round trip: %.1f us\n",
	       (double)(t1 - t0) / 5000 / 1000);
}

/* ---- one configuration ----------------------------------------------------------- */

/* Until A's traffic has stopped (late ACKs): the capture is then complete. */
static void wait_quiet(struct uh_net_stats *sa)
{
	struct uh_net_stats prev;

	uh_net_stats(A.dev, sa);
	do {
		prev = *sa;
		for (int i = 0; i < 100; i++) {
			progress_all();
			usleep(1000);
		}
		uh_net_stats(A.dev, sa);
	} while (sa->tx_datagrams != prev.tx_datagrams || sa->rx_datagrams != prev.rx_datagrams);
}

/* The UDP layer's switches: a bad value is an error naming it, a good one opens. */
static void test_net_switches(void)
{
	static const struct { const char *var, *value; bool ok; } cases[] = {
		{ "SOFTHCA_NET_RX", "bogus", false }, { "SOFTHCA_NET_RX", "uring", true },
		{ "SOFTHCA_NET_RX", "recvmmsg", true }, { "SOFTHCA_NET_GSO", "2", false },
		{ "SOFTHCA_NET_GRO", "yes", false },
	};
	char err[256], want[64];
	struct uh_dev *d;

	printf("== net switches\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		setenv(cases[i].var, cases[i].value, 1);
		err[0] = '\0';
		d = NULL;
		ret = open_one(&d, err, sizeof(err));
		snprintf(want, sizeof(want), "%s=%s", cases[i].var, cases[i].value);
		if (cases[i].ok)
			CHECK(ret == 0, "%s opens: %s", want, err);
		else
			CHECK(ret == -EINVAL && strstr(err, want), "%s refused: %d '%s'", want, ret,
			      err);
		uh_dev_close(d);
		unsetenv(cases[i].var);
	}
}

struct config {
	const char *label;
	bool uring, thread;
	bool leave;                /* close A with its objects alive */
	bool live;                 /* also capture lo with dumpcap */
	bool trace;                /* SOFTHCA_TRACE for both devices */
	const char *addr_a, *addr_b;   /* NULL: pick 127.0.0.N */
	bool uring_rx;             /* receives by io_uring too (SOFTHCA_NET_RX=uring) */
};

static void check_addresses(const struct config *c)
{
	const struct uh_config *ca = uh_dev_config(A.dev), *cb = uh_dev_config(B.dev);
	char ta[INET6_ADDRSTRLEN] = "", tb[INET6_ADDRSTRLEN] = "";
	const void *aa, *ab;
	uint16_t port;

	if (ca->addr.ss_family == AF_INET) {
		aa = &((const struct sockaddr_in *)&ca->addr)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)&ca->addr)->sin_port);
	} else {
		aa = &((const struct sockaddr_in6 *)&ca->addr)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)&ca->addr)->sin6_port);
	}
	ab = cb->addr.ss_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)&cb->addr)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)&cb->addr)->sin6_addr;
	inet_ntop(ca->addr.ss_family, aa, ta, sizeof(ta));
	inet_ntop(cb->addr.ss_family, ab, tb, sizeof(tb));
	printf("   A %s  B %s  port %u  mtu %u\n", ta, tb, ca->port, ca->mtu);
	CHECK(ca->port == TEST_PORT && port == TEST_PORT, "bound to port 4791");
	if (!c->addr_a) {
		CHECK(ca->addr.ss_family == AF_INET && !strncmp(ta, "127.0.0.", 8) &&
		      strcmp(ta, "127.0.0.1"), "A picked a loopback address 127.0.0.N, N >= 2: %s",
		      ta);
		CHECK(cb->addr.ss_family == AF_INET && !strncmp(tb, "127.0.0.", 8) && strcmp(ta, tb),
		      "B picked another one: %s", tb);
		CHECK(ca->mtu == 4096, "loopback MTU 4096, got %u", ca->mtu);
		CHECK(A.gid[10] == 0xff && A.gid[11] == 0xff && !memcmp(A.gid + 12, aa, 4),
		      "GID 0 is the IPv4-mapped address");
	} else {
		CHECK(!strcmp(ta, c->addr_a) && !strcmp(tb, c->addr_b), "bound where told");
		CHECK(ca->addr.ss_family != AF_INET6 || !memcmp(A.gid, aa, 16),
		      "GID 0 is the IPv6 address");
	}
}

static void check_trace(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned tx = 0, cqe = 0, other = 0;

	CHECK(f != NULL, "trace file %s", path);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned dev, qpn, psn;

		if (sscanf(line, "dev%u tx qpn=%u psn=%u", &dev, &qpn, &psn) == 3)
			tx++;
		else if (strstr(line, " cqe qpn="))
			cqe++;
		else if (strncmp(line, "dev", 3))
			other++;
	}
	fclose(f);
	CHECK(tx > 10 && cqe > 10 && other == 0, "trace: %u tx, %u cqe, %u odd lines", tx, cqe,
	      other);
}

static int run_config(const struct config *c, bool do_bench)
{
	char pa[256], pb[256], tr[256];
	struct uh_net_stats sa;
	struct live lv = { .pid = -1 };
	uint8_t gid_a[16], gid_b[16];
	int ret = 0, before = failures, urings;

	printf("== %s\n", c->label);
	if (c->uring)
		unsetenv("SOFTHCA_NET");
	else
		setenv("SOFTHCA_NET", "syscalls", 1);
	if (c->uring_rx)
		setenv("SOFTHCA_NET_RX", "uring", 1);
	else
		unsetenv("SOFTHCA_NET_RX");
	setenv("SOFTHCA_PROGRESS_THREAD", c->thread ? "1" : "0", 1);
	inline_progress = !c->thread;
	snprintf(pa, sizeof(pa), "/tmp/test_uhost.%d.%s.A.pcap", (int)getpid(), c->label);
	snprintf(pb, sizeof(pb), "/tmp/test_uhost.%d.%s.B.pcap", (int)getpid(), c->label);
	snprintf(tr, sizeof(tr), "/tmp/test_uhost.%d.%s.trace", (int)getpid(), c->label);
	if (c->trace)
		setenv("SOFTHCA_TRACE", tr, 1);
	/* On loopback a UDP_SEGMENT send crosses lo as one datagram (it is cut
	 * into its RoCEv2 packets only at a receiver): dumpcap on lo would see
	 * that, not the packets. The live capture checks the wire one by one. */
	if (c->live)
		setenv("SOFTHCA_NET_GSO", "0", 1);
	else
		unsetenv("SOFTHCA_NET_GSO");
	urings = count_uring_fds();
	if (c->addr_a)
		setenv("SOFTHCA_ADDR", c->addr_a, 1);
	/* No capture while measuring. */
	ret = open_side(&A, do_bench ? NULL : pa);
	if (c->addr_b)
		setenv("SOFTHCA_ADDR", c->addr_b, 1);
	if (!ret)
		ret = open_side(&B, do_bench ? NULL : pb);
	unsetenv("SOFTHCA_ADDR");
	unsetenv("SOFTHCA_TRACE");
	if (ret) {
		close_side(&B, false);
		close_side(&A, false);
		return -1;
	}
	/* With io_uring a send ring per device, and a receive ring with the
	 * multishot receive; none without: the back end is real. */
	urings = count_uring_fds() - urings;
	CHECK(urings == (c->uring ? (c->uring_rx ? 4 : 2) : 0), "%d io_uring descriptors", urings);
	/* Started once the devices hold their addresses: a default address may
	 * have been another program's a moment ago, and its packets are not ours
	 * to judge (dumpcap keeps no process, only addresses). */
	if (c->live)
		live_start(&lv);
	check_addresses(c);

	if (make_qp(&A, EMU_QPT_RC, &A.qp) || make_qp(&B, EMU_QPT_RC, &B.qp) ||
	    connect_rc(&A, A.qp, &B, emu_qp_num(B.qp->emu)) ||
	    connect_rc(&B, B.qp, &A, emu_qp_num(A.qp->emu)))
		ret = -1;
	if (!ret && do_bench)
		bench();
	else if (!ret)
		ret = test_send() | test_rdma() | test_channels() | test_garbage() | test_mw() |
		      test_srq() | test_burst() | test_ud() | test_bad_wqes() | test_cq_overflow();
	wait_quiet(&sa);
	printf("   A: tx %" PRIu64 " rx %" PRIu64 " tx_errors %" PRIu64 " rx_errors %" PRIu64 "\n",
	       sa.tx_datagrams, sa.rx_datagrams, sa.tx_errors, sa.rx_errors);
	CHECK(sa.tx_errors == 0 && sa.rx_errors == 0, "no network errors on A");
	memcpy(gid_a, A.gid, 16);      /* closing a side clears it */
	memcpy(gid_b, B.gid, 16);
	/* Multi-packet messages between loopback addresses leave as UDP_SEGMENT
	 * sends (check_pcap still finds every packet, one by one, on both sides). */
	if (!c->live && (!c->addr_a || !strncmp(c->addr_a, "127.", 4)))
		CHECK(sa.tx_sends < sa.tx_datagrams, "UDP_SEGMENT: %" PRIu64 " datagrams in %"
		      PRIu64 " sends", sa.tx_datagrams, sa.tx_sends);
	close_side(&B, false);
	close_side(&A, c->leave);
	live_stop(&lv, sa.tx_datagrams, gid_a, gid_b);
	if (!do_bench)
		check_pcap(pa, sa.tx_datagrams + sa.rx_datagrams, c->addr_a && strchr(c->addr_a, ':'));
	if (c->trace)
		check_trace(tr);
	remove(pa);
	remove(pb);
	remove(tr);
	printf("   %s\n", failures == before ? "ok" : "FAILED");
	return ret;
}

/* Can addr:4791 be bound right now (another test may hold it)? */
static bool addr_free(const char *addr)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	int fd, ret;

	memset(&a6, 0, sizeof(a6));
	memset(&a4, 0, sizeof(a4));
	if (inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons(TEST_PORT);
		fd = socket(AF_INET6, SOCK_DGRAM, 0);
		ret = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a6, sizeof(a6));
	} else {
		a4.sin_family = AF_INET;
		a4.sin_port = htons(TEST_PORT);
		inet_pton(AF_INET, addr, &a4.sin_addr);
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		ret = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a4, sizeof(a4));
	}
	if (fd >= 0)
		close(fd);
	return ret == 0;
}

int main(int argc, char **argv)
{
	bool do_bench = argc > 1 && !strcmp(argv[1], "--bench");
	static char v6[INET6_ADDRSTRLEN];
	const struct config configs[] = {
		{ "uring-thread", true, true, false, !do_bench, false, NULL, NULL, false },
		{ "uringrx-thread", true, true, false, false, false, NULL, NULL, true },
		{ "syscalls-thread", false, true, false, false, true, NULL, NULL, false },
		{ "uring-inline", true, false, true, false, false, NULL, NULL, false },
		{ "ipv6", true, true, false, false, false, "::1", v6, false },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	unsetenv("SOFTHCA_ADDR");
	unsetenv("SOFTHCA_NETDEV");
	unsetenv("SOFTHCA_PORT");
	unsetenv("SOFTHCA_MTU");
	unsetenv("SOFTHCA_TRACE");
	unsetenv("SOFTHCA_PCAP");
	if (!do_bench) {
		test_config();
		test_icrc_delta();
		test_addressing();
		test_net_switches();
	}
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		const char *only = getenv("TEST_UHOST_ONLY");

		if (only && strcmp(only, configs[i].label))
			continue;
		if (configs[i].addr_b == v6 && !find_global_ipv6(v6, sizeof(v6))) {
			fprintf(stderr, "NOT RUN: IPv6, no global IPv6 address on this host\n");
			not_run++;
			continue;
		}
		if (configs[i].addr_a && (!addr_free(configs[i].addr_a) ||
					  !addr_free(configs[i].addr_b))) {
			fprintf(stderr, "NOT RUN: %s, %s or %s port 4791 is taken\n",
				configs[i].label, configs[i].addr_a, configs[i].addr_b);
			not_run++;
			continue;
		}
		run_config(&configs[i], do_bench);
	}
	if (not_run)
		printf("%d check(s) not run\n", not_run);
	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}
