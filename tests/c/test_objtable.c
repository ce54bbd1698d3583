/* tests/c/test_objtable.c: the object table against a plain reference model: random
 * adds (re-adding a block whose object died, or replacing a live one) and deaths over
 * blocks laid out like pools of 48-byte blocks, syncs that hash only what is alive,
 * lookups, sweeps and compactions that keep exactly the current entries (their model
 * states with them through every move: hashing, sweeps' moves back towards home, in-place growth and
 * shrinking), the table's shape after each (every entry found at its slot, empty slots
 * harmless); growth during a long run of adds without a sync (the pending part stays
 * bounded, the table about 10 bytes an entry), pending entries' states, reserve and
 * clear; the 8-byte entry's encoding (blocks at both ends of the base's span, each
 * object offset, sites, the note) and what it refuses; liveness by interleaved bits,
 * and put (add and sync at once); the stored states walked in the map's order. */
#include "check.h"
#include "objtable.h"
#include "own_memory.h"

#include <stdlib.h>
#include <sys/mman.h>

enum { KEYS = 150000, POOL_BLOCKS = 100, PENDING_MAX = 65536 };

/* A sweep of every entry: the pending ones hashed first. */
static size_t sync_and_sweep(size_t *cursor, size_t budget)
{
    if (pypper_objtable_sync() < 0)
        return 0;
    return pypper_objtable_sweep_slots(cursor, budget);
}

static unsigned long long rng = 88172645463325252ull;
static unsigned long long rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Key i's block: block i % 100 of 64 KiB pool i / 100, blocks of 48 bytes. */
static void *key(size_t i)
{
    return (void *)(uintptr_t)(0x100000 + (i / POOL_BLOCKS) * 65536 + (i % POOL_BLOCKS) * 48);
}
static size_t key_index(const void *block)
{
    uintptr_t off = (uintptr_t)block - 0x100000;
    return off / 65536 * POOL_BLOCKS + off % 65536 / 48;
}

/* The reference: is the block's object alive, and which object (a generation). */
static bool live[KEYS];
static unsigned gen[KEYS];
static float heat[KEYS];        /* the model state's heat the key's entry must have */

static bool alive(const void *block) { return live[key_index(block)]; }
static bool alive_never(const void *block) { (void)block; return false; }

/* A fresh reference for a test: no key alive. */
static void reset_reference(void)
{
    for (size_t i = 0; i < KEYS; i++) {
        live[i] = false;
        gen[i] = 0;
        heat[i] = 0.0f;
    }
}
static void *object_of(size_t i) { return (char *)key(i) + 16 * (gen[i] % 3); }

/* After a sync every live key is found with its newest object and that entry's
 * model state (moved with it by syncs, sweeps, compactions and rehashes; fresh for a
 * new entry), no dead one is. Then a quarter of them get a new heat. */
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

/* The table's shape after a sync: each entry is the one find() returns for its block
 * (so no block has two, and no probe run is broken), used() counts them, an empty
 * slot is not current and reads the zero state, the table at most 85% full. Returns
 * the entries that are not current. */
