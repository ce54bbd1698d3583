/* Objects/heap.c: the heap's entry points (malloc, calloc, realloc, free), its
 * pointer lookup and statistics, the fast-tier budget and the locking mode. Calls are
 * serialized by the GIL; once another interpreter with its own GIL may exist, every
 * call also takes the heap lock (pypper_heap_enable_locking). */
#include "heap_internal.h"
#include "../Pypper/code_size.h"
#include "../Pypper/threads.h"
#include "placement.h"
#include "region.h"
#include "retain.h"
#include "track_internal.h"
#include "trim.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

heap_state pypper_heap = {.budget_percent = 100.0};

static atomic_bool locking;
static pthread_mutex_t heap_lock PYPPER_PINNED = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { if (atomic_load(&locking)) pthread_mutex_lock(&heap_lock); }
static void fork_parent(void) { if (atomic_load(&locking)) pthread_mutex_unlock(&heap_lock); }
static void fork_child(void)
{
    if (atomic_load(&locking))
        pthread_mutex_init(&heap_lock, NULL);
    /* No session survives fork (the child has no sampler): stop retaining arenas.
     * Only the flag: empty arenas go back as they empty, or at the next session end. */
    pypper_heap.retain = false;
}
static void register_atfork(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

void pypper_heap_enable_locking(void)
{
    pthread_once(&atfork_once, register_atfork);
    atomic_store(&locking, true);
}

bool pypper_heap_locking(void) { return atomic_load_explicit(&locking, memory_order_relaxed); }

bool pypper_heap_lock(void)
{
    bool locked = atomic_load_explicit(&locking, memory_order_relaxed);
    if (locked)
        pthread_mutex_lock(&heap_lock);
    return locked;
}

void pypper_heap_unlock(bool locked)
{
    if (locked)
        pthread_mutex_unlock(&heap_lock);
}

#define LOCK()                                                             \
    bool locked_ = atomic_load_explicit(&locking, memory_order_relaxed);   \
    if (UNLIKELY(locked_))                                                 \
        pthread_mutex_lock(&heap_lock)
#define UNLOCK()                                                           \
    if (UNLIKELY(locked_))                                                 \
    pthread_mutex_unlock(&heap_lock)

int pypper_heap_init(void)
{
    if (pypper_heap_layout.base)
        return 0;
    pthread_once(&atfork_once, register_atfork);
    size_classes_init();
    medium_init();
    return region_init();
}

bool pypper_heap_ready(void) { return pypper_heap_layout.base != NULL; }

bool pypper_heap_owns(const void *p) { return pypper_heap_layout.base && layout_owns(p); }

void *pypper_heap_base(void) { return pypper_heap_layout.base; }

/* growing: the block replaces a smaller one (realloc), and may grow again. */
static void *alloc_in(unsigned tier, size_t n, bool *zeroed, bool growing)
{
    if (LIKELY(n <= SMALL_MAX)) {
        *zeroed = false;
        return pool_alloc_fast(tier, size_class_of(n));
    }
    heap_trim_tick();
    void *p = n <= MEDIUM_MAX ? medium_alloc(tier, n, zeroed) : large_alloc(tier, n, zeroed, growing);
    heap_trim();           /* fresh memory faulted in while some was idle */
    retain_mark_allocation();
    return p;
}

void *pypper_heap_malloc(size_t n)
{
    bool zeroed;
    LOCK();
    void *p = alloc_in(pypper_placement_choose(n), n, &zeroed, false);
    UNLOCK();
    return p;
}

void *pypper_heap_malloc_in(unsigned tier, size_t n)
{
    bool zeroed;
    LOCK();
    void *p = alloc_in(tier & 1u, n, &zeroed, false);
    UNLOCK();
    return p;
}

/* At least this many bytes asked of calloc are zeroed by giving their whole pages back
 * (MADV_DONTNEED: the kernel's zero pages, faulted in only where the program touches
 * them) rather than written. glibc serves a calloc from 32 MiB up (its largest mmap
 * threshold on 64-bit) with fresh mappings every time; memory the heap kept or reused
 * (retained, or a run only partly purged) was written whole: bytes(1 << 30) three times
 * had a peak RSS of 1 GiB and ran 0.5 s against stock's 10 MB and 0.01 s. */
#define CALLOC_DISCARD_MIN ((size_t)32 << 20)

/* Inside the heap's lock (the write-tracking observer's ring has one writer): the
 * whole pages of a calloc'd block [p, p + n) of CALLOC_DISCARD_MIN bytes or more go
 * back to the kernel, as [*first, *last); those stay as the caller set them (an
 * empty range) when there are none or the kernel refuses (locked memory). */
static void discard_whole_pages(char *p, size_t n, char **first, char **last)
{
    char *lo = (char *)(((uintptr_t)p + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1));
    char *hi = (char *)(((uintptr_t)p + n) & ~(uintptr_t)(PAGE_SIZE - 1));
    if (hi <= lo || !region_discard(lo, (size_t)(hi - lo)))
        return;
    pypper_heap.calloc_discards++;
    *first = lo;
    *last = hi;
}

void *pypper_heap_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n))
        return NULL;
    bool zeroed;
    LOCK();
    char *p = alloc_in(pypper_placement_choose(n), n, &zeroed, false);
    char *first = NULL, *last = NULL;       /* the pages discarded: zero already */
    if (p && !zeroed) {
        first = last = p + n;
        if (n >= CALLOC_DISCARD_MIN)
            discard_whole_pages(p, n, &first, &last);
    }
    UNLOCK();
    if (p && !zeroed) {                     /* after the lock: the rest is written */
        memset(p, 0, (size_t)(first - p));
        memset(last, 0, (size_t)(p + n - last));
    }
    return p;
}

