/* Python/attr_reads.c: the attributes a frame's code reads from its locals
 * (attr_reads.h). A code object is scanned once per reader, instruction by
 * instruction (each skipping its inline caches), for a local load followed by an
 * attribute load; at each use the two instructions are checked again (the address may
 * have gone to another code object) and the attribute instruction's current
 * specialization says where the value lies. Every read is relaxed and every pointer
 * is bounded first: the program's thread may be changing what is read. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
/* CPython's own tables of instruction families and inline cache sizes, defined here
 * under names of Pypper's (libpython keeps its copies hidden): the installed headers
 * are those of the interpreter whose code is read. */
#define _PyOpcode_Jump pypper_opcode_jump      /* (not used) */
#define _PyOpcode_Caches pypper_opcode_caches
#define _PyOpcode_Deopt pypper_opcode_deopt
#define NEED_OPCODE_TABLES
#include "internal/pycore_opcode.h"
#undef NEED_OPCODE_TABLES
#include "internal/pycore_code.h"

#include "attr_reads.h"
#include "frame_reader.h"
#include "stack_chunks.h"

#include "../Objects/residency.h"
#include "../Objects/track.h"
#include "../Pypper/code_size.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define FOREIGN_READER PYPPER_FOREIGN_READER
#define SCAN_MAX_UNITS 16384u       /* longer code objects are not scanned */
#define CHAIN_MAX 3u                /* attribute loads in a row followed */
/* Built for size (Pypper/code_size.h): it runs for a few locals a read. */
#define SMALL_CODE PYPPER_SMALL_CODE

/* Loads of a local that leave it on the stack for the next instruction. (The first
 * instruction of a superinstruction is its unit's, the second keeps its own: the unit
 * before an attribute load is a plain LOAD_FAST, but the others cost nothing.) */
static inline bool loads_local(uint8_t op)
{
    return op == LOAD_FAST || op == LOAD_FAST_CHECK || op == LOAD_FAST__LOAD_CONST
           || op == LOAD_FAST__LOAD_FAST;
}

static inline bool loads_attr(uint8_t op) { return pypper_opcode_deopt[op] == LOAD_ATTR; }

static inline uint8_t op_of(const _Py_CODEUNIT *u) { return LOAD(u->op.code); }
static inline uint8_t arg_of(const _Py_CODEUNIT *u) { return LOAD(u->op.arg); }

/* The inline cache units after an instruction. sys.monitoring (`pypper run`'s capture,
 * cProfile) rewrites some instructions in place as INSTRUMENTED_* ones, which keep
 * their caches (CPython 3.12's Python/instrumentation.c, DE_INSTRUMENT); -1 for the
 * two that keep the instruction they replace elsewhere (lines, instructions). */
static int caches_after(uint8_t op)
{
    switch (op) {
    case INSTRUMENTED_CALL: return pypper_opcode_caches[CALL];
    case INSTRUMENTED_FOR_ITER: return pypper_opcode_caches[FOR_ITER];
    case INSTRUMENTED_LOAD_SUPER_ATTR: return pypper_opcode_caches[LOAD_SUPER_ATTR];
    case INSTRUMENTED_LINE:
    case INSTRUMENTED_INSTRUCTION: return -1;
    default:
        return op >= MIN_INSTRUMENTED_OPCODE ? 0 : pypper_opcode_caches[pypper_opcode_deopt[op]];
    }
}

static inline bool aligned8(const void *p) { return ((uintptr_t)p & 7) == 0; }

/* Whether [p, p + len) may be read: in the heap's committed memory, no page of it
 * sent to swap by the pageout backend. */
static SMALL_CODE __attribute__((noinline)) bool heap_readable(const void *p, size_t len)
{
    const char *a = p, *last = a + len - 1;
    if (!pypper_heap_probe_mapped(a) || !pypper_heap_probe_mapped(last))
        return false;
    for (uintptr_t page = (uintptr_t)a & ~(uintptr_t)4095; page <= (uintptr_t)last; page += 4096)
        if (!pypper_residency_may_touch(page < (uintptr_t)a ? a : (const void *)page))
            return false;
    return true;
}

/* Whether [p, p + len) may be read, in a frame-stack chunk or in the heap (a code
 * object: stack_chunks.h). */
