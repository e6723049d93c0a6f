/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/uhost.c - the process host of a user-mode softhca device
 * (see uhost.h): the engine's host operations, the device side of the rings, the
 * completion channels and async events, and the progress thread.
 *
 * What a process writes into a ring is read once into a local copy before it is
 * checked, and every index and size the host uses is its own copy: the rings are
 * shared with the provider's fast path, which the device does not trust (the
 * same code will face a process from the kernel).
 *
 * Progress: whoever holds the device lock drives the device. The progress thread
 * sleeps in the network layer until a datagram arrives, the engine's next timer
 * is due, or a lock holder kicks it because it armed an earlier timer; inline
 * progress (uh_progress) only tries the lock, since a holder is already driving.
 * While the program keeps calling uh_progress (it polls), the thread leaves the
 * datagrams to it and only keeps the timers: on a machine with few cores a
 * thread woken for every datagram would take the CPU from the poller.
 *
 * Every unlock flushes the datagrams the engine queued (one submission per
 * batch) and retries the WQEs left waiting in a ring: those the engine had no
 * room for yet, and those posted before the QP could take them.
 *
 * With --progress-signal the socket signals the program's polling thread
 * (SIGURG, F_SETOWN_EX) when a datagram arrives, and the signal handler drives
 * the device right there, on that thread's core: no other thread is woken. See
 * "signal-driven progress" below for what keeps the handler safe.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "emu/sim/crc32.h"
#include "net.h"
#include "odp.h"
#include "pcap.h"
#include "uhost.h"

_Static_assert(sizeof(struct softhca_sge) == sizeof(struct emu_sge) &&
	       offsetof(struct softhca_sge, addr) == offsetof(struct emu_sge, addr) &&
	       offsetof(struct softhca_sge, length) == offsetof(struct emu_sge, length) &&
	       offsetof(struct softhca_sge, lkey) == offsetof(struct emu_sge, lkey),
	       "ring SGEs are handed to the engine as they are");
_Static_assert(sizeof(struct softhca_send_wqe) == 64, "send WQE header is 64 bytes");
_Static_assert(sizeof(struct softhca_recv_wqe) == 16, "recv WQE header is 16 bytes");

#define CQE_STRIDE      64u
#define RING_ALIGN      4096u
#define RX_BUDGET       256u      /* datagrams per batch before tx is flushed */
#define RX_ROUNDS       16u       /* batches per progress call */
#define IDLE_WAIT_NS    100000000ll  /* the thread looks around at least this often */
#define POLLER_CHECK_NS 1000000ll    /* ... and this often while the program polls */
#define STANDBACK_NS    50000ll      /* the thread lets a polling lock holder take a datagram */
#define DEFER_MAX_NS    2000000ull   /* deferred datagrams leave after this at the
				      * latest (the thread looks every POLLER_CHECK_NS
				      * while the program polls: not kicked for them) */
#define DEFER_MAX_DGRAMS 64u         /* ... or at the doorbell that queues this many */
#define BURST_GAP_NS    50000ull     /* doorbells this close (no poll between) are a burst */
#define PROGRESS_SIGNAL SIGURG       /* ignored by default: harmless if it strays */
#define PROGRESS_THREAD_NAME "softhca-prog" /* as ps -L and gdb show it */
#define SIG_DEFERRED_EVENTS 256u     /* async events raised inside the handler */
#define SIG_FALLBACK_NS 1000000ll    /* the thread looks at the socket this often */
#define ACK_HOLD_NS     30000ull     /* an ACK waits this long at most for a reply */
#define ACK_TRUST       4u           /* ... once this many answers came in time */
#define ACK_NEED_MAX    1024u        /* ... or up to this many after holds ran out */
#define ACK_RECENT_NS   1000000ull   /* ... the last of them at most this long ago */
#define HANDLE_INDEX_BITS 20
#define HANDLE_INDEX_MASK ((1u << HANDLE_INDEX_BITS) - 1)
#define HANDLE_GEN_MASK   ((1u << (32 - HANDLE_INDEX_BITS)) - 1)
#define MR_BUCKETS      1024u
#define LOOPBACK_FIRST  2
#define LOOPBACK_LAST   254
#define ROCE_HDR_OVERHEAD 80u     /* IP, UDP, BTH and extended headers, ICRC */
#define SEND_WINDOW_MAX 128u      /* the engine's default RC send window (packets) */
#define SEND_WINDOW_MIN 16u       /* ... and the smallest the receive buffer may make it */

/* vendor_err of a WQE the device refused. */
enum uh_wqe_error {
	UH_VERR_OPCODE = 1,       /* unknown opcode */
	UH_VERR_SGE = 2,          /* more SGEs than the QP has, or than the stride holds */
	UH_VERR_INLINE = 3,       /* inline data too long */
	UH_VERR_HANDLE = 4,       /* an AH, MW or MR handle that names nothing */
	UH_VERR_ENGINE = 5,       /* the engine refused the work request */
};

/* ---- engine allocations: tracked, so that closing a device frees what a program
 * left behind (PDs, AHs, MWs are created by the verbs layer straight in the engine) */

struct uh_block {
	union {
		struct {
			struct uh_block *prev, *next;
		} l;
		max_align_t align;
	} u;
};

/* ---- queues behind a readable file descriptor ------------------------------------ */

/*
 * An eventfd that is readable exactly while the queue holds something: written
 * at every push (so edge-triggered epoll sees each one), drained when the queue
 * becomes empty.
 */
struct evq {
	pthread_mutex_t lock;
	int fd;
	bool signaled;
	uint8_t *items;
	size_t isize, head, count, cap;
};

struct chan_item {
	void *user;
	const void *cq;
};

struct uh_channel {
	struct evq q;
	uint32_t ncq;             /* CQs using the channel (under q.lock) */
	struct uh_dev *dev;       /* drives the device while waiting, if no thread does */
};

/* ---- objects --------------------------------------------------------------------- */

struct cq_priv {
	struct uh_cq pub;
	struct uh_dev *dev;
	uint8_t *entries;
	uint32_t size;            /* ring entries (own copy) */
	uint32_t prod;
	/* CQEs up to here were posted while the DMA layer held data: maybe before
	 * their data (CQE_FIRST). Their data must not land until they are polled. */
	uint32_t early_upto;
	bool armed, solicited_only;
	struct cq_priv *prev, *next;
};

struct qp_priv {
	struct uh_qp pub;
	struct uh_dev *dev;
	uint32_t type;
	uint32_t max_send_sge, max_inline, max_recv_sge;
	struct cq_priv *scq, *rcq;
	uint8_t *sq_entries, *rq_entries;
	uint32_t sq_size, sq_stride, sq_cons;
	uint32_t rq_size, rq_stride, rq_cons;
	bool sq_pending, rq_pending;     /* WQEs left in the ring, to retry */
	bool sq_broken, rq_broken;
	/* The RQ ring's published consumer index counts completed receive WQEs, not
	 * consumed ones: a WQE in the engine still occupies its ring slot, so the
	 * provider sees the queue as full as the verbs say it is. */
	uint32_t rq_done;
	struct srq_priv *srq;
	struct qp_priv *prev, *next;
};

struct srq_priv {
	struct uh_srq pub;
	struct uh_dev *dev;
	uint8_t *entries;
	uint32_t size, stride, cons, max_sge;
	uint32_t done;                   /* completed receive WQEs: the published cons */
	bool pending, broken;
	struct srq_priv *prev, *next;
};

struct mr_rec {
	uint8_t *addr;
	uint64_t len;
	uint64_t iova0;           /* the iova of addr */
	struct emu_mr *emu;
	struct emu_pd *pd;
	uint32_t lkey;
	struct odp_mr *odp;       /* on-demand paging: the device's view of the pages */
	bool writable;            /* the MR grants a write access (local or remote) */
	struct mr_rec *next;      /* hash chain */
	struct mr_rec *lkey_next; /* chain of the lkey hash (prefetch names MRs by lkey) */
};

struct handle_ent {
	uint32_t kind;            /* enum uh_handle_kind, 0 = free */
	uint32_t gen;
	void *obj;
	uint32_t next_free;       /* index + 1, 0 = end */
};

struct uh_dev {
	struct uh_config cfg;
	pthread_mutex_t lock;
	struct emu_host_ops ops;
	struct emu_dev *emu;
	struct uh_net *net;
	struct uh_pcap *pcap;
	FILE *trace;
	uint32_t dev_id;
	struct uh_block blocks;

	struct handle_ent *handles;
	uint32_t nhandles, handle_free;

	struct evq async;
	struct cq_priv *cqs;
	struct qp_priv *qps;
	struct srq_priv *srqs;
	struct mr_rec *mr_hash[MR_BUCKETS];
	struct mr_rec *lkey_hash[MR_BUCKETS];
	bool any_pending;

	struct odp_host *odp;     /* on-demand paging: the page model */

	pthread_t thread;
	bool thread_running;
	atomic_bool stop;
	atomic_uint_fast64_t next_deadline;  /* of the engine, after the last unlock */
	atomic_uint_fast64_t wait_deadline;  /* when the sleeping thread wakes; 0 = awake */
	atomic_uint_fast64_t inline_calls;   /* uh_progress calls: is someone polling? */
	atomic_uint_fast64_t poller_reads;   /* ... that took the lock and read the socket */
	bool doorbell;                       /* this lock section rang an SQ doorbell */
	uint32_t doorbells;                  /* SQ doorbells since the program polled */
	uint64_t doorbell_ns;                /* when the last one rang */
	uint64_t deferred_ns;                /* datagrams wait since (0: none wait) */
	/* Sticky: the DMA layer may hold data, so verbs calls are deferral points
	 * (false keeps the lock off the poll fast path under STRICT). */
	atomic_bool dma_watch;

	/* Signal-driven progress (--progress-signal); see that section. */
	bool sig_mode;                       /* asked for, and the handler installed */
	atomic_bool sig_unsafe;              /* the handler must stay out: something it
					      * must not do is in use, or the device closes */
	bool sig_forbidden;                  /* ... for the first reason (--stats) */
	atomic_bool sig_missed;              /* a signal found the device busy */
	atomic_int sig_owner;                /* the thread the socket signals; 0: none */
	int sig_slot;                        /* in signal_devs */
	atomic_bool poll_needed;             /* an empty poll has work: deferred sends,
					      * a doorbell's burst state to reset */
	uint32_t sig_nevents;                /* async events the handler left for later */
	uint64_t sig_served;                 /* handler runs that drove the device */
	uint64_t sig_rx;                     /* packets those runs took in */
	atomic_uint_fast64_t sig_busy;       /* handler runs that found the lock taken */
	struct emu_async_event sig_events[SIG_DEFERRED_EVENTS];

	/* ACK coalescing: ACKs held for the program's answer (see hold_acks). */
	uint64_t acks_held_ns;               /* ACKs wait in the send queue since (0: none) */
	bool hold_answered;                  /* ... and the answer came (it may be deferred) */
	uint64_t ack_answer_ns;              /* the last answer counted */
	atomic_bool holds_armed;             /* trust is up: holds may start (thread's naps) */
	uint64_t ack_sent_ns;                /* an ACK went or waits, not answered yet,
					      * since (0: none) */
	struct uh_ack_key ack_key;           /* ... to this peer QP */
	uint32_t ack_trust;                  /* answers that followed an ACK in time, in a row */
	uint32_t ack_need;                   /* ... needed before ACKs wait */
	atomic_uint_fast64_t hold_deadline;  /* held ACKs leave by then (UINT64_MAX: none) */
	uint64_t acks_held;                  /* receive batches whose ACKs waited (--stats) */
	uint64_t acks_held_late;             /* ... and no reply came in time */
};

/* This thread is inside the progress signal's handler. */
static __thread bool in_signal_progress;

/* ---- small helpers --------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

static uint32_t round_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

static void *ring_alloc(uint32_t size, uint32_t stride)
{
	uint64_t bytes = softhca_ring_bytes(size, stride);
	struct softhca_ring_hdr *h;

	if (bytes > SIZE_MAX || posix_memalign((void **)&h, RING_ALIGN, (size_t)bytes))
		return NULL;
	memset(h, 0, (size_t)bytes);
	h->size = size;
	h->stride = stride;
	return h;
}

static uint8_t *ring_entries(struct softhca_ring_hdr *h)
{
	return (uint8_t *)(h + 1);
}

static void ring_mark_broken(struct softhca_ring_hdr *h)
{
	__atomic_fetch_or(&h->flags, SOFTHCA_RING_BROKEN, __ATOMIC_RELEASE);
}

static int errmsg(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int errmsg(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* ---- evq ------------------------------------------------------------------------- */

/* The queue can be finished (evq_fini) whether this succeeds or not. */
static int evq_init(struct evq *q, size_t isize)
{
	memset(q, 0, sizeof(*q));
	q->isize = isize;
	pthread_mutex_init(&q->lock, NULL);
	q->fd = eventfd(0, EFD_CLOEXEC);
	return q->fd < 0 ? -errno : 0;
}

static void evq_fini(struct evq *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->items);
	q->items = NULL;
	pthread_mutex_destroy(&q->lock);
}

static bool evq_grow(struct evq *q)
{
	size_t cap = q->cap ? q->cap * 2 : 16;
	uint8_t *items = malloc(cap * q->isize);

	if (!items)
		return false;
	for (size_t i = 0; i < q->count; i++)
		memcpy(items + i * q->isize, q->items + ((q->head + i) % q->cap) * q->isize,
		       q->isize);
	free(q->items);
	q->items = items;
	q->cap = cap;
	q->head = 0;
	return true;
}

static void evq_drain_fd(struct evq *q)
{
	struct pollfd p = { .fd = q->fd, .events = POLLIN };
	uint64_t v;

	/* Readable unless the program read the descriptor itself: never block here. */
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
		(void)!read(q->fd, &v, sizeof(v));
	q->signaled = false;
}

static bool evq_push(struct evq *q, const void *item)
{
	uint64_t one = 1;
	bool ok = true;

	pthread_mutex_lock(&q->lock);
	if (q->count == q->cap && !evq_grow(q)) {
		ok = false;
	} else {
		memcpy(q->items + ((q->head + q->count) % q->cap) * q->isize, item, q->isize);
		q->count++;
		(void)!write(q->fd, &one, sizeof(one));
		q->signaled = true;
	}
	pthread_mutex_unlock(&q->lock);
	return ok;
}

