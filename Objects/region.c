/* Objects/region.c: owns the heap's virtual address reservation. Arena slots of each
 * tier are handed out from runs released earlier (idle ones, still resident, first,
 * best fit, or for a span the end of a run whose resident pages fit its block best;
 * then, of the stretches of touching idle and purged runs, the window with the most
 * idle arenas; then purged ones, first fit; split, never merged with the bump end)
 * or from a bump index. Committing an arena makes it and its metadata slice writable
 * and binds it to its tier's nodes; releasing one keeps it idle (reported to
 * retain.c) or discards its pages, and always keeps the mapping. Handing an arena out
 * again resets its records (its pool records only where a pool or medium arena wrote
 * them, its page or unit records only for a large or medium arena). It also keeps a
 * residency hint per arena (the pages that may be resident: large.c tells it what a
 * span's block reaches, every discard lowers it) by which spans pick idle arenas.
 * Callers hold the heap's serialization (the GIL or the heap lock). */
#include "region.h"
#include "retain.h"
#include "../Pypper/code_size.h"
#include "../Pypper/own_memory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

heap_layout pypper_heap_layout;

typedef struct free_run {
    size_t first, count;
    bool dirty;        /* idle: released without discarding, memory not yet given back */
    bool span;         /* dirty: holds memory of a freed span (its purge can teach) */
    bool pools_dirty;  /* dirty: some arena's pool records or slot bitmaps were
                          written (a pool or medium arena's); the others' are zero */
    uint64_t since;    /* dirty: retain_now() when it was (last) released */
} free_run;

#define MAX_FREE_RUNS 4096

static struct {
    /* Per arena (global index), the pages from its start that may be resident: the
     * most a block of a span reached in it since its memory was last given back, or
     * all of them for a pool, medium or large arena. A hint (region_take_arenas picks
     * idle arenas by it), never a fact anything depends on: kept an upper bound where
     * that is cheap (a span's block is noted again when it is freed or resized). */
    uint16_t *resident;
    size_t bump[HEAP_TIERS];                 /* next never-used slot, per tier */
    free_run runs[HEAP_TIERS][MAX_FREE_RUNS];
    size_t nruns[HEAP_TIERS];
    region_bind_fn binder;
    region_counters counters;
} R;

