/* Python/session.c: the tracing session (session.h). It owns the ordered table of the
 * session's components, each with its start, stop and fork hooks; the table runner
 * (Pypper/components.c) starts them in this order, rolls a failed start back in
 * reverse, stops them in reverse and calls the fork hooks in the order each needs.
 * The lifecycle (Pypper/lifecycle.c: stopped -> running -> stopping) is the gate:
 * only the caller that moved it to running starts the components, and only the one
 * that ended it stops them. Order, and why:
 *   heap retention   arenas stay mapped while sampler threads read them; the budget
 *   alloc_sites      allocation-site sampling, before anything is traced
 *   live_trace       the object table (sources below read it)
 *   migrate          the migration plane (planner, relocation) and its backend
 *   engine           connects the stages: the sampler's hand-over runs its step
 *   active_trace     the sampler thread, last: it feeds everything above it.
 * Without Pypper's heap (a stock python3.12 on another allocator) only the first
 * runs. A start can also be put off (the drop-in's START_DELAY_MS,
 * Python/delayed_start.h): the session then holds the options and backend until it
 * is due, and any start or end before cancels it. All with the GIL held. */
#include "session.h"

#include "active_trace.h"
#include "alloc_sites.h"
#include "delayed_start.h"
#include "engine.h"
#include "live_trace.h"
#include "migrate.h"

#include "../Objects/heap.h"
#include "../Objects/pymem_glue.h"
#include "../Pypper/clock.h"
#include "../Pypper/components.h"
#include "../Pypper/lifecycle.h"
#include "../Pypper/log.h"
#include "../Pypper/own_memory.h"
#include "../Pypper/stats.h"
#include "../Pypper/tiers.h"

#include <pthread.h>

/* ---- the components' entry points, where a signature differs ---- */

/* While a session runs, arenas stay mapped, and the session's budget applies (the
 * heap is serialized by the GIL). */
static int retention_start(const pypper_config *cfg)
{
    pypper_heap_set_retain(true);
    if (cfg->source[PYPPER_OPTION_RETAIN_MAX] == PYPPER_SRC_ARG
        || cfg->source[PYPPER_OPTION_RETAIN_DELAY_MS] == PYPPER_SRC_ARG)
        pypper_pymem_apply_retention(cfg);
    pypper_config session = *cfg;
    session.enable = true;
    pypper_tiers_apply_budget(&session);
    return 0;
}

static void retention_stop(void) { pypper_heap_set_retain(false); }

/* The backend start() chose, for the migration plane. */
static pypper_backend_choice backend;

static int migrate_start(const pypper_config *cfg) { return pypper_migrate_start(cfg, &backend); }

static int alloc_sites_start(const pypper_config *cfg)
{
    return pypper_alloc_sites_start((uint64_t)cfg->alloc_sample);
}

static const pypper_component table[] = {
    {"heap retention", retention_start, retention_stop, NULL, NULL, NULL},
    {"alloc_sites", alloc_sites_start, pypper_alloc_sites_stop, NULL, NULL,
     pypper_alloc_sites_stop},
    {"live_trace", pypper_live_trace_start, pypper_live_trace_stop, NULL, NULL,
     pypper_live_trace_forget_after_fork},
    {"migrate", migrate_start, pypper_migrate_stop, pypper_migrate_before_fork,
     pypper_migrate_after_fork_in_parent, pypper_migrate_after_fork_child},
    {"engine", pypper_engine_start, pypper_engine_stop, NULL, NULL, pypper_engine_stop},
    {"active_trace", pypper_active_trace_start, pypper_active_trace_stop,
     pypper_active_trace_before_fork, pypper_active_trace_after_fork_in_parent,
     pypper_active_trace_forget_after_fork},
};
#define WITHOUT_HEAP 1            /* the components that run without Pypper's heap */

static pypper_components session = {table, sizeof(table) / sizeof(table[0]), 0, NULL};

/* After a fork that follows another within FORK_STORM_MS, the threads it joined start
 * again only once the program has gone on PYPPER_FORK_SETTLE_MS without forking, at
 * its next collection, recorded allocation or question to the engine (resume_pending,
 * in the parent). A program that forks in a loop (a server that forks per request)
 * then does not pay a join and a start of each thread per fork, nor the faults their
 * stacks and work take on pages it shares with the child: a fork loop took 7.4 ms a
 * fork traced against stock's 3.4 ms, most of it those, 2026-12-06. A fork on its own
 * starts them again at once (a program that then only computes with numbers, which
 * neither collects nor allocates, would not start them). */
#define FORK_STORM_MS 1000
static bool resume_pending;
static uint64_t resume_due_ns;
static uint64_t last_fork_ns;       /* the parent's last fork (monotonic), 0: none */
/* A pending call is queued to resume (the allocation tick found it due). */
static bool resume_queued;
/* Between the session's before-fork hook and its after-fork hook: no resume. Other
 * before-fork hooks (registered earlier: they run after this one) may collect, and
 * started then, the threads would be running at fork(). */
static bool forking;

/* Inside fork(), in the child, before any Python code: the resume is the parent's (a
 * collection in the child before Pypper's after-fork hook, from a finalizer as CPython
 * clears the other threads, would start the parent's threads in the child). */
