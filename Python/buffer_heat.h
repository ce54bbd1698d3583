/* Python/buffer_heat.h: the temperature of an object in the heap, and of a part of a
 * buffer an object owns, from the objects that part refers to. A hot list appended to
 * (an access log) or a hot dict whose lookups touch a few of its keys is used through a
 * small part of its buffer: the rest is as cold as the items it holds. Used by
 * snapshots (Modules/snapshot_data.c) to class owned buffers page by page. */
#ifndef PYPPER_BUFFER_HEAT_H
#define PYPPER_BUFFER_HEAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* An object with an entry: its own evidence, plus its share of its page's writes when
 * write tracking runs (Pypper/attribution.h); any other mortal object in an allocated
 * block of the heap: its page's heat (Pypper/page_heat.h); -1 for objects outside the
 * heap, immortal ones, and (with `resident_only`) ones whose page the pageout backend
 * sent to swap (their reference count is not read). Heap lock held by the caller. */
double pypper_object_temperature(PyObject *obj, uint32_t now_ms, int resident_only);

/* The temperature of the bytes [from, to) of the heap block [block, block + size) that
 * `owner` owns (a dict's keys object or values array, a list's item array: the block
 * holds it, from its start or after a few bytes of colour or prefix), from up to
 * 64 references held there (a list's items, a dict's values reached from its entries
 * or from its index slots, a set's keys): a part is read whenever any of them is
 * reached through it, so it is as hot as the hottest of those with their own
 * evidence; when none has any, the mean temperature of those known by their pages'
 * heat. -1 when that part holds no reference with a temperature (a bytearray's data,
 * a header, items outside the heap), or when the buffer is not resident. */
double pypper_buffer_part_temperature(PyObject *owner, const void *block, size_t size,
                                      const void *from, const void *to, uint32_t now_ms);

#endif
