/* Pypper/backend_numa.c: the numa backend: pages move between the fast tier's and the
 * slow tier's NUMA nodes with move_pages(2), in batches, and where a page is comes
 * from move_pages with no target (its status is its node). A page refused by one node
 * of the tier with ENOMEM (that node is full) is tried on the tier's next node; when
 * every node refuses, it stays where it is and keeps -ENOMEM (the caller counts a
 * fallback). Needs two tiers: on one node there is nothing to move between. */
#include "backend.h"
#include "numa_syscalls.h"

#include <errno.h>
#include <string.h>

#define BATCH 512
#define MAX_TIER_NODES 64

static int tier_nodes[2][MAX_TIER_NODES];
static int ntier_nodes[2];
static signed char node_tier[PYPPER_MAX_NODES];

static int numa_init(const pypper_topology *topo)
{
    memset(ntier_nodes, 0, sizeof(ntier_nodes));
    memset(node_tier, -1, sizeof(node_tier));
    for (unsigned n = 0; n < PYPPER_MAX_NODES; n++) {
        int t = pypper_nodeset_has(&topo->fast, n) ? 0 : pypper_nodeset_has(&topo->slow, n) ? 1 : -1;
        if (t < 0)
            continue;
        node_tier[n] = (signed char)t;
        if (ntier_nodes[t] < MAX_TIER_NODES)
            tier_nodes[t][ntier_nodes[t]++] = (int)n;
    }
    return ntier_nodes[0] && ntier_nodes[1] ? 0 : -ENODEV;
}

/* One move_pages call for up to BATCH pages to one node; status per page (the node
 * a page is on, or -errno). A call that fails as a whole (ENOMEM when the node fills
 * up part way) leaves the status array unwritten although the pages before the
 * failing one did move: ask where each page is then, and give the call's error to
 * those not on the node. */
static void move_batch(void **pages, size_t n, int node, int *status)
{
    int nodes[BATCH];
    for (size_t i = 0; i < n; i++)
        nodes[i] = node;
    long rc = pypper_move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE);
    if (rc >= 0)
        return;
    int e = errno;
    if (pypper_move_pages(0, n, pages, NULL, status, 0) < 0) {
        for (size_t i = 0; i < n; i++)
            status[i] = -e;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (status[i] != node)
            status[i] = status[i] < 0 ? status[i] : -e;
}

static size_t numa_move(void *const *pages, size_t n, unsigned tier, int *status)
{
    size_t done = 0;
    void *retry[BATCH];
    int rstatus[BATCH];
    size_t ridx[BATCH];
    for (size_t off = 0; off < n; off += BATCH) {
        size_t m = n - off < BATCH ? n - off : BATCH;
        void *batch[BATCH];
        memcpy(batch, pages + off, m * sizeof(void *));
        int node = tier_nodes[tier][0];
        move_batch(batch, m, node, status + off);
        /* Pages a full node refused: the tier's other nodes, in order. */
        for (int k = 1; k < ntier_nodes[tier]; k++) {
            size_t nr = 0;
            for (size_t i = 0; i < m; i++) {
                if (status[off + i] == -ENOMEM) {
                    retry[nr] = batch[i];
                    ridx[nr++] = i;
                }
            }
            if (!nr)
                break;
            move_batch(retry, nr, tier_nodes[tier][k], rstatus);
            for (size_t j = 0; j < nr; j++)
                status[off + ridx[j]] = rstatus[j];
        }
        for (size_t i = 0; i < m; i++) {
            int s = status[off + i];
            if (s >= 0 && s < PYPPER_MAX_NODES && node_tier[s] == (signed char)tier) {
                status[off + i] = 0;
                done++;
            } else if (s >= 0) {
                status[off + i] = -EAGAIN;     /* moved, but not into the tier */
            }
        }
    }
    return done;
}

static void numa_locate(void *const *pages, size_t n, int *where)
{
    for (size_t off = 0; off < n; off += BATCH) {
        size_t m = n - off < BATCH ? n - off : BATCH;
        void *batch[BATCH];
        memcpy(batch, pages + off, m * sizeof(void *));
        if (pypper_move_pages(0, m, batch, NULL, where + off, 0) < 0) {
            int e = errno;
            for (size_t i = 0; i < m; i++)
                where[off + i] = -e;
            continue;
        }
        for (size_t i = 0; i < m; i++) {
            int s = where[off + i];
            if (s >= 0)
                where[off + i] = s < PYPPER_MAX_NODES && node_tier[s] >= 0 ? node_tier[s]
                                                                           : PYPPER_PLACE_UNKNOWN;
        }
    }
}

/* The node tables are the session's: a stale one must not place pages later. */
static void numa_fini(void)
{
    memset(ntier_nodes, 0, sizeof(ntier_nodes));
    memset(node_tier, -1, sizeof(node_tier));
}

const pypper_backend_ops pypper_backend_numa = {
    "numa", PYPPER_BACKEND_REPORTS_PLACEMENT | PYPPER_BACKEND_NEEDS_TWO_TIERS,
    numa_init, numa_fini, numa_move, numa_locate};
