/* tests/c/test_lifecycle.c: the session state machine without Python: start/end
 * pairs, double start and end, the background thread's housekeeping ticks, and a
 * fork while running (the child has no thread and is stopped; the parent is not). */
#include "check.h"
#include "lifecycle.h"
#include "stats.h"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_start_end(void)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    pypper_config_defaults(&cfg);
    cfg.log_level = PYPPER_LOG_OFF;
    uint64_t starts = pypper_stat_get(PYPPER_STAT_STARTS);

    CHECK(pypper_lifecycle_state() == PYPPER_STATE_STOPPED);
    CHECK(pypper_lifecycle_end() == 0);                       /* end without start */
    CHECK(pypper_lifecycle_start(&cfg, err, sizeof(err)) == 1);
    CHECK(pypper_lifecycle_state() == PYPPER_STATE_RUNNING);
    CHECK(pypper_lifecycle_start(&cfg, err, sizeof(err)) == 0);   /* already running */
    pypper_config got;
    CHECK(pypper_lifecycle_config(&got) == 1 && got.sample_hz == cfg.sample_hz);

    struct timespec ts = {0, 350 * 1000 * 1000};
    uint64_t ticks = pypper_stat_get(PYPPER_STAT_WORKER_TICKS);
    nanosleep(&ts, NULL);
    CHECK(pypper_stat_get(PYPPER_STAT_WORKER_TICKS) >= ticks + 2);
    CHECK(pypper_lifecycle_uptime() > 0.3);

    CHECK(pypper_lifecycle_end() == 1);
    CHECK(pypper_lifecycle_state() == PYPPER_STATE_STOPPED);
    CHECK(pypper_lifecycle_end() == 0);
    CHECK(pypper_lifecycle_config(&got) == 0);
    CHECK(pypper_lifecycle_uptime() == 0.0);
    CHECK(pypper_stat_get(PYPPER_STAT_STARTS) == starts + 1);
    CHECK(pypper_stat_get(PYPPER_STAT_WORKER_STARTED) == pypper_stat_get(PYPPER_STAT_WORKER_JOINED));

    for (int i = 0; i < 200; i++) {
        CHECK(pypper_lifecycle_start(&cfg, err, sizeof(err)) == 1);
        CHECK(pypper_lifecycle_end() == 1);
    }
    CHECK(pypper_stat_get(PYPPER_STAT_STARTS) == starts + 201);
}

static void test_fork(void)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    pypper_config_defaults(&cfg);
    cfg.log_level = PYPPER_LOG_OFF;
    CHECK(pypper_lifecycle_start(&cfg, err, sizeof(err)) == 1);
    /* Fork once the worker sleeps: under ASan a fork while another thread is inside
     * the sanitizer's allocator (as a thread being set up is) can hang the child. */
    uint64_t ticks = pypper_stat_get(PYPPER_STAT_WORKER_TICKS);
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 300 && pypper_stat_get(PYPPER_STAT_WORKER_TICKS) == ticks; i++)
        nanosleep(&ts, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = pypper_lifecycle_state() == PYPPER_STATE_STOPPED
                 && pypper_stat_get(PYPPER_STAT_FORK_CHILD_STOPS) == 1
                 && pypper_lifecycle_end() == 0
                 && pypper_lifecycle_start(&cfg, err, sizeof(err)) == 1
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

int main(void)
{
    test_start_end();
    test_fork();
    return check_report("test_lifecycle");
}