static size_t check_shape(void)
{
    size_t n = pypper_objtable_count(), held = 0, stale = 0, wrong = 0;
    for (size_t i = 0; i < n; i++) {
        pypper_obj_entry *e = pypper_objtable_at(i);
        if (pypper_entry_empty(e)) {
            wrong += pypper_objtable_current(e) || pypper_entry_state(e) != &pypper_obj_state_zero
                     || pypper_entry_object(e) != NULL;
            continue;
        }
        held++;
        stale += !pypper_objtable_current(e);
        wrong += pypper_objtable_find(pypper_entry_block(e)) != e;
        wrong += (e->klass & 0x40u) != 0;
    }
    CHECK(wrong == 0 && held == pypper_objtable_used());
    CHECK(held * 20 <= n * 17);
    /* The stored states, walked in the map's order, are those of the stateful
     * entries, each once. */
    size_t stateful = 0, walked = 0, cursor = 0, at;
    for (size_t i = 0; i < n; i++)
        stateful += (pypper_objtable_at(i)->klass & PYPPER_ENTRY_STATEFUL) != 0;
    const pypper_obj_state *st;
    while ((st = pypper_objtable_next_state(&cursor, &at)) != NULL) {
        walked++;
        wrong += at >= n || !(pypper_objtable_at(at)->klass & PYPPER_ENTRY_STATEFUL)
                 || pypper_entry_state(pypper_objtable_at(at)) != st;
    }
    CHECK(wrong == 0 && walked == stateful);
    return stale;
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
            check_shape();
            check_lookups();
        }
        if (op % 7919 == 0) {
            size_t cursor = rnd() % 1000;
            sync_and_sweep(&cursor, 3000);
            check_shape();
            check_lookups();
        }
        if (op % 120000 == 0) {
            pypper_objtable_compact();
            CHECK(check_shape() == 0);
            check_lookups();
        }
    }
    size_t cursor = 0, before = pypper_objtable_used();
    uint64_t dropped = pypper_objtable_dropped();
    for (int k = 0; k < 100; k++)
        sync_and_sweep(&cursor, 5000);
    /* The sweeps' sync drops dead pending entries and replaced ones too. */
    CHECK(pypper_objtable_used() == before - (pypper_objtable_dropped() - dropped));
    CHECK(check_shape() == 0);          /* 500,000 slots looked at: every one */
    pypper_objtable_compact();
    size_t nlive = 0;
    for (size_t i = 0; i < KEYS; i++)
        nlive += live[i];
    CHECK(pypper_objtable_used() == nlive && check_shape() == 0);
    check_lookups();
    pypper_objtable_clear();
    CHECK(pypper_objtable_count() == 0 && !pypper_objtable_contains(key(3)));
    CHECK(pypper_own_mapped(PYPPER_OWN_OBJTABLE_ENTRIES) == 0);
}

/* Keys [from, to) alive with generation g, each added as a pending entry. */
static void add_live(size_t from, size_t to, unsigned g)
{
    for (size_t i = from; i < to; i++) {
        gen[i] = g;
        live[i] = true;
        CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
    }
}

/* A compaction keeps the model state of each entry it keeps; an entry added for a
 * block replaces the older one at the next sync (which drops it), with a fresh state. */
static void test_compact_and_replace(void)
{
    reset_reference();
    add_live(0, 20000, 0);
    CHECK(pypper_objtable_sync() == 0);
    pypper_entry_state_mut(pypper_objtable_find(key(5)))->heat = 7.0f;
    pypper_entry_state_mut(pypper_objtable_find(key(7)))->heat = 3.0f;
    gen[5]++;
    uint64_t dropped = pypper_objtable_dropped();
    CHECK(pypper_objtable_add(key(5), object_of(5), 0) == 0);
    CHECK(pypper_entry_state(pypper_objtable_find(key(5)))->heat == 7.0f);           /* not synced yet */
    CHECK(pypper_objtable_used() == 20001);
    CHECK(pypper_objtable_sync() == 0);
    CHECK(pypper_objtable_dropped() == dropped + 1 && pypper_objtable_used() == 20000);
    CHECK(pypper_entry_state(pypper_objtable_find(key(5)))->heat == 0.0f && pypper_entry_object(pypper_objtable_find(key(5))) == object_of(5));
    for (size_t i = 0; i < 20000; i += 3)
        live[i] = false;
    CHECK(pypper_objtable_compact() == 6667);
    CHECK(pypper_objtable_used() == 13333 && check_shape() == 0);
    CHECK(pypper_entry_state(pypper_objtable_find(key(7)))->heat == 3.0f);
    CHECK(pypper_objtable_compact() == 0);
    size_t slots = pypper_objtable_count();
    CHECK(pypper_objtable_reserve(100000) == 0 && pypper_objtable_used() == 13333);
    CHECK(pypper_objtable_count() > slots && pypper_objtable_count() * 17 >= 100000 * 20);
    check_shape();
    CHECK(pypper_entry_state(pypper_objtable_find(key(7)))->heat == 3.0f);
    pypper_objtable_clear();
}

