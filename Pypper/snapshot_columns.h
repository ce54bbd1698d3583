/* Pypper/snapshot_columns.h: the layout of snapshot_data(columns=True)'s object
 * columns, shared by the code that writes them (Modules/snapshot_data.c) and the code
 * that reads them back in C (snapshot_rows_json, Pypper/group_sums.c). */
#ifndef PYPPER_SNAPSHOT_COLUMNS_H
#define PYPPER_SNAPSHOT_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

/* How an object's site was found (the `site_kind` of a row). */
enum {
    SITE_KIND_NOT_SAMPLED,       /* allocated in the session, its allocation not recorded */
    SITE_KIND_SAMPLED,           /* its own allocation was recorded */
    SITE_KIND_BUFFER,            /* the recorded (re)allocation of the buffer it owns */
    SITE_KIND_INFERRED,          /* a recorded object of its type in the same pool */
    SITE_KIND_BEFORE,            /* allocated before the session started */
    SITE_KIND_COUNT
};

/* Room for cap rows, column after column, in one buffer: address, size, owned bytes
 * (uint64), temperature (double), type and site (uint32: indexes of the type and
 * site tables; sites are alloc_sites ids until they are numbered), tier (0 fast,
 * 1 slow), class (PYPPER_COLD / WARM / HOT) and site kind (uint8). head (scratch of
 * the writer, not in the buffer): each row's object's distance from its block start,
 * in 16-byte granules (its pre-headers). */
#define PYPPER_SNAPSHOT_ROW_BYTES 44u
typedef struct {
    size_t cap;
    uint64_t *address, *size, *owned;
    double *temperature;
    uint32_t *type, *site;
    uint8_t *tier, *klass, *kind;
    uint8_t *head;
} pypper_snapshot_columns;

static inline void pypper_snapshot_columns_place(pypper_snapshot_columns *c, char *buf, size_t cap)
{
    c->cap = cap;
    c->address = (uint64_t *)buf;
    c->size = c->address + cap;
    c->owned = c->size + cap;
    c->temperature = (double *)(c->owned + cap);
    c->type = (uint32_t *)(c->temperature + cap);
    c->site = c->type + cap;
    c->tier = (uint8_t *)(c->site + cap);
    c->klass = c->tier + cap;
    c->kind = c->klass + cap;
    c->head = NULL;
}

/* One row's values, and writing them at row i. */
typedef struct {
    uint64_t address, size, owned;
    double temperature;
    uint32_t type, site;
    uint8_t tier, klass, kind;
} pypper_snapshot_row;

static inline void pypper_snapshot_columns_set(pypper_snapshot_columns *c, size_t i,
                                               const pypper_snapshot_row *r)
{
    c->address[i] = r->address;
    c->size[i] = r->size;
    c->owned[i] = r->owned;
    c->temperature[i] = r->temperature;
    c->type[i] = r->type;
    c->site[i] = r->site;
    c->tier[i] = r->tier;
    c->klass[i] = r->klass;
    c->kind[i] = r->kind;
}

#endif
