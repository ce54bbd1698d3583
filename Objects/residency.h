/* Objects/residency.h: may a heap block be read without faulting its page back in
 * from far memory? The tracing sources (live trace, sampler) ask before reading an
 * object; the answer comes from a predicate the engine installs while a session runs
 * (Python/engine.c: the migration plane's record of pages the pageout backend sent
 * to swap). Without one, every block may be read. Also asked by the sampler thread
 * without the GIL: the migration plane's record is a byte per page, mapped for the
 * whole session, and the session stops the sampler before the migration plane. */
#ifndef PYPPER_RESIDENCY_H
#define PYPPER_RESIDENCY_H

#include <stdbool.h>
#include <stddef.h>

typedef bool (*pypper_residency_fn)(const void *block);

/* Install the predicate (NULL: none). It is asked only while the gate is open: while
 * the swap map is active (the process has pages in swap: Objects/swap_map.c opens and
 * closes the gate) or the migration plane has pages placed on the slow tier (far
 * memory: pypper_residency_slow_pages). Otherwise the check is one load and branch: it
 * was an indirect call per referent the live trace visits (1.6% of the traced main
 * thread's instructions on containers.py, with 1.3% more around it). */
void pypper_residency_set(pypper_residency_fn may_touch);
/* The swap map is active (or not). */
void pypper_residency_swap_active(bool on);

/* Pages were sent to the slow tier and are not back (the migration plane's count,
 * with a far-memory backend: this opens the gate; until a first demotion, or after
 * the last page came back, the check is one load and branch again). Set when the
 * migration plane records a page as placed slow, after the backend moved it (a read
 * in between may bring it back: the same window as the record's own). A demoted page
 * that is freed and whose arena is purged stays counted (it is never listed again):
 * the gate then stays open until the session ends, as it always was before
 * 2026-12-05. */
void pypper_residency_slow_pages(bool any);

#define PYPPER_RESIDENCY_SWAP 2u
#define PYPPER_RESIDENCY_SLOW 4u
/* Why reads are checked now: PYPPER_RESIDENCY_* bits (0: they are not). */
unsigned pypper_residency_gate_bits(void);

/* Inline, also in code built for size (Pypper/code_size.h): the live trace asks for
 * every referent it visits. */
extern pypper_residency_fn pypper_residency_check;
extern unsigned pypper_residency_gate;
static inline __attribute__((always_inline)) bool pypper_residency_may_touch(const void *block)
{
    if (__builtin_expect(!__atomic_load_n(&pypper_residency_gate, __ATOMIC_RELAXED), 1))
        return true;
    pypper_residency_fn check = __atomic_load_n(&pypper_residency_check, __ATOMIC_RELAXED);
    return check == NULL || check(block);
}

#endif
