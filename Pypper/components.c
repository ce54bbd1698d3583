/* Pypper/components.c: runs a session's component table (components.h): start in
 * order with a rollback in reverse, stop and the fork hooks in the order each needs. */
#include "components.h"

int pypper_components_start(pypper_components *c, size_t n, const pypper_config *cfg)
{
    if (n > c->count)
        n = c->count;
    c->failed = NULL;
    for (size_t i = c->started; i < n; i++) {
        const pypper_component *k = &c->table[i];
        if (k->start && k->start(cfg) < 0) {
            c->failed = k->name;
            pypper_components_stop(c);
            return -1;
        }
        c->started = i + 1;
    }
    return 0;
}

void pypper_components_stop(pypper_components *c)
{
    while (c->started > 0) {
        const pypper_component *k = &c->table[--c->started];
        if (k->stop)
            k->stop();
    }
}

void pypper_components_before_fork(pypper_components *c)
{
    for (size_t i = c->started; i-- > 0;)
        if (c->table[i].before_fork)
            c->table[i].before_fork();
}

void pypper_components_after_fork_parent(pypper_components *c)
{
    for (size_t i = 0; i < c->started; i++)
        if (c->table[i].after_fork_parent)
            c->table[i].after_fork_parent();
}

void pypper_components_after_fork_child(pypper_components *c)
{
    for (size_t i = c->started; i-- > 0;)
        if (c->table[i].after_fork_child)
            c->table[i].after_fork_child();
    c->started = 0;
}
