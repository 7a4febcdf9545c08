/* MT19937 (Matsumoto & Nishimura 1998). torch's CPU generator is this engine with
 * the standard initialisation of one 32-bit seed, so the raw stream equals std::mt19937. */
#include "scheduler/rng_mt19937.h"

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void sdc_mt19937_seed(sdc_mt19937 *mt, uint32_t seed)
{
    mt->state[0] = seed;
    for (uint32_t i = 1; i < SDC_MT19937_N; i++) {
        uint32_t prev = mt->state[i - 1];
        mt->state[i] = 1812433253u * (prev ^ (prev >> 30)) + i;
    }
    mt->next = SDC_MT19937_N;
}

static uint32_t twist(uint32_t upper, uint32_t lower, uint32_t far)
{
    uint32_t y = (upper & MT_UPPER) | (lower & MT_LOWER);
    return far ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
}

/* Regenerates the whole state block. */
static void regenerate(sdc_mt19937 *mt)
{
    uint32_t *s = mt->state;
    int i = 0;
    for (; i < SDC_MT19937_N - MT_M; i++)
        s[i] = twist(s[i], s[i + 1], s[i + MT_M]);
    for (; i < SDC_MT19937_N - 1; i++)
        s[i] = twist(s[i], s[i + 1], s[i + MT_M - SDC_MT19937_N]);
    s[SDC_MT19937_N - 1] = twist(s[SDC_MT19937_N - 1], s[0], s[MT_M - 1]);
    mt->next = 0;
}

uint32_t sdc_mt19937_next(sdc_mt19937 *mt)
{
    if (mt->next >= SDC_MT19937_N)
        regenerate(mt);
    uint32_t y = mt->state[mt->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}
