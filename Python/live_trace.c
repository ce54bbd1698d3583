/* Python/live_trace.c: the live trace: which Python objects are alive, kept as the
 * heap's tracked bits (Objects/track.h: the block, and where its object starts) while
 * a session runs; an object with something to keep (from before the session, or a
 * recorded allocation site) also gets an entry in the object table (Pypper/
 * objtable.c), and the others get theirs when evidence comes (Python/active_trace.c).
 *
 * - At start, a full pass over the cyclic GC's generation lists (and the permanent
 *   generation) tracks every container, and through tp_traverse its referents, so
 *   non-container objects (str, int, float, bytes, untracked tuples and dicts) are
 *   known too. A delayed start's pass (one the program did not ask for, in the middle
 *   of its code) goes in steps: at start only the young and permanent lists; the
 *   oldest is left to the promoted walk below, its anchor at the list's start and a
 *   second object of ours (first_end) at its end, so that what lies between is marked
 *   as existing before the session.
 * - Budgeted walks (the promoted walk's steps, a stepped first pass) take a
 *   container's referents a chunk at a time (CHUNK_WORK); the rest of a large one
 *   waits in a short queue for the next steps.
 * - Afterwards only the objects new to the oldest generation are walked, and not
 *   when they get there but once they have been there for LIVE_TRACE_PROMOTED_AGE_MS
 *   (100 ms), at a hand-over (engine.c): most of a batch of short-lived records
 *   promoted by a collection has died by then. An object of our own (the anchor)
 *   sits in the oldest list after the last object walked. A collection of generation 1 appends
 *   its survivors at the list's end, after the anchor; a full collection keeps the
 *   list's order but for objects it moves to the end (the younger lists' survivors,
 *   and any it first took for garbage), and the anchor, which the session holds, is
 *   never one of them. So what follows the anchor is what has not been walked. A
 *   second object of ours (the horizon) marks how far of it is old enough: each
 *   hand-over walks a budget of what lies between the two, once the horizon has
 *   been at the list's end that long, and moves the anchor after the last object
 *   walked (with more left, the engine asks for its steps sooner); when the anchor
 *   reaches the horizon, the horizon goes to the list's end again.
 *   Collections walk nothing, but for what a full collection will untrack (tuples
 *   and dicts of atoms, which then leave every list): those not walked yet are
 *   tracked at its "start" (what holds them may have been walked long before).
 *   Whoever asks about the live set (live_trace_knows, temperatures, snapshots,
 *   live_trace_stats, migrate_now) has the rest walked first, to the list's end
 *   (catch_up).
 *   With LIVE_GENERATION=1 the survivors of generation 0 are walked at each
 *   collection's "stop" as well: at "start" the callback records the last object of
 *   generation 1, and at "stop" it walks from there to the end of that list. The
 *   recorded object is used only if it is still alive (its tracked bit: the free path
 *   clears it) and still in a GC list; otherwise, or if no "start" was seen, that
 *   whole generation is walked. The walk also stops at any other list head, so an
 *   object moved to another list by a finalizer cannot mislead it.
 *   What dies leaves the live set in the heap's free path, which
 *   clears the block's tracked bit without reading freed memory (Objects/track.c);
 *   an entry it had is dropped later by a bounded sweep at the start of a
 *   collection while dead entries are a quarter of the table or more (amortized
 *   O(1) per free, no hashing in the free path).
 * - Objects that have not reached the traced generation yet (LIVE_GENERATION=2: up
 *   to ~7,000 containers between two collections of generation 1; every object
 *   while the program runs with gc.disable()) are taken by the young walk: at each
 *   hand-over of the sampler's evidence, a bounded number of the young lists'
 *   containers, oldest first, each list from where the previous walk stopped.
 * - Immortal objects and objects outside Pypper's heap (static types, other
 *   allocators) are skipped.
 * Each pass runs with the GIL held; its duration is recorded (count, total, maximum,
 * and a histogram for the 99th percentile). */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_interp.h"
#include "../Pypper/clock.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_gc.h"
#include "internal/pycore_object.h"

#include "live_trace.h"
#include "../Pypper/lifecycle.h"
#include "../Modules/process_hooks.h"
#include "alloc_sites.h"

#include "../Objects/heap.h"
#include "../Objects/residency.h"
#include "../Objects/track.h"
#include "../Pypper/log.h"
#include "../Pypper/pressure.h"
#include "../Pypper/objtable.h"
#include "traced_entry.h"
#include "../Pypper/own_memory.h"

#include <sys/mman.h>
#include <time.h>
#include "../Pypper/code_size.h"

/* Pause histogram: bucket i counts passes of [10 i, 10 (i + 1)) microseconds; the
 * last one everything from 20 ms up. */
#define PAUSE_BUCKET_US 10
#define PAUSE_BUCKETS 2001

/* A budgeted walk (the promoted walk's steps, the first pass of a delayed start)
 * takes a container's referents CHUNK_WORK units of work at a time: a list of
 * 600,000 dicts is one container, and its walk alone took 50-75 ms. The rest waits in
 * a short queue of pending containers, each with where its next chunk starts (an
 * item index for lists and tuples, a count of referents to skip for the others);
 * a full queue takes the container whole. Work: a referent that the GC tracks (it is
 * walked on its own) is one unit, any other (tracked here, perhaps with its items)
 * VISIT_WORK. */
#define VISIT_WORK 8
#define CHUNK_WORK (8192 * VISIT_WORK)
#define PENDING_MAX 64
/* Work a step of the promoted walk does at most (besides its container budget):
 * about 1-2 ms here. */
#define PROMOTED_WORK (32768 * VISIT_WORK)

typedef struct {
    PyObject *op;
    PyTypeObject *type;                 /* its type when queued: checked before each chunk */
    Py_ssize_t next;                    /* the next chunk's first item or referent */
    bool before;                        /* it was walked by the first pass */
} pending_container;

static struct {
    bool on;
    PyObject *callback;                 /* our entry in gc.callbacks */
    PyObject *callbacks;                /* gc.callbacks, the interpreter's list (a stop,
                                           in a forked child too, need not look it up:
                                           that made the gc module again, 1.6 ms of a
                                           child's CPU when the program had not imported
                                           it) */
    uint64_t passes;
    uint64_t pause_total_ns, pause_max_ns;
    uint64_t full_pass_ns, full_pass_objects;
    uint64_t tracked_total;
    uint64_t freed_at_start;            /* the heap's tracked-free count at start */
    uint64_t noted_freed_at_start;      /* and its noted-free count */
    uint64_t dropped_at_start;          /* the table's drop count at start */
    size_t sweep_cursor;
    uint64_t rescan_cursor;             /* a granule of the heap (Objects/track.h) */
    uint64_t rescan_found;
    pending_container rescan_at;        /* a large container the rescan is in the middle
                                           of (op NULL: none), its next item or entry */
    PyObject **rescan_buf;              /* RESCAN_FOUND_MAX slots, mmap'ed */
    size_t rescan_nfound;
    uint64_t swept;
    uint64_t shrinks;                   /* tables rehashed smaller after a mass death */
    uint64_t sparse_since_ns;           /* the table an eighth full or less since then */
    int min_generation;                 /* trace survivors joining this one or older */
    bool numbers;                       /* LIVE_NUMBERS: trace ints and floats held by containers */
    bool marking_before;                /* what is tracked now existed before the session */
    PyObject *str_generation, *str_start, *str_stop;
    PyGC_Head *pending_tail;            /* recorded at "start", followed at "stop" */
    int pending_generation;
    uint64_t survivors_walked, fallback_walks;
    bool skipping;                      /* this collection is left alone: short of memory */
    uint64_t pressure_skips;            /* collections left alone so */
    uint64_t freed_final;               /* frees counted when the session ended */
    uint64_t table_failures;
    uint64_t hashed_at_start, probed_at_start;  /* the table's counts at start */
    /* The young walk: per young generation, an object of anchor_type after the last
     * object walked (untracked: from the list's head); untracked at any collection,
     * which moves objects between lists, and any freeze or unfreeze. */
    PyObject *young_mark[NUM_GENERATIONS - 1];
    uint64_t young_walked, young_found;
    uint64_t held_found;                /* tracked from the threads' frames (frame_locals.c) */
    /* The promoted walk: the anchor (an object of anchor_type, in a GC list of interp)
     * and the containers the next hand-over walks after it at most. */
    PyObject *anchor;
    PyInterpreterState *interp;
    bool behind;                        /* the last step's walk left some (atomic) */
    /* Three more objects of anchor_type (follow_freezes): at the permanent list's
     * start and end, and at the oldest list's start. */
    PyObject *frozen_start, *frozen_end, *oldest_start;
    bool anchor_frozen;                 /* a freeze took the anchor to the permanent list */
    bool restart_pending;               /* the walk goes on at the oldest list's start
                                         * once it gets to the end of the list it is in */
    uint64_t freezes_followed, frozen_young_walked;
    uint64_t promoted_walked, promoted_catch_ups, promoted_restarts;
    /* The horizon (another object of anchor_type, in the oldest list after the
     * anchor) and when it was put at the list's end: what lies before it got there
     * before horizon_ns, and a budgeted step walks it only promoted_age_ms later. */
    PyObject *horizon;
    uint64_t horizon_ns;
    uint64_t promoted_gated;            /* steps that found the horizon too young */
    uint64_t untracked_taken;           /* taken before a full collection untracked them */
    uint64_t work;                      /* visit_referent's work (a budgeted walk's measure) */
    pending_container pending[PENDING_MAX];     /* a FIFO: [pending_head, + npending) */
    unsigned pending_head, npending;
    unsigned before_pending;            /* of which queued by the first pass */
    bool chunking;                      /* a budgeted walk is taking a chunk */
    uint64_t chunked, chunks;           /* containers walked in chunks; chunks taken */
    /* The first pass in steps (a delayed start's: pypper_live_trace_next_start_stepped):
     * at start only the young and permanent lists are walked; the oldest is left to
     * the promoted walk, its anchor at the list's start, and `first_end` (another
     * object of anchor_type) at its end: what lies between existed before the session.
     * NULL once the walk has passed it. */
    PyObject *first_end;
    bool first_end_passed;              /* passed in this walk: released after it */
    bool first_stepped;                 /* this session's first pass was in steps */
    uint64_t first_pass_steps, first_pass_done_ns, t0_ns;
} LT;

