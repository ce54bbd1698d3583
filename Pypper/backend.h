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

typedef struct pypper_backend_ops {
    const char *name;
    /* Take the topology; 0 or -errno. */
    int (*init)(const pypper_topology *topo);
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
 * pageout when swap is on, else sim. 0, or -1 with a reason in err (numa asked for on
 * one tier). */
int pypper_backend_select(const pypper_config *cfg, const pypper_topology *topo,
                          const char *proc_swaps, pypper_backend_choice *out,
                          char *err, size_t errlen);

#endif
