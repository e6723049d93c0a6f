/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/verbs_device.c - the device: its list, contexts, queries
 * (device, port, GID, P_Key) and asynchronous events.
 *
 * There is one device per process, named by the configuration (SOFTHCA_NAME,
 * default "sh0"). The host device behind it (struct uh_dev: engine, UDP socket,
 * progress thread) is opened by the first ibv_open_device and shared by every
 * context of the process, so that two contexts of one process reach each other;
 * it stays open until the library is unloaded (see uh_put_locked).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verbs_priv.h"

#undef ibv_query_port

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sh_device g_dev;
static int g_cfg_state;                 /* 0: not read yet, 1: good, -1: bad */
static int g_cfg_errno;
static struct uh_dev *g_uh;
static unsigned int g_uh_users;         /* contexts using g_uh */

/* ---- configuration and the device list --------------------------------------- */

static void fill_ibdev(struct sh_device *d)
{
	struct ibv_device *ib = &d->ibdev;

	ib->node_type = IBV_NODE_CA;
	ib->transport_type = IBV_TRANSPORT_IB;
	snprintf(ib->name, sizeof(ib->name), "%s", d->cfg.name);
	snprintf(ib->dev_name, sizeof(ib->dev_name), "uverbs0");
	snprintf(ib->dev_path, sizeof(ib->dev_path), "/sys/class/infiniband_verbs/uverbs0");
	snprintf(ib->ibdev_path, sizeof(ib->ibdev_path), "/sys/class/infiniband/%s",
		 d->cfg.name);
}

/* Read the configuration once; a bad one is reported once. [g_lock] */
static int read_config_locked(void)
{
	char err[256] = "";

	if (g_cfg_state == 1)
		return 0;
	if (g_cfg_state == -1)
		return g_cfg_errno;
	if (uh_config_from_env(&g_dev.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "libibverbs (softhca): bad configuration: %s\n",
			err[0] ? err : "unknown error");
		g_cfg_state = -1;
		g_cfg_errno = EINVAL;
		return g_cfg_errno;
	}
	fill_ibdev(&g_dev);
	g_cfg_state = 1;
	return 0;
}

SH_EXPORT struct ibv_device **ibv_get_device_list(int *num_devices)
{
	struct ibv_device **list = calloc(2, sizeof(*list));
	int err;

	if (!list) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&g_lock);
	err = read_config_locked();
	pthread_mutex_unlock(&g_lock);
	if (!err)
		list[0] = &g_dev.ibdev;
	if (num_devices)
		*num_devices = err ? 0 : 1;
	if (err)
		errno = err;
	return list;
}

SH_EXPORT void ibv_free_device_list(struct ibv_device **list)
{
	free(list);
}

static bool is_our_device(const struct ibv_device *device)
{
	return device == &g_dev.ibdev && g_cfg_state == 1;
}

SH_EXPORT const char *ibv_get_device_name(struct ibv_device *device)
{
	if (!device) {
		errno = EINVAL;
		return NULL;
	}
	return device->name;
}

SH_EXPORT int ibv_get_device_index(struct ibv_device *device)
{
	return is_our_device(device) ? 0 : -1;
}

/* ---- the shared host device ---------------------------------------------------- */

static void cache_guid_locked(struct uh_dev *uh)
{
	struct emu_dev_attr a;

	uh_lock(uh);
	emu_dev_query(uh_emu(uh), &a);
	uh_unlock(uh);
	g_dev.node_guid = a.node_guid;
	g_dev.guid_known = true;
}

/* Take a reference on the host device, opening it if needed. [g_lock] */
static int uh_get_locked(struct uh_dev **out)
{
	char err[256] = "";
	int ret;

	if (!g_uh) {
		ret = uh_dev_open(&g_dev.cfg, &g_uh, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "libibverbs (softhca): cannot open device %s: %s\n",
				g_dev.cfg.name, err[0] ? err : strerror(-ret));
			g_uh = NULL;
			return sh_err(ret);
		}
		cache_guid_locked(g_uh);
	}
	g_uh_users++;
	*out = g_uh;
	return 0;
}