static bool next_start_stepped;         /* the next start's first pass is in steps */
static PyTypeObject anchor_type;         /* the session's own objects in the GC lists */

/* Passes by pause, in PAUSE_BUCKET_US buckets: outside LT (16 KiB, of which the first
 * few buckets are used), so a session's start zeroes only the buckets used before
 * (pause_hist_top) instead of making all of it resident. */
static uint64_t pause_hist[PAUSE_BUCKETS];
static unsigned pause_hist_top;         /* buckets [0, top) may be non-zero */

static void record_pause(uint64_t ns)
{
    LT.passes++;
    LT.pause_total_ns += ns;
    if (ns > LT.pause_max_ns)
        LT.pause_max_ns = ns;
    uint64_t b = ns / 1000 / PAUSE_BUCKET_US;
    unsigned bucket = b < PAUSE_BUCKETS ? (unsigned)b : PAUSE_BUCKETS - 1;
    pause_hist[bucket]++;
    if (bucket >= pause_hist_top)
        pause_hist_top = bucket + 1;
}

/* The 99th percentile pass, as the upper edge (microseconds) of its 10 us bucket
 * (at most the longest pass). */
static uint64_t pause_p99_us(void)
{
    uint64_t want = LT.passes - LT.passes / 100, seen = 0;
    for (unsigned b = 0; b < PAUSE_BUCKETS && LT.passes; b++) {
        seen += pause_hist[b];
        if (seen >= want) {
            uint64_t edge = (uint64_t)(b + 1) * PAUSE_BUCKET_US, max_us = LT.pause_max_ns / 1000 + 1;
            return edge < max_us ? edge : max_us;
        }
    }
    return 0;
}

static bool block_alive(const void *block) { return pypper_heap_is_noted(block); }

/* Entries of freed objects: one per tracked free not yet swept. Each traced
 * collection and each hand-over of the sampler's evidence sweeps a slice of the table
 * while they are a quarter of it or more: 4 slots a dead entry (the dead are spread
 * over the table by the hash: a slice of 4 x dead slots holds about 3/4 of them when
 * they are a quarter), at least SWEEP_BUDGET. O(frees since the last settle), so
 * amortized O(1) a free, and no pause pays for the whole of a big table (a sweep is
 * O(slots looked at): objtable.h). Until 2026-12-04 at most 16,384 slots a settle,
 * fewer than a program freeing 80,000 traced objects at a time left dead. */
#define SWEEP_BUDGET 8192
#define SWEEP_PER_DEAD 4
#define SHRINK_MIN ((size_t)1 << 16)
#define SHRINK_AFTER_NS 2000000000ull

/* Entries of freed objects still in the table: one per noted free (a tracked block
 * with an entry), less those the table dropped since the session started. */
static uint64_t dead_entries(void)
{
    uint64_t frees = pypper_heap_noted_frees() - LT.noted_freed_at_start;
    uint64_t dropped = pypper_objtable_dropped() - LT.dropped_at_start;
    return frees > dropped ? frees - dropped : 0;
}

PYPPER_SMALL_CODE void pypper_live_trace_settle(void)
{
    /* The pending entries (objects taken since the last sync) wait to be hashed: their
     * dead are dropped (objtable.h), the slots are swept for the rest of the dead. (A
     * loop building lists of 5,000 records paid 1.7x stock's time, most of it in the
     * hashing, when every settle synced.) */
    bool locked = pypper_heap_lock();
    size_t pending = pypper_objtable_settle_pending();
    pypper_heap_unlock(locked);
    uint64_t all_dead = dead_entries();
    uint64_t dead = all_dead > pending ? all_dead - pending : 0;    /* in the slots, at least */
    size_t in_slots = pypper_objtable_used() - pending;
    if (dead >= 1024 && dead * 4 >= in_slots) {
        uint64_t budget = dead * SWEEP_PER_DEAD, slots = pypper_objtable_count() - pending;
        budget = budget < SWEEP_BUDGET ? SWEEP_BUDGET : budget < slots ? budget : slots;
        locked = pypper_heap_lock();
        LT.swept += pypper_objtable_sweep_slots(&LT.sweep_cursor, (size_t)budget);
        pypper_heap_unlock(locked);
    }
    /* A table left mostly empty by a mass death is rehashed smaller, its pages given
     * back, once it has stayed so for SHRINK_AFTER_NS: a program that built 2 million
     * dicts and then let them go kept a 38.7 MiB table for 13,663 objects to its end.
     * Not at once: a program that builds and drops 600,000 objects every half second
     * ran 1.18x as long when each drop shrank the table and the next build grew it
     * again. O(slots), once per such drop (a table an eighth full or less, of
     * SHRINK_MIN slots or more). */
    size_t slots_now = pypper_objtable_count();
    if (slots_now < SHRINK_MIN || pypper_objtable_used() * 8 > slots_now) {
        LT.sparse_since_ns = 0;
    } else if (!LT.sparse_since_ns) {
        LT.sparse_since_ns = pypper_mono_ns();
    } else if (pypper_mono_ns() - LT.sparse_since_ns >= SHRINK_AFTER_NS) {
        locked = pypper_heap_lock();
        LT.swept += pypper_objtable_compact();
        LT.shrinks += pypper_objtable_count() < slots_now;
        pypper_heap_unlock(locked);
        LT.sparse_since_ns = 0;
    }
}

/* Add op to the table if it lives in an allocated block of the heap and is not
 * tracked yet. Returns 1 when it was added. */
static int track_object(PyObject *op)
{
    if (_Py_IsImmortal(op))
        return 0;
    /* The block starts where the object's headers do (GC links, managed dict). */
    void *block = (char *)op - _PyType_PreHeaderSize(Py_TYPE(op));
    int rc = pypper_heap_track_block(block, op);
    if (rc < 0)                         /* not allocated like that: ask the heap */
        block = pypper_heap_track_containing(op);
    if (rc == 0 || !block)
        return 0;
    LT.tracked_total++;
    /* An entry in the object table only for an object with something to keep: one
     * whose allocation site was recorded (sampled, or a block above 512 bytes).
     * Evidence gives the others theirs when it comes (Python/active_trace.c); until
     * then the tracked bits are all there is of them: no entry to append, hash or
     * sweep (a loop building lists of 5,000 records paid most of its tracing beyond
     * the sampler in entries; the first pass took 71 ns an object with them, 21
     * without: Doc/live-trace.md). An object of the first pass existed before the
     * session: it has no site, and its before bit says so (a 16-byte block has no
     * bit for it: an entry with that site). */
    if (LT.marking_before) {
        if (!pypper_heap_mark_before(block)) {
            if (pypper_objtable_add(block, op, PYPPER_SITE_BEFORE_SESSION) < 0)
                LT.table_failures++;
            else
                pypper_heap_note(block);
        }
        return 1;
    }
    uint32_t site = rc == 2 ? pypper_alloc_sites_take_small(block) : pypper_alloc_sites_take(block);
    if (!site)
        return 1;
    if (pypper_objtable_add(block, op, site) < 0)
        LT.table_failures++;            /* tracked without its site */
    else
        pypper_heap_note(block);
    return 1;
}

/* Numbers held by containers (often millions, each a small leaf object mixed with
 * others in its pool) are left out unless LIVE_NUMBERS asks for them. */
static inline bool skipped_number(PyObject *op)
{
    return !LT.numbers && (Py_IS_TYPE(op, &PyLong_Type) || Py_IS_TYPE(op, &PyFloat_Type));
}

static bool indexable(PyObject *op);
static Py_ssize_t items_of(PyObject *op);
static void queue_pending(PyObject *op, Py_ssize_t next);
static int visit_referent(PyObject *op, void *depth);
/* A container's referents as the walks take them: tp_traverse's, and the keys of a
 * dict whose keys are all strings, which its tp_traverse leaves out (a string refers
 * to nothing, but it is an object of the heap: a dict's own key strings, such as the
 * keys of documents that json.loads made one by one, were never traced before
 * 2026-12-06). A split table's keys are not visited: they are its type's shared
 * attribute names, interned. Stops, as tp_traverse does, at a visit's non-zero
 * return, and returns it. */
static int traverse_referents(PyObject *op, visitproc visit, void *arg)
{
    traverseproc traverse = Py_TYPE(op)->tp_traverse;
    if (!traverse)
        return 0;
    int rc = traverse(op, visit, arg);
    if (rc || !PyDict_Check(op))
        return rc;
    PyDictObject *d = (PyDictObject *)op;
    if (d->ma_values || !DK_IS_UNICODE(d->ma_keys))
        return 0;                       /* a generic table's keys: visited above */
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(d->ma_keys);
    for (Py_ssize_t i = 0, n = d->ma_keys->dk_nentries; i < n; i++)
        if (entries[i].me_value && (rc = visit(entries[i].me_key, arg)) != 0)
            return rc;
    return 0;
}

