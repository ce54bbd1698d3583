/* Pypper/own_memory.c: the registry of Pypper's own mappings by part and their
 * resident bytes (own_memory.h). A fixed list of regions (Pypper keeps a few dozen
 * mappings at most); residency comes from mincore over each region, in slices so the
 * vector stays on the stack. */
#include "own_memory.h"
#include "threads.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLD
#define MADV_COLD 20             /* Linux 5.4 */
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18       /* Linux 4.14 */
#endif

#define REGIONS_MAX 256
#define MINCORE_PAGES 4096             /* pages asked per mincore call */

typedef struct {
    void *start;                        /* NULL: a free slot */
    size_t bytes;
    pypper_own_part part;
} region;

static region regions[REGIONS_MAX];
static uint64_t uncounted;
static pthread_mutex_t mu PYPPER_PINNED = PTHREAD_MUTEX_INITIALIZER;

static const char *const part_names[PYPPER_OWN_PARTS] = {
    [PYPPER_OWN_OBJTABLE_ENTRIES] = "objtable_entries",
    [PYPPER_OWN_OBJTABLE_STATES] = "objtable_states",
    [PYPPER_OWN_LIVE_TRACE] = "live_trace",
    [PYPPER_OWN_EVIDENCE] = "evidence",
    [PYPPER_OWN_MIGRATE] = "migrate",
    [PYPPER_OWN_ALLOC_SITES] = "alloc_sites",
    [PYPPER_OWN_SITE_INFER] = "site_infer",
    [PYPPER_OWN_UNTRACED_SITES] = "untraced_sites",
    [PYPPER_OWN_WRITE_TRACKING] = "write_tracking",
    [PYPPER_OWN_SNAPSHOT] = "snapshot",
    [PYPPER_OWN_PAGE_HEAT] = "page_heat",
    [PYPPER_OWN_SWAP_MAP] = "swap_map",
    [PYPPER_OWN_SITE_PROFILE] = "site_profile",
    [PYPPER_OWN_TRACKED_BITS] = "tracked_bits",
    [PYPPER_OWN_SCAN_GROUPS] = "scan_groups",
};

/* The parts a forked child gets empty (MADV_WIPEONFORK: zero pages, as if new). A
 * child forgets the session (components.h) and unmaps these without reading them: they
 * hold no reference to a Python object and nothing their own unmapping needs (sizes
 * live beside their pointers, outside). So fork() copies none of their page tables,
 * the parent takes no copy-on-write fault writing them after a fork, and the child's
 * unmapping has no page to drop (30 munmaps of populated copies took a child 0.6-2.6
 * ms in this VM, of empty ones 0.2 ms; a traced 1,500,000-list heap forked in 11-14
 * ms instead of 14-15, 2026-12-06: Doc/compatibility.md). Kept (inherited): the
 * allocation sites' tables (they hold references the
 * child drops), a profile, a snapshot being built, the inference tables (their sizes
 * are inside them). Refused (before Linux 4.14): the child gets a copy, as before. */
static const bool wipe_on_fork[PYPPER_OWN_PARTS] = {
    [PYPPER_OWN_OBJTABLE_ENTRIES] = true, [PYPPER_OWN_OBJTABLE_STATES] = true,
    [PYPPER_OWN_LIVE_TRACE] = true,       [PYPPER_OWN_EVIDENCE] = true,
    [PYPPER_OWN_WRITE_TRACKING] = true,   [PYPPER_OWN_PAGE_HEAT] = true,
    [PYPPER_OWN_SWAP_MAP] = true,         [PYPPER_OWN_SCAN_GROUPS] = true,
};

static uint64_t (*_Atomic resident_fns[PYPPER_OWN_PARTS])(void);

void pypper_own_set_resident_fn(pypper_own_part part, uint64_t (*fn)(void))
{
    if ((unsigned)part < PYPPER_OWN_PARTS)
        resident_fns[part] = fn;
}

const char *pypper_own_part_name(pypper_own_part part)
{
    return (unsigned)part < PYPPER_OWN_PARTS ? part_names[part] : "unknown";
}

static void remember(void *p, size_t bytes, pypper_own_part part)
{
    pthread_mutex_lock(&mu);
    size_t i = 0;
    while (i < REGIONS_MAX && regions[i].start)
        i++;
    if (i < REGIONS_MAX)
        regions[i] = (region){p, bytes, part};
    else
        uncounted++;
    pthread_mutex_unlock(&mu);
}

/* The slot of the region starting at p, or REGIONS_MAX; with mu held. */
static size_t slot_of(const void *p)
{
    for (size_t i = 0; i < REGIONS_MAX; i++)
        if (regions[i].start == p)
            return i;
    return REGIONS_MAX;
}

