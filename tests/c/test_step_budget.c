/* tests/c/test_step_budget.c: the engine steps' budget: the first step is free; a step
 * that took more than the share of the main thread's time since makes the next wait
 * until the main thread has run long enough to pay for it; credit is capped (a long
 * run without steps does not buy a burst of them); a clock that goes back counts as
 * no time; a step taken on another thread counts as well. */
#include "check.h"
#include "../../Pypper/step_budget.h"

#define MS 1000000ull

int main(void)
{
    pypper_step_budget b;
    pypper_step_budget_init(&b, 0.02, 20 * MS);
    uint64_t main_ns = 500 * MS, steps = 0;

    CHECK(pypper_step_budget_feed(&b, main_ns, steps));        /* the first: free */
    /* 100 ms of the main thread, of which a 5 ms step: 2 ms of credit, 5 spent. */
    main_ns += 100 * MS;
    steps += 5 * MS;
    CHECK(!pypper_step_budget_feed(&b, main_ns, steps));
    CHECK(b.credit_ns == -3 * (int64_t)MS && b.deferred == 1);
    /* 100 ms more: -1 ms, still not; 50 more: +0, due. */
    main_ns += 100 * MS;
    CHECK(!pypper_step_budget_feed(&b, main_ns, steps));
    main_ns += 50 * MS;
    CHECK(pypper_step_budget_feed(&b, main_ns, steps));
    CHECK(b.credit_ns == 0 && b.deferred == 2);
    /* Cheap steps (1 ms each 100 ms) are always due, and the credit stops at the cap. */
    for (int i = 0; i < 100; i++) {
        main_ns += 100 * MS;
        steps += 1 * MS;
        CHECK(pypper_step_budget_feed(&b, main_ns, steps));
    }
    CHECK(b.credit_ns == 20 * (int64_t)MS && b.deferred == 2);
    /* Ten seconds without a step buy no more than the cap: a 30 ms step then makes
     * the next ones wait for 500 ms of the main thread. */
    main_ns += 10000 * MS;
    CHECK(pypper_step_budget_feed(&b, main_ns, steps));
    steps += 30 * MS;
    main_ns += 30 * MS;
    CHECK(!pypper_step_budget_feed(&b, main_ns, steps));
    CHECK(b.credit_ns == 20 * (int64_t)MS + (int64_t)(0.6 * MS) - 30 * (int64_t)MS);
    main_ns += 469 * MS;
    CHECK(!pypper_step_budget_feed(&b, main_ns, steps));
    main_ns += 2 * MS;
    CHECK(pypper_step_budget_feed(&b, main_ns, steps));
    /* A clock read that goes back adds nothing and spends nothing. */
    int64_t credit = b.credit_ns;
    CHECK(pypper_step_budget_feed(&b, main_ns - 5 * MS, steps));
    CHECK(b.credit_ns == credit);
    /* A share of 0 after the first step: never due again once a step cost anything. */
    pypper_step_budget_init(&b, 0.0, 20 * MS);
    CHECK(pypper_step_budget_feed(&b, 0, 0));
    CHECK(!pypper_step_budget_feed(&b, 1000 * MS, 1));
    return check_report("step_budget");
}