/* An untracked container with more items than this is queued to be walked in chunks
 * rather than at once, where the walk may queue (a budgeted walk, a rescan). */
#define NESTED_QUEUE_MIN 1024

/* Untracked containers inside untracked containers (a dict of tuples of strings: none
 * of them in a GC list) are taken this many levels deep from what the walk started
 * at; deeper ones are tracked without their items. Until 2026-12-06 one level: the
 * strings of `{word: (doc, "text")}` held by a list were never traced. */
#define NEST_LEVELS 8

/* The items of an untracked container just tracked (a tuple or dict of atoms, which
 * the GC lists do not hold), at `level` (1: the container's items): at once, or, a
 * large list, tuple or dict where the walk may queue, in chunks (a dict of a million
 * strings is untracked by the GC and reached only through what holds it). */
static void take_items(PyObject *op, bool may_queue, uintptr_t level)
{
    if (may_queue && LT.npending < PENDING_MAX && indexable(op) && items_of(op) > NESTED_QUEUE_MIN) {
        queue_pending(op, 0);
        return;
    }
    traverse_referents(op, visit_referent, (void *)level);
}

/* depth: NULL for a walked container's own referents, else the nesting level of
 * untracked containers (take_items). */
static int visit_referent(PyObject *op, void *depth)
{
    LT.work++;
    /* Containers the GC tracks are in its lists and get their own visit; an object
     * in swap is not read (Objects/residency.h). */
    if (op == NULL || !pypper_residency_may_touch(op) || skipped_number(op))
        return 0;
    int gc = _PyObject_IS_GC(op);
    if (gc && _PyObject_GC_IS_TRACKED(op))
        return 0;
    LT.work += VISIT_WORK - 1;
    uintptr_t level = (uintptr_t)depth;
    if (track_object(op) && gc && level < NEST_LEVELS)
        take_items(op, LT.chunking, level + 1);
    return 0;
}

static void walk_referents_chunked(PyObject *op);

/* Track op and walk its referents: at once, or in a budgeted walk (chunked) a chunk
 * of them now and the rest queued (walk_referents_chunked). */
static void track_with_referents(PyObject *op, bool chunked)
{
    if (Py_IS_TYPE(op, &anchor_type))
        return;                         /* the session's own: the anchor and markers */
    track_object(op);
    if (chunked) {
        walk_referents_chunked(op);
        return;
    }
    traverse_referents(op, visit_referent, NULL);
}

/* ---- referents in chunks ---- */

typedef struct {
    Py_ssize_t skip;                    /* referents before the chunk */
    Py_ssize_t at;                      /* referents seen */
    uint64_t stop;                      /* LT.work at which the chunk ends */
} chunk_walk;

static int visit_in_chunk(PyObject *op, void *arg)
{
    chunk_walk *c = arg;
    if (c->at < c->skip) {
        c->at++;
        return 0;
    }
    if (LT.work >= c->stop)
        return 1;                       /* stops tp_traverse: the next chunk starts here */
    c->at++;
    return visit_referent(op, NULL);
}

/* Lists, tuples and dicts of exact type are resumed at an item or entry index. */
static bool indexable(PyObject *op)
{
    return PyList_CheckExact(op) || PyTuple_CheckExact(op) || PyDict_CheckExact(op);
}

/* The items of an indexable container. */
static Py_ssize_t items_of(PyObject *op)
{
    return PyDict_CheckExact(op) ? PyDict_GET_SIZE(op) : Py_SIZE(op);
}

/* Visits the referents of an indexable container as traverse_referents would (a
 * dict's values, and its keys unless they are a split table's), from item or entry *pos on,
 * until LT.work reaches stop or a visit returns non-zero (that item is where the next
 * visit starts: the rescan's buffer is full); false when none is left. No Python code
 * runs in it. */
static bool visit_items(PyObject *op, Py_ssize_t *pos, visitproc visit, uint64_t stop)
{
    if (PyDict_CheckExact(op)) {
        bool keys_too = ((PyDictObject *)op)->ma_values == NULL;
        PyObject *key, *value;
        for (;;) {
            if (LT.work >= stop)
                return true;
            Py_ssize_t at = *pos;
            if (!PyDict_Next(op, pos, &key, &value))
                return false;
            if (visit(value, NULL) || (keys_too && visit(key, NULL))) {
                *pos = at;
                return true;
            }
        }
    }
    PyObject **items = PyList_CheckExact(op) ? ((PyListObject *)op)->ob_item
                                             : ((PyTupleObject *)op)->ob_item;
    for (; *pos < Py_SIZE(op); (*pos)++) {
        if (LT.work >= stop || visit(items[*pos], NULL))
            return true;
    }
    return false;
}

/* Visits op's referents from `from` on (an item or entry index of an indexable
 * container, else a count of referents in tp_traverse's order) until `limit` units of
 * work are done; returns where the next chunk starts, or -1 when none is left. A
 * container changed between two chunks only makes its chunks miss or repeat some
 * referents: the rescans find what is missed. Skipping costs a call per referent, so
 * a chunk of another container walks at least a quarter as many referents as it
 * skips: a set of 5 million strings takes about 25 chunks, its last under half its
 * whole walk, and all of them together about 1.6 times the work of one walk. */
static Py_ssize_t walk_chunk(PyObject *op, Py_ssize_t from, uint64_t limit)
{
    if (!indexable(op) && limit < (uint64_t)from * (VISIT_WORK / 4))
        limit = (uint64_t)from * (VISIT_WORK / 4);
    uint64_t stop = limit > UINT64_MAX - LT.work ? UINT64_MAX : LT.work + limit;
    if (indexable(op))
        return visit_items(op, &from, visit_referent, stop) ? from : -1;
    chunk_walk c = {from, 0, stop};
    if (traverse_referents(op, visit_in_chunk, &c) == 0)
        return -1;
    return c.at;
}

/* Whether a pending container is still the object queued (or one of the same type
 * in its block, whose referents are as good to walk): its block allocated and
 * tracked (the free path clears the bit), readable, and not on a free list. */
static bool pending_usable(const pending_container *p)
{
    const char *block = (const char *)p->op - _PyType_PreHeaderSize(p->type);
    return pypper_residency_may_touch(block) && pypper_heap_probe_tracked(block)
           && Py_TYPE(p->op) == p->type && Py_REFCNT(p->op) > 0;
}

/* The rest of op's referents, from `next` on, waits for the next steps. */
static void queue_pending(PyObject *op, Py_ssize_t next)
{
    LT.pending[(LT.pending_head + LT.npending++) % PENDING_MAX] =
        (pending_container){op, Py_TYPE(op), next, LT.marking_before};
    LT.before_pending += LT.marking_before;
    LT.chunked++;
}

/* Walks op's referents, at most CHUNK_WORK units of work of them now: a container
 * with more (in the heap and tracked, so that pending_usable can check it later)
 * queues the rest, and so does an untracked one it holds (visit_referent). */
static void walk_referents_chunked(PyObject *op)
{
    const char *block = (const char *)op - _PyType_PreHeaderSize(Py_TYPE(op));
    if (LT.npending == PENDING_MAX || !pypper_heap_probe_tracked(block)) {
        traverse_referents(op, visit_referent, NULL);
        return;
    }
    LT.chunking = true;
    Py_ssize_t next = walk_chunk(op, 0, CHUNK_WORK);
    LT.chunking = false;
    LT.chunks += next >= 0;
    if (next >= 0 && LT.npending < PENDING_MAX)
        queue_pending(op, next);
    else if (next >= 0)                 /* the queue filled up in its chunk: the rest now */
        walk_chunk(op, next, UINT64_MAX);
}

/* Walks the pending containers' next chunks, oldest first, until `limit` units of work are
 * made (0: all of them, to the end). */
static void walk_pending(uint64_t limit)
{
    bool marking = LT.marking_before;
    uint64_t stop = LT.work + limit;      /* used only with a limit */
    while (LT.npending && (!limit || LT.work < stop)) {
        pending_container *p = &LT.pending[LT.pending_head];
        Py_ssize_t next = -1;
        if (pending_usable(p)) {
            LT.marking_before = p->before;
            LT.chunking = limit != 0;
            next = walk_chunk(p->op, p->next, limit ? stop - LT.work : UINT64_MAX);
            LT.chunking = false;
            LT.chunks++;
        }
        if (next >= 0) {
            p->next = next;
            continue;
        }
        LT.before_pending -= p->before;
        LT.pending_head = (LT.pending_head + 1) % PENDING_MAX;
        LT.npending--;
    }
    LT.marking_before = marking;
}

/* The rescan first collects what it will track, then tracks it: tracking appends to
 * the table and sets tracked bits, and an entry of a freed object whose block gets a
 * new tracked object would look current until the next sync replaces it. */
#define RESCAN_FOUND_MAX 8192
/* Containers new to the oldest generation walked per step (about 1-2 ms with their
 * referents); while more are left, the engine asks for steps sooner
 * (pypper_live_trace_behind). */
#define PROMOTED_BUDGET ((size_t)16384)
/* Items of one list, tuple or dict a rescan looks at in a step (about 0.3-0.6 ms): a
 * larger one is taken over several steps, from where the last one stopped (a list of
 * 5 million strings cost 13-16 ms each time the rescan came round to it). */
