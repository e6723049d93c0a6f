/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/verbs_compat.c - the rest of libibverbs' ABI: strings, rate
 * conversions, kernel-struct copy helpers, sysfs and fork helpers, verbs this
 * device does not support (EOPNOTSUPP), the IBVERBS_1.0 compatibility entry
 * points (ENOSYS) and the IBVERBS_PRIVATE_34 symbols that libmlx5, libefa and
 * other providers import (they must resolve for those libraries to load; a
 * provider never gets a device of ours, so none of them is really called).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <rdma/ib_user_sa.h>
#include <rdma/ib_user_verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/sa.h>

#include "verbs_priv.h"

/* ---- strings ------------------------------------------------------------------- */

static const char *str_at(const char *const *table, size_t n, long i)
{
	if (i < 0 || (size_t)i >= n || !table[i])
		return "unknown";
	return table[i];
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

SH_EXPORT const char *ibv_wc_status_str(enum ibv_wc_status status)
{
	static const char *const s[] = {
		[IBV_WC_SUCCESS] = "success",
		[IBV_WC_LOC_LEN_ERR] = "local length error",
		[IBV_WC_LOC_QP_OP_ERR] = "local QP operation error",
		[IBV_WC_LOC_EEC_OP_ERR] = "local EE context operation error",
		[IBV_WC_LOC_PROT_ERR] = "local protection error",
		[IBV_WC_WR_FLUSH_ERR] = "Work Request Flushed Error",
		[IBV_WC_MW_BIND_ERR] = "memory management operation error",
		[IBV_WC_BAD_RESP_ERR] = "bad response error",
		[IBV_WC_LOC_ACCESS_ERR] = "local access error",
		[IBV_WC_REM_INV_REQ_ERR] = "remote invalid request error",
		[IBV_WC_REM_ACCESS_ERR] = "remote access error",
		[IBV_WC_REM_OP_ERR] = "remote operation error",
		[IBV_WC_RETRY_EXC_ERR] = "transport retry counter exceeded",
		[IBV_WC_RNR_RETRY_EXC_ERR] = "RNR retry counter exceeded",
		[IBV_WC_LOC_RDD_VIOL_ERR] = "local RDD violation error",
		[IBV_WC_REM_INV_RD_REQ_ERR] = "remote invalid RD request",
		[IBV_WC_REM_ABORT_ERR] = "aborted error",
		[IBV_WC_INV_EECN_ERR] = "invalid EE context number",
		[IBV_WC_INV_EEC_STATE_ERR] = "invalid EE context state",
		[IBV_WC_FATAL_ERR] = "fatal error",
		[IBV_WC_RESP_TIMEOUT_ERR] = "response timeout error",
		[IBV_WC_GENERAL_ERR] = "general error",
		[IBV_WC_TM_ERR] = "TM error",
		[IBV_WC_TM_RNDV_INCOMPLETE] = "TM software rendezvous",
	};

	return str_at(s, ARRAY_LEN(s), (long)status);
}

SH_EXPORT const char *ibv_node_type_str(enum ibv_node_type node_type)
{
	static const char *const s[] = {
		[IBV_NODE_CA] = "InfiniBand channel adapter",
		[IBV_NODE_SWITCH] = "InfiniBand switch",
		[IBV_NODE_ROUTER] = "InfiniBand router",
		[IBV_NODE_RNIC] = "iWARP NIC",
		[IBV_NODE_USNIC] = "usNIC",
		[IBV_NODE_USNIC_UDP] = "usNIC UDP",
		[IBV_NODE_UNSPECIFIED] = "unspecified",
	};

	return str_at(s, ARRAY_LEN(s), (long)node_type);
}

SH_EXPORT const char *ibv_port_state_str(enum ibv_port_state port_state)
{
	static const char *const s[] = {
		[IBV_PORT_NOP] = "no state change (NOP)",
		[IBV_PORT_DOWN] = "down",
		[IBV_PORT_INIT] = "init",
		[IBV_PORT_ARMED] = "armed",
		[IBV_PORT_ACTIVE] = "active",
		[IBV_PORT_ACTIVE_DEFER] = "active defer",
	};

	return str_at(s, ARRAY_LEN(s), (long)port_state);
}

SH_EXPORT const char *ibv_event_type_str(enum ibv_event_type event)
{
	static const char *const s[] = {
		[IBV_EVENT_CQ_ERR] = "CQ error",
		[IBV_EVENT_QP_FATAL] = "local work queue catastrophic error",
		[IBV_EVENT_QP_REQ_ERR] = "invalid request local work queue error",
		[IBV_EVENT_QP_ACCESS_ERR] = "local access violation work queue error",
		[IBV_EVENT_COMM_EST] = "communication established",
		[IBV_EVENT_SQ_DRAINED] = "send queue drained",
		[IBV_EVENT_PATH_MIG] = "path migrated",
		[IBV_EVENT_PATH_MIG_ERR] = "path migration request error",
		[IBV_EVENT_DEVICE_FATAL] = "local catastrophic error",
		[IBV_EVENT_PORT_ACTIVE] = "port active",
		[IBV_EVENT_PORT_ERR] = "port error",
		[IBV_EVENT_LID_CHANGE] = "LID change",
		[IBV_EVENT_PKEY_CHANGE] = "P_Key change",
		[IBV_EVENT_SM_CHANGE] = "SM change",
		[IBV_EVENT_SRQ_ERR] = "SRQ catastrophic error",
		[IBV_EVENT_SRQ_LIMIT_REACHED] = "SRQ limit reached",
		[IBV_EVENT_QP_LAST_WQE_REACHED] = "last WQE reached",
		[IBV_EVENT_CLIENT_REREGISTER] = "client reregistration",
		[IBV_EVENT_GID_CHANGE] = "GID table change",
		[IBV_EVENT_WQ_FATAL] = "WQ fatal",
	};

	return str_at(s, ARRAY_LEN(s), (long)event);
}

/* ---- static rates ------------------------------------------------------------------- */

struct rate_row {
	enum ibv_rate rate;
	int mult;               /* of 2.5 Gb/s, -1 when not a multiple */
	int mbps;
};

static const struct rate_row rates[] = {
	{ IBV_RATE_2_5_GBPS, 1, 2500 },    { IBV_RATE_5_GBPS, 2, 5000 },
	{ IBV_RATE_10_GBPS, 4, 10000 },    { IBV_RATE_20_GBPS, 8, 20000 },
	{ IBV_RATE_30_GBPS, 12, 30000 },   { IBV_RATE_40_GBPS, 16, 40000 },
	{ IBV_RATE_60_GBPS, 24, 60000 },   { IBV_RATE_80_GBPS, 32, 80000 },
	{ IBV_RATE_120_GBPS, 48, 120000 }, { IBV_RATE_14_GBPS, -1, 14062 },
	{ IBV_RATE_56_GBPS, -1, 56250 },   { IBV_RATE_112_GBPS, -1, 112500 },
	{ IBV_RATE_168_GBPS, -1, 168750 }, { IBV_RATE_25_GBPS, -1, 25781 },
	{ IBV_RATE_100_GBPS, -1, 103125 }, { IBV_RATE_200_GBPS, -1, 206250 },
	{ IBV_RATE_300_GBPS, -1, 309375 }, { IBV_RATE_28_GBPS, -1, 28125 },
	{ IBV_RATE_50_GBPS, -1, 53125 },   { IBV_RATE_400_GBPS, -1, 425000 },
	{ IBV_RATE_600_GBPS, -1, 637500 },
};

static const struct rate_row *rate_row_of(enum ibv_rate rate)
{
	for (size_t i = 0; i < ARRAY_LEN(rates); i++)
		if (rates[i].rate == rate)
			return &rates[i];
	return NULL;
}

SH_EXPORT int ibv_rate_to_mult(enum ibv_rate rate)
{
	const struct rate_row *r = rate_row_of(rate);

	return r ? r->mult : -1;
}

SH_EXPORT enum ibv_rate mult_to_ibv_rate(int mult)
{
	for (size_t i = 0; i < ARRAY_LEN(rates); i++)
		if (rates[i].mult == mult && mult > 0)
			return rates[i].rate;
	return IBV_RATE_MAX;
}

SH_EXPORT int ibv_rate_to_mbps(enum ibv_rate rate)
{
	const struct rate_row *r = rate_row_of(rate);

	return r ? r->mbps : -1;
}

SH_EXPORT enum ibv_rate mbps_to_ibv_rate(int mbps)
{
	for (size_t i = 0; i < ARRAY_LEN(rates); i++)
		if (rates[i].mbps == mbps)
			return rates[i].rate;
	return IBV_RATE_MAX;
}

/* ---- kernel struct conversions (librdmacm uses them) ---------------------------------- */

SH_EXPORT void ibv_copy_ah_attr_from_kern(struct ibv_ah_attr *dst, struct ib_uverbs_ah_attr *src)
{
	memcpy(dst->grh.dgid.raw, src->grh.dgid, sizeof(dst->grh.dgid));
	dst->grh.flow_label = src->grh.flow_label;
	dst->grh.sgid_index = src->grh.sgid_index;
	dst->grh.hop_limit = src->grh.hop_limit;
	dst->grh.traffic_class = src->grh.traffic_class;
	dst->dlid = src->dlid;
	dst->sl = src->sl;
	dst->src_path_bits = src->src_path_bits;
	dst->static_rate = src->static_rate;
	dst->is_global = src->is_global;
	dst->port_num = src->port_num;
}

SH_EXPORT void ibv_copy_qp_attr_from_kern(struct ibv_qp_attr *dst, struct ib_uverbs_qp_attr *src)
{
	dst->cur_qp_state = (enum ibv_qp_state)src->cur_qp_state;
	dst->path_mtu = (enum ibv_mtu)src->path_mtu;
	dst->path_mig_state = (enum ibv_mig_state)src->path_mig_state;
	dst->qkey = src->qkey;
	dst->rq_psn = src->rq_psn;
	dst->sq_psn = src->sq_psn;
	dst->dest_qp_num = src->dest_qp_num;
	dst->qp_access_flags = src->qp_access_flags;
	dst->cap.max_send_wr = src->max_send_wr;
	dst->cap.max_recv_wr = src->max_recv_wr;
	dst->cap.max_send_sge = src->max_send_sge;
	dst->cap.max_recv_sge = src->max_recv_sge;
	dst->cap.max_inline_data = src->max_inline_data;
	ibv_copy_ah_attr_from_kern(&dst->ah_attr, &src->ah_attr);
	ibv_copy_ah_attr_from_kern(&dst->alt_ah_attr, &src->alt_ah_attr);
	dst->pkey_index = src->pkey_index;
	dst->alt_pkey_index = src->alt_pkey_index;
	dst->en_sqd_async_notify = src->en_sqd_async_notify;
	dst->sq_draining = src->sq_draining;
	dst->max_rd_atomic = src->max_rd_atomic;
	dst->max_dest_rd_atomic = src->max_dest_rd_atomic;
	dst->min_rnr_timer = src->min_rnr_timer;
	dst->port_num = src->port_num;
	dst->timeout = src->timeout;
	dst->retry_cnt = src->retry_cnt;
	dst->rnr_retry = src->rnr_retry;
	dst->alt_port_num = src->alt_port_num;
	dst->alt_timeout = src->alt_timeout;
}

SH_EXPORT void ibv_copy_path_rec_from_kern(struct ibv_sa_path_rec *dst, struct ib_user_path_rec *src)
{
	memcpy(dst->dgid.raw, src->dgid, sizeof(dst->dgid));
	memcpy(dst->sgid.raw, src->sgid, sizeof(dst->sgid));
	dst->dlid = src->dlid;
	dst->slid = src->slid;
	dst->raw_traffic = (int)src->raw_traffic;
	dst->flow_label = src->flow_label;
	dst->hop_limit = src->hop_limit;
	dst->traffic_class = src->traffic_class;
	dst->reversible = (int)src->reversible;
	dst->numb_path = src->numb_path;
	dst->pkey = src->pkey;
	dst->sl = src->sl;
	dst->mtu_selector = src->mtu_selector;
	dst->mtu = (uint8_t)src->mtu;
	dst->rate_selector = src->rate_selector;
	dst->rate = src->rate;
	dst->packet_life_time_selector = src->packet_life_time_selector;
	dst->packet_life_time = src->packet_life_time;
	dst->preference = src->preference;
}

SH_EXPORT void ibv_copy_path_rec_to_kern(struct ib_user_path_rec *dst, struct ibv_sa_path_rec *src)
{
	memcpy(dst->dgid, src->dgid.raw, sizeof(dst->dgid));
	memcpy(dst->sgid, src->sgid.raw, sizeof(dst->sgid));
	dst->dlid = src->dlid;
	dst->slid = src->slid;
	dst->raw_traffic = (uint32_t)src->raw_traffic;
	dst->flow_label = src->flow_label;
	dst->hop_limit = src->hop_limit;
	dst->traffic_class = src->traffic_class;
	dst->reversible = (uint32_t)src->reversible;
	dst->numb_path = src->numb_path;
	dst->pkey = src->pkey;
	dst->sl = src->sl;
	dst->mtu_selector = src->mtu_selector;
	dst->mtu = src->mtu;
	dst->rate_selector = src->rate_selector;
	dst->rate = src->rate;
	dst->packet_life_time_selector = src->packet_life_time_selector;
	dst->packet_life_time = src->packet_life_time;
	dst->preference = src->preference;
}

/* ---- sysfs ---------------------------------------------------------------------------- */

static char sysfs_path[PATH_MAX];
static pthread_once_t sysfs_once = PTHREAD_ONCE_INIT;

/* Where sysfs is: $SYSFS_PATH (unless setuid), without trailing slashes, or /sys. */
static void sysfs_path_init(void)
{
	const char *env = getuid() == geteuid() ? getenv("SYSFS_PATH") : NULL;
	size_t len;

	snprintf(sysfs_path, sizeof(sysfs_path), "%s", env && *env ? env : "/sys");
	len = strlen(sysfs_path);
	while (len > 1 && sysfs_path[len - 1] == '/')
		sysfs_path[--len] = '\0';
}

SH_EXPORT const char *ibv_get_sysfs_path(void)
{
	pthread_once(&sysfs_once, sysfs_path_init);
	return sysfs_path;
}

SH_EXPORT int ibv_read_sysfs_file(const char *dir, const char *file, char *buf, size_t size)
{
	char *path = NULL;
	ssize_t len;
	int fd;

	if (!dir || !file || !buf || !size || asprintf(&path, "%s/%s", dir, file) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
	len = read(fd, buf, size);
	close(fd);
	if (len <= 0)
		return -1;
	if (buf[len - 1] == '\n') {
		buf[--len] = '\0';
	} else if ((size_t)len < size) {
		buf[len] = '\0';
	} else {
		return -1;      /* it would not fit with its terminator */
	}
	return (int)len;
}

/* ---- fork -------------------------------------------------------------------------------- */

/* The device lives in the process and reaches memory through the process's own
 * mappings: nothing is pinned, so fork needs no care from us. */
SH_EXPORT int ibv_fork_init(void)
{
	return 0;
}

SH_EXPORT enum ibv_fork_status ibv_is_fork_initialized(void)
{
	return IBV_FORK_UNNEEDED;
}

SH_EXPORT int ibv_dontfork_range(void *base, size_t size)
{
	(void)base; (void)size;
	return 0;
}

SH_EXPORT int ibv_dofork_range(void *base, size_t size)
{
	(void)base; (void)size;
	return 0;
}

/* ---- what this device does not support ------------------------------------------------ */

SH_EXPORT int ibv_attach_mcast(struct ibv_qp *qp, const union ibv_gid *gid, uint16_t lid)
{
	(void)qp; (void)gid; (void)lid;
	return EOPNOTSUPP;
}

SH_EXPORT int ibv_detach_mcast(struct ibv_qp *qp, const union ibv_gid *gid, uint16_t lid)
{
	(void)qp; (void)gid; (void)lid;
	return EOPNOTSUPP;
}

/* No kernel neighbour table stands behind the port: RoCE peers are reached by IP
 * through the host's UDP socket, so the L2 address is all zero and untagged. */
SH_EXPORT int ibv_resolve_eth_l2_from_gid(struct ibv_context *context, struct ibv_ah_attr *attr,
					  uint8_t eth_mac[ETHERNET_LL_SIZE], uint16_t *vid)
{
	if (!context || !attr || !eth_mac)
		return EINVAL;
	memset(eth_mac, 0, ETHERNET_LL_SIZE);
	if (vid)
		*vid = 0xffff;
	return 0;
}

SH_EXPORT int ibv_query_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	(void)qp; (void)ece;
	return EOPNOTSUPP;
}

SH_EXPORT int ibv_set_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	(void)qp; (void)ece;
	return EOPNOTSUPP;
}

