/* Pypper/options_parse.c: strict parsers for option values (bool, integer, number,
 * size or percentage, NUMA node list), the edit distance behind did-you-mean, and
 * pypper_option_parse(), which dispatches on the option's type. No whitespace, no
 * trailing garbage, no silent clamping: a value parses exactly or is rejected. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pypper_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(text, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

/* Decimal digits only, with an optional leading '-'; overflow is an error. */
static int parse_i64(const char *text, const char **end, int64_t *out)
{
    const char *p = text;
    bool neg = false;
    if (*p == '-') { neg = true; p++; }
    if (!isdigit((unsigned char)*p))
        return -1;
    uint64_t v = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *end = p;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int pypper_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    const char *end;
    int64_t v;
    if (parse_i64(text, &end, &v) < 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Plain decimal notation: digits with at most one '.', no sign, exponent, inf or nan. */
static int parse_plain_decimal(const char *text, size_t len, double *out)
{
    char buf[64];
    size_t digits = 0, dots = 0;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (isdigit((unsigned char)text[i])) digits++;
        else if (text[i] == '.') dots++;
        else return -1;
    }
    if (digits == 0 || dots > 1)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno != 0 || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int pypper_parse_float(const char *text, double min, double max, double *out)
{
    double v;
    if (parse_plain_decimal(text, strlen(text), &v) < 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int pypper_parse_size(const char *text, pypper_size *out)
{
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] == '%') {
        double pct;
        if (parse_plain_decimal(text, len - 1, &pct) < 0 || !(pct > 0.0) || pct > 100.0)
            return -1;
        out->is_percent = true;
        out->percent = pct;
        out->bytes = 0;
        return 0;
    }
    if (!isdigit((unsigned char)text[0]))
        return -1;
    const char *end;
    int64_t n;
    if (parse_i64(text, &end, &n) < 0)
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case '\0':
    case 'B': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: return -1;
    }
    /* Optional unit after the multiplier: "512M", "512MB", "512MiB"; a bare "B" too. */
    if (strcmp(end, "B") == 0 || (shift && strcmp(end, "iB") == 0))
        end += strlen(end);
    if (*end != '\0')
        return -1;
    uint64_t bytes = (uint64_t)n;
    if (shift && bytes > (UINT64_MAX >> shift))
        return -1;
    out->is_percent = false;
    out->bytes = bytes << shift;
    out->percent = 0.0;
    return 0;
}

bool pypper_nodeset_has(const pypper_nodeset *set, unsigned node)
{
    return node < PYPPER_MAX_NODES && (set->bits[node / 64] >> (node % 64)) & 1u;
}

bool pypper_nodeset_empty(const pypper_nodeset *set)
{
    for (size_t i = 0; i < PYPPER_MAX_NODES / 64; i++)
        if (set->bits[i])
            return false;
    return true;
}

int pypper_parse_nodes(const char *text, pypper_nodeset *out)
{
    pypper_nodeset set;
    memset(&set, 0, sizeof(set));
    const char *p = text;
    while (*p) {
        const char *end;
        int64_t lo, hi;
        if (!isdigit((unsigned char)*p) || parse_i64(p, &end, &lo) < 0)
            return -1;
        hi = lo;
        if (*end == '-') {
            p = end + 1;
            if (!isdigit((unsigned char)*p) || parse_i64(p, &end, &hi) < 0)
                return -1;
        }
        if (lo > hi || hi >= PYPPER_MAX_NODES)
            return -1;
        for (int64_t n = lo; n <= hi; n++)
            set.bits[n / 64] |= (uint64_t)1 << (n % 64);
        p = end;
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return -1;      /* trailing comma */
        } else if (*p != '\0') {
            return -1;
        }
    }
    *out = set;
    return 0;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions),
 * case-insensitive; names are short, so a small fixed matrix suffices. */
size_t pypper_edit_distance(const char *a, const char *b)
{
    enum { N = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= N || lb >= N)
        return (size_t)-1;
    size_t d[N][N];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = toupper((unsigned char)a[i - 1]) != toupper((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && toupper((unsigned char)a[i - 1]) == toupper((unsigned char)b[j - 2])
                && toupper((unsigned char)a[i - 2]) == toupper((unsigned char)b[j - 1])
                && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

static int parse_enum(const pypper_option_def *def, const char *text, int *out,
                      const char **hint)
{
    size_t best = (size_t)-1;
    for (int i = 0; def->choices[i]; i++) {
        if (strcasecmp(text, def->choices[i]) == 0) {
            *out = i;
            return 0;
        }
        size_t d = pypper_edit_distance(text, def->choices[i]);
        if (d < best && d <= 2) {
            best = d;
            *hint = def->choices[i];
        }
    }
    return -1;
}

int pypper_option_parse(const pypper_option_def *def, const char *text,
                        pypper_opt_source source, pypper_config *cfg,
                        char *err, size_t errlen)
{
    char *field = (char *)cfg + def->offset;
    const char *hint = NULL;
    int rc = -1;
    switch (def->type) {
    case PYPPER_OPT_BOOL: {
        bool v;
        if ((rc = pypper_parse_bool(text, &v)) == 0) *(bool *)field = v;
        break;
    }
    case PYPPER_OPT_INT: {
        int64_t v;
        if ((rc = pypper_parse_int(text, def->min, def->max, &v)) == 0) *(int64_t *)field = v;
        break;
    }
    case PYPPER_OPT_FLOAT: {
        double v;
        if ((rc = pypper_parse_float(text, def->fmin, def->fmax, &v)) == 0) *(double *)field = v;
        break;
    }
    case PYPPER_OPT_SIZE: {
        pypper_size v;
        if ((rc = pypper_parse_size(text, &v)) == 0) *(pypper_size *)field = v;
        break;
    }
    case PYPPER_OPT_ENUM: {
        int v;
        if ((rc = parse_enum(def, text, &v, &hint)) == 0) *(int *)field = v;
        break;
    }
    case PYPPER_OPT_NODES: {
        pypper_nodeset v;
        if ((rc = pypper_parse_nodes(text, &v)) == 0) *(pypper_nodeset *)field = v;
        break;
    }
    case PYPPER_OPT_PATH:
        if (strlen(text) < PYPPER_PATH_MAX) {
            strcpy(field, text);
            rc = 0;
        }
        break;
    }
    if (rc == 0) {
        cfg->source[def - pypper_option_at(0)] = (unsigned char)source;
        return 0;
    }
    char accepts[PYPPER_ERR_MAX / 2];
    pypper_option_accepts(def, accepts, sizeof(accepts));
    if (hint)
        snprintf(err, errlen, "expected %s (did you mean %s?)", accepts, hint);
    else
        snprintf(err, errlen, "expected %s", accepts);
    return -1;
}
