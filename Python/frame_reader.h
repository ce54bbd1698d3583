/* Python/frame_reader.h: reads the Python frames of a thread (innermost first) without
 * the GIL and turns what their slots hold into evidence: an object newly in a slot of
 * the innermost frame (FRAME) or of a calling frame (CALLER), or still in the same
 * value-stack slot of the same frame as at the previous read, with no slot below it
 * pushed since (HOLD); either in the innermost frame's value stack while it runs an
 * instruction that hands its operands to C code that may read all their items, or a
 * list or tuple a loop's iterator walks in any frame (SCAN, said beside the other).
 * A local newly in a frame gives its evidence to what the frame's code reads from it
 * by attribute too (attr_reads.h).
 * Used by the sampler thread and by the signal sampler (frame_reader.c).
 * Async-signal-safe: no lock, no allocation. */
#ifndef PYPPER_FRAME_READER_H
#define PYPPER_FRAME_READER_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "../Pypper/temperature.h"
#include "attr_reads.h"

/* For functions that read memory another thread (or the code a signal interrupted)
 * owns, without synchronization: AddressSanitizer would report the poisoned redzones of
 * a stack, so they are not instrumented. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define PYPPER_FOREIGN_READER __attribute__((no_sanitize("address"), noinline))
#endif
#endif
#ifndef PYPPER_FOREIGN_READER
#define PYPPER_FOREIGN_READER
#endif

#define PYPPER_FRAME_MAX_DEPTH 64
#define PYPPER_FRAME_MAX_SLOTS 64
#define PYPPER_FRAME_MAX_BEYOND 64

/* One read of a thread's frames: each frame read, what each of its slots held, and
 * the container an iterator in a slot walked at the last read that followed it. */
typedef struct {
    void *frame[PYPPER_FRAME_MAX_DEPTH];
    PyObject *slot[PYPPER_FRAME_MAX_DEPTH][PYPPER_FRAME_MAX_SLOTS];
    PyObject *walked[PYPPER_FRAME_MAX_DEPTH][PYPPER_FRAME_MAX_SLOTS];
    int n[PYPPER_FRAME_MAX_DEPTH];      /* slots recorded */
    int shown[PYPPER_FRAME_MAX_DEPTH];  /* of which given as evidence (up to the top) */
    int depth;              /* frames read */
    /* For the innermost frame and those that called C code: the instruction each
     * runs (prev_instr), and which of its slots changed between the last read at
     * another instruction and the first at this one (all: a frame not seen before). */
    const void *instr[PYPPER_FRAME_MAX_DEPTH];
    uint64_t fresh[PYPPER_FRAME_MAX_DEPTH];
    /* Frames on the stack that the read did not read: those below the deepest one
     * read (addresses only), and, when the read ended early (a frame being pushed or
     * popped as it was read), the previous read's frames it did not reach. A frame
     * that comes back into a read from there shows nothing new: its slots are what
     * they were while it waited (a local main() keeps, never used again, took one
     * piece of evidence each time main came back from a call deeper than the read,
     * or the read ended early: the 8 MiB text a newcomer's ETL job parsed once was
     * its hottest object seconds later, 2026-12-06). */
    const void *beyond[PYPPER_FRAME_MAX_BEYOND];
    int nbeyond;
} pypper_frame_read;

/* A reader's memory (one per reader): the previous read and the one being made, in
 * turn. A frame is matched with the previous read's by its address, at any depth
 * (calls and returns in between move it), so that its slots are compared with its
 * own and not with those of the frame that was at its depth. */
typedef struct {
    pypper_frame_read buf[2];
    unsigned last;          /* the previous read: buf[last] */
    unsigned reads;         /* reads so far: iterators are followed in one of 8 */
    pypper_attr_cache attrs;    /* the attribute reads of the code objects met */
} pypper_frame_memory;

/* Iterators are followed in one read of PYPPER_FOLLOW_EVERY (a power of two). */
#define PYPPER_FOLLOW_EVERY 8u
/* What a sink is told, beside HOLD, FRAME or CALLER, of a traced list or tuple that a
 * loop's iterator walks, at a read that followed iterators: SCAN evidence standing for
 * PYPPER_FOLLOW_EVERY sightings, each a use of one of its items (Python/
 * scan_groups.h: its items take 1/n of them each, as much as the loop's variable shows
 * them in the frame on average). Not a kind of the model's. */
#define PYPPER_EVIDENCE_WALKED ((pypper_evidence)PYPPER_EVIDENCE_KINDS)

/* Called for each slot that holds a pointer into the heap's committed memory (never
 * read through here: the receiver decides what it is). */
typedef void (*pypper_frame_sink)(void *ctx, PyObject *object, pypper_evidence kind);

typedef struct {
    uint64_t frame_samples, slots_read;
    uint64_t attr_evidence;     /* of which given to objects read by attribute */
} pypper_frame_counts;

/* While Pypper's own code runs on a program thread (an engine step, Python/engine.c,
 * between two of the program's bytecodes; a call of Pypper's API): the program's
 * frames stand still for Pypper, and no C code of the program reads what their value
 * stacks hold meanwhile (no SCAN evidence: `pypper.temperatures(records)` is no use of
 * the records, and made them warm). Calls nest. A cyclic collection is told by the
 * interpreter's own flag. */
void pypper_frames_pause_begin(void);
void pypper_frames_pause_end(void);

/* Read up to `depth` frames of ts. Returns whether the innermost frame changed since
 * the previous read with the same memory: another frame, or a traced object newly in
 * one of its slots. */
bool pypper_frames_read(PyThreadState *ts, int depth, pypper_frame_memory *mem,
                        pypper_frame_sink sink, void *ctx, pypper_frame_counts *counts);

#endif
