/* tests/c/test_heap.c: the tier-aware heap without Python. Size classes, lookups,
 * tiers and placement scopes, pools' settling, the budget, retention and release of arenas, invalid
 * frees, and a random stress of malloc/calloc/realloc/free over every size range with
 * a content check of every live block. */
#include "check.h"
#include "heap.h"
#include "heap_internal.h"
#include "heap_layout.h"
#include "heap_pages.h"
#include "page_runs.h"
#include "placement.h"
#include "region.h"
#include "size_classes.h"
#include "track.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

static void test_classes(void)
{
    CHECK(pypper_heap_init() == 0 && pypper_heap_ready());
    CHECK(pypper_nclasses == SMALL_MAX / GRANULE && pypper_nclasses <= MAX_CLASSES);
    for (unsigned c = 0; c < pypper_nclasses; c++) {
        CHECK(pypper_class_size[c] == (c + 1) * GRANULE);
        CHECK(pypper_class_capacity[c] == POOL_SIZE / pypper_class_size[c]);
    }
    for (size_t n = 0; n <= SMALL_MAX; n++) {
        unsigned c = size_class_of(n);
        CHECK(pypper_class_size[c] >= (n ? n : 1));
        CHECK(c == 0 || pypper_class_size[c - 1] < n);
    }
}

static void test_lookup_and_tiers(void)
{
    pypper_block_info info;
    int local;
    pypper_heap_lookup(&local, &info);
    CHECK(info.kind == PYPPER_BLOCK_NONE && !pypper_heap_owns(&local));

    char *s = pypper_heap_malloc(24);
    CHECK(s && ((uintptr_t)s % 16) == 0 && pypper_heap_owns(s));
    pypper_heap_lookup(s + 5, &info);
    CHECK(info.kind == PYPPER_BLOCK_SMALL && info.allocated && info.block == s);
    CHECK(info.size == 32 && info.tier == PYPPER_TIER_FAST);
    CHECK(info.page == (void *)((uintptr_t)s & ~(uintptr_t)4095));

    int old = pypper_placement_set_scope(PYPPER_TIER_SLOW);
    CHECK(old == -1);
    char *cold = pypper_heap_malloc(24);
    char *cold_large = pypper_heap_malloc(100000);
    char *cold_huge = pypper_heap_malloc(5 << 20);
    char *cold_long = pypper_heap_malloc(3 << 20);
    pypper_placement_set_scope(-1);
    pypper_heap_lookup(cold, &info);
    CHECK(info.tier == PYPPER_TIER_SLOW && info.allocated);
    pypper_heap_lookup(cold_large + 99999, &info);
    CHECK(info.kind == PYPPER_BLOCK_LARGE && info.tier == PYPPER_TIER_SLOW);
    /* A page run's block starts 64*k bytes into its first page (k within the run's
     * slack: 102400 - 100000 bytes), and ends where the run ends. */
    size_t color = (uintptr_t)cold_large % PAGE_SIZE;
    CHECK(color % 64 == 0 && color <= 102400 - 100000);
    CHECK(info.block == cold_large && info.size == 102400 - color);
    pypper_heap_lookup(cold_huge + (2 << 20) + 7, &info);
    CHECK(info.kind == PYPPER_BLOCK_HUGE && info.block == cold_huge && info.allocated);
    CHECK(info.size == (size_t)5 << 20 && info.tier == PYPPER_TIER_SLOW);
    /* Up to PAGE_RUN_MAX, a block that is not grown by realloc is a page run, across
     * the edges of adjacent large arenas: found from any of its pages. */
    pypper_heap_lookup(cold_long + (2 << 20) + 7, &info);
    CHECK(info.kind == PYPPER_BLOCK_LARGE && info.block == cold_long && info.allocated);
    CHECK(info.size >= (size_t)3 << 20 && info.size < ((size_t)3 << 20) + PAGE_SIZE);
    pypper_heap_lookup(cold_long + (3 << 20) + PAGE_SIZE, &info);
    CHECK(info.block != cold_long);

    char *in_fast = pypper_heap_malloc_in(PYPPER_TIER_FAST, 64);
    pypper_heap_lookup(in_fast, &info);
    CHECK(info.tier == PYPPER_TIER_FAST);

    pypper_heap_free(s);
    pypper_heap_lookup(s, &info);
    CHECK(info.kind == PYPPER_BLOCK_SMALL && !info.allocated);
    pypper_heap_free(cold);
    pypper_heap_free(cold_large);
    pypper_heap_free(cold_huge);
    pypper_heap_free(cold_long);
    pypper_heap_free(in_fast);
}

static void test_invalid_frees(void)
{
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    uint64_t before = st.invalid_frees;
    char *p = pypper_heap_malloc(40);
    pypper_heap_free(p + 16);          /* interior pointer: another granule */
    pypper_heap_free(p);
    pypper_heap_free(p);               /* double free */
    char *big = pypper_heap_malloc(20000);
    pypper_heap_free(big + 4096);      /* inside a run */
    pypper_heap_free(big);
    pypper_heap_get_stats(&st);
    CHECK(st.invalid_frees == before + 3);
}

/* Page runs are colored: a block starts 64*k bytes into its first page, k a function
 * of the run's first page (runs under 64 pages apart differ) within the run's slack, so that copies between two blocks do not sit at the same
 * offset in every page (4K aliasing; Objects/large.c). The offset is the block's:
 * its page base is an interior pointer, the usable size ends with the run, an
 * in-place resize keeps it, and a run with no slack has none. */
static uint64_t run_color_invalid;      /* frees test_run_colors refused on purpose */

static void test_run_colors(void)
{
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    uint64_t before = st.invalid_frees;
    char *a = pypper_heap_malloc(100000), *b = pypper_heap_malloc(100000);
    uintptr_t ca = (uintptr_t)a % PAGE_SIZE, cb = (uintptr_t)b % PAGE_SIZE;
    CHECK(ca % 64 == 0 && cb % 64 == 0 && ca <= 2400 && cb <= 2400);
    CHECK(ca != cb);                            /* 25 pages apart: different colors */
    pypper_block_info info;
    pypper_heap_lookup(a + 99999, &info);
    CHECK(info.block == a && info.size == 102400 - ca && info.allocated);
    if (ca) {
        pypper_heap_lookup(a - ca, &info);     /* before the block, in its run */
        CHECK(!info.allocated);
        pypper_heap_free(a - ca);               /* refused: not the block's start */
    }
    char *a2 = pypper_heap_realloc(a, 102400 - ca);     /* fits: same block */
    CHECK(a2 == a);
    char *exact = pypper_heap_malloc(65536);    /* no slack: page-aligned */
    CHECK((uintptr_t)exact % PAGE_SIZE == 0);
    memset(a2, 7, 102400 - ca);
    pypper_heap_free(a2);
    pypper_heap_free(b);
    pypper_heap_free(exact);
    pypper_heap_get_stats(&st);
    run_color_invalid = ca ? 1u : 0u;
    CHECK(st.invalid_frees == before + run_color_invalid);
}

