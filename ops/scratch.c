#include "ops/scratch.h"

#include "ops/pages.h"

#include <stdint.h>

enum { LEVELS = 3 };

/* Per thread, per nesting level: a buffer that only grows and lives until the process ends. */
static _Thread_local struct {
    float *data;
    size_t floats;
    int busy;
} cache[LEVELS];

/* Big buffers in huge pages (ops/pages.h): a thread's first GEMM packing block or attention
 * tile then faults once per 2 MiB. */
static float *alloc_floats(size_t floats)
{
    return floats > SIZE_MAX / sizeof(float) ? NULL : sdc_pages_alloc(floats * sizeof(float));
}

static void free_floats(float *p, size_t floats) { sdc_pages_free(p, floats * sizeof(float)); }

sdc_scratch sdc_scratch_take(size_t floats)
{
    if (floats == 0)
        floats = 1;
    for (int l = 0; l < LEVELS; l++) {
        if (cache[l].busy)
            continue;
        if (cache[l].floats < floats) {
            /* freed first, so that its pages move into the bigger buffer (ops/pages.h) */
            free_floats(cache[l].data, cache[l].floats);
            cache[l].data = alloc_floats(floats);
            cache[l].floats = cache[l].data ? floats : 0;
            if (!cache[l].data)
                return (sdc_scratch){NULL, -1, 0};
        }
        cache[l].busy = 1;
        return (sdc_scratch){cache[l].data, l, cache[l].floats};
    }
    return (sdc_scratch){alloc_floats(floats), -1, floats};
}

void sdc_scratch_give(sdc_scratch s)
{
    if (s.level >= 0)
        cache[s.level].busy = 0;
    else
        free_floats(s.data, s.floats);
}
