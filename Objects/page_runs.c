/* Objects/page_runs.c: the heap of page runs, blocks above MEDIUM_MAX that get pages
 * of their own (so that one of them can move between tiers alone): up to LARGE_MAX
 * any block, up to PAGE_RUN_MAX one that realloc does not grow. Runs lie in large
 * arenas, a page bitmap each (used, idle), and go on across the edges of adjacent
 * large arenas (a zone), so that free pages serve any size, as glibc's one heap
 * does. A run is taken, in this order: from idle pages (resident), best fit; from
 * idle released arenas (region.c); from the free window with the most idle pages;
 * by growing the zone at its end (the heap grows at its top, as glibc's does); from
 * new arenas. Each block starts at an offset in its first page that depends on
 * where the run is (its color). Freed pages stay idle (counted in retain.c) until
 * Objects/trim.c gives them back (large_purge); wholly free, all idle large arenas go
 * back to the region, idle, when another kind needs arenas (large_lend_free).
 *
 * Until 2026-12-07 runs were at most 512 KiB, inside one arena, and larger blocks
 * spans of whole arenas: the allocation suite's request loop after an 8 MiB block
 * (Tools/bench/survey/request_window.py: bodies of 1-64 KiB and a few of 256 KiB-2
 * MiB) faulted 29,000-33,000 times in 0.46-0.64 s against stock's 5,500 and 0.13 s,
 * as freed spans went back to pay for fresh pages of page runs and were faulted in
 * again by the next spans (nine policy changes traded faults for peak; Doc/heap.md);
 * now 5,800-5,900 faults, 0.13-0.21 s, peak 28.3-29.1 MB against 28.0-28.2. */
#include "heap_internal.h"
#include "page_runs.h"
#include "region.h"
#include "retain.h"
#include "../Pypper/code_size.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline bool page_used(const large_body *lb, unsigned i)
{
    return (lb->page_used[i >> 6] >> (i & 63)) & 1u;
}

#define ARENA_PAGE_SHIFT (ARENA_SHIFT - PAGE_SHIFT)

static inline bool page_idle_at(const large_body *lb, unsigned i)
{
    return (lb->page_idle[i >> 6] >> (i & 63)) & 1u;
}

/* A page's global index (from the heap's base) and back. */
static inline size_t gpage_of(const void *p)
{
    return (size_t)((uintptr_t)((const char *)p - pypper_heap_layout.base) >> PAGE_SHIFT);
}

static inline char *gpage_addr(size_t g) { return pypper_heap_layout.base + (g << PAGE_SHIFT); }

/* The large arena after arena `ai` in its zone (the arena at the next address, large
 * and of the same tier: a page run may go on into it), or NULL. */
static arena_meta *zone_next(size_t ai)
{
    size_t next = ai + 1;
    if ((next & (pypper_heap_layout.arenas_per_tier - 1)) == 0 || !region_arena_committed(next))
        return NULL;
    arena_meta *n = layout_meta(next);
    return n->kind == ARENA_LARGE ? n : NULL;
}

/* The large arena before arena `ai` in its zone, or NULL. */
static arena_meta *zone_prev(size_t ai)
{
    if ((ai & (pypper_heap_layout.arenas_per_tier - 1)) == 0)
        return NULL;
    arena_meta *p = layout_meta(ai - 1);      /* (committed: before a committed arena) */
    return p->kind == ARENA_LARGE ? p : NULL;
}

/* Best fit without reading every large arena (a heap of 400 of them, 3,000 buffers of
 * 40-200 KB replaced at random: 266 arenas and 80 runs read a search, 6% of the
 * program's time). run_bound[kind][tier][j] is an upper bound of the runs of a kind
 * (idle pages, for best_idle_run; free pages, idle or not, for most_idle_window,
 * which 4% of that program's page runs reached, 20,000 instructions each when it read
 * every arena) that start in large arena j of the tier, measured on into its zone as
 * runs_in does: every one is shorter (0: not a large arena; NO_RUN_BOUND: any length).
 * - A search that reads the arena whole lowers it to the longest run it met, plus one.
 * - Pages that become of the kind raise it to NO_RUN_BOUND, there and in the arenas
 *   before them whose tails run into them (bound_added).
 * - So does a run that starts in the arena now: its zone predecessor's last page no
 *   longer of the kind, or the predecessor gone (bound_tail_cut); pages taken or
 *   given back from a run that came from the arena before, leaving the rest (a
 *   stretch the kernel kept, in a purge it refused in part: bound_taken).
 * group_bound is an upper bound of 64 arenas' bounds. The same scheme as the medium
 * arenas' (Objects/medium.c): the bounds only let a search skip arenas that cannot
 * hold the run, so it finds what reading them all finds (tests/c/test_heap.c checks
 * after every step of a random mix). */
#define NO_RUN_BOUND UINT16_MAX
enum { IDLE_RUNS, FREE_RUNS, RUN_KINDS };
static uint16_t run_bound[RUN_KINDS][HEAP_TIERS][TIER_ARENAS_MAX];
static uint16_t group_bound[RUN_KINDS][HEAP_TIERS][TIER_ARENAS_MAX / 64];
static uint32_t large_end[HEAP_TIERS];      /* 1 + the highest large arena's index in its tier */

