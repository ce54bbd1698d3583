/* Objects/trim.c: owns the purges of idle memory. Idle memory sits in two places:
 * released runs of whole arenas (region.c: spans and emptied pool, medium and large
 * arenas) and free pages inside large arenas (large.c). A purge takes the oldest of
 * either (by the time it became idle), gives back as much of it as is owed (whole
 * arenas or pages from its end, a stretch of free pages a call) with MADV_DONTNEED and
 * tells retain.c; it goes on until the policy is satisfied; while the heap shrinks,
 * frees give back only whole arenas, or past a factor the densest first
 * (heap_trim_freed: a call costs the same whatever its size); the page debt
 * (retain.c) is paid from released arenas only. A session's retention keeps emptied arenas from being released (heap.h);
 * what is released (a freed huge block's span) is purged as at any other time: until
 * 2026-12-04 it was not, and a traced program that freed 100-150 MiB buffers kept
 * 321 MB resident after they were all gone (untraced: 9 MB). Purged memory stays
 * mapped and its metadata reads as free: a session's threads may still read it. */
#include "trim.h"

#include "heap_internal.h"
#include "region.h"
#include "retain.h"
#include "../Pypper/code_size.h"

uint64_t heap_trim_heap_bytes(void)
{
    region_counters rc;
    region_get_counters(&rc);
    uint64_t committed = (rc.arenas_committed[0] + rc.arenas_committed[1]) << ARENA_SHIFT;
    uint64_t idle = retain_idle();
    return committed > idle ? committed - idle : 0;
}

/* Refusals (locked memory) a purge loop goes past before it gives up: each one moves
 * that memory behind the rest. */
#define PURGE_REFUSALS_MAX 8u

/* What a purge takes: the oldest idle memory; the oldest of released arenas and
 * wholly idle large arenas (purges of a whole arena or more each); released arenas,
 * then the large arena with the most idle pages (the fewest calls per byte: a call per
 * stretch of free pages); released arenas only. The first three are large_idle_pick's
 * orders. */
typedef enum {
    PURGE_ANY = LARGE_PICK_OLDEST,
    PURGE_WHOLE = LARGE_PICK_WHOLE,
    PURGE_DENSE = LARGE_PICK_DENSEST,
    PURGE_RELEASED,
} purge_from;

/* Purge about `limit` bytes of the oldest idle memory freed before `before`
 * (UINT64_MAX: any), of what `from` allows; the bytes, 0 when
 * there is none. Memory the kernel keeps (locked) becomes the newest idle memory and
 * the next oldest is tried, up to PURGE_REFUSALS_MAX in all for the loop that counts
 * them in *refusals. */
PYPPER_SMALL_CODE static uint64_t purge_oldest(uint64_t before, uint64_t limit, purge_from *order,
                             bool *learnable, unsigned *refusals)
{
    for (;;) {
        purge_from from = *order;
        bool refused = false;
        *learnable = true;
        uint64_t run_since = 0, bytes = 0;
        bool have_run = region_oldest_idle(&run_since) && run_since < before;
        arena_meta *m = from == PURGE_RELEASED ? NULL : large_idle_pick((large_pick)from);
        if (m && layout_large(m)->idle_since >= before)
            m = NULL;
        if (m && (!have_run || (from != PURGE_DENSE && layout_large(m)->idle_since <= run_since)))
            bytes = large_purge(m, limit, &refused);
        else if (have_run)
            bytes = region_purge_oldest_idle(limit, learnable, &refused);
        if (!refused || ++*refusals > PURGE_REFUSALS_MAX)
            return bytes;
        /* The densest memory was refused and would be picked again: oldest first for
         * the rest of the pay (refused memory is the newest). */
        if (from == PURGE_DENSE)
            *order = PURGE_ANY;
    }
}

/* Purge, oldest first, until `owed` bytes went back or nothing `from` allows is left. */
PYPPER_SMALL_CODE static void pay(uint64_t owed, purge_from from)
{
    unsigned refusals = 0;
    while (owed) {
        bool learnable;
        uint64_t bytes = purge_oldest(UINT64_MAX, owed, &from, &learnable, &refusals);
        if (!bytes)
            return;
        retain_note_purged(bytes, false, learnable);
        owed = bytes < owed ? owed - bytes : 0;
    }
}

void heap_trim(void)
{
    if (!retain_may_owe())
        return;
    /* The page debt: released arenas go back, whole ones, at least one, not the large
     * arenas' own idle pages (retain.c). Then the bound and the arena debt. */
    pay(retain_take_page_debt(heap_trim_heap_bytes()), PURGE_RELEASED);
    pay(retain_excess(heap_trim_heap_bytes()), PURGE_ANY);
}

void heap_trim_freed(bool large)
{
    if (large)
        retain_note_large_free();
    if (!retain_may_owe())
        return;
    uint64_t heap_bytes = heap_trim_heap_bytes();
    retain_burst burst = retain_shrinking(heap_bytes);
    if (burst == RETAIN_NOT_SHRINKING) {
        heap_trim();
        return;
    }
    pay(retain_take_page_debt(heap_bytes), PURGE_RELEASED);
    uint64_t owed = retain_excess(heap_bytes);
    /* Within the factor, only purges of whole arenas; the free pages between a large
     * arena's used ones wait (see trim.h). Past it, the densest first. */
    pay(owed, retain_paying_debt() ? PURGE_ANY : burst == RETAIN_SHRINKING ? PURGE_WHOLE : PURGE_DENSE);
}

void heap_trim_tick(void)
{
    if (!retain_tick_due())
        return;
    heap_trim_stale();
}

PYPPER_SMALL_CODE void heap_trim_stale(void)
{
    uint64_t before = retain_stale_before(retain_now());
    purge_from order = PURGE_ANY;
    uint64_t bytes;
    bool learnable;
    unsigned refusals = 0;
    while ((bytes = purge_oldest(before, UINT64_MAX, &order, &learnable, &refusals)) != 0)
        retain_note_purged(bytes, true, false);
}

PYPPER_SMALL_CODE uint64_t heap_trim_all(void)
{
    purge_from order = PURGE_ANY;
    uint64_t total = 0, bytes;
    bool learnable;
    unsigned refusals = 0;
    while ((bytes = purge_oldest(UINT64_MAX, UINT64_MAX, &order, &learnable, &refusals)) != 0)
        total += bytes;
    if (total)
        retain_note_purged(total, true, false);
    return total;
}
