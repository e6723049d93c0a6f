/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * dev.c - the device: limits, port, GID table, counters, the QPN and key tables,
 * events, traces and the timer list.
 */
#include "internal.h"

#define DEF_MAX_QP      4096
#define DEF_MAX_QP_WR   16384
#define DEF_MAX_CQ      4096
#define DEF_MAX_CQE     65536
#define DEF_MAX_MR      65536
#define DEF_MAX_MW      4096
#define DEF_MAX_PD      4096
#define DEF_MAX_SRQ     1024
#define DEF_MAX_SRQ_WR  16384
#define DEF_MAX_AH      65536
#define VENDOR_ID       0x5348
#define VENDOR_PART_ID  1
#define FW_VER          1
#define PORT_NUM        1

/* A key carries its table index above an 8-bit variable part. */
#define KEY_INDEX_LIMIT (1u << 24)
/* QPNs are 24 bits on the wire. */
#define QPN_LIMIT       (1u << 24)
/* The RC window must stay well inside half the 24-bit PSN circle. */
#define MAX_UNACKED_LIMIT (1u << 22)

/* ---- creation ------------------------------------------------------------------ */

static bool ops_complete(const struct emu_host_ops *ops)
{
	return ops->alloc && ops->free && ops->copy && ops->crc32 && ops->now_ns &&
	       ops->tx_buf && ops->tx && ops->mr_map && ops->cq_post;
}

/* Active MTU in bytes (0 = the largest) to enum emu_mtu; 0 if not valid. */
static uint32_t mtu_enum(uint32_t bytes)
{
	if (bytes == 0)
		return EMU_MTU_4096;
	for (uint32_t mtu = EMU_MTU_256; mtu <= EMU_MTU_4096; mtu++)
		if (emu_mtu_bytes(mtu) == bytes)
			return mtu;
	return 0;
}

static uint32_t pick(uint32_t cfg_value, uint32_t def)
{
	return cfg_value ? cfg_value : def;
}

static void set_attr(struct emu_dev_attr *a, const struct emu_dev_config *cfg)
{
	a->fw_ver = FW_VER;
	a->node_guid = cfg->node_guid;
	a->max_mr_size = UINT64_MAX;
	a->max_qp = pick(cfg->max_qp, DEF_MAX_QP);
	a->max_qp_wr = pick(cfg->max_qp_wr, DEF_MAX_QP_WR);
	a->max_sge = EMU_MAX_SGE;
	a->max_cq = pick(cfg->max_cq, DEF_MAX_CQ);
	a->max_cqe = pick(cfg->max_cqe, DEF_MAX_CQE);
	a->max_mr = pick(cfg->max_mr, DEF_MAX_MR);
	a->max_mw = pick(cfg->max_mw, DEF_MAX_MW);
	a->max_pd = pick(cfg->max_pd, DEF_MAX_PD);
	a->max_srq = pick(cfg->max_srq, DEF_MAX_SRQ);
	a->max_srq_wr = pick(cfg->max_srq_wr, DEF_MAX_SRQ_WR);
	a->max_srq_sge = EMU_MAX_SGE;
	a->max_ah = pick(cfg->max_ah, DEF_MAX_AH);
	a->max_inline_data = EMU_MAX_INLINE;
	a->max_qp_rd_atom = EMU_MAX_RD_ATOMIC;
	a->max_qp_init_rd_atom = EMU_MAX_RD_ATOMIC;
	a->max_pkeys = 1;
	a->vendor_id = VENDOR_ID;
	a->vendor_part_id = VENDOR_PART_ID;
	/* Every operation of every transport may meet ODP memory (emu.h, "On-demand
	 * paging"); UC has no SRQ here. */
	a->odp_general_caps = EMU_ODP_SUPPORT | EMU_ODP_SUPPORT_IMPLICIT;
	a->odp_rc_caps = EMU_ODP_SUPPORT_SEND | EMU_ODP_SUPPORT_RECV | EMU_ODP_SUPPORT_WRITE |
			 EMU_ODP_SUPPORT_READ | EMU_ODP_SUPPORT_ATOMIC | EMU_ODP_SUPPORT_SRQ_RECV;
	a->odp_uc_caps = EMU_ODP_SUPPORT_SEND | EMU_ODP_SUPPORT_RECV | EMU_ODP_SUPPORT_WRITE;
	a->odp_ud_caps = EMU_ODP_SUPPORT_SEND | EMU_ODP_SUPPORT_RECV | EMU_ODP_SUPPORT_SRQ_RECV;
}