static void *reserve(size_t len)
{
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

PYPPER_SMALL_CODE int region_init(void)
{
    if (pypper_heap_layout.base)
        return 0;
    /* 64 GiB per tier first; smaller where RLIMIT_AS or strict overcommit says no. */
    for (unsigned shift = TIER_SHIFT_MAX; shift >= 30; shift--) {
        size_t tier_bytes = (size_t)1 << shift;
        size_t arenas = tier_bytes >> ARENA_SHIFT;
        size_t total = tier_bytes * HEAP_TIERS;
        size_t meta_len = arenas * HEAP_TIERS * sizeof(arena_meta);
        size_t body_len = arenas * HEAP_TIERS * sizeof(arena_body);
        size_t pools_len = arenas * HEAP_TIERS * POOLS_PER_ARENA * sizeof(pool_meta);
        size_t bits_len = arenas * HEAP_TIERS * POOLS_PER_ARENA * POOL_BITS_WORDS * 8;
        size_t track_len = total / GRANULE / 8 * TRACK_WORDS;
        char *raw = reserve(total + ARENA_SIZE);
        void *meta = raw ? reserve(meta_len) : NULL;
        void *body = meta ? reserve(body_len) : NULL;
        void *pools = body ? reserve(pools_len) : NULL;
        void *bits = pools ? reserve(bits_len) : NULL;
        void *track = bits ? reserve(track_len) : NULL;
        if (!track) {
            if (bits)
                munmap(bits, bits_len);
            if (pools)
                munmap(pools, pools_len);
            if (body)
                munmap(body, body_len);
            if (meta)
                munmap(meta, meta_len);
            if (raw)
                munmap(raw, total + ARENA_SIZE);
            continue;
        }
        /* Align the heap to an arena; give back the slack on both sides. */
        char *base = (char *)(((uintptr_t)raw + ARENA_SIZE - 1) & ~(uintptr_t)(ARENA_SIZE - 1));
        if (base > raw)
            munmap(raw, (size_t)(base - raw));
        size_t tail = (size_t)(raw + total + ARENA_SIZE - (base + total));
        if (tail)
            munmap(base + total, tail);
        pypper_heap_layout.tier_shift = shift;
        pypper_heap_layout.tier_bytes = tier_bytes;
        pypper_heap_layout.arenas_per_tier = arenas;
        pypper_heap_layout.meta = meta;
        pypper_heap_layout.body = body;
        pypper_heap_layout.pools = pools;
        pypper_heap_layout.pool_bits = bits;
        /* The live trace's bits are a session's: a forked child, which forgets the
         * session, gets them cleared. */
        pypper_own_wipe_on_fork(track, track_len);
        pypper_heap_layout.track = track;
        pypper_heap_layout.base = base;
        /* (2 bytes an arena, touched only where arenas are: a page per 2 GiB.) */
        void *resident = mmap(NULL, arenas * HEAP_TIERS * sizeof(uint16_t), PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        R.resident = resident == MAP_FAILED ? NULL : resident;
        return 0;
    }
    return -1;
}

void region_set_binder(region_bind_fn fn) { R.binder = fn; }

/* Make [addr, addr+len) writable, widened to whole pages (metadata entries of
 * neighbouring arenas may share a page; making them writable early is harmless). */
static int protect_rw(void *addr, size_t len)
{
    uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)(PAGE_SIZE - 1);
    uintptr_t hi = ((uintptr_t)addr + len + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
    return mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE);
}

static int commit(unsigned tier, size_t first, size_t count)
{
    char *addr = layout_arena_base(first);
    size_t len = count << ARENA_SHIFT;
    if (mprotect(addr, len, PROT_READ | PROT_WRITE) != 0)
        return -1;
    if (protect_rw(layout_meta(first), count * sizeof(arena_meta)) < 0
        || protect_rw(&pypper_heap_layout.body[first], count * sizeof(arena_body)) < 0
        || protect_rw(layout_arena_pools(first), count * POOLS_PER_ARENA * sizeof(pool_meta)) < 0
        || protect_rw(layout_arena_bits(first), count * ARENA_BITS_BYTES) < 0
        || protect_rw(layout_track_word(addr), count * TRACK_BYTES_PER_ARENA) < 0)
        return -1;
    if (R.binder) {
        int rc = R.binder(tier, addr, len);
        if (rc < 0) {
            R.counters.bind_failures++;
            R.counters.last_bind_errno = -rc;
        }
    }
    return 0;
}

/* Arenas [first, first + count) leave the released runs: [idle_first, idle_first +
 * idle) of them were idle (resident), the others purged. Their records are reset (a
 * purged arena's pool records were discarded: zero already) and the memory accounted
 * for. */
static size_t hand_out(unsigned tier, size_t first, size_t count, size_t idle_first, size_t idle,
                       bool pools_dirty, bool *zeroed, size_t *fresh)
{
    size_t purged = count - idle;
    memset(layout_meta(first), 0, count * sizeof(arena_meta));
    /* 12 KiB of records an arena: only where a pool or medium arena wrote them (a
     * span of 1 MiB taken from idle memory spent 4% of bytes(1 << 20) zeroing them). */
    if (pools_dirty) {
        memset(layout_arena_pools(idle_first), 0, idle * POOLS_PER_ARENA * sizeof(pool_meta));
        memset(layout_arena_bits(idle_first), 0, idle * ARENA_BITS_BYTES);
    }
    retain_idle_sub((uint64_t)idle << ARENA_SHIFT);
    R.counters.arenas_committed[tier] += purged;
    *zeroed = idle == 0;
    *fresh = purged;
    return first;
}

/* ---- residency hints (R.resident) ---- */

void region_note_pages(size_t first, size_t count, size_t pages)
{
    if (!R.resident)
        return;
    for (size_t k = 0; k < count; k++) {
        size_t used = pages > k * PAGES_PER_ARENA ? pages - k * PAGES_PER_ARENA : 0;
        if (used > PAGES_PER_ARENA)
            used = PAGES_PER_ARENA;
        if (R.resident[first + k] < used)
            R.resident[first + k] = (uint16_t)used;
    }
}

/* [addr, addr + len) was given back: an arena it reaches to the end of keeps at most
 * the pages before it (a discard inside an arena leaves its hint). */
static void note_discarded(const void *addr, size_t len)
{
    if (!R.resident || !len || !layout_owns(addr))
        return;
    uintptr_t from = (uintptr_t)addr - (uintptr_t)pypper_heap_layout.base, end = from + len;
    for (size_t ai = from >> ARENA_SHIFT; ((uintptr_t)(ai + 1) << ARENA_SHIFT) <= end; ai++) {
        uintptr_t start = (uintptr_t)ai << ARENA_SHIFT;
        size_t kept = from > start ? (size_t)((from - start) >> PAGE_SHIFT) : 0;
        if (R.resident[ai] > kept)
            R.resident[ai] = (uint16_t)kept;
    }
}

/* How far arenas [first, first + count) are from what a block needs: the pages it
 * would fault in plus the resident pages it would leave unused, the last arena
 * needing last_pages and the others all of theirs. A freed 1 MiB + 4 KiB buffer
 * leaves an idle full arena and one with a page: taken from the front for the next
 * half-MiB block, the full one kept 127 pages resident under it for as long as it
 * lived, and a loop of such buffers and half copies held 3 MB more than stock
 * (Tools/bench/survey/buffer_slices.py, 2026-12-06). */
static size_t misfit(size_t first, size_t count, size_t last_pages)
{
    size_t cost = 0;
    for (size_t k = 0; k < count; k++) {
        size_t need = k + 1 < count ? PAGES_PER_ARENA : last_pages;
        size_t have = R.resident[first + k];
        cost += have > need ? have - need : need - have;
    }
    return cost;
}

/* Forget released run i (the last record takes its place). */
static void drop_run(unsigned tier, size_t i) { R.runs[tier][i] = R.runs[tier][--R.nruns[tier]]; }

/* Take `count` arenas from the front of released run i, or from its back. */
static size_t take_from_run(unsigned tier, size_t i, size_t count, bool back, bool *zeroed,
                            size_t *fresh)
{
    free_run *run = &R.runs[tier][i];
    size_t first = back ? run->first + run->count - count : run->first;
    bool dirty = run->dirty, pools_dirty = run->pools_dirty;
    if (!back)
        run->first += count;
    run->count -= count;
    if (run->count == 0)
        drop_run(tier, i);
    hand_out(tier, first, count, first, dirty ? count : 0, pools_dirty, zeroed, fresh);
    for (size_t a = first; a < first + count; a++)
        layout_meta(a)->clean = !dirty;
    return first;
}

/* ---- windows over adjacent released runs ---- */

static bool discard_arenas(size_t first, size_t count);

/* Purged runs never touch each other, nor do idle runs of one kind (release merges
 * them), but an idle run touches purged ones and idle runs of the other kind (emptied
 * pool and medium arenas, or not), and a stretch of touching runs ("an extent") can
 * serve a span that no idle run holds. */
static int by_first(const void *a, const void *b)
{
    size_t x = (*(const free_run *const *)a)->first, y = (*(const free_run *const *)b)->first;
    return x < y ? -1 : x > y;
}

static int descending(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x > y ? -1 : x < y;
}

/* Idle arenas before arena `at` in the extent of sorted runs [0, n) (at within it). */
static size_t idle_before(free_run *const *sorted, size_t n, const size_t *idle_prefix,
                          size_t at)
{
    size_t lo = 0, hi = n;      /* the last run starting at or before `at` */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid]->first <= at)
            lo = mid;
        else
            hi = mid;
    }
    return idle_prefix[lo] + (sorted[lo]->dirty ? at - sorted[lo]->first : 0);
}

