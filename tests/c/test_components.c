/* tests/c/test_components.c: the session's component table (Pypper/components.c) with
 * fake components that write what is called to a log: start in order, a failed start
 * rolled back in reverse, stop in reverse, the fork hooks' orders, and only started
 * components called. */
#include "check.h"
#include "components.h"

#include <string.h>

static char trail[512];
static int fail_at = -1;          /* the fake whose start fails (-1: none) */

static void note(const char *what, int who)
{
    char item[16];
    snprintf(item, sizeof(item), "%s%d ", what, who);
    strncat(trail, item, sizeof(trail) - strlen(trail) - 1);
}

#define FAKE(i)                                                                      \
    static int start##i(const pypper_config *cfg)                                    \
    {                                                                                \
        (void)cfg;                                                                   \
        note(fail_at == i ? "fail" : "start", i);                                    \
        return fail_at == i ? -1 : 0;                                                \
    }                                                                                \
    static void stop##i(void) { note("stop", i); }                                   \
    static void before##i(void) { note("before", i); }                               \
    static void parent##i(void) { note("parent", i); }                               \
    static void child##i(void) { note("child", i); }
FAKE(0)
FAKE(1)
FAKE(2)

static const pypper_component fakes[] = {
    {"zero", start0, stop0, before0, parent0, child0},
    {"one", start1, stop1, NULL, NULL, child1},          /* no fork hooks: skipped */
    {"two", start2, stop2, before2, parent2, child2},
};

static void reset(void) { trail[0] = '\0'; }

static void test_order(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    pypper_components c = {fakes, 3, 0, NULL};
    reset();
    CHECK(pypper_components_start(&c, 3, &cfg) == 0 && c.started == 3 && c.failed == NULL);
    CHECK(strcmp(trail, "start0 start1 start2 ") == 0);
    reset();
    pypper_components_before_fork(&c);
    pypper_components_after_fork_parent(&c);
    CHECK(strcmp(trail, "before2 before0 parent0 parent2 ") == 0);
    reset();
    pypper_components_stop(&c);
    CHECK(strcmp(trail, "stop2 stop1 stop0 ") == 0 && c.started == 0);
    reset();
    pypper_components_stop(&c);                        /* nothing started: nothing */
    pypper_components_before_fork(&c);
    pypper_components_after_fork_child(&c);
    CHECK(trail[0] == '\0');
}

static void test_rollback(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    pypper_components c = {fakes, 3, 0, NULL};
    for (int f = 0; f < 3; f++) {
        fail_at = f;
        reset();
        CHECK(pypper_components_start(&c, 3, &cfg) == -1 && c.started == 0);
        CHECK(c.failed && strcmp(c.failed, fakes[f].name) == 0);
        static const char *const want[] = {
            "fail0 ",
            "start0 fail1 stop0 ",
            "start0 start1 fail2 stop1 stop0 ",
        };
        CHECK(strcmp(trail, want[f]) == 0);
    }
    fail_at = -1;
}

static void test_part_and_child(void)
{
    pypper_config cfg;
    pypper_config_defaults(&cfg);
    pypper_components c = {fakes, 3, 0, NULL};
    reset();
    CHECK(pypper_components_start(&c, 2, &cfg) == 0 && c.started == 2);   /* the first two */
    pypper_components_before_fork(&c);
    pypper_components_after_fork_child(&c);
    CHECK(strcmp(trail, "start0 start1 before0 child1 child0 ") == 0 && c.started == 0);
    reset();
    pypper_components_stop(&c);                        /* the child's copy: forgotten */
    CHECK(trail[0] == '\0');
    CHECK(pypper_components_start(&c, 9, &cfg) == 0 && c.started == 3);   /* n capped */
    pypper_components_stop(&c);
}

int main(void)
{
    (void)before1;                    /* the fake "one" is listed without them */
    (void)parent1;
    test_order();
    test_rollback();
    test_part_and_child();
    return check_report("test_components");
}
