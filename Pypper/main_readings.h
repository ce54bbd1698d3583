/* Pypper/main_readings.h: what Pypper's guards and the sampler's placement read from
 * the kernel about the program's main thread and the machine (the memory stall figure
 * of /proc/pressure/memory, the main thread's /proc/thread-self/schedstat, the CPU it
 * runs on), taken on the main thread itself, in the engine's step, and kept here for
 * the sampler thread.
 *
 * Why on the main thread: a file opened by a background thread takes the lowest free
 * descriptor number, which the program may have just closed and still names (CPython's
 * test_os checks that a closed descriptor gives EBADF; a Pypper thread's open() in
 * between made it EINVAL). The main thread's open-read-close happens between two of
 * the program's bytecodes, so the program never sees the descriptor. No Pypper thread
 * opens a file while a session runs. */
#ifndef PYPPER_MAIN_READINGS_H
#define PYPPER_MAIN_READINGS_H

#include <stdbool.h>
#include <stdint.h>

#define PYPPER_MAIN_READINGS_EVERY_MS 200u   /* at most one reading per this */

typedef struct {
    uint64_t stamp_ns;       /* CLOCK_MONOTONIC of the reading; 0: none yet */
    double psi;              /* memory "some avg10", %; < 0: none (no PSI, or not asked) */
    bool sched_ok;           /* run_ns and wait_ns were read */
    uint64_t run_ns, wait_ns;
    int cpu;                 /* the CPU the main thread ran on; -1: unknown */
} pypper_main_reading;

/* On a program thread between two bytecodes (the engine's step): a reading, unless one
 * was taken in the last PYPPER_MAIN_READINGS_EVERY_MS (want_psi: the memory stall
 * figure too). The main thread's schedstat is read by its thread id; its CPU only when
 * this is the main thread, else the last one stays. */
void pypper_main_readings_take(bool want_psi);
/* Any thread: the latest reading (stamp_ns 0 when none). */
void pypper_main_readings_get(pypper_main_reading *out);
/* Session start (and in a forked child): no reading; main_tid: the main thread's id
 * (0: unknown, no schedstat). */
void pypper_main_readings_reset(int main_tid);

#endif
