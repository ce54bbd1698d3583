/* Pypper/objtable_states.c: the model states of the object table's stateful entries
 * (objtable_states.h): an open-addressing map from entry number to state. 12-byte
 * slots (the entry number + 1, 0: empty, then the state), linear probing, a
 * power-of-two capacity kept at most 3/4 full (doubled when an insertion would pass
 * that), backward-shift deletion. Until 2026-12-03 the states were an array parallel
 * to the entries: 8 bytes an entry, its pages touched wherever one entry in 512 had
 * evidence, so nearly all of them. Few objects get evidence (at the end of
 * farmem_bench's workloads: 9% of the entries on kv-zipf, 6% on graph, 33% on reqlog),
 * so 16-24 bytes a stateful entry cost less. A state that cannot be stored (the map
 * could not grow) goes to a sink and is counted (stats()["objtable_states_refused"]).
 * Memory comes from mmap, not from the heap the table describes. */
#include "objtable_states.h"

#include "own_memory.h"
#include "stats.h"

#include <string.h>

#define MIN_CAP 1024u

typedef struct {
    uint32_t key;                   /* entry number + 1; 0: empty */
    pypper_obj_state state;
} state_slot;

static state_slot *slots;
static size_t cap, used;            /* cap: 0 or a power of two */
static unsigned shift;              /* 64 - log2(cap) */
static pypper_obj_state sink;       /* a refused state's evidence is written here */

static inline size_t home(uint32_t key)
{
    return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> shift);
}

static inline size_t next(size_t i) { return (i + 1) & (cap - 1); }

/* Probe distance from slot a forward to slot b. */
static inline size_t distance(size_t a, size_t b) { return (b - a) & (cap - 1); }

static state_slot *find(uint32_t key)
{
    if (!used)
        return NULL;
    for (size_t i = home(key); slots[i].key; i = next(i))
        if (slots[i].key == key)
            return &slots[i];
    return NULL;
}

/* A free slot for key (not in the map; room assured by the caller). */
static state_slot *take(uint32_t key)
{
    size_t i = home(key);
    while (slots[i].key)
        i = next(i);
    slots[i].key = key;
    used++;
    return &slots[i];
}

/* Room for one more: the map doubled when it would be more than 3/4 full. */
static bool room(void)
{
    if (cap && (used + 1) * 4 <= cap * 3)
        return true;
    size_t fresh_cap = cap ? cap * 2 : MIN_CAP;
    state_slot *fresh = pypper_own_mmap(PYPPER_OWN_OBJTABLE_STATES,
                                        fresh_cap * sizeof(state_slot), 0);
    if (!fresh)
        return false;
    state_slot *old = slots;
    size_t old_cap = cap;
    slots = fresh;
    cap = fresh_cap;
    shift = 64u - (unsigned)__builtin_ctzll(fresh_cap);
    used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            take(old[i].key)->state = old[i].state;
    if (old)
        pypper_own_munmap(old, old_cap * sizeof(state_slot));
    return true;
}

static void remove_slot(state_slot *s)
{
    size_t hole = (size_t)(s - slots);
    for (size_t j = next(hole); slots[j].key; j = next(j)) {
        if (distance(home(slots[j].key), j) >= distance(hole, j)) {
            slots[hole] = slots[j];
            hole = j;
        }
    }
    slots[hole].key = 0;
    used--;
}

const pypper_obj_state *pypper_objtable_state_of(size_t i)
{
    const state_slot *s = find((uint32_t)i + 1);
    return s ? &s->state : &pypper_obj_state_zero;
}

const pypper_obj_state *pypper_objtable_next_state(size_t *cursor, size_t *entry)
{
    for (size_t i = *cursor; i < cap; i++)
        if (slots[i].key) {
            *cursor = i + 1;
            *entry = (size_t)slots[i].key - 1;
            return &slots[i].state;
        }
    *cursor = cap;
    return NULL;
}

pypper_obj_state *pypper_objtable_state_mut(pypper_obj_entry *e)
{
    uint32_t key = (uint32_t)(e - pypper_objtable_entry0) + 1;
    if (e->klass & PYPPER_ENTRY_STATEFUL) {
        state_slot *s = find(key);
        if (s)
            return &s->state;
    }
    if (!room()) {
        pypper_stat_add(PYPPER_STAT_STATES_REFUSED, 1);
        sink = pypper_obj_state_zero;
        return &sink;
    }
    state_slot *s = take(key);
    s->state = pypper_obj_state_zero;
    e->klass |= PYPPER_ENTRY_STATEFUL;
    return &s->state;
}

void pypper_states_move(uint32_t to, uint32_t from)
{
    state_slot *s = find(from + 1);
    if (!s || to == from)
        return;
    pypper_obj_state st = s->state;
    remove_slot(s);
    take(to + 1)->state = st;             /* the removal left the room */
}

void pypper_states_swap(uint32_t a, uint32_t b)
{
    state_slot *sa = find(a + 1), *sb = find(b + 1);
    if (sa && sb) {
        pypper_obj_state t = sa->state;
        sa->state = sb->state;
        sb->state = t;
    } else if (sa) {
        pypper_states_move(b, a);
    } else if (sb) {
        pypper_states_move(a, b);
    }
}

void pypper_states_drop(uint32_t i)
{
    state_slot *s = find(i + 1);
    if (s)
        remove_slot(s);
}

void pypper_states_clear(void)
{
    if (slots)
        pypper_own_munmap(slots, cap * sizeof(state_slot));
    slots = NULL;
    cap = used = 0;
    shift = 0;
}