/* Hand out arenas [first, first + count) of the extent of sorted runs [0, n), which
 * it lies in: each run it covers is dropped or cut, each idle piece's records reset. */
PYPPER_RARE_CODE static size_t take_window(unsigned tier, free_run **sorted, size_t n,
                                           size_t first, size_t count, bool *zeroed,
                                           size_t *fresh)
{
    static size_t drop[MAX_FREE_RUNS], idle_from[MAX_FREE_RUNS], idle_to[MAX_FREE_RUNS];
    size_t end = first + count, idle = 0, ndrop = 0, npieces = 0;
    for (size_t k = 0; k < n; k++) {
        free_run *run = sorted[k];
        size_t from = run->first > first ? run->first : first;
        size_t to = run->first + run->count < end ? run->first + run->count : end;
        if (from >= to)
            continue;
        if (run->dirty) {
            idle += to - from;
            idle_from[npieces] = from;
            idle_to[npieces++] = to;
            if (run->pools_dirty) {
                memset(layout_arena_pools(from), 0,
                       (to - from) * POOLS_PER_ARENA * sizeof(pool_meta));
                memset(layout_arena_bits(from), 0, (to - from) * ARENA_BITS_BYTES);
            }
        }
        if (from > run->first && to < run->first + run->count) {
            /* Inside one run (not reached: a window with idle arenas inside one run
             * means that idle run held the span): its front stays, its back becomes
             * a run of its own, or, the table full, goes back as release() does. */
            free_run back = *run;
            back.first = to;
            back.count = run->first + run->count - to;
            run->count = from - run->first;
            if (R.nruns[tier] < MAX_FREE_RUNS) {
                R.runs[tier][R.nruns[tier]++] = back;
            } else if (back.dirty) {
                discard_arenas(back.first, back.count);
                retain_idle_sub((uint64_t)back.count << ARENA_SHIFT);
                R.counters.arenas_committed[tier] -= back.count;
            }
        } else if (from > run->first) {
            run->count = from - run->first;
        } else if (to < run->first + run->count) {
            run->count = run->first + run->count - to;
            run->first = to;
        } else {
            drop[ndrop++] = (size_t)(run - R.runs[tier]);
        }
    }
    /* Highest index first: what drop_run moves into a slot is from past every one
     * still to drop. */
    qsort(drop, ndrop, sizeof drop[0], descending);
    for (size_t i = 0; i < ndrop; i++)
        drop_run(tier, drop[i]);
    hand_out(tier, first, count, first, idle, false, zeroed, fresh);
    /* Which arenas are not resident (arena_meta.clean): all but the idle pieces. */
    for (size_t a = first; a < end; a++)
        layout_meta(a)->clean = 1;
    for (size_t k = 0; k < npieces; k++)
        for (size_t a = idle_from[k]; a < idle_to[k]; a++)
            layout_meta(a)->clean = 0;
    return first;
}

