/* Python/alloc_sites.c: allocation sites (alloc_sites.h). While a session records
 * sites, the MEM and OBJ allocator domains get the heap's observed entry points
 * (Objects/heap.h: the plain ones plus a byte countdown and a pool-mark check, which
 * call back here), or, when another hook is installed there (tracemalloc), they are
 * wrapped as tracemalloc does: the wrapper passes every call on and looks at what
 * came back. It records
 * the site of every block above 512 bytes (at malloc, calloc and realloc) and of the
 * allocation that crosses each boundary of ALLOC_SAMPLE x 4 KiB allocated bytes (so
 * small blocks are sampled in proportion to bytes, wherever they come from: fresh
 * pools or freed slots). Recording reads the allocating thread's innermost Python
 * frame outside the standard library (library_code: the program's line that called
 * random.choices() or json.loads() made what they return; code compiled from a string,
 * string_code, is passed over too; only when no frame of the stack is the program's,
 * the innermost one) and interns (code object, instruction) as
 * a site id (an open-addressing table; a memo of 64 recent sites catches loops), then
 * notes it:
 * - for a block above 512 bytes, in `large`, a direct array of 16-bit sites, one per
 *   512 bytes of the reservation (blocks above 512 bytes start at least 544 bytes
 *   apart, so no two share a slot): one store at the allocation, one load at a lookup.
 *   It is sparse (NORESERVE, 1/256 of the reservation's address space): only the
 *   pages beside medium and large blocks are touched, 4 KiB per MiB of them. Every
 *   block above 512 bytes allocated while the domains are observed writes its slot
 *   (0 when no site is recorded), so a slot is never a freed block's. (It replaced an
 *   open-addressing map block -> site that was rebuilt as freed blocks filled it: the
 *   map's probes and rebuilds were 1.7% of Tools/bench/programs/containers.py's time,
 *   2026-12-06.)
 * - for a small block, in the mark of its pool (4 bytes in the heap's pool record,
 *   Objects/heap_layout.h, which a free reads anyway; cleared at a session's start):
 *   the site and which block of the pool it was, the first recorded one while it lives
 *   (forgotten when that block is freed: the wrapper sees frees too, so a later
 *   object at that address does not inherit the site, and the next one recorded in
 *   the pool takes its place).
 * A site does not keep its code object alive (that would keep a program's
 * discarded code, a module's body or exec'ed source, and all it holds): a code
 * watcher sees a code object with sites die, and its sites keep what describes them
 * (file, function, line, fingerprint) without it. Only when no code watcher is free
 * do sites hold references (logged).
 * Nothing here allocates from the heap (the tables are mmap'ed), so recording is
 * safe inside malloc. With no session the domains are not observed: no cost. With
 * one, each call pays a counter and a compare (a free: one pool-record compare), and
 * recording happens about once per 4 KiB allocated. */
#define Py_BUILD_CORE 1
#include "alloc_sites.h"

#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"

#include "../Objects/heap.h"
#include "../Objects/heap_layout.h"   /* the reservation and pool geometry (read only) */
#include "../Objects/size_classes.h"
#include "../Pypper/log.h"
#include "../Pypper/own_memory.h"
#include "site_profile.h"       /* pypper_code_fingerprint */

#include <sys/mman.h>
#include <string.h>
#include "../Pypper/code_size.h"

#define SITE_CAP 65536u             /* sites (ids 1..SITE_CAP/2), power of two */
#define INDEX_MIN_CAP 1024u         /* initial slots of the site index (4 KiB) */
#define LARGE_SHIFT 9u              /* a large-site slot per 512 bytes */
#define SAMPLE_BYTES 4096           /* ALLOC_SAMPLE 1: one allocation per 4 KiB allocated */
/* The offset of a function's site (pypper_alloc_sites_function_site): no instruction;
 * its line is the function's first. */
#define FUNCTION_OFFSET (-1)

typedef struct {
    PyCodeObject *code;             /* borrowed (see `strong`); SITE_GONE once it died */
    int offset;                     /* instruction (code unit) index */
    uint32_t next;                  /* the next site of the same code object, 0: none */
    uint32_t first, last;           /* ordinals (S.records) of its first and last sampled
                                       block; 0: none yet (pypper_alloc_sites_in_turn) */
    uint32_t caller;                /* the site naming the function of the program that
                                       called its function (pypper_alloc_sites_functions):
                                       0 none seen yet, CALLERS_MANY more than one */
} site_rec;

#define CALLERS_MANY UINT32_MAX

/* A site interned lately where the innermost frame was the program's, by (code,
 * instruction, code of the calling frame): a direct-mapped memo (current_site). */
typedef struct {
    PyCodeObject *code;             /* NULL: empty */
    PyCodeObject *up;
    ptrdiff_t offset;               /* the instruction as read (before clamping) */
    uint32_t id;
} memo_slot;

/* Slots of the memo. One slot (until 2026-12-06) caught a loop that allocates at one
 * line; a loop that allocates at several (strings.py: a regular expression's scratch
 * stack, a join, a format) missed at each, and each miss read the file names of its
 * frames and probed the site index: 59% of its records hit it. With 64 slots, 94%,
 * and recording costs 36% fewer instructions (callgrind, scale 0.1: 23.6 M -> 15.2 M
 * of the run's 1,250 M). */
#define MEMO_SLOTS 64u
#define MEMO_SHIFT 58u              /* 64 - log2(MEMO_SLOTS): a hash's top bits */
_Static_assert(MEMO_SLOTS == 1u << (64u - MEMO_SHIFT), "MEMO_SHIFT matches MEMO_SLOTS");

/* What a code object's file says of it, as bits: the library's (library_code),
 * Pypper's own (own_code), compiled from a string (string_code). */
enum { CODE_LIBRARY = 1, CODE_OWN = 2, CODE_STRING = 4 };

/* Code objects classified lately: a direct-mapped cache, so that a site recorded in
 * library frames does not read and compare the file names of every frame it looks
 * through again (those reads were 0.7% of Tools/bench/programs/json_roundtrip.py's
 * instructions with sites recorded, callgrind, 2026-12-08). Only while a code
 * watcher clears the slot of a code object that dies (on_code: its address may be
 * reused), and emptied when the directories the classes depend on change. */
