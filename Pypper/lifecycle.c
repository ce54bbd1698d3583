/* Pypper/lifecycle.c: the tracing session's state (stopped -> running -> stopping ->
 * stopped), its configuration and start time: the gate that lets one caller start a
 * session and one end it (Python/session.c starts and stops the session's components
 * between these steps). It has no thread of its own. In a forked child the session
 * is marked stopped and counted (pthread_atfork), and the child may start again. */
#include "lifecycle.h"

#include "clock.h"
#include "log.h"
#include "stats.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stopped = PTHREAD_COND_INITIALIZER;   /* STOPPING -> STOPPED */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pypper_state state = PYPPER_STATE_STOPPED;
static pypper_config session_cfg;
static uint64_t session_start_ns;

static void atfork_prepare(void) { pthread_mutex_lock(&lock); }

static void atfork_parent(void) { pthread_mutex_unlock(&lock); }

static void atfork_child(void)
{
    /* Only the forking thread exists now. */
    pthread_cond_init(&stopped, NULL);
    if (state != PYPPER_STATE_STOPPED) {
        state = PYPPER_STATE_STOPPED;
        pypper_stat_add(PYPPER_STAT_FORK_CHILD_STOPS, 1);
    }
    pthread_mutex_unlock(&lock);
}

static void init_once(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

int pypper_lifecycle_start(const pypper_config *cfg)
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
    session_start_ns = pypper_mono_ns();
    state = PYPPER_STATE_RUNNING;
    pypper_log_set_level(cfg->log_level);
    pypper_stat_add(PYPPER_STAT_STARTS, 1);
    pthread_mutex_unlock(&lock);
    pypper_log(PYPPER_LOG_INFO, "tracing session started");
    return 1;
}

int pypper_lifecycle_begin_end(void)
{
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    int ending = state == PYPPER_STATE_RUNNING;
    if (ending)
        state = PYPPER_STATE_STOPPING;
    pthread_mutex_unlock(&lock);
    return ending;
}

void pypper_lifecycle_finish_end(void)
{
    pthread_mutex_lock(&lock);
    if (state != PYPPER_STATE_STOPPING) {     /* a forked child: already stopped */
        pthread_mutex_unlock(&lock);
        return;
    }
    state = PYPPER_STATE_STOPPED;
    pypper_stat_add(PYPPER_STAT_ENDS, 1);
    pthread_cond_broadcast(&stopped);
    pthread_mutex_unlock(&lock);
    pypper_log(PYPPER_LOG_INFO, "tracing session ended");
}

int pypper_lifecycle_end(void)
{
    if (!pypper_lifecycle_begin_end())
        return 0;
    pypper_lifecycle_finish_end();
    return 1;
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
    double up = 0.0;
    pthread_mutex_lock(&lock);
    if (state == PYPPER_STATE_RUNNING) {
        up = (double)(pypper_mono_ns() - session_start_ns) / 1e9;
    }
    pthread_mutex_unlock(&lock);
    return up;
}
