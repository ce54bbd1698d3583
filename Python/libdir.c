/* Python/libdir.c: locates the pure-Python `pypper` package relative to the running
 * executable (resolved through /proc/self/exe, so venv symlinks work; a venv made with
 * --copies is resolved through sys._base_executable), for the build tree and for an
 * installed prefix. */
#include "libdir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int has_package(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/pypper/__init__.py", dir);
    return access(path, R_OK) == 0;
}

int pypper_find_libdir(const char *exe_path, char *buf, size_t len)
{
    char exe[PATH_MAX];
    if (exe_path) {
        if (!realpath(exe_path, exe))
            return -1;
    } else {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
            return -1;
        exe[n] = '\0';
    }
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    static const char *const relative[] = {"/build/lib", "/../lib/pypper"};
    for (size_t i = 0; i < sizeof(relative) / sizeof(relative[0]); i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof(cand), "%s%s", exe, relative[i]);
        char real[PATH_MAX];
        if (realpath(cand, real) && has_package(real) && strlen(real) < len) {
            strcpy(buf, real);
            return 0;
        }
    }
    return -1;
}
