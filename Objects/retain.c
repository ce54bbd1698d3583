/* Objects/retain.c: owns the retention policy of freed memory (see retain.h). Freed
 * page runs and arenas stay committed ("idle") so that the next allocation of that
 * size reuses resident pages instead of faulting fresh ones in; idle memory is given
 * back when it exceeds a bound, or when it has not been reused for a delay.
 *
 * The bound is learnt, as glibc learns its mmap and trim thresholds from the blocks a
 * program frees (mallopt(3): M_MMAP_THRESHOLD is dynamic) and as mimalloc delays its
 * purges: it starts at RETAIN_BOUND_MIN and grows only on evidence that a purge was a
 * mistake, i.e. memory was purged to respect the bound and, within a second, the
 * program needed that much fresh memory again (a purge/fault-in cycle: the page-fault
 * storm of temporaries above the bound). It grows to cover what was needed, up to
 * RETAIN_MAX. So a program that frees a large structure and never reuses it keeps at
 * most the bound; one that churns temporaries of N bytes keeps about N.
 *
 * Idle memory does not add to the program's peak: when the heap commits fresh
 * arenas while memory is idle (of the wrong size or place to serve the request), as
 * much idle memory goes back (the "debt"), oldest first. Fresh pages faulted into a
 * large arena for a new page run while memory is idle are a debt too (the "page
 * debt"), paid only from released arenas, which page runs cannot use, in whole
 * arenas (at least one: paying only whole arenas' worth of debt kept them and the
 * peak): on the request loop of the allocation suite, idle released arenas (freed
 * bodies of 0.5-2 MiB) stood beside page runs faulting fresh pages and made its peak
 * 1.2x stock's. Paying it from the large arenas' own idle pages fed a cycle (the
 * purge made the next run fault, which made more debt: 15 faults an iteration on
 * lists of 64 KiB), and a run that grows a block (realloc) makes no page debt (a
 * list built by a comprehension would trade its idle span for refaults). The
 * footprint then grows only when nothing usable is idle. Callers hold the heap's
 * serialization. */
#include "retain.h"
#include "../Pypper/clock.h"
#include "../Pypper/code_size.h"

#define MISTAKE_WINDOW_MS 1000u
#define TICK_EVERY 32u            /* slow-path calls between two clock reads */
/* With this much idle, every slow path reads the clock (a vDSO read): six buffers of
 * 100-150 MiB freed, a second of sleep, then a few allocations left 57 MB resident
 * against stock's 9 when none of them was the 32nd (Tools/bench/survey/free_big.py
 * under harm_survey.py, 2026-12-07; the bound had learnt 48 MiB). */
#define TICK_ALWAYS_IDLE ((uint64_t)8 << 20)

static uint64_t default_now(void)
{
    return pypper_clock_ns(CLOCK_MONOTONIC_COARSE) / 1000000u;
}

static struct {
    uint64_t max_bytes;
    double max_percent;
    uint32_t delay_ms;
    uint64_t bound;
    uint64_t idle;
    uint64_t idle_added;          /* idle bytes added since the last allocation */
    unsigned frees;               /* large blocks freed since the last allocation */
    uint64_t last_bound_purge;    /* clock of the last purge for the bound; 0: none */
    uint64_t last_bound_bytes;    /* its size */
    uint64_t sum_since;           /* clock of the first purge of the bound's window */
    uint64_t sum_last;            /* clock of its last purge; 0: no window */
    uint64_t sum_bytes;           /* what the window's purges gave back, less lessons */
    uint64_t debt;                /* fresh bytes faulted in while memory was idle */
    uint64_t page_debt;           /* fresh pages of large arenas, idem */
    uint64_t debt_keep;           /* idle bytes debts leave alone: learnt (payable) */
    bool paying_debt;             /* the purges being made pay a debt */
    bool last_purge_debt;         /* the last large purge paid a debt */
    uint64_t last_tick;
    unsigned tick_countdown;
    uint64_t (*now)(void);
    uint64_t purges, purged_bytes, stale_purges, stale_bytes, mistakes;
} S = {
    .max_bytes = (uint64_t)64 << 20,
    .delay_ms = 1000,
    .bound = RETAIN_BOUND_MIN,
    .tick_countdown = TICK_EVERY,
    .now = default_now,
};

