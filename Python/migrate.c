/* Python/migrate.c: the migration plane (migrate.h), driven by the engine (engine.c):
 * its session (start, stop, fork), the migration thread and who owns a round; the
 * halves of a round live in migrate_collect.c and migrate_execute.c.
 *
 * A round has two halves. collect (GIL held, in the engine's step or in
 * pypper.migrate_now()): list the heap's pages in use (from the allocator's
 * metadata), spread each traced object's heat over the pages of its block and of
 * the buffer it owns, relocate owned buffers of hot objects into fast-tier arenas
 * and of cold ones into slow-tier arenas (Doc/design.md §5; owned_buffers.c), and learn
 * allocation sites whose objects are cold (their new objects then go to slow-tier
 * arenas: segregation). execute (GIL released): ask the backend where the pages are,
 * let the planner decide (planner.c), have the backend move the pages, count. A
 * body on a page the pageout backend has sent to swap is not read (that would fault
 * it back in): its buffer's heat waits until the page is back.
 *
 * execute runs in the migration thread ("pypper-migrate", or the caller of
 * migrate_now()), possibly while another thread forks, so nothing in it calls
 * malloc: every array is mmap'ed during collect, and sorting is a heapsort. */
#define PY_SSIZE_T_CLEAN
#include "migrate_internal.h"
#include "../Pypper/threads.h"

#include "site_profile.h"
#include "../Objects/placement.h"
#include "../Pypper/log.h"
#include "../Pypper/stats.h"
#include "../Pypper/tiers.h"

#include <errno.h>
#include <string.h>
#include "../Pypper/code_size.h"

pypper_mig_state pypper_mig PYPPER_PINNED = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void end_round(void)
{
    pthread_mutex_lock(&M.mu);
    M.round = ROUND_IDLE;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

/* The migration thread: pages move here, so that neither the program (GIL) nor the
 * sampler waits for move_pages or for swap-out. */
static void *migrate_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&M.mu);
    for (;;) {
        while (!M.stop && !M.fork_quit && M.round != ROUND_QUEUED)
            pthread_cond_wait(&M.cv, &M.mu);
        if (M.stop || M.fork_quit)
            break;
        M.round = ROUND_BUSY;
        pthread_mutex_unlock(&M.mu);
        pypper_mig_execute();
        pthread_mutex_lock(&M.mu);
        M.round = ROUND_IDLE;
        pthread_cond_broadcast(&M.cv);
    }
    pthread_mutex_unlock(&M.mu);
    return NULL;
}

/* A round's collection runs on a program thread (the engine's step, GIL held) and
 * costs about the object table's size, whatever MIGRATE_INTERVAL_MS asks. The next
 * round therefore waits COLLECT_SPACING times the last collection's CPU time as well
 * (from the end of that round): collections take at most about 1/COLLECT_SPACING of
 * the program's thread on any machine. Without it, a slow CPU or a large heap with
 * a short interval spends most of the program's time in collections (the two-node
 * guest's emulated CPU: migration_stress with 1 ms rounds, 420-586 s against 36 s
 * spaced; Doc/migration.md). */
#define COLLECT_SPACING 20u

/* Whether a round is due; *held: the interval has passed but the spacing has not. */
static bool round_due(bool *held)
{
    *held = false;
    if (!M.on)
        return false;
    uint64_t since = pypper_mono_ns() - M.last_ns;
    if (since < (uint64_t)M.cfg.migrate_interval_ms * 1000000ull)
        return false;
    *held = since < M.collect_cpu_ns * COLLECT_SPACING;
    return !*held;
}

/* A hint for the sampler thread too: it writes nothing. */
bool pypper_migrate_due(void)
{
    bool held;
    return round_due(&held);
}

uint64_t pypper_migrate_collect_cpu_ns(void) { return M.collect_cpu_ns; }

uint64_t pypper_migrate_test_set_collect_cpu_ns(uint64_t ns)
{
    uint64_t old = M.collect_cpu_ns;
    M.collect_cpu_ns = ns;
    return old;
}

