/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * mem.c - protection domains, memory regions and memory windows: keys, bounds
 * and rights checks (IBA 10.6), window bind and invalidate, and copying out of
 * registered memory through the host.
 */
#include "internal.h"

#define REMOTE_RIGHTS (EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_READ | \
		       EMU_ACCESS_REMOTE_ATOMIC)
/* Rights that let a peer write, which IBA only grants on locally writable memory. */
#define REMOTE_WRITING (EMU_ACCESS_REMOTE_WRITE | EMU_ACCESS_REMOTE_ATOMIC)
#define MR_ACCESS_KNOWN (EMU_ACCESS_LOCAL_WRITE | REMOTE_RIGHTS | EMU_ACCESS_MW_BIND | \
			 EMU_ACCESS_ZERO_BASED | EMU_ACCESS_ON_DEMAND | \
			 EMU_ACCESS_RELAXED_ORDERING)
/* Verbs' "optional" access bits (IB_ACCESS_OPTIONAL): a device that does not
 * know one ignores it instead of failing the registration. */
#define ACCESS_OPTIONAL_RANGE 0x3ff00000u
#define MW_ACCESS_KNOWN (REMOTE_RIGHTS | EMU_ACCESS_ZERO_BASED)

/* [addr, addr + len) inside [base, base + size), without overflowing. */
static bool range_inside(uint64_t base, uint64_t size, uint64_t addr, uint64_t len)
{
	return addr >= base && len <= size && addr - base <= size - len;
}

/* ---- protection domains -------------------------------------------------------- */

int emu_alloc_pd(struct emu_dev *dev, struct emu_pd **out)
{
	struct emu_pd *pd;

	if (dev->n_pd >= dev->attr.max_pd)
		return -EMU_ENOMEM;
	pd = emu_alloc(dev, sizeof(*pd));
	if (!pd)
		return -EMU_ENOMEM;
	pd->dev = dev;
	dev->n_pd++;
	*out = pd;
	return 0;
}

int emu_dealloc_pd(struct emu_pd *pd)
{
	struct emu_dev *dev = pd->dev;

	if (pd->refcount)
		return -EMU_EBUSY;
	dev->n_pd--;
	emu_free(dev, pd);
	return 0;
}

/* ---- memory regions -------------------------------------------------------------- */

static int check_mr_args(uint64_t iova, uint64_t length, uint32_t access)
{
	if (access & ~(MR_ACCESS_KNOWN | ACCESS_OPTIONAL_RANGE))
		return -EMU_EINVAL;
	if ((access & REMOTE_WRITING) && !(access & EMU_ACCESS_LOCAL_WRITE))
		return -EMU_EINVAL;
	if (length == 0 || length > UINT64_MAX - iova)
		return -EMU_EINVAL;
	/* The whole address space (iova 0, length UINT64_MAX: ibv_reg_mr(pd, NULL,
	 * SIZE_MAX)) is implicit ODP; no host could pin it. */
	if (length == UINT64_MAX && !(access & EMU_ACCESS_ON_DEMAND))
		return -EMU_EINVAL;
	return 0;
}

int emu_reg_mr(struct emu_pd *pd, uint64_t iova, uint64_t length, uint32_t access,
	       void *mr_cookie, struct emu_mr **out)
{
	struct emu_dev *dev = pd->dev;
	struct emu_mr *mr;
	int ret;

	ret = check_mr_args(iova, length, access);
	if (ret)
		return ret;
	if (dev->n_mr >= dev->attr.max_mr)
		return -EMU_ENOMEM;
	mr = emu_alloc(dev, sizeof(*mr));
	if (!mr)
		return -EMU_ENOMEM;
	mr->mem.kind = EMU_MEM_MR;
	mr->mem.pd = pd;
	ret = emu_key_alloc(dev, &mr->mem);
	if (ret) {
		emu_free(dev, mr);
		return ret;
	}
	mr->iova = (access & EMU_ACCESS_ZERO_BASED) ? 0 : iova;
	mr->length = length;
	mr->access = access & MR_ACCESS_KNOWN;
	mr->cookie = mr_cookie;
	pd->refcount++;
	dev->n_mr++;
	if (mr->access & EMU_ACCESS_ON_DEMAND)
		dev->n_odp_mr++;
	*out = mr;
	return 0;
}

