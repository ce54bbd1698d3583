/* Python/migrate.c: the migration plane's engine (migrate.h).
 *
 * A round has two halves. collect (GIL held, at the sampler's hand-over or in
 * pypper.migrate_now()): list the heap's pages in use (from the allocator's
 * metadata), spread each traced object's heat over the pages of its block and of
 * the buffer it owns, relocate owned buffers of hot objects into fast-tier arenas
 * and of cold ones into slow-tier arenas (DESIGN.md §5; owned_buffers.c), and learn
 * allocation sites whose objects are cold (their new objects then go to slow-tier
 * arenas: segregation). execute (GIL released): ask the backend where the pages are,
 * let the planner decide (planner.c), have the backend move the pages, count. A
 * body on a page the pageout backend has sent to swap is not read (that would fault
 * it back in): its buffer's heat waits until the page is back.
 *
 * execute may run in the sampler thread while another thread forks, so nothing in
 * it calls malloc: every array is mmap'ed during collect. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_frame.h"
#include "internal/pycore_pystate.h"

#include "migrate.h"

#include "active_trace.h"
#include "alloc_sites.h"
#include "owned_buffers.h"

#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/placement.h"
#include "../Pypper/backend.h"
#include "../Pypper/log.h"
#include "../Pypper/objtable.h"
#include "../Pypper/planner.h"
#include "../Pypper/stats.h"
#include "../Pypper/temperature.h"
#include "../Pypper/tiers.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096u
#define MOVE_CHUNK 1024          /* pages per backend call */
#define RELOC_MAX 65536          /* relocations per round */
#define RELOC_MIN_BYTES 64       /* smaller buffers are not worth a copy */
#define SITE_MAX 32768           /* alloc_sites ids stay below this */
#define COLD_SLOTS 4096          /* cold-site table (direct mapped, power of two) */
#define SITE_MIN_OBJECTS 8
#define SITE_COLD_SHARE 0.9
#define SITE_LEARN_AFTER_MS 2000
#define LOCATE_ALL_EVERY 8       /* numa: re-read every page's node every N rounds */

enum { PL_UNKNOWN = 0, PL_FAST = 1, PL_SLOW = 2 };

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
    pthread_mutex_t mu;          /* a round, from collect to the end of execute */
    uint32_t pass;
    uint64_t last_ns;
    uint64_t calls;              /* backend calls (failure injection) */
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
    size_t threshold;            /* MIGRATE_POLICY=threshold: blocks below go fast */
    uint64_t segregated;         /* allocations the hook sent to the slow tier */
    PyInterpreterState *interp;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

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
        M.segregated++;
        return PYPPER_TIER_SLOW;
    }
    return tier;
}

static void learn_sites(uint32_t now_ms)
{
    size_t n = 0;
    memset(M.cold, 0, COLD_SLOTS * sizeof(cold_site));
    if (now_ms >= SITE_LEARN_AFTER_MS) {
        for (uint32_t s = 1; s < SITE_MAX; s++) {
            if (M.site_objects[s] < SITE_MIN_OBJECTS
                || M.site_cold[s] < SITE_COLD_SHARE * M.site_bytes[s])
                continue;
            const void *code;
            int offset;
            if (!pypper_alloc_site_key(s, &code, &offset))
                continue;
            cold_site *c = &M.cold[cold_slot(code, offset)];
            if (!c->code)
                n++;
            *c = (cold_site){code, offset};     /* a collision keeps the later one */
        }
    }
    M.ncold = n;
}

static void update_hook(void)
{
    bool want = M.on && (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD
                         || (M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE
                             && M.ncold));
    pypper_placement_site_hook = want ? site_hook : NULL;
}

/* ---- collect ---- */

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
        unmap_array(pages, cap * sizeof(pypper_plan_page));
        unmap_array(promote, cap * sizeof(size_t));
        unmap_array(demote, cap * sizeof(size_t));
        unmap_array(scratch, cap * sizeof(size_t));
        unmap_array(addrs, cap * sizeof(void *));
        unmap_array(status, cap * sizeof(int));
        return -1;
    }
    if (M.npages)
        memcpy(pages, M.pages, M.npages * sizeof(pypper_plan_page));
    unmap_array(M.pages, M.cap * sizeof(pypper_plan_page));
    unmap_array(M.promote, M.cap * sizeof(size_t));
    unmap_array(M.demote, M.cap * sizeof(size_t));
    unmap_array(M.scratch, M.cap * sizeof(size_t));
    unmap_array(M.addrs, M.cap * sizeof(void *));
    unmap_array(M.status, M.cap * sizeof(int));
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
    uint8_t pl = M.placed[index];
    M.pos[index] = (uint32_t)M.npages;
    M.pages[M.npages++] = (pypper_plan_page){
        (uintptr_t)pypper_heap_page_at(index), PYPPER_HEAT_UNKNOWN,
        pl == PL_SLOW ? PYPPER_PLACE_SLOW : pl == PL_FAST ? PYPPER_PLACE_FAST : (uint8_t)tier,
        (uint8_t)tier, M.moved[index]};
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

