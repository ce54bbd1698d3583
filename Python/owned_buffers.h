/* Python/owned_buffers.h: the out-of-line buffers a Python object owns alone, and
 * their relocation to another tier of the heap (Doc/design.md §5). GIL held. */
#ifndef PYPPER_OWNED_BUFFERS_H
#define PYPPER_OWNED_BUFFERS_H

#include <Python.h>
#include <stdbool.h>

typedef enum {
    PYPPER_BUF_NONE = 0,
    PYPPER_BUF_LIST,            /* ob_item */
    PYPPER_BUF_DICT,            /* combined-table keys (and values) */
    PYPPER_BUF_SET,             /* the hash table when not the small table */
    PYPPER_BUF_BYTEARRAY,       /* ob_bytes */
    PYPPER_BUF_ARRAY,           /* array.array's ob_item */
    PYPPER_BUF_KINDS
} pypper_buf_kind;

typedef struct {
    pypper_buf_kind kind;
    void *block;                /* the buffer (a heap block), NULL: none */
    size_t size;                /* bytes of it in use by the object */
    bool movable;               /* the rules of §5 allow moving it now */
} pypper_owned_buffer;

/* OrderedDict's object, as Objects/odictobject.c lays it out in 3.12 (private there):
 * its node index (od_fast_nodes: for each index slot of its keys table, the node of
 * the key in that slot) and its nodes, PyMem blocks {key, hash, next, prev}. */
typedef struct {
    PyDictObject od_dict;
    void *od_first, *od_last;
    void **od_fast_nodes;
    Py_ssize_t od_fast_nodes_size;
    void *od_resize_sentinel;
    size_t od_state;
    PyObject *od_inst_dict, *od_weakreflist;
} pypper_odict_layout;

/* op as an OrderedDict, NULL when it is not one or the type's size says the layout
 * is not this one. */
static inline pypper_odict_layout *pypper_odict(PyObject *op)
{
    return PyType_IsSubtype(Py_TYPE(op), &PyODict_Type)
                   && PyODict_Type.tp_basicsize == sizeof(pypper_odict_layout)
               ? (pypper_odict_layout *)op
               : NULL;
}

/* Look up array.array once per session; 0 or -1 (array could not be imported: its
 * buffers are then not considered). */
int pypper_owned_buffers_init(void);
const char *pypper_buf_kind_name(pypper_buf_kind k);

/* Whether objects of tp can own one of these buffers (now or after growing). */
bool pypper_type_may_own_buffer(PyTypeObject *tp);
/* What buffer op owns; kind NONE when op has none or it is not in Pypper's heap.
 * Reads op's header and fields only. */
void pypper_owned_buffer_of(PyObject *op, pypper_owned_buffer *out);
/* Bytes of the heap blocks op owns alone, beyond its own block (usable sizes, as the
 * heap gives them): a list's item array; a dict's keys table when no other dict shares
 * it, or its values array (split tables); a set's table; a bytearray's or array's
 * data; an OrderedDict's node index and its nodes; an instance's attribute values
 * array (managed dict not materialized). *main gets the largest such block (its
 * allocation site stands for the buffer), or NULL. Reads op's fields and the heap's
 * metadata only; 0 for anything else. GIL held. */
size_t pypper_owned_bytes(PyObject *op, const void **main);
/* The same, showing each block to visit(block, usable size, arg) as well. */
typedef void (*pypper_owned_visit_fn)(const void *block, size_t size, void *arg);
size_t pypper_owned_blocks(PyObject *op, const void **main, pypper_owned_visit_fn visit, void *arg);
/* Copy op's buffer into a new block of `tier`, point op at it, free the old one.
 * 1 moved, 0 not movable now (or already there), -1 no memory in that tier (nothing
 * changed). *bytes gets the size moved. */
int pypper_relocate_buffer(PyObject *op, unsigned tier, size_t *bytes);

#endif
