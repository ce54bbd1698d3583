/* Python/migrate.c: the migration plane (migrate.h), driven by the engine (engine.c).
 *
 * A round has two halves. collect (GIL held, in the engine's step or in
 * pypper.migrate_now()): list the heap's pages in use (from the allocator's
 * metadata), spread each traced object's heat over the pages of its block and of
 * the buffer it owns, relocate owned buffers of hot objects into fast-tier arenas
 * and of cold ones into slow-tier arenas (Doc/design.md §5; owned_buffers.c), and learn
 * allocation sites whose objects are cold (their new objects then go to slow-tier
 * arenas: segregation). execute (GIL released): ask the backend where the pages are,
 * let the planner decide (planner.c), have the backend move the pages, count. A
 * body on a page the pageout backend has sent to swap is not read (that would fault
 * it back in): its buffer's heat waits until the page is back.
 *
 * execute runs in the migration thread ("pypper-migrate", or the caller of
 * migrate_now()), possibly while another thread forks, so nothing in it calls
 * malloc: every array is mmap'ed during collect, and sorting is a heapsort. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_frame.h"
#include "internal/pycore_pystate.h"

#include "migrate.h"

#include "alloc_sites.h"
#include "owned_buffers.h"

#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/placement.h"
#include "../Pypper/backend.h"
#include "../Pypper/heapsort.h"
#include "../Pypper/log.h"
#include "../Pypper/objtable.h"
#include "../Pypper/planner.h"
#include "../Pypper/stats.h"
#include "../Pypper/temperature.h"
#include "../Pypper/threads.h"
#include "../Pypper/tiers.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096u
#define MOVE_CHUNK 1024          /* pages per backend call */
#define RELOC_MAX 65536          /* relocations per round */
#define RELOC_MIN_BYTES 64       /* smaller buffers are not worth a copy */
#define SITE_MAX 32768           /* alloc_sites ids stay below this */
#define COLD_SLOTS 4096          /* cold-site table (direct mapped, power of two) */
#define COLD_REPORT 32           /* cold sites named in migration_stats() */
#define SITE_MIN_OBJECTS 8
#define SITE_COLD_SHARE 0.9
#define LOCATE_ALL_EVERY 8       /* numa: re-read every page's node every N rounds */
#define SLICE_ROUNDS 8           /* a background round looks closely at >= 1/8 of the table */
#define SLICE_MIN 65536
#define SETTLE_MS 2000
#define DISCARD_EVERY (8u << 20) /* relocated bytes between two returns of free pages */

/* Per page slot: where it is (PL_UNKNOWN / _FAST / _SLOW) in the low bits, and in
 * the high bits how many more rounds it counts as known (heat 0 without evidence,
 * rather than unknown): set when a traced object's buffer is seen on it, counted
 * down each round it holds no traced object (the page may have been reused since),
 * long enough to outlast a rotation of the table's slices. */
/* A round's arrays belong to: nobody (IDLE), a thread collecting or executing
 * (BUSY), or the migration thread, which will execute it (QUEUED). */
enum { ROUND_IDLE = 0, ROUND_BUSY, ROUND_QUEUED };

/* (A tier plus one: an mmap'ed array starts all zero, that is unknown.) */
enum { PL_UNKNOWN = 0, PL_FAST = 1 + PYPPER_TIER_FAST, PL_SLOW = 1 + PYPPER_TIER_SLOW,
       PL_WHERE = 3, PL_AGE_ONE = 4, PL_AGE = 0xFC };


typedef struct {
    PyObject *object;
    unsigned tier;
} reloc_req;

typedef struct {
    const void *code;
    int offset;
} cold_site;

