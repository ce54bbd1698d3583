/* Pypper/components.h: a session's parts as an ordered table of components, each
 * with start, stop and fork hooks, and the rules for running them: start in table
 * order, and on a failure stop the ones already started in reverse; stop in reverse;
 * before a fork in reverse (the last started is the first quiet), after it in the
 * parent in order, in the child in reverse. Only started components are called.
 * Pure C: the table itself (Python/session.c) says what the components are. The
 * caller serializes the calls (the GIL, in the interpreter). */
#ifndef PYPPER_COMPONENTS_H
#define PYPPER_COMPONENTS_H

#include "options.h"

#include <stddef.h>

typedef struct {
    const char *name;
    /* 0, or -1 when it cannot start (having undone its own work; the reason is
     * reported by it, e.g. as a Python exception). NULL: nothing to start. */
    int (*start)(const pypper_config *cfg);
    void (*stop)(void);                   /* NULL hooks are skipped */
    void (*before_fork)(void);
    void (*after_fork_parent)(void);
    void (*after_fork_child)(void);       /* the child's copy forgets the session */
} pypper_component;

typedef struct {
    const pypper_component *table;
    size_t count;
    size_t started;                       /* table[0 .. started) are running */
    const char *failed;                   /* the last start's failed component, or NULL */
} pypper_components;

/* Start table[0 .. n) in order (n <= count; the components after n are not wanted
 * this time). 0 when all started; else the failed one (named in c->failed) has undone its own
 * work, those before it are stopped in reverse, and -1 is returned. */
int pypper_components_start(pypper_components *c, size_t n, const pypper_config *cfg);
/* Stop the started components in reverse order. */
void pypper_components_stop(pypper_components *c);
void pypper_components_before_fork(pypper_components *c);
void pypper_components_after_fork_parent(pypper_components *c);
/* In the child: each started component forgets, in reverse; none is started after. */
void pypper_components_after_fork_child(pypper_components *c);

#endif
