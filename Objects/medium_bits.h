/* Objects/medium_bits.h: the bitmap operations of medium arenas (medium.c): a bit per
 * 32-byte unit, set while the unit belongs to an allocated block. Finding the lowest
 * run of k free units, and the free run around a unit. Internal to Objects/. */
#ifndef PYPPER_MEDIUM_BITS_H
#define PYPPER_MEDIUM_BITS_H

#include "heap_layout.h"

static inline bool bit_get(const uint64_t *bm, unsigned i)
{
    return (bm[i >> 6] >> (i & 63)) & 1u;
}

static inline uint64_t bits_mask(unsigned b, unsigned take)
{
    return (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << b;
}

/* Set or clear bits [first, first + count) of bm. */
static inline void bits_assign(uint64_t *bm, unsigned first, unsigned count, bool set)
{
    while (count) {
        unsigned w = first >> 6, b = first & 63;
        unsigned take = 64 - b < count ? 64 - b : count;
        uint64_t mask = bits_mask(b, take);
        bm[w] = set ? bm[w] | mask : bm[w] & ~mask;
        first += take;
        count -= take;
    }
}

/* Are bits [first, first + count) all clear and inside the arena? */
static inline bool bits_clear(const uint64_t *bm, unsigned first, unsigned count)
{
    if (first + count > MEDIUM_UNITS)
        return false;
    while (count) {
        unsigned w = first >> 6, b = first & 63;
        unsigned take = 64 - b < count ? 64 - b : count;
        if (bm[w] & bits_mask(b, take))
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

/* Set or clear bits [first, first + count) of a medium arena's used bitmap, keeping
 * full (a bit per word of used: all 64 set) up to date. */
static inline void used_assign(uint64_t *used, uint64_t *full, unsigned first, unsigned count,
                               bool set)
{
    while (count) {
        unsigned w = first >> 6, b = first & 63;
        unsigned take = 64 - b < count ? 64 - b : count;
        uint64_t mask = bits_mask(b, take), bit = (uint64_t)1 << (w & 63);
        if (set) {
            used[w] |= mask;
            if (used[w] == ~(uint64_t)0)
                full[w >> 6] |= bit;
        } else {
            used[w] &= ~mask;
            full[w >> 6] &= ~bit;
        }
        first += take;
        count -= take;
    }
}

/* The lowest run of k clear bits starting in word `from` or later; -1 if none. A run
 * either lies inside one word (found with shifts and ands, O(log k) per word) or
 * crosses words: the free bits carried from the top of the words before plus the free
 * bits at the bottom of this one. Runs of full words (most of a packed arena) are
 * skipped by the summary `full` without reading them. */
static inline long bits_find_run(const uint64_t *used, const uint64_t *full, unsigned from,
                                 unsigned k)
{
    unsigned carry = 0;
    for (unsigned w = from; w < MEDIUM_WORDS; w++) {
        uint64_t f = full[w >> 6] >> (w & 63);
        if (f & 1) {
            /* Skip the run of full words that starts at w, up to the end of this
             * summary word (all 64 full when ~f is 0: ctz is undefined there). */
            w += (~f ? (unsigned)__builtin_ctzll(~f) : 64u) - 1;
            carry = 0;
            continue;
        }
        uint64_t u = used[w];
        if (u == 0) {
            carry += 64;
            if (carry >= k)
                return (long)((w + 1) * 64 - carry);
            continue;
        }
        unsigned low = (unsigned)__builtin_ctzll(u);
        if (carry && carry + low >= k)
            return (long)(w * 64 - carry);
        if (k <= 64) {
            uint64_t starts = runs_of(~u, k);
            if (starts)
                return (long)(w * 64 + (unsigned)__builtin_ctzll(starts));
        }
        carry = (unsigned)__builtin_clzll(u);
    }
    return -1;
}

/* The first unit of the free run that ends just below unit pos (pos if none). */
static inline unsigned bits_run_start(const uint64_t *used, unsigned pos)
{
    unsigned w = pos >> 6, b = pos & 63;
    if (b) {
        uint64_t below = used[w] << (64 - b);       /* the bits below pos, at the top */
        if (below)
            return pos - (unsigned)__builtin_clzll(below);
    }
    while (w > 0) {
        uint64_t u = used[--w];
        if (u)
            return (w + 1) * 64 - (unsigned)__builtin_clzll(u);
    }
    return 0;
}

/* The end (exclusive) of the free run starting at unit u; units from `fresh` on are
 * known to be free, so the scan stops there. */
static inline unsigned bits_run_end(const uint64_t *used, unsigned u, unsigned fresh)
{
    while (u < MEDIUM_UNITS) {
        if (u >= fresh)
            return MEDIUM_UNITS;
        unsigned w = u >> 6;
        uint64_t bits = used[w] >> (u & 63);
        if (bits)
            return u + (unsigned)__builtin_ctzll(bits);
        u = (w + 1) * 64;
    }
    return MEDIUM_UNITS;
}

#endif