static struct {
    bool on;
    pypper_config cfg;
    pypper_backend_choice backend;
    pthread_mutex_t mu;          /* guards round and stop */
    pthread_cond_t cv;           /* round changed, or stop */
    int round;                   /* ROUND_*: who owns the round's arrays */
    bool stop;
    bool fork_quit;              /* the thread returns: a fork is being prepared */
    bool fork_joined;            /* joined for a fork: started again after it */
    pypper_thread thread;        /* "pypper-migrate": executes collected rounds */
    bool thread_on;
    uint32_t pass;
    uint64_t last_ns;
    uint64_t calls;              /* backend calls (failure injection) */
    uint64_t injected;           /* failures injected: their errno rotates */
    /* Per page slot of the reservation (sparse, NORESERVE). */
    size_t slots;
    uint8_t *placed;             /* PL_* */
    uint32_t *moved;             /* round that last moved it */
    uint32_t *pos;               /* its index in pages[] this round */
    /* This round's pages and the planner's and backend's working arrays. */
    pypper_plan_page *pages;
    size_t npages, cap;
    size_t *promote, *demote, *scratch;
    void **addrs;
    int *status;
    reloc_req *reloc;
    size_t nreloc;
    uint64_t reloc_budget;
    double cold_heat;
    pypper_migrate_result cur, last;
    uint64_t t_collect;
    /* Segregation. */
    float *site_bytes, *site_cold;
    uint32_t *site_objects;
    cold_site *cold;             /* COLD_SLOTS */
    size_t ncold;
    uint32_t cold_ids[COLD_REPORT];  /* site ids of the first cold sites, for reports */
    size_t threshold;            /* MIGRATE_POLICY=threshold: blocks below go fast */
    size_t slice_start;          /* the table's window looked at closely next round */
    bool rotation_done;          /* the last round's window reached the table's end */
    /* Cold data has somewhere to go: a fast-tier budget below 100%, or eager demotion,
     * and the session is old enough (SETTLE_MS) for "no evidence" to mean cold. Only
     * then are cold objects' buffers relocated and cold sites segregated: without it
     * that work would buy nothing. */
    bool separating;
    bool whole_round;            /* migrate_now(): the whole table, every candidate */
    PyInterpreterState *interp;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

static inline unsigned where_of(size_t index) { return M.placed[index] & PL_WHERE; }

static inline void set_where(size_t index, unsigned where)
{
    M.placed[index] = (uint8_t)((M.placed[index] & ~PL_WHERE) | where);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *map_array(size_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap_array(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : PAGE);
}

/* ---- segregation: the placement hook ---- */

static inline size_t cold_slot(const void *code, int offset)
{
    uint64_t h = ((uint64_t)(uintptr_t)code * 31 + (uint64_t)offset) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 52) & (COLD_SLOTS - 1);
}

/* Runs inside the allocator on its slow path, in the allocating thread (its GIL
 * held): no allocation, no Python calls. */
static unsigned site_hook(size_t size, unsigned tier)
{
    if (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD)
        return size < M.threshold ? PYPPER_TIER_FAST : PYPPER_TIER_SLOW;
    if (tier == PYPPER_TIER_SLOW || !M.ncold)
        return tier;
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    if (!ts || ts->interp != M.interp || !ts->cframe)
        return tier;
    _PyInterpreterFrame *f = ts->cframe->current_frame;
    while (f && f->owner == FRAME_OWNED_BY_CSTACK)
        f = f->previous;
    if (!f || !f->prev_instr)
        return tier;
    int offset = (int)(f->prev_instr - _PyCode_CODE(f->f_code));
    const cold_site *c = &M.cold[cold_slot(f->f_code, offset)];
    if (c->code == f->f_code && c->offset == offset) {
        pypper_stat_add(PYPPER_STAT_SEGREGATED, 1);
        return PYPPER_TIER_SLOW;
    }
    return tier;
}

/* Cold sites from the site statistics of the table's rotation so far: each round adds
 * the sites found cold; a completed rotation (replace) starts the set afresh from its
 * full statistics, so a site that warmed up leaves it. */
static void learn_sites(bool replace)
{
    if (replace || !M.separating) {
        memset(M.cold, 0, COLD_SLOTS * sizeof(cold_site));
        M.ncold = 0;
    }
    if (!M.separating)
        return;
    for (uint32_t s = 1; s < SITE_MAX; s++) {
        if (M.site_objects[s] < SITE_MIN_OBJECTS
            || M.site_cold[s] < SITE_COLD_SHARE * M.site_bytes[s])
            continue;
        const void *code;
        int offset;
        if (!pypper_alloc_site_key(s, &code, &offset))
            continue;
        cold_site *c = &M.cold[cold_slot(code, offset)];
        if (c->code == code && c->offset == offset)
            continue;                           /* known already */
        if (!c->code) {
            if (M.ncold < COLD_REPORT)
                M.cold_ids[M.ncold] = s;
            M.ncold++;
        }
        *c = (cold_site){code, offset};         /* a collision keeps the later one */
    }
}

static void update_hook(void)
{
    bool want = M.on && (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD
                         || (M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE
                             && M.separating && M.ncold));
    pypper_placement_site_hook = want ? site_hook : NULL;
}

/* ---- collect ---- */

/* The arrays of a round, all of capacity cap. */
static void unmap_round(pypper_plan_page *pages, size_t *promote, size_t *demote,
                        size_t *scratch, void **addrs, int *status, size_t cap)
{
    unmap_array(pages, cap * sizeof(pypper_plan_page));
    unmap_array(promote, cap * sizeof(size_t));
    unmap_array(demote, cap * sizeof(size_t));
    unmap_array(scratch, cap * sizeof(size_t));
    unmap_array(addrs, cap * sizeof(void *));
    unmap_array(status, cap * sizeof(int));
}

static int grow_pages(size_t need)
{
    if (need <= M.cap)
        return 0;
    size_t cap = M.cap ? M.cap : 4096;
    while (cap < need)
        cap *= 2;
    pypper_plan_page *pages = map_array(cap * sizeof(pypper_plan_page));
    size_t *promote = map_array(cap * sizeof(size_t));
    size_t *demote = map_array(cap * sizeof(size_t));
    size_t *scratch = map_array(cap * sizeof(size_t));
    void **addrs = map_array(cap * sizeof(void *));
    int *status = map_array(cap * sizeof(int));
    if (!pages || !promote || !demote || !scratch || !addrs || !status) {
        unmap_round(pages, promote, demote, scratch, addrs, status, cap);
        return -1;
    }
    if (M.npages)
        memcpy(pages, M.pages, M.npages * sizeof(pypper_plan_page));
    unmap_round(M.pages, M.promote, M.demote, M.scratch, M.addrs, M.status, M.cap);
    M.pages = pages;
    M.promote = promote;
    M.demote = demote;
    M.scratch = scratch;
    M.addrs = addrs;
    M.status = status;
    M.cap = cap;
    return 0;
}

static void count_page(size_t index, unsigned tier, void *ctx)
{
    (void)index;
    (void)tier;
    (*(size_t *)ctx)++;
}

static void add_page(size_t index, unsigned tier, void *ctx)
{
    (void)ctx;
    if (M.npages >= M.cap || index >= M.slots)
        return;
    uint8_t pl = (uint8_t)where_of(index);
    bool known = pypper_heap_page_tracked(index);
    if (!known && (M.placed[index] & PL_AGE)) {
        known = true;
        M.placed[index] = (uint8_t)(M.placed[index] - PL_AGE_ONE);
    }
    M.pos[index] = (uint32_t)M.npages;
    /* Heat 0 (known, no evidence yet) where a traced object lives; the walk adds the
     * heat of objects with evidence. Pages of untraced blocks stay unknown. */
    M.pages[M.npages++] = (pypper_plan_page){
        (uintptr_t)pypper_heap_page_at(index),
        known ? 0.0f : PYPPER_HEAT_UNKNOWN,
        pl == PL_SLOW ? PYPPER_TIER_SLOW : pl == PL_FAST ? PYPPER_TIER_FAST : (uint8_t)tier,
        (uint8_t)tier, 0, M.moved[index]};
}

static pypper_plan_page *page_of(const void *addr)
{
    size_t index = pypper_heap_page_index(addr);
    if (index >= M.slots)
        return NULL;
    uint32_t i = M.pos[index];
    if (i >= M.npages || M.pages[i].addr != ((uintptr_t)addr & ~(uintptr_t)(PAGE - 1)))
        return NULL;
    return &M.pages[i];
}

/* Spread heat h over the pages of [start, start+size), by the share of each; the
 * pages become known (heat 0 rather than unknown) even when h is 0. */
static void spread(const void *start, size_t size, double h)
{
    uintptr_t a = (uintptr_t)start, end = a + (size ? size : 1);
    while (a < end) {
        uintptr_t pg = a & ~(uintptr_t)(PAGE - 1);
        uintptr_t stop = pg + PAGE < end ? pg + PAGE : end;
        pypper_plan_page *p = page_of((void *)pg);
        if (p) {
            M.placed[pypper_heap_page_index((void *)pg)] |= PL_AGE;
            double add = size > PAGE ? h * (double)(stop - a) / (double)size : h;
            p->heat = (float)((p->heat < 0 ? 0.0 : p->heat) + add);
        }
        a = stop;
    }
}

static bool readable_without_fault(const void *block)
{
    if (!(M.backend.ops->caps & PYPPER_BACKEND_FAR_MEMORY))
        return true;
    size_t index = pypper_heap_page_index(block);
    return index < M.slots && where_of(index) != PL_SLOW;
}

/* The buffer an entry's object owns. Whether its type can own one is learnt the
 * first time and kept in the entry (spare[0]: 0 not known yet, 1 cannot, 2 can;
 * the kinds of buffer owners do not change type), so other objects are not read
 * again. */
static pypper_buf_kind buffer_of(pypper_obj_entry *e, pypper_owned_buffer *b)
{
    b->kind = PYPPER_BUF_NONE;
    if (e->spare[0] == 1)
        return PYPPER_BUF_NONE;
    pypper_owned_buffer_of((PyObject *)e->object, b);
    if (!e->spare[0] && Py_REFCNT((PyObject *)e->object) > 0)
        e->spare[0] = pypper_type_may_own_buffer(Py_TYPE((PyObject *)e->object)) ? 2 : 1;
    return b->kind;
}

/* Per object (one with evidence, or in this round's slice of the table): heat onto
 * its pages and its buffer's, the buffer's relocation, and for the slice the site
 * statistics. */
static void visit(pypper_obj_entry *e, uint32_t now_ms, bool slice, bool learn,
                  const pypper_model_params *mp)
{
    if (!pypper_objtable_current(e))
        return;
    double h = e->heat > 0 ? pypper_model_heat(e, now_ms) : 0.0;
    pypper_block_info info;
    pypper_heap_lookup(e->block, &info);
    if (!info.allocated)
        return;
    if (h > 0)
        spread(info.block, info.size, h);
    double t = h > 0 ? pypper_model_temperature(h, now_ms) : 0.0;
    if (slice && learn && e->site && e->site < SITE_MAX) {
        M.site_bytes[e->site] += (float)info.size;
        M.site_objects[e->site]++;
        if (t < mp->cold_threshold)
            M.site_cold[e->site] += (float)info.size;
    }
    if (!readable_without_fault(info.block))
        return;
    pypper_owned_buffer b;
    if (buffer_of(e, &b) == PYPPER_BUF_NONE)
        return;
    spread(b.block, b.size, h);
    /* A buffer the pageout backend sent to swap would be faulted in by the copy. */
    if (!M.cfg.relocate || !b.movable || b.size < RELOC_MIN_BYTES
        || M.nreloc >= RELOC_MAX || !readable_without_fault(b.block))
        return;
    unsigned want = t >= mp->hot_threshold ? PYPPER_TIER_FAST
                    : t < mp->cold_threshold && M.separating ? PYPPER_TIER_SLOW : 2u;
    pypper_block_info bi;
    pypper_heap_lookup(b.block, &bi);
    if (want < 2 && bi.tier != want && b.size <= M.reloc_budget) {
        M.reloc[M.nreloc++] = (reloc_req){(PyObject *)e->object, want};
        M.reloc_budget -= b.size;
    }
}

/* One sequential pass over the table's entries: every object with evidence (heat)
 * costs a lookup; the others only their entry's read, except in this round's slice
 * (a window that rotates over the table, at least 1/SLICE_ROUNDS of it), where every
 * object is looked at for relocation and for the site statistics. A full rotation
 * ends with learning the cold sites. */
static void walk_objects(uint32_t now_ms, bool whole)
{
    const pypper_model_params *mp = pypper_model_params_get();
    bool learn = M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE;
    size_t count = pypper_objtable_count();
    size_t span = whole ? count : count / SLICE_ROUNDS + 1;
    if (span < SLICE_MIN)
        span = SLICE_MIN;
    if (M.slice_start >= count || whole)
        M.slice_start = 0;
    if (M.slice_start == 0 && learn) {
        memset(M.site_bytes, 0, SITE_MAX * sizeof(float));
        memset(M.site_cold, 0, SITE_MAX * sizeof(float));
        memset(M.site_objects, 0, SITE_MAX * sizeof(uint32_t));
    }
    size_t lo = M.slice_start, hi = lo + span < count ? lo + span : count;
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        bool slice = i >= lo && i < hi;
        if (e->heat > 0 || slice)
            visit(e, now_ms, slice, learn, mp);
    }
    M.slice_start = hi;
    M.rotation_done = hi >= count;
}

