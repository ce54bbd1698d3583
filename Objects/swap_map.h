/* Objects/swap_map.h: which of the heap's pages the kernel has swapped out (or never
 * faulted in), so that Pypper's readers (sampler polls, rescans, young walks, the
 * migration round's buffer look-ups) leave them alone instead of faulting them back
 * in. A bit per page of the reservation, refreshed with mincore(2) over the arenas
 * in use, and only while the process has pages in swap (VmSwap in /proc/self/status
 * above 0): a process that does not swap pays one small file read per refresh and
 * nothing per read. The map is at most one refresh old: a page swapped out since
 * can still be read once. */
#ifndef PYPPER_SWAP_MAP_H
#define PYPPER_SWAP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PYPPER_SWAP_MAP_REFRESH_MS 100u     /* at most one refresh per this long */

int pypper_swap_map_start(void);            /* -1: no heap, or the map was refused */
void pypper_swap_map_stop(void);
/* With the heap's serialization (the GIL): a refresh if one is due. */
void pypper_swap_map_refresh(void);
/* Any thread: may the page of p be read without a fault? True outside the heap, and
 * while the process has nothing in swap. */
bool pypper_swap_map_may_touch(const void *p);

typedef struct {
    bool active;                /* the process had pages in swap at the last refresh */
    uint64_t refreshes, arenas_read, pages_out, swap_kb, skipped_reads;
} pypper_swap_map_stats;
void pypper_swap_map_get_stats(pypper_swap_map_stats *out);
/* Tests: treat the process as swapping (or not) whatever VmSwap says; -1: VmSwap. */
void pypper_swap_map_test_force(int swapping);
/* Tests: mark p's page out of memory until the next refresh (the map turns active). */
void pypper_swap_map_test_mark(const void *p);

#endif
