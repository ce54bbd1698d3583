/* Python/scan_groups.c: groups of the traced items of scanned containers and their
 * heat per item (scan_groups.h). Reads a container's item array (only resident pages)
 * and the items' heap metadata, never an item's memory; the bitmaps are its own
 * mappings (own_memory()["parts"]["scan_groups"]). */
#define Py_BUILD_CORE 1
#include "scan_groups.h"

#include "../Objects/heap.h"
#include "../Objects/residency.h"
#include "seq_items.h"
#include "../Objects/track.h"
#include "../Pypper/objtable.h"
#include "../Pypper/code_size.h"
#include "../Pypper/own_memory.h"
#include "../Pypper/temperature.h"
#include "traced_entry.h"

#include <string.h>

#define SCAN_GROUPS 64
/* A container of fewer items makes no group: the frames show each of its items often
 * enough (and C code handed a record, a tuple of 7 fields, is no scan of records). */
#define MIN_ITEMS 32
#define REBUILD_MS 2000         /* a bitmap's age at which it is built again when asked */
#define GONE_FACTOR 1e-3        /* a group whose heat decayed to this share since it was
                                   last noted ends (its items hold nothing of it) */
/* Items a hand-over or a migration round reads at most for builds (about 5 ms here,
 * a heap lookup each): a longer container's build goes on at the next ones while its
 * last members serve. A round that read a list of 2,000,000 tuples twice at once held
 * the program 85-90 ms (2026-12-07). A question (a temperature, a snapshot) builds
 * what it needs at once. */
#define BUILD_STEP_ITEMS 131072
/* Scattered members are sorted in one step: at most this many (about 20 ms); a group
 * of more scattered members has none. */
#define SORTED_MAX 262144
/* The union bitmap is built only over this many members at most (one write each). */
#define ANY_MAX_MEMBERS ((size_t)1 << 20)
/* Built for size: the builds and refreshes run a few times a second, and a session's
 * code must fit its two 64 KiB windows (tests/test_startup_rss.py). */
#define SMALL_CODE PYPPER_SMALL_CODE      /* Pypper/code_size.h */
#define UNIT 16u                /* objects are 16-byte aligned: a bit per 16 bytes */
/* Members made together lie close: a bitmap of their range (a bit per 16 bytes) takes
 * 62 KiB for a list of 100,000 records of 80 bytes. Members scattered (a newcomer's ETL
 * job grouped the records of a store, one in 300 of the 150,000 records of a 16 MiB
 * range, into a list of 6,000) take a sorted list of their addresses instead, 8 bytes
 * a member, when a bitmap would take more. */

typedef struct {
    PyObject *op;               /* the container; NULL: a free slot */
    pypper_obj_state heat;      /* heat per item, decaying like an object's */
    uintptr_t lo, hi;           /* members' addresses lie in [lo, hi) */
    uint64_t *bits;             /* a bitmap (bit (a - lo) / UNIT), or when `sorted` the
                                   members' addresses in order; NULL: no members */
    bool sorted;
    size_t bytes;               /* mapped for bits */
    size_t members;
    Py_ssize_t built_n;         /* the container's length and item array when built */
    PyObject *const *built_items;
    uint64_t print;             /* and its first, middle and last items, mixed */
    uint32_t built_ms;
    uint32_t tried_ms;          /* when a build of it last began or was given up */
    bool built;
} scan_group;

static scan_group G[SCAN_GROUPS];
static pypper_scan_groups_stats S;
/* The build under way (one group at a time): the container as it was when it began,
 * the pass (1: the members' range, 2: the members), the next item, and the new
 * members' memory. The group keeps its last members until the build ends. */
static struct {
    scan_group *g;              /* NULL: none */
    int pass;
    Py_ssize_t pos, n;
    PyObject *const *items;
    uint64_t print;
    uintptr_t lo, hi;
    size_t members, k;
    uint64_t *bits;
    size_t bytes;
    bool sorted;
} B;
static uintptr_t all_lo = UINTPTR_MAX, all_hi;   /* the union of the groups' ranges */
/* The groups with members as of the last refresh (a lookup looks at these only: a
 * migration round asks for every object it visits). */
