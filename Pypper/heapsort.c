/* Pypper/heapsort.c: heapsort (heapsort.h): O(n log n), no memory but the array. */
#include "heapsort.h"

static void sift_down(uint32_t *v, size_t root, size_t n, pypper_cmp_fn cmp, const void *ctx)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && cmp(v[child], v[child + 1], ctx) < 0)
            child++;
        if (cmp(v[root], v[child], ctx) >= 0)
            return;
        uint32_t t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

void pypper_heapsort(uint32_t *v, size_t n, pypper_cmp_fn cmp, const void *ctx)
{
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n, cmp, ctx);
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(v, 0, end, cmp, ctx);
    }
}
