/* Pypper/write_tracking_heap.c: write tracking of the heap during a session
 * (write_tracking_heap.h). One tracker, one area per tier: the tier's reservation,
 * of which the committed extent (region_committed_extent: arenas only, grown by a
 * bump index) is registered, growing at each scan. The heap's discards (region.c:
 * purges, released arenas given back) are noted so that MADV_DONTNEED, which the
 * kernel reports as a write, gives no heat. The scan runs in the sampler thread on
 * the interval the budget allows; a mutex keeps it apart from the end and the
 * test hook. Intervals are counted in the program's CPU time (the process's, less
 * the scanning thread's): a program that waits for a core writes nothing meanwhile,
 * and scanning it on the wall clock would make it pay faults for nothing. */
#include "write_tracking_heap.h"
#include "clock.h"

#include "../Objects/heap.h"
#include "../Objects/region.h"
#include "log.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "code_size.h"

#define MAX_SCAN_ERRORS 3          /* failed scans in a row that end tracking */

static struct {
    pthread_mutex_t mu;            /* the tracker (scan, stop) */
    bool on;                       /* atomic reads: scans run, histories are current */
    bool held;                     /* the tracker's memory is mapped (until the end) */
    uint64_t next_cpu_ns;          /* the program's CPU time when the next scan is due */
    uint64_t deadline_ns;          /* wall clock: a scan then anyway (histories age) */
    uint64_t next_look_ns;         /* atomic: wall clock of the next look at the clocks */
    int errors_in_a_row;
    wt_tracker t;
    char signal[320];
} W = {.mu = PTHREAD_MUTEX_INITIALIZER};
/* (No other initializer: an all-zero W lives in .bss, and its 29 KiB cost no resident
 * page until a session uses them; signal "" reads as "no session has run".) */

#define LOOK_NS (10 * 1000 * 1000ull)   /* the clocks are read at most every 10 ms */
#define WALL_FACTOR 8                   /* a scan at least every 8 intervals of wall time */

/* CPU time of the process but the calling (scanning) thread. */
static uint64_t program_cpu_ns(void)
{
    uint64_t all = pypper_clock_ns(CLOCK_PROCESS_CPUTIME_ID), mine = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    return all > mine ? all - mine : 0;
}

static void schedule(uint64_t now_wall, uint64_t now_cpu)
{
    uint64_t iv = W.t.c.next_interval_ns;
    W.next_cpu_ns = now_cpu + iv;
    W.deadline_ns = now_wall + WALL_FACTOR * iv;
}

static void fall_back(bool warn, const char *reason)
{
    snprintf(W.signal, sizeof(W.signal), "frames (reason: %s)", reason);
    pypper_stat_add(PYPPER_STAT_WT_FALLBACKS, 1);
    pypper_log(warn ? PYPPER_LOG_WARN : PYPPER_LOG_INFO, "signal: %s", W.signal);
}

static void note_discard(void *addr, size_t len)
{
    if (__atomic_load_n(&W.on, __ATOMIC_ACQUIRE))
        wt_note_discard(&W.t, addr, len);
}

/* Register what the heap has committed since the last call. 0 or -errno. */
static int follow_heap(void)
{
    for (int tier = 0; tier < W.t.nareas; tier++) {
        int rc = wt_grow(&W.t, tier, region_committed_extent((unsigned)tier));
        if (rc < 0)
            return rc;
    }
    return 0;
}

PYPPER_SMALL_CODE bool pypper_wt_start(const pypper_config *cfg)
{
    pthread_mutex_lock(&W.mu);
    bool ok = false;
    char why[256];
    wt_kernel k;
    if (W.on) {
        ok = true;
    } else if (W.held) {
        ok = false;                /* tracking failed in this session: frames */
    } else if (cfg->write_tracking == PYPPER_WT_OFF) {
        fall_back(false, "WRITE_TRACKING=off");
    } else if (!pypper_heap_layout.base) {
        fall_back(cfg->write_tracking == PYPPER_WT_ON, "the tiered heap is not in use");
    } else if (wt_kernel_open(&k, (int)cfg->test_wt_errno, why, sizeof(why)) < 0) {
        fall_back(cfg->write_tracking == PYPPER_WT_ON, why);
    } else {
        wt_params p;
        wt_params_default(&p);
        p.interval_ns = (uint64_t)cfg->wt_interval_ms * 1000000u;
        p.budget = cfg->wt_budget;
        uint64_t fault_ns = wt_measure_fault_ns(&k);
        if (fault_ns)
            p.fault_ns = fault_ns;
        wt_tracker_init(&W.t, &k, &p);
        /* Registered ranges must not move: no span move may be under way (one
         * started by another interpreter, whose GIL this is not) once this returns. */
        bool locked = pypper_heap_lock();
        region_set_remap_allowed(false);
        pypper_heap_unlock(locked);
        int rc = 0;
        for (unsigned tier = 0; tier < HEAP_TIERS && rc == 0; tier++)
            if (wt_add_area(&W.t, pypper_heap_layout.base + tier * pypper_heap_layout.tier_bytes,
                            pypper_heap_layout.tier_bytes) < 0)
                rc = -ENOMEM;
        if (rc == 0)
            rc = follow_heap();
        if (rc == 0)
            rc = wt_scan(&W.t) < 0 ? -W.t.c.last_errno : 0;    /* arms what is present */
        if (rc < 0) {
            snprintf(why, sizeof(why), "registering the heap failed (%s)", strerror(-rc));
            wt_tracker_fini(&W.t);
            region_set_remap_allowed(true);
            fall_back(cfg->write_tracking == PYPPER_WT_ON, why);
        } else {
            ok = true;
            W.held = true;
            W.errors_in_a_row = 0;
            schedule(pypper_mono_ns(), program_cpu_ns());
            __atomic_store_n(&W.next_look_ns, pypper_mono_ns() + LOOK_NS, __ATOMIC_RELAXED);
            __atomic_store_n(&W.on, true, __ATOMIC_RELEASE);
            region_set_discard_observer(REGION_DISCARD_WRITE_TRACKING, note_discard);
            snprintf(W.signal, sizeof(W.signal), "write-tracking");
            pypper_stat_add(PYPPER_STAT_WT_SESSIONS, 1);
            pypper_log(PYPPER_LOG_INFO, "signal: write-tracking (%s, %llu pages armed, "
                       "first-write fault %.1f us)", k.route,
                       (unsigned long long)W.t.c.registered_pages, (double)p.fault_ns / 1000);
        }
    }
    pthread_mutex_unlock(&W.mu);
    return ok;
}

