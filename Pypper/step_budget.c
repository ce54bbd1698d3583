/* Pypper/step_budget.c: the credit of the engine steps' share of the program's CPU
 * time (step_budget.h). Pure. */
#include "step_budget.h"

#include <string.h>

void pypper_step_budget_init(pypper_step_budget *b, double share, int64_t cap_ns)
{
    memset(b, 0, sizeof(*b));
    b->share = share;
    b->cap_ns = cap_ns;
}

static uint64_t since(uint64_t now, uint64_t before) { return now > before ? now - before : 0; }

bool pypper_step_budget_feed(pypper_step_budget *b, uint64_t main_ns, uint64_t steps_ns)
{
    if (!b->started) {
        /* The first step is free: its cost is what the budget learns from. */
        b->started = true;
        b->main_ns = main_ns;
        b->steps_ns = steps_ns;
        b->credit_ns = 0;
        return true;
    }
    b->credit_ns += (int64_t)(b->share * (double)since(main_ns, b->main_ns));
    b->credit_ns -= (int64_t)since(steps_ns, b->steps_ns);
    if (b->credit_ns > b->cap_ns)
        b->credit_ns = b->cap_ns;
    b->main_ns = main_ns > b->main_ns ? main_ns : b->main_ns;
    b->steps_ns = steps_ns > b->steps_ns ? steps_ns : b->steps_ns;
    if (b->credit_ns < 0) {
        b->deferred++;
        return false;
    }
    return true;
}
