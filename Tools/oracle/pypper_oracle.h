/* pypper_oracle.h -- owns the client-request interface of the Pypper access oracle.
 *
 * Shared by the Valgrind tool (pypper_oracle.c, tool name "pyoracle") and by client
 * code (client.c, C test programs).  A program includes this header and uses the
 * PYORACLE_* macros below; outside Valgrind, or under another Valgrind tool, they do
 * nothing and evaluate to 0 (the valgrind.h default-value convention).
 *
 * The request codes are tool-specific: VG_USERREQ_TOOL_BASE('P','O') + n.
 * The dump file format is described in Tools/oracle/README.md and in
 * pypper_oracle.c (struct header comment).
 */
#ifndef PYPPER_ORACLE_H
#define PYPPER_ORACLE_H

#include <valgrind/valgrind.h>

typedef enum {
    /* Zero every counter (per-granule counts, totals, the instruction count). */
    PYORACLE_USERREQ_RESET = VG_USERREQ_TOOL_BASE('P', 'O'),
    /* arg1 = const char *path: write the non-zero granules to path.
       Returns the number of records written, or (unsigned long)-1 on error. */
    PYORACLE_USERREQ_DUMP,
    /* Start / stop counting.  While stopped nothing is instrumented. */
    PYORACLE_USERREQ_START,
    PYORACLE_USERREQ_STOP,
    /* Returns PYORACLE_STATUS_PRESENT | (counting ? PYORACLE_STATUS_COUNTING : 0). */
    PYORACLE_USERREQ_STATUS
} PyOracleUserReq;

#define PYORACLE_STATUS_PRESENT  0x1u
#define PYORACLE_STATUS_COUNTING 0x2u

#define PYORACLE_RESET() \
    VALGRIND_DO_CLIENT_REQUEST_STMT(PYORACLE_USERREQ_RESET, 0, 0, 0, 0, 0)
#define PYORACLE_START() \
    VALGRIND_DO_CLIENT_REQUEST_STMT(PYORACLE_USERREQ_START, 0, 0, 0, 0, 0)
#define PYORACLE_STOP() \
    VALGRIND_DO_CLIENT_REQUEST_STMT(PYORACLE_USERREQ_STOP, 0, 0, 0, 0, 0)
/* Default 0 outside Valgrind, so a caller cannot tell "0 records" from "not under the
   oracle": use PYORACLE_STATUS() for that. */
#define PYORACLE_DUMP(path)                                                   \
    ((long)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, PYORACLE_USERREQ_DUMP,          \
                                           (path), 0, 0, 0, 0))
#define PYORACLE_STATUS()                                                     \
    ((unsigned)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, PYORACLE_USERREQ_STATUS,    \
                                               0, 0, 0, 0, 0))

#endif /* PYPPER_ORACLE_H */
