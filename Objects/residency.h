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

/* Install the predicate (NULL: none). */
void pypper_residency_set(pypper_residency_fn may_touch);

/* Inline: the live trace asks for every referent it visits. */
extern pypper_residency_fn pypper_residency_check;
static inline bool pypper_residency_may_touch(const void *block)
{
    pypper_residency_fn check = __atomic_load_n(&pypper_residency_check, __ATOMIC_RELAXED);
    return check == NULL || check(block);
}

#endif
