/* Python/frame_reader.c: reading a thread's Python frames without the GIL
 * (frame_reader.h). The frames of CPython 3.12 live in the thread's data-stack chunks
 * and, for entry calls, on its C stack; every pointer is checked for alignment and for
 * lying in memory that stays mapped for the session (stack_chunks.h) before it is read,
 * and every read is relaxed: the thread may be changing what is read. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "opcode.h"
#include "internal/pycore_list.h"
#include "internal/pycore_tuple.h"

#include "frame_reader.h"
#include "stack_chunks.h"

#include "../Objects/residency.h"
#include "../Objects/track.h"

#define MAX_DEPTH PYPPER_FRAME_MAX_DEPTH
#define MAX_SLOTS PYPPER_FRAME_MAX_SLOTS
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

#define FOREIGN_READER PYPPER_FOREIGN_READER

static inline bool aligned8(const void *p) { return ((uintptr_t)p & 7) == 0; }

_Static_assert(MAX_SLOTS <= 64, "pypper_frame_read.fresh has a bit per slot");

static int pauses;              /* pypper_frames_pause_begin/end, nested */

void pypper_frames_pause_begin(void) { __atomic_fetch_add(&pauses, 1, __ATOMIC_RELAXED); }
void pypper_frames_pause_end(void) { __atomic_fetch_sub(&pauses, 1, __ATOMIC_RELAXED); }

/* CPython 3.12's instructions (specialized ones included) that hand their operands to
 * C code that may read every item of a list or tuple among them: calls of C functions
 * and methods (sum(col), sorted(col), tuple(col), col.index(x)) and calls not yet
 * specialized, slices, `in`, comparisons, unpacking, extending. Not len(),
 * subscripts by an index, list.append(), isinstance(), calls of Python functions
 * (whose own frames show what they read): a program that picks items, as
 * random.choice(seq) does, reads one item per use of the list. Nor BINARY_OP: it is
 * mostly arithmetic, and `list + list` is rare in a hot loop. */
static const bool scans_operands[256] = {
    [CALL] = true, [CALL_FUNCTION_EX] = true, [INSTRUMENTED_CALL] = true,
    [INSTRUMENTED_CALL_FUNCTION_EX] = true, [CALL_BUILTIN_CLASS] = true,
    [CALL_BUILTIN_FAST_WITH_KEYWORDS] = true, [CALL_METHOD_DESCRIPTOR_FAST_WITH_KEYWORDS] = true,
    [CALL_NO_KW_BUILTIN_FAST] = true, [CALL_NO_KW_BUILTIN_O] = true,
    [CALL_NO_KW_METHOD_DESCRIPTOR_FAST] = true, [CALL_NO_KW_METHOD_DESCRIPTOR_NOARGS] = true,
    [CALL_NO_KW_METHOD_DESCRIPTOR_O] = true, [CALL_NO_KW_STR_1] = true,
    [CALL_NO_KW_TUPLE_1] = true, [CALL_INTRINSIC_1] = true, [BINARY_SUBSCR] = true,
    [BINARY_SLICE] = true, [STORE_SLICE] = true, [CONTAINS_OP] = true, [COMPARE_OP] = true,
    [LIST_EXTEND] = true, [SET_UPDATE] = true, [UNPACK_SEQUENCE] = true,
    [UNPACK_SEQUENCE_LIST] = true, [UNPACK_SEQUENCE_TUPLE] = true, [UNPACK_EX] = true,
};

/* Whether instr, the instruction a frame runs (the last one started: 3.12 stores
 * prev_instr as each one starts), is one of scans_operands. */
FOREIGN_READER static bool runs_a_scan(const _Py_CODEUNIT *instr)
{
    if (((uintptr_t)instr & 1) || !pypper_stack_chunks_readable(instr, sizeof(*instr)))
        return false;
    return scans_operands[LOAD(instr->op.code)];
}

/* Whether p is worth reporting: a pointer into the heap's committed memory. A traced
 * object is the start of a tracked block, or just after a GC header (16 bytes) or a
 * GC header plus the managed dict/weakref pointers (32); anything else there may be
 * an object without an entry, whose evidence goes to its page (page_heat.h). */
