/* Pypper/objtable.c: the object table (objtable.h). One mapping holds the hash table's
 * slots (8-byte entries keyed by the block's granule; an empty slot is all zero bytes)
 * and after them up to PENDING_MAX pending entries, appended by adds and hashed by the
 * next sync (an add that finds the pending part full syncs first), which drops the
 * dead ones and lets an entry replace its block's older one. The slots: linear probing
 * from a home scaled to the capacity (any number of slots, so the table is sized to its
 * entries), at most 85% full: a sync that would pass that drops the dead entries, then
 * if still needed grows the mapping (mremap: no copy) to 70% full and rehashes in place
 * (no second table resident). Deletion a probe run at a time (sweeps, compactions:
 * dead entries dropped, kept ones moved back towards home, O(run)); a compaction that
 * leaves it under 35% full rehashes it smaller. About 10 bytes an entry, 8 + 8 / 0.85
 * to 8 / 0.7 plus the pending part. The model states
 * of the entries that have one (PYPPER_ENTRY_STATEFUL) are in a map by entry number
 * (objtable_states.c): every move of an entry (a sync's hashing, a sweep's move, a
 * rehash) moves its state, a dropped entry drops it. Memory comes from mmap, not from
 * the heap the table describes. */
#include "objtable.h"
#include "objtable_states.h"
#include "own_memory.h"
#include "code_size.h"

#include <string.h>
#include <sys/mman.h>

/* Pending entries at most (512 KiB, touched as far as they reach, and reused): a full
 * pass adds hundreds of thousands of entries between two hand-overs, and keeping them all
 * pending beside the table they will be hashed into would raise the peak. */
#define PENDING_MAX ((size_t)65536)
#define MIN_CAP ((size_t)1024)
/* Entries held at most: the slots for them and the pending part keep entry numbers
 * (the states map's keys, + 1) below UINT32_MAX. */
#define MAX_USED ((size_t)UINT32_MAX / 2)
/* In klass, during a rehash only: the entry was settled ahead of the scan. */
#define SETTLED 0x40u

static pypper_obj_entry *slots;         /* cap slots, then the pending entries */
static size_t cap, used;                /* slots, and those occupied */
static size_t npending;                 /* pending entries, at slots[cap ...] */
static size_t pending_kept;             /* alive at the last drop; 0 after a sync */
static size_t mapped;                   /* entries the mapping holds (cap + PENDING_MAX) */
static pypper_objtable_alive_fn alive_fn;
static const uint64_t *alive_bits;      /* instead of alive_fn when set */
static unsigned alive_stride = 1;       /* words from one 64 blocks' word to the next */
static uint64_t dropped_total;          /* entries dropped, ever */
static uint64_t hashed_total, probed_total;     /* entries hashed by syncs, and the
                                                 * occupied slots they probed, ever */
char *pypper_objtable_base;
pypper_obj_entry *pypper_objtable_entry0;

const pypper_obj_state pypper_obj_state_zero;

void pypper_objtable_set_base(void *base) { pypper_objtable_base = base; }

void pypper_objtable_set_alive(pypper_objtable_alive_fn alive) { alive_fn = alive; }

void pypper_objtable_set_alive_bits(const uint64_t *bits, unsigned stride)
{
    alive_bits = bits;
    alive_stride = stride ? stride : 1;
}

/* The key the table compares: the block's granule number from the base (one 8-byte
 * load where the entry's layout allows: granule, then where's low bits). */
static inline uint64_t key_of(const pypper_obj_entry *e)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;
    memcpy(&w, e, sizeof w);
    return w & (((uint64_t)1 << 36) - 1);
#else
    return (uint64_t)e->granule | (uint64_t)(e->where & 15u) << 32;
#endif
}

static inline uint64_t granule_of(const void *block)
{
    return (uint64_t)((const char *)block - pypper_objtable_base) / PYPPER_OBJTABLE_GRANULE;
}

