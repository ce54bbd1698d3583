/* Pypper/backend_select.c: which backend a session uses (backend.h), and why: one
 * decision, for the session's choice and for whether the heap binds arenas. */
#include "backend.h"
#include "code_size.h"

#include <stdio.h>
#include <string.h>

bool pypper_swap_enabled(const char *proc_swaps)
{
    FILE *f = fopen(proc_swaps, "r");
    if (!f)
        return false;
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof(line), f))
        lines++;
    fclose(f);
    return lines > 1;            /* the first line is the header */
}

static bool has_two_tiers(const pypper_topology *topo) { return topo && !topo->simulated; }

/* The backend cfg asks for on topo (swap_on: only asked when auto needs it). */
static const pypper_backend_ops *decide(const pypper_config *cfg, const pypper_topology *topo,
                                        bool (*swap_on)(const char *), const char *proc_swaps)
{
    switch (cfg->backend) {
    case PYPPER_BACKEND_NUMA:
        return &pypper_backend_numa;
    case PYPPER_BACKEND_PAGEOUT:
        return &pypper_backend_pageout;
    case PYPPER_BACKEND_SIM:
        return &pypper_backend_sim;
    default:
        break;
    }
    if (has_two_tiers(topo))
        return &pypper_backend_numa;
    return swap_on && swap_on(proc_swaps) ? &pypper_backend_pageout : &pypper_backend_sim;
}

static int kind_of(const pypper_backend_ops *ops)
{
    return ops == &pypper_backend_numa      ? PYPPER_BACKEND_NUMA
           : ops == &pypper_backend_pageout ? PYPPER_BACKEND_PAGEOUT
                                            : PYPPER_BACKEND_SIM;
}

PYPPER_SMALL_CODE int pypper_backend_select(const pypper_config *cfg, const pypper_topology *topo,
                          const char *proc_swaps, pypper_backend_choice *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const pypper_backend_ops *ops = decide(cfg, topo, pypper_swap_enabled, proc_swaps);
    bool asked = cfg->backend != PYPPER_BACKEND_AUTO;
    if ((ops->caps & PYPPER_BACKEND_NEEDS_TWO_TIERS) && !has_two_tiers(topo)) {
        /* Named as given: PYPPER_BACKEND=numa, or backend='numa' from start(). */
        bool keyword = cfg->source[PYPPER_OPTION_BACKEND] == PYPPER_SRC_ARG;
        char name[64];
        pypper_option_label(cfg, PYPPER_OPTION_BACKEND, keyword, name, sizeof(name));
        snprintf(err, errlen, "%s=%s%s%s needs two tiers of memory, and this machine "
                 "has one (%d NUMA node%s); use %s=%spageout%s (far memory: swap) or %s",
                 name, keyword ? "'" : "", ops->name, keyword ? "'" : "",
                 topo ? topo->nnodes : 0, topo && topo->nnodes == 1 ? "" : "s",
                 name, keyword ? "'" : "", keyword ? "'" : "", keyword ? "'sim'" : "sim");
        return -1;
    }
    out->ops = ops;
    out->kind = kind_of(ops);
    if (asked && ops == &pypper_backend_pageout)
        snprintf(out->reason, sizeof(out->reason), "asked for (BACKEND=pageout)%s",
                 pypper_swap_enabled(proc_swaps) ? ""
                 : "; no swap is on, so demoted pages stay in memory");
    else if (asked && ops == &pypper_backend_sim)
        snprintf(out->reason, sizeof(out->reason), "asked for (BACKEND=sim): placement recorded only");
    else if (asked)
        snprintf(out->reason, sizeof(out->reason), "asked for (BACKEND=%s)", ops->name);
    else if (ops == &pypper_backend_numa)
        snprintf(out->reason, sizeof(out->reason),
                 "auto: two tiers of memory (topology from %s)",
                 pypper_topology_source_name(topo->source));
    else if (ops == &pypper_backend_pageout)
        snprintf(out->reason, sizeof(out->reason),
                 "auto: one tier of memory, swap is on (%s): cold pages are paged out", proc_swaps);
    else
        snprintf(out->reason, sizeof(out->reason),
                 "auto: one tier of memory and no swap: placement is simulated (recorded, nothing moves)");
    return 0;
}

bool pypper_backend_binds_arenas(const pypper_config *cfg, const pypper_topology *topo)
{
    /* (With one tier nothing is bound, whatever swap says: it is not asked.) */
    return has_two_tiers(topo)
           && (decide(cfg, topo, NULL, NULL)->caps & PYPPER_BACKEND_NEEDS_TWO_TIERS);
}
