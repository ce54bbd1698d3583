/* Objects/track_internal.h: the heap's free path check of the tracked bitmap: one
 * load and branch while nothing is tracked; with tracking on, clearing the freed
 * block's tracked bit (and its noted bit, in the same cache line), and counting them,
 * is all the free path does. Internal to Objects/. */
#ifndef PYPPER_TRACK_INTERNAL_H
#define PYPPER_TRACK_INTERNAL_H

#include "heap_layout.h"
#include "track.h"

#include <stdint.h>

extern bool pypper_track_on;
extern uint64_t pypper_track_freed;
extern uint64_t pypper_track_noted_freed;

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
            if (group[TRACK_NOTED] & bit) {
                group[TRACK_NOTED] &= ~bit;
                pypper_track_noted_freed++;
            }
        }
    }
}

#endif