int emu_dereg_mr(struct emu_mr *mr)
{
	struct emu_pd *pd = mr->mem.pd;
	struct emu_dev *dev = pd->dev;

	if (mr->mw_count)
		return -EMU_EBUSY;
	emu_key_free(dev, &mr->mem);
	pd->refcount--;
	dev->n_mr--;
	if (mr->access & EMU_ACCESS_ON_DEMAND)
		dev->n_odp_mr--;
	emu_free(dev, mr);
	return 0;
}

int emu_rereg_mr(struct emu_mr *mr, struct emu_pd *pd, uint64_t iova, uint64_t length,
		 uint32_t access, void *mr_cookie)
{
	struct emu_dev *dev;
	int ret;

	if (!mr || !pd || pd->dev != mr->mem.pd->dev)
		return -EMU_EINVAL;
	ret = check_mr_args(iova, length, access);
	if (ret)
		return ret;
	if ((access | mr->access) & EMU_ACCESS_ON_DEMAND)
		return -EMU_EINVAL;
	if (mr->mw_count)
		return -EMU_EBUSY;
	dev = pd->dev;
	/* As a device finishes its DMA into the old range before it answers. */
	if (dev->dma_nheld)
		emu_dma_invalidate(dev, mr, 0, UINT64_MAX);
	mr->mem.pd->refcount--;
	pd->refcount++;
	mr->mem.pd = pd;
	mr->iova = (access & EMU_ACCESS_ZERO_BASED) ? 0 : iova;
	mr->length = length;
	mr->access = access & MR_ACCESS_KNOWN;
	mr->cookie = mr_cookie;
	return 0;
}

uint32_t emu_mr_lkey(const struct emu_mr *mr)
{
	return mr->mem.key;
}

uint32_t emu_mr_rkey(const struct emu_mr *mr)
{
	return mr->mem.key;
}

/* ---- memory windows ---------------------------------------------------------------- */

int emu_alloc_mw(struct emu_pd *pd, enum emu_mw_type type, struct emu_mw **out)
{
	struct emu_dev *dev = pd->dev;
	struct emu_mw *mw;
	int ret;

	if (type != EMU_MW_TYPE_1 && type != EMU_MW_TYPE_2)
		return -EMU_EINVAL;
	if (dev->n_mw >= dev->attr.max_mw)
		return -EMU_ENOMEM;
	mw = emu_alloc(dev, sizeof(*mw));
	if (!mw)
		return -EMU_ENOMEM;
	mw->mem.kind = EMU_MEM_MW;
	mw->mem.pd = pd;
	ret = emu_key_alloc(dev, &mw->mem);
	if (ret) {
		emu_free(dev, mw);
		return ret;
	}
	mw->type = type;
	mw->state = EMU_MW_FREE;
	pd->refcount++;
	dev->n_mw++;
	*out = mw;
	return 0;
}

static void mw_unbind(struct emu_mw *mw)
{
	if (mw->state == EMU_MW_BOUND && mw->mr)
		mw->mr->mw_count--;
	mw->state = EMU_MW_FREE;
	mw->mr = NULL;
	mw->qp = NULL;
}

int emu_dealloc_mw(struct emu_mw *mw)
{
	struct emu_pd *pd = mw->mem.pd;
	struct emu_dev *dev = pd->dev;

	mw_unbind(mw);
	emu_key_free(dev, &mw->mem);
	pd->refcount--;
	dev->n_mw--;
	emu_free(dev, mw);
	return 0;
}

uint32_t emu_mw_rkey(const struct emu_mw *mw)
{
	return mw->mem.key;
}

