/* Python/attr_reads.h: the attributes a frame's code reads from its locals, found
 * without the GIL. A value read in passing (`len(e.val)`, `self.table.get(k)`) is
 * on the value stack for a few nanoseconds and the frame reader rarely sees it, while
 * the local it is read from (`e`, `self`) is new in the frame for the whole request
 * or call. For a local newly in a frame, the objects that the frame's code reads
 * from it by a specialized attribute access (CPython 3.12's LOAD_ATTR_SLOT, a
 * __slots__ member, and LOAD_ATTR_INSTANCE_VALUE, an instance's inline values) are
 * what those accesses would load now: the frame reader gives them the local's
 * evidence. A chain of such loads (`self.table.keys`) is followed a few deep.
 * Async-signal-safe: no lock, no allocation; every pointer is checked before it is
 * read, as the frame reader's are. */
#ifndef PYPPER_ATTR_READS_H
#define PYPPER_ATTR_READS_H

#include <Python.h>
#include <stdint.h>

#define PYPPER_ATTR_SETS 32         /* code objects remembered: 2 per set */
#define PYPPER_ATTR_SITES 24        /* attribute reads of locals remembered per code */
#define PYPPER_ATTR_MAX 8           /* values given for one local */

/* The instructions of one code object that load a local and then an attribute of
 * it (one per local and attribute name): the local's index and the attribute
 * instruction's offset in code units. */
typedef struct {
    const void *code;               /* NULL: free */
    const void *name;               /* its co_name when scanned (beside the address) */
    uint64_t version;               /* its instrumentation version when scanned */
    uint32_t units;                 /* its length when scanned */
    uint8_t n;
    uint8_t local[PYPPER_ATTR_SITES];
    uint16_t at[PYPPER_ATTR_SITES];
} pypper_attr_code;

/* A reader's memory of the code objects it met (one per reader; zeroed to start):
 * two ways a set, the one used less lately replaced. */
typedef struct {
    pypper_attr_code code[PYPPER_ATTR_SETS][2];
    uint8_t lately[PYPPER_ATTR_SETS];   /* the way used last */
    uint64_t scans;                 /* code objects scanned (a stat) */
} pypper_attr_cache;

/* The objects the code of a frame reads from its local `local` (which holds owner, a
 * pointer into the heap's committed memory) through specialized attribute accesses,
 * as those would load them now: into out[0..PYPPER_ATTR_MAX), pointers into the heap's
 * committed memory (the receiver checks them as any slot's). Returns how many. */
int pypper_attr_reads(pypper_attr_cache *cache, PyCodeObject *code, int local,
                      PyObject *owner, PyObject *out[PYPPER_ATTR_MAX]);
/* Code objects the cache scanned so far. */
uint64_t pypper_attr_scans(const pypper_attr_cache *cache);

#endif