/*
 * Drop a reference. The device outlives its last context: the kernel releases
 * the UDP port of a closed io_uring socket asynchronously, so closing and opening
 * again at once (pyverbs does it for every test) would find the address still in
 * use. It is closed when the library is unloaded. [g_lock]
 */
static void uh_put_locked(void)
{
	g_uh_users--;
}

/* At exit, or when the library is unloaded: the device goes, with whatever a
 * program left on it, unless a context still uses it. */
__attribute__((destructor)) static void close_device_at_exit(void)
{
	pthread_mutex_lock(&g_lock);
	if (g_uh && g_uh_users == 0) {
		uh_dev_close(g_uh);
		g_uh = NULL;
	}
	pthread_mutex_unlock(&g_lock);
}

SH_EXPORT __be64 ibv_get_device_guid(struct ibv_device *device)
{
	struct uh_dev *uh;
	uint64_t guid = 0;

	pthread_mutex_lock(&g_lock);
	if (!is_our_device(device)) {
		errno = EINVAL;
	} else {
		/* Opening the device caches its GUID. */
		if (!g_dev.guid_known && uh_get_locked(&uh) == 0)
			uh_put_locked();
		guid = g_dev.guid_known ? g_dev.node_guid : 0;
	}
	pthread_mutex_unlock(&g_lock);
	return htobe64(guid);
}

/* ---- contexts ---------------------------------------------------------------------- */

static void set_ops(struct sh_context *c)
{
	struct verbs_context *v = &c->vctx;
	struct ibv_context_ops *ops = &v->context.ops;

	ops->alloc_mw = sh_alloc_mw;
	ops->bind_mw = sh_bind_mw;
	ops->dealloc_mw = sh_dealloc_mw;
	ops->poll_cq = sh_poll_cq;
	ops->req_notify_cq = sh_req_notify_cq;
	ops->post_srq_recv = sh_post_srq_recv;
	ops->post_send = sh_post_send;
	ops->post_recv = sh_post_recv;

	v->query_port = sh_query_port;
	v->advise_mr = sh_advise_mr;
	v->create_cq_ex = sh_create_cq_ex;
	v->query_device_ex = sh_query_device_ex;
	v->create_qp_ex = sh_create_qp_ex;
	v->create_srq_ex = sh_create_srq_ex;
	/* No XRC domain can be opened (open_xrcd stays NULL), but ibv_close_xrcd
	 * calls this one unchecked. */
	v->close_xrcd = sh_close_xrcd;
}

SH_EXPORT struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	struct sh_context *c;
	struct uh_dev *uh;
	int err;

	pthread_mutex_lock(&g_lock);
	if (!is_our_device(device)) {
		pthread_mutex_unlock(&g_lock);
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	err = c ? uh_get_locked(&uh) : ENOMEM;
	pthread_mutex_unlock(&g_lock);
	if (err) {
		free(c);
		errno = err;
		return NULL;
	}
	c->dev = &g_dev;
	c->uh = uh;
	c->vctx.sz = sizeof(struct verbs_context);
	c->vctx.context.device = device;
	c->vctx.context.abi_compat = __VERBS_ABI_IS_EXTENDED;
	/* No kernel stands behind the context, but programs dup() or poll its
	 * command fd (pyverbs does before ibv_import_device): give it a harmless one. */
	c->vctx.context.cmd_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	c->vctx.context.async_fd = uh_async_fd(uh);
	c->vctx.context.num_comp_vectors = 1;
	pthread_mutex_init(&c->vctx.context.mutex, NULL);
	set_ops(c);
	return &c->vctx.context;
}

SH_EXPORT int ibv_close_device(struct ibv_context *context)
{
	struct sh_context *c;

	if (!context)
		return EINVAL;
	c = to_ctx(context);
	if (context->cmd_fd >= 0)
		close(context->cmd_fd);
	pthread_mutex_destroy(&context->mutex);
	free(c);
	pthread_mutex_lock(&g_lock);
	uh_put_locked();
	pthread_mutex_unlock(&g_lock);
	return 0;
}