/* A full 64-bit mix (the finalizer of SplitMix64 / MurmurHash3's fmix64 constants):
 * the home is taken from the top bits, and every key bit must reach them. A single
 * multiply by the golden ratio (Fibonacci hashing) left blocks laid out at some strides
 * (records of a dict and a bytearray each, allocated in turn) with homes close together:
 * a sixteenth of the table 94-100% full, runs of 20,000-60,000 slots, 87-171 occupied
 * slots probed an add on average (tests/programs/lru_zipf.py; now about 6). */
static inline uint64_t hash_key(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return key;
}

/* The home slot of key: the hash scaled to [0, cap) by a multiply (cap need not be a
 * power of two). Monotonic in the hash, so a slot's entries move to about the same
 * fraction of a grown table. */
static inline size_t home_in(uint64_t key, size_t slots_)
{
    return (size_t)(((unsigned __int128)hash_key(key) * slots_) >> 64);
}

static inline size_t home_of(uint64_t key) { return home_in(key, cap); }

static inline size_t next_slot(size_t i) { return i + 1 == cap ? 0 : i + 1; }

static inline bool too_full(size_t n, size_t slots_) { return n * 20 > slots_ * 17; }

/* Slots for n entries after a growth or a shrink: 70% full. */
static inline size_t cap_for(size_t n)
{
    size_t c = n / 7 * 10 + n % 7 * 10 / 7 + 1;
    return c < MIN_CAP ? MIN_CAP : c;
}

/* Entry i is dropped: its state too. */
static inline void drop_state(size_t i)
{
    if (slots[i].klass & PYPPER_ENTRY_STATEFUL)
        pypper_states_drop((uint32_t)i);
}

static inline void clear_slot(size_t i) { slots[i] = (pypper_obj_entry){0}; }

/* Entry `from` moves to `to` (empty, or its entry dropped), its state with it;
 * `from` is left empty. */
static inline void move_entry(size_t to, size_t from)
{
    pypper_obj_entry *s = slots, e = s[from];
    if (e.klass & PYPPER_ENTRY_STATEFUL)
        pypper_states_move((uint32_t)to, (uint32_t)from);
    s[to] = e;
    s[from] = (pypper_obj_entry){0};
}

static inline void swap_entries(size_t a, size_t b)
{
    if ((slots[a].klass | slots[b].klass) & PYPPER_ENTRY_STATEFUL)
        pypper_states_swap((uint32_t)a, (uint32_t)b);
    pypper_obj_entry t = slots[a];
    slots[a] = slots[b];
    slots[b] = t;
}

/* Large mappings ask for transparent huge pages: a full pass hashes hundreds of
 * thousands of entries into slots at random, and a 4 KiB page fault every 512 of them
 * was most of the pass's time in a VM. Below HUGE_MIN the tail of a huge page would be
 * too much waste for a small table. */
#define HUGE_MIN ((size_t)8 << 20)

static void prefer_huge(void *p, size_t bytes)
{
    if (bytes >= HUGE_MIN)
        (void)madvise(p, bytes, MADV_HUGEPAGE);     /* advice: refused is fine */
}

/* The mapping resized to n entries, in place or by moving its pages (mremap: no copy,
 * no page faults for what is already there); what it gains reads as zero. */
static int map_entries(size_t n)
{
    size_t bytes = n * sizeof(pypper_obj_entry);
    void *fresh = slots ? pypper_own_mremap(slots, mapped * sizeof(pypper_obj_entry), bytes)
                        : pypper_own_mmap(PYPPER_OWN_OBJTABLE_ENTRIES, bytes, 0);
    if (!fresh)
        return -1;
    prefer_huge(fresh, bytes);
    slots = pypper_objtable_entry0 = fresh;
    mapped = n;
    return 0;
}

