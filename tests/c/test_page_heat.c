/* tests/c/test_page_heat.c: page heat: evidence adds up on its page and nowhere else,
 * halves every HALF_LIFE_MS (faster after PYPPER_IDLE_AFTER half-lives idle, objects'
 * heat too), pages out of range and before start are ignored; an object's
 * temperature is its page's against the pages' reference (the hottest page, then the
 * census's 95th percentile, or higher where a few pages hold most of the heat, held
 * as it decays); evidence that is not settled heats
 * the page (its page temperature) and not its objects; stop forgets everything. */
#include "check.h"
#include "../../Pypper/options.h"
#include "../../Pypper/page_heat.h"
#include "../../Pypper/temperature.h"

#include <math.h>

static int near(double a, double b) { return fabs(a - b) <= 1e-3 * (fabs(b) + 1e-9); }

int main(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    cfg.half_life_ms = 1000;
    pypper_model_reset(&cfg);

    pypper_page_heat_add(3, 5.0, 10, true);               /* before start: nothing */
    CHECK(!pypper_page_heat_on() && pypper_page_heat_get(3, 10) == 0.0);
    CHECK(pypper_page_heat_start(0) < 0);           /* no heap */

    CHECK(pypper_page_heat_start(1000) == 0 && pypper_page_heat_on());
    CHECK(pypper_page_heat_get(7, 0) == 0.0 && pypper_page_heat_pages() == 0);
    pypper_page_heat_add(7, 4.0, 100, true);
    pypper_page_heat_add(7, 4.0, 100, true);
    pypper_page_heat_add(8, 0.0, 100, true);              /* no heat: the page stays untouched */
    pypper_page_heat_add(1000, 9.0, 100, true);           /* out of range */
    CHECK(near(pypper_page_heat_get(7, 100), 8.0));
    CHECK(pypper_page_heat_get(6, 100) == 0.0 && pypper_page_heat_get(8, 100) == 0.0);
    CHECK(pypper_page_heat_get(1000, 100) == 0.0);
    CHECK(pypper_page_heat_pages() == 1);
    CHECK(near(pypper_page_heat_get(7, 1100), 4.0));     /* one half-life */
    CHECK(near(pypper_page_heat_get(7, 3100), 1.0));
    pypper_page_heat_add(7, 1.0, 3100, true);
    CHECK(near(pypper_page_heat_get(7, 3100), 2.0));
    /* Idle for more than PYPPER_IDLE_AFTER half-lives: PYPPER_IDLE_RATE times as fast
     * beyond (4 half-lives idle: 3 + 1 x 8 = 11 halvings). */
    CHECK(near(pypper_page_heat_get(7, 6100), 2.0 / 8));
    CHECK(near(pypper_page_heat_get(7, 7100), 2.0 / 2048));
    pypper_obj_state idle = {0};
    pypper_model_add_heat(&idle, 1000.0, 100);
    CHECK(near(pypper_model_heat(&idle, 2100), 250.0));
    CHECK(near(pypper_model_heat(&idle, 5100), 1000.0 / exp2(3 + 2 * 8)));
    CHECK(near(pypper_model_decay(1000.0, 100, 5100), 1000.0 / 32));  /* the reference's */
    pypper_page_heat_add(0, 1.0, 0, true);                /* model time 0 counts too */
    CHECK(near(pypper_page_heat_get(0, 0), 1.0) && pypper_page_heat_pages() == 2);

    /* An object's temperature: its page's, whatever its size, against the pages'
     * reference: before any census, the hottest page heat seen (page 7's 8.0 at 100,
     * decayed to 1.0 at 3100, then its 2.0 there). */
    char page[8192];
    double small = pypper_page_heat_temperature(page, 7, 64, 3100);
    double big = pypper_page_heat_temperature(page, 7, 4096, 3100);
    double huge = pypper_page_heat_temperature(page, 7, 1 << 20, 3100);
    CHECK(small > 0.0 && near(small, big) && near(big, huge));
    CHECK(near(pypper_page_heat_reference(3100), 2.0));
    CHECK(near(big, pypper_model_temperature_against(2.0, 2.0)));
    CHECK(pypper_page_heat_temperature(page, 6, 4096, 3100) == 0.0);   /* no evidence */

    /* The census: pages 100..199 with heats 1..100 (the 95th percentile: about 95,
     * rounded up to its quarter octave), the others none. A page as hot as most of
     * them is hot; a reference held against a later census that finds less, as it
     * decays. */
    pypper_page_heat_stop();
    CHECK(pypper_page_heat_start(1000) == 0);
    for (int i = 0; i < 100; i++)
        pypper_page_heat_add((size_t)(100 + i), (double)(i + 1), 5000, true);
    CHECK(near(pypper_page_heat_reference(5000), 100.0));     /* the hottest, so far */
    size_t first[2] = {0, 150}, count[2] = {150, 850};
    pypper_page_heat_census(first, count, 2, 0, 5000);
    double r = pypper_page_heat_reference(5000);
    CHECK(r >= 95.0 && r <= 95.0 * 1.19);
    CHECK(pypper_page_heat_temperature(page, 190, 32, 5000) >= 0.85);   /* heat 91 */
    CHECK(pypper_page_heat_temperature(page, 100, 32, 5000) < 0.2);     /* heat 1 */
    pypper_page_heat_add(300, 1.0, 6000, true);
    size_t one_first[1] = {300}, one_count[1] = {1};
    pypper_page_heat_census(one_first, one_count, 1, 0, 6000);          /* too few: kept */
    CHECK(near(pypper_page_heat_reference(6000), r / 2));
    for (int i = 0; i < 100; i++)
        pypper_page_heat_add((size_t)(400 + i), 1.0, 6000, true);
    size_t low_first[1] = {400}, low_count[1] = {100};
    pypper_page_heat_census(low_first, low_count, 1, 0, 6000);          /* less: held */
    CHECK(near(pypper_page_heat_reference(6000), r / 2));
    /* Sampled: 1,000 pages over a stride when more than PYPPER_PAGE_CENSUS_SAMPLE. */
    pypper_page_heat_stop();
    CHECK(pypper_page_heat_start(4 * PYPPER_PAGE_CENSUS_SAMPLE) == 0);
    for (size_t i = 0; i < 4 * PYPPER_PAGE_CENSUS_SAMPLE; i += 4)
        pypper_page_heat_add(i, 8.0, 100, true);
    size_t all_first[1] = {0}, all_count[1] = {4 * PYPPER_PAGE_CENSUS_SAMPLE};
    pypper_page_heat_census(all_first, all_count, 1, 1, 100);           /* every 4th + 1: none */
    CHECK(near(pypper_page_heat_reference(100), 8.0));                  /* the hottest seen */
    pypper_page_heat_census(all_first, all_count, 1, 4, 100);           /* the heated ones */
    CHECK(pypper_page_heat_reference(100) >= 8.0 && pypper_page_heat_reference(100) <= 8.0 * 1.19);


    /* Evidence that is not settled (about objects younger than the last hand-over's
     * look: loop temporaries in freed blocks) heats the page, not the objects on it;
     * each heat has its reference. */
    pypper_page_heat_stop();
    CHECK(pypper_page_heat_start(1000) == 0);
    pypper_page_heat_add(20, 6.0, 1000, false);
    pypper_page_heat_add(21, 6.0, 1000, true);
    pypper_page_heat_add(20, 2.0, 1000, true);
    pypper_page_heat_add(22, 5.0, 1000, false);
    CHECK(near(pypper_page_heat_get(20, 1000), 8.0) && near(pypper_page_heat_settled(20, 1000), 2.0));
    CHECK(near(pypper_page_heat_settled(21, 1000), 6.0) && pypper_page_heat_settled(22, 1000) == 0.0);
    CHECK(near(pypper_page_heat_settled(20, 2000), 1.0) && near(pypper_page_heat_get(20, 2000), 4.0));
    CHECK(near(pypper_page_heat_reference(1000), 8.0) && near(pypper_page_heat_settled_reference(1000), 6.0));
    CHECK(pypper_page_heat_temperature(page, 20, 32, 1000) < pypper_page_heat_temperature(page, 21, 32, 1000));
    CHECK(pypper_page_heat_page_temperature(page, 20, 32, 1000)
          > pypper_page_heat_page_temperature(page, 21, 32, 1000));
    CHECK(near(pypper_page_heat_temperature(page, 21, 32, 1000), pypper_model_temperature_against(6.0, 6.0)));
    CHECK(pypper_page_heat_temperature(page, 22, 32, 1000) == 0.0);
    CHECK(pypper_page_heat_page_temperature(page, 22, 32, 1000) > 0.0);
    for (int i = 0; i < 100; i++)                   /* a census: both references */
        pypper_page_heat_add((size_t)(100 + i), (double)(i + 1), 1000, i < 50);
    size_t c_first[1] = {0}, c_count[1] = {1000};
    pypper_page_heat_census(c_first, c_count, 1, 0, 1000);
    CHECK(pypper_page_heat_reference(1000) >= 95.0 && pypper_page_heat_reference(1000) <= 95.0 * 1.19);
    CHECK(pypper_page_heat_settled_reference(1000) >= 47.0 && pypper_page_heat_settled_reference(1000) <= 50.0 * 1.19);

    /* A graph's searches that stay in one community: 100 pages of its numbers, 1,000
     * times hotter each than the 5,000 pages of the other numbers (8% of the heat).
     * The crowd is the 95th percentile; the reference is the few pages' heat, and the
     * crowd is cold against it. */
    pypper_page_heat_stop();
    CHECK(pypper_page_heat_start(6000) == 0);
    for (int i = 0; i < 5000; i++)
        pypper_page_heat_add((size_t)i, 1.0, 1000, true);
    for (int i = 0; i < 100; i++)
        pypper_page_heat_add((size_t)(5000 + i), 1000.0, 1000, true);
    size_t g_first[1] = {0}, g_count[1] = {6000};
    pypper_page_heat_census(g_first, g_count, 1, 0, 1000);
    CHECK(pypper_page_heat_settled_reference(1000) >= 1000.0
          && pypper_page_heat_settled_reference(1000) <= 1000.0 * 1.19);
    CHECK(pypper_page_heat_temperature(page, 10, 32, 1000) < 0.2);
    CHECK(pypper_page_heat_temperature(page, 5010, 32, 1000) >= 0.85);
    /* Heat spread evenly over as many pages: the percentile stands, all are hot. */
    pypper_page_heat_stop();
    CHECK(pypper_page_heat_start(6000) == 0);
    for (int i = 0; i < 5100; i++)
        pypper_page_heat_add((size_t)i, 1.0 + (i % 10) / 10.0, 1000, true);
    pypper_page_heat_census(g_first, g_count, 1, 0, 1000);
    CHECK(pypper_page_heat_settled_reference(1000) >= 1.9 && pypper_page_heat_settled_reference(1000) <= 1.9 * 1.19);
    CHECK(pypper_page_heat_temperature(page, 10, 32, 1000) >= 0.8);
    /* Too few pages to say: the hottest seen stands. */
    CHECK(pypper_model_census_reference(&(pypper_model_census){.count = 3, .bucket = {[70] = 3}}, 0.8) == 0.0);

    pypper_page_heat_stop();
    pypper_page_heat_stop();                        /* idempotent */
    CHECK(!pypper_page_heat_on() && pypper_page_heat_get(7, 3100) == 0.0);
    CHECK(pypper_page_heat_pages() == 0);
    return check_report("page_heat");
}
