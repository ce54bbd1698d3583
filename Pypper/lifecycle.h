/* Pypper/lifecycle.h: the tracing session's state machine (stopped -> running ->
 * stopping -> stopped), its background thread, and fork handling. Process-wide. */
#ifndef PYPPER_LIFECYCLE_H
#define PYPPER_LIFECYCLE_H

#include "options.h"

typedef enum {
    PYPPER_STATE_STOPPED = 0,
    PYPPER_STATE_RUNNING,
    PYPPER_STATE_STOPPING,
} pypper_state;

/* Start a session with cfg. Returns 1 when started, 0 when a session is already
 * running (nothing changes), -1 with a message in err when it cannot start. Waits
 * while another thread is ending the previous session. */
int pypper_lifecycle_start(const pypper_config *cfg, char *err, size_t errlen);
/* End the running session: stop and join the background thread. Returns 1 when a
 * session was ended, 0 when none was running. Must not be called from the worker. */
int pypper_lifecycle_end(void);
pypper_state pypper_lifecycle_state(void);
/* Around fork(): join the worker before (the process then forks without it) and start
 * it again after, in the parent. No-ops without a running session. */
void pypper_lifecycle_before_fork(void);
void pypper_lifecycle_after_fork_in_parent(void);
/* Copy the running session's configuration; returns 0 (and leaves out alone) when
 * no session is running. */
int pypper_lifecycle_config(pypper_config *out);
/* Seconds since the running session started; 0 when stopped. */
double pypper_lifecycle_uptime(void);

#endif