/* An arena's 12 KiB of pool records and slot bitmaps are zeroed when it is handed out
 * again only if a pool or medium arena wrote them (Objects/region.c): a released pool arena's come
 * back zero; a released span's were never written and are not zeroed again. */
static void test_pool_records_reset(void)
{
    pypper_heap_trim();                 /* no idle run: the arena below is the only one */
    bool zeroed;
    arena_meta *m = region_take_arena(0, ARENA_POOLS, &zeroed);
    CHECK(m != NULL);
    if (!m)
        return;
    size_t ai = layout_meta_index(m);
    pool_meta *pools = layout_arena_pools(ai);
    uint64_t *bits = layout_arena_bits(ai);
    for (unsigned i = 0; i < POOLS_PER_ARENA; i++) {
        pools[i].size = 48;
        bits[i * POOL_BITS_WORDS] = 1;
    }
    region_release_arenas(ai, 1, false);                 /* idle, records written */
    size_t fresh;
    size_t again = region_take_arenas(0, 1, 0, &zeroed, &fresh);
    CHECK(again == ai && !zeroed && fresh == 0);         /* the idle arena, best fit */
    bool clean = true;
    for (unsigned i = 0; i < POOLS_PER_ARENA; i++)
        clean = clean && pools[i].size == 0 && bits[i * POOL_BITS_WORDS] == 0;
    CHECK(clean);
    layout_meta(ai)->kind = ARENA_HUGE_HEAD;
    layout_meta(ai)->span = 1;
    region_release_span(ai, 1);
    again = region_take_arenas(0, 1, 0, &zeroed, &fresh);
    CHECK(again == ai);
    clean = true;
    for (unsigned i = 0; i < POOLS_PER_ARENA; i++)
        clean = clean && pools[i].size == 0 && bits[i * POOL_BITS_WORDS] == 0;
    CHECK(clean);
    region_release_arenas(ai, 1, true);
}

/* A pool counts the blocks it hands out; a hand-over asks whether it handed out none
 * since it last asked (pypper_heap_pool_settled): the first time, whether it never
 * handed out a block twice; in the same turn, the same answer; outside the pools, no. */
static void test_pool_settled(void)
{
    void *a = pypper_heap_malloc(456), *b = pypper_heap_malloc(456);
    CHECK(a && b);
    if (!a || !b)
        return;
    pool_meta *p = layout_pool(a);
    uint32_t handed = p->handed;
    void *c = pypper_heap_malloc(456);
    CHECK(c && (layout_pool(c) != p || p->handed == handed + 1));
    int local;
    CHECK(!pypper_heap_pool_settled(&local, 1) && !pypper_heap_pool_settled(a, 0));
    uint32_t bump = p->bump, saved = p->handed;
    p->asked = 0;
    p->handed = bump / p->size;                                 /* never a block twice */
    CHECK(pypper_heap_pool_settled(a, 1));
    CHECK(pypper_heap_pool_settled(a, 2));                      /* nothing handed out */
    p->handed++;                                                /* a block handed out */
    CHECK(!pypper_heap_pool_settled(a, 3) && !pypper_heap_pool_settled(b, 3));
    CHECK(pypper_heap_pool_settled(a, 5));                      /* none since turn 3 */
    p->asked = 0;
    p->handed = bump / p->size + 1;                             /* one block twice */
    CHECK(!pypper_heap_pool_settled(a, 6) && pypper_heap_pool_settled(a, 7));
    p->handed = saved;
    pypper_heap_free(a);
    pypper_heap_free(b);
    pypper_heap_free(c);
}

/* Releasing the last committed arena gives back its records' pages only when every
 * arena sharing them is free; a page of arena_body records (840 bytes each) spans
 * arenas whose arena_meta (48 bytes each) lies on a page never made writable, as no
 * arena past the committed ones was ever handed out: those count as free and are not
 * read (reading them crashed the stress test, two runs in three). The arenas are taken
 * from the tier's bump end until the last one taken is such an arena. */
static void test_record_pages_past_the_committed_arenas(void)
{
    enum { MAX_TAKEN = 256 };
    size_t taken[MAX_TAKEN], n = 0, last = (size_t)-1, first_bumped = (size_t)-1;
    uintptr_t body0 = (uintptr_t)pypper_heap_layout.body;
    bool found = false;
    while (n < MAX_TAKEN && !found) {
        bool zeroed;
        size_t fresh;
        size_t ai = region_take_arenas(0, 1, 0, &zeroed, &fresh);
        CHECK(ai != (size_t)-1);
        if (ai == (size_t)-1)
            break;
        layout_meta(ai)->kind = ARENA_LARGE;
        taken[n++] = ai;
        if (ai + 1 != region_committed_extent(0) / ARENA_SIZE)
            continue;                   /* not from the bump end */
        if (first_bumped == (size_t)-1)
            first_bumped = ai;
        /* Every arena before it on its body page is one of these (freed below) ... */
        uintptr_t page = (uintptr_t)&pypper_heap_layout.body[ai] & ~(uintptr_t)(PAGE_SIZE - 1);
        if (page < body0 || (page - body0) / sizeof(arena_body) < first_bumped)
            continue;
        /* ... and one after it has its arena_meta on a page past the committed ones. */
        uintptr_t meta_end = (uintptr_t)layout_meta(ai) + sizeof(arena_meta) - 1;
        for (size_t a = ai + 1; (uintptr_t)&pypper_heap_layout.body[a] < page + PAGE_SIZE; a++)
            if (((uintptr_t)layout_meta(a) >> PAGE_SHIFT) > (meta_end >> PAGE_SHIFT))
                found = true;
        last = ai;
    }
    CHECK(found);
    for (size_t i = 0; i < n; i++)
        layout_meta(taken[i])->kind = ARENA_FREE;
    if (found)
        region_release_arenas(last, 1, true);           /* discards its records' pages */
    for (size_t i = 0; i < n; i++)
        if (taken[i] != last || !found)
            region_release_arenas(taken[i], 1, true);
}

/* Medium blocks: 32-byte units, lookups from any interior address, double and
 * interior frees refused, freed runs merged and reused by other sizes (first fit), in-place
 * resizing, and the arena returned once empty. */
