/* Python/active_trace.c: the active trace (active_trace.h): the sampler thread
 * ("pypper-sampler") and the hand-over of its evidence to the temperature model.
 *
 * Why frames: an access to an object raises its reference count for a few
 * nanoseconds, so polling reference counts sees a tiny share of accesses (Doc/design.md
 * §9). But the object being used is, for the length of the bytecodes that use it,
 * in a slot of the running frame (a local, or its value stack, whose slots keep the
 * last value pushed there until the next push), or of a calling frame, so a
 * thread that reads the main thread's innermost frames every few hundred
 * nanoseconds sees most accesses, whatever the number of live objects. An object
 * newly in a slot counts as an access (FRAME, or CALLER in an outer frame); one still
 * in the same value-stack slot of the same frame as at the previous sample counts a
 * little (HOLD; frame_reader.c says which slots). Reference
 * counts of a rotating window of the object table are polled as well (REFCOUNT):
 * they catch objects touched only by C code (container items, keys).
 *
 * Without the GIL the thread reads only memory that stays mapped for the session
 * (stack_chunks.c, the heap's committed arenas), with relaxed loads; every pointer
 * it keeps must be the start of an object the live trace tracks (the heap's
 * tracked-block bitmap), and is checked again against the object table under the
 * GIL before the model uses it. The thread works in bursts of SAMPLE_DUTY/SAMPLE_HZ
 * seconds and sleeps so that its CPU time stays within SAMPLE_DUTY of one core; it
 * sleeps longer while the rest of the process uses no CPU. After a burst that saw the
 * main thread still it moves off the main thread's CPU if it is there
 * (Pypper/sampler_placement.h, SAMPLE_AWAY).
 *
 * The thread never takes the GIL and has no Python thread state, so the program
 * cannot see it (faulthandler's and sys._current_frames()'s lists of threads): every
 * APPLY_MS it queues a pending call (_PyEval_AddPendingCall, for any thread of the
 * interpreter), and the next thread that runs Python code runs the engine's step
 * (Python/engine.c, installed with pypper_active_trace_connect) at its next
 * eval-breaker check, where it would otherwise have handed the GIL over. This file
 * calls no later stage: the engine calls pypper_active_trace_apply() to feed the
 * evidence to the model. Around a
 * fork() the thread is joined and started again in the parent (CPython 3.12 warns
 * about forking a process that has threads). */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_ceval.h"
#include "../Pypper/clock.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_pystate.h"

#include "active_trace.h"
#include "frame_reader.h"
#include "held_numbers.h"
#include "scan_groups.h"
#include "signal_sampler.h"
#include "stack_chunks.h"

#include "../Objects/heap.h"
#include "../Objects/residency.h"
#include "../Objects/track.h"
#include "../Pypper/lifecycle.h"
#include "../Pypper/log.h"
#include "../Pypper/cpu_guard.h"
#include "../Pypper/main_readings.h"
#include "../Pypper/pressure.h"
#include "../Pypper/sampler_placement.h"
#include "../Pypper/step_budget.h"
#include "../Objects/heap_pages.h"
#include "../Pypper/objtable.h"
#include "pending_nudge.h"
#include "traced_entry.h"
#include "../Pypper/attribution.h"
#include "../Pypper/page_heat.h"
#include "../Pypper/temperature.h"
#include "../Pypper/threads.h"
#include "../Pypper/write_tracking_heap.h"
#include "../Pypper/own_memory.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "../Pypper/code_size.h"

/* The evidence table holds the distinct objects seen since the last hand-over: a
 * few hundred in most programs, so it starts small and doubles (under mu, rehashing)
 * when 3/4 full, up to HIT_CAP; a full table at HIT_CAP drops new objects (`dropped`).
 * At 65,536 slots (1 MiB), a session cache whose hand-overs the budget spaced 300 ms
 * apart filled 32,768 of them (0.7 MiB of Pypper's own memory, 2% of its heap); at
 * 16,384 it dropped 1,917 of about 40,000 objects' evidence, most of them loop
 * temporaries, and the accuracy workloads none. */
#define HIT_MIN 1024u           /* evidence table slots at the start (a power of two) */
#define HIT_CAP 16384u          /* and at most (256 KiB) */
#define POLL_WINDOW 16384       /* object-table entries re-classified per apply */
#define POLL_MIN 256            /* entries polled between two applies, at least */
#define POLL_BATCH 4           /* reference counts read per burst iteration */
#define APPLY_MS 100
/* The hand-overs' CPU time at most this share of the program's (Pypper/step_budget.h):
 * a step of 5.9 ms (a session cache of 40,000 records in an OrderedDict, 40 MB) then
 * runs every 300 ms of its CPU time instead of every APPLY_MS. */
#define HAND_OVER_SHARE 0.02
#define HAND_OVER_CREDIT_MS 20
#define STILL_SAMPLES 256       /* samples without change that end a burst */
#define IDLE_WINDOW_NS (20 * 1000 * 1000ull)
#define IDLE_SLEEP_MAX_NS (160 * 1000 * 1000ull)   /* idle sleeps double up to this */
#define PARK_EVERY_NS (1000 * 1000 * 1000ull)      /* steps asked for the heap's tick */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* 16 bytes (18 with its `used` index): the table can reach tens of thousands of
 * slots in programs that make many objects. The object is kept as its address in
 * 16-byte units, in 48 bits (every pointer recorded is 16-byte aligned; user addresses
 * have 47 bits, 56 with 5-level page tables, where one beyond 2^52 is dropped). A
 * count stops at 65,535 pieces of one kind for one object between two hand-overs
 * (about 4,000 samples fit in one 100 ms hand-over interval here; more only when a
 * long C call delays it). */
typedef struct {
    uint32_t unit_lo;
    uint16_t unit_hi;
    uint16_t n[PYPPER_EVIDENCE_KINDS];
} hit_slot;
_Static_assert(sizeof(hit_slot) == 16, "the evidence table's slot is 16 bytes");

static inline void *hit_object(const hit_slot *h)
{
    return (void *)((((uintptr_t)h->unit_hi << 32) | h->unit_lo) << 4);
}

static inline bool hit_empty(const hit_slot *h) { return !h->unit_lo && !h->unit_hi; }

/* An entry of the poll window, 8 bytes (the window follows the reads: up to 16,384
 * entries): the object as its granule from the object table's base (36 bits), its
 * distance from its block start in granules (2 bits), whether it is polled and
 * whether `last` holds a read, and the low 24 bits of its reference count at the last
 * read (a change by a multiple of 2^24 between two reads goes unseen). */
typedef uint64_t poll_entry;
#define POLL_GRANULES ((1ull << 36) - 1)
#define POLL_OFFSET_SHIFT 36
#define POLL_READ (1ull << 38)
#define POLL_ON (1ull << 39)
#define POLL_LAST_SHIFT 40
#define POLL_LAST ((1u << 24) - 1)

/* The sampler's schedule, kept across the thread's restarts around fork(). */
typedef struct {
    bool started;
    bool idle;                  /* the program used (almost) no CPU in the last window */
    uint64_t idle_sleep_ns;     /* the next idle sleep: doubles while the program sleeps */
    uint64_t next_apply, last_wall, last_other, last_main;
    uint64_t next_park;         /* the next hand-over asked for the heap's tick only */
    pypper_step_budget steps;   /* the hand-overs' share of the main thread */
} sampler_loop;