/* No idle run holds `count` arenas: of the windows of `count` arenas inside extents
 * of idle and purged runs, one with the most idle arenas (fewest faults; in the
 * shortest extent, keeping longer ones whole), if any has one. A near-size request
 * (8 MiB, then 8 MiB and 8 bytes) reuses a too-short idle run and faults in only the
 * difference; two spans of near sizes cycling (16 and 8 MiB, freed in turn) leave
 * idle runs of 9 and 8 arenas with a purged arena between, which a span of 17 takes
 * with one fault in 17 (Tools/bench/survey/big_buffer_slices.py: joining an idle run
 * only with the purged run beside it faulted in 8 arenas an iteration, 2.8x stock's
 * time). The best window starts or ends at a run's edge. -1 if none. Called when
 * some run is idle and another released (out of the code windows: the fallback when
 * no idle run holds a span). */
PYPPER_RARE_CODE static size_t take_idle_window(unsigned tier, size_t count, bool *zeroed,
                                                size_t *fresh)
{
    size_t n = R.nruns[tier];
    static free_run *sorted[MAX_FREE_RUNS];
    static size_t idle_prefix[MAX_FREE_RUNS + 1];
    for (size_t i = 0; i < n; i++)
        sorted[i] = &R.runs[tier][i];
    qsort(sorted, n, sizeof sorted[0], by_first);
    size_t best_first = 0, best_idle = 0, best_len = 0, best_k = 0, best_n = 0;
    for (size_t k = 0; k < n;) {
        size_t m = k + 1;           /* the extent: sorted runs [k, m) */
        while (m < n && sorted[m]->first == sorted[m - 1]->first + sorted[m - 1]->count)
            m++;
        size_t lo = sorted[k]->first, hi = sorted[m - 1]->first + sorted[m - 1]->count;
        bool idle_in = false;
        for (size_t j = k; j < m; j++)
            idle_in = idle_in || sorted[j]->dirty;
        if (hi - lo >= count && m - k > 1 && idle_in) {
            idle_prefix[0] = 0;
            for (size_t j = k; j < m; j++)
                idle_prefix[j - k + 1] =
                    idle_prefix[j - k] + (sorted[j]->dirty ? sorted[j]->count : 0);
            for (size_t j = k; j < m; j++)
                for (int at_end = 0; at_end < 2; at_end++) {
                    size_t edge = at_end ? sorted[j]->first + sorted[j]->count : sorted[j]->first;
                    size_t first = at_end ? (edge - lo >= count ? edge - count : lo)
                                          : (hi - edge >= count ? edge : hi - count);
                    size_t idle = (first + count < hi
                                   ? idle_before(sorted + k, m - k, idle_prefix, first + count)
                                   : idle_prefix[m - k])
                                  - idle_before(sorted + k, m - k, idle_prefix, first);
                    if (idle > best_idle || (idle == best_idle && idle && hi - lo < best_len)) {
                        best_first = first, best_idle = idle, best_len = hi - lo;
                        best_k = k, best_n = m - k;
                    }
                }
        }
        k = m;
    }
    if (!best_idle)
        return (size_t)-1;
    return take_window(tier, sorted + best_k, best_n, best_first, count, zeroed, fresh);
}

