/* tests/c/test_options.c: unit tests of the options table and its strict parsers,
 * the environment scanner and did-you-mean, the checks between options and how
 * messages name options and quote values, without Python. */
#include "check.h"
#include "options.h"

#include <math.h>
#include <string.h>

static void test_bool(void)
{
    bool b = false;
    CHECK(pypper_parse_bool("1", &b) == 0 && b);
    CHECK(pypper_parse_bool("TRUE", &b) == 0 && b);
    CHECK(pypper_parse_bool("on", &b) == 0 && b);
    CHECK(pypper_parse_bool("no", &b) == 0 && !b);
    CHECK(pypper_parse_bool("0", &b) == 0 && !b);
    CHECK(pypper_parse_bool("", &b) < 0);
    CHECK(pypper_parse_bool("2", &b) < 0);
    CHECK(pypper_parse_bool("yess", &b) < 0);
    CHECK(pypper_parse_bool(" 1", &b) < 0);
}

static void test_int(void)
{
    int64_t v = 0;
    CHECK(pypper_parse_int("10", 1, 100, &v) == 0 && v == 10);
    CHECK(pypper_parse_int("1", 1, 100, &v) == 0 && v == 1);
    CHECK(pypper_parse_int("100", 1, 100, &v) == 0 && v == 100);
    CHECK(pypper_parse_int("0", 1, 100, &v) < 0);
    CHECK(pypper_parse_int("101", 1, 100, &v) < 0);
    CHECK(pypper_parse_int("abc", 1, 100, &v) < 0);
    CHECK(pypper_parse_int("", 1, 100, &v) < 0);
    CHECK(pypper_parse_int("1e3", 1, 10000, &v) < 0);
    CHECK(pypper_parse_int("10 ", 1, 100, &v) < 0);
    CHECK(pypper_parse_int("+10", 1, 100, &v) < 0);
    CHECK(pypper_parse_int("0x10", 0, 100, &v) < 0);
    CHECK(pypper_parse_int("-5", -10, 10, &v) == 0 && v == -5);
    CHECK(pypper_parse_int("99999999999999999999", 0, INT64_MAX, &v) < 0);
    CHECK(pypper_parse_int("9223372036854775807", 0, INT64_MAX, &v) == 0 && v == INT64_MAX);
    CHECK(pypper_parse_int("-9223372036854775808", INT64_MIN, 0, &v) == 0 && v == INT64_MIN);
}

static void test_float(void)
{
    double d = 0;
    CHECK(pypper_parse_float("0.5", 0, 1, &d) == 0 && d == 0.5);
    CHECK(pypper_parse_float("1", 0, 1, &d) == 0 && d == 1.0);
    CHECK(pypper_parse_float(".25", 0, 1, &d) == 0 && d == 0.25);
    CHECK(pypper_parse_float("1.5", 0, 1, &d) < 0);
    CHECK(pypper_parse_float("nan", 0, 1, &d) < 0);
    CHECK(pypper_parse_float("inf", 0, 1, &d) < 0);
    CHECK(pypper_parse_float("1e-1", 0, 1, &d) < 0);
    CHECK(pypper_parse_float("0.5.1", 0, 1, &d) < 0);
    CHECK(pypper_parse_float(".", 0, 1, &d) < 0);
    CHECK(pypper_parse_float("-0.1", 0, 1, &d) < 0);
}

