/* Python/signal_sampler.h: the signal sampler: the main thread samples its own frames
 * in a signal handler, every 1/SIGNAL_HZ seconds of its own CPU time, so the evidence
 * does not depend on a free core (signal_sampler.c). */
#ifndef PYPPER_SIGNAL_SAMPLER_H
#define PYPPER_SIGNAL_SAMPLER_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame_reader.h"

/* On the main thread (target is its thread state), with the GIL: arm the timer. 0, or
 * -1 when it could not be (the reason is logged once, nothing is left armed). */
int pypper_signal_sampler_start(PyThreadState *target, int64_t hz, int depth);
/* Disarm and forget what was not drained. Idempotent. */
void pypper_signal_sampler_stop(void);
/* In a forked child: the timer is the parent's (not inherited); forget the session. */
void pypper_signal_sampler_after_fork_child(void);
/* With the GIL: is the handler still ours? If the program installed its own handler
 * for the signal, the timer is disarmed (logged) and false is returned. */
bool pypper_signal_sampler_check(void);
/* Tests: while paused (the sampler thread is held), the handler takes no sample. */
void pypper_signal_sampler_pause(bool paused);
/* With the GIL: hand what the handler found to sink, oldest first; returns how many. */
size_t pypper_signal_sampler_drain(pypper_frame_sink sink, void *ctx);
bool pypper_signal_sampler_active(void);

typedef struct {
    uint64_t signals;       /* handler runs that sampled */
    uint64_t found;         /* evidence pushed */
    uint64_t dropped;       /* evidence lost: the ring was full */
    uint64_t slots_read;
    uint64_t attr_evidence; /* of the evidence, given to values read by attribute */
    int signo;              /* the signal used, 0 when none */
} pypper_signal_sampler_stats;

void pypper_signal_sampler_get_stats(pypper_signal_sampler_stats *out);

#endif
