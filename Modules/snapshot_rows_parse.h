/* Modules/snapshot_rows_parse.h: _pypper.snapshot_rows_parse(), defined in
 * Modules/snapshot_rows_parse.c and listed among the temperature functions
 * (Modules/temperature_api.c). */
#ifndef PYPPER_MODULES_SNAPSHOT_ROWS_PARSE_H
#define PYPPER_MODULES_SNAPSHOT_ROWS_PARSE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* snapshot_rows_parse(text, pos, after_row, columns, tables) -> (pos, after_row, ended):
 * the object rows of a snapshot file (format version 2) in text from pos on, as far
 * as whole rows go: their values appended to columns (9 bytearrays: address, size,
 * owned bytes as uint64, temperature as double, type and site as uint32, tier, class
 * and site kind as uint8, numbers of the names), the JSON text of each distinct name
 * (bytes, quotes included, or b"null") numbered in tables (5 dicts: types, sites,
 * tiers, classes, kinds). after_row: a row came before pos (a comma is due). Returns
 * where the next call starts (after the last whole row, or after the array's closing
 * bracket), the new after_row, and whether the array ended. ValueError for text that
 * is not such rows. */
PyObject *pypper_snapshot_rows_parse(PyObject *module, PyObject *args);

#endif