/* A rehash in progress: the table's slots and new capacity, the slot being settled and
 * the way the scan goes. The slots the scan has not reached yet hold entries still in
 * their old places (or are empty), except those marked SETTLED, put there ahead of
 * the scan (a few: entries displaced far from home near the start, probe runs that
 * wrap); the scan clears the mark when it reaches them. Kept in locals: the entries'
 * byte stores would make the compiler reload globals. */
typedef struct {
    pypper_obj_entry *slots;
    size_t cap, scan;
    bool down;
} rehash_scan;

static inline bool ahead_of_scan(const rehash_scan *r, size_t t)
{
    return r->down ? t < r->scan : t > r->scan;
}

/* Whether slot t may take the entry being settled: empty, or holding an entry not
 * settled yet (ahead of the scan, unmarked), which then trades places with it. */
static inline bool takes(const rehash_scan *r, size_t t)
{
    const pypper_obj_entry *e = &r->slots[t];
    return pypper_entry_empty(e) || (ahead_of_scan(r, t) && !(e->klass & SETTLED));
}

/* Settle the entry of the scan's slot (and each entry a swap brings there after it):
 * it goes to the first slot of its probe run that takes it, or stays. Settled entries
 * never move again, so every probe run stays unbroken whatever the order. */
__attribute__((always_inline)) static inline void settle(const rehash_scan *r)
{
    size_t i = r->scan;
    for (;;) {
        size_t t = home_in(key_of(&r->slots[i]), r->cap);
        while (t != i && !takes(r, t))
            t = t + 1 == r->cap ? 0 : t + 1;
        if (t == i)
            return;
        bool was_empty = pypper_entry_empty(&r->slots[t]);
        if (was_empty)
            move_entry(t, i);
        else
            swap_entries(t, i);         /* i now holds the entry that was at t */
        if (ahead_of_scan(r, t))
            r->slots[t].klass |= SETTLED;
        if (was_empty)
            return;
    }
}

/* Settle the entry of slot r->scan unless it is empty or was settled ahead of the
 * scan (its mark cleared). */
__attribute__((always_inline)) static inline void visit(rehash_scan *r)
{
    pypper_obj_entry *e = &r->slots[r->scan];
    if (pypper_entry_empty(e))
        return;
    if (e->klass & SETTLED)
        e->klass &= (uint8_t)~SETTLED;
    else
        settle(r);
}

/* Rehash slots [0, old_cap) in place for cap = new_cap: the mapping holds both, and
 * slots from old_cap on are empty. Growing scans from the top down (entries move up,
 * into slots settled or empty), shrinking from the bottom up (entries move down): each
 * entry moves about once, and few land ahead of the scan. */
static PYPPER_SMALL_CODE void rehash(size_t old_cap, size_t new_cap)
{
    cap = new_cap;
    rehash_scan r = {slots, new_cap, 0, new_cap > old_cap};
    if (r.down) {
        for (r.scan = old_cap; r.scan-- > 0;)
            visit(&r);
    } else {
        for (r.scan = 0; r.scan < old_cap; r.scan++)
            visit(&r);
    }
}

/* Grow the table to new_cap slots (more than cap): the pending entries move up to
 * follow them (from the last, so none is overwritten), then the slots are rehashed. */
static int grow(size_t new_cap)
{
    size_t old_cap = cap;
    if (map_entries(new_cap + PENDING_MAX) < 0)
        return -1;
    for (size_t k = npending; k-- > 0;)
        move_entry(new_cap + k, old_cap + k);
    rehash(old_cap, new_cap);
    return 0;
}

/* Shrink the table to new_cap slots (fewer than cap, enough for the entries; nothing
 * pending). */
static void shrink(size_t new_cap)
{
    rehash(cap, new_cap);
    (void)map_entries(new_cap + PENDING_MAX);   /* refused: the tail stays mapped, empty */
}

