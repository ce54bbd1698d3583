/* Objects/track.c: the live trace's bitmaps (track.h): tracking a block, its object's
 * head, its state bits (noted, before), the walk over tracked blocks, and the free
 * path's counters. */
#include "track.h"

#include "heap_internal.h"
#include "region.h"
#include "track_internal.h"

#include <string.h>
#include <sys/mman.h>

bool pypper_track_on;
uint64_t pypper_track_freed;
uint64_t pypper_track_noted_freed;

void pypper_heap_set_tracking(bool on) { pypper_track_on = on; }

uint64_t pypper_heap_tracked_frees(void) { return pypper_track_freed; }

uint64_t pypper_heap_noted_frees(void) { return pypper_track_noted_freed; }

#define GRANULES_PER_ARENA (ARENA_SIZE / GRANULE)
#define HEAD_MAX 2u                     /* granules of pre-headers before an object */

/* Per arena: whether a block of it may have been tracked since the bits were last
 * all cleared (set by mark(), never cleared alone). Walks over the tracked blocks skip
 * the others without reading their 24 KiB of bitmap: while a delayed start's first
 * pass goes in steps, most of a large heap has no tracked block yet, and reading its
 * bitmap's never-written pages cost a refill of the poll window 6-9 ms of faults for
 * a 100 MB heap. A byte an arena: 128 KiB of address space, a page per 4 GiB of heap
 * touched. */
static uint8_t arena_tracked[TIER_ARENAS_MAX * HEAP_TIERS];

static inline uint64_t granule_of(const void *p)
{
    return (uintptr_t)((const char *)p - pypper_heap_layout.base) / GRANULE;
}

static inline uint64_t *group_of_granule(uint64_t g)
{
    return &pypper_heap_layout.track[(g >> 6) * TRACK_WORDS];
}

static inline uint64_t bit_of_granule(uint64_t g) { return (uint64_t)1 << (g & 63); }

/* A tracked block's state bits (heap_layout.h): noted at its granule g, before at
 * g + 1 (in the next group after bit 63). */
static inline bool state_bit(uint64_t g) { return (group_of_granule(g)[TRACK_STATE] & bit_of_granule(g)) != 0; }

static inline void state_set(uint64_t g, bool on)
{
    uint64_t *w = &group_of_granule(g)[TRACK_STATE];
    *w = on ? *w | bit_of_granule(g) : *w & ~bit_of_granule(g);
}

/* Both state bits of the block at granule gb off (the before bit only where the block
 * has a second granule: otherwise that bit is the next block's noted bit). */
static inline void state_clear(uint64_t gb)
{
    state_set(gb, false);
    if (track_has_second(pypper_heap_layout.base + gb * GRANULE))
        state_set(gb + 1, false);
}

/* The object's offset in granules, or -1 when it cannot be one (track.h). */
static inline int head_offset(const void *block, const void *object)
{
    uintptr_t off = (uintptr_t)((const char *)object - (const char *)block);
    return off % GRANULE || off / GRANULE > HEAD_MAX ? -1 : (int)(off / GRANULE);
}

/* Mark block (granule gb) tracked with its object `off` granules in: the head bit
 * there, none before it (what an earlier object of the block left), its state bits
 * clear (the second only in its second granule). All within the block, so within its
 * arena. */
static inline void mark(uint64_t gb, int off)
{
    for (int k = 0; k < off; k++)
        group_of_granule(gb + (uint64_t)k)[TRACK_HEAD] &= ~bit_of_granule(gb + (uint64_t)k);
    uint64_t gh = gb + (uint64_t)off;
    group_of_granule(gh)[TRACK_HEAD] |= bit_of_granule(gh);
    state_clear(gb);
    uint64_t *group = group_of_granule(gb);
    uint64_t bit = bit_of_granule(gb);
    uint8_t *any = &arena_tracked[gb / GRANULES_PER_ARENA];
    if (!*any)
        *any = 1;
    /* (The sampler thread reads the tracked word with relaxed atomic loads.) */
    __atomic_store_n(&group[TRACK_TRACKED], group[TRACK_TRACKED] | bit, __ATOMIC_RELAXED);
}

void *pypper_heap_track_containing(const void *object)
{
    pypper_block_info info;
    pypper_heap_lookup(object, &info);
    if (!info.allocated)
        return NULL;
    int off = head_offset(info.block, object);
    if (off < 0 || (*layout_track_word(info.block) & layout_track_bit(info.block)))
        return NULL;
    mark(granule_of(info.block), off);
    return info.block;
}