static uint64_t cap_bytes(int64_t mbps)
{
    if (mbps <= 0)
        return UINT64_MAX;
    return (uint64_t)mbps * 1024 * 1024 * (uint64_t)M.cfg.migrate_interval_ms / 1000;
}

/* The threshold policy's size threshold follows the budget: halve it while the fast
 * tier holds more than FAST_BUDGET of the heap, double it while well under. */
static void adjust_threshold(void)
{
    pypper_heap_stats hs;
    pypper_heap_get_stats(&hs);
    double fast = (double)hs.tier[0].bytes_in_use, all = fast + (double)hs.tier[1].bytes_in_use;
    const pypper_size *b = &M.cfg.fast_budget;
    double limit = b->is_percent ? all * b->percent / 100.0 : (double)b->bytes;
    if (fast > limit && M.threshold > 16)
        M.threshold /= 2;
    else if (fast < 0.9 * limit && M.threshold < ((size_t)1 << 20))
        M.threshold *= 2;
}

static void collect(bool whole, uint32_t now_ms)
{
    (void)pypper_owned_buffers_init();      /* array.array: once the program imports it */
    M.whole_round = whole;
    uint64_t t0 = now_ns();
    M.pass++;
    memset(&M.cur, 0, sizeof(M.cur));
    bool locked = pypper_heap_lock();
    size_t need = 0;
    pypper_heap_for_each_used_page(count_page, &need);
    M.npages = 0;
    if (grow_pages(need + 64) == 0)
        pypper_heap_for_each_used_page(add_page, NULL);
    M.nreloc = 0;
    M.reloc_budget = cap_bytes(M.cfg.migrate_mbps);
    const pypper_size *fb = &M.cfg.fast_budget;
    M.separating = (!fb->is_percent || fb->percent < 100.0 || !M.cfg.lazy_demotion)
                   && now_ms >= SETTLE_MS;
    pypper_objtable_sync();
    walk_objects(now_ms, whole);
    pypper_heap_unlock(locked);

    /* Relocations (the heap is entered again: outside the table's lock). Each leaves
     * the old buffer's space free in its arena: every DISCARD_EVERY bytes moved, and
     * at the end, the free pages go back, or a session would hold both copies. */
    uint64_t since_discard = 0;
    for (size_t i = 0; i < M.nreloc; i++) {
        size_t bytes;
        pypper_stat_add(PYPPER_STAT_RELOCATE_TRIED, 1);
        int rc = pypper_relocate_buffer(M.reloc[i].object, M.reloc[i].tier, &bytes);
        if (rc > 0) {
            M.cur.relocated_buffers++;
            M.cur.relocated_bytes += bytes;
            since_discard += bytes;
            pypper_stat_add(PYPPER_STAT_RELOCATE_DONE, 1);
            pypper_stat_add(PYPPER_STAT_RELOCATE_BYTES, bytes);
        } else if (rc < 0) {
            M.cur.failed++;
            pypper_stat_add(PYPPER_STAT_RELOCATE_FAILED, 1);
        }
        if (since_discard >= DISCARD_EVERY || (i + 1 == M.nreloc && since_discard)) {
            bool relock = pypper_heap_lock();
            M.cur.discarded_pages += pypper_heap_discard_free_pages();
            pypper_heap_unlock(relock);
            since_discard = 0;
        }
    }
    if (M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE)
        learn_sites(M.rotation_done);
    if (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD)
        adjust_threshold();
    update_hook();

    /* The heat at COLD_THRESHOLD on today's scale (t = 1 - 10^-u). */
    const pypper_model_params *mp = pypper_model_params_get();
    double ref = pypper_model_reference_heat(now_ms);
    double u = -log10(1.0 - mp->cold_threshold);
    M.cold_heat = ref > 0 ? pow(1.0 + ref, u) - 1.0 : 0.0;
    M.cur.collect_ms = (double)(now_ns() - t0) / 1e6;
}