static uint8_t with_members[SCAN_GROUPS];
static int nwith;
/* Every group's members in one bitmap of the union of their ranges (a bit per 16
 * bytes from all_lo): most objects a lookup is asked about are in no group, and one
 * bit says so (with the groups alone, an ETL job's 5 groups of scattered records took
 * a migration round's visit of each object in their range from 0.2-0.5 µs to 0.65-0.9:
 * five binary searches). Built again at a refresh that changed a group; none when it
 * would take more than ANY_MAX_BYTES (the groups are then asked in turn). */
#define ANY_MAX_BYTES (8u << 20)
static uint64_t *any_bits;
static size_t any_bytes;
static bool members_changed;

static void drop_bits(scan_group *g)
{
    if (g->bits)
        pypper_own_munmap(g->bits, g->bytes);
    g->bits = NULL;
    g->bytes = 0;
    g->members = 0;
    g->sorted = false;
    g->built = false;
}

static void build_abort(void)
{
    if (B.bits)
        pypper_own_munmap(B.bits, B.bytes);
    memset(&B, 0, sizeof(B));
}

static void end_group(scan_group *g)
{
    if (B.g == g)
        build_abort();
    members_changed = true;
    drop_bits(g);
    *g = (scan_group){0};
}

/* The traced object in slot i, or NULL (an empty slot, a number, an untraced object, a
 * slot the pageout backend sent to swap). */
static PyObject *member_at(PyObject *const *items, Py_ssize_t i)
{
    if (!pypper_residency_may_touch(&items[i]))
        return NULL;
    PyObject *item = items[i];
    if (!item || ((uintptr_t)item & (UNIT - 1)) || !pypper_heap_owns(item))
        return NULL;
    pypper_block_info info;
    pypper_heap_lookup(item, &info);
    return info.allocated && pypper_heap_tracks(info.block, item) ? item : NULL;
}

static double heat_now(const scan_group *g, uint32_t now)
{
    return pypper_model_heat(&g->heat, now);
}

/* The group's heat over all its items: the one with least gives way to a new one. */
static double mass(const scan_group *g, uint32_t now)
{
    return heat_now(g, now) * (double)g->built_n;
}

SMALL_CODE void pypper_scan_groups_note(PyObject *op, double scans, uint32_t now)
{
    PyObject *const *items;
    Py_ssize_t n;
    if (!(scans > 0.0) || !pypper_seq_items(op, &items, &n) || n < MIN_ITEMS)
        return;
    /* A list of numbers (they take its heat through their pages: held_numbers.h)
     * makes no group: its first, middle and last items are not traced. */
    if (!member_at(items, 0) && !member_at(items, n / 2) && !member_at(items, n - 1))
        return;
    double add = scans / (double)n;
    scan_group *g = NULL, *free_slot = NULL, *coldest = NULL;
    double least = 0.0;                 /* coldest's mass */
    for (int i = 0; i < SCAN_GROUPS; i++) {
        if (G[i].op == op) {
            g = &G[i];
            break;
        }
        if (!G[i].op) {
            if (!free_slot)
                free_slot = &G[i];
            continue;
        }
        double m = mass(&G[i], now);
        if (!coldest || m < least) {
            coldest = &G[i];
            least = m;
        }
    }
    if (!g) {
        if (!free_slot && least >= scans)
            return;                     /* less heat in all than every group */
        g = free_slot ? free_slot : coldest;
        if (g == coldest)
            end_group(g);
        g->op = op;
        g->built_n = n;                 /* (until built: what mass() weighs) */
        S.made++;
    }
    g->heat.heat = (float)(heat_now(g, now) + add);
    g->heat.stamp = now;
}

/* A mix of the first, middle and last items (those readable): a list made from
 * CPython's free list in the place of a dead one, with an item array of the same size
 * at the same address, holds other items. */
