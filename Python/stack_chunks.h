/* Python/stack_chunks.h: keeps the memory of Python frames readable for the sampler
 * thread, which reads frames without the GIL: the interpreter's frame-stack chunks
 * (and the C stack range of the sampled thread) are known, and freed chunks stay
 * mapped while a session runs. */
#ifndef PYPPER_STACK_CHUNKS_H
#define PYPPER_STACK_CHUNKS_H

#include <Python.h>
#include <stdbool.h>

/* With the GIL, in the thread whose frames will be read: route the interpreter's
 * arena allocator (which serves frame-stack chunks) through a registry that keeps
 * freed chunks mapped, and register tstate's current chunks and C stack. 0 or -1. */
int pypper_stack_chunks_start(PyThreadState *tstate);
/* With the GIL, after the sampler stopped: restore the previous allocator and give
 * the kept chunks back. */
void pypper_stack_chunks_stop(void);
/* With the GIL, now and then: the C stack may have grown since start. */
void pypper_stack_chunks_refresh(void);
/* Any thread: whether [p, p+len) lies in memory that stays mapped for the session
 * (a known chunk, the sampled thread's C stack, or a committed arena of the heap). */
bool pypper_stack_chunks_readable(const void *p, size_t len);

#endif
