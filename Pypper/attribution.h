/* Pypper/attribution.h: which objects on a written page were used. Write tracking
 * (write_tracking.h, a source) says which heap pages the program wrote in each of the
 * last 8 scanned intervals; every use of a mortal object writes its header
 * (Py_INCREF), so a page not written in an interval held no object that was used in
 * it. These rules turn a page's write history into evidence about its objects:
 *  - poll selection: only objects on a page written in the last interval are worth a
 *    reference-count poll (Python/active_trace.c); the others are certainly unused
 *    since that scan and are not read at all;
 *  - page share: each interval in which a page was written counts as evidence of
 *    weight PYPPER_ATTR_PAGE_WEIGHT shared by the page's bytes; an object takes its
 *    share (its block's size over 4 KiB, at most 1) on top of its own evidence, so
 *    objects no sampler saw rank by their page's writes, an object on a page not
 *    written in the last 8 intervals takes nothing from it, and an object with
 *    evidence of its own keeps its rank above them (a page written in every interval
 *    gives a 64-byte object 0.02 / 64 of an access, under what one held sample is
 *    worth for 6 half-lives).
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

/* One interval in which a page was written, as evidence (the weight of a sample that
 * finds an object still held, HOLD_WEIGHT's default): a tie-breaker among objects
 * without evidence of their own, not a rival of it. */
#define PYPPER_ATTR_PAGE_WEIGHT 0.02

/* The heat that an object of `size` bytes takes from its page's write history:
 * written intervals out of the last 8, times PYPPER_ATTR_PAGE_WEIGHT, times its share
 * of the page. 0 without a history. */
double pypper_attr_page_share(int history, size_t size);

/* An object's heat: its own (decayed) evidence `own` plus its page share. */
double pypper_attr_object_heat(double own, int history, size_t size);

#endif
