#include "ops/scratch.h"

#include <stdatomic.h>
#include <stdlib.h>

/* The shared buffer lives until the process exits; it only grows. */
static float *cache;
static size_t cache_floats;
static atomic_flag cache_busy = ATOMIC_FLAG_INIT;

static float *alloc_floats(size_t floats)
{
    return aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
}

sdc_scratch sdc_scratch_take(size_t floats)
{
    sdc_scratch s = {NULL, 0};
    if (floats == 0)
        floats = 1;
    if (atomic_flag_test_and_set(&cache_busy)) {
        s.data = alloc_floats(floats);
        return s;
    }
    if (cache_floats < floats) {
        float *p = alloc_floats(floats);
        if (!p) {
            atomic_flag_clear(&cache_busy);
            return s;
        }
        free(cache);
        cache = p;
        cache_floats = floats;
    }
    s.data = cache;
    s.cached = 1;
    return s;
}

void sdc_scratch_give(sdc_scratch s)
{
    if (s.cached)
        atomic_flag_clear(&cache_busy);
    else
        free(s.data);
}
