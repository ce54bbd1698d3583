/* Objects/size_classes.c: builds the size-class tables once at heap start-up.
 * Small classes (16..512 bytes, every 16) keep CPython's 16-byte alignment; medium
 * classes are the largest multiple of 16 that fits k times in a pool, for k = 31..8,
 * in 16 KiB pools up to 2 KiB and in 64 KiB pools above, so classes are 3-13% apart
 * and a pool wastes less than one granule per block. */
#include "size_classes.h"

unsigned pypper_nclasses;
uint16_t pypper_class_size[MAX_CLASSES];
uint16_t pypper_class_capacity[MAX_CLASSES];
uint8_t pypper_class_slots[MAX_CLASSES];
uint8_t pypper_size_to_class[MEDIUM_MAX / GRANULE + 1];

void size_classes_init(void)
{
    if (pypper_nclasses)
        return;
    unsigned n = 0;
    for (unsigned size = GRANULE; size <= SMALL_MAX; size += GRANULE)
        pypper_class_size[n++] = (uint16_t)size;
    for (unsigned slots = 1; slots <= BIG_POOL_SLOTS; slots *= BIG_POOL_SLOTS) {
        unsigned pool = slots * POOL_SIZE;
        unsigned limit = slots == 1 ? BIG_POOL_MIN - 1 : MEDIUM_MAX;
        for (unsigned k = 31; k >= 8; k--) {
            unsigned size = (pool / k) & ~(GRANULE - 1);
            if (size > pypper_class_size[n - 1] && size <= limit) {
                pypper_class_slots[n] = (uint8_t)slots;
                pypper_class_size[n++] = (uint16_t)size;
            }
        }
    }
    for (unsigned c = 0; c < n; c++) {
        if (!pypper_class_slots[c])
            pypper_class_slots[c] = 1;
        pypper_class_capacity[c] =
            (uint16_t)(pypper_class_slots[c] * POOL_SIZE / pypper_class_size[c]);
    }
    unsigned c = 0;
    for (unsigned i = 0; i <= MEDIUM_MAX / GRANULE; i++) {
        unsigned want = i ? i * GRANULE : GRANULE;     /* malloc(0) gets 16 bytes */
        while (pypper_class_size[c] < want)
            c++;
        pypper_size_to_class[i] = (uint8_t)c;
    }
    pypper_nclasses = n;
}