/* ---- execute ---- */

static bool inject(int *err)
{
    if (M.cfg.test_fail_every <= 0)
        return false;
    uint64_t n = ++M.calls;
    if (n % (uint64_t)M.cfg.test_fail_every)
        return false;
    static const int errs[] = {ENOMEM, EBUSY, EACCES};
    *err = errs[M.injected++ % 3];
    pypper_stat_add(PYPPER_STAT_INJECTED, 1);
    return true;
}

static void count_error(int e)
{
    pypper_stat_add(e == ENOMEM ? PYPPER_STAT_ERR_ENOMEM : e == EBUSY ? PYPPER_STAT_ERR_EBUSY
                    : e == EACCES ? PYPPER_STAT_ERR_EACCES : PYPPER_STAT_ERR_OTHER, 1);
}

static void locate(size_t first, size_t n, int *where)
{
    int e;
    if (inject(&e)) {
        for (size_t i = 0; i < n; i++)
            where[i] = -e;
        count_error(e);
        return;
    }
    M.backend.ops->locate(M.addrs + first, n, where);
}

/* Where the pages are: pageout every round (mincore is cheap), numa for pages not
 * seen before and every LOCATE_ALL_EVERY rounds, sim never (its record is all). */
static void refresh_placement(void)
{
    if (!(M.backend.ops->caps & PYPPER_BACKEND_REPORTS_PLACEMENT)) {
        for (size_t i = 0; i < M.npages; i++) {
            size_t index = pypper_heap_page_index((void *)M.pages[i].addr);
            if (where_of(index) == PL_UNKNOWN)
                set_where(index, M.pages[i].placed == PYPPER_TIER_SLOW ? PL_SLOW : PL_FAST);
        }
        return;
    }
    bool all = (M.backend.ops->caps & PYPPER_BACKEND_CHEAP_LOCATE)
               || M.pass % LOCATE_ALL_EVERY == 1;
    size_t n = 0;
    for (size_t i = 0; i < M.npages; i++) {
        size_t index = pypper_heap_page_index((void *)M.pages[i].addr);
        if (all || where_of(index) == PL_UNKNOWN) {
            M.scratch[n] = i;
            M.addrs[n++] = (void *)M.pages[i].addr;
        }
    }
    for (size_t off = 0; off < n; off += MOVE_CHUNK) {
        size_t m = n - off < MOVE_CHUNK ? n - off : MOVE_CHUNK;
        locate(off, m, M.status + off);
    }
    for (size_t k = 0; k < n; k++) {
        pypper_plan_page *p = &M.pages[M.scratch[k]];
        int w = M.status[k];
        size_t index = pypper_heap_page_index((void *)p->addr);
        if (w == PYPPER_TIER_FAST || w == PYPPER_TIER_SLOW) {
            p->placed = (uint8_t)w;
            set_where(index, w == PYPPER_TIER_SLOW ? PL_SLOW : PL_FAST);
        } else if (where_of(index) == PL_UNKNOWN) {
            /* Not touched yet, or the query failed: asked again next round, and
             * left out of this round's plan. */
            p->unplaced = 1;
        }
    }
}