int pypper_objtable_add(void *block, void *object, uint32_t site)
{
    uintptr_t from_base = (uintptr_t)((char *)block - pypper_objtable_base);
    uintptr_t off = (uintptr_t)((char *)object - (char *)block);
    if ((uintptr_t)block < (uintptr_t)pypper_objtable_base || from_base >= PYPPER_OBJTABLE_SPAN
        || from_base % PYPPER_OBJTABLE_GRANULE || off % PYPPER_OBJTABLE_GRANULE
        || off / PYPPER_OBJTABLE_GRANULE > 2)
        return -1;
    uint64_t g = from_base / PYPPER_OBJTABLE_GRANULE;
    uint16_t site16 = site == UINT32_MAX ? 0xFFFFu : site < 0xFFFFu ? (uint16_t)site : 0;
    pypper_obj_entry entry = {
        .granule = (uint32_t)g,
        .where = (uint8_t)((g >> 32) | (1 + off / PYPPER_OBJTABLE_GRANULE) << 4),
        .site16 = site16};
    if (!slots && grow(MIN_CAP) < 0)
        return -1;
    if (npending == PENDING_MAX && pypper_objtable_sync() < 0)
        return -1;
    if (used + npending >= MAX_USED)
        return -1;
    slots[cap + npending++] = entry;
    return 0;
}

static void hash_pending(size_t from);
static size_t drop_stale_slots(void);

int pypper_objtable_reserve(size_t n)
{
    if (n >= MAX_USED)
        return -1;
    if (!too_full(n, cap))
        return 0;
    size_t want = n / 17 * 20 + n % 17 * 20 / 17 + 1;      /* 85% full with n */
    return grow(want < MIN_CAP ? MIN_CAP : want);
}

static inline bool entry_current(const pypper_obj_entry *e)
{
    if (pypper_entry_empty(e))
        return false;
    if (alive_bits) {
        uint64_t g = key_of(e);         /* the block's granule number */
        return (alive_bits[(g >> 6) * alive_stride] >> (g & 63)) & 1u;
    }
    return !alive_fn || alive_fn(pypper_entry_block(e));
}

bool pypper_objtable_current(const pypper_obj_entry *e) { return entry_current(e); }

/* Drop the pending entries of dead objects (most young objects die before a sync),
 * keeping the others in order. */
static PYPPER_SMALL_CODE void drop_dead_pending(void)
{
    size_t kept = 0;
    for (size_t k = 0; k < npending; k++) {
        size_t from = cap + k;
        if (entry_current(&slots[from])) {
            if (k != kept)
                move_entry(cap + kept, from);
            kept++;
        } else {
            drop_state(from);
            clear_slot(from);
        }
    }
    dropped_total += npending - kept;
    npending = kept;
}

/* Hash pending entry `from`: into its block's slot (the older entry there is dropped:
 * its object died, the block was reused) or the empty slot ending the probe run. */
static void hash_pending(size_t from)
{
    uint64_t key = key_of(&slots[from]);
    size_t i = home_of(key);
    hashed_total++;
    for (; !pypper_entry_empty(&slots[i]); i = next_slot(i)) {
        probed_total++;
        if (key_of(&slots[i]) == key) {
            drop_state(i);
            dropped_total++;
            used--;
            break;
        }
    }
    move_entry(i, from);
    used++;
}

/* Pending entries at least before pypper_objtable_settle_pending looks at them. */
#define SETTLE_PENDING_MIN 1024

/* Hash the pending entries, in the order of their home slots when they are many: each
 * then lands near the last, and the table is walked once from its start instead of at
 * npending random places (a program that kept 2 million new dicts spent 11% of its
 * time in the hashing, a cache miss an entry). Entries of one block keep their order
 * (the newer replaces the older). A stable radix sort of (home, position) pairs in a
 * scratch mapping (not sort_by_hash: pending entries may have states, which are kept
 * by entry number and must not move with a plain copy); without one, the pending
 * order. */