static void free_unpooled(void *p)
{
    size_t ai = layout_arena_index(p);
    arena_meta *m = layout_meta(ai);
    switch (m->kind) {
    case ARENA_MEDIUM:
        if (!medium_free(m, p))
            pypper_heap.invalid_frees++;
        heap_trim_freed(false);     /* (one may come between a shrinking heap's frees) */
        return;
    case ARENA_LARGE:
    case ARENA_HUGE_HEAD:
        large_free(m, ai, p);
        heap_trim_freed(true);
        return;
    default:
        pypper_heap.invalid_frees++;
        return;
    }
}

static inline void free_locked(void *p)
{
    track_forget(p);
    pool_meta *pool = layout_pool(p);
    if (LIKELY(pool->size != 0)) {
        if (UNLIKELY(!pool_free_block(pool, p)))
            pypper_heap.invalid_frees++;
        return;
    }
    free_unpooled(p);
}

void pypper_heap_free(void *p)
{
    if (!p)
        return;
    LOCK();
    free_locked(p);
    UNLOCK();
}

/* Usable size of an owned, allocated block; 0 when p is not one. */
static size_t usable_size(void *p)
{
    pool_meta *pool = pool_of(layout_pool(p));
    if (pool)
        return pool_is_marked(p) ? pool->size : 0;
    arena_meta *m = layout_meta(layout_arena_index(p));
    if (m->kind == ARENA_MEDIUM)
        return medium_usable(m, p);
    if (m->kind == ARENA_LARGE || m->kind == ARENA_HUGE_HEAD)
        return large_usable(m, p);
    return 0;
}

