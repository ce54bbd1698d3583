/* Objects/heap_layout.h: the address-space layout of Pypper's tier-aware heap and
 * the O(1) lookups over it. Internal to Objects/.
 *
 * One PROT_NONE reservation holds every tier: tier t owns [base + t*R, base + (t+1)*R)
 * (R = 2^tier_shift), so the tier of any address is one subtraction and a shift. Each
 * tier is cut into 1 MiB arenas, committed on demand. An arena holds either 64 pools
 * of 16 KiB (small size classes), medium blocks (runs of 32-byte units), page runs
 * for large blocks, or is part of a span of whole arenas for a huge block. All
 * metadata lives out of band in parallel reservations: one pool_meta (64 bytes) and
 * one allocation bitmap (128 bytes: a bit per 16-byte granule) per 16 KiB of heap, one
 * arena_meta (48 bytes) and one arena_body (the page or unit records of a large or
 * medium arena) per arena. So it never sits in a slow tier, and the active-trace
 * sampler can check a block's state without touching the block. Both per-slot records are at
 * computed addresses (slot (p - base) >> 14, times 64 or 128 bytes: shifts), so a
 * free needs no other lookup; an arena's records are whole pages (4 and 8 KiB),
 * committed and discarded with it. A medium arena keeps its unit bitmaps in its
 * slots' allocation bitmaps (8 KiB) and leaves their pool_meta zero. */
#ifndef PYPPER_HEAP_LAYOUT_H
#define PYPPER_HEAP_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tier.h"

#define HEAP_TIERS PYPPER_TIERS
#define GRANULE 16u
#define SMALL_MAX 512u                    /* <= this: 16-byte spaced classes */
#define MEDIUM_MAX 32768u                 /* <= this: medium arenas; above: page runs */
#define POOL_SHIFT 14u
#define POOL_SIZE (1u << POOL_SHIFT)      /* 16 KiB: one pool slot */
#define TIER_SHIFT_MAX 36u                /* a tier reserves at most 64 GiB */
#define ARENA_SHIFT 20u
#define TIER_ARENAS_MAX ((size_t)1 << (TIER_SHIFT_MAX - ARENA_SHIFT))
#define ARENA_SIZE (1u << ARENA_SHIFT)    /* 1 MiB */
#define POOLS_PER_ARENA (ARENA_SIZE / POOL_SIZE)
#define PAGE_SHIFT 12u
#define PAGE_SIZE (1u << PAGE_SHIFT)
#define PAGES_PER_ARENA (ARENA_SIZE / PAGE_SIZE)
#define LARGE_MAX (ARENA_SIZE / 2)        /* above: a span of whole arenas, for a block
                                             that may grow (realloc) */
#define PAGE_RUN_MAX ((size_t)4 << 20)    /* above (any block): a span of whole arenas */
#define RUN_COLOR_SHIFT 6u                /* a page run's block starts 64*k bytes in */
#define RUN_COLORS 64u                    /* k < RUN_COLORS, within the run's slack */
#define GRANULES_PER_POOL (POOL_SIZE / GRANULE)
#define MAX_CLASSES (SMALL_MAX / GRANULE)
#define MEDIUM_UNIT_SHIFT 5u
#define MEDIUM_UNIT (1u << MEDIUM_UNIT_SHIFT)            /* 32 bytes */
#define MEDIUM_UNITS (ARENA_SIZE >> MEDIUM_UNIT_SHIFT)   /* per arena */
#define MEDIUM_WORDS (MEDIUM_UNITS / 64)
#define MEDIUM_BUCKETS 25u                               /* search hints, medium.c */

enum arena_kind {
    ARENA_FREE = 0,     /* slot not in use (never committed, or released) */
    ARENA_POOLS,
    ARENA_LARGE,
    ARENA_HUGE_HEAD,
    ARENA_HUGE_TAIL,
    ARENA_MEDIUM,       /* medium blocks: runs of 32-byte units, first fit */
};

/* The allocation sites' mark of a pool (Python/alloc_sites.c): the site of its
 * recorded block (0: none) and 1 + the 16-byte granule of that block within the pool
 * (0: none, or freed: the observed free clears it, heap.h). Kept in the pool's record,
 * which a free reads anyway. */
