/* Python/migrate_discards.c: the pages the heap discarded (MADV_DONTNEED) since a
 * round last recorded where they are. A discarded page's next fault places it anew
 * (by its arena's binding: a fast arena's on the fast node), so a page a round found,
 * or moved, on the slow node and then given back and refilled was reported "slow" by
 * placement_map() while it sat on node 0 (seen in the two-node guest, 1 run in 3).
 * The heap tells this file of every discard (Objects/region.h, in the heap's lock);
 * a bit per page slot keeps it until the round's owner forgets where the page was. */
#include "migrate_internal.h"

#include "../Objects/region.h"

static uint64_t *discarded;      /* a bit per page slot; mapped while the plane is on */
static size_t words;

/* In the heap's lock, from whichever thread discards. */
static void note_discard(void *addr, size_t len)
{
    if (!len)
        return;
    size_t first = pypper_heap_page_index(addr);
    size_t end = pypper_heap_page_index((const char *)addr + len - 1) + 1;
    for (size_t i = first; i < end && (i >> 6) < words;) {
        size_t lo = i & 63, n = 64 - lo < end - i ? 64 - lo : end - i;
        uint64_t bits = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << lo;
        __atomic_fetch_or(&discarded[i >> 6], bits, __ATOMIC_RELAXED);
        i += n;
    }
}

int pypper_mig_discards_start(size_t slots)
{
    words = (slots + 63) / 64;
    discarded = map_array(words * sizeof(uint64_t));
    if (!discarded) {
        words = 0;
        return -1;
    }
    region_set_discard_observer(REGION_DISCARD_MIGRATION, note_discard);
    return 0;
}

void pypper_mig_discards_stop(void)
{
    if (!discarded)
        return;
    bool locked = pypper_heap_lock();        /* no discard is being noted after this */
    region_set_discard_observer(REGION_DISCARD_MIGRATION, NULL);
    pypper_heap_unlock(locked);
    unmap_array(discarded, words * sizeof(uint64_t));
    discarded = NULL;
    words = 0;
}

/* Whether page slot `index` was discarded since the last call for it (and clears it). */
static bool take(size_t index)
{
    if ((index >> 6) >= words)
        return false;
    uint64_t bit = (uint64_t)1 << (index & 63);
    if (!(__atomic_load_n(&discarded[index >> 6], __ATOMIC_RELAXED) & bit))
        return false;
    return __atomic_fetch_and(&discarded[index >> 6], ~bit, __ATOMIC_RELAXED) & bit;
}

size_t pypper_mig_forget_discarded(bool unplace)
{
    size_t n = 0;
    for (size_t i = 0; i < M.npages; i++) {
        size_t index = M.pages[i].page;
        if (!take(index))
            continue;
        set_where(index, PL_UNKNOWN);
        if (unplace)
            M.pages[i].unplaced = 1;
        n++;
    }
    return n;
}