void *pypper_heap_realloc(void *p, size_t n)
{
    if (!p)
        return pypper_heap_malloc(n);
    LOCK();
    size_t have = usable_size(p);
    if (have == 0) {
        pypper_heap.invalid_frees++;
        UNLOCK();
        return NULL;
    }
    arena_meta *m = layout_meta(layout_arena_index(p));
    /* A block of pages grows in place, or shrinks in place by a page or more, giving
     * its tail back: tuple(genexpr) and other exact-size shrinks of an over-allocated
     * buffer ended 17% above getsizeof on a newcomer's column store of 80,000-float
     * tuples when such a block was kept whole by the rule beneath (4.6 MB more peak RSS
     * than stock's realloc, which gives the tail back). */
    if (n > MEDIUM_MAX && have > MEDIUM_MAX && (n > have || have - n >= PAGE_SIZE)
        && large_resize_in_place(m, p, n)) {
        /* Fresh memory a growth took while some was idle is owed now, while that idle
         * memory is there: a bytearray of 8 MiB grown into a fresh arena, then copied
         * (the copy taking idle arenas), owed nothing by the time the next free
         * trimmed, and its peak grew by an arena an iteration (tmp_bytearray.py). */
        heap_trim();
        UNLOCK();
        return p;
    }
    /* Keep the block when the new size still fits and does not waste most of it. */
    if (n <= have && (n > have / 4 * 3 || have <= GRANULE)) {
        UNLOCK();
        return p;
    }
    if (m->kind == ARENA_MEDIUM && n > SMALL_MAX && n <= MEDIUM_MAX
        && medium_resize_in_place(m, p, n)) {
        UNLOCK();
        return p;
    }
    bool zeroed;
    void *q = alloc_in(pypper_placement_choose(n), n, &zeroed, n > have);
    if (q && m->kind == ARENA_HUGE_HEAD && n > have
        && layout_meta(layout_arena_index(q))->kind == ARENA_HUGE_HEAD
        && large_move_span(p, q, have)) {
        /* A growing huge block (a list's items, say) moves its pages, as glibc's
         * realloc does with mremap: no copy, and no moment with both copies. */
        track_forget(p);
        large_free_moved_span(m, layout_arena_index(p));
    } else if (q) {
        memcpy(q, p, have < n ? have : n);
        free_locked(p);
    }
    UNLOCK();
    return q;
}

void pypper_heap_lookup(const void *p, pypper_block_info *info)
{
    memset(info, 0, sizeof(*info));
    info->size_class = -1;
    if (!pypper_heap_owns(p))
        return;
    size_t ai = layout_arena_index(p);
    arena_meta *m = layout_meta(ai);
    info->tier = layout_tier(p);
    info->page = (void *)((uintptr_t)p & ~(uintptr_t)(PAGE_SIZE - 1));
    info->arena = layout_arena_base(ai);
    switch (m->kind) {
    case ARENA_POOLS: {
        pool_meta *slot = layout_pool(p);
        pool_meta *pool = pool_of(slot);
        info->kind = PYPPER_BLOCK_SMALL;
        info->pool = layout_arena_base(ai) + ((((uintptr_t)p >> POOL_SHIFT)
                                               & (POOLS_PER_ARENA - 1)) << POOL_SHIFT);
        if (!pool)
            return;
        size_t index = (size_t)((const char *)p - pool->base) / pool->size;
        char *block = pool->base + index * pool->size;
        if (index >= pool->capacity || (size_t)(block - pool->base) >= pool->bump)
            return;
        info->block = block;
        info->size = pool->size;
        info->size_class = pool->sclass;
        info->allocated = pool_is_marked(block);
        return;
    }
    case ARENA_MEDIUM: {
        char *block;
        size_t size;
        info->kind = PYPPER_BLOCK_MEDIUM;
        if (medium_find_block(m, p, &block, &size)) {
            info->block = block;
            info->size = size;
            info->allocated = true;
        }
        return;
    }
    case ARENA_LARGE: {
        info->kind = PYPPER_BLOCK_LARGE;
        size_t page = ((uintptr_t)p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1);
        /* Walk back to the start of the run holding the page, across the arenas of
         * its zone (a run may start in an earlier large arena, Objects/page_runs.c). */
        for (size_t back = 0, a = ai; back <= PAGE_RUN_MAX >> ARENA_SHIFT; back++, a--) {
            const arena_meta *am = layout_meta(a);
            if (am->kind != ARENA_LARGE || am->tier != m->tier)
                return;
            for (int i = back ? (int)PAGES_PER_ARENA - 1 : (int)page; i >= 0; i--) {
                unsigned len = layout_large(am)->run_pages[i];
                if (len) {
                    size_t color = layout_run_offset(am, (unsigned)i);
                    char *block = layout_arena_base(a) + ((size_t)i << PAGE_SHIFT) + color;
                    if (((size_t)i + len > page + back * PAGES_PER_ARENA)
                        && (const char *)p >= block) {
                        info->block = block;
                        info->size = ((size_t)len << PAGE_SHIFT) - color;
                        info->allocated = true;
                    }
                    return;
                }
                if (!((layout_large(am)->page_used[i >> 6] >> (i & 63)) & 1u))
                    return;     /* a free page before p's: no run holds it */
            }
            if ((a & (pypper_heap_layout.arenas_per_tier - 1)) == 0
                || !region_arena_committed(a - 1))
                return;
        }
        return;
    }
    case ARENA_HUGE_TAIL:
        ai -= m->span;
        m = layout_meta(ai);
        info->arena = layout_arena_base(ai);
        /* fall through */
    case ARENA_HUGE_HEAD:
        info->kind = PYPPER_BLOCK_HUGE;
        info->block = info->arena;
        info->size = (size_t)m->huge_pages << PAGE_SHIFT;
        info->allocated = (const char *)p < (const char *)info->block + info->size;
        return;
    default:
        return;
    }
}

