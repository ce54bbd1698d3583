/* Python/session.h: the tracing session as one object: the lifecycle's state (the
 * gate: one session at a time) and the ordered table of components it starts, stops
 * and carries through fork() (Python/session.c). The _pypper module and the process
 * hooks call these, never a component. All with the GIL held. */
#ifndef PYPPER_SESSION_H
#define PYPPER_SESSION_H

#include <Python.h>
#include "../Pypper/backend.h"
#include "../Pypper/options.h"

/* 1 when started, 0 when a session is already running, -1 with a Python exception
 * (a component could not start: the ones started are stopped, in reverse). backend:
 * the session's backend, chosen once by the caller (pypper_backend_select). */
int pypper_session_start(const pypper_config *cfg, const pypper_backend_choice *backend);
/* The same start, cfg->start_delay_ms later (Python/delayed_start.h): 0, or -1 with a
 * Python exception (nothing is pending). A session start or end meanwhile cancels it. */
int pypper_session_start_later(const pypper_config *cfg, const pypper_backend_choice *backend);
/* 1 when the running session was ended (components stopped in reverse), 0 when none
 * was running (a pending delayed start is cancelled either way). */
int pypper_session_end(void);
/* Around fork(): the session's threads (and a delayed start's) are joined before (the
 * process forks with none); in the parent they start again at once, or, after a fork
 * that follows another within a second, once the program has gone on
 * PYPPER_FORK_SETTLE_MS without forking (pypper_session_resume); the child forgets
 * the session and a pending start. */
void pypper_session_before_fork(void);
void pypper_session_after_fork_in_parent(void);
void pypper_session_after_fork_in_child(void);
/* With the GIL: the threads a fork joined start again, when `now` or when the settle
 * time has passed. Called at each collection (the live trace's callback) and before
 * each question to the engine (now). */
#define PYPPER_FORK_SETTLE_MS 50
void pypper_session_resume(bool now);

#endif