/* mlx5dv_open_device and friends reach the generic open through this one. */
SH_EXPORT struct ibv_context *verbs_open_device(struct ibv_device *device, void *private_data)
{
	(void)private_data;
	return ibv_open_device(device);
}

/* ---- device attributes ---------------------------------------------------------------- */

#define SH_DEVICE_CAPS (IBV_DEVICE_RC_RNR_NAK_GEN | IBV_DEVICE_N_NOTIFY_CQ | \
			IBV_DEVICE_MEM_WINDOW | IBV_DEVICE_MEM_WINDOW_TYPE_2B | \
			IBV_DEVICE_PORT_ACTIVE_EVENT | IBV_DEVICE_SYS_IMAGE_GUID)

static int clip_int(uint64_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

static void fill_device_attr(const struct emu_dev_attr *a, struct ibv_device_attr *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->fw_ver, sizeof(d->fw_ver), "%u.%u.%u", (unsigned)(a->fw_ver >> 32),
		 (unsigned)((a->fw_ver >> 16) & 0xffff), (unsigned)(a->fw_ver & 0xffff));
	d->node_guid = htobe64(a->node_guid);
	d->sys_image_guid = htobe64(a->node_guid);
	d->max_mr_size = a->max_mr_size;
	d->page_size_cap = ~(uint64_t)0xfff;
	d->vendor_id = a->vendor_id;
	d->vendor_part_id = a->vendor_part_id;
	d->max_qp = clip_int(a->max_qp);
	d->max_qp_wr = clip_int(a->max_qp_wr);
	d->device_cap_flags = SH_DEVICE_CAPS;
	d->max_sge = clip_int(a->max_sge);
	d->max_sge_rd = clip_int(a->max_sge);
	d->max_cq = clip_int(a->max_cq);
	d->max_cqe = clip_int(a->max_cqe);
	d->max_mr = clip_int(a->max_mr);
	d->max_pd = clip_int(a->max_pd);
	d->max_qp_rd_atom = clip_int(a->max_qp_rd_atom);
	d->max_res_rd_atom = clip_int((uint64_t)a->max_qp_rd_atom * a->max_qp);
	d->max_qp_init_rd_atom = clip_int(a->max_qp_init_rd_atom);
	d->atomic_cap = IBV_ATOMIC_HCA;
	d->max_mw = clip_int(a->max_mw);
	d->max_ah = clip_int(a->max_ah);
	d->max_srq = clip_int(a->max_srq);
	d->max_srq_wr = clip_int(a->max_srq_wr);
	d->max_srq_sge = clip_int(a->max_srq_sge);
	d->max_pkeys = (uint16_t)(a->max_pkeys ? a->max_pkeys : 1);
	d->local_ca_ack_delay = 15;
	d->phys_port_cnt = 1;
}

/*
 * On-demand paging (provider/usermode/odp.h), explicit and implicit, for every
 * operation of the transports the device has; no XRC. There is no ODP bit among
 * the device capability flags: programs look at odp_caps.
 */
static void fill_odp_caps(const struct emu_dev_attr *a, struct ibv_odp_caps *odp)
{
	/* The engine's bits are numbered as the verbs ones. */
	odp->general_caps = a->odp_general_caps &
			    (IBV_ODP_SUPPORT | IBV_ODP_SUPPORT_IMPLICIT);
	odp->per_transport_caps.rc_odp_caps = a->odp_rc_caps;
	odp->per_transport_caps.uc_odp_caps = a->odp_uc_caps;
	odp->per_transport_caps.ud_odp_caps = a->odp_ud_caps;
}

int sh_query_device_ex(struct ibv_context *ctx, const struct ibv_query_device_ex_input *in,
		       struct ibv_device_attr_ex *attr, size_t attr_size)
{
	struct ibv_device_attr_ex full;
	struct uh_dev *uh = ctx_uh(ctx);
	struct emu_dev_attr a;

