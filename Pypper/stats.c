/* Pypper/stats.c: storage and names of the event counters (relaxed atomics: they
 * are incremented from the background thread and read under the GIL). */
#include "stats.h"

#include <stdatomic.h>

static _Atomic uint64_t counters[PYPPER_STAT_COUNT];

static const char *const names[PYPPER_STAT_COUNT] = {
    [PYPPER_STAT_STARTS] = "starts",
    [PYPPER_STAT_ENDS] = "ends",
    [PYPPER_STAT_START_ERRORS] = "start_errors",
    [PYPPER_STAT_WORKER_STARTED] = "worker_threads_started",
    [PYPPER_STAT_WORKER_JOINED] = "worker_threads_joined",
    [PYPPER_STAT_WORKER_TICKS] = "worker_ticks",
    [PYPPER_STAT_FORK_CHILD_STOPS] = "fork_child_stops",
};

void pypper_stat_add(pypper_stat_id id, uint64_t n)
{
    atomic_fetch_add_explicit(&counters[id], n, memory_order_relaxed);
}

uint64_t pypper_stat_get(pypper_stat_id id)
{
    return atomic_load_explicit(&counters[id], memory_order_relaxed);
}

const char *pypper_stat_name(pypper_stat_id id) { return names[id]; }