#define RESCAN_CHUNK 65536

/* Collects an untracked referent for the rescan; 1 (stop here) once the buffer is
 * full: a large container's next chunk starts at that referent, not after it (the
 * rest of a chunk was passed over before, 2026-12-06: 100,000 dicts appended to an old
 * list had 8,192 found per chunk of 65,536, and the others only at later rounds of
 * the rescan, seconds to minutes apart). */
static int collect_untracked(PyObject *op, void *unused)
{
    (void)unused;
    if (LT.rescan_nfound == RESCAN_FOUND_MAX)
        return 1;
    LT.work++;
    if (op == NULL || !pypper_residency_may_touch(op) || _Py_IsImmortal(op) || skipped_number(op))
        return 0;
    if (_PyObject_IS_GC(op) && _PyObject_GC_IS_TRACKED(op))
        return 0;                       /* in a GC list: walked on its own */
    const char *block = (const char *)op - _PyType_PreHeaderSize(Py_TYPE(op));
    if (!pypper_heap_probe_tracked(block))
        LT.rescan_buf[LT.rescan_nfound++] = op;
    return 0;
}

static bool first_pass_open(void);

/* With the GIL: re-traverse `budget` containers of the table (a rotating slice), so
 * that objects stored into old containers after they were walked are found too. */
PYPPER_SMALL_CODE size_t pypper_live_trace_rescan(size_t budget)
{
    /* While a stepped first pass is open, what it has not reached existed before the
     * session: its walk takes it, marked so (the rescan would track it as new). */
    if (!LT.on || !LT.rescan_buf || first_pass_open())
        return 0;
    bool locked = pypper_heap_lock();
    LT.rescan_nfound = 0;
    /* Once round the heap at most (fewer tracked blocks than the budget: all). */
    uint64_t start = LT.rescan_cursor;
    bool wrapped = false;
    pypper_tracked_block t;
    for (size_t k = 0; k < budget && LT.rescan_nfound < RESCAN_FOUND_MAX
                       && pypper_heap_tracked_round(&LT.rescan_cursor, start, &wrapped, &t);) {
        k++;
        PyObject *op = t.object;
        /* A dealloc'ed object kept on a CPython free list (dicts, lists, tuples,
         * floats) keeps its block and tracked bit but has no references. */
        if (!op || !pypper_residency_may_touch(t.block) || Py_REFCNT(op) <= 0 || !_PyObject_IS_GC(op))
            continue;
        if (indexable(op) && items_of(op) > RESCAN_CHUNK) {
            Py_ssize_t pos = op == LT.rescan_at.op && Py_TYPE(op) == LT.rescan_at.type
                             ? LT.rescan_at.next : 0;
            if (visit_items(op, &pos, collect_untracked, LT.work + RESCAN_CHUNK)) {
                /* The next step starts at this container. */
                LT.rescan_at = (pending_container){op, Py_TYPE(op), pos, false};
                LT.rescan_cursor = pypper_heap_granule_of(t.block);
                break;
            }
            LT.rescan_at.op = NULL;
            continue;
        }
        if (traverse_referents(op, collect_untracked, NULL)) {
            /* The buffer filled inside it: the next step starts at it again (what
             * this one found is tracked by then, and passed over). */
            LT.rescan_cursor = pypper_heap_granule_of(t.block);
            break;
        }
    }
    /* Nothing ran in between: the objects collected are alive. An untracked
     * container (a tuple or dict of atoms) has its items taken with it (NEST_LEVELS), as
     * a walk takes them (visit_referent): a walk that meets it later finds it tracked
     * and does not look inside. A large list, tuple or dict is queued for the walks'
     * chunks instead. */
    size_t found = 0;
    for (size_t k = 0; k < LT.rescan_nfound; k++) {
        PyObject *op = LT.rescan_buf[k];
        if (!track_object(op))
            continue;
        found++;
        if (_PyObject_IS_GC(op))
            take_items(op, true, 1);
    }
    LT.rescan_found += found;
    pypper_heap_unlock(locked);
    return found;
}

static bool is_list_head(PyInterpreterState *interp, PyGC_Head *g)
{
    for (int i = 0; i < NUM_GENERATIONS; i++)
        if (g == &interp->gc.generations[i].head)
            return true;
    return g == &interp->gc.permanent_generation.head;
}

/* Walks the objects after `from` (a list's head, or an object in it) to the end of its
 * list (the next list head: an object moved to another list by a finalizer cannot
 * lead the walk on into that one), with their referents. Walks hold the heap's
 * serialization throughout (the free path updates the same bitmap); nothing they call
 * allocates. */
static uint64_t walk_after(PyInterpreterState *interp, PyGC_Head *from, bool chunked)
{
    uint64_t n = 0;
    bool locked = pypper_heap_lock();
    for (PyGC_Head *g = _PyGCHead_NEXT(from); !is_list_head(interp, g); g = _PyGCHead_NEXT(g)) {
        track_with_referents((PyObject *)(g + 1), chunked);
        n++;
    }
    pypper_heap_unlock(locked);
    return n;
}

/* ---- the promoted walk ---- */

/* The anchor: an object of no use but its place in the oldest GC list. Only the
 * session refers to it, so a collection finds it reachable and leaves it where it is;
 * it refers to nothing; it is never traced. */
static int anchor_traverse(PyObject *self, visitproc visit, void *arg)
{
    (void)self;
    (void)visit;
    (void)arg;
    return 0;
}

static void anchor_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    PyObject_GC_Del(self);
}

static PyTypeObject anchor_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_pypper.LiveTraceAnchor",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = anchor_traverse,
    .tp_dealloc = anchor_dealloc,
    .tp_doc = "Where Pypper's live trace stopped walking the oldest GC generation.",
};

/* Unlinks an object of anchor_type and links it again after node (outside a
 * collection, with the GIL: the lists are the GC's own, as gc.freeze() moves them). */
static void link_after(PyObject *obj, PyGC_Head *node)
{
    PyGC_Head *a = _Py_AS_GC(obj);
    if (node == a || _PyGCHead_NEXT(node) == a)
        return;
    PyGC_Head *prev = _PyGCHead_PREV(a), *next = _PyGCHead_NEXT(a);
    _PyGCHead_SET_NEXT(prev, next);
    _PyGCHead_SET_PREV(next, prev);
    PyGC_Head *after = _PyGCHead_NEXT(node);
    _PyGCHead_SET_NEXT(node, a);
    _PyGCHead_SET_PREV(a, node);
    _PyGCHead_SET_NEXT(a, after);
    _PyGCHead_SET_PREV(after, a);
}

static void anchor_move_after(PyGC_Head *node) { link_after(LT.anchor, node); }

static PyGC_Head *oldest_head(void)
{
    return &LT.interp->gc.generations[NUM_GENERATIONS - 1].head;
}

/* The stepped first pass's walk has passed all that existed before the session (or
 * given up on telling it apart: the lists moved under it); chunks of its containers
 * may still be pending. */
static void first_pass_ends(void)
{
    LT.marking_before = false;
    LT.first_end_passed = true;         /* released once the heap's lock is let go */
}

/* Whether a stepped first pass has some of its walk left. */
static bool first_pass_open(void) { return LT.first_end || LT.before_pending; }

/* How long what joins the oldest generation waits before a budgeted step walks it
 * (catch-ups do not wait): most of what a collection of generation 1 promotes from a
 * loop of short-lived records dies within this. In a pool of 6 threads building
 * lists of 5,000 records, each list lives across several GIL switches (about 30 ms),
 * and while the full collections walked everything unwalked at their start, 6.6
 * million objects were tracked for 2.3 million in the same loop run by one thread,
 * and the traced run took 1.25-1.32x stock's time (medians of 6; now 1.14-1.18x, Doc/
 * live-trace.md "The horizon"). */
static unsigned promoted_age_ms = LIVE_TRACE_PROMOTED_AGE_MS;

unsigned pypper_live_trace_set_promoted_age_ms(unsigned ms)
{
    unsigned was = promoted_age_ms;
    promoted_age_ms = ms;
    return was;
}

/* The horizon to the oldest list's end: what lies before it got there before now (0:
 * at once, it is old enough). */
PYPPER_SMALL_CODE static void horizon_to_end(uint64_t now)
{
    if (!LT.horizon)
        return;
    link_after(LT.horizon, _PyGCHead_PREV(oldest_head()));
    LT.horizon_ns = now;
}

/* The young walk's marks of generations 0 to `last` out of their lists: the walk
 * starts from those lists' heads. (A collection of generation 0 only appends its
 * survivors after generation 1's mark, which stays.) */
static inline __attribute__((always_inline)) void young_marks_off(int last)
{
    for (int gen = 0; gen < NUM_GENERATIONS - 1 && gen <= last; gen++)
        if (LT.young_mark[gen] && _PyObject_GC_IS_TRACKED(LT.young_mark[gen]))
            PyObject_GC_UnTrack(LT.young_mark[gen]);
}

/* Whether a list's ends moved since follow_freezes last put the markers back. */
static inline __attribute__((always_inline)) bool lists_changed(void)
{
    if (!LT.frozen_end)
        return false;
    PyGC_Head *permanent = &LT.interp->gc.permanent_generation.head;
    return _PyGCHead_PREV(permanent) != _Py_AS_GC(LT.frozen_end)
           || _PyGCHead_NEXT(permanent) != _Py_AS_GC(LT.frozen_start)
           || _PyGCHead_NEXT(oldest_head()) != _Py_AS_GC(LT.oldest_start);
}

