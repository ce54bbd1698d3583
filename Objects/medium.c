/* Objects/medium.c: medium blocks (SMALL_MAX < n <= MEDIUM_MAX). Each block is a run
 * of 32-byte units in a medium arena of its tier, found by address-ordered first fit;
 * a freed run merges with its free neighbours simply by clearing its bits (bitmaps in
 * medium_bits.h). Unlike size-class pools, freed space serves requests of any medium
 * size, so a few long-lived blocks do not pin whole pools of one class (the dominant
 * cost of segregating 0.5-8 KiB blocks by class, measured on
 * Tools/bench/programs/containers.py). The last unit of each block is marked in a
 * second bitmap, which gives a block's length at free; a unit starts an allocated
 * block when it is used and the unit before it is free or ends a block (O(1)). The
 * two bitmaps (4 KiB each) are the arena's slot allocation bitmaps (heap_layout.h:
 * medium_used_bits, medium_end_bits); its pool records stay zero. 32-byte units waste
 * 16 bytes a block on average (a bytearray of 2 KiB asks for 2049 bytes: 2080 here,
 * 2112 with 64-byte units, 2064 under glibc). All of it is out of band.
 *
 * Finding the first fit fast, in a heap of thousands of arenas:
 * - run_bound[tier][arena]: every free run of the arena is shorter than this (0: not
 *   a medium arena). A failed search for k sets it to k; a free that leaves a run of
 *   L units raises it to L + 1. group_bound is an upper bound of 64 arenas' bounds.
 *   A search skips arenas (and groups) that cannot hold k without touching them.
 * - Hints per run length (buckets): arena_hint[b] is an arena index below which no
 *   arena has a free run of bucket_lo[b] units; each arena's hint[b] is the same for
 *   its words. A search for k starts at the hint of the largest bucket with
 *   bucket_lo <= k; finding the first run of k proves no run of k or more lies
 *   before it, which raises the hints of the buckets with bucket_lo >= k; a free
 *   lowers the hints of the buckets its merged run satisfies.
 * - The last exact lengths searched (run_memo): a search for a k between two bucket
 *   lengths raises no hint of its own bucket (a shorter run of that bucket may lie
 *   lower), so a program that asks again and again for one such length (re's scanner
 *   objects, 1,120 bytes: 35 units) started every search at the same low hint and
 *   read the fragmented words up to where the last one was found: 4,100 instructions
 *   an allocation, 16% of Tools/bench/programs/strings.py's (run as a script, tracing
 *   off; 500 with the memo). The memo keeps, for a few lengths, where the last first
 *   fit of that length was found: no run of k lies before it, until a free leaves a
 *   run of k or more lower down (memos_lower, beside each hints_lower, moves it
 *   there). A search starts at the higher of the memo and the bucket's hint: the
 *   same first fit, found from nearer (checked against a search without it over
 *   Tools/bench/programs: no block placed elsewhere). */
#include "heap_internal.h"
#include "medium_bits.h"
#include "region.h"
#include "retain.h"

#include <string.h>

#define NO_RUN_BOUND (MEDIUM_UNITS + 1)            /* bound of a wholly free arena */

static const uint16_t bucket_lo[MEDIUM_BUCKETS] = {
    17, 20, 22, 24, 28, 32, 36, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256, 320, 384,
    512, 640, 768, 896, 1024};
_Static_assert((SMALL_MAX >> MEDIUM_UNIT_SHIFT) + 1 == 17, "smallest medium block: 17 units");
_Static_assert(MEDIUM_MAX >> MEDIUM_UNIT_SHIFT == 1024, "largest medium block: 1024 units");

static uint16_t run_bound[HEAP_TIERS][TIER_ARENAS_MAX];
static uint16_t group_bound[HEAP_TIERS][TIER_ARENAS_MAX / 64];
static uint32_t arena_hint[HEAP_TIERS][MEDIUM_BUCKETS];
static uint32_t arena_end[HEAP_TIERS];      /* 1 + the highest medium arena index */
static uint32_t arena_count[HEAP_TIERS];    /* medium arenas now */