static bool heap_candidate(const void *p)
{
    uintptr_t a = (uintptr_t)p;         /* integers: p may be any bit pattern */
    return a >= 32 && !(a & 15) && pypper_heap_probe_mapped((const void *)a);
}

/* Whether p may be a traced object: the start of a tracked block, or just after a GC
 * header (16 bytes) or a GC header plus the managed dict/weakref pointers (32). */
static bool traced_candidate(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return pypper_heap_probe_tracked((const void *)a) || pypper_heap_probe_tracked((const void *)(a - 16))
           || pypper_heap_probe_tracked((const void *)(a - 32));
}

/* The container a for loop walks: `for x in seq` keeps an iterator in the frame, not
 * seq, so the frames would show a list, tuple, dict or set only for the bytecode that
 * fetches it. For an iterator of those types, the container it holds (NULL when the
 * iterator is exhausted or p is not one). p is a pointer into the heap's committed
 * memory, read only where the pageout backend has not sent the page to swap; what it
 * holds may be stale (the receiver checks any pointer against the object table). The
 * dict and set iterators' first field is their dict or set (dictiterobject in
 * Objects/dictobject.c, setiterobject in Objects/setobject.c); a reversed list
 * iterator's second (listreviterobject, Objects/listobject.c). (Until 2026-12-05 sets
 * were not followed: a newcomer's BFS over a dict of sets, `for v in adj[u]`, showed
 * half of its hot community's sets cold; with `nb = adj[u]` first, all hot.) */
FOREIGN_READER static PyObject *walked_by(PyObject *p, PyTypeObject *type)
{
    PyObject *seq;
    if (type == &PyListIter_Type)
        seq = (PyObject *)LOAD(((_PyListIterObject *)p)->it_seq);
    else if (type == &PyTupleIter_Type)
        seq = (PyObject *)LOAD(((_PyTupleIterObject *)p)->it_seq);
    else if (type == &PyDictIterKey_Type || type == &PyDictIterValue_Type
             || type == &PyDictIterItem_Type || type == &PyDictRevIterKey_Type
             || type == &PyDictRevIterValue_Type || type == &PyDictRevIterItem_Type
             || type == &PySetIter_Type)
        seq = LOAD(*(PyObject **)((char *)p + sizeof(PyObject)));
    else if (type == &PyListRevIter_Type)
        seq = LOAD(*(PyObject **)((char *)p + sizeof(PyObject) + sizeof(Py_ssize_t)));
    else
        return NULL;
    return seq && heap_candidate(seq) ? seq : NULL;
}

/* Whether the object at p (a pointer into the heap's committed memory) may be read up
 * to `bytes` in: committed that far, and not sent to swap by the pageout backend. */
FOREIGN_READER static bool readable_object(const void *p, size_t bytes)
{
    return pypper_heap_probe_mapped((const char *)p + bytes - 1) && pypper_residency_may_touch(p);
}

/* enumerate's and zip's objects (enumobject in Objects/enumobject.c, zipobject in
 * Python/bltinmodule.c: not in CPython's headers; used only while the types' sizes
 * say the layout is this one). */
typedef struct {
    PyObject_HEAD
    Py_ssize_t en_index;
    PyObject *en_sit;
    PyObject *en_result;
    PyObject *en_longindex;
    PyObject *one;              /* (CPython 3.12.1's: the size check leaves another
                                   layout unread) */
} enum_layout;

typedef struct {
    PyObject_HEAD
    Py_ssize_t tuplesize;
    PyObject *ittuple;
    PyObject *result;
    int strict;
} zip_layout;

/* The containers a loop's iterator p walks, into seq[0..1]; returns how many (0: p is
 * none of the iterators above, or exhausted). An enumerate() of one of them walks it;
 * a zip() walks the first two of its iterables that are (`for a, b in zip(u, v)` reads
 * every item of u and v: a newcomer's embedding table computed its dot products so,
 * and the user vectors every request read showed 16-41 KiB hot of 1.4 MiB). */
