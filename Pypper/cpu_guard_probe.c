/* Pypper/cpu_guard_probe.c: the process's instance of the CPU-shortage guard
 * (cpu_guard.h) and what feeds it: the main thread's schedstat line (nanoseconds on a
 * CPU, nanoseconds waiting in the run queue), as the engine's step last read it on a
 * program thread (main_readings.h: no Pypper thread opens a file). Kernels without it
 * (no CONFIG_SCHED_INFO) give no readings: the guard never acts. */
#include "cpu_guard.h"
#include "clock.h"
#include "threads.h"

#include "log.h"
#include "main_readings.h"
#include "stats.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu PYPPER_PINNED = PTHREAD_MUTEX_INITIALIZER;
static pypper_cpu_guard guard;
static bool on;
static bool available;           /* the last reading worked */
static uint64_t fed_stamp;       /* the reading fed last */

void pypper_cpu_guard_start(const pypper_cpu_guard_params *p)
{
    pthread_mutex_lock(&mu);
    pypper_cpu_guard_init(&guard, p);
    fed_stamp = 0;
    available = false;
    on = true;
    pthread_mutex_unlock(&mu);
}

static void count_end(uint64_t now_ns)
{
    if (now_ns > guard.short_at_ns)
        pypper_stat_add(PYPPER_STAT_CPU_SHORT_MS, (now_ns - guard.short_at_ns) / 1000000u);
}

void pypper_cpu_guard_stop(void)
{
    pthread_mutex_lock(&mu);
    if (on && guard.short_of_cpu) {         /* the shortage ends with the session */
        uint64_t now = pypper_mono_ns();
        count_end(now);
        guard.short_ns = pypper_cpu_guard_short_ns(&guard, now);
        guard.short_of_cpu = false;
    }
    on = false;
    pthread_mutex_unlock(&mu);
}

void pypper_cpu_guard_forget_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    mu = fresh;
    on = false;
}

static bool feed_locked(uint64_t now_ns, uint64_t run_ns, uint64_t wait_ns)
{
    if (!on)
        return false;
    bool before = guard.short_of_cpu;
    bool s = pypper_cpu_guard_feed(&guard, now_ns, run_ns, wait_ns);
    if (s && !before) {
        pypper_stat_add(PYPPER_STAT_CPU_SHORTAGES, 1);
        pypper_log(PYPPER_LOG_INFO, "short of CPU (the main thread waited %.0f%% of its runnable "
                                    "time for a CPU): the sampler backs off for at least %u ms",
                   guard.last_pct, guard.hold_ms);
    } else if (!s && before) {
        count_end(now_ns);
        pypper_log(PYPPER_LOG_INFO, "CPU calm again after %llu ms: the sampler resumes",
                   (unsigned long long)((now_ns - guard.short_at_ns) / 1000000u));
    }
    return s;
}

double pypper_cpu_guard_check(void)
{
    pypper_main_reading r;
    pypper_main_readings_get(&r);
    pthread_mutex_lock(&mu);
    bool s = guard.short_of_cpu;
    if (on && guard.p.wait_pct > 0 && r.stamp_ns && r.stamp_ns != fed_stamp) {
        fed_stamp = r.stamp_ns;
        available = r.sched_ok;
        if (available)
            s = feed_locked(r.stamp_ns, r.run_ns, r.wait_ns);
    }
    pthread_mutex_unlock(&mu);
    return s ? PYPPER_CPU_BACKOFF : 1.0;
}

void pypper_cpu_guard_snapshot(pypper_cpu_guard *out, uint64_t *now_ns, bool *avail)
{
    pthread_mutex_lock(&mu);
    *out = guard;
    *avail = available;
    pthread_mutex_unlock(&mu);
    *now_ns = pypper_mono_ns();
}

void pypper_cpu_guard_reset_now(void)
{
    pthread_mutex_lock(&mu);
    pypper_cpu_guard_params p = guard.p;
    pypper_cpu_guard_init(&guard, &p);
    fed_stamp = 0;
    pthread_mutex_unlock(&mu);
}

bool pypper_cpu_guard_feed_now(uint64_t now_ns, uint64_t run_ns, uint64_t wait_ns)
{
    pthread_mutex_lock(&mu);
    bool s = feed_locked(now_ns, run_ns, wait_ns);
    pthread_mutex_unlock(&mu);
    return s;
}
