/* Pypper/stats.c: storage and names of the event counters (relaxed atomics: they
 * are incremented from the background thread and read under the GIL). */
#include "stats.h"

#include <stdatomic.h>

static _Atomic uint64_t counters[PYPPER_STAT_COUNT];

static const char *const names[PYPPER_STAT_COUNT] = {
    [PYPPER_STAT_STARTS] = "starts",
    [PYPPER_STAT_ENDS] = "ends",
    [PYPPER_STAT_START_ERRORS] = "start_errors",
    [PYPPER_STAT_DELAYED_STARTS] = "delayed_starts",
    [PYPPER_STAT_DELAYED_STARTS_RUN] = "delayed_starts_run",
    [PYPPER_STAT_DELAYED_START_NUDGES] = "delayed_start_nudges",
    [PYPPER_STAT_WORKER_STARTED] = "worker_threads_started",
    [PYPPER_STAT_WORKER_JOINED] = "worker_threads_joined",
    [PYPPER_STAT_PIN_FAILURES] = "pin_failures",
    [PYPPER_STAT_FORK_CHILD_STOPS] = "fork_child_stops",
    [PYPPER_STAT_MIGRATE_PASSES] = "migrate_passes",
    [PYPPER_STAT_MIGRATE_IDLE] = "migrate_idle_rounds",
    [PYPPER_STAT_MIGRATE_SPACED] = "migrate_spaced_rounds",
    [PYPPER_STAT_MIGRATE_WALKS] = "migrate_walked_rounds",
    [PYPPER_STAT_PROMOTE_TRIED] = "promote_tried",
    [PYPPER_STAT_PROMOTE_DONE] = "promote_done",
    [PYPPER_STAT_PROMOTE_FAILED] = "promote_failed",
    [PYPPER_STAT_PROMOTE_BYTES] = "promote_bytes",
    [PYPPER_STAT_DEMOTE_TRIED] = "demote_tried",
    [PYPPER_STAT_DEMOTE_DONE] = "demote_done",
    [PYPPER_STAT_DEMOTE_FAILED] = "demote_failed",
    [PYPPER_STAT_DEMOTE_BYTES] = "demote_bytes",
    [PYPPER_STAT_RELOCATE_TRIED] = "relocate_tried",
    [PYPPER_STAT_RELOCATE_DONE] = "relocate_done",
    [PYPPER_STAT_RELOCATE_FAILED] = "relocate_failed",
    [PYPPER_STAT_RELOCATE_BYTES] = "relocate_bytes",
    [PYPPER_STAT_ERR_ENOMEM] = "errors_enomem",
    [PYPPER_STAT_ERR_EBUSY] = "errors_ebusy",
    [PYPPER_STAT_ERR_EACCES] = "errors_eacces",
    [PYPPER_STAT_ERR_OTHER] = "errors_other",
    [PYPPER_STAT_FALLBACKS] = "migrate_fallbacks",
    [PYPPER_STAT_INJECTED] = "injected_failures",
    [PYPPER_STAT_SEGREGATED] = "segregated_allocations",
    [PYPPER_STAT_MISTAKES] = "mistakes",
    [PYPPER_STAT_WT_SESSIONS] = "write_tracking_sessions",
    [PYPPER_STAT_WT_FALLBACKS] = "write_tracking_fallbacks",
    [PYPPER_STAT_WT_SCANS] = "write_tracking_scans",
    [PYPPER_STAT_WT_WRITTEN_PAGES] = "write_tracking_written_pages",
    [PYPPER_STAT_PRESSURE_PAUSES] = "pressure_pauses",
    [PYPPER_STAT_PRESSURE_OWN_COLD] = "pressure_own_cold",
    [PYPPER_STAT_PRESSURE_PAUSED_MS] = "pressure_paused_ms",
    [PYPPER_STAT_CPU_SHORTAGES] = "cpu_shortages",
    [PYPPER_STAT_CPU_SHORT_MS] = "cpu_short_ms",
    [PYPPER_STAT_STATES_REFUSED] = "objtable_states_refused",
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
