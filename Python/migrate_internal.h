/* Python/migrate_internal.h: the migration plane's shared state and the calls
 * between its files (not for use outside them): migrate.c (session, thread, rounds),
 * migrate_pages.c (page list, heat spread), migrate_collect.c (the walk over the
 * objects), migrate_relocate.c (owned-buffer relocation), migrate_sites.c (the
 * placement hook: cold sites, the threshold policy), migrate_execute.c (placement,
 * plan, moves). With the GIL unless a function says otherwise. */
#ifndef PYPPER_MIGRATE_INTERNAL_H
#define PYPPER_MIGRATE_INTERNAL_H

#include <Python.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "migrate.h"
#include "../Pypper/clock.h"
#include "owned_buffers.h"
#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/residency.h"
#include "../Pypper/backend.h"
#include "../Pypper/objtable.h"
#include "../Pypper/options.h"
#include "../Pypper/mistakes.h"
#include "../Pypper/own_memory.h"
#include "../Pypper/planner.h"
#include "../Pypper/temperature.h"
#include "../Pypper/threads.h"

#define PAGE 4096u
#define MOVE_CHUNK 1024          /* pages per backend call */
#define RELOC_MAX 65536          /* relocations per round */
#define RELOC_MIN_BYTES 64       /* smaller buffers are not worth a copy */
#define SITE_MAX 32768           /* alloc_sites ids stay below this */
#define COLD_SLOTS 4096          /* cold-site table (direct mapped, power of two) */
#define COLD_REPORT 32           /* cold sites named in migration_stats() */
#define SITE_MIN_OBJECTS 8
#define SITE_COLD_SHARE 0.9
#define SITE_WARM_SHARE 0.5      /* below this cold share a profile's cold site is overruled */
#define LOCATE_ALL_EVERY 8       /* numa: re-read every page's node every N rounds */
#define SLICE_ROUNDS 8           /* a background round looks closely at >= 1/8 of the objects */
#define SLICE_MIN 65536
/* and at most this many: a slice is a pause of the program's thread (30-35 ns an
 * object here: an eighth of 5 million objects made 8-11 ms every round), so above a
 * million traced objects a rotation takes more than SLICE_ROUNDS rounds instead. */
#define SLICE_MAX 131072
#define SETTLE_MS 2000
#define DISCARD_EVERY (8u << 20) /* relocated bytes between two returns of free pages */

/* A round's arrays belong to: nobody (IDLE), a thread collecting or executing
 * (BUSY), or the migration thread, which will execute it (QUEUED). */
enum { ROUND_IDLE = 0, ROUND_BUSY, ROUND_QUEUED };

/* Per page slot: where it is (PL_UNKNOWN / _FAST / _SLOW) in the low bits, and in
 * the high bits how many more rounds it counts as known (heat 0 without evidence,
 * rather than unknown): set when a traced object's buffer is seen on it, counted
 * down each round it holds no traced object (the page may have been reused since),
 * long enough to outlast a rotation of the table's slices. A place is its tier plus
 * one: an mmap'ed array starts all zero, that is unknown. */
enum { PL_UNKNOWN = 0, PL_FAST = 1 + PYPPER_TIER_FAST, PL_SLOW = 1 + PYPPER_TIER_SLOW,
       PL_WHERE = 3, PL_AGE_ONE = 4, PL_AGE = 0xFC };

typedef struct {
    PyObject *object;
    unsigned tier;
} reloc_req;

typedef struct {
    const void *code;
    int offset;
    uint32_t site;               /* its id: the code must still be that site's */
} cold_site;

typedef struct {
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
    uint64_t collect_cpu_ns;     /* the last collection's CPU time on the program's thread */
    bool spaced;                 /* a round was held by the cost spacing (program thread only) */
    uint64_t calls;              /* backend calls (failure injection) */
    uint64_t injected;           /* failures injected: their errno rotates */
    /* Per page slot of the reservation (sparse, NORESERVE). */
    size_t slots;
    uint8_t *placed;             /* PL_* */
    size_t slow_pages;           /* of them PL_SLOW, with a far-memory backend (set_where) */
    uint32_t *moved;             /* round that last moved it */
    uint32_t *pos;               /* its index in pages[] this round */
    /* This round's pages (in address order) and the planner's working arrays, of
     * capacity cap; the backend's, of MOVE_CHUNK (a call's pages). */
    pypper_plan_page *pages;
    size_t npages, cap;
    uint32_t *promote, *demote, *scratch;
    void **addrs;
    int *status;
    uint32_t *chunk;             /* the pages[] index of each addrs[] entry */
    reloc_req *reloc;
    size_t nreloc;
    uint64_t reloc_budget;
    double cold_heat;
    pypper_migrate_result cur, last;
    pypper_mistakes mistakes;    /* demotions that came back, and the pace they set */
    uint64_t t_collect;
    /* Segregation. */
    float *site_bytes, *site_cold;
    uint32_t *site_objects;
    /* The same summed over every slice since the session settled (SETTLE_MS): what a
     * profile is saved from (with a last pass at the end), so one late moment of
     * thin evidence does not make a site cold. */
    double *sess_bytes, *sess_cold;
    uint32_t *sess_objects;
    uint32_t site_hi;            /* site ids below this may have statistics (the arrays
                                    are zero above: clearing and reading stop here) */
    cold_site *cold;             /* COLD_SLOTS */
    size_t ncold;
    uint32_t cold_ids[COLD_REPORT];  /* site ids of the first cold sites, for reports */
    size_t threshold;            /* MIGRATE_POLICY=threshold: blocks below go fast */
    uint64_t slice_start;        /* where the objects looked at closely next round begin:
                                    a granule of the tracked bitmap (Objects/track.h) */
    bool rotation_done;          /* the last round's window reached the heap's end */
    /* Cold data has somewhere to go: a fast-tier budget below 100%, or eager demotion,
     * and the session is old enough (SETTLE_MS) for "no evidence" to mean cold. Only
     * then are cold objects' buffers relocated and cold sites segregated: without it
     * that work would buy nothing. */
    bool separating;
    bool whole_round;            /* migrate_now(): the whole table, every candidate */
    bool pages_listed;           /* the last round listed the pages (not an idle one) */
    PyInterpreterState *interp;
} pypper_mig_state;