/* Spread heat h over the pages of [start, start+size), by the share of each. */
static void spread(const void *start, size_t size, double h)
{
    uintptr_t a = (uintptr_t)start, end = a + (size ? size : 1);
    while (a < end) {
        uintptr_t pg = a & ~(uintptr_t)(PAGE - 1);
        uintptr_t stop = pg + PAGE < end ? pg + PAGE : end;
        pypper_plan_page *p = page_of((void *)pg);
        if (p) {
            double add = size > PAGE ? h * (double)(stop - a) / (double)size : h;
            p->heat = (float)((p->heat < 0 ? 0.0 : p->heat) + add);
        }
        a = stop;
    }
}

static bool readable_without_fault(const void *block)
{
    if (M.backend.kind != PYPPER_BACKEND_PAGEOUT)
        return true;
    size_t index = pypper_heap_page_index(block);
    return index < M.slots && M.placed[index] != PL_SLOW;
}

static void walk_objects(uint32_t now_ms)
{
    const pypper_model_params *mp = pypper_model_params_get();
    bool learn = M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE;
    if (learn) {
        memset(M.site_bytes, 0, SITE_MAX * sizeof(float));
        memset(M.site_cold, 0, SITE_MAX * sizeof(float));
        memset(M.site_objects, 0, SITE_MAX * sizeof(uint32_t));
    }
    size_t count = pypper_objtable_count();
    for (size_t i = 0; i < count; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        if (!pypper_objtable_current(e))
            continue;
        double h = pypper_model_heat(e, now_ms);
        double t = pypper_model_temperature(h, now_ms);
        pypper_block_info info;
        pypper_heap_lookup(e->block, &info);
        if (!info.allocated)
            continue;
        spread(info.block, info.size, h);
        if (learn && e->site && e->site < SITE_MAX) {
            M.site_bytes[e->site] += (float)info.size;
            M.site_objects[e->site]++;
            if (t < mp->cold_threshold)
                M.site_cold[e->site] += (float)info.size;
        }
        if (!readable_without_fault(info.block))
            continue;
        pypper_owned_buffer b;
        pypper_owned_buffer_of((PyObject *)e->object, &b);
        if (b.kind == PYPPER_BUF_NONE)
            continue;
        spread(b.block, b.size, h);
        /* A buffer the pageout backend sent to swap would be faulted in by the copy. */
        if (!M.cfg.relocate || !b.movable || b.size < RELOC_MIN_BYTES || M.nreloc >= RELOC_MAX
            || !readable_without_fault(b.block))
            continue;
        unsigned want = t >= mp->hot_threshold ? PYPPER_TIER_FAST
                        : t < mp->cold_threshold ? PYPPER_TIER_SLOW : 2u;
        pypper_block_info bi;
        pypper_heap_lookup(b.block, &bi);
        if (want < 2 && bi.tier != want && b.size <= M.reloc_budget) {
            M.reloc[M.nreloc++] = (reloc_req){(PyObject *)e->object, want};
            M.reloc_budget -= b.size;
        }
    }
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

static void collect(void)
{
    uint64_t t0 = now_ns();
    uint32_t now_ms = pypper_active_trace_now_ms();
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
    pypper_objtable_sync();
    walk_objects(now_ms);
    pypper_heap_unlock(locked);

    /* Relocations (the heap is entered again: outside the table's lock). */
    for (size_t i = 0; i < M.nreloc; i++) {
        size_t bytes;
        pypper_stat_add(PYPPER_STAT_RELOCATE_TRIED, 1);
        int rc = pypper_relocate_buffer(M.reloc[i].object, M.reloc[i].tier, &bytes);
        if (rc > 0) {
            M.cur.relocated_buffers++;
            M.cur.relocated_bytes += bytes;
            pypper_stat_add(PYPPER_STAT_RELOCATE_DONE, 1);
            pypper_stat_add(PYPPER_STAT_RELOCATE_BYTES, bytes);
        } else if (rc < 0) {
            M.cur.failed++;
            pypper_stat_add(PYPPER_STAT_RELOCATE_FAILED, 1);
        }
    }
    if (M.cfg.segregate && M.cfg.migrate_policy == PYPPER_POLICY_TEMPERATURE)
        learn_sites(now_ms);
    if (M.cfg.migrate_policy == PYPPER_POLICY_THRESHOLD)
        adjust_threshold();
    update_hook();
    pypper_stat_add(PYPPER_STAT_SEGREGATED, M.segregated);
    M.segregated = 0;

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
    *err = errs[(n / (uint64_t)M.cfg.test_fail_every) % 3];
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
    if (M.backend.kind == PYPPER_BACKEND_SIM) {
        for (size_t i = 0; i < M.npages; i++) {
            size_t index = pypper_heap_page_index((void *)M.pages[i].addr);
            if (M.placed[index] == PL_UNKNOWN)
                M.placed[index] = M.pages[i].placed == PYPPER_PLACE_SLOW ? PL_SLOW : PL_FAST;
        }
        return;
    }
    bool all = M.backend.kind == PYPPER_BACKEND_PAGEOUT || M.pass % LOCATE_ALL_EVERY == 1;
    size_t n = 0;
    for (size_t i = 0; i < M.npages; i++) {
        size_t index = pypper_heap_page_index((void *)M.pages[i].addr);
        if (all || M.placed[index] == PL_UNKNOWN) {
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
        if (w == PYPPER_PLACE_FAST || w == PYPPER_PLACE_SLOW)
            p->placed = (uint8_t)w;
        /* else (not touched yet, unknown, a failed call): as before, or its arena's */
        M.placed[pypper_heap_page_index((void *)p->addr)] = p->placed == PYPPER_PLACE_SLOW ? PL_SLOW : PL_FAST;
    }
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return x < y ? -1 : x > y;
}

/* Move the chosen pages (indexes into pages[]) to tier, in address order. */
static void move_pages_to(const size_t *chosen, size_t n, unsigned tier)
{
    bool promote = tier == PYPPER_TIER_FAST;
    for (size_t k = 0; k < n; k++)
        M.addrs[k] = (void *)M.pages[chosen[k]].addr;
    qsort(M.addrs, n, sizeof(void *), by_address);
    pypper_stat_add(promote ? PYPPER_STAT_PROMOTE_TRIED : PYPPER_STAT_DEMOTE_TRIED, n);
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
                M.placed[index] = promote ? PL_FAST : PL_SLOW;
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
            /* A failed page stays where it is; it waits out the cool-down. */
            M.moved[index] = M.pass;
            M.cur.failed++;
            if (status[i] != -EAGAIN)
                count_error(-status[i]);
            if (!promote && status[i] == -ENOMEM)
                pypper_stat_add(PYPPER_STAT_FALLBACKS, 1);
        }
    }
    if (promote) {
        pypper_stat_add(PYPPER_STAT_PROMOTE_DONE, M.cur.promoted_pages);
        pypper_stat_add(PYPPER_STAT_PROMOTE_BYTES, M.cur.promoted_bytes);
        pypper_stat_add(PYPPER_STAT_PROMOTE_FAILED, n - M.cur.promoted_pages);
    } else {
        pypper_stat_add(PYPPER_STAT_DEMOTE_DONE, M.cur.demoted_pages);
        pypper_stat_add(PYPPER_STAT_DEMOTE_BYTES, M.cur.demoted_bytes);
        pypper_stat_add(PYPPER_STAT_DEMOTE_FAILED, n - M.cur.demoted_pages);
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

void pypper_migrate_execute(void)
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
    };
    pypper_plan plan = {.promote = M.promote, .demote = M.demote};
    pypper_plan_pages(M.pages, M.npages, &p, &plan, M.scratch);
    move_pages_to(plan.demote, plan.ndemote, PYPPER_TIER_SLOW);
    uint64_t failed_demote = M.cur.failed;
    move_pages_to(plan.promote, plan.npromote, PYPPER_TIER_FAST);
    (void)failed_demote;

    M.cur.pages = M.npages;
    M.cur.fast_pages = plan.fast_pages - plan.ndemote + plan.npromote;
    M.cur.slow_pages = M.npages - M.cur.fast_pages;
    M.cur.unknown_pages = plan.unknown_pages;
    M.cur.budget_pages = p.budget_pages == SIZE_MAX ? M.npages : p.budget_pages;
    M.cur.held_by_cooldown = plan.skipped_cooldown;
    M.cur.held_by_cap = plan.held_by_cap;
    M.cur.cutoff_heat = plan.cutoff;
    M.cur.execute_ms = (double)(now_ns() - t0) / 1e6;
    M.last = M.cur;
    pypper_stat_add(PYPPER_STAT_MIGRATE_PASSES, 1);
    M.last_ns = now_ns();
    pthread_mutex_unlock(&M.mu);
}

