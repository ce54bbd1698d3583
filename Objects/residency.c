/* Objects/residency.c: the installed "may this block be read" predicate
 * (residency.h). */
#include "residency.h"

#include <stddef.h>

pypper_residency_fn pypper_residency_check;

void pypper_residency_set(pypper_residency_fn may_touch)
{
    __atomic_store_n(&pypper_residency_check, may_touch, __ATOMIC_RELAXED);
}