static bool evq_pop(struct evq *q, void *item)
{
	bool got = false;

	pthread_mutex_lock(&q->lock);
	if (q->count) {
		memcpy(item, q->items + q->head * q->isize, q->isize);
		q->head = (q->head + 1) % q->cap;
		q->count--;
		got = true;
		if (!q->count && q->signaled)
			evq_drain_fd(q);
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

/* Drop the channel events of one CQ (it is being destroyed). */
static void chan_forget_cq(struct uh_channel *ch, const void *cq)
{
	struct evq *q = &ch->q;
	size_t kept = 0;

	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->count; i++) {
		struct chan_item it;

		memcpy(&it, q->items + ((q->head + i) % q->cap) * q->isize, sizeof(it));
		if (it.cq == cq)
			continue;
		memcpy(q->items + ((q->head + kept) % q->cap) * q->isize, &it, sizeof(it));
		kept++;
	}
	q->count = kept;
	if (!q->count && q->signaled)
		evq_drain_fd(q);
	pthread_mutex_unlock(&q->lock);
}

/* Drop the queued async events naming one object (it is being destroyed): the
 * program must never be handed a pointer to freed memory. */
static void async_forget(struct evq *q, const void *user)
{
	size_t kept = 0;

	if (!user)
		return;
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < q->count; i++) {
		struct emu_async_event ev;

		memcpy(&ev, q->items + ((q->head + i) % q->cap) * q->isize, sizeof(ev));
		if (ev.cookie == user)
			continue;
		memcpy(q->items + ((q->head + kept) % q->cap) * q->isize, &ev, sizeof(ev));
		kept++;
	}
	q->count = kept;
	if (!q->count && q->signaled)
		evq_drain_fd(q);
	pthread_mutex_unlock(&q->lock);
}

/* ---- engine memory --------------------------------------------------------------- */

static void *host_alloc(void *host, size_t size)
{
	struct uh_dev *d = host;
	struct uh_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = calloc(1, sizeof(*b) + size);
	if (!b)
		return NULL;
	b->u.l.next = d->blocks.u.l.next;
	b->u.l.prev = &d->blocks;
	d->blocks.u.l.next->u.l.prev = b;
	d->blocks.u.l.next = b;
	return b + 1;
}

static void host_free(void *host, void *ptr)
{
	struct uh_block *b;

	(void)host;
	if (!ptr)
		return;
	b = (struct uh_block *)ptr - 1;
	b->u.l.prev->u.l.next = b->u.l.next;
	b->u.l.next->u.l.prev = b->u.l.prev;
	free(b);
}

static void free_all_blocks(struct uh_dev *d)
{
	while (d->blocks.u.l.next != &d->blocks)
		host_free(d, d->blocks.u.l.next + 1);
}

static void host_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}

static uint64_t host_now_ns(void *host)
{
	(void)host;
	return mono_ns();
}

static void *host_tx_buf(void *host, size_t len)
{
	struct uh_dev *d = host;

	return uh_net_tx_buf(d->net, len);
}

static void host_tx(void *host, const struct emu_netinfo *ni, void *buf, size_t len)
{
	struct uh_dev *d = host;

	uh_net_tx(d->net, ni, buf, len);
}

static void host_tx_abort(void *host, void *buf)
{
	struct uh_dev *d = host;

	uh_net_tx_abort(d->net, buf);
}

/* The process address of iova in mr (integer arithmetic: an implicit ODP MR has
 * addr NULL and covers the whole address space). */
static uintptr_t mr_addr_of(const struct mr_rec *mr, uint64_t iova)
{
	return (uintptr_t)mr->addr + (uintptr_t)(iova - mr->iova0);
}

static long host_mr_map(void *host, void *mr_cookie, uint64_t iova, uint64_t len, bool write,
			void **ptr)
{
	struct uh_dev *d = host;
	const struct mr_rec *mr = mr_cookie;
	uint64_t off, avail;
	long got;

	if (!len)
		return -EINVAL;
	if (iova < mr->iova0 || iova - mr->iova0 >= mr->len)
		return -EFAULT;
	off = iova - mr->iova0;
	avail = mr->len - off < len ? mr->len - off : len;
	if (avail > (uint64_t)LONG_MAX)
		avail = (uint64_t)LONG_MAX;
	if (!mr->odp) {
		*ptr = mr->addr + off;
		return (long)avail;
	}
	got = odp_map(d->odp, mr->odp, mr_addr_of(mr, iova), avail, write);
	if (got > 0)
		*ptr = (void *)mr_addr_of(mr, iova);
	return got;
}

/* The engine met an absent ODP page: queue its resolution (progress_locked). */
static void host_fault(void *host, void *mr_cookie, uint64_t iova, uint64_t len, bool write)
{
	struct uh_dev *d = host;
	const struct mr_rec *mr = mr_cookie;
	uint64_t off, avail;

	if (!mr->odp || !len || iova < mr->iova0 || iova - mr->iova0 >= mr->len)
		return;
	off = iova - mr->iova0;
	avail = mr->len - off < len ? mr->len - off : len;
	odp_fault(d->odp, mr->odp, mr_addr_of(mr, iova), avail, write, mono_ns());
}

/* ---- completions ----------------------------------------------------------------- */

static void host_async_event(void *host, const struct emu_async_event *ev);

static void fill_cqe(struct softhca_cqe *e, const struct emu_wc *wc)
{
	memset(e, 0, sizeof(*e));
	e->wr_id = wc->wr_id;
	e->status = wc->status;
	e->opcode = wc->opcode;
	e->vendor_err = wc->vendor_err;
	e->byte_len = wc->byte_len;
	if (wc->wc_flags & EMU_WC_WITH_INV)
		e->imm_data = wc->invalidated_rkey;
	else if (wc->wc_flags & EMU_WC_WITH_IMM)
		e->imm_data = htonl(wc->imm_data);
	e->qp_num = wc->qp_num;
	e->src_qp = wc->src_qp;
	e->wc_flags = wc->wc_flags;
	e->pkey_index = wc->pkey_index;
	e->sl = wc->sl;
}

static void cq_fire(struct cq_priv *cq)
{
	struct chan_item it = { cq->pub.user, cq };

	cq->armed = false;
	if (cq->pub.channel)
		(void)evq_push(&cq->pub.channel->q, &it);
}

static int cq_write(struct cq_priv *cq, const struct emu_wc *wc, bool solicited)
{
	uint32_t cons = __atomic_load_n(&cq->pub.ring->cons, __ATOMIC_ACQUIRE);
	struct softhca_cqe cqe;

	if (cq->prod - cons >= cq->size)
		return -ENOSPC;
	fill_cqe(&cqe, wc);
	memcpy(cq->entries + (size_t)(cq->prod & (cq->size - 1)) * CQE_STRIDE, &cqe, sizeof(cqe));
	cq->prod++;
	__atomic_store_n(&cq->pub.ring->prod, cq->prod, __ATOMIC_RELEASE);
	if (cq->armed && (!cq->solicited_only || solicited || wc->status != EMU_WC_SUCCESS))
		cq_fire(cq);
	return 0;
}

/* A receive WQE completed (or was flushed): its ring slot is free now. */
static void recv_slot_done(const struct emu_wc *wc)
{
	struct qp_priv *qp = wc->qp_cookie;

	if (!(wc->opcode & EMU_WC_RECV) || !qp)
		return;
	if (qp->srq) {
		qp->srq->done++;
		__atomic_store_n(&qp->srq->pub.rq->cons, qp->srq->done, __ATOMIC_RELEASE);
	} else if (qp->pub.rq) {
		qp->rq_done++;
		__atomic_store_n(&qp->pub.rq->cons, qp->rq_done, __ATOMIC_RELEASE);
	}
}

static int host_cq_post(void *host, void *cq_cookie, const struct emu_wc *wc, bool solicited)
{
	struct uh_dev *d = host;
	struct cq_priv *cq = cq_cookie;
	int ret;

	/* The receive slot is freed before the CQE is published: a program that
	 * polls this CQE and at once posts a receive in its place (ib_send_bw keeps
	 * the RQ full this way) must find the room, whatever thread we run on. */
	recv_slot_done(wc);
	ret = cq_write(cq, wc, solicited);
	/* Set here, inside the lock holder's section, so that the program's very
	 * next verbs call after polling this CQE sees it. */
	if (!ret && emu_dev_dma_held(d->emu)) {
		cq->early_upto = cq->prod;
		atomic_store(&d->dma_watch, true);
	}
	return ret;
}

/* A completion the host itself produces (a WQE it refused): through the same ring
 * path as the engine's, and a full CQ is the same CQ error. */
static void host_complete(struct uh_dev *d, struct cq_priv *cq, const struct emu_wc *wc)
{
	recv_slot_done(wc);
	if (cq_write(cq, wc, true)) {
		struct emu_async_event ev = { EMU_EVENT_CQ_ERR, 1, cq, 0 };

		host_async_event(d, &ev);
	}
}

/* The verbs layer is given its own object pointer (the `user` of the CQ, QP or
 * SRQ), translated while the object surely exists. */
static void *event_user(uint32_t type, void *cookie)
{
	if (!cookie)
		return NULL;
	switch (type) {
	case EMU_EVENT_CQ_ERR:
		return ((struct cq_priv *)cookie)->pub.user;
	case EMU_EVENT_SRQ_ERR:
	case EMU_EVENT_SRQ_LIMIT_REACHED:
		return ((struct srq_priv *)cookie)->pub.user;
	case EMU_EVENT_QP_FATAL:
	case EMU_EVENT_QP_REQ_ERR:
	case EMU_EVENT_QP_ACCESS_ERR:
	case EMU_EVENT_COMM_EST:
	case EMU_EVENT_SQ_DRAINED:
	case EMU_EVENT_PATH_MIG:
	case EMU_EVENT_PATH_MIG_ERR:
	case EMU_EVENT_QP_LAST_WQE_REACHED:
		return ((struct qp_priv *)cookie)->pub.user;
	default:
		return NULL;
	}
}

static void host_async_event(void *host, const struct emu_async_event *ev)
{
	struct uh_dev *d = host;
	struct emu_async_event e = *ev;

	e.cookie = event_user(ev->type, ev->cookie);
	if (in_signal_progress) {
		/* no lock but the device's in the handler: queued by the next holder */
		if (d->sig_nevents < SIG_DEFERRED_EVENTS)
			d->sig_events[d->sig_nevents++] = e;
		uh_net_kick(d->net);
		return;
	}
	if (!evq_push(&d->async, &e) && d->trace)
		fprintf(d->trace, "dev%u event type=%u lost: out of memory\n", d->dev_id, ev->type);
}

/* ---- trace ----------------------------------------------------------------------- */

static void host_trace(void *host, const struct emu_trace_rec *rec)
{
	struct uh_dev *d = host;
	const char *kind = emu_trace_kind_name(rec->kind);
	char kbuf[24], why[48] = "";

	if (!kind) {
		snprintf(kbuf, sizeof(kbuf), "kind%u", rec->kind);
		kind = kbuf;
	}
	if (rec->kind == EMU_TR_DROP && rec->a < EMU_DROP_REASONS) {
		const char *name = emu_drop_reason_name((enum emu_drop_reason)rec->a);

		snprintf(why, sizeof(why), " (%s)", name ? name : "?");
	}
	fprintf(d->trace, "dev%u %s qpn=%u psn=%u op=0x%02x wr=%" PRIu64 " a=%" PRIu64
		" b=%" PRIu64 "%s\n", rec->dev_id, kind, rec->qpn, rec->psn, rec->opcode,
		rec->wr_index, rec->a, rec->b, why);
}

static void ops_init(struct uh_dev *d)
{
	d->ops.host = d;
	d->ops.alloc = host_alloc;
	d->ops.free = host_free;
	d->ops.copy = host_copy;
	d->ops.crc32 = sim_crc32;
	d->ops.now_ns = host_now_ns;
	d->ops.tx_buf = host_tx_buf;
	d->ops.tx = host_tx;
	d->ops.tx_abort = host_tx_abort;
	d->ops.mr_map = host_mr_map;
	d->ops.fault = host_fault;
	d->ops.cq_post = host_cq_post;
	d->ops.async_event = host_async_event;
	d->ops.trace = d->trace ? host_trace : NULL;
}

/* ---- receive and progress -------------------------------------------------------- */

static void rx_one(void *arg, const struct emu_netinfo *ni, const void *pkt, size_t len)
{
	struct uh_dev *d = arg;

	if (in_signal_progress)
		d->sig_rx++;
	emu_dev_rx(d->emu, ni, pkt, len);
}

static pid_t my_tid(void);
static void sq_consume(struct uh_dev *d, struct qp_priv *qp);
static void rq_consume(struct uh_dev *d, struct qp_priv *qp);
static void srq_consume(struct uh_dev *d, struct srq_priv *srq);

static void retry_pending(struct uh_dev *d)
{
	d->any_pending = false;
	for (struct qp_priv *qp = d->qps; qp; qp = qp->next) {
		if (qp->sq_pending)
			sq_consume(d, qp);
		if (qp->rq_pending)
			rq_consume(d, qp);
	}
	for (struct srq_priv *srq = d->srqs; srq; srq = srq->next)
		if (srq->pending)
			srq_consume(d, srq);
}

/* Faults and prefetches whose time has come: the stalled QPs retry. */
static void odp_service(struct uh_dev *d)
{
	uint64_t due = odp_next_due(d->odp), now;

	if (due == UINT64_MAX)
		return;         /* the common case: no clock read on the progress path */
	now = mono_ns();
	if (due <= now && odp_run_due(d->odp, now))
		emu_dev_mem_ready(d->emu);
}

/* An injected invalidation decided during the lock section: the engine first
 * lands the data it holds for the MR, then its pages go (the next access faults). */
static void odp_apply_invalidation(struct uh_dev *d)
{
	struct odp_mr *inv = odp_take_invalidation(d->odp);
	struct mr_rec *mr;

	if (!inv)
		return;
	mr = odp_mr_owner(inv);
	(void)emu_mr_invalidate(mr->emu, mr->iova0, mr->len);
	odp_invalidate_mr(d->odp, inv);
}

static void run_due_timers(struct uh_dev *d)
{
	if (emu_dev_next_deadline(d->emu) <= mono_ns())
		emu_dev_run_timers(d->emu);
}