#define CLASS_SLOTS 256u
static struct {
    const PyCodeObject *code;       /* NULL: empty */
    unsigned bits;
} code_classes[CLASS_SLOTS];

static inline unsigned class_slot(const PyCodeObject *code)
{
    return (unsigned)((((uintptr_t)code >> 4) * 0x9E3779B97F4A7C15ull) >> 56) & (CLASS_SLOTS - 1);
}

static void classes_clear(void) { memset(code_classes, 0, sizeof code_classes); }

/* The code object of a site that died: the site is described by its `gone` record. */
#define SITE_GONE ((PyCodeObject *)(uintptr_t)1)

/* What describes a site whose code object died (taken as it died). */
typedef struct {
    PyObject *filename, *qualname;  /* references */
    uint64_t fingerprint;
    int firstlineno, line;
} gone_rec;

#define CODE_MIN_CAP 1024u          /* initial slots of the code map (4 KiB) */
#define CODE_TOMB UINT32_MAX        /* a code map slot whose code died */

/* The heap's pool mark (Objects/heap_layout.h): the site of the recorded block (0:
 * none) and 1 + granule of that block (0: taken, or freed: the heap's observed free
 * clears it; the next block recorded in the pool then takes the mark). (Until
 * 2026-12-06 the marks were an array beside the heap: its extra cache line per free
 * was 2% of Tools/bench/programs/containers.py's instructions.) */
typedef pypper_pool_mark pool_rec;

/* Small blocks sampled by (site, size class): a line's share of another's in the pools
 * of one type, for the inference's island rule (Python/site_infer.h). Open addressing,
 * at most half full, doubled when it gets there (a program has a few classes per
 * line: 8 KiB at first). key: site << CLASS_BITS | class, + 1; 0: empty. */
typedef struct {
    uint32_t key;
    uint32_t count;
} class_count;
#define CLASS_BITS 5
_Static_assert(MAX_CLASSES <= (1u << CLASS_BITS), "a size class fits in CLASS_BITS");
#define COUNT_MIN_CAP 1024u

/* A slot of the large-site array: the site of the block above 512 bytes starting in
 * its 512 bytes (ids stay below SITE_CAP / 2). */
typedef uint16_t large_slot;
_Static_assert(SITE_CAP / 2 <= UINT16_MAX + 1u, "a site id fits in a large-site slot");

static struct {
    bool on;
    site_rec *sites;                /* indexed by id */
    uint32_t *site_index;           /* index_cap slots of ids (0: empty), at most half full */
    uint32_t index_cap;
    uint32_t nsites;
    gone_rec *gone;                 /* indexed by id, written when a site's code dies */
    /* The code map: code object -> its latest site (the head of its `next` chain),
     * open addressing keyed by the head's code, at most half full with tombstones. */
    uint32_t *code_heads;
    uint32_t code_cap, code_used, code_tombs;
    int watcher;                    /* the code watcher's id, -1: none */
    bool strong;                    /* no watcher: sites hold references to their code */
    uint64_t sites_gone, codes_gone;
    memo_slot memo[MEMO_SLOTS];     /* sites interned lately (current_site) */
    size_t npools;                  /* pool slots of the reservation (its extent) */
    uintptr_t base;
    large_slot *large;              /* nlarge slots */
    size_t nlarge;
    int64_t period_bytes;           /* the countdown is the heap's: COUNTDOWN */
    PyInterpreterState *main_interp;
    uint64_t recorded_small, recorded_large, recorded_by_bytes, no_frame, table_full;
    /* Pypper's own work on a program thread (quiet_begin/end): depth, and the
     * countdown to give back at its end. */
    int quiet;
    int64_t quiet_countdown;
    uint64_t quiet_sections, quiet_bytes, quiet_large;
    uint64_t quiet_thread_blocks;   /* allocations of Pypper's threads not recorded */
    /* The wrapped domains (MEM, OBJ): the allocators called on, whether installed. */
    PyMemAllocatorEx inner[2];
    bool wrapped[2];
    bool observed;                  /* installed: the heap's observed entry points */
    char stdlib_dir[1024];          /* sys._stdlib_dir, "" when unknown or too long */
    size_t stdlib_len;
    uint64_t own_frames;            /* allocations with only Pypper's and library frames */
    uint64_t via_library;           /* sites taken from a frame that called the library */
    uint64_t kept_small;            /* samples dropped: their pool's recorded block lives */
    uint64_t recycled;              /* recorded blocks reused from a free list, recorded again */
    const void *just_recorded;      /* the small block recorded last (its object is made
                                       next: not one from a free list) */
    uint32_t records;               /* blocks sampled (small and large), saturating: the
                                       clock of site_rec.first/last */
    class_count *class_counts;      /* samples by (site, size class): count_cap slots */
    uint32_t count_cap, count_used;
} S = {.watcher = -1};

/* True while a session records sites. A wrapper that could not be taken out (another
 * hook was installed over it) stays in, inactive: it then passes calls on without
 * looking. */
static bool wrapper_active;

bool pypper_alloc_sites_watching;
bool pypper_alloc_sites_objects_seen;

/* Bytes to the next recorded allocation: the heap's observer's, which both the
 * observed entry points and the wrapper take sizes from. */
#define COUNTDOWN pypper_heap_obs.countdown

static void *map(size_t bytes)
{
    void *p = pypper_own_mmap(PYPPER_OWN_ALLOC_SITES, bytes, MAP_NORESERVE);
    return p == MAP_FAILED ? NULL : p;
}

static inline uint32_t site_hash(const PyCodeObject *code, int offset, uint32_t cap)
{
    uint64_t h = ((uint64_t)(uintptr_t)code * 31 + (uint64_t)offset) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 40) & (cap - 1);
}

/* The index's slot of (code, offset): its id's, or the empty one it would take. */
static uint32_t *index_slot(uint32_t *index, uint32_t cap, const PyCodeObject *code, int offset)
{
    for (uint32_t i = site_hash(code, offset, cap);; i = (i + 1) & (cap - 1)) {
        uint32_t id = index[i];
        if (!id || (S.sites[id].code == code && S.sites[id].offset == offset))
            return &index[i];
    }
}

