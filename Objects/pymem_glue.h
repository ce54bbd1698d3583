/* Objects/pymem_glue.h: installs Pypper's heap as CPython's allocator for the MEM
 * and OBJ domains. */
#ifndef PYPPER_PYMEM_GLUE_H
#define PYPPER_PYMEM_GLUE_H

typedef enum {
    PYPPER_INSTALL_REPLACE,   /* drop-in, before Py_Initialize: serves everything */
    PYPPER_INSTALL_WRAP,      /* extension module: wraps the allocator in place */
} pypper_install_mode;

/* 0 when installed (or already installed), -1 when the heap could not reserve its
 * address space or the address space is limited (RLIMIT_AS): CPython's allocator
 * stays (logged). */
int pypper_pymem_install(pypper_install_mode mode);
/* Give the heap cfg's retention options (RETAIN_MAX, RETAIN_DELAY_MS). */
struct pypper_config;
void pypper_pymem_apply_retention(const struct pypper_config *cfg);
/* "replace", "wrap" or "none". */
const char *pypper_pymem_mode(void);

#endif