static struct {
    bool on;
    pypper_thread thread;
    bool thread_on;             /* started, and no one has taken its join yet */
    bool fork_joined;           /* joined for a fork: started again after it */
    atomic_bool stop;           /* the session ends */
    atomic_bool quit;           /* a fork is being prepared: the thread returns */
    pthread_mutex_t mu;         /* the evidence table and the poll window */
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv;    /* CLOCK_MONOTONIC; stop and quit wake the thread */
    atomic_bool hold;           /* tests: the thread stays parked; the test drives it */
    bool parked;                /* the thread waits while held */
    pthread_cond_t parked_cv;   /* CLOCK_MONOTONIC */
    PyInterpreterState *interp; /* where hand-overs run (the main interpreter) */
    uintptr_t generation;       /* of the session: a call queued by an older one is void */
    atomic_bool queued;         /* a hand-over call is queued */
    atomic_bool want_full;      /* it should feed the model (not only collect a round) */
    atomic_bool handing_over;   /* a thread waits for mu to hand over: bursts end */
    bool numbers_traced;        /* LIVE_NUMBERS: ints and floats have entries */
    hit_slot *hits;
    uint16_t *used;             /* indexes of the occupied slots (HIT_CAP <= 65536) */
    size_t nused;
    uint32_t hit_cap;           /* slots of hits and used (a power of two) */
    uint64_t hit_grows;
    poll_entry *poll;
    size_t npoll, poll_pos, table_cursor;
    uint64_t poll_cursor;       /* where the choice of polls without entries goes on: a
                                   granule of the tracked bitmap (Objects/track.h) */
    size_t entry_poll_cursor;   /* and of those with entries: a slot of the table */
    uint64_t poll_reads_at_refill;
    uint64_t poll_written, poll_unwritten;  /* entries chosen / passed over by page writes */
    PyThreadState *target;      /* the main thread, or NULL: frames are not read */
    clockid_t target_clock;     /* its CPU clock */
    bool target_has_clock;
    pid_t target_tid;           /* its kernel thread id (where it runs: /proc) */
    bool away;                  /* SAMPLE_AWAY: keep off the target's CPU */
    pypper_sampler_placement place;     /* sampler-side */
    double duty;
    long burst_ns, period_ns, gap_ns;
    int depth;
    uint64_t t0_ns;             /* model time 0: the session's start */
    /* Tests: model time frozen at clock_ms, or the monotonic clock moved by offset_ms. */
    bool clock_frozen;
    uint32_t clock_ms;
    int64_t offset_ms;
    /* Sampler-private: what each frame slot held at the previous sample. Mapped
     * (64 KiB, of which SAMPLE_DEPTH rows are touched: 8 KiB at the default), not
     * inside AT, whose memset at start would make all of it resident. */
    pypper_frame_memory *frames;
    /* Counters (sampler side under mu, apply side under the GIL). */
    uint64_t bursts, iterations, frame_samples, slots_read, evidence[PYPPER_EVIDENCE_KINDS];
    uint64_t attr_evidence;     /* of it, given to objects a local's attribute holds */
    uint64_t still_bursts, poll_reads, applies, applied, to_pages, unsettled, unknown, dropped, idle_sleeps;
    uint64_t entries_made, entries_refused;     /* object-table entries evidence made */
    uint64_t pressure_sleeps;   /* windows slept because the process was short of memory */
    uint64_t test_samples;      /* iterations run by pypper_active_trace_sample_now() */
    uint64_t signal_evidence;   /* drained from the signal sampler */
    uint64_t hand_overs, hand_over_ns;  /* run in the program's threads, and their CPU time */
    uint64_t hand_over_nudges;          /* a queued one's signal given again (request_hand_over) */
    uint64_t refills, page_censuses;    /* of the poll window; of the pages' heat */
    uint64_t cpu_ns_done;       /* CPU time of the session's threads that ended (forks) */
    sampler_loop loop;
} AT PYPPER_PINNED = {.mu = PTHREAD_MUTEX_INITIALIZER, .sleep_mu = PTHREAD_MUTEX_INITIALIZER};

