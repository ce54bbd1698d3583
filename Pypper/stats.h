/* Pypper/stats.h: the process-wide event counters behind pypper.stats(). A counter
 * exists here only when some code path increments it. */
#ifndef PYPPER_STATS_H
#define PYPPER_STATS_H

#include <stdint.h>

typedef enum {
    PYPPER_STAT_STARTS,              /* tracing sessions started */
    PYPPER_STAT_ENDS,                /* tracing sessions ended */
    PYPPER_STAT_START_ERRORS,        /* start() refused: bad option, thread creation failed */
    PYPPER_STAT_WORKER_STARTED,      /* background threads created */
    PYPPER_STAT_WORKER_JOINED,       /* background threads joined */
    PYPPER_STAT_WORKER_TICKS,        /* housekeeping wake-ups of the background thread */
    PYPPER_STAT_FORK_CHILD_STOPS,    /* sessions stopped in a forked child */
    PYPPER_STAT_COUNT
} pypper_stat_id;

void pypper_stat_add(pypper_stat_id id, uint64_t n);
uint64_t pypper_stat_get(pypper_stat_id id);
const char *pypper_stat_name(pypper_stat_id id);

#endif
