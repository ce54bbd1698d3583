/* Objects/large.c: blocks above the pooled sizes, each on pages of its own so that
 * one large object can move between tiers alone. Up to LARGE_MAX they are page runs
 * inside large arenas (first fit over a page bitmap), each block at an offset in its
 * first page that depends on where the run is (its color); above, spans of whole
 * arenas. Freed pages and spans stay committed and idle (page_idle bits, counted in
 * retain.c), so the next block of that size is served without faults; Objects/trim.c
 * gives idle pages back (large_purge) when the retention policy says so. */
#include "heap_internal.h"
#include "region.h"
#include "retain.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static inline bool page_used(const large_body *lb, unsigned i)
{
    return (lb->page_used[i >> 6] >> (i & 63)) & 1u;
}

static void mark_pages(arena_meta *m, unsigned first, unsigned count, bool used)
{
    large_body *lb = layout_large(m);
    for (unsigned i = first; i < first + count; i++) {
        uint64_t bit = (uint64_t)1 << (i & 63);
        if (used)
            lb->page_used[i >> 6] |= bit;
        else
            lb->page_used[i >> 6] &= ~bit;
    }
}

/* The bits of word i >> 6 from bit i up to (not including) `end`; *next: where the
 * next word's bits start. */
static uint64_t word_bits(unsigned i, unsigned end, unsigned *next)
{
    unsigned lo = i & 63, n = 64 - lo < end - i ? 64 - lo : end - i;
    *next = i + n;
    return (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << lo;
}

/* Pages [first, first + count) of m are handed out: those that were idle are
 * resident (no fault); the others will be faulted in (told to the policy). The idle
 * pages among them: a free page that is not idle reads as zero (never touched since
 * its arena was committed or taken purged, or given back since: large_purge keeps a
 * page idle when the kernel refuses to give it back). */
static unsigned take_pages(arena_meta *m, unsigned first, unsigned count, bool growing)
{
    large_body *lb = layout_large(m);
    unsigned idle = 0;
    if (m->idle_pages) {
        for (unsigned i = first, next; i < first + count; i = next) {
            uint64_t bits = word_bits(i, first + count, &next);
            idle += (unsigned)__builtin_popcountll(lb->page_idle[i >> 6] & bits);
            lb->page_idle[i >> 6] &= ~bits;
        }
        m->idle_pages = (uint16_t)(m->idle_pages - idle);
        retain_idle_sub((uint64_t)idle << PAGE_SHIFT);
    }
    if (idle < count) {
        retain_note_fresh((uint64_t)(count - idle) << PAGE_SHIFT, true);
        if (!growing)
            retain_note_page_growth((uint64_t)(count - idle) << PAGE_SHIFT);
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
}

/* First run of `count` free pages, or -1. */
static int find_run(const arena_meta *m, unsigned count)
{
    large_body *lb = layout_large(m);
    unsigned run = 0;
    for (unsigned i = 0; i < PAGES_PER_ARENA; i++) {
        if (page_used(lb, i)) {
            run = 0;
            /* Skip over the whole allocated run. */
            if (lb->run_pages[i])
                i += lb->run_pages[i] - 1u;
            continue;
        }
        if (++run == count)
            return (int)(i + 1 - count);
    }
    return -1;
}

static void mark_span_tail(size_t head, size_t from, size_t to, unsigned tier);

static arena_meta *new_large_arena(unsigned tier)
{
    bool zeroed;
    arena_meta *m = region_take_arena(tier, ARENA_LARGE, &zeroed);
    if (!m)
        return NULL;
    m->free_pages = PAGES_PER_ARENA;
    if (!zeroed)       /* an idle released arena: its pages are resident */
        keep_pages_idle(m, 0, PAGES_PER_ARENA);
    arena_list_push(&pypper_heap.tiers[tier].large_arenas, m);
    return m;
}

/* First run of `count` idle pages (free and resident), or -1. */
static int find_idle_run(const arena_meta *m, unsigned count)
{
    const large_body *lb = layout_large(m);
    unsigned run = 0;
    for (unsigned w = 0; w < PAGES_PER_ARENA / 64; w++) {
        uint64_t bits = lb->page_idle[w];
        if (bits == ~(uint64_t)0) {
            if ((run += 64) >= count)
                return (int)(w * 64 + 64 - run);
            continue;
        }
        if (!bits) {
            run = 0;
            continue;
        }
        for (unsigned b = 0; b < 64; b++) {
            if (!((bits >> b) & 1u)) {
                run = 0;
                continue;
            }
            if (++run == count)
                return (int)(w * 64 + b + 1 - count);
        }
    }
    return -1;
}

/* *zeroed: every page of the run is fresh (reads as zero), so a calloc writes nothing. */
static void *run_alloc(unsigned tier, unsigned pages, bool growing, bool *zeroed)
{
    /* Idle pages first: reusing resident memory makes no page faults, and leaves no
     * idle memory to give back for fresh memory (Objects/retain.c). Then first fit. */
    arena_meta *m;
    int first = -1;
    for (m = pypper_heap.tiers[tier].large_arenas; m && first < 0; m = first < 0 ? m->next : m)
        if (m->idle_pages >= pages)
            first = find_idle_run(m, pages);
    for (m = first < 0 ? pypper_heap.tiers[tier].large_arenas : m; m && first < 0;
         m = first < 0 ? m->next : m)
        if (m->free_pages >= pages)
            first = find_run(m, pages);
    if (m && first >= 0) {
        mark_pages(m, (unsigned)first, pages, true);
        *zeroed = take_pages(m, (unsigned)first, pages, growing) == 0;
        layout_large(m)->run_pages[first] = (uint16_t)pages;
        m->free_pages = (uint16_t)(m->free_pages - pages);
        return layout_arena_base(layout_meta_index(m)) + ((size_t)first << PAGE_SHIFT);
    }
    heap_update_default_tier();
    m = new_large_arena(tier);
    if (!m)
        return NULL;
    mark_pages(m, 0, pages, true);
    *zeroed = take_pages(m, 0, pages, growing) == 0;
    layout_large(m)->run_pages[0] = (uint16_t)pages;
    m->free_pages = (uint16_t)(m->free_pages - pages);
    return layout_arena_base(layout_meta_index(m));
}

/* A long span (at least this many arenas) served from idle memory gives back the
 * part of its last arena that its block does not reach, in quarters of an arena.
 * Those pages were resident for an earlier, longer block; kept, they would stay
 * resident unused as long as this block lives, and spans of alternating near sizes
 * (8 MiB, 8 MiB and 8 bytes: 8 and 9 arenas) would make every arena of the cycle
 * fully resident (a whole arena more than glibc's peak on `tmp_list`). A short span
 * keeps its tail: its block's size varies by up to an arena from one use to the next,
 * and a tail given back to the page on every allocation (measured: request_loop's
 * peak 27.7 -> 26.8 MB) cost a madvise call per 1 MiB string of tmp_str (1.18x
 * stock's time in that phase). */
#define SPAN_TAIL_TRIM_MIN 4u

static void trim_span_tail(size_t ai, size_t count, size_t n)
{
    size_t quarter = ARENA_SIZE / 4;
    size_t used = (n + quarter - 1) & ~(quarter - 1);
    size_t end = count << ARENA_SHIFT;
    if (end > used)
        region_discard(layout_arena_base(ai) + used, end - used);
}

static void *span_alloc(unsigned tier, size_t n, bool *zeroed, bool growing)
{
    size_t count = (n + ARENA_SIZE - 1) >> ARENA_SHIFT;
    heap_update_default_tier();
    size_t fresh;
    size_t pages = (n + PAGE_SIZE - 1) >> PAGE_SHIFT;
    /* Idle arenas are picked so that the span faults in, and leaves resident under
     * its block, as few pages as they can (a short span keeps its tail, below). Not
     * for a block that may grow (realloc: the rest of an idle run stays after it to
     * grow into; from a run's back, list_growth.py peaked 3.3 MB higher). A long span
     * did not pick until 2026-12-07: taken from a run's front, a freed 16 MiB
     * buffer's, its 8 MiB half's last arena was full, its unreached pages were given
     * back (trim_span_tail) and the next buffer faulted them in again, 192-384 faults
     * an iteration (Tools/bench/survey/big_buffer_slices.py); the back nine arenas fit
     * it to the page. That costs tmp_bytearray.py's 8 MiB phase, whose buffers grow
     * after they are made, 12,000 faults where it made 9,200 (stock: 12,500). */
    size_t fit = !growing ? pages - (count - 1) * PAGES_PER_ARENA : 0;
    size_t ai = region_take_arenas(tier, count, fit, zeroed, &fresh);
    if (ai == (size_t)-1)
        return NULL;
    region_note_pages(ai, count, pages);
    if (fresh)
        retain_note_fresh((uint64_t)fresh << ARENA_SHIFT, true);
    arena_meta *head = layout_meta(ai);
    head->kind = ARENA_HUGE_HEAD;
    head->tier = (uint8_t)tier;
    head->span = (uint32_t)count;
    head->huge_pages = (uint32_t)((n + PAGE_SIZE - 1) >> PAGE_SHIFT);
    mark_span_tail(ai, 1, count, tier);     /* span: the distance back to the head */
    if (!*zeroed && count >= SPAN_TAIL_TRIM_MIN)
        trim_span_tail(ai, count, n);
    return layout_arena_base(ai);
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

static void *colored_run_alloc(unsigned tier, size_t n, bool *zeroed, bool growing)
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

void *large_alloc(unsigned tier, size_t n, bool *zeroed, bool growing)
{
    *zeroed = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        void *p = n <= LARGE_MAX ? colored_run_alloc(tier, n, zeroed, growing)
                                  : span_alloc(tier, n, zeroed, growing);
        if (p)
            return p;
        tier ^= 1u;                     /* this tier cannot grow: try the other */
        pypper_heap.tier_fallbacks++;
    }
    return NULL;
}

size_t large_usable(arena_meta *m, const void *p)
{
    if (m->kind == ARENA_HUGE_HEAD)
        return (size_t)m->huge_pages << PAGE_SHIFT;
    unsigned first = (unsigned)(((uintptr_t)p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1));
    return ((size_t)layout_large(m)->run_pages[first] << PAGE_SHIFT) - layout_run_offset(m, first);
}

static void release_large_arena(arena_meta *m)
{
    arena_list_unlink(&pypper_heap.tiers[m->tier].large_arenas, m);
    region_release_arenas(layout_meta_index(m), 1, true);
    pypper_heap.arenas_released++;
}

void large_free(arena_meta *m, size_t arena_index, void *p)
{
    large_body *lb = layout_large(m);
    if (m->kind == ARENA_HUGE_HEAD) {
        if (p != layout_arena_base(arena_index)) {
            pypper_heap.invalid_frees++;
            return;
        }
        /* (Its pages may all be resident now, whatever was given back while it
         * lived: a calloc'd block's zero pages, faulted in since.) */
        region_note_pages(arena_index, m->span, m->huge_pages);
        region_release_span(arena_index, m->span);     /* idle */
        pypper_heap.arenas_released += m->span;
        return;
    }
    unsigned first = (unsigned)(((uintptr_t)p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1));
    unsigned pages = lb->run_pages[first];
    if (((uintptr_t)p & (PAGE_SIZE - 1)) != layout_run_offset(m, first) || pages == 0) {
        pypper_heap.invalid_frees++;
        return;
    }
    lb->run_pages[first] = 0;
    mark_pages(m, first, pages, false);
    m->free_pages = (uint16_t)(m->free_pages + pages);
    keep_pages_idle(m, first, pages);
}

/* A span's arenas from `from` on (its local arena index) take the span's tail marks. */
static void mark_span_tail(size_t head, size_t from, size_t to, unsigned tier)
{
    for (size_t a = from; a < to; a++) {
        arena_meta *tail = layout_meta(head + a);
        tail->kind = ARENA_HUGE_TAIL;
        tail->tier = (uint8_t)tier;
        tail->span = (uint32_t)a;
    }
}

/* Grow or shrink a span in place: within its arenas, into free arenas right after it,
 * or by releasing its tail (idle). */
static int span_resize_in_place(arena_meta *m, size_t n)
{
    size_t head = layout_meta_index(m);
    region_note_pages(head, m->span, m->huge_pages);   /* (a tail released idle below) */
    size_t want = (n + ARENA_SIZE - 1) >> ARENA_SHIFT;
    size_t pages = (n + PAGE_SIZE - 1) >> PAGE_SHIFT, kept = want << (ARENA_SHIFT - PAGE_SHIFT);
    size_t reached = m->huge_pages < kept ? m->huge_pages : kept;
    if (pages < reached)
        /* The pages the block no longer reaches in the arenas it keeps go back to the
         * kernel, as glibc's realloc gives a shrinking mapping's tail back: a tuple
         * that tuple(genexpr) grew a quarter at a time was zeroed that far, and a
         * newcomer's 34 tuples of 80,000 floats kept 4.6 MB more resident than stock. */
        region_discard(layout_arena_base(head) + (pages << PAGE_SHIFT), (reached - pages) << PAGE_SHIFT);
    if (want < m->span) {
        region_release_span(head + want, m->span - want);
        m->span = (uint32_t)want;
    } else if (want > m->span) {
        size_t fresh;
        if (!region_extend(head + m->span, want - m->span, &fresh))
            return 0;
        if (fresh)
            retain_note_fresh((uint64_t)fresh << ARENA_SHIFT, true);
        mark_span_tail(head, m->span, want, m->tier);
        m->span = (uint32_t)want;
    }
    m->huge_pages = (uint32_t)((n + PAGE_SIZE - 1) >> PAGE_SHIFT);
    region_note_pages(head, m->span, m->huge_pages);
    return 1;
}

/* Moves of a span's pages by mremap(2) split the mapping into more VMAs (about four
 * a move), and the process has vm.max_map_count of them in all: past this many
 * moves, spans are copied. */
#define SPAN_MOVES_MAX 4096u

/* Whether the process's address space is limited (RLIMIT_AS): a move keeps the source
 * mapped (MREMAP_DONTUNMAP) and maps as much again, which a limit below the heap's
 * reservation refuses (a program can lower its limit at any time: the start-up check
 * in Objects/pymem_glue.c sees only the one it inherits). */
static bool address_space_limited(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur != RLIM_INFINITY;
}

bool large_move_span(void *from, void *to, size_t bytes)
{
    if (!region_remap_allowed() || pypper_heap.span_moves >= SPAN_MOVES_MAX
        || layout_tier(from) != layout_tier(to) || address_space_limited())
        return false;
    void *r = mremap(from, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
    if (r == MAP_FAILED) {
        /* MREMAP_FIXED unmaps the destination before it can fail: the block the
         * caller copies into then has no memory (a program that lowered its RLIMIT_AS
         * died of SIGSEGV in that copy until 2026-12-06). Mapped again, empty. */
        pypper_heap.span_move_failures++;
        if (!region_restore(layout_tier(to), to, bytes)) {
            static const char msg[] = "pypper: the heap lost a block's memory (mremap and mmap "
                                      "refused); stopping\n";
            (void)!write(2, msg, sizeof(msg) - 1);
            abort();
        }
        return false;
    }
    pypper_heap.span_moves++;
    region_note_replaced(to, bytes);
    return true;
}

void large_free_moved_span(arena_meta *m, size_t arena_index)
{
    /* Its pages are gone (moved): released as purged memory, nothing idle. */
    region_release_arenas(arena_index, m->span, true);
    pypper_heap.arenas_released += m->span;
}

int large_resize_in_place(arena_meta *m, void *p, size_t n)
{
    large_body *lb = layout_large(m);
    if (m->kind == ARENA_HUGE_HEAD)
        return n > LARGE_MAX && span_resize_in_place(m, n);
    if (m->kind != ARENA_LARGE || n > LARGE_MAX)
        return 0;
    unsigned first = (unsigned)(((uintptr_t)p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1));
    unsigned have = lb->run_pages[first];
    n += layout_run_offset(m, first);                         /* the block keeps its offset */
    if (n > ARENA_SIZE)
        return 0;
    unsigned want = (unsigned)((n + PAGE_SIZE - 1) >> PAGE_SHIFT);
    if (want == have)
        return 1;
    if (want < have) {
        mark_pages(m, first + want, have - want, false);
        keep_pages_idle(m, first + want, have - want);
        m->free_pages = (uint16_t)(m->free_pages + (have - want));
        lb->run_pages[first] = (uint16_t)want;
        return 1;
    }
    if (first + want > PAGES_PER_ARENA)
        return 0;
    for (unsigned i = first + have; i < first + want; i++)
        if (page_used(lb, i))
            return 0;
    mark_pages(m, first + have, want - have, true);
    take_pages(m, first + have, want - have, true);
    m->free_pages = (uint16_t)(m->free_pages - (want - have));
    lb->run_pages[first] = (uint16_t)want;
    return 1;
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

static bool page_idle(const large_body *lb, int i)
{
    return (lb->page_idle[i >> 6] >> (i & 63)) & 1u;
}

uint64_t large_purge(arena_meta *m, uint64_t limit, bool *refused)
{
    large_body *lb = layout_large(m);
    /* From the arena's end down: first fit reuses the low pages first. */
    uint64_t want = (limit >> PAGE_SHIFT) + ((limit & (PAGE_SIZE - 1)) != 0), pages = 0;
    char *base = layout_arena_base(layout_meta_index(m));
    if (!want)
        want = 1;
    int i = (int)PAGES_PER_ARENA - 1;
    while (i >= 0 && pages < want) {
        if (!page_idle(lb, i)) {
            i--;
            continue;
        }
        int top = i;
        while (i >= 0 && page_idle(lb, i) && pages + (unsigned)(top - i) < want)
            i--;
        /* Pages (i, top] go back. A page the kernel keeps (locked memory) stays idle: a
         * free page that is not idle must read as zero (take_pages). The arena is then
         * the newest idle memory, so that others are purged before it is tried again. */
        if (!region_discard(base + ((size_t)(i + 1) << PAGE_SHIFT), (size_t)(top - i) << PAGE_SHIFT)) {
            lb->idle_since = retain_now() + 1;
            *refused = pages == 0;
            break;
        }
        for (int k = i + 1; k <= top; k++)
            lb->page_idle[k >> 6] &= ~((uint64_t)1 << (k & 63));
        pages += (unsigned)(top - i);
    }
    m->idle_pages = (uint16_t)(m->idle_pages - pages);
    retain_idle_sub(pages << PAGE_SHIFT);
    if (!m->idle_pages && releasable(m))
        release_large_arena(m);
    return pages << PAGE_SHIFT;
}

arena_meta *large_oldest_idle(void)
{
    arena_meta *best = NULL;
    for (unsigned t = 0; t < HEAP_TIERS; t++)
        for (arena_meta *m = pypper_heap.tiers[t].large_arenas; m; m = m->next) {
            const large_body *lb = layout_large(m);
            if (m->idle_pages && (!best || lb->idle_since < layout_large(best)->idle_since))
                best = m;
        }
    return best;
}

void large_release_empty(unsigned tier)
{
    arena_meta *m = pypper_heap.tiers[tier].large_arenas;
    while (m) {
        arena_meta *next = m->next;
        if (!m->idle_pages && releasable(m))
            release_large_arena(m);
        m = next;
    }
}
