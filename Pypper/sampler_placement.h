/* Pypper/sampler_placement.h: keeping the sampler thread off the CPU the main thread
 * runs on (sampler_placement.c).
 *
 * The sampler reads the main thread's frames while both run; on a CPU they share it
 * can only run while the main thread waits, sees a frame that does not move and ends
 * every burst early (measured: about half the runs of a loaded two-core machine, the
 * kernel waking the sampler where it last ran, beside the main thread). After a burst
 * that ended so, the sampler takes the main thread's CPU (as the main thread last
 * read it, sched_getcpu() in the engine's step: main_readings.h; no Pypper thread
 * opens a file) and, when its own affinity mask holds that CPU, narrows the mask to
 * the CPUs it was allowed at its start but that one. Nothing is done when it was
 * allowed a single CPU. */
#ifndef PYPPER_SAMPLER_PLACEMENT_H
#define PYPPER_SAMPLER_PLACEMENT_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    cpu_set_t allowed;          /* the sampler's mask at its start */
    cpu_set_t current;          /* its mask now */
    bool on;                    /* more than one CPU allowed */
    uint64_t checks;            /* times the main thread's CPU was looked at */
    uint64_t shared;            /* ... and found in the sampler's mask */
    uint64_t moves;             /* masks set */
    uint64_t failures;          /* the main thread's CPU unknown, or a mask refused */
} pypper_sampler_placement;

/* The decision, pure: the mask the sampler should take when the main thread is on
 * main_cpu, given the mask it was allowed at its start and its mask now. Returns true
 * (and fills out) when the mask should change: main_cpu is in current, and allowed
 * holds another CPU; out is allowed without main_cpu. */
bool pypper_placement_choose(const cpu_set_t *allowed, const cpu_set_t *current, int main_cpu,
                             cpu_set_t *out);

/* In the sampler thread, at its start: its own mask is the allowed set. */
void pypper_placement_begin(pypper_sampler_placement *p);
/* In the sampler thread: move off main_cpu (the main thread's CPU; -1: unknown, a
 * failure counted) if this thread may run there. Returns whether the mask changed. */
bool pypper_placement_check(pypper_sampler_placement *p, int main_cpu);

#endif
