/* Objects/size_classes.h: the pooled size classes: 16-byte steps up to 512 bytes,
 * then sizes that divide a pool with little waste: 16 KiB pools up to 2 KiB, 64 KiB
 * pools from there to 8 KiB. */
#ifndef PYPPER_SIZE_CLASSES_H
#define PYPPER_SIZE_CLASSES_H

#include "heap_layout.h"

extern unsigned pypper_nclasses;
extern uint16_t pypper_class_size[MAX_CLASSES];
extern uint16_t pypper_class_capacity[MAX_CLASSES];
extern uint8_t pypper_class_slots[MAX_CLASSES];      /* pool slots per pool */
/* Index (n + 15) >> 4 for n <= MEDIUM_MAX. */
extern uint8_t pypper_size_to_class[MEDIUM_MAX / GRANULE + 1];

void size_classes_init(void);

static inline unsigned size_class_of(size_t n)
{
    return pypper_size_to_class[(n + GRANULE - 1) / GRANULE];
}

#endif
