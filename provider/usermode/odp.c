/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/odp.c - the ODP page model of the process host (see odp.h).
 *
 * Each ODP MR keeps four bitmaps per 2 MiB chunk of virtual memory it has seen:
 * present, writable (present pages the device may write), failed (a fault found
 * the page unmapped or protected: the next access is an access error) and seen
 * (present at least once: "first touch" for --odp-prefault). The chunks hang off
 * a hash keyed by address >> 21, so an implicit MR covering the whole address
 * space costs memory only for what the device touched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "odp.h"

/*
 * PROCMAP_QUERY (Linux 6.11, uapi <linux/fs.h>; Debian 12's headers predate it):
 * one mapping of the process, with its protections, by an ioctl on an open
 * /proc/self/maps, without formatting every mapping as text. A fault reads the
 * mappings at fault time: this way it costs a few microseconds, not the 20-70
 * of reading the whole file. Older kernels answer ENOTTY: the file is read.
 */
struct odp_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};

#define ODP_PROCMAP_QUERY _IOWR('f', 17, struct odp_procmap_query)
#define ODP_PROCMAP_VMA_READABLE 0x01
#define ODP_PROCMAP_VMA_WRITABLE 0x02
#define ODP_PROCMAP_COVERING_OR_NEXT 0x10

#define PG_SHIFT        12
#define PG_SIZE         (1ull << PG_SHIFT)
#define CHUNK_SHIFT     21
#define CHUNK_PAGES     (1u << (CHUNK_SHIFT - PG_SHIFT))
#define CHUNK_WORDS     (CHUNK_PAGES / 64)
#define MAP_SCAN_PAGES  256u      /* pages one odp_map answer covers at most (1 MiB) */
#define MINCORE_WINDOW  4096u     /* pages per mincore() call when residency matters */
#define FIRST_BUCKETS   16u
#define INV_STREAM      0x6f64702d696e76ull  /* "odp-inv": the invalidations' own PRNG stream */

struct chunk {
	uint64_t key;                 /* virtual address >> CHUNK_SHIFT */
	struct chunk *next;
	uint64_t present[CHUNK_WORDS];
	uint64_t writable[CHUNK_WORDS];
	uint64_t failed[CHUNK_WORDS];
	uint64_t seen[CHUNK_WORDS];
};

struct odp_mr {
	void *owner;
	bool writable;
	struct chunk **buckets;
	size_t nbuckets;              /* a power of two */
	size_t nchunks;
	struct chunk *last;           /* the chunk looked up last: accesses cluster */
};

enum req_kind {
	REQ_FAULT_READ,
	REQ_FAULT_WRITE,
	REQ_PF_READ,
	REQ_PF_WRITE,
	REQ_PF_NO_FAULT,
};

struct req {
	struct odp_mr *mr;
	uintptr_t start, end;         /* page-aligned */
	uint64_t asked_ns, due_ns;
	enum req_kind kind;
};

struct vma {
	uintptr_t lo, hi;
	bool r, w;
};

struct odp_host {
	struct odp_config cfg;
	uint64_t prng;
	struct req *reqs;
	size_t nreqs, capreqs;
	struct odp_mr *inv_pending;   /* invalidated at the end of the lock section */
	struct odp_stats st;
	struct vma *vmas;             /* the process mappings, as last read */
	size_t nvmas, capvmas;
	bool vmas_known;              /* false: /proc/self/maps could not be read */
	/* PROCMAP_QUERY: an open /proc/self/maps of this process (a child of a
	 * fork inherits the parent's, which describes the parent: reopened). */
	int maps_fd;
	pid_t maps_pid;
	bool live;                    /* queries work: h->vmas is not used */
	/* Pages [ok_lo, ok_hi) were seen mapped in lock section ok_section: no
	 * other mincore() for them until the section ends (odp_section_end). */
	uint64_t section, ok_section;
	uintptr_t ok_lo, ok_hi;
};

