/* Pypper/heapsort.h: an in-place heapsort of size_t elements with a comparator that
 * takes a context. The migration plane sorts in a thread that may be running while
 * another thread forks, where malloc is off limits, and glibc's qsort may allocate. */
#ifndef PYPPER_HEAPSORT_H
#define PYPPER_HEAPSORT_H

#include <stddef.h>

/* < 0, 0, > 0 as a sorts before, with, after b. */
typedef int (*pypper_cmp_fn)(size_t a, size_t b, const void *ctx);

void pypper_heapsort(size_t *v, size_t n, pypper_cmp_fn cmp, const void *ctx);

#endif
