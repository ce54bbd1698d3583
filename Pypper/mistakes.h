/* Pypper/mistakes.h: the migration plane's mistakes and what they do to its pace. A
 * mistake is a demoted page that comes back within PYPPER_MISTAKE_ROUNDS rounds: the
 * planner promotes it again, or (far memory) the program faulted it back in, found
 * resident by the next round's mincore. Per round the plane reports how many pages
 * it demoted and how many mistakes it found; a smoothed mistake rate (mistakes per
 * demotion) above the goal halves the share of demotion candidates acted on, down to
 * 1/64, and a rate under half the goal lets it grow back by a quarter per round (the
 * anchor: DAMOS quota auto-tuning towards a goal; TPP and MTP slow demotion that
 * does not stick). Pure C; the migration plane (Python/migrate_execute.c) feeds it. */
#ifndef PYPPER_MISTAKES_H
#define PYPPER_MISTAKES_H

#include <stdint.h>

#define PYPPER_MISTAKE_ROUNDS 8u        /* a page back within this many rounds */
#define PYPPER_MISTAKE_GOAL 0.1         /* mistakes per demoted page kept under this */
#define PYPPER_MISTAKE_SCALE_MIN (1.0 / 64)
#define PYPPER_MISTAKE_SMOOTHING 0.25   /* weight of the latest round */

typedef struct {
    double demoted_avg, mistakes_avg;   /* smoothed per round */
    double rate;                        /* mistakes_avg / demoted_avg */
    double scale;                       /* share of demotion candidates acted on */
    uint64_t demoted, mistakes;         /* totals */
    uint64_t slowdowns, speedups;       /* times the scale went down / up */
} pypper_mistakes;

void pypper_mistakes_init(pypper_mistakes *m);
/* One round: pages demoted in it and mistakes found in it. */
void pypper_mistakes_round(pypper_mistakes *m, uint64_t demoted, uint64_t mistakes);
/* Was a page moved in pass `moved_pass` still recent at pass `pass`? */
int pypper_mistake_recent(uint32_t moved_pass, uint32_t pass);

#endif