bool pypper_heap_small_block_start(const void *p)
{
    if (((uintptr_t)p & (GRANULE - 1)) || !pypper_heap_layout.base || !layout_owns(p)
        || !region_arena_committed(layout_arena_index(p)))
        return false;
    const pool_meta *pool = layout_pool(p);
    return pool->size != 0 && pool_is_marked(p);
}

bool pypper_heap_pool_settled(const void *p, uint32_t turn)
{
    if (!pypper_heap_layout.base || !layout_owns(p) || !region_arena_committed(layout_arena_index(p)))
        return false;
    pool_meta *pool = layout_pool(p);
    if (!pool->size || !turn)
        return false;
    if (pool->asked != turn) {
        /* Never asked: settled only if it never handed out a block twice (no block
         * of it was freed and taken again: none of its objects replaced another). */
        pool->settled = pool->asked ? pool->handed == pool->handed_asked
                                    : (uint64_t)pool->handed * pool->size == pool->bump;
        pool->handed_asked = pool->handed;
        pool->asked = turn;
    }
    return pool->settled;
}

void pypper_heap_set_retain(bool retain)
{
    LOCK();
    pypper_heap.retain = retain;
    if (!retain && pypper_heap_layout.base) {
        for (unsigned t = 0; t < HEAP_TIERS; t++) {
            pools_release_empty(t, true);
            medium_release_empty(t, true);
            large_release_empty(t);
        }
        /* What the session kept is idle memory now: trimmed to the bound, the rest
         * kept for reuse (and given back when stale), not discarded wholesale. */
        heap_trim();
    }
    UNLOCK();
}

/* The session tick's clock (retain_now(): milliseconds, coarse), and whether an
 * emptied pool arena waits for a pass (read by the sampler thread: a hint). On a
 * cache line of their own, and the flag written only when it changes: the sampler's
 * reads took the line from the program's core, and `locking`, which every
 * allocation reads, came to share it when another static grew (traced churn.py
 * 1.08-1.11 -> 1.12-1.19 of stock's time with the same instructions, 2026-12-06). */
static struct {
    _Alignas(64) atomic_bool pending;
    uint64_t last_ms;
    char pad[64 - 16];
} park;
_Static_assert(sizeof(park) == 64, "the park state fills one cache line");

void heap_park_note_empty(void)
{
    if (!atomic_load_explicit(&park.pending, memory_order_relaxed))
        atomic_store_explicit(&park.pending, true, memory_order_relaxed);
}

bool pypper_heap_park_pending(void)
{
    return atomic_load_explicit(&park.pending, memory_order_relaxed) || retain_idle_hint() != 0;
}

bool heap_park_arena(arena_meta *m, bool *kept)
{
    if (m->parked == 2)
        return false;                   /* given back already */
    if (!*kept) {
        *kept = true;                   /* the first met stays resident */
        m->parked = 0;
        return false;
    }
    if (!m->parked) {
        m->parked = 1;                  /* seen wholly free: given back next time */
        return true;
    }
    if (region_discard(layout_arena_base(layout_meta_index(m)), ARENA_SIZE)) {
        m->parked = 2;
        pypper_heap.arenas_parked++;
    }
    return false;
}

