/* Pypper/cpu_guard.h: the CPU-shortage guard. When the program's main thread spends
 * a large share of its runnable time waiting for a CPU (the run-queue delay the
 * kernel counts per thread in /proc/<pid>/task/<tid>/schedstat), the machine is
 * short of CPU: every cycle Pypper's sampler thread takes is then taken from the
 * program or its neighbours, so the sampler cuts its duty to a quarter until the main
 * thread has been calm (under half the threshold) for a hold time. The hold doubles
 * when a shortage follows soon after a recovery (up to 64 s) and returns to its base
 * after a calm minute, as the memory guard's (pressure.h).
 *
 * A main thread that is not runnable (blocked, sleeping) waits for nothing: a window
 * in which it was on a CPU or in the run queue for under a tenth of the window
 * changes nothing. Pure (times and counts come in as arguments);
 * Pypper/cpu_guard_probe.c feeds it the main thread's readings (main_readings.h) and
 * holds the process's instance. */
#ifndef PYPPER_CPU_GUARD_H
#define PYPPER_CPU_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#define PYPPER_CPU_WINDOW_MS 250u
#define PYPPER_CPU_SHORT_WINDOWS 2u      /* windows in a row at the threshold */
#define PYPPER_CPU_HOLD_MS 2000u
#define PYPPER_CPU_HOLD_MAX_MS 64000u
#define PYPPER_CPU_CALM_RESET_MS 60000u
#define PYPPER_CPU_BACKOFF 0.25          /* the sampler's duty while short */

typedef struct {
    double wait_pct;             /* short at or above this run-queue share; 0 = never */
} pypper_cpu_guard_params;

typedef struct {
    pypper_cpu_guard_params p;
    bool started;
    bool short_of_cpu;
    uint64_t window_ns, run0_ns, wait0_ns;
    unsigned over;               /* windows in a row at or above the threshold */
    uint64_t calm_since_ns;
    uint64_t short_at_ns, recovered_at_ns;
    uint32_t hold_ms;
    /* Figures. */
    uint64_t shortages, short_ns, windows;
    double last_pct;             /* the last window's wait share, %; < 0: not runnable enough */
} pypper_cpu_guard;

void pypper_cpu_guard_init(pypper_cpu_guard *s, const pypper_cpu_guard_params *p);
/* One reading: the main thread's time on a CPU and waiting in the run queue so far.
 * Readings inside the current window are ignored. Returns whether short of CPU. */
bool pypper_cpu_guard_feed(pypper_cpu_guard *s, uint64_t now_ns, uint64_t run_ns, uint64_t wait_ns);
/* Nanoseconds short so far, the current shortage included. */
uint64_t pypper_cpu_guard_short_ns(const pypper_cpu_guard *s, uint64_t now_ns);

/* The process's instance (cpu_guard_probe.c), fed by the sampler thread. */
void pypper_cpu_guard_start(const pypper_cpu_guard_params *p);
void pypper_cpu_guard_stop(void);
void pypper_cpu_guard_forget_after_fork(void);
/* The latest reading of the main thread's schedstat (main_readings.h), fed when it
 * is new: the factor for the sampler's duty, 1 or PYPPER_CPU_BACKOFF. */
double pypper_cpu_guard_check(void);
void pypper_cpu_guard_snapshot(pypper_cpu_guard *out, uint64_t *now_ns, bool *available);
/* Tests: start over (the threshold kept), then readings with given values. */
void pypper_cpu_guard_reset_now(void);
bool pypper_cpu_guard_feed_now(uint64_t now_ns, uint64_t run_ns, uint64_t wait_ns);

#endif