PYPPER_SMALL_CODE void pypper_migrate_collect_if_due(uint32_t now_ms)
{
    bool held;
    if (!round_due(&held)) {
        M.spaced |= held;       /* the next round that starts counts as spaced */
        return;
    }
    pthread_mutex_lock(&M.mu);
    bool mine = M.round == ROUND_IDLE && !M.stop && M.thread_on;
    if (mine)
        M.round = ROUND_BUSY;
    pthread_mutex_unlock(&M.mu);
    if (!mine)
        return;                  /* a round is still being collected or executed */
    /* With nothing to place (the budget holds the heap, nothing is slow), a round
     * lists no pages and asks the backend nothing, and walks the objects only for a
     * PROFILE's site totals (migrate_collect.c). That listing and locating cost 17 +
     * 24 ms a round on a heap of 48,000 pages (graph under farmem_bench), and 28
     * bytes a page. */
    if (M.spaced) {
        M.spaced = false;
        pypper_stat_add(PYPPER_STAT_MIGRATE_SPACED, 1);
    }
    bool idle = pypper_mig_round_idle();
    uint64_t c0 = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    pypper_mig_collect(false, now_ms, !idle);
    M.collect_cpu_ns = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (idle)
        pypper_stat_add(PYPPER_STAT_MIGRATE_IDLE, 1);
    pthread_mutex_lock(&M.mu);
    if (idle) {
        M.last_ns = pypper_mono_ns();
        M.round = ROUND_IDLE;
    } else {
        M.round = ROUND_QUEUED;
    }
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

/* Wait (GIL released) until no round is under way and take the arrays; false when
 * the session ended meanwhile. */
static bool take_round(void)
{
    bool ok;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&M.mu);
    while (M.on && !M.stop && M.round != ROUND_IDLE)
        pthread_cond_wait(&M.cv, &M.mu);
    ok = M.on && !M.stop;
    if (ok)
        M.round = ROUND_BUSY;
    pthread_mutex_unlock(&M.mu);
    Py_END_ALLOW_THREADS
    return ok;
}

int pypper_migrate_now(pypper_migrate_result *out, uint32_t (*model_now_ms)(void))
{
    if (!M.on) {
        PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
        return -1;
    }
    if (!take_round()) {
        PyErr_SetString(PyExc_RuntimeError, "the pypper session ended");
        return -1;
    }
    pypper_mig_collect(true, model_now_ms(), true);
    Py_BEGIN_ALLOW_THREADS
    pypper_mig_execute();
    Py_END_ALLOW_THREADS
    *out = M.last;
    end_round();
    return 0;
}

/* ---- session ---- */

static PYPPER_SMALL_CODE void release_arrays(void)
{
    pypper_mig_discards_stop();
    if (M.slow_pages)
        pypper_residency_slow_pages(false);
    M.slow_pages = 0;
    unmap_array(M.placed, M.slots);
    unmap_array(M.moved, M.slots * sizeof(uint32_t));
    unmap_array(M.pos, M.slots * sizeof(uint32_t));
    pypper_mig_unmap_round(M.pages, M.promote, M.demote, M.scratch, M.cap);
    unmap_array(M.addrs, MOVE_CHUNK * sizeof(void *));
    unmap_array(M.status, MOVE_CHUNK * sizeof(int));
    unmap_array(M.chunk, MOVE_CHUNK * sizeof(uint32_t));
    unmap_array(M.reloc, RELOC_MAX * sizeof(reloc_req));
    unmap_array(M.site_bytes, SITE_MAX * sizeof(float));
    unmap_array(M.site_cold, SITE_MAX * sizeof(float));
    unmap_array(M.site_objects, SITE_MAX * sizeof(uint32_t));
    unmap_array(M.sess_bytes, SITE_MAX * sizeof(double));
    unmap_array(M.sess_cold, SITE_MAX * sizeof(double));
    unmap_array(M.sess_objects, SITE_MAX * sizeof(uint32_t));
    unmap_array(M.cold, COLD_SLOTS * sizeof(cold_site));
    M.placed = NULL;
    M.moved = M.pos = NULL;
    M.pages = NULL;
    M.promote = M.demote = M.scratch = NULL;
    M.addrs = NULL;
    M.status = NULL;
    M.chunk = NULL;
    M.reloc = NULL;
    M.site_bytes = M.site_cold = NULL;
    M.site_objects = NULL;
    M.sess_bytes = M.sess_cold = NULL;
    M.sess_objects = NULL;
    M.cold = NULL;
    M.cap = M.npages = M.slots = 0;
}

static void fini_backend(const pypper_backend_choice *c)
{
    if (c->ops && c->ops->fini)
        c->ops->fini();
}

