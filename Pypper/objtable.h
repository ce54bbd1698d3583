/* Pypper/objtable.h: the object table: the objects the live trace knows that have
 * something to keep (evidence, a recorded site: the others are only the heap's
 * tracked bits, Objects/track.h), as an
 * open-addressing hash table of entries keyed by block, followed in the same array by
 * the entries added since the last sync (pending). Adding is an append; the pending
 * entries are hashed at the next sync (the sampler's hand-over, an API call, or an add
 * that finds the pending part full), by which time most young objects have died and
 * are never hashed. Whether an entry's object is alive is the caller's to say (the
 * block's noted bit, cleared when the block is freed); entries of dead objects stay
 * until a sweep or compaction. Callers iterate entry numbers [0, count): a number is a
 * slot (or a pending entry), and an empty slot is an entry that is not current. Not
 * thread-safe: callers serialize (the GIL, or the heap lock). */
#ifndef PYPPER_OBJTABLE_H
#define PYPPER_OBJTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 8 bytes an object. The block is kept as its granule number (16-byte units) from
 * the table's base (pypper_objtable_set_base: the heap's reservation), 36 bits (1 TiB
 * of reservation); the object as its distance from the block start in granules (its
 * pre-headers: 0, 1 or 2). Read them (and the site, the migration walk's note)
 * through the accessors below. An empty slot is all zero bytes (pypper_entry_empty).
 * The temperature model's state is not in the entry: see pypper_obj_state. */
typedef struct {
    uint32_t granule;   /* block start - base, in granules: low 32 bits */
    uint8_t where;      /* bits 0-3: granule bits 32-35; 4-5: 1 + the object's offset
                           in granules, 0: an empty slot; 6-7: the note */
    uint8_t klass;      /* bits 0-1: cold, warm or hot, with hysteresis
                           (Pypper/temperature.c: pypper_entry_class); bit 6: objtable.c's
                           own during a rehash (0 otherwise); bit 7: PYPPER_ENTRY_STATEFUL */
    uint16_t site16;    /* allocation site id (Python/alloc_sites.c), 0: unknown,
                           0xFFFF: allocated before the session */
} pypper_obj_entry;

/* The temperature model's state of an object (Pypper/temperature.c), 8 bytes, kept
 * only for the entries that got evidence (PYPPER_ENTRY_STATEFUL), in a map by entry
 * number (Pypper/objtable_states.c); any other entry's state (an empty slot's too)
 * reads as zero without a lookup. */
typedef struct {
    float heat;         /* decayed sampler evidence, as of `stamp` */
    uint32_t stamp;     /* model time (ms since the session started) of heat */
} pypper_obj_state;

#define PYPPER_OBJTABLE_GRANULE 16u
#define PYPPER_OBJTABLE_SPAN ((uint64_t)1 << 40)   /* bytes a base can cover */

extern char *pypper_objtable_base;
/* Entry 0 (entry numbers for pypper_entry_state count from it); moves when the table
 * grows or shrinks. */
extern pypper_obj_entry *pypper_objtable_entry0;

extern const pypper_obj_state pypper_obj_state_zero;
#define PYPPER_ENTRY_STATEFUL 0x80u     /* in klass: the entry has a stored state */

/* Entry i's stored state (zero when it has none); objtable_states.c. */
const pypper_obj_state *pypper_objtable_state_of(size_t i);
/* The stored states in the map's order: from *cursor (0 to begin) the next one, its
 * entry number in *entry; NULL after the last. Far fewer than the entries in most
 * programs (a migration round visits the objects with heat so). The map must not
 * change meanwhile (no state made or dropped). */
const pypper_obj_state *pypper_objtable_next_state(size_t *cursor, size_t *entry);
/* e's state, to write: stored (zero) the first time. Valid until the next call here
 * or the table's next add, sync, sweep or compaction. When the map cannot grow, a scratch
 * state that nothing reads (counted in stats()["objtable_states_refused"]). */
pypper_obj_state *pypper_objtable_state_mut(pypper_obj_entry *e);

static inline int pypper_entry_class(const pypper_obj_entry *e) { return e->klass & 3u; }

/* Whether e is an empty slot (no object: never current, its state zero). */
static inline bool pypper_entry_empty(const pypper_obj_entry *e) { return !(e->where & 0x30u); }

/* The model state of e, an entry of the table (from find, at or entries), to read;
 * valid like pypper_objtable_state_mut's. */
static inline const pypper_obj_state *pypper_entry_state(const pypper_obj_entry *e)
{
    return e->klass & PYPPER_ENTRY_STATEFUL
           ? pypper_objtable_state_of((size_t)(e - pypper_objtable_entry0))
           : &pypper_obj_state_zero;
}

/* The same, to write: a zero state the first time. */
static inline pypper_obj_state *pypper_entry_state_mut(pypper_obj_entry *e)
{
    return pypper_objtable_state_mut(e);
}

static inline void *pypper_entry_block(const pypper_obj_entry *e)
{
    uint64_t g = (uint64_t)e->granule | (uint64_t)(e->where & 15u) << 32;
    return pypper_objtable_base + g * PYPPER_OBJTABLE_GRANULE;
}

/* The object, or NULL for an empty slot. */
static inline void *pypper_entry_object(const pypper_obj_entry *e)
{
    unsigned where = (e->where >> 4) & 3u;
    return where ? (char *)pypper_entry_block(e) + (where - 1) * PYPPER_OBJTABLE_GRANULE : NULL;
}

/* The site as Python/alloc_sites.h numbers it (UINT32_MAX: before the session). */
static inline uint32_t pypper_entry_site(const pypper_obj_entry *e)
{
    return e->site16 == 0xFFFFu ? UINT32_MAX : e->site16;
}

/* The migration walk's note (Python/migrate.c), 0 to 3. */
static inline unsigned pypper_entry_note(const pypper_obj_entry *e) { return e->where >> 6; }
static inline void pypper_entry_set_note(pypper_obj_entry *e, unsigned note)
{
    e->where = (uint8_t)((e->where & 0x3Fu) | (note & 3u) << 6);
}

/* Whether the object of a block is still alive (set once, before adding). */
typedef bool (*pypper_objtable_alive_fn)(const void *block);
void pypper_objtable_set_alive(pypper_objtable_alive_fn alive);
/* Or, instead of a function: alive when bit g of `bits` is set, g being the block's
 * granule number from the base (word (g / 64) * stride, bit g % 64), a bitmap readable
 * for every block an entry can name; NULL: the function decides. (An indirect call a
 * check was a tenth of a record-building loop's tracing, in the pending entries'
 * drops.) */
void pypper_objtable_set_alive_bits(const uint64_t *bits, unsigned stride);

/* Where blocks can be: [base, base + PYPPER_OBJTABLE_SPAN). Set before adding (an
 * empty table); NULL (the default) works for a table whose blocks are below 1 TiB. */
void pypper_objtable_set_base(void *base);

/* Append a pending entry (the block may have an older one: the next sync replaces
 * it). An add that finds the pending part full syncs first. 0, or -1 when memory for
 * the table could not be had or the entry cannot be encoded (the block outside the
 * base's span or not 16-aligned, the object not 0, 16 or 32 bytes into it): nothing
 * changed. Sites above 0xFFFE other than UINT32_MAX are kept as 0 (unknown). */
int pypper_objtable_add(void *block, void *object, uint32_t site);
/* Make room for n entries in the hash table (slots for them at its greatest load),
 * so that syncs do not grow it until it holds more; 0 or -1 (no memory: nothing
 * changed). Every slot's page is touched as entries land at random: a room much
 * larger than what gets added costs that memory. */
int pypper_objtable_reserve(size_t n);
/* Hash the pending entries: dead ones are dropped, an older entry of the same block
 * is replaced (dropped, its state with it). 0, or -1 when the table could not grow
 * (the pending entries stay pending until a later sync). */
int pypper_objtable_sync(void);
/* block's entry among the synced ones (writable: the model's fields), or NULL; valid
 * until the next add, sync, sweep or compaction. */
pypper_obj_entry *pypper_objtable_find(const void *block);
bool pypper_objtable_contains(const void *block);
/* Add an entry and sync: the new entry (alive() must say so already), or NULL when
 * the table could not take it (nothing added then; other pending entries may stay
 * pending). Invalidates other entry pointers, like a sync. */
pypper_obj_entry *pypper_objtable_put(void *block, void *object, uint32_t site);
/* Whether entry e describes a live object: not an empty slot, and alive() says so. */
bool pypper_objtable_current(const pypper_obj_entry *e);
/* Entry numbers: the hash table's slots, then the pending entries; empty slots and
 * the entries of dead objects included. */
size_t pypper_objtable_count(void);
/* Entries held: occupied slots and pending entries (dead ones included). */
size_t pypper_objtable_used(void);
/* Entries dropped since the process started (by syncs, sweeps and compactions). */
uint64_t pypper_objtable_dropped(void);
/* Entries hashed by syncs since the process started; *probed: the occupied slots
 * they probed (their mean is the table's probe length). */
uint64_t pypper_objtable_hashed(uint64_t *probed);
/* Entry i (i < count), writable like find's; an empty slot reads as not current. */
pypper_obj_entry *pypper_objtable_at(size_t i);
const pypper_obj_entry *pypper_objtable_entries(void);
/* Sync, then drop every entry that is not current (the others stay where the hash
 * puts them); a table left much emptier is rehashed smaller (its pages go back to the
 * kernel). Returns how many were dropped. O(slots). */
size_t pypper_objtable_compact(void);
/* Look at about `budget` of the hashed slots from *cursor on (wrapping; whole probe
 * runs, so the last may pass the budget by its length), removing the entries that are
 * not current (the kept entries of a run move back towards their home slots).
 * Advances *cursor; returns how many were removed. O(slots looked at), for passes that
 * must stay short. The pending entries stay pending, unhashed (a churning program's
 * mostly die before a sync; pypper_objtable_settle_pending drops them): sync first
 * to sweep them too. */
size_t pypper_objtable_sweep_slots(size_t *cursor, size_t budget);
/* Drop the pending entries of dead objects, keeping the others pending (no hashing),
 * when there are 1,024 or more and twice as many as were kept at the last drop since
 * the last sync (amortized O(1) an entry: a churning program's die before a sync, and
 * a dead one costs nothing then, while one hashed costs a random slot and a sweep).
 * Returns the pending entries (added since the last sync). */
size_t pypper_objtable_settle_pending(void);
/* Pending entries (added since the last sync). */
size_t pypper_objtable_pending(void);
/* Forget every entry and free the table's memory. */
void pypper_objtable_clear(void);

#endif
