/* Modules/profile_api.h: the Python face of allocation-site profiles
 * (Python/site_profile.h; the file itself is Lib/pypper/_profile.py's). */
#ifndef PYPPER_PROFILE_API_H
#define PYPPER_PROFILE_API_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

extern PyMethodDef pypper_profile_methods[];

#endif