bool pypper_migrate_due(void)
{
    return M.on && now_ns() - M.last_ns >= (uint64_t)M.cfg.migrate_interval_ms * 1000000ull;
}

bool pypper_migrate_collect_if_due(void)
{
    if (!pypper_migrate_due())
        return false;
    if (pthread_mutex_trylock(&M.mu) != 0)
        return false;            /* a round runs in another thread */
    collect();
    return true;
}

int pypper_migrate_now(pypper_migrate_result *out)
{
    if (!M.on) {
        PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
        return -1;
    }
    pypper_active_trace_drain();
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&M.mu);
    Py_END_ALLOW_THREADS
    if (!M.on) {                 /* the session ended while this thread waited */
        pthread_mutex_unlock(&M.mu);
        PyErr_SetString(PyExc_RuntimeError, "the pypper session ended");
        return -1;
    }
    collect();
    Py_BEGIN_ALLOW_THREADS
    pypper_migrate_execute();
    Py_END_ALLOW_THREADS
    *out = M.last;
    return 0;
}

/* ---- session ---- */

static void release_arrays(void)
{
    unmap_array(M.placed, M.slots);
    unmap_array(M.moved, M.slots * sizeof(uint32_t));
    unmap_array(M.pos, M.slots * sizeof(uint32_t));
    unmap_array(M.pages, M.cap * sizeof(pypper_plan_page));
    unmap_array(M.promote, M.cap * sizeof(size_t));
    unmap_array(M.demote, M.cap * sizeof(size_t));
    unmap_array(M.scratch, M.cap * sizeof(size_t));
    unmap_array(M.addrs, M.cap * sizeof(void *));
    unmap_array(M.status, M.cap * sizeof(int));
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

int pypper_migrate_start(const pypper_config *cfg)
{
    if (M.on)
        return 0;
    char err[PYPPER_ERR_MAX];
    pypper_backend_choice choice;
    if (pypper_backend_select(cfg, pypper_tiers_topology(), "/proc/swaps", &choice, err,
                              sizeof(err)) < 0) {
        PyErr_SetString(PyExc_RuntimeError, err);
        return -1;
    }
    const pypper_topology *topo = pypper_tiers_topology();
    int rc = choice.ops->init(topo);
    if (rc < 0) {
        PyErr_Format(PyExc_RuntimeError, "the %s backend cannot start: %s", choice.ops->name,
                     strerror(-rc));
        return -1;
    }
    pthread_mutex_init(&M.mu, NULL);
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
        PyErr_NoMemory();
        return -1;
    }
    (void)pypper_owned_buffers_init();
    M.pass = 0;
    M.calls = 0;
    M.ncold = 0;
    M.threshold = 4096;
    M.segregated = 0;
    memset(&M.last, 0, sizeof(M.last));
    M.interp = PyInterpreterState_Get();
    M.last_ns = now_ns();
    M.on = true;
    update_hook();
    pypper_log(PYPPER_LOG_INFO, "migration backend: %s (%s)", choice.ops->name, choice.reason);
    return 0;
}