static inline bool code_readable(const void *p, size_t len)
{
    return pypper_stack_chunks_readable(p, len)
           && (!pypper_heap_probe_mapped(p) || heap_readable(p, len));
}

/* The code's instructions, or NULL when they cannot be read. */
FOREIGN_READER SMALL_CODE static const _Py_CODEUNIT *code_units(PyCodeObject *code, uint32_t *units)
{
    if (!aligned8(code) || !code_readable(code, sizeof(PyCodeObject))
        || LOAD(((PyObject *)code)->ob_type) != &PyCode_Type)
        return NULL;
    Py_ssize_t n = LOAD(((PyVarObject *)code)->ob_size);
    if (n <= 1 || (size_t)n > SCAN_MAX_UNITS)
        return NULL;
    const _Py_CODEUNIT *u = _PyCode_CODE(code);
    if (!code_readable(u, (size_t)n * sizeof(_Py_CODEUNIT)))
        return NULL;
    *units = (uint32_t)n;
    return u;
}

/* The attribute instruction of the site at `at`, checked again: still after a load
 * of `local` (an EXTENDED_ARG may lie between: an attribute name past the 128th).
 * (Not what precedes the load: it may be another instruction's inline cache, whose
 * bits would read as anything.) */
static inline bool site_holds(const _Py_CODEUNIT *u, uint32_t at, int local)
{
    uint32_t load = at - 1;
    if (op_of(&u[load]) == EXTENDED_ARG)
        load--;
    return load < at && loads_local(op_of(&u[load])) && arg_of(&u[load]) == local
           && loads_attr(op_of(&u[at]));
}

/* Scans code into e: each local load followed by an attribute load, once per local and
 * attribute name. A code object instrumented for lines or instructions (a tracer,
 * coverage) keeps some of its instructions elsewhere: none then, until its
 * instrumentation changes. */
FOREIGN_READER SMALL_CODE static void scan(pypper_attr_code *e, PyCodeObject *code,
                                           const _Py_CODEUNIT *u, uint32_t units)
{
    e->code = code;
    e->name = LOAD(code->co_name);
    e->version = LOAD(code->_co_instrumentation_version);
    e->units = units;
    e->n = 0;
    bool extended = false;          /* the unit before is an EXTENDED_ARG */
    for (uint32_t j = 0; j < units;) {
        uint8_t op = op_of(&u[j]);
        int caches = caches_after(op);
        if (caches < 0) {
            e->n = 0;
            return;
        }
        if (loads_local(op) && !extended && e->n < PYPPER_ATTR_SITES) {
            uint32_t at = j + 1 < units && op_of(&u[j + 1]) == EXTENDED_ARG ? j + 2 : j + 1;
            if (at < units && loads_attr(op_of(&u[at]))) {
                uint8_t local = arg_of(&u[j]), name = arg_of(&u[at]);
                bool known = false;
                for (unsigned s = 0; s < e->n && !known; s++)
                    known = e->local[s] == local && arg_of(&u[e->at[s]]) == name;
                if (!known) {
                    e->local[e->n] = local;
                    e->at[e->n] = (uint16_t)at;
                    e->n++;
                }
            }
        }
        extended = op == EXTENDED_ARG;
        j += 1 + (uint32_t)caches;
    }
}

/* code's entry in the cache, scanned if it is not there or changed. */
FOREIGN_READER SMALL_CODE static pypper_attr_code *entry_of(pypper_attr_cache *cache, PyCodeObject *code,
                                                            const _Py_CODEUNIT *u, uint32_t units)
{
    uint64_t h = ((uintptr_t)code >> 4) * 0x9E3779B97F4A7C15ull;
    unsigned set = (unsigned)(h >> (64 - 5));
    pypper_attr_code *ways = cache->code[set];
    for (unsigned w = 0; w < 2; w++) {
        pypper_attr_code *e = &ways[w];
        if (e->code == code && e->units == units && e->name == LOAD(code->co_name)
            && e->version == LOAD(code->_co_instrumentation_version)) {
            cache->lately[set] = (uint8_t)w;
            return e;
        }
    }
    unsigned w = cache->lately[set] ^ 1u;
    cache->lately[set] = (uint8_t)w;
    scan(&ways[w], code, u, units);
    cache->scans++;
    return &ways[w];
}
_Static_assert(PYPPER_ATTR_SETS == 32, "entry_of takes 5 bits");

