/* Objects/medium.c: medium blocks (SMALL_MAX < n <= MEDIUM_MAX). Each block is a run
 * of 64-byte units in a medium arena of its tier, found by address-ordered first fit
 * over the arena's unit bitmap; a freed run merges with its free neighbours simply
 * by clearing its bits. Unlike size-class pools, freed space serves requests of any
 * medium size, so a few long-lived blocks do not pin whole pools of one class (the
 * dominant cost of segregating 0.5-8 KiB blocks by class, measured on
 * Tools/bench/programs/containers.py). The last unit of each block is marked in a
 * second bitmap, which gives a block's length at free; its start is marked in the
 * 16 KiB slot's allocation bits like a pooled block's, so "is this an allocated
 * block start" is the same O(1) check everywhere. All of it is out of band. */
#include "heap_internal.h"
#include "region.h"

#include <string.h>

static inline bool bit_get(const uint64_t *bm, unsigned i)
{
    return (bm[i >> 6] >> (i & 63)) & 1u;
}

/* Set or clear bits [first, first + count) of bm. */
static void bits_assign(uint64_t *bm, unsigned first, unsigned count, bool set)
{
    while (count) {
        unsigned w = first >> 6, b = first & 63;
        unsigned take = 64 - b < count ? 64 - b : count;
        uint64_t mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << b;
        bm[w] = set ? bm[w] | mask : bm[w] & ~mask;
        first += take;
        count -= take;
    }
}

/* Are bits [first, first + count) of bm all clear (and inside the arena)? */
static bool bits_clear(const uint64_t *bm, unsigned first, unsigned count)
{
    if (first + count > MEDIUM_UNITS)
        return false;
    while (count) {
        unsigned w = first >> 6, b = first & 63;
        unsigned take = 64 - b < count ? 64 - b : count;
        uint64_t mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << b;
        if (bm[w] & mask)
            return false;
        first += take;
        count -= take;
    }
    return true;
}

/* Bits of x that start a run of at least k (1..64) set bits inside x. */
static inline uint64_t runs_of(uint64_t x, unsigned k)
{
    for (unsigned have = 1; have < k && x;) {
        unsigned step = have < k - have ? have : k - have;
        x &= x >> step;
        have += step;
    }
    return x;
}

/* The lowest run of k clear bits starting in word `from` or later; -1 if none. A run
 * is either inside one word (found with shifts and ands, O(log k) per word) or
 * crosses words: then it is the high free bits carried from the words before plus
 * the low free bits of this one. */
static long find_run(const uint64_t *used, unsigned from, unsigned k)
{
    unsigned carry = 0;          /* free bits at the top of the words scanned so far */
    for (unsigned w = from; w < MEDIUM_WORDS; w++) {
        uint64_t u = used[w];
        if (u == 0) {
            carry += 64;
            if (carry >= k)
                return (long)((w + 1) * 64 - carry);
            continue;
        }
        unsigned low = (unsigned)__builtin_ctzll(u);      /* free bits at the bottom */
        if (carry && carry + low >= k)
            return (long)(w * 64 - carry);
        if (k <= 64) {
            uint64_t starts = runs_of(~u, k);
            if (starts)
                return (long)(w * 64 + (unsigned)__builtin_ctzll(starts));
        }
        carry = (unsigned)__builtin_clzll(u);             /* free bits at the top */
    }
    return -1;
}

/* Search hints. Bucket b covers runs of at least bucket_lo[b] units, and hint[b] is a
 * word before which no free run that long starts. A search for k units starts at the
 * hint of the largest bucket with bucket_lo <= k; finding the first run of k at word
 * w proves that no run of k or more starts before w, so it raises the hints of the
 * buckets with bucket_lo >= k; a free lowers every hint to the start of the merged
 * free run. Fragmented low words are then not rescanned by every request. */
static const uint16_t bucket_lo[MEDIUM_BUCKETS] = {
    9, 10, 11, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 160, 192,
    256, 320, 384, 448, 512};

static unsigned bucket_of(unsigned k)
{
    unsigned b = MEDIUM_BUCKETS - 1;
    while (bucket_lo[b] > k)
        b--;
    return b;
}

static void hints_raise(arena_meta *m, unsigned k, unsigned word)
{
    for (unsigned b = MEDIUM_BUCKETS; b-- > 0 && bucket_lo[b] >= k;)
        if (m->hint[b] < word)
            m->hint[b] = (uint16_t)word;
}

static void hints_lower(arena_meta *m, unsigned word)
{
    for (unsigned b = 0; b < MEDIUM_BUCKETS; b++)
        if (m->hint[b] > word)
            m->hint[b] = (uint16_t)word;
}