void heap_park_due(void)
{
    if (!pypper_heap.retain || !pypper_heap_layout.base)
        return;
    uint64_t now = retain_now();
    if (now - park.last_ms < HEAP_PARK_EVERY_MS)
        return;
    park.last_ms = now;
    heap_trim_stale();          /* idle memory older than the delay, too */
    bool waiting = false;
    for (unsigned t = 0; t < HEAP_TIERS; t++) {
        waiting |= pools_park_empty(t);
        waiting |= medium_park_empty(t);
    }
    atomic_store_explicit(&park.pending, waiting, memory_order_relaxed);
}

void pypper_heap_session_tick(void)
{
    LOCK();
    heap_park_due();
    UNLOCK();
}

void pypper_heap_set_retention(uint64_t max_bytes, double max_percent, uint32_t delay_ms)
{
    LOCK();
    retain_configure(max_bytes, max_percent, delay_ms);
    if (pypper_heap_layout.base)
        heap_trim();
    UNLOCK();
}

uint64_t pypper_heap_trim(void)
{
    LOCK();
    uint64_t bytes = pypper_heap_layout.base ? heap_trim_all() : 0;
    UNLOCK();
    return bytes;
}

void pypper_heap_set_fast_budget(uint64_t bytes, double percent)
{
    LOCK();
    pypper_heap.budget_bytes = bytes;
    pypper_heap.budget_percent = percent;
    heap_update_default_tier();
    UNLOCK();
}

void heap_update_default_tier(void)
{
    region_counters rc;
    region_get_counters(&rc);
    uint64_t fast = rc.arenas_committed[PYPPER_TIER_FAST] << ARENA_SHIFT;
    uint64_t all = fast + (rc.arenas_committed[PYPPER_TIER_SLOW] << ARENA_SHIFT);
    bool over;
    if (pypper_heap.budget_bytes)
        over = fast >= pypper_heap.budget_bytes;
    else
        over = pypper_heap.budget_percent < 100.0
               && (double)fast >= (double)all * pypper_heap.budget_percent / 100.0;
    pypper_placement_default = over ? PYPPER_TIER_SLOW : PYPPER_TIER_FAST;
}

static void stats_pools(arena_meta *m, pypper_heap_stats *out)
{
    pypper_tier_stats *t = &out->tier[m->tier];
    pool_meta *pools = layout_arena_pools(layout_meta_index(m));
    t->pool_arenas++;
    for (unsigned i = 0; i < POOLS_PER_ARENA; i++) {
        pool_meta *p = &pools[i];
        if (p->size == 0) {
            t->pools_free++;
            continue;
        }
        pypper_class_stats *c = &out->classes[p->sclass];
        uint64_t free_bytes = POOL_SIZE - (uint64_t)p->nalloc * p->size;
        t->pools_used++;
        if (p->nalloc == p->capacity)
            t->pools_full++;
        t->blocks_in_use += p->nalloc;
        t->bytes_in_use += (uint64_t)p->nalloc * p->size;
        t->pool_free_bytes += free_bytes;
        c->blocks_in_use[m->tier] += p->nalloc;
        c->pools[m->tier]++;
        c->free_bytes[m->tier] += free_bytes;
    }
}

