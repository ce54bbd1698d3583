/* Pypper/mistakes.c: the smoothed mistake rate and the demotion scale it drives
 * (mistakes.h). */
#include "mistakes.h"

void pypper_mistakes_init(pypper_mistakes *m, double start_scale)
{
    double s = start_scale > 1.0 ? 1.0
               : start_scale < PYPPER_MISTAKE_SCALE_MIN ? PYPPER_MISTAKE_SCALE_MIN : start_scale;
    *m = (pypper_mistakes){.scale = s};
}

void pypper_mistakes_round(pypper_mistakes *m, uint64_t demoted, uint64_t mistakes)
{
    const double w = PYPPER_MISTAKE_SMOOTHING;
    m->demoted += demoted;
    m->mistakes += mistakes;
    m->demoted_avg = (1 - w) * m->demoted_avg + w * (double)demoted;
    m->mistakes_avg = (1 - w) * m->mistakes_avg + w * (double)mistakes;
    if (m->demoted_avg < 1e-9 && m->mistakes_avg < 1e-9) {
        m->rate = 0;
        return;                 /* nothing moves, nothing comes back: no news */
    }
    /* Mistakes of pages demoted in earlier rounds can outnumber this round's
     * demotions: the rate is capped at 1 (every demotion came back). */
    m->rate = m->demoted_avg > 0 ? m->mistakes_avg / m->demoted_avg : 1.0;
    if (m->rate > 1.0)
        m->rate = 1.0;
    if (m->rate > PYPPER_MISTAKE_GOAL) {
        if (m->scale > PYPPER_MISTAKE_SCALE_MIN) {
            m->scale = m->scale / 2 < PYPPER_MISTAKE_SCALE_MIN ? PYPPER_MISTAKE_SCALE_MIN
                                                               : m->scale / 2;
            m->slowdowns++;
        }
    } else if (m->rate < PYPPER_MISTAKE_GOAL / 2 && m->scale < 1.0) {
        double up = m->scale * PYPPER_MISTAKE_GROWTH;
        m->scale = up > 1.0 ? 1.0 : up;
        m->speedups++;
    }
}

int pypper_mistake_recent(uint32_t moved_pass, uint32_t pass)
{
    return moved_pass && pass >= moved_pass && pass - moved_pass <= PYPPER_MISTAKE_ROUNDS;
}