	if ((in && in->comp_mask) || !attr || attr_size < sizeof(struct ibv_device_attr))
		return EINVAL;
	uh_lock(uh);
	emu_dev_query(uh_emu(uh), &a);
	uh_unlock(uh);
	memset(&full, 0, sizeof(full));
	fill_device_attr(&a, &full.orig_attr);
	/* No timestamps, TSO, RSS, tag matching or device memory (yet). */
	full.device_cap_flags_ex = SH_DEVICE_CAPS;
	fill_odp_caps(&a, &full.odp_caps);
	full.phys_port_cnt_ex = 1;
	memset(attr, 0, attr_size);
	memcpy(attr, &full, attr_size < sizeof(full) ? attr_size : sizeof(full));
	return 0;
}

SH_EXPORT int ibv_query_device(struct ibv_context *context, struct ibv_device_attr *attr)
{
	return sh_query_device_ex(context, NULL, (struct ibv_device_attr_ex *)attr,
				  sizeof(*attr));
}

/* ---- port ------------------------------------------------------------------------------ */

static void fill_port_attr(const struct emu_port_attr *p, struct ibv_port_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->state = p->state == EMU_PORT_ACTIVE ? IBV_PORT_ACTIVE : IBV_PORT_DOWN;
	a->max_mtu = (enum ibv_mtu)p->max_mtu;
	a->active_mtu = (enum ibv_mtu)p->active_mtu;
	a->gid_tbl_len = (int)p->gid_tbl_len;
	a->port_cap_flags = IBV_PORT_CM_SUP | IBV_PORT_IP_BASED_GIDS;
	a->max_msg_sz = 0x80000000u;
	a->pkey_tbl_len = (uint16_t)p->pkey_tbl_len;
	a->max_vl_num = 1;                  /* VL0 only */
	a->active_width = 2;                /* 4X */
	a->active_speed = 32;               /* EDR: 4X EDR reads as 100 Gb/s */
	a->phys_state = p->state == EMU_PORT_ACTIVE ? 5 : 3; /* LinkUp : Disabled */
	a->link_layer = IBV_LINK_LAYER_ETHERNET;
	a->flags = IBV_QPF_GRH_REQUIRED;
}

int sh_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr,
		  size_t attr_len)
{
	struct ibv_port_attr full;
	struct uh_dev *uh = ctx_uh(ctx);
	struct emu_port_attr p;

	if (port != SH_PORT_NUM || !attr)
		return EINVAL;
	uh_lock(uh);
	emu_port_query(uh_emu(uh), &p);
	uh_unlock(uh);
	fill_port_attr(&p, &full);
	memset(attr, 0, attr_len);
	memcpy(attr, &full, attr_len < sizeof(full) ? attr_len : sizeof(full));
	return 0;
}

uint32_t sh_port_mtu_bytes(struct ibv_context *ctx)
{
	struct uh_dev *uh = ctx_uh(ctx);
	struct emu_port_attr p;

	uh_lock(uh);
	emu_port_query(uh_emu(uh), &p);
	uh_unlock(uh);
	return emu_mtu_bytes(p.active_mtu);
}

/*
 * The old entry point, taking the layout libibverbs had before port_cap_flags2:
 * programs built against verbs.h come through ___ibv_query_port and our
 * query_port op instead, so this one writes only the fields the old layout has.
 */
SH_EXPORT int ibv_query_port(struct ibv_context *context, uint8_t port_num,
			     struct _compat_ibv_port_attr *port_attr)
{
	return sh_query_port(context, port_num, (struct ibv_port_attr *)port_attr,
			     offsetof(struct ibv_port_attr, port_cap_flags2));
}

/* ---- GIDs and P_Keys ----------------------------------------------------------------- */

/* 0, ENODATA for an empty entry, EINVAL for a bad port or index. */
static int query_gid(struct ibv_context *ctx, uint32_t port, uint32_t index, uint8_t gid[16])
{
	struct uh_dev *uh = ctx_uh(ctx);
	int ret;

	if (port != SH_PORT_NUM || index >= EMU_GID_TABLE_LEN)
		return EINVAL;
	uh_lock(uh);
	ret = emu_gid_query(uh_emu(uh), index, gid);
	uh_unlock(uh);
	return ret ? ENODATA : 0;
}

int sh_find_gid(struct ibv_context *ctx, const uint8_t gid[16])
{
	uint8_t g[16];

	for (uint32_t i = 0; i < EMU_GID_TABLE_LEN; i++) {
		if (query_gid(ctx, SH_PORT_NUM, i, g) == 0 && memcmp(g, gid, 16) == 0)
			return (int)i;
	}
	return -1;
}

