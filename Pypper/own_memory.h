/* Pypper/own_memory.h: the memory Pypper maps for itself (tables beside the heap it
 * manages), registered by part so that its resident bytes can be counted: each part's
 * mappings go through pypper_own_mmap/mremap/munmap, and pypper_own_resident asks the
 * kernel (mincore) which of their pages are in memory, so sparse NORESERVE arrays
 * count only what was touched. Thread-safe (a mutex around the region list). */
#ifndef PYPPER_OWN_MEMORY_H
#define PYPPER_OWN_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PYPPER_OWN_OBJTABLE_ENTRIES,   /* Pypper/objtable.c: the hash table of entries */
    PYPPER_OWN_OBJTABLE_STATES,    /* Pypper/objtable_states.c: the model states */
    PYPPER_OWN_LIVE_TRACE,         /* Python/live_trace.c: the rescan buffer */
    PYPPER_OWN_EVIDENCE,           /* Python/active_trace.c: evidence table, poll window */
    PYPPER_OWN_MIGRATE,            /* Python/migrate.c: per-page and per-site arrays */
    PYPPER_OWN_ALLOC_SITES,        /* Python/alloc_sites.c: sites, pool and large records */
    PYPPER_OWN_SITE_INFER,         /* Python/site_infer.c */
    PYPPER_OWN_UNTRACED_SITES,     /* Python/untraced_sites.c */
    PYPPER_OWN_WRITE_TRACKING,     /* Pypper/write_tracking.c: bitmaps and history */
    PYPPER_OWN_SNAPSHOT,           /* Modules/snapshot_data.c: a snapshot being built */
    PYPPER_OWN_PAGE_HEAT,          /* Pypper/page_heat.c: heat per page with evidence */
    PYPPER_OWN_SWAP_MAP,           /* Objects/swap_map.c: a bit per heap page in swap */
    PYPPER_OWN_SITE_PROFILE,       /* Python/site_profile.c: a loaded profile's cold sites */
    PYPPER_OWN_TRACKED_BITS,       /* Objects/track.c: the live trace's bitmaps beside the
                                      heap (mapped by the heap: counted through a function) */
    PYPPER_OWN_SCAN_GROUPS,        /* Python/scan_groups.c: the groups' member bitmaps */
    PYPPER_OWN_PARTS
} pypper_own_part;

/* The part's name, as the stats report it ("objtable_entries", ...). */
const char *pypper_own_part_name(pypper_own_part part);

/* mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags)
 * recorded under part; NULL when the kernel refuses (or the region list is full: the
 * mapping is then made but not counted, and pypper_own_uncounted says how many). */
void *pypper_own_mmap(pypper_own_part part, size_t bytes, int extra_flags);
/* Have a forked child get [p, p + bytes) empty (MADV_WIPEONFORK; a session's table
 * that the child forgets without reading it: own_memory.c says why). Refused (before
 * Linux 4.14): the child gets a copy. pypper_own_mmap does it for the parts that want
 * it; the heap for the live trace's bits. */
void pypper_own_wipe_on_fork(void *p, size_t bytes);
/* mremap with MREMAP_MAYMOVE, keeping the region's part; NULL on failure (old stays). */
void *pypper_own_mremap(void *old, size_t old_bytes, size_t new_bytes);
/* munmap, forgetting the region; p may be NULL. */
void pypper_own_munmap(void *p, size_t bytes);

/* A part whose memory another module maps: its resident bytes are fn()'s (added to
 * those of its own mappings, if any); NULL: none. */
void pypper_own_set_resident_fn(pypper_own_part part, uint64_t (*fn)(void));

/* Resident bytes of a part's mappings now (mincore), and of all parts. */
uint64_t pypper_own_resident(pypper_own_part part);
uint64_t pypper_own_resident_total(void);
/* Mapped (virtual) bytes of a part. */
uint64_t pypper_own_mapped(pypper_own_part part);
/* Mappings made but not counted (the region list was full). */
uint64_t pypper_own_uncounted(void);

/* Tell the kernel that the mappings of the parts in `parts` (a mask of 1 << part) are
 * cold (MADV_COLD: their pages move to the inactive lists, so reclaim takes them
 * before the program's recently used ones; nothing is freed or read). Returns the
 * bytes advised (mapped, not resident); 0 when the kernel refuses the advice (before
 * Linux 5.4). The advice is given outside the registry's lock. */
uint64_t pypper_own_advise_cold(uint32_t parts);
/* The figures at the end of the last session (taken before its tables are freed):
 * record them, and read them back (false: no session has ended yet). */
void pypper_own_note_end(uint64_t heap_bytes_in_use);
bool pypper_own_end_record(uint64_t resident[PYPPER_OWN_PARTS], uint64_t *heap_bytes_in_use);

#endif
