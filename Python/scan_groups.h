/* Python/scan_groups.h: the traced items of a list or tuple that a loop or C code scans
 * take the container's heat, as a group.
 *
 * A loop over a list of 100,000 records shows each record in a frame about once in
 * 30 s at the sampler's rate, so from their own evidence most records of a list the
 * program reads 130 times a second were cold at any moment (a newcomer's ETL job: 4 of
 * the 30,386 records its report loop read 17 times a second were hot). A sighting of
 * the container being scanned (SCAN, Python/frame_reader.h) is a sighting of a use of
 * one of its items, which one unknown: each of its n items takes 1/n of it. Giving
 * each item that on its own entry cost 0.2-2 µs an item a hand-over (lookups of its
 * block, entry and state), more than the hand-over's budget on such lists; so a group
 * keeps the heat per item (decaying like an object's), and its traced members say who
 * takes it when a temperature is asked for: an object's heat is its own plus the
 * hottest of its groups'.
 *
 * Up to SCAN_GROUPS groups (the one with the least heat over all its items gives way);
 * a group ends with its container, or when its heat per item has decayed to nothing.
 * A group's members are a bitmap of their address range (a bit per 16 bytes), or their
 * sorted addresses when they are scattered, and one bitmap of the union of the groups'
 * ranges holds them all (most objects asked about are in no group). Members are read
 * again when asked for after the container changed length, item array or first,
 * middle or last item, or after REBUILD_MS. Callers hold the GIL and the heap lock. */
#ifndef PYPPER_SCAN_GROUPS_H
#define PYPPER_SCAN_GROUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* At a hand-over: op (a list or tuple with a current entry, resident) was found scanned
 * `scans` times since the last one. */
void pypper_scan_groups_note(PyObject *op, double scans, uint32_t now_ms);

/* Before asking pypper_scan_groups_heat (a temperature, a snapshot, pypper.migrate()):
 * groups whose container died or whose heat is gone end; stale bitmaps are built
 * again. The _step form (a hand-over, a background migration round) reads at most
 * BUILD_STEP_ITEMS items for builds: a long container's build goes on at the next
 * ones, its last members serving meanwhile. */
void pypper_scan_groups_refresh(uint32_t now_ms);
void pypper_scan_groups_refresh_step(uint32_t now_ms);

/* The heat per item of the hottest group whose bitmap holds obj (as of the last
 * refresh), decayed to now_ms; 0 when none does. */
double pypper_scan_groups_heat(const void *obj, uint32_t now_ms);
/* An object's heat: `own` (its state's, decayed to now_ms) plus its groups'. What
 * temperatures, snapshots and migration rounds use. */
static inline double pypper_object_heat(double own, const void *obj, uint32_t now_ms)
{
    return own + pypper_scan_groups_heat(obj, now_ms);
}

/* Up to `most` members of each group with members (as of the last refresh), each
 * given to fn with its group's heat per item decayed to now_ms: what hot_objects()
 * ranks beside the object table's entries. A member is an address from the last
 * build: fn checks that a tracked object is still there before it uses it. */
void pypper_scan_groups_members(void (*fn)(void *ctx, const void *obj, double heat), void *ctx,
                                size_t most, uint32_t now_ms);

typedef struct {
    uint64_t groups;            /* groups now */
    uint64_t made;              /* groups made (this session) */
    uint64_t members;           /* members in their bitmaps (as last built) */
    uint64_t builds;            /* bitmaps built */
    uint64_t build_steps;       /* the builds' passes and steps of them */
    uint64_t refused;           /* containers not grouped: range too wide, no memory */
    uint64_t bitmap_bytes;      /* mapped for the bitmaps now */
} pypper_scan_groups_stats;

void pypper_scan_groups_get_stats(pypper_scan_groups_stats *out);

/* A session starts or ends: every group goes (its memory too). */
void pypper_scan_groups_clear(void);

#endif