static int by_address(size_t a, size_t b, const void *ctx)
{
    (void)ctx;
    return a < b ? -1 : a > b;
}

/* Move the chosen pages (indexes into pages[]) to tier, in address order. */
static void move_pages_to(const size_t *chosen, size_t n, unsigned tier)
{
    bool promote = tier == PYPPER_TIER_FAST;
    for (size_t k = 0; k < n; k++)
        M.addrs[k] = (void *)M.pages[chosen[k]].addr;
    _Static_assert(sizeof(void *) == sizeof(size_t), "addresses sorted as size_t");
    pypper_heapsort((size_t *)M.addrs, n, by_address, NULL);
    pypper_stat_add(promote ? PYPPER_STAT_PROMOTE_TRIED : PYPPER_STAT_DEMOTE_TRIED, n);
    uint64_t failed = 0;
    for (size_t off = 0; off < n; off += MOVE_CHUNK) {
        size_t m = n - off < MOVE_CHUNK ? n - off : MOVE_CHUNK;
        int *status = M.status + off;
        int e;
        if (inject(&e)) {
            for (size_t i = 0; i < m; i++)
                status[i] = -e;
        } else {
            M.backend.ops->move(M.addrs + off, m, tier, status);
        }
        for (size_t i = 0; i < m; i++) {
            void *addr = M.addrs[off + i];
            size_t index = pypper_heap_page_index(addr);
            if (status[i] == 0) {
                set_where(index, promote ? PL_FAST : PL_SLOW);
                M.moved[index] = M.pass;
                pypper_plan_page *p = page_of(addr);
                if (p)
                    p->placed = (uint8_t)tier;
                if (promote) {
                    M.cur.promoted_pages++;
                    M.cur.promoted_bytes += PAGE;
                } else {
                    M.cur.demoted_pages++;
                    M.cur.demoted_bytes += PAGE;
                }
                continue;
            }
            /* Not populated (never written, or discarded since the round began):
             * nothing to move, and no failure. */
            if (status[i] == -ENOENT || status[i] == -EFAULT) {
                M.cur.absent++;
                continue;
            }
            /* A failed page stays where it is; it waits out the cool-down. */
            M.moved[index] = M.pass;
            failed++;
            if (status[i] != -EAGAIN)
                count_error(-status[i]);
            if (!promote && status[i] == -ENOMEM)
                pypper_stat_add(PYPPER_STAT_FALLBACKS, 1);
        }
    }
    /* Absent pages count as tried, neither done nor failed. */
    M.cur.failed += failed;
    if (promote) {
        pypper_stat_add(PYPPER_STAT_PROMOTE_DONE, M.cur.promoted_pages);
        pypper_stat_add(PYPPER_STAT_PROMOTE_BYTES, M.cur.promoted_bytes);
        pypper_stat_add(PYPPER_STAT_PROMOTE_FAILED, failed);
    } else {
        pypper_stat_add(PYPPER_STAT_DEMOTE_DONE, M.cur.demoted_pages);
        pypper_stat_add(PYPPER_STAT_DEMOTE_BYTES, M.cur.demoted_bytes);
        pypper_stat_add(PYPPER_STAT_DEMOTE_FAILED, failed);
    }
}