/* Walks the objects after `from` up to oldest_start or the list's head, at most
 * PROMOTED_BUDGET of them and PROMOTED_WORK of work (a step's), with their referents
 * (a large container's queued for the steps), marked as existing before the session
 * only between the anchor and a stepped first pass's first_end (what existed before
 * and was walked at the start is tracked already; what the young lists made since is
 * not marked). While that first pass is open, without a budget: the anchor, put where
 * such a walk stopped, would mark what follows as existing before the session (33,621
 * of 50,000 lists made after a delayed start). Returns where it stopped short (the
 * budget, an object in swap), or NULL; *found: at oldest_start. */
static PyGC_Head *walk_to_oldest_start(PyGC_Head *from, uint64_t *n, bool *found)
{
    PyGC_Head *stop = _Py_AS_GC(LT.oldest_start), *g = _PyGCHead_NEXT(from), *last = from;
    bool locked = pypper_heap_lock();
    bool marking = LT.marking_before, budget = !first_pass_open();
    LT.marking_before = false;
    uint64_t k = 0, v0 = LT.work;
    for (; g != stop && !is_list_head(LT.interp, g); g = _PyGCHead_NEXT(g)) {
        if ((budget && (k == PROMOTED_BUDGET || LT.work - v0 >= PROMOTED_WORK))
            || !pypper_residency_may_touch(g))
            break;
        PyObject *op = (PyObject *)(g + 1);
        if (op == LT.anchor)
            LT.marking_before = LT.first_end != NULL;
        else if (op == LT.first_end)
            LT.marking_before = false;
        track_with_referents(op, true);
        last = g;
        k++;
    }
    LT.marking_before = marking;
    pypper_heap_unlock(locked);
    *n += k;
    *found = g == stop;
    return g == stop || is_list_head(LT.interp, g) ? NULL : last;
}

/* gc.freeze() appends the three lists, youngest first, to the permanent one: what the
 * young lists held (not walked yet, unless the young walk had reached it) then lies
 * between the permanent list's former end and the oldest list's former start, before
 * the anchor, which went with the oldest list. With the documented pre-fork pattern
 * (gc.disable() early, gc.freeze() before fork()) that is the whole heap, and until
 * 2026-12-07 the live trace never knew it. Three objects of the session's own mark
 * those places: frozen_start and frozen_end, the permanent list's first and last, and
 * oldest_start, the oldest list's first (a collection never moves an object held from
 * outside the lists). Before each walk (lists_changed), follow_freezes:
 * - something follows frozen_end (a freeze), or precedes frozen_start (an unfreeze
 *   and a freeze; or the immortal objects CPython 3.12's collections move to the
 *   permanent list): what lies from there to oldest_start is walked. Not found there
 *   (only immortal objects): nothing more. Found: the anchor came along, and walks on
 *   to the list's end, then from the oldest list's start (restart_pending); if it was
 *   in the permanent list already (an earlier freeze, or one an unfreeze undid), where
 *   it is against what was appended is not known: it walks the whole list again;
 * - the permanent list is empty (gc.unfreeze() moved it, markers and all, to the
 *   oldest's end): an anchor a freeze had taken along came back after what joined the
 *   oldest list meanwhile (restart_pending);
 * - something precedes oldest_start in the oldest list (a freeze and an unfreeze,
 *   no walk between): what the young lists held and what joined the oldest list while
 *   it was frozen lie there, and are walked.
 * A walk takes at most PROMOTED_BUDGET objects at once; the anchor goes where it
 * stopped and the steps take the rest. Then the three markers go back to their
 * places. Returns the objects walked. */
PYPPER_RARE_CODE static uint64_t follow_freezes(void)
{
    PyGC_Head *permanent = &LT.interp->gc.permanent_generation.head;
    PyGC_Head *oldest_first = _Py_AS_GC(LT.oldest_start);
    bool was_pending = LT.restart_pending, found = false, in_permanent = false;
    PyGC_Head *cut = NULL;
    uint64_t n = 0;
    if (_PyGCHead_NEXT(permanent) == permanent) {
        /* Unfrozen: the markers went to the oldest list's end. An anchor a freeze had
         * taken along went there too, after what joined the list since the freeze. */
        if (LT.anchor_frozen)
            LT.restart_pending = true;
        LT.anchor_frozen = false;
    } else if (_PyGCHead_NEXT(permanent) != _Py_AS_GC(LT.frozen_start)
               || _PyGCHead_PREV(permanent) != _Py_AS_GC(LT.frozen_end)) {
        /* A freeze since (from frozen_end), or an unfreeze and a freeze (from the
         * list's start; or only immortal objects a collection put there, walked past:
         * no oldest_start there). */
        bool after_end = _PyGCHead_NEXT(permanent) == _Py_AS_GC(LT.frozen_start);
        cut = walk_to_oldest_start(after_end ? _Py_AS_GC(LT.frozen_end) : permanent, &n, &found);
        in_permanent = found || cut;
    }
    /* A freeze and an unfreeze since (or an unfreeze since a freeze that an earlier
     * walk followed, oldest_start gone along): what the young lists held, and what joined
     * the oldest list while it was frozen, lie before oldest_start in the oldest list. */
    if (!in_permanent && _PyGCHead_NEXT(oldest_head()) != oldest_first)
        cut = walk_to_oldest_start(oldest_head(), &n, &found);
    if (found || cut) {
        LT.freezes_followed++;
        LT.frozen_young_walked += n;
    }
    if (in_permanent && was_pending) {
        /* The anchor was walking the permanent list already (an earlier freeze), or an
         * unfreeze took it along and brought it back: where it is against what this
         * freeze appended (and what joined the oldest list meanwhile, after
         * oldest_start) is not known. It walks the whole list again, in the steps. */
        anchor_move_after(permanent);
    } else if (cut) {
        anchor_move_after(cut);         /* the rest, in the steps (a long pause else) */
    }
    if (in_permanent)
        LT.anchor_frozen = LT.restart_pending = true;
    link_after(LT.frozen_start, permanent);
    link_after(LT.frozen_end, _PyGCHead_PREV(permanent));
    link_after(LT.oldest_start, oldest_head());
    young_marks_off(NUM_GENERATIONS);
    return n;
}

/* Walks at most `budget` containers after the anchor (0: all), with their referents,
 * and moves the anchor after the last one walked; stops before an object in swap.
 * With a budget, the walk stops at the horizon, and walks nothing while the horizon
 * went to the list's end less than promoted_age_ms ago (0: no wait, the walk goes to
 * the list's end); once the walk reaches it, the horizon goes to the end again.
 * Without a budget (a catch-up) the walk passes it and goes to the list's end, where
 * the horizon then goes.
 * With a budget, the pending containers' chunks come first, and the walk stops after
 * PROMOTED_WORK units of work too, a container's referents taken a chunk at a time
 * (walk_referents_chunked); without, pending containers are finished first.
 * In a stepped first pass, what lies before `first_end` is tracked as existing
 * before the session. Returns the containers walked (a chunk counts as one); *done:
 * the walk got to the horizon or the end of the list (or the horizon is too young)
 * and nothing is pending.
 * gc.freeze() moves every list into the permanent one (the anchor and the horizon
 * too) and gc.unfreeze() the permanent one to the end of the oldest, so objects not
 * walked may lie before the anchor: follow_freezes walks them (or puts the anchor
 * before them), and while a restart is pending (restart_pending) the walk does not
 * stop at the horizon, and at its list's end the anchor goes on at the oldest list's
 * start (once). */
PYPPER_SMALL_CODE static uint64_t walk_promoted(size_t budget, bool *done)
{
    uint64_t frozen = 0;
    if (lists_changed())
        frozen = follow_freezes();
    bool lists_moved = LT.restart_pending;
    uint64_t now = pypper_mono_ns();
    bool gated = budget && LT.horizon && !lists_moved && promoted_age_ms;
    PyGC_Head *stop = gated ? _Py_AS_GC(LT.horizon) : NULL;
    uint64_t n = 0;
    bool locked = pypper_heap_lock();
    uint64_t v0 = LT.work;
    if (LT.npending) {
        walk_pending(budget ? PROMOTED_WORK : 0);
        n++;
    }
    /* (A freeze or an unfreeze moves the anchor and first_end together, in order.) */
    LT.marking_before = LT.first_end != NULL;     /* first_end_passed: within a walk only */
    if (gated && LT.horizon_ns && now - LT.horizon_ns < (uint64_t)promoted_age_ms * 1000000u) {
        LT.promoted_gated++;
        *done = LT.npending == 0;
    } else {
        bool passed = false;            /* a walk without a stop went past the horizon */
        bool at_end = false;
        for (bool restarted = false;;) {
            PyGC_Head *last = _Py_AS_GC(LT.anchor), *g = _PyGCHead_NEXT(last);
            while (!is_list_head(LT.interp, g) && g != stop
                   && (!budget || (n < budget && LT.work - v0 < PROMOTED_WORK))
                   && pypper_residency_may_touch(g)) {
                PyObject *op = (PyObject *)(g + 1);
                /* Its referents too when it is tracked already: a list, tuple or dict
                 * that CPython took from its free list keeps the tracked bit of the one
                 * freed there, but not its referents. */
                if (op == LT.first_end && LT.marking_before)
                    first_pass_ends();
                else
                    track_with_referents(op, budget != 0);
                n += !Py_IS_TYPE(op, &anchor_type);      /* a catch-up passes the markers */
                passed |= op == LT.horizon;
                last = g;
                g = _PyGCHead_NEXT(g);
            }
            anchor_move_after(last);
            at_end = is_list_head(LT.interp, g) || g == stop;
            *done = at_end && LT.npending == 0;
            if (at_end && LT.marking_before)
                first_pass_ends();          /* its end moved before the anchor (lists moved) */
            if (!at_end || restarted || ((g == oldest_head() || g == stop) && !lists_moved))
                break;
            anchor_move_after(_Py_AS_GC(LT.oldest_start));   /* (first: lists_changed) */
            LT.restart_pending = LT.anchor_frozen = false;
            LT.promoted_restarts++;
            restarted = true;
            lists_moved = false;
        }
        /* At the end, or stopped past it (its budget, an object in swap): not left
         * before the anchor, where the next steps would not wait. */
        if (at_end || passed)
            horizon_to_end(now);
    }
    LT.marking_before = false;
    pypper_heap_unlock(locked);
    if (LT.first_end_passed) {
        LT.first_end_passed = false;
        Py_CLEAR(LT.first_end);         /* frees it: not under the heap's lock */
    }
    if (LT.first_stepped && !LT.first_pass_done_ns) {
        LT.first_pass_steps++;
        if (!first_pass_open())
            LT.first_pass_done_ns = pypper_mono_ns() - LT.t0_ns;
    }
    LT.promoted_walked += n;
    LT.survivors_walked += n;
    return n + frozen;
}