/* The value that the attribute instruction at u (a specialized one, with its inline
 * cache after it) loads from owner, or NULL. */
FOREIGN_READER SMALL_CODE static PyObject *attr_value(const _Py_CODEUNIT *u, PyObject *owner)
{
    uint8_t op = op_of(u);
    if (op != LOAD_ATTR_SLOT && op != LOAD_ATTR_INSTANCE_VALUE)
        return NULL;
    const _PyAttrCache *c = (const _PyAttrCache *)(u + 1);
    uint32_t version = (uint32_t)LOAD(c->version[0]) | (uint32_t)LOAD(c->version[1]) << 16;
    uint16_t index = LOAD(c->index);
    /* The owner's type is the one the instruction was specialized for (a heap type:
     * the classes these serve are the program's). */
    if (!heap_readable(owner, sizeof(PyObject)))
        return NULL;
    PyTypeObject *type = LOAD(owner->ob_type);
    if (!aligned8(type) || !heap_readable(type, offsetof(PyTypeObject, tp_version_tag) + sizeof(unsigned int))
        || LOAD(type->tp_version_tag) != version || version == 0)
        return NULL;
    if (op == LOAD_ATTR_SLOT) {
        /* A __slots__ member: `index` bytes into the object. */
        if ((index & 7) || !heap_readable((char *)owner + index, sizeof(PyObject *)))
            return NULL;
        return LOAD(*(PyObject **)((char *)owner + index));
    }
    /* Inline values: the word three words before the object holds the values
     * array's address less one (an odd value; CPython 3.12's _PyDictOrValues), or a
     * dict's. */
    PyObject **dorv = (PyObject **)owner - 3;
    if (!heap_readable(dorv, sizeof(PyObject *)))
        return NULL;
    uintptr_t tagged = (uintptr_t)LOAD(*dorv);
    if (!(tagged & 1))
        return NULL;            /* a dict now: the instruction would deoptimize */
    PyObject **values = (PyObject **)(tagged + 1);
    if (!aligned8(values) || !heap_readable(values + index, sizeof(PyObject *)))
        return NULL;
    return LOAD(values[index]);
}

FOREIGN_READER SMALL_CODE int pypper_attr_reads(pypper_attr_cache *cache, PyCodeObject *code, int local,
                                                PyObject *owner, PyObject *out[PYPPER_ATTR_MAX])
{
    if (local < 0 || local > 255)
        return 0;
    uint32_t units;
    const _Py_CODEUNIT *u = code_units(code, &units);
    if (!u)
        return 0;
    pypper_attr_code *e = entry_of(cache, code, u, units);
    int n = 0;
    for (int s = 0; s < e->n && n < PYPPER_ATTR_MAX; s++) {
        if (e->local[s] != local)
            continue;
        uint32_t at = e->at[s];
        /* The address may hold another code object now: scanned again at its next
         * use. */
        if (at >= units || !site_holds(u, at, local)) {
            e->code = NULL;
            break;
        }
        /* A chain (`self.table.keys`, `e.val.data`): each attribute load right after
         * the last one reads from what that loaded, CHAIN_MAX deep. */
        PyObject *from = owner;
        for (unsigned depth = 0; depth < CHAIN_MAX && n < PYPPER_ATTR_MAX; depth++) {
            if (at + 1 + sizeof(_PyAttrCache) / sizeof(_Py_CODEUNIT) > units
                || (depth && !loads_attr(op_of(&u[at]))))
                break;
            PyObject *v = attr_value(&u[at], from);
            if (!v)
                break;
            bool dup = false;
            for (int k = 0; k < n; k++)
                dup |= out[k] == v;
            if (!dup)
                out[n++] = v;
            from = v;
            at += 1 + (uint32_t)pypper_opcode_caches[LOAD_ATTR];
        }
    }
    return n;
}

uint64_t pypper_attr_scans(const pypper_attr_cache *cache)
{
    return __atomic_load_n(&cache->scans, __ATOMIC_RELAXED);
}