typedef struct {
    uint16_t site;
    uint16_t opener;
} pypper_pool_mark;

/* One per 16 KiB slot. In a pool arena the slot is a pool of one small class; in any
 * other arena the record stays zero (size 0: frees there leave the pooled fast path).
 * Its allocation bitmap is apart (layout_slot_bits): in a pool arena a bit per 16-byte
 * granule, set at the start of each allocated block. */
typedef struct pool_meta {
    struct pool_meta *next;    /* partial list of its class, or free list of its arena */
    struct pool_meta *prev;
    char *base;                /* first byte of the pool */
    void *freelist;            /* freed blocks, linked through their first word */
    uint32_t bump;             /* bytes of the pool handed out at least once */
    uint16_t nalloc;           /* blocks allocated now */
    uint16_t capacity;         /* blocks that fit */
    uint16_t size;             /* block size; 0 while the pool is unused (and in later slots) */
    uint8_t sclass;
    uint8_t tier;
    uint8_t settled;           /* the answer at the last ask (pypper_heap_pool_settled) */
    uint8_t pad_[3];
    uint32_t handed;           /* blocks handed out since the pool was set up (wraps) */
    uint32_t handed_asked;     /* `handed` at that ask */
    uint32_t asked;            /* its turn; 0: never asked */
    pypper_pool_mark mark;     /* the allocation sites' (kept when a pool is set up
                                  again at its address; cleared at a recording
                                  session's start) */
} pool_meta;

#define POOL_META_SHIFT 6u
_Static_assert(sizeof(pool_meta) == (1u << POOL_META_SHIFT), "pool_meta must be 64 bytes");
#define POOL_BITS_WORDS (GRANULES_PER_POOL / 64)         /* 16 words, 128 bytes a slot */
#define POOL_BITS_SHIFT 7u
#define ARENA_BITS_BYTES (POOLS_PER_ARENA << POOL_BITS_SHIFT)   /* 8 KiB */
_Static_assert(POOL_BITS_WORDS * 8 == (1u << POOL_BITS_SHIFT), "a slot's bitmap is 128 bytes");
_Static_assert((POOLS_PER_ARENA << POOL_META_SHIFT) % PAGE_SIZE == 0
               && (POOLS_PER_ARENA << POOL_BITS_SHIFT) % PAGE_SIZE == 0,
               "an arena's records must be whole pages");
/* A medium arena's two unit bitmaps fill its slots' allocation bitmaps exactly. */
_Static_assert(2 * MEDIUM_WORDS == POOLS_PER_ARENA * POOL_BITS_WORDS,
               "medium unit bitmaps must fill an arena's slot bitmaps");

/* One per arena, in a dense array: what every lookup reads (kind, tier, the span
 * back to a huge block's head) and the tier lists. A span's arenas each take one
 * (48 bytes: a 1 GiB block writes 48 KiB of them). The large and medium arenas'
 * page and unit records are apart, in arena_body. */
typedef struct arena_meta {
    uint8_t kind;              /* enum arena_kind */
    uint8_t tier;
    uint8_t clean;             /* handed out not resident, all zero (region.c); ARENA_POOLS:
                                  its never-used pools fault in */
    uint8_t parked;            /* ARENA_POOLS / ARENA_MEDIUM, wholly free while a session
                                  keeps it: 1 seen so at a park pass, 2 its pages given back */
    uint16_t free_pools;       /* ARENA_POOLS: pools not in use */
    uint16_t fresh_pools;      /* ARENA_POOLS: pools never used yet (at the arena's end) */
    uint16_t free_pages;       /* ARENA_LARGE: pages not in use */
    uint16_t idle_pages;       /* ARENA_LARGE: of those, still committed (page_idle) */
    uint32_t span;             /* ARENA_HUGE_HEAD: arenas in the span; ARENA_HUGE_TAIL: the
                                  distance back to the head */
    uint32_t huge_pages;       /* ARENA_HUGE_HEAD: pages in use (the usable size) */
    uint32_t huge_zeroed;      /* ARENA_HUGE_HEAD: fresh from the kernel, all zero */
    struct arena_meta *next;   /* tier list: pool arenas with free pools / large arenas */
    struct arena_meta *prev;
    pool_meta *free_pool_list;
} arena_meta;