/* Of the idle runs long enough, the shortest (best fit: keeps larger runs whole),
 * from its front; with fit_pages, first the front or back `count` arenas whose
 * resident pages fit the block best (misfit). Its index, or (size_t)-1; *any_idle:
 * some run is idle. */
static size_t best_idle_run(unsigned tier, size_t count, size_t fit_pages, bool *back_out,
                            bool *any_idle)
{
    size_t best = (size_t)-1, best_cost = 0;
    bool fit = fit_pages && R.resident;
    *any_idle = false;
    for (size_t i = 0; i < R.nruns[tier]; i++) {
        const free_run *run = &R.runs[tier][i];
        *any_idle = *any_idle || run->dirty;
        if (!run->dirty || run->count < count)
            continue;
        for (int back = 0; back < 2 && (!back || (fit && run->count > count)); back++) {
            size_t cost = fit ? misfit(back ? run->first + run->count - count : run->first,
                                       count, fit_pages) : 0;
            if (best == (size_t)-1 || cost < best_cost
                || (cost == best_cost && run->count < R.runs[tier][best].count)) {
                best = i;
                best_cost = cost;
                *back_out = back;
            }
        }
    }
    return best;
}

bool region_idle_holds(unsigned tier, size_t count)
{
    for (size_t i = 0; i < R.nruns[tier]; i++)
        if (R.runs[tier][i].dirty && R.runs[tier][i].count >= count)
            return true;
    return false;
}

size_t region_take_idle_arenas(unsigned tier, size_t count, bool *zeroed, size_t *fresh)
{
    bool back = false, any_idle;
    size_t best = best_idle_run(tier, count, 0, &back, &any_idle);
    return best == (size_t)-1 ? best : take_from_run(tier, best, count, back, zeroed, fresh);
}

size_t region_take_arenas(unsigned tier, size_t count, size_t fit_pages, bool *zeroed,
                          size_t *fresh)
{
    /* Released runs first, idle (resident) ones before purged ones. Purged
     * pages read as zero; the metadata of any released run is stale and is reset. */
    bool best_back = false, any_idle;
    size_t best = best_idle_run(tier, count, fit_pages, &best_back, &any_idle);
    if (best != (size_t)-1)
        return take_from_run(tier, best, count, best_back, zeroed, fresh);
    size_t mixed = any_idle && R.nruns[tier] > 1 ? take_idle_window(tier, count, zeroed, fresh)
                                                 : (size_t)-1;
    if (mixed != (size_t)-1)
        return mixed;
    for (size_t i = 0; i < R.nruns[tier]; i++)
        if (!R.runs[tier][i].dirty && R.runs[tier][i].count >= count)
            return take_from_run(tier, i, count, false, zeroed, fresh);
    size_t local = R.bump[tier];
    if (local + count > pypper_heap_layout.arenas_per_tier) {
        R.counters.commit_failures++;
        return (size_t)-1;
    }
    size_t first = tier * pypper_heap_layout.arenas_per_tier + local;
    if (commit(tier, first, count) < 0) {
        R.counters.commit_failures++;
        return (size_t)-1;
    }
    /* Release: a racing reader that sees the new bump sees the committed memory. */
    __atomic_store_n(&R.bump[tier], local + count, __ATOMIC_RELEASE);
    R.counters.arenas_committed[tier] += count;
    R.counters.arenas_high[tier] = R.bump[tier];
    for (size_t a = first; a < first + count; a++)
        layout_meta(a)->clean = 1;
    *zeroed = true;
    *fresh = count;        /* fresh anonymous memory (and zeroed metadata) */
    return first;
}

bool region_extend(size_t first, size_t count, size_t *fresh)
{
    unsigned tier = (unsigned)(first / pypper_heap_layout.arenas_per_tier);
    size_t local = first - tier * pypper_heap_layout.arenas_per_tier;
    bool zeroed;
    for (size_t i = 0; i < R.nruns[tier]; i++)
        if (R.runs[tier][i].first == first && R.runs[tier][i].count >= count) {
            take_from_run(tier, i, count, false, &zeroed, fresh);
            return true;
        }
    if (local != R.bump[tier] || local + count > pypper_heap_layout.arenas_per_tier
        || commit(tier, first, count) < 0)
        return false;
    __atomic_store_n(&R.bump[tier], local + count, __ATOMIC_RELEASE);
    R.counters.arenas_committed[tier] += count;
    R.counters.arenas_high[tier] = R.bump[tier];
    for (size_t a = first; a < first + count; a++)
        layout_meta(a)->clean = 1;
    *fresh = count;
    return true;
}