/* Twice the slots, the ids put back. false: no memory (the old index stays). */
static bool index_grow(void)
{
    uint32_t cap = S.index_cap * 2;
    uint32_t *t = map(cap * sizeof(uint32_t));
    if (!t)
        return false;
    for (uint32_t id = 1; id <= S.nsites; id++)
        if (S.sites[id].code != SITE_GONE)
            *index_slot(t, cap, S.sites[id].code, S.sites[id].offset) = id;
    pypper_own_munmap(S.site_index, S.index_cap * sizeof(uint32_t));
    S.site_index = t;
    S.index_cap = cap;
    return true;
}

/* ---- the code map ---- */

static inline uint32_t code_hash(const PyCodeObject *code, uint32_t cap)
{
    return (uint32_t)((((uint64_t)(uintptr_t)code >> 4) * 0x9E3779B97F4A7C15ull) >> 40) & (cap - 1);
}

/* The map's slot of code: the one holding its head, or the empty one it would take. */
static uint32_t *code_slot(uint32_t *t, uint32_t cap, const PyCodeObject *code)
{
    for (uint32_t i = code_hash(code, cap);; i = (i + 1) & (cap - 1)) {
        uint32_t id = t[i];
        if (!id || (id != CODE_TOMB && S.sites[id].code == code))
            return &t[i];
    }
}

/* Room for one more code: a table (re)built with room for four times the codes in
 * it, tombstones dropped. false: no memory (the old table stays). */
static bool code_room(void)
{
    if ((S.code_used + S.code_tombs + 1) * 2 <= S.code_cap)
        return true;
    uint32_t cap = CODE_MIN_CAP;
    while (cap < (S.code_used + 1) * 4)
        cap *= 2;
    uint32_t *t = map(cap * sizeof(uint32_t));
    if (!t)
        return false;
    for (uint32_t i = 0; i < S.code_cap; i++) {
        uint32_t id = S.code_heads[i];
        if (id && id != CODE_TOMB)
            *code_slot(t, cap, S.sites[id].code) = id;
    }
    pypper_own_munmap(S.code_heads, S.code_cap * sizeof(uint32_t));
    S.code_heads = t;
    S.code_cap = cap;
    S.code_tombs = 0;
    return true;
}

/* The line of the instruction at offset in code; a function site's: its first. */
static int line_of(PyCodeObject *code, int offset)
{
    return offset < 0 ? code->co_firstlineno
                      : PyCode_Addr2Line(code, offset * (int)sizeof(_Py_CODEUNIT));
}

/* A code object with sites is being destroyed (the watcher, with the GIL): its sites
 * keep what describes them and stop matching it (its address may be reused). */
static void code_gone(PyCodeObject *co)
{
    /* (A memo slot may name it as the calling code of a site of another: first.) */
    for (unsigned i = 0; i < MEMO_SLOTS; i++)
        if (S.memo[i].code == co || S.memo[i].up == co)
            S.memo[i].code = NULL;
    uint32_t *slot = code_slot(S.code_heads, S.code_cap, co);
    if (!*slot)
        return;
    uint64_t fingerprint = pypper_code_fingerprint(co);
    for (uint32_t id = *slot; id; id = S.sites[id].next) {
        S.gone[id] = (gone_rec){Py_NewRef(co->co_filename), Py_NewRef(co->co_qualname),
                                fingerprint, co->co_firstlineno, line_of(co, S.sites[id].offset)};
        S.sites[id].code = SITE_GONE;
        S.sites_gone++;
    }
    *slot = CODE_TOMB;
    S.code_used--;
    S.code_tombs++;
    S.codes_gone++;
}

/* CPython calls the watchers of the interpreter current at the code object's
 * destruction. Pypper runs in the main interpreter only (the module refuses
 * sub-interpreters), where every code object with a site was made and dies. */
static int on_code(PyCodeEvent event, PyCodeObject *co)
{
    if (event == PY_CODE_EVENT_DESTROY && S.on && !S.strong) {
        unsigned i = class_slot(co);
        if (code_classes[i].code == co)
            code_classes[i].code = NULL;
        code_gone(co);
    }
    return 0;
}

static PYPPER_SMALL_CODE uint32_t intern_site(PyCodeObject *code, int offset)
{
    uint32_t *slot = index_slot(S.site_index, S.index_cap, code, offset);
    if (*slot)
        return *slot;
    if (S.nsites + 1 >= SITE_CAP / 2) {
        S.table_full++;
        return 0;                   /* full: unknown */
    }
    if ((S.nsites + 1) * 2 > S.index_cap) {
        if (!index_grow()) {
            S.table_full++;
            return 0;
        }
        slot = index_slot(S.site_index, S.index_cap, code, offset);
    }
    uint32_t *head = NULL;
    if (!S.strong) {
        head = code_slot(S.code_heads, S.code_cap, code);
        if (!*head) {                   /* the code's first site: a slot of the map */
            if (!code_room()) {
                S.table_full++;
                return 0;
            }
            head = code_slot(S.code_heads, S.code_cap, code);
        }
    }
    uint32_t id = ++S.nsites;
    S.sites[id] = (site_rec){S.strong ? (PyCodeObject *)Py_NewRef(code) : code, offset, 0, 0, 0, 0};
    *slot = id;
    if (head) {
        if (*head)
            S.sites[id].next = *head;
        else
            S.code_used++;
        *head = id;
    }
    return id;
}

/* dir into buf without its trailing slashes: its length, 0 ("" in buf) when it does
 * not fit. */
static size_t dir_copy(char *buf, size_t cap, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n >= cap)
        n = 0;
    memcpy(buf, dir, n);
    buf[n] = '\0';
    return n;
}

/* code's file name, read in place, and its length in *n; NULL when it is not a
 * compact ASCII string (taken as the program's): nothing allocates. */
static const char *file_name(PyCodeObject *code, size_t *n)
{
    PyObject *name = code->co_filename;
    if (!name || !PyUnicode_Check(name) || !PyUnicode_IS_COMPACT_ASCII(name))
        return NULL;
    *n = (size_t)PyUnicode_GET_LENGTH(name);
    return (const char *)PyUnicode_DATA(name);
}

/* Whether code's file is under dir (len characters, no trailing '/'). */
static bool code_under(PyCodeObject *code, const char *dir, size_t len)
{
    size_t n;
    const char *s = len ? file_name(code, &n) : NULL;
    return s && n > len && s[len] == '/' && memcmp(s, dir, len) == 0;
}

