/* Pypper/backend_sim.c: the simulation backend: every move "succeeds" without touching
 * memory, and it keeps no placement of its own (the planner's record is the
 * placement). Its counters are reported as simulated, never as real movement. */
#include "backend.h"

#include <errno.h>

static int sim_init(const pypper_topology *topo)
{
    (void)topo;
    return 0;
}

static size_t sim_move(void *const *pages, size_t n, unsigned tier, int *status)
{
    (void)pages;
    (void)tier;
    for (size_t i = 0; i < n; i++)
        status[i] = 0;
    return n;
}

static void sim_locate(void *const *pages, size_t n, int *where)
{
    (void)pages;
    for (size_t i = 0; i < n; i++)
        where[i] = PYPPER_PLACE_UNKNOWN;
}

const pypper_backend_ops pypper_backend_sim = {"sim", PYPPER_BACKEND_SIMULATED, sim_init, NULL,
                                               sim_move, sim_locate};
