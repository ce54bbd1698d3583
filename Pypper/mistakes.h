/* Pypper/mistakes.h: the migration plane's mistakes and what they do to its pace. A
 * mistake is a demoted page that comes back within PYPPER_MISTAKE_ROUNDS rounds: the
 * planner promotes it again, or (far memory) the program faulted it back in, found
 * resident by the next round's mincore. Per round the plane reports how many pages
 * it demoted and how many mistakes it found; a smoothed mistake rate (mistakes per
 * demotion) above the goal halves the share of demotion candidates acted on, down to
 * 1/64, and a rate under half the goal lets it grow by PYPPER_MISTAKE_GROWTH per
 * round up to 1 (the anchor: DAMOS quota auto-tuning towards a goal; TPP and MTP slow
 * demotion that does not stick). Where a mistake is a major fault (far memory) the
 * scale starts low (PYPPER_MISTAKE_SCALE_FAR): demotions earn their pace by sticking.
 * Pure C; the migration plane (Python/migrate_execute.c) feeds it. */
#ifndef PYPPER_MISTAKES_H
#define PYPPER_MISTAKES_H

#include <stdint.h>

#define PYPPER_MISTAKE_ROUNDS 8u        /* a page back within this many rounds */
#define PYPPER_MISTAKE_GOAL 0.1         /* mistakes per demoted page kept under this */
#define PYPPER_MISTAKE_SCALE_MIN (1.0 / 64)
#define PYPPER_MISTAKE_SMOOTHING 0.25   /* weight of the latest round */
#define PYPPER_MISTAKE_GROWTH 1.5       /* scale x this after a round under half the goal */
#define PYPPER_MISTAKE_SCALE_FAR (1.0 / 16)  /* the first scale where mistakes fault */

typedef struct {
    double demoted_avg, mistakes_avg;   /* smoothed per round */
    double rate;                        /* mistakes_avg / demoted_avg */
    double scale;                       /* share of demotion candidates acted on */
    uint64_t demoted, mistakes;         /* totals */
    uint64_t slowdowns, speedups;       /* times the scale went down / up */
} pypper_mistakes;

/* start_scale: the share of demotion candidates the first rounds act on (1, or
 * PYPPER_MISTAKE_SCALE_FAR for a far-memory backend); clamped to [SCALE_MIN, 1]. */
void pypper_mistakes_init(pypper_mistakes *m, double start_scale);
/* One round: pages demoted in it and mistakes found in it. */
void pypper_mistakes_round(pypper_mistakes *m, uint64_t demoted, uint64_t mistakes);
/* Was a page moved in pass `moved_pass` still recent at pass `pass`? */
int pypper_mistake_recent(uint32_t moved_pass, uint32_t pass);

#endif