/* ---- key checks ------------------------------------------------------------------- */

static enum mem_result check_mr_access(struct emu_mr *mr, uint64_t va, uint64_t len,
				       uint32_t access, struct mem_ref *ref)
{
	if (!range_inside(mr->iova, mr->length, va, len))
		return MEM_BAD_RANGE;
	if ((mr->access & access) != access)
		return MEM_BAD_ACCESS;
	ref->mr = mr;
	ref->iova = va;
	return MEM_OK;
}

/* A zero-based window's addresses start at 0 and map onto mw->addr. */
static enum mem_result check_mw_access(struct emu_qp *qp, struct emu_mw *mw, uint64_t va,
				       uint64_t len, uint32_t access, struct mem_ref *ref)
{
	uint64_t base = (mw->access & EMU_ACCESS_ZERO_BASED) ? 0 : mw->addr;

	if (mw->state != EMU_MW_BOUND || !mw->mr)
		return MEM_BAD_KEY;
	if (mw->type == EMU_MW_TYPE_2 && mw->qp != qp)
		return MEM_BAD_KEY;
	if (!range_inside(base, mw->length, va, len))
		return MEM_BAD_RANGE;
	if ((mw->access & access) != access)
		return MEM_BAD_ACCESS;
	ref->mr = mw->mr;
	ref->iova = mw->addr + (va - base);
	return MEM_OK;
}

enum mem_result emu_rkey_check(struct emu_qp *qp, uint32_t rkey, uint64_t va,
			       uint64_t len, uint32_t access, struct mem_ref *ref)
{
	struct emu_mem *mem = emu_key_lookup(qp->dev, rkey);

	if (!mem || mem->pd != qp->pd)
		return MEM_BAD_KEY;
	if (mem->kind == EMU_MEM_MR)
		return check_mr_access(EMU_CONTAINER_OF(mem, struct emu_mr, mem), va, len,
				       access, ref);
	if (mem->kind == EMU_MEM_MW)
		return check_mw_access(qp, EMU_CONTAINER_OF(mem, struct emu_mw, mem), va,
				       len, access, ref);
	return MEM_BAD_KEY;
}

enum mem_result emu_lkey_check(struct emu_qp *qp, const struct emu_sge *sge,
			       uint32_t access, struct mem_ref *ref)
{
	struct emu_mem *mem = emu_key_lookup(qp->dev, sge->lkey);

	/* Windows grant remote access only; an lkey always names an MR. */
	if (!mem || mem->kind != EMU_MEM_MR || mem->pd != qp->pd)
		return MEM_BAD_KEY;
	return check_mr_access(EMU_CONTAINER_OF(mem, struct emu_mr, mem), sge->addr,
			       sge->length, access & EMU_ACCESS_LOCAL_WRITE, ref);
}

/* ---- copies through the host --------------------------------------------------------- */

static enum mem_result map_failed(struct emu_dev *dev, struct emu_mr *mr, long got,
				  uint64_t iova, uint64_t len, bool write)
{
	if (got < 0) {
		dev->cnt.odp_unbacked++;
		return MEM_FAULT;
	}
	dev->cnt.page_faults++;
	if (dev->ops.fault)
		dev->ops.fault(dev->ops.host, mr->cookie, iova, len, write);
	return MEM_NOT_PRESENT;
}

/* Walk [iova, iova + len) of mr through mr_map, handing each contiguous piece to
 * fn (may be NULL: only map). The host may answer with fewer bytes than asked: it
 * maps what is contiguous. */
enum mem_result emu_mem_walk(struct emu_dev *dev, struct emu_mr *mr, uint64_t iova,
			     uint64_t len, bool write, emu_chunk_fn fn, void *ctx)
{
	while (len) {
		void *ptr = NULL;
		long got = dev->ops.mr_map(dev->ops.host, mr->cookie, iova, len, write, &ptr);
		uint64_t n;

		if (got <= 0)
			return map_failed(dev, mr, got, iova, len, write);
		n = EMU_MIN((uint64_t)got, len);
		if (fn)
			fn(ctx, ptr, n, n == len);
		iova += n;
		len -= n;
	}
	return MEM_OK;
}

