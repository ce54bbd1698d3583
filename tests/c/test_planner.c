/* tests/c/test_planner.c: the migration planner's decisions (Pypper/planner.c) and
 * the backend choice (Pypper/backend_select.c) on synthetic inputs. */
#include "backend.h"
#include "check.h"
#include "heapsort.h"
#include "planner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N 100

static pypper_plan_page pages[N];
static uint32_t promote[N], demote[N], scratch[N];

static void setup(unsigned fast_count)
{
    for (size_t i = 0; i < N; i++)
        pages[i] = (pypper_plan_page){(uint32_t)i, (float)(N - i), /* 0 hottest */
                                      i < fast_count ? PYPPER_TIER_FAST : PYPPER_TIER_SLOW,
                                      PYPPER_TIER_FAST, 0, 0};
}

static pypper_plan_params params(size_t budget)
{
    return (pypper_plan_params){PYPPER_POLICY_TEMPERATURE, budget, 1.0, true, 0.0,
                                SIZE_MAX, SIZE_MAX, 10, false, 1.0};
}

static pypper_plan plan(const pypper_plan_params *p)
{
    pypper_plan out = {.promote = promote, .demote = demote};
    pypper_plan_pages(pages, N, p, &out, scratch);
    return out;
}

static bool contains(const uint32_t *v, size_t n, size_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static void test_budget_and_ranking(void)
{
    /* Cold pages (50..99) are fast, hot ones (0..49) slow; budget 50. */
    for (size_t i = 0; i < N; i++)
        pages[i] = (pypper_plan_page){(uint32_t)i, (float)(N - i),
                                      i >= 50 ? PYPPER_TIER_FAST : PYPPER_TIER_SLOW,
                                      PYPPER_TIER_FAST, 0, 0};
    pypper_plan_params p = params(50);
    pypper_plan r = plan(&p);
    CHECK(r.npromote == 50 && r.ndemote == 50);
    CHECK(r.promote[0] == 0);                            /* hottest first */
    CHECK(r.demote[0] == 99);                            /* coldest first */
    CHECK(contains(r.promote, r.npromote, 49) && !contains(r.demote, r.ndemote, 49));
    /* Never over budget: fast after the moves. */
    CHECK(r.fast_pages - r.ndemote + r.npromote <= 50);
}

static void test_lazy_demotion(void)
{
    setup(30);                                           /* hottest 30 fast, budget 60 */
    pypper_plan_params p = params(60);
    p.cold_heat = 20.0;                                  /* pages 81..99 are "cold" */
    pypper_plan r = plan(&p);
    CHECK(r.ndemote == 0);                               /* lazy: no pressure, no demotion */
    CHECK(r.npromote == 30);                             /* fills the free room */
    setup(100);
    p.lazy_demotion = false;
    r = plan(&p);
    /* Not lazy: every cold page goes, and the budget's excess too. */
    CHECK(r.ndemote >= 40 && contains(r.demote, r.ndemote, 99) && !contains(r.demote, r.ndemote, 0));
}

static void test_hysteresis_and_cooldown(void)
{
    /* Full fast tier; a slow page just above the cutoff does not displace a fast one
     * unless it clears the margin. */
    setup(50);
    pages[60].heat = 51.5f;                              /* cutoff ~ heat at rank 50 */
    pypper_plan_params p = params(50);
    p.aggressiveness = 0.0;                              /* margin 50% */
    pypper_plan r = plan(&p);
    CHECK(!contains(r.promote, r.npromote, 60));
    pages[60].heat = 1000.0f;                            /* far above: promoted */
    r = plan(&p);
    CHECK(contains(r.promote, r.npromote, 60) && r.ndemote >= 1);
    /* Moved in the previous pass: stays put (cool-down 5 passes at aggressiveness 0). */
    pages[60].moved_pass = 8;
    r = plan(&p);
    CHECK(!contains(r.promote, r.npromote, 60) && r.skipped_cooldown >= 1);
    pages[60].moved_pass = 2;
    r = plan(&p);
    CHECK(contains(r.promote, r.npromote, 60));
}

static void test_caps_and_unknown(void)
{
    setup(0);                                            /* all slow, no budget limit */
    pypper_plan_params p = params(SIZE_MAX);
    p.promote_cap = 7;
    pypper_plan r = plan(&p);
    CHECK(r.npromote == 7 && r.held_by_cap == N - 7);
    CHECK(r.promote[0] == 0 && r.promote[6] == 6);
    /* Aggressiveness 0 acts on a quarter of the candidates per pass. */
    p.promote_cap = SIZE_MAX;
    p.aggressiveness = 0.0;
    r = plan(&p);
    CHECK(r.npromote == 25);
    p.all_candidates = true;                             /* a round the program asked for */
    r = plan(&p);
    CHECK(r.npromote == N);
    p.all_candidates = false;
    /* Unknown heat: never promoted, never demoted (no evidence: nothing moves), even
     * when the fast tier is over budget. */
    setup(100);
    for (size_t i = 0; i < 10; i++)
        pages[i].heat = PYPPER_HEAT_UNKNOWN;
    pages[99].heat = 0.0f;
    p = params(5);
    r = plan(&p);
    CHECK(r.unknown_pages == 10 && r.ndemote == 90 && r.demote[0] == 99);
    CHECK(r.held_unknown == 10);
    for (size_t i = 0; i < r.ndemote; i++)
        CHECK(r.demote[i] >= 10);
    setup(0);
    pages[3].heat = PYPPER_HEAT_UNKNOWN;
    p = params(SIZE_MAX);
    r = plan(&p);
    CHECK(!contains(r.promote, r.npromote, 3) && r.npromote == N - 1);
    /* A page whose place is unknown is never moved. */
    setup(0);
    pages[0].unplaced = 1;
    r = plan(&p);
    CHECK(!contains(r.promote, r.npromote, 0) && r.npromote == N - 1);
}

static void test_ratio_policy(void)
{
    setup(0);
    for (size_t i = 0; i < N; i++)
        pages[i].arena_tier = i % 2 ? PYPPER_TIER_SLOW : PYPPER_TIER_FAST;
    pages[1].placed = PYPPER_TIER_FAST;                 /* a slow-arena page in fast memory */
    pypper_plan_params p = params(SIZE_MAX);
    p.policy = PYPPER_POLICY_RATIO;
    pypper_plan r = plan(&p);
    CHECK(r.npromote == 50 && r.ndemote == 1 && r.demote[0] == 1);
}

static void test_backend_select(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    pypper_topology one = {.nnodes = 1, .simulated = true};
    pypper_topology two = {.nnodes = 2, .simulated = false, .source = PYPPER_TOPO_CPULESS};
    pypper_backend_choice c;
    char err[256];
    const char *noswap = "tests/c/no-such-file", *swaps = "/tmp/pypper-test-swaps";
    FILE *f = fopen(swaps, "w");
    fputs("Filename Type Size Used Priority\n/dev/zram0 partition 4194300 0 100\n", f);
    fclose(f);
    CHECK(pypper_backend_select(&cfg, &one, noswap, &c, err, sizeof(err)) == 0
          && c.kind == PYPPER_BACKEND_SIM && strstr(c.reason, "no swap"));
    CHECK(pypper_backend_select(&cfg, &one, swaps, &c, err, sizeof(err)) == 0
          && c.kind == PYPPER_BACKEND_PAGEOUT && strstr(c.reason, "swap is on"));
    CHECK(pypper_backend_select(&cfg, &two, swaps, &c, err, sizeof(err)) == 0
          && c.kind == PYPPER_BACKEND_NUMA);
    cfg.backend = PYPPER_BACKEND_NUMA;
    CHECK(pypper_backend_select(&cfg, &one, swaps, &c, err, sizeof(err)) < 0
          && strstr(err, "two tiers"));
    cfg.backend = PYPPER_BACKEND_SIM;
    CHECK(pypper_backend_select(&cfg, &two, swaps, &c, err, sizeof(err)) == 0
          && c.kind == PYPPER_BACKEND_SIM);
    remove(swaps);
    /* Arenas are bound only for a backend that needs two tiers, on two tiers. */
    cfg.backend = PYPPER_BACKEND_AUTO;
    CHECK(pypper_backend_binds_arenas(&cfg, &two) && !pypper_backend_binds_arenas(&cfg, &one));
    cfg.backend = PYPPER_BACKEND_PAGEOUT;
    CHECK(!pypper_backend_binds_arenas(&cfg, &two));
    cfg.backend = PYPPER_BACKEND_NUMA;
    CHECK(pypper_backend_binds_arenas(&cfg, &two) && !pypper_backend_binds_arenas(&cfg, NULL));
    /* What each can do: the engine asks these, not the names. */
    CHECK(pypper_backend_sim.caps == PYPPER_BACKEND_SIMULATED);
    CHECK((pypper_backend_numa.caps & PYPPER_BACKEND_NEEDS_TWO_TIERS)
          && (pypper_backend_numa.caps & PYPPER_BACKEND_REPORTS_PLACEMENT)
          && !(pypper_backend_numa.caps & (PYPPER_BACKEND_FAR_MEMORY | PYPPER_BACKEND_SIMULATED)));
    CHECK((pypper_backend_pageout.caps & PYPPER_BACKEND_FAR_MEMORY)
          && (pypper_backend_pageout.caps & PYPPER_BACKEND_CHEAP_LOCATE)
          && !(pypper_backend_pageout.caps & PYPPER_BACKEND_NEEDS_TWO_TIERS));
    /* The sim backend moves nothing and reports no placement of its own. */
    void *pg[2] = {(void *)0x1000, (void *)0x2000};
    int st[2] = {1, 1};
    CHECK(pypper_backend_sim.move(pg, 2, PYPPER_TIER_SLOW, st) == 2 && st[0] == 0 && st[1] == 0);
    pypper_backend_sim.locate(pg, 2, st);
    CHECK(st[0] == PYPPER_PLACE_UNKNOWN);
    /* numa needs a fast and a slow node. */
    CHECK(pypper_backend_numa.init(&one) == -ENODEV);
}

static int ascending(uint32_t a, uint32_t b, const void *ctx)
{
    (void)ctx;
    return a < b ? -1 : a > b;
}

static void test_heapsort(void)
{
    uint32_t v[1000];
    unsigned x = 12345;
    for (size_t n = 0; n <= 1000; n += 37) {
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            v[i] = (x >> 8) % 97;              /* many equal keys */
        }
        pypper_heapsort(v, n, ascending, NULL);
        bool sorted = true;
        for (size_t i = 1; i < n; i++)
            sorted = sorted && v[i - 1] <= v[i];
        CHECK(sorted);
    }
}

int main(void)
{
    test_heapsort();
    test_budget_and_ranking();
    test_lazy_demotion();
    test_hysteresis_and_cooldown();
    test_caps_and_unknown();
    test_ratio_policy();
    test_backend_select();
    return check_report("test_planner");
}