void pypper_live_trace_promoted(void)
{
    if (!LT.on || !LT.anchor)
        return;
    uint64_t t0 = pypper_mono_ns();
    bool done;
    if (walk_promoted(PROMOTED_BUDGET, &done))
        record_pause(pypper_mono_ns() - t0);
    __atomic_store_n(&LT.behind, !done, __ATOMIC_RELAXED);
}

bool pypper_live_trace_behind(void)
{
    return __atomic_load_n(&LT.behind, __ATOMIC_RELAXED);
}

void pypper_live_trace_catch_up(void)
{
    if (!LT.on || !LT.anchor || pypper_pressure_paused())
        return;
    uint64_t t0 = pypper_mono_ns();
    bool done;
    if (walk_promoted(0, &done)) {
        record_pause(pypper_mono_ns() - t0);
        LT.promoted_catch_ups++;
    }
    __atomic_store_n(&LT.behind, !done, __ATOMIC_RELAXED);
}

/* An object of anchor_type, tracked (into generation 0, then moved) or not (the young
 * walk's marks, tracked when placed). */
static PyObject *new_anchor_tracked(bool track)
{
    PyObject *a = (PyObject *)PyObject_GC_New(PyObject, &anchor_type);
    if (a && track)
        PyObject_GC_Track(a);
    return a;
}

static PyObject *new_anchor(void) { return new_anchor_tracked(true); }

/* The anchor at the oldest list's end (all of it walked), or in a stepped first pass
 * at its start, with first_end at its end (none of it walked yet). */
PYPPER_SMALL_CODE static int anchor_start(bool stepped)
{
    if (PyType_Ready(&anchor_type) < 0)
        return -1;
    LT.anchor = new_anchor();
    if (!LT.anchor)
        return -1;
    anchor_move_after(_PyGCHead_PREV(oldest_head()));
    if (stepped) {
        PyObject *end = new_anchor();           /* may collect: the anchor is placed */
        if (!end)
            return -1;
        link_after(end, _PyGCHead_PREV(oldest_head()));
        anchor_move_after(oldest_head());
        LT.first_end = end;
    }
    /* At the end, after first_end, open at once: what existed before is walked
     * without waiting. */
    PyObject *horizon = new_anchor();           /* may collect: both are placed */
    if (!horizon)
        return -1;
    LT.horizon = horizon;
    horizon_to_end(0);
    /* The freezes' markers (follow_freezes); frozen_end last: the others are placed
     * when it is set. */
    PyGC_Head *permanent = &LT.interp->gc.permanent_generation.head;
    if (!(LT.oldest_start = new_anchor()))
        return -1;
    link_after(LT.oldest_start, oldest_head());
    if (!(LT.frozen_start = new_anchor()))
        return -1;
    link_after(LT.frozen_start, permanent);
    for (int gen = 0; gen < NUM_GENERATIONS - 1; gen++)     /* untracked until used */
        if (!(LT.young_mark[gen] = new_anchor_tracked(false)))
            return -1;
    PyObject *frozen_end = new_anchor();
    if (!frozen_end)
        return -1;
    link_after(frozen_end, _PyGCHead_PREV(permanent));
    LT.frozen_end = frozen_end;
    return 0;
}

void pypper_live_trace_next_start_stepped(bool stepped) { next_start_stepped = stepped; }

PYPPER_SMALL_CODE void pypper_live_trace_young(size_t budget)
{
    if (!LT.on)
        return;
    PyInterpreterState *interp = PyInterpreterState_Get();
    bool locked = pypper_heap_lock();
    /* The generations younger than the traced one, older first (generation 1 has
     * survived a collection). */
    for (int gen = LT.min_generation - 1; gen >= 0 && budget; gen--) {
        PyGC_Head *head = &interp->gc.generations[gen].head;
        PyObject *mark = LT.young_mark[gen];      /* (a running session has both) */
        bool placed = _PyObject_GC_IS_TRACKED(mark);
        PyGC_Head *last = placed ? _Py_AS_GC(mark) : head;
        for (PyGC_Head *next = _PyGCHead_NEXT(last); budget && !is_list_head(interp, next);
             next = _PyGCHead_NEXT(next)) {
            /* An object in swap is not read: the walk goes on from here next time. */
            if (!pypper_residency_may_touch(next))
                break;
            PyObject *op = (PyObject *)(next + 1);
            /* A container tracked already had its referents taken when it was (or
             * queued: a large one is walked in chunks). */
            if (!Py_IS_TYPE(op, &anchor_type) && track_object(op)) {
                LT.young_found++;
                walk_referents_chunked(op);
            }
            last = next;
            LT.young_walked++;
            budget--;
        }
        /* The mark after the last object walked: until 2026-12-07 a pointer to it,
         * which CPython's free lists could hand out again at the list's end (a
         * temporary tuple): what lay between was skipped, for good under
         * gc.disable() (1 of 20,000 lists after 111 hand-overs). */
        if (last != head && last != _Py_AS_GC(mark)) {
            if (!placed)
                PyObject_GC_Track(mark);            /* (into generation 0, then moved) */
            link_after(mark, last);
        }
    }
    pypper_heap_unlock(locked);
}

size_t pypper_live_trace_take_held(PyObject *const *slots, size_t n)
{
    /* While a stepped first pass is open, what it has not reached existed before the
     * session (see the rescan). */
    if (!LT.on || first_pass_open())
        return 0;
    bool locked = pypper_heap_lock();
    uint64_t before = LT.tracked_total;
    LT.chunking = true;
    for (size_t i = 0; i < n; i++)
        if (slots[i])
            visit_referent(slots[i], NULL);
    LT.chunking = false;
    uint64_t found = LT.tracked_total - before;
    LT.held_found += found;
    pypper_heap_unlock(locked);
    return (size_t)found;
}

/* The generation that the survivors of a collection of `generation` end up in. */
static int survivors_generation(int generation)
{
    return generation + 1 < NUM_GENERATIONS ? generation + 1 : NUM_GENERATIONS - 1;
}

/* Whether a full collection will untrack op: an exact tuple or dict holding nothing
 * it may track (CPython 3.12's untrack_tuples and untrack_dicts, Modules/
 * gcmodule.c; a dict's keys are checked as its generic tables' are). Reads op's items. */
PYPPER_SMALL_CODE static bool untracked_by_full_collection(PyObject *op)
{
    if (PyTuple_CheckExact(op)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(op); i++) {
            PyObject *item = PyTuple_GET_ITEM(op, i);
            if (!item || _PyObject_GC_MAY_BE_TRACKED(item))
                return false;
        }
        return true;
    }
    if (!PyDict_CheckExact(op))
        return false;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(op, &pos, &key, &value))
        if (_PyObject_GC_MAY_BE_TRACKED(value) || _PyObject_GC_MAY_BE_TRACKED(key))
            return false;
    return true;
}

/* Walks the list from `from` on (to its head) and tracks, with their items, the tuples
 * and dicts that the full collection about to run will untrack; stops before an object
 * in swap. Returns the objects read. */
PYPPER_SMALL_CODE static uint64_t take_untracked_from(PyGC_Head *from)
{
    uint64_t n = 0;
    for (PyGC_Head *g = _PyGCHead_NEXT(from);
         !is_list_head(LT.interp, g) && pypper_residency_may_touch(g); g = _PyGCHead_NEXT(g)) {
        PyObject *op = (PyObject *)(g + 1);
        n++;
        if (!untracked_by_full_collection(op))
            continue;
        /* Its items even when it is tracked already: one that CPython took from its
         * free list keeps the bit of the one freed there, not its items. */
        LT.untracked_taken += track_object(op);
        take_items(op, true, 1);        /* a large one: queued for the walks' chunks */
    }
    return n;
}

