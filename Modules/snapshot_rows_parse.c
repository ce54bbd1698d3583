/* Modules/snapshot_rows_parse.c: _pypper.snapshot_rows_parse(), reading a snapshot
 * file's object rows (format version 2, as Snapshot.save writes them) back into the
 * columns of Pypper/snapshot_columns.h a piece of text at a time, so that
 * pypper.load() makes no Python object per row (Lib/pypper/_snapshot.py). Strict: any
 * text it does not expect is an error, and the caller then reads the file the slow,
 * general way (json), which also says what is wrong with it. */
#include "snapshot_rows_parse.h"

#include "../Pypper/snapshot_columns.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Columns of one call (Pypper/snapshot_columns.h, in one buffer of cap rows),
 * appended to the caller's bytearrays at its end. */
typedef struct {
    size_t n;
    char *buf;
    pypper_snapshot_columns cols;
} rows;

static bool rows_init(rows *r, size_t cap)
{
    r->n = 0;
    r->buf = PyMem_RawMalloc(cap * PYPPER_SNAPSHOT_ROW_BYTES);
    if (r->buf)
        pypper_snapshot_columns_place(&r->cols, r->buf, cap);
    return r->buf != NULL;
}

static void rows_free(rows *r)
{
    PyMem_RawFree(r->buf);
    r->buf = NULL;
}

/* The text, a position in it, and why parsing stopped. */
typedef struct {
    const char *p, *end;
    bool short_text;        /* the text ended inside a row: more is needed */
    const char *error;      /* a static message, or NULL */
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static bool fail(cursor *c, const char *why)
{
    if (!c->short_text && !c->error)
        c->error = why;
    return false;
}

/* The character ch after optional space. */
static bool expect(cursor *c, char ch)
{
    skip_space(c);
    if (c->p >= c->end) {
        c->short_text = true;
        return false;
    }
    if (*c->p != ch)
        return fail(c, "unexpected character");
    c->p++;
    return true;
}

/* A token ends at a delimiter; at the end of the text it may go on in the next piece. */
static bool token_end(cursor *c, const char *q)
{
    if (q >= c->end) {
        c->short_text = true;
        return false;
    }
    return true;
}

/* A non-negative JSON integer that fits 64 bits. */
static bool unsigned_int(cursor *c, uint64_t *out)
{
    skip_space(c);
    const char *q = c->p;
    uint64_t v = 0;
    while (q < c->end && *q >= '0' && *q <= '9') {
        unsigned d = (unsigned)(*q - '0');
        if (v > (UINT64_MAX - d) / 10)
            return fail(c, "integer out of range");
        v = v * 10 + d;
        q++;
    }
    if (!token_end(c, q))
        return false;
    if (q == c->p || (q - c->p > 1 && *c->p == '0'))
        return fail(c, "not an integer");
    *out = v;
    c->p = q;
    return true;
}

/* Whether [p, end) is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return false;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    if (p < end && *p == '.') {
        const char *digits = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return false;
    }
    return p == end;
}

/* A JSON number (a temperature), through CPython's locale-independent parser. */
static bool number(cursor *c, double *out)
{
    skip_space(c);
    const char *q = c->p;
    while (q < c->end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.'
                          || *q == 'e' || *q == 'E'))
        q++;
    if (!token_end(c, q))
        return false;
    size_t len = (size_t)(q - c->p);
    char buf[64];
    if (!len || len >= sizeof(buf) || !json_number(c->p, q))
        return fail(c, "not a number");
    memcpy(buf, c->p, len);
    buf[len] = '\0';
    char *stop = NULL;
    double v = PyOS_string_to_double(buf, &stop, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return fail(c, "not a number");
    }
    if (!stop || *stop != '\0')
        return fail(c, "not a number");
    *out = v;
    c->p = q;
    return true;
}

/* A name table: the JSON text of each distinct token (a string with its quotes, or
 * null) -> its number, in a dict of bytes the caller keeps across calls (and decodes
 * with json at the end); the last token looked up is remembered (rows repeat). */
