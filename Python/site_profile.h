/* Python/site_profile.h: the allocation-site profile a previous run left
 * (PYPPER_PROFILE, Doc/profile.md): the cold sites it names, as (code fingerprint,
 * instruction) pairs, matched to this run's code objects as they are created (a code
 * watcher) or found (existing code at load), so the placement hook can send a cold
 * site's objects to slow-tier arenas from its first allocation. Also the fingerprint
 * itself, which the profile is written with. The file (JSON) is the Python package's
 * work (Lib/pypper/_profile.py); this holds only what the allocator's hook reads.
 * With the GIL throughout. */
#ifndef PYPPER_SITE_PROFILE_H
#define PYPPER_SITE_PROFILE_H

#include <Python.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A code object's identity across runs of the same program: its file, qualified
 * name, first line, length and line table. Equal code compiled from the same source
 * by this interpreter version gives the same value in every process; any edit of the
 * function (or a line moved above it) gives another. */
uint64_t pypper_code_fingerprint(PyCodeObject *co);

/* Replace the profile with these n cold sites (fingerprint, instruction index). With
 * n > 0 a code watcher is registered and the code objects passed in `existing` (an
 * iterable, or NULL) are matched now. 0, or -1 with a Python exception (too many
 * sites, no code watcher left). */
int pypper_site_profile_load(const uint64_t *fingerprints, const int *offsets, size_t n,
                             PyObject *existing);
/* Forget the profile (session end, and the forked child's): the watcher goes. */
void pypper_site_profile_clear(void);
/* Whether a profile with sites is loaded. */
bool pypper_site_profile_active(void);
/* Whether (code, offset) is a cold site of the profile matched in this process: one
 * slot of a direct-mapped table (NULL while no profile is loaded), inline because the
 * placement hook asks at every allocation. */
typedef struct {
    const void *code;
    int offset;
} pypper_profile_slot;
#define PYPPER_PROFILE_SLOTS 4096
extern pypper_profile_slot *pypper_site_profile_match;

static inline size_t pypper_site_profile_slot(const void *code, int offset)
{
    uint64_t h = ((uint64_t)(uintptr_t)code * 31 + (uint64_t)offset) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 40) & (PYPPER_PROFILE_SLOTS - 1);
}

static inline bool pypper_site_profile_cold(const void *code, int offset)
{
    const pypper_profile_slot *t = pypper_site_profile_match;
    if (!t)
        return false;
    const pypper_profile_slot *m = &t[pypper_site_profile_slot(code, offset)];
    return m->code == code && m->offset == offset;
}
/* This run's own statistics say the site is not cold: it leaves the set. */
void pypper_site_profile_overrule(const void *code, int offset);
/* {"sites" (loaded), "code_objects" (matched), "matched_sites", "collisions",
 * "overruled"}. */
PyObject *pypper_site_profile_stats(void);

#endif
