/* Pypper/options_table.c: the one table of Pypper's options (name, type, default,
 * range, help) and the lookups over it: find by name, did-you-mean, defaults,
 * "what is accepted" text and canonical formatting of a value. */
#include "options.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const backend_choices[] = {"auto", "numa", "pageout", "sim", NULL};
static const char *const policy_choices[] = {"temperature", "ratio", "threshold", NULL};
static const char *const wt_choices[] = {"auto", "on", "off", NULL};
static const char *const log_choices[] = {"off", "error", "warn", "info", "debug", NULL};

#define FIELD(f) offsetof(pypper_config, f)

static const pypper_option_def option_table[PYPPER_OPTION_COUNT] = {
    [PYPPER_OPTION_ENABLE] = {
        "ENABLE", PYPPER_OPT_BOOL, FIELD(enable), "0", 0, 0, 0, 0, NULL,
        "start tracing when the interpreter starts (drop-in) or when pypper is imported"},
    [PYPPER_OPTION_START_DELAY_MS] = {
        "START_DELAY_MS", PYPPER_OPT_INT, FIELD(start_delay_ms), "1000", 0, 3600000, 0, 0, NULL,
        "drop-in with ENABLE=1: start tracing once the program has run this many "
        "milliseconds (a program that ends sooner is not traced and pays almost nothing); "
        "importing pypper or pypper.start() starts it at once; 0, or with TRACE_FILE, "
        "PROFILE or STATS: before the program runs"},
    [PYPPER_OPTION_BACKEND] = {
        "BACKEND", PYPPER_OPT_ENUM, FIELD(backend), "auto", 0, 0, 0, 0, backend_choices,
        "how pages move between tiers: numa (move_pages), pageout (madvise to swap/zram), "
        "sim (record only), auto (pick from the machine)"},
    [PYPPER_OPTION_FAST_NODES] = {
        "FAST_NODES", PYPPER_OPT_NODES, FIELD(fast_nodes), "", 0, 0, 0, 0, NULL,
        "NUMA nodes of the fast tier, e.g. 0 or 0-1,4; empty: discover"},
    [PYPPER_OPTION_SLOW_NODES] = {
        "SLOW_NODES", PYPPER_OPT_NODES, FIELD(slow_nodes), "", 0, 0, 0, 0, NULL,
        "NUMA nodes of the slow tier, e.g. 1; empty: discover"},
    [PYPPER_OPTION_FAST_BUDGET] = {
        "FAST_BUDGET", PYPPER_OPT_SIZE, FIELD(fast_budget), "100%", 0, 0, 0, 0, NULL,
        "fast-tier memory for the Python heap: bytes with K/M/G/T suffix or a % of the heap; 100% = no limit"},
    [PYPPER_OPTION_LIVE_GENERATION] = {
        "LIVE_GENERATION", PYPPER_OPT_INT, FIELD(live_generation), "2", 1, 2, 0, 0, NULL,
        "the live trace takes objects that survive into this GC generation (1: every "
        "collection's survivors; 2: only those promoted to the oldest, cheaper)"},
    [PYPPER_OPTION_LIVE_NUMBERS] = {
        "LIVE_NUMBERS", PYPPER_OPT_BOOL, FIELD(live_numbers), "0", 0, 0, 0, 0, NULL,
        "also trace the int and float objects that containers hold (costs an object-table "
        "entry each: about 10 bytes per number, more for those with evidence)"},
    [PYPPER_OPTION_SAMPLE_HZ] = {
        "SAMPLE_HZ", PYPPER_OPT_INT, FIELD(sample_hz), "100", 1, 100000, 0, 0, NULL,
        "active-trace sampling bursts per second (each burst lasts SAMPLE_DUTY/SAMPLE_HZ s)"},
    [PYPPER_OPTION_SAMPLE_DUTY] = {
        "SAMPLE_DUTY", PYPPER_OPT_FLOAT, FIELD(sample_duty), "0.06", 0, 0, 0.01, 1.0, NULL,
        "share of one CPU core the sampler thread may use (0.06 = 6%); each sample costs the program 1-3 microseconds (the lines of its frame the sampler reads back), so more samples mean more accurate temperatures and a slower program"},
    [PYPPER_OPTION_SAMPLE_DEPTH] = {
        "SAMPLE_DEPTH", PYPPER_OPT_INT, FIELD(sample_depth), "8", 1, 64, 0, 0, NULL,
        "Python frames read per stack sample, innermost first"},
    [PYPPER_OPTION_SAMPLE_GAP_NS] = {
        "SAMPLE_GAP_NS", PYPPER_OPT_INT, FIELD(sample_gap_ns), "1000", 0, 1000000, 0, 0, NULL,
        "nanoseconds between two samples of a burst, spent without touching the program's "
        "memory; 0 = back to back"},
    [PYPPER_OPTION_SAMPLE_AWAY] = {
        "SAMPLE_AWAY", PYPPER_OPT_BOOL, FIELD(sample_away), "1", 0, 0, 0, 0, NULL,
        "keep the sampler thread off the CPU the main thread runs on (when more than one "
        "is allowed): sharing it, it sees the main thread only while that one waits"},
    [PYPPER_OPTION_SIGNAL_HZ] = {
        "SIGNAL_HZ", PYPPER_OPT_INT, FIELD(signal_hz), "0", 0, 10000, 0, 0, NULL,
        "samples per second of the main thread's CPU time taken by the main thread itself "
        "in a signal handler (needs no free core; costs a signal each); 0 = none"},
    [PYPPER_OPTION_HALF_LIFE_MS] = {
        "HALF_LIFE_MS", PYPPER_OPT_INT, FIELD(half_life_ms), "1000", 10, 86400000, 0, 0, NULL,
        "milliseconds in which an object's heat halves when it is not seen again"},
    [PYPPER_OPTION_ALLOC_SAMPLE] = {
        "ALLOC_SAMPLE", PYPPER_OPT_INT, FIELD(alloc_sample), "1", 0, 1000000, 0, 0, NULL,
        "record allocation sites (code, line): every block above 512 bytes (at malloc, "
        "calloc and realloc) and one allocation per N x 4 KiB allocated (objects of the "
        "same type near a recorded one get its site by inference); 0 = none"},
    [PYPPER_OPTION_COLD_THRESHOLD] = {
        "COLD_THRESHOLD", PYPPER_OPT_FLOAT, FIELD(cold_threshold), "0.2", 0, 0, 0.0, 1.0, NULL,
        "temperature below which an object is cold (between it and HOT_THRESHOLD: warm); "
        "must be below HOT_THRESHOLD"},
    [PYPPER_OPTION_HYSTERESIS] = {
        "HYSTERESIS", PYPPER_OPT_FLOAT, FIELD(hysteresis), "0.05", 0, 0, 0.0, 0.5, NULL,
        "how far past a threshold a temperature must go before an object changes class"},
    [PYPPER_OPTION_CALLER_WEIGHT] = {
        "CALLER_WEIGHT", PYPPER_OPT_FLOAT, FIELD(caller_weight), "0.5", 0, 0, 0.0, 1.0, NULL,
        "evidence of an object newly seen in a calling frame (the innermost frame counts 1)"},
    [PYPPER_OPTION_HOLD_WEIGHT] = {
        "HOLD_WEIGHT", PYPPER_OPT_FLOAT, FIELD(hold_weight), "0.02", 0, 0, 0.0, 1.0, NULL,
        "evidence of an object still held by the same frame slot as in the previous sample"},
    [PYPPER_OPTION_REFCOUNT_WEIGHT] = {
        "REFCOUNT_WEIGHT", PYPPER_OPT_FLOAT, FIELD(refcount_weight), "1.0", 0, 0, 0.0, 10.0, NULL,
        "evidence of a reference count seen changing between two reads"},
    [PYPPER_OPTION_MIGRATE_INTERVAL_MS] = {
        "MIGRATE_INTERVAL_MS", PYPPER_OPT_INT, FIELD(migrate_interval_ms), "1000",
        1, 3600000, 0, 0, NULL,
        "milliseconds between two migration planning rounds (at least: a round also waits "
        "20 times the last one's collection CPU time)"},
    [PYPPER_OPTION_MIGRATE_MBPS] = {
        "MIGRATE_MBPS", PYPPER_OPT_INT, FIELD(migrate_mbps), "256", 0, 1000000, 0, 0, NULL,
        "cap on migrated MiB per second; 0 = no cap"},
    [PYPPER_OPTION_PROMOTE_MBPS] = {
        "PROMOTE_MBPS", PYPPER_OPT_INT, FIELD(promote_mbps), "64", 0, 1000000, 0, 0, NULL,
        "cap on promoted (slow to fast) MiB per second, within MIGRATE_MBPS; 0 = MIGRATE_MBPS"},
    [PYPPER_OPTION_MIGRATE_POLICY] = {
        "MIGRATE_POLICY", PYPPER_OPT_ENUM, FIELD(migrate_policy), "temperature", 0, 0, 0, 0,
        policy_choices,
        "temperature (pages ranked by heat fill the fast budget), ratio (new memory split "
        "FAST_BUDGET% fast, the rest slow), threshold (blocks under a size threshold fast; "
        "the threshold follows FAST_BUDGET)"},
    [PYPPER_OPTION_AGGRESSIVENESS] = {
        "AGGRESSIVENESS", PYPPER_OPT_FLOAT, FIELD(aggressiveness), "0.5", 0, 0, 0.0, 1.0, NULL,
        "0: move few pages, only clear cases, long cool-down; 1: act on every candidate at once"},
    [PYPPER_OPTION_LAZY_DEMOTION] = {
        "LAZY_DEMOTION", PYPPER_OPT_BOOL, FIELD(lazy_demotion), "1", 0, 0, 0, 0, NULL,
        "demote only while the fast tier holds more than FAST_BUDGET (0: demote every cold page)"},
    [PYPPER_OPTION_SEGREGATE] = {
        "SEGREGATE", PYPPER_OPT_BOOL, FIELD(segregate), "1", 0, 0, 0, 0, NULL,
        "put new objects of allocation sites learned to be cold in slow-tier arenas"},
    [PYPPER_OPTION_RELOCATE] = {
        "RELOCATE", PYPPER_OPT_BOOL, FIELD(relocate), "1", 0, 0, 0, 0, NULL,
        "move owned buffers (list items, dict tables, set tables, bytearray and array data) "
        "to the tier of their object's temperature"},
    [PYPPER_OPTION_RETAIN_MAX] = {
        "RETAIN_MAX", PYPPER_OPT_SIZE, FIELD(retain_max), "64M", 0, 0, 0, 0, NULL,
        "most freed memory the heap keeps committed for reuse (bytes with K/M/G/T suffix, "
        "or a % of the heap); the amount kept is learnt from reuse up to this; 0 = none"},
    [PYPPER_OPTION_RETAIN_DELAY_MS] = {
        "RETAIN_DELAY_MS", PYPPER_OPT_INT, FIELD(retain_delay_ms), "1000", 0, 3600000, 0, 0, NULL,
        "milliseconds after which freed memory that was not reused goes back to the "
        "kernel (checked on the allocator's slow paths); 0 = at once"},
    [PYPPER_OPTION_TEST_FAIL_EVERY] = {
        "TEST_FAIL_EVERY", PYPPER_OPT_INT, FIELD(test_fail_every), "0", 0, 1000000, 0, 0, NULL,
        "test only: every Nth backend call fails with an injected ENOMEM, EBUSY or EACCES; 0 = never"},
    [PYPPER_OPTION_HOT_THRESHOLD] = {
        "HOT_THRESHOLD", PYPPER_OPT_FLOAT, FIELD(hot_threshold), "0.5", 0, 0, 0.0, 1.0, NULL,
        "temperature (0 = coldest, 1 = hottest) at or above which an object is hot"},
    [PYPPER_OPTION_TRACE_FILE] = {
        "TRACE_FILE", PYPPER_OPT_PATH, FIELD(trace_file), "", 0, 0, 0, 0, NULL,
        "file that receives the trace of a tracing session; empty: no trace file"},
    [PYPPER_OPTION_PROFILE] = {
        "PROFILE", PYPPER_OPT_PATH, FIELD(profile), "", 0, 0, 0, 0, NULL,
        "allocation-site profile: the cold sites it names go to slow-tier arenas from the "
        "first allocation; merged with this run's and saved at the end; empty: none"},
    [PYPPER_OPTION_HEAT_INTERVAL_MS] = {
        "HEAT_INTERVAL_MS", PYPPER_OPT_INT, FIELD(heat_interval_ms), "1000", 0, 3600000, 0, 0, NULL,
        "with TRACE_FILE: milliseconds between two records of page heat in the trace; 0 = none"},
    [PYPPER_OPTION_LOG] = {
        "LOG", PYPPER_OPT_ENUM, FIELD(log_level), "warn", 0, 0, 0, 0, log_choices,
        "what Pypper reports on stderr: off, error, warn, info, debug"},
    [PYPPER_OPTION_STATS] = {
        "STATS", PYPPER_OPT_BOOL, FIELD(stats), "0", 0, 0, 0, 0, NULL,
        "print the counters that are not 0 at exit (stderr)"},
    [PYPPER_OPTION_WRITE_TRACKING] = {
        "WRITE_TRACKING", PYPPER_OPT_ENUM, FIELD(write_tracking), "off", 0, 0, 0, 0, wt_choices,
        "temperature signal from the pages the program writes (userfaultfd + PAGEMAP_SCAN, "
        "Linux >= 6.7): auto (where the kernel allows it), on (warn when it does not), off "
        "(frame sampler only; the default until the model uses page heat)"},
    [PYPPER_OPTION_WT_INTERVAL_MS] = {
        "WT_INTERVAL_MS", PYPPER_OPT_INT, FIELD(wt_interval_ms), "1000", 10, 60000, 0, 0, NULL,
        "usual milliseconds between two write-tracking scans (shortened down to a tenth where "
        "few pages are written, lengthened up to 4x to keep WT_BUDGET)"},
    [PYPPER_OPTION_WT_BUDGET] = {
        "WT_BUDGET", PYPPER_OPT_FLOAT, FIELD(wt_budget), "0.01", 0, 0, 0.001, 0.5, NULL,
        "share of the program's time its first-write faults may take (0.01 = 1%)"},
    [PYPPER_OPTION_PRESSURE_MAJFLT] = {
        "PRESSURE_MAJFLT", PYPPER_OPT_INT, FIELD(pressure_majflt), "200", 0, 10000000, 0, 0, NULL,
        "major page faults per second of the process at or above which Pypper pauses (no "
        "sampling, walks or migration rounds) until the process is calm again; 0 = never"},
    [PYPPER_OPTION_PRESSURE_PSI] = {
        "PRESSURE_PSI", PYPPER_OPT_FLOAT, FIELD(pressure_psi), "10", 0, 0, 0.0, 100.0, NULL,
        "memory stall percentage (/proc/pressure/memory, some avg10) at or above which Pypper "
        "pauses likewise; 0 = ignore it"},
    [PYPPER_OPTION_PRESSURE_CPU] = {
        "PRESSURE_CPU", PYPPER_OPT_FLOAT, FIELD(pressure_cpu), "25", 0, 0, 0.0, 100.0, NULL,
        "share of its runnable time (%) the main thread waits for a CPU at or above which "
        "the sampler cuts its duty to a quarter (the machine is short of CPU); 0 = never"},
    [PYPPER_OPTION_TEST_WT_ERRNO] = {
        "TEST_WT_ERRNO", PYPPER_OPT_INT, FIELD(test_wt_errno), "0", 0, 4095, 0, 0, NULL,
        "test only: write tracking fails to start as if the kernel returned this errno "
        "(1 = EPERM, 38 = ENOSYS); 0 = never"},
};

