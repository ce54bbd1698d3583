/* Pypper/pressure.h: the memory-pressure guard. When the process is short of memory
 * (its own major page faults per second, or the kernel's pressure stall information
 * for memory) Pypper stops touching memory: no sampling, no hand-overs, no walks of
 * the GC lists, no migration rounds. A process that swaps would otherwise have its
 * pages (and Pypper's own tables) faulted back in by Pypper's reads, which evicts the
 * program's own pages in turn: measured 2.6x the major faults of stock python3.12
 * under a memory cgroup limit (Doc/pressure.md). It resumes once the process has been
 * calm for a hold time, which doubles when a pause follows soon after a resume (so
 * faulting its tables back in cannot make it flap) and returns to its base after a
 * calm minute.
 *
 * The state machine is pure (times and counts come in as arguments, so tests drive
 * it); Pypper/pressure_probe.c reads the kernel's figures; the sampler thread feeds
 * the global instance once per window and everyone reads pypper_pressure_paused(). */
#ifndef PYPPER_PRESSURE_H
#define PYPPER_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>

#define PYPPER_PRESSURE_WINDOW_MS 250u      /* one reading per window */
#define PYPPER_PRESSURE_MIN_FAULTS 16u      /* fewer major faults in a window never pause */
#define PYPPER_PRESSURE_HOLD_MS 2000u       /* calm time before a resume, at first */
#define PYPPER_PRESSURE_HOLD_MAX_MS 64000u
#define PYPPER_PRESSURE_CALM_RESET_MS 60000u

typedef struct {
    uint32_t majflt_per_s;       /* pause at or above this rate; 0 = never on faults */
    double psi_pct;              /* pause at or above this memory "some avg10"; 0 = ignore */
} pypper_pressure_params;

typedef enum {
    PYPPER_PRESSURE_NONE = 0,
    PYPPER_PRESSURE_FAULTS,      /* the process's major faults */
    PYPPER_PRESSURE_PSI,         /* the kernel's memory stall figure */
} pypper_pressure_reason;

typedef struct {
    pypper_pressure_params p;
    bool started;
    bool paused;
    uint64_t window_ns;          /* start of the current window */
    uint64_t window_faults;      /* major faults at its start */
    uint64_t calm_since_ns;      /* paused: first calm window's start; 0 = not calm */
    uint64_t paused_at_ns, resumed_at_ns;
    uint32_t hold_ms;
    pypper_pressure_reason reason;
    /* Figures. */
    uint64_t pauses, paused_ns, windows;
    double last_rate;            /* major faults per second in the last window */
    double last_psi;             /* the last reading; < 0: none */
} pypper_pressure;

void pypper_pressure_init(pypper_pressure *s, const pypper_pressure_params *p);
/* One reading: the process's major faults so far and the memory stall percentage
 * (< 0 when the kernel gives none). Readings inside the current window are ignored.
 * Returns whether Pypper is paused after it. */
bool pypper_pressure_feed(pypper_pressure *s, uint64_t now_ns, uint64_t majflt, double psi);
/* Nanoseconds paused so far, the current pause included. */
uint64_t pypper_pressure_paused_ns(const pypper_pressure *s, uint64_t now_ns);
const char *pypper_pressure_reason_name(pypper_pressure_reason r);

/* The process's instance, fed by the sampler thread (Python/active_trace.c). */
void pypper_pressure_start(const pypper_pressure_params *p);
void pypper_pressure_stop(void);
/* The pause in progress, if any, added to stats' pressure_paused_ms up to the last
 * reading (a capture's end record is written while the program may still be
 * paused: it showed 0 ms for a run paused to its end). */
void pypper_pressure_count_so_far(void);
/* In a forked child (the sampler thread did not come along): off, lock renewed. */
void pypper_pressure_forget_after_fork(void);
/* Whether the memory stall figure is wanted (the main thread reads it:
 * main_readings.h). */
bool pypper_pressure_wants_psi(void);
/* A reading now, from the kernel (pressure_probe.c); returns whether paused. */
bool pypper_pressure_check(void);
/* Any thread: is Pypper paused? Cheap (one relaxed load). */
bool pypper_pressure_paused(void);
/* A copy of the instance, for stats (under its lock). */
void pypper_pressure_snapshot(pypper_pressure *out, uint64_t *now_ns);
/* Tests: start the instance over (its thresholds kept), then feed it readings with
 * given times and counts. */
void pypper_pressure_reset_now(void);
/* Tests: a reading with a given time and counts. */
bool pypper_pressure_feed_now(uint64_t now_ns, uint64_t majflt, double psi);

#endif
