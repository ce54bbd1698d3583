/* tests/c/test_site_infer.c: inferred allocation sites: a seed's site for objects of
 * its type in its pool, then in its arena; nothing across types, arenas or for an
 * unseeded type; the lowest seed of a pool or arena keeps it, in whatever order
 * seeds come (a snapshot seeds in object-table order, a hash order); a zero site or a NULL table is
 * no seed; an arena whose pools were filled by two lines in turn infers nothing after
 * settle, nor do those lines' seeds of that type anywhere; one filled by runs of each
 * does; a seed whose line allocated before its neighbours' did (not in turn) is a
 * survivor: its pool infers nothing and its neighbours keep their sites; a line's
 * share of another's counted in samples when they are known, else in seeds; many seeds
 * (the table's load) all found. */
#include "check.h"
#include "../../Python/site_infer.h"

#include <stdbool.h>
#include <stdint.h>

#define POOL ((uintptr_t)1 << 14)
#define ARENA ((uintptr_t)1 << 20)

static const void *at(uintptr_t a) { return (const void *)a; }

/* Lines 71 and 72 allocated in turn only when last_in_turn says so; others always. */
static int last_in_turn;
static bool in_turn_71_72(uint32_t a, uint32_t b)
{
    return last_in_turn || !((a == 71 && b == 72) || (a == 72 && b == 71));
}

/* Samples of size class: site 60 made 840, site 61 35 (1/24); 0 when not known. */
static int samples_known;
static uint32_t samples_60_61(uint32_t site, const void *block)
{
    (void)block;
    if (!samples_known)
        return site == 60 ? 840 : 0;
    return site == 60 ? 840 : site == 61 ? 35 : 0;
}

/* Site 61 seeds 2 pools (10 and 30 of the first arena), site 60 the other 238 of
 * four arenas of 60 pools. */
static site_infer *seed_reused_slots(uintptr_t base, const void *type)
{
    site_infer *t = pypper_site_infer_new(256);
    for (uintptr_t a = 0; a < 4; a++)
        for (uintptr_t p = 0; p < 60; p++)
            pypper_site_infer_seed(t, at(base + (8 + a) * ARENA + p * POOL + 64), type,
                                   a == 0 && (p == 10 || p == 30) ? 61 : 60);
    return t;
}

/* Sites 18 to 20 are lines of one function, whose own site is 1018; sites 30 and 31
 * lines of function 1030; 40 a line of function 1040 that 1030 called, 45 one of 1045
 * that 1030 called too; 60 a line of a function not known (its code died) that 1030
 * called; any other site is a function of its own, site + 1000, whose caller is not
 * known. */
static void functions_1000(uint32_t site, uint32_t out[2])
{
    out[0] = site == 60 ? 0 : 1000 + (site >= 18 && site <= 20 ? 18 : site == 31 ? 30 : site);
    out[1] = site == 40 || site == 45 || site == 60 ? 1030 : 0;
}

