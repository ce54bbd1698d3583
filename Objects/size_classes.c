/* Objects/size_classes.c: builds the size-class tables once at heap start-up: the
 * pooled classes are 16..512 bytes, every 16, like pymalloc's, keeping CPython's
 * 16-byte alignment. Larger blocks are medium (medium.c) or page runs (large.c). */
#include "size_classes.h"

unsigned pypper_nclasses;
uint16_t pypper_class_size[MAX_CLASSES];
uint16_t pypper_class_capacity[MAX_CLASSES];

void size_classes_init(void)
{
    if (pypper_nclasses)
        return;
    unsigned n = 0;
    for (unsigned size = GRANULE; size <= SMALL_MAX; size += GRANULE) {
        pypper_class_size[n] = (uint16_t)size;
        pypper_class_capacity[n] = (uint16_t)(POOL_SIZE / size);
        n++;
    }
    pypper_nclasses = n;
}
