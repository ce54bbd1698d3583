/* test_touch.c -- owns the C workload of test_oracle.py: touches known addresses a
 * known number of times, so the oracle's counts can be checked exactly.
 *
 * Usage: test_touch DUMP_PATH [ADDRESS]   (run under valgrind --tool=pyoracle)
 * The 64 KiB buffer is mapped at ADDRESS (hex, 64 KiB-aligned) when given, else
 * wherever aligned_alloc puts it.  Prints "base 0x..." (its address) on stdout.
 *
 * Layout of the buffer, in 16-byte granules G[k] (expected counts after the reset):
 *   G[k],       k = 0..63   k plain 8-byte loads           loads  = k
 *   G[64 + k],  k = 0..63   2k plain 8-byte stores         stores = 2k
 *   G[200]/G[201]           5 unaligned 8-byte loads at byte 12 of G[200], spanning
 *                           both granules                  loads  = 5 in each
 *   G[300]                  7 lock cmpxchg                 loads = stores = 7
 *   G[400]                  3 loads while counting is stopped (not counted) and
 *                           1 load after it restarts       loads  = 1
 *   G[500]                  touched 1000 times before the reset only -> absent
 *   G[600..603]             8 consecutive 8-byte stores    stores = 2 each
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pypper_oracle.h"

#define G(k) ((volatile uint64_t *)(buf + 16 * (size_t)(k)))

int main(int argc, char **argv)
{
    unsigned char *buf;
    int k, r;
    uint64_t v;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DUMP_PATH\n", argv[0]);
        return 2;
    }
    if (argc > 2) {
        void *want = (void *)(uintptr_t)strtoull(argv[2], NULL, 16);
        buf = mmap(want, 65536, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (buf == MAP_FAILED || buf != want) {
            perror("mmap");
            return 1;
        }
    } else {
        buf = aligned_alloc(65536, 65536);
        if (!buf)
            return 1;
    }
    memset(buf, 0, 65536);

    for (r = 0; r < 1000; r++)           /* noise, dropped by the reset */
        (void)*G(500);
    PYORACLE_RESET();

    for (k = 0; k < 64; k++)
        for (r = 0; r < k; r++)
            (void)*G(k);
    for (k = 0; k < 64; k++)
        for (r = 0; r < 2 * k; r++)
            *G(64 + k) = (uint64_t)r;
    for (r = 0; r < 5; r++) {
        volatile uint64_t *p = (volatile uint64_t *)(buf + 16 * 200 + 12);
        (void)*p;
    }
    for (r = 0; r < 7; r++)
        __sync_bool_compare_and_swap((uint64_t *)(buf + 16 * 300), (uint64_t)r,
                                     (uint64_t)r + 1);
    PYORACLE_STOP();
    for (r = 0; r < 3; r++)
        (void)*G(400);
    PYORACLE_START();
    (void)*G(400);
    for (k = 0; k < 8; k++)
        *(volatile uint64_t *)(buf + 16 * 600 + 8 * k) = (uint64_t)k;

    v = (uint64_t)PYORACLE_DUMP(argv[1]);
    printf("base %p\nrecords %lld\nstatus %u\n", (void *)buf, (long long)v,
           PYORACLE_STATUS());
    if (argc <= 2)
        free(buf);
    return 0;
}
