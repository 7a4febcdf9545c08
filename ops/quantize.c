/* ggml's quantisers for the 32-value block types `sdc convert` writes (see quantize.h); the
 * K-quants are in quantize_k.c. Accumulations and products are written as ggml writes them;
 * sdc builds without FMA contraction. */
#include "ops/quantize.h"

#include <math.h>
#include <string.h>

#include "ops/quant.h"
#include "ops/quantize_k.h"
#include "ops/quantize_search.h"

enum { QK = 32 };

/* q8_0: d = amax / 127, q = round(x / d) (half away from zero). */
static void q8_0_row(const float *x, size_t n, uint8_t *dst)
{
    for (size_t b = 0; b < n / QK; b++, x += QK, dst += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        sdc_qs_put_half(dst, d);
        for (int j = 0; j < QK; j++)
            dst[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/* The row's mean square: with an all-ones importance matrix the weight of x is
 * sqrt(sigma2 + x^2) (quantize_row_q4_0_impl and its siblings). */
static float row_sigma2(const float *x, size_t n)
{
    float sum_x2 = 0.0f;
    for (size_t j = 0; j < n; j++) {
        float sq = x[j] * x[j];
        sum_x2 += sq;
    }
    return sum_x2 / (float)n;
}

static void block_weights(const float *x, float sigma2, float *w)
{
    for (int j = 0; j < QK; j++) {
        float sq = x[j] * x[j];
        w[j] = 1.0f * sqrtf(sigma2 + sq);
    }
}

/* Levels 0-15 as two nibbles a byte: values j and j + 16 share byte j. */
static void put_nibbles(uint8_t *q, const uint8_t *L)
{
    for (int j = 0; j < QK / 2; j++)
        q[j] = (uint8_t)((L[j] & 15) | (L[j + QK / 2] & 15) << 4);
}

/* The fifth bits of 32 levels: bit j of the little-endian word is value j's. */
static void put_fifth_bits(uint8_t *qh, const uint8_t *L)
{
    uint32_t h = 0;
    for (int j = 0; j < QK; j++)
        h |= (uint32_t)((L[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

/* q4_0 (18 bytes: d, nibbles) and q5_0 (22: d, fifth bits, nibbles): x = d (L - nmax). */
static void symmetric_row(const float *x, size_t n, uint8_t *dst, int nmax)
{
    float sigma2 = row_sigma2(x, n);
    int five = nmax == 16, bytes = five ? 22 : 18;
    for (size_t b = 0; b < n / QK; b++, x += QK, dst += bytes) {
        float w[QK];
        int8_t L[QK];
        block_weights(x, sigma2, w);
        sdc_qs_put_half(dst, sdc_qs_symmetric(x, w, QK, nmax, L));
        if (five)
            put_fifth_bits(dst + 2, (const uint8_t *)L);
        put_nibbles(dst + (five ? 6 : 2), (const uint8_t *)L);
    }
}

/* q4_1 (20 bytes: d, m, nibbles) and q5_1 (24: d, m, fifth bits, nibbles): x = d L + m. */
static void affine_row(const float *x, size_t n, uint8_t *dst, int nmax)
{
    float sigma2 = row_sigma2(x, n);
    int five = nmax == 31, bytes = five ? 24 : 20;
    for (size_t b = 0; b < n / QK; b++, x += QK, dst += bytes) {
        float w[QK], min;
        uint8_t L[QK];
        block_weights(x, sigma2, w);
        sdc_qs_put_half(dst, sdc_qs_affine(x, w, QK, nmax, L, &min));
        sdc_qs_put_half(dst + 2, -min);
        if (five)
            put_fifth_bits(dst + 4, L);
        put_nibbles(dst + (five ? 8 : 4), L);
    }
}

/* ---- ggml's reference rounding (quantize_row_*_ref): one scale per block, no search ---- */

/* q4_0 / q5_0: d = the value of largest magnitude / -nmax, L = min(2 nmax - 1, x / d + nmax
 * + 0.5 truncated). */
static void symmetric_ref_row(const float *x, size_t n, uint8_t *dst, int nmax)
{
    int five = nmax == 16, bytes = five ? 22 : 18;
    for (size_t b = 0; b < n / QK; b++, x += QK, dst += bytes) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / (float)-nmax, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t L[QK];
        for (int j = 0; j < QK; j++) {
            int8_t l = (int8_t)(x[j] * id + ((float)nmax + 0.5f));
            L[j] = (uint8_t)(l < 2 * nmax - 1 ? l : 2 * nmax - 1);
        }
        sdc_qs_put_half(dst, d);
        if (five)
            put_fifth_bits(dst + 2, L);
        put_nibbles(dst + (five ? 6 : 2), L);
    }
}

/* q4_1 / q5_1: d = (max - min) / nmax, m = min, L = (x - min) / d + 0.5 truncated. */
static void affine_ref_row(const float *x, size_t n, uint8_t *dst, int nmax)
{
    int five = nmax == 31, bytes = five ? 24 : 20;
    for (size_t b = 0; b < n / QK; b++, x += QK, dst += bytes) {
        float min = x[0], max = x[0];
        for (int j = 1; j < QK; j++) {
            min = x[j] < min ? x[j] : min;
            max = x[j] > max ? x[j] : max;
        }
        float d = (max - min) / (float)nmax, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t L[QK];
        for (int j = 0; j < QK; j++) {
            int l = (int)(uint8_t)((x[j] - min) * id + 0.5f);
            L[j] = (uint8_t)(l < nmax ? l : nmax);
        }
        sdc_qs_put_half(dst, d);
        sdc_qs_put_half(dst + 2, min);
        if (five)
            put_fifth_bits(dst + 4, L);
        put_nibbles(dst + (five ? 8 : 4), L);
    }
}

int sdc_quantize_row_ref(uint32_t id, const float *x, size_t n, uint8_t *dst)
{
    switch (id) {
    case SDC_QTYPE_Q4_0: symmetric_ref_row(x, n, dst, 8); return 0;
    case SDC_QTYPE_Q5_0: symmetric_ref_row(x, n, dst, 16); return 0;
    case SDC_QTYPE_Q4_1: affine_ref_row(x, n, dst, 15); return 0;
    case SDC_QTYPE_Q5_1: affine_ref_row(x, n, dst, 31); return 0;
    default: return sdc_quantize_row(id, x, n, dst);
    }
}

int sdc_quantize_supported(uint32_t id)
{
    switch (id) {
    case SDC_QTYPE_Q8_0: case SDC_QTYPE_Q4_0: case SDC_QTYPE_Q4_1: case SDC_QTYPE_Q5_0:
    case SDC_QTYPE_Q5_1: case SDC_QTYPE_Q2_K: case SDC_QTYPE_Q3_K: case SDC_QTYPE_Q4_K:
    case SDC_QTYPE_Q5_K: case SDC_QTYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

int sdc_quantize_row(uint32_t id, const float *x, size_t n, uint8_t *dst)
{
    switch (id) {
    case SDC_QTYPE_Q8_0: q8_0_row(x, n, dst); return 0;
    case SDC_QTYPE_Q4_0: symmetric_row(x, n, dst, 8); return 0;
    case SDC_QTYPE_Q5_0: symmetric_row(x, n, dst, 16); return 0;
    case SDC_QTYPE_Q4_1: affine_row(x, n, dst, 15); return 0;
    case SDC_QTYPE_Q5_1: affine_row(x, n, dst, 31); return 0;
    case SDC_QTYPE_Q2_K: sdc_quantize_q2_k(x, n, dst); return 0;
    case SDC_QTYPE_Q3_K: sdc_quantize_q3_k(x, n, dst); return 0;
    case SDC_QTYPE_Q4_K: sdc_quantize_q4_k(x, n, dst); return 0;
    case SDC_QTYPE_Q5_K: sdc_quantize_q5_k(x, n, dst); return 0;
    case SDC_QTYPE_Q6_K: sdc_quantize_q6_k(x, n, dst); return 0;
    default: return -1;
    }
}
