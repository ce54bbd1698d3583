/* Objects/track.h: which blocks the live trace knows (the object table's members), as
 * a bit per 16-byte granule in a bitmap beside the heap (8 KiB per 1 MiB arena, its
 * pages touched only while tracing). The heap's free path asks it, so a freed object
 * leaves the table without its memory being read. */
#ifndef PYPPER_TRACK_H
#define PYPPER_TRACK_H

#include <stdbool.h>

/* Called with the block start of every tracked block that is freed (its bit already
 * cleared), under the heap's serialization. */
typedef void (*pypper_untrack_fn)(void *block);

/* Install (non-NULL: tracking on) or remove the hook. Turning tracking off does not
 * clear bits: the caller untracks what it tracked first. */
void pypper_heap_set_untrack_hook(pypper_untrack_fn fn);

/* Mark the allocated block holding addr as tracked and return its start; NULL when
 * addr is not in an allocated block of the heap or the block is tracked already. */
void *pypper_heap_track_containing(const void *addr);
void pypper_heap_untrack(void *block);
bool pypper_heap_is_tracked(const void *block);
/* For the sampler thread (no GIL, any address, even garbage): whether p is the start
 * of a tracked block, read with relaxed loads from memory that is always mapped. A
 * true answer may be stale by the time it is used; callers re-check under the GIL. */
bool pypper_heap_probe_tracked(const void *p);
/* Any thread, any address: whether p is in a committed arena (readable for good). */
bool pypper_heap_probe_mapped(const void *p);

#endif
