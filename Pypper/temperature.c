/* Pypper/temperature.c: the mapping model (temperature.h). Every object's heat is a
 * sum of weighted evidence that halves every HALF_LIFE_MS without new evidence,
 * stored as (heat, stamp) and decayed lazily when read or added to. Temperatures
 * are heats on a log scale relative to a reference heat: the 95th percentile of
 * the heats of objects with any heat, estimated from a histogram of a sample spread
 * over the whole object table at each hand-over (one held container can be far
 * hotter than everything it holds; a maximum would make every other object look
 * lukewarm), held as it decays when a census finds less. The reference heat maps
 * to 0.9, hotter objects approach 1 without reaching it. Classes change only when a
 * temperature goes HYSTERESIS past a threshold, so objects near a threshold do not
 * flap. */
#include "temperature.h"

#include <math.h>
#include <string.h>

static pypper_model_params P = {
    .half_life_ms = 1000.0, .hot_threshold = 0.5, .cold_threshold = 0.2, .hysteresis = 0.05,
    .weight = {1.0, 0.5, 0.02, 1.0},
};
/* The reference heat in the units temperatures are computed in (see
 * pypper_model_temperature); LOG1P_REFERENCE_SCALE = log1p(REFERENCE_SCALE). */
#define REFERENCE_SCALE 8.0
#define LOG1P_REFERENCE_SCALE 2.1972245773362196
#define REFERENCE_FLOOR 1.0
static pypper_model_reference objects;  /* the objects' (a session start resets it: the
                                           half-life may change) */

void pypper_model_reset(const pypper_config *cfg)
{
    P.half_life_ms = (double)cfg->half_life_ms;
    P.hot_threshold = cfg->hot_threshold;
    P.cold_threshold = cfg->cold_threshold < cfg->hot_threshold ? cfg->cold_threshold
                                                                 : cfg->hot_threshold;
    P.hysteresis = cfg->hysteresis;
    P.weight[PYPPER_EVIDENCE_FRAME] = 1.0;
    P.weight[PYPPER_EVIDENCE_CALLER] = cfg->caller_weight;
    P.weight[PYPPER_EVIDENCE_HOLD] = cfg->hold_weight;
    P.weight[PYPPER_EVIDENCE_REFCOUNT] = cfg->refcount_weight;
    P.weight[PYPPER_EVIDENCE_SCAN] = 0.0;
    pypper_model_reference_reset(&objects);
}

void pypper_model_reference_reset(pypper_model_reference *r)
{
    *r = (pypper_model_reference){0};
}

double pypper_model_reference_at(pypper_model_reference *r, uint32_t now_ms)
{
    if (!r->memo_valid || r->memo_ms != now_ms) {
        r->memo = pypper_model_decay(r->heat, r->stamp, now_ms);
        r->memo_ms = now_ms;
        r->memo_valid = true;
    }
    return r->memo;
}

void pypper_model_reference_saw(pypper_model_reference *r, double heat, uint32_t now_ms)
{
    if (!r->from_census && heat > pypper_model_reference_at(r, now_ms)) {
        r->heat = heat;
        r->stamp = now_ms;
        r->memo_valid = false;
    }
}

static double census_percentile(const pypper_model_census *c);

void pypper_model_reference_take(pypper_model_reference *r, const pypper_model_census *c,
                                 uint32_t now_ms)
{
    pypper_model_reference_take_heat(r, census_percentile(c), now_ms);
}

void pypper_model_reference_take_heat(pypper_model_reference *r, double census, uint32_t now_ms)
{
    if (!(census > 0.0))
        return;
    double held = r->from_census ? pypper_model_reference_at(r, now_ms) : 0.0;
    r->heat = census > held ? census : held;
    r->stamp = now_ms;
    r->from_census = true;
    r->memo_valid = false;
}

const pypper_model_params *pypper_model_params_get(void) { return &P; }

double pypper_model_decay(double heat, uint32_t from_ms, uint32_t to_ms)
{
    if (heat == 0.0 || to_ms <= from_ms)
        return heat;
    return heat * exp2(-(double)(to_ms - from_ms) / P.half_life_ms);
}

double pypper_model_decay_idle(double heat, uint32_t from_ms, uint32_t to_ms)
{
    if (heat == 0.0 || to_ms <= from_ms)
        return heat;
    double halvings = (double)(to_ms - from_ms) / P.half_life_ms;
    if (halvings > PYPPER_IDLE_AFTER)
        halvings += (halvings - PYPPER_IDLE_AFTER) * (PYPPER_IDLE_RATE - 1.0);
    return heat * exp2(-halvings);
}

double pypper_model_weigh(const uint16_t count[PYPPER_EVIDENCE_KINDS])
{
    double heat = 0.0;
    for (int k = 0; k < PYPPER_EVIDENCE_KINDS; k++)
        heat += P.weight[k] * count[k];
    return heat;
}

double pypper_model_heat(const pypper_obj_state *s, uint32_t now_ms)
{
    return pypper_model_decay_idle(s->heat, s->stamp, now_ms);
}

double pypper_model_reference_heat(uint32_t now_ms)
{
    return pypper_model_reference_at(&objects, now_ms);
}