/* Reserved room: adding that many entries, synced often, does not grow the table. */
static void test_reserve(void)
{
    reset_reference();
    CHECK(pypper_objtable_reserve(40000) == 0);
    size_t slots = pypper_objtable_count();
    CHECK(slots * 17 >= 40000 * 20 && slots * 17 <= 40000 * 20 + 2 * 17);
    for (size_t i = 0; i < 40000; i++) {
        live[i] = true;
        CHECK(pypper_objtable_add(key(i), key(i), 0) == 0);
        if (i % 5000 == 4999)
            CHECK(pypper_objtable_sync() == 0 && pypper_objtable_count() == slots);
    }
    CHECK(pypper_objtable_sync() == 0 && pypper_objtable_count() == slots && check_shape() == 0);
    pypper_objtable_clear();
}

/* A full pass's worth of adds without a sync: the pending part never holds more than
 * PENDING_MAX (an add that finds it full syncs), dead ones are dropped on the way, and
 * the mapping (slots + pending part) stays about 10 bytes an entry: at most 85% full
 * before a growth, 70% after. States given to pending entries (through at()) follow
 * them into the slots and through the growths. */
static void test_growth_and_pending(void)
{
    reset_reference();
    enum { N = 2 * PENDING_MAX + 16000 };
    uint64_t dropped = pypper_objtable_dropped();
    size_t died = 0, stateful = 0;
    for (size_t i = 0; i < N; i++) {
        gen[i] = 0;
        heat[i] = 0.0f;
        live[i] = true;
        CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
        size_t n = pypper_objtable_count();
        pypper_obj_entry *last = pypper_objtable_at(n - 1);
        CHECK(pypper_entry_block(last) == key(i));      /* the pending entry just added */
        if (i % 7 == 0) {
            pypper_entry_state_mut(last)->heat = heat[i] = (float)(i + 1);
            stateful++;
        }
        if (i % 10 == 3) {
            live[i] = false;            /* dies young: never hashed */
            died++;
        }
        size_t mapped = (size_t)pypper_own_mapped(PYPPER_OWN_OBJTABLE_ENTRIES) / sizeof(pypper_obj_entry);
        CHECK(n <= mapped && mapped <= n + PENDING_MAX);
    }
    for (size_t i = N; i < KEYS; i++)
        live[i] = false;
    CHECK(pypper_objtable_used() <= N && pypper_objtable_used() > N - PENDING_MAX - died);
    CHECK(pypper_objtable_sync() == 0);
    CHECK(pypper_objtable_used() == N - died && pypper_objtable_dropped() - dropped == died);
    size_t slots = pypper_objtable_count(), held = pypper_objtable_used();
    CHECK(held * 20 <= slots * 17 && slots <= held * 10 / 7 + 2);
    CHECK(pypper_own_mapped(PYPPER_OWN_OBJTABLE_ENTRIES) == (slots + PENDING_MAX) * sizeof(pypper_obj_entry));
    CHECK(check_shape() == 0 && stateful > 6000);
    check_lookups();
    /* Most of them die: a compaction drops them and rehashes the table smaller,
     * states kept. */
    for (size_t i = 0; i < N; i++)
        if (i % 8)
            live[i] = false;
    size_t nlive = 0;
    for (size_t i = 0; i < N; i++)
        nlive += live[i];
    pypper_objtable_compact();
    CHECK(pypper_objtable_used() == nlive && pypper_objtable_count() < slots / 3);
    CHECK(pypper_own_mapped(PYPPER_OWN_OBJTABLE_ENTRIES)
          == (pypper_objtable_count() + PENDING_MAX) * sizeof(pypper_obj_entry));
    CHECK(check_shape() == 0);
    check_lookups();
    pypper_objtable_clear();
}

/* A sweep removes exactly the dead entries of the slots it looks at, whatever moves
 * into a hole; every slot of the table gets looked at. */
static void test_sweep(void)
{
    reset_reference();
    for (size_t i = 0; i < 30000; i++) {
        gen[i] = 1;
        heat[i] = 0.0f;
        live[i] = true;
        CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
    }
    CHECK(pypper_objtable_sync() == 0);
    check_lookups();                    /* states on a quarter of them */
    for (size_t i = 0; i < 30000; i++)
        if (rnd() % 2)
            live[i] = false;
    size_t cursor = 0, removed = 0, slots = pypper_objtable_count();
    for (size_t looked = 0; looked < 2 * slots; looked += 1000)
        removed += sync_and_sweep(&cursor, 1000);
    size_t nlive = 0;
    for (size_t i = 0; i < 30000; i++)
        nlive += live[i];
    CHECK(removed == 30000 - nlive && pypper_objtable_used() == nlive);
    CHECK(pypper_objtable_count() == slots && check_shape() == 0);
    check_lookups();
    pypper_objtable_clear();
}

