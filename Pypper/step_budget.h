/* Pypper/step_budget.h: the engine steps' share of the program's CPU time. A step
 * (Python/engine.c, run in a hand-over on a program thread) takes that thread's time:
 * 0.9-2.4 ms a step on the benchmark programs, 5-6 ms on a 40 MB cache of OrderedDict
 * sessions (6.5% of its main thread at one step per 100 ms). A credit grows with the
 * program's CPU time (share of it), is capped (no burst of steps after an idle spell),
 * and each step's own CPU time is taken from it; a step is due only while the credit
 * is not negative, so the steps' interval stretches until their time is at most the
 * share. Pure: the caller reads the clocks. */
#ifndef PYPPER_STEP_BUDGET_H
#define PYPPER_STEP_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double share;               /* of the program's CPU time the steps may take */
    int64_t cap_ns;             /* most credit kept */
    bool started;
    int64_t credit_ns;
    uint64_t main_ns, steps_ns; /* the clocks at the last feed: the program's, the steps' */
    uint64_t deferred;          /* feeds that found no credit */
} pypper_step_budget;

void pypper_step_budget_init(pypper_step_budget *b, double share, int64_t cap_ns);

/* The program's CPU time and the steps' total CPU time now: whether a step may run.
 * A clock that goes back counts as no time. */
bool pypper_step_budget_feed(pypper_step_budget *b, uint64_t main_ns, uint64_t steps_ns);

#endif
