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
 * `owner` owns (a dict's keys object or values array, a list's item array, an
 * OrderedDict's node index or one of its nodes: the block holds it, from its start or
 * after a few bytes of colour or prefix), from up to 64 references held there (a
 * list's items, a dict's values reached from its entries or from its index slots, a
 * set's keys; a node index slot or a node: the value of the same index slot's or of
 * the node's key). A part is read whenever one of them is reached through it: as
 * often as all of them together. The heats of those with their own evidence, each
 * counted for the slots it stands for, spread over the part's 64-byte lines (an
 * object's use reads a line too), give its temperature on the objects' scale. The
 * hottest of them was the rule until 2026-12-05: one reference in 12 falsely hot (a
 * sampled once, rarely used profile of a Zipf-read LRU cache) then made every page of
 * the cache's table hot. When none has evidence of its own, the mean temperature of
 * those known by their pages' heat. -1 when that part holds no reference with a
 * temperature (a bytearray's data, a header, items outside the heap), or when the
 * buffer is not resident. */
double pypper_buffer_part_temperature(PyObject *owner, const void *block, size_t size,
                                      const void *from, const void *to, uint32_t now_ms);

#endif