/* At a full collection's "start": it untracks tuples and dicts of atoms, which then
 * leave every list; one not walked yet (after the anchor, or in a younger list) would
 * be found only through what holds it, and what holds it may have been walked
 * already (a dict `{(i, j): v}` stored into an old one: the rescans found 1,000 of
 * them only after 596 hand-overs, a minute, in a 300,000-container table). Those are
 * tracked now; everything else stays for the walks. Until 2026-12-07 the whole of it
 * was walked here (Doc/live-trace.md "The horizon"). Returns the objects read. */
static uint64_t take_untracked_before_full(PyInterpreterState *interp)
{
    if (!LT.anchor)
        return 0;
    /* A freeze or an unfreeze since the last walk is followed first: what the young
     * lists held may lie before the anchor (a freeze, an unfreeze and a collection took
     * none of 1,000 dicts), and an anchor a freeze took along is in the permanent list,
     * never collected, where it would read what follows it for nothing (10.5 ms a
     * collection for a million objects). */
    uint64_t n = lists_changed() ? follow_freezes() : 0;
    bool locked = pypper_heap_lock();
    /* (Such an anchor: what joined the oldest list since is all unwalked; one whose
     * restart is due, after an unfreeze: what lies before it too.) */
    bool from_start = LT.anchor_frozen || LT.restart_pending;
    n += take_untracked_from(from_start ? oldest_head() : _Py_AS_GC(LT.anchor));
    for (int i = 0; i < NUM_GENERATIONS - 1; i++)
        n += take_untracked_from(&interp->gc.generations[i].head);
    pypper_heap_unlock(locked);
    return n;
}

/* Returns the objects read (a full collection's). */
static uint64_t on_gc_start(PyInterpreterState *interp, int generation)
{
    pypper_live_trace_settle();
    LT.pending_tail = NULL;
    /* The survivors of a collection of generation 1 go to the oldest list's end, and
     * a full collection's stay where they are, the younger lists' joining the end:
     * after the anchor, what has not been walked; the hand-overs' (the promoted walk).
     * Tuples that a collection untracks leave every list: what holds them is walked,
     * or the rescans find them; what a full collection untracks is taken first. */
    if (generation == NUM_GENERATIONS - 1)
        return take_untracked_before_full(interp);
    if (generation == NUM_GENERATIONS - 2)
        return 0;
    PyGC_Head *head = &interp->gc.generations[survivors_generation(generation)].head;
    LT.pending_tail = _PyGCHead_PREV(head);          /* the head itself when empty */
    LT.pending_generation = generation;
    return 0;
}

/* Whether the object recorded at "start" can still be followed. */
static bool tail_usable(PyInterpreterState *interp, PyGC_Head *tail)
{
    if (is_list_head(interp, tail))
        return true;
    PyObject *op = (PyObject *)(tail + 1);
    if (!_Py_IsImmortal(op)) {
        pypper_block_info info;
        pypper_heap_lookup(tail, &info);
        if (!info.allocated || !pypper_heap_is_tracked(info.block))
            return false;                            /* freed in the collection */
    }
    return _PyObject_GC_IS_TRACKED(op);
}

static uint64_t on_gc_stop(PyInterpreterState *interp, int generation)
{
    PyGC_Head *head = &interp->gc.generations[survivors_generation(generation)].head;
    PyGC_Head *tail = LT.pending_tail;
    LT.pending_tail = NULL;
    if (generation >= NUM_GENERATIONS - 2)
        return 0;                       /* after the anchor: the hand-over's */
    if (!tail || LT.pending_generation != generation || !tail_usable(interp, tail)) {
        LT.fallback_walks++;
        return walk_after(interp, head, false);
    }
    return walk_after(interp, tail, false);
}

static void (*collection_hook)(bool now);

void pypper_live_trace_set_collection_hook(void (*fn)(bool now)) { collection_hook = fn; }

PYPPER_SMALL_CODE static PyObject *gc_callback(PyObject *self, PyObject *const *args,
                                               Py_ssize_t nargs)
{
    (void)self;
    if (!LT.on || nargs != 2 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1]))
        Py_RETURN_NONE;
    /* A forked child, before its session forgets (Pypper's after-fork hook runs first,
     * Modules/process_hooks.c, but a finalizer may run and collect as CPython clears
     * the other threads): the table and bits are empty copies (Pypper/own_memory.c),
     * not the session's; leave them alone. */
    if (pypper_lifecycle_state() == PYPPER_STATE_STOPPED)
        Py_RETURN_NONE;
    if (collection_hook)
        collection_hook(false);
    PyObject *gen = PyDict_GetItemWithError(args[1], LT.str_generation);
    long generation = gen && PyLong_Check(gen) ? PyLong_AsLong(gen) : -1;
    /* A collection moves the objects of the generations it collects. */
    young_marks_off(generation >= 0 && generation < NUM_GENERATIONS ? (int)generation
                                                                      : NUM_GENERATIONS);
    if (generation < 0 || generation >= NUM_GENERATIONS) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    /* Survivors that join a generation younger than the traced one are left for a
     * later collection (most die before). */
    if (survivors_generation((int)generation) < LT.min_generation)
        Py_RETURN_NONE;
    /* Short of memory (Pypper/pressure.h): a collection that starts then is left
     * alone, start to stop (its survivors are found later by rescans, or stay
     * untraced: their pages' heat still answers for them). */
    bool starting = PyUnicode_Compare(args[0], LT.str_start) == 0;
    if (starting)
        LT.skipping = pypper_pressure_paused();
    if (LT.skipping) {
        if (starting)
            LT.pressure_skips++;
        else
            LT.skipping = false;
        LT.pending_tail = NULL;
        Py_RETURN_NONE;
    }
    uint64_t t0 = pypper_mono_ns();
    PyInterpreterState *interp = PyInterpreterState_Get();
    if (starting) {
        if (on_gc_start(interp, (int)generation))
            record_pause(pypper_mono_ns() - t0);
    } else if (PyUnicode_Compare(args[0], LT.str_stop) == 0) {
        uint64_t walked = on_gc_stop(interp, (int)generation);
        LT.survivors_walked += walked;
        if (walked)
            record_pause(pypper_mono_ns() - t0);
    }
    Py_RETURN_NONE;
}

static PyMethodDef callback_def = {
    "_pypper_live_trace", (PyCFunction)(void (*)(void))gc_callback, METH_FASTCALL,
    "Pypper's live trace: walks the survivors of each collection."};

static PyObject *gc_callbacks_list(void)
{
    PyObject *gc = pypper_quiet_builtin("gc");     /* gc.callbacks: the interpreter's list */
    if (!gc)
        return NULL;
    PyObject *list = PyObject_GetAttrString(gc, "callbacks");
    Py_DECREF(gc);
    if (list && !PyList_Check(list)) {
        Py_DECREF(list);
        PyErr_SetString(PyExc_RuntimeError, "gc.callbacks is not a list");
        return NULL;
    }
    return list;
}

PYPPER_SMALL_CODE int pypper_live_trace_start(const pypper_config *cfg)
{
    if (LT.on)
        return 0;
    PyObject *list = gc_callbacks_list();
    PyObject *cb = list ? PyCFunction_New(&callback_def, NULL) : NULL;
    if (!cb || PyList_Append(list, cb) < 0) {
        Py_XDECREF(cb);
        Py_XDECREF(list);
        return -1;
    }
    memset(&LT, 0, sizeof(LT));
    memset(pause_hist, 0, pause_hist_top * sizeof(pause_hist[0]));
    pause_hist_top = 0;
    LT.callback = cb;
    LT.callbacks = list;
    LT.on = true;
    LT.min_generation = (int)cfg->live_generation;
    LT.numbers = cfg->live_numbers;
    /* NULL: no rescans; the rest works. */
    LT.rescan_buf = pypper_own_mmap(PYPPER_OWN_LIVE_TRACE, RESCAN_FOUND_MAX * sizeof(PyObject *), 0);
    LT.str_generation = PyUnicode_InternFromString("generation");
    LT.str_start = PyUnicode_InternFromString("start");
    LT.str_stop = PyUnicode_InternFromString("stop");
    if (!LT.str_generation || !LT.str_start || !LT.str_stop) {
        pypper_live_trace_stop();
        return -1;
    }
    LT.freed_at_start = pypper_heap_tracked_frees();
    LT.noted_freed_at_start = pypper_heap_noted_frees();
    LT.dropped_at_start = pypper_objtable_dropped();
    LT.hashed_at_start = pypper_objtable_hashed(&LT.probed_at_start);
    pypper_objtable_set_alive(block_alive);
    unsigned stride;
    const uint64_t *noted = pypper_heap_noted_bits(&stride);
    pypper_objtable_set_alive_bits(noted, stride);     /* an entry lives while its block is noted */
    pypper_objtable_set_base(pypper_heap_base());      /* entries count from it */
    pypper_heap_set_tracking(true);
    pypper_own_set_resident_fn(PYPPER_OWN_TRACKED_BITS, pypper_heap_track_resident);

    uint64_t t0 = pypper_mono_ns();
    /* No room reserved for the heap's blocks: the table is a hash whose every page the
     * entries touch, and many blocks are not traced (numbers, item arrays, dict
     * tables): reserving for all took 75 MB of table for 4 M objects where growing as
     * they come (in place, 70% full after each growth) takes 45 MB. */
    PyInterpreterState *interp = PyInterpreterState_Get();
    uint64_t containers = 0;
    bool stepped = next_start_stepped;
    next_start_stepped = false;
    LT.first_stepped = stepped;
    LT.t0_ns = t0;
    LT.interp = interp;
    /* Tracked bits only (track_object): nothing to add to the table. In steps, the
     * oldest list is left to the promoted walk, and the young and permanent lists'
     * large containers to its chunks. */
    LT.marking_before = true;
    for (int i = 0; i < NUM_GENERATIONS - (stepped ? 1 : 0); i++)
        containers += walk_after(interp, &interp->gc.generations[i].head, stepped);
    containers += walk_after(interp, &interp->gc.permanent_generation.head, stepped);
    LT.marking_before = false;
    uint64_t ns = pypper_mono_ns() - t0;
    LT.full_pass_ns = ns;
    LT.full_pass_objects = LT.tracked_total;
    if (!stepped)
        LT.first_pass_done_ns = ns;
    if (anchor_start(stepped) < 0) {
        pypper_live_trace_stop();
        return -1;
    }
    __atomic_store_n(&LT.behind, stepped, __ATOMIC_RELAXED);
    if (stepped)
        pypper_log(PYPPER_LOG_INFO, "live trace: %llu objects (%llu containers) in %.1f ms, "
                   "the oldest GC generation to follow in steps",
                   (unsigned long long)LT.full_pass_objects, (unsigned long long)containers,
                   (double)ns / 1e6);
    else
        pypper_log(PYPPER_LOG_INFO, "live trace: %llu objects (%llu containers) in %.1f ms",
                   (unsigned long long)LT.full_pass_objects, (unsigned long long)containers,
                   (double)ns / 1e6);
    return 0;
}

