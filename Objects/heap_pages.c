/* Objects/heap_pages.c: the heap's pages in use, for the migration planner: which
 * 4 KiB pages of the reservation hold allocated memory now (from the out-of-band
 * metadata only: never touches the pages), and the index of a page in the
 * reservation. Callers hold the heap's serialization (the GIL or the heap lock). */
#include "heap_pages.h"
#include "heap.h"
#include "heap_layout.h"
#include "region.h"
#include "trim.h"

size_t pypper_heap_page_slots(void)
{
    return pypper_heap_layout.base ? (pypper_heap_layout.tier_bytes * HEAP_TIERS) >> PAGE_SHIFT : 0;
}

size_t pypper_heap_page_index(const void *p)
{
    return (uintptr_t)((const char *)p - pypper_heap_layout.base) >> PAGE_SHIFT;
}

int pypper_heap_committed_ranges(size_t *first, size_t *count, int max)
{
    int n = 0;
    for (unsigned tier = 0; pypper_heap_layout.base && tier < HEAP_TIERS && n < max; tier++) {
        first[n] = (tier * pypper_heap_layout.tier_bytes) >> PAGE_SHIFT;
        count[n] = region_committed_extent(tier) >> PAGE_SHIFT;
        n++;
    }
    return n;
}

void *pypper_heap_page_at(size_t index)
{
    return pypper_heap_layout.base + (index << PAGE_SHIFT);
}

bool pypper_heap_page_tracked(size_t index)
{
    /* 4 KiB = 256 granules = 4 groups of the tracked bitmaps (heap_layout.h). */
    const uint64_t *w = &pypper_heap_layout.track[(index << PAGE_SHIFT) / GRANULE / 64 * TRACK_WORDS];
    return (w[TRACK_TRACKED] | w[TRACK_TRACKED + TRACK_WORDS] | w[TRACK_TRACKED + 2 * TRACK_WORDS]
            | w[TRACK_TRACKED + 3 * TRACK_WORDS]) != 0;
}

/* What a page of a committed pool, medium or large arena holds. */
enum page_state {
    PAGE_USED,      /* allocated memory */
    PAGE_FREE,      /* handed out before, free now */
    PAGE_FRESH,     /* never handed out: never touched */
};

/* The bits of units [first, first + count) in the bitmap word of units [wu, wu + 64). */
static uint64_t units_mask(unsigned wu, unsigned first, unsigned count)
{
    if (!count || first >= wu + 64 || first + count <= wu)
        return 0;
    unsigned lo = first > wu ? first - wu : 0;
    unsigned hi = first + count < wu + 64 ? first + count - wu : 64;
    return (hi - lo == 64 ? ~(uint64_t)0 : (((uint64_t)1 << (hi - lo)) - 1)) << lo;
}

static enum page_state page_state(size_t a, const arena_meta *m, unsigned i)
{
    switch (m->kind) {
    case ARENA_POOLS: {
        unsigned pool = i / (POOL_SIZE / PAGE_SIZE);
        if (layout_arena_pools(a)[pool].size)
            return PAGE_USED;
        return pool >= POOLS_PER_ARENA - m->fresh_pools ? PAGE_FRESH : PAGE_FREE;
    }
    case ARENA_MEDIUM: {
        /* 128 units of 32 bytes: two bitmap words a page. */
        enum { WORDS = PAGE_SIZE / MEDIUM_UNIT / 64 };
        const uint64_t *used = medium_used_bits(m) + (size_t)i * WORDS;
        unsigned first = 0, units = 0;
        pypper_heap_medium_held(a, &first, &units);         /* (its units read free) */
        for (unsigned w = 0; w < WORDS; w++)
            if (used[w] & ~units_mask(((unsigned)i * WORDS + w) * 64, first, units))
                return PAGE_USED;
        return (size_t)i * (PAGE_SIZE / MEDIUM_UNIT) >= layout_medium(m)->fresh_unit ? PAGE_FRESH : PAGE_FREE;
    }
    case ARENA_LARGE:
        return (layout_large(m)->page_used[i / 64] >> (i % 64)) & 1u ? PAGE_USED : PAGE_FREE;
    default:
        return PAGE_FRESH;
    }
}

