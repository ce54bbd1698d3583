/* Pypper/objtable.c: the object table (objtable.h). Entries are kept dense (a removal
 * moves the last entry into the hole); the index is a power-of-two array of entry
 * numbers + 1 (0: empty), linear probing, deletion by backward shift, grown at 50%
 * load. Its memory comes from mmap, not from the heap it describes. */
#include "objtable.h"

#include <string.h>
#include <sys/mman.h>

static pypper_obj_entry *entries;
static size_t count, entries_cap;
static uint32_t *index_;
static size_t index_cap;        /* a power of two, or 0 */

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static inline size_t slot_of(const void *block, size_t mask)
{
    uint64_t h = ((uint64_t)(uintptr_t)block >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & mask;
}

/* The index slot holding block, or the empty slot where it would go. */
static size_t find(const void *block)
{
    size_t mask = index_cap - 1;
    size_t i = slot_of(block, mask);
    while (index_[i] && entries[index_[i] - 1].block != block)
        i = (i + 1) & mask;
    return i;
}

static int resize_index(size_t cap)
{
    uint32_t *fresh = map(cap * sizeof(uint32_t));
    if (!fresh)
        return -1;
    if (index_)
        munmap(index_, index_cap * sizeof(uint32_t));
    index_ = fresh;
    index_cap = cap;
    for (size_t e = 0; e < count; e++)
        index_[find(entries[e].block)] = (uint32_t)(e + 1);
    return 0;
}

static int resize_entries(size_t cap)
{
    pypper_obj_entry *fresh = map(cap * sizeof(pypper_obj_entry));
    if (!fresh)
        return -1;
    if (entries) {
        memcpy(fresh, entries, count * sizeof(pypper_obj_entry));
        munmap(entries, entries_cap * sizeof(pypper_obj_entry));
    }
    entries = fresh;
    entries_cap = cap;
    return 0;
}

int pypper_objtable_add(void *block, void *object)
{
    if (count == UINT32_MAX - 1)
        return -1;
    if ((count + 1) * 2 > index_cap && resize_index(index_cap ? index_cap * 2 : 1024) < 0)
        return -1;
    if (count == entries_cap && resize_entries(entries_cap ? entries_cap * 2 : 512) < 0)
        return -1;
    size_t i = find(block);
    if (index_[i]) {
        entries[index_[i] - 1].object = object;
        return 0;
    }
    entries[count] = (pypper_obj_entry){.block = block, .object = object};
    index_[i] = (uint32_t)++count;
    return 0;
}

int pypper_objtable_reserve(size_t n)
{
    size_t cap = index_cap ? index_cap : 1024;
    while (cap < n * 2)
        cap *= 2;
    if (cap > index_cap && resize_index(cap) < 0)
        return -1;
    if (n > entries_cap && resize_entries(n) < 0)
        return -1;
    return 0;
}

bool pypper_objtable_remove(void *block)
{
    if (!count)
        return false;
    size_t i = find(block);
    if (!index_[i])
        return false;
    size_t e = index_[i] - 1;
    /* Backward-shift deletion keeps every probe sequence unbroken. */
    size_t mask = index_cap - 1, hole = i;
    for (size_t j = (i + 1) & mask; index_[j]; j = (j + 1) & mask) {
        size_t home = slot_of(entries[index_[j] - 1].block, mask);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            index_[hole] = index_[j];
            hole = j;
        }
    }
    index_[hole] = 0;
    /* Keep the entries dense: the last one moves into the hole. */
    size_t last = --count;
    if (e != last) {
        entries[e] = entries[last];
        index_[find(entries[e].block)] = (uint32_t)(e + 1);
    }
    return true;
}

bool pypper_objtable_contains(const void *block)
{
    return count && index_[find(block)] != 0;
}

pypper_obj_entry *pypper_objtable_find(const void *block)
{
    if (!count)
        return NULL;
    uint32_t slot = index_[find(block)];
    return slot ? &entries[slot - 1] : NULL;
}

pypper_obj_entry *pypper_objtable_at(size_t i) { return &entries[i]; }

size_t pypper_objtable_count(void) { return count; }

const pypper_obj_entry *pypper_objtable_entries(void) { return entries; }

void pypper_objtable_clear(void)
{
    if (entries)
        munmap(entries, entries_cap * sizeof(pypper_obj_entry));
    if (index_)
        munmap(index_, index_cap * sizeof(uint32_t));
    entries = NULL;
    index_ = NULL;
    count = entries_cap = index_cap = 0;
}