/* Where the last first fits of a few exact lengths were found (above): no free run of
 * k units or more lies before word w of arena j (of the tier). A length has one slot
 * (k % RUN_MEMOS); a length takes it (from another) only after a search that read
 * more than MEMO_FAR words past where it started, so the frees of programs whose
 * searches are short pay one test (memos_on). k 0: unused. The position is one
 * number, arena * MEDIUM_WORDS + word. */
#define RUN_MEMOS 4
#define MEMO_FAR 8
typedef struct {
    uint32_t k;
    uint32_t at;
} run_memo;
static run_memo run_memos[HEAP_TIERS][RUN_MEMOS];
static bool memos_on[HEAP_TIERS];

_Static_assert((uint64_t)TIER_ARENAS_MAX * MEDIUM_WORDS <= UINT32_MAX, "memo positions fit 32 bits");
/* The medium block freed last in each tier, held back from its arena's bitmaps: a
 * program that frees a medium block and then asks for one of the same length (a loop's
 * temporary bytes(4096), a buffer made and dropped per request) takes it again without
 * a search, a merge and the bounds' and hints' updates (about 450 instructions a pair
 * against glibc's 200: Tools/bench/programs/tmp_bytes.py's 4 KiB phase ran 1.11x
 * stock's time, 2026-12-08). It is freed for good by the tier's next medium free or
 * resize, or an allocation of another length (which then finds the first fit as
 * before, the block merged with its free neighbours). A block is held only while its
 * arena keeps another block in use, so an emptied arena is released or parked as
 * before; to everything but medium_alloc and medium_free a held block is free: the
 * stats, lookups, page walks and untraced-site walks ask pypper_heap_medium_held. */
typedef struct {
    char *block;                /* NULL: none */
    arena_meta *m;
    unsigned pos, k;            /* its first unit and its length in units */
} held_block;
static held_block held[HEAP_TIERS];
static void release_held(unsigned tier);

static inline uint32_t memo_at(uint32_t j, unsigned word) { return j * MEDIUM_WORDS + word; }

/* A free run of len units now starts at word `word` of arena j: no memo of a length
 * it holds may lie beyond it. */
static inline void memos_lower(unsigned tier, uint32_t j, unsigned len, unsigned word)
{
    if (!memos_on[tier])
        return;
    uint32_t at = memo_at(j, word);
    run_memo *e = run_memos[tier];
    for (unsigned i = 0; i < RUN_MEMOS; i++)
        if (e[i].k <= len && at < e[i].at)
            e[i].at = at;
}

/* A first fit of k (memo_kept: between bucket lengths) found at `at`, by a search
 * that started at `from`. */
static inline void memo_found(unsigned tier, run_memo *memo, unsigned k, uint32_t from,
                              uint32_t at)
{
    if (memo->k == k) {
        memo->at = at;
    } else if (at > from && at - from > MEMO_FAR) {  /* (a released arena below: near) */
        *memo = (run_memo){k, at};
        memos_on[tier] = true;
    }
}

/* bucket_at[k]: the largest bucket with bucket_lo <= k (k up to 1024 units; filled by
 * medium_init). */
static uint8_t bucket_at[(MEDIUM_MAX >> MEDIUM_UNIT_SHIFT) + 1];

void medium_init(void)
{
    unsigned b = 0;
    for (unsigned n = 0; n <= MEDIUM_MAX >> MEDIUM_UNIT_SHIFT; n++) {
        while (b + 1 < MEDIUM_BUCKETS && bucket_lo[b + 1] <= n)
            b++;
        bucket_at[n] = (uint8_t)b;
    }
}

