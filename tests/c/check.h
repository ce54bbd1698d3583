/* tests/c/check.h: a minimal C unit-test harness. CHECK() records one assertion;
 * check_report() prints "N passed, N failed" and gives the exit status; ASAN tells a
 * sanitizer build. */
#ifndef PYPPER_CHECK_H
#define PYPPER_CHECK_H

#include <stdio.h>

/* ASAN: defined in an AddressSanitizer build (gcc and clang spell it differently). */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif

static int check_passed, check_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            check_passed++;                                                           \
        } else {                                                                      \
            check_failed++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

static inline int check_report(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
