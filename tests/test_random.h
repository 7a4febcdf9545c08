/* Deterministic test data: a 32-bit linear congruential generator, so every machine and run
 * draws the same values. Define TEST_RNG_SEED before including; each test file has its own
 * sequence. */
#ifndef SDC_TEST_RANDOM_H
#define SDC_TEST_RANDOM_H

#include <criterion/criterion.h>
#include <stdlib.h>

static unsigned rng_state = TEST_RNG_SEED;

/* The next value, uniform in [-1, 1) on a grid of 2^-15. */
static inline float frand(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* n values scale * frand() in a new array (the caller frees it). */
static inline float *random_floats(size_t n, float scale)
{
    float *p = malloc(n * sizeof(float));
    cr_assert(p);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * frand();
    return p;
}

#endif