/* Scans end, every page is unregistered (no protection left); the histories stay
 * mapped until the end (readers with the GIL may be looking). */
static void disarm_locked(void)
{
    if (!W.on)
        return;
    region_set_discard_observer(REGION_DISCARD_WRITE_TRACKING, NULL);
    __atomic_store_n(&W.on, false, __ATOMIC_RELEASE);
    wt_tracker_disarm(&W.t);
    region_set_remap_allowed(true);
}

void pypper_wt_stop(void)
{
    pthread_mutex_lock(&W.mu);
    disarm_locked();
    if (W.held)
        wt_tracker_fini(&W.t);
    W.held = false;
    pthread_mutex_unlock(&W.mu);
}

static long scan_locked(void)
{
    int rc = follow_heap();
    long n = rc < 0 ? rc : wt_scan(&W.t);
    if (n < 0) {
        if (++W.errors_in_a_row >= MAX_SCAN_ERRORS) {
            char why[128];
            snprintf(why, sizeof(why), "write-tracking scans failed %d times (%s)",
                     W.errors_in_a_row, strerror((int)-n));
            disarm_locked();
            fall_back(true, why);
        }
        return -1;
    }
    W.errors_in_a_row = 0;
    pypper_stat_add(PYPPER_STAT_WT_SCANS, 1);
    pypper_stat_add(PYPPER_STAT_WT_WRITTEN_PAGES, (uint64_t)n);
    return n;
}

void pypper_wt_tick(void)
{
    uint64_t now = pypper_mono_ns();
    if (!__atomic_load_n(&W.on, __ATOMIC_ACQUIRE)
        || now < __atomic_load_n(&W.next_look_ns, __ATOMIC_RELAXED))
        return;
    if (pthread_mutex_trylock(&W.mu) != 0)
        return;
    __atomic_store_n(&W.next_look_ns, now + LOOK_NS, __ATOMIC_RELAXED);
    uint64_t cpu = program_cpu_ns();
    if (W.on && (cpu >= W.next_cpu_ns || now >= W.deadline_ns)) {
        scan_locked();
        schedule(pypper_mono_ns(), program_cpu_ns());
    }
    pthread_mutex_unlock(&W.mu);
}

long pypper_wt_scan_now(void)
{
    pthread_mutex_lock(&W.mu);
    long n = W.on ? scan_locked() : -1;
    pthread_mutex_unlock(&W.mu);
    return n;
}

void pypper_wt_after_fork_child(void)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    W.mu = mu;
    region_set_remap_allowed(true);    /* the child's mappings are not registered */
    if (!W.held)
        return;
    region_set_discard_observer(REGION_DISCARD_WRITE_TRACKING, NULL);
    __atomic_store_n(&W.on, false, __ATOMIC_RELEASE);
    wt_tracker_forget(&W.t);
    W.held = false;
    snprintf(W.signal, sizeof(W.signal), "frames (reason: a forked child runs no session)");
}

bool pypper_wt_active(void) { return __atomic_load_n(&W.on, __ATOMIC_ACQUIRE); }

int pypper_wt_page_history(const void *addr)
{
    return pypper_wt_active() ? wt_history(&W.t, addr) : -1;
}

int pypper_wt_written_last(const void *addr)
{
    return pypper_wt_active() ? wt_written_last(&W.t, addr) : -1;
}

double pypper_wt_page_heat(const void *addr)
{
    int h = pypper_wt_page_history(addr);
    return h < 0 ? -1.0 : (double)wt_heat(h) / WT_HISTORY_BITS;
}

const char *pypper_wt_signal(void)
{
    return W.signal[0] ? W.signal : "frames (reason: no session has run)";
}

void pypper_wt_get_stats(pypper_wt_stats *out)
{
    pthread_mutex_lock(&W.mu);
    *out = (pypper_wt_stats){
        .active = W.on,
        .route = W.t.k.route ? W.t.k.route : "none",
        .interval_ms = W.t.c.next_interval_ns / 1000000u,
        .budget = W.t.p.budget,
        .fault_ns = W.t.p.fault_ns,
        .est_fault_seconds = (double)W.t.c.faulted_pages * (double)W.t.p.fault_ns / 1e9,
        .scan_seconds = (double)W.t.c.scan_ns / 1e9,
        .c = W.t.c,
    };
    pthread_mutex_unlock(&W.mu);
}
