/* Pypper/backend.h: the migration backends behind one operations table, in the spirit
 * of DAMON's damon_operations: numa (move_pages between NUMA nodes), pageout (madvise
 * to far memory: swap, zswap, zram) and sim (one tier: the planner's record is the
 * only placement). Backends move whole pages and say where a page is; they know
 * nothing of objects. Calls may come from any one thread at a time, without the GIL. */
#ifndef PYPPER_BACKEND_H
#define PYPPER_BACKEND_H

#include "options.h"
#include "topology.h"
#include "../Objects/tier.h"

#include <stdbool.h>
#include <stddef.h>

/* Where a page is: a pypper_tier, or this when the backend keeps no placement. */
#define PYPPER_PLACE_UNKNOWN (-ENODATA)

/* What a backend can do. The engine decides by these, never by a backend's name. */
enum {
    /* It moves nothing: the planner's record is the only placement (sim). */
    PYPPER_BACKEND_SIMULATED = 1u << 0,
    /* locate() says where a page is (else it answers PYPPER_PLACE_UNKNOWN). */
    PYPPER_BACKEND_REPORTS_PLACEMENT = 1u << 1,
    /* locate() is cheap enough to ask for every page every round (mincore). */
    PYPPER_BACKEND_CHEAP_LOCATE = 1u << 2,
    /* Its slow tier is far memory (swap, zram): reading a slow page faults it back. */
    PYPPER_BACKEND_FAR_MEMORY = 1u << 3,
    /* It needs two tiers of memory (NUMA nodes), and arenas are bound to them. */
    PYPPER_BACKEND_NEEDS_TWO_TIERS = 1u << 4,
};

typedef struct pypper_backend_ops {
    const char *name;
    unsigned caps;               /* PYPPER_BACKEND_* */
    /* Take the topology; 0 or -errno. */
    int (*init)(const pypper_topology *topo);
    /* Give back what init took (after the last move or locate); NULL: nothing. */
    void (*fini)(void);
    /* Move n pages (page-aligned addresses, ascending) to `tier`; status[i] = 0 when
     * page i is there now, else -errno (-ENOMEM: the target tier is full). Returns
     * how many are there. */
    size_t (*move)(void *const *pages, size_t n, unsigned tier, int *status);
    /* Where each page is: PYPPER_TIER_FAST / _SLOW, or -errno (-ENOENT: never
     * touched; PYPPER_PLACE_UNKNOWN: the backend keeps no placement, as sim). */
    void (*locate)(void *const *pages, size_t n, int *where);
} pypper_backend_ops;

extern const pypper_backend_ops pypper_backend_numa;
extern const pypper_backend_ops pypper_backend_pageout;
extern const pypper_backend_ops pypper_backend_sim;

typedef struct {
    const pypper_backend_ops *ops;
    int kind;                    /* pypper_backend_kind, never AUTO */
    char reason[256];            /* why this one (the auto choice, or "asked for") */
} pypper_backend_choice;

/* Is swap on (a line after the header of /proc/swaps)? */
bool pypper_swap_enabled(const char *proc_swaps);
/* Pick the backend cfg asks for; BACKEND=auto: numa with two tiers of memory, else
 * pageout when swap is on, else sim. 0, or -1 with a reason in err (a backend that
 * needs two tiers, on one). A session chooses once, when it starts (Modules/_pypper.c),
 * and hands the choice to the migration plane (Python/session.c). */
int pypper_backend_select(const pypper_config *cfg, const pypper_topology *topo,
                          const char *proc_swaps, pypper_backend_choice *out,
                          char *err, size_t errlen);
/* Whether the backend cfg asks for (the same choice) binds arenas to topo's tiers:
 * it needs two tiers and topo has them. For the heap's set-up (Pypper/tiers.c),
 * before any session; never an error. */
bool pypper_backend_binds_arenas(const pypper_config *cfg, const pypper_topology *topo);

#endif