/* Run by stats(), own_memory() and at a session's end: built for size. */
PYPPER_SMALL_CODE void pypper_heap_get_stats(pypper_heap_stats *out)
{
    memset(out, 0, sizeof(*out));
    LOCK();
    out->ready = pypper_heap_layout.base != NULL;
    out->locking = pypper_heap_locking();
    out->default_tier = pypper_placement_default;
    out->reservation_per_tier = pypper_heap_layout.tier_bytes;
    out->base = (uintptr_t)pypper_heap_layout.base;
    out->nclasses = pypper_nclasses;
    for (unsigned c = 0; c < pypper_nclasses; c++)
        out->classes[c].size = pypper_class_size[c];
    region_counters rc;
    region_get_counters(&rc);
    for (unsigned t = 0; out->ready && t < HEAP_TIERS; t++) {
        size_t first = t * pypper_heap_layout.arenas_per_tier;
        for (size_t a = first; a < first + rc.arenas_high[t]; a++) {
            arena_meta *m = layout_meta(a);
            pypper_tier_stats *ts = &out->tier[t];
            switch (m->kind) {
            case ARENA_POOLS:
                stats_pools(m, out);
                break;
            case ARENA_MEDIUM: {
                uint64_t blocks, bytes, free_bytes;
                medium_stats(m, &blocks, &bytes, &free_bytes);
                ts->medium_arenas++;
                ts->medium_blocks += blocks;
                ts->medium_free_bytes += free_bytes;
                ts->blocks_in_use += blocks;
                ts->bytes_in_use += bytes;
                break;
            }
            case ARENA_LARGE:
                ts->large_arenas++;
                for (unsigned i = 0; i < PAGES_PER_ARENA; i++) {
                    if (layout_large(m)->run_pages[i]) {
                        ts->large_blocks++;
                        ts->blocks_in_use++;
                        ts->bytes_in_use += (uint64_t)layout_large(m)->run_pages[i] << PAGE_SHIFT;
                    }
                }
                break;
            case ARENA_HUGE_HEAD:
                ts->huge_blocks++;
                ts->blocks_in_use++;
                ts->bytes_in_use += (uint64_t)m->huge_pages << PAGE_SHIFT;
                /* fall through */
            case ARENA_HUGE_TAIL:
                ts->huge_arenas++;
                break;
            default:
                break;
            }
        }
        out->tier[t].arenas = rc.arenas_committed[t];
        out->tier[t].pages = rc.arenas_committed[t] * PAGES_PER_ARENA;
    }
    out->fallback_allocs = pypper_heap.fallback_allocs;
    out->calloc_discards = pypper_heap.calloc_discards;
    out->commit_failures = rc.commit_failures;
    out->bind_failures = rc.bind_failures;
    out->last_bind_errno = rc.last_bind_errno;
    out->tier_fallbacks = pypper_heap.tier_fallbacks;
    out->arenas_released = pypper_heap.arenas_released;
    out->arenas_parked = pypper_heap.arenas_parked;
    out->invalid_frees = pypper_heap.invalid_frees;
    out->span_moves = pypper_heap.span_moves;
    out->span_move_failures = pypper_heap.span_move_failures;
    retain_stats rs;
    retain_get_stats(heap_trim_heap_bytes(), &rs);
    out->idle_bytes = rs.idle_bytes;
    out->retain_bound = rs.bound;
    out->retain_bound_max = rs.bound_max;
    out->retain_delay_ms = rs.delay_ms;
    out->trims = rs.purges;
    out->trimmed_bytes = rs.purged_bytes;
    out->stale_trims = rs.stale_purges;
    out->stale_trimmed_bytes = rs.stale_bytes;
    out->retain_mistakes = rs.mistakes;
    UNLOCK();
}

bool pypper_heap_tier_used(unsigned tier)
{
    return tier < HEAP_TIERS && region_committed_extent(tier) > 0;
}

uint64_t pypper_heap_bytes_in_use(void)
{
    pypper_heap_stats st;
    pypper_heap_get_stats(&st);
    return st.tier[0].bytes_in_use + st.tier[1].bytes_in_use;
}

/* ---- CPython memory domains (see pypper_heap_fallback) ---- */

/* Allocation sampling: one in `sample_period` of the domain allocations that take the
 * slow path (a small block that opens a pool or finds the class's pool full, every
 * block above 512 bytes) is shown to sample_fn (the allocation-site recorder); the
 * fast path pays nothing. Small blocks are so sampled about once per pool of their
 * class, i.e. in proportion to bytes. The countdown never reaches 0 while off. */
static uint64_t sample_countdown = UINT64_MAX, sample_period;
static pypper_alloc_sample_fn sample_fn;

void pypper_heap_set_alloc_sampler(pypper_alloc_sample_fn fn, uint64_t period)
{
    sample_fn = fn && period ? fn : NULL;
    sample_period = period;
    sample_countdown = sample_fn ? period : UINT64_MAX;
}

static __attribute__((noinline)) void *sample_allocation(void *p, size_t n)
{
    sample_countdown = sample_fn ? sample_period : UINT64_MAX;
    if (sample_fn)
        sample_fn(p, n);
    return p;
}

