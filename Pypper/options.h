/* Pypper/options.h: the options table (name, type, default, range, help), the
 * parsed configuration it fills, and the strict value parsers. Pure C, no Python:
 * the drop-in main() validates PYPPER_* variables before the interpreter exists,
 * and the C unit tests link this alone. */
#ifndef PYPPER_OPTIONS_H
#define PYPPER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PYPPER_ENV_PREFIX "PYPPER_"
#define PYPPER_MAX_NODES 1024
#define PYPPER_PATH_MAX 4096
#define PYPPER_ERR_MAX 512

typedef enum {
    PYPPER_OPT_BOOL,
    PYPPER_OPT_INT,
    PYPPER_OPT_FLOAT,
    PYPPER_OPT_SIZE,   /* bytes with K/M/G/T suffix, or a percentage of the heap */
    PYPPER_OPT_ENUM,
    PYPPER_OPT_NODES,  /* NUMA node list "0,2-3"; empty = discover */
    PYPPER_OPT_PATH,   /* file name; empty = none */
} pypper_opt_type;

typedef enum {
    PYPPER_SRC_DEFAULT = 0,
    PYPPER_SRC_ENV = 1,
    PYPPER_SRC_ARG = 2,
} pypper_opt_source;

typedef enum {
    PYPPER_BACKEND_AUTO = 0,
    PYPPER_BACKEND_NUMA,
    PYPPER_BACKEND_PAGEOUT,
    PYPPER_BACKEND_SIM,
} pypper_backend_kind;

typedef enum {
    PYPPER_POLICY_TEMPERATURE = 0,  /* rank pages by heat, fill the fast tier from the top */
    PYPPER_POLICY_RATIO,            /* static fast:slow split of new memory (FAST_BUDGET %) */
    PYPPER_POLICY_THRESHOLD,        /* small blocks fast, a size threshold that follows the budget */
} pypper_migrate_policy;

typedef enum {
    PYPPER_WT_AUTO = 0,             /* write tracking where the kernel allows it, else frames */
    PYPPER_WT_ON,                   /* the same, but a refusal is a warning */
    PYPPER_WT_OFF,                  /* frames only */
} pypper_wt_mode;

typedef enum {
    PYPPER_LOG_OFF = 0,
    PYPPER_LOG_ERROR,
    PYPPER_LOG_WARN,
    PYPPER_LOG_INFO,
    PYPPER_LOG_DEBUG,
} pypper_log_level;

typedef struct {
    bool is_percent;
    uint64_t bytes;     /* when !is_percent */
    double percent;     /* when is_percent: 0 < percent <= 100 */
} pypper_size;

typedef struct {
    uint64_t bits[PYPPER_MAX_NODES / 64];
} pypper_nodeset;