static unsigned bucket_of(unsigned k)
{
    return k > MEDIUM_MAX >> MEDIUM_UNIT_SHIFT ? MEDIUM_BUCKETS - 1 : bucket_at[k];
}

static arena_meta *arena_at(unsigned tier, uint32_t j)
{
    return layout_meta((size_t)tier * pypper_heap_layout.arenas_per_tier + j);
}

static void raise_bound(unsigned tier, uint32_t j, unsigned bound)
{
    if (run_bound[tier][j] < bound)
        run_bound[tier][j] = (uint16_t)bound;
    if (group_bound[tier][j >> 6] < bound)
        group_bound[tier][j >> 6] = (uint16_t)bound;
}

/* Both hint arrays (the tier's per arena, the arena's per word) are non-decreasing
 * in the bucket: a raise moves up the buckets from some length on, a lower moves
 * down those up to some length, so neither breaks the order. Each loop below stops
 * at the first bucket that needs no change: none further along would. */

/* A run of k units was found at word `word` of arena j (the first such run). */
static void hints_raise(unsigned tier, uint32_t j, arena_meta *m, unsigned k, unsigned word)
{
    medium_body *mb = layout_medium(m);
    unsigned b = bucket_of(k);
    if (bucket_lo[b] < k)
        b++;                                    /* the first bucket with bucket_lo >= k */
    for (; b < MEDIUM_BUCKETS; b++) {
        if (arena_hint[tier][b] >= j && mb->hint[b] >= word)
            break;
        if (arena_hint[tier][b] < j)
            arena_hint[tier][b] = j;
        if (mb->hint[b] < word)
            mb->hint[b] = (uint16_t)word;
    }
}

/* A free run of len units now starts at word `word` of arena j. */
static void hints_lower(unsigned tier, uint32_t j, arena_meta *m, unsigned len, unsigned word)
{
    medium_body *mb = layout_medium(m);
    if (len < bucket_lo[0])
        return;
    for (unsigned b = bucket_of(len) + 1; b-- > 0;) {
        if (arena_hint[tier][b] <= j && mb->hint[b] <= word)
            break;
        if (arena_hint[tier][b] > j)
            arena_hint[tier][b] = j;
        if (mb->hint[b] > word)
            mb->hint[b] = (uint16_t)word;
    }
}

/* Units [first, end) of arena j became free: merge, then update bounds and hints. */
static void note_freed(arena_meta *m, unsigned first, unsigned end)
{
    const uint64_t *used = medium_used_bits(m);
    unsigned start = bits_run_start(used, first);
    unsigned stop = bits_run_end(used, end, layout_medium(m)->fresh_unit);
    unsigned len = stop - start;
    uint32_t j = layout_tier_index(m);
    raise_bound(m->tier, j, len + 1);
    hints_lower(m->tier, j, m, len, start >> 6);
    memos_lower(m->tier, j, len, start >> 6);
}

static arena_meta *new_medium_arena(unsigned tier)
{
    bool zeroed;
    large_lend_free(tier, 1);
    arena_meta *m = region_take_arena(tier, ARENA_MEDIUM, &zeroed);
    if (!m)
        return NULL;
    medium_body *mb = layout_medium(m);
    mb->free_units = MEDIUM_UNITS;
    mb->fresh_unit = 0;
    mb->zeroed = zeroed;
    uint32_t j = layout_tier_index(m);
    if (j + 1 > arena_end[tier])
        arena_end[tier] = j + 1;
    arena_count[tier]++;
    raise_bound(tier, j, NO_RUN_BOUND);
    hints_lower(tier, j, m, MEDIUM_UNITS, 0);
    memos_lower(tier, j, MEDIUM_UNITS, 0);
    return m;
}

