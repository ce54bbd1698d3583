/* Objects/track_internal.h: the heap's free path check of the tracked bitmap: one
 * load and branch while nothing is tracked; with tracking on, clearing the freed
 * block's bit (and counting it) is all the free path does. Internal to Objects/. */
#ifndef PYPPER_TRACK_INTERNAL_H
#define PYPPER_TRACK_INTERNAL_H

#include "heap_layout.h"
#include "track.h"

#include <stdint.h>

extern bool pypper_track_on;
extern uint64_t pypper_track_freed;

/* Before an owned block start is freed. */
static inline void track_forget(void *block)
{
    if (__builtin_expect(pypper_track_on, 0)) {
        uint64_t *word = layout_track_word(block);
        uint64_t bit = layout_track_bit(block);
        if (*word & bit) {
            __atomic_store_n(word, *word & ~bit, __ATOMIC_RELAXED);
            pypper_track_freed++;
        }
    }
}

#endif