PYPPER_SMALL_CODE void pypper_live_trace_stop(void)
{
    if (!LT.on)
        return;
    LT.on = false;
    LT.freed_final = pypper_heap_tracked_frees() - LT.freed_at_start;
    PyObject *list = LT.callbacks;
    LT.callbacks = NULL;
    if (list) {
        Py_ssize_t n = PyList_GET_SIZE(list);
        for (Py_ssize_t i = n - 1; i >= 0; i--) {
            if (PyList_GET_ITEM(list, i) == LT.callback) {
                PySequence_DelItem(list, i);
                break;
            }
        }
        Py_DECREF(list);
    }
    PyErr_Clear();
    Py_CLEAR(LT.callback);
    Py_CLEAR(LT.anchor);
    Py_CLEAR(LT.first_end);
    Py_CLEAR(LT.horizon);
    Py_CLEAR(LT.frozen_end);
    Py_CLEAR(LT.frozen_start);
    Py_CLEAR(LT.oldest_start);
    for (int gen = 0; gen < NUM_GENERATIONS - 1; gen++)
        Py_CLEAR(LT.young_mark[gen]);
    LT.npending = 0;
    if (LT.rescan_buf)
        pypper_own_munmap(LT.rescan_buf, RESCAN_FOUND_MAX * sizeof(PyObject *));
    LT.rescan_buf = NULL;
    Py_CLEAR(LT.str_generation);
    Py_CLEAR(LT.str_start);
    Py_CLEAR(LT.str_stop);
    bool locked = pypper_heap_lock();
    pypper_heap_set_tracking(false);
    /* All bits at once, without reading the table or writing the bitmap: in a forked
     * child both are the parent's pages (a block-by-block clear copied the bitmap).
     * Refused (memory locked by mlockall): block by block. */
    if (!pypper_heap_untrack_all()) {
        uint64_t cursor = 0;
        pypper_tracked_block t;
        while (pypper_heap_tracked_next(&cursor, UINT64_MAX, &t))
            pypper_heap_untrack(t.block);
    }
    pypper_objtable_clear();
    pypper_own_set_resident_fn(PYPPER_OWN_TRACKED_BITS, NULL);     /* dropped above */
    pypper_heap_unlock(locked);
}

void pypper_live_trace_forget_after_fork(void)
{
    /* In a forked child: the table and bits are the parent's copy; drop them. */
    if (LT.on)
        pypper_live_trace_stop();
}

bool pypper_live_trace_running(void) { return LT.on; }

bool pypper_live_trace_knows(PyObject *op)
{
    if (!LT.on)
        return false;
    pypper_live_trace_catch_up();
    pypper_block_info info;
    bool locked = pypper_heap_lock();
    pypper_heap_lookup(op, &info);
    bool known = info.allocated && pypper_heap_tracks(info.block, op);
    pypper_heap_unlock(locked);
    return known;
}

size_t pypper_live_trace_objects(void)
{
    if (!LT.on)
        return 0;
    uint64_t freed = pypper_heap_tracked_frees() - LT.freed_at_start;
    return LT.tracked_total > freed ? (size_t)(LT.tracked_total - freed) : 0;
}

int pypper_live_trace_give_entry(PyObject *op)
{
    if (!LT.on)
        return -1;
    int made = 0;
    pypper_block_info info;
    bool locked = pypper_heap_lock();
    pypper_heap_lookup(op, &info);
    if (!info.allocated || !pypper_heap_tracks(info.block, op)) {
        made = -1;
    } else if (pypper_objtable_sync() == 0) {
        bool fresh;
        (void)pypper_traced_entry(info.block, op, &fresh);
        made = fresh;
    }
    pypper_heap_unlock(locked);
    return made;
}

/* Of those, the ones with an entry in the object table. */
static size_t live_entries(void)
{
    if (!LT.on)
        return 0;
    uint64_t dead = dead_entries();
    size_t n = pypper_objtable_used();
    return dead < n ? n - (size_t)dead : 0;
}

/* Occupied slots a sync probed per entry it hashed since the session started (2-6
 * when the homes spread evenly; clustered homes made it 87-171). */
static double probes_per_add(void)
{
    uint64_t probed, hashed = pypper_objtable_hashed(&probed);
    hashed -= LT.hashed_at_start;
    probed -= LT.probed_at_start;
    return hashed ? (double)probed / (double)hashed : 0.0;
}

PyObject *pypper_live_trace_progress(PyObject *obj)
{
    pypper_block_info info;
    bool locked = pypper_heap_lock();
    pypper_heap_lookup(obj, &info);
    bool tracks = LT.on && info.allocated && pypper_heap_tracks(info.block, obj);
    bool before = tracks && pypper_heap_is_before(info.block);
    pypper_heap_unlock(locked);
    return Py_BuildValue("{s:O,s:O,s:K,s:I,s:K,s:O,s:O,s:O}",
                         "stepped", LT.first_stepped ? Py_True : Py_False,
                         "first_pass_open", first_pass_open() ? Py_True : Py_False,
                         "steps", (unsigned long long)LT.first_pass_steps,
                         "pending", LT.npending,
                         "chunked", (unsigned long long)LT.chunked,
                         "tracks", tracks ? Py_True : Py_False,
                         "before", before ? Py_True : Py_False,
                         "rescan_inside", LT.rescan_at.op ? Py_True : Py_False);
}

PyObject *pypper_live_trace_stats(void)
{
    pypper_live_trace_catch_up();
    return Py_BuildValue(
        "{s:O,s:n,s:n,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:d,s:d,s:d,s:K,s:K,s:K,s:K,s:K,s:d,s:d,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:O,s:K,s:d,s:K,s:K}",
        "running", LT.on ? Py_True : Py_False,
        "objects", (Py_ssize_t)pypper_live_trace_objects(),
        "entries", (Py_ssize_t)live_entries(),
        "tracked_total", (unsigned long long)LT.tracked_total,
        "freed", (unsigned long long)(LT.on ? pypper_heap_tracked_frees() - LT.freed_at_start
                                            : LT.freed_final),
        "swept", (unsigned long long)LT.swept,
        "survivors_walked", (unsigned long long)LT.survivors_walked,
        "fallback_walks", (unsigned long long)LT.fallback_walks,
        "rescan_found", (unsigned long long)LT.rescan_found,
        "passes", (unsigned long long)LT.passes,
        "full_pass_objects", (unsigned long long)LT.full_pass_objects,
        "full_pass_ms", (double)LT.full_pass_ns / 1e6,
        "full_pass_ns_per_object",
        LT.full_pass_objects ? (double)LT.full_pass_ns / (double)LT.full_pass_objects : 0.0,
        "pause_max_ms", (double)LT.pause_max_ns / 1e6,
        "table_failures", (unsigned long long)LT.table_failures,
        "young_walked", (unsigned long long)LT.young_walked,
        "young_found", (unsigned long long)LT.young_found,
        "frame_locals_found", (unsigned long long)LT.held_found,
        "pressure_skips", (unsigned long long)LT.pressure_skips,
        "pause_p99_ms", (double)pause_p99_us() / 1e3,
        "probes_per_add", probes_per_add(),
        "table_shrinks", (unsigned long long)LT.shrinks,
        "promoted_walked", (unsigned long long)LT.promoted_walked,
        "promoted_catch_ups", (unsigned long long)LT.promoted_catch_ups,
        "promoted_restarts", (unsigned long long)LT.promoted_restarts,
        "freezes_followed", (unsigned long long)LT.freezes_followed,
        "frozen_young_walked", (unsigned long long)LT.frozen_young_walked,
        "promoted_gated", (unsigned long long)LT.promoted_gated,
        "untracked_taken", (unsigned long long)LT.untracked_taken,
        "first_pass_stepped", LT.first_stepped ? Py_True : Py_False,
        "first_pass_steps", (unsigned long long)LT.first_pass_steps,
        "first_pass_ms", (double)LT.first_pass_done_ns / 1e6,
        "chunked_containers", (unsigned long long)LT.chunked,
        "chunks", (unsigned long long)LT.chunks);
}