static void test_size(void)
{
    pypper_size s;
    CHECK(pypper_parse_size("1024", &s) == 0 && !s.is_percent && s.bytes == 1024);
    CHECK(pypper_parse_size("4K", &s) == 0 && s.bytes == 4096);
    CHECK(pypper_parse_size("512M", &s) == 0 && s.bytes == 512ull << 20);
    CHECK(pypper_parse_size("512MB", &s) == 0 && s.bytes == 512ull << 20);
    CHECK(pypper_parse_size("512MiB", &s) == 0 && s.bytes == 512ull << 20);
    CHECK(pypper_parse_size("2g", &s) == 0 && s.bytes == 2ull << 30);
    CHECK(pypper_parse_size("1T", &s) == 0 && s.bytes == 1ull << 40);
    CHECK(pypper_parse_size("100B", &s) == 0 && s.bytes == 100);
    CHECK(pypper_parse_size("25%", &s) == 0 && s.is_percent && s.percent == 25.0);
    CHECK(pypper_parse_size("12.5%", &s) == 0 && s.is_percent && s.percent == 12.5);
    CHECK(pypper_parse_size("100%", &s) == 0 && s.percent == 100.0);
    CHECK(pypper_parse_size("0%", &s) < 0);
    CHECK(pypper_parse_size("101%", &s) < 0);
    CHECK(pypper_parse_size("%", &s) < 0);
    CHECK(pypper_parse_size("-1", &s) < 0);
    CHECK(pypper_parse_size("1.5G", &s) < 0);
    CHECK(pypper_parse_size("10X", &s) < 0);
    CHECK(pypper_parse_size("10 M", &s) < 0);
    CHECK(pypper_parse_size("", &s) < 0);
    CHECK(pypper_parse_size("iB", &s) < 0);
    CHECK(pypper_parse_size("5iB", &s) < 0);
    CHECK(pypper_parse_size("99999999999T", &s) < 0);   /* overflows 64 bits */
}

static void test_nodes(void)
{
    pypper_nodeset n;
    CHECK(pypper_parse_nodes("", &n) == 0 && pypper_nodeset_empty(&n));
    CHECK(pypper_parse_nodes("0", &n) == 0 && pypper_nodeset_has(&n, 0) && !pypper_nodeset_has(&n, 1));
    CHECK(pypper_parse_nodes("0-2,5", &n) == 0 && pypper_nodeset_has(&n, 2)
          && !pypper_nodeset_has(&n, 3) && pypper_nodeset_has(&n, 5));
    CHECK(pypper_parse_nodes("1023", &n) == 0 && pypper_nodeset_has(&n, 1023));
    CHECK(pypper_parse_nodes("1024", &n) < 0);
    CHECK(pypper_parse_nodes("2-1", &n) < 0);
    CHECK(pypper_parse_nodes("1,", &n) < 0);
    CHECK(pypper_parse_nodes(",1", &n) < 0);
    CHECK(pypper_parse_nodes("1-", &n) < 0);
    CHECK(pypper_parse_nodes("a", &n) < 0);
    CHECK(pypper_parse_nodes("1 ,2", &n) < 0);
}