void pypper_model_add_heat(pypper_obj_state *s, double add, uint32_t now_ms)
{
    double heat = pypper_model_heat(s, now_ms) + add;
    s->heat = (float)heat;
    s->stamp = now_ms;
    pypper_model_reference_saw(&objects, heat, now_ms);
}

void pypper_model_census_begin(pypper_model_census *c)
{
    memset(c, 0, sizeof(*c));
}

void pypper_model_census_add(pypper_model_census *c, const pypper_obj_state *s, uint32_t now_ms)
{
    if (!(s->heat > 0.0f))
        return;                                     /* without heat: not counted */
    pypper_model_census_add_heat(c, pypper_model_heat(s, now_ms), s->stamp, now_ms);
}

void pypper_model_census_add_heat(pypper_model_census *c, double heat, uint32_t stamp_ms,
                                  uint32_t now_ms)
{
    uint32_t age = now_ms > stamp_ms ? now_ms - stamp_ms : 0;
    if ((double)age > PYPPER_CENSUS_WINDOW * P.half_life_ms)
        return;                                     /* not used lately: not counted */
    if (!(heat > 0.0))
        return;
    /* Buckets of a quarter octave from 2^-16 up. */
    int b = (int)floor(4.0 * (log2(heat) + 16.0));
    b = b < 0 ? 0 : b >= PYPPER_CENSUS_BUCKETS ? PYPPER_CENSUS_BUCKETS - 1 : b;
    c->bucket[b]++;
    c->count++;
}

/* The upper edge of bucket b's heats. */
static double bucket_top(int b) { return exp2((double)(b + 1) / 4.0 - 16.0); }

/* The census's 95th percentile heat; 0 when it counted fewer than 16 heats. */
static double census_percentile(const pypper_model_census *c)
{
    if (c->count < 16)
        return 0.0;             /* too few to say */
    uint64_t want = c->count - c->count / 20, seen = 0;
    for (int b = 0; b < PYPPER_CENSUS_BUCKETS; b++) {
        seen += c->bucket[b];
        if (seen >= want)
            return bucket_top(b);
    }
    return 0.0;
}

double pypper_model_census_reference(const pypper_model_census *c, double heat_share)
{
    double percentile = census_percentile(c);
    if (!(percentile > 0.0) || !(heat_share > 0.0))
        return percentile;
    /* Each bucket's heats at its middle (a quarter octave wide: within 9%). */
    double total = 0.0;
    for (int b = 0; b < PYPPER_CENSUS_BUCKETS; b++)
        total += c->bucket[b] * exp2((double)b / 4.0 + 0.125 - 16.0);
    double seen = 0.0;
    for (int b = PYPPER_CENSUS_BUCKETS - 1; b >= 0; b--) {
        seen += c->bucket[b] * exp2((double)b / 4.0 + 0.125 - 16.0);
        if (seen >= heat_share * total) {
            double top = bucket_top(b);
            return top > percentile ? top : percentile;
        }
    }
    return percentile;
}

void pypper_model_census_end(const pypper_model_census *c, uint32_t now_ms)
{
    pypper_model_reference_take(&objects, c, now_ms);
}

double pypper_model_temperature(double heat, uint32_t now_ms)
{
    return pypper_model_temperature_against(heat, pypper_model_reference_at(&objects, now_ms));
}

double pypper_model_temperature_against(double heat, double reference)
{
    double ref = reference > REFERENCE_FLOOR ? reference : REFERENCE_FLOOR;
    if (heat <= 0.0)
        return 0.0;
    /* u: heat on a log scale, 1 at the reference; 1 - 10^-u keeps every heat apart
     * (no clipping, so ranks survive) and puts the reference at 0.9. Heat is counted
     * in REFERENCE_SCALE-ths of the reference, so the scale does not depend on how
     * many samples a second the sampler took (a loaded machine, a program whose hot
     * objects stay on the frame): hot from about 1/8.6 of the reference, cold below
     * about 1/34 of it (3 and 3.3 half-lives without use after being as hot: see
     * PYPPER_IDLE_AFTER). */
    double u = log1p(heat * REFERENCE_SCALE / ref) / LOG1P_REFERENCE_SCALE;
    return 1.0 - pow(10.0, -u);
}

int pypper_model_classify(pypper_obj_entry *e, double t)
{
    double h = P.hysteresis;
    int k = pypper_entry_class(e);
    switch (k) {
    case PYPPER_HOT:
        if (t < P.hot_threshold - h)
            k = t < P.cold_threshold ? PYPPER_COLD : PYPPER_WARM;
        break;
    case PYPPER_WARM:
        if (t >= P.hot_threshold + h)
            k = PYPPER_HOT;
        else if (t < P.cold_threshold - h)
            k = PYPPER_COLD;
        break;
    default:
        if (t >= P.hot_threshold + h)
            k = PYPPER_HOT;
        else if (t >= P.cold_threshold + h)
            k = PYPPER_WARM;
        break;
    }
    e->klass = (uint8_t)((e->klass & PYPPER_ENTRY_STATEFUL) | (unsigned)k);
    return k;
}

int pypper_model_class_of(double t)
{
    return t >= P.hot_threshold ? PYPPER_HOT : t < P.cold_threshold ? PYPPER_COLD : PYPPER_WARM;
}

const char *pypper_model_class_name(int klass)
{
    return klass == PYPPER_HOT ? "hot" : klass == PYPPER_WARM ? "warm" : "cold";
}