/* Limits the table layouts can express: QPNs and key indexes have 24 bits. */
static bool attr_fits(const struct emu_dev_attr *a)
{
	return a->max_qp <= QPN_LIMIT - QPN_BASE &&
	       (uint64_t)a->max_mr + a->max_mw <= KEY_INDEX_LIMIT;
}

static uint32_t key_tbl_len(const struct emu_dev *dev)
{
	return dev->attr.max_mr + dev->attr.max_mw;
}

int emu_dev_create(const struct emu_host_ops *ops, const struct emu_dev_config *cfg,
		   struct emu_dev **out)
{
	static const struct emu_dev_config no_cfg;
	struct emu_dev_attr attr;
	struct emu_dev *dev;
	uint32_t mtu;

	if (!ops || !out || !ops_complete(ops))
		return -EMU_EINVAL;
	if (!cfg)
		cfg = &no_cfg;
	mtu = mtu_enum(cfg->port_mtu);
	if (!mtu || cfg->max_unacked_psns > MAX_UNACKED_LIMIT)
		return -EMU_EINVAL;
	set_attr(&attr, cfg);
	if (!attr_fits(&attr))
		return -EMU_EINVAL;

	dev = ops->alloc(ops->host, sizeof(*dev));
	if (!dev)
		return -EMU_ENOMEM;
	dev->ops = *ops;
	dev->cfg = *cfg;
	dev->attr = attr;
	if (!dev->cfg.max_unacked_psns)
		dev->cfg.max_unacked_psns = DEFAULT_MAX_UNACKED;
	dev->port_state = EMU_PORT_ACTIVE;
	dev->active_mtu = mtu;
	dev->timer_list = NULL;

	dev->qp_tbl = emu_alloc(dev, sizeof(*dev->qp_tbl) * attr.max_qp);
	dev->key_tbl = emu_alloc(dev, sizeof(*dev->key_tbl) * key_tbl_len(dev));
	if (!dev->qp_tbl || !dev->key_tbl) {
		emu_dev_destroy(dev);
		return -EMU_ENOMEM;
	}
	*out = dev;
	return 0;
}

void emu_dev_destroy(struct emu_dev *dev)
{
	if (!dev)
		return;
	emu_free(dev, dev->qp_tbl);
	emu_free(dev, dev->key_tbl);
	dev->ops.free(dev->ops.host, dev);
}

void emu_dev_query(const struct emu_dev *dev, struct emu_dev_attr *attr)
{
	*attr = dev->attr;
}

/* ---- port and GIDs -------------------------------------------------------------- */

void emu_port_query(const struct emu_dev *dev, struct emu_port_attr *attr)
{
	attr->state = dev->port_state;
	attr->max_mtu = EMU_MTU_4096;
	attr->active_mtu = dev->active_mtu;
	attr->gid_tbl_len = EMU_GID_TABLE_LEN;
	attr->pkey_tbl_len = 1;
}

void emu_port_set_state(struct emu_dev *dev, enum emu_port_state state)
{
	if (state != EMU_PORT_DOWN && state != EMU_PORT_ACTIVE)
		return;
	if (dev->port_state == (uint32_t)state)
		return;
	dev->port_state = state;
	emu_event(dev, state == EMU_PORT_ACTIVE ? EMU_EVENT_PORT_ACTIVE : EMU_EVENT_PORT_ERR,
		  NULL, 0);
}

