/* tests/c/test_objtable.c: the object table against a plain reference: random adds and
 * removes of 16-byte aligned keys (with probe chains crossing deletions), dense entries
 * that always name live keys, reserve, and clear. */
#include "check.h"
#include "objtable.h"

#include <stdlib.h>

enum { KEYS = 50000 };

static unsigned long long rng = 88172645463325252ull;
static unsigned long long rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void *key(size_t i) { return (void *)(uintptr_t)(0x100000 + i * 16); }

int main(void)
{
    static bool in[KEYS];
    size_t live = 0;
    CHECK(!pypper_objtable_remove(key(1)) && pypper_objtable_count() == 0);
    for (int op = 0; op < 400000; op++) {
        size_t i = rnd() % KEYS;
        if (rnd() % 3) {
            CHECK(pypper_objtable_add(key(i), (char *)key(i) + 16) == 0);
            live += !in[i];
            in[i] = true;
        } else {
            CHECK(pypper_objtable_remove(key(i)) == in[i]);
            live -= in[i];
            in[i] = false;
        }
        if (op % 50000 == 0) {
            size_t n = pypper_objtable_count(), bad = 0;
            const pypper_obj_entry *e = pypper_objtable_entries();
            for (size_t k = 0; k < n; k++) {
                size_t idx = ((uintptr_t)e[k].block - 0x100000) / 16;
                bad += idx >= KEYS || !in[idx] || e[k].object != (char *)e[k].block + 16;
            }
            CHECK(bad == 0);
        }
    }
    CHECK(pypper_objtable_count() == live);
    size_t wrong = 0;
    for (size_t i = 0; i < KEYS; i++)
        wrong += pypper_objtable_contains(key(i)) != in[i];
    CHECK(wrong == 0);
    pypper_objtable_clear();
    CHECK(pypper_objtable_count() == 0 && !pypper_objtable_contains(key(3)));
    CHECK(pypper_objtable_reserve(100000) == 0);
    for (size_t i = 0; i < 1000; i++)
        CHECK(pypper_objtable_add(key(i), key(i)) == 0);
    CHECK(pypper_objtable_count() == 1000);
    pypper_objtable_clear();
    return check_report("test_objtable");
}
