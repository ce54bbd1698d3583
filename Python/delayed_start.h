/* Python/delayed_start.h: a session start that waits until the program has run a
 * while (PYPPER_ENABLE=1 with START_DELAY_MS in the drop-in). A program that ends
 * sooner never pays for a session: its start (the live trace's first pass over every
 * object, the sampler's and the migration plane's threads and tables), its sampler's
 * CPU and its end. What it pays instead is one sleeping thread, created and joined.
 *
 * The thread queues a pending call when the delay is over; the main thread runs it
 * at its next eval-breaker check and starts the session there, as pypper.start()
 * would at that point of the program. A main thread that stays in a C call (a join,
 * a wait) a second past the delay lets any thread that runs Python code start it
 * instead (the sampler then reads no frames, as after a start() from another
 * thread). All calls but the thread's own with the GIL held. */
#ifndef PYPPER_DELAYED_START_H
#define PYPPER_DELAYED_START_H

#include <stdbool.h>
#include <stdint.h>

/* Starts the session: 0, or -1 with a Python exception set. `unasked`: run by the
 * pending call at the due time, in the middle of the program's code (not by the
 * program's import of pypper or a call of its own). */
typedef int (*pypper_delayed_start_fn)(bool unasked);

/* Run fn once delay_ms of wall time have passed (from now). 0, or -1 with an
 * exception set (the thread could not start; nothing is pending). One pending start
 * at a time: arming again replaces it. */
int pypper_delayed_start_arm(uint64_t delay_ms, pypper_delayed_start_fn fn);
/* Forget the pending start, if any (its thread is joined). Returns whether one was
 * pending. */
bool pypper_delayed_start_cancel(void);
/* Run the pending start now (its thread joined first). 1 when it ran and started,
 * 0 when nothing was pending, -1 when it ran and failed (one line on stderr says
 * why; no exception is left set). */
int pypper_delayed_start_now(void);
/* Milliseconds until the pending start, 0 when it is due, -1 when none is pending. */
int64_t pypper_delayed_start_remaining_ms(void);

/* For tests, with the GIL: wait (at most timeout_ms) until the pending start's call is
 * queued (the GIL kept: taking it again would recompute the breaker), then clear the
 * interpreter's eval breaker as a lost race would (pending_nudge.h).
 * Whether the call was queued. */
bool pypper_delayed_start_test_lose_signal(unsigned timeout_ms);

/* Around fork(): the thread is joined before (CPython 3.12 warns about forking a
 * process with threads) and started again in the parent; the child forgets the
 * pending start, as it forgets a running session. */
void pypper_delayed_start_before_fork(void);
void pypper_delayed_start_after_fork_in_parent(void);
void pypper_delayed_start_after_fork_in_child(void);

#endif