PYPPER_SMALL_CODE int pypper_migrate_start(const pypper_config *cfg, const pypper_backend_choice *backend)
{
    if (M.on)
        return 0;
    pypper_backend_choice choice = *backend;
    const pypper_topology *topo = pypper_tiers_topology();
    int rc = choice.ops->init(topo);
    if (rc < 0) {
        PyErr_Format(PyExc_RuntimeError, "the %s backend cannot start: %s", choice.ops->name,
                     strerror(-rc));
        return -1;
    }
    pthread_mutex_init(&M.mu, NULL);
    pypper_cond_init_monotonic(&M.cv);
    M.round = ROUND_IDLE;
    M.stop = false;
    M.cfg = *cfg;
    M.backend = choice;
    M.slots = pypper_heap_page_slots();
    M.placed = map_array(M.slots);
    M.moved = map_array(M.slots * sizeof(uint32_t));
    M.pos = map_array(M.slots * sizeof(uint32_t));
    M.addrs = map_array(MOVE_CHUNK * sizeof(void *));
    M.status = map_array(MOVE_CHUNK * sizeof(int));
    M.chunk = map_array(MOVE_CHUNK * sizeof(uint32_t));
    M.reloc = map_array(RELOC_MAX * sizeof(reloc_req));
    M.site_bytes = map_array(SITE_MAX * sizeof(float));
    M.site_cold = map_array(SITE_MAX * sizeof(float));
    M.site_objects = map_array(SITE_MAX * sizeof(uint32_t));
    M.sess_bytes = map_array(SITE_MAX * sizeof(double));
    M.sess_cold = map_array(SITE_MAX * sizeof(double));
    M.sess_objects = map_array(SITE_MAX * sizeof(uint32_t));
    M.cold = map_array(COLD_SLOTS * sizeof(cold_site));
    if (!M.placed || !M.moved || !M.pos || !M.addrs || !M.status || !M.chunk || !M.reloc
        || !M.site_bytes || !M.site_cold || !M.site_objects || !M.sess_bytes || !M.sess_cold || !M.sess_objects || !M.cold
        || pypper_mig_discards_start(M.slots) < 0) {
        release_arrays();
        fini_backend(&choice);
        PyErr_NoMemory();
        return -1;
    }
    (void)pypper_owned_buffers_init();
    M.pass = 0;
    M.npages = 0;
    M.pages_listed = false;
    /* Where a demotion that does not stick is a major fault, demotions start slow
     * and earn their pace (Pypper/mistakes.h). */
    pypper_mistakes_init(&M.mistakes, (choice.ops->caps & PYPPER_BACKEND_FAR_MEMORY)
                                      ? PYPPER_MISTAKE_SCALE_FAR : 1.0);
    M.calls = 0;
    M.injected = 0;
    M.ncold = 0;
    M.site_hi = 0;
    M.threshold = 4096;
    memset(&M.last, 0, sizeof(M.last));
    M.interp = PyInterpreterState_Get();
    M.last_ns = pypper_mono_ns();
    M.collect_cpu_ns = 0;
    M.spaced = false;
    M.fork_quit = false;
    rc = pypper_thread_start(&M.thread, migrate_main, NULL, "pypper-migrate");
    if (rc != 0) {
        release_arrays();
        fini_backend(&choice);
        PyErr_Format(PyExc_RuntimeError, "cannot create the pypper migration thread: %s",
                     strerror(rc));
        return -1;
    }
    M.thread_on = true;
    M.on = true;
    pypper_mig_update_hook();
    pypper_log(PYPPER_LOG_INFO, "migration backend: %s (%s)", choice.ops->name, choice.reason);
    return 0;
}

void pypper_migrate_stop(void)
{
    if (!M.on)
        return;
    /* The migration thread finishes a round it is executing (it needs no GIL). */
    pthread_mutex_lock(&M.mu);
    M.stop = true;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
    if (M.thread_on) {
        M.thread_on = false;         /* this call joins it (a fork meanwhile does not) */
        Py_BEGIN_ALLOW_THREADS
        pypper_thread_join(&M.thread, 0);
        Py_END_ALLOW_THREADS
    }
    /* A migrate_now() in another thread may still hold the round: wait for it. */
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&M.mu);
    while (M.round == ROUND_BUSY)
        pthread_cond_wait(&M.cv, &M.mu);
    M.on = false;
    pthread_mutex_unlock(&M.mu);
    Py_END_ALLOW_THREADS
    pypper_mig_update_hook();
    pypper_site_profile_clear();
    release_arrays();
    fini_backend(&M.backend);
}

