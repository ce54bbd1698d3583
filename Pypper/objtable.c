/* Pypper/objtable.c: the object table (objtable.h). Entries (8 bytes) are appended;
 * the model states of the entries that have one (PYPPER_ENTRY_STATEFUL) are in a map
 * by entry number (objtable_states.c), moved and dropped here with their entries;
 * the index is an array of entry numbers + 1 (0: empty) with linear probing, sized to
 * the entries (rebuilt 2/3 full, at most 3/4 full: about 6 bytes an entry), covering the entries [0, synced). A sync drops the dead among
 * the entries added since the previous one and hashes the others; a sweep removes dead
 * entries of a bounded slice (the last entry fills each hole, deletion by backward
 * shift); a compaction keeps the current entries in order and rebuilds the index. Memory comes from mmap, not
 * from the heap the table describes. */
#include "objtable.h"
#include "objtable_states.h"
#include "own_memory.h"

#include <string.h>
#include <sys/mman.h>

static pypper_obj_entry *entries;
static size_t count, entries_cap, synced;
static uint32_t *index_;
static size_t index_cap, index_used;     /* slots (any number), and those in use */
static pypper_objtable_alive_fn alive_fn;
static uint64_t dropped_total;          /* entries dropped, ever */
char *pypper_objtable_base;
pypper_obj_entry *pypper_objtable_entry0;

const pypper_obj_state pypper_obj_state_zero;

/* Entry `from` moves to `to`: its state too, when it has one. */
static inline void move_state(size_t to, size_t from)
{
    if (entries[from].klass & PYPPER_ENTRY_STATEFUL)
        pypper_states_move((uint32_t)to, (uint32_t)from);
}

/* Entry i is dropped: its state too. */
static inline void drop_state(size_t i)
{
    if (entries[i].klass & PYPPER_ENTRY_STATEFUL)
        pypper_states_drop((uint32_t)i);
}

void pypper_objtable_set_base(void *base) { pypper_objtable_base = base; }

/* The key the index compares: the block's granule number from the base. */
static inline uint64_t key_of(const pypper_obj_entry *e)
{
    return (uint64_t)e->granule | (uint64_t)(e->where & 15u) << 32;
}

static inline uint64_t granule_of(const void *block)
{
    return (uint64_t)((const char *)block - pypper_objtable_base) / PYPPER_OBJTABLE_GRANULE;
}

static inline bool retired(const pypper_obj_entry *e)
{
    return ((e->where >> 4) & 3u) == PYPPER_OBJTABLE_RETIRED;
}

static inline void retire(pypper_obj_entry *e) { e->where |= PYPPER_OBJTABLE_RETIRED << 4; }


void pypper_objtable_set_alive(pypper_objtable_alive_fn alive) { alive_fn = alive; }

/* The home slot of key among cap: the hash scaled to [0, cap) by a multiply (cap
 * need not be a power of two, so the index can be sized to the entries). */
static inline size_t slot_of(uint64_t key, size_t cap)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(((unsigned __int128)h * cap) >> 64);
}

static inline size_t next_slot(size_t i) { return i + 1 == index_cap ? 0 : i + 1; }

/* Probe distance from slot a forward to slot b. */
static inline size_t distance(size_t a, size_t b) { return b >= a ? b - a : b + index_cap - a; }

/* The index is kept at most 3/4 full and rebuilt at 2/3 (about 6 bytes an entry). */
static inline bool index_too_full(size_t used, size_t cap) { return used * 4 > cap * 3; }
static inline size_t index_cap_for(size_t used)
{
    size_t cap = used + used / 2;
    return cap < 1024 ? 1024 : cap;
}

/* The index slot holding the block of granule key, or the empty slot where it would go. */
static size_t find_slot(uint64_t key)
{
    size_t i = slot_of(key, index_cap);
    while (index_[i] && key_of(&entries[index_[i] - 1]) != key)
        i = next_slot(i);
    return i;
}

/* Large arrays ask for transparent huge pages: a full pass appends hundreds of
 * thousands of entries, and a 4 KiB page fault every 256 of them was most of the
 * pass's time in a VM; a sync's hashing touches every index page at random. Below
 * HUGE_MIN the tail of a huge page would be too much waste for a small table. */
