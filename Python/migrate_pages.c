/* Python/migrate_pages.c: this round's page list (the heap's pages in use, with
 * where each is and whether its heat is known) and the spreading of heat over it;
 * whether a block can be read without faulting its page back from far memory. */
#include "migrate_internal.h"

#include "../Pypper/page_heat.h"

#include <string.h>

/* The arrays of a round that grow with the heap, all of capacity cap: 28 bytes a
 * page (the backend's arrays are MOVE_CHUNK long: a call's worth). */
void pypper_mig_unmap_round(pypper_plan_page *pages, uint32_t *promote, uint32_t *demote,
                            uint32_t *scratch, size_t cap)
{
    unmap_array(pages, cap * sizeof(pypper_plan_page));
    unmap_array(promote, cap * sizeof(uint32_t));
    unmap_array(demote, cap * sizeof(uint32_t));
    unmap_array(scratch, cap * sizeof(uint32_t));
}

static int grow_pages(size_t need)
{
    if (need <= M.cap)
        return 0;
    size_t cap = M.cap ? M.cap : 4096;
    while (cap < need)
        cap *= 2;
    pypper_plan_page *pages = map_array(cap * sizeof(pypper_plan_page));
    uint32_t *promote = map_array(cap * sizeof(uint32_t));
    uint32_t *demote = map_array(cap * sizeof(uint32_t));
    uint32_t *scratch = map_array(cap * sizeof(uint32_t));
    if (!pages || !promote || !demote || !scratch) {
        pypper_mig_unmap_round(pages, promote, demote, scratch, cap);
        return -1;
    }
    if (M.npages)
        memcpy(pages, M.pages, M.npages * sizeof(pypper_plan_page));
    pypper_mig_unmap_round(M.pages, M.promote, M.demote, M.scratch, M.cap);
    M.pages = pages;
    M.promote = promote;
    M.demote = demote;
    M.scratch = scratch;
    M.cap = cap;
    return 0;
}

static void count_page(size_t index, unsigned tier, void *ctx)
{
    (void)index;
    (void)tier;
    (*(size_t *)ctx)++;
}

static void add_page(size_t index, unsigned tier, void *ctx)
{
    uint32_t now_ms = *(const uint32_t *)ctx;
    if (M.npages >= M.cap || index >= M.slots)
        return;
    uint8_t pl = (uint8_t)where_of(index);
    bool known = pypper_heap_page_tracked(index);
    if (!known && (M.placed[index] & PL_AGE)) {
        known = true;
        M.placed[index] = (uint8_t)(M.placed[index] - PL_AGE_ONE);
    }
    M.pos[index] = (uint32_t)M.npages;
    /* Heat 0 (known, no evidence yet) where a traced object lives; the walk adds the
     * heat of objects with evidence. The heat of objects without an entry (page_heat.h)
     * starts the count, and makes a page of untraced blocks known; other pages of
     * untraced blocks stay unknown (nothing is demoted without evidence). */
    double untraced = pypper_page_heat_get(index, now_ms);
    M.pages[M.npages++] = (pypper_plan_page){
        (uint32_t)index,
        untraced > 0 ? (float)untraced : known ? 0.0f : PYPPER_HEAT_UNKNOWN,
        pl == PL_SLOW ? PYPPER_TIER_SLOW : pl == PL_FAST ? PYPPER_TIER_FAST : (uint8_t)tier,
        (uint8_t)tier, 0, M.moved[index]};
}

int pypper_mig_list_pages(uint32_t now_ms)
{
    size_t need = 0;
    pypper_heap_for_each_used_page(count_page, &need);
    M.npages = 0;
    if (grow_pages(need + 64) < 0)
        return -1;
    pypper_heap_for_each_used_page(add_page, &now_ms);
    return 0;
}

pypper_plan_page *pypper_mig_page_of(const void *addr)
{
    size_t index = pypper_heap_page_index(addr);
    if (index >= M.slots)
        return NULL;
    uint32_t i = M.pos[index];
    if (i >= M.npages || M.pages[i].page != index)
        return NULL;
    return &M.pages[i];
}

/* Spread heat h over the pages of [start, start+size), by the share of each; the
 * pages become known (heat 0 rather than unknown) even when h is 0. */
void pypper_mig_spread(const void *start, size_t size, double h)
{
    uintptr_t a = (uintptr_t)start, end = a + (size ? size : 1);
    while (a < end) {
        uintptr_t pg = a & ~(uintptr_t)(PAGE - 1);
        uintptr_t stop = pg + PAGE < end ? pg + PAGE : end;
        pypper_plan_page *p = pypper_mig_page_of((void *)pg);
        if (p) {
            M.placed[pypper_heap_page_index((void *)pg)] |= PL_AGE;
            double add = size > PAGE ? h * (double)(stop - a) / (double)size : h;
            p->heat = (float)((p->heat < 0 ? 0.0 : p->heat) + add);
        }
        a = stop;
    }
}

bool pypper_mig_readable_without_fault(const void *block)
{
    if (!(M.backend.ops->caps & PYPPER_BACKEND_FAR_MEMORY))
        return true;
    size_t index = pypper_heap_page_index(block);
    return index < M.slots && where_of(index) != PL_SLOW;
}