void pypper_migrate_before_fork(void)
{
    if (!M.on || !M.thread_on)
        return;
    /* The thread finishes a round it is executing, then returns; a queued round waits
     * for the thread started again after the fork. The GIL stays held: the thread
     * never takes it. */
    pthread_mutex_lock(&M.mu);
    M.fork_quit = true;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
    M.thread_on = false;
    pypper_thread_join(&M.thread, PYPPER_FORK_GONE_MS);
    M.fork_quit = false;
    M.fork_joined = true;
}

void pypper_migrate_after_fork_in_parent(void)
{
    if (!M.fork_joined)
        return;
    M.fork_joined = false;
    if (!M.on)
        return;
    int rc = pypper_thread_start(&M.thread, migrate_main, NULL, "pypper-migrate");
    if (rc == 0) {
        M.thread_on = true;
        return;
    }
    /* Rounds then run only through migrate_now(). */
    pypper_log(PYPPER_LOG_WARN, "cannot restart the pypper migration thread after fork: %s; "
                                "background migration rounds stop", strerror(rc));
    pthread_mutex_lock(&M.mu);
    if (M.round == ROUND_QUEUED)
        M.round = ROUND_IDLE;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

void pypper_migrate_after_fork_child(void)
{
    if (!M.on)
        return;
    /* Only the forking thread exists in the child: no migration thread. */
    M.on = false;
    M.thread_on = false;
    M.fork_quit = M.fork_joined = false;
    M.round = ROUND_IDLE;
    pypper_placement_site_hook = NULL;
    pypper_site_profile_clear();     /* the parent's profile is the parent's to save */
    pthread_mutex_init(&M.mu, NULL);
    pthread_cond_init(&M.cv, NULL);
    release_arrays();
    fini_backend(&M.backend);
}

bool pypper_migrate_running(void) { return M.on; }

bool pypper_migrate_far_memory(void)
{
    return M.on && (M.backend.ops->caps & PYPPER_BACKEND_FAR_MEMORY);
}

bool pypper_migrate_may_touch(const void *p)
{
    if (!M.on || !(M.backend.ops->caps & PYPPER_BACKEND_FAR_MEMORY) || !M.placed
        || !pypper_heap_owns(p))
        return true;
    return pypper_mig_readable_without_fault(p);
}

const char *pypper_migrate_backend_name(void)
{
    return M.backend.ops ? M.backend.ops->name : "none";
}

const char *pypper_migrate_backend_reason(void) { return M.backend.reason; }

void pypper_migrate_last(pypper_migrate_result *out) { *out = M.last; }

PyObject *pypper_migrate_placement_map(uint32_t now_ms)
{
    PyObject *list = PyList_New(0);
    if (!list || !M.on)
        return list;
    if (!take_round())
        return list;
    if (!M.pages_listed) {
        /* The last round was idle (or none ran yet): list and locate the pages now,
         * for this answer only (the GIL released while the backend is asked). */
        bool locked = pypper_heap_lock();
        int rc = pypper_mig_list_pages(now_ms);
        pypper_heap_unlock(locked);
        if (rc == 0) {
            Py_BEGIN_ALLOW_THREADS
            pypper_mig_locate_for_report(true);
            Py_END_ALLOW_THREADS
        }
    } else if (pypper_mig_forget_discarded(true)) {
        /* The last round's list: a page given back since is not where it was found,
         * but where its next fault put it, if it had one. */
        Py_BEGIN_ALLOW_THREADS
        pypper_mig_locate_for_report(false);
        Py_END_ALLOW_THREADS
    }
    for (size_t i = 0; i < M.npages; i++) {
        const pypper_plan_page *pg = &M.pages[i];
        PyObject *row = Py_BuildValue("(Ks)",
                                      (unsigned long long)(uintptr_t)pypper_heap_page_at(pg->page),
                                      pg->unplaced ? "unknown"
                                      : pg->placed == PYPPER_TIER_SLOW ? "slow" : "fast");
        if (!row || PyList_Append(list, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(row);
    }
    end_round();
    return list;
}