/* Everything but a pooled block taken from a class's current pool, unlocked. */
static __attribute__((noinline)) void *domain_malloc_slow(void *ctx, size_t n)
{
    bool zeroed;
    LOCK();
    void *p = alloc_in(pypper_placement_choose(n), n, &zeroed, false);
    UNLOCK();
    if (LIKELY(p != NULL)) {
        if (UNLIKELY(--sample_countdown == 0))
            return sample_allocation(p, n);
        return p;
    }
    const pypper_heap_fallback *fb = ctx;
    p = fb->malloc(fb->ctx, n);
    if (p)
        pypper_heap.fallback_allocs++;
    return p;
}

/* A small block while a placement hook is installed (unlocked, as the fast path):
 * the hook picks the tier, then the class's current pool as on the fast path. Not the
 * slow path: its cost per block (about 50 instructions) and its sampling countdown
 * (allocation sites, which would then sample every allocation instead of the slow
 * path's) are not the hook's to add. */
static __attribute__((noinline)) void *domain_malloc_hooked(void *ctx, size_t n)
{
    tier_heap *h = &pypper_heap.tiers[pypper_placement_choose(n)];
    pool_meta *p = h->partial[size_class_of(n)];
    if (LIKELY(p != NULL))
        return pool_take_block(h, p);
    return domain_malloc_slow(ctx, n);
}

/* The fast path is written out here (not through alloc_in) so that it compiles to a
 * leaf: no spills, other cases leave by tail call. */
static inline __attribute__((always_inline)) void *domain_malloc(void *ctx, size_t n)
{
    if (LIKELY(n <= SMALL_MAX)
        && LIKELY(!atomic_load_explicit(&locking, memory_order_relaxed))) {
        if (UNLIKELY(pypper_placement_site_hook != NULL))
            return domain_malloc_hooked(ctx, n);
        tier_heap *h = &pypper_heap.tiers[pypper_placement_choose_unhooked()];
        pool_meta *p = h->partial[size_class_of(n)];
        if (LIKELY(p != NULL))
            return pool_take_block(h, p);
    }
    return domain_malloc_slow(ctx, n);
}

void *pypper_heap_domain_malloc(void *ctx, size_t n) { return domain_malloc(ctx, n); }

void *pypper_heap_domain_calloc(void *ctx, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n))
        return NULL;
    void *p = pypper_heap_calloc(count, size);
    if (LIKELY(p != NULL))
        return p;
    const pypper_heap_fallback *fb = ctx;
    p = fb->calloc(fb->ctx, count, size);
    if (p)
        pypper_heap.fallback_allocs++;
    return p;
}

void *pypper_heap_domain_realloc(void *ctx, void *p, size_t n)
{
    const pypper_heap_fallback *fb = ctx;
    if (p == NULL)
        return pypper_heap_domain_malloc(ctx, n);
    if (!layout_owns(p))
        return fb->realloc(fb->ctx, p, n);
    void *q = pypper_heap_realloc(p, n);
    if (q || n == 0)
        return q;
    /* The heap could not grow it: move it to the fallback allocator. */
    LOCK();
    size_t have = usable_size(p);
    UNLOCK();
    if (have == 0)
        return NULL;
    q = fb->malloc(fb->ctx, n);
    if (q) {
        pypper_heap.fallback_allocs++;
        memcpy(q, p, have < n ? have : n);
        pypper_heap_free(p);
    }
    return q;
}

static __attribute__((noinline)) void domain_free_slow(void *ctx, void *p)
{
    if (LIKELY(layout_owns(p))) {
        LOCK();
        free_locked(p);
        UNLOCK();
        return;
    }
    if (p) {
        const pypper_heap_fallback *fb = ctx;
        fb->free(fb->ctx, p);
    }
}

static __attribute__((noinline)) void free_observed_slow(void *ctx, void *p);

/* observed (a constant where it is inlined): the allocation sites' pool mark is let go
 * too (heap.h: pypper_heap_observer), in the pool's record the free reads anyway. */
static inline __attribute__((always_inline)) void domain_free_as(void *ctx, void *p, bool observed)
{
    if (LIKELY(layout_owns(p))
        && LIKELY(!atomic_load_explicit(&locking, memory_order_relaxed))) {
        pool_meta *pool = layout_pool(p);
        if (LIKELY(pool->size != 0)) {
            if (observed)
                (void)layout_unmark(pool, p);
            track_forget(p);
            if (UNLIKELY(!pool_free_block(pool, p)))
                pypper_heap.invalid_frees++;
            return;
        }
    }
    if (observed)
        free_observed_slow(ctx, p);
    else
        domain_free_slow(ctx, p);
}

