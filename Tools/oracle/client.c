/* client.c -- owns liboracle_client.so: plain C functions that issue the pyoracle
 * client requests, for callers that cannot expand valgrind.h's inline-assembly
 * macros themselves (Python through ctypes: Tools/oracle/oracle_client.py).
 *
 * Outside Valgrind every function is a no-op (the client-request sequence is a few
 * rotate instructions that change nothing on a real CPU) and returns 0.
 */
#include "pypper_oracle.h"

/* The shared library's exported API. */
int oracle_running(void);
int oracle_present(void);
int oracle_counting(void);
void oracle_reset(void);
void oracle_start(void);
void oracle_stop(void);
long oracle_dump(const char *path);

/* RUNNING_ON_VALGRIND: nonzero under any Valgrind tool. */
int oracle_running(void)
{
    return (int)RUNNING_ON_VALGRIND;
}

/* 1 when the running tool is pyoracle (it answers the STATUS request). */
int oracle_present(void)
{
    return (PYORACLE_STATUS() & PYORACLE_STATUS_PRESENT) ? 1 : 0;
}

/* 1 while pyoracle counts accesses. */
int oracle_counting(void)
{
    return (PYORACLE_STATUS() & PYORACLE_STATUS_COUNTING) ? 1 : 0;
}

void oracle_reset(void)
{
    PYORACLE_RESET();
}

void oracle_start(void)
{
    PYORACLE_START();
}

void oracle_stop(void)
{
    PYORACLE_STOP();
}

/* Number of granule records written, -1 on error, 0 outside the oracle. */
long oracle_dump(const char *path)
{
    return PYORACLE_DUMP(path);
}