struct copy_out {
	struct emu_dev *dev;
	uint8_t *dst;
};

static void copy_out_chunk(void *ctx, void *ptr, uint64_t n, bool last)
{
	struct copy_out *c = ctx;

	(void)last;
	c->dev->ops.copy(c->dst, ptr, (size_t)n);
	c->dst += n;
}

enum mem_result emu_mem_read(struct emu_dev *dev, const struct mem_ref *ref, uint32_t off,
			     void *dst, uint32_t len)
{
	struct copy_out c = { dev, dst };

	return emu_mem_walk(dev, ref->mr, ref->iova + off, len, false, copy_out_chunk, &c);
}

enum mem_result emu_mem_probe(struct emu_dev *dev, const struct mem_ref *ref, uint32_t off,
			      uint32_t len, bool write)
{
	return emu_mem_walk(dev, ref->mr, ref->iova + off, len, write, NULL, NULL);
}

/*
 * Each SGE is checked again as it is read: the WR was validated when it was
 * posted, but its MR may have been deregistered since.
 */
enum mem_result emu_sgl_read(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
			     uint32_t off, void *dst, uint32_t len)
{
	uint8_t *out = dst;
	uint32_t i = 0;

	while (i < nsge && off >= sge[i].length) {
		off -= sge[i].length;
		i++;
	}
	for (; len; i++, off = 0) {
		struct mem_ref ref;
		enum mem_result r;
		uint32_t chunk;

		if (i >= nsge)
			return MEM_BAD_RANGE;
		chunk = EMU_MIN(sge[i].length - off, len);
		if (!chunk)
			continue;
		r = emu_lkey_check(qp, &sge[i], 0, &ref);
		if (r == MEM_OK)
			r = emu_qp_mem(qp, emu_mem_read(qp->dev, &ref, off, out, chunk));
		if (r != MEM_OK)
			return r;
		out += chunk;
		len -= chunk;
	}
	return MEM_OK;
}

/* ---- on-demand paging ------------------------------------------------------------------ */

/* The part of an SG list at byte offset off, length len, one SGE at a time:
 * fn(ctx, sge part) until it returns something other than MEM_OK. */
typedef enum mem_result (*sgl_part_fn)(void *ctx, const struct emu_sge *part);

static enum mem_result sgl_for_each(const struct emu_sge *sge, uint32_t nsge, uint32_t off,
				    uint32_t len, sgl_part_fn fn, void *ctx)
{
	for (uint32_t i = 0; i < nsge && len; i++) {
		struct emu_sge part;
		enum mem_result r;

		if (off >= sge[i].length) {
			off -= sge[i].length;
			continue;
		}
		part.addr = sge[i].addr + off;
		part.length = EMU_MIN(len, sge[i].length - off);
		part.lkey = sge[i].lkey;
		r = fn(ctx, &part);
		if (r != MEM_OK)
			return r;
		len -= part.length;
		off = 0;
	}
	return len ? MEM_BAD_RANGE : MEM_OK;
}

struct sgl_odp {
	struct emu_qp *qp;
	bool write;
	bool absent;          /* probe: some part was not present */
};

static enum mem_result probe_part(void *ctx, const struct emu_sge *part)
{
	struct sgl_odp *p = ctx;
	struct mem_ref ref;
	enum mem_result r;

	r = emu_lkey_check(p->qp, part, p->write ? EMU_ACCESS_LOCAL_WRITE : 0, &ref);
	if (r != MEM_OK || !(ref.mr->access & EMU_ACCESS_ON_DEMAND))
		return r;
	r = emu_qp_mem(p->qp, emu_mem_walk(p->qp->dev, ref.mr, ref.iova, part->length, p->write,
					   NULL, NULL));
	if (r == MEM_NOT_PRESENT) {
		p->absent = true;     /* fault() was asked; go on to fault the rest too */
		return MEM_OK;
	}
	return r;
}

