/* Objects/large.c: blocks above the medium sizes, each on pages of its own so that
 * one large object can move between tiers alone. Page runs (Objects/page_runs.c)
 * serve blocks up to LARGE_MAX, and those up to PAGE_RUN_MAX that realloc does not
 * grow; above, and for a block that grows past LARGE_MAX, spans of whole arenas,
 * page-aligned, which realloc grows in place or moves with mremap. A freed span stays
 * committed and idle (a released run of region.c, counted in retain.c), so the next
 * span of its size is served without faults; Objects/trim.c gives idle memory back
 * when the retention policy says so. This file dispatches between the two and owns
 * spans. */
#include "heap_internal.h"
#include "page_runs.h"
#include "region.h"
#include "retain.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static void mark_span_tail(size_t head, size_t from, size_t to, unsigned tier);

/* A long span (at least this many arenas) served from idle memory gives back the
 * part of its last arena that its block does not reach, in quarters of an arena.
 * Those pages were resident for an earlier, longer block; kept, they would stay
 * resident unused as long as this block lives, and spans of alternating near sizes
 * (8 MiB, 8 MiB and 8 bytes: 8 and 9 arenas) would make every arena of the cycle
 * fully resident (a whole arena more than glibc's peak on `tmp_list`). A short span
 * (since 2026-12-07 only a block that realloc grows: the others up to PAGE_RUN_MAX
 * are page runs) keeps its tail: its block's size varies by up to an arena from one
 * use to the next, and a tail given back to the page on every allocation (measured:
 * request_loop's peak 27.7 -> 26.8 MB) cost a madvise call per 1 MiB string of
 * tmp_str (1.18x stock's time in that phase). */
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
    large_lend_free(tier, count);
    size_t ai = region_take_arenas(tier, count, fit, zeroed, &fresh);
    if (ai == (size_t)-1)
        return NULL;
    region_note_pages(ai, count, pages);
    if (fresh) {
        retain_note_growth((uint64_t)fresh << ARENA_SHIFT);
        retain_note_fresh((uint64_t)fresh << ARENA_SHIFT, true);
    }
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

void *large_alloc(unsigned tier, size_t n, bool *zeroed, bool growing)
{
    *zeroed = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        void *p = n <= LARGE_MAX || (!growing && n <= PAGE_RUN_MAX)
                      ? page_run_alloc(tier, n, zeroed, growing)
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
    return page_run_usable(m, p);
}

void large_free(arena_meta *m, size_t arena_index, void *p)
{
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
    page_run_free(m, p);
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
        if (fresh) {
            retain_note_growth((uint64_t)fresh << ARENA_SHIFT);
            retain_note_fresh((uint64_t)fresh << ARENA_SHIFT, true);
        }
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
    if (m->kind == ARENA_HUGE_HEAD)
        return n > LARGE_MAX && span_resize_in_place(m, n);
    return m->kind == ARENA_LARGE && page_run_resize(m, p, n);
}
