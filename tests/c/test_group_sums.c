/* tests/c/test_group_sums.c: a snapshot's rows summed per (site, type) and per site:
 * bodies in their object's class and owned buffers in the classes of their pages; an
 * inferred site of a machinery type counts as no site, of another type it is kept;
 * bytes on the slow tier; the histogram's ends (0 and 1 in the first and last bins);
 * the frame's floor; a site id past the table counts as 0; rows added in chunks sum as
 * one; many groups (the map grows). */
#include "check.h"
#include "../../Pypper/group_sums.h"
#include "../../Pypper/temperature.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 7 };

/* The rows of the test as columns (room for 2000 rows: the growth check). */
static char buf[2000 * PYPPER_SNAPSHOT_ROW_BYTES];
static pypper_owned_parts owned[2000];

static void row(pypper_snapshot_columns *c, size_t i, uint64_t size, uint64_t owned, double t,
                uint32_t type, uint32_t site, uint8_t tier, uint8_t klass, uint8_t kind)
{
    pypper_snapshot_columns_set(c, i, &(pypper_snapshot_row){0x1000 * (i + 1), size, owned, t,
                                                             type, site, tier, klass, kind});
}

static const pypper_group_sum *find(const pypper_group_sums *g, uint32_t site, uint32_t type)
{
    size_t cursor = 0;
    for (const pypper_group_sum *s; (s = pypper_group_sums_next(g, &cursor));)
        if (s->site == site && s->type == type)
            return s;
    return NULL;
}

int main(void)
{
    pypper_snapshot_columns c;
    pypper_snapshot_columns_place(&c, buf, 2000);
    /* types: 0 Item, 1 list, 2 function (machinery) */
    const bool machinery[3] = {false, false, true};
    row(&c, 0, 64, 0, 0.95, 0, 1, 0, PYPPER_HOT, SITE_KIND_SAMPLED);
    row(&c, 1, 64, 4096, 0.9, 1, 1, 0, PYPPER_HOT, SITE_KIND_SAMPLED);      /* buffer split */
    /* Its buffer: 3000 bytes on pages at 0.0, 96 at 0.4, 1000 at 0.9. */
    owned[1] = (pypper_owned_parts){{3000, 96, 1000}, {[0] = 3000, [4] = 96, [9] = 1000}, 0.4 * 96 + 0.9 * 1000};
    row(&c, 2, 32, 0, 0.0, 0, 2, 1, PYPPER_COLD, SITE_KIND_NOT_SAMPLED);    /* slow tier */
    row(&c, 3, 48, 0, 1.0, 2, 2, 0, PYPPER_HOT, SITE_KIND_INFERRED);        /* machinery */
    row(&c, 4, 48, 0, 0.4, 0, 2, 0, PYPPER_WARM, SITE_KIND_INFERRED);       /* kept */
    row(&c, 5, 16, 100, 0.05, 1, 70000, 1, PYPPER_COLD, SITE_KIND_BEFORE);  /* id past the table */
    owned[5] = (pypper_owned_parts){{100, 0, 0}, {[0] = 100}, 0.05 * 100};
    row(&c, 6, 16, 0, 0.99999, 0, 1, 0, PYPPER_HOT, SITE_KIND_BUFFER);

    pypper_group_sums *g = pypper_group_sums_new(0.3);
    CHECK(g != NULL);
    /* In two chunks: rows 0-2 and 3-6 (the second chunk's columns start at row 3). */
    pypper_snapshot_columns tail = c;
    tail.address += 3, tail.size += 3, tail.owned += 3, tail.temperature += 3;
    tail.type += 3, tail.site += 3, tail.tier += 3, tail.klass += 3, tail.kind += 3;
    CHECK(pypper_group_sums_add(g, &c, 3, owned, machinery, 3));
    CHECK(pypper_group_sums_add(g, &tail, 4, owned + 3, machinery, 3));

    CHECK(pypper_group_sums_count(g) == 5);
    const pypper_group_sum *items = find(g, 1, 0), *list = find(g, 1, 1), *fn = find(g, 0, 2);
    const pypper_group_sum *near = find(g, 2, 0), *before = find(g, 0, 1);
    CHECK(items && items->objects == 2 && items->bytes == 80 && items->by_class[2] == 80);
    CHECK(items && items->hist[9] == 80 && items->tsum > 0.95 * 64 + 0.99 * 16);
    CHECK(list && list->objects == 1 && list->owned == 4096);
    CHECK(list && list->by_class[0] == 3000 && list->by_class[1] == 96 && list->by_class[2] == 1064);
    /* The histogram and the temperature sum as the classes: the body at 0.9, the
     * buffer at its pages' temperatures. */
    CHECK(list && list->hist[9] == 1064 && list->hist[4] == 96 && list->hist[0] == 3000);
    CHECK(list && list->tsum > 0.9 * 64 + 0.4 * 96 + 0.9 * 1000 - 1e-9
          && list->tsum < 0.9 * 64 + 0.4 * 96 + 0.9 * 1000 + 1e-9);
    CHECK(fn && fn->objects == 1 && fn->hist[9] == 48 && find(g, 2, 2) == NULL);
    CHECK(near && near->objects == 2 && near->slow == 32 && near->hist[0] == 32 && near->hist[4] == 48);
    CHECK(near && near->by_class[0] == 32 && near->by_class[1] == 48);
    CHECK(before && before->objects == 1 && before->slow == 116 && before->by_class[0] == 116);
    /* The frame: rows at or above 0.3 by their own site (the function's inferred one). */
    CHECK(pypper_group_sums_site(g, 1)->hot == 64 + 1064 + 16);
    CHECK(pypper_group_sums_site(g, 1)->warm == 96);      /* the cold 3000: neither */
    CHECK(pypper_group_sums_site(g, 2)->hot == 48 && pypper_group_sums_site(g, 2)->warm == 48);
    CHECK(pypper_group_sums_site(g, 0)->hot == 0 && pypper_group_sums_site(g, 0)->warm == 0);
    CHECK(pypper_group_sums_site(g, 70000) == pypper_group_sums_site(g, 0));
    pypper_group_sums_free(g);

    /* A floor above 1: no frame sums. Many groups: the map grows, all found. */
    g = pypper_group_sums_new(2.0);
    memset(owned, 0, sizeof(owned));
    for (size_t i = 0; i < 2000; i++)
        row(&c, i, 16, 0, 1.0, (uint32_t)(i % 40), (uint32_t)(i / 40 + 1), 0, PYPPER_HOT, SITE_KIND_SAMPLED);
    CHECK(pypper_group_sums_add(g, &c, 2000, owned, machinery, 3));
    CHECK(pypper_group_sums_count(g) == 2000);
    size_t found = 0, cursor = 0;
    for (const pypper_group_sum *s; (s = pypper_group_sums_next(g, &cursor));)
        found += s->objects == 1 && s->bytes == 16 && s == find(g, s->site, s->type);
    CHECK(found == 2000);
    CHECK(pypper_group_sums_site(g, 1)->hot == 0);
    pypper_group_sums_free(g);
    return check_report("test_group_sums");
}