arena_meta *region_take_arena(unsigned tier, enum arena_kind kind, bool *zeroed)
{
    size_t fresh;
    size_t ai = region_take_arenas(tier, 1, 0, zeroed, &fresh);
    if (ai == (size_t)-1)
        return NULL;
    if (fresh)
        retain_note_growth((uint64_t)fresh << ARENA_SHIFT);
    arena_meta *m = layout_meta(ai);
    /* Its unit records: stale if it was used before (a span's arenas never write
     * theirs, so a 1 GiB block zeroes 48 KiB of records, not 900 KiB; a large arena's
     * page records are reset where page_runs.c makes one). */
    if (kind == ARENA_MEDIUM)
        memset(layout_medium(m), 0, sizeof(medium_body));
    m->kind = (uint8_t)kind;
    m->tier = (uint8_t)tier;
    return m;
}

bool region_arena_committed(size_t ai)
{
    size_t per_tier = pypper_heap_layout.arenas_per_tier;     /* a power of two */
    if (!per_tier || ai >= per_tier * HEAP_TIERS)
        return false;
    unsigned tier = (unsigned)(ai >> (pypper_heap_layout.tier_shift - ARENA_SHIFT));
    return (ai & (per_tier - 1)) < __atomic_load_n(&R.bump[tier], __ATOMIC_ACQUIRE);
}

/* Who sees discards: write tracking and the migration plane, one slot each; called
 * inside the heap's lock (every discard is). */
static void (*discard_observers[REGION_DISCARD_OBSERVERS])(void *addr, size_t len);

void region_set_discard_observer(region_discard_observer who, void (*fn)(void *addr, size_t len))
{
    if ((unsigned)who < REGION_DISCARD_OBSERVERS)
        __atomic_store_n(&discard_observers[who], fn, __ATOMIC_RELEASE);
}

static bool remap_forbidden;

void region_set_remap_allowed(bool allowed)
{
    __atomic_store_n(&remap_forbidden, !allowed, __ATOMIC_RELEASE);
}

bool region_remap_allowed(void) { return !__atomic_load_n(&remap_forbidden, __ATOMIC_ACQUIRE); }

size_t region_committed_extent(unsigned tier)
{
    return __atomic_load_n(&R.bump[tier], __ATOMIC_ACQUIRE) << ARENA_SHIFT;
}

static void tell_observers(void *addr, size_t len)
{
    if (!layout_owns(addr))
        return;
    for (unsigned who = 0; who < REGION_DISCARD_OBSERVERS; who++) {
        void (*fn)(void *, size_t) = __atomic_load_n(&discard_observers[who], __ATOMIC_ACQUIRE);
        if (fn)
            fn(addr, len);
    }
}

bool region_discard(void *addr, size_t len)
{
    bool done = madvise(addr, len, MADV_DONTNEED) == 0;
    if (done)
        note_discarded(addr, len);
    tell_observers(addr, len);
    return done;
}

void region_note_replaced(void *addr, size_t len) { tell_observers(addr, len); }

bool region_restore(unsigned tier, void *addr, size_t len)
{
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p != addr)
        return false;
    if (R.binder && R.binder(tier, addr, len) < 0)
        R.counters.bind_failures++;
    tell_observers(addr, len);
    return true;
}

/* Whether every arena whose record (of `size` bytes, in the array at `base`) shares
 * the page at `page` is free (a free arena's records are garbage, reset when it is
 * taken). An arena never committed is free, and its arena_meta may lie on a page
 * never made writable (an arena_body page spans the records of about five arenas,
 * an arena_meta page those of 85): it is not read. */
static bool record_page_free(uintptr_t base, size_t size, uintptr_t page)
{
    size_t total = pypper_heap_layout.arenas_per_tier * HEAP_TIERS;
    size_t lo = page < base ? 0 : (page - base) / size;
    size_t hi = (page + PAGE_SIZE - 1 - base) / size;
    for (size_t a = lo; a <= hi && a < total; a++)
        if (region_arena_committed(a) && layout_meta(a)->kind != ARENA_FREE)
            return false;
    return true;
}

/* The pages of the records (`size` bytes an arena, in the array at `base`) of arenas
 * [first, first + count) go back, with the pages they share with neighbours when
 * those are free too. */