static bool gid_is_zero(const uint8_t gid[16])
{
	static const uint8_t zero[16];

	return emu_memeq(gid, zero, 16);
}

int emu_gid_set(struct emu_dev *dev, uint32_t index, const uint8_t gid[16])
{
	/* The all-zero GID is the "no GID" value of IB: it can name no port. */
	if (index >= EMU_GID_TABLE_LEN || !gid || gid_is_zero(gid))
		return -EMU_EINVAL;
	emu_memcpy_small(dev->gid[index], gid, 16);
	dev->gid_valid[index] = true;
	return 0;
}

int emu_gid_del(struct emu_dev *dev, uint32_t index)
{
	if (index >= EMU_GID_TABLE_LEN)
		return -EMU_EINVAL;
	emu_memset(dev->gid[index], 0, 16);
	dev->gid_valid[index] = false;
	return 0;
}

int emu_gid_query(const struct emu_dev *dev, uint32_t index, uint8_t gid[16])
{
	if (!emu_gid_index_valid(dev, index))
		return -EMU_EINVAL;
	emu_memcpy_small(gid, dev->gid[index], 16);
	return 0;
}

bool emu_gid_index_valid(const struct emu_dev *dev, uint32_t index)
{
	return index < EMU_GID_TABLE_LEN && dev->gid_valid[index];
}

static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

void emu_gid_from_ipv4(uint8_t gid[16], const uint8_t ipv4[4])
{
	emu_memcpy_small(gid, v4mapped_prefix, sizeof(v4mapped_prefix));
	emu_memcpy_small(gid + 12, ipv4, 4);
}

bool emu_gid_is_ipv4(const uint8_t gid[16])
{
	return emu_memeq(gid, v4mapped_prefix, sizeof(v4mapped_prefix));
}

/* ---- host services -------------------------------------------------------------- */

void *emu_alloc(struct emu_dev *dev, size_t size)
{
	return dev->ops.alloc(dev->ops.host, size);
}

void emu_free(struct emu_dev *dev, void *p)
{
	if (p)
		dev->ops.free(dev->ops.host, p);
}

void emu_trace(struct emu_dev *dev, uint16_t kind, uint8_t opcode, uint32_t qpn,
	       uint32_t psn, uint64_t wr_index, uint64_t a, uint64_t b)
{
	struct emu_trace_rec rec;

	if (!dev->ops.trace)
		return;
	rec.kind = kind;
	rec.opcode = opcode;
	rec.reserved = 0;
	rec.dev_id = dev->cfg.dev_id;
	rec.qpn = qpn;
	rec.psn = psn;
	rec.wr_index = wr_index;
	rec.a = a;
	rec.b = b;
	dev->ops.trace(dev->ops.host, &rec);
}

void emu_event(struct emu_dev *dev, uint32_t type, void *cookie, uint32_t qpn)
{
	struct emu_async_event ev;

	emu_trace(dev, EMU_TR_EVENT, 0, qpn, 0, 0, type, 0);
	if (!dev->ops.async_event)
		return;
	ev.type = type;
	ev.port = PORT_NUM;
	ev.cookie = cookie;
	ev.qpn = qpn;
	dev->ops.async_event(dev->ops.host, &ev);
}

/* ---- counters ------------------------------------------------------------------- */

static void count_drop_in(struct emu_counters *cnt, enum emu_drop_reason why)
{
	cnt->drops[why]++;
	cnt->rx_drops++;
}

void emu_count_drop(struct emu_dev *dev, struct emu_qp *qp, enum emu_drop_reason why,
		    uint8_t opcode, uint32_t psn)
{
	/* A bad reason is an engine bug; count it somewhere rather than overrun. */
	if ((uint32_t)why >= EMU_DROP_REASONS)
		why = EMU_DROP_OPCODE;
	count_drop_in(&dev->cnt, why);
	if (qp)
		count_drop_in(&qp->cnt, why);
	emu_trace(dev, EMU_TR_DROP, opcode, qp ? qp->qpn : 0, psn, 0, why, 0);
}