/* Index of every option in the table; the order is the order of `pypper options`. */
typedef enum {
    PYPPER_OPTION_ENABLE,
    PYPPER_OPTION_START_DELAY_MS,
    PYPPER_OPTION_BACKEND,
    PYPPER_OPTION_FAST_NODES,
    PYPPER_OPTION_SLOW_NODES,
    PYPPER_OPTION_FAST_BUDGET,
    PYPPER_OPTION_LIVE_GENERATION,
    PYPPER_OPTION_LIVE_NUMBERS,
    PYPPER_OPTION_SAMPLE_HZ,
    PYPPER_OPTION_SAMPLE_DUTY,
    PYPPER_OPTION_SAMPLE_DEPTH,
    PYPPER_OPTION_SAMPLE_GAP_NS,
    PYPPER_OPTION_SAMPLE_AWAY,
    PYPPER_OPTION_SIGNAL_HZ,
    PYPPER_OPTION_HALF_LIFE_MS,
    PYPPER_OPTION_ALLOC_SAMPLE,
    PYPPER_OPTION_COLD_THRESHOLD,
    PYPPER_OPTION_HYSTERESIS,
    PYPPER_OPTION_CALLER_WEIGHT,
    PYPPER_OPTION_HOLD_WEIGHT,
    PYPPER_OPTION_REFCOUNT_WEIGHT,
    PYPPER_OPTION_MIGRATE_INTERVAL_MS,
    PYPPER_OPTION_MIGRATE_MBPS,
    PYPPER_OPTION_PROMOTE_MBPS,
    PYPPER_OPTION_MIGRATE_POLICY,
    PYPPER_OPTION_AGGRESSIVENESS,
    PYPPER_OPTION_LAZY_DEMOTION,
    PYPPER_OPTION_SEGREGATE,
    PYPPER_OPTION_RELOCATE,
    PYPPER_OPTION_RETAIN_MAX,
    PYPPER_OPTION_RETAIN_DELAY_MS,
    PYPPER_OPTION_TEST_FAIL_EVERY,
    PYPPER_OPTION_HOT_THRESHOLD,
    PYPPER_OPTION_TRACE_FILE,
    PYPPER_OPTION_PROFILE,
    PYPPER_OPTION_HEAT_INTERVAL_MS,
    PYPPER_OPTION_LOG,
    PYPPER_OPTION_STATS,
    PYPPER_OPTION_WRITE_TRACKING,
    PYPPER_OPTION_WT_INTERVAL_MS,
    PYPPER_OPTION_WT_BUDGET,
    PYPPER_OPTION_PRESSURE_MAJFLT,
    PYPPER_OPTION_PRESSURE_PSI,
    PYPPER_OPTION_PRESSURE_CPU,
    PYPPER_OPTION_TEST_WT_ERRNO,
    PYPPER_OPTION_COUNT
} pypper_option_id;

typedef struct pypper_config {
    bool enable;
    int64_t start_delay_ms;      /* drop-in, PYPPER_ENABLE=1: the session starts this much later */
    int backend;                 /* pypper_backend_kind */
    pypper_nodeset fast_nodes;
    pypper_nodeset slow_nodes;
    pypper_size fast_budget;
    int64_t live_generation;     /* survivors are traced from this generation on */
    bool live_numbers;           /* trace int and float objects found as referents */
    int64_t sample_hz;
    double sample_duty;          /* share of one core the sampler may use */
    int64_t sample_depth;        /* frames per stack sample */
    int64_t sample_gap_ns;       /* pause between two samples of a burst */
    bool sample_away;            /* keep the sampler off the main thread's CPU */
    int64_t signal_hz;           /* main-thread self-samples per CPU second; 0 = none */
    int64_t half_life_ms;
    int64_t alloc_sample;        /* one allocation in N records its site; 0 = none */
    double cold_threshold;
    double hysteresis;
    double caller_weight;
    double hold_weight;
    double refcount_weight;
    int64_t migrate_interval_ms;
    int64_t migrate_mbps;        /* 0 = unlimited */
    int64_t promote_mbps;        /* promotions only; 0 = as migrate_mbps */
    int migrate_policy;          /* pypper_migrate_policy */
    double aggressiveness;       /* 0 (move little, late) .. 1 (move all candidates at once) */
    bool lazy_demotion;          /* demote only while the fast tier is over budget */
    bool segregate;              /* new objects of cold allocation sites go to slow arenas */
    bool relocate;               /* owned buffers follow their object's temperature */
    pypper_size retain_max;      /* ceiling of the heap's idle (freed, committed) memory */
    int64_t retain_delay_ms;     /* idle memory not reused this long goes back */
    int64_t test_fail_every;     /* test only: every Nth backend call fails; 0 = never */
    double hot_threshold;
    char trace_file[PYPPER_PATH_MAX];
    char profile[PYPPER_PATH_MAX];   /* allocation-site profile: loaded at start, saved at end */
    int64_t heat_interval_ms;    /* page-heat records in the trace file; 0 = none */
    int log_level;               /* pypper_log_level */
    bool stats;
    int write_tracking;          /* pypper_wt_mode: auto, on, off */
    int64_t wt_interval_ms;      /* usual interval between two write-tracking scans */
    double wt_budget;            /* share of the program's time its write faults may take */
    int64_t pressure_majflt;     /* major faults per second that pause Pypper; 0 = never */
    double pressure_psi;         /* memory stall % (some avg10) that pauses it; 0 = ignore */
    double pressure_cpu;         /* main thread's run-queue wait % that backs the sampler off */
    int64_t test_wt_errno;       /* test only: write tracking fails to open with this errno */
    unsigned char source[PYPPER_OPTION_COUNT];   /* pypper_opt_source */
} pypper_config;