_Static_assert(sizeof(arena_meta) <= 64, "arena_meta is the dense per-arena record");

/* A large arena's page records (ARENA_LARGE). */
typedef struct large_body {
    uint64_t page_used[PAGES_PER_ARENA / 64];
    uint64_t page_idle[PAGES_PER_ARENA / 64];  /* free, still committed */
    uint64_t idle_since;                       /* retain_now() of the last free */
    uint16_t run_pages[PAGES_PER_ARENA];       /* length at a run's start */
    uint8_t run_color[PAGES_PER_ARENA];        /* at a run's start: the block's offset in
                                                  RUN_COLOR units */
} large_body;

/* A medium arena's records (ARENA_MEDIUM; its unit bitmaps: medium_used_bits,
 * medium_end_bits). */
typedef struct medium_body {
    uint64_t full_words[MEDIUM_WORDS / 64];    /* bit per word of the used bitmap: all its
                                                  units used */
    uint32_t free_units;
    uint32_t fresh_unit;                       /* units from here on never handed out */
    uint16_t hint[MEDIUM_BUCKETS];             /* per run length: where to start looking */
    bool zeroed;                               /* fresh from the kernel: fresh units are 0 */
} medium_body;

/* One per arena, in an array parallel to the arena_meta array; only large and medium
 * arenas write theirs (zeroed when such an arena is handed out, region.c). */
typedef union arena_body {
    large_body large;
    medium_body medium;
} arena_body;

/* The reservation; fixed once the heap is initialized. */
typedef struct heap_layout {
    char *base;                /* NULL until initialized */
    unsigned tier_shift;       /* log2 of a tier's reservation */
    size_t tier_bytes;
    size_t arenas_per_tier;
    arena_meta *meta;          /* HEAP_TIERS * arenas_per_tier entries */
    arena_body *body;          /* as many, parallel to meta */
    pool_meta *pools;          /* HEAP_TIERS * arenas_per_tier * POOLS_PER_ARENA entries */
    uint64_t *pool_bits;       /* POOL_BITS_WORDS for each of those */
    uint64_t *track;           /* the live trace's bits, TRACK_WORDS words per 64 granules */
} heap_layout;

extern heap_layout pypper_heap_layout;

/* Is p inside the reservation? */
static inline bool layout_owns(const void *p)
{
    return (uintptr_t)((const char *)p - pypper_heap_layout.base)
           < (uintptr_t)pypper_heap_layout.tier_bytes * HEAP_TIERS;
}

static inline unsigned layout_tier(const void *p)
{
    return (unsigned)((uintptr_t)((const char *)p - pypper_heap_layout.base)
                      >> pypper_heap_layout.tier_shift);
}

/* Global arena index (tier-major) of an owned address. */
static inline size_t layout_arena_index(const void *p)
{
    return (uintptr_t)((const char *)p - pypper_heap_layout.base) >> ARENA_SHIFT;
}

static inline arena_meta *layout_meta(size_t arena_index)
{
    return &pypper_heap_layout.meta[arena_index];
}

/* The pools of an arena, POOLS_PER_ARENA of them. */
static inline pool_meta *layout_arena_pools(size_t arena_index)
{
    return &pypper_heap_layout.pools[arena_index * POOLS_PER_ARENA];
}

static inline char *layout_arena_base(size_t arena_index)
{
    return pypper_heap_layout.base + (arena_index << ARENA_SHIFT);
}

static inline size_t layout_meta_index(const arena_meta *m)
{
    return (size_t)(m - pypper_heap_layout.meta);
}

/* An arena's index within its tier (m->tier set). */
static inline uint32_t layout_tier_index(const arena_meta *m)
{
    return (uint32_t)(layout_meta_index(m) - (size_t)m->tier * pypper_heap_layout.arenas_per_tier);
}

/* The page records of a large arena, the unit records of a medium one. */
static inline large_body *layout_large(const arena_meta *m)
{
    return &pypper_heap_layout.body[layout_meta_index(m)].large;
}

static inline medium_body *layout_medium(const arena_meta *m)
{
    return &pypper_heap_layout.body[layout_meta_index(m)].medium;
}