static size_t budget_pages(void)
{
    const pypper_size *b = &M.cfg.fast_budget;
    if (!b->is_percent)
        return (size_t)(b->bytes / PAGE);
    if (b->percent >= 100.0)
        return SIZE_MAX;
    return (size_t)((double)M.npages * b->percent / 100.0);
}

static size_t pages_of(uint64_t bytes)
{
    return bytes == UINT64_MAX ? SIZE_MAX : (size_t)(bytes / PAGE);
}

static void execute(void)
{
    uint64_t t0 = now_ns();
    refresh_placement();
    pypper_plan_params p = {
        .policy = M.cfg.migrate_policy,
        .budget_pages = budget_pages(),
        .aggressiveness = M.cfg.aggressiveness,
        .lazy_demotion = M.cfg.lazy_demotion,
        .cold_heat = M.cold_heat,
        .promote_cap = pages_of(cap_bytes(M.cfg.promote_mbps ? M.cfg.promote_mbps : M.cfg.migrate_mbps)),
        .move_cap = pages_of(cap_bytes(M.cfg.migrate_mbps)),
        .pass = M.pass,
        .all_candidates = M.whole_round,
    };
    pypper_plan plan = {.promote = M.promote, .demote = M.demote};
    pypper_plan_pages(M.pages, M.npages, &p, &plan, M.scratch);
    move_pages_to(plan.demote, plan.ndemote, PYPPER_TIER_SLOW);
    move_pages_to(plan.promote, plan.npromote, PYPPER_TIER_FAST);

    /* As placement_map() shows them: pages whose place is unknown in neither count. */
    M.cur.pages = M.npages;
    M.cur.fast_pages = M.cur.slow_pages = M.cur.unplaced_pages = 0;
    for (size_t i = 0; i < M.npages; i++) {
        if (M.pages[i].unplaced)
            M.cur.unplaced_pages++;
        else if (M.pages[i].placed == PYPPER_TIER_SLOW)
            M.cur.slow_pages++;
        else
            M.cur.fast_pages++;
    }
    M.cur.unknown_pages = plan.unknown_pages;
    M.cur.budget_pages = p.budget_pages == SIZE_MAX ? M.npages : p.budget_pages;
    M.cur.held_by_cooldown = plan.skipped_cooldown;
    M.cur.held_by_cap = plan.held_by_cap;
    M.cur.cutoff_heat = plan.cutoff;
    M.cur.execute_ms = (double)(now_ns() - t0) / 1e6;
    M.last = M.cur;
    pypper_stat_add(PYPPER_STAT_MIGRATE_PASSES, 1);
    M.last_ns = now_ns();
}

static void end_round(void)
{
    pthread_mutex_lock(&M.mu);
    M.round = ROUND_IDLE;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

/* The migration thread: pages move here, so that neither the program (GIL) nor the
 * sampler waits for move_pages or for swap-out. */
static void *migrate_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&M.mu);
    for (;;) {
        while (!M.stop && !M.fork_quit && M.round != ROUND_QUEUED)
            pthread_cond_wait(&M.cv, &M.mu);
        if (M.stop || M.fork_quit)
            break;
        M.round = ROUND_BUSY;
        pthread_mutex_unlock(&M.mu);
        execute();
        pthread_mutex_lock(&M.mu);
        M.round = ROUND_IDLE;
        pthread_cond_broadcast(&M.cv);
    }
    pthread_mutex_unlock(&M.mu);
    return NULL;
}

bool pypper_migrate_due(void)
{
    return M.on && now_ns() - M.last_ns >= (uint64_t)M.cfg.migrate_interval_ms * 1000000ull;
}

void pypper_migrate_collect_if_due(uint32_t now_ms)
{
    if (!pypper_migrate_due())
        return;
    pthread_mutex_lock(&M.mu);
    bool mine = M.round == ROUND_IDLE && !M.stop && M.thread_on;
    if (mine)
        M.round = ROUND_BUSY;
    pthread_mutex_unlock(&M.mu);
    if (!mine)
        return;                  /* a round is still being collected or executed */
    collect(false, now_ms);
    pthread_mutex_lock(&M.mu);
    M.round = ROUND_QUEUED;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

/* Wait (GIL released) until no round is under way and take the arrays; false when
 * the session ended meanwhile. */
static bool take_round(void)
{
    bool ok;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&M.mu);
    while (M.on && !M.stop && M.round != ROUND_IDLE)
        pthread_cond_wait(&M.cv, &M.mu);
    ok = M.on && !M.stop;
    if (ok)
        M.round = ROUND_BUSY;
    pthread_mutex_unlock(&M.mu);
    Py_END_ALLOW_THREADS
    return ok;
}

