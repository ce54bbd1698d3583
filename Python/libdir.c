/* Python/libdir.c: locates the pure-Python `pypper` package relative to the running
 * executable (resolved through /proc/self/exe, so venv symlinks work; a venv made with
 * --copies is resolved through sys._base_executable), for the build tree and for an
 * installed prefix. */
#include "libdir.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Stack use is kept small (two path buffers; realpath allocates its result): this
 * runs at every start of the drop-in, below frames the stock interpreter leaves
 * mostly untouched, so every page written here is a page more resident. */
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
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s%s", exe, relative[i]);
        char *real = realpath(path, NULL);
        if (!real)
            continue;
        /* Has the package: <real>/pypper/__init__.py is readable. */
        snprintf(path, sizeof(path), "%s/pypper/__init__.py", real);
        bool found = access(path, R_OK) == 0 && strlen(real) < len;
        if (found)
            strcpy(buf, real);
        free(real);
        if (found)
            return 0;
    }
    return -1;
}