static void test_table(void)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX], text[PYPPER_PATH_MAX + 32];
    pypper_config_defaults(&cfg);
    CHECK(pypper_option_count() == PYPPER_OPTION_COUNT);
    /* Every default parses, and every value formats to text that parses back to itself. */
    for (size_t i = 0; i < pypper_option_count(); i++) {
        const pypper_option_def *def = pypper_option_at(i);
        pypper_config a, b;
        memset(&a, 0, sizeof(a));
        CHECK(pypper_option_parse(def, def->default_text, PYPPER_SRC_DEFAULT, &a, err, sizeof(err)) == 0);
        CHECK(cfg.source[i] == PYPPER_SRC_DEFAULT);
        pypper_option_format(def, &cfg, text, sizeof(text));
        b = cfg;
        CHECK(pypper_option_parse(def, text, PYPPER_SRC_ARG, &b, err, sizeof(err)) == 0);
        char again[PYPPER_PATH_MAX + 32];
        pypper_option_format(def, &b, again, sizeof(again));
        CHECK(strcmp(text, again) == 0);
        CHECK(pypper_option_find(def->name) == def);
        CHECK(def->help && def->help[0]);
    }
    CHECK(pypper_option_find("sample_hz") == NULL);     /* names are exact */
    CHECK(pypper_option_find("NOPE") == NULL);
    CHECK(cfg.sample_hz == 100 && cfg.backend == PYPPER_BACKEND_AUTO);
    CHECK(cfg.fast_budget.is_percent && cfg.fast_budget.percent == 100.0);
    CHECK(cfg.log_level == PYPPER_LOG_WARN && !cfg.enable && !cfg.stats);

    const pypper_option_def *hz = pypper_option_find("SAMPLE_HZ");
    CHECK(pypper_option_parse(hz, "abc", PYPPER_SRC_ENV, &cfg, err, sizeof(err)) < 0);
    CHECK(strstr(err, "an integer from 1 to 100000") != NULL);
    CHECK(cfg.sample_hz == 100);                         /* unchanged on error */

    const pypper_option_def *backend = pypper_option_find("BACKEND");
    CHECK(pypper_option_parse(backend, "NUMA", PYPPER_SRC_ARG, &cfg, err, sizeof(err)) == 0);
    CHECK(cfg.backend == PYPPER_BACKEND_NUMA && cfg.source[PYPPER_OPTION_BACKEND] == PYPPER_SRC_ARG);
    CHECK(pypper_option_parse(backend, "pagout", PYPPER_SRC_ARG, &cfg, err, sizeof(err)) < 0);
    CHECK(strstr(err, "did you mean pageout?") != NULL);

    const pypper_option_def *thr = pypper_option_find("HOT_THRESHOLD");
    CHECK(pypper_option_parse(thr, "0.1", PYPPER_SRC_ARG, &cfg, err, sizeof(err)) == 0);
    pypper_option_format(thr, &cfg, text, sizeof(text));
    CHECK(strcmp(text, "0.1") == 0);

    const pypper_option_def *nodes = pypper_option_find("FAST_NODES");
    CHECK(pypper_option_parse(nodes, "0-3,5,7-8", PYPPER_SRC_ARG, &cfg, err, sizeof(err)) == 0);
    pypper_option_format(nodes, &cfg, text, sizeof(text));
    CHECK(strcmp(text, "0-3,5,7-8") == 0);

    const pypper_option_def *trace = pypper_option_find("TRACE_FILE");
    char longpath[PYPPER_PATH_MAX + 10];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK(pypper_option_parse(trace, longpath, PYPPER_SRC_ARG, &cfg, err, sizeof(err)) < 0);
}

static void test_suggest(void)
{
    CHECK(pypper_edit_distance("abc", "abc") == 0);
    CHECK(pypper_edit_distance("abc", "acb") == 1);
    CHECK(pypper_edit_distance("", "abc") == 3);
    const char *s = pypper_option_suggest("SAMPL_HZ");
    CHECK(s && strcmp(s, "SAMPLE_HZ") == 0);
    s = pypper_option_suggest("ENALBE");
    CHECK(s && strcmp(s, "ENABLE") == 0);
    s = pypper_option_suggest("FAST_BUDGTE");
    CHECK(s && strcmp(s, "FAST_BUDGET") == 0);
    CHECK(pypper_option_suggest("COMPLETELY_DIFFERENT") == NULL);
}