SH_EXPORT int ibv_query_gid(struct ibv_context *context, uint8_t port_num, int index,
			    union ibv_gid *gid)
{
	int ret;

	if (!context || !gid || index < 0) {
		errno = EINVAL;
		return -1;
	}
	ret = query_gid(context, port_num, (uint32_t)index, gid->raw);
	if (ret == ENODATA) {
		/* An empty entry reads as the zero GID, as on every device. */
		memset(gid, 0, sizeof(*gid));
		return 0;
	}
	if (ret) {
		errno = ret;
		return -1;
	}
	return 0;
}

static void fill_gid_entry(struct ibv_gid_entry *e, const uint8_t gid[16], uint32_t index)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->gid.raw, gid, 16);
	e->gid_index = index;
	e->port_num = SH_PORT_NUM;
	e->gid_type = IBV_GID_TYPE_ROCE_V2;
	e->ndev_ifindex = 0;                /* no kernel netdev behind the port */
}

SH_EXPORT int _ibv_query_gid_ex(struct ibv_context *context, uint32_t port_num,
				uint32_t gid_index, struct ibv_gid_entry *entry,
				uint32_t flags, size_t entry_size)
{
	struct ibv_gid_entry e;
	uint8_t gid[16];
	int ret;

	if (!context || !entry || flags || entry_size < sizeof(*entry))
		return EINVAL;
	ret = query_gid(context, port_num, gid_index, gid);
	if (ret)
		return ret;
	fill_gid_entry(&e, gid, gid_index);
	memset(entry, 0, entry_size);
	memcpy(entry, &e, sizeof(e));
	return 0;
}

SH_EXPORT ssize_t _ibv_query_gid_table(struct ibv_context *context,
				       struct ibv_gid_entry *entries, size_t max_entries,
				       uint32_t flags, size_t entry_size)
{
	size_t n = 0;
	uint8_t gid[16];

	if (!context || flags || entry_size < sizeof(struct ibv_gid_entry) ||
	    (max_entries && !entries))
		return -EINVAL;
	for (uint32_t i = 0; i < EMU_GID_TABLE_LEN; i++) {
		struct ibv_gid_entry *e;

		if (query_gid(context, SH_PORT_NUM, i, gid))
			continue;
		if (n == max_entries)
			return -EINVAL;     /* the caller's table is too small */
		e = (struct ibv_gid_entry *)(void *)((char *)entries + n * entry_size);
		memset(e, 0, entry_size);
		fill_gid_entry(e, gid, i);
		n++;
	}
	return (ssize_t)n;
}

/* The sysfs GID types libibverbs reports through its private interface. */
enum sh_gid_type_sysfs { SH_GID_TYPE_SYSFS_IB_ROCE_V1 = 0, SH_GID_TYPE_SYSFS_ROCE_V2 = 1 };

SH_EXPORT int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num,
				 unsigned int index, enum sh_gid_type_sysfs *type)
{
	uint8_t gid[16];
	int ret;

	if (!context || !type) {
		errno = EINVAL;
		return -1;
	}
	ret = query_gid(context, port_num, index, gid);
	if (ret == EINVAL) {
		errno = EINVAL;
		return -1;
	}
	/* Every GID of a RoCEv2 port is of type v2, the empty ones as libibverbs
	 * reports them (the sysfs default). */
	*type = ret == ENODATA ? SH_GID_TYPE_SYSFS_IB_ROCE_V1 : SH_GID_TYPE_SYSFS_ROCE_V2;
	return 0;
}

SH_EXPORT int ibv_query_pkey(struct ibv_context *context, uint8_t port_num, int index,
			     __be16 *pkey)
{
	if (!context || !pkey || port_num != SH_PORT_NUM || index != 0) {
		errno = EINVAL;
		return -1;
	}
	*pkey = htobe16(EMU_PKEY_DEFAULT);
	return 0;
}