/* ---- small helpers ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool bit_get(const uint64_t *w, unsigned i)
{
	return (w[i >> 6] >> (i & 63)) & 1;
}

static void bit_set(uint64_t *w, unsigned i)
{
	w[i >> 6] |= 1ull << (i & 63);
}

static void bit_clr(uint64_t *w, unsigned i)
{
	w[i >> 6] &= ~(1ull << (i & 63));
}

static uintptr_t page_down(uintptr_t a)
{
	return a & ~(uintptr_t)(PG_SIZE - 1);
}

/* The page-aligned end of [addr, addr + len), clamped at the top of memory. */
static uintptr_t page_end(uintptr_t addr, uint64_t len)
{
	uintptr_t top = page_down(UINTPTR_MAX);
	uintptr_t last;

	if (!len)
		return page_down(addr);
	if (len - 1 > UINTPTR_MAX - addr)
		return top;
	last = page_down(addr + (uintptr_t)(len - 1));
	return last == top ? top : last + PG_SIZE;
}

/* ---- the chunk hash ------------------------------------------------------------------- */

static size_t bucket_of(uint64_t key, size_t nbuckets)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (nbuckets - 1);
}

static bool grow_buckets(struct odp_mr *mr)
{
	size_t n = mr->nbuckets * 2;
	struct chunk **b = calloc(n, sizeof(*b));

	if (!b)
		return false;
	for (size_t i = 0; i < mr->nbuckets; i++) {
		while (mr->buckets[i]) {
			struct chunk *c = mr->buckets[i];
			size_t j = bucket_of(c->key, n);

			mr->buckets[i] = c->next;
			c->next = b[j];
			b[j] = c;
		}
	}
	free(mr->buckets);
	mr->buckets = b;
	mr->nbuckets = n;
	return true;
}

/* The chunk of page number pn; created (all pages absent) when create is set.
 * NULL: not there, or no memory to create it. */
static struct chunk *chunk_of(struct odp_mr *mr, uintptr_t pn, bool create)
{
	uint64_t key = (uint64_t)pn >> (CHUNK_SHIFT - PG_SHIFT);
	struct chunk *c;
	size_t b;

	if (mr->last && mr->last->key == key)
		return mr->last;
	b = bucket_of(key, mr->nbuckets);
	for (c = mr->buckets[b]; c; c = c->next) {
		if (c->key == key) {
			mr->last = c;
			return c;
		}
	}
	if (!create)
		return NULL;
	if (mr->nchunks >= 2 * mr->nbuckets && grow_buckets(mr))
		b = bucket_of(key, mr->nbuckets);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key = key;
	c->next = mr->buckets[b];
	mr->buckets[b] = c;
	mr->nchunks++;
	mr->last = c;
	return c;
}

static unsigned page_index(uintptr_t pn)
{
	return (unsigned)(pn & (CHUNK_PAGES - 1));
}

/* ---- page states ------------------------------------------------------------------------ */

static void mark_present(struct odp_mr *mr, uintptr_t start, uintptr_t end, bool writable,
			 uint64_t *made)
{
	for (uintptr_t pn = start >> PG_SHIFT; pn < end >> PG_SHIFT; pn++) {
		struct chunk *c = chunk_of(mr, pn, true);
		unsigned i = page_index(pn);

		if (!c)
			return;    /* out of memory: the page stays absent, faults again */
		if (!bit_get(c->present, i) || bit_get(c->writable, i) != writable)
			(*made)++;
		bit_set(c->present, i);
		bit_set(c->seen, i);
		bit_clr(c->failed, i);
		if (writable)
			bit_set(c->writable, i);
		else
			bit_clr(c->writable, i);
	}
}

static void mark_failed(struct odp_mr *mr, uintptr_t start, uintptr_t end)
{
	for (uintptr_t pn = start >> PG_SHIFT; pn < end >> PG_SHIFT; pn++) {
		struct chunk *c = chunk_of(mr, pn, true);
		unsigned i = page_index(pn);

		if (!c)
			return;
		bit_clr(c->present, i);
		bit_clr(c->writable, i);
		bit_set(c->failed, i);
	}
}

/* Present pages of [start, end) become absent; how many were present. */
static uint64_t mark_absent(struct odp_mr *mr, uintptr_t start, uintptr_t end)
{
	uint64_t n = 0;

	for (uintptr_t pn = start >> PG_SHIFT; pn < end >> PG_SHIFT; pn++) {
		struct chunk *c = chunk_of(mr, pn, false);
		unsigned i = page_index(pn);

		if (!c || !bit_get(c->present, i))
			continue;
		bit_clr(c->present, i);
		bit_clr(c->writable, i);
		n++;
	}
	return n;
}

