/* Pypper/log.h: Pypper's one reporting path to stderr, filtered by the LOG option. */
#ifndef PYPPER_LOG_H
#define PYPPER_LOG_H

#include "options.h"

void pypper_log_set_level(int level);       /* pypper_log_level */
int pypper_log_get_level(void);
void pypper_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
