/* tests/c/test_objtable.c: the object table against a plain reference model: random
 * adds (re-adding a block whose object died, or replacing a live one) and deaths,
 * syncs that index only what is alive, lookups, compaction that keeps exactly the
 * current entries in order (their model states with them), reserve and clear; the 8-byte entry's encoding (blocks
 * at both ends of the base's span, each object offset, sites, the note) and what it
 * refuses. */
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
static size_t key_index(const void *block) { return ((uintptr_t)block - 0x100000) / 16; }

/* The reference: is the block's object alive, and which object (a generation). */
static bool live[KEYS];
static unsigned gen[KEYS];
static float heat[KEYS];        /* the model state's heat the key's entry must have */

static bool alive(const void *block) { return live[key_index(block)]; }
static void *object_of(size_t i) { return (char *)key(i) + 16 * (gen[i] % 3); }

/* After a sync every live key is found with its newest object and that entry's
 * model state (moved with it by syncs, sweeps and compactions; fresh for a new
 * entry), no dead one is. Then a quarter of them get a new heat. */
static void check_lookups(void)
{
    size_t wrong = 0;
    for (size_t i = 0; i < KEYS; i++) {
        pypper_obj_entry *e = pypper_objtable_find(key(i));
        bool found = e && pypper_objtable_current(e);
        wrong += found != live[i];
        wrong += found && pypper_entry_object(e) != object_of(i);
        wrong += found && pypper_entry_state(e)->heat != heat[i];
        if (found && rnd() % 4 == 0)
            pypper_entry_state_mut(e)->heat = heat[i] = (float)(rnd() % 1000 + 1);
    }
    CHECK(wrong == 0);
}

static void test_random(void)
{
    pypper_objtable_set_alive(alive);
    for (int op = 0; op < 400000; op++) {
        size_t i = rnd() % KEYS;
        if (rnd() % 3) {
            gen[i]++;
            live[i] = true;
            heat[i] = 0.0f;             /* a new entry starts cold */
            CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
        } else {
            live[i] = false;
        }
        if (op % 9973 == 0)
            CHECK(pypper_objtable_sync() == 0);
        if (op % 50000 == 0) {
            CHECK(pypper_objtable_sync() == 0);
            check_lookups();
        }
        if (op % 7919 == 0) {
            size_t cursor = rnd() % 1000;
            pypper_objtable_sweep(&cursor, 3000);
            check_lookups();
        }
        if (op % 120000 == 0) {
            pypper_objtable_compact();
            size_t current = 0, n = pypper_objtable_count();
            for (size_t k = 0; k < n; k++)
                current += pypper_objtable_current(pypper_objtable_at(k));
            CHECK(current == n);
            check_lookups();
        }
    }
    size_t cursor = 0, before = pypper_objtable_count();
    uint64_t dropped = pypper_objtable_dropped();
    for (int k = 0; k < 100; k++)
        pypper_objtable_sweep(&cursor, 5000);
    CHECK(pypper_objtable_count() == before - (pypper_objtable_dropped() - dropped));
    pypper_objtable_compact();
    size_t nlive = 0;
    for (size_t i = 0; i < KEYS; i++)
        nlive += live[i];
    CHECK(pypper_objtable_count() == nlive);
    check_lookups();
    pypper_objtable_clear();
    CHECK(pypper_objtable_count() == 0 && !pypper_objtable_contains(key(3)));
}

/* Compaction keeps the order of what it keeps and the model state of each entry; an
 * entry added for a block replaces the older one at the next sync, with a fresh state. */
static void test_compact_and_replace(void)
{
    for (size_t i = 0; i < 20000; i++) {
        gen[i] = 0;
        live[i] = true;
        CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
    }
    CHECK(pypper_objtable_sync() == 0);
    pypper_entry_state_mut(pypper_objtable_find(key(5)))->heat = 7.0f;
    pypper_entry_state_mut(pypper_objtable_find(key(7)))->heat = 3.0f;
    gen[5]++;
    CHECK(pypper_objtable_add(key(5), object_of(5), 0) == 0);
    CHECK(pypper_entry_state(pypper_objtable_find(key(5)))->heat == 7.0f);           /* not synced yet */
    CHECK(pypper_objtable_sync() == 0);
    CHECK(pypper_entry_state(pypper_objtable_find(key(5)))->heat == 0.0f && pypper_entry_object(pypper_objtable_find(key(5))) == object_of(5));
    for (size_t i = 0; i < 20000; i += 3)
        live[i] = false;
    CHECK(pypper_objtable_compact() == 6667 + 1);                 /* and key 5's old entry */
    CHECK(pypper_objtable_count() == 13333);
    const pypper_obj_entry *e = pypper_objtable_entries();
    size_t wrong = 0;
    for (size_t k = 1; k < pypper_objtable_count(); k++)
        wrong += pypper_entry_block(&e[k]) <= pypper_entry_block(&e[k - 1])
                 && pypper_entry_block(&e[k]) != key(5);
    CHECK(wrong == 0 && pypper_entry_state(pypper_objtable_find(key(7)))->heat == 3.0f);
    CHECK(pypper_objtable_compact() == 0);
    CHECK(pypper_objtable_reserve(100000) == 0 && pypper_objtable_count() == 13333);
    pypper_objtable_clear();
}