FOREIGN_READER static int iterated(PyObject *p, PyObject *seq[2])
{
    /* (The last field read ends 32 bytes in: that must be committed too.) */
    if (!readable_object(p, 32))
        return 0;
    PyTypeObject *type = LOAD(p->ob_type);
    if (type == &PyEnum_Type && PyEnum_Type.tp_basicsize == sizeof(enum_layout)
        && readable_object(p, sizeof(enum_layout))) {
        PyObject *it = LOAD(((enum_layout *)p)->en_sit);
        if (!it || !heap_candidate(it) || !readable_object(it, 32))
            return 0;
        return (seq[0] = walked_by(it, LOAD(it->ob_type))) != NULL;
    }
    if (type == &PyZip_Type && PyZip_Type.tp_basicsize == sizeof(zip_layout)) {
        PyObject *its = LOAD(((zip_layout *)p)->ittuple);
        if (!its || !heap_candidate(its) || !readable_object(its, sizeof(PyTupleObject))
            || LOAD(its->ob_type) != &PyTuple_Type)
            return 0;
        Py_ssize_t size = LOAD(((PyVarObject *)its)->ob_size);
        int n = 0;
        for (Py_ssize_t k = 0; k < size && k < 2; k++) {
            if (!readable_object(its, sizeof(PyTupleObject) + (size_t)k * sizeof(PyObject *)))
                break;
            PyObject *it = LOAD(((PyTupleObject *)its)->ob_item[k]);
            if (it && heap_candidate(it) && readable_object(it, 32)
                && (seq[n] = walked_by(it, LOAD(it->ob_type))) != NULL)
                n++;
        }
        return n;
    }
    return (seq[0] = walked_by(p, type)) != NULL;
}

/* The number of f's slots to read, in *nlocals how many of them are its locals (with
 * cells and free variables; the value stack follows them), and in *whole how many its
 * locals and whole value stack are (at least the slots to read, at most MAX_SLOTS). */
FOREIGN_READER static int frame_slots(_PyInterpreterFrame *f, int *nlocals, int *whole)
{
    *nlocals = 0;
    int top = LOAD(f->stacktop);
    PyCodeObject *code = LOAD(f->f_code);
    bool readable = aligned8(code) && pypper_stack_chunks_readable(code, sizeof(PyCodeObject));
    /* Read racily: either may be garbage, so each is bounded before they are added. */
    int locals = readable ? LOAD(code->co_nlocalsplus) : 0;
    int stack = readable ? LOAD(code->co_stacksize) : 0;
    if (locals > 0)
        *nlocals = locals < MAX_SLOTS ? locals : MAX_SLOTS;
    long all = locals >= 0 && stack >= 0 ? (long)locals + stack : 0;
    if (all > MAX_SLOTS)
        all = MAX_SLOTS;
    int n;
    if (top >= 0)
        n = top < MAX_SLOTS ? top : MAX_SLOTS;
    /* The running frame keeps its stack pointer in a register: read its locals and
     * its whole value stack. Slots above the live top still hold what was popped
     * last (objects used a moment ago; a freed one fails the receiver's checks). */
    else if (!readable || locals < 0)
        n = 0;
    else if (locals >= MAX_SLOTS || stack <= 0)
        n = locals < MAX_SLOTS ? locals : MAX_SLOTS;
    else
        n = (int)all;
    *whole = all > n ? (int)all : n;
    return n;
}

/* The objects f's code reads by attribute from its local i, which newly holds p:
 * evidence of the same kind as p's. */
FOREIGN_READER static void attrs_of_local(pypper_frame_memory *mem, _PyInterpreterFrame *f, int i,
                                          PyObject *p, pypper_evidence kind,
                                          pypper_frame_sink sink, void *ctx,
                                          pypper_frame_counts *counts)
{
    PyObject *values[PYPPER_ATTR_MAX];
    int n = pypper_attr_reads(&mem->attrs, LOAD(f->f_code), i, p, values);
    for (int k = 0; k < n; k++)
        if (heap_candidate(values[k])) {     /* (NULL is none) */
            sink(ctx, values[k], kind);
            counts->attr_evidence++;
        }
}

