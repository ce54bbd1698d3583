/* Objects/placement.h: the one policy function that picks the tier of a new block.
 * Costs on the allocation fast path, in order: one thread-local byte load and test
 * (a `with pypper.placement(...)` scope), then one global load (the default tier,
 * which slow paths re-evaluate against FAST_BUDGET), then one global pointer load and
 * test (the per-site prediction hook; NULL until the temperature model installs one). */
#ifndef PYPPER_PLACEMENT_H
#define PYPPER_PLACEMENT_H

#include <stddef.h>

#if defined(__GNUC__)
#define PYPPER_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#define PYPPER_TLS _Thread_local
#endif

/* -1: no scope; else the tier forced on this thread's allocations. */
extern PYPPER_TLS signed char pypper_placement_scope;
extern unsigned pypper_placement_default;
/* Per-allocation-site prediction: given the size and the tier chosen so far, return
 * the tier to use. Installed by the temperature model; must be cheap and GIL-safe. */
typedef unsigned (*pypper_site_hook_fn)(size_t size, unsigned tier);
extern pypper_site_hook_fn pypper_placement_site_hook;

static inline unsigned pypper_placement_choose(size_t size)
{
    int scoped = pypper_placement_scope;
    if (scoped >= 0)
        return (unsigned)scoped;
    unsigned tier = pypper_placement_default;
    pypper_site_hook_fn hook = pypper_placement_site_hook;
    if (hook)
        tier = hook(size, tier) & 1u;
    return tier;
}

/* The choice without the site hook, for the allocation fast path (which leaves for
 * the slow path, and pypper_placement_choose, while a hook is installed). */
static inline unsigned pypper_placement_choose_unhooked(void)
{
    int scoped = pypper_placement_scope;
    return scoped >= 0 ? (unsigned)scoped : pypper_placement_default;
}

/* Set this thread's scope (-1 clears it); returns the previous one. */
int pypper_placement_set_scope(int tier);

#endif