enum mem_result emu_sgl_probe(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
			      uint32_t off, uint32_t len, bool write)
{
	struct sgl_odp p = { qp, write, false };
	enum mem_result r = sgl_for_each(sge, nsge, off, len, probe_part, &p);

	if (r == MEM_OK && p.absent)
		return MEM_NOT_PRESENT;
	return r;
}

void emu_mem_fault_ahead(struct emu_dev *dev, const struct mem_ref *ref, uint64_t len,
			 bool write)
{
	if (len && dev->ops.fault && (ref->mr->access & EMU_ACCESS_ON_DEMAND))
		dev->ops.fault(dev->ops.host, ref->mr->cookie, ref->iova, len, write);
}

static enum mem_result fault_ahead_part(void *ctx, const struct emu_sge *part)
{
	struct sgl_odp *p = ctx;
	struct mem_ref ref;

	if (emu_lkey_check(p->qp, part, p->write ? EMU_ACCESS_LOCAL_WRITE : 0, &ref) == MEM_OK)
		emu_mem_fault_ahead(p->qp->dev, &ref, part->length, p->write);
	return MEM_OK;
}

void emu_sgl_fault_ahead(struct emu_qp *qp, const struct emu_sge *sge, uint32_t nsge,
			 uint32_t off, uint32_t len, bool write)
{
	struct sgl_odp p = { qp, write, false };

	(void)sgl_for_each(sge, nsge, off, len, fault_ahead_part, &p);
}

int emu_mr_invalidate(struct emu_mr *mr, uint64_t iova, uint64_t len)
{
	struct emu_dev *dev;

	if (!mr || !(mr->access & EMU_ACCESS_ON_DEMAND))
		return -EMU_EINVAL;
	dev = mr->mem.pd->dev;
	dev->cnt.odp_invalidations++;
	if (len && dev->dma_nheld)
		emu_dma_invalidate(dev, mr, iova, len);
	return 0;
}

/* The ODP MR an advice names, or NULL. */
static struct emu_mr *advised_mr(struct emu_pd *pd, uint32_t lkey)
{
	struct emu_mem *mem = emu_key_lookup(pd->dev, lkey);
	struct emu_mr *mr;

	if (!mem || mem->kind != EMU_MEM_MR || mem->pd != pd)
		return NULL;
	mr = EMU_CONTAINER_OF(mem, struct emu_mr, mem);
	return (mr->access & EMU_ACCESS_ON_DEMAND) ? mr : NULL;
}

int emu_advise_mr(struct emu_pd *pd, const struct emu_sge *sge, uint32_t flags)
{
	struct emu_dev *dev;
	struct emu_mr *mr;
	bool write = flags & EMU_ADVISE_WRITE;
	uint64_t iova, len;

	if (!pd || !sge || (flags & ~(EMU_ADVISE_WRITE | EMU_ADVISE_NO_FAULT)))
		return -EMU_EINVAL;
	dev = pd->dev;
	mr = advised_mr(pd, sge->lkey);
	if (!mr)
		return -EMU_ENOENT;
	if (!range_inside(mr->iova, mr->length, sge->addr, sge->length))
		return -EMU_EINVAL;
	if (write && !(mr->access & EMU_ACCESS_LOCAL_WRITE))
		return -EMU_EACCES;
	for (iova = sge->addr, len = sge->length; len; ) {
		void *ptr = NULL;
		long got = dev->ops.mr_map(dev->ops.host, mr->cookie, iova, len, write, &ptr);

		if (got < 0) {
			dev->cnt.odp_unbacked++;
			return -EMU_EFAULT;
		}
		if (got == EMU_MAP_NOT_PRESENT) {
			/* One request for all the rest: the host maps what it can. */
			if (!(flags & EMU_ADVISE_NO_FAULT) && dev->ops.fault) {
				dev->cnt.odp_prefetches++;
				dev->ops.fault(dev->ops.host, mr->cookie, iova, len, write);
			}
			return 0;
		}
		iova += EMU_MIN((uint64_t)got, len);
		len -= EMU_MIN((uint64_t)got, len);
	}
	return 0;
}

