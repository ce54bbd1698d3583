/* Pypper/survivor_queue.h: the survivors a collection left for later. The live trace
 * (Python/live_trace.c) marks each object a collection promotes to the traced
 * generation as tracked (its bit, which the free path clears) and queues its block
 * here instead of adding it to the object table and walking its referents at once;
 * the queue is emptied later (a hand-over, when full, or when its oldest entry is
 * old), and only the objects still alive then cost a table entry and a walk. A loop
 * that builds lists of records and drops them a few milliseconds later paid 1.2x
 * stock's time for those walks.
 *
 * A block may be queued again after its object died and the block was reused: only
 * its newest entry tells the truth. pypper_survivors_latest() voids the older ones
 * (type NULL). Nothing else may enter objects in the table while entries wait
 * (the live trace empties the queue first). Pure C: addresses only, nothing is read.
 * Memory: 36 bytes per entry of capacity (the entry, two map slots, a slot of the
 * record of recent pushes): 144 KiB at first (PYPPER_SURVIVORS_MIN), up to 576 KiB
 * (PYPPER_SURVIVORS_MAX) for a program whose queued survivors mostly die queued
 * (the live trace grows it: pypper_survivors_grow). */
#ifndef PYPPER_SURVIVOR_QUEUE_H
#define PYPPER_SURVIVOR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PYPPER_SURVIVORS_MIN 4096u
#define PYPPER_SURVIVORS_MAX 16384u

typedef struct {
    uintptr_t block_bits;       /* the block's start (the object minus its headers, at
                                   most 48 bytes); bit 0: the object has an entry in the
                                   table already; bits 1-2: headers / 16 */
    const void *type;           /* the object's type when it was queued (whoever
                                   reads the object checks it is still that one);
                                   NULL: voided (an older entry of a block queued again) */
    uint32_t site;              /* its allocation site, taken when it was queued (a
                                   pool's record names only its latest sampled block) */
} pypper_survivor;

static inline void *pypper_survivor_block(const pypper_survivor *s)
{
    return (void *)(s->block_bits & ~(uintptr_t)15);
}

static inline void *pypper_survivor_object(const pypper_survivor *s)
{
    return (char *)pypper_survivor_block(s) + 16 * ((s->block_bits >> 1) & 3u);
}

static inline bool pypper_survivor_in_table(const pypper_survivor *s)
{
    return s->block_bits & 1u;
}

/* Map the queue (own memory, pages touched as used); 0, or -1 (ENOMEM: the caller
 * then walks survivors at once, as without a queue). */
int pypper_survivors_init(void);
void pypper_survivors_fini(void);
bool pypper_survivors_ready(void);
/* Queue an object of a type at block (16-byte aligned, object - block one of 0, 16,
 * 32 or 48) whose bit the caller has just set: it was clear (in_table false), or was
 * set already (in_table true: in the table, or queued before); false when the queue
 * is full (or not mapped): empty it first. now_ns: the time, kept for the first
 * entry (pypper_survivors_oldest_ns). */
bool pypper_survivors_push(void *block, void *object, const void *type, uint32_t site,
                           bool in_table, uint64_t now_ns);
size_t pypper_survivors_count(void);
size_t pypper_survivors_capacity(void);
/* Twice the capacity, up to PYPPER_SURVIVORS_MAX, for an empty queue; false when it
 * is at its largest, not empty, or the kernel refuses (the queue stays as it was). */
bool pypper_survivors_grow(void);
/* Whether block was pushed since the last clear, as far as a direct-mapped record of
 * recent pushes (32-bit tags) says: an answer either way may be wrong. A survivor
 * whose bit is set and whose block is queued needs no second entry: the first names
 * the object at that address (the same one, or one reused from a CPython free list).
 * A wrong yes costs an object in the table only the second walk of its referents; a
 * wrong no, a second entry that pypper_survivors_latest() sorts out. */
bool pypper_survivors_queued(const void *block);
/* When the oldest queued entry was pushed; 0 when the queue is empty. */
uint64_t pypper_survivors_oldest_ns(void);
/* The queued entries in push order, each block's newest one kept, the older ones
 * voided, and in_table corrected. Per block, oldest first: an entry pushed with its
 * bit clear means the object before it was freed (the heap counted that free) and
 * the new one has no entry; one pushed with its bit set names the same object (or
 * one reused from a CPython free list at the same address), in the table or not as
 * the one before, and with its site unless it has one. *n: the entries; *freed_unentered: frees of queued objects that
 * never had an entry. The caller handles the kept ones, then calls
 * pypper_survivors_clear(). */
pypper_survivor *pypper_survivors_latest(size_t *n, size_t *freed_unentered);
void pypper_survivors_clear(void);

#endif
