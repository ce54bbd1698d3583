/* Python/alloc_sites.c: allocation sites (alloc_sites.h). The heap calls sample()
 * for one allocation in ALLOC_SAMPLE, inside the allocator: it reads the allocating
 * thread's innermost Python frame, interns (code object, instruction) as a site id
 * (a small open-addressing table; the code object is kept alive by a reference) and
 * notes block -> site in a direct-mapped cache. When the live trace first tracks a
 * block it takes the site from the cache. Nothing here allocates from the heap (the
 * tables are mmap'ed), so sample() is safe inside malloc. A cache slot may be
 * overwritten by a later sample, and a sampled block freed and reused before it was
 * tracked passes its site to the next object there: sites are a sample, good for
 * aggregates. */
#define Py_BUILD_CORE 1
#include "alloc_sites.h"

#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"

#include "../Objects/heap.h"

#include <sys/mman.h>

#define SITE_CAP 65536u             /* sites (ids 1..SITE_CAP-1), power of two */
#define CACHE_CAP 65536u            /* block -> site cache slots, power of two */

typedef struct {
    PyCodeObject *code;             /* NULL: empty */
    int offset;                     /* instruction (code unit) index */
} site_rec;

typedef struct {
    const void *block;
    uint32_t site;
} cache_slot;

static site_rec *sites;             /* indexed by id; the intern table is `index` */
static uint32_t *site_index;        /* SITE_CAP slots of ids (0: empty) */
static uint32_t nsites;
static cache_slot *cache;
/* A bit per cache slot, set while the slot holds a block: the live trace asks about
 * every object it tracks, and almost none was sampled, so it reads this 8 KiB map
 * instead of the 1 MiB cache. */
static uint64_t *occupied;
static PyInterpreterState *main_interp;

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static uint32_t intern_site(PyCodeObject *code, int offset)
{
    uint64_t h = ((uint64_t)(uintptr_t)code * 31 + (uint64_t)offset) * 0x9E3779B97F4A7C15ull;
    uint32_t i = (uint32_t)(h >> 40) & (SITE_CAP - 1);
    for (uint32_t probes = 0; probes < SITE_CAP; probes++, i = (i + 1) & (SITE_CAP - 1)) {
        uint32_t id = site_index[i];
        if (!id) {
            if (nsites + 1 >= SITE_CAP / 2)
                return 0;           /* full: unknown */
            id = ++nsites;
            sites[id] = (site_rec){(PyCodeObject *)Py_NewRef(code), offset};
            site_index[i] = id;
            return id;
        }
        if (sites[id].code == code && sites[id].offset == offset)
            return id;
    }
    return 0;
}

static inline size_t cache_slot_of(const void *block)
{
    return (size_t)(((uint64_t)(uintptr_t)block >> 4) * 0x9E3779B97F4A7C15ull >> 48) & (CACHE_CAP - 1);
}

static void sample(void *block, size_t size)
{
    (void)size;
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    if (!ts || ts->interp != main_interp || !ts->cframe)
        return;
    _PyInterpreterFrame *f = ts->cframe->current_frame;
    while (f && f->owner == FRAME_OWNED_BY_CSTACK)
        f = f->previous;
    if (!f || !f->prev_instr)
        return;
    PyCodeObject *code = f->f_code;
    int offset = (int)(f->prev_instr - _PyCode_CODE(code));
    uint32_t id = intern_site(code, offset < 0 ? 0 : offset);
    if (id) {
        size_t slot = cache_slot_of(block);
        cache[slot] = (cache_slot){block, id};
        occupied[slot >> 6] |= (uint64_t)1 << (slot & 63);
    }
}

static void release(bool drop_references)
{
    pypper_heap_set_alloc_sampler(NULL, 0);
    if (sites && drop_references)
        for (uint32_t id = 1; id <= nsites; id++)
            Py_CLEAR(sites[id].code);
    if (sites)
        munmap(sites, SITE_CAP * sizeof(site_rec));
    if (site_index)
        munmap(site_index, SITE_CAP * sizeof(uint32_t));
    if (cache)
        munmap(cache, CACHE_CAP * sizeof(cache_slot));
    if (occupied)
        munmap(occupied, CACHE_CAP / 8);
    sites = NULL;
    site_index = NULL;
    cache = NULL;
    occupied = NULL;
    nsites = 0;
}

int pypper_alloc_sites_start(uint64_t period)
{
    release(true);
    if (!period)
        return 0;
    sites = map(SITE_CAP * sizeof(site_rec));
    site_index = map(SITE_CAP * sizeof(uint32_t));
    cache = map(CACHE_CAP * sizeof(cache_slot));
    occupied = map(CACHE_CAP / 8);
    if (!sites || !site_index || !cache || !occupied) {
        release(true);
        PyErr_NoMemory();
        return -1;
    }
    main_interp = PyInterpreterState_Get();
    pypper_heap_set_alloc_sampler(sample, period);
    return 0;
}

void pypper_alloc_sites_stop(void) { release(true); }

uint32_t pypper_alloc_sites_take(const void *block)
{
    if (!cache)
        return 0;
    size_t slot = cache_slot_of(block);
    uint64_t bit = (uint64_t)1 << (slot & 63);
    if (!(occupied[slot >> 6] & bit))
        return 0;
    cache_slot *c = &cache[slot];
    if (c->block != block)
        return 0;
    c->block = NULL;
    occupied[slot >> 6] &= ~bit;
    return c->site;
}

int pypper_alloc_site_key(uint32_t site, const void **code, int *offset)
{
    if (!site || site > nsites || !sites)
        return 0;
    *code = sites[site].code;
    *offset = sites[site].offset;
    return 1;
}

PyObject *pypper_alloc_site_describe(uint32_t site)
{
    if (!site || site > nsites || !sites)
        Py_RETURN_NONE;
    PyCodeObject *code = sites[site].code;
    int line = PyCode_Addr2Line(code, sites[site].offset * (int)sizeof(_Py_CODEUNIT));
    return PyUnicode_FromFormat("%U:%d (%U)", code->co_filename, line, code->co_qualname);
}
