/* AUTOMATIC1111's Philox generator (modules/rng_philox.py), which imitates torch.randn on a
 * CUDA device: Philox 4x32-10 with key = the 64-bit seed and, for element i of the call
 * number `offset`, counter = (offset, 0, i, 0); the first two output words feed one
 * Box-Muller transform. The reference evaluates the transform in numpy float64 (uint32
 * times a float32 array promotes to float64) and rounds the result to float32. */
#include <math.h>

#include "scheduler/rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox_round(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)c[0] * PHILOX_M0;
    uint64_t p1 = (uint64_t)c[2] * PHILOX_M1;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0];
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1];
    c[1] = (uint32_t)p1;
    c[3] = (uint32_t)p0;
    c[0] = n0;
    c[2] = n2;
}

static void philox4x32_10(uint32_t c[4], uint64_t seed)
{
    uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int r = 0; r < 9; r++) {
        philox_round(c, k);
        k[0] += PHILOX_W0;
        k[1] += PHILOX_W1;
    }
    philox_round(c, k);
}

/* The reference's constants are float32 arrays; their products with the uint32 words and
 * everything after happen in float64. */
static float box_muller(uint32_t x, uint32_t y)
{
    const double inv32 = (double)2.3283064e-10f;
    const double inv32_2pi = (double)(float)(2.3283064e-10 * 6.2831855);
    const double half_inv32 = (double)(2.3283064e-10f / 2);
    const double half_inv32_2pi = (double)((float)(2.3283064e-10 * 6.2831855) / 2);
    double u = (double)x * inv32 + half_inv32;
    double v = (double)y * inv32_2pi + half_inv32_2pi;
    double s = sqrt(-2.0 * log(u));
    return (float)(s * sin(v));
}

void sdc_rng_philox_randn(uint64_t seed, uint64_t offset, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c[4] = {(uint32_t)offset, 0, (uint32_t)i, 0};
        philox4x32_10(c, seed);
        out[i] = box_muller(c[0], c[1]);
    }
}
