/* Objects/track_internal.h: the heap's free path check of the tracked bitmap: one
 * load and branch while nothing is tracked; with tracking on, clearing the freed
 * block's tracked bit and its state bits (noted, before: heap_layout.h), and counting
 * them, is all the free path does. Internal to Objects/ (and track.c's helpers). */
#ifndef PYPPER_TRACK_INTERNAL_H
#define PYPPER_TRACK_INTERNAL_H

#include "heap_layout.h"
#include "track.h"

#include <stdint.h>

extern bool pypper_track_on;
extern uint64_t pypper_track_freed;
extern uint64_t pypper_track_noted_freed;

/* Whether a tracked block has a second granule, whose state bit is its before bit
 * (heap_layout.h): all but the 16-byte blocks of pools. */
static inline bool track_has_second(const void *block)
{
    return layout_pool(block)->size != GRANULE;
}

/* The word and bit of the granule after the one of (group, bit): a tracked block's
 * before bit when it has a second granule. Within the block, so within its arena. */
static inline uint64_t *track_next_group(uint64_t *group, uint64_t bit)
{
    return bit >> 63 ? group + TRACK_WORDS : group;
}

static inline uint64_t track_next_bit(uint64_t bit) { return bit << 1 | bit >> 63; }

/* Before an owned block start is freed. (Its head bits are left: they mean nothing
 * without the tracked bit, and the next track of the block rewrites them.) */
static inline void track_forget(void *block)
{
    if (__builtin_expect(pypper_track_on, 0)) {
        uint64_t *group = layout_track_word(block);
        uint64_t bit = layout_track_bit(block);
        if (group[TRACK_TRACKED] & bit) {
            __atomic_store_n(&group[TRACK_TRACKED], group[TRACK_TRACKED] & ~bit, __ATOMIC_RELAXED);
            pypper_track_freed++;
            if (group[TRACK_STATE] & bit) {
                group[TRACK_STATE] &= ~bit;
                pypper_track_noted_freed++;
            }
            uint64_t *next = track_next_group(group, bit), before = track_next_bit(bit);
            if ((next[TRACK_STATE] & before) && track_has_second(block))
                next[TRACK_STATE] &= ~before;
        }
    }
}

#endif
