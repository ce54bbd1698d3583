/* Python/frame_locals.c: the live trace's walk of what only the threads' frames hold.
 * The GC's lists hold containers, and the walks take what those refer to; a local
 * variable of a running function is held by its frame, which no GC list holds (the
 * frame of a generator or coroutine is inside its object, which they do). A dict of
 * strings and numbers, a tuple of atoms, a string or bytes held in a local only was
 * never traced: a text pipeline's vocabulary (a str -> int dict of 30,000 words, a
 * local of its main function) was missing from the report's table by type
 * (2026-12-06). At each step, with the GIL (every other thread waits for it, its frames
 * still, as sys._current_frames() reads them), the locals of every thread's complete
 * frames are taken as referents (Python/live_trace.h: pypper_live_trace_take_held),
 * innermost first, at most FRAME_SLOTS_PER_STEP of them a step: a deeper stack is
 * taken over several steps, each going on where the last stopped. The value stack
 * (temporaries) is not read. */
#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"

#include "frame_locals.h"
#include "live_trace.h"

/* Slots taken per step: a program's frames hold a few hundred (a visit of a slot
 * already tracked is a bitmap probe); a recursion 1,000 deep, more, over several steps. */
#define FRAME_SLOTS_PER_STEP 8192

static uint64_t skip_next;      /* slots passed over at the next step's start */

size_t pypper_frame_locals_step(void)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    uint64_t seen = 0, skip = skip_next;
    size_t taken = 0, found = 0;
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts)) {
        _PyCFrame *cf = ts->cframe;
        for (_PyInterpreterFrame *f = cf ? cf->current_frame : NULL; f; f = f->previous) {
            if (f->owner == FRAME_OWNED_BY_CSTACK || _PyFrame_IsIncomplete(f))
                continue;                       /* an entry shim; a frame being set up */
            PyCodeObject *code = f->f_code;
            size_t n = (size_t)code->co_nlocalsplus;
            if (seen + n <= skip) {
                seen += n;
                continue;
            }
            size_t from = seen < skip ? (size_t)(skip - seen) : 0;
            size_t room = FRAME_SLOTS_PER_STEP - taken;
            size_t count = n - from < room ? n - from : room;
            found += pypper_live_trace_take_held(f->localsplus + from, count);
            taken += count;
            seen += from + count;
            if (taken == FRAME_SLOTS_PER_STEP) {
                skip_next = seen;       /* the next step goes on from here */
                return found;
            }
        }
    }
    skip_next = 0;                      /* all taken: from the innermost again */
    return found;
}
