/* Pypper/attribution.h: which objects on a written page were used. Write tracking
 * (write_tracking.h, a source) says which heap pages the program wrote in each of the
 * last 8 scanned intervals; every use of a mortal object writes its header
 * (Py_INCREF), so a page not written in an interval held no object that was used in
 * it. These rules turn a page's write history into evidence about its objects:
 *  - poll selection: only objects on a page written in the last interval are worth a
 *    reference-count poll (Python/active_trace.c); the others are certainly unused
 *    since that scan and are not read at all;
 *  - page share: an object on a page written in any of the last 8 intervals takes, on
 *    top of the temperature of its own evidence t, (1 - t) x PYPPER_ATTR_PAGE_SHARE x
 *    its share of the page (its block's size over 4 KiB, at most 1); an object on a
 *    page not written in them takes nothing. So objects no sampler saw rank above
 *    those on pages no one wrote, bigger blocks of a written page above smaller ones,
 *    and every object with evidence of its own keeps its rank among the others.
 * The share does not grow with how many of the 8 intervals saw a write: measured on
 * the accuracy workloads (Doc/temperatures.md), where every page of a registry is
 * written in every interval, that count told pages apart only by when they were first
 * armed, and the noise it added among objects without evidence took Spearman from
 * 0.25 to 0.10 (zipf_kv) without moving capture or recall. Nor is it heat in the model:
 * heat is read against a reference that decays while a program reads temperatures one
 * by one, which ordered equal objects by the time they were read.
 * A history is write_tracking.h's: bit 0 the last interval, -1 when the page is not
 * tracked (no write tracking in this session, or outside the tracked heap). Pure C. */
#ifndef PYPPER_ATTRIBUTION_H
#define PYPPER_ATTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>

/* Whether an object should have its reference count polled, given whether its page
 * was written in the last interval (wt_written_last: 1, 0, -1 not known; a parked
 * page counts as written): unless the page is known not to have been written. */
static inline bool pypper_attr_poll_wanted(int written_last) { return written_last != 0; }

/* The temperature a whole page written in the last 8 intervals adds to an object
 * without evidence of its own (a 64-byte object: 1/64 of it). Under what one held
 * sample gives an object (about 0.04 at a reference heat of 2). */
#define PYPPER_ATTR_PAGE_SHARE 0.01

/* An object's temperature: `own`, from its own evidence (0 to 1), with its page share
 * added (attribution of the page's writes; see above). `own` without a history. */
double pypper_attr_temperature(double own, int history, size_t size);

#endif
