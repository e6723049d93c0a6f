/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/verbs_mem.c - protection domains, memory regions and memory
 * windows.
 *
 * An MR registers process memory with the engine through the host (the engine
 * reaches it through the host's mr_map), and gets a handle so that bind WQEs can
 * name it; a window gets one for the same reason.
 *
 * On-demand paging (IBV_ACCESS_ON_DEMAND): the memory is not pinned, and its
 * pages are made present by faults or by ibv_advise_mr (provider/usermode/odp.h).
 * An implicit ODP MR, ibv_reg_mr(pd, NULL, SIZE_MAX, access | ON_DEMAND), covers
 * the whole address space: its lkey and rkey reach any address of the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verbs_priv.h"

#undef ibv_reg_mr
#undef ibv_reg_mr_iova

/* ---- protection domains ------------------------------------------------------ */

SH_EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	static uint32_t next_handle;
	struct sh_pd *pd;
	struct uh_dev *uh;
	int ret;

	if (!context) {
		errno = EINVAL;
		return NULL;
	}
	uh = ctx_uh(context);
	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		errno = ENOMEM;
		return NULL;
	}
	uh_lock(uh);
	ret = emu_alloc_pd(uh_emu(uh), &pd->emu);
	uh_unlock(uh);
	if (ret) {
		free(pd);
		errno = sh_err(ret);
		return NULL;
	}
	pd->pd.context = context;
	pd->pd.handle = __atomic_add_fetch(&next_handle, 1, __ATOMIC_RELAXED);
	return &pd->pd;
}

SH_EXPORT int ibv_dealloc_pd(struct ibv_pd *ibpd)
{
	struct sh_pd *pd = to_pd(ibpd);
	struct uh_dev *uh;
	int ret;

	if (!ibpd)
		return EINVAL;
	uh = ctx_uh(ibpd->context);
	uh_lock(uh);
	ret = emu_dealloc_pd(pd->emu);
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	free(pd);
	return 0;
}

/* ---- memory regions ---------------------------------------------------------- */

#define SH_MR_ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
		      IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC | \
		      IBV_ACCESS_MW_BIND | IBV_ACCESS_ZERO_BASED | IBV_ACCESS_ON_DEMAND)

static bool is_implicit(const void *addr, size_t len)
{
	return !addr && len == SIZE_MAX;
}

/* 0, or the errno a registration with these flags fails with. */
static int check_access(unsigned int access)
{
	/* HUGETLB says the ODP range is backed by huge pages: a hint, which the
	 * 4 KiB page model does not need; as in the kernel, only with ODP. */
	if ((access & IBV_ACCESS_HUGETLB) && !(access & IBV_ACCESS_ON_DEMAND))
		return EINVAL;
	if (access & ~(unsigned int)(SH_MR_ACCESS | IBV_ACCESS_HUGETLB))
		return EINVAL;
	/* IBA 10.6.3.1: remote write or atomic access needs local write. */
	if ((access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC)) &&
	    !(access & IBV_ACCESS_LOCAL_WRITE))
		return EINVAL;
	return 0;
}

/* Register with the engine and give the MR a handle. [device lock held] */
static int mr_register_locked(struct uh_dev *uh, struct sh_pd *pd, void *addr, size_t len,
			      uint64_t iova, unsigned int access, struct emu_mr **emr,
			      uint32_t *handle)
{
	int ret = uh_reg_mr(uh, pd->emu, addr, len, iova, access, emr);

	if (ret)
		return sh_err(ret);
	*handle = uh_handle_add(uh, UH_H_MR, *emr);
	if (!*handle) {
		uh_dereg_mr(uh, *emr);
		return ENOMEM;
	}
	return 0;
}

static void mr_fill(struct sh_mr *mr, struct ibv_pd *pd, void *addr, size_t len)
{
	mr->mr.context = pd->context;
	mr->mr.pd = pd;
	mr->mr.addr = addr;
	mr->mr.length = len;
	mr->mr.handle = mr->handle;
	mr->mr.lkey = emu_mr_lkey(mr->emu);
	mr->mr.rkey = emu_mr_rkey(mr->emu);
}

static struct ibv_mr *reg_mr(struct ibv_pd *pd, void *addr, size_t len, uint64_t iova,
			     unsigned int access)
{
	struct sh_mr *mr;
	struct uh_dev *uh;
	int err;

	/* Optional flags (relaxed ordering...) are hints a device may ignore. */
	access &= ~(unsigned int)IBV_ACCESS_OPTIONAL_RANGE;
	err = !pd || !len ? EINVAL : check_access(access);
	/* Implicit ODP (mlx5's rules): ODP, iova 0, not zero-based. */
	if (!err && is_implicit(addr, len) &&
	    (!(access & IBV_ACCESS_ON_DEMAND) || iova || (access & IBV_ACCESS_ZERO_BASED)))
		err = EINVAL;
	access &= ~(unsigned int)IBV_ACCESS_HUGETLB;
	if (err) {
		errno = err;
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr) {
		errno = ENOMEM;
		return NULL;
	}
	uh = ctx_uh(pd->context);
	uh_lock(uh);
	err = mr_register_locked(uh, to_pd(pd), addr, len, iova, access, &mr->emu, &mr->handle);
	uh_unlock(uh);
	if (err) {
		free(mr);
		errno = err;
		return NULL;
	}
	mr_fill(mr, pd, addr, len);
	mr->iova = iova;
	mr->access = access;
	return &mr->mr;
}