/*
 * ACK coalescing. In a ping-pong (ib_write_lat, ib_send_lat, the pingpongs) the
 * program answers each request it receives with a request of its own on the
 * same QP a moment later; the ACK sent on its own before that costs a send
 * system call on this side and a receive (a wake-up or a signal) on the
 * peer's, both on the round trip's critical path. So when a lock section
 * leaves nothing but ACKs queued and the program has lately answered in time,
 * the ACKs wait in the send queue and leave with the program's next doorbell,
 * behind its request (on loopback in the same UDP_SEGMENT send); the peer
 * takes both at once, and the data it waits for arrives while it still polls
 * for its completion.
 *
 * An answer is a doorbell that queues a request to the peer QP the ACK went to,
 * within ACK_HOLD_NS of it: a post on another QP, or one that only follows the
 * program's own completion, proves nothing. ACKs wait once ack_need answers
 * came in a row (ACK_TRUST at first), the last within ACK_RECENT_NS. A hold
 * that no answer ends leaves at the first lock section after ACK_HOLD_NS: the
 * program's next poll, or the progress thread, which naps at most
 * POLLER_CHECK_NS while holds may start (SIG_FALLBACK_NS in signal mode); it
 * resets the trust and doubles ack_need (up to ACK_NEED_MAX), so a program that
 * keeps fooling the guess pays for it ever more rarely; each held ACK answered
 * in time lowers ack_need by one again.
 */
static void ack_answer_seen(struct uh_dev *d, uint64_t now)
{
	if (!d->ack_sent_ns)
		return;
	if (now - d->ack_sent_ns > ACK_HOLD_NS) {
		d->ack_trust = 0;        /* too late to count */
		d->ack_sent_ns = 0;
	} else if (uh_net_tx_request_to(d->net, &d->ack_key)) {
		if (d->ack_trust < d->ack_need)
			d->ack_trust++;
		if (d->acks_held_ns) {
			d->hold_answered = true;
			if (d->ack_need > ACK_TRUST)
				d->ack_need--;
		}
		d->ack_answer_ns = now;
		d->ack_sent_ns = 0;
	}
}

/* The ACKs queued (by a receive batch, or the timers that send the coalesced
 * ones) and any held before: may they wait for the answer? */
static bool hold_acks(struct uh_dev *d)
{
	uint64_t now;

	if (d->acks_held_ns && !uh_net_tx_held(d->net))
		d->acks_held_ns = 0;     /* a full queue sent them by itself */
	if (!uh_net_tx_queued(d->net) || !uh_net_tx_only_acks(d->net))
		return false;
	/* In signal mode, only the program's thread starts a hold. */
	if (!d->acks_held_ns && d->sig_mode && atomic_load(&d->sig_owner) != my_tid())
		return false;
	now = mono_ns();
	if (d->ack_sent_ns && now - d->ack_sent_ns > ACK_HOLD_NS) {
		d->ack_trust = 0;        /* the last ACK saw no answer in time */
		d->ack_sent_ns = 0;
	}
	if (now - d->ack_answer_ns > ACK_RECENT_NS)
		d->ack_trust = 0;        /* no answer for a while: start over */
	if (!d->ack_sent_ns && uh_net_tx_first_ack(d->net, &d->ack_key))
		d->ack_sent_ns = now;
	if (d->ack_trust < d->ack_need)
		return false;
	if (d->acks_held_ns && now - d->acks_held_ns > ACK_HOLD_NS)
		return false;
	if (!d->acks_held_ns) {
		d->acks_held_ns = now;
		d->hold_answered = false;
		d->acks_held++;
	}
	uh_net_tx_hold(d->net);
	return true;
}

/* Send what is queued, held ACKs included. */
static void send_queued(struct uh_dev *d)
{
	if (d->acks_held_ns && uh_net_tx_held(d->net) && !d->hold_answered &&
	    mono_ns() - d->acks_held_ns > ACK_HOLD_NS) {
		/* No answer came to carry them. */
		d->acks_held_late++;
		d->ack_trust = 0;
		d->ack_need = d->ack_need * 2 < ACK_NEED_MAX ? d->ack_need * 2 : ACK_NEED_MAX;
	}
	/* Behind the answer's request, they may leave in its send. */
	uh_net_tx_held_to_end(d->net);
	d->acks_held_ns = 0;
	uh_net_flush(d->net);
}

static void progress_locked(struct uh_dev *d)
{
	odp_service(d);
	for (uint32_t round = 0; round < RX_ROUNDS; round++) {
		size_t got = uh_net_rx(d->net, rx_one, d, RX_BUDGET);

		/* ACKs and responses leave after each batch, not after the last
		 * (unless the ACKs wait for the program's reply). */
		if (!hold_acks(d))
			send_queued(d);
		if (got < RX_BUDGET)
			break;
	}
	run_due_timers(d);
}

/*
 * Doorbell batching: a program that posts one WR per call (ib_send_bw) would
 * otherwise pay a system call per message. A doorbell sends at once unless it
 * is part of a burst: an earlier one rang less than BURST_GAP_NS before, with
 * no poll of an empty CQ in between (a ping-pong posts once, then polls, then
 * waits a round trip: never delayed). A burst's datagrams wait for the
 * program's next poll of an empty CQ, which sends everything in one submission
 * (and as UDP_SEGMENT groups), or for the doorbell that queues DEFER_MAX_DGRAMS,
 * or at the latest for the progress thread, DEFER_MAX_NS later. Returns the time
 * by which the queued datagrams must leave (UINT64_MAX: none wait).
 */
static uint64_t flush_or_defer(struct uh_dev *d)
{
	bool doorbell = d->doorbell, burst = false;
	uint64_t now;

	d->doorbell = false;
	if (doorbell && d->thread_running) {
		now = mono_ns();
		burst = d->doorbells && now - d->doorbell_ns < BURST_GAP_NS;
		d->doorbells++;
		d->doorbell_ns = now;
		ack_answer_seen(d, now);
	}
	if (burst && uh_net_tx_queued(d->net) && uh_net_tx_count(d->net) < DEFER_MAX_DGRAMS) {
		if (!d->deferred_ns)
			d->deferred_ns = now;
		return d->deferred_ns + DEFER_MAX_NS;
	}
	d->deferred_ns = 0;
	if (!doorbell && hold_acks(d))
		return UINT64_MAX;
	send_queued(d);          /* with nothing queued: reaps finished sends, no syscall */
	return UINT64_MAX;
}

/* What every lock holder does before letting go. */
static void finish_locked(struct uh_dev *d)
{
	uint64_t next, waiting, send_by;

	if (d->any_pending)
		retry_pending(d);
	send_by = flush_or_defer(d);
	next = emu_dev_next_deadline(d->emu);
	if (d->odp) {
		uint64_t due = odp_next_due(d->odp);

		odp_apply_invalidation(d);
		odp_section_end(d->odp);
		if (due < next)
			next = due;
	}
	if (send_by < next)
		next = send_by;
	atomic_store(&d->next_deadline, next);
	atomic_store(&d->hold_deadline, d->acks_held_ns ? d->acks_held_ns + ACK_HOLD_NS : UINT64_MAX);
	atomic_store(&d->holds_armed, d->ack_trust >= d->ack_need);
	atomic_store(&d->poll_needed, d->deferred_ns != 0 || d->doorbells != 0);
	if (!d->thread_running)
		return;
	waiting = atomic_load(&d->wait_deadline);
	/* The thread sleeps past the new deadline: wake it, once. */
	if (waiting && next < waiting &&
	    atomic_compare_exchange_strong(&d->wait_deadline, &waiting, 0))
		uh_net_kick(d->net);
}

/* ---- signal-driven progress (--progress-signal) ------------------------------------ */

/*
 * A program that waits by spinning on memory (ib_write_lat polls the last byte
 * of the peer's RDMA WRITE) makes no verbs call that could carry the packet in,
 * so the progress thread must be woken, and on a machine whose cores the
 * programs keep busy that wake-up costs more than everything else on the path.
 * With --progress-signal the socket is O_ASYNC and signals PROGRESS_SIGNAL to the
 * thread that last polled the device (F_SETOWN_EX), and the handler drives the
 * device on that thread, between two of its instructions.
 *
 * What keeps the handler safe, since it interrupts the program anywhere:
 * - it only tries the device lock; held (by the interrupted thread itself or by
 *   another) it leaves sig_missed, and the holder catches up after its unlock;
 * - nothing on its path allocates, waits or takes another lock: send buffers and
 *   send groups come from the network layer's free lists, and a full socket is
 *   not waited for (uh_net_no_alloc_here; none free or no room is a packet lost
 *   on the wire, which the transport recovers), async events wait in sig_events
 *   for the next lock holder outside the handler (destroying an object flushes
 *   them first, so none names a freed object);
 * - whatever would allocate or lock on that path turns the signals off for good
 *   (sig_unsafe, the progress thread takes over): a completion channel (its
 *   event queue), a DMA policy other than strict (held data is allocated), ODP
 *   MRs (page faults), a trace or a capture file (stdio);
 * - errno is kept, and the socket signals nobody once the device closes.
 * The signal is SIGURG, whose default action is to ignore it; a program with a
 * SIGURG handler of its own keeps it, and the device the progress thread.
 */
#define SIG_MAX_DEVS 16
/* The devices whose sockets signal. One signal may stand for arrivals at
 * several (a pending SIGURG absorbs the next), so the handler serves them all. */
static struct uh_dev *_Atomic signal_devs[SIG_MAX_DEVS];
static atomic_int signal_handlers_running;
static __thread pid_t cached_tid;

static pid_t my_tid(void)
{
	if (!cached_tid)
		cached_tid = (pid_t)syscall(SYS_gettid);
	return cached_tid;
}

/* Point the socket's signals at tid (0: at nobody). Called with the lock held. */
static void sig_point(struct uh_dev *d, pid_t tid)
{
	int fd = uh_net_fd(d->net);
	int fl = fcntl(fd, F_GETFL);
	struct f_owner_ex owner = { F_OWNER_TID, tid };

	if (fl < 0)
		return;
	if (tid && !fcntl(fd, F_SETOWN_EX, &owner) && !fcntl(fd, F_SETFL, fl | O_ASYNC)) {
		atomic_store(&d->sig_owner, tid);
		return;
	}
	(void)fcntl(fd, F_SETFL, fl & ~O_ASYNC);
	atomic_store(&d->sig_owner, 0);
	uh_net_kick(d->net);   /* the thread goes back to watching the socket */
}

/* Whatever the handler must not do is in use: the progress thread takes over.
 * Called with the lock held. */
static void sig_forbid(struct uh_dev *d)
{
	if (!d->sig_mode || atomic_exchange(&d->sig_unsafe, true))
		return;
	d->sig_forbidden = true;
	sig_point(d, 0);
}

static void sig_serve(struct uh_dev *d)
{
	if (atomic_load(&d->sig_unsafe))
		return;
	/* Raised before trying: a holder that unlocks in between still sees it. */
	atomic_store(&d->sig_missed, true);
	if (pthread_mutex_trylock(&d->lock)) {
		atomic_fetch_add(&d->sig_busy, 1);
		return;
	}
	atomic_store(&d->sig_missed, false);
	/* Forbidden since the check above (the lock orders it): not in here. */
	if (atomic_load(&d->sig_unsafe)) {
		pthread_mutex_unlock(&d->lock);
		atomic_store(&d->sig_missed, true);
		uh_net_kick(d->net);
		return;
	}
	in_signal_progress = true;
	d->sig_served++;
	progress_locked(d);
	uh_unlock(d);            /* finish_locked's sends too come from the free lists */
	in_signal_progress = false;
}

static void on_progress_signal(int sig)
{
	int saved_errno = errno;

	(void)sig;
	uh_net_no_alloc_here(true);
	atomic_fetch_add(&signal_handlers_running, 1);
	for (int i = 0; i < SIG_MAX_DEVS; i++) {
		struct uh_dev *d = atomic_load(&signal_devs[i]);

		if (d)
			sig_serve(d);
	}
	atomic_fetch_sub(&signal_handlers_running, 1);
	uh_net_no_alloc_here(false);
	errno = saved_errno;
}

/* Async events raised inside the handler reach their queue from here. */
static void sig_flush_events(struct uh_dev *d)
{
	uint32_t n = d->sig_nevents;

	if (!n || in_signal_progress)
		return;
	d->sig_nevents = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!evq_push(&d->async, &d->sig_events[i]) && d->trace)
			fprintf(d->trace, "dev%u event type=%u lost: out of memory\n", d->dev_id,
				d->sig_events[i].type);
}

/* After an unlock: a signal that found the device busy is served now. */
static void sig_catch_up(struct uh_dev *d)
{
	while (!in_signal_progress && atomic_exchange(&d->sig_missed, false)) {
		if (pthread_mutex_trylock(&d->lock)) {
			atomic_store(&d->sig_missed, true);   /* that holder catches up */
			return;
		}
		progress_locked(d);
		sig_flush_events(d);
		finish_locked(d);
		pthread_mutex_unlock(&d->lock);
	}
}

/*
 * The polling thread is the one to interrupt. True if arrivals already did
 * interrupt it (nothing can wait in the socket unseen); false after pointing
 * the signals at it, which the datagrams already waiting did not raise.
 * Called with the lock held.
 */
static bool sig_follow_poller(struct uh_dev *d)
{
	pid_t tid;

	if (!d->sig_mode || atomic_load(&d->sig_unsafe))
		return false;
	tid = my_tid();
	if (atomic_load(&d->sig_owner) == tid)
		return true;
	sig_point(d, tid);
	return false;
}

/* The thread the socket signals may have ended: then the progress thread
 * watches the socket until another thread polls. Called with the lock held. */
static void sig_check_owner(struct uh_dev *d)
{
	pid_t owner = atomic_load(&d->sig_owner);

	if (owner && syscall(SYS_tgkill, getpid(), owner, 0) && errno == ESRCH)
		sig_point(d, 0);
}

