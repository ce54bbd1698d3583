/* Python/traced_entry.h: the object-table entry of a tracked object (Objects/track.h):
 * the one it has, or a new one, made when evidence comes for it (Python/
 * active_trace.c) or a test asks (Python/live_trace.c). Most tracked objects have
 * none (Doc/live-trace.md); an entry lives while its block is noted. */
#ifndef PYPPER_TRACED_ENTRY_H
#define PYPPER_TRACED_ENTRY_H

#include <stdbool.h>

#include "alloc_sites.h"
#include "../Objects/track.h"
#include "../Pypper/objtable.h"

/* The current entry of a tracked block's object, or NULL: none (not noted), or the
 * table has entries not hashed yet (a sync failed: the block's noted bit may be a
 * pending entry's, and an older dead entry of the block would read as current; the
 * callers sync first, so the table has none in the normal case). */
static inline pypper_obj_entry *traced_entry_current(void *block, void *object)
{
    pypper_obj_entry *e = pypper_objtable_find(block);
    return e && pypper_entry_object(e) == object && pypper_objtable_current(e) ? e : NULL;
}

static inline pypper_obj_entry *pypper_traced_entry_find(void *block, void *object)
{
    if (pypper_objtable_pending() || !pypper_heap_is_noted(block))
        return NULL;
    return traced_entry_current(block, object);
}

/* block: tracked, its object `object` (the caller checked both), under the heap's
 * serialization, the table synced. Its entry (*made: new), or NULL when the table
 * could not take a new one (the block stays without) or was not synced. A new entry
 * of an object from before the session has that as its site. Invalidates other entry
 * pointers when it makes one. */
static inline pypper_obj_entry *pypper_traced_entry(void *block, void *object, bool *made)
{
    *made = false;
    if (pypper_objtable_pending())
        return NULL;
    if (pypper_heap_is_noted(block))
        return traced_entry_current(block, object);
    uint32_t site = pypper_heap_is_before(block) ? PYPPER_SITE_BEFORE_SESSION : 0;
    pypper_heap_note(block);            /* (put's sync keeps noted entries only) */
    pypper_obj_entry *e = pypper_objtable_put(block, object, site);
    if (!e)
        pypper_heap_unnote(block);
    *made = e != NULL;
    return e;
}

#endif
