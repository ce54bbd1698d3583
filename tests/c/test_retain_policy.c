/* tests/c/test_retain_policy.c: the retention policy alone (Objects/retain.c), driven
 * through its own calls with a test clock, no heap: what debts leave idle is the
 * largest lesson of a debt's purge refaulted, not a sum or a doubling of them (a
 * request loop's many small lessons took it to 13 MiB), within the byte ceiling; the
 * bound still doubles on its own purges' lessons, which count the window's purges
 * together. A process of its own: the policy's state is the process's. */
#include "check.h"
#include "retain.h"

#include <stdint.h>

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define HEAP (100 * MiB)               /* the heap in use (for a percentage ceiling) */

static uint64_t clock_ms = 1000;
static uint64_t test_clock(void) { return clock_ms; }

/* What debts leave idle now: idle memory made and owed in full, less what the debt
 * may take. The idle bytes and debts are put back as they were (none); no purge
 * follows, so the debt taken is not a purge's (the next purge, debt_mistake's or
 * retain_excess's, says again whether it pays a debt). */
static uint64_t debt_keep(void)
{
    uint64_t idle = 64 * MiB;
    retain_idle_add(idle);
    retain_note_page_growth(idle);
    uint64_t owed = retain_take_page_debt(HEAP);
    retain_idle_sub(idle);
    return idle - owed;
}

/* A debt pays fresh pages with `purged` idle bytes (more is idle than debts leave),
 * and within the mistake window fresh memory of `fresh` bytes replaces them. Idle
 * memory is put back as it was (none). */
static void debt_mistake(uint64_t purged, uint64_t fresh)
{
    retain_idle_add(64 * MiB + purged);
    retain_note_page_growth(purged);
    uint64_t owed = retain_take_page_debt(HEAP);
    CHECK(owed == purged);
    retain_note_purged(owed, false, true);
    retain_idle_sub(64 * MiB + owed);
    clock_ms += 10;
    retain_note_fresh(fresh, true);
    clock_ms += 2000;                  /* the next one is a purge of its own */
}

static uint64_t bound(void)
{
    retain_stats st;
    retain_get_stats(HEAP, &st);
    return st.bound;
}

static void test_debts_keep_the_largest_lesson(void)
{
    CHECK(debt_keep() == 0);
    retain_stats st0;
    retain_get_stats(HEAP, &st0);
    debt_mistake(MiB, MiB);
    CHECK(debt_keep() == MiB);
    /* The request loop's lessons: bodies of 44-160 KiB, many times. */
    for (int i = 0; i < 40; i++)
        debt_mistake(160 * KiB, (44 + (uint64_t)i % 3 * 50) * KiB);
    CHECK(debt_keep() == MiB);
    retain_stats st1;
    retain_get_stats(HEAP, &st1);
    CHECK(st1.mistakes == st0.mistakes + 41);          /* each one counted */
    /* A lesson is what the purge could have served: a larger fresh block teaches only
     * the purge's size. */
    debt_mistake(2 * MiB, 8 * MiB);
    CHECK(debt_keep() == 2 * MiB);
    /* Outside the window: no lesson. */
    retain_idle_add(64 * MiB + 4 * MiB);
    retain_note_page_growth(4 * MiB);
    uint64_t owed = retain_take_page_debt(HEAP);
    retain_note_purged(owed, false, true);
    retain_idle_sub(64 * MiB + owed);
    clock_ms += 1500;
    retain_note_fresh(4 * MiB, true);
    CHECK(debt_keep() == 2 * MiB);
    CHECK(retain_idle() == 0);
}

static void test_ceiling_caps_what_debts_keep(void)
{
    retain_configure(3 * MiB, 0.0, 1000);
    debt_mistake(6 * MiB, 6 * MiB);
    CHECK(debt_keep() == 3 * MiB);
    /* What was learnt is within the ceiling then, not only read so. */
    retain_configure(64 * MiB, 0.0, 1000);
    CHECK(debt_keep() == 3 * MiB);
}

