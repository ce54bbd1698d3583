/* Python/alloc_sites.h: allocation sites: the Python code location (code object,
 * instruction) that allocated a block of the heap, recorded while a session runs.
 * Every block above 512 bytes gets its site, at malloc, calloc and realloc (so a
 * list's item array carries the line that last grew it); small blocks are sampled,
 * one allocation per ALLOC_SAMPLE x 4 KiB allocated, and a pool remembers its latest
 * sampled block while it lives. That is exact for that block; the objects of the
 * same type near it get its site by inference (site_infer.h). */
#ifndef PYPPER_ALLOC_SITES_H
#define PYPPER_ALLOC_SITES_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

/* Site ids: 1..PYPPER_SITE_MAX name a code location; 0 is unknown; this one marks an
 * object that existed before the session started (it can have no site). */
#define PYPPER_SITE_BEFORE_SESSION UINT32_MAX

/* True while a session records sites: python3's _Py_NewReference (new_reference.c)
 * then gives the block of each list, tuple or dict made (with the GIL) to
 * pypper_alloc_sites_new_object: an
 * object whose block is its pool's recorded one, other than the allocation recorded
 * last, came from a free list (its block was freed and reused without the allocator
 * seeing it): the block is recorded again, with the line making it now. */
extern bool pypper_alloc_sites_watching;
void pypper_alloc_sites_new_object(const void *block);
/* Set by python3's _Py_NewReference once called: false where libpython does not call
 * it (the extension module in a stock python3.12, or a libpython that binds its own
 * calls): free lists then go unseen (stats()["free_lists_seen"]). */
extern bool pypper_alloc_sites_objects_seen;

/* With the GIL: start recording; besides blocks above 512 bytes, one allocation per
 * `period` x 4 KiB allocated (0: no sites at all). 0 or -1 with a Python exception. */
int pypper_alloc_sites_start(uint64_t period);
/* With the GIL: stop, drop the sites and the references they hold (also in a
 * forked child: the references are the child's copies). */
void pypper_alloc_sites_stop(void);
bool pypper_alloc_sites_running(void);
/* With the GIL, on a program thread: Pypper's own work (the sampler's hand-over)
 * begins / ends. Allocations in between are not the program's: none is recorded
 * (it would get the line the program is at) and none counts toward the next sample
 * (the program's sampling does not depend on Pypper's activity). Sections nest. */
void pypper_alloc_sites_quiet_begin(void);
void pypper_alloc_sites_quiet_end(void);
/* The calling thread is one of Pypper's own (a capture's recorder): none of its
 * allocations is recorded while it runs, whichever thread the GIL goes to in between
 * (a section would silence the program's threads as well). Its small blocks still
 * count toward the next sample: one that comes due on it goes to the next allocation
 * of a program thread. quiet false: the thread is the program's again. */
void pypper_alloc_sites_quiet_thread(bool quiet);
/* Called on the main thread at each recorded allocation (inside the allocator: fn
 * must not allocate from the heap nor run Python code), while a session records:
 * about once per 4 KiB the main thread allocates. NULL (the usual state: the
 * session sets one only while it waits to start its threads): none. */
void pypper_alloc_sites_set_tick(void (*fn)(void));
/* The pypper package's directory (its __init__.py's): its code is Pypper's own, never
 * a site of the program's (frames in it are looked through as the library's are).
 * With the GIL. */
void pypper_alloc_sites_own_dir(const char *dir);
/* The site recorded for the allocation of block itself, or 0. For a small block the
 * pool's record is consumed (a later block at that address is another object). */
uint32_t pypper_alloc_sites_take(const void *block);
/* The same for a block the caller knows to be an allocated small (pooled) block's
 * start (pypper_heap_track_block returned 2): no metadata read to tell it. */
uint32_t pypper_alloc_sites_take_small(const void *block);
/* The same, without consuming: for owned buffers (a block above 512 bytes keeps its
 * site until it is freed and its address reallocated). */
uint32_t pypper_alloc_site_of_block(const void *block);
/* The site of the latest sampled allocation in the pool holding a small block, or 0. */
uint32_t pypper_alloc_site_of_pool(const void *block);
/* The site recorded for a block above 512 bytes starting at block (the caller knows
 * it is one), or 0. */
uint32_t pypper_alloc_site_of_large(const void *block);
/* Sites interned so far: ids are 1..this. */
uint32_t pypper_alloc_sites_count(void);
/* Whether sites a and b may have allocated in turn: the stretches between the first
 * and the last block recorded for each overlap. False only when one line's recorded
 * blocks all came before the other's first (a module's import-time objects, then a
 * loop that filled the freed slots around the survivors); true for unknown ids. */
bool pypper_alloc_sites_in_turn(uint32_t a, uint32_t b);
/* How many small blocks of the size class of `block` (a pooled block of the heap)
 * site allocated among the blocks sampled by bytes this session; 0 for an unknown
 * id or block (Python/site_infer.h: a line's share of another's). */
uint32_t pypper_alloc_sites_samples(uint32_t site, const void *block);
/* A buffer was copied from `from` to `to` (relocation): `to` gets from's site. */
void pypper_alloc_sites_moved(const void *from, const void *to);
/* The (code object, instruction index) of a site id: 1, or 0 for 0, an unknown id or
 * a site whose code object died (it allocates no more). */
int pypper_alloc_site_key(uint32_t site, const void **code, int *offset);
/* A site's code object while it lives (to tell a reused address), else NULL. */
const void *pypper_alloc_site_code(uint32_t site);
/* The site that names site's function itself: no instruction, its first line,
 * described "FILE:LINE (QUALNAME, lines in turn)"; 0 when the table is full or the
 * code died. With the GIL. */
uint32_t pypper_alloc_sites_function_site(uint32_t site);
/* The functions a site's line lies within, as the sites naming them (site_infer.h's
 * pypper_site_infer_functions_fn): out[0] its own function's (0 when its code died),
 * out[1] that of the program's function that called it when its blocks were sampled
 * (library frames passed over; 0 when none was seen, or more than one). With the
 * GIL. */
void pypper_alloc_sites_functions(uint32_t site, uint32_t out[2]);
/* Where a site is, for reports and profiles, also after its code object died;
 * filename and qualname are borrowed: from the live code object, or, once it died,
 * from the site's own references (valid until the session stops). Use them before
 * anything that may run Python code or a collection. */
typedef struct {
    int offset;                     /* instruction index */
    PyObject *filename, *qualname;
    int firstlineno, line;
} pypper_site_identity;
/* 1 and *out for a site id, or 0 for 0 / an unknown id. */
int pypper_alloc_site_identity(uint32_t site, pypper_site_identity *out);
/* Its code's fingerprint (pypper_code_fingerprint, site_profile.h: what names it
 * across runs), also after the code died; 0 for 0 / an unknown id. */
uint64_t pypper_alloc_site_fingerprint(uint32_t site);
/* "file:line (function)" of a site, or None for 0 / an unknown id. */
PyObject *pypper_alloc_site_describe(uint32_t site);
/* Counters: {"sites", "sites_gone" (their code object died), "codes_gone",
 * "hold_code" (True: no code watcher was free, sites keep their code alive),
 * "recorded_small", "recorded_large", "recorded_by_bytes",
 * "no_frame", "table_full",
 * "quiet_sections", "quiet_bytes" (allocated in them), "quiet_large" (blocks above
 * 512 bytes among them)}. */
PyObject *pypper_alloc_sites_stats(void);

#endif
