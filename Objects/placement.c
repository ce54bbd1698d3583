/* Objects/placement.c: storage of the placement policy's inputs (see placement.h). */
#include "placement.h"

PYPPER_TLS signed char pypper_placement_scope = -1;
unsigned pypper_placement_default = 0;
pypper_site_hook_fn pypper_placement_site_hook = NULL;

int pypper_placement_set_scope(int tier)
{
    int old = pypper_placement_scope;
    pypper_placement_scope = (signed char)(tier < 0 ? -1 : (tier & 1));
    return old;
}