/* The CLOCK_MONOTONIC time `ns` from now, for the condition waits. */
static struct timespec monotonic_in(uint64_t ns)
{
    uint64_t t = pypper_mono_ns() + ns;
    return (struct timespec){.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
}

static int64_t real_now_ms(void)
{
    uint64_t now = pypper_mono_ns();
    return now > AT.t0_ns ? (int64_t)((now - AT.t0_ns) / 1000000u) : 0;
}

uint32_t pypper_active_trace_now_ms(void)
{
    if (AT.clock_frozen)
        return AT.clock_ms;
    int64_t ms = real_now_ms() + AT.offset_ms;
    return ms <= 0 ? 0 : ms >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* ---- the evidence table (sampler side, under mu) ---- */

static inline uint32_t hit_home(const void *object, uint32_t cap)
{
    uint64_t h = ((uint64_t)(uintptr_t)object >> 4) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 40) & (cap - 1);
}

/* _test_hold_sampler(True) without a session: the next session starts held. */
static bool hold_at_start;

static void *map_zeroed(size_t bytes);

/* Double the evidence table, rehashing what it holds; false when there is no memory
 * (the table stays as it was). */
static bool grow_hits(void)
{
    uint32_t cap = AT.hit_cap * 2;
    hit_slot *hits = map_zeroed(cap * sizeof(hit_slot));
    uint16_t *used = map_zeroed(cap * sizeof(uint16_t));
    if (!hits || !used) {
        if (hits)
            pypper_own_munmap(hits, cap * sizeof(hit_slot));
        if (used)
            pypper_own_munmap(used, cap * sizeof(uint16_t));
        return false;
    }
    for (size_t u = 0; u < AT.nused; u++) {
        const hit_slot *h = &AT.hits[AT.used[u]];
        uint32_t i = hit_home(hit_object(h), cap);
        while (!hit_empty(&hits[i]))
            i = (i + 1) & (cap - 1);
        hits[i] = *h;
        used[u] = (uint16_t)i;
    }
    pypper_own_munmap(AT.hits, AT.hit_cap * sizeof(hit_slot));
    pypper_own_munmap(AT.used, AT.hit_cap * sizeof(uint16_t));
    AT.hits = hits;
    AT.used = used;
    AT.hit_cap = cap;
    AT.hit_grows++;
    return true;
}

static void record(void *object, pypper_evidence kind)
{
    /* A walked container: SCAN standing for the reads between two that follow
     * iterators (frame_reader.h). */
    pypper_evidence asked = kind;
    bool walked = kind == PYPPER_EVIDENCE_WALKED;
    unsigned pieces = walked ? PYPPER_FOLLOW_EVERY : 1;
    if (walked)
        kind = PYPPER_EVIDENCE_SCAN;
    uintptr_t unit = (uintptr_t)object >> 4;
    if (!unit || ((uintptr_t)object & 15) || unit >> 48) {
        AT.dropped++;
        return;
    }
    uint32_t lo = (uint32_t)unit;
    uint16_t hi = (uint16_t)(unit >> 32);
    uint32_t mask = AT.hit_cap - 1;
    uint32_t i = hit_home(object, AT.hit_cap);
    while (!hit_empty(&AT.hits[i]) && (AT.hits[i].unit_lo != lo || AT.hits[i].unit_hi != hi))
        i = (i + 1) & mask;
    if (hit_empty(&AT.hits[i])) {
        /* A container a loop walks may take a slot of the last eighth: a loop over
         * 100,000 records fills the table with them between two hand-overs, and the
         * list they are in, dropped, gave its items no heat (Python/scan_groups.h). */
        if (AT.nused >= (walked ? AT.hit_cap / 8 * 7 : AT.hit_cap / 4 * 3)) {
            if (AT.hit_cap >= HIT_CAP || !grow_hits()) {
                AT.dropped++;
                return;
            }
            record(object, asked);          /* once: the new table is half full */
            return;
        }
        AT.hits[i].unit_lo = lo;
        AT.hits[i].unit_hi = hi;
        AT.used[AT.nused++] = (uint16_t)i;
    }
    uint16_t *n = &AT.hits[i].n[kind];
    *n = *n <= UINT16_MAX - pieces ? *n + pieces : UINT16_MAX;
    AT.evidence[kind]++;
}

/* ---- sampling (no GIL) ---- */

/* The sampler reads memory another thread owns (its objects' reference counts):
 * frame_reader.h's PYPPER_FOREIGN_READER. */
#define FOREIGN_READER PYPPER_FOREIGN_READER

static void record_sink(void *ctx, PyObject *object, pypper_evidence kind)
{
    (void)ctx;
    record(object, kind);
}

/* Returns whether anything in the innermost frame changed since the last sample. */
static bool sample_frames(PyThreadState *ts)
{
    pypper_frame_counts c = {0, 0, 0};
    bool moved = pypper_frames_read(ts, AT.depth, AT.frames, record_sink, NULL, &c);
    AT.frame_samples += c.frame_samples;
    AT.slots_read += c.slots_read;
    AT.attr_evidence += c.attr_evidence;
    return moved;
}

FOREIGN_READER static void poll_refcounts(void)
{
    if (!AT.npoll)
        return;
    for (int k = 0; k < POLL_BATCH; k++) {
        poll_entry *e = &AT.poll[AT.poll_pos];
        if (++AT.poll_pos == AT.npoll)
            AT.poll_pos = 0;
        poll_entry p = *e;
        if (!(p & POLL_ON))
            continue;
        char *object = pypper_objtable_base + (p & POLL_GRANULES) * PYPPER_OBJTABLE_GRANULE;
        /* The block stays mapped for the session; what it holds now is checked
         * below and again under the GIL. */
        uint32_t rc = (uint32_t)LOAD(((PyObject *)object)->ob_refcnt) & POLL_LAST;
        AT.poll_reads++;
        if ((p & POLL_READ) && rc == (uint32_t)(p >> POLL_LAST_SHIFT))
            continue;
        bool first = !(p & POLL_READ);
        p = (p & ((1ull << POLL_LAST_SHIFT) - 1)) | (uint64_t)rc << POLL_LAST_SHIFT | POLL_READ;
        unsigned offset = (unsigned)(p >> POLL_OFFSET_SHIFT) & 3u;
        if (!pypper_heap_probe_tracked(object - offset * PYPPER_OBJTABLE_GRANULE))
            p &= ~POLL_ON;                  /* freed: stop reading it */
        else if (!first)
            record(object, PYPPER_EVIDENCE_REFCOUNT);
        *e = p;
    }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Returns whether the burst ended because the main thread did not move. */
static bool burst(void)
{
    pthread_mutex_lock(&AT.mu);
    uint64_t deadline = pypper_mono_ns() + (uint64_t)AT.burst_ns;
    PyThreadState *ts = AT.target;
    uint64_t i = 0, still = 0, next = pypper_mono_ns();
    bool ended_still = false;
    do {
        /* A main thread that does not move (blocked, or not scheduled beside this
         * one) has nothing more to show in this burst. */
        if (ts && !sample_frames(ts) && ++still == STILL_SAMPLES) {
            AT.still_bursts++;
            ended_still = true;
            i++;
            break;
        }
        poll_refcounts();
        i++;
        if (AT.gap_ns) {
            /* Wait between samples without touching the program's memory: reading the
             * lines it writes, back to back, slows it (they bounce between cores). */
            next += (uint64_t)AT.gap_ns;
            while (pypper_mono_ns() < next)
                cpu_relax();
        }
        if (!(i & 15) && (atomic_load(&AT.quit) || atomic_load(&AT.stop)
                          || atomic_load(&AT.handing_over)))
            break;
    } while ((i & 15) || pypper_mono_ns() < deadline);
    AT.iterations += i;
    AT.bursts++;
    pthread_mutex_unlock(&AT.mu);
    return ended_still;
}

/* ---- feeding the model (GIL held, mu held) ---- */

/* The model's scale: a census of the heats of at most CENSUS_SAMPLE entries spread
 * evenly over the whole object table (from an offset that moves at each hand-over;
 * empty slots have no heat and are not counted). Not the poll window: when the table
 * kept the objects in the order the live trace took them, a window was one part of
 * the program's data, and on tests/programs/bfs_graph.py its 95th percentile went from
 * 0.09 to 2,896 from one hand-over to the next, and with it every temperature (the
 * table is in hash order now, but a window is still a small sample). */
#define CENSUS_SAMPLE 16384

/* Whether a traced entry with heat is an int or a float (LIVE_NUMBERS). They stay out
 * of the census: a number in a hot list is read with it, and the frames show it on top
 * (`for w in graph[v]` holds w in a slot), so hot numbers are hotter than the lists
 * that hold them. Counted, they set the reference heat: a newcomer's BFS had its hot
 * adjacency lists (297-300 KiB hot by default) 64 B hot with LIVE_NUMBERS=1. Their own
 * temperature is still measured against the reference. (An object the pageout backend
 * sent to swap is not read: it counts.) */
static bool is_number(const pypper_obj_entry *e, const pypper_obj_state *st)
{
    if (!(st->heat > 0.0f))
        return false;           /* not counted anyway: its header is not read */
    PyObject *op = (PyObject *)pypper_entry_object(e);
    if (!pypper_residency_may_touch(op))
        return false;
    return PyLong_CheckExact(op) || PyFloat_CheckExact(op);
}

/* The pages' census (Pypper/page_heat.h) runs at one refill in PAGE_CENSUS_EVERY
 * (once a second), from the second on: up to 16,384 page slots read over the heap's
 * committed extent. */
#define PAGE_CENSUS_EVERY 10

static void take_page_census(uint32_t now)
{
    size_t first[PYPPER_TIERS], count[PYPPER_TIERS];
    int n = pypper_heap_committed_ranges(first, count, PYPPER_TIERS);
    pypper_page_heat_census(first, count, n, AT.page_censuses++, now);
}

static PYPPER_SMALL_CODE void take_census(size_t count, uint32_t now)
{
    pypper_model_census census;
    pypper_model_census_begin(&census);
    size_t stride = count > CENSUS_SAMPLE ? (count + CENSUS_SAMPLE - 1) / CENSUS_SAMPLE : 1;
    const pypper_obj_entry *entries = pypper_objtable_entries();
    for (size_t i = (size_t)(AT.applies % stride); i < count; i += stride) {
        const pypper_obj_state *st = pypper_entry_state(&entries[i]);
        if (pypper_objtable_current(&entries[i]) && !(AT.numbers_traced && is_number(&entries[i], st)))
            pypper_model_census_add(&census, st, now);      /* (which counts what has heat) */
    }
    pypper_model_census_end(&census, now);
}

/* The objects polled: half from the object table (the objects with evidence, from a
 * cursor over its slots: hash order, so a group of related objects is not polled all
 * at once and then not at all, which made a median of 300 objects' temperatures jump
 * by 0.08 from one hand-over to another), the rest from the tracked objects without
 * an entry (Objects/track.h, in address order from a cursor of their own), whose
 * first use they show. With write tracking, chosen by page writes (Pypper/
 * attribution.h): among at most POLL_LOOK looked at, those whose page was written in
 * the last interval scanned (or not known to be unwritten). An object on a page not
 * written since that scan was not used since: it needs no poll, and the reads go to
 * objects that may have been used. An object the pageout backend sent to swap is not
 * polled: the read would bring its page back. */
#define POLL_LOOK (2 * POLL_WINDOW)

static poll_entry poll_entry_of(const void *block, const void *object)
{
    const char *o = object, *b = block;
    return POLL_ON | (uint64_t)(o - pypper_objtable_base) / PYPPER_OBJTABLE_GRANULE
           | (uint64_t)((o - b) / PYPPER_OBJTABLE_GRANULE) << POLL_OFFSET_SHIFT;
}

/* Whether an object is worth a poll now (see above); counts those skipped unwritten. */
static bool poll_wanted(const void *block, const void *object, bool by_writes)
{
    if (by_writes && !pypper_attr_poll_wanted(pypper_wt_written_last(object))) {
        AT.poll_unwritten++;
        return false;
    }
    return pypper_residency_may_touch(block);
}

static size_t choose_polls_with_entries(size_t k, size_t m, bool by_writes)
{
    size_t count = pypper_objtable_count();
    if (AT.entry_poll_cursor >= count)
        AT.entry_poll_cursor = 0;
    for (size_t looked = 0; looked < count && looked < POLL_LOOK && k < m; looked++) {
        pypper_obj_entry *e = pypper_objtable_at(AT.entry_poll_cursor);
        if (++AT.entry_poll_cursor == count)
            AT.entry_poll_cursor = 0;
        if (pypper_objtable_current(e) && poll_wanted(pypper_entry_block(e), pypper_entry_object(e), by_writes))
            AT.poll[k++] = poll_entry_of(pypper_entry_block(e), pypper_entry_object(e));
    }
    return k;
}

static size_t choose_polls_without_entries(size_t k, size_t m, bool by_writes)
{
    /* Once round the heap at most (fewer such objects than m: all of them). */
    uint64_t start = AT.poll_cursor;
    bool wrapped = false;
    pypper_tracked_block t;
    for (size_t looked = 0; looked < POLL_LOOK && k < m
                            && pypper_heap_tracked_round(&AT.poll_cursor, start, &wrapped, &t);) {
        looked++;
        if (t.object && !t.noted && poll_wanted(t.block, t.object, by_writes))
            AT.poll[k++] = poll_entry_of(t.block, t.object);
    }
    return k;
}

static size_t choose_polls(size_t m, bool by_writes)
{
    size_t k = choose_polls_with_entries(0, m / 2, by_writes);
    k = choose_polls_without_entries(k, m, by_writes);
    if (k < m)                          /* few without: more with (a late start()'s heap) */
        k = choose_polls_with_entries(k, m, by_writes);
    if (by_writes)
        AT.poll_written += k;
    return k;
}

/* The next window of the object table: POLL_WINDOW entry numbers (empty slots among
 * them read as idle) get their class re-evaluated (so objects that cool without new
 * evidence change class too); then the next objects to poll are chosen. A change is
 * seen between two reads of a count, so the polled part is about half the reads of
 * the last interval (each object is read about twice before the next refill; one read
 * once would never show one). An entry without heat and cold already is left as it
 * is: it has nothing to count or change (not even its block is looked at). One pass
 * over the window, through the table's slots (the table does not change under the
 * GIL): two passes with a call per entry cost the hand-over about 1 M instructions
 * (churn.py, containers.py under callgrind), a third of the hand-over there. */
static void refill_poll_window(uint32_t now)
{
    bool by_writes = pypper_wt_active();
    size_t count = pypper_objtable_count();
    size_t n = count < POLL_WINDOW ? count : POLL_WINDOW;
    uint64_t reads = AT.poll_reads - AT.poll_reads_at_refill;
    AT.poll_reads_at_refill = AT.poll_reads;
    size_t m = AT.applies ? (size_t)(reads / 2) : POLL_WINDOW / 4;
    if (m < POLL_MIN)
        m = POLL_MIN;
    if (m > POLL_WINDOW)
        m = POLL_WINDOW;
    if (AT.table_cursor >= count)
        AT.table_cursor = 0;
    take_census(count, now);
    if (AT.refills++ % PAGE_CENSUS_EVERY == 1)
        take_page_census(now);
    pypper_obj_entry *entries = pypper_objtable_entry0;
    size_t c = AT.table_cursor;
    for (size_t i = 0; i < n; i++) {
        pypper_obj_entry *e = &entries[c];
        if (++c == count)
            c = 0;
        const pypper_obj_state *st = pypper_entry_state(e);
        if (st->heat <= 0.0f && pypper_entry_class(e) == PYPPER_COLD)
            continue;                   /* it would stay cold */
        pypper_model_classify(e, pypper_model_temperature(pypper_model_heat(st, now), now));
    }
    AT.table_cursor = c;
    AT.npoll = choose_polls(m, by_writes);
    AT.poll_pos = 0;
}

/* The share of an object's sightings in frames (new or held) that found it handed
 * to C code that may read all its items; 1 when it was not seen in a frame, 0 below
 * SCAN_MIN_SHARE. A scan takes time in proportion to the items it reads, so a list
 * that C code scans is found so a large part of the times it is seen: 0.4-0.7 for
 * the hot columns of tests/programs/column_store.py, per hand-over. A list picked
 * from is found so by chance (a call site not yet specialized, a frame's first
 * read): 0.001-0.03 for tests/programs/bfs_choice.py's `rest`, which then made its
 * 48,000 numbers hot (each of 7 such sightings in a hand-over stood for 0.6 of heat
 * on every item). */
#define SCAN_MIN_SHARE 0.1

/* The reads of the frames that showed an object, but for scans. */
static double frame_sightings(const uint16_t n[PYPPER_EVIDENCE_KINDS])
{
    return (double)n[PYPPER_EVIDENCE_FRAME] + n[PYPPER_EVIDENCE_CALLER] + n[PYPPER_EVIDENCE_HOLD];
}

static double scan_share(const uint16_t n[PYPPER_EVIDENCE_KINDS])
{
    double seen = frame_sightings(n);
    if (!(seen > 0.0))
        return 1.0;
    double share = (double)n[PYPPER_EVIDENCE_SCAN] / seen;
    return share < SCAN_MIN_SHARE ? 0.0 : share < 1.0 ? share : 1.0;
}

/* The hand-overs' count for pypper_heap_pool_settled (Objects/heap.h): never 0, and
 * not reset with a session (a pool keeps the turn it was last asked at). */
static uint32_t pool_turn;

static PYPPER_SMALL_CODE void apply_locked(bool refill)
{
    uint32_t now = pypper_active_trace_now_ms();
    if (refill)
        (void)pypper_signal_sampler_check();  /* the program may have taken the signal */
    bool locked = pypper_heap_lock();
    pypper_objtable_sync();
    pypper_held_numbers_begin(AT.applies);
    if (++pool_turn == 0)
        pool_turn = 1;
    uint32_t turn = pool_turn;
    /* What the main thread's own signal handler saw joins the thread's evidence. */
    AT.signal_evidence += pypper_signal_sampler_drain(record_sink, NULL);
    for (size_t u = 0; u < AT.nused; u++) {
        hit_slot *h = &AT.hits[AT.used[u]];
        void *object = hit_object(h);
        double weighed = pypper_model_weigh(h->n);
        pypper_block_info info;
        pypper_heap_lookup(object, &info);
        pypper_obj_entry *e = NULL;
        if (info.allocated && pypper_heap_tracks(info.block, object)) {
            /* A tracked object: its entry, or a new one now that it has evidence (a
             * freed object's entry waits for a sweep: not current, replaced). No
             * room: its page takes the evidence. */
            bool made;
            e = pypper_traced_entry(info.block, object, &made);
            AT.entries_made += made;
            AT.entries_refused += !e && !pypper_heap_is_noted(info.block);
        }
        if (e && pypper_entry_object(e) == object && pypper_objtable_current(e)) {
            pypper_obj_state *st = pypper_entry_state_mut(e);
            pypper_model_add_heat(st, weighed, now);
            if (pypper_residency_may_touch(pypper_entry_block(e))) {
                double scanned = scan_share(h->n);
                PyObject *op = (PyObject *)pypper_entry_object(e);
                /* Uses of its items (held_numbers.h): a read of the frames finding it
                 * scanned stands for one, as any other piece of its evidence does; a
                 * container that no frame showed passes none on. */
                bool in_frames = frame_sightings(h->n) > 0.0 || h->n[PYPPER_EVIDENCE_SCAN];
                double item_uses = !in_frames ? 0.0
                                   : (scanned > 0.0 ? (double)h->n[PYPPER_EVIDENCE_SCAN] : 0.0)
                                     + weighed * (1.0 - scanned);
                pypper_held_numbers_heat(op, item_uses, now);
                if (scanned > 0.0)
                    pypper_scan_groups_note(op, (double)h->n[PYPPER_EVIDENCE_SCAN], now);
            }
            pypper_model_classify(e, pypper_model_temperature(pypper_model_heat(st, now), now));
            AT.applied++;
        } else if (info.allocated && (!e || pypper_entry_object(e) != object)) {
            /* No entry (a number, or an object the live trace has not reached): its
             * page takes the evidence, about the objects on it only if its pool
             * settled (page_heat.h). */
            bool settled = info.kind != PYPPER_BLOCK_SMALL || pypper_heap_pool_settled(object, turn);
            pypper_page_heat_add(pypper_heap_page_index(object), weighed, now, settled);
            AT.to_pages++;
            AT.unsettled += !settled;
        } else {
            AT.unknown++;
        }
        *h = (hit_slot){0};
    }
    AT.nused = 0;
    if (refill)
        refill_poll_window(now);
    pypper_heap_unlock(locked);
    AT.applies++;
}

void pypper_active_trace_drain(void)
{
    if (!AT.on)
        return;
    pthread_mutex_lock(&AT.mu);
    apply_locked(false);
    pthread_mutex_unlock(&AT.mu);
}

/* The stage hooks the engine installs (kept apart from AT, which a start clears). The
 * sampler thread reads them: they change only while it is not running (the session
 * starts the engine before the active trace and stops it after). */
static pypper_engine_hooks stages;

void pypper_active_trace_connect(const pypper_engine_hooks *hooks)
{
    stages = hooks ? *hooks : (pypper_engine_hooks){0};
}

static bool step_due(void) { return stages.due && stages.due(); }

void pypper_active_trace_apply(void)
{
    if (!AT.on)
        return;
    pypper_stack_chunks_refresh();
    atomic_store(&AT.handing_over, true);
    pthread_mutex_lock(&AT.mu);
    atomic_store(&AT.handing_over, false);
    apply_locked(true);
    pthread_mutex_unlock(&AT.mu);
    /* A long container's group is built a step at a hand-over (and at a migration
     * round), so that it ends within seconds without one long pause; after the
     * evidence's lock is let go (the step reads no evidence, and the sampler thread
     * records under that lock). */
    bool locked = pypper_heap_lock();
    pypper_scan_groups_refresh_step(pypper_active_trace_now_ms());
    pypper_heap_unlock(locked);
}

/* The hand-over, a pending call: it runs with the GIL in whichever thread of the
 * interpreter next checks the eval breaker, and runs the engine's step (Python/
 * engine.c). No Python code runs in it. */
static int hand_over_call(void *arg)
{
    if ((uintptr_t)arg != AT.generation || !AT.on)
        return 0;                       /* queued by a session that has ended */
    /* Queued before a fork, run in the child before its session is forgotten (by a
     * finalizer's code as CPython clears the other threads): the tables are empty
     * copies there (Pypper/own_memory.c). */
    if (pypper_lifecycle_state() == PYPPER_STATE_STOPPED)
        return 0;
    atomic_store(&AT.queued, false);
    if (_Py_IsFinalizing() || atomic_load(&AT.hold))
        return 0;
    uint64_t c0 = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    bool feed = atomic_exchange(&AT.want_full, false);
    if (stages.step)
        stages.step(feed, true);
    AT.hand_overs++;
    /* (Read by the sampler thread for the budget.) */
    __atomic_fetch_add(&AT.hand_over_ns, pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0, __ATOMIC_RELAXED);
    return 0;
}

/* Sampler side: queue a hand-over, unless one is queued already. A full queue
 * (CPython's holds 32 calls) drops this one: the next APPLY_MS asks again. One still
 * queued a whole APPLY_MS later gets its signal again (pending_nudge.h: a program
 * thread may have overwritten it, and hand-overs would stop until something else set
 * the breaker). */
static void request_hand_over(bool full)
{
    if (full)
        atomic_store(&AT.want_full, true);
    if (atomic_exchange(&AT.queued, true)) {
        if (full && pypper_pending_nudge(AT.interp))
            AT.hand_over_nudges++;
        return;
    }
    if (_PyEval_AddPendingCall(AT.interp, hand_over_call, (void *)AT.generation, 0) < 0)
        atomic_store(&AT.queued, false);
}

/* ---- the thread ---- */

static void sleep_ns(uint64_t ns)
{
    if (!ns)
        return;
    struct timespec until = monotonic_in(ns);
    pthread_mutex_lock(&AT.sleep_mu);
    int rc = 0;
    while (!atomic_load(&AT.stop) && !atomic_load(&AT.quit) && !atomic_load(&AT.hold)
           && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&AT.sleep_cv, &AT.sleep_mu, &until);
    pthread_mutex_unlock(&AT.sleep_mu);
}

/* CPU time of the rest of the process (advances in scheduler ticks, so only a large
 * share of a window means something). */
static uint64_t others_cpu_ns(void)
{
    /* The process clock keeps the time of this session's earlier sampler threads
     * (one per fork): not the program's either. This thread's clock is read first:
     * read after the process clock, it had run on, and the difference could go down
     * from one window to the next (see cpu_since). */
    uint64_t self = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    return pypper_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - self - AT.cpu_ns_done;
}

/* CPU time used between two readings of a clock that may read a little lower the
 * second time (others_cpu_ns: two clocks read one after the other): 0 then. (A wrapped
 * difference read as 18 million seconds made an idle program look busy at every other
 * 20 ms window: the sampler then read its frames for 256 samples and moved itself,
 * 1.5% of a core while the program slept.) */
static uint64_t cpu_since(uint64_t now, uint64_t before)
{
    return now > before ? now - before : 0;
}

/* Park while a test holds the thread: the test drives the sampling itself. */
static void park_if_asked(void)
{
    if (!atomic_load(&AT.hold))
        return;
    pthread_mutex_lock(&AT.sleep_mu);
    AT.parked = true;
    pthread_cond_broadcast(&AT.parked_cv);
    while (atomic_load(&AT.hold) && !atomic_load(&AT.stop) && !atomic_load(&AT.quit))
        pthread_cond_wait(&AT.sleep_cv, &AT.sleep_mu);
    AT.parked = false;
    pthread_mutex_unlock(&AT.sleep_mu);
}

/* The main thread's CPU as it last read it (main_readings.h), or -1. */
static int main_cpu_now(void)
{
    pypper_main_reading r;
    pypper_main_readings_get(&r);
    return r.cpu;
}

static void *sampler_main(void *arg);

/* With the GIL held (other threads stay out of the fork): the thread ends its burst
 * within 16 samples and returns; it never waits for the GIL, so the join is short. */
void pypper_active_trace_before_fork(void)
{
    if (!AT.on || !AT.thread_on)
        return;
    pthread_mutex_lock(&AT.sleep_mu);
    atomic_store(&AT.quit, true);
    pthread_cond_broadcast(&AT.sleep_cv);
    pthread_mutex_unlock(&AT.sleep_mu);
    AT.thread_on = false;
    pypper_thread_join(&AT.thread, PYPPER_FORK_GONE_MS);
    atomic_store(&AT.quit, false);
    AT.fork_joined = true;
}

void pypper_active_trace_after_fork_in_parent(void)
{
    if (!AT.fork_joined)
        return;
    AT.fork_joined = false;
    if (!AT.on)
        return;
    int rc = pypper_thread_start(&AT.thread, sampler_main, NULL, "pypper-sampler");
    if (rc == 0) {
        AT.thread_on = true;
        return;
    }
    /* The model keeps what it has; temperatures stop changing. */
    pypper_log(PYPPER_LOG_WARN, "cannot restart the pypper sampler thread after fork: %s; "
                                "temperatures stop changing", strerror(rc));
}

/* Whether the hand-overs have taken at most their share (HAND_OVER_SHARE) of the
 * program's CPU time: its threads', this one's left out (a hand-over runs on whichever
 * program thread checks the eval breaker: a main thread that waits for its workers
 * still gets its steps, run by them). */
static bool hand_over_affordable(sampler_loop *l)
{
    return pypper_step_budget_feed(&l->steps, others_cpu_ns(),
                                   __atomic_load_n(&AT.hand_over_ns, __ATOMIC_RELAXED));
}

static PYPPER_SMALL_CODE void *sampler_main(void *arg)
{
    (void)arg;
    prctl(PR_SET_TIMERSLACK, 1000UL);       /* 1 µs: short sleeps keep their length */
    /* Its CPUs are those of the thread that started it (the main thread's). */
    pypper_placement_begin(&AT.place);
    /* A thread started again after a fork goes on where the last one stopped: an idle
     * program forking does not get a burst of sampling per fork. */
    sampler_loop *l = &AT.loop;
    if (!l->started) {
        l->next_apply = pypper_mono_ns() + APPLY_MS * 1000000ull;
        l->last_wall = pypper_mono_ns();
        l->last_other = others_cpu_ns();
        l->last_main = AT.target_has_clock ? pypper_clock_ns(AT.target_clock) : 0;
        l->idle = false;
        l->idle_sleep_ns = IDLE_WINDOW_NS;
        pypper_step_budget_init(&l->steps, HAND_OVER_SHARE, HAND_OVER_CREDIT_MS * 1000000ll);
        l->started = true;
    }
    while (!atomic_load(&AT.stop) && !atomic_load(&AT.quit)) {
        park_if_asked();
        /* Short of memory (Pypper/pressure.h): touch nothing, not even the tables. */
        if (pypper_pressure_check()) {
            AT.pressure_sleeps++;
            /* The step does nothing but the readings (main_readings.h) the guard
             * needs to see the calm. */
            request_hand_over(false);
            sleep_ns(PYPPER_PRESSURE_WINDOW_MS * 1000000ull);
            continue;
        }
        pypper_wt_tick();       /* a write-tracking scan when one is due */
        /* Idle: the main thread used under 5% of a core in the last window (its clock
         * is exact) and the rest of the process under half a core. */
        uint64_t wall = pypper_mono_ns();
        if (wall - l->last_wall >= IDLE_WINDOW_NS) {
            uint64_t other = others_cpu_ns();
            uint64_t main_cpu = AT.target_has_clock ? pypper_clock_ns(AT.target_clock) : 0;
            uint64_t span = wall - l->last_wall;
            l->idle = cpu_since(other, l->last_other) * 2 < span
                      && (!AT.target_has_clock || cpu_since(main_cpu, l->last_main) * 20 < span);
            l->last_wall = wall;
            l->last_other = other;
            l->last_main = main_cpu;
        }
        /* A program that stays idle is looked at less and less often (20 ms, 40 ms,
         * ... 160 ms): each look costs this thread a wakeup (about 36 µs of CPU in
         * this VM), which an idle server of many processes pays in each. */
        if (l->idle) {
            /* Emptied arenas and stale idle memory give their pages back at the
             * heap's tick, in a step: one a second while some wait (a program that freed much and
             * then works lightly, or sleeps between requests, runs no other step:
             * until 2026-12-06 it kept them all, 169 MB against stock's 11 MB). */
            if (pypper_heap_park_pending() && pypper_mono_ns() >= l->next_park) {
                l->next_park = pypper_mono_ns() + PARK_EVERY_NS;
                request_hand_over(false);
            }
            AT.idle_sleeps++;
            sleep_ns(l->idle_sleep_ns);
            if (l->idle_sleep_ns < IDLE_SLEEP_MAX_NS)
                l->idle_sleep_ns *= 2;
            continue;
        }
        l->idle_sleep_ns = IDLE_WINDOW_NS;
        /* Bursts start at most SAMPLE_HZ times a second, and no sooner than keeps
         * this thread's CPU time within SAMPLE_DUTY. */
        uint64_t w0 = pypper_mono_ns(), c0 = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
        /* A burst that saw the main thread still: it may be waiting for the CPU this
         * thread runs on (the kernel wakes a thread where it last ran, and its wakeup
         * preempts the main thread there). Then this thread moves to another CPU
         * (sampler_placement.h); the next burst sees the main thread run. */
        if (burst() && AT.away)
            pypper_placement_check(&AT.place, main_cpu_now());
        /* The hand-over every APPLY_MS; a migration round (MIGRATE_INTERVAL_MS may be
         * shorter) takes the GIL on its own when it is due in between. */
        bool full = pypper_mono_ns() >= l->next_apply && hand_over_affordable(l);
        if (full || step_due()) {
            request_hand_over(full);
            if (full)
                l->next_apply = pypper_mono_ns() + APPLY_MS * 1000000ull;
        }
        uint64_t used = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        /* Short of CPU (Pypper/cpu_guard.h): a quarter of the duty. */
        double duty = AT.duty * pypper_cpu_guard_check();
        uint64_t gap = (uint64_t)((double)used / duty);
        if (gap < (uint64_t)AT.period_ns)
            gap = (uint64_t)AT.period_ns;
        uint64_t spent = pypper_mono_ns() - w0;
        sleep_ns(gap > spent ? gap - spent : 0);
    }
    pthread_mutex_lock(&AT.mu);
    AT.cpu_ns_done += pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    pthread_mutex_unlock(&AT.mu);
    return NULL;
}

static void *map_zeroed(size_t bytes)
{
    void *p = pypper_own_mmap(PYPPER_OWN_EVIDENCE, bytes, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void release_memory(void)
{
    if (AT.hits)
        pypper_own_munmap(AT.hits, AT.hit_cap * sizeof(hit_slot));
    if (AT.used)
        pypper_own_munmap(AT.used, AT.hit_cap * sizeof(uint16_t));
    if (AT.poll)
        pypper_own_munmap(AT.poll, POLL_WINDOW * sizeof(poll_entry));
    if (AT.frames)
        pypper_own_munmap(AT.frames, sizeof(pypper_frame_memory));
    AT.hits = NULL;
    AT.used = NULL;
    AT.poll = NULL;
    AT.frames = NULL;
}

PYPPER_SMALL_CODE int pypper_active_trace_start(const pypper_config *cfg)
{
    if (AT.on)
        return 0;
    bool held_from_start = hold_at_start;      /* asked for this session only */
    hold_at_start = false;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    memset(&AT, 0, sizeof(AT));
    pypper_held_numbers_reset();
    pypper_scan_groups_clear();
    AT.mu = mu;
    AT.sleep_mu = mu;
    pypper_cond_init_monotonic(&AT.sleep_cv);
    pypper_cond_init_monotonic(&AT.parked_cv);
    AT.hit_cap = HIT_MIN;
    AT.hits = map_zeroed(HIT_MIN * sizeof(hit_slot));
    AT.used = map_zeroed(HIT_MIN * sizeof(uint16_t));
    AT.poll = map_zeroed(POLL_WINDOW * sizeof(poll_entry));
    AT.frames = map_zeroed(sizeof(pypper_frame_memory));
    if (!AT.hits || !AT.used || !AT.poll || !AT.frames) {
        release_memory();
        PyErr_NoMemory();
        return -1;
    }
    AT.duty = cfg->sample_duty;
    AT.burst_ns = (long)(cfg->sample_duty * 1e9 / (double)cfg->sample_hz);
    if (AT.burst_ns < 1000)
        AT.burst_ns = 1000;
    AT.period_ns = (long)(1e9 / (double)cfg->sample_hz);
    AT.gap_ns = (long)cfg->sample_gap_ns;
    AT.depth = (int)cfg->sample_depth;
    AT.away = cfg->sample_away;
    AT.numbers_traced = cfg->live_numbers;
    AT.t0_ns = pypper_mono_ns();
    AT.interp = PyInterpreterState_Main();
    static uintptr_t sessions;
    AT.generation = ++sessions;
    pypper_model_reset(cfg);
    if (pypper_page_heat_start(pypper_heap_page_slots()) < 0)
        pypper_log(PYPPER_LOG_INFO, "active trace: no page heat (no heap, or its map was "
                                    "refused): objects without an entry have no temperature");
    /* Frames are read from the main thread only: its thread state and C stack live
     * as long as the interpreter (another thread's could vanish under the reader). */
    if (_Py_IsMainThread()) {
        AT.target = PyThreadState_Get();
        AT.target_has_clock = pthread_getcpuclockid(pthread_self(), &AT.target_clock) == 0;
        AT.target_tid = (pid_t)syscall(SYS_gettid);
        pypper_stack_chunks_start(AT.target);
    } else {
        pypper_log(PYPPER_LOG_INFO, "active trace: started outside the main thread; "
                                    "frames are not sampled, reference counts are");
    }
    refill_poll_window(0);
    if (AT.target && cfg->signal_hz > 0
        && pypper_signal_sampler_start(AT.target, cfg->signal_hz, AT.depth) < 0)
        pypper_log(PYPPER_LOG_INFO, "active trace: no signal sampler (SIGNAL_HZ=%lld): "
                                    "the sampler thread alone", (long long)cfg->signal_hz);

    pypper_pressure_start(&(pypper_pressure_params){(uint32_t)cfg->pressure_majflt,
                                                    cfg->pressure_psi});
    pypper_main_readings_reset(AT.target ? (int)AT.target_tid : 0);
    pypper_main_readings_take(cfg->pressure_psi > 0);
    pypper_cpu_guard_start(&(pypper_cpu_guard_params){AT.target ? cfg->pressure_cpu : 0.0});
    pypper_wt_start(cfg);      /* or the frames alone, and why (logged, counted) */
    /* A test that asked before the session: the thread parks before its first burst
     * (held after start(), a burst could read the frames first, 8% of sessions). */
    if (held_from_start) {
        atomic_store(&AT.hold, true);
        pypper_signal_sampler_pause(true);
    }
    int rc = pypper_thread_start(&AT.thread, sampler_main, NULL, "pypper-sampler");
    if (rc != 0) {
        pypper_wt_stop();
        pypper_pressure_stop();
        pypper_cpu_guard_stop();
        pypper_signal_sampler_stop();
        pypper_stack_chunks_stop();
        pypper_page_heat_stop();
        release_memory();
        PyErr_Format(PyExc_RuntimeError, "cannot create the pypper sampler thread: %s",
                     strerror(rc));
        return -1;
    }
    AT.thread_on = true;
    AT.on = true;
    return 0;
}

void pypper_active_trace_stop(void)
{
    if (!AT.on)
        return;
    pthread_mutex_lock(&AT.sleep_mu);
    atomic_store(&AT.stop, true);
    pthread_cond_broadcast(&AT.sleep_cv);
    pthread_mutex_unlock(&AT.sleep_mu);
    /* The thread never waits for the GIL: it is joined with the GIL held. */
    if (AT.thread_on)
        pypper_thread_join(&AT.thread, 0);
    AT.thread_on = AT.fork_joined = false;
    AT.on = false;
    atomic_store(&AT.hold, false);
    pypper_wt_stop();          /* the scanning thread is gone: unregister everything */
    pypper_pressure_stop();
    pypper_cpu_guard_stop();
    pypper_signal_sampler_stop();
    pypper_stack_chunks_stop();
    pypper_page_heat_stop();
    pypper_scan_groups_clear();        /* (their bitmaps are Pypper's own memory) */
    release_memory();
    AT.nused = AT.npoll = 0;
}

void pypper_active_trace_forget_after_fork(void)
{
    if (!AT.on)
        return;
    /* No thread was running at fork() (before_fork joined it); a fork that did not
     * run the hooks may have left the locks held. */
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    AT.mu = mu;
    AT.sleep_mu = mu;
    pthread_cond_init(&AT.sleep_cv, NULL);
    pthread_cond_init(&AT.parked_cv, NULL);
    atomic_store(&AT.quit, false);
    atomic_store(&AT.hold, false);
    AT.parked = false;
    AT.thread_on = AT.fork_joined = false;
    AT.on = false;
    pypper_wt_after_fork_child();
    pypper_pressure_forget_after_fork();
    pypper_cpu_guard_forget_after_fork();
    pypper_main_readings_reset(0);
    pypper_signal_sampler_after_fork_child();
    pypper_stack_chunks_stop();
    pypper_page_heat_stop();
    pypper_scan_groups_clear();        /* (their bitmaps are Pypper's own memory) */
    release_memory();
    AT.nused = AT.npoll = 0;
}

/* ---- test hooks: the sampler's work, driven by the caller (GIL held) ---- */

static int need_session(void)
{
    if (AT.on)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "no pypper session is running: call pypper.start() first");
    return -1;
}

int pypper_active_trace_hold(bool on, double timeout_s)
{
    if (!AT.on) {
        hold_at_start = on;     /* for the next session, from its start */
        return 0;
    }
    bool parked = false;
    /* (The thread never takes the GIL; it is released here only so that other
     * program threads go on while this one waits for the thread to park.) */
    Py_BEGIN_ALLOW_THREADS
    struct timespec until = monotonic_in((uint64_t)(timeout_s * 1e9));
    pthread_mutex_lock(&AT.sleep_mu);
    atomic_store(&AT.hold, on);
    pthread_cond_broadcast(&AT.sleep_cv);
    int rc = 0;
    while (on && !AT.parked && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&AT.parked_cv, &AT.sleep_mu, &until);
    parked = AT.parked;
    if (!on || parked)
        pypper_signal_sampler_pause(on);    /* a held session samples only when told */
    /* A held session's first read compares with nothing: what the thread read last
     * depends on when it parked (a frame at the same address then made a driven
     * max() look as if its list had not been pushed for it, now and then). */
    if (on && parked && AT.frames)
        memset(AT.frames, 0, sizeof *AT.frames);
    if (on && !parked) {
        atomic_store(&AT.hold, false);
        pthread_cond_broadcast(&AT.sleep_cv);
    }
    pthread_mutex_unlock(&AT.sleep_mu);
    Py_END_ALLOW_THREADS
    if (on && !parked) {
        PyErr_Format(PyExc_TimeoutError, "the sampler thread did not park within %.1f s",
                     timeout_s);
        return -1;
    }
    return 0;
}

int pypper_active_trace_sample_now(long n)
{
    if (need_session() < 0)
        return -1;
    /* (The C stack's known extent is refreshed at hand-overs, as for the thread: it
     * reads /proc/self/maps, far too slow for a sample at every object a test uses.) */
    pthread_mutex_lock(&AT.mu);
    for (long i = 0; i < n; i++) {
        if (AT.target)
            sample_frames(AT.target);
        poll_refcounts();
    }
    AT.iterations += (uint64_t)n;
    AT.test_samples += (uint64_t)n;
    pthread_mutex_unlock(&AT.mu);
    return 0;
}

int pypper_active_trace_hand_over(bool round)
{
    if (need_session() < 0)
        return -1;
    if (stages.step)
        stages.step(true, round);       /* as in hand_over_call(); a round when asked and due */
    return 0;
}

uint32_t pypper_active_trace_set_clock(long long ms)
{
    uint32_t was = pypper_active_trace_now_ms();
    if (ms >= 0) {
        AT.clock_frozen = true;
        AT.clock_ms = ms >= (long long)UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    } else if (AT.clock_frozen) {
        /* Back to the monotonic clock, going on from the frozen time. */
        AT.offset_ms = (int64_t)AT.clock_ms - real_now_ms();
        AT.clock_frozen = false;
    }
    return was;
}

PyObject *pypper_active_trace_stats(void)
{
    pthread_mutex_lock(&AT.mu);
    uint64_t cpu = AT.cpu_ns_done;
    if (AT.thread_on) {
        clockid_t id;
        if (pthread_getcpuclockid(AT.thread.thread, &id) == 0)
            cpu += pypper_clock_ns(id);
    }
    pthread_mutex_unlock(&AT.mu);
    pypper_signal_sampler_stats sig;
    pypper_signal_sampler_get_stats(&sig);
    pypper_scan_groups_stats groups;
    pypper_scan_groups_get_stats(&groups);
    return Py_BuildValue(
        "{s:O,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:O,s:d,s:K,s:d,s:K,s:K,s:O,s:K,s:K,s:K,s:i,s:I,s:K,s:K,s:K,s:K,s:K,s:K,s:d}",
        "running", AT.on ? Py_True : Py_False,
        "attr_evidence", (unsigned long long)(AT.attr_evidence + sig.attr_evidence),
        "attr_code_scans", (unsigned long long)(AT.frames ? pypper_attr_scans(&AT.frames->attrs) : 0),
        "bursts", (unsigned long long)AT.bursts,
        "iterations", (unsigned long long)AT.iterations,
        "still_bursts", (unsigned long long)AT.still_bursts,
        "frame_samples", (unsigned long long)AT.frame_samples,
        "slots_read", (unsigned long long)AT.slots_read,
        "frame_evidence", (unsigned long long)AT.evidence[PYPPER_EVIDENCE_FRAME],
        "caller_evidence", (unsigned long long)AT.evidence[PYPPER_EVIDENCE_CALLER],
        "hold_evidence", (unsigned long long)AT.evidence[PYPPER_EVIDENCE_HOLD],
        "refcount_evidence", (unsigned long long)AT.evidence[PYPPER_EVIDENCE_REFCOUNT],
        "scan_evidence", (unsigned long long)AT.evidence[PYPPER_EVIDENCE_SCAN],
        "refcount_reads", (unsigned long long)AT.poll_reads,
        "applies", (unsigned long long)AT.applies,
        "applied", (unsigned long long)AT.applied,
        "to_pages", (unsigned long long)AT.to_pages,
        "unsettled", (unsigned long long)AT.unsettled,
        "entries_made", (unsigned long long)AT.entries_made,
        "entries_refused", (unsigned long long)AT.entries_refused,
        "number_heat", (unsigned long long)pypper_held_numbers_heated(),
        "scan_groups", (unsigned long long)groups.groups,
        "scan_groups_made", (unsigned long long)groups.made,
        "scan_group_members", (unsigned long long)groups.members,
        "scan_group_builds", (unsigned long long)groups.builds,
        "scan_group_build_steps", (unsigned long long)groups.build_steps,
        "scan_groups_refused", (unsigned long long)groups.refused,
        "page_heat_pages", (unsigned long long)pypper_page_heat_pages(),
        "unknown", (unsigned long long)AT.unknown,
        "dropped", (unsigned long long)AT.dropped,
        "idle_sleeps", (unsigned long long)AT.idle_sleeps,
        "pressure_sleeps", (unsigned long long)AT.pressure_sleeps,
        "test_samples", (unsigned long long)AT.test_samples,
        "held", atomic_load(&AT.hold) ? Py_True : Py_False,
        "cpu_seconds", (double)cpu / 1e9,
        "hand_overs", (unsigned long long)AT.hand_overs,
        "hand_over_seconds", (double)AT.hand_over_ns / 1e9,
        "hand_over_nudges", (unsigned long long)AT.hand_over_nudges,
        "hand_overs_deferred", (unsigned long long)AT.loop.steps.deferred,
        "frames_sampled", AT.target ? Py_True : Py_False,
        "signal_samples", (unsigned long long)sig.signals,
        "signal_evidence", (unsigned long long)AT.signal_evidence,
        "signal_dropped", (unsigned long long)sig.dropped,
        "signal", sig.signo,
        "evidence_slots", (unsigned int)AT.hit_cap,
        "evidence_grows", (unsigned long long)AT.hit_grows,
        "placement_checks", (unsigned long long)AT.place.checks,
        "placement_moves", (unsigned long long)AT.place.moves,
        "placement_failures", (unsigned long long)AT.place.failures,
        "poll_written", (unsigned long long)AT.poll_written,
        "poll_unwritten", (unsigned long long)AT.poll_unwritten,
        "reference_heat", pypper_model_reference_heat(pypper_active_trace_now_ms()));
}