/* The live trace's settle: slots swept without a sync leave the pending entries
 * pending (unhashed, in order, their states with them); dropping the dead pending ones
 * keeps the others pending, and a later sync hashes only those. */
static void test_sweep_slots_and_pending(void)
{
    reset_reference();
    add_live(0, 20000, 1);
    CHECK(pypper_objtable_sync() == 0);
    for (size_t i = 0; i < 20000; i += 2)
        live[i] = false;                /* half of the hashed ones die */
    for (size_t i = 20000; i < 30000; i++) {
        gen[i] = 1;
        live[i] = true;
        CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
        if (i % 5 == 0)
            pypper_entry_state_mut(pypper_objtable_at(pypper_objtable_count() - 1))->heat
                = heat[i] = (float)i;
    }
    CHECK(pypper_objtable_pending() == 10000);
    size_t cursor = 0, slots = pypper_objtable_count() - pypper_objtable_pending(), removed = 0;
    for (size_t looked = 0; looked < 2 * slots; looked += 1000)
        removed += pypper_objtable_sweep_slots(&cursor, 1000);
    CHECK(removed == 10000 && pypper_objtable_pending() == 10000);
    for (size_t i = 20000; i < 30000; i += 3)
        live[i] = false;                /* a third of the pending ones die */
    uint64_t probed, hashed = pypper_objtable_hashed(&probed);
    size_t kept = pypper_objtable_settle_pending();
    CHECK(kept == 10000 - 3334 && pypper_objtable_pending() == kept);
    CHECK(pypper_objtable_hashed(&probed) == hashed);           /* none hashed */
    size_t n = pypper_objtable_count(), order_ok = 1, prev = 0;
    for (size_t k = n - kept; k < n; k++) {                     /* in order, states kept */
        pypper_obj_entry *e = pypper_objtable_at(k);
        size_t i = key_index(pypper_entry_block(e));
        order_ok &= i > prev && live[i] && pypper_entry_state(e)->heat == heat[i];
        prev = i;
    }
    CHECK(order_ok);
    CHECK(pypper_objtable_sync() == 0);
    CHECK(pypper_objtable_hashed(&probed) == hashed + kept && pypper_objtable_used() == 10000 + kept);
    CHECK(check_shape() == 0);
    check_lookups();
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
    uint64_t dropped = pypper_objtable_dropped();
    for (size_t b = 0; b < NB; b++) {
        for (unsigned off = 0; off < 3; off++) {
            CHECK(pypper_objtable_add(blocks[b], blocks[b] + 16 * off, sites[b]) == 0);
            /* Pending: at the end of the entry numbers, read like any entry. */
            const pypper_obj_entry *p = pypper_objtable_at(pypper_objtable_count() - 1);
            CHECK(pypper_entry_block(p) == blocks[b] && pypper_entry_object(p) == blocks[b] + 16 * off);
            CHECK(pypper_objtable_current(p) && !pypper_entry_empty(p));
        }
    }
    CHECK(pypper_objtable_used() == NB * 3);
    CHECK(pypper_objtable_sync() == 0);
    /* Each block's last entry replaced its older two. */
    CHECK(pypper_objtable_used() == NB && pypper_objtable_dropped() - dropped == NB * 2);
    for (size_t b = 0; b < NB; b++) {
        pypper_obj_entry *e = pypper_objtable_find(blocks[b]);
        CHECK(e && pypper_entry_block(e) == blocks[b] && pypper_entry_object(e) == blocks[b] + 32);
        CHECK(e && pypper_entry_site(e) == sites_kept[b] && pypper_objtable_current(e));
        for (unsigned note = 0; e && note < 4; note++) {
            e->klass = 2;
            pypper_entry_set_note(e, note);
            CHECK(pypper_entry_note(e) == note && e->klass == 2 && pypper_entry_block(e) == blocks[b]
                  && pypper_entry_object(e) == blocks[b] + 32);
        }
    }
    /* The block at the base's first granule with its object at offset 0 is not an
     * empty slot. */
    CHECK(pypper_objtable_add(base, base, 7) == 0 && pypper_objtable_sync() == 0);
    pypper_obj_entry *first = pypper_objtable_find(base);
    CHECK(first && !pypper_entry_empty(first) && pypper_entry_object(first) == base
          && pypper_entry_site(first) == 7 && pypper_objtable_current(first));
    size_t empty = 0;
    for (size_t i = 0; i < pypper_objtable_count(); i++) {
        const pypper_obj_entry *e = pypper_objtable_at(i);
        if (pypper_entry_empty(e)) {
            empty++;
            CHECK(!pypper_objtable_current(e) && pypper_entry_object(e) == NULL);
        }
    }
    CHECK(empty == pypper_objtable_count() - NB);
    CHECK(pypper_objtable_find(blocks[0] + 8) == NULL && pypper_objtable_find(base - 16) == NULL);
    CHECK(pypper_objtable_find(base + 32) == NULL);
    CHECK(pypper_objtable_add(base - 16, base - 16, 0) == -1);                      /* below */
    CHECK(pypper_objtable_add(base + PYPPER_OBJTABLE_SPAN, base + PYPPER_OBJTABLE_SPAN, 0) == -1);
    CHECK(pypper_objtable_add(base + 8, base + 8, 0) == -1);                        /* unaligned */
    CHECK(pypper_objtable_add(base + 64, base + 64 + 48, 0) == -1);                 /* offset 48 */
    CHECK(pypper_objtable_add(base + 64, base + 64 + 8, 0) == -1);                  /* offset 8 */
    CHECK(pypper_objtable_add(base + 64, base, 0) == -1);                           /* before it */
    CHECK(pypper_objtable_used() == NB);
    CHECK(pypper_objtable_compact() == 0 && pypper_objtable_used() == NB);
    pypper_objtable_clear();
    pypper_objtable_set_base(NULL);
}