/* Whether code is the standard library's (under sys._stdlib_dir, site-packages
 * included) or frozen (<frozen ...>). */
static bool library_code(PyCodeObject *code)
{
    size_t n;
    const char *s = file_name(code, &n);
    if (s && n > 8 && memcmp(s, "<frozen ", 8) == 0)
        return true;
    return code_under(code, S.stdlib_dir, S.stdlib_len);
}

/* Whether code was compiled from a string ("<string>": exec, eval; a namedtuple's
 * __new__ is a lambda made so). Its line has no source to show: a caller's with a file
 * stands for it (a newcomer's 150,000 namedtuple records of 16 MiB had the site
 * `<string>:1 (<lambda>)`, and the report folded them with the library's objects,
 * 2026-12-06). A program run with -c is all "<string>": its innermost frame stays. */
static bool string_code(PyCodeObject *code)
{
    size_t n;
    const char *s = file_name(code, &n);
    return s && n == 8 && memcmp(s, "<string>", 8) == 0;
}

/* The pypper package's directory ("" until known): kept across sessions, told by the
 * package when it is imported (pypper_alloc_sites_own_dir): before any start() of
 * its own, and before a PYPPER_ENABLE session's program imports it. */
static char own_dir[1024];
static size_t own_len;

/* Whether code is Pypper's own (its package: `pypper run`'s set-up and the line that
 * runs the program, a capture's records): never a site of the program's. */
static bool own_code(PyCodeObject *code) { return code_under(code, own_dir, own_len); }

static unsigned code_class(PyCodeObject *code)
{
    unsigned i = class_slot(code);
    if (code_classes[i].code == code)
        return code_classes[i].bits;
    unsigned bits = (library_code(code) ? CODE_LIBRARY : 0) | (own_code(code) ? CODE_OWN : 0)
                    | (string_code(code) ? CODE_STRING : 0);
    if (S.watcher >= 0 && !S.strong) {
        code_classes[i].code = code;
        code_classes[i].bits = bits;
    }
    return bits;
}

/* Whether code is the program's: neither the library's nor Pypper's. */
static bool programs_code(PyCodeObject *code)
{
    return !(code_class(code) & (CODE_LIBRARY | CODE_OWN));
}

#define LIBRARY_DEPTH 64            /* frames looked through for the program's */

/* The program's function that called the one running in frame f, passing over
 * frames of the library and of Pypper (a callback through map() or sorted()'s key):
 * its code object, or NULL (none within LIBRARY_DEPTH frames). */
static PyCodeObject *program_caller(_PyInterpreterFrame *f)
{
    _PyInterpreterFrame *g = f->previous;
    for (int hops = 0; g && hops < LIBRARY_DEPTH; hops++, g = g->previous) {
        if (g->owner == FRAME_OWNED_BY_CSTACK)
            continue;
        if (!g->prev_instr)
            return NULL;
        if (programs_code(g->f_code))
            return g->f_code;
    }
    return NULL;
}

/* Site id was sampled in frame f: the function that called f's, as the site naming
 * it; a second one makes the site's caller CALLERS_MANY. */
static void note_caller(uint32_t id, _PyInterpreterFrame *f)
{
    PyCodeObject *caller = program_caller(f);
    uint32_t fn = caller ? intern_site(caller, FUNCTION_OFFSET) : 0;
    uint32_t *have = &S.sites[id].caller;
    if (!fn || fn == *have)
        return;
    *have = *have ? CALLERS_MANY : fn;
}

static inline memo_slot *memo_of(const PyCodeObject *code, ptrdiff_t at, const PyCodeObject *up)
{
    uint64_t h = ((uintptr_t)code >> 4) + (uint64_t)at * 31u + ((uintptr_t)up >> 4) * 7u;
    return &S.memo[(h * 0x9E3779B97F4A7C15ull) >> MEMO_SHIFT];
}

/* The site of the allocation being made now by ts (of the main interpreter), or 0
 * (no Python frame: a thread with no Python code running; only Pypper's frames and
 * the library's). */
static uint32_t current_site(PyThreadState *ts)
{
    if (!ts->cframe) {
        S.no_frame++;
        return 0;
    }
    _PyInterpreterFrame *f = ts->cframe->current_frame;
    while (f && f->owner == FRAME_OWNED_BY_CSTACK)
        f = f->previous;
    if (!f || !f->prev_instr) {
        S.no_frame++;
        return 0;
    }
    /* A site interned lately where the innermost frame was the program's (the memo):
     * a loop's allocations come back to the same instructions (the file name checks
     * below were a third of the recording's time on a loop allocating 0.5-8 KiB
     * lists). */
    _PyInterpreterFrame *up = f->previous;
    while (up && up->owner == FRAME_OWNED_BY_CSTACK)
        up = up->previous;
    PyCodeObject *up_code = up ? up->f_code : NULL;
    /* (And the same calling function: a site reached from a second caller must note
     * it, note_caller.) */
    ptrdiff_t at = f->prev_instr - _PyCode_CODE(f->f_code);
    memo_slot *memo = memo_of(f->f_code, at, up_code);
    if (memo->code == f->f_code && memo->offset == at && memo->up == up_code)
        return memo->id;
    bool redirected = code_class(f->f_code) != 0;
    if (redirected) {
        /* The innermost frame of the program's with a file; failing that, the
         * innermost of the program's compiled from a string (a program run with -c). */
        _PyInterpreterFrame *from_string = NULL, *g = f;
        bool found = false;
        for (int hops = 0; g && hops < LIBRARY_DEPTH; hops++, g = g->previous) {
            if (g->owner == FRAME_OWNED_BY_CSTACK)
                continue;
            if (!g->prev_instr)
                break;
            unsigned bits = code_class(g->f_code);
            if (bits & (CODE_LIBRARY | CODE_OWN))
                continue;
            if (!(bits & CODE_STRING)) {
                found = true;
                break;
            }
            if (!from_string)
                from_string = g;
        }
        if (!found)
            g = from_string;
        if (g && g != f) {
            f = g;
            S.via_library++;
        }
        /* No frame of the program's: Pypper's work, or the library's at the innermost
         * frame (a module imported by Pypper's set-up: the library's line). */
        if (!g && (code_class(f->f_code) & CODE_OWN)) {
            S.own_frames++;
            return 0;
        }
    }
    PyCodeObject *code = f->f_code;
    int offset = (int)(f->prev_instr - _PyCode_CODE(code));
    if (offset < 0)
        offset = 0;
    uint32_t id = intern_site(code, offset);
    if (id && S.sites[id].caller != CALLERS_MANY)
        note_caller(id, f);
    /* (Only a site of the innermost frame: the memo is checked before the frames are
     * looked through, and a library line has as many sites as callers. And only when
     * the calling frame is the program's, or the site has many callers already: the
     * caller noted is the program's function, which a library frame between them
     * hides from the memo's key, so a second program function calling through the
     * same library code, map() or sorted()'s key, would hit and never be noted.) */
    if (id && !redirected
        && (S.sites[id].caller == CALLERS_MANY || !up_code
            || programs_code(up_code)))
        *memo = (memo_slot){code, up_code, at, id};
    return id;
}