static bool listed(const void *const *list, int n, const void *f)
{
    for (int j = 0; j < n; j++)
        if (list[j] == f)
            return true;
    return false;
}

FOREIGN_READER bool pypper_frames_read(PyThreadState *ts, int depth, pypper_frame_memory *mem,
                                       pypper_frame_sink sink, void *ctx,
                                       pypper_frame_counts *counts)
{
    bool moved = false;
    _PyCFrame *cf = LOAD(ts->cframe);
    if (!aligned8(cf) || (cf != &ts->root_cframe && !pypper_stack_chunks_readable(cf, sizeof(*cf))))
        return false;
    _PyInterpreterFrame *f = LOAD(cf->current_frame);
    counts->frame_samples++;
    /* A collection or Pypper's own code stops the program's frames: what their value
     * stacks hold is not read by C code meanwhile (no SCAN). (Held evidence goes on:
     * without it, the accuracy benchmark's zipf_kv and young measured the same or
     * slightly lower, capture@10% 0.763/0.763 against 0.763/0.780 and 0.890/0.890
     * against 0.918/0.898 in alternated runs.) */
    PyInterpreterState *interp = LOAD(ts->interp);
    bool paused = LOAD(pauses) > 0 || (interp && aligned8(interp) && LOAD(interp->gc.collecting));
    /* Following an iterator reads the header of the object in the slot, a line the
     * program writes (its reference count): in one read of 8 only (measured: following
     * at every read took the tracing overhead's geometric mean from 1.14 to 1.19). */
    bool follow = (mem->reads++ & (PYPPER_FOLLOW_EVERY - 1)) == 0;
    if (depth > MAX_DEPTH)
        depth = MAX_DEPTH;
    const pypper_frame_read *old = &mem->buf[mem->last];
    pypper_frame_read *now = &mem->buf[mem->last ^ 1u];
    int d = 0;
    bool via_c = false;         /* an entry shim lies between this frame and the last */
    /* The read ended early: a frame it could not read, or a chain that did not end at
     * the thread's first entry shim (every chain of 3.12 frames does, its `previous`
     * NULL: a read that found a frame's `previous` NULL read a frame being set up or
     * taken down, such as a C frame's first frame before it was linked). */
    bool cut = false;
    bool shim_last = false;     /* the last frame met was an entry shim */
    int hops = 0;
    for (; f && d < depth && hops < 4 * MAX_DEPTH; hops++) {
        if (!aligned8(f) || !pypper_stack_chunks_readable(f, offsetof(_PyInterpreterFrame, localsplus))) {
            cut = true;
            break;
        }
        _PyInterpreterFrame *up = LOAD(f->previous);
        shim_last = LOAD(f->owner) == FRAME_OWNED_BY_CSTACK;
        if (shim_last) {                                    /* an entry shim */
            via_c = true;
            f = up;
            continue;
        }
        int nlocals, whole;
        int n = frame_slots(f, &nlocals, &whole);
        /* A calling frame's slots above the stack's top (what it popped last) are
         * recorded too, without evidence, so that a read after the return tells what
         * it pushes then from what was there before (SCAN needs a slot pushed for the
         * instruction). Evidence compares the slots shown at the last read only (a
         * slot not shown then is new, as before). */
        int recorded = d > 0 ? whole : n;
        if (recorded && !pypper_stack_chunks_readable(f->localsplus, (size_t)recorded * sizeof(PyObject *)))
            n = recorded = 0;
        /* This frame in the previous read, at whatever depth it was (calls and
         * returns since move it). Another frame's slots say nothing of this one's:
         * comparing a frame with the one at its depth before made every local of a
         * caller new evidence at each call and return (a table main() built at
         * start-up and kept, never used again, looked as hot as what the program
         * works on, in tests/programs/lru_zipf.py). */
        int k = -1;
        for (int j = 0; j < old->depth; j++)
            if (old->frame[j] == f) {
                k = j;
                break;
            }
        bool same = k >= 0;
        bool back = !same && listed(old->beyond, old->nbeyond, f);
        int known = same ? old->n[k] : 0, seen = same ? old->shown[k] : 0;
        const PyObject *const *prev = same ? (const PyObject *const *)old->slot[k] : NULL;
        PyObject *const *walked_last = same ? old->walked[k] : NULL;
        now->frame[d] = f;
        PyObject **slots = now->slot[d], **walked = now->walked[d];
        bool pushed_below = false;      /* a value-stack slot below this one changed */
        /* SCAN: the frame runs an instruction that hands its operands to C code (the
         * innermost frame, or one that called C code that called Python code back:
         * max(col, key=f) runs f behind an entry shim), and the slot is one pushed for
         * it (`fresh`): it changed between the last read at another instruction and
         * the first at this one, or the frame was not seen before. Not a slot above
         * the stack's top that still holds what was pushed long before, or that a
         * slot below replaced: a list that random.choice() picked from, left there
         * while the loop ran range(8), looked as if C code had read all of it. */
        bool in_c = d == 0 || via_c, scan = false, stopped = false;
        via_c = false;
        now->instr[d] = NULL;
        now->fresh[d] = 0;
        if (in_c) {
            const _Py_CODEUNIT *instr = LOAD(f->prev_instr);
            stopped = same && instr == old->instr[k];
            now->instr[d] = instr;
            now->fresh[d] = stopped ? old->fresh[k] : same || back ? 0 : ~(uint64_t)0;
            scan = !paused && runs_a_scan(instr);
        }
        for (int i = n; i < recorded; i++) {
            slots[i] = LOAD(f->localsplus[i]);
            walked[i] = NULL;
        }
        for (int i = 0; i < n; i++) {
            PyObject *p = LOAD(f->localsplus[i]);
            const PyObject *was = i < seen ? prev[i] : NULL;
            PyObject *walked_before = i < seen ? walked_last[i] : NULL;
            slots[i] = p;
            walked[i] = follow ? NULL : walked_before;
            bool still = (same && was == p) || back;
            /* Still there, and in use: on the value stack (in a local it says nothing:
             * a table main() built at start-up and keeps is there at every sample),
             * and with no slot below it pushed since (that push found the stack's top
             * below this slot, so it holds what was popped last: a list that an inlined
             * comprehension built at start-up stayed there, held evidence at every
             * sample, and looked hottest of all in tests/programs/lru_zipf.py). */
            bool held = still && i >= nlocals && !pushed_below;
            if (!still && i >= nlocals)
                pushed_below = true;
            if (!p || !heap_candidate(p))
                continue;
            /* A loop's iterator stands for the container it walks: a traced container
             * gets evidence of its own, new when it is not the container this slot's
             * iterator walked at the last read that followed it. (Not when the
             * iterator is new: a loop's iterator is often allocated in the block the
             * previous loop's iterator just freed, so the slot holds the same pointer
             * over another container.) A new traced container is movement: a loop over
             * containers of numbers shows no other traced object in its frame. A
             * container without an entry (a temporary, such as a list built for one
             * loop; its evidence goes to its page) counts as new only when its
             * iterator is: measured on the accuracy benchmark's c_passing, new
             * evidence for its fresh 8-row lists took Pypper's capture from 0.76-0.91
             * to 0.28-0.83 (medians of 2-3 runs, loaded machine). */
            PyObject *seqs[2];
            int nseq = follow ? iterated(p, seqs) : 0;
            bool again = false;
            for (int q = 0; q < nseq; q++) {
                PyObject *seq = seqs[q];
                bool traced = traced_candidate(seq);
                /* (A zip's second container is walked again when its first is.) */
                if (q == 0)
                    again = traced ? walked_before == seq : same && was == p;
                /* A loop walking it reads its items one by one, each once a pass, as
                 * C code scanning it does: `for w in graph[v]` reads every number of
                 * the list (a newcomer's BFS showed the node ids that every search
                 * reads 0 B hot, each taking an eighth of its list's heat). At any
                 * depth: the loop runs while the frames it calls do. (First: it may
                 * take a slot the evidence table keeps for it.) */
                if (traced && !paused)
                    sink(ctx, seq, PYPPER_EVIDENCE_WALKED);
                sink(ctx, seq, again ? PYPPER_EVIDENCE_HOLD
                               : d == 0 ? PYPPER_EVIDENCE_FRAME : PYPPER_EVIDENCE_CALLER);
                moved |= d == 0 && !again && traced;
                if (q == 0)
                    walked[i] = seq;
            }
            /* Fresh: changed since the last read, which recorded all of the frame's
             * slots (those above a calling frame's top too). */
            if (in_c && same && !stopped && i < known && prev[i] != p)
                now->fresh[d] |= (uint64_t)1 << i;
            /* (Only a traced object: what SCAN serves is a list or tuple with an entry;
             * an arithmetic loop's numbers would each cost a second record.) */
            if (scan && i >= nlocals && (now->fresh[d] >> i & 1) && (held || !still)
                && traced_candidate(p))
                sink(ctx, p, PYPPER_EVIDENCE_SCAN);
            if (still) {
                if (held)
                    sink(ctx, p, PYPPER_EVIDENCE_HOLD);
            } else {
                pypper_evidence kind = d == 0 ? PYPPER_EVIDENCE_FRAME : PYPPER_EVIDENCE_CALLER;
                sink(ctx, p, kind);
                /* A local newly here: what the frame's code reads from it by
                 * attribute is used too (attr_reads.h), mostly in passing, where no
                 * read would see it: `len(e.val)` of an LRU cache's entry. */
                if (i < nlocals)
                    attrs_of_local(mem, f, i, p, kind, sink, ctx, counts);
                /* Only a traced object counts as movement: a loop that only makes new
                 * numbers (untraced) looks still, and the sampler's burst ends early
                 * as it did before untraced pointers were recorded (measured: 3% of a
                 * core instead of 23% on nbody.py, and the program's time with it). */
                moved |= d == 0 && traced_candidate(p);
            }
        }
        now->n[d] = recorded;
        now->shown[d] = n;
        counts->slots_read += (uint64_t)recorded;
        moved |= d == 0 && !(same && k == 0);
        d++;
        f = up;
    }
    now->depth = d;
    now->nbeyond = 0;
    /* The frames below the window: their addresses, read on (a suspended frame's
     * header is a line the program does not write). */
    for (; f && !cut && hops < 4 * MAX_DEPTH + PYPPER_FRAME_MAX_BEYOND && now->nbeyond < PYPPER_FRAME_MAX_BEYOND; hops++) {
        if (!aligned8(f) || !pypper_stack_chunks_readable(f, offsetof(_PyInterpreterFrame, localsplus))) {
            cut = true;
            break;
        }
        shim_last = LOAD(f->owner) == FRAME_OWNED_BY_CSTACK;
        if (!shim_last)
            now->beyond[now->nbeyond++] = f;
        f = LOAD(f->previous);
    }
    if (!f && !shim_last)
        cut = true;
    /* Ended early: what the last read knew to be there and this one did not reach
     * is taken to be there still. */
    if (cut) {
        for (int j = 0; j < old->depth && now->nbeyond < PYPPER_FRAME_MAX_BEYOND; j++)
            if (!listed((const void *const *)now->frame, d, old->frame[j]) && !listed(now->beyond, now->nbeyond, old->frame[j]))
                now->beyond[now->nbeyond++] = old->frame[j];
        for (int j = 0; j < old->nbeyond && now->nbeyond < PYPPER_FRAME_MAX_BEYOND; j++)
            if (!listed((const void *const *)now->frame, d, old->beyond[j]) && !listed(now->beyond, now->nbeyond, old->beyond[j]))
                now->beyond[now->nbeyond++] = old->beyond[j];
    }
    mem->last ^= 1u;
    return moved;
}
