/* Modules/snapshot_data.h: _pypper.snapshot_data(), the data of a snapshot (every
 * traced object and every page they occupy), defined in Modules/snapshot_data.c and
 * listed among the temperature functions (Modules/temperature_api.c). */
#ifndef PYPPER_MODULES_SNAPSHOT_DATA_H
#define PYPPER_MODULES_SNAPSHOT_DATA_H

#include <Python.h>

#include "../Python/site_infer.h"

/* snapshot_data([min_temperature[, untraced[, columns]]]) */
PyObject *pypper_snapshot_data(PyObject *module, PyObject *args);

/* Entries of the object table whose own allocation was recorded (the seeds of site
 * inference), and seeding t with at most `room` of them, settled: the objects'
 * types are read (resident ones only), so under the heap's serialization where the
 * table must not change (snapshots) or with the GIL (hot_objects). */
size_t pypper_recorded_site_count(void);
void pypper_seed_recorded_sites(site_infer *t, size_t room);

/* snapshot_sums(frame_min_t, machinery): the objects summed per (site, type) and per
 * site instead of listed, and every page in use with its heat, untraced bytes'
 * included (a capture's groups and frame records). */
PyObject *pypper_snapshot_sums(PyObject *module, PyObject *args);

/* snapshot_rows_json(columns, n, capacity, start, stop, types, sites, tiers, classes,
 * kinds) -> bytes: the file format's JSON text of those object rows. */
PyObject *pypper_snapshot_rows_json(PyObject *module, PyObject *args);

#endif
