/* Python/untraced_sites.h: the heap's bytes that the live trace has not taken (no
 * traced object's block, no buffer a traced object owns), by allocation site. A
 * caller marks the traced blocks, then one walk over the heap's metadata (per pool,
 * per medium or large block, per huge span) sums the rest: a pool's untraced bytes go
 * to the site of its recorded block (alloc_sites.c), a block above 512 bytes to its own
 * recorded site (alloc_sites.h); bytes with no record go to site 0. Each page's
 * untraced bytes are classed cold, warm or hot by the caller (from page heat). GIL
 * held. */
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
/* The class (0 cold, 1 warm, 2 hot) of `bytes` untraced bytes from `start`: a pool
 * page's share (start: the page; held in blocks of block_size bytes), or a block
 * above 512 bytes (start: the block, block_size = bytes; classed by its first page). */
typedef int (*pypper_untraced_class_fn)(const void *start, size_t block_size, uint64_t bytes,
                                        void *arg);
/* bytes[0..2]: a site's untraced bytes that are cold, warm, hot. */
typedef void (*pypper_untraced_emit_fn)(uint32_t site, const uint64_t bytes[3], void *arg);
/* Walk the heap (with its serialization held by the caller): emit(site, bytes, arg)
 * once per site with untraced bytes (site 0: no record), in site order; a pool's
 * untraced bytes are spread evenly over its pages, each page's share classed by
 * klass (NULL: all warm). Returns the untraced bytes in all. */
uint64_t pypper_untraced_walk(pypper_untraced *u, pypper_untraced_class_fn klass, void *klass_arg,
                              pypper_untraced_emit_fn emit, void *arg);
void pypper_untraced_free(pypper_untraced *u);

#endif
