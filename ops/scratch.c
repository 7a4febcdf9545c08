#include "ops/scratch.h"

#include <stdlib.h>

enum { LEVELS = 3 };

/* Per thread, per nesting level: a buffer that only grows and lives until the process ends. */
static _Thread_local struct {
    float *data;
    size_t floats;
    int busy;
} cache[LEVELS];

static float *alloc_floats(size_t floats)
{
    return aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
}

sdc_scratch sdc_scratch_take(size_t floats)
{
    if (floats == 0)
        floats = 1;
    for (int l = 0; l < LEVELS; l++) {
        if (cache[l].busy)
            continue;
        if (cache[l].floats < floats) {
            float *p = alloc_floats(floats);
            if (!p)
                return (sdc_scratch){NULL, -1};
            free(cache[l].data);
            cache[l].data = p;
            cache[l].floats = floats;
        }
        cache[l].busy = 1;
        return (sdc_scratch){cache[l].data, l};
    }
    return (sdc_scratch){alloc_floats(floats), -1};
}

void sdc_scratch_give(sdc_scratch s)
{
    if (s.level >= 0)
        cache[s.level].busy = 0;
    else
        free(s.data);
}
