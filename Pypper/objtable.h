/* Pypper/objtable.h: the object table: the objects the live trace knows, as a dense
 * array of entries in the order they were added (what the temperature work
 * iterates) plus an open-addressing index from block address to entry. Adding is an
 * append; the index catches up at the next sync (the sampler's hand-over, an API
 * call), by which time most young objects have died and are never hashed. Whether
 * an entry's object is alive is the caller's to say (the heap's tracked bit, cleared
 * when the block is freed); entries of dead objects stay until a compaction. Not
 * thread-safe: callers serialize (the GIL, or the heap lock). */
#ifndef PYPPER_OBJTABLE_H
#define PYPPER_OBJTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *block;        /* the allocator's block start (the key) */
    void *object;       /* the PyObject inside it; NULL: a newer entry has the block */
    /* The temperature model's state of the object (Pypper/temperature.c). */
    float heat;         /* decayed sampler evidence, as of `stamp` */
    uint32_t stamp;     /* model time (ms since the session started) of heat */
    uint32_t site;      /* allocation site id (Python/alloc_sites.c), 0: unknown */
    uint8_t klass;      /* cold, warm or hot, with hysteresis */
    uint8_t spare[3];   /* spare[0]: the migration walk's note (Python/migrate_collect.c) */
} pypper_obj_entry;

/* Whether the object of a block is still alive (set once, before adding). */
typedef bool (*pypper_objtable_alive_fn)(const void *block);
void pypper_objtable_set_alive(pypper_objtable_alive_fn alive);

/* Append an entry (the block may have an older one: the next sync retires it).
 * 0, or -1 when memory for the table could not be had (nothing changed). */
int pypper_objtable_add(void *block, void *object, uint32_t site);
/* Make room for n entries without growing; 0 or -1 (no memory: nothing changed). */
int pypper_objtable_reserve(size_t n);
/* Index the entries added since the last sync: dead ones are skipped, an older entry
 * of the same block is retired (object = NULL). 0, or -1 when the index could not
 * grow (those entries stay unindexed until a later sync). */
int pypper_objtable_sync(void);
/* block's entry among the synced ones (writable: the model's fields), or NULL; valid
 * until the next add, sync or compaction. */
pypper_obj_entry *pypper_objtable_find(const void *block);
bool pypper_objtable_contains(const void *block);
/* Whether entry e describes a live object: not retired, and alive() says so. */
bool pypper_objtable_current(const pypper_obj_entry *e);
/* Entries in the array, including dead and unsynced ones. */
size_t pypper_objtable_count(void);
/* Entries dropped since the process started (by syncs, sweeps and compactions). */
uint64_t pypper_objtable_dropped(void);
/* Entry i of the dense array (i < count), writable like find's. */
pypper_obj_entry *pypper_objtable_at(size_t i);
const pypper_obj_entry *pypper_objtable_entries(void);
/* Sync, then drop every entry that is not current, keeping the order of the others;
 * returns how many were dropped. O(entries). */
size_t pypper_objtable_compact(void);
/* Sync, then look at `budget` entries from *cursor on (wrapping), removing those
 * that are not current (the last entry moves into each hole). Advances *cursor;
 * returns how many were removed. Bounded work, for passes that must stay short. */
size_t pypper_objtable_sweep(size_t *cursor, size_t budget);
/* Forget every entry and free the table's memory. */
void pypper_objtable_clear(void);

#endif