/* The first unit of the free run that ends just below unit pos (pos if none). */
static unsigned free_run_start(const arena_meta *m, unsigned pos)
{
    unsigned w = pos >> 6, b = pos & 63;
    if (b) {
        uint64_t below = m->unit_used[w] << (64 - b);     /* bits below pos, at the top */
        if (below)
            return pos - (unsigned)__builtin_clzll(below);
    }
    while (w > 0) {
        uint64_t u = m->unit_used[--w];
        if (u)
            return (w + 1) * 64 - (unsigned)__builtin_clzll(u);
    }
    return 0;
}

/* A tier's list holds its medium arenas that may have room, in address order (first
 * fit then fills resident holes of older arenas before fresh pages). An arena that
 * cannot hold even the smallest medium block leaves the list, so a heap of many packed
 * arenas is not walked by every request; any free brings it back. */
#define MEDIUM_MIN_UNITS ((SMALL_MAX >> MEDIUM_UNIT_SHIFT) + 1)

static void open_arena(arena_meta *m)
{
    arena_meta **link = &pypper_heap.tiers[m->tier].medium_arenas;
    arena_meta *prev = NULL;
    while (*link && *link < m) {
        prev = *link;
        link = &prev->next;
    }
    m->prev = prev;
    m->next = *link;
    if (*link)
        (*link)->prev = m;
    *link = m;
    m->closed = false;
}

static void close_if_full(arena_meta *m)
{
    if (m->free_units < MEDIUM_MIN_UNITS
        || (m->fail_units && m->fail_units <= MEDIUM_MIN_UNITS)) {
        arena_list_unlink(&pypper_heap.tiers[m->tier].medium_arenas, m);
        m->closed = true;
    }
}

static arena_meta *new_medium_arena(unsigned tier)
{
    bool zeroed;
    size_t ai = region_take_arenas(tier, 1, &zeroed);
    if (ai == (size_t)-1)
        return NULL;
    arena_meta *m = layout_meta(ai);    /* zeroed metadata */
    m->kind = ARENA_MEDIUM;
    m->tier = (uint8_t)tier;
    m->free_units = MEDIUM_UNITS;
    m->fresh_unit = 0;
    m->zeroed = zeroed;
    open_arena(m);
    return m;
}

static void *take_run(arena_meta *m, unsigned pos, unsigned k, bool *zeroed)
{
    size_t ai = layout_meta_index(m);
    char *block = layout_arena_base(ai) + ((size_t)pos << MEDIUM_UNIT_SHIFT);
    bits_assign(m->unit_used, pos, k, true);
    bits_assign(m->unit_end, pos + k - 1, 1, true);
    m->free_units -= k;
    *zeroed = m->zeroed && pos >= m->fresh_unit;
    if (pos + k > m->fresh_unit)
        m->fresh_unit = pos + k;
    pool_mark_allocated(block);
    close_if_full(m);
    return block;
}

static void *alloc_from_tier(unsigned tier, unsigned k, bool *zeroed)
{
    arena_meta *next;
    for (arena_meta *m = pypper_heap.tiers[tier].medium_arenas; m; m = next) {
        next = m->next;
        if (m->free_units < k || (m->fail_units && k >= m->fail_units))
            continue;
        long pos = find_run(m->unit_used, m->hint[bucket_of(k)], k);
        if (pos >= 0) {
            hints_raise(m, k, (unsigned)pos >> 6);
            return take_run(m, (unsigned)pos, k, zeroed);
        }
        m->fail_units = (uint16_t)k;
        close_if_full(m);
    }
    heap_update_default_tier();
    arena_meta *m = new_medium_arena(tier);
    return m ? take_run(m, 0, k, zeroed) : NULL;
}

void *medium_alloc(unsigned tier, size_t n, bool *zeroed)
{
    unsigned k = (unsigned)((n + MEDIUM_UNIT - 1) >> MEDIUM_UNIT_SHIFT);
    void *p = alloc_from_tier(tier, k, zeroed);
    if (!p) {
        /* This tier cannot grow: serve the request from the other one. */
        p = alloc_from_tier(tier ^ 1u, k, zeroed);
        if (p)
            pypper_heap.tier_fallbacks++;
    }
    return p;
}

/* The unit index of p if it starts an allocated medium block, else -1. */
static long block_unit(arena_meta *m, const void *p)
{
    uintptr_t off = (uintptr_t)p - (uintptr_t)layout_arena_base(layout_meta_index(m));
    if (off & (MEDIUM_UNIT - 1) || !pool_is_marked(p))
        return -1;
    return (long)(off >> MEDIUM_UNIT_SHIFT);
}