static inline void bound_raise(const arena_meta *m, unsigned kind)
{
    uint32_t j = layout_tier_index(m);
    run_bound[kind][m->tier][j] = NO_RUN_BOUND;
    group_bound[kind][m->tier][j >> 6] = NO_RUN_BOUND;
}

static void bound_raise_before(const arena_meta *m, unsigned kind);

/* m became a large arena (its tier set), all free: so are the free runs of the arenas
 * before it that reach it. */
PYPPER_SMALL_CODE static void bound_new_arena(const arena_meta *m)
{
    uint32_t j = layout_tier_index(m);
    if (j + 1 > large_end[m->tier])
        large_end[m->tier] = j + 1;
    bound_raise(m, IDLE_RUNS);
    bound_raise(m, FREE_RUNS);
    bound_raise_before(m, FREE_RUNS);
}

/* The runs (of a kind) that start in the arena after m now include its head run
 * (which went on from m before: m's last page is no longer of that kind, or m is no
 * longer large). */
PYPPER_SMALL_CODE __attribute__((noinline)) static void bound_tail_cut(const arena_meta *m, unsigned kind)
{
    arena_meta *n = zone_next(layout_meta_index(m));
    if (n)
        bound_raise(n, kind);
}

/* The bits of word i >> 6 from bit i up to (not including) `end`; *next: where the
 * next word's bits start. */