/* ---- window bind and invalidate (IBA 10.6.7) ------------------------------------------ */

static bool bind_target_ok(const struct emu_qp *qp, const struct emu_mw *mw,
			   const struct emu_mw_bind_info *info)
{
	const struct emu_mr *mr = info->mr;

	if (!mr || mr->mem.pd != qp->pd)
		return false;
	if (!(mr->access & EMU_ACCESS_MW_BIND))
		return false;
	if (info->access & ~MW_ACCESS_KNOWN)
		return false;
	/* Only type 2 windows may be zero based (IBA 10.6.7.2). */
	if (mw->type == EMU_MW_TYPE_1 && (info->access & EMU_ACCESS_ZERO_BASED))
		return false;
	if ((info->access & REMOTE_WRITING) && !(mr->access & EMU_ACCESS_LOCAL_WRITE))
		return false;
	return range_inside(mr->iova, mr->length, info->addr, info->length);
}

static void mw_set_binding(struct emu_qp *qp, struct emu_mw *mw,
			   const struct emu_mw_bind_info *info)
{
	mw_unbind(mw);
	mw->mr = info->mr;
	mw->mr->mw_count++;
	mw->qp = mw->type == EMU_MW_TYPE_2 ? qp : NULL;
	mw->addr = info->addr;
	mw->length = info->length;
	mw->access = info->access;
	mw->state = EMU_MW_BOUND;
}

/* Every type 1 bind, unbind included, changes the key byte so that rkeys handed
 * out for an earlier binding stop working. */
static void mw_type1_next_key(struct emu_mw *mw)
{
	mw->mem.key = mw->mem.index << 8 | ((mw->mem.key + 1) & 0xff);
}

uint32_t emu_mw_bind(struct emu_qp *qp, struct emu_mw *mw, uint32_t new_rkey,
		     const struct emu_mw_bind_info *info)
{
	if (!mw || !info || mw->mem.pd != qp->pd)
		return EMU_WC_MW_BIND_ERR;
	if (mw->type == EMU_MW_TYPE_1 && info->length == 0) {
		mw_unbind(mw);
		mw_type1_next_key(mw);
		return EMU_WC_SUCCESS;
	}
	if (!bind_target_ok(qp, mw, info))
		return EMU_WC_MW_BIND_ERR;
	if (mw->type == EMU_MW_TYPE_2) {
		/* A bound type 2 window must be invalidated before it is bound again,
		 * and its key keeps its index: only the variable byte is the user's. */
		if (mw->state != EMU_MW_FREE || (new_rkey >> 8) != (mw->mem.key >> 8))
			return EMU_WC_MW_BIND_ERR;
		mw_set_binding(qp, mw, info);
		mw->mem.key = new_rkey;
		return EMU_WC_SUCCESS;
	}
	mw_set_binding(qp, mw, info);
	mw_type1_next_key(mw);
	return EMU_WC_SUCCESS;
}

uint32_t emu_invalidate_rkey(struct emu_qp *qp, uint32_t rkey, bool remote)
{
	struct emu_mem *mem = emu_key_lookup(qp->dev, rkey);
	struct emu_mw *mw;
	uint32_t fail = remote ? EMU_WC_REM_OP_ERR : EMU_WC_LOC_QP_OP_ERR;

	if (!mem || mem->kind != EMU_MEM_MW || mem->pd != qp->pd)
		return fail;
	mw = EMU_CONTAINER_OF(mem, struct emu_mw, mem);
	if (mw->type != EMU_MW_TYPE_2 || mw->state != EMU_MW_BOUND)
		return fail;
	if (remote && mw->qp != qp)
		return fail;
	mw_unbind(mw);
	return EMU_WC_SUCCESS;
}
