/* Pypper/pressure_probe.c: the process's instance of the memory-pressure guard
 * (pressure.h) and what feeds it from the kernel: the process's major faults
 * (getrusage, every thread's) and the memory line of /proc/pressure/memory ("some
 * avg10", the share of the last ten seconds in which some task stalled on memory,
 * as the main thread last read it: main_readings.h; kernels without PSI give none, and
 * the faults alone decide). */
#include "pressure.h"
#include "clock.h"
#include "threads.h"

#include "log.h"
#include "main_readings.h"
#include "own_memory.h"
#include "stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Own memory that nothing touches during a pause, advised cold when one starts. Not
 * the parts the program's own calls read while paused: allocation sites (the observed
 * malloc and free paths), the migration plane (its placement hook's cold-site set) and
 * a loaded profile (the same hook). */
#define PART(p) (1u << (p))
#define PAUSED_PARTS (PART(PYPPER_OWN_OBJTABLE_ENTRIES) | PART(PYPPER_OWN_OBJTABLE_STATES) \
                      | PART(PYPPER_OWN_LIVE_TRACE) | PART(PYPPER_OWN_EVIDENCE) \
                      | PART(PYPPER_OWN_SITE_INFER) | PART(PYPPER_OWN_UNTRACED_SITES) \
                      | PART(PYPPER_OWN_WRITE_TRACKING) | PART(PYPPER_OWN_SNAPSHOT) \
                      | PART(PYPPER_OWN_PAGE_HEAT))

static pthread_mutex_t mu PYPPER_PINNED = PTHREAD_MUTEX_INITIALIZER;
static pypper_pressure guard;
static atomic_bool paused;
static bool on;
static bool psi_wanted;

static uint64_t counted_to_ns;           /* the current pause is in the counters up to here */

/* The current pause's length up to now, not counted yet, added to the counters. */
static void count_to(uint64_t now_ns)
{
    uint64_t from = guard.paused_at_ns > counted_to_ns ? guard.paused_at_ns : counted_to_ns;
    if (now_ns > from) {
        pypper_stat_add(PYPPER_STAT_PRESSURE_PAUSED_MS, (now_ns - from) / 1000000u);
        counted_to_ns = now_ns - (now_ns - from) % 1000000u;    /* whole ms counted */
    }
}

/* A pause that ends adds the rest of its length to the counters. */
static void count_end(uint64_t now_ns)
{
    count_to(now_ns);
    counted_to_ns = 0;
}

void pypper_pressure_count_so_far(void)
{
    pthread_mutex_lock(&mu);
    if (on && guard.paused)
        count_to(guard.window_ns);      /* up to the last reading (at most a window ago) */
    pthread_mutex_unlock(&mu);
}

void pypper_pressure_start(const pypper_pressure_params *p)
{
    pthread_mutex_lock(&mu);
    pypper_pressure_init(&guard, p);
    counted_to_ns = 0;
    atomic_store(&paused, false);
    psi_wanted = p->psi_pct > 0;
    on = true;
    pthread_mutex_unlock(&mu);
}

void pypper_pressure_stop(void)
{
    pthread_mutex_lock(&mu);
    if (on && guard.paused) {           /* the pause ends with the session */
        uint64_t now = pypper_mono_ns();
        count_end(now);
        guard.paused_ns = pypper_pressure_paused_ns(&guard, now);
        guard.paused = false;
    }
    on = false;
    atomic_store(&paused, false);
    pthread_mutex_unlock(&mu);
}

void pypper_pressure_forget_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    mu = fresh;
    on = false;
    atomic_store(&paused, false);
}

/* The memory stall figure the main thread read last (main_readings.h: no Pypper
 * thread opens a file), when it is at most a second old; -1 otherwise. */
static double read_psi(void)
{
    if (!psi_wanted)
        return -1.0;
    pypper_main_reading r;
    pypper_main_readings_get(&r);
    return r.stamp_ns && pypper_mono_ns() - r.stamp_ns <= 1000000000ull ? r.psi : -1.0;
}

bool pypper_pressure_wants_psi(void)
{
    return on && psi_wanted;
}

static bool feed_locked(uint64_t now_ns, uint64_t majflt, double psi)
{
    if (!on)
        return false;
    bool before = guard.paused;
    bool p = pypper_pressure_feed(&guard, now_ns, majflt, psi);
    if (p && !before) {
        pypper_stat_add(PYPPER_STAT_PRESSURE_PAUSES, 1);
        /* Paused, the session's tables are left alone: let reclaim take them before
         * the program's pages (they count against the same memory limit). */
        if (pypper_own_advise_cold(PAUSED_PARTS))
            pypper_stat_add(PYPPER_STAT_PRESSURE_OWN_COLD, 1);
        pypper_log(PYPPER_LOG_INFO, "short of memory (%.0f major faults/s, memory stall %.1f%%): "
                                    "pausing for at least %u ms", guard.last_rate,
                   guard.last_psi, guard.hold_ms);
    } else if (!p && before) {
        count_end(now_ns);
        pypper_log(PYPPER_LOG_INFO, "calm again after %llu ms: resuming",
                   (unsigned long long)((now_ns - guard.paused_at_ns) / 1000000u));
    }
    atomic_store_explicit(&paused, p, memory_order_relaxed);
    return p;
}

bool pypper_pressure_check(void)
{
    uint64_t now = pypper_mono_ns();
    pthread_mutex_lock(&mu);
    bool p;
    struct rusage ru;
    if (!on)
        p = false;
    else if (guard.started && now < guard.window_ns + PYPPER_PRESSURE_WINDOW_MS * 1000000ull)
        p = guard.paused;           /* inside the window: no reading */
    else if (getrusage(RUSAGE_SELF, &ru) != 0)
        p = guard.paused;
    else
        p = feed_locked(now, (uint64_t)ru.ru_majflt, read_psi());
    pthread_mutex_unlock(&mu);
    return p;
}

void pypper_pressure_reset_now(void)
{
    pthread_mutex_lock(&mu);
    pypper_pressure_params p = guard.p;
    pypper_pressure_init(&guard, &p);
    atomic_store(&paused, false);
    pthread_mutex_unlock(&mu);
}

bool pypper_pressure_feed_now(uint64_t now_ns, uint64_t majflt, double psi)
{
    pthread_mutex_lock(&mu);
    bool p = feed_locked(now_ns, majflt, psi);
    pthread_mutex_unlock(&mu);
    return p;
}

bool pypper_pressure_paused(void)
{
    return atomic_load_explicit(&paused, memory_order_relaxed);
}

void pypper_pressure_snapshot(pypper_pressure *out, uint64_t *now_ns)
{
    pthread_mutex_lock(&mu);
    *out = guard;
    pthread_mutex_unlock(&mu);
    *now_ns = pypper_mono_ns();
}