static void atfork_child(void)
{
    resume_pending = resume_queued = forking = false;
    last_fork_ns = 0;
    pypper_alloc_sites_set_tick(NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_register(void) { (void)pthread_atfork(NULL, NULL, atfork_child); }

static void allocation_tick(void);

int pypper_session_start(const pypper_config *cfg, const pypper_backend_choice *chosen)
{
    (void)pypper_delayed_start_cancel();
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = pypper_lifecycle_start(cfg);
    Py_END_ALLOW_THREADS
    if (rc == 0)
        return 0;
    backend = *chosen;
    size_t wanted = pypper_heap_ready() ? session.count : WITHOUT_HEAP;
    resume_pending = false;
    pypper_alloc_sites_set_tick(NULL);
    (void)pthread_once(&atfork_once, atfork_register);
    pypper_engine_set_resume_hook(pypper_session_resume);
    pypper_live_trace_set_collection_hook(pypper_session_resume);
    if (pypper_components_start(&session, wanted, cfg) < 0) {
        /* The components' stops may run Python's C API: the reason waits aside. */
        PyObject *exc = PyErr_GetRaisedException();
        pypper_lifecycle_end();
        pypper_stat_add(PYPPER_STAT_START_ERRORS, 1);
        PyErr_SetRaisedException(exc);
        return -1;
    }
    return 1;
}

/* What a delayed start starts with. */
static pypper_config later_cfg;
static pypper_backend_choice later_backend;

/* Unasked (at the due time, in the program's flow), the live trace's first pass goes
 * in steps: a pause there is one the program did not ask for. */
static int start_later_now(bool unasked)
{
    pypper_live_trace_next_start_stepped(unasked);
    int rc = pypper_session_start(&later_cfg, &later_backend) < 0 ? -1 : 0;
    pypper_live_trace_next_start_stepped(false);
    return rc;
}

int pypper_session_start_later(const pypper_config *cfg, const pypper_backend_choice *chosen)
{
    later_cfg = *cfg;
    later_backend = *chosen;
    return pypper_delayed_start_arm((uint64_t)cfg->start_delay_ms, start_later_now);
}

int pypper_session_end(void)
{
    if (pypper_delayed_start_cancel())
        pypper_log(PYPPER_LOG_INFO, "tracing ended before its delayed start (START_DELAY_MS): "
                                    "nothing was traced");
    if (!pypper_lifecycle_begin_end())
        return 0;
    /* Pypper's own memory as the session ends, before its tables are freed. */
    pypper_own_note_end(pypper_heap_bytes_in_use());
    /* (The components stop from where they run: threads a fork joined first start.) */
    pypper_session_resume(true);
    /* Stopping: a start() in another thread waits until the components are stopped. */
    pypper_components_stop(&session);
    pypper_lifecycle_finish_end();
    return 1;
}

/* Every thread of the session is joined: CPython 3.12 warns about a fork in a process
 * that has other threads (it counts them in /proc/self/stat), and a thread inside an
 * allocator at fork() could leave the child's locked. */
void pypper_session_before_fork(void)
{
    forking = true;
    pypper_delayed_start_before_fork();
    /* (Threads a fork before joined and none started since: their joins do nothing,
     * and they stay marked joined for the fork, to be started after it.) */
    pypper_components_before_fork(&session);
}

void pypper_session_after_fork_in_parent(void)
{
    forking = false;
    uint64_t now = pypper_mono_ns();
    bool storm = last_fork_ns && now - last_fork_ns < FORK_STORM_MS * 1000000ull;
    last_fork_ns = now;
    if (session.started && storm) {
        resume_pending = true;
        resume_due_ns = now + PYPPER_FORK_SETTLE_MS * 1000000ull;
        pypper_alloc_sites_set_tick(allocation_tick);   /* (only while one is pending) */
    } else if (session.started) {
        resume_pending = false;
        pypper_alloc_sites_set_tick(NULL);
        pypper_components_after_fork_parent(&session);
    }
    pypper_delayed_start_after_fork_in_parent();
}

void pypper_session_resume(bool now)
{
    if (!resume_pending || forking || (!now && pypper_mono_ns() < resume_due_ns))
        return;
    resume_pending = false;
    pypper_alloc_sites_set_tick(NULL);
    pypper_components_after_fork_parent(&session);
}

static int resume_call(void *arg)
{
    (void)arg;
    resume_queued = false;
    pypper_session_resume(false);
    return 0;
}

/* Inside the allocator, on the main thread (alloc_sites.h): once the settle time has
 * passed, the resume is queued as a pending call (it runs between two bytecodes, where
 * starting threads is safe). For programs that allocate without collecting. */
static void allocation_tick(void)
{
    if (!resume_pending || resume_queued || forking || pypper_mono_ns() < resume_due_ns)
        return;
    resume_queued = Py_AddPendingCall(resume_call, NULL) == 0;
}

/* (The lifecycle's own state is reset by its pthread_atfork handler.) */
void pypper_session_after_fork_in_child(void)
{
    atfork_child();                 /* (done in fork() already; a fork without it too) */
    pypper_components_after_fork_child(&session);
    pypper_delayed_start_after_fork_in_child();
}
