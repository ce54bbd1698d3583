/* tests/c/test_attribution.c: the rules that join page write histories to objects
 * (Pypper/attribution.h): polls only where a page was written in the last interval or
 * that is not known; an object's page share is there when its page was written in any
 * of the last 8 intervals (however many), grows with its size up to a page, is nothing
 * without a history, keeps temperatures within [0, 1) and every object with evidence
 * of its own in its rank. */
#include "check.h"
#include "../../Pypper/attribution.h"

#include <math.h>

static int near(double a, double b) { return fabs(a - b) <= 1e-12 + 1e-9 * fabs(b); }

int main(void)
{
    /* Polls. */
    CHECK(pypper_attr_poll_wanted(1));
    CHECK(!pypper_attr_poll_wanted(0));
    CHECK(pypper_attr_poll_wanted(-1));             /* not known: polled as without tracking */

    /* No history, or no write in the last 8 intervals: the object's own temperature. */
    CHECK(pypper_attr_temperature(0.0, -1, 64) == 0.0);
    CHECK(pypper_attr_temperature(0.3, -1, 64) == 0.3);
    CHECK(pypper_attr_temperature(0.0, 0, 64) == 0.0);
    CHECK(pypper_attr_temperature(0.0, 0x100, 4096) == 0.0);   /* nine intervals ago */
    CHECK(pypper_attr_temperature(-1.0, 0, 64) == 0.0);

    /* Written: the share of the page, however many intervals. */
    CHECK(near(pypper_attr_temperature(0.0, 0xff, 4096), PYPPER_ATTR_PAGE_SHARE));
    CHECK(near(pypper_attr_temperature(0.0, 0x01, 1 << 20), PYPPER_ATTR_PAGE_SHARE));
    CHECK(near(pypper_attr_temperature(0.0, 0x80, 64), PYPPER_ATTR_PAGE_SHARE * 64 / 4096));
    CHECK(pypper_attr_temperature(0.0, 0x03, 64) == pypper_attr_temperature(0.0, 0xff, 64));
    CHECK(pypper_attr_temperature(0.0, 0x03, 64) < pypper_attr_temperature(0.0, 0x03, 128));

    /* With evidence of its own: the rest of the way to 1, shared the same way. */
    CHECK(near(pypper_attr_temperature(0.5, 0xff, 4096), 0.5 + 0.5 * PYPPER_ATTR_PAGE_SHARE));
    CHECK(pypper_attr_temperature(0.999999, 0xff, 1 << 20) < 1.0);
    /* Ranks: any own temperature above the largest share stays above every share, and
     * own temperatures keep their order on pages written alike. */
    CHECK(pypper_attr_temperature(0.011, 0, 64) > pypper_attr_temperature(0.0, 0xff, 1 << 20));
    CHECK(pypper_attr_temperature(0.2, 0x01, 64) < pypper_attr_temperature(0.21, 0x01, 64));
    return check_report("attribution");
}
