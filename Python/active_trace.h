/* Python/active_trace.h: the active trace: a native thread that, without the GIL,
 * samples which traced objects the program is using (frame slots of the main
 * thread, reference counts of a rotating window of the object table); a pending call
 * run by a program thread under the GIL feeds the evidence to the temperature model. */
#ifndef PYPPER_ACTIVE_TRACE_H
#define PYPPER_ACTIVE_TRACE_H

#include <Python.h>
#include <stdbool.h>
#include "../Pypper/options.h"

/* With the GIL, after the live trace started. 0, or -1 with a Python exception. */
int pypper_active_trace_start(const pypper_config *cfg);
/* With the GIL (kept: the thread never takes it), before the live trace stops. */
void pypper_active_trace_stop(void);
/* With the GIL, before fork(): the thread ends its burst and is joined (the process
 * forks without it); after_fork_in_parent starts it again. */
void pypper_active_trace_before_fork(void);
void pypper_active_trace_after_fork_in_parent(void);
/* In a forked child: no thread exists; forget the state. */
void pypper_active_trace_forget_after_fork(void);
/* With the GIL: feed the evidence gathered so far to the model (the API calls it so
 * temperatures are current). */
void pypper_active_trace_drain(void);
/* With the GIL: the hand-over's feed: the evidence to the model, the next window of
 * the object table to poll (its objects' classes re-evaluated, and their census). */
void pypper_active_trace_apply(void);

/* What the sampler asks of the engine (Python/engine.c installs them; a NULL member
 * does nothing). The sampler calls no later stage itself. */
typedef struct {
    /* With the GIL, in the hand-over: one step of the pipeline; feed: the sources'
     * evidence to the model; collect: a migration round when one is due. */
    void (*step)(bool feed, bool collect);
    /* Any thread, no lock (a hint): does a later stage want a step now? */
    bool (*due)(void);
} pypper_engine_hooks;

/* With the GIL: install hooks (NULL: remove them). */
void pypper_active_trace_connect(const pypper_engine_hooks *hooks);
/* Model time now: milliseconds since the session started. */
uint32_t pypper_active_trace_now_ms(void);
PyObject *pypper_active_trace_stats(void);

/* Test hooks (tests/), with the GIL, while a session runs; -1 with a Python exception
 * when none does. They make the sampler's work happen when a test needs it to have
 * happened, whatever the load of the machine:
 * hold: park the sampler thread (waits, GIL released, up to timeout_s for it to
 *   park; TimeoutError then) or let it go on; held, it neither samples nor hands over.
 *   Without a session (no error): the next session's thread starts parked, before
 *   its first burst (True), or not (False).
 * sample_now: n sampling iterations on the calling thread (the main thread's frames,
 *   a batch of the reference-count window), as the thread's bursts make them.
 * hand_over: the thread's periodic hand-over (the engine's feed: a slice of the
 *   live trace's rescan, evidence to the model, the next reference-count window and
 *   its census); with round, also the migration round when one is due.
 * set_clock: model time frozen at ms (>= 0), or back on the monotonic clock (< 0),
 *   going on from the frozen time; returns the model time before the call. */
int pypper_active_trace_hold(bool on, double timeout_s);
int pypper_active_trace_sample_now(long n);
int pypper_active_trace_hand_over(bool round);
uint32_t pypper_active_trace_set_clock(long long ms);

#endif