/* A block sampled with site id: the site's recording span grows to now. */
static void note_record(uint32_t id)
{
    if (!id)
        return;
    if (S.records < UINT32_MAX)
        S.records++;
    if (!S.sites[id].first)
        S.sites[id].first = S.records;
    S.sites[id].last = S.records;
}

/* ---- samples by (site, size class) ---- */

static class_count *count_slot(class_count *t, uint32_t cap, uint32_t key)
{
    uint32_t mask = cap - 1;
    for (uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & mask;; i = (i + 1) & mask)
        if (!t[i].key || t[i].key == key)
            return &t[i];
}

static bool counts_grow(void)
{
    uint32_t cap = S.count_cap * 2;
    class_count *t = map(cap * sizeof(class_count));
    if (!t)
        return false;
    for (uint32_t i = 0; i < S.count_cap; i++)
        if (S.class_counts[i].key)
            *count_slot(t, cap, S.class_counts[i].key) = S.class_counts[i];
    pypper_own_munmap(S.class_counts, S.count_cap * sizeof(class_count));
    S.class_counts = t;
    S.count_cap = cap;
    return true;
}

/* In the allocating thread (inside malloc: the table is mmap'ed). A table that cannot
 * grow stops counting new pairs (their shares then fall back to seeds). */
static void count_sample(uint32_t id, size_t size)
{
    if (!id || !S.class_counts)
        return;
    uint32_t key = (id << CLASS_BITS | size_class_of(size)) + 1;
    class_count *c = count_slot(S.class_counts, S.count_cap, key);
    if (!c->key) {
        if (2 * (S.count_used + 1) > S.count_cap) {
            if (!counts_grow())
                return;
            c = count_slot(S.class_counts, S.count_cap, key);
        }
        c->key = key;
        S.count_used++;
    }
    if (c->count < UINT32_MAX)
        c->count++;
}

uint32_t pypper_alloc_sites_samples(uint32_t site, const void *block)
{
    if (!S.on || !S.class_counts || !site || site > S.nsites
        || (uintptr_t)block - S.base >= (uintptr_t)S.npools << POOL_SHIFT)
        return 0;
    unsigned size = layout_pool(block)->size;
    if (!size || size > SMALL_MAX)
        return 0;
    uint32_t key = (site << CLASS_BITS | size_class_of(size)) + 1;
    const class_count *c = count_slot(S.class_counts, S.count_cap, key);
    return c->key ? c->count : 0;
}

/* ---- the large-site array ---- */

/* The slot of a block above 512 bytes; NULL when block is not a heap block start. */
static inline large_slot *large_slot_of(uintptr_t block)
{
    uintptr_t i = (block - S.base) >> LARGE_SHIFT;
    return S.large && i < S.nlarge && !(block & 15) ? &S.large[i] : NULL;
}

static void large_put(uintptr_t block, uint32_t site)
{
    large_slot *s = large_slot_of(block);
    if (s)
        *s = (large_slot)site;
}

static uint32_t large_get(uintptr_t block)
{
    large_slot *s = large_slot_of(block);
    return s ? *s : 0;
}

/* ---- pools ---- */

/* The mark of the pool holding block, a block of the heap that is allocated (or of a
 * pool in use); NULL outside the heap or a pool. */
static pool_rec *pool_rec_of(const void *block, uint32_t *granule)
{
    uintptr_t off = (uintptr_t)block - S.base;
    if (!S.on || (size_t)(off >> POOL_SHIFT) >= S.npools)
        return NULL;
    pool_meta *pool = layout_pool(block);
    if (!pool->size)
        return NULL;
    *granule = layout_mark_opener(block);
    return &pool->mark;
}

static void (*tick)(void);

void pypper_alloc_sites_set_tick(void (*fn)(void)) { tick = fn; }

static void record(void *block, size_t size)
{
    if ((uintptr_t)block - S.base >= (uintptr_t)S.npools << POOL_SHIFT)
        return;                     /* not the heap's (the fallback allocator's) */
    /* Only the main interpreter's threads (its GIL serializes them) touch the tables;
     * another interpreter with its own GIL may allocate at the same time. */
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    if (!ts || ts->interp != S.main_interp) {
        S.no_frame++;
        return;
    }
    /* (A pending call queued by another thread sets no eval breaker for the main
     * thread in 3.12: the main thread's allocations only.) */
    if (tick && _PyOS_IsMainThread())
        tick();
    if (size > SMALL_MAX) {
        S.recorded_large++;
        uint32_t id = current_site(ts);
        note_record(id);
        large_put((uintptr_t)block, id);
        return;
    }
    uint32_t granule;
    pool_rec *r = pool_rec_of(block, &granule);
    if (!r)
        return;
    uint32_t id = current_site(ts);
    note_record(id);                /* (a kept pool's sample too: the line allocated now) */
    count_sample(id, size);
    /* The pool's recorded block stays its record while it lives: a pool's untraced
     * bytes take its record's site (Python/untraced_sites.c), and what lives on in a
     * pool is what survived. (With the latest block recorded, a newcomer's LRU cache
     * of 80,000 floats showed 0.12 MiB of untraced bytes at the line that made them
     * and 2.2 MiB at the loop's lines, whose short-lived ints, in the same size class,
     * took most samples; now 2.27 and 0.13 MiB.) */
    if (r->opener && r->site && id != r->site) {
        S.kept_small++;
        return;
    }
    *r = (pool_rec){id, id ? granule : 0};
    S.just_recorded = block;
    S.recorded_small++;
}

