/* Pypper/log.c: writes "pypper: LEVEL: message" lines to stderr when the message's
 * level is enabled by the LOG option. One write(2) per line, so lines from several
 * threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_int current_level = PYPPER_LOG_WARN;

void pypper_log_set_level(int level) { atomic_store_explicit(&current_level, level, memory_order_relaxed); }

int pypper_log_get_level(void) { return atomic_load_explicit(&current_level, memory_order_relaxed); }

void pypper_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"off", "error", "warning", "info", "debug"};
    if (level <= PYPPER_LOG_OFF || level > pypper_log_get_level())
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), "pypper: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