size_t pypper_option_count(void) { return PYPPER_OPTION_COUNT; }

const pypper_option_def *pypper_option_at(size_t index)
{
    return index < PYPPER_OPTION_COUNT ? &option_table[index] : NULL;
}

const pypper_option_def *pypper_option_find(const char *name)
{
    for (size_t i = 0; i < PYPPER_OPTION_COUNT; i++) {
        if (strcmp(option_table[i].name, name) == 0)
            return &option_table[i];
    }
    return NULL;
}

const char *pypper_option_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_dist = (size_t)-1;
    for (size_t i = 0; i < PYPPER_OPTION_COUNT; i++) {
        size_t d = pypper_edit_distance(name, option_table[i].name);
        if (d < best_dist) {
            best_dist = d;
            best = option_table[i].name;
        }
    }
    /* Close enough to be a typo: up to 2 edits, or a third of the name. */
    size_t limit = strlen(name) / 3;
    if (limit < 2)
        limit = 2;
    return best_dist <= limit ? best : NULL;
}

void pypper_option_accepts(const pypper_option_def *def, char *buf, size_t len)
{
    switch (def->type) {
    case PYPPER_OPT_BOOL:
        snprintf(buf, len, "1/0, true/false, yes/no or on/off");
        break;
    case PYPPER_OPT_INT:
        snprintf(buf, len, "an integer from %" PRId64 " to %" PRId64, def->min, def->max);
        break;
    case PYPPER_OPT_FLOAT:
        snprintf(buf, len, "a number from %g to %g", def->fmin, def->fmax);
        break;
    case PYPPER_OPT_SIZE:
        snprintf(buf, len, "a size in bytes with optional K, M, G or T suffix (e.g. 512M) "
                           "or a percentage above 0 and at most 100 (e.g. 25%%)");
        break;
    case PYPPER_OPT_ENUM: {
        size_t used = (size_t)snprintf(buf, len, "one of ");
        for (size_t i = 0; def->choices[i] && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                     def->choices[i]);
        break;
    }
    case PYPPER_OPT_NODES:
        snprintf(buf, len, "a NUMA node list such as 0 or 0-1,4 (nodes 0 to %d), or empty",
                 PYPPER_MAX_NODES - 1);
        break;
    case PYPPER_OPT_PATH:
        snprintf(buf, len, "a file name shorter than %d bytes, or empty", PYPPER_PATH_MAX);
        break;
    }
}