static void test_medium(void)
{
    enum { N = 64 };
    char *b[N];
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    uint64_t invalid = st.invalid_frees;
    for (int i = 0; i < N; i++) {
        size_t n = 600 + (size_t)i * 400;          /* 600 B .. 25.8 KiB */
        b[i] = pypper_heap_malloc(n);
        CHECK(b[i] && ((uintptr_t)b[i] % MEDIUM_UNIT) == 0);
        memset(b[i], i, n);
        pypper_block_info info;
        pypper_heap_lookup(b[i] + n - 1, &info);
        CHECK(info.kind == PYPPER_BLOCK_MEDIUM && info.block == b[i] && info.allocated);
        CHECK(info.size == (n + MEDIUM_UNIT - 1) / MEDIUM_UNIT * MEDIUM_UNIT);
    }
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_FAST].medium_blocks >= N);
    /* A medium arena's pool records stay zero (its unit bitmaps are its slots'
     * allocation bitmaps, Objects/medium.c): frees there never take the pooled path. */
    const pool_meta *records = layout_arena_pools(layout_arena_index(b[0]));
    bool untouched = true;
    for (unsigned i = 0; i < POOLS_PER_ARENA; i++)
        untouched = untouched && records[i].size == 0 && records[i].base == NULL
                    && records[i].freelist == NULL && records[i].nalloc == 0;
    CHECK(untouched);
    CHECK(medium_used_bits(layout_meta(layout_arena_index(b[0])))[0] != 0);
    /* Free two neighbours: the merged hole takes one block of their combined size. */
    char *lo = b[10], *hi = b[11];
    bool adjacent = hi == lo + (600 + 10 * 400 + MEDIUM_UNIT - 1) / MEDIUM_UNIT * MEDIUM_UNIT;
    pypper_heap_free(lo);
    pypper_heap_free(hi);
    pypper_heap_free(hi);                              /* double free */
    pypper_heap_free(b[12] + MEDIUM_UNIT);             /* interior, unit-aligned */
    pypper_heap_free(b[12] + 16);                      /* interior, misaligned */
    pypper_block_info info;
    pypper_heap_lookup(lo + 100, &info);
    CHECK(info.kind == PYPPER_BLOCK_MEDIUM && !info.allocated);
    if (adjacent) {
        char *merged = pypper_heap_malloc(600 + 10 * 400 + 600 + 11 * 400);
        CHECK(merged == lo);
        b[10] = merged;
    } else {
        b[10] = pypper_heap_malloc(1000);
    }
    b[11] = NULL;
    for (int i = 12; i < N; i++)
        CHECK((unsigned char)b[i][0] == i && (unsigned char)b[i][600 + i * 400 - 1] == i);
    /* Grow in place into a freed neighbour, then shrink in place. */
    pypper_heap_free(b[31]);
    b[31] = NULL;
    char *g = pypper_heap_realloc(b[30], 600 + 30 * 400 + 2000);
    CHECK(g == b[30] && (unsigned char)g[600 + 30 * 400 - 1] == 30);
    b[30] = pypper_heap_realloc(g, 1000);
    CHECK(b[30] == g && (unsigned char)g[999] == 30);
    pypper_heap_lookup(g, &info);
    CHECK(info.size == 1024);
    for (int i = 0; i < N; i++)
        pypper_heap_free(b[i]);
    pypper_heap_get_stats(&st);
    CHECK(st.invalid_frees == invalid + 3);
    CHECK(st.tier[PYPPER_TIER_FAST].medium_blocks == 0);
    CHECK(st.tier[PYPPER_TIER_FAST].medium_arenas <= 1);

    /* Address-ordered first fit across arenas, including one that was full (closed)
     * and gets room again: a freed hole is reused unless a lower one exists. */
    enum { M = 3000 };
    char **many = malloc(M * sizeof(char *));
    for (int i = 0; i < M; i++) {
        many[i] = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 1024);
        CHECK(many[i] != NULL);
        many[i][0] = (char)i;
    }
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_SLOW].medium_arenas >= 3);
    for (int i = 100; i < M; i += 1000) {
        char *hole = many[i];
        pypper_heap_free(hole);
        many[i] = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 1000);
        CHECK(many[i] != NULL && many[i] <= hole);
        many[i][0] = (char)i;
    }
    /* A hole past whole summary words of full bitmap words (64 of them: 2,048 units)
     * is still found first. */
    {
        char *hole = many[1024 + 500];
        pypper_heap_free(hole);
        many[1024 + 500] = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 1000);
        CHECK(many[1024 + 500] == hole);
        many[1024 + 500][0] = (char)(1024 + 500);
    }
    /* The summary the search skips full words by matches the used bitmap. */
    bool summary_ok = true;
    for (int i = 0; i < M; i += 97) {
        const arena_meta *am = layout_meta(layout_arena_index(many[i]));
        const uint64_t *used = medium_used_bits(am);
        for (unsigned w = 0; w < MEDIUM_WORDS; w++)
            summary_ok = summary_ok && ((layout_medium(am)->full_words[w / 64] >> (w % 64)) & 1u)
                                           == (used[w] == ~(uint64_t)0);
    }
    CHECK(summary_ok);
    for (int i = 0; i < M; i++) {
        CHECK(many[i][0] == (char)i);
        pypper_heap_free(many[i]);
    }
    free(many);
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_SLOW].medium_blocks == 0);
}

/* Repeated requests of one length between two bucket lengths (35 units: re's scanner
 * objects) over holes a little too short (33 units, the same bucket): each is the
 * first fit, found from where the last one was (Objects/medium.c, run_memo), and a
 * free that leaves a long enough run lower down is taken next. */
static void test_medium_first_fit_memo(void)
{
    enum { PAIRS = 40, HOLE = 33 * 32, SEP = 17 * 32, ASK = 35 * 32 };
    char *hole[PAIRS], *sep[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        hole[i] = pypper_heap_malloc_in(PYPPER_TIER_SLOW, HOLE);
        sep[i] = pypper_heap_malloc_in(PYPPER_TIER_SLOW, SEP);
        CHECK(hole[i] && sep[i]);
    }
    bool packed = true;                 /* the pairs lie one after another */
    for (int i = 0; i < PAIRS; i++)
        packed = packed && sep[i] == hole[i] + HOLE && (i == 0 || hole[i] == sep[i - 1] + SEP);
    CHECK(packed);
    for (int i = 0; i < PAIRS; i++)
        pypper_heap_free(hole[i]);
    /* No 33-unit hole holds 35 units: the first fit lies past the pairs, every time. */
    char *first = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    CHECK(first && first >= sep[PAIRS - 1] + SEP);
    bool same = true;
    for (int r = 0; r < 1000; r++) {
        pypper_heap_free(first);
        char *again = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
        same = same && again == first;
        first = again;
    }
    CHECK(same);
    /* A separator freed: its two neighbouring holes and it make a run of 83 units at
     * hole 5, below the memo: the next request takes it. */
    pypper_heap_free(sep[5]);
    sep[5] = NULL;
    char *low = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    CHECK(low == hole[5]);
    /* And the next one the rest of that run (83 - 35 = 48 units). */
    char *next = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    CHECK(next == hole[5] + ASK);
    pypper_heap_free(low);
    pypper_heap_free(next);
    pypper_heap_free(first);
    for (int i = 0; i < PAIRS; i++)
        pypper_heap_free(sep[i]);
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_SLOW].medium_blocks == 0);
}

/* The medium block freed last is held back for the next request of its length (LIFO,
 * even with a lower hole that fits); to the stats and lookups it is free at once, a
 * second free of it is an invalid free, and any other medium request, resize or free
 * of the tier frees it for good (merged with its neighbours: the first fit finds the
 * merged hole). The last block of an arena is not held: the arena goes at once. */
static size_t held_lo, held_hi, held_hits;
static void count_held_pages(size_t page, unsigned tier, void *ctx)
{
    (void)tier;
    (void)ctx;
    held_hits += page >= held_lo && page < held_hi;
}