/* Whether an allocation the wrapper sees is recorded: a block above 512 bytes, the
 * first block of a pool, or the one crossing the next byte boundary: one branch on
 * the common path (seen_slow sorts it out). */
static inline bool worth_recording(const void *block, size_t size)
{
    (void)block;
    COUNTDOWN -= (int64_t)size;
    return pypper_heap_obs_wants(size);
}

/* A block above 512 bytes allocated by Pypper's own work: not recorded, and it does
 * not keep the site of a freed block that was at its address. */
static void forget_large(void *block)
{
    if (!block)
        return;
    large_put((uintptr_t)block, 0);
    S.quiet_large++;
}

/* This thread is Pypper's (pypper_alloc_sites_quiet_thread). */
static _Thread_local bool quiet_thread;

void pypper_alloc_sites_quiet_thread(bool quiet) { quiet_thread = quiet; }

void pypper_alloc_sites_new_object(const void *block)
{
    pypper_alloc_sites_objects_seen = true;
    uintptr_t off = (uintptr_t)block - S.base;
    if ((size_t)(off >> POOL_SHIFT) >= S.npools)
        return;                     /* not in the heap's pools */
    pool_meta *pool = layout_pool(block);
    uint16_t granule = layout_mark_opener(block);
    if (__builtin_expect(pool->mark.opener != granule || !pool->size, 1))
        return;
    if (block == S.just_recorded) {
        S.just_recorded = NULL;     /* the recorded allocation's own object */
        return;
    }
    /* From a free list: the recorded object died and this is another, made here. */
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    if (!ts || ts->interp != S.main_interp || quiet_thread || S.quiet) {
        pool->mark.opener = 0;      /* Pypper's own object, or another interpreter's */
        return;
    }
    uint32_t id = current_site(ts);
    note_record(id);
    pool->mark = (pool_rec){id, id ? granule : 0};
    S.recycled++;
}

void pypper_alloc_sites_own_dir(const char *dir)
{
    /* (With the GIL: no allocation reads it meanwhile.) */
    own_len = dir_copy(own_dir, sizeof own_dir, dir);
    classes_clear();
}

static __attribute__((noinline)) void seen_slow(void *block, size_t size)
{
    if (quiet_thread) {
        /* The countdown is left below 0: the next allocation of a program thread
         * takes the sample. */
        if (wrapper_active && size > SMALL_MAX)
            forget_large(block);
        S.quiet_thread_blocks++;
        return;
    }
    if (S.quiet) {
        /* The countdown was put out of reach: only a block above 512 bytes gets here. */
        if (wrapper_active && size > SMALL_MAX)
            forget_large(block);
        return;
    }
    bool by_bytes = COUNTDOWN < 0;
    if (by_bytes)
        COUNTDOWN += S.period_bytes;
    if (!wrapper_active || !block)
        return;
    if (by_bytes && size <= SMALL_MAX)
        S.recorded_by_bytes++;
    record(block, size);
}

/* A freed small block is no longer its pool's recorded one: a later block at that
 * address is another allocation (often of another site). */
static inline void forget(const void *block)
{
    uint32_t granule;
    pool_rec *r = pool_rec_of(block, &granule);
    if (r && r->opener == granule)
        r->opener = 0;
}

static void *wrap_malloc(void *ctx, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    void *p = a->malloc(a->ctx, n);
    if (__builtin_expect(worth_recording(p, n), 0))
        seen_slow(p, n);
    return p;
}

static void *wrap_calloc(void *ctx, size_t count, size_t size)
{
    PyMemAllocatorEx *a = ctx;
    void *p = a->calloc(a->ctx, count, size);
    if (__builtin_expect(worth_recording(p, count * size), 0))
        seen_slow(p, count * size);
    return p;
}

static void *wrap_realloc(void *ctx, void *old, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    void *p = a->realloc(a->ctx, old, n);
    if (p != old && p && old)
        forget(old);
    if (__builtin_expect(worth_recording(p, n), 0))
        seen_slow(p, n);
    return p;
}

static void wrap_free(void *ctx, void *p)
{
    PyMemAllocatorEx *a = ctx;
    forget(p);
    a->free(a->ctx, p);
}

static const PyMemAllocatorDomain wrapped_domains[2] = {PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};

static bool is_heap(const PyMemAllocatorEx *a)
{
    return a->malloc == pypper_heap_domain_malloc && a->calloc == pypper_heap_domain_calloc
           && a->realloc == pypper_heap_domain_realloc && a->free == pypper_heap_domain_free;
}

/* The domain as installed while recording: the heap's observed entry points in place
 * of its plain ones (same ctx), or, when something else is installed in a domain
 * (tracemalloc's hook), this file's wrapper around it. */
static PyMemAllocatorEx recording(int d)
{
    if (S.observed)
        return (PyMemAllocatorEx){S.inner[d].ctx, pypper_heap_domain_malloc_observed,
                                  pypper_heap_domain_calloc_observed,
                                  pypper_heap_domain_realloc_observed,
                                  pypper_heap_domain_free_observed};
    return (PyMemAllocatorEx){&S.inner[d], wrap_malloc, wrap_calloc, wrap_realloc, wrap_free};
}

PYPPER_SMALL_CODE static void wrap_domains(void)
{
    for (int d = 0; d < 2; d++)
        PyMem_GetAllocator(wrapped_domains[d], &S.inner[d]);
    S.observed = is_heap(&S.inner[0]) && is_heap(&S.inner[1]);
    pypper_heap_obs.seen = seen_slow;
    for (int d = 0; d < 2; d++) {
        PyMemAllocatorEx w = recording(d);
        PyMem_SetAllocator(wrapped_domains[d], &w);
        S.wrapped[d] = true;
    }
    wrapper_active = true;
}

/* Put the domains back as they were, unless something wrapped them after us (then
 * our wrapper stays, passing calls on, and its inner allocators with it). */
static bool unwrap_domains(void)
{
    bool all = true;
    wrapper_active = false;
    for (int d = 0; d < 2; d++) {
        if (!S.wrapped[d])
            continue;
        PyMemAllocatorEx now, mine = recording(d);
        PyMem_GetAllocator(wrapped_domains[d], &now);
        if (now.malloc == mine.malloc && now.ctx == mine.ctx) {
            PyMem_SetAllocator(wrapped_domains[d], &S.inner[d]);
            S.wrapped[d] = false;
        } else {
            all = false;
        }
    }
    return all;
}