/* The encoding, relative to a base like the heap's reservation: blocks at its first
 * and last granules and across the 4 GiB granule boundary, each object offset, the
 * site's special values, the note beside the class; refused: blocks outside the span
 * or unaligned, objects at other offsets. Nothing is dereferenced. */
static void test_encoding(void)
{
    char *base = (char *)(uintptr_t)0x7f0000000000ull;
    pypper_objtable_set_alive(NULL);
    pypper_objtable_set_base(base);
    CHECK(sizeof(pypper_obj_entry) == 8 && sizeof(pypper_obj_state) == 8);
    char *blocks[] = {base, base + 16, base + ((uint64_t)1 << 36) - 16, base + ((uint64_t)1 << 36),
                      base + ((uint64_t)1 << 37) + 48, base + PYPPER_OBJTABLE_SPAN - 16};
    enum { NB = sizeof(blocks) / sizeof(blocks[0]) };
    uint32_t sites[] = {0, 1, 32767, UINT32_MAX, 0xFFFEu, 0x12345u};
    uint32_t sites_kept[] = {0, 1, 32767, UINT32_MAX, 0xFFFEu, 0};
    for (size_t b = 0; b < NB; b++)
        for (unsigned off = 0; off < 3; off++)
            CHECK(pypper_objtable_add(blocks[b], blocks[b] + 16 * off, sites[b]) == 0);
    CHECK(pypper_objtable_sync() == 0);
    CHECK(pypper_objtable_count() == NB * 3);
    for (size_t b = 0; b < NB; b++) {
        pypper_obj_entry *e = pypper_objtable_find(blocks[b]);
        /* The block's last entry is the one indexed; the older two are retired. */
        CHECK(e && pypper_entry_block(e) == blocks[b] && pypper_entry_object(e) == blocks[b] + 32);
        CHECK(e && pypper_entry_site(e) == sites_kept[b]);
        for (unsigned off = 0; off < 2; off++) {
            const pypper_obj_entry *old = pypper_objtable_at(b * 3 + off);
            CHECK(pypper_entry_block(old) == blocks[b] && pypper_entry_object(old) == NULL);
            CHECK(!pypper_objtable_current(old));
        }
        for (unsigned note = 0; e && note < 4; note++) {
            e->klass = 2;
            pypper_entry_set_note(e, note);
            CHECK(pypper_entry_note(e) == note && e->klass == 2 && pypper_entry_block(e) == blocks[b]
                  && pypper_entry_object(e) == blocks[b] + 32);
        }
    }
    CHECK(pypper_objtable_find(blocks[0] + 8) == NULL && pypper_objtable_find(base - 16) == NULL);
    CHECK(pypper_objtable_add(base - 16, base - 16, 0) == -1);                      /* below */
    CHECK(pypper_objtable_add(base + PYPPER_OBJTABLE_SPAN, base + PYPPER_OBJTABLE_SPAN, 0) == -1);
    CHECK(pypper_objtable_add(base + 8, base + 8, 0) == -1);                        /* unaligned */
    CHECK(pypper_objtable_add(base + 64, base + 64 + 48, 0) == -1);                 /* offset 48 */
    CHECK(pypper_objtable_add(base + 64, base + 64 + 8, 0) == -1);                  /* offset 8 */
    CHECK(pypper_objtable_add(base + 64, base, 0) == -1);                           /* before it */
    CHECK(pypper_objtable_count() == NB * 3);
    CHECK(pypper_objtable_compact() == NB * 2 && pypper_objtable_count() == NB);
    for (size_t b = 0; b < NB; b++)
        CHECK(pypper_entry_block(pypper_objtable_at(b)) == blocks[b]);
    pypper_objtable_clear();
    pypper_objtable_set_base(NULL);
}

int main(void)
{
    test_encoding();
    test_random();
    test_compact_and_replace();
    return check_report("test_objtable");
}