static void test_medium_held(void)
{
    enum { ASK = 4129, UNITS_ASK = 130 };       /* bytes(4096): 130 units */
    char *low = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    char *keep = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 700);
    char *a = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    char *b = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    CHECK(low && keep && a && b && low < a && a < b);
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    uint64_t blocks = st.tier[PYPPER_TIER_SLOW].medium_blocks, invalid = st.invalid_frees;
    uint64_t in_use_and_free = st.tier[PYPPER_TIER_SLOW].bytes_in_use
                               + st.tier[PYPPER_TIER_SLOW].medium_free_bytes;
    pypper_heap_free(low);                      /* freed for good by the next free */
    pypper_heap_free(b);                        /* held */
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_SLOW].medium_blocks == blocks - 2);
    pypper_block_info info;
    pypper_heap_lookup(b + 10, &info);
    CHECK(info.kind == PYPPER_BLOCK_MEDIUM && !info.allocated);
    CHECK(medium_usable(layout_meta(layout_arena_index(b)), b) == 0);
    /* Free to the page walks and the free-byte count too (a review's finding): the
     * whole pages of a held 32 KiB block are not listed used. */
    char *keep2 = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 32768);
    char *big = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 32768);
    pypper_heap_free(big);                      /* held (b for good) */
    held_lo = (size_t)(big - (char *)pypper_heap_base()) / PAGE_SIZE + 1;
    held_hi = (size_t)(big + 32768 - (char *)pypper_heap_base()) / PAGE_SIZE;
    held_hits = 0;
    pypper_heap_for_each_used_page(count_held_pages, NULL);
    CHECK(held_hi > held_lo && held_hits == 0);
    pypper_heap_free(keep2);                    /* big for good */
    b = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    pypper_heap_free(b);                        /* held again */
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_SLOW].bytes_in_use + st.tier[PYPPER_TIER_SLOW].medium_free_bytes
          == in_use_and_free);
    pypper_heap_free(b);                        /* a double free */
    pypper_heap_get_stats(&st);
    CHECK(st.invalid_frees == invalid + 1);
    char *again = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    CHECK(again == b);                          /* held: not the lower hole at `low` */
    pypper_heap_free(again);
    /* Three adjacent blocks among a few made. */
    enum { FEW = 8 };
    char *few[FEW];
    int at = -1;
    for (int i = 0; i < FEW; i++) {
        few[i] = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
        if (at < 0 && i > 1 && few[i] == few[i - 1] + UNITS_ASK * MEDIUM_UNIT
            && few[i - 1] == few[i - 2] + UNITS_ASK * MEDIUM_UNIT)
            at = i - 2;
    }
    CHECK(at >= 0);
    /* Another length: the held block goes first, merged with its free neighbour, a
     * hole of 260 units at few[at] (or a lower one). */
    pypper_heap_free(few[at]);                  /* held */
    pypper_heap_free(few[at + 1]);              /* few[at] for good, few[at + 1] held */
    char *merged = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 2 * UNITS_ASK * MEDIUM_UNIT);
    CHECK(merged && merged <= few[at]);
    pypper_heap_free(merged);
    /* A resize grows into a held neighbour. */
    char *c = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK), *d = NULL;
    if (c == few[at])
        d = pypper_heap_malloc_in(PYPPER_TIER_SLOW, ASK);
    CHECK(c && (c != few[at] || d == few[at + 1]));
    if (d) {
        pypper_heap_free(d);                    /* held */
        CHECK(pypper_heap_realloc(c, 2 * ASK) == c);
    }
    for (int i = 0; i < FEW; i++)
        if (i != at && i != at + 1)
            pypper_heap_free(few[i]);
    pypper_heap_free(c);
    pypper_heap_free(a);
    pypper_heap_free(keep);
    /* The last block of an arena: not held, the arena is released (not the tier's
     * only medium arena: a full first arena's neighbour). */
    pypper_heap_get_stats(&st);
    uint64_t arenas = st.tier[PYPPER_TIER_SLOW].medium_arenas;
    enum { FILL = 200 };
    static char *fill[FILL];
    for (int i = 0; i < FILL; i++)
        fill[i] = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 8000);
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_SLOW].medium_arenas > arenas);
    for (int i = 0; i < FILL; i++)
        pypper_heap_free(fill[i]);
    pypper_heap_get_stats(&st);
    CHECK(st.tier[PYPPER_TIER_SLOW].medium_arenas <= (arenas ? arenas : 1)
          && st.tier[PYPPER_TIER_SLOW].medium_blocks == 0);
}

static void test_calloc_realloc(void)
{
    for (size_t n = 1; n < (4u << 20); n = n * 3 + 7) {
        unsigned char *p = pypper_heap_calloc(n, 1);
        CHECK(p != NULL);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += p[i] != 0;
        CHECK(bad == 0);
        memset(p, 0xAB, n);
        pypper_heap_free(p);
    }
    CHECK(pypper_heap_calloc(SIZE_MAX / 2, 4) == NULL);
    /* Grow a block through every range, keeping its contents. */
    unsigned char *p = pypper_heap_malloc(1);
    p[0] = 1;
    size_t n = 1;
    while (n < (3u << 20)) {
        size_t m = n + n / 2 + 1;
        p = pypper_heap_realloc(p, m);
        CHECK(p != NULL);
        for (size_t i = n; i < m; i++)
            p[i] = (unsigned char)(i * 7);
        n = m;
    }
    size_t bad = p[0] != 1;
    for (size_t i = 1; i < n; i++)
        bad += p[i] != (unsigned char)(i * 7);
    CHECK(bad == 0);
    p = pypper_heap_realloc(p, 10);     /* shrink back to a pooled block */
    pypper_block_info info;
    pypper_heap_lookup(p, &info);
    CHECK(info.kind == PYPPER_BLOCK_SMALL && p[0] == 1);
    pypper_heap_free(p);
}

static void test_release_and_retain(void)
{
    enum { N = 20000 };
    static void *ptrs[N];
    pypper_heap_stats st0, st1, st2;
    pypper_heap_trim();                  /* no idle arenas left by earlier tests */
    pypper_heap_get_stats(&st0);
    for (int i = 0; i < N; i++)
        ptrs[i] = pypper_heap_malloc(256);
    pypper_heap_get_stats(&st1);
    CHECK(st1.tier[0].arenas > st0.tier[0].arenas);
    CHECK(st1.tier[0].blocks_in_use >= st0.tier[0].blocks_in_use + N);
    /* Retained: freeing everything keeps the arenas. */
    pypper_heap_set_retain(true);
    for (int i = 0; i < N; i++)
        pypper_heap_free(ptrs[i]);
    pypper_heap_get_stats(&st2);
    CHECK(st2.tier[0].arenas == st1.tier[0].arenas);
    CHECK(st2.tier[0].blocks_in_use == st0.tier[0].blocks_in_use);
    /* Retention off: empty arenas are released (one kept per kind); what stays
     * committed is idle memory within the retention bound... */
    pypper_heap_set_retain(false);
    pypper_heap_get_stats(&st2);
    CHECK(st2.arenas_released > st1.arenas_released);
    CHECK(st2.idle_bytes <= st2.retain_bound);
    CHECK(st2.tier[0].arenas <= st0.tier[0].arenas + 1 + (st2.retain_bound >> ARENA_SHIFT));
    /* ...and a trim gives that back too. */
    pypper_heap_trim();
    pypper_heap_get_stats(&st2);
    CHECK(st2.tier[0].arenas <= st0.tier[0].arenas + 1);
}

