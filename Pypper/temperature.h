/* Pypper/temperature.h: the mapping model: sampler evidence about an object -> its
 * heat (decaying with time), its temperature in [0, 1] and its class (cold, warm,
 * hot, with hysteresis). Pure C; its parameters come from the options. */
#ifndef PYPPER_TEMPERATURE_H
#define PYPPER_TEMPERATURE_H

#include "objtable.h"
#include "options.h"

#include <stdbool.h>
#include <stdint.h>

enum { PYPPER_COLD = 0, PYPPER_WARM = 1, PYPPER_HOT = 2 };

/* What the sampler saw, each with its own weight (options *_WEIGHT). */
typedef enum {
    PYPPER_EVIDENCE_FRAME = 0,   /* newly in a slot of the innermost frame */
    PYPPER_EVIDENCE_CALLER,      /* newly in a slot of a calling frame */
    PYPPER_EVIDENCE_HOLD,        /* still in the same value-stack slot as one sample before */
    PYPPER_EVIDENCE_REFCOUNT,    /* its reference count moved between two reads */
    PYPPER_EVIDENCE_SCAN,        /* new or held in a value-stack slot pushed for an
                                  * instruction that hands it to C code that may read all
                                  * its items (sum(), a slice, `in`), in the innermost frame
                                  * or one that called C code; said beside FRAME or HOLD, it
                                  * weighs nothing itself (frame_reader.c) */
    PYPPER_EVIDENCE_KINDS
} pypper_evidence;

typedef struct {
    double half_life_ms;
    double hot_threshold, cold_threshold, hysteresis;
    double weight[PYPPER_EVIDENCE_KINDS];
} pypper_model_params;

/* A session starts: take the parameters from cfg and forget the reference heat. */
void pypper_model_reset(const pypper_config *cfg);
const pypper_model_params *pypper_model_params_get(void);

/* Add weighed evidence (pypper_model_weigh: the pieces of each kind by their weights)
 * to an object's state (pypper_entry_state_mut) at model time now_ms, one decay for
 * all of it. */
void pypper_model_add_heat(pypper_obj_state *s, double heat, uint32_t now_ms);
/* A census of heats (a log histogram) that sets the reference heat to their 95th
 * percentile; the sampler takes one at each hand-over, over a sample spread evenly over
 * the whole object table (not the window it polls: one part of the program's data).
 * An object counts while its last evidence is at most PYPPER_CENSUS_WINDOW half-lives
 * old: every object once seen keeps a heat above 0 as it decays, and counting them all
 * let a long run's crowd of objects used once (an access log's records) pull the
 * percentile down, and so every temperature up, the longer the program ran. */
#define PYPPER_CENSUS_WINDOW 4
#define PYPPER_CENSUS_BUCKETS 160
typedef struct {
    uint64_t count;
    uint32_t bucket[PYPPER_CENSUS_BUCKETS];
} pypper_model_census;
void pypper_model_census_begin(pypper_model_census *c);
void pypper_model_census_add(pypper_model_census *c, const pypper_obj_state *s, uint32_t now_ms);
void pypper_model_census_end(const pypper_model_census *c, uint32_t now_ms);
/* Any heat (decayed to now_ms already) last added to at stamp_ms, counted as above:
 * the page census (Pypper/page_heat.h) uses the same histogram. */
void pypper_model_census_add_heat(pypper_model_census *c, double heat, uint32_t stamp_ms,
                                  uint32_t now_ms);

/* A reference heat, the scale temperatures are measured on: the 95th percentile of
 * the last census that counted at least 16 heats; it
 * rises at once and falls no faster than heats decay (one census that met a crowd of
 * objects barely used, a burst of new objects with a sample each, must not make
 * everything else look hot); until such a census, the hottest heat seen. Objects have
 * one (temperature.c), pages another (page_heat.c). Its decayed value is kept per
 * model time: a hand-over or a snapshot asks for thousands of temperatures at one
 * time (each was an exp2 more). */