int pypper_migrate_now(pypper_migrate_result *out, uint32_t (*model_now_ms)(void))
{
    if (!M.on) {
        PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
        return -1;
    }
    if (!take_round()) {
        PyErr_SetString(PyExc_RuntimeError, "the pypper session ended");
        return -1;
    }
    collect(true, model_now_ms());
    Py_BEGIN_ALLOW_THREADS
    execute();
    Py_END_ALLOW_THREADS
    *out = M.last;
    end_round();
    return 0;
}

/* ---- session ---- */

static void release_arrays(void)
{
    unmap_array(M.placed, M.slots);
    unmap_array(M.moved, M.slots * sizeof(uint32_t));
    unmap_array(M.pos, M.slots * sizeof(uint32_t));
    unmap_round(M.pages, M.promote, M.demote, M.scratch, M.addrs, M.status, M.cap);
    unmap_array(M.reloc, RELOC_MAX * sizeof(reloc_req));
    unmap_array(M.site_bytes, SITE_MAX * sizeof(float));
    unmap_array(M.site_cold, SITE_MAX * sizeof(float));
    unmap_array(M.site_objects, SITE_MAX * sizeof(uint32_t));
    unmap_array(M.cold, COLD_SLOTS * sizeof(cold_site));
    M.placed = NULL;
    M.moved = M.pos = NULL;
    M.pages = NULL;
    M.promote = M.demote = M.scratch = NULL;
    M.addrs = NULL;
    M.status = NULL;
    M.reloc = NULL;
    M.site_bytes = M.site_cold = NULL;
    M.site_objects = NULL;
    M.cold = NULL;
    M.cap = M.npages = M.slots = 0;
}

static void fini_backend(const pypper_backend_choice *c)
{
    if (c->ops && c->ops->fini)
        c->ops->fini();
}

int pypper_migrate_start(const pypper_config *cfg, const pypper_backend_choice *backend)
{
    if (M.on)
        return 0;
    pypper_backend_choice choice = *backend;
    const pypper_topology *topo = pypper_tiers_topology();
    int rc = choice.ops->init(topo);
    if (rc < 0) {
        PyErr_Format(PyExc_RuntimeError, "the %s backend cannot start: %s", choice.ops->name,
                     strerror(-rc));
        return -1;
    }
    pthread_mutex_init(&M.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&M.cv, &ca);
    pthread_condattr_destroy(&ca);
    M.round = ROUND_IDLE;
    M.stop = false;
    M.cfg = *cfg;
    M.backend = choice;
    M.slots = pypper_heap_page_slots();
    M.placed = map_array(M.slots);
    M.moved = map_array(M.slots * sizeof(uint32_t));
    M.pos = map_array(M.slots * sizeof(uint32_t));
    M.reloc = map_array(RELOC_MAX * sizeof(reloc_req));
    M.site_bytes = map_array(SITE_MAX * sizeof(float));
    M.site_cold = map_array(SITE_MAX * sizeof(float));
    M.site_objects = map_array(SITE_MAX * sizeof(uint32_t));
    M.cold = map_array(COLD_SLOTS * sizeof(cold_site));
    if (!M.placed || !M.moved || !M.pos || !M.reloc || !M.site_bytes || !M.site_cold
        || !M.site_objects || !M.cold) {
        release_arrays();
        fini_backend(&choice);
        PyErr_NoMemory();
        return -1;
    }
    (void)pypper_owned_buffers_init();
    M.pass = 0;
    M.calls = 0;
    M.injected = 0;
    M.ncold = 0;
    M.threshold = 4096;
    memset(&M.last, 0, sizeof(M.last));
    M.interp = PyInterpreterState_Get();
    M.last_ns = now_ns();
    M.fork_quit = false;
    rc = pypper_thread_start(&M.thread, migrate_main, NULL, "pypper-migrate");
    if (rc != 0) {
        release_arrays();
        fini_backend(&choice);
        PyErr_Format(PyExc_RuntimeError, "cannot create the pypper migration thread: %s",
                     strerror(rc));
        return -1;
    }
    M.thread_on = true;
    M.on = true;
    update_hook();
    pypper_log(PYPPER_LOG_INFO, "migration backend: %s (%s)", choice.ops->name, choice.reason);
    return 0;
}

void pypper_migrate_stop(void)
{
    if (!M.on)
        return;
    /* The migration thread finishes a round it is executing (it needs no GIL). */
    pthread_mutex_lock(&M.mu);
    M.stop = true;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
    if (M.thread_on) {
        M.thread_on = false;         /* this call joins it (a fork meanwhile does not) */
        Py_BEGIN_ALLOW_THREADS
        pypper_thread_join(&M.thread, 0);
        Py_END_ALLOW_THREADS
    }
    /* A migrate_now() in another thread may still hold the round: wait for it. */
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&M.mu);
    while (M.round == ROUND_BUSY)
        pthread_cond_wait(&M.cv, &M.mu);
    M.on = false;
    pthread_mutex_unlock(&M.mu);
    Py_END_ALLOW_THREADS
    update_hook();
    release_arrays();
    fini_backend(&M.backend);
}

void pypper_migrate_before_fork(void)
{
    if (!M.on || !M.thread_on)
        return;
    /* The thread finishes a round it is executing, then returns; a queued round waits
     * for the thread started again after the fork. The GIL stays held: the thread
     * never takes it. */
    pthread_mutex_lock(&M.mu);
    M.fork_quit = true;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
    M.thread_on = false;
    pypper_thread_join(&M.thread, PYPPER_FORK_GONE_MS);
    M.fork_quit = false;
    M.fork_joined = true;
}

