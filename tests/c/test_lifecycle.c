/* tests/c/test_lifecycle.c: the session state machine without Python: start/end
 * pairs, double start and end, the two steps of an end (a start waits while the
 * session is stopping), and a fork while running (the child is stopped; the parent
 * is not). The lifecycle has no thread of its own. */
#include "check.h"
#include "lifecycle.h"
#include "stats.h"
#include "threads.h"

#include <pthread.h>
#include <stdatomic.h>

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_start_end(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    cfg.log_level = PYPPER_LOG_OFF;
    uint64_t starts = pypper_stat_get(PYPPER_STAT_STARTS);

    CHECK(pypper_lifecycle_state() == PYPPER_STATE_STOPPED);
    CHECK(pypper_lifecycle_end() == 0);                       /* end without start */
    CHECK(pypper_lifecycle_start(&cfg) == 1);
    CHECK(pypper_lifecycle_state() == PYPPER_STATE_RUNNING);
    CHECK(pypper_lifecycle_start(&cfg) == 0);   /* already running */
    pypper_config got;
    CHECK(pypper_lifecycle_config(&got) == 1 && got.sample_hz == cfg.sample_hz);

    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK(pypper_lifecycle_uptime() >= 0.05);
    CHECK(pypper_thread_count() == 1);                        /* no thread of its own */

    CHECK(pypper_lifecycle_end() == 1);
    CHECK(pypper_lifecycle_state() == PYPPER_STATE_STOPPED);
    CHECK(pypper_lifecycle_end() == 0);
    CHECK(pypper_lifecycle_config(&got) == 0);
    CHECK(pypper_lifecycle_uptime() == 0.0);
    CHECK(pypper_stat_get(PYPPER_STAT_STARTS) == starts + 1);

    for (int i = 0; i < 200; i++) {
        CHECK(pypper_lifecycle_start(&cfg) == 1);
        CHECK(pypper_lifecycle_end() == 1);
    }
    CHECK(pypper_stat_get(PYPPER_STAT_STARTS) == starts + 201);
}

static void test_fork(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    cfg.log_level = PYPPER_LOG_OFF;
    CHECK(pypper_lifecycle_start(&cfg) == 1);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = pypper_lifecycle_state() == PYPPER_STATE_STOPPED
                 && pypper_stat_get(PYPPER_STAT_FORK_CHILD_STOPS) == 1
                 && pypper_lifecycle_end() == 0
                 && pypper_lifecycle_start(&cfg) == 1
                 && pypper_lifecycle_end() == 1;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(pypper_lifecycle_state() == PYPPER_STATE_RUNNING);
    CHECK(pypper_stat_get(PYPPER_STAT_FORK_CHILD_STOPS) == 0);
    CHECK(pypper_lifecycle_end() == 1);
}

/* While one thread ends the session in two steps, a start in another waits for the
 * end to finish, then starts a new session. */
static atomic_int start_rc = -1;

static void *starter(void *arg)
{
    atomic_store(&start_rc, pypper_lifecycle_start((const pypper_config *)arg));
    return NULL;
}

static void test_two_step_end(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    cfg.log_level = PYPPER_LOG_OFF;
    uint64_t ends = pypper_stat_get(PYPPER_STAT_ENDS);
    CHECK(pypper_lifecycle_start(&cfg) == 1);
    CHECK(pypper_lifecycle_begin_end() == 1);
    CHECK(pypper_lifecycle_state() == PYPPER_STATE_STOPPING);
    CHECK(pypper_lifecycle_begin_end() == 0);                 /* one ender only */
    CHECK(pypper_lifecycle_end() == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, starter, &cfg) == 0);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    /* (However late the thread runs, it cannot have started a session yet.) */
    CHECK(atomic_load(&start_rc) == -1 && pypper_lifecycle_state() == PYPPER_STATE_STOPPING);
    pypper_lifecycle_finish_end();
    pthread_join(t, NULL);
    CHECK(atomic_load(&start_rc) == 1 && pypper_lifecycle_state() == PYPPER_STATE_RUNNING);
    CHECK(pypper_stat_get(PYPPER_STAT_ENDS) == ends + 1);
    CHECK(pypper_lifecycle_end() == 1);
}

int main(void)
{
    test_start_end();
    test_two_step_end();
    test_fork();
    return check_report("test_lifecycle");
}
