/* Objects/heap_internal.h: state shared by the heap's files (pools, large blocks,
 * entry points): the per-tier free lists and the counters kept on slow paths. */
#ifndef PYPPER_HEAP_INTERNAL_H
#define PYPPER_HEAP_INTERNAL_H

#include "heap.h"
#include "heap_layout.h"
#include "size_classes.h"

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

typedef struct tier_heap {
    pool_meta *partial[MAX_CLASSES];   /* pools with room, per class; head is used */
    arena_meta *pool_arenas;           /* pool arenas with free pools */
    arena_meta *large_arenas;          /* every large arena of the tier */
} tier_heap;

typedef struct heap_state {
    tier_heap tiers[HEAP_TIERS];
    bool retain;                       /* a session runs: keep arenas */
    unsigned default_tier;
    uint64_t budget_bytes;
    double budget_percent;
    uint64_t tier_fallbacks;
    uint64_t arenas_released;
    uint64_t arenas_parked;            /* emptied pool arenas whose pages a session gave back */
    uint64_t fallback_allocs;
    uint64_t invalid_frees;
    uint64_t span_moves;               /* huge reallocs that moved pages instead of copying */
    uint64_t span_move_failures;       /* mremap refused: copied */
    uint64_t calloc_discards;          /* calloc zeroed by discarding pages (heap.c) */
} heap_state;

extern heap_state pypper_heap;

/* pools.c */
void *pools_alloc_slow(unsigned tier, unsigned sclass);
void pools_pool_emptied(pool_meta *p);
void pools_release_empty(unsigned tier, bool keep_one);
/* Whether an arena waits for the next pass (seen empty at this one). */
bool pools_park_empty(unsigned tier);
/* An arena's pools are all free while a session retains arenas. */
void heap_park_note_empty(void);
/* While a session retains arenas: a park pass (pools_park_empty, medium_park_empty,
 * and idle memory older than the delay: heap_trim_stale) when the last was
 * HEAP_PARK_EVERY_MS ago or more; called from the pools' slow paths and the engine's
 * step (pypper_heap_session_tick), with the heap's serialization held. */
#define HEAP_PARK_EVERY_MS 1000u
void heap_park_due(void);
/* One wholly free, used arena's step of a pass (pools_park_empty, medium_park_empty):
 * the first met (*kept false) stays resident, the others are marked, and those marked
 * at the pass before give their pages back (MADV_DONTNEED; the mapping and the records
 * stay). Returns whether m waits for the next pass. */
bool heap_park_arena(arena_meta *m, bool *kept);

/* large.c: page runs (<= LARGE_MAX) and spans of arenas (above). */
/* growing: the block replaces a smaller one (realloc) and may grow on. */
void *large_alloc(unsigned tier, size_t n, bool *zeroed, bool growing);
void large_free(arena_meta *m, size_t arena_index, void *p);
size_t large_usable(arena_meta *m, const void *p);
/* Grow or shrink a page run or a span in place; 1 on success. */
int large_resize_in_place(arena_meta *m, void *p, size_t n);
/* Move `bytes` (whole pages) of a span's memory to another span's start without
 * copying (mremap(2) with MREMAP_DONTUNMAP: the source stays mapped, empty). Within
 * one tier, and not while the heap is registered with a userfaultfd
 * (region_remap_allowed); false (copy instead) otherwise or when the kernel refuses.
 * A session's threads may read either span meanwhile: both stay mapped (a read of
 * the source finds zeros; one of the destination waits for the move in the kernel's
 * fault path), and what they read is checked again under the GIL (and the heap's
 * lock, once locking is on). */
bool large_move_span(void *from, void *to, size_t bytes);
/* Free a span whose pages were moved away. */
void large_free_moved_span(arena_meta *m, size_t arena_index);
/* Give about `limit` bytes of m's idle pages back to the kernel, from its end (at
 * least one page; then m itself when it is wholly free and may go); the bytes. Pages
 * the kernel keeps (locked) stay idle and stop the purge: *refused is set when none
 * went back, and m is then the newest idle memory. */
uint64_t large_purge(arena_meta *m, uint64_t limit, bool *refused);
/* A large arena with idle pages, or NULL: the one whose idle pages were freed longest
 * ago (of all, or of those wholly idle), or the one with the most idle pages (the
 * oldest of those), whose purge takes the fewest calls per byte. */
typedef enum { LARGE_PICK_OLDEST, LARGE_PICK_WHOLE, LARGE_PICK_DENSEST } large_pick;
arena_meta *large_idle_pick(large_pick pick);
/* Before `count` arenas are taken for a span or an arena of another kind: when no
 * idle released run holds them, `count` adjacent large arenas, wholly free with all
 * their pages idle, go back to the region, idle, so that it reuses their resident
 * pages (page runs take them back as they take any idle released arena): the heap of
 * page runs shares its free memory with the other kinds, as glibc's one heap serves
 * every size. Whether it lent any. */
