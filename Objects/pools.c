/* Objects/pools.c: the slow paths of pooled (small) blocks: a class with
 * no pool that has room gets a free pool from one of its tier's pool arenas, or a new
 * arena; a pool whose last block is freed returns to its arena; an arena whose pools
 * are all free is released (idle, then trimmed by the retention policy) unless a
 * session retains arenas. */
#include "heap_internal.h"
#include "region.h"
#include "retain.h"
#include "trim.h"

static arena_meta *new_pool_arena(unsigned tier)
{
    bool zeroed;
    large_lend_free(tier, 1);
    arena_meta *m = region_take_arena(tier, ARENA_POOLS, &zeroed);
    if (!m)
        return NULL;
    m->free_pools = POOLS_PER_ARENA;
    m->fresh_pools = POOLS_PER_ARENA;
    m->clean = zeroed;
    m->free_pool_list = NULL;
    arena_list_push(&pypper_heap.tiers[tier].pool_arenas, m);
    return m;
}

/* Set up the records of the arena's next never-used pool, lowest address first (its
 * metadata pages are touched only when pools are needed). */
static pool_meta *fresh_pool(arena_meta *m)
{
    size_t ai = layout_meta_index(m);
    unsigned i = POOLS_PER_ARENA - m->fresh_pools;
    pool_meta *p = &layout_arena_pools(ai)[i];
    p->base = layout_arena_base(ai) + ((size_t)i << POOL_SHIFT);
    p->size = 0;
    p->tier = m->tier;
    m->fresh_pools--;
    if (m->clean)
        retain_note_fresh(POOL_SIZE, false);
    return p;
}

/* A free pool of the tier: one that was used before if any arena has one (its pages
 * are resident already), else the next never-used pool of the first arena with room. */
static pool_meta *take_pool(unsigned tier)
{
    arena_meta **list = &pypper_heap.tiers[tier].pool_arenas;
    arena_meta *m = *list;
    if (!m) {
        heap_update_default_tier();
        m = new_pool_arena(tier);
        if (!m)
            return NULL;
    }
    for (arena_meta *a = m; a && !m->free_pool_list; a = a->next)
        if (a->free_pool_list)
            m = a;
    pool_meta *p = m->free_pool_list;
    m->parked = 0;
    if (p)
        m->free_pool_list = p->next;
    else
        p = fresh_pool(m);
    if (--m->free_pools == 0)
        arena_list_unlink(list, m);
    return p;
}

void *pools_alloc_slow(unsigned tier, unsigned sclass)
{
    heap_trim_tick();
    heap_park_due();
    pool_meta *p = take_pool(tier);
    if (!p) {
        /* This tier cannot grow: serve the request from the other one. */
        unsigned other = tier ^ 1u;
        pypper_heap.tier_fallbacks++;
        if (pypper_heap.tiers[other].partial[sclass])
            return pool_alloc_fast(other, sclass);
        p = take_pool(other);
        if (!p)
            return NULL;
        tier = other;
    }
    p->sclass = (uint8_t)sclass;
    p->size = pypper_class_size[sclass];
    p->capacity = pypper_class_capacity[sclass];
    p->bump = 0;
    p->nalloc = 0;
    p->freelist = NULL;
    p->handed = 0;
    p->asked = 0;
    partial_push(&pypper_heap.tiers[tier], p);
    heap_trim();           /* a fresh arena faulted in while memory was idle */
    return pool_alloc_fast(tier, sclass);
}

/* The arena stays committed, idle, until reused or trimmed (Objects/retain.c). */
static void release_pool_arena(unsigned tier, arena_meta *m)
{
    arena_list_unlink(&pypper_heap.tiers[tier].pool_arenas, m);
    region_release_arenas(layout_meta_index(m), 1, false);
    pypper_heap.arenas_released++;
}

void pools_pool_emptied(pool_meta *p)
{
    tier_heap *h = &pypper_heap.tiers[p->tier];
    partial_unlink(h, p);      /* a pool with room is always on its class's list */
    arena_meta *m = layout_meta(layout_arena_index(p->base));
    arena_meta **list = &h->pool_arenas;
    p->size = 0;
    p->freelist = NULL;
    p->bump = 0;
    p->mark.opener = 0;        /* (its block is gone, whichever path freed it) */
    p->next = m->free_pool_list;
    m->free_pool_list = p;
    if (m->free_pools++ == 0)
        arena_list_push(list, m);
    /* Return a wholly free arena, but keep one so alloc/free at a boundary does not
     * map and discard an arena each time. */
    if (m->free_pools == POOLS_PER_ARENA && !pypper_heap.retain
        && (*list != m || m->next != NULL)) {
        release_pool_arena(p->tier, m);
        heap_trim();
    } else if (m->free_pools == POOLS_PER_ARENA && pypper_heap.retain) {
        heap_park_note_empty();
        heap_park_due();
    }
}

/* While a session runs, emptied pool arenas stay pool arenas (their records keep their
 * kind for Pypper's threads, which read them without the GIL), but their pages go
 * back once they stay empty from one session tick to the next (heap.h: at least a
 * second): all but one, which stays resident for the next pools. Until 2026-12-06 they
 * stayed resident for the whole session: 5 million ints made and dropped after the
 * session started left 169 MB resident against stock's 11 MB (a newcomer's harm
 * hunt). The mapping stays: a reader finds zeros. */
bool pools_park_empty(unsigned tier)
{
    bool kept = false, waiting = false;
    for (arena_meta *m = pypper_heap.tiers[tier].pool_arenas; m; m = m->next) {
        if (m->free_pools == POOLS_PER_ARENA && m->fresh_pools != POOLS_PER_ARENA)
            waiting |= heap_park_arena(m, &kept);
    }
    return waiting;
}

void pools_release_empty(unsigned tier, bool keep_one)
{
    arena_meta *m = pypper_heap.tiers[tier].pool_arenas;
    bool kept = !keep_one;
    while (m) {
        arena_meta *next = m->next;
        if (m->free_pools == POOLS_PER_ARENA) {
            if (kept)
                release_pool_arena(tier, m);
            kept = true;
        }
        m = next;
    }
}