SH_EXPORT struct ibv_context *ibv_import_device(int cmd_fd)
{
	(void)cmd_fd;
	errno = EOPNOTSUPP;
	return NULL;
}

SH_EXPORT struct ibv_pd *ibv_import_pd(struct ibv_context *context, uint32_t pd_handle)
{
	(void)context; (void)pd_handle;
	errno = EOPNOTSUPP;
	return NULL;
}

SH_EXPORT void ibv_unimport_pd(struct ibv_pd *pd)
{
	(void)pd;
}

SH_EXPORT struct ibv_mr *ibv_import_mr(struct ibv_pd *pd, uint32_t mr_handle)
{
	(void)pd; (void)mr_handle;
	errno = EOPNOTSUPP;
	return NULL;
}

SH_EXPORT void ibv_unimport_mr(struct ibv_mr *mr)
{
	(void)mr;
}

SH_EXPORT struct ibv_dm *ibv_import_dm(struct ibv_context *context, uint32_t dm_handle)
{
	(void)context; (void)dm_handle;
	errno = EOPNOTSUPP;
	return NULL;
}

SH_EXPORT void ibv_unimport_dm(struct ibv_dm *dm)
{
	(void)dm;
}

int sh_close_xrcd(struct ibv_xrcd *xrcd)
{
	(void)xrcd;
	return EOPNOTSUPP;
}

