/* Pypper/tiers.h: the process's tier set-up: the discovered topology, whether arenas
 * are bound to real nodes, and where a page of memory lives now. */
#ifndef PYPPER_TIERS_H
#define PYPPER_TIERS_H

#include "options.h"
#include "topology.h"

/* Discover the topology for cfg and bind the heap's future arenas to the tiers' nodes
 * when the machine has two tiers and the backend moves real memory. 0, or -1 with a
 * one-line reason (a bad node override). May be called again (e.g. by start()) with
 * the same nodes; arenas already committed keep their binding. */
int pypper_tiers_setup(const pypper_config *cfg, char *err, size_t errlen);
const pypper_topology *pypper_tiers_topology(void);   /* NULL before set-up */
/* Give the heap cfg's FAST_BUDGET (bytes, or a percentage of the heap) as its
 * allocation-time limit, unless a session's planner enforces it (cfg->enable with
 * the temperature policy: then the heap has no allocation-time limit). */
void pypper_tiers_apply_budget(const pypper_config *cfg);
bool pypper_tiers_bound(void);
/* The node holding the page at addr, from move_pages(2); -errno (e.g. -ENOENT: not
 * yet touched) when the kernel has none. */
int pypper_tiers_page_node(const void *addr);

#endif
