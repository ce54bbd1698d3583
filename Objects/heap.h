/* Objects/heap.h: Pypper's tier-aware heap, as the rest of Pypper sees it:
 * allocation entry points, the O(1) pointer lookup, counters, and the knobs that
 * the session and the placement policy turn. Pure C (no Python.h). */
#ifndef PYPPER_HEAP_H
#define PYPPER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tier.h"

/* Reserve the heap's address space. 0, or -1 when no reservation could be made
 * (then every request goes to the fallback allocator). Idempotent. */
int pypper_heap_init(void);
bool pypper_heap_ready(void);

void *pypper_heap_malloc(size_t n);
void *pypper_heap_calloc(size_t count, size_t size);
/* p must be owned (pypper_heap_owns) or NULL. */
void *pypper_heap_realloc(void *p, size_t n);
void pypper_heap_free(void *p);
/* Allocate in a given tier, ignoring the placement policy. */
void *pypper_heap_malloc_in(unsigned tier, size_t n);

bool pypper_heap_owns(const void *p);
/* The reservation's first byte (NULL before the heap is initialized). */
void *pypper_heap_base(void);

typedef enum {
    PYPPER_BLOCK_NONE = 0,     /* not Pypper's memory */
    PYPPER_BLOCK_SMALL,        /* a pooled block of a small size class */
    PYPPER_BLOCK_MEDIUM,       /* a run of 64-byte units inside a medium arena */
    PYPPER_BLOCK_LARGE,        /* a run of pages inside a large arena */
    PYPPER_BLOCK_HUGE,         /* a span of whole arenas */
} pypper_block_kind;

typedef struct {
    pypper_block_kind kind;
    unsigned tier;
    bool allocated;            /* the block holding the address is allocated */
    void *block;               /* its first byte */
    size_t size;               /* its usable size */
    int size_class;            /* SMALL: class index, else -1 */
    void *page;                /* the page holding the address */
    void *pool;                /* SMALL: the pool's first byte */
    void *arena;               /* the (first) arena's first byte */
} pypper_block_info;

/* O(1), never touches the block's memory: only the heap's metadata. Interior
 * addresses resolve to their block. Safe to call with the heap serialized (GIL);
 * the sampler uses it with relaxed reads and re-checks what it finds. */
void pypper_heap_lookup(const void *p, pypper_block_info *info);
/* The medium block that medium arena `arena_index` holds back for the next request of
 * its length (Objects/medium.c): free to every reader of the unit bitmaps, which mark
 * it used. false when the arena holds none; else its first unit and its units. */
bool pypper_heap_medium_held(size_t arena_index, unsigned *first_unit, unsigned *units);
/* Whether p is the start of an allocated small (pooled) block: what pypper_heap_lookup
 * would say with kind SMALL, allocated and block == p, in two metadata reads. */
bool pypper_heap_small_block_start(const void *p);
/* Whether the pool of the small block holding p handed out no block since it was
 * last asked, in an earlier turn (the hand-over's count, never 0): then every
 * object in it is older than that ask. Asked for the first time: whether it never
 * handed out a freed block again. Asked again in the same turn, the same answer.
 * False for a block outside the pools. Under
 * the heap lock (the GIL). Evidence about an object without an entry heats its page
 * for the objects on it only when its pool settled: a program's loop temporaries
 * come and go in the free blocks of pools that hold its long-lived numbers. */
bool pypper_heap_pool_settled(const void *p, uint32_t turn);

/* Show fn (block, requested size) one in `period` of the allocations made through the
 * CPython domain entry points that take the slow path (a small block when its pool
 * is used up, any block above 512 bytes), right after it is made, in the allocating
 * thread (which holds its interpreter's GIL); fn must not allocate from the heap.
 * NULL or 0 turns sampling off. */
typedef void (*pypper_alloc_sample_fn)(void *block, size_t size);
void pypper_heap_set_alloc_sampler(pypper_alloc_sample_fn fn, uint64_t period);

/* While retained (a tracing session runs) no emptied pool, medium or large arena is
 * released to the region (a freed huge block's span is, and is trimmed under the
 * retention policy as at any other time); turning it off releases the arenas that are
 * empty now, as idle memory under the retention policy. */
void pypper_heap_set_retain(bool retain);
/* While retained: a session's tick (the engine's step calls it; the pools' slow paths
 * too), a park pass at most once a second: pool arenas found empty at the pass before
 * give their pages back (all but one); they stay pool arenas (Objects/pools.c:
 * pools_park_empty). */
void pypper_heap_session_tick(void);
/* Any thread, no lock (a hint): whether an emptied pool arena or idle memory waits for
 * a tick (the sampler thread asks for one about once a second meanwhile, idle program
 * or not; the tick also gives back idle memory older than RETAIN_DELAY_MS). */
bool pypper_heap_park_pending(void);

/* Retention of freed memory (Objects/retain.c): idle memory up to a learnt bound
 * whose ceiling is max_bytes (or, with max_bytes 0, max_percent of the heap; both 0:
 * keep nothing), given back when not reused for delay_ms. */
void pypper_heap_set_retention(uint64_t max_bytes, double max_percent, uint32_t delay_ms);
/* Give every idle byte back now (like malloc_trim); the bytes. */
uint64_t pypper_heap_trim(void);

/* Fast-tier budget: bytes (percent == 0) or a percentage of the heap (bytes == 0).
 * 100% (the default) means no limit. */
void pypper_heap_set_fast_budget(uint64_t bytes, double percent);

/* From now on every call takes the heap lock (another interpreter with its own GIL
 * may allocate concurrently). One-way. */
void pypper_heap_enable_locking(void);
bool pypper_heap_locking(void);
/* Hold the heap's serialization across several calls (a no-op until locking is on),
 * for state that the free path also updates (the live trace's object table). */