/* The offset of a page run's block in its first page (ARENA_LARGE; `page` is the
 * run's first page in the arena): its color, Objects/large.c. */
static inline size_t layout_run_offset(const arena_meta *m, unsigned page)
{
    return (size_t)layout_large(m)->run_color[page] << RUN_COLOR_SHIFT;
}

/* The live trace's bitmaps (Objects/track.h), interleaved: for each 64 granules, a
 * group of TRACK_WORDS words (bit g % 64 of each: granule g), so the free path's
 * checks read one cache line (two in one group of eight: 24-byte groups). A block's
 * two state bits need no word each: the second is its second granule's (a 16-byte
 * block has none: track.c gives such an object from before the session an entry). */
enum {
    TRACK_TRACKED = 0,  /* a block start the live trace tracks */
    TRACK_STATE = 1,    /* of a tracked block starting at granule g: bit g, its object has
                           an object-table entry (noted); bit g + 1 (the next group's bit 0
                           after bit 63) when the block has 32 bytes or more, its object
                           existed before the session (before) */
    TRACK_HEAD = 2,     /* where a tracked block's object starts (its first set bit at or
                           after the block start, at most 2 granules on) */
    TRACK_WORDS = 3
};
#define TRACK_BYTES_PER_ARENA (ARENA_SIZE / GRANULE / 8 * TRACK_WORDS)    /* 24 KiB */

/* The group of words holding the bits of an owned address's granule (its tracked word
 * first: layout_track_word(p)[TRACK_HEAD] is its head word). */
static inline uint64_t *layout_track_word(const void *p)
{
    uintptr_t g = (uintptr_t)((const char *)p - pypper_heap_layout.base) / GRANULE;
    return &pypper_heap_layout.track[(g >> 6) * TRACK_WORDS];
}

static inline uint64_t layout_track_bit(const void *p)
{
    return (uint64_t)1 << (((uintptr_t)p / GRANULE) & 63);
}

/* The pool metadata of an owned address (meaningful when its size is nonzero: the
 * address is then in a pool of a pool arena). */
static inline pool_meta *layout_pool(const void *p)
{
    uintptr_t off = (uintptr_t)((const char *)p - pypper_heap_layout.base);
    return (pool_meta *)((char *)pypper_heap_layout.pools
                         + ((off >> POOL_SHIFT) << POOL_META_SHIFT));
}

/* A small block's name in its pool's mark (pypper_pool_mark.opener): 1 + its granule
 * within the pool (pools are 16 KiB aligned). */
static inline uint16_t layout_mark_opener(const void *p)
{
    return (uint16_t)(1 + (((uintptr_t)p / GRANULE) & (GRANULES_PER_POOL - 1)));
}

/* Block p of pool `pool` (in use) is no longer its mark's block; whether it was. */
static inline bool layout_unmark(pool_meta *pool, const void *p)
{
    if (__builtin_expect(pool->mark.opener != layout_mark_opener(p), 1))
        return false;
    pool->mark.opener = 0;
    return true;
}

/* The allocation bitmap of the 16 KiB slot holding an owned address. */
static inline uint64_t *layout_slot_bits(const void *p)
{
    uintptr_t off = (uintptr_t)((const char *)p - pypper_heap_layout.base);
    return (uint64_t *)((char *)pypper_heap_layout.pool_bits
                        + ((off >> POOL_SHIFT) << POOL_BITS_SHIFT));
}

/* An arena's slot bitmaps, POOLS_PER_ARENA * POOL_BITS_WORDS words. */
static inline uint64_t *layout_arena_bits(size_t arena_index)
{
    return pypper_heap_layout.pool_bits + arena_index * POOLS_PER_ARENA * POOL_BITS_WORDS;
}

/* A medium arena's unit bitmaps: a bit per 32-byte unit, set while the unit belongs
 * to an allocated block; and a bit at the last unit of each allocated block. */
static inline uint64_t *medium_used_bits(const arena_meta *m)
{
    return layout_arena_bits(layout_meta_index(m));
}

static inline uint64_t *medium_end_bits(const arena_meta *m)
{
    return medium_used_bits(m) + MEDIUM_WORDS;
}

#endif