const char *emu_trace_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		[EMU_TR_TX] = "tx",
		[EMU_TR_RX] = "rx",
		[EMU_TR_DROP] = "drop",
		[EMU_TR_RETRANSMIT] = "retransmit",
		[EMU_TR_NAK] = "nak",
		[EMU_TR_RNR] = "rnr",
		[EMU_TR_DMA_WRITE] = "dma-write",
		[EMU_TR_CQE] = "cqe",
		[EMU_TR_STATE] = "state",
		[EMU_TR_STALL] = "stall",
		[EMU_TR_RESUME] = "resume",
		[EMU_TR_EVENT] = "event",
		[EMU_TR_TIMEOUT] = "timeout",
		[EMU_TR_DMA_HOLD] = "dma-hold",
		[EMU_TR_DMA_CQE_FIRST] = "dma-cqe-first",
		[EMU_TR_DMA_DEFERRAL] = "dma-deferral",
	};

	return kind < EMU_ARRAY_SIZE(names) ? names[kind] : NULL;
}

const char *emu_drop_reason_name(enum emu_drop_reason r)
{
	static const char *const names[EMU_DROP_REASONS] = {
		[EMU_DROP_SHORT] = "short",
		[EMU_DROP_OPCODE] = "opcode",
		[EMU_DROP_VERSION] = "version",
		[EMU_DROP_PAD] = "pad",
		[EMU_DROP_LENGTH] = "length",
		[EMU_DROP_ICRC] = "icrc",
		[EMU_DROP_PKEY] = "pkey",
		[EMU_DROP_QKEY] = "qkey",
		[EMU_DROP_QPN] = "qpn",
		[EMU_DROP_QP_STATE] = "qp_state",
		[EMU_DROP_QP_TYPE] = "qp_type",
		[EMU_DROP_DGID] = "dgid",
		[EMU_DROP_PSN] = "psn",
		[EMU_DROP_NO_RECV] = "no_recv",
		[EMU_DROP_MCAST] = "mcast",
	};

	if ((uint32_t)r >= EMU_DROP_REASONS || !names[r])
		return "unknown";
	return names[r];
}

void emu_dev_counters(const struct emu_dev *dev, struct emu_counters *out)
{
	*out = dev->cnt;
}

void emu_qp_counters(const struct emu_qp *qp, struct emu_counters *out)
{
	*out = qp->cnt;
}

/* ---- QPN and key tables ------------------------------------------------------------ */

struct emu_qp *emu_qp_lookup(struct emu_dev *dev, uint32_t qpn)
{
	if (qpn < QPN_BASE || qpn - QPN_BASE >= dev->attr.max_qp)
		return NULL;
	return dev->qp_tbl[qpn - QPN_BASE];
}

struct emu_mem *emu_key_lookup(struct emu_dev *dev, uint32_t key)
{
	uint32_t index = key >> 8;
	struct emu_mem *mem;

	if (index >= key_tbl_len(dev))
		return NULL;
	mem = dev->key_tbl[index];
	/* The variable byte must match too: a stale key of a freed and reused
	 * slot names nothing. */
	if (!mem || mem->key != key)
		return NULL;
	return mem;
}

/* A new 8-bit variable part; never one that would make the key 0, which
 * hosts and peers commonly use to mean "no key". */
static uint8_t next_key_byte(struct emu_dev *dev, uint32_t index)
{
	dev->key_gen++;
	if (index == 0 && dev->key_gen == 0)
		dev->key_gen++;
	return dev->key_gen;
}

int emu_key_alloc(struct emu_dev *dev, struct emu_mem *mem)
{
	uint32_t len = key_tbl_len(dev);

	for (uint32_t i = 0; i < len; i++) {
		uint32_t index = (dev->key_next + i) % len;

		if (dev->key_tbl[index])
			continue;
		dev->key_tbl[index] = mem;
		dev->key_next = (index + 1) % len;
		mem->index = index;
		mem->key = index << 8 | next_key_byte(dev, index);
		return 0;
	}
	return -EMU_ENOMEM;
}

