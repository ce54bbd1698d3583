/* Pypper/group_sums.c: a snapshot's rows summed per (site, type) and per site
 * (group_sums.h). An open-addressing map of the groups, growing; an array of the
 * frame's per-site sums indexed by site id. */
#include "group_sums.h"

#include "own_memory.h"

#include <string.h>

struct pypper_group_sums {
    pypper_group_sum *slots;        /* cap slots; objects == 0: empty */
    size_t cap, used;
    pypper_site_sum *sites;         /* PYPPER_GROUP_SITES of them */
    double frame_min_t;
    pypper_group_sum *last;         /* the group found last (rows of one group come in runs) */
};

static size_t home(uint32_t site, uint32_t type, size_t mask)
{
    uint64_t k = (uint64_t)site << 32 | type;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & mask;
}

static bool grow(pypper_group_sums *g)
{
    size_t cap = g->cap ? 2 * g->cap : 256;
    pypper_group_sum *fresh = pypper_own_mmap(PYPPER_OWN_SNAPSHOT, cap * sizeof(*fresh), 0);
    if (!fresh)
        return false;
    for (size_t i = 0; i < g->cap; i++) {
        const pypper_group_sum *s = &g->slots[i];
        if (!s->objects)
            continue;
        size_t j = home(s->site, s->type, cap - 1);
        while (fresh[j].objects)
            j = (j + 1) & (cap - 1);
        fresh[j] = *s;
    }
    if (g->slots)
        pypper_own_munmap(g->slots, g->cap * sizeof(*g->slots));
    g->slots = fresh;
    g->cap = cap;
    g->last = NULL;
    return true;
}

pypper_group_sums *pypper_group_sums_new(double frame_min_t)
{
    pypper_group_sums *g = pypper_own_mmap(PYPPER_OWN_SNAPSHOT, sizeof(*g), 0);
    if (!g)
        return NULL;
    g->frame_min_t = frame_min_t;
    g->sites = pypper_own_mmap(PYPPER_OWN_SNAPSHOT, PYPPER_GROUP_SITES * sizeof(pypper_site_sum), 0);
    if (!g->sites || !grow(g)) {
        pypper_group_sums_free(g);
        return NULL;
    }
    return g;
}

void pypper_group_sums_free(pypper_group_sums *g)
{
    if (!g)
        return;
    if (g->slots)
        pypper_own_munmap(g->slots, g->cap * sizeof(*g->slots));
    if (g->sites)
        pypper_own_munmap(g->sites, PYPPER_GROUP_SITES * sizeof(pypper_site_sum));
    pypper_own_munmap(g, sizeof(*g));
}

/* The sums of (site, type), added if new; NULL when there is no memory. */
static pypper_group_sum *group_of(pypper_group_sums *g, uint32_t site, uint32_t type)
{
    if (g->last && g->last->site == site && g->last->type == type)
        return g->last;
    if ((g->used + 1) * 2 > g->cap && !grow(g))
        return NULL;
    size_t mask = g->cap - 1, i = home(site, type, mask);
    for (;; i = (i + 1) & mask) {
        pypper_group_sum *s = &g->slots[i];
        if (!s->objects) {
            s->site = site;
            s->type = type;
            g->used++;
            return g->last = s;
        }
        if (s->site == site && s->type == type)
            return g->last = s;
    }
}

bool pypper_group_sums_add(pypper_group_sums *g, const pypper_snapshot_columns *c, size_t n,
                           const pypper_owned_parts *owned, const bool *machinery, size_t n_types)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t site = c->site[i] < PYPPER_GROUP_SITES ? c->site[i] : 0, type = c->type[i];
        double t = c->temperature[i];
        uint64_t size = c->size[i], total = size + c->owned[i], parts[3] = {0, 0, 0};
        /* Its buffer's pages in the classes of what they hold (a log's item array is
         * cold where its records are), its body in its own. */
        bool owns = c->owned[i] != 0;
        if (owns)
            memcpy(parts, owned[i].by_class, sizeof(parts));
        parts[c->klass[i]] += size;
        if (t >= g->frame_min_t) {
            g->sites[site].hot += parts[2];
            g->sites[site].warm += parts[1];
        }
        bool guess = c->kind[i] == SITE_KIND_INFERRED && type < n_types && machinery[type];
        pypper_group_sum *s = group_of(g, guess ? 0 : site, type);
        if (!s)
            return false;
        s->objects++;
        s->bytes += size;
        s->owned += c->owned[i];
        for (int k = 0; k < 3; k++)
            s->by_class[k] += parts[k];
        s->tsum += t * (double)size + (owns ? owned[i].heat : 0.0);
        if (c->tier[i])
            s->slow += total;
        s->hist[pypper_group_bin(t)] += size;
        for (size_t b = 0; owns && b < PYPPER_GROUP_BINS; b++)
            s->hist[b] += owned[i].by_bin[b];
    }
    return true;
}

size_t pypper_group_sums_count(const pypper_group_sums *g) { return g->used; }

const pypper_group_sum *pypper_group_sums_next(const pypper_group_sums *g, size_t *cursor)
{
    for (size_t j = *cursor; j < g->cap; j++) {
        if (g->slots[j].objects) {
            *cursor = j + 1;
            return &g->slots[j];
        }
    }
    *cursor = g->cap;
    return NULL;
}

const pypper_site_sum *pypper_group_sums_site(const pypper_group_sums *g, uint32_t site)
{
    return &g->sites[site < PYPPER_GROUP_SITES ? site : 0];
}
