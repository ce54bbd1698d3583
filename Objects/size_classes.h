/* Objects/size_classes.h: the pooled size classes: 16-byte steps up to SMALL_MAX,
 * one 16 KiB pool per class at a time. */
#ifndef PYPPER_SIZE_CLASSES_H
#define PYPPER_SIZE_CLASSES_H

#include "heap_layout.h"

extern unsigned pypper_nclasses;
extern uint16_t pypper_class_size[MAX_CLASSES];
extern uint16_t pypper_class_capacity[MAX_CLASSES];

void size_classes_init(void);

/* The class of a request of n <= SMALL_MAX bytes (malloc(0) gets 16 bytes). */
static inline unsigned size_class_of(size_t n)
{
    return n ? (unsigned)((n - 1) / GRANULE) : 0;
}

#endif
