/* Python/engine.h: the engine: one step of the pipeline, sources -> evidence ->
 * model -> planner -> actuators, in that order, and the only place that calls the
 * stages one after another (Python/engine.c). A session component (Python/session.c):
 * it connects the stages while a session runs. With the GIL held. */
#ifndef PYPPER_ENGINE_H
#define PYPPER_ENGINE_H

#include <Python.h>
#include <stdbool.h>

#include "migrate.h"
#include "../Pypper/options.h"

/* The session component: connect the stages (the sampler's hand-over runs the step;
 * the sources ask the migration plane whether a page may be read), and disconnect. */
int pypper_engine_start(const pypper_config *cfg);
void pypper_engine_stop(void);
/* One step: feed (the live trace's settle and rescan slice, then the sampler's
 * evidence to the model) and/or collect (a migration round, when one is due). */
void pypper_engine_step(bool feed, bool collect);
/* With the GIL, before a question about the live set (temperatures, hot and cold
 * listings, snapshots): what the GC promoted since the last step walked, and the
 * sampler's evidence so far given to the model. */
void pypper_engine_catch_up(void);
/* Called first by catch_up and migrate_now (with true): the session's threads that a
 * fork joined start again (Python/session.h). NULL: none. */
void pypper_engine_set_resume_hook(void (*fn)(bool now));
/* pypper.migrate_now(): the evidence so far to the model, then one whole round.
 * 0, or -1 with a Python exception when no session runs. */
int pypper_engine_migrate_now(pypper_migrate_result *out);
/* pypper.placement_map(), with the model's time; new reference. */
PyObject *pypper_engine_placement_map(void);

#endif
