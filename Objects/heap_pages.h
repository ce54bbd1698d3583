/* Objects/heap_pages.h: the heap's pages in use and their indexes in the reservation,
 * for the migration planner (see heap_pages.c). */
#ifndef PYPPER_HEAP_PAGES_H
#define PYPPER_HEAP_PAGES_H

#include <stdbool.h>
#include <stddef.h>

/* Pages in the whole reservation (0 before the heap exists): the range of indexes. */
size_t pypper_heap_page_slots(void);
size_t pypper_heap_page_index(const void *p);     /* p owned by the heap */
void *pypper_heap_page_at(size_t index);
/* The page indexes of each tier's committed extent (arenas handed out at least
 * once), as ranges [first[i], first[i] + count[i]); how many ranges (at most max). */
int pypper_heap_committed_ranges(size_t *first, size_t *count, int max);
/* Whether a block the live trace tracks starts on the page (its bitmap, not the page). */
bool pypper_heap_page_tracked(size_t index);

/* fn(page index, tier of its arena, ctx) for every page holding allocated memory;
 * returns how many. O(committed arenas). */
typedef void (*pypper_page_fn)(size_t index, unsigned tier, void *ctx);
size_t pypper_heap_for_each_used_page(pypper_page_fn fn, void *ctx);

/* fn(first page index, arena's first byte, ctx) for every arena of the heap in use
 * (pools, medium, large, the arenas of a span); O(arenas ever committed). */
typedef void (*pypper_arena_fn)(size_t first_page, void *base, void *ctx);
void pypper_heap_for_each_arena(pypper_arena_fn fn, void *ctx);

/* Return the free pages inside committed pool, medium and large arenas to the
 * kernel (they read as zero afterwards; the arenas stay committed). Returns how
 * many pages. Callers hold the heap's serialization. */
size_t pypper_heap_discard_free_pages(void);

#endif