static bool sig_setup(struct uh_dev *d)
{
	struct sigaction sa, old;
	int fd = uh_net_fd(d->net), slot;

	if (d->trace || d->pcap || d->cfg.order != EMU_DMA_STRICT || !d->thread_running) {
		fprintf(stderr, "softhca: --progress-signal: not with %s; the progress thread "
			"drives the device\n", d->trace ? "a trace" : d->pcap ? "a capture" :
			!d->thread_running ? "no progress thread" : "a DMA policy other than strict");
		return false;
	}
	if (!sigaction(PROGRESS_SIGNAL, NULL, &old) && old.sa_handler != SIG_DFL &&
	    old.sa_handler != SIG_IGN && old.sa_handler != on_progress_signal) {
		fprintf(stderr, "softhca: --progress-signal: the program handles SIGURG itself; "
			"the progress thread drives the device\n");
		return false;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_progress_signal;
	sa.sa_flags = SA_RESTART;
	/* Nothing asynchronous interrupts it: the program's own handlers wait the
	 * few microseconds until it returns, not while it holds the device lock.
	 * The fault signals stay as they are (a fault in here reaches the
	 * program's or the debugger's handler as anywhere else). */
	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGSEGV);
	sigdelset(&sa.sa_mask, SIGBUS);
	sigdelset(&sa.sa_mask, SIGFPE);
	sigdelset(&sa.sa_mask, SIGILL);
	sigdelset(&sa.sa_mask, SIGTRAP);
	if (sigaction(PROGRESS_SIGNAL, &sa, NULL) || fcntl(fd, F_SETSIG, PROGRESS_SIGNAL)) {
		fprintf(stderr, "softhca: --progress-signal: cannot set up SIGURG (%s); the "
			"progress thread drives the device\n", strerror(errno));
		return false;
	}
	uh_net_reserve_tx(d->net);
	for (slot = 0; slot < SIG_MAX_DEVS; slot++) {
		struct uh_dev *none = NULL;

		if (atomic_compare_exchange_strong(&signal_devs[slot], &none, d))
			break;
	}
	if (slot == SIG_MAX_DEVS) {
		fprintf(stderr, "softhca: --progress-signal: more than %d devices in this "
			"process; the progress thread drives this one\n", SIG_MAX_DEVS);
		return false;
	}
	d->sig_slot = slot;
	d->sig_mode = true;
	pthread_mutex_lock(&d->lock);
	sig_point(d, my_tid());
	pthread_mutex_unlock(&d->lock);
	sig_catch_up(d);
	return true;
}

static void sig_teardown(struct uh_dev *d)
{
	if (!d->sig_mode)
		return;
	pthread_mutex_lock(&d->lock);
	atomic_store(&d->sig_unsafe, true);   /* no poller turns them on again */
	sig_point(d, 0);
	pthread_mutex_unlock(&d->lock);
	atomic_store(&signal_devs[d->sig_slot], NULL);
	while (atomic_load(&signal_handlers_running))
		sched_yield();
}

void uh_signal_forbid(struct uh_dev *d)
{
	if (!d->sig_mode)
		return;
	pthread_mutex_lock(&d->lock);
	sig_forbid(d);
	pthread_mutex_unlock(&d->lock);
	sig_catch_up(d);
}

void uh_lock(struct uh_dev *d)
{
	pthread_mutex_lock(&d->lock);
}

void uh_unlock(struct uh_dev *d)
{
	if (d->emu && emu_dev_dma_held(d->emu))
		atomic_store(&d->dma_watch, true);
	sig_flush_events(d);
	finish_locked(d);
	pthread_mutex_unlock(&d->lock);
	if (d->sig_mode)
		sig_catch_up(d);
}

/* Has the program polled every CQE that may have come before its data? */
static bool early_cqes_polled(struct uh_dev *d)
{
	for (struct cq_priv *cq = d->cqs; cq; cq = cq->next) {
		uint32_t cons = __atomic_load_n(&cq->pub.ring->cons, __ATOMIC_ACQUIRE);

		if ((int32_t)(cq->early_upto - cons) > 0)
			return false;
	}
	return true;
}

void uh_dma_deferral_point(struct uh_dev *d)
{
	/* The engine lands the data of every published CQE; a CQE still in a ring
	 * has not been seen by the program, so its data waits for a later call. */
	if (emu_dev_dma_held(d->emu) && early_cqes_polled(d))
		emu_dev_dma_deferral_point(d->emu);
}

void uh_verbs_entry(struct uh_dev *d)
{
	if (!atomic_load(&d->dma_watch))
		return;
	uh_lock(d);
	uh_dma_deferral_point(d);
	uh_unlock(d);
}

void uh_progress(struct uh_dev *d)
{
	atomic_fetch_add_explicit(&d->inline_calls, 1, memory_order_relaxed);
	/* Arrivals interrupt this thread and nothing is due: the poll loop stays
	 * off the lock, which the handler then finds free. */
	if (atomic_load(&d->sig_owner) == my_tid() &&
	    !atomic_load(&d->sig_missed) && !atomic_load(&d->poll_needed)) {
		uint64_t now = mono_ns();

		if (atomic_load(&d->next_deadline) > now && atomic_load(&d->hold_deadline) > now)
			return;
	}
	if (pthread_mutex_trylock(&d->lock)) {
		/* The holder is driving the device: let it run rather than spin
		 * against it (there may be fewer cores than busy threads, and tools
		 * like valgrind run one thread at a time). */
		sched_yield();
		return;
	}
	d->doorbells = 0;
	if (sig_follow_poller(d)) {
		/* Arrivals interrupt this thread: an empty poll need not read the
		 * socket (a system call each time), only keep the timers. */
		run_due_timers(d);
	} else {
		atomic_fetch_add_explicit(&d->poller_reads, 1, memory_order_relaxed);
		progress_locked(d);
	}
	uh_unlock(d);
}

/*
 * The thread always wakes for datagrams: a program may wait by spinning on
 * memory (ib_write_lat polls the last byte of an RDMA WRITE) and make no verbs
 * call at all between its polls of the CQ, so only the thread can take the
 * peer's WRITE off the socket. While the program polls the CQ (uh_progress keeps
 * being called) the thread also looks again every POLLER_CHECK_NS for timers.
 * Measured (ib_write_lat 8 B, two processes on loopback): typical 535 us when
 * the thread stood back from the socket while the program polled, 21 us now;
 * ib_write_bw 64 KiB went from 0.91 to 1.1 GB/s.
 */
/*
 * The thread woke (a datagram, a timer, a kick). If the program's polls have
 * been reading the socket since the thread last looked and one holds the lock
 * right now, the datagram is the poller's to take: waiting for the lock would only cost the poller
 * a futex wake-up at its unlock and then a core shared with this thread. So
 * the thread stands back for STANDBACK_NS, not watching the socket, and looks
 * again. Measured (ib_write_lat 8 B, two processes, 2 cores, alternating):
 * typical 7.7-9.1 us against 8.7-11.2 us when the thread waited for the lock.
 * Returns true with the lock held.
 */
static bool lock_unless_polled(struct uh_dev *d, uint64_t seen_reads)
{
	if (atomic_load_explicit(&d->poller_reads, memory_order_relaxed) == seen_reads) {
		pthread_mutex_lock(&d->lock);
		return true;
	}
	if (!pthread_mutex_trylock(&d->lock))
		return true;
	uh_net_wait(d->net, STANDBACK_NS, false);
	return false;
}

/* until, or the engine's next deadline, or with holds the held ACKs' deadline
 * if earlier. */
static uint64_t earliest_wake(struct uh_dev *d, uint64_t until, bool holds)
{
	uint64_t next = atomic_load(&d->next_deadline);

	if (next < until)
		until = next;
	next = atomic_load(&d->hold_deadline);
	if (holds && next < until)
		until = next;
	return until;
}

static void *progress_main(void *arg)
{
	struct uh_dev *d = arg;
	uint64_t seen_calls = atomic_load(&d->inline_calls);

	while (!atomic_load(&d->stop)) {
		uint64_t now = mono_ns();
		uint64_t calls = atomic_load_explicit(&d->inline_calls, memory_order_relaxed);
		uint64_t reads = atomic_load_explicit(&d->poller_reads, memory_order_relaxed);
		bool polled = calls != seen_calls;
		bool sig = atomic_load(&d->sig_owner) != 0;
		uint64_t until = now + (uint64_t)(polled ? POLLER_CHECK_NS : IDLE_WAIT_NS);

		seen_calls = calls;
		if (sig && until > now + SIG_FALLBACK_NS)
			until = now + SIG_FALLBACK_NS;   /* signals carry the datagrams */
		/* A hold the program starts while this thread naps must not outlast
		 * the nap by much: at most POLLER_CHECK_NS (see hold_acks). One
		 * already running is this thread's to end unless the program polls
		 * (its polls end it; waking for it too would cost a wake-up per
		 * round trip of a ping-pong) or signals drive the device. */
		if (!sig && atomic_load(&d->holds_armed) && until > now + POLLER_CHECK_NS)
			until = now + POLLER_CHECK_NS;
		until = earliest_wake(d, until, !sig && !polled);
		atomic_store(&d->wait_deadline, until ? until : 1);
		/* A holder that armed an earlier timer after the load above saw this
		 * store and kicks; one that finished before it is seen here. */
		if (earliest_wake(d, until, !sig && !polled) >= until && !atomic_load(&d->stop) &&
		    until > now)
			uh_net_wait(d->net, (int64_t)(until - now), !sig);
		atomic_store(&d->wait_deadline, 0);
		if (!lock_unless_polled(d, reads))
			continue;
		sig_check_owner(d);
		progress_locked(d);
		uh_unlock(d);
	}
	return NULL;
}

static int start_thread(struct uh_dev *d)
{
	sigset_t all, old;
	int ret;

	/* Signals are the program's business: they go to its own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&d->thread, NULL, progress_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	(void)pthread_setname_np(d->thread, PROGRESS_THREAD_NAME);
	d->thread_running = true;
	return 0;
}

static void stop_thread(struct uh_dev *d)
{
	if (!d->thread_running)
		return;
	atomic_store(&d->stop, true);
	uh_net_kick(d->net);
	pthread_join(d->thread, NULL);
	d->thread_running = false;
}

/* ---- addresses and the device ---------------------------------------------------- */

static bool sockaddr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (!a || a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static bool ipv6_global(const struct sockaddr_in6 *a)
{
	const struct in6_addr *x = &a->sin6_addr;

	return !IN6_IS_ADDR_LINKLOCAL(x) && !IN6_IS_ADDR_LOOPBACK(x) &&
	       !IN6_IS_ADDR_MULTICAST(x) && !IN6_IS_ADDR_UNSPECIFIED(x) &&
	       !IN6_IS_ADDR_V4MAPPED(x);
}

/* The first IPv4 address of netdev, else its first global IPv6 address. */
static int netdev_addr(const char *netdev, struct sockaddr_storage *out, char *err,
		       size_t errlen)
{
	struct ifaddrs *ifs, *i;
	bool have6 = false;
	struct sockaddr_storage v6;

	if (!if_nametoindex(netdev))
		return errmsg(err, errlen, -ENODEV, "SOFTHCA_NETDEV=%s: no such network interface",
			      netdev);
	if (getifaddrs(&ifs))
		return errmsg(err, errlen, -errno, "getifaddrs: %s", strerror(errno));
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, netdev))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			memset(out, 0, sizeof(*out));
			memcpy(out, i->ifa_addr, sizeof(struct sockaddr_in));
			freeifaddrs(ifs);
			return 0;
		}
		if (i->ifa_addr->sa_family == AF_INET6 && !have6 &&
		    ipv6_global((const struct sockaddr_in6 *)i->ifa_addr)) {
			memset(&v6, 0, sizeof(v6));
			memcpy(&v6, i->ifa_addr, sizeof(struct sockaddr_in6));
			have6 = true;
		}
	}
	freeifaddrs(ifs);
	if (!have6)
		return errmsg(err, errlen, -EADDRNOTAVAIL, "network interface %s has no IPv4 "
			      "address and no global IPv6 address", netdev);
	*out = v6;
	return 0;
}

/* The MTU of the interface holding addr (the loopback one for 127/8, ::1); 0 if
 * none is found. */
static uint32_t interface_mtu(const struct sockaddr_storage *addr, int sock)
{
	struct ifaddrs *ifs, *i;
	struct ifreq ifr;
	bool loop = sockaddr_is_loopback(addr);
	bool found = false;

	if (getifaddrs(&ifs))
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (same_addr(i->ifa_addr, addr) || (loop && (i->ifa_flags & IFF_LOOPBACK))) {
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->ifa_name);
			found = true;
		}
	}
	freeifaddrs(ifs);
	if (!found || ioctl(sock, SIOCGIFMTU, &ifr))
		return 0;
	return ifr.ifr_mtu > 0 ? (uint32_t)ifr.ifr_mtu : 0;
}

static uint32_t ib_mtu_fitting(uint32_t netdev_mtu)
{
	for (uint32_t m = 4096; m >= 256; m >>= 1)
		if (m + ROCE_HDR_OVERHEAD <= netdev_mtu)
			return m;
	return 0;
}

