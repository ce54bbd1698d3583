/* tests/c/test_mistakes.c: the mistake controller: the far-memory start and its
 * growth; no news leaves everything as it is; a rate over the goal halves the
 * demotion scale each round down to its floor; a rate under half the goal lets it
 * grow back to 1; the rate is capped at 1; the
 * recency window; and the planner acts on the scaled share of demotions only, but
 * on all of them in a round the program asked for. */
#include "check.h"
#include "../../Pypper/mistakes.h"
#include "../../Pypper/options.h"
#include "../../Pypper/planner.h"

#include <stdint.h>
#include <stdlib.h>

int main(void)
{
    pypper_mistakes m;
    /* Far memory starts low and earns its pace; the start is clamped. */
    pypper_mistakes_init(&m, PYPPER_MISTAKE_SCALE_FAR);
    CHECK(m.scale == PYPPER_MISTAKE_SCALE_FAR);
    pypper_mistakes_round(&m, 0, 0);
    CHECK(m.scale == PYPPER_MISTAKE_SCALE_FAR);          /* no demotion: no news */
    int far_rounds = 0;
    while (m.scale < 1.0 && far_rounds < 100) {
        pypper_mistakes_round(&m, 10, 0);
        far_rounds++;
    }
    CHECK(far_rounds == 7 && m.speedups == 7);            /* 1/16 x 1.5^7 > 1 */
    pypper_mistakes_init(&m, 5.0);
    CHECK(m.scale == 1.0);
    pypper_mistakes_init(&m, 0.0);
    CHECK(m.scale == PYPPER_MISTAKE_SCALE_MIN);

    pypper_mistakes_init(&m, 1.0);
    CHECK(m.scale == 1.0 && m.rate == 0);
    pypper_mistakes_round(&m, 0, 0);
    CHECK(m.scale == 1.0 && m.rate == 0 && m.slowdowns == 0);
    /* 100 demoted a round, 5 back: 5% < 10% goal, but not under half: steady. */
    for (int i = 0; i < 20; i++)
        pypper_mistakes_round(&m, 100, 5);
    CHECK(m.scale == 1.0 && m.rate > 0.049 && m.rate < 0.051);
    /* 30 of 100 back: the scale halves each round to the floor. */
    pypper_mistakes_round(&m, 100, 30);
    CHECK(m.rate > 0.1 && m.scale == 0.5 && m.slowdowns == 1);
    for (int i = 0; i < 20; i++)
        pypper_mistakes_round(&m, 100, 30);
    CHECK(m.scale == PYPPER_MISTAKE_SCALE_MIN);
    uint64_t downs = m.slowdowns;
    pypper_mistakes_round(&m, 100, 30);
    CHECK(m.slowdowns == downs);            /* at the floor: no more counted */
    /* Mistakes with nothing demoted: capped at 1. */
    pypper_mistakes_round(&m, 0, 500);
    CHECK(m.rate == 1.0);
    /* Calm rounds: back up by half per round once under half the goal. */
    int rounds = 0;
    while (m.scale < 1.0 && rounds < 200) {
        pypper_mistakes_round(&m, 100, 0);
        rounds++;
    }
    CHECK(m.scale == 1.0 && rounds > 12 && rounds < 40 && m.speedups > 0);
    CHECK(m.demoted == 100u * 42 + 100u * (uint64_t)rounds && m.mistakes == 5u * 20 + 30u * 22 + 500);

    CHECK(!pypper_mistake_recent(0, 5));             /* never moved */
    CHECK(pypper_mistake_recent(5, 5) && pypper_mistake_recent(5, 5 + PYPPER_MISTAKE_ROUNDS));
    CHECK(!pypper_mistake_recent(5, 6 + PYPPER_MISTAKE_ROUNDS));
    CHECK(!pypper_mistake_recent(9, 5));             /* from the future: no */

    /* The planner: all fast, budget 10 of 100 pages, demotions scaled to a quarter. */
    enum { N = 100 };
    pypper_plan_page *pages = calloc(N, sizeof(*pages));
    uint32_t *promote = calloc(N, sizeof(uint32_t)), *demote = calloc(N, sizeof(uint32_t)),
             *scratch = calloc(N, sizeof(uint32_t));
    for (size_t i = 0; i < N; i++)
        pages[i] = (pypper_plan_page){.heat = (float)i, .placed = PYPPER_TIER_FAST};
    pypper_plan_params p = {.policy = PYPPER_POLICY_TEMPERATURE, .budget_pages = 10,
                            .aggressiveness = 1.0, .lazy_demotion = true,
                            .promote_cap = SIZE_MAX, .move_cap = SIZE_MAX, .pass = 1,
                            .demote_scale = 1.0};
    pypper_plan r = {.promote = promote, .demote = demote};
    pypper_plan_pages(pages, N, &p, &r, scratch);
    CHECK(r.ndemote == 90 && r.demote[0] == 0);
    p.demote_scale = 0.25;
    pypper_plan_pages(pages, N, &p, &r, scratch);
    CHECK(r.ndemote == 23 && r.demote[0] == 0 && r.held_by_cap == 90 - 23);
    p.demote_scale = PYPPER_MISTAKE_SCALE_MIN;
    pypper_plan_pages(pages, N, &p, &r, scratch);
    CHECK(r.ndemote == 1);
    p.all_candidates = true;                  /* migrate_now(): not paced */
    pypper_plan_pages(pages, N, &p, &r, scratch);
    CHECK(r.ndemote == 90);
    free(pages); free(promote); free(demote); free(scratch);
    return check_report("test_mistakes");
}