static uint64_t word_bits(unsigned i, unsigned end, unsigned *next)
{
    unsigned lo = i & 63, n = 64 - lo < end - i ? 64 - lo : end - i;
    *next = i + n;
    return (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << lo;
}

/* Global pages [g, g + count) cut at arena edges: each piece's arena, first page and
 * length, in address order. */
typedef struct {
    size_t at, end;
    arena_meta *m;
    unsigned first, n;
} piece_iter;

static bool next_piece(piece_iter *it)
{
    if (it->at >= it->end)
        return false;
    size_t ai = it->at >> ARENA_PAGE_SHIFT;
    it->m = layout_meta(ai);
    it->first = (unsigned)(it->at & (PAGES_PER_ARENA - 1));
    size_t left = it->end - it->at;
    it->n = PAGES_PER_ARENA - it->first < left ? PAGES_PER_ARENA - it->first : (unsigned)left;
    it->at += it->n;
    return true;
}

/* The pages a search looks for in word w of m: idle ones, or any free one. */
static inline uint64_t search_bits(const large_body *lb, unsigned w, bool idle_only)
{
    return idle_only ? lb->page_idle[w] : ~lb->page_used[w];
}

static void bound_added(const arena_meta *m, unsigned kind);

/* Pages [first, first + count) of m are no longer of `kind` (idle, free); `tail`:
 * m's last page was. The run after them, if one, starts there now: when the run they
 * were in may have come from the arena before (they start at page 0, or within a run
 * that goes back to it), a run m's bound did not cover. Taken up to m's end, the next
 * arena's head run is its own now. */
PYPPER_SMALL_CODE __attribute__((noinline)) static void bound_taken(const arena_meta *m,
                                                                    unsigned first, unsigned count,
                                                                    bool tail, unsigned kind)
{
    const large_body *lb = layout_large(m);
    bool idle = kind == IDLE_RUNS;
    unsigned after = first + count;
    if (after == PAGES_PER_ARENA) {
        if (tail)
            bound_tail_cut(m, kind);
    } else if ((search_bits(lb, after >> 6, idle) >> (after & 63) & 1u)
               && (first == 0 || (search_bits(lb, (first - 1) >> 6, idle) >> ((first - 1) & 63) & 1u))) {
        bound_raise(m, kind);
    }
}

static void mark_pages(arena_meta *m, unsigned first, unsigned count, bool used)
{
    large_body *lb = layout_large(m);
    bool tail_free = !page_used(lb, PAGES_PER_ARENA - 1);
    for (unsigned i = first, next; i < first + count; i = next) {
        uint64_t bits = word_bits(i, first + count, &next);
        if (used)
            lb->page_used[i >> 6] |= bits;
        else
            lb->page_used[i >> 6] &= ~bits;
    }
    m->free_pages = (uint16_t)(used ? m->free_pages - count : m->free_pages + count);
    if (!used)
        bound_added(m, FREE_RUNS);
    else
        bound_taken(m, first, count, tail_free, FREE_RUNS);
}

/* Pages of m became idle (free): the runs holding them may be longer, those that
 * start in m and, when its first page is idle (free), those of the arenas before it
 * whose tails reach it (back across wholly idle (free) arenas). */
PYPPER_SMALL_CODE __attribute__((noinline)) static void bound_raise_before(const arena_meta *m, unsigned kind)
{
    for (arena_meta *p = zone_prev(layout_meta_index(m)); p; p = zone_prev(layout_meta_index(p))) {
        bound_raise(p, kind);
        if ((kind == IDLE_RUNS ? p->idle_pages : p->free_pages) != PAGES_PER_ARENA)
            break;
    }
}

PYPPER_SMALL_CODE __attribute__((noinline)) static void bound_added(const arena_meta *m, unsigned kind)
{
    bound_raise(m, kind);
    if (search_bits(layout_large(m), 0, kind == IDLE_RUNS) & 1u)
        bound_raise_before(m, kind);
}

/* Pages [first, first + count) of m are idle no more (handed out, or given back):
 * the idle ones among them, their bits cleared and the run bounds told. */
static unsigned clear_idle(arena_meta *m, unsigned first, unsigned count)
{
    large_body *lb = layout_large(m);
    bool tail = page_idle_at(lb, PAGES_PER_ARENA - 1);
    unsigned idle = 0;
    for (unsigned i = first, next; i < first + count; i = next) {
        uint64_t bits = word_bits(i, first + count, &next);
        idle += (unsigned)__builtin_popcountll(lb->page_idle[i >> 6] & bits);
        lb->page_idle[i >> 6] &= ~bits;
    }
    bound_taken(m, first, count, tail, IDLE_RUNS);
    return idle;
}

/* Pages [first, first + count) of m are handed out; the idle ones among them (the
 * others read as zero: a free page that is not idle was never touched since its arena
 * was committed or taken purged, or was given back since, and large_purge keeps a
 * page idle when the kernel refuses to give it back). */
static unsigned take_idle_pages(arena_meta *m, unsigned first, unsigned count)
{
    unsigned idle = 0;
    if (m->idle_pages) {
        idle = clear_idle(m, first, count);
        m->idle_pages = (uint16_t)(m->idle_pages - idle);
        retain_idle_sub((uint64_t)idle << PAGE_SHIFT);
    }
    return idle;
}

/* Pages [first, first + count) of m were freed: they stay committed, idle. */
static void keep_pages_idle(arena_meta *m, unsigned first, unsigned count)
{
    large_body *lb = layout_large(m);
    unsigned added = 0;
    for (unsigned i = first, next; i < first + count; i = next) {
        uint64_t bits = word_bits(i, first + count, &next);
        added += (unsigned)__builtin_popcountll(~lb->page_idle[i >> 6] & bits);
        lb->page_idle[i >> 6] |= bits;
    }
    m->idle_pages = (uint16_t)(m->idle_pages + added);
    lb->idle_since = retain_now();
    retain_idle_add((uint64_t)added << PAGE_SHIFT);
    bound_added(m, IDLE_RUNS);
}

/* Global pages [g, g + count) become a run's (or its growth's): marked used, their
 * idle pages taken, the policy told of the fresh ones. Whether all were fresh. */
static bool take_pages(size_t g, size_t count, bool growing)
{
    size_t idle = 0;
    piece_iter it = {g, g + count, NULL, 0, 0};
    while (next_piece(&it)) {
        mark_pages(it.m, it.first, it.n, true);
        idle += take_idle_pages(it.m, it.first, it.n);
    }
    if (idle < count) {
        retain_note_fresh((uint64_t)(count - idle) << PAGE_SHIFT, true);
        if (!growing)
            retain_note_page_growth((uint64_t)(count - idle) << PAGE_SHIFT);
    }
    return idle == 0;
}

/* Global pages [g, g + count) were freed: free and idle. */
static void free_pages(size_t g, size_t count)
{
    piece_iter it = {g, g + count, NULL, 0, 0};
    while (next_piece(&it)) {
        mark_pages(it.m, it.first, it.n, false);
        keep_pages_idle(it.m, it.first, it.n);
    }
}

/* How many such pages lead the zone from arena `ai` + 1 on, up to `want`. */
static size_t zone_lead(size_t ai, size_t want, bool idle_only)
{
    size_t run = 0;
    for (arena_meta *n = zone_next(ai); n && run < want; n = zone_next(ai)) {
        const large_body *lb = layout_large(n);
        for (unsigned w = 0; w < PAGES_PER_ARENA / 64 && run < want; w++) {
            uint64_t bits = search_bits(lb, w, idle_only);
            if (bits != ~(uint64_t)0)
                return run + (unsigned)__builtin_ctzll(~bits);
            run += 64;
        }
        ai++;
    }
    return run;
}

/* Idle pages among global pages [g, g + count) (free ones). */
static size_t idle_in(size_t g, size_t count)
{
    size_t idle = 0;
    piece_iter it = {g, g + count, NULL, 0, 0};
    while (next_piece(&it)) {
        const large_body *lb = layout_large(it.m);
        if (!it.m->idle_pages)
            continue;
        for (unsigned i = it.first, next; i < it.first + it.n; i = next)
            idle += (unsigned)__builtin_popcountll(lb->page_idle[i >> 6]
                                                   & word_bits(i, it.first + it.n, &next));
    }
    return idle;
}

/* The first page at or after i whose search bit is `one` (PAGES_PER_ARENA: none). */
static unsigned next_bit(const large_body *lb, unsigned i, bool idle_only, bool one)
{
    while (i < PAGES_PER_ARENA) {
        uint64_t word = search_bits(lb, i >> 6, idle_only);
        word = (one ? word : ~word) >> (i & 63);
        if (word)
            return i + (unsigned)__builtin_ctzll(word);
        i = (i | 63) + 1;
    }
    return PAGES_PER_ARENA;
}

/* Calls `visit` on each run of such pages (idle ones, or free ones) that starts in m,
 * with its global first page and length (one that reaches m's end measured on into
 * its zone, up to `cap`); stops when visit returns true. */
typedef bool (*run_visit)(void *ctx, size_t first, size_t len);

static bool runs_in(const arena_meta *m, bool idle_only, size_t cap, run_visit visit, void *ctx)
{
    const large_body *lb = layout_large(m);
    size_t ai = layout_meta_index(m), base = ai << ARENA_PAGE_SHIFT;
    unsigned i = 0;
    /* A run at page 0 that goes on from the arena before is that arena's. */
    const arena_meta *prev = zone_prev(ai);
    if (prev && (search_bits(layout_large(prev), PAGES_PER_ARENA / 64 - 1, idle_only) >> 63))
        i = next_bit(lb, 0, idle_only, false);
    while ((i = next_bit(lb, i, idle_only, true)) < PAGES_PER_ARENA) {
        unsigned end = next_bit(lb, i, idle_only, false);
        size_t len = end - i;
        if (end == PAGES_PER_ARENA && len < cap)
            len += zone_lead(ai, cap - len, idle_only);
        if (visit(ctx, base + i, len))
            return true;
        i = end;
    }
    return false;
}

/* Whether a run of `count` such pages may start in m (an O(1) test): m has as many,
 * or its last page is one and its zone goes on. */
static bool may_start(const arena_meta *m, size_t count, bool idle_only)
{
    unsigned have = idle_only ? m->idle_pages : m->free_pages;
    if (have >= (count < PAGES_PER_ARENA ? count : PAGES_PER_ARENA))
        return true;
    return have && (search_bits(layout_large(m), PAGES_PER_ARENA / 64 - 1, idle_only) >> 63)
           && zone_next(layout_meta_index(m));
}

typedef struct {
    size_t count, best, best_len;
    size_t longest;                     /* of the runs visited since it was last zeroed */
} best_fit;

static bool fit_visit(void *ctx, size_t first, size_t len)
{
    best_fit *f = ctx;
    if (len > f->longest)
        f->longest = len;
    if (len < f->count || (f->best != (size_t)-1 && len >= f->best_len))
        return false;
    f->best = first;
    f->best_len = len;
    return len == f->count;            /* exact: none better */
}

/* Bit k: b[k] > count, for k < 64. */
static inline uint64_t bounds_above(const uint16_t *b, unsigned count)
{
    uint64_t above = 0;
#if defined(__SSE2__)
    /* Eight lanes at a time: b - count, saturated, is 0 where b <= count. */
    __m128i c = _mm_set1_epi16((short)count), zero = _mm_setzero_si128();
    for (unsigned k = 0; k < 64; k += 16) {
        __m128i lo = _mm_subs_epu16(_mm_loadu_si128((const __m128i *)(b + k)), c);
        __m128i hi = _mm_subs_epu16(_mm_loadu_si128((const __m128i *)(b + k + 8)), c);
        __m128i at_most = _mm_packs_epi16(_mm_cmpeq_epi16(lo, zero), _mm_cmpeq_epi16(hi, zero));
        above |= (uint64_t)(~(unsigned)_mm_movemask_epi8(at_most) & 0xFFFFu) << k;
    }
#else
    for (unsigned k = 0; k < 64; k++)
        above |= (uint64_t)(b[k] > count) << k;
#endif
    return above;
}

/* Calls visit on each large arena of `tier`, in address order, whose bound of `kind`
 * is above count, skipping the others and groups of 64 the same way (whole groups are
 * read: the bounds past the last large arena are 0). visit returns a bound for the
 * arena (1 + its longest run of that kind, or NO_RUN_BOUND when it cannot tell), which
 * lowers the one it has, or 0 to stop. */
typedef unsigned (*bounded_visit)(void *ctx, arena_meta *m);

static void bounded_walk(unsigned tier, unsigned kind, size_t count, bounded_visit visit, void *ctx)
{
    size_t first_arena = (size_t)tier * pypper_heap_layout.arenas_per_tier;
    for (uint32_t g = 0, groups = (large_end[tier] + 63) >> 6; g < groups; g++) {
        if (group_bound[kind][tier][g] <= count)
            continue;
        uint16_t *b = &run_bound[kind][tier][g << 6];
        /* The others are at most count: so is the group's new bound, but for these. */
        unsigned gmax = (unsigned)count;
        for (uint64_t may = bounds_above(b, (unsigned)count); may; may &= may - 1) {
            unsigned k = (unsigned)__builtin_ctzll(may);
            unsigned bound = visit(ctx, layout_meta(first_arena + (g << 6) + k));
            if (!bound)
                return;
            if (bound < b[k])           /* (a search only lowers them) */
                b[k] = (uint16_t)bound;
            gmax = b[k] > gmax ? b[k] : gmax;
        }
        group_bound[kind][tier][g] = (uint16_t)gmax;
    }
}

static unsigned fit_arena(void *ctx, arena_meta *m)
{
    best_fit *f = ctx;
    size_t cap = f->count + 4 * PAGES_PER_ARENA;
    if (!may_start(m, f->count, true))
        return m->idle_pages + 1u;      /* fewer idle pages, none going on past its end */
    f->longest = 0;
    if (runs_in(m, true, cap, fit_visit, f))
        return 0;                       /* exact: none better */
    return f->longest < cap ? (unsigned)f->longest + 1 : NO_RUN_BOUND;
}

/* Of the idle runs that hold `count` pages, the shortest (best fit: longer ones stay
 * whole for longer blocks; the lowest address on a tie); its global first page, or
 * (size_t)-1. Best fit, against first fit in address order: a heap of 5,000 buffers
 * of 40-200 KB, one replaced at random 200,000 times, peaked at 638 MB with 158,000
 * faults (stock python3.12: 627 MB, 158,000), first fit at 673 MB with 180,000. */
static size_t best_idle_run(unsigned tier, size_t count)
{
    best_fit f = {count, (size_t)-1, 0, 0};
    bounded_walk(tier, IDLE_RUNS, count, fit_arena, &f);
    return f.best;
}

typedef struct {
    size_t count, best, best_idle;
    size_t longest;                     /* of the runs visited since it was last zeroed */
} idle_window;

PYPPER_SMALL_CODE static bool window_visit(void *ctx, size_t first, size_t len)
{
    idle_window *w = ctx;
    if (len > w->longest)
        w->longest = len;
    if (len < w->count)
        return false;
    for (int at_end = 0; at_end < 2; at_end++) {
        size_t at = at_end ? first + len - w->count : first;
        size_t idle = idle_in(at, w->count);
        if (w->best == (size_t)-1 || idle > w->best_idle) {
            w->best = at;
            w->best_idle = idle;
        }
    }
    return false;
}

/* No idle run holds `count` pages: of the free runs long enough, the window of
 * `count` pages at either end of one that holds the most idle pages (the fewest
 * faults, and idle memory used rather than left beside fresh pages; the lowest
 * address on a tie); its global first page, or (size_t)-1. */
PYPPER_SMALL_CODE static unsigned window_arena(void *ctx, arena_meta *m)
{
    idle_window *w = ctx;
    if (!may_start(m, w->count, false))
        return m->free_pages + 1u;      /* fewer free pages, none going on past its end */
    w->longest = 0;
    runs_in(m, false, w->count, window_visit, w);
    /* (A run measured to `count` may go on.) */
    return w->longest < w->count ? (unsigned)w->longest + 1 : NO_RUN_BOUND;
}

PYPPER_SMALL_CODE static size_t most_idle_window(unsigned tier, size_t count)
{
    idle_window w = {count, (size_t)-1, 0, 0};
    bounded_walk(tier, FREE_RUNS, count, window_arena, &w);
    return w.best;
}

PYPPER_SMALL_CODE bool page_runs_check(unsigned tier, size_t count)
{
    best_fit all = {count, (size_t)-1, 0, 0};
    idle_window window = {count, (size_t)-1, 0, 0};
    size_t cap = count + 4 * PAGES_PER_ARENA;
    bool hold = true, done = false;
    for (arena_meta *m = pypper_heap.tiers[tier].large_arenas; m; m = m->next) {
        uint32_t j = layout_tier_index(m);
        hold = hold && j < large_end[tier];
        for (unsigned kind = 0; kind < RUN_KINDS; kind++) {
            best_fit every = {SIZE_MAX, (size_t)-1, 0, 0};     /* visits every run */
            runs_in(m, kind == IDLE_RUNS, SIZE_MAX / 2, fit_visit, &every);
            /* (NO_RUN_BOUND stands for any length: a zone of free arenas may hold a
             * longer run than it counts.) */
            hold = hold && (every.longest < run_bound[kind][tier][j]
                            || run_bound[kind][tier][j] == NO_RUN_BOUND)
                   && run_bound[kind][tier][j] <= group_bound[kind][tier][j >> 6];
        }
        if (!done && may_start(m, count, true))
            done = runs_in(m, true, cap, fit_visit, &all);
        if (may_start(m, count, false))
            runs_in(m, false, count, window_visit, &window);
    }
    return hold && best_idle_run(tier, count) == all.best
           && most_idle_window(tier, count) == window.best;
}

/* The tier's large arenas are listed by address: searches meet runs in address order
 * (ties go to the lowest). */
static void insert_by_address(arena_meta **head, arena_meta *m)
{
    arena_meta *after = NULL;
    for (arena_meta *x = *head; x && x < m; x = x->next)
        after = x;
    if (!after) {
        arena_list_push(head, m);
        return;
    }
    m->prev = after;
    m->next = after->next;
    if (after->next)
        after->next->prev = m;
    after->next = m;
}

/* Arenas [ai, ai + count), just taken from the region, become large arenas of
 * `tier` (their pages idle where they were handed out resident). */
PYPPER_SMALL_CODE static void make_large(unsigned tier, size_t ai, size_t count)
{
    for (size_t a = ai; a < ai + count; a++) {
        arena_meta *m = layout_meta(a);
        bool clean = m->clean;
        memset(layout_large(m), 0, sizeof(large_body));
        m->kind = ARENA_LARGE;
        m->tier = (uint8_t)tier;
        m->free_pages = PAGES_PER_ARENA;
        bound_new_arena(m);
        if (!clean)       /* an idle released arena: its pages are resident */
            keep_pages_idle(m, 0, PAGES_PER_ARENA);
        insert_by_address(&pypper_heap.tiers[tier].large_arenas, m);
    }
}

/* `count` arenas made large arenas of `tier`, contiguous (their pages idle where they
 * were handed out resident), from idle released arenas only when idle_only; the
 * global index of the first, or (size_t)-1. */
PYPPER_SMALL_CODE static size_t new_large_arenas(unsigned tier, size_t count, bool idle_only)
{
    bool zeroed;
    size_t fresh;
    /* (No arena debt: take_pages reports the fresh pages as the page debt.) */
    size_t ai = idle_only ? region_take_idle_arenas(tier, count, &zeroed, &fresh)
                          : region_take_arenas(tier, count, 0, &zeroed, &fresh);
    if (ai == (size_t)-1)
        return ai;
    make_large(tier, ai, count);
    return ai;
}

/* The zone of the highest large arena grown at its end by the arenas a run of
 * `pages` needs beyond the free pages that end it, if those arenas are free
 * (released, or the region's end): the run's global first page, or (size_t)-1. The
 * heap of page runs then grows as one stretch, as glibc's heap grows at its top. */
PYPPER_SMALL_CODE static size_t grow_zone(unsigned tier, size_t pages)
{
    arena_meta *top = NULL;
    for (arena_meta *m = pypper_heap.tiers[tier].large_arenas; m; m = m->next)
        top = m;
    if (!top)
        return (size_t)-1;
    size_t ai = layout_meta_index(top), tail = 0;
    const large_body *lb = layout_large(top);
    while (tail < PAGES_PER_ARENA && !page_used(lb, PAGES_PER_ARENA - 1 - (unsigned)tail))
        tail++;
    if (tail >= pages)
        return (size_t)-1;
    size_t more = (pages - tail + PAGES_PER_ARENA - 1) >> ARENA_PAGE_SHIFT, fresh;
    if ((ai + more) / pypper_heap_layout.arenas_per_tier != ai / pypper_heap_layout.arenas_per_tier
        || !region_extend(ai + 1, more, &fresh))
        return (size_t)-1;
    make_large(tier, ai + 1, more);
    return ((ai + 1) << ARENA_PAGE_SHIFT) - tail;
}

/* A run of `pages` pages (any length up to PAGE_RUN_MAX: it may cross arena edges
 * within a zone of adjacent large arenas); its first byte. *zeroed: every page of
 * the run is fresh (reads as zero), so a calloc writes nothing. */
static void *run_alloc(unsigned tier, size_t pages, bool growing, bool *zeroed)
{
    /* Idle pages first, best fit: reusing resident memory makes no page faults, and
     * leaves no idle memory to give back for fresh memory (Objects/retain.c). Then
     * idle released arenas, then the free window with the most idle pages, then the
     * zone grown at its end, then new arenas. */
    size_t arenas = (pages + PAGES_PER_ARENA - 1) >> ARENA_PAGE_SHIFT, ai;
    size_t g = best_idle_run(tier, pages);
    if (g == (size_t)-1) {
        /* Arenas may be taken: the tier of the next blocks is weighed against the
         * fast tier's budget (until a review on 2026-12-07 only before new arenas, and
         * a zone grown at its end took fast arenas past it: 64 blocks of 1 MiB under a
         * budget of 8 MiB all went to the fast tier). */
        heap_update_default_tier();
        if ((ai = new_large_arenas(tier, arenas, true)) != (size_t)-1)
            g = ai << ARENA_PAGE_SHIFT;
    }
    if (g == (size_t)-1)
        g = most_idle_window(tier, pages);
    if (g == (size_t)-1)
        g = grow_zone(tier, pages);
    if (g == (size_t)-1) {
        ai = new_large_arenas(tier, arenas, false);
        if (ai == (size_t)-1)
            return NULL;
        g = ai << ARENA_PAGE_SHIFT;
    }
    *zeroed = take_pages(g, pages, growing);
    arena_meta *head = layout_meta(g >> ARENA_PAGE_SHIFT);
    layout_large(head)->run_pages[g & (PAGES_PER_ARENA - 1)] = (uint16_t)pages;
    return gpage_addr(g);
}

/* Where a page run's block starts: 64*k bytes into its first page, k a function of
 * where the run is, (first page * 23) mod 64, within the slack the run has past the
 * block (no page is added for it). Page-aligned blocks put every copy between two of
 * them at the same offset in a page: a copy whose destination is a few bytes ahead of
 * its source modulo 4 KiB stalls on false store-to-load dependencies (4K aliasing).
 * "".join((h, str(i), h)) with h of 32 KiB ran 6.9x as long as under glibc, whose
 * chunks sit at varied offsets. Runs that start less than 64 pages apart (a copy's
 * source and destination, often allocated together) never share a color, and a run
 * reused in place keeps its color, so a loop's copies keep their relation to their
 * sources, as in glibc: a color taken from a rotating sequence instead put one
 * iteration in 64 of such a loop on the slow path (1.1-1.16x stock's time on the
 * 64 KiB phase of tmp_str). Spans stay page-aligned: colored spans were measured and
 * not kept (the same join at 1 and 4 MiB ran as fast as stock's either way), and a
 * growing span's pages move with mremap, which keeps offsets in a page. */
static unsigned run_color(const void *run, size_t n, unsigned pages)
{
    size_t slack_units = (((size_t)pages << PAGE_SHIFT) - n) >> RUN_COLOR_SHIFT;
    unsigned k = (unsigned)(((uintptr_t)run >> PAGE_SHIFT) * 23u) & (RUN_COLORS - 1u);
    if (slack_units < RUN_COLORS - 1u)
        k %= (unsigned)slack_units + 1u;
    return k;
}

void *page_run_alloc(unsigned tier, size_t n, bool *zeroed, bool growing)
{
    unsigned pages = (unsigned)((n + PAGE_SIZE - 1) >> PAGE_SHIFT);
    char *p = run_alloc(tier, pages, growing, zeroed);
    if (!p)
        return NULL;
    unsigned k = run_color(p, n, pages);
    arena_meta *m = layout_meta(layout_arena_index(p));
    layout_large(m)->run_color[((uintptr_t)p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)] = (uint8_t)k;
    return p + ((size_t)k << RUN_COLOR_SHIFT);
}

size_t page_run_usable(arena_meta *m, const void *p)
{
    unsigned first = (unsigned)(((uintptr_t)p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1));
    return ((size_t)layout_large(m)->run_pages[first] << PAGE_SHIFT) - layout_run_offset(m, first);
}

void page_run_free(arena_meta *m, void *p)
{
    large_body *lb = layout_large(m);
    unsigned first = (unsigned)(((uintptr_t)p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1));
    unsigned pages = lb->run_pages[first];
    if (((uintptr_t)p & (PAGE_SIZE - 1)) != layout_run_offset(m, first) || pages == 0) {
        pypper_heap.invalid_frees++;
        return;
    }
    lb->run_pages[first] = 0;
    free_pages(gpage_of(p), pages);
}

/* Whether global pages [g, g + count) are all free, in large arenas of one zone. */
static bool pages_free(size_t g, size_t count)
{
    piece_iter it = {g, g + count, NULL, 0, 0};
    while (next_piece(&it)) {
        size_t ai = layout_meta_index(it.m);
        if (it.first == 0 && !zone_next(ai - 1))
            return false;
        const large_body *lb = layout_large(it.m);
        for (unsigned i = it.first, next; i < it.first + it.n; i = next)
            if (lb->page_used[i >> 6] & word_bits(i, it.first + it.n, &next))
                return false;
    }
    return true;
}

PYPPER_SMALL_CODE int page_run_resize(arena_meta *m, void *p, size_t n)
{
    large_body *lb = layout_large(m);
    size_t g = gpage_of(p);
    unsigned first = (unsigned)(g & (PAGES_PER_ARENA - 1));
    unsigned have = lb->run_pages[first];
    /* The block keeps its offset. */
    size_t want = (n + layout_run_offset(m, first) + PAGE_SIZE - 1) >> PAGE_SHIFT;
    if (want == have)
        return 1;
    if (want < have) {
        free_pages(g + want, have - want);
        lb->run_pages[first] = (uint16_t)want;
        return 1;
    }
    /* A block that grows past LARGE_MAX becomes a span (which grows by mremap). */
    if (n > LARGE_MAX || !pages_free(g + have, want - have))
        return 0;
    take_pages(g + have, want - have, true);
    lb->run_pages[first] = (uint16_t)want;
    return 1;
}

/* m is no longer a large arena. */
PYPPER_SMALL_CODE __attribute__((noinline)) static void bound_gone(const arena_meta *m)
{
    for (unsigned kind = 0; kind < RUN_KINDS; kind++) {
        run_bound[kind][m->tier][layout_tier_index(m)] = 0;
        bound_tail_cut(m, kind);
    }
}

static void release_large_arena(arena_meta *m)
{
    bound_gone(m);
    arena_list_unlink(&pypper_heap.tiers[m->tier].large_arenas, m);
    region_release_arenas(layout_meta_index(m), 1, true);
    pypper_heap.arenas_released++;
}

/* Whether m is wholly free and may go back to the region: not while a session
 * retains arenas, and not the tier's only large arena (so a block that comes and goes
 * at an arena boundary does not map and release an arena each time). */
static bool releasable(const arena_meta *m)
{
    const arena_meta *head = pypper_heap.tiers[m->tier].large_arenas;
    return m->free_pages == PAGES_PER_ARENA && !pypper_heap.retain
           && (head != m || m->next != NULL);
}

PYPPER_SMALL_CODE uint64_t large_purge(arena_meta *m, uint64_t limit, bool *refused)
{
    large_body *lb = layout_large(m);
    /* From the arena's end down: first fit reuses the low pages first. */
    uint64_t want = (limit >> PAGE_SHIFT) + ((limit & (PAGE_SIZE - 1)) != 0), pages = 0;
    char *base = layout_arena_base(layout_meta_index(m));
    if (!want)
        want = 1;
    int i = (int)PAGES_PER_ARENA - 1;
    bool split = false, kept = false;
    while (i >= 0 && pages < want) {
        if (!page_idle_at(lb, (unsigned)i)) {
            i--;
            continue;
        }
        /* One call for the free pages down to the next used one: those given back
         * already (not idle) between idle ones go back again, at no cost, rather than
         * cost a call each stretch (a system call and a TLB flush, whatever its size);
         * after a refusal, stretch by stretch. */
        int top = i, low = i;
        unsigned idle = 0;
        while (i >= 0 && !page_used(lb, (unsigned)i) && (!split || page_idle_at(lb, (unsigned)i))
               && pages + idle < want) {
            if (page_idle_at(lb, (unsigned)i))
                idle++, low = i;
            i--;
        }
        /* Pages [low, top] go back. A page the kernel keeps (locked memory) stays idle:
         * a free page that is not idle must read as zero (take_pages). A refused call
         * over given-back pages is made again stretch by stretch, and a refused stretch
         * does not stop those below it (reviews on 2026-12-07: one locked run kept the
         * others of its stretch idle for good). When a stretch is refused, the arena
         * is the newest idle memory, so that others are purged before it is tried
         * again. */
        if (!region_discard(base + ((size_t)low << PAGE_SHIFT), (size_t)(top - low + 1) << PAGE_SHIFT)) {
            if (!split && idle != (unsigned)(top - low + 1)) {
                split = true;
                i = top;
            } else {
                kept = true;        /* the stretches below are tried still */
            }
            continue;
        }
        /* (A stretch kept above these now starts a run of its own: clear_idle tells
         * the bounds, a review's finding of 2026-12-07.) */
        clear_idle(m, (unsigned)low, (unsigned)(top - low + 1));
        pages += idle;
    }
    if (kept) {
        lb->idle_since = retain_now() + 1;
        *refused = pages == 0;
    }
    m->idle_pages = (uint16_t)(m->idle_pages - pages);
    retain_idle_sub(pages << PAGE_SHIFT);
    if (!m->idle_pages && releasable(m))
        release_large_arena(m);
    return pages << PAGE_SHIFT;
}

PYPPER_SMALL_CODE arena_meta *large_idle_pick(large_pick pick)
{
    arena_meta *best = NULL;
    unsigned least = pick == LARGE_PICK_WHOLE ? PAGES_PER_ARENA : 1u;
    for (unsigned t = 0; t < HEAP_TIERS; t++)
        for (arena_meta *m = pypper_heap.tiers[t].large_arenas; m; m = m->next) {
            if (m->idle_pages < least)
                continue;
            bool older = !best || layout_large(m)->idle_since < layout_large(best)->idle_since;
            if (pick == LARGE_PICK_DENSEST ? !best || m->idle_pages > best->idle_pages
                                                 || (m->idle_pages == best->idle_pages && older)
                                           : older)
                best = m;
        }
    return best;
}

PYPPER_SMALL_CODE bool large_lend_free(unsigned tier, size_t count)
{
    if (region_idle_holds(tier, count))
        return false;               /* the region serves it from idle memory */
    /* The highest stretch of `count` adjacent large arenas that are wholly free and
     * all idle (the top of the heap of pages, which best fit reaches last). Only
     * those: released idle, an arena counts a whole arena's idle bytes, and a review
     * (2026-12-07) found one lent with 2 resident pages counted as 1 MiB idle, which
     * the debts then "paid" by giving back 2 pages. */
    arena_meta *last = NULL, *pick = NULL;
    size_t stretch = 0;
    for (arena_meta *m = pypper_heap.tiers[tier].large_arenas; m; m = m->next) {
        bool whole = m->idle_pages == PAGES_PER_ARENA && releasable(m);
        bool next_to = last && layout_meta_index(m) == layout_meta_index(last) + 1;
        stretch = whole ? (next_to ? stretch + 1 : 1) : 0;
        last = whole ? m : NULL;
        if (stretch >= count)
            pick = m;
    }
    if (!pick)
        return false;
    size_t first = layout_meta_index(pick) + 1 - count;
    for (size_t a = first; a < first + count; a++) {
        arena_meta *m = layout_meta(a);
        bound_gone(m);
        arena_list_unlink(&pypper_heap.tiers[tier].large_arenas, m);
        retain_idle_sub((uint64_t)PAGES_PER_ARENA << PAGE_SHIFT);
        m->idle_pages = 0;
        pypper_heap.arenas_released++;
    }
    region_release_arenas(first, count, false);     /* idle, counted again there */
    return true;
}

PYPPER_SMALL_CODE void large_release_empty(unsigned tier)
{
    arena_meta *m = pypper_heap.tiers[tier].large_arenas;
    while (m) {
        arena_meta *next = m->next;
        if (!m->idle_pages && releasable(m))
            release_large_arena(m);
        m = next;
    }
}
