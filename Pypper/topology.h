/* Pypper/topology.h: the machine's memory tiers as Pypper uses them: which NUMA
 * nodes form the fast tier and which the slow one, and how that was decided. */
#ifndef PYPPER_TOPOLOGY_H
#define PYPPER_TOPOLOGY_H

#include "options.h"

#include <stdbool.h>

#define PYPPER_TOPO_MAX_NODES 64

typedef enum {
    PYPPER_TOPO_OVERRIDE,        /* PYPPER_FAST_NODES / PYPPER_SLOW_NODES */
    PYPPER_TOPO_MEMORY_TIERING,  /* /sys/devices/virtual/memory_tiering */
    PYPPER_TOPO_CPULESS,         /* nodes without CPUs are the slow tier */
    PYPPER_TOPO_SINGLE_NODE,     /* one tier of memory: tiers are logical (simulated) */
} pypper_topology_source;

typedef struct {
    int id;
    bool has_cpus;
    int memory_tier;             /* memory_tierN of the node, -1 if unknown */
    unsigned long long mem_total_kb, mem_free_kb;
    int distance[PYPPER_TOPO_MAX_NODES];    /* to node index j; -1 unknown */
} pypper_node;

typedef struct {
    int nnodes;
    pypper_node nodes[PYPPER_TOPO_MAX_NODES];
    pypper_nodeset fast, slow;
    pypper_topology_source source;
    bool simulated;              /* fast and slow are the same memory */
} pypper_topology;

/* Discover the nodes under sysfs_root (normally "/sys") and split them into tiers,
 * honouring cfg's FAST_NODES / SLOW_NODES. Returns 0, or -1 with a one-line reason in
 * err when the override names nodes that do not exist or overlap. Entries of
 * out->nodes past out->nnodes are not written. */
int pypper_topology_discover(const char *sysfs_root, const pypper_config *cfg,
                             pypper_topology *out, char *err, size_t errlen);
const char *pypper_topology_source_name(pypper_topology_source s);

#endif
