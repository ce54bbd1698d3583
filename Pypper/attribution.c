/* Pypper/attribution.c: the page share of an object (attribution.h): written
 * intervals of its page's history over 8, times the weight of a written interval and
 * its block's share of the page. */
#include "attribution.h"

#include "write_tracking.h"

#define PAGE_BYTES 4096.0

double pypper_attr_page_share(int history, size_t size)
{
    if (history < 0)
        return 0.0;
    double share = (double)size >= PAGE_BYTES ? 1.0 : (double)size / PAGE_BYTES;
    return (double)wt_heat(history & ((1 << WT_HISTORY_BITS) - 1)) / WT_HISTORY_BITS
           * PYPPER_ATTR_PAGE_WEIGHT * share;
}

double pypper_attr_object_heat(double own, int history, size_t size)
{
    return (own > 0.0 ? own : 0.0) + pypper_attr_page_share(history, size);
}