static PYPPER_SMALL_CODE void release(bool drop_references)
{
    pypper_alloc_sites_watching = false;
    /* The inner allocators stay where they are (in S) while a wrapper is left in. */
    bool unwrapped = unwrap_domains();
    if (S.watcher >= 0) {
        PyObject *exc = PyErr_GetRaisedException();
        if (PyCode_ClearWatcher(S.watcher) < 0)
            PyErr_Clear();
        PyErr_SetRaisedException(exc);
    }
    if (S.sites && drop_references)
        for (uint32_t id = 1; id <= S.nsites; id++) {
            if (S.strong)
                Py_CLEAR(S.sites[id].code);
            else if (S.sites[id].code == SITE_GONE) {
                Py_CLEAR(S.gone[id].filename);
                Py_CLEAR(S.gone[id].qualname);
            }
        }
    if (S.sites)
        pypper_own_munmap(S.sites, SITE_CAP * sizeof(site_rec));
    if (S.gone)
        pypper_own_munmap(S.gone, SITE_CAP * sizeof(gone_rec));
    if (S.code_heads)
        pypper_own_munmap(S.code_heads, S.code_cap * sizeof(uint32_t));
    if (S.site_index)
        pypper_own_munmap(S.site_index, S.index_cap * sizeof(uint32_t));
    if (S.large)
        pypper_own_munmap(S.large, S.nlarge * sizeof(large_slot));
    if (S.class_counts)
        pypper_own_munmap(S.class_counts, S.count_cap * sizeof(class_count));
    PyMemAllocatorEx inner[2] = {S.inner[0], S.inner[1]};
    bool wrapped[2] = {S.wrapped[0], S.wrapped[1]}, observed = S.observed;
    memset(&S, 0, sizeof(S));
    S.watcher = -1;
    COUNTDOWN = INT64_MAX;            /* a wrapper left in passes calls on */
    if (!unwrapped) {
        S.inner[0] = inner[0];
        S.inner[1] = inner[1];
        S.wrapped[0] = wrapped[0];
        S.wrapped[1] = wrapped[1];
        S.observed = observed;
    }
}

PYPPER_SMALL_CODE int pypper_alloc_sites_start(uint64_t period)
{
    release(true);
    if (!period || !pypper_heap_ready())
        return 0;
    if (S.wrapped[0] || S.wrapped[1]) {
        /* A wrapper of an earlier session could not be taken out (another hook went
         * over it): wrapping again could loop through it. No sites this session. */
        pypper_log(PYPPER_LOG_WARN, "allocation sites off: the allocator is hooked over "
                   "Pypper's (tracemalloc?); stop that hook to record sites");
        return 0;
    }
    S.npools = (pypper_heap_layout.tier_bytes * HEAP_TIERS) >> POOL_SHIFT;
    S.base = (uintptr_t)pypper_heap_layout.base;
    S.sites = map(SITE_CAP * sizeof(site_rec));
    S.gone = map(SITE_CAP * sizeof(gone_rec));
    S.index_cap = INDEX_MIN_CAP;
    S.site_index = map(S.index_cap * sizeof(uint32_t));
    S.code_cap = CODE_MIN_CAP;
    S.code_heads = map(S.code_cap * sizeof(uint32_t));
    S.nlarge = (pypper_heap_layout.tier_bytes * HEAP_TIERS) >> LARGE_SHIFT;
    S.large = map(S.nlarge * sizeof(large_slot));
    S.count_cap = COUNT_MIN_CAP;
    S.class_counts = map(S.count_cap * sizeof(class_count));
    if (!S.sites || !S.gone || !S.site_index || !S.code_heads || !S.large
        || !S.class_counts) {
        release(true);
        PyErr_NoMemory();
        return -1;
    }
    S.watcher = PyCode_AddWatcher(on_code);
    if (S.watcher < 0) {
        /* "no more code watcher IDs available": sites keep their code alive. */
        PyErr_Clear();
        S.strong = true;
        pypper_log(PYPPER_LOG_WARN, "allocation sites keep their code objects alive this "
                   "session: no code watcher is free (8 in use)");
    }
    S.period_bytes = COUNTDOWN = (int64_t)(period * SAMPLE_BYTES);
    S.main_interp = PyInterpreterState_Get();
    PyObject *dir = PySys_GetObject("_stdlib_dir");            /* borrowed */
    const char *text = dir && PyUnicode_Check(dir) ? PyUnicode_AsUTF8(dir) : NULL;
    if (!text)
        PyErr_Clear();
    S.stdlib_len = dir_copy(S.stdlib_dir, sizeof S.stdlib_dir, text ? text : "");
    classes_clear();
    pypper_heap_clear_pool_marks();
    S.on = true;
    wrap_domains();
    pypper_alloc_sites_watching = true;
    Py_XDECREF(PyList_New(0));      /* (sets pypper_alloc_sites_objects_seen, if called) */
    PyErr_Clear();
    return 0;
}

void pypper_alloc_sites_stop(void) { release(true); }

/* The countdown is parked out of reach for the section, so the wrapper's common path
 * stays one compare: Pypper's small blocks neither count toward the next sample nor
 * take it; its large ones are seen by seen_slow, which records none of them. */
void pypper_alloc_sites_quiet_begin(void)
{
    if (!S.on || S.quiet++)
        return;
    S.quiet_countdown = COUNTDOWN;
    COUNTDOWN = INT64_MAX;
    S.quiet_sections++;
}

void pypper_alloc_sites_quiet_end(void)
{
    if (!S.on || !S.quiet || --S.quiet)
        return;
    S.quiet_bytes += (uint64_t)(INT64_MAX - COUNTDOWN);   /* what the section allocated */
    COUNTDOWN = S.quiet_countdown;
}

bool pypper_alloc_sites_running(void) { return S.on; }

/* The site of a small block start: its pool's record, if the block is the one
 * recorded (consumed when `take`). */