SH_EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	return reg_mr(pd, addr, length, (uintptr_t)addr, (unsigned int)access);
}

SH_EXPORT struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length,
					 uint64_t iova, int access)
{
	return reg_mr(pd, addr, length, iova, (unsigned int)access);
}

SH_EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
					  uint64_t iova, unsigned int access)
{
	return reg_mr(pd, addr, length, iova, access);
}

SH_EXPORT struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset, size_t length,
					   uint64_t iova, int fd, int access)
{
	(void)pd; (void)offset; (void)length; (void)iova; (void)fd; (void)access;
	errno = EOPNOTSUPP;
	return NULL;
}

SH_EXPORT int ibv_dereg_mr(struct ibv_mr *ibmr)
{
	struct sh_mr *mr = to_mr(ibmr);
	struct uh_dev *uh;
	int ret;

	if (!ibmr)
		return EINVAL;
	uh = ctx_uh(ibmr->context);
	uh_lock(uh);
	ret = uh_dereg_mr(uh, mr->emu);     /* -EBUSY while a window is bound to it */
	if (!ret)
		uh_handle_del(uh, mr->handle);
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	free(mr);
	return 0;
}

/*
 * Re-registration in place: the translation (addr, length; the iova becomes
 * addr, as in rdma-core), the PD and/or the access change, the keys stay (the
 * engine changes the MR under them, so a peer that holds the rkey need not be
 * told again). Errors as rdma-core gives them: bad input is
 * IBV_REREG_MR_ERR_INPUT with errno EINVAL; what the device refuses is
 * IBV_REREG_MR_ERR_CMD with its errno, the MR unchanged: EBUSY while a memory
 * window is bound to it, EFAULT for memory not mapped as the access needs,
 * EOPNOTSUPP for on-demand paging on either side.
 */
SH_EXPORT int ibv_rereg_mr(struct ibv_mr *ibmr, int flags, struct ibv_pd *pd, void *addr,
			   size_t length, int access)
{
	struct sh_mr *mr = to_mr(ibmr);
	struct ibv_pd *new_pd;
	unsigned int new_access;
	uint64_t new_iova;
	struct uh_dev *uh;
	int err;

	if (!ibmr || flags <= 0 || (flags & ~(int)IBV_REREG_MR_FLAGS_SUPPORTED) ||
	    ((flags & IBV_REREG_MR_CHANGE_TRANSLATION) && (!addr || !length)) ||
	    (access && !(flags & IBV_REREG_MR_CHANGE_ACCESS)) ||
	    ((flags & IBV_REREG_MR_CHANGE_PD) && (!pd || pd->context != ibmr->context))) {
		errno = EINVAL;
		return IBV_REREG_MR_ERR_INPUT;
	}
	new_access = mr->access;
	if (flags & IBV_REREG_MR_CHANGE_ACCESS) {
		new_access = (unsigned int)access & ~(unsigned int)IBV_ACCESS_OPTIONAL_RANGE;
		err = check_access(new_access);
		if (err) {
			errno = err;
			return IBV_REREG_MR_ERR_INPUT;
		}
	}
	new_pd = (flags & IBV_REREG_MR_CHANGE_PD) ? pd : ibmr->pd;
	if (!(flags & IBV_REREG_MR_CHANGE_TRANSLATION)) {
		addr = ibmr->addr;
		length = ibmr->length;
	}
	new_iova = (flags & IBV_REREG_MR_CHANGE_TRANSLATION) ? (uintptr_t)addr : mr->iova;
	uh = ctx_uh(ibmr->context);
	uh_lock(uh);
	err = uh_rereg_mr(uh, mr->emu, to_pd(new_pd)->emu, addr, length, new_iova,
			  new_access & ~(unsigned int)IBV_ACCESS_HUGETLB);
	uh_unlock(uh);
	if (err) {
		errno = sh_err(err);
		return IBV_REREG_MR_ERR_CMD;
	}
	mr->iova = new_iova;
	mr->access = new_access;
	ibmr->pd = new_pd;
	ibmr->addr = addr;
	ibmr->length = length;
	return 0;
}

/*
 * ibv_advise_mr: prefetch ranges of ODP MRs. With IBV_ADVISE_MR_FLAG_FLUSH it
 * returns once the pages are present; without, it queues the work for the
 * progress thread. Errors as mlx5 gives them: an lkey naming no ODP MR of the
 * PD (or PREFETCH_WRITE on an MR without write access) is ENOENT when
 * synchronous and EINVAL when not (checked before anything is queued); a
 * synchronous range outside its MR, or not mapped with the rights asked, is
 * EFAULT. Unknown advice or flags, no SGE: EINVAL.
 */
