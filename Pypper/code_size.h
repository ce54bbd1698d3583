/* Pypper/code_size.h: compiling a function for size. The code a tracing session runs
 * must fit two 64 KiB windows of the binary (Tools/text_order.py orders it;
 * tests/test_startup_rss.py checks it): what runs once a session (starts) or a few
 * times a second is built for size, not speed. GCC only (clang has no per-function
 * optimization level); PYPPER_RARE_CODE: the other way round. */
#ifndef PYPPER_CODE_SIZE_H
#define PYPPER_CODE_SIZE_H

#if defined(__GNUC__) && !defined(__clang__)
#define PYPPER_SMALL_CODE __attribute__((optimize("Os")))
#else
#define PYPPER_SMALL_CODE
#endif

/* What runs only on a rare event (a gc.freeze()): out of line and out of the windows
 * (.text.unlikely), so its callers keep only a test and a call there. */
#if defined(__GNUC__)
#define PYPPER_RARE_CODE __attribute__((noinline, cold))
#else
#define PYPPER_RARE_CODE
#endif

#endif