/* Alive by a bitmap (the heap's tracked bits) instead of a function: bit g of the
 * bitmap for the block at granule g from the base, across a word boundary and above
 * 2^32 granules, one word in three; pending and synced entries both read it, a sync drops the pending
 * entries whose bit is clear, and clearing the bits is all it takes. */
static void test_alive_bits(void)
{
    char *base = (char *)(uintptr_t)0x7e0000000000ull;
    size_t bits_len = (((size_t)1 << 32) / 64 + 64) * 3 * sizeof(uint64_t);  /* 1.5 GiB, 3 pages used */
    uint64_t *bits = mmap(NULL, bits_len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);  /* zero: all dead */
    CHECK(bits != MAP_FAILED);
    if (bits == MAP_FAILED)
        return;
    const uint64_t g[] = {0, 63, 64, 130, ((uint64_t)1 << 32) + 5};
    enum { NG = sizeof(g) / sizeof(g[0]) };
    pypper_objtable_clear();
    pypper_objtable_set_alive(alive_never);     /* the bitmap wins over a function */
    pypper_objtable_set_base(base);
    pypper_objtable_set_alive_bits(bits, 3);     /* every third word: interleaved bitmaps */
    for (size_t k = 0; k < NG; k++)
        CHECK(pypper_objtable_add(base + g[k] * 16, base + g[k] * 16, 0) == 0);
    for (size_t k = 0; k < NG; k++) {
        const pypper_obj_entry *p = pypper_objtable_at(pypper_objtable_count() - NG + k);
        CHECK(!pypper_objtable_current(p));
        bits[(g[k] >> 6) * 3] |= (uint64_t)1 << (g[k] & 63);
        CHECK(pypper_objtable_current(p));
        if (k % 2)
            bits[(g[k] >> 6) * 3] &= ~((uint64_t)1 << (g[k] & 63));   /* 63 and 130 die */
    }
    CHECK(pypper_objtable_sync() == 0 && pypper_objtable_used() == NG - 2);
    CHECK(pypper_objtable_contains(base) && !pypper_objtable_contains(base + 63 * 16)
          && pypper_objtable_contains(base + 64 * 16) && !pypper_objtable_contains(base + 130 * 16)
          && pypper_objtable_contains(base + g[4] * 16));
    pypper_obj_entry *e = pypper_objtable_find(base + g[4] * 16);
    CHECK(e && pypper_objtable_current(e));
    bits[(g[4] >> 6) * 3] = 0;
    CHECK(e && !pypper_objtable_current(e));
    /* put: a new object of a block whose entry is dead replaces it, hashed at once. */
    bits[(g[4] >> 6) * 3] |= (uint64_t)1 << (g[4] & 63);
    size_t used_before = pypper_objtable_used();
    e = pypper_objtable_put(base + g[4] * 16, base + g[4] * 16 + 32, 9);
    CHECK(e && pypper_entry_object(e) == base + g[4] * 16 + 32 && pypper_entry_site(e) == 9
          && pypper_objtable_current(e) && pypper_entry_state(e)->heat == 0.0f
          && pypper_objtable_used() == used_before && pypper_objtable_pending() == 0);
    CHECK(!pypper_objtable_put(base + 3, base + 3, 0));     /* not a granule: refused */
    bits[(g[4] >> 6) * 3] = 0;
    CHECK(e && !pypper_objtable_current(e));
    pypper_objtable_set_alive_bits(NULL, 0);    /* the function again */
    CHECK(e && !pypper_objtable_current(e));
    pypper_objtable_set_alive(NULL);
    CHECK(e && pypper_objtable_current(e));
    pypper_objtable_clear();
    pypper_objtable_set_base(NULL);
    pypper_objtable_set_alive(alive);
    munmap(bits, bits_len);
}

