/* Objects/track.c: the tracked-block bitmap (track.h) and the free path's check. */
#include "track.h"

#include "heap_internal.h"
#include "region.h"
#include "track_internal.h"

#include <sys/mman.h>

bool pypper_track_on;
uint64_t pypper_track_freed;

void pypper_heap_set_tracking(bool on) { pypper_track_on = on; }

uint64_t pypper_heap_tracked_frees(void) { return pypper_track_freed; }

void *pypper_heap_track_containing(const void *addr)
{
    pypper_block_info info;
    pypper_heap_lookup(addr, &info);
    if (!info.allocated)
        return NULL;
    uint64_t *word = layout_track_word(info.block);
    uint64_t bit = layout_track_bit(info.block);
    if (*word & bit)
        return NULL;
    *word |= bit;
    return info.block;
}

int pypper_heap_track_block(void *block, const void *object)
{
    if (!pypper_heap_layout.base || !layout_owns(block))
        return -1;
    /* The object is live, so its own arena is committed; a block start computed
     * into another arena is checked before its metadata is read. */
    if (layout_arena_index(block) != layout_arena_index(object)
        && !region_arena_committed(layout_arena_index(block)))
        return -1;
    uint64_t *word = layout_track_word(block);
    uint64_t bit = layout_track_bit(block);
    if (*word & bit)
        return 0;                       /* tracked (and not freed since) */
    const pool_meta *slot = layout_pool(block);
    if (slot->size) {
        if (!pool_is_marked(block))     /* marks are set on allocated block starts */
            return -1;
        *word |= bit;
        return 2;
    }
    pypper_block_info info;
    pypper_heap_lookup(block, &info);
    if (!info.allocated || info.block != block)
        return -1;
    *word |= bit;
    return 1;
}

const uint64_t *pypper_heap_track_bits(void)
{
    /* layout_track_bit counts bits from address 0: the same as from the base only when
     * the base is aligned to 64 granules (it is arena-aligned). */
    if (!pypper_heap_layout.base || ((uintptr_t)pypper_heap_layout.base & (64 * GRANULE - 1)))
        return NULL;
    return pypper_heap_layout.track;
}

void pypper_heap_untrack(void *block)
{
    if (pypper_heap_owns(block))
        *layout_track_word(block) &= ~layout_track_bit(block);
}

bool pypper_heap_untrack_all(void)
{
    if (!pypper_heap_layout.track)
        return true;
    size_t len = pypper_heap_layout.tier_bytes * HEAP_TIERS / GRANULE / 8;
    return madvise(pypper_heap_layout.track, len, MADV_DONTNEED) == 0;
}

bool pypper_heap_is_tracked(const void *block)
{
    return pypper_heap_owns(block) && (*layout_track_word(block) & layout_track_bit(block));
}

bool pypper_heap_probe_tracked(const void *p)
{
    if (!pypper_heap_owns(p) || !region_arena_committed(layout_arena_index(p)))
        return false;
    return (__atomic_load_n(layout_track_word(p), __ATOMIC_RELAXED) & layout_track_bit(p)) != 0;
}

bool pypper_heap_probe_mapped(const void *p)
{
    return pypper_heap_owns(p) && region_arena_committed(layout_arena_index(p));
}
