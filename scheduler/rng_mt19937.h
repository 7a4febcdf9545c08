/* 32-bit Mersenne Twister (MT19937), seeded the way torch seeds its CPU generator. */
#ifndef SDC_SCHEDULER_RNG_MT19937_H
#define SDC_SCHEDULER_RNG_MT19937_H

#include <stdint.h>

#define SDC_MT19937_N 624

typedef struct sdc_mt19937 {
    uint32_t state[SDC_MT19937_N];
    int next; /* index of the next word to temper; N means "regenerate first" */
} sdc_mt19937;

void sdc_mt19937_seed(sdc_mt19937 *mt, uint32_t seed);
uint32_t sdc_mt19937_next(sdc_mt19937 *mt);

#endif
