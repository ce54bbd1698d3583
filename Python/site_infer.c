/* Python/site_infer.c: inferred allocation sites (site_infer.h). One open-addressing
 * table keyed by (level, region, type): level 0 regions are pools (16 KiB), level 1
 * arenas (1 MiB); of the seeds of a key, the one at the lowest address keeps it (the
 * first allocated there, as pools and arenas fill upwards), whatever order the seeds
 * come in. An arena whose pools of a type were filled by lines in turn gives no site
 * (pypper_site_infer_settle). */
#include "site_infer.h"
#include "../Pypper/own_memory.h"

#include <stdbool.h>
#include <sys/mman.h>

#define POOL_SHIFT 14
#define ARENA_SHIFT 20

typedef struct {
    uintptr_t key;              /* region << 1 | level, + 1; 0: empty */
    const void *type;
    const void *block;          /* the seed's */
    uint32_t site;
    bool mixed;                 /* an arena's: its pools of this type were filled by
                                   lines in turn (pypper_site_infer_settle) */
} slot;

/* A (type, site) seen in turn with another site of the type (settle): its seeds say
 * nothing of their neighbours anywhere. */
#define MIXED_PAIRS 64
typedef struct {
    const void *type;
    uint32_t site;
} mixed_pair;

struct site_infer {
    size_t cap;
    size_t n_mixed;
    mixed_pair mixed[MIXED_PAIRS];
    slot slots[];
};

static bool is_mixed(const site_infer *t, const void *type, uint32_t site)
{
    for (size_t k = 0; k < t->n_mixed; k++)
        if (t->mixed[k].type == type && t->mixed[k].site == site)
            return true;
    return false;
}

/* Remember (type, site) as mixed; when the list is full, the arena's flag alone. */
static void add_mixed(site_infer *t, const void *type, uint32_t site)
{
    if (!is_mixed(t, type, site) && t->n_mixed < MIXED_PAIRS)
        t->mixed[t->n_mixed++] = (mixed_pair){type, site};
}

site_infer *pypper_site_infer_new(size_t seeds)
{
    size_t cap = 1024;
    while (cap < seeds * 4)
        cap *= 2;
    size_t bytes = sizeof(site_infer) + cap * sizeof(slot);
    site_infer *t = pypper_own_mmap(PYPPER_OWN_SITE_INFER, bytes, 0);
    if (!t)
        return NULL;
    t->cap = cap;
    return t;
}

void pypper_site_infer_free(site_infer *t)
{
    if (t)
        pypper_own_munmap(t, sizeof(site_infer) + t->cap * sizeof(slot));
}

static uintptr_t key_of(const void *block, int level)
{
    uintptr_t region = (uintptr_t)block >> (level ? ARENA_SHIFT : POOL_SHIFT);
    return ((region << 1) | (uintptr_t)level) + 1;
}

static slot *find(const site_infer *t, uintptr_t key, const void *type)
{
    uint64_t h = ((uint64_t)key * 31 + (uint64_t)(uintptr_t)type) * 0x9E3779B97F4A7C15ull;
    size_t mask = t->cap - 1;
    slot *s = (slot *)t->slots;
    for (size_t i = (size_t)(h >> 24) & mask;; i = (i + 1) & mask)
        if (!s[i].key || (s[i].key == key && s[i].type == type))
            return &s[i];
}

void pypper_site_infer_seed(site_infer *t, const void *block, const void *type, uint32_t site)
{
    if (!t || !site)
        return;
    for (int level = 0; level < 2; level++) {
        uintptr_t key = key_of(block, level);
        slot *s = find(t, key, type);
        if (!s->key || (uintptr_t)block < (uintptr_t)s->block)
            *s = (slot){key, type, block, site, s->mixed};
    }
}