int pypper_heap_track_block(void *block, const void *object)
{
    if (!pypper_heap_layout.base || !layout_owns(block))
        return -1;
    int off = head_offset(block, object);
    if (off < 0)
        return -1;
    /* The object is live, so its own arena is committed; a block start computed
     * into another arena is checked before its metadata is read. */
    if (layout_arena_index(block) != layout_arena_index(object)
        && !region_arena_committed(layout_arena_index(block)))
        return -1;
    uint64_t *word = layout_track_word(block);
    uint64_t bit = layout_track_bit(block);
    if (*word & bit)
        return 0;                       /* tracked (and not freed since) */
    const pool_meta *slot = layout_pool(block);
    if (slot->size) {
        if (!pool_is_marked(block))     /* marks are set on allocated block starts */
            return -1;
        mark(granule_of(block), off);
        return 2;
    }
    pypper_block_info info;
    pypper_heap_lookup(block, &info);
    if (!info.allocated || info.block != block)
        return -1;
    mark(granule_of(block), off);
    return 1;
}

void *pypper_heap_tracked_object(const void *block)
{
    uint64_t gb = granule_of(block);
    /* The first head bit stops the search: it is inside the block. */
    for (uint64_t k = 0; k <= HEAD_MAX; k++)
        if (group_of_granule(gb + k)[TRACK_HEAD] & bit_of_granule(gb + k))
            return (char *)block + k * GRANULE;
    return NULL;
}

bool pypper_heap_tracks(const void *block, const void *object)
{
    return pypper_heap_is_tracked(block) && pypper_heap_tracked_object(block) == object;
}

void pypper_heap_note(void *block)
{
    /* Only a tracked block: the free path clears the state bits of tracked ones only. */
    if (pypper_heap_is_tracked(block))
        state_set(granule_of(block), true);
}

bool pypper_heap_mark_before(void *block)
{
    if (!pypper_heap_is_tracked(block) || !track_has_second(block))
        return false;
    state_set(granule_of(block) + 1, true);
    return true;
}

bool pypper_heap_is_before(const void *block)
{
    return pypper_heap_is_tracked(block) && state_bit(granule_of(block) + 1)
           && track_has_second(block);
}

void pypper_heap_unnote(void *block)
{
    if (pypper_heap_is_tracked(block))
        state_set(granule_of(block), false);
}

bool pypper_heap_is_noted(const void *block)
{
    return pypper_heap_is_tracked(block) && state_bit(granule_of(block));
}

const uint64_t *pypper_heap_noted_bits(unsigned *stride)
{
    /* layout_track_bit counts bits from address 0: the same as from the base only when
     * the base is aligned to 64 granules (it is arena-aligned). */
    if (!pypper_heap_layout.base || ((uintptr_t)pypper_heap_layout.base & (64 * GRANULE - 1)))
        return NULL;
    *stride = TRACK_WORDS;
    return pypper_heap_layout.track + TRACK_STATE;
}

void pypper_heap_untrack(void *block)
{
    if (pypper_heap_is_tracked(block)) {
        uint64_t *group = layout_track_word(block);
        __atomic_store_n(&group[TRACK_TRACKED], group[TRACK_TRACKED] & ~layout_track_bit(block),
                         __ATOMIC_RELAXED);
        state_clear(granule_of(block));
    }
}

bool pypper_heap_untrack_all(void)
{
    if (!pypper_heap_layout.track)
        return true;
    size_t len = pypper_heap_layout.tier_bytes * HEAP_TIERS / GRANULE / 8 * TRACK_WORDS;
    if (madvise(pypper_heap_layout.track, len, MADV_DONTNEED) != 0)
        return false;
    /* The arenas each tier ever used only: the whole array is 32 pages, which a clear
     * made resident (128 KiB more at each session's end, and as many faults in each
     * fork child: 0.4 ms of its CPU in a fork loop, 2026-12-06). */
    for (unsigned tier = 0; tier < HEAP_TIERS; tier++) {
        size_t first = tier * pypper_heap_layout.arenas_per_tier;
        size_t used = region_committed_extent(tier) >> ARENA_SHIFT;
        memset(&arena_tracked[first], 0, used);
    }
    return true;
}

bool pypper_heap_is_tracked(const void *block)
{
    return pypper_heap_owns(block) && (*layout_track_word(block) & layout_track_bit(block));
}

bool pypper_heap_probe_tracked(const void *p)
{
    if (!pypper_heap_owns(p) || !region_arena_committed(layout_arena_index(p)))
        return false;
    return (__atomic_load_n(layout_track_word(p), __ATOMIC_RELAXED) & layout_track_bit(p)) != 0;
}

bool pypper_heap_probe_mapped(const void *p)
{
    return pypper_heap_owns(p) && region_arena_committed(layout_arena_index(p));
}