static void *take_run(arena_meta *m, unsigned pos, unsigned k, bool *zeroed)
{
    medium_body *mb = layout_medium(m);
    char *block = layout_arena_base(layout_meta_index(m)) + ((size_t)pos << MEDIUM_UNIT_SHIFT);
    uint64_t *used = medium_used_bits(m);
    used_assign(used, mb->full_words, pos, k, true);
    bits_assign(used + MEDIUM_WORDS, pos + k - 1, 1, true);
    mb->free_units -= k;
    m->parked = 0;
    *zeroed = mb->zeroed && pos >= mb->fresh_unit;
    if (pos + k > mb->fresh_unit) {
        /* Units never handed out of an arena fresh from the kernel fault in. */
        if (mb->zeroed)
            retain_note_fresh((uint64_t)(pos + k - (pos > mb->fresh_unit ? pos : mb->fresh_unit))
                              << MEDIUM_UNIT_SHIFT, false);
        mb->fresh_unit = pos + k;
    }
    return block;
}

static void *alloc_from_tier(unsigned tier, unsigned k, bool *zeroed)
{
    unsigned bucket = bucket_of(k);
    uint16_t *bound = run_bound[tier];
    uint32_t end = arena_end[tier];
    uint32_t j = arena_hint[tier][bucket];
    /* The memo of k, when it is further along than the bucket's hint: arena memo_j
     * from word memo_w. */
    run_memo *memo = &run_memos[tier][k % RUN_MEMOS];
    bool memo_kept = bucket_lo[bucket] < k;
    uint32_t memo_j = UINT32_MAX;
    unsigned memo_w = 0;
    if (memo_kept && memo->k == k && memo->at / MEDIUM_WORDS >= j) {
        j = memo_j = memo->at / MEDIUM_WORDS;
        memo_w = memo->at % MEDIUM_WORDS;
    }
    uint32_t searched_from = memo_at(j, j == memo_j ? memo_w : 0);
    while (j < end) {
        uint32_t g = j >> 6;
        if (group_bound[tier][g] <= k) {
            j = (g + 1) << 6;
            continue;
        }
        bool whole_group = (j & 63) == 0;
        uint32_t gend = (g + 1) << 6 < end ? (g + 1) << 6 : end;
        unsigned gmax = 0;
        for (; j < gend; j++) {
            if (bound[j] > k) {
                arena_meta *m = arena_at(tier, j);
                medium_body *mb = layout_medium(m);
                unsigned from = mb->hint[bucket];
                if (j == memo_j && memo_w > from)
                    from = memo_w;
                long pos = mb->free_units < k ? -1
                           : bits_find_run(medium_used_bits(m), mb->full_words, from, k);
                if (pos >= 0) {
                    hints_raise(tier, j, m, k, (unsigned)pos >> 6);
                    if (memo_kept)
                        memo_found(tier, memo, k, searched_from, memo_at(j, (unsigned)pos >> 6));
                    return take_run(m, (unsigned)pos, k, zeroed);
                }
                bound[j] = (uint16_t)k;
            }
            if (bound[j] > gmax)
                gmax = bound[j];
        }
        if (whole_group)
            group_bound[tier][g] = (uint16_t)gmax;
    }
    heap_update_default_tier();
    arena_meta *m = new_medium_arena(tier);
    if (!m)
        return NULL;
    hints_raise(tier, layout_tier_index(m), m, k, 0);
    if (memo_kept)
        memo_found(tier, memo, k, searched_from, memo_at(layout_tier_index(m), 0));
    return take_run(m, 0, k, zeroed);
}

void *medium_alloc(unsigned tier, size_t n, bool *zeroed)
{
    unsigned k = (unsigned)((n + MEDIUM_UNIT - 1) >> MEDIUM_UNIT_SHIFT);
    if (held[tier].block) {
        if (held[tier].k == k) {
            char *block = held[tier].block;
            held[tier].block = NULL;
            *zeroed = false;
            return block;
        }
        release_held(tier);     /* the first fit sees it free, merged with its neighbours */
    }
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
    if (off & (MEDIUM_UNIT - 1))
        return -1;
    unsigned u = (unsigned)(off >> MEDIUM_UNIT_SHIFT);
    const uint64_t *used = medium_used_bits(m), *ends = used + MEDIUM_WORDS;
    if (!bit_get(used, u) || (u > 0 && bit_get(used, u - 1) && !bit_get(ends, u - 1)))
        return -1;
    return (long)u;
}