static void test_budget(void)
{
    pypper_heap_set_fast_budget(1, 0.0);          /* one byte: everything is over */
    void *p = pypper_heap_malloc(600000);        /* a new arena re-evaluates */
    void *q = pypper_heap_malloc(600000);
    pypper_block_info info;
    pypper_heap_lookup(q, &info);
    CHECK(info.tier == PYPPER_TIER_SLOW);
    pypper_heap_free(p);
    pypper_heap_free(q);
    pypper_heap_set_fast_budget(0, 100.0);
    p = pypper_heap_malloc(600000);
    pypper_heap_lookup(p, &info);
    CHECK(info.tier == PYPPER_TIER_FAST);
    pypper_heap_free(p);
    /* Page runs that grow the heap of pages at its end weigh the budget too: until a
     * review on 2026-12-07 only new arenas did, and 64 blocks of 1 MiB under a budget
     * of 8 MiB all went to the fast tier. */
    pypper_heap_stats st0, st1;
    pypper_heap_get_stats(&st0);
    pypper_heap_set_fast_budget((st0.tier[PYPPER_TIER_FAST].pages << PAGE_SHIFT) + (4u << 20), 0.0);
    enum { RUNS = 16 };
    void *runs[RUNS];
    int slow = 0;
    for (int i = 0; i < RUNS; i++) {
        runs[i] = pypper_heap_malloc(1u << 20);
        pypper_heap_lookup(runs[i], &info);
        slow += info.tier == PYPPER_TIER_SLOW;
    }
    pypper_heap_get_stats(&st1);
    CHECK(slow >= RUNS / 2);
    CHECK(st1.tier[PYPPER_TIER_FAST].pages <= st0.tier[PYPPER_TIER_FAST].pages + 7 * PAGES_PER_ARENA);
    for (int i = 0; i < RUNS; i++)
        pypper_heap_free(runs[i]);
    pypper_heap_set_fast_budget(0, 100.0);
}

/* xorshift: deterministic and fast. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t random_size(void)
{
    uint64_t r = rnd() % 100;
    if (r < 70) return rnd() % 513;
    if (r < 90) return 513 + rnd() % (MEDIUM_MAX - 512);
    if (r < 99) return MEDIUM_MAX + 1 + rnd() % (LARGE_MAX - MEDIUM_MAX);
    return LARGE_MAX + 1 + rnd() % (3u << 20);
}

typedef struct { unsigned char *p; size_t n; unsigned char seed; } live_block;

static void fill(live_block *b)
{
    for (size_t i = 0; i < b->n; i++)
        b->p[i] = (unsigned char)(b->seed + i * 31);
}

static int intact(const live_block *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->p[i] != (unsigned char)(b->seed + i * 31))
            return 0;
    return 1;
}

static void test_stress(void)
{
    enum { SLOTS = 3000, OPS = 120000 };
    static live_block live[SLOTS];
    size_t corrupt = 0, failed = 0;
    for (int op = 0; op < OPS; op++) {
        live_block *b = &live[rnd() % SLOTS];
        pypper_placement_set_scope((op / 1000) % 3 == 0 ? -1 : (int)((op / 1000) % 2));
        unsigned kind = (unsigned)(rnd() % 4);
        if (b->p) {
            corrupt += !intact(b);
            if (kind == 0) {
                size_t n = random_size();
                unsigned char *q = pypper_heap_realloc(b->p, n ? n : 1);
                if (!q) { failed++; continue; }
                b->p = q;
                if (n < b->n) b->n = n;
                corrupt += !intact(b);
                b->n = n;
                fill(b);
            } else {
                pypper_heap_free(b->p);
                b->p = NULL;
            }
        } else {
            b->n = random_size();
            b->seed = (unsigned char)rnd();
            b->p = kind == 1 ? pypper_heap_calloc(1, b->n) : pypper_heap_malloc(b->n);
            if (!b->p) { failed++; continue; }
            fill(b);
        }
        if (op % 20000 == 0)
            pypper_heap_set_retain(op % 40000 == 0);
    }
    pypper_placement_set_scope(-1);
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    uint64_t live_count = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (live[i].p) {
            live_count++;
            corrupt += !intact(&live[i]);
            pypper_block_info info;
            pypper_heap_lookup(live[i].p, &info);
            CHECK(info.allocated && info.block == live[i].p && info.size >= live[i].n);
            pypper_heap_free(live[i].p);
        }
    }
    CHECK(st.tier[0].blocks_in_use + st.tier[1].blocks_in_use >= live_count);
    CHECK(st.tier[1].blocks_in_use > 0);
    CHECK(corrupt == 0);
    CHECK(failed == 0);
    pypper_heap_set_retain(false);
    pypper_heap_get_stats(&st);
    CHECK(st.tier[0].bytes_in_use + st.tier[1].bytes_in_use < (1u << 20));
    CHECK(st.invalid_frees == 7 + run_color_invalid);   /* those of the tests before only */
}

/* A large arena of tier t whose first idle pages go on from the arena before it (a
 * run that starts there), at least 4 of them: the count in *head; or NULL. */
static arena_meta *idle_head_from_before(unsigned t, unsigned *head)
{
    for (arena_meta *m = pypper_heap.tiers[t].large_arenas; m; m = m->next) {
        size_t ai = layout_meta_index(m);
        if ((ai & (pypper_heap_layout.arenas_per_tier - 1)) == 0)
            continue;
        const arena_meta *p = layout_meta(ai - 1);
        const large_body *lb = layout_large(m);
        if (p->kind != ARENA_LARGE || p->tier != t || !(layout_large(p)->page_idle[3] >> 63))
            continue;
        unsigned h = 0;
        while (h < PAGES_PER_ARENA && (lb->page_idle[h >> 6] >> (h & 63) & 1u))
            h++;
        if (h >= 4 && h < PAGES_PER_ARENA) {
            *head = h;
            return m;
        }
    }
    return NULL;
}

/* Page runs' best fit with run bounds (Objects/page_runs.c): after each step of a
 * random mix of page-run allocations and frees in both tiers (runs across arena
 * edges, idle pages purged, some locked so that the kernel keeps them, wholly free
 * arenas lent to medium blocks), every bound
 * holds, and the bounded search finds the run that reading every large arena finds,
 * for lengths from 1 page to PAGE_RUN_MAX. */
