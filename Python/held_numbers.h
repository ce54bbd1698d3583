/* Python/held_numbers.h: the heat a list or tuple with evidence passes to the numbers
 * it holds, at the hand-over (Python/active_trace.c), under the GIL and the heap lock.
 * Numbers have no entry (unless LIVE_NUMBERS=1) and are read by C code that the frames
 * never show (sum(col)): they take the heat through their pages' heat (Pypper/
 * page_heat.h). Bounded per hand-over; nothing the pageout backend sent to swap is
 * read. */
#ifndef PYPPER_HELD_NUMBERS_H
#define PYPPER_HELD_NUMBERS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* A hand-over starts: `turn` counts them (it moves the items looked at). */
void pypper_held_numbers_begin(uint64_t turn);

/* op (a traced object with an entry) took evidence that stands for `uses` uses of its
 * items, which item unknown (held_numbers.c): each of its n items takes uses / n, its
 * numbers through their pages. */
void pypper_held_numbers_heat(PyObject *op, double uses, uint32_t now_ms);

/* Samples of numbers that heated pages (active_trace_stats()["number_heat"]); a
 * session start resets it. */
uint64_t pypper_held_numbers_heated(void);
void pypper_held_numbers_reset(void);

#endif
