/* Objects/track.h: which blocks the live trace knows, as bits per 16-byte granule in
 * bitmaps beside the heap (Objects/heap_layout.h: 24 KiB per 1 MiB arena, their pages
 * touched only while tracing): tracked (a block start the live trace took), head
 * (where a tracked block's object starts: 0, 16 or 32 bytes in, after its
 * pre-headers), noted (the object has an entry in the object table,
 * Pypper/objtable.h) and before (the object existed before the session started; the
 * bit of the block's second granule, which 16-byte blocks do not have). While
 * tracking is on, the heap's free path clears the
 * freed block's tracked, noted and before bits and counts them: a freed object leaves
 * the live set there, without its memory being read; the object table drops such
 * entries later, in bulk. Readers walk the tracked objects in address order
 * (pypper_heap_tracked_next). */
#ifndef PYPPER_TRACK_H
#define PYPPER_TRACK_H

#include <stdbool.h>

#include <stdint.h>

/* Turn the free path's clearing on or off. Turning it off does not clear bits: the
 * caller untracks what it tracked first. */
void pypper_heap_set_tracking(bool on);
/* Tracked blocks freed since the process started (their bits cleared). */
uint64_t pypper_heap_tracked_frees(void);
/* Of those, the noted ones (an object-table entry of theirs is now dead). */
uint64_t pypper_heap_noted_frees(void);

/* Mark the allocated block holding `object` as tracked, its object at `object`, and
 * return its start; NULL when the object is not in an allocated block of the heap, is
 * not 0, 16 or 32 bytes into it, or the block is tracked already. */
void *pypper_heap_track_containing(const void *object);
/* The same for a block start the caller computed from a live object (the object
 * minus its headers): 2 when it is now tracked and is a pooled (small) block, 1 when
 * it is now tracked and is not, 0 when it already was, -1 when it is not the start of
 * an allocated block of the heap or the object not 0, 16 or 32 bytes into it. Cheaper:
 * no full lookup for pooled blocks. */
int pypper_heap_track_block(void *block, const void *object);
/* Clear a tracked block's tracked, noted and before bits. */
void pypper_heap_untrack(void *block);
/* The object of a tracked block (its head bit). */
void *pypper_heap_tracked_object(const void *block);
/* Whether block is tracked with `object` as its object. */
bool pypper_heap_tracks(const void *block, const void *object);
/* The tracked block's object got an object-table entry: reads as current until the
 * block is freed or untracked. Nothing for a block that is not tracked (the noted,
 * before and unnote calls alike; a block that is not tracked reads as neither). */
void pypper_heap_note(void *block);
/* The tracked block's object existed before the session (its first pass): until the
 * block is tracked again. false for a 16-byte block (no second granule for the bit)
 * or one that is not tracked. */
bool pypper_heap_mark_before(void *block);
bool pypper_heap_is_before(const void *block);
void pypper_heap_unnote(void *block);
bool pypper_heap_is_noted(const void *block);
/* The noted bits, for a reader that knows its blocks are tracked blocks of the heap
 * (bit g of a block that is not tracked may be another block's before bit): bit g
 * (word (g / 64) * *stride, bit g % 64) is the block at pypper_heap_base() + 16 g; readable
 * for every arena ever committed (discarded pages read as zero). NULL without a heap. */
const uint64_t *pypper_heap_noted_bits(unsigned *stride);
/* Clear every bit at once: the bitmaps' pages are dropped (they read as zero), none
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

/* Resident bytes of the bitmaps (mincore over the committed arenas' part). */
uint64_t pypper_heap_track_resident(void);

/* Walking the tracked blocks, in address order, by granule number from the heap's
 * base (a cursor: 0 is the start; the heap's committed arenas only). */
typedef struct {
    void *block, *object;
    bool noted, before;
} pypper_tracked_block;
/* The first tracked block at granule *cursor or after it and before `end`: true, with
 * *cursor just after it; false at `end` or at the end of the heap's committed arenas,
 * with *cursor there. Under the heap's serialization (the free path clears bits). */
bool pypper_heap_tracked_next(uint64_t *cursor, uint64_t end, pypper_tracked_block *out);
/* The same, once round the heap from `start` (*cursor == start and *wrapped false
 * the first time): to the heap's end, then from its start back to `start`; false when
 * the round is done. For walks that go on from where the last stopped. */
bool pypper_heap_tracked_round(uint64_t *cursor, uint64_t start, bool *wrapped,
                               pypper_tracked_block *out);
/* A granule number for cursors (p owned by the heap), and where walks end. */
uint64_t pypper_heap_granule_of(const void *p);
uint64_t pypper_heap_granule_end(void);

#endif
