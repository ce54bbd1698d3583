/* Pypper/stats.h: the process-wide event counters behind pypper.stats(). A counter
 * exists here only when some code path increments it. */
#ifndef PYPPER_STATS_H
#define PYPPER_STATS_H

#include <stdint.h>

typedef enum {
    PYPPER_STAT_STARTS,              /* tracing sessions started */
    PYPPER_STAT_ENDS,                /* tracing sessions ended */
    PYPPER_STAT_START_ERRORS,        /* start() refused: bad option, a component that cannot start */
    PYPPER_STAT_DELAYED_STARTS,      /* starts put off by START_DELAY_MS (Python/delayed_start.h) */
    PYPPER_STAT_DELAYED_STARTS_RUN,  /* of those, the ones that ran (the others: the program ended first) */
    PYPPER_STAT_DELAYED_START_NUDGES, /* their queued call's signal given again: not taken for 0.1 s or more */
    PYPPER_STAT_WORKER_STARTED,      /* Pypper's native threads created (threads.c) */
    PYPPER_STAT_WORKER_JOINED,       /* Pypper's native threads joined */
    PYPPER_STAT_PIN_FAILURES,        /* a thread's stack or a wait's words could not be locked in memory */
    PYPPER_STAT_FORK_CHILD_STOPS,    /* sessions stopped in a forked child */
    /* Migration plane (Python/migrate*.c): pages and buffers, like DAMON's nr_tried /
     * nr_applied / sz_applied. */
    PYPPER_STAT_MIGRATE_PASSES,      /* planning rounds */
    PYPPER_STAT_MIGRATE_IDLE,        /* rounds with nothing to place: pages not listed */
    PYPPER_STAT_MIGRATE_SPACED,      /* rounds started late: the last collection's cost spaces them */
    PYPPER_STAT_MIGRATE_WALKS,       /* rounds that walked the traced objects (idle ones only for PROFILE) */
    PYPPER_STAT_PROMOTE_TRIED,       /* pages asked to move slow -> fast */
    PYPPER_STAT_PROMOTE_DONE,
    PYPPER_STAT_PROMOTE_FAILED,
    PYPPER_STAT_PROMOTE_BYTES,       /* bytes of the pages promoted */
    PYPPER_STAT_DEMOTE_TRIED,        /* pages asked to move fast -> slow */
    PYPPER_STAT_DEMOTE_DONE,
    PYPPER_STAT_DEMOTE_FAILED,
    PYPPER_STAT_DEMOTE_BYTES,
    PYPPER_STAT_RELOCATE_TRIED,      /* owned buffers considered for the other tier */
    PYPPER_STAT_RELOCATE_DONE,
    PYPPER_STAT_RELOCATE_FAILED,     /* no memory in the target tier: left in place */
    PYPPER_STAT_RELOCATE_BYTES,
    PYPPER_STAT_ERR_ENOMEM,          /* per page or call, from the backend */
    PYPPER_STAT_ERR_EBUSY,
    PYPPER_STAT_ERR_EACCES,
    PYPPER_STAT_ERR_OTHER,
    PYPPER_STAT_FALLBACKS,           /* demotions left in the fast tier: slow nodes full */
    PYPPER_STAT_INJECTED,            /* failures injected by TEST_FAIL_EVERY */
    PYPPER_STAT_SEGREGATED,          /* allocations sent to the slow tier by a cold site */
    PYPPER_STAT_MISTAKES,            /* demoted pages back within a few rounds (mistakes.h) */
    /* Write tracking (Pypper/write_tracking_heap.c). */
    PYPPER_STAT_WT_SESSIONS,         /* sessions whose signal was write tracking */
    PYPPER_STAT_WT_FALLBACKS,        /* sessions left to the frame sampler: refused or failed */
    PYPPER_STAT_WT_SCANS,            /* scans of the heap's pages */
    PYPPER_STAT_WT_WRITTEN_PAGES,    /* pages the scans found written */
    /* Memory-pressure guard (Pypper/pressure_probe.c). */
    PYPPER_STAT_PRESSURE_PAUSES,     /* times Pypper paused: the process was short of memory */
    PYPPER_STAT_PRESSURE_PAUSED_MS,  /* milliseconds paused (ended pauses) */
    PYPPER_STAT_PRESSURE_OWN_COLD,   /* pauses that advised Pypper's own tables cold */
    PYPPER_STAT_CPU_SHORTAGES,       /* times the sampler backed off: the machine was short of CPU */
    PYPPER_STAT_CPU_SHORT_MS,        /* milliseconds backed off (ended shortages) */
    PYPPER_STAT_STATES_REFUSED,      /* model states not kept: the state map could not grow */
    PYPPER_STAT_COUNT
} pypper_stat_id;

void pypper_stat_add(pypper_stat_id id, uint64_t n);
uint64_t pypper_stat_get(pypper_stat_id id);
const char *pypper_stat_name(pypper_stat_id id);

#endif
