/* Python/migrate.h: the migration plane's engine: every MIGRATE_INTERVAL_MS it turns
 * object heat into page heat, relocates owned buffers of hot and cold objects
 * between the tiers' arenas, learns cold allocation sites (segregation), asks the
 * planner which pages to promote and demote and has the backend move them. */
#ifndef PYPPER_MIGRATE_H
#define PYPPER_MIGRATE_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "../Pypper/options.h"

typedef struct {
    uint64_t promoted_pages, demoted_pages, promoted_bytes, demoted_bytes;
    uint64_t relocated_buffers, relocated_bytes, failed;
    uint64_t pages, fast_pages, slow_pages, unknown_pages, budget_pages;
    uint64_t held_by_cooldown, held_by_cap;
    double cutoff_heat;
    double collect_ms, execute_ms;
} pypper_migrate_result;

/* With the GIL, when a session starts (after the live trace): pick the backend.
 * 0, or -1 with a Python exception (BACKEND=numa on one tier, no memory). */
int pypper_migrate_start(const pypper_config *cfg);
/* With the GIL, after the sampler thread has stopped. */
void pypper_migrate_stop(void);
/* A forked child: forget the session without touching its locks. */
void pypper_migrate_after_fork_child(void);
bool pypper_migrate_running(void);

/* Called at the sampler's hand-over, with the GIL: when a round is due, gather its
 * input (page heat, relocations) and return true; the caller then releases the GIL
 * and calls pypper_migrate_execute(), which moves the pages without it. */
bool pypper_migrate_collect_if_due(void);
/* Whether a round is due (any thread, no lock: a hint). */
bool pypper_migrate_due(void);
void pypper_migrate_execute(void);
/* One round now, in the calling thread (which holds the GIL; released while pages
 * move). 0, or -1 with a Python exception when no session runs. */
int pypper_migrate_now(pypper_migrate_result *out);

/* For pypper.migration_stats() and friends (GIL held). */
const char *pypper_migrate_backend_name(void);
const char *pypper_migrate_backend_reason(void);
void pypper_migrate_last(pypper_migrate_result *out);
/* [(page address, "fast"|"slow")] of the last round's pages; new reference. */
PyObject *pypper_migrate_placement_map(void);
/* Bytes of traced objects and of the buffers they own, by kind; new reference. */
PyObject *pypper_migrate_relocatable_report(void);

#endif