/* Blocks laid out at a stride spread over the table like any others: 20,000 blocks
 * 288 granules apart (an object and a 4.5 KiB buffer in turn), into a table 85% full,
 * probed about 60 occupied slots an add when the home was a golden-ratio multiply of
 * the granule; about 3 now. */
static void test_strided_blocks_spread(void)
{
    reset_reference();
    pypper_objtable_set_alive(NULL);
    uint64_t probed0, hashed0 = pypper_objtable_hashed(&probed0);
    CHECK(pypper_objtable_reserve(20000) == 0);     /* no rehash on the way: every
                                                     * entry hashed by a sync */
    for (size_t i = 0; i < 20000; i++)
        CHECK(pypper_objtable_add((char *)(uintptr_t)0x100000 + i * 288 * 16,
                                  (char *)(uintptr_t)0x100000 + i * 288 * 16, 0) == 0);
    CHECK(pypper_objtable_sync() == 0 && pypper_objtable_used() == 20000);
    uint64_t probed, hashed = pypper_objtable_hashed(&probed);
    CHECK(hashed - hashed0 == 20000);
    CHECK((probed - probed0) < 4 * (hashed - hashed0));
    pypper_objtable_clear();
    pypper_objtable_set_alive(alive);
}

/* A sync that would pass 85% full drops the dead entries before it grows the table:
 * a program that builds and frees crowds of objects does not grow it for the dead. */
static void test_sync_drops_dead_before_growing(void)
{
    reset_reference();
    for (size_t i = 0; i < 20000; i++) {
        gen[i] = 1;
        live[i] = true;
        CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
    }
    CHECK(pypper_objtable_sync() == 0);
    size_t slots = pypper_objtable_count();
    for (int round = 0; round < 5; round++) {
        size_t from = round % 2 ? 0 : 20000, to = from + 20000;
        for (size_t i = 0; i < KEYS; i++)
            live[i] = false;
        for (size_t i = from; i < to; i++) {
            gen[i]++;
            live[i] = true;
            CHECK(pypper_objtable_add(key(i), object_of(i), 0) == 0);
        }
        CHECK(pypper_objtable_sync() == 0);
        CHECK(pypper_objtable_count() == slots && pypper_objtable_used() <= 2 * 20000);
    }
    CHECK(check_shape() == 0);
    check_lookups();
    pypper_objtable_clear();
}

int main(void)
{
    test_encoding();
    test_alive_bits();
    test_random();
    test_compact_and_replace();
    test_reserve();
    test_growth_and_pending();
    test_sweep();
    test_sweep_slots_and_pending();
    test_strided_blocks_spread();
    test_sync_drops_dead_before_growing();
    return check_report("test_objtable");
}