int main(void)
{
    static const int type_a = 0, type_b = 0, type_c = 0;
    const void *A = &type_a, *B = &type_b, *C = &type_c;
    uintptr_t base = 64 * ARENA;
    site_infer *t = pypper_site_infer_new(16);
    CHECK(t != NULL);

    pypper_site_infer_seed(t, at(base + 3 * POOL + 48), A, 7);
    pypper_site_infer_seed(t, at(base + 3 * POOL + 96), A, 9);      /* same pool: lowest kept */
    pypper_site_infer_seed(t, at(base + 5 * POOL), B, 11);
    pypper_site_infer_seed(t, at(base + 6 * POOL), A, 0);           /* no site: no seed */

    CHECK(pypper_site_infer(t, at(base + 3 * POOL + 1024), A) == 7);   /* same pool */
    CHECK(pypper_site_infer(t, at(base + 9 * POOL + 16), A) == 7);     /* same arena */
    CHECK(pypper_site_infer(t, at(base + 6 * POOL + 16), A) == 7);
    CHECK(pypper_site_infer(t, at(base + 3 * POOL + 16), B) == 11);    /* B's arena seed */
    CHECK(pypper_site_infer(t, at(base + 5 * POOL + 16), B) == 11);
    CHECK(pypper_site_infer(t, at(base + 3 * POOL + 16), C) == 0);     /* unseeded type */
    CHECK(pypper_site_infer(t, at(base + ARENA + 16), A) == 0);        /* another arena */
    CHECK(pypper_site_infer(NULL, at(base), A) == 0);
    pypper_site_infer_seed(NULL, at(base), A, 1);                     /* no crash */

    /* A pool's own seed wins over the arena's first one. */
    pypper_site_infer_seed(t, at(base + 9 * POOL + 32), A, 13);
    CHECK(pypper_site_infer(t, at(base + 9 * POOL + 64), A) == 13);
    CHECK(pypper_site_infer(t, at(base + 8 * POOL + 64), A) == 7);
    /* Seeded later at a lower address: it keeps the pool and the arena. */
    pypper_site_infer_seed(t, at(base + 3 * POOL + 16), A, 5);
    CHECK(pypper_site_infer(t, at(base + 3 * POOL + 1024), A) == 5);
    CHECK(pypper_site_infer(t, at(base + 8 * POOL + 64), A) == 5);
    CHECK(pypper_site_infer(t, at(base + 9 * POOL + 64), A) == 13);   /* its own pool's */
    pypper_site_infer_free(t);
    pypper_site_infer_free(NULL);

    /* Lines in turn (a hot list every 25th node, a cold one otherwise): pools 0-19 of
     * an arena seeded by site 20, but pools 7 and 13 by site 18, islands; after settle,
     * no pool of that arena infers a site for that type (its seeds name the wrong line
     * for most objects), another type's pools still do. */
    t = pypper_site_infer_new(64);
    uintptr_t mixed = base + 4 * ARENA, blocky = base + 5 * ARENA;
    for (uintptr_t p = 0; p < 20; p++)
        pypper_site_infer_seed(t, at(mixed + p * POOL + 64), A, p == 7 || p == 13 ? 18 : 20);
    pypper_site_infer_seed(t, at(mixed + 3 * POOL + 32), B, 30);
    /* Runs (a loop, then another): pools 0-9 site 40, 10-19 site 41; no island. */
    for (uintptr_t p = 0; p < 20; p++)
        pypper_site_infer_seed(t, at(blocky + p * POOL + 64), A, p < 10 ? 40 : 41);
    /* Another arena whose pools of A were all seeded by site 20 (no island there),
     * and one whose pools of B were. */
    uintptr_t quiet = base + 6 * ARENA;
    pypper_site_infer_seed(t, at(quiet + 1 * POOL + 64), A, 20);
    pypper_site_infer_seed(t, at(quiet + 2 * POOL + 64), A, 20);
    pypper_site_infer_seed(t, at(quiet + 1 * POOL + 4096), B, 20);
    CHECK(pypper_site_infer(t, at(quiet + 2 * POOL + 512), A) == 20);     /* before settle */
    CHECK(pypper_site_infer(t, at(mixed + 7 * POOL + 512), A) == 18);
    pypper_site_infer_settle(t, NULL, NULL, NULL);
    CHECK(pypper_site_infer(t, at(mixed + 7 * POOL + 512), A) == 0);
    CHECK(pypper_site_infer(t, at(mixed + 2 * POOL + 512), A) == 0);
    CHECK(pypper_site_infer(t, at(mixed + 40 * POOL + 512), A) == 0);     /* unseeded pool */
    CHECK(pypper_site_infer(t, at(mixed + 3 * POOL + 512), B) == 30);     /* another type */
    CHECK(pypper_site_infer(t, at(blocky + 2 * POOL + 512), A) == 40);
    CHECK(pypper_site_infer(t, at(blocky + 12 * POOL + 512), A) == 41);
    CHECK(pypper_site_infer(t, at(blocky + 40 * POOL + 512), A) == 40);   /* the arena's first */
    /* Site 20 was seen in turn with 18 for type A: its seeds say nothing anywhere. */
    CHECK(pypper_site_infer(t, at(quiet + 2 * POOL + 512), A) == 0);
    CHECK(pypper_site_infer(t, at(quiet + 1 * POOL + 8192), B) == 20);    /* for B they do */
    pypper_site_infer_free(t);

    /* One island alone (a short loop between two others, a reused slot): its arena
     * infers nothing, the line around it still does elsewhere. */
    t = pypper_site_infer_new(64);
    for (uintptr_t p = 0; p < 10; p++)
        pypper_site_infer_seed(t, at(mixed + p * POOL + 64), A, p == 4 ? 50 : 51);
    pypper_site_infer_seed(t, at(quiet + 1 * POOL + 64), A, 51);
    pypper_site_infer_settle(t, NULL, NULL, NULL);
    CHECK(pypper_site_infer(t, at(mixed + 2 * POOL + 512), A) == 0);
    CHECK(pypper_site_infer(t, at(quiet + 1 * POOL + 512), A) == 51);
    pypper_site_infer_settle(NULL, NULL, NULL, NULL);                                    /* no crash */
    pypper_site_infer_free(t);

    /* The same lines in turn, told that 18 and 20 are lines of one function (and 50,
     * 51 of two): where only 18 and 20 were in turn, the function's site is given
     * (which line made an object is not known, its function is); where a line of
     * another function was in turn, still nothing. */
    t = pypper_site_infer_new(64);
    for (uintptr_t p = 0; p < 20; p++)
        pypper_site_infer_seed(t, at(mixed + p * POOL + 64), A, p == 7 || p == 13 ? 18 : 20);
    pypper_site_infer_seed(t, at(quiet + 1 * POOL + 64), A, 20);
    for (uintptr_t p = 0; p < 10; p++)
        pypper_site_infer_seed(t, at(blocky + p * POOL + 64), A, p == 4 ? 50 : 51);
    pypper_site_infer_settle(t, NULL, NULL, functions_1000);
    CHECK(pypper_site_infer(t, at(mixed + 7 * POOL + 512), A) == 1018);
    CHECK(pypper_site_infer(t, at(mixed + 2 * POOL + 512), A) == 1018);
    CHECK(pypper_site_infer(t, at(mixed + 40 * POOL + 512), A) == 1018);  /* unseeded pool */
    CHECK(pypper_site_infer(t, at(quiet + 1 * POOL + 512), A) == 1018);   /* the line's */
    CHECK(pypper_site_infer(t, at(blocky + 2 * POOL + 512), A) == 0);     /* two functions */
    CHECK(pypper_site_infer(t, at(blocky + 4 * POOL + 512), A) == 0);
    pypper_site_infer_free(t);

    /* Lines of two functions in turn, one calling the other: a loop (function 1030)
     * makes a key on line 30 and calls 1040, which makes the record's fields on line
     * 40; the function that both lie within is 1030. Two functions it calls (40, 45)
     * in turn: 1030 too. A line of 1040 in turn with one of a function 1040 was not
     * called from (50): nothing. A line of 1030 in turn with one of a function not
     * known that 1030 called (60): nothing either (which function holds them both is
     * not known). */
    uintptr_t calls[4] = {mixed, blocky, quiet, base + 30 * ARENA};
    uint32_t line[4][2] = {{30, 40}, {40, 45}, {40, 50}, {30, 60}}, want[4] = {1030, 1030, 0, 0};
    for (int c = 0; c < 4; c++) {
        t = pypper_site_infer_new(64);
        for (uintptr_t p = 0; p < 20; p++)
            pypper_site_infer_seed(t, at(calls[c] + p * POOL + 64), A,
                                   line[c][p == 7 || p == 13]);
        pypper_site_infer_settle(t, NULL, NULL, functions_1000);
        CHECK(pypper_site_infer(t, at(calls[c] + 7 * POOL + 512), A) == want[c]);
        CHECK(pypper_site_infer(t, at(calls[c] + 2 * POOL + 512), A) == want[c]);
        CHECK(pypper_site_infer(t, at(calls[c] + 40 * POOL + 512), A) == want[c]);
        pypper_site_infer_free(t);
    }

    /* A few objects of another line in the pools of a large one (slots reused later):
     * site 61 seeds 2 pools, both islands, among 240 of site 60. Site 61 infers
     * nothing and neither does that arena, but site 60 keeps its sites elsewhere:
     * 61's seeds are far below 1/50 of 60's. */
    t = seed_reused_slots(base, A);
    pypper_site_infer_settle(t, NULL, NULL, NULL);
    CHECK(pypper_site_infer(t, at(base + 8 * ARENA + 10 * POOL + 512), A) == 0);
    CHECK(pypper_site_infer(t, at(base + 8 * ARENA + 20 * POOL + 512), A) == 0);
    CHECK(pypper_site_infer(t, at(base + 9 * ARENA + 20 * POOL + 512), A) == 60);
    CHECK(pypper_site_infer(t, at(base + 11 * ARENA + 59 * POOL + 512), A) == 60);
    pypper_site_infer_free(t);

    /* The same seeds, but the samples say site 61 made 1/24 of what 60 made in this
     * size class (a line made every 25th turn that won few pools' seeds): 60's seeds
     * then say nothing of their neighbours either. Samples unknown for one line: the
     * seeds decide, as above. */
    for (int known = 0; known < 2; known++) {
        samples_known = known;
        t = seed_reused_slots(base, A);
        pypper_site_infer_settle(t, NULL, samples_60_61, NULL);
        CHECK(pypper_site_infer(t, at(base + 9 * ARENA + 20 * POOL + 512), A) == (known ? 0 : 60));
        CHECK(pypper_site_infer(t, at(base + 8 * ARENA + 10 * POOL + 512), A) == 0);
        pypper_site_infer_free(t);
    }

    /* An older line's survivors in pools a later line refilled: site 71 (import-time
     * strings) seeds 6 pools among 50 of site 72 (names made afterwards). In turn, as
     * a loop would make them, both lines lose their inference (6 x 50 >= 50); not in
     * turn, 71's pools infer nothing, nor does an unseeded pool of an arena whose
     * first seed is 71's, and 72 keeps its site everywhere else. */
    for (int turn = 0; turn < 2; turn++) {
        t = pypper_site_infer_new(256);
        uintptr_t old_arena = base + 20 * ARENA, names = base + 21 * ARENA;
        for (uintptr_t p = 0; p < 56; p++)
            pypper_site_infer_seed(t, at(names + p * POOL + 64), A,
                                   p % 9 == 4 ? 71 : 72);
        pypper_site_infer_seed(t, at(old_arena + 3 * POOL + 64), A, 71);
        pypper_site_infer_seed(t, at(old_arena + 9 * POOL + 64), A, 72);
        pypper_site_infer_seed(t, at(old_arena + 20 * POOL + 64), A, 72);
        last_in_turn = turn;
        pypper_site_infer_settle(t, in_turn_71_72, NULL, NULL);
        if (turn) {
            CHECK(pypper_site_infer(t, at(names + 5 * POOL + 512), A) == 0);
            CHECK(pypper_site_infer(t, at(names + 4 * POOL + 512), A) == 0);
        } else {
            CHECK(pypper_site_infer(t, at(names + 4 * POOL + 512), A) == 0);   /* stale */
            CHECK(pypper_site_infer(t, at(names + 5 * POOL + 512), A) == 72);
            CHECK(pypper_site_infer(t, at(names + 55 * POOL + 512), A) == 72);
            CHECK(pypper_site_infer(t, at(names + 60 * POOL + 512), A) == 72); /* arena's */
            /* The old arena: 71's pool is below 72's two, an island not in turn. */
            CHECK(pypper_site_infer(t, at(old_arena + 3 * POOL + 512), A) == 0);
            CHECK(pypper_site_infer(t, at(old_arena + 40 * POOL + 512), A) == 0);
            CHECK(pypper_site_infer(t, at(old_arena + 9 * POOL + 512), A) == 72);
        }
        pypper_site_infer_free(t);
    }

    /* As many seeds as announced, one per pool over many arenas: all found. */
    enum { N = 20000 };
    t = pypper_site_infer_new(N);
    CHECK(t != NULL);
    for (uint32_t i = 0; i < N; i++)
        pypper_site_infer_seed(t, at(base + i * POOL + 16), i % 2 ? A : B, i + 1);
    int found = 0;
    for (uint32_t i = 0; i < N; i++)
        found += pypper_site_infer(t, at(base + i * POOL + 4096), i % 2 ? A : B) == i + 1;
    CHECK(found == N);
    pypper_site_infer_free(t);
    return check_report("site_infer");
}