#define HUGE_MIN ((size_t)8 << 20)

static void prefer_huge(void *p, size_t bytes)
{
    if (bytes >= HUGE_MIN)
        (void)madvise(p, bytes, MADV_HUGEPAGE);     /* advice: refused is fine */
}

/* A fresh index of cap slots holding the non-retired entries of [0, synced). */
static int rebuild_index(size_t cap)
{
    uint32_t *fresh = pypper_own_mmap(PYPPER_OWN_OBJTABLE_INDEX, cap * sizeof(uint32_t), 0);
    if (!fresh)
        return -1;
    prefer_huge(fresh, cap * sizeof(uint32_t));
    if (index_)
        pypper_own_munmap(index_, index_cap * sizeof(uint32_t));
    index_ = fresh;
    index_cap = cap;
    index_used = 0;
    for (size_t e = 0; e < synced; e++) {
        if (!retired(&entries[e])) {
            index_[find_slot(key_of(&entries[e]))] = (uint32_t)(e + 1);
            index_used++;
        }
    }
    return 0;
}

/* Grow the entry array in place or by moving its pages (mremap: no copy, no page
 * faults for what is already there; a copy of a million entries took 50 ms here). */
static int resize_entries(size_t cap)
{
    void *fresh;
    if (entries)
        fresh = pypper_own_mremap(entries, entries_cap * sizeof(pypper_obj_entry),
                                  cap * sizeof(pypper_obj_entry));
    else
        fresh = pypper_own_mmap(PYPPER_OWN_OBJTABLE_ENTRIES, cap * sizeof(pypper_obj_entry), 0);
    if (!fresh)
        return -1;
    prefer_huge(fresh, cap * sizeof(pypper_obj_entry));
    entries = pypper_objtable_entry0 = fresh;
    entries_cap = cap;
    return 0;
}

int pypper_objtable_add(void *block, void *object, uint32_t site)
{
    if (count == UINT32_MAX - 1)
        return -1;
    uintptr_t from_base = (uintptr_t)((char *)block - pypper_objtable_base);
    uintptr_t off = (uintptr_t)((char *)object - (char *)block);
    if ((uintptr_t)block < (uintptr_t)pypper_objtable_base || from_base >= PYPPER_OBJTABLE_SPAN
        || from_base % PYPPER_OBJTABLE_GRANULE || off % PYPPER_OBJTABLE_GRANULE
        || off / PYPPER_OBJTABLE_GRANULE >= PYPPER_OBJTABLE_RETIRED)
        return -1;
    if (count == entries_cap && resize_entries(entries_cap ? entries_cap * 2 : 512) < 0)
        return -1;
    uint64_t g = from_base / PYPPER_OBJTABLE_GRANULE;
    uint16_t site16 = site == UINT32_MAX ? 0xFFFFu : site < 0xFFFFu ? (uint16_t)site : 0;
    entries[count++] = (pypper_obj_entry){
        .granule = (uint32_t)g,
        .where = (uint8_t)((g >> 32) | (off / PYPPER_OBJTABLE_GRANULE) << 4),
        .site16 = site16};
    return 0;
}

int pypper_objtable_reserve(size_t n)
{
    /* Only the entries: pages not written cost nothing. The index is sized at the
     * next sync from what is then alive (a hashed index touches all its pages). */
    return n > entries_cap && resize_entries(n) < 0 ? -1 : 0;
}

bool pypper_objtable_current(const pypper_obj_entry *e)
{
    return !retired(e) && (!alive_fn || alive_fn(pypper_entry_block(e)));
}

int pypper_objtable_sync(void)
{
    /* The entries added since the last sync are in no index yet: drop the dead ones
     * by compacting that tail in place (most young objects die before a sync). */
    size_t kept = synced;
    for (size_t e = synced; e < count; e++) {
        if (pypper_objtable_current(&entries[e])) {
            move_state(kept, e);
            entries[kept++] = entries[e];
        } else {
            drop_state(e);
        }
    }
    dropped_total += count - kept;
    count = kept;
    size_t want = index_used + (count - synced);
    if (!index_cap || index_too_full(want, index_cap)) {
        if (rebuild_index(index_cap_for(want)) < 0)
            return -1;
    }
    for (size_t e = synced; e < count; e++) {
        size_t i = find_slot(key_of(&entries[e]));
        if (index_[i])
            retire(&entries[index_[i] - 1]);          /* the block's older object */
        else
            index_used++;
        index_[i] = (uint32_t)(e + 1);
    }
    synced = count;
    return 0;
}

