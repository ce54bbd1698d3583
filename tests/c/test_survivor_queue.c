/* tests/c/test_survivor_queue.c: the survivor queue: push order and the oldest time,
 * the newest entry of a block queued again wins (older ones voided, whatever lies in
 * between), whether it has a table entry follows the block's history (frees of
 * objects that had none counted), headers and types kept, the record of recent pushes, a full queue
 * refuses, it grows only empty and up to its largest, clearing empties it, and an
 * unmapped queue refuses everything. */
#include "check.h"
#include "../../Pypper/survivor_queue.h"

#include <stdint.h>

static void *addr(uintptr_t k) { return (void *)(0x7f0000000000ull + 64 * k); }
static void *obj(uintptr_t k) { return (char *)addr(k) + 16; }
static int type_a, type_b;

int main(void)
{
    CHECK(!pypper_survivors_push(addr(1), obj(1), &type_a, 0, false, 5));    /* not mapped yet */
    CHECK(pypper_survivors_init() == 0 && pypper_survivors_ready());
    CHECK(pypper_survivors_count() == 0 && pypper_survivors_oldest_ns() == 0);

    /* Block 7: queued (no entry), freed, reused and queued (no entry), re-promoted
     * (bit set: the same object, still no entry). Block 3: in the table already.
     * Block 9: queued, then the same object again. Block 4: in the table, then freed
     * (a table entry's free: not counted here) and reused. */
    struct { uintptr_t block; int *type; bool in_table; } pushes[] = {
        {7, &type_a, false}, {3, &type_a, true}, {7, &type_b, false}, {9, &type_a, false},
        {4, &type_b, true}, {9, &type_a, true}, {7, &type_b, true}, {4, &type_a, false},
    };
    size_t np = sizeof(pushes) / sizeof(pushes[0]);
    for (size_t i = 0; i < np; i++)
        CHECK(pypper_survivors_push(addr(pushes[i].block), obj(pushes[i].block), pushes[i].type,
                                    (uint32_t)i, pushes[i].in_table, 1000 + i));
    CHECK(pypper_survivors_count() == np && pypper_survivors_oldest_ns() == 1000);
    size_t n, freed;
    pypper_survivor *q = pypper_survivors_latest(&n, &freed);
    CHECK(n == np && freed == 1);                       /* block 7's first object */
    CHECK(!q[0].type && !q[2].type && !q[3].type && !q[4].type);
    CHECK(q[1].type == &type_a && pypper_survivor_in_table(&q[1]) && pypper_survivor_block(&q[1]) == addr(3));
    CHECK(pypper_survivor_object(&q[1]) == obj(3));
    CHECK(q[5].type == &type_a && !pypper_survivor_in_table(&q[5]));
    CHECK(q[6].type == &type_b && !pypper_survivor_in_table(&q[6]) && pypper_survivor_object(&q[6]) == obj(7));
    CHECK(q[6].site == 6 && q[1].site == 1);
    CHECK(q[5].site == 5);              /* block 9: pushed again with a site of its own */
    pypper_survivors_clear();
    /* Queued again with its bit set and no site: the first entry's site carries over. */
    CHECK(pypper_survivors_push(addr(30), obj(30), &type_a, 77, false, 1));
    CHECK(pypper_survivors_push(addr(30), obj(30), &type_a, 0, true, 2));
    q = pypper_survivors_latest(&n, &freed);
    CHECK(n == 2 && !q[0].type && q[1].site == 77 && !pypper_survivor_in_table(&q[1]));
    pypper_survivors_clear();
    for (size_t i = 0; i < np; i++)
        CHECK(pypper_survivors_push(addr(pushes[i].block), obj(pushes[i].block), pushes[i].type,
                                    (uint32_t)i, pushes[i].in_table, 1000 + i));
    q = pypper_survivors_latest(&n, &freed);
    CHECK(q[7].type == &type_a && !pypper_survivor_in_table(&q[7]));
    CHECK(pypper_survivors_queued(addr(7)) && pypper_survivors_queued(addr(4)));
    CHECK(!pypper_survivors_queued(addr(8)));
    /* Headers of 0 and 48 bytes are kept; misaligned or larger ones refused. */
    CHECK(pypper_survivors_push(addr(20), addr(20), &type_a, 0, false, 1));
    CHECK(pypper_survivors_push(addr(21), (char *)addr(21) + 48, &type_a, 0, false, 1));
    q = pypper_survivors_latest(&n, &freed);
    CHECK(pypper_survivor_object(&q[n - 2]) == addr(20) && pypper_survivor_object(&q[n - 1]) == (char *)addr(21) + 48);
    CHECK(!pypper_survivors_push(addr(22), (char *)addr(22) + 64, &type_a, 0, false, 1));
    CHECK(!pypper_survivors_push((char *)addr(22) + 8, obj(22), &type_a, 0, false, 1));
    CHECK(!pypper_survivors_push(addr(22), obj(22), NULL, 0, false, 1));
    pypper_survivors_clear();
    CHECK(pypper_survivors_count() == 0 && pypper_survivors_oldest_ns() == 0);
    CHECK(!pypper_survivors_queued(addr(7)));

    /* Full at its first capacity: the last push is refused; every distinct block
     * survives latest(). It grows only empty, by doubling, up to its largest. */
    CHECK(pypper_survivors_capacity() == PYPPER_SURVIVORS_MIN);
    size_t pushed = 0;
    while (pypper_survivors_push(addr(pushed + 1), obj(pushed + 1), &type_a, 0, false, 0))
        pushed++;
    CHECK(pushed == PYPPER_SURVIVORS_MIN && pypper_survivors_oldest_ns() == 1);
    q = pypper_survivors_latest(&n, &freed);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += q[i].type != NULL;
    CHECK(n == PYPPER_SURVIVORS_MIN && kept == PYPPER_SURVIVORS_MIN && freed == 0);
    CHECK(!pypper_survivors_grow());                     /* not empty */
    pypper_survivors_clear();
    size_t grown = 0;
    while (pypper_survivors_grow())
        grown++;
    CHECK(pypper_survivors_capacity() == PYPPER_SURVIVORS_MAX && grown == 2);
    CHECK(!pypper_survivors_queued(addr(1)) && pypper_survivors_count() == 0);
    pushed = 0;
    while (pypper_survivors_push(addr(2 * pushed + 1), obj(2 * pushed + 1), &type_b, 0, pushed & 1, 0))
        pushed++;
    CHECK(pushed == PYPPER_SURVIVORS_MAX && pypper_survivors_queued(addr(2 * (pushed - 1) + 1)));
    q = pypper_survivors_latest(&n, &freed);
    CHECK(n == PYPPER_SURVIVORS_MAX && freed == 0 && q[n - 1].type == &type_b);
    CHECK(pypper_survivor_object(&q[n - 1]) == obj(2 * (n - 1) + 1) && pypper_survivor_in_table(&q[n - 1]));
    pypper_survivors_clear();

    pypper_survivors_fini();
    CHECK(!pypper_survivors_ready() && !pypper_survivors_push(addr(1), obj(1), &type_a, 0, false, 1));
    CHECK(pypper_survivors_latest(&n, &freed) == NULL && n == 0 && freed == 0);
    return check_report("test_survivor_queue");
}