void retain_configure(uint64_t max_bytes, double max_percent, uint32_t delay_ms)
{
    S.max_bytes = max_bytes;
    S.max_percent = max_bytes ? 0.0 : max_percent;
    S.delay_ms = delay_ms;      /* the learnt bound stays; the ceiling clamps it */
}

uint64_t retain_now(void) { return S.now(); }

void retain_set_clock(uint64_t (*now_ms)(void))
{
    S.now = now_ms ? now_ms : default_now;
    S.last_tick = 0;
    S.last_bound_purge = 0;
    S.sum_last = 0;
}

void retain_idle_add(uint64_t bytes)
{
    S.idle += bytes;
    S.idle_added += bytes;
}

void retain_idle_sub(uint64_t bytes) { S.idle = bytes < S.idle ? S.idle - bytes : 0; }

uint64_t retain_idle(void) { return S.idle; }

/* Emptied pool and medium arenas stay idle up to RETAIN_POOLS_MAX, not up to the
 * bound: the bound learns from large blocks, and until 2026-12-07 it kept a program's
 * freed small objects resident with them. 300,000 tuples of five ints and the five
 * tuples of zip(*rows), made and dropped in a loop: the bound learnt the tuples of
 * 2.4 MB (and the list's growth) up to its 64 MiB ceiling, and the 300,000 tuple
 * iterators zip frees at its end and the rows' tuples stayed idle with them, 57 MiB:
 * 66-71 MB resident between iterations against stock's 13, a peak of 73.4 MB against
 * 66.0. Now 67.0 MB, with 191,700 faults where it made 43,400 (stock 270,600; 20
 * rounds, Tools/bench/survey/transpose.py has six). */
bool retain_pools_keep(uint64_t idle_pools, uint64_t bytes)
{
    return (S.max_bytes || S.max_percent > 0.0) && idle_pools + bytes <= RETAIN_POOLS_MAX;
}

uint64_t retain_idle_hint(void) { return __atomic_load_n(&S.idle, __ATOMIC_RELAXED); }

/* The ceiling of the bound against a heap of heap_bytes in use. */
static uint64_t bound_max(uint64_t heap_bytes)
{
    if (S.max_bytes)
        return S.max_bytes;
    return (uint64_t)((double)heap_bytes * S.max_percent / 100.0);
}

/* The bound in force: the learnt one, within the ceiling (a ceiling below the
 * minimum wins: RETAIN_MAX=0 keeps nothing). */
static uint64_t capped(uint64_t bytes, uint64_t heap_bytes)
{
    uint64_t max = bound_max(heap_bytes);
    return bytes < max ? bytes : max;
}

static uint64_t bound_now(uint64_t heap_bytes) { return capped(S.bound, heap_bytes); }

void retain_note_growth(uint64_t bytes)
{
    if (S.idle)
        S.debt = S.debt + bytes < S.idle ? S.debt + bytes : S.idle;
}

void retain_note_page_growth(uint64_t bytes)
{
    if (S.idle)
        S.page_debt = S.page_debt + bytes < S.idle ? S.page_debt + bytes : S.idle;
}

/* What a debt may take: idle memory beyond what debts learnt to leave. A debt paid
 * with memory that fresh memory replaced within a second was a mistake: a 1 MiB
 * buffer and a slice of it made in a loop (2026-12-06) paid the slice's fresh pages
 * with the buffer's freed span, which the next buffer faulted in again: a purge and
 * 256 faults an iteration, 24x stock's time. Debts then leave idle the largest
 * such lesson (retain_note_fresh), within the ceiling. */
PYPPER_SMALL_CODE static uint64_t payable(uint64_t debt, uint64_t heap_bytes)
{
    uint64_t keep = capped(S.debt_keep, heap_bytes);
    uint64_t spare = S.idle > keep ? S.idle - keep : 0;
    return debt < spare ? debt : spare;
}

