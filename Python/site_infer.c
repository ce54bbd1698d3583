/* Python/site_infer.c: inferred allocation sites (site_infer.h). One open-addressing
 * table keyed by (level, region, type): level 0 regions are pools (16 KiB), level 1
 * arenas (1 MiB); of the seeds of a key, the one at the lowest address keeps it (the
 * first allocated there, as pools and arenas fill upwards), whatever order the seeds
 * come in. An arena whose pools of a type were filled by lines in turn gives no line,
 * nor does a pool whose seed is an older line's survivor (pypper_site_infer_settle);
 * when the lines in turn all lie within one function, it gives that function. */
#include "site_infer.h"
#include "../Pypper/own_memory.h"

#include <stdbool.h>
#include <sys/mman.h>

#define POOL_SHIFT 14
#define ARENA_SHIFT 20

/* The functions that a set of lines in turn all lie within, as the sites naming them,
 * innermost first (0: none); `set` once a line has been counted. Both 0 once set: no
 * function speaks for them. */
typedef struct {
    uint32_t fn[2];
    bool set;
} within;

typedef struct {
    uintptr_t key;              /* region << 1 | level, + 1; 0: empty */
    const void *type;
    const void *block;          /* the seed's */
    uint32_t site;
    bool mixed;                 /* an arena's: its pools of this type were filled by
                                   lines in turn (pypper_site_infer_settle) */
    bool stale;                 /* a pool's: its seed is an older line's survivor among
                                   a later line's objects (settle): it names neither */
    within fns;                 /* an arena's, mixed: the functions its lines in turn
                                   all lie within */
} slot;

/* The samples of an island line, as a share of those of a line around its islands,
 * from which that line's inference stops too (1/50: a line made every 25th step of a
 * loop has 1/24 of the other's). */
#define AROUND_MIN_SHARE_INVERSE 50u

/* One (type, site) of the seeds: how many pools it seeded, how many of those are
 * islands, the sites next to its islands, and whether its seeds say nothing of their
 * neighbours (settle). A second open-addressing table of `cap` entries after the
 * slots: there are at most as many (type, site) as seeds, a quarter of cap. */
typedef struct {
    const void *type;           /* NULL: empty */
    const void *block;          /* one of its seeds' (its size class) */
    uint32_t site, seeds, islands;
    uint32_t around[2];         /* sites next to its islands (the first two seen) */
    bool mixed;
    within fns;                 /* mixed: the functions its lines in turn lie within */
} pair;

struct site_infer {
    size_t cap;
    pypper_site_infer_functions_fn functions;   /* settle's; NULL: lines only */
    pair *pairs;                /* cap of them, after the slots */
    slot slots[];
};

static size_t bytes_for(size_t cap) { return sizeof(site_infer) + cap * (sizeof(slot) + sizeof(pair)); }

site_infer *pypper_site_infer_new(size_t seeds)
{
    size_t cap = 1024;
    while (cap < seeds * 4)
        cap *= 2;
    site_infer *t = pypper_own_mmap(PYPPER_OWN_SITE_INFER, bytes_for(cap), 0);
    if (!t)
        return NULL;
    t->cap = cap;
    t->pairs = (pair *)(t->slots + cap);
    return t;
}

void pypper_site_infer_free(site_infer *t)
{
    if (t)
        pypper_own_munmap(t, bytes_for(t->cap));
}

/* The entry of (type, site): added if new when `add` (there is always room: see
 * pair), else NULL when there is none. */
static pair *pair_at(const site_infer *t, const void *type, uint32_t site, bool add)
{
    uint64_t h = ((uint64_t)(uintptr_t)type * 31 + site) * 0x9E3779B97F4A7C15ull;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)(h >> 24) & mask;; i = (i + 1) & mask) {
        pair *p = &t->pairs[i];
        if (!p->type) {
            if (!add)
                return NULL;
            *p = (pair){type, NULL, site, 0, 0, {0, 0}, false, {{0, 0}, false}};
            return p;
        }
        if (p->type == type && p->site == site)
            return p;
    }
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
            *s = (slot){key, type, block, site, s->mixed, false, s->fns};
    }
}

