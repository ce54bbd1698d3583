/* Python/engine.c: the engine (engine.h). One step calls the stages in order:
 *   sources    live trace: drop dead entries, re-traverse a slice of containers,
 *              take what is new to the oldest GC list and a slice of the young ones
 *   evidence   the sampler's hits (frame slots, reference counts) ...
 *   model      ... added to the objects' heat, their classes re-evaluated
 *              (pypper_active_trace_apply)
 *   planner    a migration round when due: page heat, relocations, the plan
 *   actuators  queued for the migration thread (relocation, the backend's moves).
 * It runs in the sampler's hand-over (a pending call on a program thread) and in
 * pypper.migrate_now(). No stage calls a later one: the sampler reaches the engine
 * through the hooks installed here, and the sources ask whether a page may be read
 * through Objects/residency.h, answered by the kernel's residency of the heap's pages
 * (Objects/swap_map.h, refreshed here) and the migration plane. While the process
 * is short of memory (Pypper/pressure.h) a step does nothing. */
#include "engine.h"

#include "active_trace.h"
#include "alloc_sites.h"
#include "frame_locals.h"
#include "frame_reader.h"
#include "live_trace.h"

#include "../Objects/heap.h"
#include "../Objects/residency.h"
#include "../Objects/swap_map.h"
#include "../Pypper/main_readings.h"
#include "../Pypper/pressure.h"

/* Containers re-traversed per step: RESCAN_BUDGET after a slice that found an object
 * stored into an old container, half the last budget (down to RESCAN_MIN) after one
 * that found none: most programs store few objects into old containers (benchmark
 * programs: 0-222 found in 30-100 steps of 4096), and the traversals were a third of
 * a step's time. A rotation over the table then takes longer while it finds nothing. */
#define RESCAN_BUDGET 4096
#define RESCAN_MIN 512
#define YOUNG_BUDGET 4096       /* young containers walked per step */

static size_t rescan_budget = RESCAN_BUDGET;

void pypper_engine_step(bool feed, bool collect)
{
    /* The guards' and the sampler placement's readings of /proc, here on a program
     * thread between two bytecodes: Pypper's own threads open no file. */
    pypper_main_readings_take(pypper_pressure_wants_psi());
    /* A hand-over queued before a pause: short of memory, nothing is touched. */
    if (pypper_pressure_paused())
        return;
    pypper_frames_pause_begin();
    pypper_swap_map_refresh();
    /* It runs on a program thread, in the middle of the program's code: what it
     * allocates is not the program's (no site, no share of the byte sampling). */
    pypper_alloc_sites_quiet_begin();
    /* What the GC promoted since the last step: in every step, so that a program
     * that promotes more than a step's budget gets steps sooner (engine_due). */
    pypper_live_trace_promoted();
    if (feed) {
        pypper_live_trace_settle();
        if (pypper_live_trace_rescan(rescan_budget))
            rescan_budget = RESCAN_BUDGET;
        else if (rescan_budget / 2 >= RESCAN_MIN)
            rescan_budget /= 2;
        pypper_live_trace_young(YOUNG_BUDGET);
        pypper_frame_locals_step();
        pypper_active_trace_apply();
    }
    if (collect)
        pypper_migrate_collect_if_due(pypper_active_trace_now_ms());
    /* The heap's session tick: arenas emptied a second ago, and idle memory older
     * than RETAIN_DELAY_MS, give their pages back (Objects/heap.h). */
    pypper_heap_session_tick();
    pypper_alloc_sites_quiet_end();
    pypper_frames_pause_end();
}

static void (*resume_hook)(bool now);

void pypper_engine_set_resume_hook(void (*fn)(bool now)) { resume_hook = fn; }

void pypper_engine_catch_up(void)
{
    if (resume_hook)
        resume_hook(true);
    pypper_live_trace_catch_up();
    pypper_active_trace_drain();
}

int pypper_engine_migrate_now(pypper_migrate_result *out)
{
    if (resume_hook)
        resume_hook(true);
    /* What the GC promoted lately (the hand-overs wait for it to age) is placed too. */
    pypper_live_trace_catch_up();
    pypper_active_trace_drain();
    return pypper_migrate_now(out, pypper_active_trace_now_ms);
}

PyObject *pypper_engine_placement_map(void)
{
    return pypper_migrate_placement_map(pypper_active_trace_now_ms());
}

/* A block may be read when the kernel has it in memory (Objects/swap_map.h) and the
 * pageout backend has not sent it to swap (the migration plane's record). */
static bool may_touch(const void *block)
{
    return pypper_swap_map_may_touch(block) && pypper_migrate_may_touch(block);
}

/* A step is wanted before the next hand-over: a migration round is due, or the live
 * trace has more promoted objects to walk than its last step's budget. */
static bool engine_due(void)
{
    return pypper_migrate_due() || pypper_live_trace_behind();
}

int pypper_engine_start(const pypper_config *cfg)
{
    (void)cfg;
    rescan_budget = RESCAN_BUDGET;
    pypper_active_trace_connect(&(pypper_engine_hooks){pypper_engine_step, engine_due});
    (void)pypper_swap_map_start();      /* refused: every block may be read, as before */
    /* Asked for every object the sources read while the process has pages in swap
     * or the migration plane has placed pages slow (it opens the gate then): without
     * a far-memory backend only the kernel's residency can say no, and the migration
     * plane is not asked. */
    bool far = pypper_migrate_far_memory();
    pypper_residency_set(far ? may_touch : pypper_swap_map_may_touch);
    return 0;
}

void pypper_engine_stop(void)
{
    pypper_residency_set(NULL);
    pypper_swap_map_stop();
    pypper_active_trace_connect(NULL);
}