void emu_key_free(struct emu_dev *dev, struct emu_mem *mem)
{
	if (mem->index < key_tbl_len(dev) && dev->key_tbl[mem->index] == mem)
		dev->key_tbl[mem->index] = NULL;
}

/* ---- timers -------------------------------------------------------------------------- */

static void timer_unlink(struct emu_qp *qp)
{
	struct emu_qp **pp = &qp->dev->timer_list;

	while (*pp && *pp != qp)
		pp = &(*pp)->timer_next;
	if (*pp)
		*pp = qp->timer_next;
	qp->timer_next = NULL;
	qp->timer_linked = false;
}

static void timer_disarm(struct emu_qp *qp)
{
	if (qp->timer_linked)
		timer_unlink(qp);
	qp->timer_deadline = UINT64_MAX;
}

void emu_qp_timer_set(struct emu_qp *qp, uint64_t deadline, bool rnr)
{
	if (deadline == UINT64_MAX) {
		timer_disarm(qp);
		qp->rnr_wait = false;
		return;
	}
	qp->timer_deadline = deadline;
	qp->rnr_wait = rnr;
	if (!qp->timer_linked) {
		qp->timer_next = qp->dev->timer_list;
		qp->dev->timer_list = qp;
		qp->timer_linked = true;
	}
}

uint64_t emu_dev_next_deadline(const struct emu_dev *dev)
{
	uint64_t next = UINT64_MAX;

	/* Coalesced ACKs are due now: after whatever else arrives at this instant. */
	if (dev->ack_list)
		return dev->ops.now_ns(dev->ops.host);
	for (const struct emu_qp *qp = dev->timer_list; qp; qp = qp->timer_next)
		next = EMU_MIN(next, qp->timer_deadline);
	return next;
}

/* The expired QP to fire first: earliest deadline, then lowest QPN, so the
 * order does not depend on the order in which timers were armed. */
static struct emu_qp *first_expired(struct emu_dev *dev, uint64_t now)
{
	struct emu_qp *best = NULL;

	for (struct emu_qp *qp = dev->timer_list; qp; qp = qp->timer_next) {
		if (qp->timer_deadline > now)
			continue;
		if (!best || qp->timer_deadline < best->timer_deadline ||
		    (qp->timer_deadline == best->timer_deadline && qp->qpn < best->qpn))
			best = qp;
	}
	return best;
}

static uint32_t count_expired(const struct emu_dev *dev, uint64_t now)
{
	uint32_t n = 0;

	for (const struct emu_qp *qp = dev->timer_list; qp; qp = qp->timer_next)
		n += qp->timer_deadline <= now;
	return n;
}

/*
 * emu_comp_timer may arm or disarm any QP's timer, so the list is searched
 * again after each call. At most as many timers fire as had expired on entry:
 * a timer re-armed into the past fires on the host's next call instead of
 * looping here.
 */
void emu_dev_run_timers(struct emu_dev *dev)
{
	uint64_t now = dev->ops.now_ns(dev->ops.host);
	uint32_t budget;

	emu_resp_flush_acks(dev);
	budget = count_expired(dev, now);

	while (budget--) {
		struct emu_qp *qp = first_expired(dev, now);

		if (!qp)
			break;
		/* rnr_wait is left as it was: it tells emu_comp_timer which
		 * timer fired. */
		timer_disarm(qp);
		emu_comp_timer(qp);
	}
}

/* n_stalled (kept by emu_qp_stall/unstall) spares the scan of the whole QP
 * table in the common case of a fault that only one QP waited for. */
void emu_dev_mem_ready(struct emu_dev *dev)
{
	for (uint32_t i = 0; i < dev->attr.max_qp && dev->n_stalled; i++) {
		struct emu_qp *qp = dev->qp_tbl[i];

		if (qp && qp->stall != EMU_STALL_NONE)
			emu_qp_unstall(qp);
	}
}
