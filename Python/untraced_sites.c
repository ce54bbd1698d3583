/* Python/untraced_sites.c: untraced heap bytes by allocation site (untraced_sites.h).
 * Marking: a small block adds its size to its pool's traced count (a 4-byte counter per
 * 16 KiB pool slot of the reservation, in an mmap'ed array touched only where pools
 * are marked); a block above 512 bytes goes into a set of addresses. The walk reads
 * only the heap's metadata, never a block: per pool arena its 64 pool records (bytes
 * in use = blocks x size, less the traced count); per medium arena its runs (unit
 * bitmaps); per large arena its page runs; per huge span its head. Its cost is
 * O(committed arenas + medium and large blocks), whatever the number of objects. */
#define Py_BUILD_CORE 1
#include "untraced_sites.h"

#include "alloc_sites.h"

#include "../Objects/heap.h"
#include "../Objects/heap_layout.h"   /* the reservation and its metadata (read only) */
#include "../Objects/region.h"
#include "../Pypper/own_memory.h"

#include <string.h>
#include <sys/mman.h>

#define SET_MIN_CAP 4096u

struct pypper_untraced {
    uint32_t *pool_traced;          /* per pool slot of the reservation: traced bytes */
    size_t npools;
    uintptr_t *set;                 /* traced blocks above 512 bytes (0: empty slot) */
    size_t set_cap, set_used;
};

static void *map(size_t bytes)
{
    void *p = pypper_own_mmap(PYPPER_OWN_UNTRACED_SITES, bytes, MAP_NORESERVE);
    return p == MAP_FAILED ? NULL : p;
}

pypper_untraced *pypper_untraced_new(void)
{
    pypper_untraced *u = map(sizeof(*u));
    if (!u)
        return NULL;
    if (!pypper_heap_ready() || !pypper_heap_layout.base)
        return u;                   /* no heap (the fallback allocator): nothing to walk */
    u->npools = (pypper_heap_layout.tier_bytes * HEAP_TIERS) >> POOL_SHIFT;
    u->pool_traced = map(u->npools * sizeof(uint32_t));
    u->set_cap = SET_MIN_CAP;
    u->set = map(u->set_cap * sizeof(uintptr_t));
    if (!u->pool_traced || !u->set) {
        pypper_untraced_free(u);
        return NULL;
    }
    return u;
}

void pypper_untraced_free(pypper_untraced *u)
{
    if (!u)
        return;
    if (u->pool_traced)
        pypper_own_munmap(u->pool_traced, u->npools * sizeof(uint32_t));
    if (u->set)
        pypper_own_munmap(u->set, u->set_cap * sizeof(uintptr_t));
    pypper_own_munmap(u, sizeof(*u));
}

static inline size_t slot_of(uintptr_t block, size_t cap)
{
    return (size_t)(((uint64_t)block >> 6) * 0x9E3779B97F4A7C15ull >> 32) & (cap - 1);
}

static uintptr_t *set_find(uintptr_t *set, size_t cap, uintptr_t block)
{
    size_t i = slot_of(block, cap);
    while (set[i] && set[i] != block)
        i = (i + 1) & (cap - 1);
    return &set[i];
}

static bool set_grow(pypper_untraced *u)
{
    size_t cap = u->set_cap * 2;
    uintptr_t *t = map(cap * sizeof(uintptr_t));
    if (!t)
        return false;
    for (size_t i = 0; i < u->set_cap; i++)
        if (u->set[i])
            *set_find(t, cap, u->set[i]) = u->set[i];
    pypper_own_munmap(u->set, u->set_cap * sizeof(uintptr_t));
    u->set = t;
    u->set_cap = cap;
    return true;
}

static bool set_has(const pypper_untraced *u, uintptr_t block)
{
    return *set_find(u->set, u->set_cap, block) == block;
}

int pypper_untraced_mark(pypper_untraced *u, const void *block, size_t size)
{
    if (!u || !u->pool_traced || !block || !layout_owns(block))
        return 0;
    if (size <= SMALL_MAX) {
        size_t i = (size_t)(((uintptr_t)block - (uintptr_t)pypper_heap_layout.base) >> POOL_SHIFT);
        u->pool_traced[i] += (uint32_t)size;
        return 0;
    }
    if ((u->set_used + 1) * 2 > u->set_cap && !set_grow(u))
        return -1;
    uintptr_t *s = set_find(u->set, u->set_cap, (uintptr_t)block);
    if (!*s) {
        *s = (uintptr_t)block;
        u->set_used++;
    }
    return 0;
}

typedef struct {
    uint64_t *by_site;              /* [site * 3 + class], site 0..nsites: untraced bytes */
    uint32_t nsites;
    uint64_t total;
    pypper_untraced_class_fn klass; /* NULL: every byte counts as warm (class 1) */
    void *klass_arg;
} tally;

/* `bytes` of the page at `page` (blocks of block_size bytes) to `site`, in the class
 * the classifier gives the page. */
static void add_page_bytes(tally *t, uint32_t site, const void *page, size_t block_size,
                           uint64_t bytes)
{
    if (site > t->nsites)
        site = 0;
    int c = t->klass ? t->klass(page, block_size, bytes, t->klass_arg) : 1;
    t->by_site[(size_t)site * 3 + (c < 0 ? 0 : c > 2 ? 2 : c)] += bytes;
    t->total += bytes;
}

/* A block above 512 bytes: the class of its first page (where its header, and so its
 * evidence, is), for all of it. */
static void add(tally *t, uint32_t site, const void *block, uint64_t bytes)
{
    add_page_bytes(t, site, block, (size_t)bytes, bytes);
}