PYPPER_SMALL_CODE uint64_t retain_take_page_debt(uint64_t heap_bytes)
{
    uint64_t owed = payable(S.page_debt, heap_bytes);
    S.page_debt = 0;
    S.paying_debt = owed != 0;
    return owed;
}

/* A lesson (every one is a mistake counted): *what (the bound, or what debts leave
 * idle) becomes `grown` if that is more, within the byte ceiling (a percentage
 * ceiling is applied where the heap's size is known: bound_now, payable). */
static void learn(uint64_t *what, uint64_t grown)
{
    S.mistakes++;
    if (S.max_bytes && grown > S.max_bytes)
        grown = S.max_bytes;
    if (grown > *what)
        *what = grown;
}

/* The bound at least doubles: a storm stops within a few lessons. (Growing by just
 * what was needed converged slowly and left growth patterns faulting: 7x stock's
 * faults on list growth in the allocation suite.) */
static uint64_t doubled(uint64_t what, uint64_t bytes)
{
    return what + bytes > 2 * what ? what + bytes : 2 * what;
}

/* A lesson for the bound from its own purges of the last second, together: a buffer
 * of 16 MiB and a copy of its 8 MiB half made in a loop purged 11 arenas for the bound
 * in two purges (9 and 2), then faulted in 10; the largest purge alone did not teach
 * it, and the loop went on faulting in 12-21 arenas an iteration for three iterations
 * more (Tools/bench/survey/big_buffer_slices.py). Each purged byte teaches once, and
 * each lesson doubles the bound: one purge of 16 MiB refaulted by 16 page runs of 64
 * KiB takes it from 1 MiB to the 64 MiB ceiling. Idle memory adds nothing to the peak
 * (the debts) and goes back after the delay; adding what each lesson after a window's
 * first refaulted left the allocation suite's request loop 39,400 faults where this
 * makes 29,700, json_large 30,500 where this makes 19,400, at the same peaks to 0.8
 * MB (`alloc_bench.py --runs 5`, 2026-12-07). The window lasts a second from its
 * first purge (purges less than a second apart would add up for ever: 200 of 1 MiB,
 * then a 64 MiB block taught the bound); a debt's purges are not in it. */
static bool bound_lesson(uint64_t bytes, uint64_t now)
{
    if (!S.sum_last || now - S.sum_last > MISTAKE_WINDOW_MS || bytes > S.sum_bytes)
        return false;           /* growth: the purges could not have served it */
    learn(&S.bound, doubled(S.bound, bytes));
    S.sum_bytes -= bytes;
    return true;
}

PYPPER_SMALL_CODE void retain_note_fresh(uint64_t bytes, bool large)
{
    /* A mistake only for large blocks (page runs, spans: the temporaries that glibc
     * serves from its retained heap once its threshold has learnt them; pools and
     * medium arenas are given back as pymalloc gives back arenas), and only if the
     * purge could have served the request: a cycle of the same size, not growth. */
    if (!large || (!S.last_bound_purge && !S.sum_last))
        return;
    uint64_t now = S.now();
    if (S.last_bound_purge && now - S.last_bound_purge <= MISTAKE_WINDOW_MS
        && S.last_purge_debt) {
        /* As much as the purge could have served (part of what the fresh block
         * needs: one arena of a span of two). Debts leave the largest such lesson
         * idle: a debt's purge refaulted within a second is one span or run cycling
         * (a buffer freed and made again), and keeping the largest ends that cycle,
         * while what debts leave idle adds to the peak. Doubling here (2026-12-06)
         * took it to 13 MiB on the allocation suite's request loop, whose lessons are
         * its bodies of 44 KiB-1 MiB, and the loop's peak from 27.8 MB to 35.4 (stock
         * 28.3); adding each lesson, to 7 MiB and 35.3 MB; summing the purges as the
         * bound does (below), 1.05-1.06x stock's peak. Not covered: two spans cycling
         * at once, each no larger than what debts leave idle, keep refaulting
         * (counted as mistakes). */
        uint64_t lesson = bytes < S.last_bound_bytes ? bytes : S.last_bound_bytes;
        learn(&S.debt_keep, lesson);
        S.last_bound_purge = 0;     /* one purge, one lesson */
        return;
    }
    if (bound_lesson(bytes, now))
        S.last_bound_purge = 0;     /* (a debt's purge after it starts anew) */
}