static void test_page_run_bounds(void)
{
    enum { SLOTS = 300, MEDIUMS = 64, OPS = 4000 };
    static char *run[SLOTS], *medium[MEDIUMS];
    size_t steps = 0, held = 0, lent_before = 0, heads = 0;
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    lent_before = st.arenas_released;
    for (int op = 0; op < OPS; op++) {
        int i = (int)(rnd() % SLOTS);
        if (run[i]) {
            pypper_heap_free(run[i]);
            run[i] = NULL;
        } else {
            size_t n = rnd() % 8 ? MEDIUM_MAX + 1 + rnd() % (LARGE_MAX - MEDIUM_MAX)
                                 : LARGE_MAX + 1 + rnd() % (PAGE_RUN_MAX - LARGE_MAX);
            run[i] = pypper_heap_malloc_in((unsigned)(rnd() % 2), n);
            CHECK(run[i] != NULL);
        }
        if (op % 16 == 0) {             /* medium arenas come and go beside them */
            int k = (int)(rnd() % MEDIUMS);
            if (medium[k]) {
                pypper_heap_free(medium[k]);
                medium[k] = NULL;
            } else {
                medium[k] = pypper_heap_malloc_in((unsigned)(rnd() % 2), MEDIUM_MAX);
            }
        }
        if (op % 8 == 0) {              /* idle pages given back, from an arena's end */
            unsigned t = (unsigned)(rnd() % 2);
            size_t k = rnd() % 16;
            arena_meta *m = pypper_heap.tiers[t].large_arenas;
            while (m && m->next && k--)
                m = m->next;
            bool refused;
            /* Half the time with some of its pages locked: the kernel keeps them, and
             * the purge goes on below them (ignored under AddressSanitizer). */
            char *locked = NULL;
            size_t lock_len = (rnd() % 16 + 1) << PAGE_SHIFT;
            if (m && rnd() % 2) {
                locked = layout_arena_base(layout_meta_index(m))
                         + ((rnd() % (PAGES_PER_ARENA - 16)) << PAGE_SHIFT);
                if (mlock(locked, lock_len) != 0)
                    locked = NULL;
            }
            if (m)
                large_purge(m, (rnd() % 64 + 1) << PAGE_SHIFT, &refused);
            if (locked)
                munlock(locked, lock_len);
        }
        unsigned head;
        arena_meta *hm;
        if (op % 8 == 4 && (hm = idle_head_from_before((unsigned)(op / 8) & 1u, &head))) {
            /* Such a head run, all but its first two pages locked, and the arena's idle
             * pages purged: what the kernel keeps is a run that starts in the arena. */
            char *locked = layout_arena_base(layout_meta_index(hm)) + 2 * PAGE_SIZE;
            size_t lock_len = (size_t)(head - 2) << PAGE_SHIFT;
            bool refused, lock = mlock(locked, lock_len) == 0;
            large_purge(hm, (uint64_t)hm->idle_pages << PAGE_SHIFT, &refused);
            if (lock)
                munlock(locked, lock_len);
            heads++;
        }
        if (op % 64 == 0)               /* wholly free idle arenas lent to the region */
            large_lend_free((unsigned)(rnd() % 2), 1 + rnd() % 2);
        if (op % 1000 == 999)
            pypper_heap_trim();
        for (unsigned t = 0; t < HEAP_TIERS; t++) {
            steps++;
            held += page_runs_check(t, 1 + rnd() % (PAGE_RUN_MAX >> PAGE_SHIFT));
        }
    }
    CHECK(held == steps);
    CHECK(heads > 0);
    for (int i = 0; i < SLOTS; i++)
        pypper_heap_free(run[i]);
    for (int k = 0; k < MEDIUMS; k++)
        pypper_heap_free(medium[k]);
    for (unsigned t = 0; t < HEAP_TIERS; t++)
        CHECK(page_runs_check(t, 1) && page_runs_check(t, 64) && page_runs_check(t, 300));
    pypper_heap_get_stats(&st);
    CHECK(st.arenas_released > lent_before);    /* (arenas did leave the page heap) */
    /* A zone of 100 wholly free arenas kept (a review's case): a free run of 102,400
     * pages, more than a bound counts. */
    enum { BIG = 100 };
    static char *big[BIG];
    pypper_heap_set_retain(true);
    for (int i = 0; i < BIG; i++)
        big[i] = pypper_heap_malloc_in(PYPPER_TIER_FAST, PAGE_RUN_MAX);
    for (int i = 0; i < BIG; i++)
        pypper_heap_free(big[i]);
    CHECK(page_runs_check(PYPPER_TIER_FAST, 1) && page_runs_check(PYPPER_TIER_FAST, 1024));
    pypper_heap_set_retain(false);
    pypper_heap_trim();
}

/* Tracked bits: set for the block holding an object (small, medium, large) 0, 16 or
 * 32 bytes in, refused twice, elsewhere in a block and for free or foreign memory,
 * walked in address order, cleared and counted (noted ones too) by the free path
 * while tracking is on (the pool fast path and the others alike). */