static void walk_pools(const pypper_untraced *u, size_t arena, tally *t)
{
    const pool_meta *pools = layout_arena_pools(arena);
    for (unsigned i = 0; i < POOLS_PER_ARENA; i++) {
        const pool_meta *p = &pools[i];
        if (!p->size || !p->nalloc)
            continue;
        uint64_t used = (uint64_t)p->nalloc * p->size;
        uint64_t traced = u->pool_traced[arena * POOLS_PER_ARENA + i];
        if (traced >= used)
            continue;
        /* Spread evenly over the pool's pages (which blocks are untraced is not known
         * without reading them), each page's share in its own class. */
        uint32_t site = pypper_alloc_site_of_pool(p->base);
        uint64_t left = used - traced, per_page = left >> (POOL_SHIFT - PAGE_SHIFT);
        for (unsigned k = 0; k < (1u << (POOL_SHIFT - PAGE_SHIFT)); k++) {
            uint64_t part = k + 1 == (1u << (POOL_SHIFT - PAGE_SHIFT)) ? left : per_page;
            add_page_bytes(t, site, (const char *)p->base + ((size_t)k << PAGE_SHIFT), p->size, part);
            left -= part;
        }
    }
}

static void block_untraced(const pypper_untraced *u, const char *block, uint64_t size, tally *t)
{
    if (!set_has(u, (uintptr_t)block))
        add(t, pypper_alloc_site_of_large(block), block, size);
}

/* The first set bit of bm at or after `from`, below `limit`; limit when none. */
static unsigned next_set(const uint64_t *bm, unsigned from, unsigned limit)
{
    while (from < limit) {
        uint64_t w = bm[from >> 6] & (~(uint64_t)0 << (from & 63));
        if (w) {
            unsigned i = (from & ~63u) + (unsigned)__builtin_ctzll(w);
            return i < limit ? i : limit;
        }
        from = (from & ~63u) + 64;
    }
    return limit;
}

/* A medium block is a run of used units ending at a unit_end bit; blocks can touch. */
static void walk_medium(const pypper_untraced *u, size_t arena, const arena_meta *m, tally *t)
{
    const char *base = layout_arena_base(arena);
    const uint64_t *used = medium_used_bits(m), *ends = medium_end_bits(m);
    unsigned held = MEDIUM_UNITS, held_units;       /* a held block is free (heap.h) */
    if (!pypper_heap_medium_held(arena, &held, &held_units))
        held = MEDIUM_UNITS;
    for (unsigned unit = next_set(used, 0, MEDIUM_UNITS); unit < MEDIUM_UNITS;) {
        unsigned end = next_set(ends, unit, MEDIUM_UNITS);
        if (end == MEDIUM_UNITS)
            break;                  /* inconsistent bitmaps: stop rather than guess */
        if (unit != held)
            block_untraced(u, base + ((size_t)unit << MEDIUM_UNIT_SHIFT),
                           (uint64_t)(end - unit + 1) << MEDIUM_UNIT_SHIFT, t);
        unit = next_set(used, end + 1, MEDIUM_UNITS);
    }
}

static void walk_large(const pypper_untraced *u, size_t arena, const arena_meta *m, tally *t)
{
    const char *base = layout_arena_base(arena);
    for (unsigned i = 0; i < PAGES_PER_ARENA; i++) {
        if (!layout_large(m)->run_pages[i])
            continue;
        size_t color = layout_run_offset(m, i);
        block_untraced(u, base + ((size_t)i << PAGE_SHIFT) + color,
                       ((uint64_t)layout_large(m)->run_pages[i] << PAGE_SHIFT) - color, t);
        i += layout_large(m)->run_pages[i] - 1u;
    }
}

uint64_t pypper_untraced_walk(pypper_untraced *u, pypper_untraced_class_fn klass, void *klass_arg,
                              pypper_untraced_emit_fn emit, void *arg)
{
    if (!u || !u->pool_traced)
        return 0;
    tally t = {NULL, pypper_alloc_sites_count(), 0, klass, klass_arg};
    size_t bytes = ((size_t)t.nsites + 1) * 3 * sizeof(uint64_t);
    uint64_t no_room[3] = {0};
    t.by_site = map(bytes);
    bool mapped = t.by_site != NULL;
    if (!mapped) {
        t.nsites = 0;               /* no memory for the tally: everything to "no site" */
        t.by_site = no_room;
    }
    region_counters rc;
    region_get_counters(&rc);
    for (unsigned tier = 0; tier < HEAP_TIERS; tier++) {
        size_t first = tier * pypper_heap_layout.arenas_per_tier;
        for (size_t a = first; a < first + rc.arenas_high[tier]; a++) {
            const arena_meta *m = layout_meta(a);
            switch (m->kind) {
            case ARENA_POOLS:
                walk_pools(u, a, &t);
                break;
            case ARENA_MEDIUM:
                walk_medium(u, a, m, &t);
                break;
            case ARENA_LARGE:
                walk_large(u, a, m, &t);
                break;
            case ARENA_HUGE_HEAD:
                block_untraced(u, layout_arena_base(a), (uint64_t)m->huge_pages << PAGE_SHIFT, &t);
                break;
            default:
                break;
            }
        }
    }
    for (uint32_t s = 0; s <= t.nsites; s++) {
        const uint64_t *c = &t.by_site[(size_t)s * 3];
        if (c[0] || c[1] || c[2])
            emit(s, c, arg);
    }
    if (mapped)
        pypper_own_munmap(t.by_site, bytes);
    return t.total;
}