bool retain_may_owe(void)
{
    /* Without a percentage ceiling the bound in force is min(bound, max_bytes). */
    uint64_t bound = S.max_bytes ? (S.bound < S.max_bytes ? S.bound : S.max_bytes) : 0;
    return S.debt || S.page_debt || S.idle > bound;
}

PYPPER_SMALL_CODE uint64_t retain_excess(uint64_t heap_bytes)
{
    uint64_t bound = bound_now(heap_bytes);
    uint64_t over = S.idle > bound ? S.idle - bound / 4 * 3 : 0;
    uint64_t debt = payable(S.debt < S.idle ? S.debt : S.idle, heap_bytes);
    S.debt = 0;
    S.paying_debt = debt > over;
    return over > debt ? over : debt;
}

void retain_mark_allocation(void)
{
    S.idle_added = 0;
    S.frees = 0;
}

void retain_note_large_free(void)
{
    if (S.frees < RETAIN_BURST_FREES)
        S.frees++;
}

PYPPER_SMALL_CODE retain_burst retain_shrinking(uint64_t heap_bytes)
{
    uint64_t bound = bound_now(heap_bytes);
    if (S.frees < RETAIN_BURST_FREES || S.idle_added <= bound)
        return RETAIN_NOT_SHRINKING;
    return S.idle <= RETAIN_DEFER_FACTOR * bound ? RETAIN_SHRINKING : RETAIN_SHRINKING_PAST;
}

bool retain_paying_debt(void) { return S.paying_debt; }

uint64_t retain_stale_before(uint64_t now)
{
    return now > S.delay_ms ? now - S.delay_ms : 0;
}

bool retain_tick_due(void)
{
    if (--S.tick_countdown && S.idle < TICK_ALWAYS_IDLE)
        return false;
    S.tick_countdown = TICK_EVERY;
    if (!S.idle)
        return false;
    uint64_t now = S.now();
    /* Check a few times per delay, at most every millisecond. */
    uint64_t every = S.delay_ms / 4 ? S.delay_ms / 4 : 1;
    if (now - S.last_tick < every)
        return false;
    S.last_tick = now;
    return true;
}

PYPPER_SMALL_CODE void retain_note_purged(uint64_t bytes, bool stale, bool large)
{
    if (stale) {
        S.stale_purges++;
        S.stale_bytes += bytes;
        return;
    }
    S.purges++;
    S.purged_bytes += bytes;
    if (!large)
        return;
    uint64_t now = S.now();
    if (!S.last_bound_purge || now - S.last_bound_purge > MISTAKE_WINDOW_MS
        || bytes > S.last_bound_bytes)
        S.last_bound_bytes = bytes;      /* the largest recent one */
    S.last_bound_purge = now ? now : 1;
    S.last_purge_debt = S.paying_debt;
    if (S.paying_debt)
        return;
    if (!S.sum_last || now - S.sum_since > MISTAKE_WINDOW_MS) {
        S.sum_since = now;
        S.sum_bytes = 0;
    }
    S.sum_bytes += bytes;
    S.sum_last = now ? now : 1;
}

PYPPER_SMALL_CODE void retain_get_stats(uint64_t heap_bytes, retain_stats *out)
{
    out->idle_bytes = S.idle;
    out->bound = bound_now(heap_bytes);
    out->bound_max = bound_max(heap_bytes);
    out->delay_ms = S.delay_ms;
    out->purges = S.purges;
    out->purged_bytes = S.purged_bytes;
    out->stale_purges = S.stale_purges;
    out->stale_bytes = S.stale_bytes;
    out->mistakes = S.mistakes;
}
