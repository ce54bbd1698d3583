/* Pypper/options_check.c: what holds between options once they are all parsed
 * (COLD_THRESHOLD below HOT_THRESHOLD), and how a message names an option and shows
 * a value: "PYPPER_NAME" for the environment, "name" for a keyword of pypper.start(),
 * values quoted on one line with control and non-ASCII bytes escaped. */
#include "options.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The escaped form of one byte into piece (at most 4 bytes); returns its length. */
static size_t escape_byte(unsigned char c, char *piece)
{
    static const char hex[] = "0123456789abcdef";
    if (c == '\\' || c == '\'') {
        piece[0] = '\\';
        piece[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c >= 0x7f) {
        piece[0] = '\\';
        piece[1] = 'x';
        piece[2] = hex[c >> 4];
        piece[3] = hex[c & 15];
        return 4;
    }
    piece[0] = (char)c;
    return 1;
}

void pypper_quote_text(const char *text, char *buf, size_t len)
{
    if (len < 8) {                    /* too small for a quoted "..." */
        if (len)
            buf[0] = '\0';
        return;
    }
    char piece[4];
    size_t whole = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        whole += escape_byte(*p, piece);
    /* Everything when it fits with its quotes; else as much as fits before "...'". */
    size_t room = whole + 3 <= len ? whole : len - 6;
    size_t used = 0;
    buf[used++] = '\'';
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        size_t n = escape_byte(*p, piece);
        if (used - 1 + n > room)
            break;
        memcpy(buf + used, piece, n);
        used += n;
    }
    if (room < whole) {
        memcpy(buf + used, "...", 3);
        used += 3;
    }
    buf[used++] = '\'';
    buf[used] = '\0';
}

static bool keyword_style(const pypper_config *cfg, pypper_option_id id, bool keywords)
{
    pypper_opt_source src = (pypper_opt_source)cfg->source[id];
    return src == PYPPER_SRC_ARG || (src == PYPPER_SRC_DEFAULT && keywords);
}

void pypper_option_label(const pypper_config *cfg, pypper_option_id id, bool keywords,
                         char *buf, size_t len)
{
    const pypper_option_def *def = pypper_option_at((size_t)id);
    if (!keyword_style(cfg, id, keywords)) {
        snprintf(buf, len, "%s%s", PYPPER_ENV_PREFIX, def->name);
        return;
    }
    size_t i = 0;
    for (; def->name[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)def->name[i]);
    if (len)
        buf[i] = '\0';
}

void pypper_option_setting(const pypper_config *cfg, pypper_option_id id, bool keywords,
                           char *buf, size_t len)
{
    const pypper_option_def *def = pypper_option_at((size_t)id);
    char label[64], text[PYPPER_ERR_MAX / 4];
    pypper_option_label(cfg, id, keywords, label, sizeof(label));
    pypper_option_format(def, cfg, text, sizeof(text));
    bool quoted = keyword_style(cfg, id, keywords)
                  && (def->type == PYPPER_OPT_ENUM || def->type == PYPPER_OPT_PATH
                      || def->type == PYPPER_OPT_NODES);
    if (quoted || strpbrk(text, " '\\") || text[0] == '\0') {
        char q[PYPPER_ERR_MAX / 4];
        pypper_quote_text(text, q, sizeof(q));
        snprintf(buf, len, "%s=%s", label, q);
    } else {
        snprintf(buf, len, "%s=%s", label, text);
    }
    if (cfg->source[id] == PYPPER_SRC_DEFAULT) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, " (the default)");
    }
}

int pypper_config_check(const pypper_config *cfg, char *err, size_t errlen)
{
    if (cfg->cold_threshold >= cfg->hot_threshold) {
        bool keywords = cfg->source[PYPPER_OPTION_COLD_THRESHOLD] == PYPPER_SRC_ARG
                        || cfg->source[PYPPER_OPTION_HOT_THRESHOLD] == PYPPER_SRC_ARG;
        char cold[96], hot[96];
        pypper_option_setting(cfg, PYPPER_OPTION_COLD_THRESHOLD, keywords, cold, sizeof(cold));
        pypper_option_setting(cfg, PYPPER_OPTION_HOT_THRESHOLD, keywords, hot, sizeof(hot));
        snprintf(err, errlen, "%s is not below %s: the cold threshold must be lower than "
                              "the hot one", cold, hot);
        return -1;
    }
    return 0;
}
