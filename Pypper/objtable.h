/* Pypper/objtable.h: the object table: the live objects the live trace knows, as a
 * dense array of entries (what the temperature work iterates) plus an open-addressing
 * index from block address to entry, so a freed block leaves in O(1). Not thread-safe:
 * callers serialize (the GIL, or the heap's serialization on the free path). */
#ifndef PYPPER_OBJTABLE_H
#define PYPPER_OBJTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *block;        /* the allocator's block start (the key) */
    void *object;       /* the PyObject inside it (after any GC or managed-dict header) */
    /* The temperature model's state of the object (Pypper/temperature.c). */
    float heat;         /* decayed sampler evidence, as of `stamp` */
    uint32_t stamp;     /* model time (ms since the session started) of heat */
    uint8_t klass;      /* cold, warm or hot, with hysteresis */
    uint8_t spare[7];
} pypper_obj_entry;

/* 0, or -1 when memory for the table could not be had (nothing changed). */
int pypper_objtable_add(void *block, void *object);
/* Make room for n entries without growing; 0 or -1 (no memory: nothing changed). */
int pypper_objtable_reserve(size_t n);
/* Remove block's entry; false when it has none. */
bool pypper_objtable_remove(void *block);
bool pypper_objtable_contains(const void *block);
/* block's entry (writable: the model's fields), or NULL; valid until the next add or
 * remove. */
pypper_obj_entry *pypper_objtable_find(const void *block);
/* Entry i of the dense array (i < count), writable like find's. */
pypper_obj_entry *pypper_objtable_at(size_t i);
size_t pypper_objtable_count(void);
/* The dense entries, valid until the next add or remove. */
const pypper_obj_entry *pypper_objtable_entries(void);
/* Forget every entry and free the table's memory. */
void pypper_objtable_clear(void);

#endif