static void addr_gid(const struct sockaddr_storage *ss, uint8_t gid[16])
{
	if (ss->ss_family == AF_INET)
		emu_gid_from_ipv4(gid, (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr);
	else
		memcpy(gid, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static uint64_t fnv1a64(const uint8_t *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int bind_net(struct uh_dev *d, struct uh_net_params *np, char *err, size_t errlen)
{
	int ret;

	if (d->cfg.addr_set || d->cfg.netdev[0]) {
		if (d->cfg.netdev[0]) {
			ret = netdev_addr(d->cfg.netdev, &np->addr, err, errlen);
			if (ret)
				return ret;
		} else {
			np->addr = d->cfg.addr;
		}
		return uh_net_open(np, &d->net, err, errlen);
	}
	for (int n = LOOPBACK_FIRST; n <= LOOPBACK_LAST; n++) {
		struct sockaddr_in *a = (struct sockaddr_in *)&np->addr;

		memset(&np->addr, 0, sizeof(np->addr));
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)n);
		ret = uh_net_open(np, &d->net, err, errlen);
		if (ret != -EADDRINUSE)
			return ret;
	}
	return errmsg(err, errlen, -EADDRINUSE, "no free loopback address 127.0.0.%d to "
		      "127.0.0.%d on UDP port %u", LOOPBACK_FIRST, LOOPBACK_LAST, d->cfg.port);
}

static int check_config(const struct uh_config *c, char *err, size_t errlen)
{
	if (c->port < 1 || c->port > 65535)
		return errmsg(err, errlen, -EINVAL, "UDP port %u: not 1 to 65535", c->port);
	if (c->mtu < 256 || c->mtu > 4096 || (c->mtu & (c->mtu - 1)))
		return errmsg(err, errlen, -EINVAL, "MTU %u: not one of 256, 512, 1024, 2048, 4096",
			      c->mtu);
	if (c->abi_version < SOFTHCA_ABI_VERSION_MIN || c->abi_version > SOFTHCA_ABI_VERSION_MAX)
		return errmsg(err, errlen, -EINVAL, "ABI version %u: not 1 or 2", c->abi_version);
	if (c->order != EMU_DMA_STRICT && c->order != EMU_DMA_CQE_FIRST &&
	    c->order != EMU_DMA_RELAXED && c->order != EMU_DMA_MIX)
		return errmsg(err, errlen, -EINVAL, "DMA order %u: not strict, cqe-first, "
			      "relaxed or mix", (unsigned)c->order);
	if (c->addr_set && c->addr.ss_family != AF_INET && c->addr.ss_family != AF_INET6)
		return errmsg(err, errlen, -EINVAL, "address: not IPv4 or IPv6");
	if (c->odp_fault_delay_us > UH_ODP_FAULT_DELAY_MAX_US)
		return errmsg(err, errlen, -EINVAL, "ODP fault delay %" PRIu64 " us: more than %llu",
			      c->odp_fault_delay_us, UH_ODP_FAULT_DELAY_MAX_US);
	if (c->odp_invalidate_one_in && c->odp_invalidate_one_in < UH_ODP_INVALIDATE_MIN)
		return errmsg(err, errlen, -EINVAL, "ODP invalidation rate 1 in %" PRIu64 ": not 0 "
			      "(never) or at least %llu", c->odp_invalidate_one_in,
			      UH_ODP_INVALIDATE_MIN);
	return 0;
}

static int choose_mtu(struct uh_dev *d, char *err, size_t errlen)
{
	uint32_t ifmtu = interface_mtu(&d->cfg.addr, uh_net_fd(d->net));
	uint32_t fit;

	if (!ifmtu)
		return 0;
	fit = ib_mtu_fitting(ifmtu);
	if (!fit)
		return errmsg(err, errlen, -EINVAL, "interface MTU %u is too small for RoCEv2 "
			      "(at least %u)", ifmtu, 256 + ROCE_HDR_OVERHEAD);
	if (fit < d->cfg.mtu)
		d->cfg.mtu = fit;
	return 0;
}

static void record_bound_addr(struct uh_dev *d, const struct uh_net_params *np)
{
	d->cfg.addr = np->addr;
	if (np->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&d->cfg.addr)->sin_port = htons((uint16_t)d->cfg.port);
	else
		((struct sockaddr_in6 *)&d->cfg.addr)->sin6_port = htons((uint16_t)d->cfg.port);
	d->cfg.addr_set = true;
}

/*
 * The RC send window (unacknowledged packets) a peer's socket can hold: a
 * window beyond the receive buffer overflows it at every burst, and each drop
 * costs a go-back-N retransmission. Without privilege the buffer is capped by
 * net.core.rmem_max (often 208 KiB: 416 KiB as the kernel counts it), while 128
 * packets of 4 KiB need about 1 MiB. The peer's buffer is not known; this
 * one's is the best guess (same host, same limits). A received datagram costs
 * about twice its size in buffer accounting (skb overhead, page rounding).
 * 0 keeps the engine's default (128).
 */
static uint32_t send_window_for(size_t rcvbuf, uint32_t mtu)
{
	size_t fit;

	if (!rcvbuf)
		return 0;
	fit = rcvbuf / (2 * ((size_t)mtu + ROCE_HDR_OVERHEAD));
	if (fit >= SEND_WINDOW_MAX)
		return 0;
	return fit < SEND_WINDOW_MIN ? SEND_WINDOW_MIN : (uint32_t)fit;
}

static int create_engine(struct uh_dev *d, char *err, size_t errlen)
{
	struct emu_dev_config ec;
	uint8_t gid[16];
	int ret;

	addr_gid(&d->cfg.addr, gid);
	memset(&ec, 0, sizeof(ec));
	d->dev_id = (uint32_t)fnv1a64(gid, 16, 0xcbf29ce484222325ull);
	ec.dev_id = d->dev_id;
	ec.seed = d->cfg.seed;
	/* 'SHCA' and the IPv4 address, or a hash of the IPv6 one: stable per address. */
	if (emu_gid_is_ipv4(gid))
		ec.node_guid = 0x5348434100000000ull | ((uint64_t)gid[12] << 24) |
			       ((uint64_t)gid[13] << 16) | ((uint64_t)gid[14] << 8) | gid[15];
	else
		ec.node_guid = fnv1a64(gid, 16, 0x5348434100000000ull);
	ec.port_mtu = d->cfg.mtu;
	ec.max_unacked_psns = send_window_for(uh_net_rcvbuf(d->net), d->cfg.mtu);
	ops_init(d);
	ret = emu_dev_create(&d->ops, &ec, &d->emu);
	if (ret)
		return errmsg(err, errlen, ret, "engine: cannot create the device (%d)", ret);
	ret = emu_gid_set(d->emu, 0, gid);
	if (ret)
		return errmsg(err, errlen, ret, "engine: cannot set GID 0 (%d)", ret);
	ret = emu_dev_set_dma_policy(d->emu, d->cfg.order);
	if (ret)
		return errmsg(err, errlen, ret, "engine: cannot set DMA policy %u (%d)",
			      (unsigned)d->cfg.order, ret);
	if (d->cfg.order != EMU_DMA_STRICT)
		atomic_store(&d->dma_watch, true);
	return 0;
}

static int create_odp(struct uh_dev *d, char *err, size_t errlen)
{
	struct odp_config oc = {
		.prefault = d->cfg.odp_prefault,
		.fault_delay_ns = d->cfg.odp_fault_delay_us * 1000u,
		.invalidate_one_in = d->cfg.odp_invalidate_one_in,
		.seed = d->cfg.seed,
	};
	int ret = odp_host_create(&oc, &d->odp);

	return ret ? errmsg(err, errlen, ret, "on-demand paging: out of memory") : 0;
}

static int open_side_files(struct uh_dev *d, char *err, size_t errlen)
{
	const char *trace = getenv("SOFTHCA_TRACE");
	int ret;

	if (d->cfg.pcap[0]) {
		ret = uh_pcap_open(d->cfg.pcap, &d->pcap, err, errlen);
		if (ret)
			return ret;
	}
	if (trace && *trace) {
		/* Appended: devices of one process (and processes) may share it. */
		d->trace = fopen(trace, "a");
		if (!d->trace)
			return errmsg(err, errlen, -errno, "SOFTHCA_TRACE=%s: %s", trace,
				      strerror(errno));
		setvbuf(d->trace, NULL, _IOLBF, 0);
	}
	return 0;
}

int uh_dev_open(const struct uh_config *cfg, struct uh_dev **out, char *err, size_t errlen)
{
	struct uh_net_params np;
	struct uh_dev *d;
	int ret;

	if (!cfg || !out)
		return errmsg(err, errlen, -EINVAL, "no configuration");
	ret = check_config(cfg, err, errlen);
	if (ret)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	d->cfg = *cfg;
	pthread_mutex_init(&d->lock, NULL);
	d->blocks.u.l.next = d->blocks.u.l.prev = &d->blocks;
	atomic_init(&d->stop, false);
	atomic_init(&d->next_deadline, UINT64_MAX);
	atomic_init(&d->hold_deadline, UINT64_MAX);
	d->ack_need = ACK_TRUST;
	atomic_init(&d->wait_deadline, 0);
	atomic_init(&d->inline_calls, 0);
	atomic_init(&d->dma_watch, false);
	ret = evq_init(&d->async, sizeof(struct emu_async_event));
	if (ret) {
		errmsg(err, errlen, ret, "eventfd: %s", strerror(-ret));
		goto fail;
	}
	ret = open_side_files(d, err, errlen);
	if (ret)
		goto fail;
	memset(&np, 0, sizeof(np));
	np.port = (uint16_t)d->cfg.port;
	np.pcap = d->pcap;
	/* The handler reads the socket itself: recvmmsg, not an io_uring whose
	 * completions another thread's task work would have to post first. */
	np.want_uring = !d->cfg.progress_signal;
	ret = bind_net(d, &np, err, errlen);
	if (ret)
		goto fail;
	record_bound_addr(d, &np);
	ret = choose_mtu(d, err, errlen);
	if (!ret)
		ret = create_odp(d, err, errlen);
	if (!ret)
		ret = create_engine(d, err, errlen);
	if (!ret && !d->cfg.no_progress_thread) {
		ret = start_thread(d);
		if (ret)
			errmsg(err, errlen, ret, "progress thread: %s", strerror(-ret));
	}
	if (!ret && d->cfg.progress_signal)
		(void)sig_setup(d);   /* else the progress thread, as it said */
	if (ret)
		goto fail;
	*out = d;
	return 0;
fail:
	uh_dev_close(d);
	return ret;
}

static void destroy_leftovers(struct uh_dev *d);

/* The page model's counters, "odp_" names; page_faults above is the engine's
 * count of accesses that found a page absent. */
static void write_odp_stats(struct uh_dev *d, FILE *f)
{
	struct odp_stats o;

	if (!d->odp)
		return;
	odp_get_stats(d->odp, &o);
#define OSTAT(name) fprintf(f, "odp_%s %" PRIu64 "\n", #name, o.name)
	OSTAT(fault_requests); OSTAT(fault_pages); OSTAT(fault_errors); OSTAT(access_errors);
	OSTAT(first_touch_pages); OSTAT(injected_invalidations); OSTAT(invalidated_pages);
	OSTAT(vanished_pages); OSTAT(prefetch_requests); OSTAT(prefetch_pages);
	OSTAT(fault_delay_max_ns); OSTAT(requested_invalidations);
#undef OSTAT
}

/*
 * SOFTHCA_STATS: the device's counters, one "name value" line each, written when
 * the device closes, so a test or a user can read them from outside the program.
 */
static void write_stats(struct uh_dev *d)
{
	struct emu_counters c;
	struct uh_net_stats n;
	FILE *f;

	if (!d->cfg.stats[0] || !d->emu)
		return;
	f = fopen(d->cfg.stats, "w");
	if (!f) {
		fprintf(stderr, "softhca: SOFTHCA_STATS=%s: %s\n", d->cfg.stats, strerror(errno));
		return;
	}
	emu_dev_counters(d->emu, &c);
	uh_net_get_stats(d->net, &n);
#define STAT(name) fprintf(f, "%s %" PRIu64 "\n", #name, (uint64_t)c.name)
	STAT(tx_packets); STAT(tx_bytes); STAT(rx_packets); STAT(rx_bytes);
	STAT(tx_acks); STAT(rx_acks); STAT(tx_naks); STAT(rx_naks);
	STAT(tx_rnr_naks); STAT(rx_rnr_naks); STAT(retransmits); STAT(timeouts);
	STAT(duplicate_requests); STAT(seq_errors); STAT(rx_drops);
	STAT(completions); STAT(completion_errors); STAT(dma_writes); STAT(dma_bytes);
	STAT(dma_held); STAT(dma_lost); STAT(dma_deferred); STAT(dma_reordered);
	STAT(dma_cqe_early); STAT(page_faults);
	STAT(odp_stalls); STAT(odp_rnr_naks); STAT(odp_invalidations); STAT(odp_prefetches);
	STAT(odp_unbacked);
#undef STAT
	write_odp_stats(d, f);
	for (int r = 0; r < EMU_DROP_REASONS; r++)
		fprintf(f, "drop_%s %" PRIu64 "\n", emu_drop_reason_name((enum emu_drop_reason)r),
			(uint64_t)c.drops[r]);
	fprintf(f, "net_rx_datagrams %" PRIu64 "\nnet_tx_datagrams %" PRIu64 "\n"
		"net_rx_errors %" PRIu64 "\nnet_tx_errors %" PRIu64 "\nnet_rx_short %" PRIu64 "\n"
		"net_tx_sends %" PRIu64 "\nnet_rx_reads %" PRIu64 "\nnet_tx_submits %" PRIu64 "\n"
		"net_rx_rearms %" PRIu64 "\n",
		n.rx_datagrams, n.tx_datagrams, n.rx_errors, n.tx_errors, n.rx_short,
		n.tx_sends, n.rx_reads, n.tx_submits, n.rx_rearms);
	fprintf(f, "progress_signal %d\nprogress_signals %" PRIu64 "\nprogress_signal_packets %"
		PRIu64 "\nprogress_signals_busy %" PRIu64 "\n", d->sig_mode && !d->sig_forbidden ? 1 : 0, d->sig_served,
		d->sig_rx, (uint64_t)atomic_load(&d->sig_busy));
	fprintf(f, "acks_held %" PRIu64 "\nacks_held_late %" PRIu64 "\n", d->acks_held,
		d->acks_held_late);
	fclose(f);
}

void uh_dev_close(struct uh_dev *d)
{
	if (!d)
		return;
	sig_teardown(d);
	stop_thread(d);
	pthread_mutex_lock(&d->lock);
	write_stats(d);
	if (d->emu) {
		destroy_leftovers(d);
		emu_dev_destroy(d->emu);
		d->emu = NULL;
	}
	free_all_blocks(d);
	odp_host_destroy(d->odp);
	d->odp = NULL;
	if (d->net)
		uh_net_flush(d->net);
	pthread_mutex_unlock(&d->lock);
	uh_net_close(d->net);
	uh_pcap_close(d->pcap);
	if (d->trace)
		fclose(d->trace);
	evq_fini(&d->async);
	free(d->handles);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

const struct uh_config *uh_dev_config(const struct uh_dev *d)
{
	return &d->cfg;
}

struct emu_dev *uh_emu(struct uh_dev *d)
{
	return d->emu;
}

int uh_async_fd(const struct uh_dev *d)
{
	return d->async.fd;
}

bool uh_get_async_event(struct uh_dev *d, struct emu_async_event *ev)
{
	return evq_pop(&d->async, ev);
}

void uh_net_stats(struct uh_dev *d, struct uh_net_stats *out)
{
	pthread_mutex_lock(&d->lock);
	uh_net_get_stats(d->net, out);
	pthread_mutex_unlock(&d->lock);
}

/* ---- handles --------------------------------------------------------------------- */

uint32_t uh_handle_add(struct uh_dev *d, enum uh_handle_kind kind, void *obj)
{
	struct handle_ent *e;
	uint32_t idx;

	if (!obj || kind < UH_H_AH || kind > UH_H_MR)
		return 0;
	if (!d->handle_free) {
		uint32_t cap = d->nhandles ? d->nhandles * 2 : 64;
		struct handle_ent *h;

		if (cap > HANDLE_INDEX_MASK)
			cap = HANDLE_INDEX_MASK;
		if (cap <= d->nhandles)
			return 0;
		h = realloc(d->handles, cap * sizeof(*h));
		if (!h)
			return 0;
		memset(h + d->nhandles, 0, (cap - d->nhandles) * sizeof(*h));
		for (uint32_t i = cap; i > d->nhandles; i--) {
			h[i - 1].next_free = d->handle_free;
			d->handle_free = i;
		}
		d->handles = h;
		d->nhandles = cap;
	}
	idx = d->handle_free - 1;
	e = &d->handles[idx];
	d->handle_free = e->next_free;
	e->kind = kind;
	e->obj = obj;
	e->gen = (e->gen + 1) & HANDLE_GEN_MASK;
	return (e->gen << HANDLE_INDEX_BITS) | (idx + 1);
}

static struct handle_ent *handle_lookup(struct uh_dev *d, uint32_t handle)
{
	uint32_t idx = handle & HANDLE_INDEX_MASK;
	struct handle_ent *e;

	if (!idx || idx > d->nhandles)
		return NULL;
	e = &d->handles[idx - 1];
	if (!e->kind || e->gen != handle >> HANDLE_INDEX_BITS)
		return NULL;
	return e;
}

void uh_handle_del(struct uh_dev *d, uint32_t handle)
{
	struct handle_ent *e = handle_lookup(d, handle);

	if (!e)
		return;
	e->kind = 0;
	e->obj = NULL;
	e->next_free = d->handle_free;
	d->handle_free = (uint32_t)(e - d->handles) + 1;
}

void *uh_handle_get(struct uh_dev *d, enum uh_handle_kind kind, uint32_t handle)
{
	struct handle_ent *e = handle_lookup(d, handle);

	return e && e->kind == (uint32_t)kind ? e->obj : NULL;
}

/* ---- memory regions -------------------------------------------------------------- */

static size_t mr_bucket(const struct emu_mr *mr)
{
	return (size_t)(((uintptr_t)mr >> 4) * 0x9e3779b97f4a7c15ull >> 32) % MR_BUCKETS;
}

static size_t lkey_bucket(uint32_t lkey)
{
	return (size_t)(lkey * 0x9e3779b97f4a7c15ull >> 32) % MR_BUCKETS;
}

/*
 * Is [addr, addr + len) mapped in this process, readable, and writable if the
 * device may write it? The device would otherwise fault inside the process (a
 * kernel pins the pages at registration and refuses what it cannot pin; this is
 * the nearest a process can get). No /proc: no check.
 */
static bool range_mapped(uintptr_t addr, uint64_t len, bool write)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;
	uint64_t cur = addr, end = addr + len;
	bool ok = false;

	if (!f)
		return true;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long lo, hi;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3)
			continue;
		if (hi <= cur)
			continue;
		if (lo > cur || perms[0] != 'r' || (write && perms[1] != 'w'))
			break;
		cur = hi;
		if (cur >= end) {
			ok = true;
			break;
		}
	}
	free(line);
	fclose(f);
	return ok;
}

