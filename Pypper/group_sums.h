/* Pypper/group_sums.h: a snapshot's object rows (Pypper/snapshot_columns.h) summed
 * per (allocation site, type) and per site, for a capture's groups and frame records,
 * chunk after chunk as the rows are made (a snapshot of millions of objects need not
 * be kept: Modules/snapshot_data.c's sums mode). Nothing here reads an object or
 * allocates from the heap (own memory, mmap'ed): usable under the heap's lock. */
#ifndef PYPPER_GROUP_SUMS_H
#define PYPPER_GROUP_SUMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot_columns.h"

#define PYPPER_GROUP_BINS 10        /* the temperature histogram: bytes per tenth */
#define PYPPER_GROUP_SITES 65536u   /* site ids below this (objtable.h keeps 16 bits) */

/* by_class arrays here are indexed by class: PYPPER_COLD, PYPPER_WARM, PYPPER_HOT (0, 1,
 * 2: Pypper/temperature.h), the values of a row's klass column. */

/* One (site, type): the sums of its objects. Bytes: bodies (size) plus owned buffers;
 * by_class (cold, warm, hot), tsum (sum of temperature x bytes) and hist (bytes by
 * temperature, PYPPER_GROUP_BINS bins over [0, 1]): a body at its object's
 * temperature and class, a buffer's bytes at those of its pages (pypper_owned_parts);
 * slow: bytes on the slow tier. */
typedef struct {
    uint32_t site, type;
    uint64_t objects, bytes, owned, by_class[3], slow;
    double tsum;
    uint64_t hist[PYPPER_GROUP_BINS];
} pypper_group_sum;

/* A row's owned buffers, by the temperature of their pages (each page of a buffer at
 * its owner's temperature or, when lower, that of what it refers to): bytes by class
 * (cold, warm, hot) and by histogram bin, and the sum of temperature x bytes. */
typedef struct {
    uint64_t by_class[3];
    uint64_t by_bin[PYPPER_GROUP_BINS];
    double heat;
} pypper_owned_parts;

/* The histogram bin of a temperature (0 and below: the first; 1 and above: the last). */
static inline size_t pypper_group_bin(double t)
{
    double scaled = t * PYPPER_GROUP_BINS;
    size_t b = scaled > 0.0 ? (size_t)scaled : 0;
    return b < PYPPER_GROUP_BINS ? b : PYPPER_GROUP_BINS - 1;
}

/* One site of a frame: hot and warm bytes of the rows at or above the floor (a buffer's
 * bytes in the classes of its pages: the cold ones are in neither). */
typedef struct {
    uint64_t hot, warm;
} pypper_site_sum;

typedef struct pypper_group_sums pypper_group_sums;

/* Empty sums; frame_min_t: the frame's floor (above 1: no frame sums). NULL when
 * there is no memory. */
pypper_group_sums *pypper_group_sums_new(double frame_min_t);
void pypper_group_sums_free(pypper_group_sums *g);

/* Add rows [0, n) of c; owned[i]: row i's owned bytes by the temperature of their
 * pages (its classes and bins sum to its owned bytes). machinery[type] (type below
 * n_types) true: a row of that type whose site was inferred (SITE_KIND_INFERRED)
 * counts without a site (a neighbour's site says little of interpreter machinery).
 * Sites are alloc-site ids (ids at or past PYPPER_GROUP_SITES count as 0). false: no
 * memory for a new group (the sums are incomplete: the caller fails). */
bool pypper_group_sums_add(pypper_group_sums *g, const pypper_snapshot_columns *c, size_t n,
                           const pypper_owned_parts *owned, const bool *machinery, size_t n_types);

/* How many groups; the next one from *cursor (start at 0), NULL after the last (in
 * no order); the frame's sums of a site id. */
size_t pypper_group_sums_count(const pypper_group_sums *g);
const pypper_group_sum *pypper_group_sums_next(const pypper_group_sums *g, size_t *cursor);
const pypper_site_sum *pypper_group_sums_site(const pypper_group_sums *g, uint32_t site);

#endif