#define SORTED_SYNC_MIN 4096
_Static_assert(PENDING_MAX <= 65536, "a pending position fits in 16 bits");

static void hash_all_pending(void)
{
    size_t n = npending;
    size_t bytes = 2 * n * sizeof(uint64_t);
    uint64_t *a = n >= SORTED_SYNC_MIN ? pypper_own_mmap(PYPPER_OWN_OBJTABLE_ENTRIES, bytes, 0) : NULL;
    if (!a) {
        for (size_t k = 0; k < n; k++)
            hash_pending(cap + k);
        return;
    }
    uint64_t *b = a + n;
    for (size_t k = 0; k < n; k++)
        a[k] = (uint64_t)home_of(key_of(&slots[cap + k])) << 16 | k;
    unsigned bits = 16;
    while (bits < 64 && (cap - 1) >> (bits - 16))
        bits++;
    for (unsigned shift = 16; shift < bits; shift += 8) {
        size_t count[257] = {0};
        for (size_t k = 0; k < n; k++)
            count[((a[k] >> shift) & 255u) + 1]++;
        for (unsigned d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t k = 0; k < n; k++)
            b[count[(a[k] >> shift) & 255u]++] = a[k];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t k = 0; k < n; k++)
        hash_pending(cap + (size_t)(a[k] & 0xFFFFu));
    pypper_own_munmap(a < b ? a : b, bytes);
}

int pypper_objtable_sync(void)
{
    drop_dead_pending();
    if (!npending)
        return 0;
    /* Room for all of them, as if none replaced an older entry: the dead entries
     * dropped first (O(slots), as costly as the growth it may spare), so the table
     * does not grow for objects that are gone. */
    size_t need = used + npending;
    if (too_full(need, cap)) {
        drop_stale_slots();
        need = used + npending;
    }
    if (too_full(need, cap) && grow(cap_for(need)) < 0)
        return -1;
    hash_all_pending();
    npending = pending_kept = 0;
    return 0;
}

pypper_obj_entry *pypper_objtable_find(const void *block)
{
    if (!used)
        return NULL;
    uintptr_t from_base = (uintptr_t)((const char *)block - pypper_objtable_base);
    if (from_base >= PYPPER_OBJTABLE_SPAN || from_base % PYPPER_OBJTABLE_GRANULE)
        return NULL;
    uint64_t key = granule_of(block);
    for (size_t i = home_of(key); !pypper_entry_empty(&slots[i]); i = next_slot(i))
        if (key_of(&slots[i]) == key)
            return &slots[i];
    return NULL;
}

bool pypper_objtable_contains(const void *block) { return pypper_objtable_find(block) != NULL; }

pypper_obj_entry *pypper_objtable_put(void *block, void *object, uint32_t site)
{
    if (pypper_objtable_add(block, object, site) < 0)
        return NULL;
    if (pypper_objtable_sync() < 0) {
        /* Taken back: the last pending entry, without a state yet (a dead entry left
         * to a later sync would count as a drop without a death). */
        npending--;
        clear_slot(cap + npending);
        return NULL;
    }
    pypper_obj_entry *e = pypper_objtable_find(block);
    return e && pypper_entry_object(e) == object ? e : NULL;
}

size_t pypper_objtable_count(void) { return cap + npending; }

size_t pypper_objtable_used(void) { return used + npending; }

uint64_t pypper_objtable_dropped(void) { return dropped_total; }

uint64_t pypper_objtable_hashed(uint64_t *probed)
{
    *probed = probed_total;
    return hashed_total;
}

pypper_obj_entry *pypper_objtable_at(size_t i) { return &slots[i]; }

const pypper_obj_entry *pypper_objtable_entries(void) { return slots; }

