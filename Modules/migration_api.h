/* Modules/migration_api.h: the migration functions of _pypper (migrate_now,
 * migration_stats, placement_map, relocatable_report), in Modules/migration_api.c. */
#ifndef PYPPER_MODULES_MIGRATION_API_H
#define PYPPER_MODULES_MIGRATION_API_H

#include <Python.h>

extern PyMethodDef pypper_migration_methods[];

#endif
