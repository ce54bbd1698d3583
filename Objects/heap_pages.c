/* Objects/heap_pages.c: the heap's pages in use, for the migration planner: which
 * 4 KiB pages of the reservation hold allocated memory now (from the out-of-band
 * metadata only: never touches the pages), and the index of a page in the
 * reservation. Callers hold the heap's serialization (the GIL or the heap lock). */
#include "heap_pages.h"
#include "heap_layout.h"
#include "region.h"

size_t pypper_heap_page_slots(void)
{
    return pypper_heap_layout.base ? (pypper_heap_layout.tier_bytes * HEAP_TIERS) >> PAGE_SHIFT : 0;
}

size_t pypper_heap_page_index(const void *p)
{
    return (uintptr_t)((const char *)p - pypper_heap_layout.base) >> PAGE_SHIFT;
}

void *pypper_heap_page_at(size_t index)
{
    return pypper_heap_layout.base + (index << PAGE_SHIFT);
}

bool pypper_heap_page_tracked(size_t index)
{
    /* 4 KiB = 256 granules = 4 words of the tracked bitmap. */
    const uint64_t *w = &pypper_heap_layout.track[(index << PAGE_SHIFT) / GRANULE / 64];
    return (w[0] | w[1] | w[2] | w[3]) != 0;
}

static size_t emit_run(size_t first, size_t count, unsigned tier, pypper_page_fn fn, void *ctx)
{
    for (size_t i = 0; i < count; i++)
        fn(first + i, tier, ctx);
    return count;
}

size_t pypper_heap_for_each_used_page(pypper_page_fn fn, void *ctx)
{
    if (!pypper_heap_layout.base)
        return 0;
    region_counters rc;
    region_get_counters(&rc);
    size_t total = 0;
    for (unsigned t = 0; t < HEAP_TIERS; t++) {
        size_t first = t * pypper_heap_layout.arenas_per_tier;
        for (size_t a = first; a < first + rc.arenas_high[t]; a++) {
            arena_meta *m = layout_meta(a);
            size_t page0 = a * PAGES_PER_ARENA;
            switch (m->kind) {
            case ARENA_POOLS: {
                pool_meta *pools = layout_arena_pools(a);
                for (unsigned i = 0; i < POOLS_PER_ARENA; i++)
                    if (pools[i].size)
                        total += emit_run(page0 + (size_t)i * (POOL_SIZE / PAGE_SIZE),
                                          POOL_SIZE / PAGE_SIZE, t, fn, ctx);
                break;
            }
            case ARENA_MEDIUM:
                /* 64 units of 64 bytes: one bitmap word per page. */
                for (unsigned w = 0; w < MEDIUM_WORDS; w++)
                    if (m->unit_used[w])
                        total += emit_run(page0 + w, 1, t, fn, ctx);
                break;
            case ARENA_LARGE:
                for (unsigned i = 0; i < PAGES_PER_ARENA; i++)
                    if (m->page_used[i / 64] & ((uint64_t)1 << (i % 64)))
                        total += emit_run(page0 + i, 1, t, fn, ctx);
                break;
            case ARENA_HUGE_HEAD:
                total += emit_run(page0, m->huge_pages, t, fn, ctx);
                break;
            default:
                break;
            }
        }
    }
    return total;
}

/* Runs of free pages inside committed arenas go back to the kernel (the mapping
 * stays: a racing reader sees zeros, and all metadata is out of band, so nothing in a
 * free page is needed). */
static size_t discard_run(size_t first, size_t count)
{
    if (count)
        region_discard(pypper_heap_page_at(first), count << PAGE_SHIFT);
    return count;
}

size_t pypper_heap_discard_free_pages(void)
{
    if (!pypper_heap_layout.base)
        return 0;
    region_counters rc;
    region_get_counters(&rc);
    size_t total = 0;
    for (unsigned t = 0; t < HEAP_TIERS; t++) {
        size_t first = t * pypper_heap_layout.arenas_per_tier;
        for (size_t a = first; a < first + rc.arenas_high[t]; a++) {
            arena_meta *m = layout_meta(a);
            size_t page0 = a * PAGES_PER_ARENA;
            size_t run = 0, start = 0;
            for (unsigned i = 0; i < PAGES_PER_ARENA; i++) {
                bool used;
                switch (m->kind) {
                case ARENA_POOLS:
                    /* Pools never handed out (fresh) were never touched. */
                    used = layout_arena_pools(a)[i / (POOL_SIZE / PAGE_SIZE)].size != 0
                           || i / (POOL_SIZE / PAGE_SIZE) >= POOLS_PER_ARENA - m->fresh_pools;
                    break;
                case ARENA_MEDIUM:
                    used = m->unit_used[i] != 0 || (size_t)i * (PAGE_SIZE / MEDIUM_UNIT) >= m->fresh_unit;
                    break;
                case ARENA_LARGE:
                    used = (m->page_used[i / 64] >> (i % 64)) & 1u;
                    break;
                default:
                    used = true;        /* huge spans and free slots: not here */
                    break;
                }
                if (!used) {
                    if (!run)
                        start = page0 + i;
                    run++;
                } else {
                    total += discard_run(start, run);
                    run = 0;
                }
            }
            total += discard_run(start, run);
        }
    }
    return total;
}

