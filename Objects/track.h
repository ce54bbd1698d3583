/* Objects/track.h: which blocks the live trace knows (the object table's members), as
 * a bit per 16-byte granule in a bitmap beside the heap (8 KiB per 1 MiB arena, its
 * pages touched only while tracing). While tracking is on, the heap's free path
 * clears the freed block's bit and counts it: a freed object leaves the live set
 * there, without its memory being read; the object table drops such entries later,
 * in bulk (Pypper/objtable.c). */
#ifndef PYPPER_TRACK_H
#define PYPPER_TRACK_H

#include <stdbool.h>

#include <stdint.h>

/* Turn the free path's clearing on or off. Turning it off does not clear bits: the
 * caller untracks what it tracked first. */
void pypper_heap_set_tracking(bool on);
/* Tracked blocks freed since the process started (their bits cleared). */
uint64_t pypper_heap_tracked_frees(void);

/* Mark the allocated block holding addr as tracked and return its start; NULL when
 * addr is not in an allocated block of the heap or the block is tracked already. */
void *pypper_heap_track_containing(const void *addr);
/* The same for a block start the caller computed from a live object (the object
 * minus its headers): 2 when it is now tracked and is a pooled (small) block, 1 when
 * it is now tracked and is not, 0 when it already was, -1 when it is not the start of
 * an allocated block of the heap. Cheaper: no full lookup for pooled blocks. */
int pypper_heap_track_block(void *block, const void *object);
void pypper_heap_untrack(void *block);
/* The bitmap itself, for a reader that knows its blocks are the heap's: bit g (word
 * g / 64, bit g % 64) is the block at pypper_heap_base() + 16 g; readable for every
 * arena ever committed (discarded pages read as zero). NULL without a heap. */
const uint64_t *pypper_heap_track_bits(void);
/* Clear every bit at once: the bitmap's pages are dropped (they read as zero), none
 * is written. In a forked child that copies nothing: its bits are the parent's pages,
 * which clearing them block by block would copy (every bitmap page holding a tracked
 * block's bit). false when the kernel refused (locked memory: mlockall): nothing was
 * cleared, and the caller untracks block by block. */
bool pypper_heap_untrack_all(void);
bool pypper_heap_is_tracked(const void *block);
/* For the sampler thread (no GIL, any address, even garbage): whether p is the start
 * of a tracked block, read with relaxed loads from memory that is always mapped. A
 * true answer may be stale by the time it is used; callers re-check under the GIL. */
bool pypper_heap_probe_tracked(const void *p);
/* Any thread, any address: whether p is in a committed arena (readable for good). */
bool pypper_heap_probe_mapped(const void *p);

#endif
