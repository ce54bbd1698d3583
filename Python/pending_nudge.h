/* Python/pending_nudge.h: gives a queued pending call's signal again. CPython 3.12
 * computes an interpreter's eval breaker from its flags and stores the result (not an
 * OR): a program thread that recomputes it (as every pass through _Py_HandlePending
 * ends) from a calls_to_do read just before another OS thread's
 * _PyEval_AddPendingCall set it stores a breaker without the call. Nothing may set it
 * again: a loop that makes no container schedules no collection, a single thread asks
 * for no GIL hand-off. Pypper's threads that queue calls (the delayed start, the
 * sampler's hand-over) call this while theirs waits; a spurious breaker costs a
 * program thread one look at its flags. Any thread, no GIL. */
#ifndef PYPPER_PENDING_NUDGE_H
#define PYPPER_PENDING_NUDGE_H

#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#include <Python.h>
#include "internal/pycore_atomic.h"
#include "internal/pycore_interp.h"

#include <stdbool.h>

/* Sets the breaker while the interpreter has calls for any thread queued; whether it did. */
static inline bool pypper_pending_nudge(PyInterpreterState *interp)
{
    if (!_Py_atomic_load_relaxed(&interp->ceval.pending.calls_to_do))
        return false;
    _Py_atomic_store_relaxed(&interp->ceval.eval_breaker, 1);
    return true;
}

#endif