typedef struct {
    PyObject *dict;
    const char *last;
    size_t last_len;
    uint32_t last_index;
    uint32_t limit;         /* numbers must fit the column (255 for uint8 columns) */
} names;

static bool name_index(cursor *c, names *t, const char *tok, size_t len, uint32_t *out)
{
    if (t->last && t->last_len == len && memcmp(t->last, tok, len) == 0) {
        *out = t->last_index;
        return true;
    }
    PyObject *key = PyBytes_FromStringAndSize(tok, (Py_ssize_t)len);
    if (!key)
        return fail(c, "out of memory");
    PyObject *v = PyDict_GetItemWithError(t->dict, key);
    uint32_t index;
    if (v) {
        unsigned long got = PyLong_AsUnsignedLong(v);
        if ((got == (unsigned long)-1 && PyErr_Occurred()) || got > t->limit) {
            PyErr_Clear();
            Py_DECREF(key);
            return fail(c, "a name table holds a bad number");
        }
        index = (uint32_t)got;
    } else if (PyErr_Occurred()) {
        Py_DECREF(key);
        return fail(c, "out of memory");
    } else {
        Py_ssize_t size = PyDict_GET_SIZE(t->dict);
        if ((uint64_t)size > t->limit) {
            Py_DECREF(key);
            return fail(c, "too many names");
        }
        PyObject *num = PyLong_FromSsize_t(size);
        int r = num ? PyDict_SetItem(t->dict, key, num) : -1;
        Py_XDECREF(num);
        if (r < 0) {
            Py_DECREF(key);
            return fail(c, "out of memory");
        }
        index = (uint32_t)size;
    }
    Py_DECREF(key);
    t->last = tok;
    t->last_len = len;
    t->last_index = index;
    *out = index;
    return true;
}

/* A JSON string (with its quotes; escapes skipped over, decoded later) or null. */
static bool name(cursor *c, names *t, bool nullable, uint32_t *out)
{
    skip_space(c);
    if (c->p >= c->end) {
        c->short_text = true;
        return false;
    }
    const char *start = c->p, *q = c->p;
    if (*q == 'n' && nullable) {
        if (c->end - q < 4) {
            c->short_text = true;
            return false;
        }
        if (memcmp(q, "null", 4) != 0)
            return fail(c, "unexpected word");
        q += 4;
    } else if (*q == '"') {
        q++;
        while (q < c->end && *q != '"') {
            if ((unsigned char)*q < 0x20)
                return fail(c, "control character in a string");
            if (*q == '\\' && c->end - q < 2)
                break;                  /* the escaped character is in the next piece */
            q += *q == '\\' ? 2 : 1;
        }
        if (q >= c->end) {
            c->short_text = true;
            return false;
        }
        q++;
    } else {
        return fail(c, "expected a string");
    }
    if (!name_index(c, t, start, (size_t)(q - start), out))
        return false;
    c->p = q;
    return true;
}

/* One row "[address,size,type,tier,temperature,site,class,owned_bytes,site_kind]". */
static bool row(cursor *c, names *tables, rows *r)
{
    pypper_snapshot_row v;
    uint32_t tier, klass, kind;
    if (!(expect(c, '[') && unsigned_int(c, &v.address) && expect(c, ',')
          && unsigned_int(c, &v.size) && expect(c, ',') && name(c, &tables[0], false, &v.type)
          && expect(c, ',') && name(c, &tables[2], false, &tier) && expect(c, ',')
          && number(c, &v.temperature) && expect(c, ',') && name(c, &tables[1], true, &v.site)
          && expect(c, ',') && name(c, &tables[3], false, &klass) && expect(c, ',')
          && unsigned_int(c, &v.owned) && expect(c, ',') && name(c, &tables[4], true, &kind)
          && expect(c, ']')))
        return false;
    if (r->n >= r->cols.cap)
        return fail(c, "more rows than the text can hold");
    v.tier = (uint8_t)tier;
    v.klass = (uint8_t)klass;
    v.kind = (uint8_t)kind;
    pypper_snapshot_columns_set(&r->cols, r->n++, &v);
    return true;
}