/* Units in the block starting at unit pos: up to and including the next end bit. */
static unsigned block_units(const arena_meta *m, unsigned pos)
{
    const uint64_t *ends = medium_end_bits(m);
    unsigned w = pos >> 6;
    uint64_t bits = ends[w] & (~(uint64_t)0 << (pos & 63));
    while (!bits)
        bits = ends[++w];
    return w * 64 + (unsigned)__builtin_ctzll(bits) - pos + 1;
}

static void release_medium_arena(arena_meta *m)
{
    run_bound[m->tier][layout_tier_index(m)] = 0;
    arena_count[m->tier]--;
    region_release_arenas(layout_meta_index(m), 1, false);     /* idle, then trimmed */
    pypper_heap.arenas_released++;
}

static bool is_held(const arena_meta *m, const void *p) { return held[m->tier].block == p; }

bool pypper_heap_medium_held(size_t arena_index, unsigned *first_unit, unsigned *units)
{
    const arena_meta *m = layout_meta(arena_index);
    if (m->kind != ARENA_MEDIUM || !held[m->tier].block || held[m->tier].m != m)
        return false;
    *first_unit = held[m->tier].pos;
    *units = held[m->tier].k;
    return true;
}

/* Units [pos, pos + k) of arena m, a block in use, become free. */
static void free_units(arena_meta *m, unsigned pos, unsigned k)
{
    medium_body *mb = layout_medium(m);
    uint64_t *used = medium_used_bits(m);
    used_assign(used, mb->full_words, pos, k, false);
    bits_assign(used + MEDIUM_WORDS, pos + k - 1, 1, false);
    mb->free_units += k;
    /* Return a wholly free arena, but keep one so a boundary does not thrash. */
    if (mb->free_units == MEDIUM_UNITS && !pypper_heap.retain && arena_count[m->tier] > 1) {
        release_medium_arena(m);
    } else {
        note_freed(m, pos, pos + k);
        if (mb->free_units == MEDIUM_UNITS && pypper_heap.retain)
            heap_park_note_empty();
    }
}

static void release_held(unsigned tier)
{
    if (held[tier].block) {
        free_units(held[tier].m, held[tier].pos, held[tier].k);
        held[tier].block = NULL;
    }
}

bool medium_free(arena_meta *m, void *p)
{
    long pos = block_unit(m, p);
    if (pos < 0 || is_held(m, p))
        return false;
    unsigned k = block_units(m, (unsigned)pos), tier = m->tier;
    release_held(tier);
    if (layout_medium(m)->free_units + k < MEDIUM_UNITS)
        held[tier] = (held_block){p, m, (unsigned)pos, k};
    else
        free_units(m, (unsigned)pos, k);
    return true;
}

size_t medium_usable(arena_meta *m, const void *p)
{
    long pos = block_unit(m, p);
    return pos < 0 || is_held(m, p) ? 0 : (size_t)block_units(m, (unsigned)pos) << MEDIUM_UNIT_SHIFT;
}