/* fn(arena index, its metadata, its tier, ctx) for every arena slot ever committed. */
typedef void (*arena_fn)(size_t a, arena_meta *m, unsigned tier, void *ctx);

static void each_arena(arena_fn fn, void *ctx)
{
    if (!pypper_heap_layout.base)
        return;
    region_counters rc;
    region_get_counters(&rc);
    for (unsigned t = 0; t < HEAP_TIERS; t++) {
        size_t first = t * pypper_heap_layout.arenas_per_tier;
        for (size_t a = first; a < first + rc.arenas_high[t]; a++)
            fn(a, layout_meta(a), t, ctx);
    }
}

typedef struct {
    pypper_page_fn fn;
    void *ctx;
    size_t count;
} used_walk;

static void used_in_arena(size_t a, arena_meta *m, unsigned tier, void *ctx)
{
    used_walk *w = ctx;
    size_t page0 = a * PAGES_PER_ARENA;
    if (m->kind == ARENA_HUGE_HEAD) {        /* its pages run on over the span's arenas */
        for (size_t i = 0; i < m->huge_pages; i++)
            w->fn(page0 + i, tier, w->ctx);
        w->count += m->huge_pages;
        return;
    }
    if (m->kind != ARENA_POOLS && m->kind != ARENA_MEDIUM && m->kind != ARENA_LARGE)
        return;
    for (unsigned i = 0; i < PAGES_PER_ARENA; i++) {
        if (page_state(a, m, i) == PAGE_USED) {
            w->fn(page0 + i, tier, w->ctx);
            w->count++;
        }
    }
}

size_t pypper_heap_for_each_used_page(pypper_page_fn fn, void *ctx)
{
    used_walk w = {fn, ctx, 0};
    each_arena(used_in_arena, &w);
    return w.count;
}

typedef struct {
    pypper_arena_fn fn;
    void *ctx;
} arena_walk;

static void arena_in_use(size_t a, arena_meta *m, unsigned tier, void *ctx)
{
    (void)tier;
    arena_walk *w = ctx;
    if (m->kind != ARENA_FREE)
        w->fn(a * PAGES_PER_ARENA, layout_arena_base(a), w->ctx);
}

void pypper_heap_for_each_arena(pypper_arena_fn fn, void *ctx)
{
    arena_walk w = {fn, ctx};
    each_arena(arena_in_use, &w);
}

/* Runs of free pages go back to the kernel (the mapping stays: a racing reader sees
 * zeros, and all metadata is out of band, so nothing in a free page is needed). Free
 * pages of large arenas and released arenas are idle memory under the retention
 * policy (Objects/retain.c): trimmed to its bound, not discarded wholesale, so that
 * relocation does not bring back the fault-in of reused temporaries. */
static void discard_in_arena(size_t a, arena_meta *m, unsigned tier, void *ctx)
{
    (void)tier;
    if (m->kind == ARENA_LARGE)
        return;
    size_t *total = ctx, page0 = a * PAGES_PER_ARENA, run = 0;
    for (unsigned i = 0; i <= PAGES_PER_ARENA; i++) {
        if (i < PAGES_PER_ARENA && page_state(a, m, i) == PAGE_FREE) {
            run++;
            continue;
        }
        if (run) {
            region_discard(pypper_heap_page_at(page0 + i - run), run << PAGE_SHIFT);
            *total += run;
            run = 0;
        }
    }
}

size_t pypper_heap_discard_free_pages(void)
{
    size_t total = 0;
    each_arena(discard_in_arena, &total);
    heap_trim();
    return total;
}