SH_EXPORT int ibv_get_pkey_index(struct ibv_context *context, uint8_t port_num, __be16 pkey)
{
	__be16 p;

	if (ibv_query_pkey(context, port_num, 0, &p) == 0 &&
	    (be16toh(p) & 0x7fff) == (be16toh(pkey) & 0x7fff))
		return 0;
	errno = ENOENT;
	return -1;
}

/* ---- asynchronous events ---------------------------------------------------------------- */

static bool is_qp_event(uint32_t t)
{
	return t == IBV_EVENT_QP_FATAL || t == IBV_EVENT_QP_REQ_ERR ||
	       t == IBV_EVENT_QP_ACCESS_ERR || t == IBV_EVENT_COMM_EST ||
	       t == IBV_EVENT_SQ_DRAINED || t == IBV_EVENT_PATH_MIG ||
	       t == IBV_EVENT_PATH_MIG_ERR || t == IBV_EVENT_QP_LAST_WQE_REACHED;
}

static bool is_srq_event(uint32_t t)
{
	return t == IBV_EVENT_SRQ_ERR || t == IBV_EVENT_SRQ_LIMIT_REACHED;
}

/* Count an event handed out on its object, for the destroy that waits for its ack. */
static void count_event(pthread_mutex_t *m, uint32_t *counter)
{
	pthread_mutex_lock(m);
	(*counter)++;
	pthread_mutex_unlock(m);
}

/* The host hands the event over with our own object (the `user` of its CQ, QP
 * or SRQ) in place of the engine's cookie. */
static void translate_event(const struct emu_async_event *ev, struct ibv_async_event *out)
{
	memset(out, 0, sizeof(*out));
	out->event_type = (enum ibv_event_type)ev->type;
	if (ev->type == IBV_EVENT_CQ_ERR && ev->cookie) {
		struct sh_cq *cq = ev->cookie;

		out->element.cq = ibv_cq_ex_to_cq(&cq->cq);
		count_event(&cq->cq.mutex, &cq->async_events);
	} else if (is_qp_event(ev->type) && ev->cookie) {
		struct sh_qp *qp = ev->cookie;

		out->element.qp = &qp->qpx.qp_base;
		count_event(&qp->qpx.qp_base.mutex, &qp->async_events);
	} else if (is_srq_event(ev->type) && ev->cookie) {
		struct sh_srq *srq = ev->cookie;

		out->element.srq = &srq->srq;
		count_event(&srq->srq.mutex, &srq->async_events);
	} else {
		out->element.port_num = ev->port ? (int)ev->port : SH_PORT_NUM;
	}
}

SH_EXPORT int ibv_get_async_event(struct ibv_context *context, struct ibv_async_event *event)
{
	struct emu_async_event ev;
	struct uh_dev *uh;
	int fd;

	if (!context || !event) {
		errno = EINVAL;
		return -1;
	}
	uh = ctx_uh(context);
	uh_verbs_entry(uh);
	fd = context->async_fd;
	while (!uh_get_async_event(uh, &ev)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0 && (fl & O_NONBLOCK)) {
			errno = EAGAIN;
			return -1;
		}
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -1;
	}
	translate_event(&ev, event);
	return 0;
}

static void ack_on(pthread_mutex_t *m, pthread_cond_t *cond, uint32_t *completed)
{
	pthread_mutex_lock(m);
	(*completed)++;
	pthread_cond_signal(cond);
	pthread_mutex_unlock(m);
}

SH_EXPORT void ibv_ack_async_event(struct ibv_async_event *event)
{
	uint32_t t;

	if (!event)
		return;
	t = event->event_type;
	if (t == IBV_EVENT_CQ_ERR && event->element.cq) {
		struct ibv_cq *cq = event->element.cq;

		ack_on(&cq->mutex, &cq->cond, &cq->async_events_completed);
	} else if (is_qp_event(t) && event->element.qp) {
		struct ibv_qp *qp = event->element.qp;

		ack_on(&qp->mutex, &qp->cond, &qp->events_completed);
	} else if (is_srq_event(t) && event->element.srq) {
		struct ibv_srq *srq = event->element.srq;

		ack_on(&srq->mutex, &srq->cond, &srq->events_completed);
	}
}