void pypper_migrate_after_fork_in_parent(void)
{
    if (!M.fork_joined)
        return;
    M.fork_joined = false;
    if (!M.on)
        return;
    int rc = pypper_thread_start(&M.thread, migrate_main, NULL, "pypper-migrate");
    if (rc == 0) {
        M.thread_on = true;
        return;
    }
    /* Rounds then run only through migrate_now(). */
    pypper_log(PYPPER_LOG_WARN, "cannot restart the pypper migration thread after fork: %s; "
                                "background migration rounds stop", strerror(rc));
    pthread_mutex_lock(&M.mu);
    if (M.round == ROUND_QUEUED)
        M.round = ROUND_IDLE;
    pthread_cond_broadcast(&M.cv);
    pthread_mutex_unlock(&M.mu);
}

void pypper_migrate_after_fork_child(void)
{
    if (!M.on)
        return;
    /* Only the forking thread exists in the child: no migration thread. */
    M.on = false;
    M.thread_on = false;
    M.fork_quit = M.fork_joined = false;
    M.round = ROUND_IDLE;
    pypper_placement_site_hook = NULL;
    pthread_mutex_init(&M.mu, NULL);
    pthread_cond_init(&M.cv, NULL);
    release_arrays();
    fini_backend(&M.backend);
}

bool pypper_migrate_running(void) { return M.on; }

bool pypper_migrate_may_touch(const void *p)
{
    if (!M.on || !(M.backend.ops->caps & PYPPER_BACKEND_FAR_MEMORY) || !M.placed
        || !pypper_heap_owns(p))
        return true;
    return readable_without_fault(p);
}

const char *pypper_migrate_backend_name(void)
{
    return M.backend.ops ? M.backend.ops->name : "none";
}

const char *pypper_migrate_backend_reason(void) { return M.backend.reason; }

void pypper_migrate_last(pypper_migrate_result *out) { *out = M.last; }

PyObject *pypper_migrate_cold_sites(void)
{
    PyObject *list = PyList_New(0);
    size_t n = M.on ? (M.ncold < COLD_REPORT ? M.ncold : COLD_REPORT) : 0;
    for (size_t i = 0; list && i < n; i++) {
        PyObject *d = pypper_alloc_site_describe(M.cold_ids[i]);
        if (!d || PyList_Append(list, d) < 0)
            Py_CLEAR(list);
        Py_XDECREF(d);
    }
    return list;
}

PyObject *pypper_migrate_placement_map(void)
{
    PyObject *list = PyList_New(0);
    if (!list || !M.on)
        return list;
    if (!take_round())
        return list;
    for (size_t i = 0; i < M.npages; i++) {
        const pypper_plan_page *pg = &M.pages[i];
        PyObject *row = Py_BuildValue("(Ks)", (unsigned long long)pg->addr,
                                      pg->unplaced ? "unknown"
                                      : pg->placed == PYPPER_TIER_SLOW ? "slow" : "fast");
        if (!row || PyList_Append(list, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(row);
    }
    end_round();
    return list;
}

PyObject *pypper_migrate_relocatable_report(void)
{
    uint64_t by_kind[PYPPER_BUF_KINDS] = {0}, movable[PYPPER_BUF_KINDS] = {0};
    uint64_t objects = 0, object_bytes = 0;
    (void)pypper_owned_buffers_init();
    bool locked = pypper_heap_lock();
    pypper_objtable_sync();
    size_t count = pypper_objtable_count();
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        if (!pypper_objtable_current(e))
            continue;
        pypper_block_info info;
        pypper_heap_lookup(e->block, &info);
        if (!info.allocated)
            continue;
        objects++;
        object_bytes += info.size;
        if (!readable_without_fault(info.block))
            continue;
        pypper_owned_buffer b;
        pypper_owned_buffer_of((PyObject *)e->object, &b);
        by_kind[b.kind] += b.size;
        if (b.movable)
            movable[b.kind] += b.size;
    }
    pypper_heap_unlock(locked);
    pypper_heap_stats hs;
    pypper_heap_get_stats(&hs);
    uint64_t buffers = 0, movable_total = 0;
    PyObject *kinds = PyDict_New();
    for (int k = PYPPER_BUF_LIST; kinds && k < PYPPER_BUF_KINDS; k++) {
        buffers += by_kind[k];
        movable_total += movable[k];
        PyObject *v = PyLong_FromUnsignedLongLong(by_kind[k]);
        if (!v || PyDict_SetItemString(kinds, pypper_buf_kind_name((pypper_buf_kind)k), v) < 0) {
            Py_XDECREF(v);
            Py_CLEAR(kinds);
            break;
        }
        Py_DECREF(v);
    }
    if (!kinds)
        return NULL;
    return Py_BuildValue("{sKsKsKsKsKsN}",
                         "heap_bytes", (unsigned long long)(hs.tier[0].bytes_in_use + hs.tier[1].bytes_in_use),
                         "objects", (unsigned long long)objects,
                         "object_bytes", (unsigned long long)object_bytes,
                         "buffer_bytes", (unsigned long long)buffers,
                         "movable_buffer_bytes", (unsigned long long)movable_total,
                         "by_kind", kinds);
}
