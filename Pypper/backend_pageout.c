/* Pypper/backend_pageout.c: the pageout backend, for far memory behind swap (zram,
 * zswap, a swap device): the fast tier is memory, the slow tier is swap. Demotion is
 * madvise(MADV_PAGEOUT) (reclaim now; MADV_COLD on kernels before 5.4: reclaim
 * first under pressure), promotion madvise(MADV_WILLNEED) (swap-in read-ahead into the
 * swap cache: asynchronous and best effort, so the migration thread does not wait for
 * each page, and under a memory limit the kernel may drop it rather than reclaim for
 * it). Runs of adjacent pages go in one call.
 * Where a page is comes from mincore(2): resident is fast, anything else slow (a
 * page in the swap cache counts as resident). */
#include "backend.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define PAGE 4096u

static int demote_advice = MADV_PAGEOUT;
static int promote_advice = MADV_WILLNEED;

static int pageout_init(const pypper_topology *topo)
{
    (void)topo;
    demote_advice = MADV_PAGEOUT;
    promote_advice = MADV_WILLNEED;
    return 0;
}

/* madvise a run; on EINVAL step down to the older advice once. */
static int advise(char *start, size_t len, unsigned tier)
{
    int *advice = tier == PYPPER_TIER_SLOW ? &demote_advice : &promote_advice;
    for (;;) {
        if (madvise(start, len, *advice) == 0)
            return 0;
        int e = errno;
        if (e == EINVAL && *advice == MADV_PAGEOUT) {
            *advice = MADV_COLD;
            continue;
        }
        return -e;
    }
}

/* After a demotion, a page counts as moved only when mincore agrees (no swap, a
 * locked or shared page, and MADV_COLD all leave pages in memory): -EAGAIN else.
 * Read-ahead is asynchronous: a promotion counts when the advice is taken, and the
 * next round's look says where the page is. */
static size_t pageout_move(void *const *pages, size_t n, unsigned tier, int *status)
{
    size_t done = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && j - i < 4096 && (char *)pages[j] == (char *)pages[j - 1] + PAGE)
            j++;
        int rc = advise(pages[i], (j - i) * PAGE, tier);
        unsigned char vec[4096];
        bool seen = rc == 0 && tier == PYPPER_TIER_SLOW
                    && mincore(pages[i], (j - i) * PAGE, vec) == 0;
        for (size_t k = i; k < j; k++) {
            int want = tier == PYPPER_TIER_FAST;
            status[k] = rc ? rc : !seen ? 0 : (vec[k - i] & 1) == want ? 0 : -EAGAIN;
            done += status[k] == 0;
        }
        i = j;
    }
    return done;
}

static void pageout_locate(void *const *pages, size_t n, int *where)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && j - i < 4096 && (char *)pages[j] == (char *)pages[j - 1] + PAGE)
            j++;
        unsigned char vec[4096];
        if (mincore(pages[i], (j - i) * PAGE, vec) < 0) {
            int e = errno;
            for (size_t k = i; k < j; k++)
                where[k] = -e;
        } else {
            for (size_t k = i; k < j; k++)
                where[k] = (vec[k - i] & 1) ? PYPPER_TIER_FAST : PYPPER_TIER_SLOW;
        }
        i = j;
    }
}

const pypper_backend_ops pypper_backend_pageout = {
    "pageout",
    PYPPER_BACKEND_REPORTS_PLACEMENT | PYPPER_BACKEND_CHEAP_LOCATE | PYPPER_BACKEND_FAR_MEMORY,
    pageout_init, NULL, pageout_move, pageout_locate};
