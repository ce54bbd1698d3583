/* Python/migrate.h: the migration plane: every MIGRATE_INTERVAL_MS (when the engine
 * asks) it turns object heat into page heat, relocates owned buffers of hot and cold
 * objects between the tiers' arenas, learns cold allocation sites (segregation), asks
 * the planner which pages to promote and demote and has the backend move them. Its
 * files: migrate.c and migrate_*.c (see migrate_internal.h). */
#ifndef PYPPER_MIGRATE_H
#define PYPPER_MIGRATE_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "../Pypper/backend.h"
#include "../Pypper/options.h"

typedef struct {
    uint64_t promoted_pages, demoted_pages, promoted_bytes, demoted_bytes;
    uint64_t relocated_buffers, relocated_bytes, failed;
    uint64_t absent;             /* pages asked to move that were not populated */
    uint64_t discarded_pages;    /* free pages given back after the relocations */
    uint64_t pages, fast_pages, slow_pages, unknown_pages, budget_pages;
    uint64_t unplaced_pages;     /* where they are could not be learnt this round */
    uint64_t held_by_cooldown, held_by_cap, held_unknown;
    uint64_t mistakes;           /* demoted pages back within PYPPER_MISTAKE_ROUNDS rounds */
    double mistake_rate;         /* smoothed mistakes per demoted page */
    double demote_scale;         /* share of demotion candidates acted on (mistakes.h) */
    double cutoff_heat;
    double collect_ms, execute_ms;
} pypper_migrate_result;

/* With the GIL, when a session starts (after the live trace), with the backend the
 * session chose: start it (its fini runs at stop). 0, or -1 with a Python exception
 * (the backend cannot start, no memory, no thread). */
int pypper_migrate_start(const pypper_config *cfg, const pypper_backend_choice *backend);
/* With the GIL, after the sampler thread has stopped: joins the migration thread. */
void pypper_migrate_stop(void);
/* With the GIL, around fork(): join the migration thread (after the round it is
 * executing) and start it again in the parent; the process forks without it. */
void pypper_migrate_before_fork(void);
void pypper_migrate_after_fork_in_parent(void);
/* A forked child: forget the session without touching its locks. */
void pypper_migrate_after_fork_child(void);
bool pypper_migrate_running(void);
/* With the GIL: false when p's page is in swap by the pageout backend's last look
 * (reading it would fault it back in): the engine installs it as the sources'
 * residency check (Objects/residency.h), and tracing then leaves the object alone. */
bool pypper_migrate_may_touch(const void *p);
/* Whether the backend of the running migration plane sends pages out of memory (so
 * that pypper_migrate_may_touch can say no). */
bool pypper_migrate_far_memory(void);

/* The engine's step (Python/engine.c), with the GIL: when a round is due and none is
 * under way, gather its input (page heat at model time now_ms, relocations) and
 * queue it for the migration thread ("pypper-migrate"), which moves the pages
 * without the GIL. */
void pypper_migrate_collect_if_due(uint32_t now_ms);
/* Whether a round is due (any thread, no lock: a hint): MIGRATE_INTERVAL_MS since the
 * last one ended, and COLLECT_SPACING (migrate.c) times its collection's CPU time. */
bool pypper_migrate_due(void);
/* The last background round's collection: CPU time on the program's thread. Tests
 * set it (the old value returned) to see the spacing without a slow machine. */
uint64_t pypper_migrate_collect_cpu_ns(void);
uint64_t pypper_migrate_test_set_collect_cpu_ns(uint64_t ns);
/* One round now, in the calling thread (which holds the GIL; released while pages
 * move), its heat read at model_now_ms() once the round is its own (the engine's
 * pypper_engine_migrate_now feeds the model first). 0, or -1 with a Python exception
 * when no session runs. */
int pypper_migrate_now(pypper_migrate_result *out, uint32_t (*model_now_ms)(void));

/* For pypper.migration_stats() and friends (GIL held). */
const char *pypper_migrate_backend_name(void);
const char *pypper_migrate_backend_reason(void);
void pypper_migrate_last(pypper_migrate_result *out);
/* ["file:line (function)"] of the allocation sites now segregated as cold. */
PyObject *pypper_migrate_cold_sites(void);
/* Per allocation site, the whole object table now (the profile is saved from it):
 * [(fingerprint, instruction, file, qualname, first line, line, objects, bytes,
 * cold bytes)]; RuntimeError without a session. */
PyObject *pypper_migrate_site_totals(uint32_t now_ms);
/* The placement hook again, after a profile was loaded. */
void pypper_migrate_update_placement(void);
/* Whether the session is old enough (model time) for "no evidence" to mean cold. */
bool pypper_migrate_settled(uint32_t now_ms);
/* [(page address, "fast"|"slow"|"unknown")] of the last round's pages (listed and
 * located now, with page heat at model time now_ms, when the last round was idle);
 * new reference. */
PyObject *pypper_migrate_placement_map(uint32_t now_ms);
/* Bytes of traced objects and of the buffers they own, by kind; new reference. */
PyObject *pypper_migrate_relocatable_report(void);

#endif
