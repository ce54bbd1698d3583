/* Pypper/heapsort.h: an in-place heapsort of 32-bit elements (indexes into the
 * caller's array, such as a round's pages) with a comparator that takes a context. The migration plane sorts in a thread that may be running while
 * another thread forks, where malloc is off limits, and glibc's qsort may allocate. */
#ifndef PYPPER_HEAPSORT_H
#define PYPPER_HEAPSORT_H

#include <stddef.h>
#include <stdint.h>

/* < 0, 0, > 0 as a sorts before, with, after b. */
typedef int (*pypper_cmp_fn)(uint32_t a, uint32_t b, const void *ctx);

void pypper_heapsort(uint32_t *v, size_t n, pypper_cmp_fn cmp, const void *ctx);

#endif