static void test_tracking(void)
{
    char *s = pypper_heap_malloc(48), *m = pypper_heap_malloc(3000);
    char *l = pypper_heap_malloc(100000), *plain = pypper_heap_malloc(48);
    char *d = pypper_heap_domain_malloc(NULL, 64);
    int local;
    uint64_t freed = pypper_heap_tracked_frees();
    pypper_heap_set_tracking(true);
    CHECK(pypper_heap_track_containing(s + 20) == NULL);       /* no object starts there */
    CHECK(pypper_heap_track_containing(m + 2999) == NULL);
    CHECK(pypper_heap_track_containing(s + 16) == s);          /* after a GC header */
    CHECK(pypper_heap_track_containing(s) == NULL);            /* already tracked */
    CHECK(pypper_heap_track_containing(m + 32) == m);
    CHECK(pypper_heap_track_containing(l) == l);
    CHECK(pypper_heap_tracked_object(s) == s + 16 && pypper_heap_tracked_object(m) == m + 32
          && pypper_heap_tracked_object(l) == l);
    CHECK(pypper_heap_track_containing(d) == d);
    CHECK(pypper_heap_track_containing(&local) == NULL);
    CHECK(pypper_heap_is_tracked(s) && pypper_heap_is_tracked(m) && !pypper_heap_is_tracked(plain));
    CHECK(pypper_heap_probe_tracked(s) && !pypper_heap_probe_tracked(s + 16));
    CHECK(!pypper_heap_probe_tracked(&local) && !pypper_heap_probe_mapped(&local));
    /* The walk: every tracked block once, in address order, with its object. */
    {
        /* One in the slow tier too: the walk passes the fast tier's uncommitted end. */
        char *slow = pypper_heap_malloc_in(PYPPER_TIER_SLOW, 48);
        CHECK(slow && pypper_heap_track_containing(slow) == slow);
        char *want[5] = {s, m, l, d, slow};
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++)
                if (want[j] < want[i]) {
                    char *t = want[i];
                    want[i] = want[j];
                    want[j] = t;
                }
        pypper_heap_note(m);
        pypper_heap_note(plain);                /* not tracked: nothing */
        CHECK(pypper_heap_is_noted(m) && !pypper_heap_is_noted(plain));
        uint64_t cursor = 0;
        pypper_tracked_block t;
        int n = 0;
        while (pypper_heap_tracked_next(&cursor, UINT64_MAX, &t)) {
            CHECK(n < 5 && t.block == want[n] && t.object == pypper_heap_tracked_object(t.block)
                  && t.noted == (t.block == m));
            n++;
        }
        CHECK(n == 5 && cursor <= pypper_heap_granule_end() && want[4] == slow);
        cursor = pypper_heap_granule_of(m);                    /* a window of one granule */
        CHECK(pypper_heap_tracked_next(&cursor, pypper_heap_granule_of(m) + 1, &t) && t.block == m
              && !pypper_heap_tracked_next(&cursor, pypper_heap_granule_of(m) + 1, &t)
              && cursor == pypper_heap_granule_of(m) + 1);
        pypper_heap_free(slow);
    }
    uint64_t noted_freed = pypper_heap_noted_frees();
    pypper_heap_free(plain);
    CHECK(pypper_heap_tracked_frees() == freed + 1);            /* the slow one only */
    /* A block's next object, at another offset, has its own head. */
    pypper_heap_free(s);
    char *s2 = pypper_heap_malloc(48);
    CHECK(s2 == s && pypper_heap_track_containing(s2) == s2 && pypper_heap_tracked_object(s2) == s2);
    pypper_heap_free(s2);
    char *s3 = pypper_heap_malloc(48);
    CHECK(s3 == s && pypper_heap_track_containing(s3 + 32) == s3
          && pypper_heap_tracked_object(s3) == s3 + 32 && !pypper_heap_is_noted(s3));
    pypper_heap_free(s3);
    pypper_heap_free(m);
    pypper_heap_domain_free(NULL, d);                          /* the domain fast path */
    CHECK(pypper_heap_tracked_frees() == freed + 6 && pypper_heap_noted_frees() == noted_freed + 1);
    CHECK(!pypper_heap_is_noted(m));
    CHECK(!pypper_heap_is_tracked(s) && !pypper_heap_is_tracked(d) && !pypper_heap_probe_tracked(m));
    CHECK(pypper_heap_probe_mapped(s));                        /* freed, still mapped */
    CHECK(pypper_heap_track_containing(s) == NULL);            /* freed */
    pypper_heap_untrack(l);
    pypper_heap_free(l);
    CHECK(pypper_heap_tracked_frees() == freed + 6);
    /* Clearing every bit at once (a session's end, a forked child). */
    char *a = pypper_heap_malloc(32), *b = pypper_heap_malloc(5000), *c = pypper_heap_malloc(200000);
    CHECK(pypper_heap_track_containing(a) == a && pypper_heap_track_containing(b) == b
          && pypper_heap_track_containing(c) == c);
    CHECK(pypper_heap_untrack_all());
    CHECK(!pypper_heap_is_tracked(a) && !pypper_heap_is_tracked(b) && !pypper_heap_is_tracked(c));
    CHECK(!pypper_heap_probe_tracked(a) && pypper_heap_probe_mapped(a));
    CHECK(pypper_heap_track_containing(b) == b && pypper_heap_is_tracked(b));  /* again */
    pypper_heap_free(a);
    pypper_heap_free(b);
    pypper_heap_free(c);
    CHECK(pypper_heap_tracked_frees() == freed + 7);
    pypper_heap_set_tracking(false);
}

/* State bits: noted and before are a tracked block's own (before sits in its second
 * granule's bit, the next group's first after a block at bit 63), kept apart from its
 * neighbours', cleared by the free path; a 16-byte block has no before bit (its
 * second granule is the next block's). */
static void test_tracking_state(void)
{
    pypper_heap_set_tracking(true);
    char *t1 = pypper_heap_malloc(16), *t2 = pypper_heap_malloc(16);
    CHECK(t1 && t2 == t1 + 16);
    CHECK(!pypper_heap_mark_before(t1));                        /* not tracked */
    CHECK(pypper_heap_track_block(t1, t1) == 2 && pypper_heap_track_containing(t2) == t2);
    pypper_heap_note(t2);
    CHECK(!pypper_heap_mark_before(t1) && !pypper_heap_is_before(t1) && pypper_heap_is_noted(t2)
          && !pypper_heap_is_noted(t1));
    pypper_heap_untrack(t1);
    CHECK(pypper_heap_is_noted(t2) && !pypper_heap_is_tracked(t1));
    CHECK(pypper_heap_track_block(t1, t1) == 2 && pypper_heap_is_noted(t2));
    pypper_heap_free(t1);                                       /* the free path too */
    CHECK(pypper_heap_is_noted(t2) && pypper_heap_is_tracked(t2));
    pypper_heap_free(t2);
    CHECK(!pypper_heap_is_noted(t2) && !pypper_heap_is_tracked(t2));
    /* 48-byte blocks: one starts at bit 63 of its group (granules 0, 3, ..., 63). */
    char *blocks[64] = {0}, *edge = NULL;
    int n = 0;
    for (; n < 64 && !edge; n++) {
        blocks[n] = pypper_heap_malloc(48);
        if (n > 0 && (pypper_heap_granule_of(blocks[n]) & 63) == 63
            && blocks[n - 1] + 48 == blocks[n])
            edge = blocks[n];
    }
    CHECK(edge != NULL);
    if (edge) {
        char *prev = edge - 48, *next = pypper_heap_malloc(48);
        CHECK(next == edge + 48);
        CHECK(pypper_heap_track_block(prev, prev + 16) == 2 && pypper_heap_track_block(edge, edge + 16) == 2
              && pypper_heap_track_block(next, next + 16) == 2);
        CHECK(pypper_heap_mark_before(edge));
        CHECK(pypper_heap_is_before(edge) && !pypper_heap_is_noted(edge)
              && !pypper_heap_is_before(prev) && !pypper_heap_is_before(next) && !pypper_heap_is_noted(next));
        pypper_heap_note(edge);
        pypper_heap_note(prev);
        CHECK(pypper_heap_is_before(edge) && pypper_heap_is_noted(edge) && pypper_heap_is_noted(prev)
              && !pypper_heap_is_before(prev) && !pypper_heap_is_noted(next));
        pypper_heap_unnote(edge);
        CHECK(pypper_heap_is_before(edge) && !pypper_heap_is_noted(edge) && pypper_heap_is_noted(prev));
        pypper_heap_note(edge);
        uint64_t cursor = pypper_heap_granule_of(prev);
        pypper_tracked_block t;
        CHECK(pypper_heap_tracked_next(&cursor, UINT64_MAX, &t) && t.block == prev && t.noted && !t.before);
        CHECK(pypper_heap_tracked_next(&cursor, UINT64_MAX, &t) && t.block == edge && t.noted && t.before
              && t.object == edge + 16);
        CHECK(pypper_heap_tracked_next(&cursor, UINT64_MAX, &t) && t.block == next && !t.noted && !t.before);
        /* The free path clears the freed block's state only. */
        uint64_t noted_freed = pypper_heap_noted_frees();
        pypper_heap_free(edge);
        CHECK(pypper_heap_noted_frees() == noted_freed + 1 && !pypper_heap_is_tracked(edge)
              && !pypper_heap_is_noted(edge) && !pypper_heap_is_before(edge));
        CHECK(pypper_heap_is_noted(prev) && pypper_heap_is_tracked(next) && !pypper_heap_is_noted(next));
        /* Its next object starts with a clean state. */
        char *again = pypper_heap_malloc(48);
        CHECK(again == edge && pypper_heap_track_block(again, again) == 2 && !pypper_heap_is_before(again)
              && !pypper_heap_is_noted(again) && pypper_heap_tracked_object(again) == again);
        CHECK(pypper_heap_mark_before(again));
        pypper_heap_untrack(again);
        CHECK(!pypper_heap_is_tracked(again) && !pypper_heap_is_before(again));
        pypper_heap_free(again);
        pypper_heap_free(next);
        n--;                                                    /* edge was blocks[n - 1] */
        blocks[n] = NULL;
    }
    for (int i = 0; i < n; i++)
        pypper_heap_free(blocks[i]);
    pypper_heap_set_tracking(false);
}