void pypper_migrate_stop(void)
{
    if (!M.on)
        return;
    pthread_mutex_lock(&M.mu);
    M.on = false;
    update_hook();
    release_arrays();
    pthread_mutex_unlock(&M.mu);
}

void pypper_migrate_after_fork_child(void)
{
    if (!M.on)
        return;
    M.on = false;
    pypper_placement_site_hook = NULL;
    pthread_mutex_init(&M.mu, NULL);
    release_arrays();
}

bool pypper_migrate_running(void) { return M.on; }

const char *pypper_migrate_backend_name(void)
{
    return M.backend.ops ? M.backend.ops->name : "none";
}

const char *pypper_migrate_backend_reason(void) { return M.backend.reason; }

void pypper_migrate_last(pypper_migrate_result *out) { *out = M.last; }

PyObject *pypper_migrate_placement_map(void)
{
    PyObject *list = PyList_New(0);
    if (!list || !M.on)
        return list;
    pthread_mutex_lock(&M.mu);
    for (size_t i = 0; i < M.npages; i++) {
        PyObject *row = Py_BuildValue("(Ks)", (unsigned long long)M.pages[i].addr,
                                      M.pages[i].placed == PYPPER_PLACE_SLOW ? "slow" : "fast");
        if (!row || PyList_Append(list, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(row);
    }
    pthread_mutex_unlock(&M.mu);
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
