/* Python/frame_locals.h: the live trace's walk of the threads' frames' locals
 * (frame_locals.c). */
#ifndef PYPPER_FRAME_LOCALS_H
#define PYPPER_FRAME_LOCALS_H

#include <stddef.h>

/* With the GIL, a session running: take a budget of the local variables of every
 * thread's frames as referents (what no container holds: a dict of atoms in a local,
 * a string, bytes), going on where the last step stopped. Returns the objects
 * tracked. */
size_t pypper_frame_locals_step(void);

#endif