bool large_lend_free(unsigned tier, size_t count);
/* Release wholly free large arenas that hold no idle pages (after a session). */
void large_release_empty(unsigned tier);

/* medium.c: blocks above SMALL_MAX up to MEDIUM_MAX. The free, usable-size and
 * resize calls take a block's arena; a free of what is not an allocated block start
 * returns false and changes nothing. */
void medium_init(void);          /* once, before the first medium block */
void *medium_alloc(unsigned tier, size_t n, bool *zeroed);
bool medium_free(arena_meta *m, void *p);
size_t medium_usable(arena_meta *m, const void *p);
int medium_resize_in_place(arena_meta *m, void *p, size_t n);
/* The allocated block holding p (any address inside it); false when p is free. */
bool medium_find_block(const arena_meta *m, const void *p, char **block, size_t *size);
/* In use (a held block counts free), and free, out of the arena's MEDIUM_UNITS. */
void medium_stats(const arena_meta *m, uint64_t *blocks, uint64_t *bytes, uint64_t *free_bytes);
void medium_release_empty(unsigned tier, bool keep_one);
/* Whether an arena waits for the next pass (pools_park_empty's rule, for medium
 * arenas). */
bool medium_park_empty(unsigned tier);

/* heap.c: re-evaluate the default tier against the budget (slow paths call it). */
void heap_update_default_tier(void);

/* Doubly linked lists of arenas (a tier's pool arenas with free pools, its large
 * arenas). */
static inline void arena_list_push(arena_meta **head, arena_meta *m)
{
    m->prev = NULL;
    m->next = *head;
    if (*head)
        (*head)->prev = m;
    *head = m;
}

static inline void arena_list_unlink(arena_meta **head, arena_meta *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        *head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->next = m->prev = NULL;
}

/* Allocation bits live in the bitmap of the 16 KiB slot holding the block. */
static inline void pool_mark_allocated(const void *block)
{
    uint64_t *bits = layout_slot_bits(block);
    unsigned g = (unsigned)(((uintptr_t)block >> 4) & (GRANULES_PER_POOL - 1));
    bits[g >> 6] |= (uint64_t)1 << (g & 63);
}

static inline bool pool_is_marked(const void *block)
{
    const uint64_t *bits = layout_slot_bits(block);
    unsigned g = (unsigned)(((uintptr_t)block >> 4) & (GRANULES_PER_POOL - 1));
    return (bits[g >> 6] >> (g & 63)) & 1u;
}

/* The pool of a slot record in a pool arena, or NULL (the slot is a free pool). */
static inline pool_meta *pool_of(pool_meta *slot)
{
    return slot->size ? slot : NULL;
}

static inline void partial_push(tier_heap *h, pool_meta *p)
{
    pool_meta *head = h->partial[p->sclass];
    p->prev = NULL;
    p->next = head;
    if (head)
        head->prev = p;
    h->partial[p->sclass] = p;
}

static inline void partial_unlink(tier_heap *h, pool_meta *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        h->partial[p->sclass] = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->next = p->prev = NULL;
}

/* The fast paths: a block from pool p (the head of its class's partial list in h),
 * a pooled block of a class, and a free. */
static inline void *pool_take_block(tier_heap *h, pool_meta *p)
{
    void *b = p->freelist;
    if (b)
        p->freelist = *(void **)b;
    else {
        b = p->base + p->bump;
        p->bump += p->size;
    }
    pool_mark_allocated(b);
    p->handed++;
    if (UNLIKELY(++p->nalloc == p->capacity))
        partial_unlink(h, p);
    return b;
}

static inline void *pool_alloc_fast(unsigned tier, unsigned sclass)
{
    tier_heap *h = &pypper_heap.tiers[tier];
    pool_meta *p = h->partial[sclass];
    if (UNLIKELY(p == NULL))
        return pools_alloc_slow(tier, sclass);
    return pool_take_block(h, p);
}

/* Free an allocated block b of pool p; false (nothing changed) when b is not the
 * start of an allocated block: a double or interior free. */
static inline bool pool_free_block(pool_meta *p, void *b)
{
    unsigned g = (unsigned)(((uintptr_t)b >> 4) & (GRANULES_PER_POOL - 1));
    uint64_t bit = (uint64_t)1 << (g & 63);
    uint64_t *bits = layout_slot_bits(b);
    uint64_t word = bits[g >> 6];
    if (UNLIKELY(!(word & bit)))
        return false;
    bits[g >> 6] = word & ~bit;
    *(void **)b = p->freelist;
    p->freelist = b;
    if (UNLIKELY(p->nalloc == p->capacity))
        partial_push(&pypper_heap.tiers[p->tier], p);
    if (UNLIKELY(--p->nalloc == 0))
        pools_pool_emptied(p);
    return true;
}

#endif
