/* Python/delayed_start.c: the delayed session start (delayed_start.h): its sleeping
 * thread, the pending call that runs the start on a program thread, and its fork
 * hooks. The state is changed with the GIL held; the thread reads what it needs
 * under mu. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_ceval.h"
#include "internal/pycore_pystate.h"

#include "delayed_start.h"
#include "error_line.h"
#include "pending_nudge.h"

#include "../Pypper/clock.h"
#include "../Pypper/log.h"
#include "../Pypper/stats.h"
#include "../Pypper/threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

/* A main thread that has not started the session this long after the delay (it
 * stays in a C call while other threads run Python code): another thread may. */
#define ANY_THREAD_AFTER_NS (1000ull * 1000 * 1000)
/* The call was taken by another thread before that, or the interpreter's queue of
 * pending calls was full: queued again this much later. */
#define REQUEUE_NS (10ull * 1000 * 1000)
/* A queued call not taken this long: its signal is given again (pending_nudge.h), then
 * after twice as long, up to NUDGE_MAX_NS between two. */
#define NUDGE_FIRST_NS (100ull * 1000 * 1000)
#define NUDGE_MAX_NS (10ull * 1000 * 1000 * 1000)

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* CLOCK_MONOTONIC */
    bool cv_ready;
    bool quit;                      /* the thread returns (a cancel, a fork) */
    bool queued;                    /* a pending call is queued and not taken yet */
    uint64_t due_ns;                /* monotonic: the start is due */
    uint64_t requeue_ns;            /* not queued again before */
    uint64_t nudge_ns;              /* queued: the signal is given again then */
    uint64_t nudge_gap_ns;          /* and the next time after that much more */
    /* With the GIL: */
    bool armed;                     /* a start is pending */
    uintptr_t generation;           /* of the pending start: a call queued before is void */
    uint64_t armed_ns;
    pypper_delayed_start_fn fn;
    PyInterpreterState *interp;
    pypper_thread thread;
} DS PYPPER_PINNED = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct timespec at_ns(uint64_t t)
{
    return (struct timespec){.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
}

static int run_start(void *arg);

/* The thread sleeps until the start is due, then queues the pending call: for any
 * thread, since CPython 3.12.1 sets no eval breaker for a call queued for the main
 * thread from a thread without a Python thread state. Another thread that takes it
 * early hands it back (run_start) and it is queued again a little later. While a
 * call waits to be taken its signal is given again (pending_nudge.h: a program thread
 * may have overwritten it; the start never ran for a thread spinning on
 * `_pypper.state()` while the main thread waited on a lock, 2 of 9 full test runs on
 * a busy machine) after 0.1 s, 0.2 s, ... then every 10 s: a program blocked for
 * hours costs a wakeup per 10 s. */
static void *starter_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&DS.mu);
    uintptr_t generation = DS.generation;
    while (!DS.quit) {
        uint64_t now = pypper_mono_ns();
        uint64_t wake = DS.due_ns > DS.requeue_ns ? DS.due_ns : DS.requeue_ns;
        if (!DS.queued && now >= wake) {
            pthread_mutex_unlock(&DS.mu);
            bool queued = _PyEval_AddPendingCall(DS.interp, run_start, (void *)generation, 0) == 0;
            pthread_mutex_lock(&DS.mu);
            if (queued) {
                DS.queued = true;
                DS.nudge_gap_ns = NUDGE_FIRST_NS;
                DS.nudge_ns = now + DS.nudge_gap_ns;
            } else {
                DS.requeue_ns = now + REQUEUE_NS;
            }
            continue;
        }
        if (DS.queued && now >= DS.nudge_ns) {
            if (pypper_pending_nudge(DS.interp))
                pypper_stat_add(PYPPER_STAT_DELAYED_START_NUDGES, 1);
            if (DS.nudge_gap_ns < NUDGE_MAX_NS)
                DS.nudge_gap_ns *= 2;
            DS.nudge_ns = now + DS.nudge_gap_ns;
            continue;
        }
        struct timespec until = at_ns(DS.queued ? DS.nudge_ns : wake);
        pthread_cond_timedwait(&DS.cv, &DS.mu, &until);
    }
    pthread_mutex_unlock(&DS.mu);
    return NULL;
}

static int start_thread(void)
{
    if (!DS.cv_ready) {
        pypper_cond_init_monotonic(&DS.cv);
        DS.cv_ready = true;
    }
    pthread_mutex_lock(&DS.mu);
    DS.quit = false;
    pthread_mutex_unlock(&DS.mu);
    return pypper_thread_start(&DS.thread, starter_main, NULL, "pypper-start");
}