typedef struct {
    const char *name;            /* without the PYPPER_ prefix, e.g. "SAMPLE_HZ" */
    pypper_opt_type type;
    size_t offset;               /* of the field in pypper_config */
    const char *default_text;    /* parsed like any other value */
    int64_t min, max;            /* INT range */
    double fmin, fmax;           /* FLOAT range (inclusive) */
    const char *const *choices;  /* ENUM names, NULL-terminated; index = stored value */
    const char *help;
} pypper_option_def;

size_t pypper_option_count(void);
const pypper_option_def *pypper_option_at(size_t index);
/* Exact, case-sensitive lookup of a name without prefix ("SAMPLE_HZ"). */
const pypper_option_def *pypper_option_find(const char *name);
/* Closest option name within a small edit distance, or NULL. */
const char *pypper_option_suggest(const char *name);
/* A one-line description of what the option accepts ("an integer from 1 to 100000"). */
void pypper_option_accepts(const pypper_option_def *def, char *buf, size_t len);

/* Fill every option with its default (source = default). */
void pypper_config_defaults(pypper_config *cfg);
/* Parse `text` for `def` into cfg and mark its source. On error return -1 and put
 * "expected ..." (what is accepted, with a hint when one is close) into err. */
int pypper_option_parse(const pypper_option_def *def, const char *text,
                        pypper_opt_source source, pypper_config *cfg,
                        char *err, size_t errlen);
/* The canonical text of an option's current value (parses back to the same value). */
void pypper_option_format(const pypper_option_def *def, const pypper_config *cfg,
                          char *buf, size_t len);
/* Apply every PYPPER_* entry of envp (NULL-terminated "NAME=value" strings) to cfg.
 * On the first bad name or value return -1 with a one-line message in err that names
 * the variable, the value and what is accepted. */
int pypper_config_apply_env(pypper_config *cfg, char *const *envp, char *err, size_t errlen);

const char *pypper_source_name(pypper_opt_source src);

/* Options_check.c. Checks between parsed options (COLD_THRESHOLD below HOT_THRESHOLD);
 * -1 with a one-line message that names both options as their sources do. */
int pypper_config_check(const pypper_config *cfg, char *err, size_t errlen);
/* How a message names an option: "PYPPER_NAME" when it came from the environment,
 * "name" (the keyword of pypper.start()) when it came from an argument; a default is
 * named as a keyword when `keywords` (the message is about keyword arguments). */
void pypper_option_label(const pypper_config *cfg, pypper_option_id id, bool keywords,
                         char *buf, size_t len);
/* "PYPPER_BACKEND=numa", "backend='numa'", "hot_threshold=0.5 (the default)". */
void pypper_option_setting(const pypper_config *cfg, pypper_option_id id, bool keywords,
                           char *buf, size_t len);
/* text in single quotes on one line: control bytes, non-ASCII bytes, quotes and
 * backslashes escaped (\xNN, \', \\), cut with "..." to fit len (at least 8). */
void pypper_quote_text(const char *text, char *buf, size_t len);

/* Value parsers, exposed for the unit tests. All return 0 on success, -1 on error. */
int pypper_parse_bool(const char *text, bool *out);
int pypper_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);
int pypper_parse_float(const char *text, double min, double max, double *out);
int pypper_parse_size(const char *text, pypper_size *out);
int pypper_parse_nodes(const char *text, pypper_nodeset *out);
bool pypper_nodeset_has(const pypper_nodeset *set, unsigned node);
bool pypper_nodeset_empty(const pypper_nodeset *set);
size_t pypper_edit_distance(const char *a, const char *b);

#endif
