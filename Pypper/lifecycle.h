/* Pypper/lifecycle.h: the tracing session's state machine (stopped -> running ->
 * stopping -> stopped) and its configuration: the gate of Python/session.c. It has no
 * thread; a forked child's session is stopped. Process-wide. */
#ifndef PYPPER_LIFECYCLE_H
#define PYPPER_LIFECYCLE_H

#include "options.h"

typedef enum {
    PYPPER_STATE_STOPPED = 0,
    PYPPER_STATE_RUNNING,
    PYPPER_STATE_STOPPING,
} pypper_state;

/* Start a session with cfg. Returns 1 when started, 0 when a session is already
 * running (nothing changes). Waits while another thread is ending the previous
 * session. */
int pypper_lifecycle_start(const pypper_config *cfg);
/* End the running session in two steps: begin_end moves running -> stopping and
 * returns 1 (0 when none was running: nothing changes); the caller stops what the
 * session started, then finish_end moves stopping -> stopped. A start() meanwhile
 * waits. pypper_lifecycle_end() does both (1, or 0 when none was running). */
int pypper_lifecycle_begin_end(void);
void pypper_lifecycle_finish_end(void);
int pypper_lifecycle_end(void);
pypper_state pypper_lifecycle_state(void);
/* Copy the running session's configuration; returns 0 (and leaves out alone) when
 * no session is running. */
int pypper_lifecycle_config(pypper_config *out);
/* Seconds since the running session started; 0 when stopped. */
double pypper_lifecycle_uptime(void);

#endif
