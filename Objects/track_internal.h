/* Objects/track_internal.h: the heap's free path check of the tracked bitmap: one
 * load and branch while nothing is tracked. Internal to Objects/. */
#ifndef PYPPER_TRACK_INTERNAL_H
#define PYPPER_TRACK_INTERNAL_H

#include "track.h"

extern pypper_untrack_fn pypper_track_hook;
void track_forget_slow(void *block);

/* Before an owned block start is freed. */
static inline void track_forget(void *block)
{
    if (__builtin_expect(pypper_track_hook != NULL, 0))
        track_forget_slow(block);
}

#endif
