/* Python/alloc_sites.h: allocation sites of traced objects, sampled: one allocation
 * in ALLOC_SAMPLE records the Python code location (code object, instruction) that
 * made it; the live trace gives that site to the object when it tracks the block. */
#ifndef PYPPER_ALLOC_SITES_H
#define PYPPER_ALLOC_SITES_H

#include <Python.h>
#include <stdint.h>

/* With the GIL: start sampling one allocation in `period` (0: none). 0 or -1 with a
 * Python exception. */
int pypper_alloc_sites_start(uint64_t period);
/* With the GIL: stop sampling, drop the sites and the code objects they hold (also
 * in a forked child: the references are the child's copies). */
void pypper_alloc_sites_stop(void);
/* The site recorded for the allocation of block (and forget it), or 0: unknown. */
uint32_t pypper_alloc_sites_take(const void *block);
/* The (code object, instruction index) of a site id: 1, or 0 for 0 / an unknown id. */
int pypper_alloc_site_key(uint32_t site, const void **code, int *offset);
/* "file:line (function)" of a site, or None for 0 / an unknown id. */
PyObject *pypper_alloc_site_describe(uint32_t site);

#endif