static uint64_t invalidate_all(struct odp_mr *mr)
{
	uint64_t n = 0;

	for (size_t b = 0; b < mr->nbuckets; b++) {
		for (struct chunk *c = mr->buckets[b]; c; c = c->next) {
			for (unsigned w = 0; w < CHUNK_WORDS; w++) {
				n += (uint64_t)__builtin_popcountll(c->present[w]);
				c->present[w] = 0;
				c->writable[w] = 0;
			}
		}
	}
	return n;
}

/* ---- the process mappings --------------------------------------------------------------- */

static bool vma_push(struct odp_host *h, uintptr_t lo, uintptr_t hi, bool r, bool w)
{
	if (h->nvmas == h->capvmas) {
		size_t cap = h->capvmas ? h->capvmas * 2 : 256;
		struct vma *v = realloc(h->vmas, cap * sizeof(*v));

		if (!v)
			return false;
		h->vmas = v;
		h->capvmas = cap;
	}
	h->vmas[h->nvmas++] = (struct vma){ lo, hi, r, w };
	return true;
}

/*
 * Read /proc/self/maps (sorted by address) into h->vmas. Without it (no /proc,
 * out of memory) every range mincore() calls mapped counts as mapped read-write:
 * the best a process can know.
 */
static void read_vmas(struct odp_host *h)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;

	h->nvmas = 0;
	h->vmas_known = false;
	if (!f)
		return;
	h->vmas_known = true;
	while (getline(&line, &cap, f) > 0) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (!vma_push(h, (uintptr_t)lo, (uintptr_t)hi, perms[0] == 'r', perms[1] == 'w')) {
			h->vmas_known = false;
			break;
		}
	}
	free(line);
	fclose(f);
}

/* Can this process ask PROCMAP_QUERY? Opens (or reopens after a fork) the file. */
static bool procmap_usable(struct odp_host *h)
{
	struct odp_procmap_query q;
	int probe;

	if (h->maps_fd >= 0 && h->maps_pid == getpid())
		return true;
	if (h->maps_fd >= 0)
		close(h->maps_fd);
	h->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	h->maps_pid = getpid();
	if (h->maps_fd < 0)
		return false;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_addr = (uintptr_t)&probe;
	q.query_flags = ODP_PROCMAP_COVERING_OR_NEXT;
	if (ioctl(h->maps_fd, ODP_PROCMAP_QUERY, &q) == 0 && q.vma_start <= q.query_addr &&
	    q.query_addr < q.vma_end && (q.vma_flags & ODP_PROCMAP_VMA_WRITABLE))
		return true;
	close(h->maps_fd);
	h->maps_fd = -1;
	return false;
}

/* The mapping covering addr or the next one above it (live). false: none, or
 * the query failed (*failed set). */
static bool procmap_find(struct odp_host *h, uintptr_t addr, struct vma *out, bool *failed)
{
	struct odp_procmap_query q;

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_addr = addr;
	q.query_flags = ODP_PROCMAP_COVERING_OR_NEXT;
	*failed = false;
	if (ioctl(h->maps_fd, ODP_PROCMAP_QUERY, &q) != 0) {
		*failed = errno != ENOENT;
		return false;
	}
	*out = (struct vma){ (uintptr_t)q.vma_start, (uintptr_t)q.vma_end,
			     (q.vma_flags & ODP_PROCMAP_VMA_READABLE) != 0,
			     (q.vma_flags & ODP_PROCMAP_VMA_WRITABLE) != 0 };
	return true;
}

/* The first mapping ending above addr, or NULL. */
static const struct vma *vma_at_or_above(const struct odp_host *h, uintptr_t addr)
{
	size_t lo = 0, hi = h->nvmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->vmas[mid].hi <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < h->nvmas ? &h->vmas[lo] : NULL;
}

/* The mappings at fault time: live queries, or a fresh read of the file. */
static void load_vmas(struct odp_host *h)
{
	h->live = procmap_usable(h);
	if (!h->live)
		read_vmas(h);
}