static void test_env(void)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];

    char *good[] = {"HOME=/root", "PYPPER_SAMPLE_HZ=250", "PYPPER_FAST_BUDGET=1G",
                    "PYPPER_BACKEND=sim", "PYPPERX=1", NULL};
    pypper_config_defaults(&cfg);
    CHECK(pypper_config_apply_env(&cfg, good, err, sizeof(err)) == 0);
    CHECK(cfg.sample_hz == 250 && cfg.source[PYPPER_OPTION_SAMPLE_HZ] == PYPPER_SRC_ENV);
    CHECK(cfg.fast_budget.bytes == 1ull << 30 && cfg.backend == PYPPER_BACKEND_SIM);
    CHECK(cfg.source[PYPPER_OPTION_LOG] == PYPPER_SRC_DEFAULT);

    char *bad_value[] = {"PYPPER_SAMPLE_HZ=abc", NULL};
    pypper_config_defaults(&cfg);
    CHECK(pypper_config_apply_env(&cfg, bad_value, err, sizeof(err)) < 0);
    CHECK(strstr(err, "PYPPER_SAMPLE_HZ") && strstr(err, "'abc'") && strstr(err, "integer"));
    CHECK(strchr(err, '\n') == NULL);

    char *typo[] = {"PYPPER_SAMPL_HZ=10", NULL};
    CHECK(pypper_config_apply_env(&cfg, typo, err, sizeof(err)) < 0);
    CHECK(strstr(err, "unknown variable PYPPER_SAMPL_HZ") && strstr(err, "did you mean PYPPER_SAMPLE_HZ?"));

    char *unknown[] = {"PYPPER_ZZZZZZZZZZZZZZ=1", NULL};
    CHECK(pypper_config_apply_env(&cfg, unknown, err, sizeof(err)) < 0);
    CHECK(strstr(err, "unknown variable") && !strstr(err, "did you mean"));

    char *empty_name[] = {"PYPPER_=1", NULL};
    CHECK(pypper_config_apply_env(&cfg, empty_name, err, sizeof(err)) < 0);

    char longval[600];
    memset(longval, '9', sizeof(longval) - 1);
    longval[sizeof(longval) - 1] = '\0';
    char entry[700];
    snprintf(entry, sizeof(entry), "PYPPER_SAMPLE_HZ=%s", longval);
    char *too_long[] = {entry, NULL};
    CHECK(pypper_config_apply_env(&cfg, too_long, err, sizeof(err)) < 0);
    CHECK(strstr(err, "...'") && strlen(err) < PYPPER_ERR_MAX);
}

