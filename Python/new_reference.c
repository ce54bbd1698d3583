/* Python/new_reference.c: python3's own _Py_NewReference, which libpython's object
 * constructors call (through its PLT) for every object they make, from a fresh block
 * or from a free list. It does what CPython 3.12's does (a release build: the
 * reference count set to 1, tracemalloc told when it traces) and, while a session
 * records allocation sites, tells them (alloc_sites.h: pypper_alloc_sites_new_object).
 * A list, dict, tuple or float taken from its type's free list reuses the block of
 * one that died without the allocator seeing either: the block's recorded site would
 * otherwise stay the dead object's line (a newcomer's request handler showed its
 * carts' 5.6 MiB at the line before, which made a temporary list, 2026-12-06).
 *
 * Only in the drop-in executable (the extension module loaded into a stock python3.12
 * cannot replace it): where libpython binds its own calls directly (built with
 * -fno-semantic-interposition), this is never called and sites are as they were;
 * pypper_alloc_sites_objects_seen says whether it was. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_runtime.h"
#include "internal/pycore_object.h"     /* _PyType_PreHeaderSize */
#include "alloc_sites.h"
/* (CPython's obmalloc names its own geometry so: unused here, and not the heap's.) */
#undef ARENA_SIZE
#undef POOL_SIZE
#include "../Objects/heap_layout.h" /* the pool marks (read only) */

#include <dlfcn.h>

#if defined(Py_REF_DEBUG) || defined(Py_TRACE_REFS)
#error "new_reference.c mirrors a release build's _Py_NewReference"
#endif

/* The types whose free lists recycle blocks in 3.12 that are worth a check: lists,
 * tuples and dicts (and their subclasses, which take no free list: the check finds
 * nothing). Floats are not checked: a float-heavy loop makes an object every few
 * hundred instructions, and the check cost it 8% more (nbody.py, callgrind,
 * 2026-12-06); a number may keep a temporary's line. */
#define FREE_LIST_TYPES (Py_TPFLAGS_LIST_SUBCLASS | Py_TPFLAGS_TUPLE_SUBCLASS | Py_TPFLAGS_DICT_SUBCLASS)

/* libpython's own, for when tracemalloc traces (it updates the block's traceback). */
static void (*libpython_new_reference)(PyObject *);

static __attribute__((noinline, cold)) void traced_new_reference(PyObject *op)
{
    if (!libpython_new_reference)
        libpython_new_reference = (void (*)(PyObject *))dlsym(RTLD_NEXT, "_Py_NewReference");
    if (libpython_new_reference)
        libpython_new_reference(op);
    else
        op->ob_refcnt = 1;
}

/* Whether block (an object's, in the heap or not) is named by its pool's mark: only
 * then may it be the recorded block that a free list gave back. Tested here, inline:
 * a call for each list, tuple and dict made cost Tools/bench/programs/churn.py 2% of
 * its instructions while sites were recorded (callgrind, 2026-12-08); most blocks are
 * not their pool's recorded one. */
static inline bool marked_block(const char *block)
{
    return layout_owns(block) && layout_pool(block)->mark.opener == layout_mark_opener(block);
}

void _Py_NewReference(PyObject *op)
{
    if (__builtin_expect(_PyRuntime.tracemalloc.config.tracing, 0))
        traced_new_reference(op);
    else
        op->ob_refcnt = 1;
    if (__builtin_expect(pypper_alloc_sites_watching, 0)) {
        PyTypeObject *type = Py_TYPE(op);
        if (type->tp_flags & FREE_LIST_TYPES) {
            pypper_alloc_sites_objects_seen = true;
            const char *block = (const char *)op - _PyType_PreHeaderSize(type);
            if (__builtin_expect(marked_block(block), 0))
                pypper_alloc_sites_new_object(block);
        }
    }
}