/* The one instance (migrate.c); M in these files. */
extern pypper_mig_state pypper_mig;
#define M pypper_mig

static inline unsigned where_of(size_t index) { return M.placed[index] & PL_WHERE; }

/* (One writer at a time: the round's owner.) With a far-memory backend, the count of
 * pages placed slow opens and closes the sources' residency check (Objects/residency.h): before the first,
 * and after the last came back, they read without asking (the check of each
 * referent was 5% of a record-building loop's instructions with the pageout backend,
 * which a machine with swap gets by default, while nothing had been demoted). */
static inline void set_where(size_t index, unsigned where)
{
    unsigned was = where_of(index);
    if (was != where && (M.backend.ops->caps & PYPPER_BACKEND_FAR_MEMORY)) {
        if (where == PL_SLOW && M.slow_pages++ == 0)
            pypper_residency_slow_pages(true);
        else if (was == PL_SLOW && --M.slow_pages == 0)
            pypper_residency_slow_pages(false);
    }
    M.placed[index] = (uint8_t)((M.placed[index] & ~PL_WHERE) | where);
}

static inline void *map_array(size_t bytes)
{
    return pypper_own_mmap(PYPPER_OWN_MIGRATE, bytes ? bytes : PAGE, MAP_NORESERVE);
}

static inline void unmap_array(void *p, size_t bytes)
{
    if (p)
        pypper_own_munmap(p, bytes ? bytes : PAGE);
}

/* Bytes per round at a rate of mbps (<= 0: no limit). */
static inline uint64_t pypper_mig_cap_bytes(int64_t mbps)
{
    if (mbps <= 0)
        return UINT64_MAX;
    return (uint64_t)mbps * 1024 * 1024 * (uint64_t)M.cfg.migrate_interval_ms / 1000;
}

/* migrate_pages.c */
/* List the heap's pages in use as this round's pages (heap lock held); -1 when the
 * arrays cannot grow (the round then has no pages). */
int pypper_mig_list_pages(uint32_t now_ms);
pypper_plan_page *pypper_mig_page_of(const void *addr);
void pypper_mig_spread(const void *start, size_t size, double h);
bool pypper_mig_readable_without_fault(const void *block);
void pypper_mig_unmap_round(pypper_plan_page *pages, uint32_t *promote, uint32_t *demote,
                            uint32_t *scratch, size_t cap);
/* migrate_collect.c */
/* The collect half; with list_pages false the round lists no pages (an idle round:
 * pypper_mig_round_idle), and its walk (site statistics) runs only for a PROFILE. */
void pypper_mig_collect(bool whole, uint32_t now_ms, bool list_pages);
/* migrate_relocate.c */
void pypper_mig_relocate_queued(void);
/* migrate_sites.c */
void pypper_mig_learn_sites(bool replace);
void pypper_mig_update_hook(void);
bool pypper_mig_slow_tier_wanted(void);
/* Whether a background round has nothing to place: the temperature policy, no slow
 * tier wanted (pypper_mig_slow_tier_wanted) and no slow-tier memory ever. */
bool pypper_mig_round_idle(void);
void pypper_mig_adjust_threshold(void);
/* migrate_discards.c: the pages the heap discarded since a round recorded where they
 * are. start: a bit per slot, the heap's observer set (-1: no memory); stop: both
 * gone. forget_discarded (the round's owner, without the GIL too): this round's pages
 * discarded since are of unknown place (unplace: and shown so by the page list);
 * how many. */
int pypper_mig_discards_start(size_t slots);
void pypper_mig_discards_stop(void);
size_t pypper_mig_forget_discarded(bool unplace);
/* migrate_execute.c (without the GIL, no malloc) */
void pypper_mig_execute(void);
/* Where this round's pages are (all, or those whose place is unknown), from the
 * backend, into the page list only, for placement_map() after idle rounds or
 * discards: unlike a round's look (execute), the per-slot record (what Pypper's
 * readers trust to avoid pages in swap), the mistakes and the injected failures are
 * left as they are. */
void pypper_mig_locate_for_report(bool all);

#endif
