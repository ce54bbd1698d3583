/* Objects/pymem_glue.c: puts the heap behind PyMem_Malloc and PyObject_Malloc. The
 * previous allocator of each domain is kept as the fallback that receives blocks the
 * heap does not own (in an extension module: everything allocated before the import).
 * The raw domain's calloc watches for the creation of another interpreter, which may
 * have its own GIL, and switches the heap to locking from then on. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_interp.h"

#include "pymem_glue.h"

#include "../Pypper/log.h"
#include "../Pypper/options.h"
#include "heap.h"
#include "../Pypper/code_size.h"

#include <string.h>
#include <sys/resource.h>

static pypper_heap_fallback previous[2];   /* [0] MEM, [1] OBJ */
static const char *installed_mode = "none";

/* Another interpreter, which may have its own GIL, is made by a call of
 * PyMem_RawCalloc(1, sizeof(PyInterpreterState)) (CPython 3.12's alloc_interpreter,
 * Python/pystate.c: the main interpreter is static) while its creator still holds the
 * GIL of the interpreter it is made from, before it is linked in or allocates
 * anything here. The raw domain's calloc is watched for it; any other call of that
 * size only turns locking on sooner. (Until 2026-12-06 an audit hook watched for the
 * event "cpython.PyInterpreterState_New": with any hook installed, every audit event
 * of the program builds its arguments, about 80 ns each here, and a coverage-like
 * line tracer, which audits each `frame.f_code`, used 1.18x stock's CPU time.) */
static PyMemAllocatorEx raw_previous;

static void *raw_calloc_watched(void *ctx, size_t nelem, size_t elsize)
{
    if (nelem == 1 && elsize == sizeof(PyInterpreterState) && !pypper_heap_locking()) {
        pypper_heap_enable_locking();
        pypper_log(PYPPER_LOG_INFO, "another interpreter is being created: the heap now locks");
    }
    return raw_previous.calloc(ctx, nelem, elsize);
}

static void watch_interpreters(void)
{
    PyMemAllocatorEx raw;
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw_previous);
    raw = raw_previous;
    raw.calloc = raw_calloc_watched;
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
}

static void install_domain(PyMemAllocatorDomain domain, pypper_heap_fallback *prev)
{
    PyMemAllocatorEx old, mine;
    PyMem_GetAllocator(domain, &old);
    memcpy(prev, &old, sizeof(*prev));
    mine.ctx = prev;
    mine.malloc = pypper_heap_domain_malloc;
    mine.calloc = pypper_heap_domain_calloc;
    mine.realloc = pypper_heap_domain_realloc;
    mine.free = pypper_heap_domain_free;
    PyMem_SetAllocator(domain, &mine);
}

/* Under an RLIMIT_AS (`ulimit -v`) below AS_LIMIT_MIN the heap is not installed: its
 * reservation (PROT_NONE, but counted; about 130 GiB at most) would take address space
 * that stock python3.12 leaves to the program, whose large allocations would then fail
 * where stock's succeed (under a 6,000,000 KB limit a 2,500 MiB bytearray raised
 * MemoryError; at 2,150,000 KB or less every process warned that it could not reserve
 * the heap). CPython's allocator serves the program exactly as stock; a session runs
 * without placement. A limit of 1 TiB or more leaves the program 7/8 of it at least. */
#define AS_LIMIT_MIN ((rlim_t)1 << 40)

static bool address_space_limited(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < AS_LIMIT_MIN;
}

PYPPER_SMALL_CODE int pypper_pymem_install(pypper_install_mode mode)
{
    if (strcmp(installed_mode, "none") != 0)
        return 0;
    if (address_space_limited()) {
        pypper_log(PYPPER_LOG_INFO, "the address space is limited (RLIMIT_AS, ulimit -v): "
                                    "the tiered heap is off, CPython's allocator stays in use");
        return -1;
    }
    if (pypper_heap_init() < 0) {
        pypper_log(PYPPER_LOG_WARN, "cannot reserve address space for the tiered heap; "
                                    "CPython's allocator stays in use");
        return -1;
    }
    _Static_assert(sizeof(pypper_heap_fallback) == sizeof(PyMemAllocatorEx),
                   "pypper_heap_fallback must mirror PyMemAllocatorEx");
    install_domain(PYMEM_DOMAIN_MEM, &previous[0]);
    install_domain(PYMEM_DOMAIN_OBJ, &previous[1]);
    watch_interpreters();
    installed_mode = mode == PYPPER_INSTALL_REPLACE ? "replace" : "wrap";
    return 0;
}

void pypper_pymem_apply_retention(const pypper_config *cfg)
{
    const pypper_size *max = &cfg->retain_max;
    pypper_heap_set_retention(max->is_percent ? 0 : max->bytes, max->is_percent ? max->percent : 0.0,
                              (uint32_t)cfg->retain_delay_ms);
}

const char *pypper_pymem_mode(void) { return installed_mode; }
