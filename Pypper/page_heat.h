/* Pypper/page_heat.h: heat of the heap's pages from evidence about objects that have
 * no entry in the object table (numbers the live trace leaves out, objects it has not
 * reached yet): the sampler's evidence about such an object is added to the page that
 * holds its header, decaying like an object's heat (HALF_LIFE_MS). What an object
 * without an entry is worth is then its page's temperature: the page's heat on the
 * model's scale against the pages' own reference, the 95th percentile of the heats of
 * pages with recent evidence or, when higher, the heat above which the hottest of
 * them hold 80% of their heat (a census, as objects have theirs; page_heat.c).
 * A page keeps two heats. All its evidence says how much the page is used: the
 * migration planner places pages by it, and the capture's page views show it. Only
 * evidence about objects that were there before it (`settled`: no block of their
 * pool was handed out since a hand-over last looked, Objects/heap.h) says that the
 * objects on the page are used: loop temporaries that come and go in the free blocks
 * of pools holding long-lived numbers (an LRU cache's values, a log's timestamps)
 * make the pages hot and say nothing about the numbers beside them, which take their
 * temperature from the settled heat alone. Each heat has its own reference. Pure C;
 * not thread-safe: callers hold the GIL. */
#ifndef PYPPER_PAGE_HEAT_H
#define PYPPER_PAGE_HEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for `slots` pages (the heap reservation's page indexes), mapped without
 * reserving memory: a page costs memory once it has evidence. 0, or -1 when the
 * mapping was refused (page heat then stays 0: objects without an entry have none). */
int pypper_page_heat_start(size_t slots);
/* Forget every page's heat and unmap. Idempotent. */
void pypper_page_heat_stop(void);
bool pypper_page_heat_on(void);
/* Add `heat` (weighted evidence) to page `index` at model time now_ms; to its settled
 * heat too when the evidence is about an object older than the last hand-over's look
 * (above). */
void pypper_page_heat_add(size_t index, double heat, uint32_t now_ms, bool settled);
/* Page `index`'s heat (all its evidence) decayed to now_ms; 0 for a page without
 * evidence. */
double pypper_page_heat_get(size_t index, uint32_t now_ms);
/* Its settled heat, the same way. */
double pypper_page_heat_settled(size_t index, uint32_t now_ms);
/* The temperature of an object without an entry, its header at addr (page `index`),
 * its block `size` bytes: its page's settled temperature, with, under write
 * tracking, its share of the page's writes added (attribution.h).
 * Against the pages' reference, not the objects': a page's heat is what all the
 * objects on it were worth, and the objects' reference is the heat of one object of
 * the hottest 5%. Shared out by the bytes (an object's heat: page heat x size / 4096)
 * and held against the objects' reference, a float of a column that a loop reads item
 * by item (`p[i]`, each read once a pass) came out at 1/15,000 of its list's heat,
 * cold, and so did the column's item array: a newcomer's column store showed its 3 hot
 * columns (1.4 MB) as 192 bytes hot. Against the pages, their pages are as hot as
 * they are used: the pages' census counts the pages of such data, not one list. */
double pypper_page_heat_temperature(const void *addr, size_t index, size_t size, uint32_t now_ms);
/* The same from all the page's evidence: how hot the page is, for views of pages. */
double pypper_page_heat_page_temperature(const void *addr, size_t index, size_t size, uint32_t now_ms);
/* The pages' census: the heats of up to PYPPER_PAGE_CENSUS_SAMPLE pages spread evenly
 * over the ranges of page indexes [first[i], first[i] + count[i]) (from an offset that
 * moves with `turn`) set the pages' reference (above; and the settled heats the
 * settled reference); it rises at once and falls no faster than
 * heats decay. Until a census has counted 16 pages with recent evidence, the hottest
 * page heat seen is the reference. */
#define PYPPER_PAGE_CENSUS_SAMPLE 16384
void pypper_page_heat_census(const size_t *first, const size_t *count, int ranges, uint64_t turn,
                             uint32_t now_ms);
/* The pages' reference heat decayed to now_ms, and the settled one. */
double pypper_page_heat_reference(uint32_t now_ms);
double pypper_page_heat_settled_reference(uint32_t now_ms);
/* Pages that have had evidence in this session (each costs 8 bytes of the map). */
size_t pypper_page_heat_pages(void);

#endif