/* The mapping covering addr or the next one (*out), false if none. */
static bool find_vma(struct odp_host *h, uintptr_t addr, struct vma *out)
{
	const struct vma *v;
	bool failed;

	if (h->live) {
		if (procmap_find(h, addr, out, &failed))
			return true;
		if (!failed)
			return false;
		h->live = false;          /* an error: the file, from now on */
		read_vmas(h);
	}
	v = vma_at_or_above(h, addr);
	if (v)
		*out = *v;
	return v != NULL;
}

/* Is every page of [start, end) mapped? (mincore fails with ENOMEM otherwise.) */
static bool range_mapped(uintptr_t start, uintptr_t end)
{
	unsigned char vec[MINCORE_WINDOW];

	for (uintptr_t a = start; a < end;) {
		uintptr_t n = (end - a) >> PG_SHIFT;

		if (n > MINCORE_WINDOW)
			n = MINCORE_WINDOW;
		if (mincore((void *)a, n << PG_SHIFT, vec) != 0 && errno == ENOMEM)
			return false;
		a += n << PG_SHIFT;
	}
	return true;
}

/* ---- resolving faults and prefetches ---------------------------------------------------------- */

static bool kind_writes(enum req_kind k)
{
	return k == REQ_FAULT_WRITE || k == REQ_PF_WRITE;
}

static bool kind_faults(enum req_kind k)
{
	return k == REQ_FAULT_READ || k == REQ_FAULT_WRITE;
}

/* Only the resident pages of [start, end) become present (PREFETCH_NO_FAULT). */
static void mark_resident(struct odp_mr *mr, uintptr_t start, uintptr_t end, bool writable,
			  uint64_t *made)
{
	unsigned char vec[MINCORE_WINDOW];

	for (uintptr_t a = start; a < end;) {
		uintptr_t n = (end - a) >> PG_SHIFT;

		if (n > MINCORE_WINDOW)
			n = MINCORE_WINDOW;
		if (mincore((void *)a, n << PG_SHIFT, vec) == 0) {
			for (uintptr_t i = 0; i < n; i++)
				if (vec[i] & 1)
					mark_present(mr, a + (i << PG_SHIFT),
						     a + ((i + 1) << PG_SHIFT), writable, made);
		}
		a += n << PG_SHIFT;
	}
}

/* One piece of [start, end) mapped with the rights asked (ok) or not. */
static void resolve_piece(struct odp_mr *mr, uintptr_t start, uintptr_t end, bool ok,
			  bool writable, enum req_kind kind, uint64_t *made, uint64_t *bad)
{
	if (start >= end)
		return;
	if (!ok) {
		*bad += (end - start) >> PG_SHIFT;
		if (kind_faults(kind))
			mark_failed(mr, start, end);
	} else if (kind == REQ_PF_NO_FAULT) {
		mark_resident(mr, start, end, writable, made);
	} else {
		mark_present(mr, start, end, writable, made);
	}
}

/*
 * Make [start, end) present where the process maps it readable (and writable for
 * a write); a fault marks the rest failed. h->vmas must be fresh. Returns the
 * pages that could not be made present; *made counts those that became present.
 */
static uint64_t resolve(struct odp_host *h, struct odp_mr *mr, uintptr_t start, uintptr_t end,
			enum req_kind kind, uint64_t *made)
{
	bool need_w = kind_writes(kind);
	uint64_t bad = 0;
	uintptr_t cur = start;

	if (need_w && !mr->writable) {
		resolve_piece(mr, start, end, false, false, kind, made, &bad);
		return bad;
	}
	if (!h->live && !h->vmas_known) {
		resolve_piece(mr, start, end, range_mapped(start, end), mr->writable, kind,
			      made, &bad);
		return bad;
	}
	while (cur < end) {
		struct vma found;
		const struct vma *v = find_vma(h, cur, &found) ? &found : NULL;
		uintptr_t stop;

		if (!v || v->lo >= end) {
			resolve_piece(mr, cur, end, false, false, kind, made, &bad);
			break;
		}
		if (v->lo > cur) {              /* a hole before the next mapping */
			resolve_piece(mr, cur, v->lo, false, false, kind, made, &bad);
			cur = v->lo;
		}
		stop = v->hi < end ? v->hi : end;
		resolve_piece(mr, cur, stop, v->r && (!need_w || v->w), v->w && mr->writable,
			      kind, made, &bad);
		cur = stop;
	}
	return bad;
}