int medium_resize_in_place(arena_meta *m, void *p, size_t n)
{
    medium_body *mb = layout_medium(m);
    long pos = block_unit(m, p);
    if (pos < 0 || is_held(m, p))
        return 0;
    release_held(m->tier);      /* a held neighbour is free to grow into */
    unsigned have = block_units(m, (unsigned)pos);
    unsigned want = (unsigned)((n + MEDIUM_UNIT - 1) >> MEDIUM_UNIT_SHIFT);
    unsigned end = (unsigned)pos + have, new_end = (unsigned)pos + want;
    uint64_t *used = medium_used_bits(m), *ends = used + MEDIUM_WORDS;
    if (want > have && !bits_clear(used, end, want - have))
        return 0;
    bits_assign(ends, end - 1, 1, false);
    bits_assign(ends, new_end - 1, 1, true);
    if (want > have) {
        used_assign(used, mb->full_words, end, want - have, true);
        mb->free_units -= want - have;
        if (new_end > mb->fresh_unit)
            mb->fresh_unit = new_end;
    } else if (want < have) {
        used_assign(used, mb->full_words, new_end, have - want, false);
        mb->free_units += have - want;
        note_freed(m, new_end, end);
    }
    return 1;
}

bool medium_find_block(const arena_meta *m, const void *p, char **block, size_t *size)
{
    unsigned u = (unsigned)(((uintptr_t)p >> MEDIUM_UNIT_SHIFT) & (MEDIUM_UNITS - 1));
    const uint64_t *used = medium_used_bits(m), *ends = used + MEDIUM_WORDS;
    if (!bit_get(used, u))
        return false;
    /* Back to the unit after the previous block's end or a free unit below u, a word
     * at a time. */
    unsigned w = u >> 6, b = u & 63;
    uint64_t stop = b ? (ends[w] | ~used[w]) & (~(uint64_t)0 >> (64 - b)) : 0;
    while (!stop && w > 0) {
        w--;
        stop = ends[w] | ~used[w];
    }
    unsigned s = stop ? w * 64 + 64 - (unsigned)__builtin_clzll(stop) : 0;
    *block = layout_arena_base(layout_meta_index(m)) + ((size_t)s << MEDIUM_UNIT_SHIFT);
    *size = (size_t)block_units(m, s) << MEDIUM_UNIT_SHIFT;
    return !is_held(m, *block);
}

void medium_stats(const arena_meta *m, uint64_t *blocks, uint64_t *bytes, uint64_t *free_bytes)
{
    const uint64_t *ends = medium_end_bits(m);
    uint64_t count = 0;
    for (unsigned w = 0; w < MEDIUM_WORDS; w++)
        count += (uint64_t)__builtin_popcountll(ends[w]);
    uint64_t units = MEDIUM_UNITS - layout_medium(m)->free_units;
    unsigned first, held_units;
    if (pypper_heap_medium_held(layout_meta_index(m), &first, &held_units)) {
        count--;
        units -= held_units;
    }
    *blocks = count;
    *bytes = units << MEDIUM_UNIT_SHIFT;
    *free_bytes = ((uint64_t)MEDIUM_UNITS << MEDIUM_UNIT_SHIFT) - *bytes;
}

/* As pools_park_empty (Objects/pools.c), for medium arenas: while a session keeps
 * them, those wholly free from one park pass to the next give their pages back, all
 * but one (their bitmaps are out of band: the pages hold nothing but blocks). A
 * discarded arena's units read as never zeroed, and are cleared when a calloc takes
 * them again. */
bool medium_park_empty(unsigned tier)
{
    bool kept = false, waiting = false;
    for (uint32_t j = 0; j < arena_end[tier]; j++) {
        arena_meta *m = arena_at(tier, j);
        if (m->kind != ARENA_MEDIUM)
            continue;
        medium_body *mb = layout_medium(m);
        if (mb->free_units == MEDIUM_UNITS && mb->fresh_unit != 0)
            waiting |= heap_park_arena(m, &kept);
    }
    return waiting;
}

void medium_release_empty(unsigned tier, bool keep_one)
{
    for (uint32_t j = 0; j < arena_end[tier]; j++) {
        arena_meta *m = arena_at(tier, j);
        if (m->kind != ARENA_MEDIUM || layout_medium(m)->free_units != MEDIUM_UNITS)
            continue;
        if (keep_one && arena_count[tier] == 1)
            return;
        release_medium_arena(m);
    }
}
