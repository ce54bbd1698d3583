/* Objects/swap_map.c: the heap's pages out of memory (swap_map.h): VmSwap decides
 * whether to look, mincore over each arena in use fills a bit per page. Readers test
 * a bit with a relaxed load; the refresher (one thread at a time, with the GIL)
 * stores whole words. */
#include "swap_map.h"

#include "heap_layout.h"
#include "heap_pages.h"
#include "residency.h"
#include "../Pypper/clock.h"
#include "../Pypper/own_memory.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static struct {
    uint64_t *bits;             /* a bit per page slot: 1 = not in memory */
    size_t slots, bytes;
    atomic_bool active;
    int forced;                 /* -1: VmSwap decides */
    uint64_t next_ns;
    pypper_swap_map_stats st;
} S = {.forced = -1};

/* The residency gate (residency.h) follows: while nothing is in swap, the sources'
 * checks do not call pypper_swap_map_may_touch. */
static void set_active(bool on)
{
    atomic_store(&S.active, on);
    pypper_residency_swap_active(on);
}

int pypper_swap_map_start(void)
{
    size_t slots = pypper_heap_page_slots();
    if (!slots)
        return -1;
    pypper_swap_map_stop();
    size_t bytes = (slots + 63) / 64 * sizeof(uint64_t);
    /* Sparse: only the words of arenas in use are ever touched. */
    uint64_t *bits = pypper_own_mmap(PYPPER_OWN_SWAP_MAP, bytes, MAP_NORESERVE);
    if (!bits)
        return -1;
    S.bits = bits;
    S.slots = slots;
    S.bytes = bytes;
    S.next_ns = 0;
    set_active(false);
    memset(&S.st, 0, sizeof(S.st));
    return 0;
}

void pypper_swap_map_stop(void)
{
    set_active(false);
    if (S.bits)
        pypper_own_munmap(S.bits, S.bytes);
    S.bits = NULL;
    S.slots = S.bytes = 0;
}

/* VmSwap of /proc/self/status in KiB; 0 when it cannot be read. */
static uint64_t vm_swap_kb(void)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nVmSwap:");
    return p ? strtoull(p + 8, NULL, 10) : 0;
}

static void read_arena(size_t first_page, void *base, void *ctx)
{
    (void)ctx;
    if (first_page + PAGES_PER_ARENA > S.slots)
        return;
    unsigned char vec[PAGES_PER_ARENA];
    if (mincore(base, ARENA_SIZE, vec) != 0)
        return;             /* leave the arena's bits as they were */
    S.st.arenas_read++;
    /* Arenas start on a 256-page boundary: four whole words. */
    for (unsigned w = 0; w < PAGES_PER_ARENA / 64; w++) {
        uint64_t out = 0;
        for (unsigned b = 0; b < 64; b++)
            out |= (uint64_t)!(vec[w * 64 + b] & 1u) << b;
        S.st.pages_out += (uint64_t)__builtin_popcountll(out);
        __atomic_store_n(&S.bits[first_page / 64 + w], out, __ATOMIC_RELAXED);
    }
}

void pypper_swap_map_refresh(void)
{
    uint64_t now_ns = pypper_mono_ns();
    if (!S.bits || now_ns < S.next_ns)
        return;
    S.next_ns = now_ns + PYPPER_SWAP_MAP_REFRESH_MS * 1000000ull;
    S.st.swap_kb = vm_swap_kb();
    bool swapping = S.forced >= 0 ? S.forced > 0 : S.st.swap_kb > 0;
    if (!swapping) {
        set_active(false);
        return;
    }
    S.st.refreshes++;
    S.st.pages_out = 0;
    pypper_heap_for_each_arena(read_arena, NULL);
    set_active(true);
}

bool pypper_swap_map_may_touch(const void *p)
{
    if (!atomic_load_explicit(&S.active, memory_order_relaxed))
        return true;
    size_t i = pypper_heap_page_index(p);     /* outside the heap: past the slots */
    if (i >= S.slots)
        return true;
    if (!((__atomic_load_n(&S.bits[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1u))
        return true;
    __atomic_fetch_add(&S.st.skipped_reads, 1, __ATOMIC_RELAXED);
    return false;
}

void pypper_swap_map_get_stats(pypper_swap_map_stats *out)
{
    *out = S.st;
    out->active = atomic_load(&S.active);
    out->skipped_reads = __atomic_load_n(&S.st.skipped_reads, __ATOMIC_RELAXED);
}

void pypper_swap_map_test_mark(const void *p)
{
    size_t i = pypper_heap_page_index(p);
    if (!S.bits || i >= S.slots)
        return;
    __atomic_fetch_or(&S.bits[i / 64], (uint64_t)1 << (i % 64), __ATOMIC_RELAXED);
    set_active(true);
}

void pypper_swap_map_test_force(int swapping)
{
    S.forced = swapping < 0 ? -1 : swapping > 0;
    S.next_ns = 0;
}
