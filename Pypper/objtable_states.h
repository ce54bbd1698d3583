/* Pypper/objtable_states.h: the model states of the object table's entries that have
 * one (PYPPER_ENTRY_STATEFUL), by entry number. objtable.c moves and drops them with
 * their entries; readers and writers go through objtable.h's pypper_entry_state and
 * pypper_entry_state_mut. Not thread-safe: the object table's callers serialize. */
#ifndef PYPPER_OBJTABLE_STATES_H
#define PYPPER_OBJTABLE_STATES_H

#include "objtable.h"

/* Entry `from`'s state becomes entry `to`'s (to has none: objtable.c moves entries
 * only into empty slots, or over ones it dropped or moved already). */
void pypper_states_move(uint32_t to, uint32_t from);
/* Entries a and b trade places: so do their states (either may have none). */
void pypper_states_swap(uint32_t a, uint32_t b);
/* Forget entry i's state (its entry is dropped). */
void pypper_states_drop(uint32_t i);
/* Forget every state and free the map. */
void pypper_states_clear(void);

#endif
