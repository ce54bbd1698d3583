/* Pypper/page_heat.h: heat of the heap's pages from evidence about objects that have
 * no entry in the object table (numbers the live trace leaves out, objects it has not
 * reached yet): the sampler's evidence about such an object is added to the page that
 * holds its header, decaying like an object's heat (HALF_LIFE_MS). What an object
 * without an entry is worth is then its page's heat, shared by the bytes of the page
 * (Modules/temperature_api.c). Pure C; not thread-safe: callers hold the GIL. */
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
/* Add `heat` (weighted evidence) to page `index` at model time now_ms. */
void pypper_page_heat_add(size_t index, double heat, uint32_t now_ms);
/* Page `index`'s heat decayed to now_ms; 0 for a page without evidence. */
double pypper_page_heat_get(size_t index, uint32_t now_ms);
/* The temperature of an object without an entry, its header at addr (page `index`),
 * its block `size` bytes: its page's heat times the object's share of the page
 * (size / 4096, at most 1), on the model's scale, with, under write tracking, its
 * share of the page's writes added (attribution.h). */
double pypper_page_heat_temperature(const void *addr, size_t index, size_t size, uint32_t now_ms);
/* Pages that have had evidence in this session (each costs 8 bytes of the map). */
size_t pypper_page_heat_pages(void);

#endif