/* An island line's share of a line around its islands (a, of the same type): in
 * samples of their size class, which a loop gives each line in proportion to what it
 * allocates (about 35 samples for a line made every 25th turn of 50,000, against 10
 * seeds, one per pool: with the sampling distance drawn at random, such a line seeded
 * 3 pools in one run, under the share, and its lists took the other line's site);
 * in seeds when the samples are not known. */
static bool share_at_least(const pair *c, const pair *a, pypper_site_infer_samples_fn samples)
{
    uint64_t mine = c->seeds, theirs = a->seeds;
    if (samples) {
        uint32_t m = samples(c->site, c->block), o = samples(a->site, c->block);
        if (m && o) {
            mine = m;
            theirs = o;
        }
    }
    return mine * AROUND_MIN_SHARE_INVERSE >= theirs;
}

/* The functions line `site` lies within (none without the callback). */
static void functions_of(const site_infer *t, uint32_t site, uint32_t out[2])
{
    out[0] = out[1] = 0;
    if (t->functions && site)
        t->functions(site, out);
    /* (A function that called itself; or one not known, whose caller alone must not
     * look like the function the line lies within: a module body that died after
     * its import would give its lines in turn to the module that imported it.) */
    if (out[1] == out[0] || !out[0])
        out[1] = 0;
}

/* w narrowed to the functions of `fns` too, in its order. */
static void narrow_to(within *w, const uint32_t fns[2])
{
    if (!w->set) {
        w->fn[0] = fns[0] ? fns[0] : fns[1];
        w->fn[1] = fns[0] ? fns[1] : 0;
        w->set = true;
        return;
    }
    uint32_t keep[2] = {0, 0};
    int k = 0;
    for (int i = 0; i < 2; i++)
        if (w->fn[i] && (w->fn[i] == fns[0] || w->fn[i] == fns[1]))
            keep[k++] = w->fn[i];
    w->fn[0] = keep[0];
    w->fn[1] = keep[1];
}

/* w narrowed to the functions line `site` lies within. */
static void narrow(const site_infer *t, within *w, uint32_t site)
{
    uint32_t fns[2];
    functions_of(t, site, fns);
    narrow_to(w, fns);
}

/* A pool seeded with one site whose nearest seeded pools of the type in its arena
 * (the one below, the one above: seeds are sparse, one allocation in 12 KiB) all have
 * another: an island. One island means the arena's pools of that type
 * were filled by two lines in turn (a loop that makes a hot list every 25th node and a
 * cold one otherwise: each pool holds both, and its seed names one), so no pool of it
 * says which line made its objects; and when most of a line's seeds are islands
 * (at least two), no pool seeded by it or by the lines around its islands says so, in
 * any arena (seeds are sparse: most arenas of such a loop show no island). A pool
 * with one seeded neighbour only is judged by that one. Runs of pools from one line
 * (a loop, then another) have no island while each run has two seeded pools or more;
 * a run with one (a short loop) is an island, and its arena infers nothing for that
 * type: wrongly cautious, never wrong.
 * Lines can only have filled pools in turn if they allocated at the same time: a seed
 * whose line's sampled blocks all came before its neighbours' lines' first (or after
 * their last; `in_turn` says, NULL: always in turn) is no island but a survivor of an
 * older line in a pool a later line refilled around it (a module's import-time
 * strings, then a loop's names). Its pool infers nothing, the rest is untouched (as an
 * island it cost a newcomer's 600 KB of names their site). */