/* The walk over large arenas reads their runs, not their bitmaps: page runs of many
 * lengths (some across arena edges, at their color offsets, in both tiers), some
 * tracked (with their objects 0, 16 or 32 bytes in), some of those freed, are walked
 * in address order, every tracked one once, and found again from a cursor just on
 * or just after each. */
static int compare_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void test_tracked_walk_large(void)
{
    enum { N = 400 };
    static char *blocks[N], *want[N];
    pypper_heap_set_tracking(true);
    pypper_heap_set_retain(true);
    int n = 0;
    for (int i = 0; i < N; i++) {
        size_t size = 9000 + (size_t)(rnd() % 700000);
        blocks[i] = pypper_heap_malloc_in(i % 5 == 4 ? PYPPER_TIER_SLOW : PYPPER_TIER_FAST, size);
        CHECK(blocks[i] != NULL);
    }
    for (int i = 0; i < N; i++) {
        if (rnd() % 3 == 0)
            continue;
        unsigned head = (unsigned)(rnd() % 3) * 16;
        CHECK(pypper_heap_track_containing(blocks[i] + head) == blocks[i]);
        if (rnd() % 4 == 0) {
            pypper_heap_free(blocks[i]);            /* tracked, freed: its bits go */
            blocks[i] = NULL;
            continue;
        }
        want[n++] = blocks[i];
    }
    qsort(want, (size_t)n, sizeof want[0], compare_ptr);
    uint64_t cursor = 0;
    pypper_tracked_block t;
    int k = 0;
    while (pypper_heap_tracked_next(&cursor, UINT64_MAX, &t)) {
        CHECK(k < n && t.block == want[k] && t.object == pypper_heap_tracked_object(t.block));
        k++;
    }
    CHECK(k == n && n > 100);
    for (int i = 0; i < n; i++) {
        uint64_t g = pypper_heap_granule_of(want[i]);
        cursor = g;
        CHECK(pypper_heap_tracked_next(&cursor, g + 1, &t) && t.block == want[i] && cursor == g + 1);
        CHECK(!pypper_heap_tracked_next(&cursor, g + 1, &t));
        cursor = g + 1;
        bool found = pypper_heap_tracked_next(&cursor, UINT64_MAX, &t);
        CHECK(i + 1 < n ? found && t.block == want[i + 1] : !found);
    }
    for (int i = 0; i < N; i++)
        if (blocks[i]) {
            pypper_heap_untrack(blocks[i]);
            pypper_heap_free(blocks[i]);
        }
    pypper_heap_set_retain(false);
    pypper_heap_trim();
    pypper_heap_set_tracking(false);
}

static int refuse_bind(unsigned tier, void *addr, size_t len)
{
    (void)tier; (void)addr; (void)len;
    return -EPERM;
}

/* A refused mbind (EPERM, a full node) is counted; the arena is used unbound. */
static void test_bind_failure(void)
{
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    uint64_t before = st.bind_failures;
    region_set_binder(refuse_bind);
    char *p = pypper_heap_malloc(64 << 20);      /* fresh arenas: bound, and refused */
    region_set_binder(NULL);
    CHECK(p != NULL);
    memset(p, 7, 64 << 20);
    pypper_heap_get_stats(&st);
    CHECK(st.bind_failures == before + 1 && st.last_bind_errno == EPERM);
    pypper_heap_free(p);
}

/* Grow a huge block from 2 MiB by half each time, `times` times, with another huge
 * block allocated after it each time (so that it cannot grow in place); whether it
 * kept its contents. */
static bool grow_huge(unsigned times)
{
    enum { MAX_TIMES = 8 };
    void *blockers[MAX_TIMES] = {0};
    size_t n = 2u << 20;
    unsigned char *p = pypper_heap_malloc(n);
    CHECK(p != NULL && times <= MAX_TIMES);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (unsigned char)(i >> 12);
    for (unsigned t = 0; t < times && p; t++) {
        size_t m = n + n / 2;
        blockers[t] = pypper_heap_malloc(PAGE_RUN_MAX + 1);
        p = pypper_heap_realloc(p, m);
        CHECK(p != NULL);
        for (size_t i = n; p && i < m; i += 4096)
            p[i] = (unsigned char)(i >> 12);
        n = m;
    }
    size_t bad = 0;
    for (size_t i = 0; p && i < n; i += 4096)
        bad += p[i] != (unsigned char)(i >> 12);
    pypper_heap_free(p);
    for (unsigned t = 0; t < times; t++)
        pypper_heap_free(blockers[t]);
    return p && bad == 0;
}

/* A growing huge block moves its pages (mremap) also while a session retains arenas
 * (its threads read the heap: both spans stay mapped), but not while the heap is
 * registered with a userfaultfd (region_remap_allowed): then it is copied. */
static void test_span_moves(void)
{
    pypper_heap_stats a, b;
    pypper_heap_set_retain(true);
    pypper_heap_get_stats(&a);
    CHECK(grow_huge(4));
    pypper_heap_get_stats(&b);
    CHECK(b.span_moves > a.span_moves);
    region_set_remap_allowed(false);
    CHECK(!region_remap_allowed());
    pypper_heap_get_stats(&a);
    CHECK(grow_huge(4));
    pypper_heap_get_stats(&b);
    CHECK(b.span_moves == a.span_moves);
    region_set_remap_allowed(true);
    pypper_heap_set_retain(false);
}

/* A forked child has no session: it stops retaining arenas. */
static void test_fork_child_stops_retaining(void)
{
    pypper_heap_set_retain(true);
    pid_t pid = fork();
    if (pid == 0) {
        enum { N = 30000 };
        static void *ptrs[N];
        pypper_heap_stats a, b;
        for (int i = 0; i < N; i++)
            ptrs[i] = pypper_heap_malloc(200);
        pypper_heap_get_stats(&a);
        for (int i = 0; i < N; i++)
            pypper_heap_free(ptrs[i]);
        pypper_heap_get_stats(&b);
        _exit(b.arenas_released > a.arenas_released ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pypper_heap_set_retain(false);
}

int main(void)
{
    test_classes();
    test_lookup_and_tiers();
    test_invalid_frees();
    test_run_colors();
    test_pool_records_reset();
    test_pool_settled();
    test_medium();
    test_medium_first_fit_memo();
    test_medium_held();
    test_tracking();
    test_tracking_state();
    test_calloc_realloc();
    test_release_and_retain();
    test_budget();
    test_bind_failure();
    test_fork_child_stops_retaining();
    test_span_moves();
    test_record_pages_past_the_committed_arenas();
    test_tracked_walk_large();
    test_page_run_bounds();
    test_stress();
    return check_report("test_heap");
}