/* ---- the host's calls -------------------------------------------------------------------------- */

int odp_host_create(const struct odp_config *cfg, struct odp_host **out)
{
	struct odp_host *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->cfg = *cfg;
	h->maps_fd = -1;
	h->prng = cfg->seed ^ INV_STREAM;
	*out = h;
	return 0;
}

void odp_host_destroy(struct odp_host *h)
{
	if (!h)
		return;
	if (h->maps_fd >= 0)
		close(h->maps_fd);
	free(h->reqs);
	free(h->vmas);
	free(h);
}

struct odp_mr *odp_mr_create(struct odp_host *h, bool writable, void *owner)
{
	struct odp_mr *mr = calloc(1, sizeof(*mr));

	(void)h;
	if (!mr)
		return NULL;
	mr->owner = owner;
	mr->writable = writable;
	mr->nbuckets = FIRST_BUCKETS;
	mr->buckets = calloc(mr->nbuckets, sizeof(*mr->buckets));
	if (!mr->buckets) {
		free(mr);
		return NULL;
	}
	return mr;
}

void *odp_mr_owner(const struct odp_mr *mr)
{
	return mr->owner;
}

void odp_mr_destroy(struct odp_host *h, struct odp_mr *mr)
{
	size_t kept = 0;

	if (!mr)
		return;
	for (size_t i = 0; i < h->nreqs; i++)
		if (h->reqs[i].mr != mr)
			h->reqs[kept++] = h->reqs[i];
	h->nreqs = kept;
	if (h->inv_pending == mr)
		h->inv_pending = NULL;
	for (size_t b = 0; b < mr->nbuckets; b++) {
		while (mr->buckets[b]) {
			struct chunk *c = mr->buckets[b];

			mr->buckets[b] = c->next;
			free(c);
		}
	}
	free(mr->buckets);
	free(mr);
}

enum page_answer { PAGE_OK, PAGE_ABSENT, PAGE_FAILED };

static enum page_answer page_answer(struct odp_mr *mr, uintptr_t pn, bool write, bool *seen)
{
	struct chunk *c = chunk_of(mr, pn, false);
	unsigned i = page_index(pn);

	*seen = c && bit_get(c->seen, i);
	if (c && bit_get(c->failed, i))
		return PAGE_FAILED;
	if (c && bit_get(c->present, i) && (!write || bit_get(c->writable, i)))
		return PAGE_OK;
	return PAGE_ABSENT;
}

/*
 * Are the present pages [first, pn) still mapped? Asked of the kernel (mincore)
 * once per lock section for a run of pages: the run of present pages from
 * first on, up to MAP_SCAN_PAGES, so the packets of one message that follow
 * find their pages already checked. Between lock sections the program may have
 * unmapped anything: the next section asks again. (Within a section, another
 * thread's munmap races with the copy as before: see odp.h.)
 */
static bool still_mapped(struct odp_host *h, struct odp_mr *mr, uintptr_t first, uintptr_t pn,
			 bool write)
{
	uintptr_t ahead = pn;
	bool seen;

	if (h->ok_section == h->section && first >= h->ok_lo && pn <= h->ok_hi)
		return true;
	while (ahead < first + MAP_SCAN_PAGES && page_answer(mr, ahead, write, &seen) == PAGE_OK)
		ahead++;
	if (ahead > pn && range_mapped(first << PG_SHIFT, ahead << PG_SHIFT)) {
		pn = ahead;
	} else if (!range_mapped(first << PG_SHIFT, pn << PG_SHIFT)) {
		return false;
	}
	h->ok_section = h->section;
	h->ok_lo = first;
	h->ok_hi = pn;
	return true;
}

void odp_section_end(struct odp_host *h)
{
	if (h)
		h->section++;
}

/* --odp-prefault: a page never present before is resolved at once, no fault. */
static void first_touch(struct odp_host *h, struct odp_mr *mr, uintptr_t start, uintptr_t end,
			bool write)
{
	uint64_t made = 0;

	load_vmas(h);
	(void)resolve(h, mr, start, end, write ? REQ_FAULT_WRITE : REQ_FAULT_READ, &made);
	h->st.first_touch_pages += made;
}