void pypper_site_infer_settle(site_infer *t, pypper_site_infer_in_turn_fn in_turn,
                              pypper_site_infer_samples_fn samples,
                              pypper_site_infer_functions_fn functions)
{
    if (!t)
        return;
    t->functions = functions;
    slot *s = (slot *)t->slots;
    for (size_t i = 0; i < t->cap; i++) {
        if (!s[i].key || (s[i].key - 1) & 1)
            continue;                           /* empty, or an arena's */
        uintptr_t pool = (s[i].key - 1) >> 1, arena = pool >> (ARENA_SHIFT - POOL_SHIFT);
        int seeded = 0, same = 0, turns = 0;
        uint32_t other[2] = {0, 0};
        for (int d = -1; d <= 1; d += 2) {
            /* The nearest seeded pool of the type on that side, in the same arena. */
            for (uintptr_t q = pool + (uintptr_t)d; q >> (ARENA_SHIFT - POOL_SHIFT) == arena;
                 q += (uintptr_t)d) {
                const slot *n = find(t, ((q << 1) | 0) + 1, s[i].type);
                if (n->key) {
                    seeded++;
                    if (n->site == s[i].site)
                        same++;
                    else if (!in_turn || in_turn(s[i].site, n->site))
                        other[turns++] = n->site;       /* another line, made in turn */
                    break;
                }
            }
        }
        pair *c = pair_at(t, s[i].type, s[i].site, true);
        c->seeds++;
        if (!c->block)
            c->block = s[i].block;
        if (seeded && !same && !turns) {
            s[i].stale = true;
        } else if (seeded && !same) {
            slot *arena_slot = find(t, key_of(s[i].block, 1), s[i].type);
            if (arena_slot->key) {
                arena_slot->mixed = true;
                narrow(t, &arena_slot->fns, arena_slot->site);
                narrow(t, &arena_slot->fns, s[i].site);
                for (int k = 0; k < turns; k++)
                    narrow(t, &arena_slot->fns, other[k]);
            }
            c->islands++;
            for (int k = 0; k < turns; k++)
                if (!c->around[0] || c->around[0] == other[k])
                    c->around[0] = other[k];
                else if (!c->around[1])
                    c->around[1] = other[k];
        }
    }
    /* A line whose seeds are mostly islands (at least two) was made in turn with the
     * lines around them: neither's seeds say anything of their neighbours, anywhere
     * (one island alone: a short loop between two others, or a freed slot reused).
     * A line around them loses its inference only when the island line has at least
     * 1/AROUND_MIN_SHARE_INVERSE of its samples (share_at_least): a few objects of another line in the pools of a
     * large one (slots reused later) would otherwise cost all of its objects their
     * site for the sake of those few (a newcomer's 200,000 archive strings, 18 MiB,
     * lost theirs in 2 runs of 4). */
    for (size_t k = 0; k < t->cap; k++) {
        const pair *c = &t->pairs[k];
        if (!c->type || c->islands < 2 || 2 * c->islands < c->seeds)
            continue;
        pair *me = pair_at(t, c->type, c->site, true);
        me->mixed = true;
        narrow(t, &me->fns, c->site);
        for (int j = 0; j < 2; j++) {
            if (!c->around[j])
                continue;
            pair *a = pair_at(t, c->type, c->around[j], true);
            narrow(t, &me->fns, c->around[j]);
            if (share_at_least(c, a, samples)) {
                a->mixed = true;
                narrow(t, &a->fns, c->around[j]);
                narrow(t, &a->fns, c->site);
            }
        }
    }
}

uint32_t pypper_site_infer(const site_infer *t, const void *block, const void *type)
{
    if (!t)
        return 0;
    const slot *arena = find(t, key_of(block, 1), type);
    bool arena_mixed = arena->key && arena->mixed;
    for (int level = 0; level < 2; level++) {
        const slot *s = find(t, key_of(block, level), type);
        if (s->key) {
            /* An arena's seed speaks for it only if its own pool's does (not stale). */
            if (s->stale || (level && find(t, key_of(s->block, 0), type)->stale))
                return 0;
            const pair *p = pair_at(t, type, s->site, false);
            if (!arena_mixed)
                return p && p->mixed ? p->fns.fn[0] : s->site;
            /* The innermost function that the arena's lines in turn, the seed's line
             * and, when that was made in turn too, the lines with it all lie within. */
            within w = arena->fns;
            narrow(t, &w, s->site);
            if (p && p->mixed)
                narrow_to(&w, p->fns.fn);
            return w.fn[0];
        }
    }
    return 0;
}
