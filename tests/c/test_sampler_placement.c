/* tests/c/test_sampler_placement.c: keeping the sampler off the main thread's CPU:
 * the decision (move only when the main thread's CPU is in the sampler's mask, to the
 * allowed CPUs but that one; never with a single CPU allowed), the stat-line parser
 * (a command name holding ") " and spaces, short and malformed lines), and, on this
 * thread standing for both threads, that a check moves it off the CPU it ran on
 * (run only when more than one CPU is allowed). */
#include "check.h"
#include "../../Pypper/sampler_placement.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static cpu_set_t set_of(const char *cpus)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    for (const char *p = cpus; *p; p++)
        if (*p >= '0' && *p <= '9')
            CPU_SET(*p - '0', &s);
    return s;
}

static void test_choose(void)
{
    cpu_set_t all = set_of("0123"), out;
    /* Main on CPU 2, the sampler allowed everything: it goes to 0, 1, 3. */
    CHECK(pypper_placement_choose(&all, &all, 2, &out));
    cpu_set_t want = set_of("013");
    CHECK(CPU_EQUAL(&out, &want));
    /* The sampler already off CPU 2: nothing to do. */
    cpu_set_t off2 = set_of("013");
    CHECK(!pypper_placement_choose(&all, &off2, 2, &out));
    /* Main moved to CPU 1, which the sampler may use: off 1, and 2 is allowed again. */
    CHECK(pypper_placement_choose(&all, &off2, 1, &out));
    want = set_of("023");
    CHECK(CPU_EQUAL(&out, &want));
    /* Main on a CPU the sampler was never allowed: nothing to do. */
    cpu_set_t two = set_of("01");
    CHECK(!pypper_placement_choose(&two, &two, 3, &out));
    /* A single CPU: nowhere else to go. */
    cpu_set_t one = set_of("1");
    CHECK(!pypper_placement_choose(&one, &one, 1, &out));
    /* No CPU read. */
    CHECK(!pypper_placement_choose(&all, &all, -1, &out));
    CHECK(!pypper_placement_choose(&all, &all, CPU_SETSIZE, &out));
}

/* This thread plays both parts: each check reads the CPU it runs on, finds it in its
 * mask and moves off it, so the CPU differs after each check. */
static void test_moves_off(void)
{
    cpu_set_t saved;
    CHECK(sched_getaffinity(0, sizeof(saved), &saved) == 0);
    pypper_sampler_placement p;
    memset(&p, 0, sizeof(p));
    pypper_placement_begin(&p);
    if (CPU_COUNT(&saved) < 2) {
        CHECK(!p.on);
        CHECK(!pypper_placement_check(&p, sched_getcpu()) && p.checks == 0);
        printf("one CPU allowed: moving not tested\n");
        return;
    }
    CHECK(p.on);
    for (int round = 0; round < 3; round++) {
        /* The CPU given is the one this thread runs on, always in its mask. */
        CHECK(pypper_placement_check(&p, sched_getcpu()));
        CHECK(p.moves == (uint64_t)round + 1 && p.failures == 0);
        CHECK(CPU_COUNT(&p.current) == CPU_COUNT(&saved) - 1);
        /* (The mask is set for the calling thread before the call returns.) */
        CHECK(CPU_ISSET(sched_getcpu(), &p.current));
    }
    /* The main thread's CPU unknown: counted, nothing moves. */
    CHECK(!pypper_placement_check(&p, -1) && p.failures == 1);
    CHECK(sched_setaffinity(0, sizeof(saved), &saved) == 0);
}

int main(void)
{
    test_choose();
    test_moves_off();
    return check_report("sampler_placement");
}