pypper_obj_entry *pypper_objtable_find(const void *block)
{
    if (!index_used)
        return NULL;
    uintptr_t from_base = (uintptr_t)((const char *)block - pypper_objtable_base);
    if (from_base >= PYPPER_OBJTABLE_SPAN || from_base % PYPPER_OBJTABLE_GRANULE)
        return NULL;
    uint32_t slot = index_[find_slot(granule_of(block))];
    return slot ? &entries[slot - 1] : NULL;
}

bool pypper_objtable_contains(const void *block) { return pypper_objtable_find(block) != NULL; }

size_t pypper_objtable_count(void) { return count; }

uint64_t pypper_objtable_dropped(void) { return dropped_total; }

pypper_obj_entry *pypper_objtable_at(size_t i) { return &entries[i]; }

const pypper_obj_entry *pypper_objtable_entries(void) { return entries; }

size_t pypper_objtable_compact(void)
{
    if (pypper_objtable_sync() < 0)
        return 0;
    size_t kept = 0;
    for (size_t e = 0; e < count; e++) {
        if (pypper_objtable_current(&entries[e])) {
            move_state(kept, e);
            entries[kept++] = entries[e];
        } else {
            drop_state(e);
        }
    }
    size_t dropped = count - kept;
    dropped_total += dropped;
    count = synced = kept;
    /* A much smaller table gets a smaller index (its pages go back to the kernel). */
    if (dropped && index_cap > 2 * index_cap_for(count) && rebuild_index(index_cap_for(count)) == 0)
        return dropped;
    if (dropped) {
        memset(index_, 0, index_cap * sizeof(uint32_t));
        index_used = 0;
        for (size_t e = 0; e < count; e++) {
            index_[find_slot(key_of(&entries[e]))] = (uint32_t)(e + 1);
            index_used++;
        }
    }
    return dropped;
}

/* Remove entry i (synced): its index slot if it has one, then the last entry moves
 * into its place. */
static void remove_at(size_t i)
{
    /* A retired entry is in no index slot: its block's slot names the newer entry. */
    bool indexed = !retired(&entries[i]);
    size_t slot = indexed ? find_slot(key_of(&entries[i])) : 0;
    if (indexed && index_[slot] == i + 1) {
        /* Backward-shift deletion keeps every probe sequence unbroken. */
        size_t hole = slot;
        for (size_t j = next_slot(slot); index_[j]; j = next_slot(j)) {
            size_t home = slot_of(key_of(&entries[index_[j] - 1]), index_cap);
            if (distance(home, j) >= distance(hole, j)) {
                index_[hole] = index_[j];
                hole = j;
            }
        }
        index_[hole] = 0;
        index_used--;
    }
    drop_state(i);
    size_t last = --count;
    synced = count;
    dropped_total++;
    if (i != last) {
        move_state(i, last);
        entries[i] = entries[last];
        if (!retired(&entries[i])) {
            size_t moved = find_slot(key_of(&entries[i]));
            if (index_[moved] == last + 1)
                index_[moved] = (uint32_t)(i + 1);
        }
    }
}

size_t pypper_objtable_sweep(size_t *cursor, size_t budget)
{
    if (pypper_objtable_sync() < 0)
        return 0;
    size_t dropped = 0, i = *cursor;
    for (; budget && count; budget--) {
        if (i >= count)
            i = 0;
        if (pypper_objtable_current(&entries[i])) {
            i++;
        } else {
            remove_at(i);
            dropped++;
        }
    }
    *cursor = i;
    return dropped;
}

void pypper_objtable_clear(void)
{
    if (entries)
        pypper_own_munmap(entries, entries_cap * sizeof(pypper_obj_entry));
    if (index_)
        pypper_own_munmap(index_, index_cap * sizeof(uint32_t));
    entries = pypper_objtable_entry0 = NULL;
    index_ = NULL;
    count = entries_cap = synced = index_cap = index_used = 0;
    pypper_states_clear();
}
