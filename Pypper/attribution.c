/* Pypper/attribution.c: an object's temperature with its page share (attribution.h):
 * its own temperature, plus, when its page was written in any of the last 8
 * intervals, the rest of the way to 1 times PYPPER_ATTR_PAGE_SHARE and its block's
 * share of the page. */
#include "attribution.h"

#include "write_tracking.h"

#define PAGE_BYTES 4096.0

double pypper_attr_temperature(double own, int history, size_t size)
{
    if (!(own > 0.0))
        own = 0.0;
    if (history < 0 || !(history & ((1 << WT_HISTORY_BITS) - 1)))
        return own;
    double share = (double)size >= PAGE_BYTES ? 1.0 : (double)size / PAGE_BYTES;
    return own + (1.0 - own) * PYPPER_ATTR_PAGE_SHARE * share;
}
