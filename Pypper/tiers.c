/* Pypper/tiers.c: connects the topology to the heap. On a machine with a slower
 * tier, each newly committed arena is bound with mbind(MPOL_PREFERRED_MANY) to its
 * tier's nodes (MPOL_PREFERRED on kernels without it): preferred, not strict, so a
 * full node makes the kernel fall back to another node instead of failing; a refused
 * mbind is counted by the heap and the arena stays where the kernel puts it; and
 * kept out of transparent huge pages. On one tier nothing is bound and the tiers are
 * logical (simulated). */
#include "tiers.h"

#include "../Objects/heap.h"
#include "../Objects/region.h"
#include "backend.h"
#include "log.h"
#include "numa_syscalls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* Two slots: setup discovers into the one not in use and switches only on success
 * (a rejected override keeps the topology in force). Not on the stack: 18 KiB there
 * put pages in every process that the stock interpreter leaves untouched. */
static pypper_topology slots[2];
static int current;
static bool have_topo;
static bool bound;
static int many_unsupported;

static int bind_arena(unsigned tier, void *addr, size_t len)
{
    /* Pages move one by one (4 KiB): no transparent huge page may hold them. Under
     * THP "always" a fault, or khugepaged's collapse, gave arenas 2 MiB pages; a
     * move of one page moved all 512, or failed (EBUSY, ENOMEM), and placement_map()
     * was wrong for the rest (the guest of Tools/numa-vm: 2-3 failed tests a run).
     * Advice: refused is fine, the moves only count their failures. */
    (void)madvise(addr, len, MADV_NOHUGEPAGE);
    const pypper_topology *topo = &slots[current];
    const pypper_nodeset *set = tier == PYPPER_TIER_FAST ? &topo->fast : &topo->slow;
    unsigned long mask[PYPPER_MAX_NODES / (8 * sizeof(unsigned long))];
    memset(mask, 0, sizeof(mask));
    int first = -1;
    for (unsigned n = 0; n < PYPPER_MAX_NODES; n++) {
        if (pypper_nodeset_has(set, n)) {
            mask[n / (8 * sizeof(unsigned long))] |= 1ul << (n % (8 * sizeof(unsigned long)));
            if (first < 0)
                first = (int)n;
        }
    }
    if (!many_unsupported) {
        if (pypper_mbind(addr, len, MPOL_PREFERRED_MANY, mask, PYPPER_MAX_NODES + 1, 0) == 0)
            return 0;
        if (errno != EINVAL)
            return -errno;
        many_unsupported = 1;
    }
    memset(mask, 0, sizeof(mask));
    mask[first / (8 * (int)sizeof(unsigned long))] |= 1ul << (first % (8 * (int)sizeof(unsigned long)));
    if (pypper_mbind(addr, len, MPOL_PREFERRED, mask, PYPPER_MAX_NODES + 1, 0) == 0)
        return 0;
    return -errno;
}

int pypper_tiers_setup(const pypper_config *cfg, char *err, size_t errlen)
{
    int next = have_topo ? 1 - current : current;
    if (pypper_topology_discover("/sys", cfg, &slots[next], err, errlen) < 0)
        return -1;
    current = next;
    have_topo = true;
    bool want_bind = pypper_backend_binds_arenas(cfg, &slots[current]);
    region_set_binder(want_bind ? bind_arena : NULL);
    if (want_bind != bound)
        pypper_log(PYPPER_LOG_INFO, "arenas %s bound to NUMA nodes (topology: %s)",
                   want_bind ? "are" : "are not",
                   pypper_topology_source_name(slots[current].source));
    bound = want_bind;
    return 0;
}

const pypper_topology *pypper_tiers_topology(void) { return have_topo ? &slots[current] : NULL; }

void pypper_tiers_apply_budget(const pypper_config *cfg)
{
    const pypper_size *b = &cfg->fast_budget;
    /* With a session under the temperature policy the planner keeps the fast tier
     * within the budget by moving pages, and new objects (young, mostly hot) start
     * in the fast tier; otherwise (no session, or the ratio policy: memkind's static
     * ratio) the budget is kept at allocation: new arenas come from the slow tier once
     * the fast tier holds its share. */
    if (cfg->enable && cfg->migrate_policy == PYPPER_POLICY_TEMPERATURE) {
        pypper_heap_set_fast_budget(0, 100.0);
        return;
    }
    pypper_heap_set_fast_budget(b->is_percent ? 0 : b->bytes, b->is_percent ? b->percent : 0.0);
}

bool pypper_tiers_bound(void) { return bound; }

int pypper_tiers_page_node(const void *addr)
{
    void *page = (void *)((uintptr_t)addr & ~(uintptr_t)4095);
    int status = -1;
    if (pypper_move_pages(0, 1, &page, NULL, &status, 0) != 0)
        return -errno;
    return status;
}
