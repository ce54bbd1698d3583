/* Pypper/survivor_queue.c: the queue of survivors left for later and the newest
 * entry per block (survivor_queue.h). One pass in push order with a map from each
 * block seen to its latest entry and whether its object has a table entry (open
 * addressing on the entries' indexes, sized to twice the entries, cleared for each
 * use): O(entries). The queue, the map and the record of recent pushes share one
 * mapping, replaced by one twice as large when the queue grows. */
#include "survivor_queue.h"
#include "own_memory.h"

#include <string.h>
#include <sys/mman.h>

/* Per entry of capacity: the queue, a map of two slots, a slot of recent pushes. */
#define BYTES_PER_ENTRY (sizeof(pypper_survivor) + 2 * sizeof(uint32_t) + sizeof(uint32_t))

static struct {
    pypper_survivor *q;
    uint32_t *map;              /* 0, or (index + 1) << 1 | the object has an entry */
    uint32_t *recent;           /* tags of blocks pushed since the last clear */
    bool recent_used;
    size_t cap;                 /* entries; a power of two */
    size_t n;
    uint64_t oldest_ns;
} SQ;

/* One mapping holds the three arrays (all sized by cap, powers of two). */
static int map_arrays(size_t cap)
{
    char *p = pypper_own_mmap(PYPPER_OWN_LIVE_TRACE, cap * BYTES_PER_ENTRY, MAP_NORESERVE);
    if (!p)
        return -1;
    SQ.q = (pypper_survivor *)p;
    SQ.map = (uint32_t *)(p + cap * sizeof(pypper_survivor));
    SQ.recent = SQ.map + 2 * cap;
    SQ.cap = cap;
    return 0;
}

int pypper_survivors_init(void)
{
    if (SQ.q)
        return 0;
    if (map_arrays(PYPPER_SURVIVORS_MIN) < 0)
        return -1;
    SQ.n = 0;
    SQ.oldest_ns = 0;
    SQ.recent_used = false;
    return 0;
}

void pypper_survivors_fini(void)
{
    if (SQ.q)
        pypper_own_munmap(SQ.q, SQ.cap * BYTES_PER_ENTRY);
    SQ.q = NULL;
    SQ.map = NULL;
    SQ.recent = NULL;
    SQ.cap = 0;
    SQ.recent_used = false;
    SQ.n = 0;
    SQ.oldest_ns = 0;
}

size_t pypper_survivors_capacity(void) { return SQ.cap; }

bool pypper_survivors_grow(void)
{
    if (!SQ.q || SQ.n || SQ.cap >= PYPPER_SURVIVORS_MAX)
        return false;
    size_t old = SQ.cap;
    pypper_survivor *q = SQ.q;
    if (map_arrays(2 * old) < 0)
        return false;                   /* the old arrays stay */
    pypper_own_munmap(q, old * BYTES_PER_ENTRY);
    SQ.recent_used = false;             /* fresh pages: zero */
    return true;
}

bool pypper_survivors_ready(void) { return SQ.q != NULL; }

/* Blocks are at least 16-byte aligned: the low bits say little. */
static inline uint64_t mix(uintptr_t b)
{
    return (uint64_t)(b >> 4) * 0x9E3779B97F4A7C15ull;
}

static inline size_t recent_slot(uintptr_t b) { return (size_t)(mix(b) >> 20) & (SQ.cap - 1); }

static inline uint32_t recent_tag(uintptr_t b) { return (uint32_t)(b >> 4) | 1u; }

bool pypper_survivors_push(void *block, void *object, const void *type, uint32_t site,
                           bool in_table, uint64_t now_ns)
{
    uintptr_t b = (uintptr_t)block, headers = (uintptr_t)object - b;
    if (!SQ.q || SQ.n == SQ.cap || (b & 15u) || headers > 48 || (headers & 15u) || !type)
        return false;
    if (SQ.n == 0)
        SQ.oldest_ns = now_ns ? now_ns : 1;
    SQ.q[SQ.n++] = (pypper_survivor){b | (headers >> 4) << 1 | (in_table ? 1u : 0u), type, site};
    SQ.recent[recent_slot(b)] = recent_tag(b);
    SQ.recent_used = true;
    return true;
}

bool pypper_survivors_queued(const void *block)
{
    uintptr_t b = (uintptr_t)block;
    return SQ.recent && SQ.n && SQ.recent[recent_slot(b)] == recent_tag(b);
}

size_t pypper_survivors_count(void) { return SQ.n; }

uint64_t pypper_survivors_oldest_ns(void) { return SQ.n ? SQ.oldest_ns : 0; }

pypper_survivor *pypper_survivors_latest(size_t *n, size_t *freed_unentered)
{
    *n = SQ.n;
    *freed_unentered = 0;
    if (!SQ.n)
        return SQ.q;
    size_t slots = 64;
    while (slots < 2 * SQ.n)
        slots *= 2;
    size_t mask = slots - 1;
    memset(SQ.map, 0, slots * sizeof(uint32_t));
    for (size_t i = 0; i < SQ.n; i++) {
        pypper_survivor *e = &SQ.q[i];
        uintptr_t b = (uintptr_t)pypper_survivor_block(e);
        size_t s = (size_t)(mix(b) >> 20) & mask;
        while (SQ.map[s] && (uintptr_t)pypper_survivor_block(&SQ.q[(SQ.map[s] >> 1) - 1]) != b)
            s = (s + 1) & mask;
        if (SQ.map[s]) {
            pypper_survivor *before = &SQ.q[(SQ.map[s] >> 1) - 1];
            bool entered = SQ.map[s] & 1u;
            if (!pypper_survivor_in_table(e))   /* bit clear: the one before was freed */
                *freed_unentered += !entered;
            else {                              /* the same address all along: as before */
                e->block_bits = (e->block_bits & ~(uintptr_t)1) | (entered ? 1u : 0u);
                if (!e->site)
                    e->site = before->site;     /* taken when the block was queued first */
            }
            before->type = NULL;
        }
        SQ.map[s] = (uint32_t)(i + 1) << 1 | (pypper_survivor_in_table(e) ? 1u : 0u);
    }
    return SQ.q;
}

void pypper_survivors_clear(void)
{
    SQ.n = 0;
    SQ.oldest_ns = 0;
    if (SQ.recent_used)
        memset(SQ.recent, 0, SQ.cap * sizeof(uint32_t));
    SQ.recent_used = false;
}