static void stop_thread(unsigned wait_gone_ms)
{
    if (!DS.thread.running)
        return;
    pthread_mutex_lock(&DS.mu);
    DS.quit = true;
    pthread_cond_broadcast(&DS.cv);
    pthread_mutex_unlock(&DS.mu);
    pypper_thread_join(&DS.thread, wait_gone_ms);
}

/* Disarm: the thread joined, any queued call void. */
static void disarm(void)
{
    DS.armed = false;
    DS.generation++;
    stop_thread(0);
}

int pypper_delayed_start_arm(uint64_t delay_ms, pypper_delayed_start_fn fn)
{
    if (DS.armed)
        disarm();
    DS.fn = fn;
    DS.interp = PyInterpreterState_Main();
    DS.generation++;
    DS.armed_ns = pypper_mono_ns();
    pthread_mutex_lock(&DS.mu);
    DS.due_ns = DS.armed_ns + delay_ms * 1000000u;
    DS.requeue_ns = 0;
    DS.queued = false;
    pthread_mutex_unlock(&DS.mu);
    int rc = start_thread();
    if (rc != 0) {
        errno = rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    DS.armed = true;
    pypper_stat_add(PYPPER_STAT_DELAYED_STARTS, 1);
    pypper_log(PYPPER_LOG_INFO, "tracing starts in %llu ms (START_DELAY_MS), or when the "
                                "program imports pypper", (unsigned long long)delay_ms);
    return 0;
}

bool pypper_delayed_start_cancel(void)
{
    if (!DS.armed)
        return false;
    disarm();
    return true;
}

/* The start itself, with the GIL: 1 started, -1 failed (reported). */
static int fire(bool unasked)
{
    disarm();
    pypper_stat_add(PYPPER_STAT_DELAYED_STARTS_RUN, 1);
    pypper_log(PYPPER_LOG_INFO, "tracing starts after %.0f ms",
               (double)(pypper_mono_ns() - DS.armed_ns) / 1e6);
    if (DS.fn(unasked) == 0)
        return 1;
    /* A pending call's exception would surface in the program's code: one line. */
    pypper_report_exception_line("tracing could not start");
    return -1;
}

/* The pending call: nothing when the start it was queued for was cancelled. Taken
 * by a thread other than the main one before ANY_THREAD_AFTER_NS past the due time,
 * it is handed back to be queued again (the main thread reads its frames from a
 * start of its own). Never leaves an exception set. */
static int run_start(void *arg)
{
    if (!DS.armed || (uintptr_t)arg != DS.generation)
        return 0;
    uint64_t now = pypper_mono_ns();
    pthread_mutex_lock(&DS.mu);
    bool early = !_Py_IsMainThread() && now < DS.due_ns + ANY_THREAD_AFTER_NS;
    if (early) {
        DS.queued = false;
        DS.requeue_ns = now + REQUEUE_NS;
        pthread_cond_broadcast(&DS.cv);
    }
    pthread_mutex_unlock(&DS.mu);
    if (!early)
        (void)fire(true);
    return 0;
}

int pypper_delayed_start_now(void)
{
    return DS.armed ? fire(false) : 0;
}

int64_t pypper_delayed_start_remaining_ms(void)
{
    if (!DS.armed)
        return -1;
    uint64_t now = pypper_mono_ns();        /* due_ns changes only at an arm (GIL held) */
    return now >= DS.due_ns ? 0 : (int64_t)((DS.due_ns - now + 999999u) / 1000000u);
}

bool pypper_delayed_start_test_lose_signal(unsigned timeout_ms)
{
    uint64_t until = pypper_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        pthread_mutex_lock(&DS.mu);
        bool queued = DS.armed && DS.queued;
        pthread_mutex_unlock(&DS.mu);
        if (queued)
            break;
        if (pypper_mono_ns() >= until)
            return false;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    _Py_atomic_store_relaxed(&DS.interp->ceval.eval_breaker, 0);
    return true;
}

void pypper_delayed_start_before_fork(void)
{
    if (DS.armed)
        stop_thread(PYPPER_FORK_GONE_MS);
}

void pypper_delayed_start_after_fork_in_parent(void)
{
    if (DS.armed && !DS.thread.running && start_thread() != 0) {
        /* No thread to wait: the start stays pending until the program imports
         * pypper, calls start() or ends. */
        pypper_log(PYPPER_LOG_WARN, "the delayed start's thread could not be started again "
                                    "after fork(): tracing starts only when the program "
                                    "imports pypper");
    }
}

void pypper_delayed_start_after_fork_in_child(void)
{
    DS.thread.running = false;      /* the parent's thread: not in this process */
    DS.armed = false;
    DS.generation++;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    DS.mu = mu;
    DS.cv_ready = false;            /* made again by the next arm */
}