/* ---- IBVERBS_1.0 compatibility: the pre-2006 ABI is not provided ----------------------- */

#define SH_COMPAT_1_0(name, impl) __asm__(".symver " #impl ", " #name "@IBVERBS_1.0");

#define SH_COMPAT_PTR(name)                                                    \
	SH_EXPORT void *sh_compat_##name(void) { errno = ENOSYS; return NULL; } \
	SH_COMPAT_1_0(name, sh_compat_##name)
#define SH_COMPAT_INT(name)                                                    \
	SH_EXPORT int sh_compat_##name(void) { errno = ENOSYS; return ENOSYS; } \
	SH_COMPAT_1_0(name, sh_compat_##name)
#define SH_COMPAT_VOID(name)                                                   \
	SH_EXPORT void sh_compat_##name(void) { }                              \
	SH_COMPAT_1_0(name, sh_compat_##name)

SH_COMPAT_PTR(ibv_get_device_list)
SH_COMPAT_PTR(ibv_get_device_name)
SH_COMPAT_PTR(ibv_open_device)
SH_COMPAT_PTR(ibv_alloc_pd)
SH_COMPAT_PTR(ibv_reg_mr)
SH_COMPAT_PTR(ibv_create_cq)
SH_COMPAT_PTR(ibv_create_srq)
SH_COMPAT_PTR(ibv_create_qp)
SH_COMPAT_PTR(ibv_create_ah)
SH_COMPAT_VOID(ibv_free_device_list)
SH_COMPAT_VOID(ibv_ack_async_event)
SH_COMPAT_VOID(ibv_ack_cq_events)
SH_COMPAT_INT(ibv_get_device_guid)
SH_COMPAT_INT(ibv_close_device)
SH_COMPAT_INT(ibv_get_async_event)
SH_COMPAT_INT(ibv_query_device)
SH_COMPAT_INT(ibv_query_port)
SH_COMPAT_INT(ibv_query_gid)
SH_COMPAT_INT(ibv_query_pkey)
SH_COMPAT_INT(ibv_dealloc_pd)
SH_COMPAT_INT(ibv_dereg_mr)
SH_COMPAT_INT(ibv_resize_cq)
SH_COMPAT_INT(ibv_destroy_cq)
SH_COMPAT_INT(ibv_get_cq_event)
SH_COMPAT_INT(ibv_modify_srq)
SH_COMPAT_INT(ibv_query_srq)
SH_COMPAT_INT(ibv_destroy_srq)
SH_COMPAT_INT(ibv_modify_qp)
SH_COMPAT_INT(ibv_query_qp)
SH_COMPAT_INT(ibv_destroy_qp)
SH_COMPAT_INT(ibv_destroy_ah)
SH_COMPAT_INT(ibv_attach_mcast)
SH_COMPAT_INT(ibv_detach_mcast)

/* Providers from before the dynamic registration: accepted and ignored. */
SH_EXPORT void sh_register_driver_1_1(const char *name, void *init_func)
{
	(void)name; (void)init_func;
}
__asm__(".symver sh_register_driver_1_1, ibv_register_driver@IBVERBS_1.1");

/* ---- IBVERBS_PRIVATE_34 ------------------------------------------------------------------
 * Providers link these; they load, register (ignored: our device is no kernel
 * device they could drive) and are never handed a device, so the command
 * wrappers only have to fail cleanly if something calls them anyway.
 */

SH_EXPORT bool verbs_allow_disassociate_destroy;

SH_EXPORT void verbs_register_driver_34(const void *ops)
{
	(void)ops;
}

SH_EXPORT void *_verbs_init_and_alloc_context(void *device, int cmd_fd, size_t alloc_size,
					      void *context_offset, uint32_t driver_id)
{
	(void)device; (void)cmd_fd; (void)alloc_size; (void)context_offset; (void)driver_id;
	errno = EOPNOTSUPP;
	return NULL;
}

SH_EXPORT void verbs_uninit_context(void *context)
{
	(void)context;
}

SH_EXPORT void verbs_set_ops(void *vctx, const void *ops)
{
	(void)vctx; (void)ops;
}

SH_EXPORT void verbs_init_cq(void *cq, void *context, void *channel, void *cq_context)
{
	(void)cq; (void)context; (void)channel; (void)cq_context;
}

SH_EXPORT void __verbs_log(void *ctx, uint32_t level, const char *fmt, ...)
{
	(void)ctx; (void)level; (void)fmt;
}

SH_EXPORT unsigned int __ioctl_final_num_attrs(unsigned int num_attrs, void *link)
{
	(void)link;
	return num_attrs;
}

SH_EXPORT int execute_ioctl(void *context, void *cmd)
{
	(void)context; (void)cmd;
	return EOPNOTSUPP;
}

SH_EXPORT int ibv_read_ibdev_sysfs_file(char *buf, size_t size, void *sysfs_dev,
				       const char *fnfmt, ...)
{
	(void)buf; (void)size; (void)sysfs_dev; (void)fnfmt;
	errno = EOPNOTSUPP;
	return -1;
}

#define SH_CMD_STUB(name) \
	SH_EXPORT int name(void) { return EOPNOTSUPP; }

SH_CMD_STUB(ibv_cmd_advise_mr)
SH_CMD_STUB(ibv_cmd_alloc_dm)
SH_CMD_STUB(ibv_cmd_alloc_mw)
SH_CMD_STUB(ibv_cmd_alloc_pd)
SH_CMD_STUB(ibv_cmd_attach_mcast)
SH_CMD_STUB(ibv_cmd_close_xrcd)
SH_CMD_STUB(ibv_cmd_create_ah)
SH_CMD_STUB(ibv_cmd_create_counters)
SH_CMD_STUB(ibv_cmd_create_cq)
SH_CMD_STUB(ibv_cmd_create_cq_ex)
SH_CMD_STUB(ibv_cmd_create_flow)
SH_CMD_STUB(ibv_cmd_create_flow_action_esp)
SH_CMD_STUB(ibv_cmd_create_qp)
SH_CMD_STUB(ibv_cmd_create_qp_ex)
SH_CMD_STUB(ibv_cmd_create_qp_ex2)
SH_CMD_STUB(ibv_cmd_create_rwq_ind_table)
SH_CMD_STUB(ibv_cmd_create_srq)
SH_CMD_STUB(ibv_cmd_create_srq_ex)
SH_CMD_STUB(ibv_cmd_create_wq)
SH_CMD_STUB(ibv_cmd_dealloc_mw)
SH_CMD_STUB(ibv_cmd_dealloc_pd)
SH_CMD_STUB(ibv_cmd_dereg_mr)
SH_CMD_STUB(ibv_cmd_destroy_ah)
SH_CMD_STUB(ibv_cmd_destroy_counters)
SH_CMD_STUB(ibv_cmd_destroy_cq)
SH_CMD_STUB(ibv_cmd_destroy_flow)
SH_CMD_STUB(ibv_cmd_destroy_flow_action)
SH_CMD_STUB(ibv_cmd_destroy_qp)
SH_CMD_STUB(ibv_cmd_destroy_rwq_ind_table)
SH_CMD_STUB(ibv_cmd_destroy_srq)
SH_CMD_STUB(ibv_cmd_destroy_wq)
SH_CMD_STUB(ibv_cmd_detach_mcast)
SH_CMD_STUB(ibv_cmd_free_dm)
SH_CMD_STUB(ibv_cmd_get_context)
SH_CMD_STUB(ibv_cmd_modify_cq)
SH_CMD_STUB(ibv_cmd_modify_flow_action_esp)
SH_CMD_STUB(ibv_cmd_modify_qp)
SH_CMD_STUB(ibv_cmd_modify_qp_ex)
SH_CMD_STUB(ibv_cmd_modify_srq)
SH_CMD_STUB(ibv_cmd_modify_wq)
SH_CMD_STUB(ibv_cmd_open_qp)
SH_CMD_STUB(ibv_cmd_open_xrcd)
SH_CMD_STUB(ibv_cmd_poll_cq)
SH_CMD_STUB(ibv_cmd_post_recv)
SH_CMD_STUB(ibv_cmd_post_send)
SH_CMD_STUB(ibv_cmd_post_srq_recv)
SH_CMD_STUB(ibv_cmd_query_context)
SH_CMD_STUB(ibv_cmd_query_device_any)
SH_CMD_STUB(ibv_cmd_query_mr)
SH_CMD_STUB(ibv_cmd_query_port)
SH_CMD_STUB(ibv_cmd_query_qp)
SH_CMD_STUB(ibv_cmd_query_srq)
SH_CMD_STUB(ibv_cmd_read_counters)
SH_CMD_STUB(ibv_cmd_reg_dm_mr)
SH_CMD_STUB(ibv_cmd_reg_dmabuf_mr)
SH_CMD_STUB(ibv_cmd_reg_mr)
SH_CMD_STUB(ibv_cmd_req_notify_cq)
SH_CMD_STUB(ibv_cmd_rereg_mr)
SH_CMD_STUB(ibv_cmd_resize_cq)