static void discard_records(void *array, size_t size, size_t first, size_t count)
{
    uintptr_t base = (uintptr_t)array;
    uintptr_t lo = (base + first * size) & ~(uintptr_t)(PAGE_SIZE - 1);
    uintptr_t hi = (base + (first + count) * size + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
    if (!record_page_free(base, size, lo))
        lo += PAGE_SIZE;
    if (hi > lo && !record_page_free(base, size, hi - PAGE_SIZE))
        hi -= PAGE_SIZE;
    if (hi > lo)
        region_discard((void *)lo, hi - lo);
}

/* The arenas' memory and their metadata go back: 1.2% of a pool arena's size is its
 * pool records, which would otherwise stay resident after the arena is purged. Zero
 * metadata reads as a free arena (ARENA_FREE is 0), so a racing reader stays safe.
 * False when the kernel refused to give the memory back (locked: mlock, mlockall):
 * it still holds what it held, and must not be handed out as purged (zero). */
static bool discard_arenas(size_t first, size_t count)
{
    if (!region_discard(layout_arena_base(first), count << ARENA_SHIFT))
        return false;
    region_discard(layout_track_word(layout_arena_base(first)), count * TRACK_BYTES_PER_ARENA);
    region_discard(layout_arena_pools(first), count * POOLS_PER_ARENA * sizeof(pool_meta));
    region_discard(layout_arena_bits(first), count * ARENA_BITS_BYTES);
    discard_records(pypper_heap_layout.meta, sizeof(arena_meta), first, count);
    discard_records(pypper_heap_layout.body, sizeof(arena_body), first, count);
    return true;
}

/* Joins [first, first + count) to the runs of state `dirty` that end at `first` and
 * that start at its end (each at most one: runs that would join never touch). Idle
 * runs join only runs of their kind, emptied pool and medium arenas (pools_dirty) or not:
 * those are counted apart (pools_idle_bytes), and a run of both could not tell how
 * much of each it holds. Whether it joined any. */
static bool merge_neighbours(unsigned tier, size_t first, size_t count, bool dirty, bool span,
                             bool pools_dirty, uint64_t since)
{
    size_t left = (size_t)-1, right = (size_t)-1;
    for (size_t i = 0; i < R.nruns[tier]; i++) {
        free_run *run = &R.runs[tier][i];
        if (run->dirty != dirty || (dirty && run->pools_dirty != pools_dirty))
            continue;
        if (run->first + run->count == first)
            left = i;
        else if (first + count == run->first)
            right = i;
    }
    if (left == (size_t)-1 && right == (size_t)-1)
        return false;
    if (left != (size_t)-1 && right != (size_t)-1) {
        free_run *l = &R.runs[tier][left], *r = &R.runs[tier][right];
        l->count += count + r->count;
        l->span = l->span || r->span || span;
        l->pools_dirty = l->pools_dirty || r->pools_dirty || pools_dirty;
        l->since = dirty ? since : 0;
        drop_run(tier, right);
        return true;
    }
    free_run *run = &R.runs[tier][left != (size_t)-1 ? left : right];
    if (right != (size_t)-1)
        run->first = first;
    run->count += count;
    run->span = run->span || span;
    run->pools_dirty = run->pools_dirty || pools_dirty;
    if (dirty)
        run->since = since;
    return true;
}

/* The idle bytes of emptied pool and medium arenas, in every tier (their idle runs
 * hold nothing else: merge_neighbours). */
static uint64_t pools_idle_bytes(void)
{
    uint64_t arenas = 0;
    for (unsigned t = 0; t < HEAP_TIERS; t++)
        for (size_t i = 0; i < R.nruns[t]; i++)
            if (R.runs[t][i].dirty && R.runs[t][i].pools_dirty)
                arenas += R.runs[t][i].count;
    return arenas << ARENA_SHIFT;
}

static void release(size_t first, size_t count, bool discard, bool span)
{
    unsigned tier = (unsigned)(first / pypper_heap_layout.arenas_per_tier);
    bool pools_dirty = false;
    for (size_t a = first; a < first + count; a++) {
        arena_meta *m = layout_meta(a);
        pools_dirty = pools_dirty || m->kind == ARENA_POOLS || m->kind == ARENA_MEDIUM;
        m->kind = ARENA_FREE;
    }
    /* Emptied pool and medium arenas beyond what is kept of them go back at once. */
    if (pools_dirty && !discard && !span
        && !retain_pools_keep(pools_idle_bytes(), (uint64_t)count << ARENA_SHIFT))
        discard = true;
    /* Memory the kernel keeps (locked) stays idle: it is not zero. */
    if (discard && !discard_arenas(first, count))
        discard = false;
    /* A pool, medium or large arena kept idle: its pages were taken one by one (and
     * any given back meanwhile may have been faulted in again). A span's arenas have
     * their block's reach (large.c). */
    for (size_t a = first; !span && !discard && R.resident && a < first + count; a++)
        R.resident[a] = PAGES_PER_ARENA;
    uint64_t now = discard ? 0 : retain_now();
    pools_dirty = pools_dirty && !discard;      /* discarded records read as zero */
    if (discard) {
        R.counters.arenas_committed[tier] -= count;
    } else {
        retain_idle_add((uint64_t)count << ARENA_SHIFT);
    }
    /* Merge with the released runs of the same state on either side (both: a run
     * freed between two idle runs joins them into one that can serve a longer
     * request). */
    if (merge_neighbours(tier, first, count, !discard, span && !discard, pools_dirty, now))
        return;
    if (R.nruns[tier] < MAX_FREE_RUNS) {
        R.runs[tier][R.nruns[tier]++] =
            (free_run){first, count, !discard, span && !discard, pools_dirty, now};
        return;
    }
    /* The run table is full: the slots stay unused; their memory goes back now. */
    if (!discard) {
        discard_arenas(first, count);
        retain_idle_sub((uint64_t)count << ARENA_SHIFT);
        R.counters.arenas_committed[tier] -= count;
    }
}

/* Add a purged run, merged with a purged neighbour when there is one (long clean
 * runs serve spans). */
static void add_clean_run(unsigned tier, size_t first, size_t count)
{
    if (merge_neighbours(tier, first, count, false, false, false, 0))
        return;
    if (R.nruns[tier] < MAX_FREE_RUNS)
        R.runs[tier][R.nruns[tier]++] = (free_run){first, count, false, false, false, 0};
    /* else: the slots stay unused (their memory is given back all the same) */
}

void region_release_arenas(size_t first, size_t count, bool discard)
{
    release(first, count, discard, false);
}

void region_release_span(size_t first, size_t count)
{
    release(first, count, false, true);
}

/* Give back the memory of the last `count` arenas of idle run i of `tier` (all of
 * it when count >= its length); returns the bytes. When the kernel refuses (locked
 * memory in the range), arena by arena from the end, up to one it keeps: that one and
 * those before it stay idle, the run then the newest, so that the next purge takes
 * other memory first; 0 with *refused when none went back. */
static uint64_t purge_run(unsigned tier, size_t i, size_t count, bool *refused)
{
    free_run *run = &R.runs[tier][i];
    if (count > run->count)
        count = run->count;
    size_t end = run->first + run->count, done = count;
    if (!discard_arenas(end - count, count)) {
        for (done = 0; done < count && discard_arenas(end - done - 1, 1); done++)
            ;
        run->since = retain_now() + 1;
        if (!done) {
            *refused = true;
            return 0;
        }
    }
    count = done;
    size_t first = end - count;
    R.counters.arenas_committed[tier] -= count;
    uint64_t bytes = (uint64_t)count << ARENA_SHIFT;
    retain_idle_sub(bytes);
    run->count -= count;
    if (run->count == 0)
        drop_run(tier, i);
    add_clean_run(tier, first, count);
    return bytes;
}

bool region_oldest_idle(uint64_t *since)
{
    bool found = false;
    for (unsigned t = 0; t < HEAP_TIERS; t++)
        for (size_t i = 0; i < R.nruns[t]; i++)
            if (R.runs[t][i].dirty && (!found || R.runs[t][i].since < *since)) {
                *since = R.runs[t][i].since;
                found = true;
            }
    return found;
}

uint64_t region_purge_oldest_idle(uint64_t limit, bool *span, bool *refused)
{
    unsigned best_t = 0;
    size_t best_i = (size_t)-1;
    for (unsigned t = 0; t < HEAP_TIERS; t++)
        for (size_t i = 0; i < R.nruns[t]; i++)
            if (R.runs[t][i].dirty
                && (best_i == (size_t)-1 || R.runs[t][i].since < R.runs[best_t][best_i].since)) {
                best_t = t;
                best_i = i;
            }
    if (best_i == (size_t)-1)
        return 0;
    size_t count = (size_t)(limit >> ARENA_SHIFT) + ((limit & (ARENA_SIZE - 1)) != 0);
    *span = R.runs[best_t][best_i].span;
    return purge_run(best_t, best_i, count ? count : 1, refused);
}

void region_get_counters(region_counters *out) { *out = R.counters; }