static uint32_t pooled_site_of(const void *block, bool take)
{
    uint32_t granule;
    pool_rec *r = pool_rec_of(block, &granule);
    if (!r || r->opener != granule)
        return 0;
    if (take)
        r->opener = 0;
    return r->site;
}

static uint32_t site_of(const void *block, bool take)
{
    if (!S.on || !block)
        return 0;
    /* (The live trace asks for every object it takes: most are small blocks, told in
     * two metadata reads; the full lookup was 4.5% of a record-building loop's time.) */
    if (!pypper_heap_small_block_start(block)) {
        pypper_block_info info;
        pypper_heap_lookup(block, &info);
        if (!info.allocated || info.block != block)
            return 0;
        if (info.kind != PYPPER_BLOCK_SMALL)
            return large_get((uintptr_t)block);
    }
    return pooled_site_of(block, take);
}

uint32_t pypper_alloc_sites_take(const void *block) { return site_of(block, true); }

uint32_t pypper_alloc_sites_take_small(const void *block)
{
    /* (The two metadata reads that tell a small block start were a third of a
     * record-building loop's site lookups: the caller has just made them.) */
    return S.on && block ? pooled_site_of(block, true) : 0;
}

uint32_t pypper_alloc_site_of_block(const void *block) { return site_of(block, false); }

uint32_t pypper_alloc_site_of_pool(const void *block)
{
    uint32_t granule;
    pool_rec *r = S.on ? pool_rec_of(block, &granule) : NULL;
    return r ? r->site : 0;
}

uint32_t pypper_alloc_site_of_large(const void *block)
{
    return S.on ? large_get((uintptr_t)block) : 0;
}

uint32_t pypper_alloc_sites_count(void) { return S.on ? S.nsites : 0; }

bool pypper_alloc_sites_in_turn(uint32_t a, uint32_t b)
{
    if (!S.on || !a || !b || a > S.nsites || b > S.nsites)
        return true;
    const site_rec *x = &S.sites[a], *y = &S.sites[b];
    if (!x->first || !y->first)
        return true;
    return x->first <= y->last && y->first <= x->last;
}

void pypper_alloc_sites_moved(const void *from, const void *to)
{
    if (!S.on)
        return;
    pypper_block_info info;
    pypper_heap_lookup(to, &info);
    if (info.allocated && info.block == to && info.kind != PYPPER_BLOCK_SMALL)
        large_put((uintptr_t)to, site_of(from, false));
}

/* Whether site is the id of a recorded site (live or gone). */
static inline bool known_site(uint32_t site) { return site && site <= S.nsites && S.sites; }

const void *pypper_alloc_site_code(uint32_t site)
{
    return known_site(site) && S.sites[site].code != SITE_GONE ? S.sites[site].code : NULL;
}

uint32_t pypper_alloc_sites_function_site(uint32_t site)
{
    PyCodeObject *code = (PyCodeObject *)pypper_alloc_site_code(site);
    return code && S.on ? intern_site(code, FUNCTION_OFFSET) : 0;
}

void pypper_alloc_sites_functions(uint32_t site, uint32_t out[2])
{
    out[0] = pypper_alloc_sites_function_site(site);
    uint32_t caller = known_site(site) ? S.sites[site].caller : 0;
    out[1] = caller != CALLERS_MANY ? caller : 0;
}

int pypper_alloc_site_key(uint32_t site, const void **code, int *offset)
{
    const void *c = pypper_alloc_site_code(site);
    if (!c)
        return 0;
    *code = c;
    *offset = S.sites[site].offset;
    return 1;
}

int pypper_alloc_site_identity(uint32_t site, pypper_site_identity *out)
{
    if (!known_site(site))
        return 0;
    PyCodeObject *code = S.sites[site].code;
    out->offset = S.sites[site].offset;
    if (code == SITE_GONE) {
        const gone_rec *g = &S.gone[site];
        out->filename = g->filename;
        out->qualname = g->qualname;
        out->firstlineno = g->firstlineno;
        out->line = g->line;
    } else {
        out->filename = code->co_filename;
        out->qualname = code->co_qualname;
        out->firstlineno = code->co_firstlineno;
        out->line = line_of(code, out->offset);
    }
    return 1;
}

uint64_t pypper_alloc_site_fingerprint(uint32_t site)
{
    if (!known_site(site))
        return 0;
    PyCodeObject *code = S.sites[site].code;
    return code == SITE_GONE ? S.gone[site].fingerprint : pypper_code_fingerprint(code);
}

PyObject *pypper_alloc_site_describe(uint32_t site)
{
    pypper_site_identity id;
    if (!pypper_alloc_site_identity(site, &id))
        Py_RETURN_NONE;
    if (id.offset == FUNCTION_OFFSET)
        return PyUnicode_FromFormat("%U:%d (%U, lines in turn)", id.filename, id.line, id.qualname);
    return PyUnicode_FromFormat("%U:%d (%U)", id.filename, id.line, id.qualname);
}

PyObject *pypper_alloc_sites_stats(void)
{
    return Py_BuildValue("{s:O,s:I,s:K,s:K,s:O,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:O,s:K}",
                         "running", S.on ? Py_True : Py_False, "sites", (unsigned)S.nsites,
                         "sites_gone", (unsigned long long)S.sites_gone,
                         "codes_gone", (unsigned long long)S.codes_gone,
                         "hold_code", S.strong ? Py_True : Py_False,
                         "recorded_small", (unsigned long long)S.recorded_small,
                         "kept_small", (unsigned long long)S.kept_small,
                         "recorded_large", (unsigned long long)S.recorded_large,
                         "recorded_by_bytes", (unsigned long long)S.recorded_by_bytes,
                         "no_frame", (unsigned long long)S.no_frame,
                         "via_library", (unsigned long long)S.via_library,
                         "table_full", (unsigned long long)S.table_full,
                         "quiet_sections", (unsigned long long)S.quiet_sections,
                         "quiet_bytes", (unsigned long long)S.quiet_bytes,
                         "quiet_large", (unsigned long long)S.quiet_large,
                         "quiet_thread_blocks", (unsigned long long)S.quiet_thread_blocks,
                         "own_frames", (unsigned long long)S.own_frames,
                         "sample_classes", (unsigned)S.count_used,
                         "free_lists_seen", pypper_alloc_sites_objects_seen ? Py_True : Py_False,
                         "recycled", (unsigned long long)S.recycled);
}
