/* Pypper/backend_select.c: which backend a session uses (backend.h), and why. */
#include "backend.h"

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

int pypper_backend_select(const pypper_config *cfg, const pypper_topology *topo,
                          const char *proc_swaps, pypper_backend_choice *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    bool two_tiers = topo && !topo->simulated;
    switch (cfg->backend) {
    case PYPPER_BACKEND_NUMA:
        if (!two_tiers) {
            /* Named as given: PYPPER_BACKEND=numa, or backend='numa' from start(). */
            bool keyword = cfg->source[PYPPER_OPTION_BACKEND] == PYPPER_SRC_ARG;
            char name[64];
            pypper_option_label(cfg, PYPPER_OPTION_BACKEND, keyword, name, sizeof(name));
            snprintf(err, errlen, "%s=%snuma%s needs two tiers of memory, and this machine "
                     "has one (%d NUMA node%s); use %s=%spageout%s (far memory: swap) or %s",
                     name, keyword ? "'" : "", keyword ? "'" : "",
                     topo ? topo->nnodes : 0, topo && topo->nnodes == 1 ? "" : "s",
                     name, keyword ? "'" : "", keyword ? "'" : "", keyword ? "'sim'" : "sim");
            return -1;
        }
        out->ops = &pypper_backend_numa;
        out->kind = PYPPER_BACKEND_NUMA;
        snprintf(out->reason, sizeof(out->reason), "asked for (BACKEND=numa)");
        return 0;
    case PYPPER_BACKEND_PAGEOUT:
        out->ops = &pypper_backend_pageout;
        out->kind = PYPPER_BACKEND_PAGEOUT;
        snprintf(out->reason, sizeof(out->reason), "asked for (BACKEND=pageout)%s",
                 pypper_swap_enabled(proc_swaps) ? ""
                 : "; no swap is on, so demoted pages stay in memory");
        return 0;
    case PYPPER_BACKEND_SIM:
        out->ops = &pypper_backend_sim;
        out->kind = PYPPER_BACKEND_SIM;
        snprintf(out->reason, sizeof(out->reason), "asked for (BACKEND=sim): placement recorded only");
        return 0;
    default:
        break;
    }
    if (two_tiers) {
        out->ops = &pypper_backend_numa;
        out->kind = PYPPER_BACKEND_NUMA;
        snprintf(out->reason, sizeof(out->reason),
                 "auto: two tiers of memory (topology from %s)",
                 pypper_topology_source_name(topo->source));
    } else if (pypper_swap_enabled(proc_swaps)) {
        out->ops = &pypper_backend_pageout;
        out->kind = PYPPER_BACKEND_PAGEOUT;
        snprintf(out->reason, sizeof(out->reason),
                 "auto: one tier of memory, swap is on (%s): cold pages are paged out", proc_swaps);
    } else {
        out->ops = &pypper_backend_sim;
        out->kind = PYPPER_BACKEND_SIM;
        snprintf(out->reason, sizeof(out->reason),
                 "auto: one tier of memory and no swap: placement is simulated (recorded, nothing moves)");
    }
    return 0;
}
