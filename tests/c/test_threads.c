/* tests/c/test_threads.c: Pypper's thread helper. A joined thread is gone from the
 * kernel's thread count (what CPython's fork() warning reads) when the join returns,
 * every time; start and join of the lifecycle's worker around a fork leave the
 * process with one thread at fork() and the worker running again after it. */
#include "check.h"
#include "lifecycle.h"
#include "stats.h"
#include "threads.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int ran;

static void *body(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    return NULL;
}

static void *check_mask(void *arg)
{
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    *(int *)arg = sigismember(&mask, SIGINT) && sigismember(&mask, SIGTERM);
    return NULL;
}

static void test_join_leaves_one_thread(void)
{
    CHECK(pypper_thread_count() == 1);
    pypper_thread t = {0};
    CHECK(pypper_thread_join(&t, 10));          /* never started: nothing to do */
    int gone = 0;
    for (int i = 0; i < 300; i++) {
        CHECK(pypper_thread_start(&t, body, NULL, "pypper-test") == 0);
        CHECK(t.running);
        gone += pypper_thread_join(&t, 1000) && pypper_thread_count() == 1;
        CHECK(!t.running);
    }
    CHECK(gone == 300);
    CHECK(atomic_load(&ran) == 300);
}

static void test_signals_blocked(void)
{
    int blocked = 0;
    pypper_thread t = {0};
    CHECK(pypper_thread_start(&t, check_mask, &blocked, "pypper-test") == 0);
    CHECK(pypper_thread_join(&t, 1000));
    CHECK(blocked == 1);
    sigset_t mine;                               /* the caller's mask is unchanged */
    pthread_sigmask(SIG_SETMASK, NULL, &mine);
    CHECK(!sigismember(&mine, SIGINT));
}

static void test_worker_around_fork(void)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    pypper_config_defaults(&cfg);
    cfg.log_level = PYPPER_LOG_OFF;
    CHECK(pypper_lifecycle_start(&cfg, err, sizeof(err)) == 1);
    CHECK(pypper_thread_count() == 2);
    uint64_t started = pypper_stat_get(PYPPER_STAT_WORKER_STARTED);
    for (int i = 0; i < 50; i++) {
        pypper_lifecycle_before_fork();
        long at_fork = pypper_thread_count();
        pid_t pid = fork();
        if (pid == 0)
            _exit(pypper_lifecycle_state() == PYPPER_STATE_STOPPED ? 0 : 1);
        pypper_lifecycle_after_fork_in_parent();
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
              && WEXITSTATUS(status) == 0);
        CHECK(at_fork == 1);
        CHECK(pypper_thread_count() == 2);
        CHECK(pypper_lifecycle_state() == PYPPER_STATE_RUNNING);
    }
    CHECK(pypper_stat_get(PYPPER_STAT_WORKER_STARTED) == started + 50);
    /* Ending the session after a fork's join and before the restart joins nothing. */
    pypper_lifecycle_before_fork();
    CHECK(pypper_lifecycle_end() == 1);
    pypper_lifecycle_after_fork_in_parent();
    CHECK(pypper_thread_count() == 1);
    CHECK(pypper_stat_get(PYPPER_STAT_WORKER_STARTED) == pypper_stat_get(PYPPER_STAT_WORKER_JOINED));
    /* Without a session the hooks do nothing. */
    pypper_lifecycle_before_fork();
    pypper_lifecycle_after_fork_in_parent();
    CHECK(pypper_thread_count() == 1);
}

int main(void)
{
    test_join_leaves_one_thread();
    test_signals_blocked();
    test_worker_around_fork();
    return check_report("test_threads");
}
