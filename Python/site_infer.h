/* Python/site_infer.h: allocation sites inferred for objects whose own allocation was
 * not recorded, from recorded objects of the same type allocated near them: first
 * in the same 16 KiB pool (a pool is filled by consecutive allocations of its size
 * class, so mostly by one loop), else in the same 1 MiB arena. A scratch table,
 * built for one snapshot or one hot_objects() call: seed it with every object whose
 * site is known, then ask about the others. Nothing here reads an object. */
#ifndef PYPPER_SITE_INFER_H
#define PYPPER_SITE_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct site_infer site_infer;

/* A table for up to `seeds` seeds (mmap'ed), or NULL when there is no memory. */
site_infer *pypper_site_infer_new(size_t seeds);
void pypper_site_infer_free(site_infer *t);
/* A recorded object: its block, its type (any pointer that identifies it) and site. */
void pypper_site_infer_seed(site_infer *t, const void *block, const void *type, uint32_t site);
/* Whether two lines may have allocated in turn (Python/alloc_sites.h:
 * pypper_alloc_sites_in_turn); false means one's objects all came before the other's. */
typedef bool (*pypper_site_infer_in_turn_fn)(uint32_t a, uint32_t b);
/* How many small blocks of a seed's size class (its block's) a line allocated among
 * the samples (Python/alloc_sites.h: pypper_alloc_sites_samples); 0: not known. */
typedef uint32_t (*pypper_site_infer_samples_fn)(uint32_t site, const void *block);
/* After the last seed: mark the arenas whose pools of a type were filled by lines in
 * turn (a pool's seed has another site than its seeded neighbours', and its line
 * allocated while theirs did): no site is inferred there (a neighbour's site would
 * name the wrong line for many objects); a seed whose line did not is an older
 * survivor, and its pool infers nothing. `in_turn` NULL: every pair in turn.
 * `samples` NULL, or 0 for either line: a line's share is counted in seeds (one per
 * pool) instead of samples. */
/* Functions, for lines in turn: the functions a line lies within, as the sites that
 * name them: out[0] its own function's, out[1] that of the function that called it
 * (0: not known). */
typedef void (*pypper_site_infer_functions_fn)(uint32_t site, uint32_t out[2]);
/* ... `functions` NULL: lines in turn give no site; else, where the lines in turn all
 * lie within one function, that function's site is given instead: their own
 * function's when they share it (a function that builds a record from several lines:
 * which line made an object is not known, the function is), else that of the one
 * function that all the lines are in or were called from (a loop that makes a key on
 * one line and calls a function that makes the record's fields). */
void pypper_site_infer_settle(site_infer *t, pypper_site_infer_in_turn_fn in_turn,
                              pypper_site_infer_samples_fn samples,
                              pypper_site_infer_functions_fn functions);
/* The site of a seed of that type in the same pool, else in the same arena; 0: none,
 * or the arena's pools of that type were filled by lines in turn. */
uint32_t pypper_site_infer(const site_infer *t, const void *block, const void *type);

#endif
