/* Objects/trim.h: giving idle memory back to the kernel as the retention policy
 * (retain.h) decides. Internal to Objects/; callers hold the heap's serialization. */
#ifndef PYPPER_TRIM_H
#define PYPPER_TRIM_H

#include <stdbool.h>
#include <stdint.h>

/* After an allocation, a block grown in place or a change of policy: purge, oldest
 * first, what exceeds the bound and the debts. */
void heap_trim(void);
/* After a free (large: of a page run or span): the same, but while the heap shrinks
 * (retain_shrinking, retain.h) within RETAIN_DEFER_FACTOR times the bound only purges
 * of whole arenas (released runs, wholly idle large arenas): the free pages between
 * used ones in large arenas wait for the next allocation's heap_trim, by when the
 * frees around them have joined them into longer stretches (one call each). */
void heap_trim_freed(bool large);
/* From allocation slow paths: now and then, purge idle memory older than the delay. */
void heap_trim_tick(void);
/* The same without the countdown: purge idle memory older than the delay now (the
 * session's tick, Objects/heap.h). */
void heap_trim_stale(void);
/* Purge every idle byte now (whole arenas only when no session retains them); the
 * bytes given back. */
uint64_t heap_trim_all(void);
/* Committed bytes of the heap that are not idle. */
uint64_t heap_trim_heap_bytes(void);

#endif