typedef struct {
    double heat;
    uint32_t stamp;
    bool from_census;
    bool memo_valid;
    uint32_t memo_ms;
    double memo;                /* heat decayed to memo_ms */
} pypper_model_reference;
void pypper_model_reference_reset(pypper_model_reference *r);
/* Its heat decayed to now_ms. */
double pypper_model_reference_at(pypper_model_reference *r, uint32_t now_ms);
/* A heat seen at now_ms: the reference until a census says otherwise. */
void pypper_model_reference_saw(pypper_model_reference *r, double heat, uint32_t now_ms);
/* A census taken at now_ms; too few heats in it: the reference is kept as it decays. */
void pypper_model_reference_take(pypper_model_reference *r, const pypper_model_census *c,
                                 uint32_t now_ms);
/* The same with the census's reference heat given (0: too few to say). */
void pypper_model_reference_take_heat(pypper_model_reference *r, double census, uint32_t now_ms);
/* A census's reference heat where the heats it counted are each a sum over many
 * things (a page's heat is what all the objects on it were worth): the higher of its
 * 95th percentile and the heat above which the hottest of them hold `heat_share` of
 * all the heat it counted (0: the percentile alone); 0 when it counted fewer than 16.
 * Where a few hot pages take nearly all the use and a crowd of pages each holding
 * many rarely used objects takes the rest (a graph's searches that stay in one
 * community: 100 pages of its numbers, 1,400 times hotter each than the 5,000 pages
 * of the others'), the crowd makes the 95th percentile and reads as hot as the few;
 * the heat share keeps the scale on the pages that take the use. Where heat is
 * spread evenly the percentile stands. */
double pypper_model_census_reference(const pypper_model_census *c, double heat_share);

/* A heat stamped from_ms decayed to to_ms (HALF_LIFE_MS). */
double pypper_model_decay(double heat, uint32_t from_ms, uint32_t to_ms);
/* The heat of something last seen at from_ms (an object, a page) decayed to to_ms:
 * as pypper_model_decay for PYPPER_IDLE_AFTER half-lives, then PYPPER_IDLE_RATE times
 * as fast. A burst of use builds a heat far above the reference (a list that 500,000
 * calls of random.choice() read while a graph is built: about 1,000 times the
 * reference), which plain halving keeps hot for about 13 half-lives after its last
 * use (cold: 15). What is no longer used cools within a few half-lives, whatever its
 * past; what is in use has evidence far more often than every 3 half-lives. */
#define PYPPER_IDLE_AFTER 3.0
#define PYPPER_IDLE_RATE 8.0
double pypper_model_decay_idle(double heat, uint32_t from_ms, uint32_t to_ms);
/* The heat that counts of each kind of evidence are worth (the options' weights). */
double pypper_model_weigh(const uint16_t count[PYPPER_EVIDENCE_KINDS]);
/* The heat of an object's state decayed to now_ms. */
double pypper_model_heat(const pypper_obj_state *s, uint32_t now_ms);
/* The reference heat (the scale of temperatures) decayed to now_ms. */
double pypper_model_reference_heat(uint32_t now_ms);
/* Temperature in [0, 1): with u = log(1 + 8 heat / reference) / log(9) (reference at
 * least 1), 1 - 10^-u (0.9 at the reference). Strictly increasing in heat. */
double pypper_model_temperature(double heat, uint32_t now_ms);
/* The same scale against another reference heat (at least 1): a page's heat against
 * the pages' reference (Pypper/page_heat.h). */
double pypper_model_temperature_against(double heat, double reference);
/* e's class after seeing temperature t (updates its class with hysteresis). */
int pypper_model_classify(pypper_obj_entry *e, double t);
/* The class of temperature t by the thresholds alone, for what keeps no class (a
 * page's untraced bytes, a part of an owned buffer). */
int pypper_model_class_of(double t);
const char *pypper_model_class_name(int klass);

#endif