long odp_map(struct odp_host *h, struct odp_mr *mr, uintptr_t addr, uint64_t len, bool write)
{
	uint64_t room = MAP_SCAN_PAGES * PG_SIZE - (addr & (PG_SIZE - 1));
	uint64_t want = len < room ? len : room;
	uintptr_t first = addr >> PG_SHIFT, end_pn = page_end(addr, want) >> PG_SHIFT, pn;
	bool touched = false;
	uint64_t n;

	if (!len)
		return -EINVAL;
	for (pn = first; pn < end_pn;) {
		bool seen;
		enum page_answer a = page_answer(mr, pn, write, &seen);

		if (a == PAGE_ABSENT && h->cfg.prefault && !seen && !touched) {
			first_touch(h, mr, pn << PG_SHIFT, end_pn << PG_SHIFT, write);
			touched = true;
			continue;               /* look at the same page again */
		}
		if (a == PAGE_FAILED && pn == first) {
			/* Reported once: a later access faults again (the program may
			 * have mapped memory there since). */
			bit_clr(chunk_of(mr, pn, false)->failed, page_index(pn));
			h->st.access_errors++;
			return -EFAULT;
		}
		if (a != PAGE_OK)
			break;
		pn++;
	}
	if (pn == first)
		return 0;
	/* Unmapped since it became present: the device must not touch it. */
	if (!still_mapped(h, mr, first, pn, write)) {
		h->st.vanished_pages += mark_absent(mr, first << PG_SHIFT, pn << PG_SHIFT);
		return 0;
	}
	if (h->cfg.invalidate_one_in && splitmix64(&h->prng) % h->cfg.invalidate_one_in == 0)
		h->inv_pending = mr;
	n = (uint64_t)(pn << PG_SHIFT) - addr;
	return (long)(n < want ? n : want);
}

static void push_req(struct odp_host *h, struct odp_mr *mr, uintptr_t start, uintptr_t end,
		     enum req_kind kind, uint64_t now_ns, uint64_t delay_ns)
{
	struct req *r;

	if (h->nreqs == h->capreqs) {
		size_t cap = h->capreqs ? h->capreqs * 2 : 16;
		struct req *q = realloc(h->reqs, cap * sizeof(*q));

		/* No memory: the request is dropped; the engine asks again at its
		 * next access (a responder at the requester's RNR retry). */
		if (!q)
			return;
		h->reqs = q;
		h->capreqs = cap;
	}
	r = &h->reqs[h->nreqs++];
	r->mr = mr;
	r->start = start;
	r->end = end;
	r->kind = kind;
	r->asked_ns = now_ns;
	r->due_ns = now_ns + delay_ns;
}

void odp_fault(struct odp_host *h, struct odp_mr *mr, uintptr_t addr, uint64_t len, bool write,
	       uint64_t now_ns)
{
	uintptr_t start = page_down(addr), end = page_end(addr, len);
	enum req_kind kind = write ? REQ_FAULT_WRITE : REQ_FAULT_READ;

	if (start >= end)
		return;
	/* A responder asks again at every retry of the requester: one is enough. */
	for (size_t i = 0; i < h->nreqs; i++) {
		const struct req *r = &h->reqs[i];

		if (r->mr == mr && kind_faults(r->kind) && r->start <= start && r->end >= end &&
		    (r->kind == REQ_FAULT_WRITE || !write))
			return;
	}
	h->st.fault_requests++;
	push_req(h, mr, start, end, kind, now_ns, h->cfg.fault_delay_ns);
}

int odp_prefetch(struct odp_host *h, struct odp_mr *mr, uintptr_t addr, uint64_t len,
		 enum odp_prefetch_kind kind, bool sync, uint64_t now_ns)
{
	enum req_kind k = kind == ODP_PREFETCH_WRITE ? REQ_PF_WRITE :
			  kind == ODP_PREFETCH_NO_FAULT ? REQ_PF_NO_FAULT : REQ_PF_READ;
	uintptr_t start = page_down(addr), end = page_end(addr, len);
	uint64_t made = 0, bad;