/* Sweep the probe run that starts at slot `start` (the slot before it empty): its
 * stale entries are dropped and each kept entry moves to the first free slot from its
 * home, in one pass. The run's slots before the one being looked at hold only settled
 * entries, so a free slot lies between a kept entry's home and its slot whenever some
 * entry was dropped before it (the entries settled there came from slots before it and
 * never move up); every probe run stays unbroken. Each kept entry probes at most its
 * displacement, and only after a drop: O(run) for the run, where deleting entries one
 * by one with backward shifts rescans the rest of the run at each deletion (quadratic
 * in a run of dead entries: 33% of a traced run's main thread, its snapshots' rows
 * freed in crowds). Returns the empty slot that ends the run; adds the slots looked at
 * to *looked and the entries dropped to *dropped. */
static size_t sweep_run(size_t start, size_t *looked, size_t *dropped)
{
    size_t j = start, holes = 0;
    for (; !pypper_entry_empty(&slots[j]); j = next_slot(j)) {
        ++*looked;
        if (!entry_current(&slots[j])) {
            drop_state(j);
            clear_slot(j);
            used--;
            dropped_total++;
            ++*dropped;
            holes++;
            continue;
        }
        if (!holes)
            continue;
        size_t t = home_of(key_of(&slots[j]));
        while (t != j && !pypper_entry_empty(&slots[t]))
            t = next_slot(t);
        if (t != j)
            move_entry(t, j);           /* a hole filled, one left at j */
    }
    ++*looked;                          /* the empty slot that ends it */
    return j;
}

/* Sweep whole probe runs from empty slot `at` until `budget` slots were looked at
 * (the last run may pass it). Returns the empty slot where it stopped. */
static size_t sweep_from(size_t at, size_t budget, size_t *dropped)
{
    size_t looked = 0;
    while (looked < budget && used) {
        at = next_slot(at);
        if (pypper_entry_empty(&slots[at]))
            looked++;
        else
            at = sweep_run(at, &looked, dropped);
    }
    return at;
}

/* An empty slot at or after slot i (the table is at most 85% full: one exists), and
 * the slots passed to reach it added to *looked. */
static size_t empty_at_or_after(size_t i, size_t *looked)
{
    while (!pypper_entry_empty(&slots[i])) {
        i = next_slot(i);
        ++*looked;
    }
    return i;
}

/* Drop every stale entry of the slots (not the pending part): from an empty slot,
 * once around, every run swept whole. Returns how many were dropped. */
static size_t drop_stale_slots(void)
{
    size_t dropped = 0, skipped = 0;
    if (used)
        (void)sweep_from(empty_at_or_after(0, &skipped), cap, &dropped);
    return dropped;
}

size_t pypper_objtable_compact(void)
{
    if (pypper_objtable_sync() < 0)
        return 0;
    size_t dropped = drop_stale_slots();
    if (cap > MIN_CAP && cap_for(used) * 2 <= cap)
        shrink(cap_for(used));
    return dropped;
}

size_t pypper_objtable_settle_pending(void)
{
    if (npending >= SETTLE_PENDING_MIN && npending >= 2 * pending_kept) {
        drop_dead_pending();
        pending_kept = npending;
    }
    return npending;
}

size_t pypper_objtable_pending(void) { return npending; }

size_t pypper_objtable_sweep_slots(size_t *cursor, size_t budget)
{
    size_t dropped = 0, looked = 0, i = *cursor;
    if (!used || !budget)
        return 0;
    if (i >= cap)
        i = 0;
    /* A sweep ends on an empty slot; if adds filled it since (or the table was
     * rehashed), the part of a run before the next empty slot waits for the next
     * round. */
    i = empty_at_or_after(i, &looked);
    *cursor = looked < budget ? sweep_from(i, budget - looked, &dropped) : i;
    return dropped;
}

void pypper_objtable_clear(void)
{
    if (slots)
        pypper_own_munmap(slots, mapped * sizeof(pypper_obj_entry));
    slots = pypper_objtable_entry0 = NULL;
    cap = used = npending = mapped = pending_kept = 0;
    pypper_states_clear();
}
