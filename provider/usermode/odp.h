/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * provider/usermode/odp.h - on-demand paging in the process host: the HCA's view
 * of the pages of each ODP memory region (absent, present read-only, present
 * writable), fault resolution, prefetch and injected invalidations.
 *
 * ODP memory is not pinned and the device always reaches it through its virtual
 * address, so memory a program unmaps and maps again at the same address is the
 * memory the device reaches next. Everything here works on process virtual
 * addresses (the host translates an MR's iova first); an implicit MR covers the
 * whole address space. Pages are 4 KiB and tracked sparsely: a hash of 2 MiB
 * chunks, each with bitmaps of its 512 pages.
 *
 * The life of a page: absent (first touch faults: the default) -> the engine's
 * access answers "not present" and asks for a fault -> odp_fault() queues it ->
 * odp_run_due() resolves it once the injected delay has passed: the range is
 * checked against the process mappings at that moment (PROCMAP_QUERY on
 * /proc/self/maps where the kernel has it, else the file's text: mapped,
 * readable, and writable for a write), the pages that pass become present and
 * the others
 * "failed": the next access to a failed page answers -EFAULT, an access error,
 * and forgets the mark, so a later access faults again. An invalidation (seeded
 * injection, softhcadv_mr_invalidate through odp_invalidate_range, or a present
 * page found unmapped at an access) makes pages absent. The knobs can change
 * while the device runs (odp_set_config, softhcadv_set_odp_config).
 *
 * Every access to a present range is checked still mapped (mincore(), asked once
 * per lock section for the run of present pages ahead: the program cannot unmap
 * anything while its thread is inside the device, and the next section asks
 * again), so a page the program unmapped is never copied (no SIGSEGV inside the
 * device). What this cannot see: another thread of the program unmapping the
 * range between that check and the copy (now: anywhere in the lock section),
 * and an mprotect() that takes read or write permission
 * away from a page that is present (the kernel's MMU notifier would invalidate it;
 * a process has no such notifier). Both can still crash the program, as a plain
 * memcpy of unmapped memory would.
 *
 * Not thread-safe: the host calls everything with its device lock held.
 */
#ifndef SOFTHCA_PROVIDER_USERMODE_ODP_H
#define SOFTHCA_PROVIDER_USERMODE_ODP_H

#include <stdbool.h>
#include <stdint.h>

struct odp_config {
	bool prefault;               /* first touch finds pages present (no fault) */
	uint64_t fault_delay_ns;     /* a fault is resolved this long after it is asked */
	uint64_t invalidate_one_in;  /* one ODP access in N invalidates its MR; 0 = never */
	uint64_t seed;               /* of the invalidation decisions */
};

enum odp_prefetch_kind {
	ODP_PREFETCH_READ,           /* make present, read access enough */
	ODP_PREFETCH_WRITE,          /* make present for writing */
	ODP_PREFETCH_NO_FAULT,       /* make present only what is resident already */
};

struct odp_stats {
	uint64_t fault_requests;     /* distinct faults asked by the engine */
	uint64_t fault_pages;        /* pages made present by faults */
	uint64_t fault_errors;       /* faults that met unmapped or protected memory */
	uint64_t access_errors;      /* accesses answered -EFAULT */
	uint64_t first_touch_pages;  /* pages present at first touch (prefault) */
	uint64_t injected_invalidations; /* (all the present pages of one MR) */
	uint64_t invalidated_pages;  /* present pages invalidations dropped (injected
				      * ones and odp_invalidate_range) */
	uint64_t vanished_pages;     /* present pages found unmapped at an access */
	uint64_t prefetch_requests;  /* prefetches (one per SGE) */
	uint64_t prefetch_pages;     /* pages made present by prefetches */
	uint64_t fault_delay_max_ns; /* longest time from a fault request to its resolution */
	uint64_t requested_invalidations; /* odp_invalidate_range calls (softhcadv_mr_invalidate) */
};

struct odp_host;                 /* one per device */
struct odp_mr;                   /* one per ODP memory region */

int  odp_host_create(const struct odp_config *cfg, struct odp_host **out); /* -ENOMEM */
void odp_host_destroy(struct odp_host *h);

/* writable: the MR grants some write access (local or remote); owner: the host's
 * record of the MR (odp_mr_owner). NULL: no memory. */
struct odp_mr *odp_mr_create(struct odp_host *h, bool writable, void *owner);
void *odp_mr_owner(const struct odp_mr *mr);
/* Forgets the MR's queued faults and prefetches too. */
void odp_mr_destroy(struct odp_host *h, struct odp_mr *mr);

/*
 * The device accesses [addr, addr + len): the bytes present (and writable for a
 * write) from addr on, > 0; 0 if the page at addr is absent (the engine then asks
 * for a fault); -EFAULT if it is a failed page (not mapped, or not with the
 * rights the access needs).
 */
long odp_map(struct odp_host *h, struct odp_mr *mr, uintptr_t addr, uint64_t len, bool write);
/* The device lock is let go: the program may unmap anything before the next
 * section, so what odp_map checked in this one is checked again. */
void odp_section_end(struct odp_host *h);

/* Queue the resolution of [addr, addr + len), due at now_ns + the fault delay. */
void odp_fault(struct odp_host *h, struct odp_mr *mr, uintptr_t addr, uint64_t len,
	       bool write, uint64_t now_ns);

/*
 * Prefetch [addr, addr + len). sync: resolve now, 0 or -EFAULT (part of the range
 * not mapped with the rights asked; NO_FAULT never fails). Otherwise queued,
 * resolved by odp_run_due without the fault delay; 0 or -ENOMEM. Prefetches never
 * mark pages failed.
 */
int  odp_prefetch(struct odp_host *h, struct odp_mr *mr, uintptr_t addr, uint64_t len,
		  enum odp_prefetch_kind kind, bool sync, uint64_t now_ns);

/* When the next queued request is due (host ns), UINT64_MAX if none. */
uint64_t odp_next_due(const struct odp_host *h);
/* Resolve every request due at now_ns; the number resolved (the engine's stalled
 * QPs should retry when it is not 0). */
unsigned odp_run_due(struct odp_host *h, uint64_t now_ns);

/*
 * Injected invalidations are decided at an access but applied between engine
 * calls, as an MMU notifier waits for the device's access to finish: at the end
 * of a device-lock section the host takes the MR decided (NULL: none), lets the
 * engine land what it holds for it (emu_mr_invalidate), then invalidates it.
 */
struct odp_mr *odp_take_invalidation(struct odp_host *h);
void odp_invalidate_mr(struct odp_host *h, struct odp_mr *mr);   /* all its pages */

void odp_get_stats(const struct odp_host *h, struct odp_stats *out);

/* ---- run-time control (softhcadv, include/softhca/softhcadv.h) ----------------------- */

/*
 * The knobs now. odp_set_config changes prefault, fault_delay_ns and
 * invalidate_one_in (not the seed: odp_set_seed); the caller checks the limits.
 * Faults already queued become due at their request time plus the new delay, so
 * shortening a long delay releases them.
 */
void odp_get_config(const struct odp_host *h, struct odp_config *out);
void odp_set_config(struct odp_host *h, const struct odp_config *cfg);
/* Restart the invalidation decisions from seed, as odp_host_create does. */
void odp_set_seed(struct odp_host *h, uint64_t seed);

/* What the model holds for one page. */
enum odp_page_state {
	ODP_PAGE_ABSENT,             /* never present: the next access faults (under
				      * prefault, finds it present at once) */
	ODP_PAGE_PRESENT_RO,         /* present, the device may read it */
	ODP_PAGE_PRESENT_RW,         /* present, the device may read and write it */
	ODP_PAGE_FAILED,             /* a fault found it unmapped or protected: the
				      * next access is an access error */
	ODP_PAGE_INVALIDATED,        /* absent again after being present: the next
				      * access faults, under prefault too */
};

enum odp_page_state odp_page_state(struct odp_mr *mr, uintptr_t addr);

/*
 * The present pages of every page [addr, addr + len) touches become absent (the
 * caller first lets the engine land what it holds for the range:
 * emu_mr_invalidate). Returns how many were present.
 */
uint64_t odp_invalidate_range(struct odp_host *h, struct odp_mr *mr, uintptr_t addr,
			      uint64_t len);

#endif /* SOFTHCA_PROVIDER_USERMODE_ODP_H */
