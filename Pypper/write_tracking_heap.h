/* Pypper/write_tracking_heap.h: write tracking of Pypper's heap for a session: the
 * signal the session uses (write tracking, or the frame sampler alone and why), a
 * scan on the schedule the CPU budget allows, in the program's CPU time (called by
 * the sampler thread), page
 * heat for the temperature model, and the session's start, end and fork. Pure C. */
#ifndef PYPPER_WRITE_TRACKING_HEAP_H
#define PYPPER_WRITE_TRACKING_HEAP_H

#include "options.h"
#include "write_tracking.h"

#include <stdbool.h>
#include <stdint.h>

/* With the session's serialization (GIL), after the heap exists: track the heap's
 * committed arenas, or fall back to the frame sampler (one log line, counted) when
 * WRITE_TRACKING is off or the kernel refuses. Never fails. true: tracking. */
bool pypper_wt_start(const pypper_config *cfg);
/* Unregister every page (no protection is left), free everything. After the thread
 * that calls pypper_wt_tick is gone. */
void pypper_wt_stop(void);
/* The sampler thread, without the GIL, as often as it likes: scans when due. */
void pypper_wt_tick(void);
/* Tests: one scan now (the caller holds the GIL and keeps the sampler parked). The
 * pages seen written, or -1 when no tracking runs. */
long pypper_wt_scan_now(void);
/* In a forked child: the parent's userfaultfd and pagemap are closed untouched
 * (the child's memory is not registered); the child runs no tracking. */
void pypper_wt_after_fork_child(void);

bool pypper_wt_active(void);
/* The page history of addr (bit 0: written in the last interval scanned), or -1 when
 * addr's page is not tracked. With the GIL. */
int pypper_wt_page_history(const void *addr);
/* Whether addr's page was written in the last interval scanned: 1, 0, or -1 when
 * not known (no tracking, not tracked, or first armed by the last scan). Any thread. */
int pypper_wt_written_last(const void *addr);
/* addr's page heat: written in how many of the last WT_HISTORY_BITS scans, over
 * WT_HISTORY_BITS (0..1), or -1 when not tracked. With the GIL. */
double pypper_wt_page_heat(const void *addr);
/* "write-tracking" or "frames (reason: ...)" for the current or last session. */
const char *pypper_wt_signal(void);

typedef struct {
    bool active;
    const char *route;
    uint64_t interval_ms;          /* the next interval */
    double budget;
    uint64_t fault_ns;             /* one first-write fault, measured at the start */
    double est_fault_seconds;      /* the program's time the scans' re-arming cost it (estimate) */
    double scan_seconds;           /* the scanning thread's CPU time in scans */
    wt_counters c;
} pypper_wt_stats;

void pypper_wt_get_stats(pypper_wt_stats *out);

#endif