/* A purge for the bound (no debt) refaulted: the bound doubles. */
static void test_bound_doubles(void)
{
    uint64_t b = bound();
    retain_idle_add(2 * b);
    uint64_t over = retain_excess(HEAP);
    CHECK(over > 0);
    retain_note_purged(over, false, true);
    retain_idle_sub(over);
    clock_ms += 10;
    retain_note_fresh(over / 2, true);
    CHECK(bound() == 2 * b);
    retain_idle_sub(retain_idle());
    clock_ms += 2000;
}

static uint64_t mistakes(void)
{
    retain_stats st;
    retain_get_stats(HEAP, &st);
    return st.mistakes;
}

/* The bound's purges within a second teach together: 9 MiB and 2 MiB purged, then
 * 10 MiB faulted in, which the larger purge alone could not have served (a buffer of
 * 16 MiB and its half made in a loop: Tools/bench/survey/big_buffer_slices.py). Each
 * purged byte teaches once: 1 MiB is left, so 2 MiB more is growth, 1 MiB a lesson. */
static void test_bound_learns_from_purges_together(void)
{
    uint64_t b = bound();
    retain_idle_add(2 * b + 11 * MiB);
    CHECK(retain_excess(HEAP) > 0);            /* a purge for the bound, not a debt */
    retain_note_purged(9 * MiB, false, true);
    retain_note_purged(2 * MiB, false, true);
    retain_idle_sub(retain_idle());
    clock_ms += 10;
    uint64_t m0 = mistakes();
    retain_note_fresh(10 * MiB, true);
    uint64_t grown = b + 10 * MiB > 2 * b ? b + 10 * MiB : 2 * b;
    CHECK(bound() == grown && mistakes() == m0 + 1);
    retain_note_fresh(2 * MiB, true);
    CHECK(bound() == grown && mistakes() == m0 + 1);
    retain_note_fresh(MiB, true);
    CHECK(bound() == 2 * grown && mistakes() == m0 + 2);
    retain_note_fresh(MiB, true);                   /* nothing left to teach */
    CHECK(mistakes() == m0 + 2);
    clock_ms += 2000;
}

/* The sum covers a second from its first purge: purges 0.9 s apart do not add up
 * for ever (a block as large as all of them is growth, not a mistake). */
static void test_purge_sum_is_a_second_long(void)
{
    uint64_t b = bound(), m0 = mistakes();
    retain_idle_add(4 * b + 4 * MiB);
    CHECK(retain_excess(HEAP) > 0);
    for (int i = 0; i < 4; i++) {
        retain_note_purged(MiB, false, true);
        clock_ms += 900;
    }
    clock_ms -= 890;                    /* 10 ms after the last purge */
    retain_note_fresh(3 * MiB, true);   /* the last second purged 2 MiB */
    CHECK(bound() == b && mistakes() == m0);
    retain_idle_sub(retain_idle());
    clock_ms += 2000;
}

/* A debt's lesson is still the largest purge since the window opened, and a bound's
 * lesson closes the window: a bound purge of 16 MiB refaulted, then a debt purge of
 * 1 MiB and 8 MiB fresh teach debts 1 MiB, not 8. */
static void test_debt_lesson_after_a_bound_lesson(void)
{
    uint64_t keep0 = debt_keep();
    retain_idle_add(64 * MiB);
    CHECK(retain_excess(HEAP) > 0);
    retain_note_purged(16 * MiB, false, true);
    retain_idle_sub(retain_idle());
    clock_ms += 10;
    retain_note_fresh(MiB, true);               /* the bound's lesson */
    clock_ms += 10;
    debt_mistake(MiB, 8 * MiB);
    uint64_t keep = debt_keep();
    CHECK(keep == (keep0 > MiB ? keep0 : MiB));
}

int main(void)
{
    retain_set_clock(test_clock);
    retain_configure(64 * MiB, 0.0, 1000);
    test_debts_keep_the_largest_lesson();
    test_ceiling_caps_what_debts_keep();
    test_bound_doubles();
    test_bound_learns_from_purges_together();
    test_purge_sum_is_a_second_long();
    test_debt_lesson_after_a_bound_lesson();
    return check_report("test_retain_policy");
}
