/* Python/site_infer.c: inferred allocation sites (site_infer.h). One open-addressing
 * table keyed by (level, region, type): level 0 regions are pools (16 KiB), level 1
 * arenas (1 MiB); of the seeds of a key, the one at the lowest address keeps it (the
 * first allocated there, as pools and arenas fill upwards), whatever order the seeds
 * come in. */
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
} slot;

struct site_infer {
    size_t cap;
    slot slots[];
};

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
            *s = (slot){key, type, block, site};
    }
}

uint32_t pypper_site_infer(const site_infer *t, const void *block, const void *type)
{
    if (!t)
        return 0;
    for (int level = 0; level < 2; level++) {
        const slot *s = find(t, key_of(block, level), type);
        if (s->key)
            return s->site;
    }
    return 0;
}