bool pypper_heap_lock(void);
void pypper_heap_unlock(bool locked);

typedef struct {
    uint64_t arenas;           /* committed arenas (1 MiB) */
    uint64_t pool_arenas, medium_arenas, large_arenas, huge_arenas;
    uint64_t pages;            /* committed pages */
    uint64_t bytes_in_use;     /* usable bytes of allocated blocks */
    uint64_t blocks_in_use;
    uint64_t pools_used, pools_full, pools_free;
    uint64_t pool_free_bytes;  /* free space inside used pools (fragmentation) */
    uint64_t medium_blocks;
    uint64_t medium_free_bytes;  /* free units inside medium arenas */
    uint64_t large_blocks, huge_blocks;
} pypper_tier_stats;

typedef struct {
    uint32_t size;             /* block size of the class */
    uint64_t blocks_in_use[2];
    uint64_t pools[2];
    uint64_t free_bytes[2];    /* free space in this class's used pools */
} pypper_class_stats;

typedef struct {
    bool ready;
    bool locking;
    unsigned default_tier;
    uint64_t reservation_per_tier;
    uintptr_t base;            /* the fast tier's first byte; the slow tier's is base + reservation_per_tier */
    pypper_tier_stats tier[PYPPER_TIERS];
    unsigned nclasses;
    pypper_class_stats classes[96];
    uint64_t fallback_allocs;      /* served by the previous allocator: heap exhausted */
    uint64_t commit_failures;      /* arena commits refused by the kernel */
    uint64_t bind_failures;        /* mbind refused (memory left where the kernel put it) */
    int last_bind_errno;
    uint64_t tier_fallbacks;       /* requests served by the other tier */
    uint64_t arenas_released;
    uint64_t arenas_parked;        /* emptied pool arenas whose pages a session gave back */
    uint64_t invalid_frees;        /* frees of addresses that are not allocated blocks */
    uint64_t idle_bytes;           /* freed, still committed: reused without page faults */
    uint64_t retain_bound;         /* idle bytes kept now (learnt from reuse) */
    uint64_t retain_bound_max;     /* its ceiling (RETAIN_MAX) */
    uint32_t retain_delay_ms;      /* idle memory not reused this long is given back */
    uint64_t trims, trimmed_bytes;             /* given back to respect the bound */
    uint64_t stale_trims, stale_trimmed_bytes; /* given back as stale, or on request */
    uint64_t retain_mistakes;      /* a trim followed by fresh memory: the bound grew */
    uint64_t span_moves;           /* huge blocks grown by moving pages (mremap), not copying */
    uint64_t span_move_failures;   /* mremap refused: copied instead */
    uint64_t calloc_discards;      /* large callocs of reused memory zeroed by discarding its
                                      pages (fresh zero pages) instead of writing them */
} pypper_heap_stats;

/* Walks the metadata; O(arenas). */
void pypper_heap_get_stats(pypper_heap_stats *out);
/* Usable bytes of allocated blocks, both tiers (get_stats' bytes_in_use summed). */
uint64_t pypper_heap_bytes_in_use(void);
/* Whether the tier has ever had an arena in this process (a placement scope, a cold
 * site, a relocation or a budget sent memory there). One atomic load; any thread. */
bool pypper_heap_tier_used(unsigned tier);

/* The previous allocator of a CPython memory domain: same layout as
 * PyMemAllocatorEx. Blocks the heap does not own go back to it, and it serves
 * requests the heap cannot (reservation exhausted). */
typedef struct pypper_heap_fallback {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} pypper_heap_fallback;

/* Entry points with PyMemAllocatorEx's signatures; ctx is a pypper_heap_fallback. */
void *pypper_heap_domain_malloc(void *ctx, size_t n);
void *pypper_heap_domain_calloc(void *ctx, size_t count, size_t size);
void *pypper_heap_domain_realloc(void *ctx, void *p, size_t n);
void pypper_heap_domain_free(void *ctx, void *p);

/* An observer of the domain calls (the allocation sites, Python/alloc_sites.c): the
 * _observed entry points below are the ones above plus two checks, and the observer
 * puts them in the domains while it records. After each malloc, calloc or realloc
 * the requested size is taken from `countdown`; `seen` (block, size) is called when
 * the countdown is below 0 or the size above 512 bytes (the block may be NULL), in
 * the allocating thread, and must not allocate from the heap. Before a free (and a
 * realloc that moves), a small block whose pool's mark names it
 * (pypper_heap_pool_mark: `opener` is 1 + its 16-byte granule within the pool)
 * clears that mark's opener. */
typedef struct {
    int64_t countdown;
    void (*seen)(void *block, size_t size);
} pypper_heap_observer;

extern pypper_heap_observer pypper_heap_obs;

/* Above this size every block is seen: the small blocks' limit (SMALL_MAX). */
#define PYPPER_HEAP_OBS_ALL_ABOVE 512u

/* Whether the observer wants to see a block of n bytes just taken from the countdown. */
static inline bool pypper_heap_obs_wants(size_t n)
{
    return (pypper_heap_obs.countdown < 0) | (n > PYPPER_HEAP_OBS_ALL_ABOVE);
}

/* Clear every pool's mark (heap_layout.h: pypper_pool_mark, in the pool's record):
 * a recording session starts, no mark is an earlier one's. */
void pypper_heap_clear_pool_marks(void);

void *pypper_heap_domain_malloc_observed(void *ctx, size_t n);
void *pypper_heap_domain_calloc_observed(void *ctx, size_t count, size_t size);
void *pypper_heap_domain_realloc_observed(void *ctx, void *p, size_t n);
void pypper_heap_domain_free_observed(void *ctx, void *p);

#endif
