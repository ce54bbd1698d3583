/* Python/error_line.h: a pending Python exception as one line on stderr, for the
 * places where no caller can take the exception (start-up, a delayed start). */
#ifndef PYPPER_ERROR_LINE_H
#define PYPPER_ERROR_LINE_H

/* "pypper: " + what + ": " + the exception's type and message (what NULL: the message
 * alone, as for a configuration error), control characters shown as '?', no
 * traceback. Clears the exception (none pending: "unknown error"). */
void pypper_report_exception_line(const char *what);

#endif