void *pypper_own_mmap(pypper_own_part part, size_t bytes, int extra_flags)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if ((unsigned)part < PYPPER_OWN_PARTS && wipe_on_fork[part])
        pypper_own_wipe_on_fork(p, bytes);          /* (mremap keeps it) */
    remember(p, bytes, part);
    return p;
}

void pypper_own_wipe_on_fork(void *p, size_t bytes) { (void)madvise(p, bytes, MADV_WIPEONFORK); }

void *pypper_own_mremap(void *old, size_t old_bytes, size_t new_bytes)
{
    void *p = mremap(old, old_bytes, new_bytes, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return NULL;
    pthread_mutex_lock(&mu);
    size_t i = slot_of(old);
    if (i < REGIONS_MAX)
        regions[i].start = p, regions[i].bytes = new_bytes;
    pthread_mutex_unlock(&mu);
    return p;
}

void pypper_own_munmap(void *p, size_t bytes)
{
    if (!p)
        return;
    pthread_mutex_lock(&mu);
    size_t i = slot_of(p);
    if (i < REGIONS_MAX)
        regions[i] = (region){0};
    pthread_mutex_unlock(&mu);
    munmap(p, bytes);
}

static uint64_t resident_of(const region *r)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char vec[MINCORE_PAGES];
    uint64_t pages = 0;
    size_t total = (r->bytes + page - 1) / page;
    for (size_t done = 0; done < total;) {
        size_t n = total - done < MINCORE_PAGES ? total - done : MINCORE_PAGES;
        if (mincore((char *)r->start + done * page, n * page, vec) < 0)
            break;                      /* not counted: the region is not ours any more */
        for (size_t k = 0; k < n; k++)
            pages += vec[k] & 1;
        done += n;
    }
    return pages * page;
}

static uint64_t sum(int part, bool resident)
{
    uint64_t total = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < REGIONS_MAX; i++)
        if (regions[i].start && (part < 0 || regions[i].part == (pypper_own_part)part))
            total += resident ? resident_of(&regions[i]) : regions[i].bytes;
    pthread_mutex_unlock(&mu);
    for (int p = 0; resident && p < PYPPER_OWN_PARTS; p++) {
        uint64_t (*fn)(void) = resident_fns[p];
        if (fn && (part < 0 || part == p))
            total += fn();
    }
    return total;
}

uint64_t pypper_own_resident(pypper_own_part part) { return sum((int)part, true); }
uint64_t pypper_own_resident_total(void) { return sum(-1, true); }
uint64_t pypper_own_mapped(pypper_own_part part) { return sum((int)part, false); }

uint64_t pypper_own_uncounted(void)
{
    pthread_mutex_lock(&mu);
    uint64_t n = uncounted;
    pthread_mutex_unlock(&mu);
    return n;
}

uint64_t pypper_own_advise_cold(uint32_t parts)
{
    /* The ranges are copied under the lock and advised without it: a program thread
     * may be mapping meanwhile (alloc_sites grows its tables inside malloc). A range
     * unmapped in between gets advice that is refused or lands on nothing of ours:
     * harmless. 4 KiB of the caller's stack (the pressure guard's, pinned 32 KiB). */
    struct { void *start; size_t bytes; } cold[REGIONS_MAX];
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < REGIONS_MAX; i++)
        if (regions[i].start && (parts >> regions[i].part & 1u)) {
            cold[n].start = regions[i].start;
            cold[n++].bytes = regions[i].bytes;
        }
    pthread_mutex_unlock(&mu);
    uint64_t advised = 0;
    for (size_t i = 0; i < n; i++)
        if (madvise(cold[i].start, cold[i].bytes, MADV_COLD) == 0)
            advised += cold[i].bytes;
    return advised;
}

static struct {
    bool taken;
    uint64_t resident[PYPPER_OWN_PARTS];
    uint64_t heap_bytes;
} at_end;

void pypper_own_note_end(uint64_t heap_bytes_in_use)
{
    uint64_t r[PYPPER_OWN_PARTS];
    for (int p = 0; p < PYPPER_OWN_PARTS; p++)
        r[p] = pypper_own_resident((pypper_own_part)p);
    pthread_mutex_lock(&mu);
    memcpy(at_end.resident, r, sizeof(r));
    at_end.heap_bytes = heap_bytes_in_use;
    at_end.taken = true;
    pthread_mutex_unlock(&mu);
}

bool pypper_own_end_record(uint64_t resident[PYPPER_OWN_PARTS], uint64_t *heap_bytes_in_use)
{
    pthread_mutex_lock(&mu);
    bool taken = at_end.taken;
    memcpy(resident, at_end.resident, sizeof(at_end.resident));
    *heap_bytes_in_use = at_end.heap_bytes;
    pthread_mutex_unlock(&mu);
    return taken;
}