static uint64_t fingerprint(PyObject *const *items, Py_ssize_t n)
{
    uint64_t h = (uint64_t)n;
    Py_ssize_t at[3] = {0, n / 2, n - 1};
    for (int k = 0; k < 3 && n > 0; k++)
        if (pypper_residency_may_touch(&items[at[k]]))
            h = (h ^ (uint64_t)(uintptr_t)items[at[k]]) * 0x9E3779B97F4A7C15ull;
    return h;
}

static int by_address(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Build g's members from its container's items: a bitmap of their range, or their
 * sorted addresses when that takes less, in two passes over the items (the range, then
 * the members), at most *budget items (taken from it); the group keeps its last
 * members until the build ends. A container that changes (length, item array, first,
 * middle or last item) between steps starts it again. Without memory, or with more
 * scattered members than SORTED_MAX, the group has no members until it is stale
 * again. Returns whether the build ended (or cannot go on now). */
/* Items [B.pos, end) of the build under way: pass 1 widens the members' range and
 * counts them, pass 2 records them (an item replaced in place since pass 1 may lie
 * outside the range, or be one member too many: it is left out). */
static void build_items(PyObject *const *items, Py_ssize_t end)
{
    for (Py_ssize_t i = B.pos; i < end; i++) {
        PyObject *m = member_at(items, i);
        uintptr_t a = (uintptr_t)m;
        if (!m) {
            continue;
        } else if (B.pass == 1) {
            B.lo = a < B.lo ? a : B.lo;
            B.hi = a >= B.hi ? a + UNIT : B.hi;
            B.members++;
        } else if (a >= B.lo && a < B.hi && B.k < B.members) {
            size_t bit = (a - B.lo) / UNIT;
            if (B.sorted)
                B.bits[B.k] = (uint64_t)a;
            else
                B.bits[bit / 64] |= (uint64_t)1 << (bit % 64);
            B.k++;
        }
    }
    B.pos = end;
}

static SMALL_CODE bool build_step(scan_group *g, size_t *budget, uint32_t now)
{
    PyObject *const *items;
    Py_ssize_t n;
    if (!pypper_seq_items(g->op, &items, &n)) {
        if (B.g == g)
            build_abort();
        return true;                    /* not readable now: the last members stay */
    }
    if (B.g == g && (n != B.n || items != B.items || fingerprint(items, n) != B.print)) {
        build_abort();                  /* it changed: its turn comes again later */
        g->tried_ms = now;
        return true;
    }
    if (B.g != g) {
        build_abort();
        g->tried_ms = now;
        B.g = g;
        B.pass = 1;
        B.n = n;
        B.items = items;
        B.print = fingerprint(items, n);
        B.lo = UINTPTR_MAX;
    }
    for (;;) {
        Py_ssize_t end = (size_t)(n - B.pos) > *budget ? B.pos + (Py_ssize_t)*budget : n;
        *budget -= (size_t)(end - B.pos);
        build_items(items, end);
        S.build_steps++;
        if (B.pos < n)
            return false;
        if (B.pass == 2)
            break;
        size_t words = B.members ? ((B.hi - B.lo) / UNIT + 64) / 64 : 0;
        B.sorted = words > B.members;
        B.bytes = ((B.sorted ? B.members : words) * sizeof(uint64_t) + 4095) & ~(size_t)4095;
        if (B.members && !(B.sorted && B.members > SORTED_MAX))
            B.bits = pypper_own_mmap(PYPPER_OWN_SCAN_GROUPS, B.bytes, 0);
        if (!B.bits) {
            S.refused += B.members != 0;
            break;
        }
        B.pass = 2;
        B.pos = 0;
        if (!*budget)
            return false;
    }
    if (B.bits && B.sorted)
        qsort(B.bits, B.k, sizeof(uint64_t), by_address);
    /* Ended: the new members replace the last ones. */
    drop_bits(g);
    g->bits = B.bits;
    g->bytes = B.bits ? B.bytes : 0;
    g->sorted = B.sorted;
    g->lo = B.lo;
    g->hi = B.hi;
    g->members = B.bits ? B.k : 0;
    g->built_n = B.n;
    g->built_items = B.items;
    g->print = B.print;
    g->built_ms = now;
    g->built = true;
    S.builds++;
    members_changed = true;
    B.bits = NULL;
    build_abort();
    return true;
}

/* Whether g's container is still the live object the group was made for: it has a
 * current entry (a freed container's entry is not, and a new object at its address
 * has another or none), and it is not a dead list or tuple on CPython's free list
 * (which keeps its block and entry; a new one taken from there is taken for it, as
 * its entry is). */
static bool alive(const scan_group *g)
{
    if (!pypper_heap_owns(g->op)
        || (pypper_residency_may_touch(g->op) && Py_REFCNT(g->op) <= 0))
        return false;
    pypper_block_info info;
    pypper_heap_lookup(g->op, &info);
    return info.allocated && pypper_heap_tracks(info.block, g->op)
           && pypper_traced_entry_find(info.block, g->op) != NULL;
}

static bool stale(const scan_group *g, uint32_t now)
{
    if (!g->built || now - g->built_ms >= REBUILD_MS)
        return true;
    PyObject *const *items;
    Py_ssize_t n;
    return pypper_seq_items(g->op, &items, &n)
           && (n != g->built_n || items != g->built_items || fingerprint(items, n) != g->print);
}

/* fn(ctx, address) for g's members (as last built), at most `most` of them, in
 * address order when they are a bitmap. */
static void each_member(const scan_group *g, size_t most, void (*fn)(void *ctx, uintptr_t a),
                        void *ctx)
{
    size_t given = 0;
    if (g->sorted) {
        for (size_t m = 0; m < g->members && given < most; m++, given++)
            fn(ctx, (uintptr_t)g->bits[m]);
        return;
    }
    size_t words = ((g->hi - g->lo) / UNIT + 64) / 64;
    for (size_t w = 0; w < words && given < most; w++)
        for (uint64_t x = g->bits[w]; x && given < most; x &= x - 1, given++)
            fn(ctx, g->lo + (w * 64 + (size_t)__builtin_ctzll(x)) * UNIT);
}

static void set_any(void *ctx, uintptr_t a)
{
    (void)ctx;
    size_t bit = (a - all_lo) / UNIT;
    any_bits[bit / 64] |= (uint64_t)1 << (bit % 64);
}

/* The union bitmap of the groups' members (with_members, all_lo, all_hi set). */
static SMALL_CODE void build_any(void)
{
    size_t bytes = nwith ? ((((all_hi - all_lo) / UNIT + 64) / 64) * sizeof(uint64_t) + 4095) & ~(size_t)4095 : 0;
    size_t members = 0;
    for (int k = 0; k < nwith; k++)
        members += G[with_members[k]].members;
    if (members > ANY_MAX_MEMBERS)
        bytes = 0;                      /* the groups are asked in turn */
    if (any_bits && (any_bytes != bytes || bytes > ANY_MAX_BYTES)) {
        pypper_own_munmap(any_bits, any_bytes);
        any_bits = NULL;
        any_bytes = 0;
    }
    if (!bytes || bytes > ANY_MAX_BYTES)
        return;
    if (any_bits) {
        memset(any_bits, 0, bytes);
    } else {
        any_bits = pypper_own_mmap(PYPPER_OWN_SCAN_GROUPS, bytes, 0);
        if (!any_bits)
            return;                     /* the groups are asked in turn */
        any_bytes = bytes;
    }
    for (int k = 0; k < nwith; k++)
        each_member(&G[with_members[k]], SIZE_MAX, set_any, NULL);
}

/* Groups whose container died or whose heat is gone end; the build under way goes on,
 * then stale groups are built, the one tried longest ago first (a container that
 * changes under its build, or a long one, leaves the others their turns), each once,
 * while `budget` items are left to read. */
static SMALL_CODE void refresh(uint32_t now, size_t budget)
{
    all_lo = UINTPTR_MAX;
    all_hi = 0;
    nwith = 0;
    bool synced = !pypper_objtable_pending() || pypper_objtable_sync() == 0;
    for (int i = 0; i < SCAN_GROUPS; i++) {
        scan_group *g = &G[i];
        if (g->op && ((synced && !alive(g)) || heat_now(g, now) < g->heat.heat * GONE_FACTOR))
            end_group(g);
    }
    uint64_t tried = 0;                 /* the groups this refresh has built */
    if (B.g) {
        tried |= (uint64_t)1 << (B.g - G);
        (void)build_step(B.g, &budget, now);
    }
    while (budget && !B.g) {
        scan_group *next = NULL;
        for (int i = 0; i < SCAN_GROUPS; i++) {
            scan_group *g = &G[i];
            if (g->op && !(tried >> i & 1) && stale(g, now)
                && (!next || (uint32_t)(now - g->tried_ms) > (uint32_t)(now - next->tried_ms)))
                next = g;
        }
        if (!next)
            break;
        tried |= (uint64_t)1 << (next - G);
        (void)build_step(next, &budget, now);
    }
    for (int i = 0; i < SCAN_GROUPS; i++) {
        scan_group *g = &G[i];
        if (g->op && g->bits) {
            all_lo = g->lo < all_lo ? g->lo : all_lo;
            all_hi = g->hi > all_hi ? g->hi : all_hi;
            with_members[nwith++] = (uint8_t)i;
        }
    }
    if (members_changed) {
        members_changed = false;
        build_any();
    }
}

void pypper_scan_groups_refresh(uint32_t now) { refresh(now, SIZE_MAX); }

void pypper_scan_groups_refresh_step(uint32_t now) { refresh(now, BUILD_STEP_ITEMS); }

static bool is_member(const scan_group *g, uintptr_t a)
{
    if (!g->sorted) {
        size_t bit = (a - g->lo) / UNIT;
        return g->bits[bit / 64] >> (bit % 64) & 1;
    }
    size_t lo = 0, hi = g->members;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->bits[mid] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->members && g->bits[lo] == a;
}

double pypper_scan_groups_heat(const void *obj, uint32_t now)
{
    uintptr_t a = (uintptr_t)obj;
    if (a < all_lo || a >= all_hi || (a & (UNIT - 1)))
        return 0.0;
    if (any_bits) {
        size_t bit = (a - all_lo) / UNIT;
        if (!(any_bits[bit / 64] >> (bit % 64) & 1))
            return 0.0;
    }
    double best = 0.0;
    for (int k = 0; k < nwith; k++) {
        const scan_group *g = &G[with_members[k]];
        if (g->bits && a >= g->lo && a < g->hi && is_member(g, a)) {
            double h = heat_now(g, now);
            best = h > best ? h : best;
        }
    }
    return best;
}

typedef struct {
    void (*fn)(void *ctx, const void *obj, double heat);
    void *ctx;
    double heat;
} member_call;

static void give_member(void *ctx, uintptr_t a)
{
    const member_call *c = ctx;
    c->fn(c->ctx, (const void *)a, c->heat);
}

void pypper_scan_groups_members(void (*fn)(void *ctx, const void *obj, double heat), void *ctx,
                                size_t most, uint32_t now)
{
    for (int k = 0; k < nwith; k++) {
        const scan_group *g = &G[with_members[k]];
        member_call c = {fn, ctx, heat_now(g, now)};
        if (g->bits && c.heat > 0.0)
            each_member(g, most, give_member, &c);
    }
}

void pypper_scan_groups_get_stats(pypper_scan_groups_stats *out)
{
    *out = S;
    out->groups = out->members = 0;
    out->bitmap_bytes = any_bytes;
    for (int i = 0; i < SCAN_GROUPS; i++) {
        if (!G[i].op)
            continue;
        out->groups++;
        out->members += G[i].members;
        out->bitmap_bytes += G[i].bytes;
    }
}

void pypper_scan_groups_clear(void)
{
    build_abort();
    for (int i = 0; i < SCAN_GROUPS; i++)
        end_group(&G[i]);
    if (any_bits)
        pypper_own_munmap(any_bits, any_bytes);
    any_bits = NULL;
    any_bytes = 0;
    members_changed = false;
    S = (pypper_scan_groups_stats){0};
    all_lo = UINTPTR_MAX;
    all_hi = 0;
    nwith = 0;
}