static int append(PyObject *ba, const void *p, size_t bytes)
{
    Py_ssize_t old = PyByteArray_GET_SIZE(ba);
    if (bytes > (size_t)(PY_SSIZE_T_MAX - old)) {
        PyErr_NoMemory();
        return -1;
    }
    if (PyByteArray_Resize(ba, old + (Py_ssize_t)bytes) < 0)
        return -1;
    if (bytes)
        memcpy(PyByteArray_AS_STRING(ba) + old, p, bytes);
    return 0;
}

static int append_rows(PyObject *cols, const rows *r)
{
    const pypper_snapshot_columns *c = &r->cols;
    const void *src[9] = {c->address, c->size, c->owned, c->temperature, c->type, c->site,
                          c->tier, c->klass, c->kind};
    static const size_t width[9] = {8, 8, 8, 8, 4, 4, 1, 1, 1};
    for (int k = 0; k < 9; k++)
        if (append(PyList_GET_ITEM(cols, k), src[k], r->n * width[k]) < 0)
            return -1;
    return 0;
}

PyObject *pypper_snapshot_rows_parse(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer buf;
    Py_ssize_t pos;
    int after_row;
    PyObject *cols, *dicts;
    if (!PyArg_ParseTuple(args, "y*npO!O!:snapshot_rows_parse", &buf, &pos, &after_row,
                          &PyList_Type, &cols, &PyList_Type, &dicts))
        return NULL;
    bool bad_args = pos < 0 || pos > buf.len || PyList_GET_SIZE(cols) != 9
                    || PyList_GET_SIZE(dicts) != 5;
    for (Py_ssize_t k = 0; !bad_args && k < 9; k++)
        bad_args = !PyByteArray_CheckExact(PyList_GET_ITEM(cols, k));
    for (Py_ssize_t k = 0; !bad_args && k < 5; k++)
        bad_args = !PyDict_CheckExact(PyList_GET_ITEM(dicts, k));
    if (bad_args) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "snapshot_rows_parse: position, columns (9 bytearrays) "
                                          "or name tables (5 dicts) out of range");
        return NULL;
    }
    names tables[5];
    for (int k = 0; k < 5; k++)
        tables[k] = (names){PyList_GET_ITEM(dicts, k), NULL, 0, 0, k < 2 ? UINT32_MAX - 1 : 254};
    cursor c = {(const char *)buf.buf + pos, (const char *)buf.buf + buf.len, false, NULL};
    /* The shortest row, [0,0,"","",0,"","",0,""], is 24 bytes. */
    rows r;
    if (!rows_init(&r, (size_t)(buf.len - pos) / 24 + 1)) {
        PyBuffer_Release(&buf);
        return PyErr_NoMemory();
    }
    bool ended = false;
    const char *done = c.p;         /* after the last whole row (or the closing bracket) */
    for (;;) {
        skip_space(&c);
        if (c.p >= c.end)
            break;
        if (*c.p == ']') {
            c.p++;
            done = c.p;
            ended = true;
            break;
        }
        if (after_row && !expect(&c, ','))
            break;
        if (!row(&c, tables, &r))
            break;
        after_row = 1;
        done = c.p;
    }
    PyObject *out = NULL;
    if (c.error) {
        PyErr_Format(PyExc_ValueError, "snapshot rows: %s at offset %zd", c.error,
                     (Py_ssize_t)(c.p - (const char *)buf.buf));
    } else if (append_rows(cols, &r) == 0) {
        out = Py_BuildValue("nOO", (Py_ssize_t)(done - (const char *)buf.buf),
                            after_row ? Py_True : Py_False, ended ? Py_True : Py_False);
    }
    rows_free(&r);
    PyBuffer_Release(&buf);
    return out;
}