/* Every byte of a message is printable ASCII: no control or binary bytes. */
static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static void test_quote(void)
{
    char buf[64];
    pypper_quote_text("abc", buf, sizeof(buf));
    CHECK(strcmp(buf, "'abc'") == 0);
    pypper_quote_text("", buf, sizeof(buf));
    CHECK(strcmp(buf, "''") == 0);
    pypper_quote_text("a\nb\x01\xff'\\", buf, sizeof(buf));
    CHECK(strcmp(buf, "'a\\x0ab\\x01\\xff\\'\\\\'") == 0);
    /* Cut to fit, always closed, never more than the buffer. */
    char longtext[300];
    memset(longtext, '\x80', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    for (size_t len = 8; len <= sizeof(buf); len++) {
        memset(buf, 'Z', sizeof(buf));
        pypper_quote_text(longtext, buf, len);
        size_t n = strlen(buf);
        CHECK(n < len && buf[0] == '\'' && buf[n - 1] == '\'' && printable_ascii(buf));
        CHECK(n >= 4 && strcmp(buf + n - 4, "...'") == 0);
    }
    pypper_quote_text("abcd", buf, 8);     /* fits exactly: 'abcd' + NUL */
    CHECK(strcmp(buf, "'abcd'") == 0);
}

static void test_labels(void)
{
    pypper_config cfg;
    char buf[128];
    pypper_config_defaults(&cfg);
    pypper_option_label(&cfg, PYPPER_OPTION_HOT_THRESHOLD, false, buf, sizeof(buf));
    CHECK(strcmp(buf, "PYPPER_HOT_THRESHOLD") == 0);
    pypper_option_label(&cfg, PYPPER_OPTION_HOT_THRESHOLD, true, buf, sizeof(buf));
    CHECK(strcmp(buf, "hot_threshold") == 0);
    char err[PYPPER_ERR_MAX];
    CHECK(pypper_option_parse(pypper_option_at(PYPPER_OPTION_BACKEND), "numa", PYPPER_SRC_ARG,
                              &cfg, err, sizeof(err)) == 0);
    pypper_option_setting(&cfg, PYPPER_OPTION_BACKEND, false, buf, sizeof(buf));
    CHECK(strcmp(buf, "backend='numa'") == 0);          /* from an argument: its keyword */
    CHECK(pypper_option_parse(pypper_option_at(PYPPER_OPTION_BACKEND), "sim", PYPPER_SRC_ENV,
                              &cfg, err, sizeof(err)) == 0);
    pypper_option_setting(&cfg, PYPPER_OPTION_BACKEND, true, buf, sizeof(buf));
    CHECK(strcmp(buf, "PYPPER_BACKEND=sim") == 0);      /* from the environment: the variable */
    pypper_option_setting(&cfg, PYPPER_OPTION_HOT_THRESHOLD, false, buf, sizeof(buf));
    CHECK(strcmp(buf, "PYPPER_HOT_THRESHOLD=0.5 (the default)") == 0);
}

static void test_check(void)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    const pypper_option_def *hot = pypper_option_at(PYPPER_OPTION_HOT_THRESHOLD);
    const pypper_option_def *cold = pypper_option_at(PYPPER_OPTION_COLD_THRESHOLD);

    pypper_config_defaults(&cfg);
    CHECK(pypper_config_check(&cfg, err, sizeof(err)) == 0);

    /* Environment: both named as variables. */
    char *env[] = {"PYPPER_HOT_THRESHOLD=0.1", "PYPPER_COLD_THRESHOLD=0.9", NULL};
    CHECK(pypper_config_apply_env(&cfg, env, err, sizeof(err)) == 0);  /* each value is fine */
    CHECK(pypper_config_check(&cfg, err, sizeof(err)) < 0);
    CHECK(strcmp(err, "PYPPER_COLD_THRESHOLD=0.9 is not below PYPPER_HOT_THRESHOLD=0.1: the "
                      "cold threshold must be lower than the hot one") == 0);

    /* Keywords: named as keywords; a default one says so. */
    pypper_config_defaults(&cfg);
    CHECK(pypper_option_parse(cold, "0.6", PYPPER_SRC_ARG, &cfg, err, sizeof(err)) == 0);
    CHECK(pypper_config_check(&cfg, err, sizeof(err)) < 0);
    CHECK(strcmp(err, "cold_threshold=0.6 is not below hot_threshold=0.5 (the default): the "
                      "cold threshold must be lower than the hot one") == 0);

    /* Equal is contradictory too; a keyword can fix what the environment set. */
    pypper_config_defaults(&cfg);
    CHECK(pypper_option_parse(cold, "0.5", PYPPER_SRC_ENV, &cfg, err, sizeof(err)) == 0);
    CHECK(pypper_config_check(&cfg, err, sizeof(err)) < 0);
    CHECK(strstr(err, "PYPPER_COLD_THRESHOLD=0.5 is not below PYPPER_HOT_THRESHOLD=0.5 (the default)"));
    CHECK(pypper_option_parse(hot, "0.8", PYPPER_SRC_ARG, &cfg, err, sizeof(err)) == 0);
    CHECK(pypper_config_check(&cfg, err, sizeof(err)) == 0);
    CHECK(pypper_option_parse(hot, "0.3", PYPPER_SRC_ARG, &cfg, err, sizeof(err)) == 0);
    CHECK(pypper_config_check(&cfg, err, sizeof(err)) < 0);
    CHECK(strstr(err, "PYPPER_COLD_THRESHOLD=0.5 is not below hot_threshold=0.3:"));
}

static void test_env_messages_are_one_clean_line(void)
{
    pypper_config cfg;
    char err[PYPPER_ERR_MAX];
    char *binary_value[] = {"PYPPER_LOG=\x1b[31m\n\xff\xfe", NULL};
    pypper_config_defaults(&cfg);
    CHECK(pypper_config_apply_env(&cfg, binary_value, err, sizeof(err)) < 0);
    CHECK(printable_ascii(err) && strstr(err, "'\\x1b[31m\\x0a\\xff\\xfe'"));
    char *binary_name[] = {"PYPPER_\x01\xff=1", NULL};
    CHECK(pypper_config_apply_env(&cfg, binary_name, err, sizeof(err)) < 0);
    CHECK(printable_ascii(err) && strstr(err, "unknown variable PYPPER_\\x01\\xff;"));
}

int main(void)
{
    test_bool();
    test_int();
    test_float();
    test_size();
    test_nodes();
    test_table();
    test_suggest();
    test_env();
    test_quote();
    test_labels();
    test_check();
    test_env_messages_are_one_clean_line();
    return check_report("test_options");
}