int sh_advise_mr(struct ibv_pd *pd, enum ibv_advise_mr_advice advice, uint32_t flags,
		 struct ibv_sge *sg_list, uint32_t num_sge)
{
	bool sync = flags & IBV_ADVISE_MR_FLAG_FLUSH;
	struct uh_prefetch p;
	struct uh_dev *uh;
	int ret = 0;

	if (!pd || !sg_list || !num_sge || (flags & ~(uint32_t)IBV_ADVISE_MR_FLAG_FLUSH) ||
	    (advice != IBV_ADVISE_MR_ADVICE_PREFETCH &&
	     advice != IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE &&
	     advice != IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT))
		return EINVAL;
	memset(&p, 0, sizeof(p));
	p.advice = advice == IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE ? UH_PREFETCH_WRITE :
		   advice == IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT ? UH_PREFETCH_NO_FAULT :
		   UH_PREFETCH;
	uh = ctx_uh(pd->context);
	uh_lock(uh);
	/* Asynchronous: every SGE is checked before any is queued. */
	for (uint32_t i = 0; !sync && i < num_sge && !ret; i++) {
		p.lkey = sg_list[i].lkey;
		p.dry_run = true;
		ret = uh_advise_mr(uh, to_pd(pd)->emu, &p, false) ? -EINVAL : 0;
	}
	p.dry_run = false;
	for (uint32_t i = 0; i < num_sge && !ret; i++) {
		p.lkey = sg_list[i].lkey;
		p.addr = sg_list[i].addr;
		p.length = sg_list[i].length;
		ret = uh_advise_mr(uh, to_pd(pd)->emu, &p, sync);
	}
	uh_unlock(uh);
	return sh_err(ret);
}

/* ---- memory windows ---------------------------------------------------------- */

struct ibv_mw *sh_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type type)
{
	struct sh_mw *mw;
	struct uh_dev *uh;
	int ret;

	if (!pd || (type != IBV_MW_TYPE_1 && type != IBV_MW_TYPE_2)) {
		errno = EINVAL;
		return NULL;
	}
	mw = calloc(1, sizeof(*mw));
	if (!mw) {
		errno = ENOMEM;
		return NULL;
	}
	uh = ctx_uh(pd->context);
	uh_lock(uh);
	ret = emu_alloc_mw(to_pd(pd)->emu, type == IBV_MW_TYPE_1 ? EMU_MW_TYPE_1 : EMU_MW_TYPE_2,
			   &mw->emu);
	if (!ret) {
		mw->handle = uh_handle_add(uh, UH_H_MW, mw->emu);
		if (!mw->handle) {
			emu_dealloc_mw(mw->emu);
			ret = -ENOMEM;
		}
	}
	if (!ret)
		mw->mw.rkey = emu_mw_rkey(mw->emu);
	uh_unlock(uh);
	if (ret) {
		free(mw);
		errno = sh_err(ret);
		return NULL;
	}
	mw->mw.context = pd->context;
	mw->mw.pd = pd;
	mw->mw.handle = mw->handle;
	mw->mw.type = type;
	return &mw->mw;
}

int sh_dealloc_mw(struct ibv_mw *ibmw)
{
	struct sh_mw *mw = to_mw(ibmw);
	struct uh_dev *uh;
	int ret;

	if (!ibmw)
		return EINVAL;
	uh = ctx_uh(ibmw->context);
	uh_lock(uh);
	ret = emu_dealloc_mw(mw->emu);
	if (!ret)
		uh_handle_del(uh, mw->handle);
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	free(mw);
	return 0;
}

/*
 * A type 1 bind happens at once, but behind the WRs already posted to the QP:
 * ring the SQ doorbell first so that the engine has them.
 */
int sh_bind_mw(struct ibv_qp *ibqp, struct ibv_mw *ibmw, struct ibv_mw_bind *bind)
{
	struct sh_qp *qp = to_qp(ibqp);
	struct emu_mw_bind_info info;
	struct uh_dev *uh;
	uint32_t rkey = 0;
	int ret;

	if (!ibqp || !ibmw || !bind || ibmw->type != IBV_MW_TYPE_1)
		return EINVAL;
	memset(&info, 0, sizeof(info));
	info.mr = bind->bind_info.mr ? to_mr(bind->bind_info.mr)->emu : NULL;
	info.addr = bind->bind_info.addr;
	info.length = bind->bind_info.length;
	info.access = fp_mw_access(bind->bind_info.mw_access_flags);
	uh = ctx_uh(ibqp->context);
	uh_lock(uh);
	sh_qp_flush_sq_locked(qp);
	ret = emu_bind_mw_type1(qp->uh->emu, to_mw(ibmw)->emu, bind->wr_id, bind->send_flags,
				&info, &rkey);
	uh_unlock(uh);
	if (ret)
		return sh_err(ret);
	ibmw->rkey = rkey;
	return 0;
}
