/* Python/live_trace.h: the live trace (live_trace.c): start and stop with a session
 * (GIL held), its figures for pypper.live_trace_stats(). */
#ifndef PYPPER_LIVE_TRACE_H
#define PYPPER_LIVE_TRACE_H

#include <Python.h>
#include "../Pypper/options.h"

/* Full pass, GC callback and the promoted walk's anchor; 0, or -1 with a Python
 * exception set. */
int pypper_live_trace_start(const pypper_config *cfg);
/* Whether the next start's first pass goes in steps (a delayed start's): at start
 * only the young and permanent GC lists are walked, the oldest by the promoted walk's
 * steps. */
void pypper_live_trace_next_start_stepped(bool stepped);
/* Remove the callback, untrack everything, free the table. Idempotent. */
void pypper_live_trace_stop(void);
/* In a forked child (the parent's table is a stale copy). */
void pypper_live_trace_forget_after_fork(void);
/* With the GIL: drop a bounded slice of the object table's dead entries when there
 * are many. */
void pypper_live_trace_settle(void);
/* With the GIL: re-traverse a rotating slice of `budget` traced containers, taking
 * objects stored into them since they were walked. */
size_t pypper_live_trace_rescan(size_t budget);   /* objects it added */
/* With the GIL: track up to `budget` containers (and their referents) of the GC
 * generations younger than the traced one, continuing where the last call stopped. */
void pypper_live_trace_young(size_t budget);
/* With the GIL: take the objects of slots[0, n) (NULL ones skipped) as a walk takes
 * a container's referents: those the GC lists do not hold (tuples and dicts of atoms,
 * strings, bytes; not numbers unless LIVE_NUMBERS) are tracked, with the items of an
 * untracked container (a large one queued for the walks' chunks). For references
 * that no container holds: the locals of the threads' frames (Python/frame_locals.c).
 * Returns the objects tracked. */
size_t pypper_live_trace_take_held(PyObject *const *slots, size_t n);
/* With the GIL: walk a budget of the containers new to the oldest GC generation
 * since the last walk (with their referents). */
void pypper_live_trace_promoted(void);
/* Any thread, no lock (a hint): did the last walk leave some of them? */
bool pypper_live_trace_behind(void);
/* With the GIL: walk all of them now (for whoever asks about the live set). */
void pypper_live_trace_catch_up(void);
/* How long (ms) what joins the oldest generation waits before a budgeted walk takes
 * it (tests drive hand-overs with 0); returns the previous value. */
#define LIVE_TRACE_PROMOTED_AGE_MS 100u
unsigned pypper_live_trace_set_promoted_age_ms(unsigned ms);
/* Is the live trace on (the object table is being kept)? */
bool pypper_live_trace_running(void);
/* Called (with false) at the start of each collection while the live trace runs: the
 * session's threads that a fork joined start again once due (Python/session.h).
 * NULL: none. */
void pypper_live_trace_set_collection_hook(void (*fn)(bool now));
/* Is op in the object table? */
bool pypper_live_trace_knows(PyObject *op);
/* Tracked objects not freed since (Objects/track.h: what walks over them find). */
size_t pypper_live_trace_objects(void);
/* Give a tracked object an entry in the object table now, as evidence would (its
 * before-the-session mark kept as its site): 1 made, 0 it had one or the table could
 * not take it, -1 not tracked (or no session). */
int pypper_live_trace_give_entry(PyObject *op);
/* For tests, without walking what is left (as every other question does): a dict of
 * the first pass's state ("stepped", "first_pass_open", "steps"), the containers
 * waiting for their next chunk ("pending", "chunked"), whether the rescan stopped
 * inside a large container ("rescan_inside"), and whether obj is tracked now
 * ("tracks") and marked as existing before the session ("before"). */
PyObject *pypper_live_trace_progress(PyObject *obj);
/* A new dict of counters and pause figures. */
PyObject *pypper_live_trace_stats(void);

#endif