int uh_reg_mr(struct uh_dev *d, struct emu_pd *pd, void *addr, size_t len, uint64_t iova,
	      uint32_t access, struct emu_mr **out)
{
	bool write = access & (EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE |
			       EMU_ACCESS_REMOTE_ATOMIC);
	struct mr_rec *mr;
	size_t b;
	int ret;

	if (!pd || !out)
		return -EINVAL;
	if (len && (uintptr_t)addr + len < (uintptr_t)addr)
		return -EINVAL;
	if (len && !(access & EMU_ACCESS_ON_DEMAND) && !range_mapped((uintptr_t)addr, len, write))
		return -EFAULT;
	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return -ENOMEM;
	mr->addr = addr;
	mr->len = len;
	mr->iova0 = (access & EMU_ACCESS_ZERO_BASED) ? 0 : iova;
	mr->pd = pd;
	mr->writable = write;
	/* ODP memory is not pinned: it is reached through the page model. */
	if (access & EMU_ACCESS_ON_DEMAND)
		sig_forbid(d);   /* page faults read /proc and allocate */
	if ((access & EMU_ACCESS_ON_DEMAND) && !(mr->odp = odp_mr_create(d->odp, write, mr))) {
		free(mr);
		return -ENOMEM;
	}
	ret = emu_reg_mr(pd, iova, len, access, mr, &mr->emu);
	if (ret) {
		odp_mr_destroy(d->odp, mr->odp);
		free(mr);
		return ret;
	}
	mr->lkey = emu_mr_lkey(mr->emu);
	b = mr_bucket(mr->emu);
	mr->next = d->mr_hash[b];
	d->mr_hash[b] = mr;
	b = lkey_bucket(mr->lkey);
	mr->lkey_next = d->lkey_hash[b];
	d->lkey_hash[b] = mr;
	*out = mr->emu;
	return 0;
}

static void lkey_unlink(struct uh_dev *d, struct mr_rec *mr)
{
	struct mr_rec **pp = &d->lkey_hash[lkey_bucket(mr->lkey)];

	while (*pp && *pp != mr)
		pp = &(*pp)->lkey_next;
	if (*pp)
		*pp = mr->lkey_next;
}

static struct mr_rec *mr_by_lkey(struct uh_dev *d, uint32_t lkey)
{
	struct mr_rec *mr = d->lkey_hash[lkey_bucket(lkey)];

	while (mr && mr->lkey != lkey)
		mr = mr->lkey_next;
	return mr;
}

int uh_advise_mr(struct uh_dev *d, struct emu_pd *pd, const struct uh_prefetch *p, bool sync)
{
	struct mr_rec *mr = mr_by_lkey(d, p->lkey);
	enum odp_prefetch_kind kind = p->advice == UH_PREFETCH_WRITE ? ODP_PREFETCH_WRITE :
				      p->advice == UH_PREFETCH_NO_FAULT ? ODP_PREFETCH_NO_FAULT :
				      ODP_PREFETCH_READ;
	uint64_t off;

	if (!mr || mr->pd != pd || !mr->odp || (kind == ODP_PREFETCH_WRITE && !mr->writable))
		return -ENOENT;
	if (p->dry_run)
		return 0;
	/* mlx5: a range outside the MR is an error when synchronous; the
	 * asynchronous work drops it silently. */
	if (p->addr < mr->iova0 || p->addr - mr->iova0 >= mr->len ||
	    p->length > mr->len - (p->addr - mr->iova0))
		return sync ? -EFAULT : 0;
	off = p->addr - mr->iova0;
	if (!p->length)
		return 0;
	return odp_prefetch(d->odp, mr->odp, mr_addr_of(mr, mr->iova0 + off), p->length, kind,
			    sync, mono_ns());
}

/* The link in the MR hash that holds emr's record (*result NULL: none). */
static struct mr_rec **mr_link(struct uh_dev *d, const struct emu_mr *emr)
{
	struct mr_rec **pp = &d->mr_hash[mr_bucket(emr)];

	while (*pp && (*pp)->emu != emr)
		pp = &(*pp)->next;
	return pp;
}

int uh_dereg_mr(struct uh_dev *d, struct emu_mr *emr)
{
	struct mr_rec **pp, *mr;
	int ret;

	if (!emr)
		return -EINVAL;
	pp = mr_link(d, emr);
	mr = *pp;
	if (!mr)
		return -EINVAL;
	ret = emu_dereg_mr(emr);
	if (ret)
		return ret;
	*pp = mr->next;
	lkey_unlink(d, mr);
	odp_mr_destroy(d->odp, mr->odp);
	free(mr);
	return 0;
}

int uh_rereg_mr(struct uh_dev *d, struct emu_mr *emr, struct emu_pd *pd, void *addr,
		size_t len, uint64_t iova, uint32_t access)
{
	bool write = access & (EMU_ACCESS_LOCAL_WRITE | EMU_ACCESS_REMOTE_WRITE |
			       EMU_ACCESS_REMOTE_ATOMIC);
	struct mr_rec *mr;
	int ret;

	if (!emr || !pd)
		return -EINVAL;
	mr = *mr_link(d, emr);
	if (!mr)
		return -EINVAL;
	if (mr->odp || (access & EMU_ACCESS_ON_DEMAND))
		return -EOPNOTSUPP;   /* the page model would have to be rebuilt */
	if (len && (uintptr_t)addr + len < (uintptr_t)addr)
		return -EINVAL;
	/* As at registration: memory the device would fault on is refused. */
	if (len && !range_mapped((uintptr_t)addr, len, write))
		return -EFAULT;
	ret = emu_rereg_mr(emr, pd, iova, len, access, mr);
	if (ret)
		return ret;
	mr->addr = addr;
	mr->len = len;
	mr->iova0 = (access & EMU_ACCESS_ZERO_BASED) ? 0 : iova;
	mr->pd = pd;
	mr->writable = write;
	return 0;
}

/* ---- completion channels and CQs ------------------------------------------------- */

int uh_channel_create(struct uh_dev *d, struct uh_channel **out)
{
	struct uh_channel *ch;
	int ret;

	if (!out)
		return -EINVAL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->dev = d;
	uh_signal_forbid(d);   /* the handler must not take the channel's lock */
	ret = evq_init(&ch->q, sizeof(struct chan_item));
	if (ret) {
		free(ch);
		return ret;
	}
	*out = ch;
	return 0;
}

int uh_channel_fd(const struct uh_channel *ch)
{
	return ch->q.fd;
}