static inline __attribute__((always_inline)) void domain_free(void *ctx, void *p)
{
    domain_free_as(ctx, p, false);
}

void pypper_heap_domain_free(void *ctx, void *p) { domain_free(ctx, p); }

/* ---- the observed entry points (heap.h: pypper_heap_observer) ----
 * The plain fast paths with the allocation sites' two checks written in: a byte
 * countdown before a small allocation (it stays a leaf: anything else, a sample
 * included, leaves by a call to malloc_seen) and the pool mark before a free. They
 * replace a wrapper domain around the plain entry points (an extra call of about 13
 * instructions per malloc and 16 per free). */
pypper_heap_observer pypper_heap_obs = {.countdown = INT64_MAX};
_Static_assert(PYPPER_HEAP_OBS_ALL_ABOVE == SMALL_MAX, "the observer sees every block the pools do not hold");

/* A block the observer sees, or any allocation but the fast path's (the size is
 * taken from the countdown already). */
static __attribute__((noinline)) void *malloc_seen(void *ctx, size_t n)
{
    void *p = domain_malloc(ctx, n);
    if (pypper_heap_obs_wants(n))
        pypper_heap_obs.seen(p, n);
    return p;
}

static inline void *observe(void *p, size_t n)
{
    pypper_heap_obs.countdown -= (int64_t)n;
    if (UNLIKELY(pypper_heap_obs_wants(n)))
        pypper_heap_obs.seen(p, n);
    return p;
}

void pypper_heap_clear_pool_marks(void)
{
    LOCK();
    for (unsigned tier = 0; tier < HEAP_TIERS; tier++) {
        size_t first = (size_t)tier * pypper_heap_layout.arenas_per_tier;
        size_t end = first + (region_committed_extent(tier) >> ARENA_SHIFT);
        /* Every arena the tier ever used, whatever it holds now: one released and
         * taken again for pools keeps its records (a pool set up again at an address
         * takes the mark left there, as within a session). Only marks set are
         * written (a purged arena's records read as zeros). */
        for (size_t ai = first; ai < end; ai++) {
            pool_meta *pools = layout_arena_pools(ai);
            for (unsigned i = 0; i < POOLS_PER_ARENA; i++)
                if (pools[i].mark.site || pools[i].mark.opener)
                    pools[i].mark = (pypper_pool_mark){0, 0};
        }
    }
    UNLOCK();
}

void *pypper_heap_domain_malloc_observed(void *ctx, size_t n)
{
    int64_t left = pypper_heap_obs.countdown - (int64_t)n;
    pypper_heap_obs.countdown = left;
    if (LIKELY(left >= 0) && LIKELY(n <= SMALL_MAX))
        return domain_malloc(ctx, n);   /* nothing to see: the plain path, inlined */
    return malloc_seen(ctx, n);
}

void *pypper_heap_domain_calloc_observed(void *ctx, size_t count, size_t size)
{
    return observe(pypper_heap_domain_calloc(ctx, count, size), count * size);
}

void *pypper_heap_domain_realloc_observed(void *ctx, void *p, size_t n)
{
    /* The mark is let go before (a block that moves is freed, and its pool's record
     * may go with it) and put back when the block stayed. */
    pool_meta *pool = p && layout_owns(p) ? layout_pool(p) : NULL;
    bool marked = pool && pool->size && layout_unmark(pool, p);
    void *q = pypper_heap_domain_realloc(ctx, p, n);
    if (marked && (q == p || !q))
        pool->mark.opener = layout_mark_opener(p);
    return observe(q, n);
}

static __attribute__((noinline)) void free_observed_slow(void *ctx, void *p)
{
    if (layout_owns(p)) {
        pool_meta *pool = layout_pool(p);
        if (pool->size)
            (void)layout_unmark(pool, p);
    }
    domain_free_slow(ctx, p);
}

void pypper_heap_domain_free_observed(void *ctx, void *p) { domain_free_as(ctx, p, true); }
