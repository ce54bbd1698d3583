/* Objects/residency.c: the installed "may this block be read" predicate
 * (residency.h). */
#include "residency.h"

#include <stddef.h>

static pypper_residency_fn check;

void pypper_residency_set(pypper_residency_fn may_touch) { check = may_touch; }

bool pypper_residency_may_touch(const void *block) { return check == NULL || check(block); }
