/* Objects/residency.c: the installed "may this block be read" predicate
 * (residency.h). */
#include "residency.h"

#include <stddef.h>

pypper_residency_fn pypper_residency_check;
unsigned pypper_residency_gate;

void pypper_residency_set(pypper_residency_fn may_touch)
{
    __atomic_store_n(&pypper_residency_check, may_touch, __ATOMIC_RELAXED);
}

static void gate(unsigned bit, bool open)
{
    if (open)
        __atomic_fetch_or(&pypper_residency_gate, bit, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(&pypper_residency_gate, ~bit, __ATOMIC_RELAXED);
}

void pypper_residency_swap_active(bool on) { gate(PYPPER_RESIDENCY_SWAP, on); }

void pypper_residency_slow_pages(bool any) { gate(PYPPER_RESIDENCY_SLOW, any); }

unsigned pypper_residency_gate_bits(void) { return __atomic_load_n(&pypper_residency_gate, __ATOMIC_RELAXED); }