int uh_channel_get(struct uh_channel *ch, void **cq_user)
{
	struct chan_item it;

	for (;;) {
		struct pollfd p = { .fd = ch->q.fd, .events = POLLIN };
		int flags;

		if (evq_pop(&ch->q, &it)) {
			*cq_user = it.user;
			return 0;
		}
		flags = fcntl(ch->q.fd, F_GETFL);
		if (flags >= 0 && (flags & O_NONBLOCK))
			return -EAGAIN;
		/* Without a progress thread nothing else moves the device: the
		 * waiter does, between short waits. */
		if (ch->dev && !ch->dev->thread_running) {
			uh_progress(ch->dev);
			if (poll(&p, 1, 1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		if (poll(&p, 1, -1) < 0)
			return -errno;
		/* Readable with nothing queued (the program read the descriptor
		 * itself): reset it rather than spin. */
		pthread_mutex_lock(&ch->q.lock);
		if (!ch->q.count)
			evq_drain_fd(&ch->q);
		pthread_mutex_unlock(&ch->q.lock);
	}
}

int uh_channel_destroy(struct uh_channel *ch)
{
	uint32_t users;

	if (!ch)
		return -EINVAL;
	pthread_mutex_lock(&ch->q.lock);
	users = ch->ncq;
	pthread_mutex_unlock(&ch->q.lock);
	if (users)
		return -EBUSY;
	evq_fini(&ch->q);
	free(ch);
	return 0;
}

static void channel_ref(struct uh_channel *ch, int delta)
{
	if (!ch)
		return;
	pthread_mutex_lock(&ch->q.lock);
	ch->ncq += (uint32_t)delta;
	pthread_mutex_unlock(&ch->q.lock);
}

/* Ring entries for a CQ of at least cqe (0: 1) entries; 0 if beyond max_cqe. */
static uint32_t cq_ring_entries(struct uh_dev *d, uint32_t cqe)
{
	struct emu_dev_attr da;
	uint32_t size;

	emu_dev_query(d->emu, &da);
	if (cqe > da.max_cqe)
		return 0;
	size = pow2_at_least(cqe ? cqe : 1);
	return size > da.max_cqe ? 0 : size;
}

int uh_create_cq(struct uh_dev *d, uint32_t cqe, uint32_t flags, struct uh_channel *ch,
		 void *user, struct uh_cq **out)
{
	struct cq_priv *cq;
	uint32_t size;
	int ret;

	if (!out)
		return -EINVAL;
	size = cq_ring_entries(d, cqe);
	if (!size)
		return -EINVAL;
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	cq->dev = d;
	cq->size = size;
	cq->pub.ring = ring_alloc(size, CQE_STRIDE);
	if (!cq->pub.ring) {
		free(cq);
		return -ENOMEM;
	}
	cq->entries = ring_entries(cq->pub.ring);
	cq->pub.channel = ch;
	cq->pub.user = user;
	cq->pub.flags = d->cfg.abi_version >= 2 ? (flags & SOFTHCA_CQ_FLAG_ORDERED) : 0;
	ret = emu_create_cq(d->emu, size, cq, &cq->pub.emu);
	if (!ret && (cq->pub.flags & SOFTHCA_CQ_FLAG_ORDERED)) {
		ret = emu_cq_set_ordered(cq->pub.emu, true);
		if (ret)
			emu_destroy_cq(cq->pub.emu);
	}
	if (ret) {
		free(cq->pub.ring);
		free(cq);
		return ret;
	}
	channel_ref(ch, 1);
	cq->next = d->cqs;
	if (d->cqs)
		d->cqs->prev = cq;
	d->cqs = cq;
	*out = &cq->pub;
	return 0;
}

int uh_resize_cq(struct uh_dev *d, struct uh_cq *pub, uint32_t cqe)
{
	struct cq_priv *cq = (struct cq_priv *)pub;
	struct softhca_ring_hdr *ring;
	uint32_t size, cons, n;
	int ret;

	size = pub && cqe ? cq_ring_entries(d, cqe) : 0;
	if (!size)
		return -EINVAL;
	cons = __atomic_load_n(&cq->pub.ring->cons, __ATOMIC_ACQUIRE);
	n = cq->prod - cons;
	/* The CQEs not yet polled must fit (IBA 11.2.6.3: resizing below them fails). */
	if (n > cq->size || n > size)
		return -EINVAL;
	ring = ring_alloc(size, CQE_STRIDE);
	if (!ring)
		return -ENOMEM;
	ret = emu_resize_cq(pub->emu, size);
	if (ret) {
		free(ring);
		return ret;
	}
	/* Same free-running indices: the unpolled CQEs keep theirs (early_upto
	 * and the consumer's position stay valid), at their places in the new size. */
	for (uint32_t i = cons; i != cq->prod; i++)
		memcpy(ring_entries(ring) + (size_t)(i & (size - 1)) * CQE_STRIDE,
		       cq->entries + (size_t)(i & (cq->size - 1)) * CQE_STRIDE, CQE_STRIDE);
	ring->prod = cq->prod;
	ring->cons = cons;
	free(cq->pub.ring);
	cq->pub.ring = ring;
	cq->entries = ring_entries(ring);
	cq->size = size;
	return 0;
}

void uh_qp_reset(struct uh_dev *d, struct uh_qp *pub)
{
	struct qp_priv *qp = (struct qp_priv *)pub;
	uint32_t prod;

	(void)d;
	if (!pub)
		return;
	prod = __atomic_load_n(&pub->sq->prod, __ATOMIC_ACQUIRE);
	qp->sq_cons = prod;
	qp->sq_pending = false;
	qp->sq_broken = false;
	__atomic_and_fetch(&pub->sq->flags, ~SOFTHCA_RING_BROKEN, __ATOMIC_RELAXED);
	__atomic_store_n(&pub->sq->cons, prod, __ATOMIC_RELEASE);
	if (!pub->rq)
		return;
	prod = __atomic_load_n(&pub->rq->prod, __ATOMIC_ACQUIRE);
	qp->rq_cons = qp->rq_done = prod;
	qp->rq_pending = false;
	qp->rq_broken = false;
	__atomic_and_fetch(&pub->rq->flags, ~SOFTHCA_RING_BROKEN, __ATOMIC_RELAXED);
	__atomic_store_n(&pub->rq->cons, prod, __ATOMIC_RELEASE);
}

int uh_cq_purge_qp(struct uh_dev *d, struct uh_cq *pub, uint32_t qpn, bool keep_recv)
{
	struct cq_priv *cq = (struct cq_priv *)pub;
	uint32_t cons, kept, removed = 0;

	(void)d;
	if (!pub)
		return 0;
	cons = __atomic_load_n(&cq->pub.ring->cons, __ATOMIC_ACQUIRE);
	if (cq->prod - cons > cq->size)
		return 0;               /* a consumer index out of range: leave it */
	kept = cons;
	for (uint32_t i = cons; i != cq->prod; i++) {
		uint8_t *e = cq->entries + (size_t)(i & (cq->size - 1)) * CQE_STRIDE;
		struct softhca_cqe cqe;

		memcpy(&cqe, e, sizeof(cqe));
		if (cqe.qp_num == qpn && !(keep_recv && (cqe.opcode & EMU_WC_RECV))) {
			removed++;
			continue;
		}
		if (kept != i)
			memcpy(cq->entries + (size_t)(kept & (cq->size - 1)) * CQE_STRIDE, e,
			       CQE_STRIDE);
		kept++;
	}
	if (!removed)
		return 0;
	cq->prod = kept;
	if ((int32_t)(cq->early_upto - kept) > 0)
		cq->early_upto = kept;
	__atomic_store_n(&cq->pub.ring->prod, kept, __ATOMIC_RELEASE);
	return (int)removed;
}

int uh_destroy_cq(struct uh_dev *d, struct uh_cq *pub)
{
	struct cq_priv *cq = (struct cq_priv *)pub;
	int ret;

	if (!pub)
		return -EINVAL;
	ret = emu_destroy_cq(pub->emu);
	if (ret)
		return ret;
	sig_flush_events(d);   /* a deferred event naming it must be forgotten too */
	async_forget(&d->async, pub->user);
	if (pub->channel) {
		chan_forget_cq(pub->channel, cq);
		channel_ref(pub->channel, -1);
	}
	if (cq->prev)
		cq->prev->next = cq->next;
	else
		d->cqs = cq->next;
	if (cq->next)
		cq->next->prev = cq->prev;
	free(pub->ring);
	free(cq);
	return 0;
}

int uh_cq_arm(struct uh_dev *d, struct uh_cq *pub, bool solicited_only)
{
	struct cq_priv *cq = (struct cq_priv *)pub;

	(void)d;
	if (!pub)
		return -EINVAL;
	/* "Next completion" is the wider request and wins over "next solicited". */
	if (!solicited_only)
		cq->solicited_only = false;
	else if (!cq->armed)
		cq->solicited_only = true;
	cq->armed = true;
	return 0;
}

static struct cq_priv *find_cq(struct uh_dev *d, const struct emu_cq *emu)
{
	for (struct cq_priv *cq = d->cqs; cq; cq = cq->next)
		if (cq->pub.emu == emu)
			return cq;
	return NULL;
}

/* ---- QPs and SRQs ---------------------------------------------------------------- */

static void qp_to_error(struct qp_priv *qp)
{
	struct emu_qp_attr a;

	if (emu_qp_state(qp->pub.emu) == EMU_QPS_ERR)
		return;
	memset(&a, 0, sizeof(a));
	a.qp_state = EMU_QPS_ERR;
	(void)emu_modify_qp(qp->pub.emu, &a, EMU_QP_STATE);
}

int uh_create_qp(struct uh_dev *d, struct emu_pd *pd, struct emu_qp_init_attr *attr,
		 void *user, struct uh_qp **out)
{
	struct emu_qp_init_attr a;
	struct qp_priv *qp;
	uint32_t room;
	int ret;

	if (!pd || !attr || !out)
		return -EINVAL;
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	a = *attr;
	a.cap.max_send_wr = pow2_at_least(a.cap.max_send_wr ? a.cap.max_send_wr : 1);
	if (!a.srq)
		a.cap.max_recv_wr = pow2_at_least(a.cap.max_recv_wr ? a.cap.max_recv_wr : 1);
	ret = emu_create_qp(pd, &a, qp, &qp->pub.emu);
	if (ret) {
		free(qp);
		return ret;
	}
	qp->dev = d;
	qp->type = a.qp_type;
	qp->max_send_sge = a.cap.max_send_sge;
	qp->max_inline = a.cap.max_inline_data;
	qp->max_recv_sge = a.cap.max_recv_sge;
	qp->scq = find_cq(d, a.send_cq);
	qp->rcq = find_cq(d, a.recv_cq);
	for (struct srq_priv *s = d->srqs; s && a.srq; s = s->next)
		if (s->pub.emu == a.srq)
			qp->srq = s;
	room = qp->max_send_sge * (uint32_t)sizeof(struct softhca_sge);
	if (qp->max_inline > room)
		room = qp->max_inline;
	qp->sq_size = pow2_at_least(a.cap.max_send_wr);
	qp->sq_stride = round_up((uint32_t)sizeof(struct softhca_send_wqe) + room, 64);
	qp->pub.sq = ring_alloc(qp->sq_size, qp->sq_stride);
	if (!a.srq) {
		qp->rq_size = pow2_at_least(a.cap.max_recv_wr);
		qp->rq_stride = round_up((uint32_t)sizeof(struct softhca_recv_wqe) +
					 qp->max_recv_sge * (uint32_t)sizeof(struct softhca_sge), 16);
		qp->pub.rq = ring_alloc(qp->rq_size, qp->rq_stride);
	}
	if (!qp->scq || !qp->rcq || !qp->pub.sq || (!a.srq && !qp->pub.rq)) {
		ret = qp->scq && qp->rcq ? -ENOMEM : -EINVAL;
		(void)emu_destroy_qp(qp->pub.emu);
		free(qp->pub.sq);
		free(qp->pub.rq);
		free(qp);
		return ret;
	}
	qp->sq_entries = ring_entries(qp->pub.sq);
	if (qp->pub.rq)
		qp->rq_entries = ring_entries(qp->pub.rq);
	qp->pub.user = user;
	attr->cap = a.cap;
	qp->next = d->qps;
	if (d->qps)
		d->qps->prev = qp;
	d->qps = qp;
	*out = &qp->pub;
	return 0;
}

int uh_destroy_qp(struct uh_dev *d, struct uh_qp *pub)
{
	struct qp_priv *qp = (struct qp_priv *)pub;
	int ret;

	if (!pub)
		return -EINVAL;
	ret = emu_destroy_qp(pub->emu);
	if (ret)
		return ret;
	sig_flush_events(d);   /* a deferred event naming it must be forgotten too */
	async_forget(&d->async, pub->user);
	if (qp->prev)
		qp->prev->next = qp->next;
	else
		d->qps = qp->next;
	if (qp->next)
		qp->next->prev = qp->prev;
	free(pub->sq);
	free(pub->rq);
	free(qp);
	return 0;
}

int uh_create_srq(struct uh_dev *d, struct emu_pd *pd, struct emu_srq_attr *attr, void *user,
		  struct uh_srq **out)
{
	struct emu_srq_attr a;
	struct srq_priv *srq;
	int ret;

	if (!pd || !attr || !out)
		return -EINVAL;
	srq = calloc(1, sizeof(*srq));
	if (!srq)
		return -ENOMEM;
	a = *attr;
	a.max_wr = pow2_at_least(a.max_wr ? a.max_wr : 1);
	ret = emu_create_srq(pd, &a, srq, &srq->pub.emu);
	if (ret) {
		free(srq);
		return ret;
	}
	srq->dev = d;
	srq->size = a.max_wr;
	srq->max_sge = a.max_sge;
	srq->stride = round_up((uint32_t)sizeof(struct softhca_recv_wqe) +
			       a.max_sge * (uint32_t)sizeof(struct softhca_sge), 16);
	srq->pub.rq = ring_alloc(srq->size, srq->stride);
	if (!srq->pub.rq) {
		(void)emu_destroy_srq(srq->pub.emu);
		free(srq);
		return -ENOMEM;
	}
	srq->entries = ring_entries(srq->pub.rq);
	srq->pub.user = user;
	attr->max_wr = a.max_wr;
	srq->next = d->srqs;
	if (d->srqs)
		d->srqs->prev = srq;
	d->srqs = srq;
	*out = &srq->pub;
	return 0;
}

int uh_destroy_srq(struct uh_dev *d, struct uh_srq *pub)
{
	struct srq_priv *srq = (struct srq_priv *)pub;
	int ret;

	if (!pub)
		return -EINVAL;
	ret = emu_destroy_srq(pub->emu);
	if (ret)
		return ret;
	sig_flush_events(d);   /* a deferred event naming it must be forgotten too */
	async_forget(&d->async, pub->user);
	if (srq->prev)
		srq->prev->next = srq->next;
	else
		d->srqs = srq->next;
	if (srq->next)
		srq->next->prev = srq->prev;
	free(pub->rq);
	free(srq);
	return 0;
}

static void destroy_leftovers(struct uh_dev *d)
{
	while (d->qps && !uh_destroy_qp(d, &d->qps->pub))
		;
	while (d->srqs && !uh_destroy_srq(d, &d->srqs->pub))
		;
	for (size_t b = 0; b < MR_BUCKETS; b++) {
		while (d->mr_hash[b]) {
			struct mr_rec *mr = d->mr_hash[b];

			/* A window still bound keeps the MR in the engine; the engine's
			 * memory goes with the device anyway. */
			(void)emu_dereg_mr(mr->emu);
			d->mr_hash[b] = mr->next;
			odp_mr_destroy(d->odp, mr->odp);
			free(mr);
		}
		d->lkey_hash[b] = NULL;
	}
	while (d->cqs) {
		struct cq_priv *cq = d->cqs;

		(void)emu_destroy_cq(cq->pub.emu);
		if (cq->pub.channel) {
			chan_forget_cq(cq->pub.channel, cq);
			channel_ref(cq->pub.channel, -1);
		}
		d->cqs = cq->next;
		free(cq->pub.ring);
		free(cq);
	}
}

/* ---- consuming the rings --------------------------------------------------------- */

enum post_result { POST_DONE, POST_LATER };

static uint32_t wc_opcode_of(uint32_t wr_opcode)
{
	switch (wr_opcode) {
	case EMU_WR_RDMA_WRITE:
	case EMU_WR_RDMA_WRITE_WITH_IMM:
		return EMU_WC_RDMA_WRITE;
	case EMU_WR_RDMA_READ:
		return EMU_WC_RDMA_READ;
	case EMU_WR_ATOMIC_CMP_AND_SWP:
		return EMU_WC_COMP_SWAP;
	case EMU_WR_ATOMIC_FETCH_AND_ADD:
		return EMU_WC_FETCH_ADD;
	case EMU_WR_BIND_MW:
		return EMU_WC_BIND_MW;
	case EMU_WR_LOCAL_INV:
		return EMU_WC_LOCAL_INV;
	default:
		return EMU_WC_SEND;
	}
}

/* The QP goes to error first, so the WRs posted before this one are flushed
 * ahead of its completion: send queue completions stay in posting order. */
static void fail_wqe(struct uh_dev *d, struct qp_priv *qp, struct cq_priv *cq, uint64_t wr_id,
		     uint32_t opcode, uint32_t why)
{
	struct emu_wc wc;

	qp_to_error(qp);
	memset(&wc, 0, sizeof(wc));
	wc.wr_id = wr_id;
	wc.status = EMU_WC_LOC_QP_OP_ERR;
	wc.opcode = opcode;
	wc.vendor_err = why;
	wc.qp_num = emu_qp_num(qp->pub.emu);
	wc.qp_cookie = qp;
	host_complete(d, cq, &wc);
}

static bool carries_payload(uint32_t op)
{
	return op == EMU_WR_SEND || op == EMU_WR_SEND_WITH_IMM || op == EMU_WR_SEND_WITH_INV ||
	       op == EMU_WR_RDMA_WRITE || op == EMU_WR_RDMA_WRITE_WITH_IMM;
}

static uint32_t convert_payload(const struct qp_priv *qp, const struct softhca_send_wqe *w,
				const uint8_t *slot, struct emu_send_wr *wr)
{
	uint32_t room = qp->sq_stride - (uint32_t)sizeof(*w);

	if ((wr->send_flags & EMU_SEND_INLINE) && carries_payload(w->opcode)) {
		if (w->inline_len > qp->max_inline || w->inline_len > room)
			return UH_VERR_INLINE;
		wr->inline_data = slot + sizeof(*w);
		wr->inline_len = w->inline_len;
		return 0;
	}
	wr->send_flags &= ~(uint32_t)EMU_SEND_INLINE;
	if (w->num_sge > qp->max_send_sge ||
	    (uint64_t)w->num_sge * sizeof(struct softhca_sge) > room)
		return UH_VERR_SGE;
	wr->num_sge = w->num_sge;
	wr->sg_list = (const struct emu_sge *)(const void *)(slot + sizeof(*w));
	return 0;
}

static uint32_t convert_union(struct uh_dev *d, const struct qp_priv *qp,
			      const struct softhca_send_wqe *w, struct emu_send_wr *wr)
{
	switch (w->opcode) {
	case EMU_WR_RDMA_WRITE:
	case EMU_WR_RDMA_WRITE_WITH_IMM:
	case EMU_WR_RDMA_READ:
		wr->wr.rdma.remote_addr = w->wr.rdma.remote_addr;
		wr->wr.rdma.rkey = w->wr.rdma.rkey;
		break;
	case EMU_WR_ATOMIC_CMP_AND_SWP:
	case EMU_WR_ATOMIC_FETCH_AND_ADD:
		wr->wr.atomic.remote_addr = w->wr.atomic.remote_addr;
		wr->wr.atomic.compare_add = w->wr.atomic.compare_add;
		wr->wr.atomic.swap = w->wr.atomic.swap;
		wr->wr.atomic.rkey = w->wr.atomic.rkey;
		break;
	case EMU_WR_BIND_MW:
		wr->wr.bind.mw = uh_handle_get(d, UH_H_MW, w->wr.bind.mw_handle);
		wr->wr.bind.info.mr = uh_handle_get(d, UH_H_MR, w->wr.bind.mr_handle);
		if (!wr->wr.bind.mw || !wr->wr.bind.info.mr)
			return UH_VERR_HANDLE;
		wr->wr.bind.rkey = w->wr.bind.rkey;
		wr->wr.bind.info.addr = w->wr.bind.addr;
		wr->wr.bind.info.length = w->wr.bind.length;
		wr->wr.bind.info.access = w->wr.bind.access;
		break;
	default:
		break;
	}
	if (qp->type == EMU_QPT_UD) {
		wr->wr.ud.ah = uh_handle_get(d, UH_H_AH, w->wr.ud.ah_handle);
		if (!wr->wr.ud.ah)
			return UH_VERR_HANDLE;
		wr->wr.ud.remote_qpn = w->wr.ud.remote_qpn;
		wr->wr.ud.remote_qkey = w->wr.ud.remote_qkey;
	}
	return 0;
}

/* The WQE in slot (already copied to w) as the engine's work request; 0 or why not. */
static uint32_t convert_send(struct uh_dev *d, const struct qp_priv *qp,
			     const struct softhca_send_wqe *w, const uint8_t *slot,
			     struct emu_send_wr *wr)
{
	uint32_t why;

	memset(wr, 0, sizeof(*wr));
	if (w->opcode > EMU_WR_SEND_WITH_INV)
		return UH_VERR_OPCODE;
	wr->wr_id = w->wr_id;
	wr->opcode = w->opcode;
	wr->send_flags = w->send_flags & (EMU_SEND_FENCE | EMU_SEND_SIGNALED |
					  EMU_SEND_SOLICITED | EMU_SEND_INLINE);
	why = convert_payload(qp, w, slot, wr);
	if (why)
		return why;
	if (w->opcode == EMU_WR_RDMA_WRITE_WITH_IMM || w->opcode == EMU_WR_SEND_WITH_IMM)
		wr->imm_data = ntohl(w->imm_data);
	wr->invalidate_rkey = w->invalidate_rkey;
	return convert_union(d, qp, w, wr);
}

static bool state_before_rts(uint32_t st)
{
	return st == EMU_QPS_RESET || st == EMU_QPS_INIT || st == EMU_QPS_RTR;
}

static enum post_result sq_post_one(struct uh_dev *d, struct qp_priv *qp, uint32_t idx)
{
	const uint8_t *slot = qp->sq_entries + (size_t)(idx & (qp->sq_size - 1)) * qp->sq_stride;
	struct softhca_send_wqe w;
	struct emu_send_wr wr;
	uint32_t why;
	int ret;

	if (state_before_rts(emu_qp_state(qp->pub.emu)))
		return POST_LATER;
	memcpy(&w, slot, sizeof(w));
	why = convert_send(d, qp, &w, slot, &wr);
	if (!why) {
		ret = emu_post_send(qp->pub.emu, &wr);
		if (ret == -EMU_ENOMEM)
			return POST_LATER;
		if (ret)
			why = UH_VERR_ENGINE;
	}
	if (why)
		fail_wqe(d, qp, qp->scq, w.wr_id, wc_opcode_of(w.opcode), why);
	return POST_DONE;
}

static bool ring_overrun(struct softhca_ring_hdr *h, uint32_t prod, uint32_t cons, uint32_t size)
{
	if (prod - cons <= size)
		return false;
	ring_mark_broken(h);
	return true;
}

static void sq_consume(struct uh_dev *d, struct qp_priv *qp)
{
	struct softhca_ring_hdr *h = qp->pub.sq;
	uint32_t cons = qp->sq_cons, prod;

	qp->sq_pending = false;
	if (qp->sq_broken)
		return;
	prod = __atomic_load_n(&h->prod, __ATOMIC_ACQUIRE);
	if (ring_overrun(h, prod, cons, qp->sq_size)) {
		qp->sq_broken = true;
		qp_to_error(qp);
		return;
	}
	while (cons != prod) {
		if (sq_post_one(d, qp, cons) == POST_LATER) {
			qp->sq_pending = true;
			d->any_pending = true;
			break;
		}
		cons++;
	}
	if (cons != qp->sq_cons) {
		qp->sq_cons = cons;
		__atomic_store_n(&h->cons, cons, __ATOMIC_RELEASE);
	}
}

static uint32_t convert_recv(const struct softhca_recv_wqe *w, const uint8_t *slot,
			     uint32_t max_sge, uint32_t stride, struct emu_recv_wr *wr)
{
	if (w->num_sge > max_sge ||
	    (uint64_t)w->num_sge * sizeof(struct softhca_sge) > stride - sizeof(*w))
		return UH_VERR_SGE;
	wr->wr_id = w->wr_id;
	wr->num_sge = w->num_sge;
	wr->sg_list = (const struct emu_sge *)(const void *)(slot + sizeof(*w));
	return 0;
}

static enum post_result rq_post_one(struct uh_dev *d, struct qp_priv *qp, uint32_t idx)
{
	const uint8_t *slot = qp->rq_entries + (size_t)(idx & (qp->rq_size - 1)) * qp->rq_stride;
	struct softhca_recv_wqe w;
	struct emu_recv_wr wr;
	uint32_t why;
	int ret;

	if (emu_qp_state(qp->pub.emu) == EMU_QPS_RESET)
		return POST_LATER;
	memcpy(&w, slot, sizeof(w));
	why = convert_recv(&w, slot, qp->max_recv_sge, qp->rq_stride, &wr);
	if (!why) {
		ret = emu_post_recv(qp->pub.emu, &wr);
		if (ret == -EMU_ENOMEM)
			return POST_LATER;
		if (ret)
			why = UH_VERR_ENGINE;
	}
	if (why)
		fail_wqe(d, qp, qp->rcq, w.wr_id, EMU_WC_RECV, why);
	return POST_DONE;
}

static void rq_consume(struct uh_dev *d, struct qp_priv *qp)
{
	struct softhca_ring_hdr *h = qp->pub.rq;
	uint32_t cons = qp->rq_cons, prod;

	qp->rq_pending = false;
	if (!h || qp->rq_broken)
		return;
	prod = __atomic_load_n(&h->prod, __ATOMIC_ACQUIRE);
	if (ring_overrun(h, prod, cons, qp->rq_size)) {
		qp->rq_broken = true;
		qp_to_error(qp);
		return;
	}
	while (cons != prod) {
		if (rq_post_one(d, qp, cons) == POST_LATER) {
			qp->rq_pending = true;
			d->any_pending = true;
			break;
		}
		cons++;
	}
	qp->rq_cons = cons;     /* published as receives complete: recv_slot_done */
}

/* An SRQ has no CQ of its own: a WQE it cannot take breaks the ring, and the
 * program hears of it as an SRQ error event. */
static void srq_fail(struct uh_dev *d, struct srq_priv *srq)
{
	struct emu_async_event ev = { EMU_EVENT_SRQ_ERR, 1, srq, 0 };

	srq->broken = true;
	ring_mark_broken(srq->pub.rq);
	host_async_event(d, &ev);
}

static void srq_consume(struct uh_dev *d, struct srq_priv *srq)
{
	struct softhca_ring_hdr *h = srq->pub.rq;
	uint32_t cons = srq->cons, prod;

	srq->pending = false;
	if (srq->broken)
		return;
	prod = __atomic_load_n(&h->prod, __ATOMIC_ACQUIRE);
	if (prod - cons > srq->size) {
		srq_fail(d, srq);
		return;
	}
	while (cons != prod) {
		const uint8_t *slot = srq->entries + (size_t)(cons & (srq->size - 1)) * srq->stride;
		struct softhca_recv_wqe w;
		struct emu_recv_wr wr;
		int ret;

		memcpy(&w, slot, sizeof(w));
		if (convert_recv(&w, slot, srq->max_sge, srq->stride, &wr)) {
			srq_fail(d, srq);
			break;
		}
		ret = emu_post_srq_recv(srq->pub.emu, &wr);
		if (ret == -EMU_ENOMEM) {
			srq->pending = true;
			d->any_pending = true;
			break;
		}
		if (ret) {
			srq_fail(d, srq);
			break;
		}
		cons++;
	}
	srq->cons = cons;       /* published as receives complete: recv_slot_done */
}

void uh_qp_doorbell_sq(struct uh_dev *d, struct uh_qp *qp)
{
	if (qp) {
		sq_consume(d, (struct qp_priv *)qp);
		d->doorbell = true;   /* flush_or_defer decides when its datagrams leave */
	}
}

void uh_qp_doorbell_rq(struct uh_dev *d, struct uh_qp *qp)
{
	if (qp)
		rq_consume(d, (struct qp_priv *)qp);
}

void uh_srq_doorbell(struct uh_dev *d, struct uh_srq *srq)
{
	if (srq)
		srq_consume(d, (struct srq_priv *)srq);
}

/* ---- on-demand paging at run time (softhcadv) ---------------------------------------- */

int uh_odp_set_knobs(struct uh_dev *d, const struct uh_odp_knobs *k)
{
	struct odp_config oc;

	if (((k->which & UH_ODP_KNOB_FAULT_DELAY) &&
	     k->fault_delay_us > UH_ODP_FAULT_DELAY_MAX_US) ||
	    ((k->which & UH_ODP_KNOB_INVALIDATE) && k->invalidate_one_in &&
	     k->invalidate_one_in < UH_ODP_INVALIDATE_MIN))
		return -EINVAL;
	uh_lock(d);
	odp_get_config(d->odp, &oc);
	if (k->which & UH_ODP_KNOB_PREFAULT)
		oc.prefault = k->prefault;
	if (k->which & UH_ODP_KNOB_FAULT_DELAY)
		oc.fault_delay_ns = k->fault_delay_us * 1000u;
	if (k->which & UH_ODP_KNOB_INVALIDATE)
		oc.invalidate_one_in = k->invalidate_one_in;
	odp_set_config(d->odp, &oc);
	uh_unlock(d);           /* the progress thread learns the new due times */
	return 0;
}

void uh_odp_get_knobs(struct uh_dev *d, struct uh_odp_knobs *k)
{
	struct odp_config oc;

	uh_lock(d);
	odp_get_config(d->odp, &oc);
	uh_unlock(d);
	k->which = UH_ODP_KNOB_PREFAULT | UH_ODP_KNOB_FAULT_DELAY | UH_ODP_KNOB_INVALIDATE;
	k->prefault = oc.prefault;
	k->fault_delay_us = oc.fault_delay_ns / 1000u;
	k->invalidate_one_in = oc.invalidate_one_in;
}

void uh_odp_set_seed(struct uh_dev *d, uint64_t seed)
{
	odp_set_seed(d->odp, seed);
}

/* The host's record of an ODP MR of d, NULL if emr is none. [locked] */
static struct mr_rec *odp_mr_rec(struct uh_dev *d, struct emu_mr *emr)
{
	struct mr_rec *mr = emr ? *mr_link(d, emr) : NULL;

	return mr && mr->odp ? mr : NULL;
}

/* Is [addr, addr + len) inside the MR's memory? (len 0: is addr.) */
static bool mr_holds(const struct mr_rec *mr, uintptr_t addr, uint64_t len)
{
	uintptr_t base = (uintptr_t)mr->addr;

	return addr >= base && addr - base < mr->len && len <= mr->len - (addr - base);
}

int uh_odp_invalidate(struct uh_dev *d, struct emu_mr *emr, uintptr_t addr, uint64_t len)
{
	struct mr_rec *mr;
	int ret = -EINVAL;

	uh_lock(d);
	mr = odp_mr_rec(d, emr);
	if (mr && len && mr_holds(mr, addr, len)) {
		/* In-flight DMA to the range lands before its pages go, as the
		 * injected invalidations do (odp_apply_invalidation). */
		ret = emu_mr_invalidate(mr->emu, mr->iova0 + (addr - (uintptr_t)mr->addr), len);
		if (!ret)
			(void)odp_invalidate_range(d->odp, mr->odp, addr, len);
	}
	uh_unlock(d);
	return ret;
}

int uh_odp_page_state(struct uh_dev *d, struct emu_mr *emr, uintptr_t addr,
		      enum odp_page_state *out)
{
	struct mr_rec *mr;
	int ret = -EINVAL;

	uh_lock(d);
	mr = odp_mr_rec(d, emr);
	if (mr && mr_holds(mr, addr, 0)) {
		*out = odp_page_state(mr->odp, addr);
		ret = 0;
	}
	uh_unlock(d);
	return ret;
}

void uh_odp_stats(struct uh_dev *d, struct odp_stats *out)
{
	uh_lock(d);
	odp_get_stats(d->odp, out);
	uh_unlock(d);
}
