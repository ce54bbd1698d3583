/* Python/untraced_sites.h: the heap's bytes that the live trace has not taken (no
 * traced object's block, no buffer a traced object owns), by allocation site. A
 * caller marks the traced blocks, then one walk over the heap's metadata (per pool,
 * per medium or large block, per huge span) sums the rest: a pool's untraced bytes go
 * to the site of its latest recorded block, a block above 512 bytes to its own
 * recorded site (alloc_sites.h); bytes with no record go to site 0. GIL held. */
#ifndef PYPPER_UNTRACED_SITES_H
#define PYPPER_UNTRACED_SITES_H

#include <stddef.h>
#include <stdint.h>

typedef struct pypper_untraced pypper_untraced;

/* NULL when there is no memory. Without a heap (the fallback allocator serves
 * everything) the walk finds nothing. */
pypper_untraced *pypper_untraced_new(void);
/* block (a heap block's first byte, usable size `size`) is traced, or owned by a
 * traced object. Other addresses are ignored. 0, or -1 on no memory (the block then
 * counts as untraced). */
int pypper_untraced_mark(pypper_untraced *u, const void *block, size_t size);
/* Walk the heap (with its serialization held by the caller): emit(site, bytes, arg)
 * once per site with untraced bytes (site 0: no record), in site order. Returns the
 * untraced bytes in all. */
uint64_t pypper_untraced_walk(pypper_untraced *u, void (*emit)(uint32_t site, uint64_t bytes,
                                                               void *arg), void *arg);
void pypper_untraced_free(pypper_untraced *u);

#endif
