/* Pypper/page_heat.c: per-page heat (page_heat.h), stored as (heat, settled heat,
 * stamp) per page slot in one anonymous NORESERVE mapping over the heap reservation's
 * page indexes, decayed lazily with the temperature model's half-life. */
#include "page_heat.h"

#include "attribution.h"
#include "own_memory.h"
#include "temperature.h"
#include "write_tracking_heap.h"

#include <sys/mman.h>
#include "code_size.h"

typedef struct {
    float heat;         /* all the page's evidence, at stamp */
    float settled;      /* what of it was about objects older than a hand-over's look */
    uint32_t stamp;
} page_slot;
_Static_assert(sizeof(page_slot) == 12, "a page's slot is 12 bytes");

/* The share of all the pages' heat that the pages at or above their reference hold
 * at least (pypper_model_census_reference): a page's heat is a sum over the objects on
 * it, and a crowd of pages of rarely used objects must not set the scale (a BFS's
 * 5,000 pages of ids its searches seldom reach against the 100 of its community's). */
#define PAGE_HEAT_SHARE 0.8

static page_slot *slot;
static size_t nslots, touched;
static pypper_model_reference ref, settled_ref;     /* the pages' (page_heat.h) */

int pypper_page_heat_start(size_t slots)
{
    pypper_page_heat_stop();
    if (!slots)
        return -1;
    void *p = pypper_own_mmap(PYPPER_OWN_PAGE_HEAT, slots * sizeof(page_slot), MAP_NORESERVE);
    if (!p)
        return -1;
    slot = p;
    nslots = slots;
    return 0;
}

void pypper_page_heat_stop(void)
{
    if (slot)
        pypper_own_munmap(slot, nslots * sizeof(page_slot));
    slot = NULL;
    nslots = touched = 0;
    pypper_model_reference_reset(&ref);
    pypper_model_reference_reset(&settled_ref);
}

bool pypper_page_heat_on(void) { return slot != NULL; }

void pypper_page_heat_add(size_t index, double heat, uint32_t now_ms, bool settled)
{
    if (!slot || index >= nslots || !(heat > 0.0))
        return;
    page_slot *s = &slot[index];
    if (s->heat == 0.0f && s->stamp == 0)
        touched++;
    double now_heat = pypper_model_decay_idle(s->heat, s->stamp, now_ms) + heat;
    double now_settled = pypper_model_decay_idle(s->settled, s->stamp, now_ms) + (settled ? heat : 0.0);
    s->heat = (float)now_heat;
    s->settled = (float)now_settled;
    s->stamp = now_ms ? now_ms : 1;     /* stamp 0 marks a page never touched */
    pypper_model_reference_saw(&ref, now_heat, now_ms);
    if (settled)
        pypper_model_reference_saw(&settled_ref, now_settled, now_ms);
}

double pypper_page_heat_reference(uint32_t now_ms)
{
    return pypper_model_reference_at(&ref, now_ms);
}

double pypper_page_heat_settled_reference(uint32_t now_ms)
{
    return pypper_model_reference_at(&settled_ref, now_ms);
}

PYPPER_SMALL_CODE void pypper_page_heat_census(const size_t *first, const size_t *count, int ranges, uint64_t turn,
                             uint32_t now_ms)
{
    if (!slot)
        return;
    size_t total = 0;
    for (int r = 0; r < ranges; r++)
        total += count[r];
    size_t stride = total > PYPPER_PAGE_CENSUS_SAMPLE
                        ? (total + PYPPER_PAGE_CENSUS_SAMPLE - 1) / PYPPER_PAGE_CENSUS_SAMPLE : 1;
    pypper_model_census c, settled_c;
    pypper_model_census_begin(&c);
    pypper_model_census_begin(&settled_c);
    size_t skip = (size_t)(turn % stride);       /* of the pages before the next sample */
    for (int r = 0; r < ranges; r++) {
        size_t i = skip;
        for (; i < count[r]; i += stride) {
            size_t index = first[r] + i;
            if (index >= nslots)
                break;
            const page_slot *s = &slot[index];
            if (s->stamp && s->heat > 0.0f)
                pypper_model_census_add_heat(&c, pypper_model_decay_idle(s->heat, s->stamp, now_ms),
                                             s->stamp, now_ms);
            if (s->stamp && s->settled > 0.0f)
                pypper_model_census_add_heat(&settled_c, pypper_model_decay_idle(s->settled, s->stamp, now_ms),
                                             s->stamp, now_ms);
        }
        skip = i >= count[r] ? i - count[r] : 0;
    }
    pypper_model_reference_take_heat(&ref, pypper_model_census_reference(&c, PAGE_HEAT_SHARE), now_ms);
    pypper_model_reference_take_heat(&settled_ref, pypper_model_census_reference(&settled_c, PAGE_HEAT_SHARE),
                                     now_ms);
}

/* Page `index`'s slot, or NULL (no page heat, or out of range). */
static const page_slot *slot_at(size_t index) { return slot && index < nslots ? &slot[index] : NULL; }

double pypper_page_heat_get(size_t index, uint32_t now_ms)
{
    const page_slot *s = slot_at(index);
    return s ? pypper_model_decay_idle(s->heat, s->stamp, now_ms) : 0.0;
}

double pypper_page_heat_settled(size_t index, uint32_t now_ms)
{
    const page_slot *s = slot_at(index);
    return s ? pypper_model_decay_idle(s->settled, s->stamp, now_ms) : 0.0;
}

static double temperature_of(double heat, double reference, const void *addr, size_t size)
{
    double t = heat > 0.0 ? pypper_model_temperature_against(heat, reference) : 0.0;
    return pypper_attr_temperature(t, pypper_wt_page_history(addr), size);
}

double pypper_page_heat_temperature(const void *addr, size_t index, size_t size, uint32_t now_ms)
{
    return temperature_of(pypper_page_heat_settled(index, now_ms), pypper_page_heat_settled_reference(now_ms),
                          addr, size);
}

double pypper_page_heat_page_temperature(const void *addr, size_t index, size_t size, uint32_t now_ms)
{
    return temperature_of(pypper_page_heat_get(index, now_ms), pypper_page_heat_reference(now_ms), addr, size);
}

size_t pypper_page_heat_pages(void) { return touched; }