/* A pool seeded with one site whose nearest seeded pools of the type in its arena
 * (the one below, the one above: seeds are sparse, one allocation in 12 KiB) all have
 * another: an island. One island means the arena's pools of that type
 * were filled by two lines in turn (a loop that makes a hot list every 25th node and a
 * cold one otherwise: each pool holds both, and its seed names one), so no pool of it
 * says which line made its objects; and when most of a line's seeds are islands
 * (at least two), no pool seeded by it or by the lines around its islands says so, in
 * any arena (seeds are sparse: most arenas of such a loop show no island). Runs of
 * pools from one line (a loop, then another) have no island. */
/* Seeds and islands of one (type, site), with the sites around its islands. */
#define SETTLE_PAIRS 256
typedef struct {
    const void *type;
    uint32_t site, seeds, islands;
    uint32_t around[2];         /* sites next to its islands (the first two seen) */
} pair_count;

static pair_count *count_of(pair_count *pairs, size_t *n, const void *type, uint32_t site)
{
    for (size_t k = 0; k < *n; k++)
        if (pairs[k].type == type && pairs[k].site == site)
            return &pairs[k];
    if (*n == SETTLE_PAIRS)
        return NULL;
    pairs[*n] = (pair_count){type, site, 0, 0, {0, 0}};
    return &pairs[(*n)++];
}

void pypper_site_infer_settle(site_infer *t)
{
    if (!t)
        return;
    pair_count pairs[SETTLE_PAIRS];
    size_t n_pairs = 0;
    slot *s = (slot *)t->slots;
    for (size_t i = 0; i < t->cap; i++) {
        if (!s[i].key || (s[i].key - 1) & 1)
            continue;                           /* empty, or an arena's */
        uintptr_t pool = (s[i].key - 1) >> 1, arena = pool >> (ARENA_SHIFT - POOL_SHIFT);
        int seeded = 0, same = 0;
        uint32_t other[2] = {0, 0};
        for (int d = -1; d <= 1; d += 2) {
            /* The nearest seeded pool of the type on that side, in the same arena. */
            for (uintptr_t q = pool + (uintptr_t)d; q >> (ARENA_SHIFT - POOL_SHIFT) == arena;
                 q += (uintptr_t)d) {
                const slot *n = find(t, ((q << 1) | 0) + 1, s[i].type);
                if (n->key) {
                    other[seeded++] = n->site;
                    same += n->site == s[i].site;
                    break;
                }
            }
        }
        pair_count *c = count_of(pairs, &n_pairs, s[i].type, s[i].site);
        if (c)
            c->seeds++;
        if (seeded && !same) {
            slot *arena_slot = find(t, key_of(s[i].block, 1), s[i].type);
            if (arena_slot->key)
                arena_slot->mixed = true;
            if (c) {
                c->islands++;
                for (int k = 0; k < seeded; k++)
                    if (!c->around[0] || c->around[0] == other[k])
                        c->around[0] = other[k];
                    else if (!c->around[1])
                        c->around[1] = other[k];
            }
        }
    }
    /* A line whose seeds are mostly islands (at least two) was made in turn with the
     * lines around them: neither's seeds say anything of their neighbours, anywhere
     * (one island alone: a short loop between two others, or a freed slot reused). */
    for (size_t k = 0; k < n_pairs; k++) {
        const pair_count *c = &pairs[k];
        if (c->islands < 2 || 2 * c->islands < c->seeds)
            continue;
        add_mixed(t, c->type, c->site);
        for (int j = 0; j < 2; j++)
            if (c->around[j])
                add_mixed(t, c->type, c->around[j]);
    }
}

uint32_t pypper_site_infer(const site_infer *t, const void *block, const void *type)
{
    if (!t)
        return 0;
    const slot *arena = find(t, key_of(block, 1), type);
    if (arena->key && arena->mixed)
        return 0;
    for (int level = 0; level < 2; level++) {
        const slot *s = find(t, key_of(block, level), type);
        if (s->key)
            return is_mixed(t, type, s->site) ? 0 : s->site;
    }
    return 0;
}
