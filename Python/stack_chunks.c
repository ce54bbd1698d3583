/* Python/stack_chunks.c: the readable-memory registry of the sampler (stack_chunks.h).
 * CPython 3.12 keeps frames in "data stack" chunks that it gets from, and returns
 * to, the object arena allocator (PyObject_SetArenaAllocator); frames of entry
 * calls live on the C stack, and generator frames inside generator objects (the
 * heap). While a session runs the allocator below records every chunk it hands out
 * and parks freed ones (reused for the next request of the same size) instead of
 * unmapping them, so a frame pointer read a moment ago never points at unmapped
 * memory. Entries are only appended while the session runs; the reader scans them
 * without locks. */
#define Py_BUILD_CORE 1
#include "stack_chunks.h"

#include "../Objects/heap.h"
#include "../Objects/track.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MAX_CHUNKS 256

typedef struct {
    char *base;
    size_t size;
    bool parked;       /* freed by the interpreter, kept mapped until the session ends */
    bool ours;         /* allocated through the registry (else: known from start) */
} chunk_record;

static chunk_record chunks[MAX_CHUNKS];
static atomic_size_t nchunks;
static PyObjectArenaAllocator previous;
static bool installed;
/* The sampled thread's C stack: [stack_lo, stack_hi), lo only ever decreases. */
static _Atomic uintptr_t stack_lo, stack_hi;
/* The reader was asked about memory just below stack_lo: the stack may have grown,
 * and the next refresh reads /proc/self/maps. Reading it at every hand-over cost
 * about 176,000 instructions (sscanf over the maps, plus the kernel's text) each time,
 * about 20% of a hand-over's instructions on churn.py. */
static atomic_bool stack_grew;
#define STACK_REACH ((uintptr_t)256 << 20)      /* how far below stack_hi that may be */

static void add_record(void *base, size_t size, bool ours)
{
    size_t n = atomic_load_explicit(&nchunks, memory_order_relaxed);
    if (n == MAX_CHUNKS)
        return;
    chunks[n] = (chunk_record){(char *)base, size, false, ours};
    atomic_store_explicit(&nchunks, n + 1, memory_order_release);
}

static void *chunk_alloc(void *ctx, size_t size)
{
    (void)ctx;
    size_t n = atomic_load_explicit(&nchunks, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        if (chunks[i].parked && chunks[i].size == size) {
            chunks[i].parked = false;
            return chunks[i].base;
        }
    }
    void *p = previous.alloc(previous.ctx, size);
    if (p)
        add_record(p, size, true);
    return p;
}

static void chunk_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    size_t n = atomic_load_explicit(&nchunks, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        if (chunks[i].base == ptr) {
            chunks[i].parked = true;
            chunks[i].size = size;
            return;
        }
    }
    previous.free(previous.ctx, ptr, size);
}

/* The mapping of /proc/self/maps that holds addr: [lo, hi). */
static int mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a <= addr && addr < b) {
            *lo = a;
            *hi = b;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

int pypper_stack_chunks_start(PyThreadState *tstate)
{
    if (installed)
        return 0;
    atomic_store(&nchunks, 0);
    for (_PyStackChunk *c = tstate->datastack_chunk; c; c = c->previous)
        add_record(c, c->size, false);
    int here;
    uintptr_t lo = 0, hi = 0;
    if (mapping_of((uintptr_t)&here, &lo, &hi) < 0)
        lo = hi = 0;            /* unknown: frames on the C stack are not read */
    atomic_store(&stack_lo, lo);
    atomic_store(&stack_hi, hi);
    PyObject_GetArenaAllocator(&previous);
    PyObjectArenaAllocator mine = {NULL, chunk_alloc, chunk_free};
    PyObject_SetArenaAllocator(&mine);
    installed = true;
    return 0;
}

void pypper_stack_chunks_refresh(void)
{
    int here;
    uintptr_t lo, hi;
    if (installed && atomic_load(&stack_hi) && atomic_exchange(&stack_grew, false)
        && mapping_of((uintptr_t)&here, &lo, &hi) == 0
        && hi == atomic_load(&stack_hi) && lo < atomic_load(&stack_lo))
        atomic_store(&stack_lo, lo);
}

void pypper_stack_chunks_stop(void)
{
    if (!installed)
        return;
    PyObject_SetArenaAllocator(&previous);
    size_t n = atomic_load(&nchunks);
    for (size_t i = 0; i < n; i++) {
        if (chunks[i].parked)
            previous.free(previous.ctx, chunks[i].base, chunks[i].size);
    }
    atomic_store(&nchunks, 0);
    atomic_store(&stack_lo, 0);
    atomic_store(&stack_hi, 0);
    atomic_store(&stack_grew, false);
    installed = false;
}

static bool heap_readable(const void *p, size_t len)
{
    return pypper_heap_probe_mapped(p) && pypper_heap_probe_mapped((const char *)p + len - 1);
}

bool pypper_stack_chunks_readable(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p, b = a + len;
    if (b < a)
        return false;
    uintptr_t lo = atomic_load_explicit(&stack_lo, memory_order_relaxed);
    uintptr_t hi = atomic_load_explicit(&stack_hi, memory_order_relaxed);
    if (a >= lo && b <= hi)
        return true;
    size_t n = atomic_load_explicit(&nchunks, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        uintptr_t base = (uintptr_t)chunks[i].base;
        if (a >= base && b <= base + chunks[i].size)
            return true;
    }
    if (heap_readable(p, len))
        return true;
    if (a < lo && b <= hi && hi - a <= STACK_REACH)
        atomic_store_explicit(&stack_grew, true, memory_order_relaxed);
    return false;
}
