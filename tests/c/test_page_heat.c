/* tests/c/test_page_heat.c: page heat: evidence adds up on its page and nowhere else,
 * halves every HALF_LIFE_MS (faster after PYPPER_IDLE_AFTER half-lives idle, objects'
 * heat too), pages out of range and before start are ignored; an
 * object's share of its page's heat grows with its size; stop forgets everything. */
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

    pypper_page_heat_add(3, 5.0, 10);               /* before start: nothing */
    CHECK(!pypper_page_heat_on() && pypper_page_heat_get(3, 10) == 0.0);
    CHECK(pypper_page_heat_start(0) < 0);           /* no heap */

    CHECK(pypper_page_heat_start(1000) == 0 && pypper_page_heat_on());
    CHECK(pypper_page_heat_get(7, 0) == 0.0 && pypper_page_heat_pages() == 0);
    pypper_page_heat_add(7, 4.0, 100);
    pypper_page_heat_add(7, 4.0, 100);
    pypper_page_heat_add(8, 0.0, 100);              /* no heat: the page stays untouched */
    pypper_page_heat_add(1000, 9.0, 100);           /* out of range */
    CHECK(near(pypper_page_heat_get(7, 100), 8.0));
    CHECK(pypper_page_heat_get(6, 100) == 0.0 && pypper_page_heat_get(8, 100) == 0.0);
    CHECK(pypper_page_heat_get(1000, 100) == 0.0);
    CHECK(pypper_page_heat_pages() == 1);
    CHECK(near(pypper_page_heat_get(7, 1100), 4.0));     /* one half-life */
    CHECK(near(pypper_page_heat_get(7, 3100), 1.0));
    pypper_page_heat_add(7, 1.0, 3100);
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
    pypper_page_heat_add(0, 1.0, 0);                /* model time 0 counts too */
    CHECK(near(pypper_page_heat_get(0, 0), 1.0) && pypper_page_heat_pages() == 2);

    /* An object's temperature: its share of the page, on the model's scale (the
     * reference heat is the hottest heat the model has seen: none yet, so feed one). */
    pypper_obj_state s = {0};
    uint16_t frames[PYPPER_EVIDENCE_KINDS] = {[PYPPER_EVIDENCE_FRAME] = 2};
    pypper_model_add_heat(&s, pypper_model_weigh(frames), 3100);
    char page[8192];
    double small = pypper_page_heat_temperature(page, 7, 64, 3100);
    double big = pypper_page_heat_temperature(page, 7, 4096, 3100);
    double huge = pypper_page_heat_temperature(page, 7, 1 << 20, 3100);
    CHECK(small > 0.0 && small < big && near(big, huge));
    CHECK(near(big, pypper_model_temperature(2.0, 3100)));
    CHECK(pypper_page_heat_temperature(page, 6, 4096, 3100) == 0.0);   /* no evidence */

    pypper_page_heat_stop();
    pypper_page_heat_stop();                        /* idempotent */
    CHECK(!pypper_page_heat_on() && pypper_page_heat_get(7, 3100) == 0.0);
    CHECK(pypper_page_heat_pages() == 0);
    return check_report("page_heat");
}