void pypper_config_defaults(pypper_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < PYPPER_OPTION_COUNT; i++) {
        char err[PYPPER_ERR_MAX];
        /* Defaults are constants of this file; the unit tests check they all parse. */
        (void)pypper_option_parse(&option_table[i], option_table[i].default_text,
                                  PYPPER_SRC_DEFAULT, cfg, err, sizeof(err));
    }
}

static void format_nodes(const pypper_nodeset *set, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned n = 0; n < PYPPER_MAX_NODES && used < len; n++) {
        if (!pypper_nodeset_has(set, n))
            continue;
        unsigned last = n;
        while (last + 1 < PYPPER_MAX_NODES && pypper_nodeset_has(set, last + 1))
            last++;
        if (last == n)
            used += (size_t)snprintf(buf + used, len - used, "%s%u", used ? "," : "", n);
        else
            used += (size_t)snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", n,
                                     last);
        n = last;
    }
}

/* Shortest of %.15g / %.17g that reads back exactly. */
static void format_double(double v, const char *suffix, char *buf, size_t len)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    snprintf(buf, len, "%s%s", tmp, suffix);
}

void pypper_option_format(const pypper_option_def *def, const pypper_config *cfg,
                          char *buf, size_t len)
{
    const char *field = (const char *)cfg + def->offset;
    switch (def->type) {
    case PYPPER_OPT_BOOL:
        snprintf(buf, len, "%d", *(const bool *)field ? 1 : 0);
        break;
    case PYPPER_OPT_INT:
        snprintf(buf, len, "%" PRId64, *(const int64_t *)field);
        break;
    case PYPPER_OPT_FLOAT:
        format_double(*(const double *)field, "", buf, len);
        break;
    case PYPPER_OPT_SIZE: {
        const pypper_size *s = (const pypper_size *)field;
        if (s->is_percent)
            format_double(s->percent, "%", buf, len);
        else
            snprintf(buf, len, "%" PRIu64, s->bytes);
        break;
    }
    case PYPPER_OPT_ENUM:
        snprintf(buf, len, "%s", def->choices[*(const int *)field]);
        break;
    case PYPPER_OPT_NODES:
        format_nodes((const pypper_nodeset *)field, buf, len);
        break;
    case PYPPER_OPT_PATH:
        snprintf(buf, len, "%s", field);
        break;
    }
}

const char *pypper_source_name(pypper_opt_source src)
{
    switch (src) {
    case PYPPER_SRC_ENV: return "env";
    case PYPPER_SRC_ARG: return "argument";
    default: return "default";
    }
}
