/* Pypper/lifecycle.c: owns the tracing session: its state, configuration and
 * background thread ("pypper-worker", which never touches the GIL). The thread wakes
 * periodically for housekeeping and exits promptly when the session ends. Around a
 * fork() the thread is joined (before) and started again (after, in the parent), so
 * that the process forks with none of Pypper's threads; the child has no thread: its
 * session is marked stopped and counted, and the child may call start() again. */
#include "lifecycle.h"

#include "log.h"
#include "stats.h"
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define WORKER_TICK_NS (100 * 1000 * 1000L)   /* housekeeping period: 100 ms */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;                   /* CLOCK_MONOTONIC; set up once */
static pthread_cond_t stopped = PTHREAD_COND_INITIALIZER;   /* STOPPING -> STOPPED */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pypper_state state = PYPPER_STATE_STOPPED;
static bool stop_requested;
static pypper_thread worker;
static bool worker_alive;       /* started, and nobody has taken its join yet */
static bool fork_joining;       /* before_fork is joining it (lock released) */
static bool fork_paused;        /* joined for a fork: after_fork_in_parent restarts it */
static pypper_config session_cfg;
static struct timespec session_start;

static void init_cond(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
}

static void atfork_prepare(void) { pthread_mutex_lock(&lock); }

static void atfork_parent(void) { pthread_mutex_unlock(&lock); }

static void atfork_child(void)
{
    /* Only the forking thread exists now; the worker is gone. */
    init_cond();
    pthread_cond_init(&stopped, NULL);
    worker_alive = fork_joining = fork_paused = false;
    if (state != PYPPER_STATE_STOPPED) {
        state = PYPPER_STATE_STOPPED;
        stop_requested = false;
        pypper_stat_add(PYPPER_STAT_FORK_CHILD_STOPS, 1);
    }
    pthread_mutex_unlock(&lock);
}

static void init_once(void)
{
    init_cond();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void *worker_main(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&lock);
    while (!stop_requested) {
        next.tv_nsec += WORKER_TICK_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec += 1;
            next.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!stop_requested && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&wake, &lock, &next);
        if (rc == ETIMEDOUT)
            pypper_stat_add(PYPPER_STAT_WORKER_TICKS, 1);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int pypper_lifecycle_start(const pypper_config *cfg, char *err, size_t errlen)
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    /* Another thread is ending the previous session: let it finish first. */
    while (state == PYPPER_STATE_STOPPING)
        pthread_cond_wait(&stopped, &lock);
    if (state == PYPPER_STATE_RUNNING) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    session_cfg = *cfg;
    stop_requested = false;
    fork_paused = false;

    int rc = pypper_thread_start(&worker, worker_main, NULL, "pypper-worker");
    if (rc != 0) {
        pthread_mutex_unlock(&lock);
        snprintf(err, errlen, "cannot create the pypper background thread: %s", strerror(rc));
        pypper_stat_add(PYPPER_STAT_START_ERRORS, 1);
        return -1;
    }
    worker_alive = true;
    pypper_stat_add(PYPPER_STAT_WORKER_STARTED, 1);
    clock_gettime(CLOCK_MONOTONIC, &session_start);
    state = PYPPER_STATE_RUNNING;
    pypper_log_set_level(cfg->log_level);
    pypper_stat_add(PYPPER_STAT_STARTS, 1);
    pthread_mutex_unlock(&lock);
    pypper_log(PYPPER_LOG_INFO, "tracing session started");
    return 1;
}

int pypper_lifecycle_end(void)
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    if (state != PYPPER_STATE_RUNNING) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    state = PYPPER_STATE_STOPPING;
    stop_requested = true;
    pthread_cond_broadcast(&wake);
    /* A fork in another thread may be joining the worker: it is then joined. */
    while (fork_joining)
        pthread_cond_wait(&stopped, &lock);
    bool join = worker_alive;
    worker_alive = false;
    pthread_mutex_unlock(&lock);

    if (join) {
        pypper_thread_join(&worker, 0);
        pypper_stat_add(PYPPER_STAT_WORKER_JOINED, 1);
    }

    pthread_mutex_lock(&lock);
    state = PYPPER_STATE_STOPPED;
    stop_requested = false;
    fork_paused = false;
    pypper_stat_add(PYPPER_STAT_ENDS, 1);
    pthread_cond_broadcast(&stopped);
    pthread_mutex_unlock(&lock);
    pypper_log(PYPPER_LOG_INFO, "tracing session ended");
    return 1;
}

void pypper_lifecycle_before_fork(void)
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    if (state != PYPPER_STATE_RUNNING || !worker_alive) {
        pthread_mutex_unlock(&lock);
        return;
    }
    stop_requested = true;
    pthread_cond_broadcast(&wake);
    fork_joining = true;
    worker_alive = false;
    pthread_mutex_unlock(&lock);

    pypper_thread_join(&worker, PYPPER_FORK_GONE_MS);
    pypper_stat_add(PYPPER_STAT_WORKER_JOINED, 1);

    pthread_mutex_lock(&lock);
    fork_joining = false;
    fork_paused = true;
    pthread_cond_broadcast(&stopped);
    pthread_mutex_unlock(&lock);
}

void pypper_lifecycle_after_fork_in_parent(void)
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    if (fork_paused && state == PYPPER_STATE_RUNNING) {
        stop_requested = false;
        int rc = pypper_thread_start(&worker, worker_main, NULL, "pypper-worker");
        if (rc == 0) {
            worker_alive = true;
            pypper_stat_add(PYPPER_STAT_WORKER_STARTED, 1);
        } else {
            pypper_log(PYPPER_LOG_WARN, "cannot restart the pypper background thread after "
                                        "fork: %s; the session goes on without it", strerror(rc));
        }
    }
    fork_paused = false;
    pthread_mutex_unlock(&lock);
}

pypper_state pypper_lifecycle_state(void)
{
    pthread_mutex_lock(&lock);
    pypper_state s = state;
    pthread_mutex_unlock(&lock);
    return s;
}

int pypper_lifecycle_config(pypper_config *out)
{
    pthread_mutex_lock(&lock);
    int running = state == PYPPER_STATE_RUNNING;
    if (running)
        *out = session_cfg;
    pthread_mutex_unlock(&lock);
    return running;
}

double pypper_lifecycle_uptime(void)
{
    struct timespec now;
    double up = 0.0;
    pthread_mutex_lock(&lock);
    if (state == PYPPER_STATE_RUNNING) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        up = (double)(now.tv_sec - session_start.tv_sec)
             + (double)(now.tv_nsec - session_start.tv_nsec) / 1e9;
    }
    pthread_mutex_unlock(&lock);
    return up;
}