uint64_t pypper_heap_track_resident(void)
{
    if (!pypper_heap_layout.base)
        return 0;
    unsigned char vec[256];
    uint64_t pages = 0;
    for (unsigned tier = 0; tier < HEAP_TIERS; tier++) {
        /* The tier's arenas ever committed: their bitmap words are mapped (and page
         * aligned: a tier's part starts at a multiple of 32 KiB). */
        char *tier_base = pypper_heap_layout.base + (size_t)tier * pypper_heap_layout.tier_bytes;
        char *start = (char *)layout_track_word(tier_base);
        size_t total = (region_committed_extent(tier) / ARENA_SIZE) * TRACK_BYTES_PER_ARENA / PAGE_SIZE;
        for (size_t done = 0; done < total;) {
            size_t n = total - done < sizeof(vec) ? total - done : sizeof(vec);
            if (mincore(start + done * PAGE_SIZE, n * PAGE_SIZE, vec) < 0)
                break;
            for (size_t k = 0; k < n; k++)
                pages += vec[k] & 1u;
            done += n;
        }
    }
    return pages * PAGE_SIZE;
}

uint64_t pypper_heap_granule_of(const void *p) { return granule_of(p); }

uint64_t pypper_heap_granule_end(void)
{
    return pypper_heap_layout.base ? pypper_heap_layout.tier_bytes * HEAP_TIERS / GRANULE : 0;
}

/* What a walk gives of the tracked block at granule `found`. */
static void fill_tracked(uint64_t found, pypper_tracked_block *out)
{
    char *block = pypper_heap_layout.base + found * GRANULE;
    out->block = block;
    out->object = pypper_heap_tracked_object(block);
    out->noted = state_bit(found);
    out->before = state_bit(found + 1) && track_has_second(block);
}

/* The granule of the first tracked block of large arena ai at granule g or after it
 * and before arena_end (g within the arena), or arena_end. Its blocks start only at
 * its runs' first pages (run_pages nonzero there only), at their color offsets: the
 * walk reads those records, 512 bytes, not the arena's 24 KiB of bitmap (which cost a
 * traced Tools/bench/survey/many_buffers.py 2% of its instructions, 2026-12-07). A
 * run's other pages start no block; a run that begins in the arena before (its zone)
 * shows here as pages without a length, stepped over. */
static uint64_t large_next_tracked(size_t ai, uint64_t g, uint64_t arena_end)
{
    const arena_meta *m = layout_meta(ai);
    const large_body *b = layout_large(m);
    uint64_t first = (uint64_t)ai * GRANULES_PER_ARENA;
    const uint64_t per_page = PAGE_SIZE / GRANULE;
    for (unsigned page = (unsigned)((g - first) / per_page); page < PAGES_PER_ARENA;) {
        unsigned len = b->run_pages[page];
        if (!len) {
            page++;
            continue;
        }
        uint64_t gb = first + page * per_page + layout_run_offset(m, page) / GRANULE;
        if (gb >= arena_end)
            break;
        if (gb >= g && (group_of_granule(gb)[TRACK_TRACKED] & bit_of_granule(gb)))
            return gb;
        page += len;
    }
    return arena_end;
}

bool pypper_heap_tracked_next(uint64_t *cursor, uint64_t end, pypper_tracked_block *out)
{
    uint64_t g = *cursor, limit = pypper_heap_granule_end();
    if (end > limit)
        end = limit;
    size_t per_tier = pypper_heap_layout.arenas_per_tier;
    while (g < end) {
        size_t ai = (size_t)(g / GRANULES_PER_ARENA);
        if (!region_arena_committed(ai)) {
            /* Past the tier's bump end (released arenas below it stay mapped and
             * read as committed): none follows in this tier. */
            g = (uint64_t)((ai / per_tier) + 1) * per_tier * GRANULES_PER_ARENA;
            continue;
        }
        uint64_t arena_end = (uint64_t)(ai + 1) * GRANULES_PER_ARENA;
        if (arena_end > end)
            arena_end = end;
        if (!arena_tracked[ai]) {
            g = arena_end;
            continue;
        }
        if (layout_meta(ai)->kind == ARENA_LARGE) {
            uint64_t found = large_next_tracked(ai, g, arena_end);
            if (found < arena_end) {
                fill_tracked(found, out);
                *cursor = found + 1;
                return true;
            }
            g = arena_end;
            continue;
        }
        while (g < arena_end) {
            uint64_t w = group_of_granule(g)[TRACK_TRACKED] & (~(uint64_t)0 << (g & 63));
            if (!w) {
                g = (g | 63) + 1;
                continue;
            }
            uint64_t found = (g & ~(uint64_t)63) + (uint64_t)__builtin_ctzll(w);
            if (found >= arena_end)
                break;
            fill_tracked(found, out);
            *cursor = found + 1;
            return true;
        }
        g = arena_end;
    }
    *cursor = g < end ? g : end;
    return false;
}

bool pypper_heap_tracked_round(uint64_t *cursor, uint64_t start, bool *wrapped,
                               pypper_tracked_block *out)
{
    if (pypper_heap_tracked_next(cursor, *wrapped ? start : UINT64_MAX, out))
        return true;
    if (*wrapped)
        return false;
    *wrapped = true;
    *cursor = 0;
    return pypper_heap_tracked_next(cursor, start, out);
}
