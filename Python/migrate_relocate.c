/* Python/migrate_relocate.c: the relocation pass (GIL held): copies the owned buffers
 * the walk chose to the other tier's arenas (owned_buffers.c; Doc/design.md §5) and
 * gives the freed pages back; and the report of what could be relocated. */
#include "migrate_internal.h"

#include "../Objects/track.h"

#include "../Pypper/stats.h"
#include "../Pypper/code_size.h"

/* The pages of [block, block + size): where they are is not known any more (asked
 * again this round). A relocation frees the old copy's pages and fills the new
 * copy's (in the other tier's arenas, or moved there whole). The pages the heap
 * gives back afterwards are forgotten by every discard (migrate_discards.c); this
 * covers the rest of both copies, whatever way their pages changed. */
static void forget_where(const void *block, size_t size)
{
    if (!block || !size)
        return;
    size_t first = pypper_heap_page_index(block);
    size_t last = pypper_heap_page_index((const char *)block + size - 1);
    for (size_t index = first; index <= last && index < M.slots; index++)
        set_where(index, PL_UNKNOWN);
}

/* Relocations (the heap is entered again: outside the table's lock). Each leaves the
 * old buffer's space free in its arena: every DISCARD_EVERY bytes moved, and at the
 * end, the free pages go back, or a session would hold both copies. */
PYPPER_SMALL_CODE void pypper_mig_relocate_queued(void)
{
    uint64_t since_discard = 0;
    for (size_t i = 0; i < M.nreloc; i++) {
        size_t bytes;
        pypper_owned_buffer before, after;
        pypper_block_info old_block = {0}, new_block = {0};
        pypper_owned_buffer_of(M.reloc[i].object, &before);
        if (before.block)
            pypper_heap_lookup(before.block, &old_block);     /* (freed by the move) */
        pypper_stat_add(PYPPER_STAT_RELOCATE_TRIED, 1);
        int rc = pypper_relocate_buffer(M.reloc[i].object, M.reloc[i].tier, &bytes);
        if (rc > 0) {
            pypper_owned_buffer_of(M.reloc[i].object, &after);
            if (after.block)
                pypper_heap_lookup(after.block, &new_block);
            if (old_block.allocated)
                forget_where(old_block.block, old_block.size);
            if (new_block.allocated)
                forget_where(new_block.block, new_block.size);
            M.cur.relocated_buffers++;
            M.cur.relocated_bytes += bytes;
            since_discard += bytes;
            pypper_stat_add(PYPPER_STAT_RELOCATE_DONE, 1);
            pypper_stat_add(PYPPER_STAT_RELOCATE_BYTES, bytes);
        } else if (rc < 0) {
            M.cur.failed++;
            pypper_stat_add(PYPPER_STAT_RELOCATE_FAILED, 1);
        }
        if (since_discard >= DISCARD_EVERY || (i + 1 == M.nreloc && since_discard)) {
            bool relock = pypper_heap_lock();
            M.cur.discarded_pages += pypper_heap_discard_free_pages();
            pypper_heap_unlock(relock);
            since_discard = 0;
        }
    }
}

PyObject *pypper_migrate_relocatable_report(void)
{
    uint64_t by_kind[PYPPER_BUF_KINDS] = {0}, movable[PYPPER_BUF_KINDS] = {0};
    uint64_t objects = 0, object_bytes = 0;
    (void)pypper_owned_buffers_init();
    bool locked = pypper_heap_lock();
    uint64_t cursor = 0;
    pypper_tracked_block t;
    while (pypper_heap_tracked_next(&cursor, UINT64_MAX, &t)) {
        pypper_block_info info;
        pypper_heap_lookup(t.block, &info);
        if (!info.allocated || !t.object)
            continue;
        objects++;
        object_bytes += info.size;
        if (!pypper_mig_readable_without_fault(info.block))
            continue;
        pypper_owned_buffer b;
        pypper_owned_buffer_of((PyObject *)t.object, &b);
        by_kind[b.kind] += b.size;
        if (b.movable)
            movable[b.kind] += b.size;
    }
    pypper_heap_unlock(locked);
    pypper_heap_stats hs;
    pypper_heap_get_stats(&hs);
    uint64_t buffers = 0, movable_total = 0;
    PyObject *kinds = PyDict_New();
    for (int k = PYPPER_BUF_LIST; kinds && k < PYPPER_BUF_KINDS; k++) {
        buffers += by_kind[k];
        movable_total += movable[k];
        PyObject *v = PyLong_FromUnsignedLongLong(by_kind[k]);
        if (!v || PyDict_SetItemString(kinds, pypper_buf_kind_name((pypper_buf_kind)k), v) < 0) {
            Py_XDECREF(v);
            Py_CLEAR(kinds);
            break;
        }
        Py_DECREF(v);
    }
    if (!kinds)
        return NULL;
    return Py_BuildValue("{sKsKsKsKsKsN}",
                         "heap_bytes", (unsigned long long)(hs.tier[0].bytes_in_use + hs.tier[1].bytes_in_use),
                         "objects", (unsigned long long)objects,
                         "object_bytes", (unsigned long long)object_bytes,
                         "buffer_bytes", (unsigned long long)buffers,
                         "movable_buffer_bytes", (unsigned long long)movable_total,
                         "by_kind", kinds);
}

