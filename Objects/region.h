/* Objects/region.h: the heap's reservation and its arena slots: reserve once, commit
 * and release arenas (and spans of arenas) per tier, bind them to the tier's nodes;
 * each arena's residency hint (which idle arenas a short span takes). */
#ifndef PYPPER_REGION_H
#define PYPPER_REGION_H

#include "heap_layout.h"

/* Called for every newly committed range; returns 0 or -errno (counted, not fatal). */
typedef int (*region_bind_fn)(unsigned tier, void *addr, size_t len);

/* Reserve the address space (tries 64 GiB per tier, then smaller). 0 or -1. */
int region_init(void);
void region_set_binder(region_bind_fn fn);
/* Commit `count` contiguous fresh or released arenas of `tier`; returns the global
 * index of the first, or (size_t)-1 when the tier's reservation or memory is
 * exhausted. Each arena's `clean` (arena_meta) tells whether it was handed out not
 * resident; the caller tells retain.c of the fresh ones (the arena debt) if they owe
 * it. fit_pages (0: none): the block uses all the arenas but fit_pages pages
 * of the last, and idle arenas are picked by how well their resident pages fit that
 * (from either end of an idle run). *zeroed tells whether all its memory is known to
 * be zero, *fresh how many of the arenas are not resident (never used, or purged):
 * the last ones. */
size_t region_take_arenas(unsigned tier, size_t count, size_t fit_pages, bool *zeroed,
                          size_t *fresh);
/* The same from idle runs only (released arenas still resident, best fit), or
 * (size_t)-1 when none holds `count` arenas. */
size_t region_take_idle_arenas(unsigned tier, size_t count, bool *zeroed, size_t *fresh);
/* Whether an idle released run holds `count` arenas. */
bool region_idle_holds(unsigned tier, size_t count);
/* A span from arena `first` on (`count` arenas) holds a block of `pages` pages: the
 * arenas' residency hints grow to the pages it reaches in each. */
void region_note_pages(size_t first, size_t count, size_t pages);
/* Take the `count` arenas from global index `first` on, when they are free (released,
 * or the tier's bump end): a span grows in place. *fresh: how many are not resident. */
bool region_extend(size_t first, size_t count, size_t *fresh);
/* One arena of `tier` for a heap part: its metadata zeroed, then kind and tier set;
 * NULL when none can be committed. *zeroed: not resident, all zero. The caller tells
 * retain.c about fresh memory as it hands it out. */
arena_meta *region_take_arena(unsigned tier, enum arena_kind kind, bool *zeroed);
/* Give arenas back for reuse. With discard their memory returns to the kernel
 * (MADV_DONTNEED) at once; without, they stay committed and idle (counted in
 * retain.c) until reused or purged. The mapping always stays, so a racing reader
 * never faults. */
void region_release_arenas(size_t first, size_t count, bool discard);
/* Release a freed span's arenas, idle (its purge can teach the retention bound). */
void region_release_span(size_t first, size_t count);
/* The release time of the oldest idle run; false when there is none. */
bool region_oldest_idle(uint64_t *since);
/* Give back the memory of the oldest idle run, about `limit` bytes of it (whole
 * arenas from its end, at least one; the rest stays idle); the bytes (0: none).
 * *span: the run held memory of a freed span. When the kernel refuses (locked
 * memory), 0 with *refused set: the run stays idle, as the newest. */
uint64_t region_purge_oldest_idle(uint64_t limit, bool *span, bool *refused);
/* Whether arena `ai` (a global index) was ever committed: its memory and metadata are
 * then readable for as long as the process lives. Safe from any thread. */
bool region_arena_committed(size_t ai);
/* Return the pages of [addr, addr+len) to the kernel; they read as zero afterwards.
 * False when the kernel refused (locked memory, mlockall): the contents stay. */
bool region_discard(void *addr, size_t len);
/* Who sees every discard of heap memory, in the heap's lock: write tracking
 * (Pypper/write_tracking_heap.c: MADV_DONTNEED reads as a write to the kernel's
 * tracking) and the migration plane (Python/migrate_discards.c: a discarded page's
 * next fault places it anew, so where a round found it is not known any more). Set
 * from any thread (NULL: none); one removed with the heap's lock held is not running
 * once the lock is released. */
typedef enum {
    REGION_DISCARD_WRITE_TRACKING,
    REGION_DISCARD_MIGRATION,
    REGION_DISCARD_OBSERVERS
} region_discard_observer;
void region_set_discard_observer(region_discard_observer who, void (*fn)(void *addr, size_t len));
/* The pages of [addr, addr + len) were replaced by others, moved onto them by mremap
 * (large_move_span): the observers hear of it as of a discard, in the heap's lock. The
 * migration plane had placed the old pages (say on the slow node), while the moved
 * ones are wherever their source's were. (The source, empty now, is released and
 * discarded by its caller, which tells them of it.) */
void region_note_replaced(void *addr, size_t len);
/* Map [addr, addr + len) of tier again, writable and empty (bound to the tier's nodes):
 * a failed mremap onto it may have unmapped it. False when the kernel refused. */
bool region_restore(unsigned tier, void *addr, size_t len);
/* The bytes of `tier` from its start that were ever committed (the bump end; released
 * arenas inside it stay mapped). Safe from any thread. */
size_t region_committed_extent(unsigned tier);
/* Whether heap pages may move with mremap (large_move_span). Not while a userfaultfd
 * has the heap registered (write tracking): the kernel drops the registration of a
 * moved range that has no UFFD_FEATURE_EVENT_REMAP. Allowed by default; the write
 * tracker forbids it before it registers and allows it after it unregisters. Safe
 * from any thread. */
void region_set_remap_allowed(bool allowed);
bool region_remap_allowed(void);

typedef struct {
    uint64_t arenas_committed[HEAP_TIERS];   /* now, including released ones not discarded */
    uint64_t arenas_high[HEAP_TIERS];        /* slots ever used */
    uint64_t commit_failures;
    uint64_t bind_failures;
    int last_bind_errno;
} region_counters;

void region_get_counters(region_counters *out);

#endif