	h->st.prefetch_requests++;
	if (start >= end)
		return 0;
	if (!sync) {
		size_t before = h->nreqs;

		push_req(h, mr, start, end, k, now_ns, 0);
		return h->nreqs > before ? 0 : -ENOMEM;
	}
	load_vmas(h);
	bad = resolve(h, mr, start, end, k, &made);
	h->st.prefetch_pages += made;
	return bad && k != REQ_PF_NO_FAULT ? -EFAULT : 0;
}

uint64_t odp_next_due(const struct odp_host *h)
{
	uint64_t due = UINT64_MAX;

	for (size_t i = 0; i < h->nreqs; i++)
		if (h->reqs[i].due_ns < due)
			due = h->reqs[i].due_ns;
	return due;
}

static void resolve_req(struct odp_host *h, const struct req *r, uint64_t now_ns)
{
	uint64_t made = 0, bad = resolve(h, r->mr, r->start, r->end, r->kind, &made);

	if (kind_faults(r->kind)) {
		h->st.fault_pages += made;
		if (bad)
			h->st.fault_errors++;
		if (now_ns - r->asked_ns > h->st.fault_delay_max_ns)
			h->st.fault_delay_max_ns = now_ns - r->asked_ns;
	} else {
		h->st.prefetch_pages += made;
	}
}

unsigned odp_run_due(struct odp_host *h, uint64_t now_ns)
{
	unsigned done = 0;
	size_t kept = 0;

	for (size_t i = 0; i < h->nreqs; i++) {
		struct req r = h->reqs[i];

		if (r.due_ns > now_ns) {
			h->reqs[kept++] = r;
			continue;
		}
		if (!done)
			load_vmas(h);     /* once per batch: the mappings at fault time */
		resolve_req(h, &r, now_ns);
		done++;
	}
	h->nreqs = kept;
	return done;
}

struct odp_mr *odp_take_invalidation(struct odp_host *h)
{
	struct odp_mr *mr = h->inv_pending;

	h->inv_pending = NULL;
	return mr;
}

void odp_invalidate_mr(struct odp_host *h, struct odp_mr *mr)
{
	h->st.injected_invalidations++;
	h->st.invalidated_pages += invalidate_all(mr);
}

void odp_get_stats(const struct odp_host *h, struct odp_stats *out)
{
	*out = h->st;
}

/* ---- run-time control ------------------------------------------------------------------------ */

void odp_get_config(const struct odp_host *h, struct odp_config *out)
{
	*out = h->cfg;
}

void odp_set_config(struct odp_host *h, const struct odp_config *cfg)
{
	h->cfg.prefault = cfg->prefault;
	h->cfg.fault_delay_ns = cfg->fault_delay_ns;
	h->cfg.invalidate_one_in = cfg->invalidate_one_in;
	/* Prefetches are never delayed; faults wait for the delay in force now. */
	for (size_t i = 0; i < h->nreqs; i++)
		if (kind_faults(h->reqs[i].kind))
			h->reqs[i].due_ns = h->reqs[i].asked_ns + cfg->fault_delay_ns;
}

void odp_set_seed(struct odp_host *h, uint64_t seed)
{
	h->cfg.seed = seed;
	h->prng = seed ^ INV_STREAM;                 /* as odp_host_create */
}

enum odp_page_state odp_page_state(struct odp_mr *mr, uintptr_t addr)
{
	uintptr_t pn = addr >> PG_SHIFT;
	struct chunk *c = chunk_of(mr, pn, false);
	unsigned i = page_index(pn);

	if (!c)
		return ODP_PAGE_ABSENT;
	if (bit_get(c->failed, i))
		return ODP_PAGE_FAILED;
	if (bit_get(c->present, i))
		return bit_get(c->writable, i) ? ODP_PAGE_PRESENT_RW : ODP_PAGE_PRESENT_RO;
	return bit_get(c->seen, i) ? ODP_PAGE_INVALIDATED : ODP_PAGE_ABSENT;
}

uint64_t odp_invalidate_range(struct odp_host *h, struct odp_mr *mr, uintptr_t addr,
			      uint64_t len)
{
	uint64_t n = mark_absent(mr, page_down(addr), page_end(addr, len));

	h->st.requested_invalidations++;
	h->st.invalidated_pages += n;
	return n;
}