/* Units in the block starting at unit pos: up to and including the next end bit. */
static unsigned block_units(const arena_meta *m, unsigned pos)
{
    unsigned w = pos >> 6;
    uint64_t bits = m->unit_end[w] & (~(uint64_t)0 << (pos & 63));
    while (!bits)
        bits = m->unit_end[++w];
    return w * 64 + (unsigned)__builtin_ctzll(bits) - pos + 1;
}

static void release_medium_arena(unsigned tier, arena_meta *m)
{
    arena_list_unlink(&pypper_heap.tiers[tier].medium_arenas, m);
    region_release_arenas(layout_meta_index(m), 1, true);
    pypper_heap.arenas_released++;
}

bool medium_free(arena_meta *m, void *p)
{
    long pos = block_unit(m, p);
    if (pos < 0)
        return false;
    unsigned k = block_units(m, (unsigned)pos);
    bits_assign(m->unit_used, (unsigned)pos, k, false);
    bits_assign(m->unit_end, (unsigned)pos + k - 1, 1, false);
    pool_meta *slot = layout_pool(p);
    unsigned g = (unsigned)(((uintptr_t)p >> 4) & (GRANULES_PER_POOL - 1));
    slot->allocated[g >> 6] &= ~((uint64_t)1 << (g & 63));
    m->free_units += k;
    m->fail_units = 0;
    hints_lower(m, free_run_start(m, (unsigned)pos) >> 6);
    if (m->closed)
        open_arena(m);
    /* Return a wholly free arena, but keep one so a boundary does not thrash. */
    arena_meta **list = &pypper_heap.tiers[m->tier].medium_arenas;
    if (m->free_units == MEDIUM_UNITS && !pypper_heap.retain && (*list != m || m->next))
        release_medium_arena(m->tier, m);
    return true;
}

size_t medium_usable(arena_meta *m, const void *p)
{
    long pos = block_unit(m, p);
    return pos < 0 ? 0 : (size_t)block_units(m, (unsigned)pos) << MEDIUM_UNIT_SHIFT;
}

int medium_resize_in_place(arena_meta *m, void *p, size_t n)
{
    long pos = block_unit(m, p);
    if (pos < 0)
        return 0;
    unsigned have = block_units(m, (unsigned)pos);
    unsigned want = (unsigned)((n + MEDIUM_UNIT - 1) >> MEDIUM_UNIT_SHIFT);
    unsigned end = (unsigned)pos + have;
    if (want > have) {
        if (!bits_clear(m->unit_used, end, want - have))
            return 0;
        bits_assign(m->unit_used, end, want - have, true);
        m->free_units -= want - have;
        if (m->zeroed && (unsigned)pos + want > m->fresh_unit)
            m->fresh_unit = (unsigned)pos + want;
        close_if_full(m);
    } else {
        bits_assign(m->unit_used, (unsigned)pos + want, have - want, false);
        m->free_units += have - want;
        m->fail_units = 0;
        if (m->closed)
            open_arena(m);
        hints_lower(m, ((unsigned)pos + want) >> 6);
    }
    bits_assign(m->unit_end, end - 1, 1, false);
    bits_assign(m->unit_end, (unsigned)pos + want - 1, 1, true);
    return 1;
}

bool medium_find_block(const arena_meta *m, const void *p, char **block, size_t *size)
{
    unsigned u = (unsigned)(((uintptr_t)p >> MEDIUM_UNIT_SHIFT) & (MEDIUM_UNITS - 1));
    if (!bit_get(m->unit_used, u))
        return false;
    /* Back to the unit after the previous block's end or a free unit. */
    unsigned s = u;
    while (s > 0 && bit_get(m->unit_used, s - 1) && !bit_get(m->unit_end, s - 1))
        s--;
    *block = layout_arena_base(layout_meta_index(m)) + ((size_t)s << MEDIUM_UNIT_SHIFT);
    *size = (size_t)block_units(m, s) << MEDIUM_UNIT_SHIFT;
    return true;
}

void medium_stats(const arena_meta *m, uint64_t *blocks, uint64_t *bytes)
{
    uint64_t ends = 0;
    for (unsigned w = 0; w < MEDIUM_WORDS; w++)
        ends += (uint64_t)__builtin_popcountll(m->unit_end[w]);
    *blocks = ends;
    *bytes = (uint64_t)(MEDIUM_UNITS - m->free_units) << MEDIUM_UNIT_SHIFT;
}

void medium_release_empty(unsigned tier, bool keep_one)
{
    arena_meta *m = pypper_heap.tiers[tier].medium_arenas;
    bool kept = !keep_one;
    while (m) {
        arena_meta *next = m->next;
        if (m->free_units == MEDIUM_UNITS) {
            if (kept)
                release_medium_arena(tier, m);
            kept = true;
        }
        m = next;
    }
}
