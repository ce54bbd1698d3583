/* Objects/page_runs.h: the heap of page runs (Objects/page_runs.c), as large.c
 * uses it for blocks that are not spans. Internal to Objects/. */
#ifndef PYPPER_PAGE_RUNS_H
#define PYPPER_PAGE_RUNS_H

#include "heap_layout.h"

/* A block of n bytes (MEDIUM_MAX < n <= PAGE_RUN_MAX) on a run of its own pages;
 * growing: it replaces a smaller block (realloc), and its fresh pages owe no debt.
 * *zeroed: every page was fresh (reads as zero). NULL when no arena can be had. */
void *page_run_alloc(unsigned tier, size_t n, bool *zeroed, bool growing);
/* The block at p of large arena m (its run's first arena). */
size_t page_run_usable(arena_meta *m, const void *p);
void page_run_free(arena_meta *m, void *p);
/* Grow the block to n bytes on the free pages after its run (at most LARGE_MAX), or
 * shrink its run; 1 on success. */
int page_run_resize(arena_meta *m, void *p, size_t n);

/* For the C tests: whether every large arena's run bound (page_runs.c) is above the
 * longest idle run that starts in it and within its group's bound, and the search
 * for an idle run of `count` pages in `tier` finds what reading every large arena
 * finds. */
bool page_runs_check(unsigned tier, size_t count);

#endif
