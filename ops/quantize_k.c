/* ggml's K-quant quantisers with importance weights (see quantize_k.h). A super-block of 256
 * values has 16 (q2_K, q3_K, q6_K) or 8 (q4_K, q5_K) sub-blocks, each with its own scale
 * (and offset), the scales themselves quantised against one half-precision scale; the values
 * are then re-quantised against the scales as stored. Block layouts as ops/quant.c reads
 * them. The same float operations in the same order as ggml-quants.c. */
#include "ops/quantize_k.h"

#include <math.h>
#include <string.h>

#include "ops/dtype.h"
#include "ops/quantize_search.h"

enum { QK_K = 256 };

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static float half_at(const uint8_t *p) { return sdc_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* The super-block's mean square times `k`: the weights are sqrt(sigma2 + x^2). */
static float block_sigma2(const float *x, float k)
{
    float sum_x2 = 0.0f;
    for (int j = 0; j < QK_K; j++) {
        float sq = x[j] * x[j];
        sum_x2 += sq;
    }
    return k * sum_x2 / (float)QK_K;
}

/* Weights of n values and their sum. */
static float sub_weights(const float *x, int n, float sigma2, float *w)
{
    float sum = 0.0f;
    for (int l = 0; l < n; l++) {
        float sq = x[l] * x[l];
        w[l] = 1.0f * sqrtf(sigma2 + sq);
    }
    for (int l = 0; l < n; l++)
        sum += w[l];
    return sum;
}

/* 2-bit levels, four a byte: byte l of each 32-byte group holds values l, l+32, l+64, l+96. */
static void put_crumbs(uint8_t *qs, const uint8_t *L)
{
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                      L[j + l + 96] << 6);
}

/* --- q2_K: 84 bytes = scales[16] (scale | min << 4), qs[64], d, dmin --- */

static void q2_k_block(const float *x, uint8_t *y)
{
    uint8_t L[QK_K], Ls[16], Lm[16];
    float w[16], sw[16], scales[16], mins[16];
    float sigma2 = block_sigma2(x, 1.0f);
    for (int j = 0; j < 16; j++) {
        sw[j] = sub_weights(x + 16 * j, 16, sigma2, w);
        scales[j] = sdc_qs_affine(x + 16 * j, w, 16, 3, L + 16 * j, &mins[j]);
    }
    float dm = sdc_qs_positive(scales, sw, 16, 15, Ls);
    float mm = sdc_qs_positive(mins, sw, 16, 15, Lm);
    sdc_qs_put_half(y + 80, dm);
    sdc_qs_put_half(y + 82, mm);
    dm = half_at(y + 80);
    mm = half_at(y + 82);
    for (int j = 0; j < 16; j++)
        y[j] = (uint8_t)(Ls[j] | Lm[j] << 4);
    for (int j = 0; j < 16; j++) {
        float d = dm * (float)(y[j] & 15);
        if (d == 0.0f)
            continue;
        float m = mm * (float)(y[j] >> 4);
        for (int i = 0; i < 16; i++)
            L[16 * j + i] = (uint8_t)clamp_int(sdc_qs_nearest((x[16 * j + i] + m) / d), 0, 3);
    }
    put_crumbs(y + 16, L);
}

void sdc_quantize_q2_k(const float *x, size_t n, uint8_t *dst)
{
    for (size_t b = 0; b < n / QK_K; b++)
        q2_k_block(x + b * QK_K, dst + b * 84);
}

/* --- q3_K: 110 bytes = hmask[32], qs[64], scales[12] (6-bit, offset 32), d --- */

/* Packs 16 6-bit scales: low nibbles in bytes 0-7, high two bits in bytes 8-11. */
static void q3_k_put_scales(uint8_t *sc, const int8_t *Ls)
{
    memset(sc, 0, 12);
    for (int j = 0; j < 16; j++) {
        int l = Ls[j];
        if (j < 8)
            sc[j] = (uint8_t)(l & 15);
        else
            sc[j - 8] |= (uint8_t)((l & 15) << 4);
        l >>= 4;
        sc[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
    }
}

static int q3_k_scale(const uint8_t *sc, int j)
{
    int8_t s = (int8_t)(j < 8 ? sc[j] & 15 : sc[j - 8] >> 4);
    return (int8_t)((s | ((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32);
}

/* High bits of levels 4-7 into hmask (bit k of byte m: value 32 k + m), the rest as crumbs. */
static void q3_k_put_levels(uint8_t *y, int8_t *L)
{
    memset(y, 0, 32);
    for (int j = 0; j < QK_K; j++)
        if (L[j] > 3) {
            y[j % 32] |= (uint8_t)(1 << (j / 32));
            L[j] = (int8_t)(L[j] - 4);
        }
    put_crumbs(y + 32, (const uint8_t *)L);
}

static void q3_k_block(const float *x, uint8_t *y)
{
    int8_t L[QK_K], Ls[16];
    float w[16], sw[16], scales[16];
    float sigma2 = block_sigma2(x, 2.0f);
    for (int j = 0; j < 16; j++) {
        sw[j] = sub_weights(x + 16 * j, 16, sigma2, w);
        scales[j] = sdc_qs_symmetric(x + 16 * j, w, 16, 4, L + 16 * j);
    }
    float d_block = sdc_qs_symmetric(scales, sw, 16, 32, Ls);
    q3_k_put_scales(y + 96, Ls);
    sdc_qs_put_half(y + 108, d_block);
    float dh = half_at(y + 108);
    for (int j = 0; j < 16; j++) {
        float d = dh * (float)q3_k_scale(y + 96, j);
        if (d == 0.0f)
            continue;
        for (int i = 0; i < 16; i++)
            L[16 * j + i] = (int8_t)(clamp_int(sdc_qs_nearest(x[16 * j + i] / d), -4, 3) + 4);
    }
    q3_k_put_levels(y, L);
}

void sdc_quantize_q3_k(const float *x, size_t n, uint8_t *dst)
{
    for (size_t b = 0; b < n / QK_K; b++)
        q3_k_block(x + b * QK_K, dst + b * 110);
}

/* --- q4_K / q5_K: d, dmin, scales[12] (8 6-bit scales and mins), [qh[32]], qs[128] --- */

static void k4_put_scales(uint8_t *sc, const uint8_t *Ls, const uint8_t *Lm, int cap)
{
    for (int j = 0; j < 8; j++) {
        uint8_t ls = Ls[j], lm = Lm[j];
        if (cap) {
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
        }
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
            sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
}

/* Scale and min of sub-block j (ggml's get_scale_min_k4). */
static void k4_scale_min(const uint8_t *q, int j, int *d, int *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4;
        *m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

/* Levels 0..nmax of one super-block (y: d, dmin, scales as written so far) into L. */
static void k4_levels(const float *x, uint8_t *y, int nmax, int cap, uint8_t *L)
{
    uint8_t Ls[8], Lm[8];
    float w[32], sw[8], scales[8], mins[8];
    float sigma2 = block_sigma2(x, 2.0f);
    for (int j = 0; j < 8; j++) {
        sw[j] = sub_weights(x + 32 * j, 32, sigma2, w);
        scales[j] = sdc_qs_affine(x + 32 * j, w, 32, nmax, L + 32 * j, &mins[j]);
    }
    float d_block = sdc_qs_positive(scales, sw, 8, 63, Ls);
    float m_block = sdc_qs_positive(mins, sw, 8, 63, Lm);
    k4_put_scales(y + 4, Ls, Lm, cap);
    sdc_qs_put_half(y, d_block);
    sdc_qs_put_half(y + 2, m_block);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(y + 4, j, &sc, &m);
        float d = half_at(y) * (float)sc;
        if (d == 0.0f)
            continue;
        float dm = half_at(y + 2) * (float)m;
        for (int i = 0; i < 32; i++)
            L[32 * j + i] = (uint8_t)clamp_int(sdc_qs_nearest((x[32 * j + i] + dm) / d), 0, nmax);
    }
}

void sdc_quantize_q4_k(const float *x, size_t n, uint8_t *dst)
{
    for (size_t b = 0; b < n / QK_K; b++, x += QK_K, dst += 144) {
        uint8_t L[QK_K];
        k4_levels(x, dst, 15, 0, L);
        for (int j = 0; j < QK_K; j += 64)
            for (int l = 0; l < 32; l++)
                dst[16 + j / 2 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

void sdc_quantize_q5_k(const float *x, size_t n, uint8_t *dst)
{
    for (size_t b = 0; b < n / QK_K; b++, x += QK_K, dst += 176) {
        uint8_t L[QK_K], *qh = dst + 16, *ql = dst + 48;
        k4_levels(x, dst, 31, 1, L);
        memset(qh, 0, 32);
        for (int k = 0; k < QK_K / 64; k++, ql += 32)
            for (int j = 0; j < 32; j++) {
                int l1 = L[64 * k + j], l2 = L[64 * k + j + 32];
                qh[j] |= (uint8_t)((l1 >> 4) << (2 * k) | (l2 >> 4) << (2 * k + 1));
                ql[j] = (uint8_t)((l1 & 15) | (l2 & 15) << 4);
            }
    }
}

/* --- q6_K: 210 bytes = ql[128], qh[64], scales[16] (int8), d --- */

static void q6_k_put_levels(uint8_t *ql, uint8_t *qh, const int8_t *L)
{
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
        for (int l = 0; l < 32; l++) {
            int a = L[j + l], b = L[j + l + 32], c = L[j + l + 64], e = L[j + l + 96];
            ql[l] = (uint8_t)((a & 15) | (c & 15) << 4);
            ql[l + 32] = (uint8_t)((b & 15) | (e & 15) << 4);
            qh[l] = (uint8_t)(a >> 4 | (b >> 4) << 2 | (c >> 4) << 4 | (e >> 4) << 6);
        }
}

static void q6_k_block(const float *x, uint8_t *y)
{
    static const float ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    int8_t L[QK_K];
    float scales[16], max_scale = 0.0f, max_abs = 0.0f;
    for (int j = 0; j < 16; j++) {
        scales[j] = sdc_qs_symmetric(x + 16 * j, ones, 16, 32, L + 16 * j);
        if (fabsf(scales[j]) > max_abs) {
            max_abs = fabsf(scales[j]);
            max_scale = scales[j];
        }
    }
    if (max_abs < 1e-15f) { /* ggml's GROUP_MAX_EPS: an all-zero block */
        memset(y, 0, 210);
        return;
    }
    float iscale = -128.0f / max_scale;
    sdc_qs_put_half(y + 208, 1.0f / iscale);
    for (int j = 0; j < 16; j++) {
        int s = sdc_qs_nearest(iscale * scales[j]);
        y[192 + j] = (uint8_t)(int8_t)(s < 127 ? s : 127);
    }
    float dh = half_at(y + 208);
    for (int j = 0; j < 16; j++) {
        float d = dh * (float)(int8_t)y[192 + j];
        if (d == 0.0f)
            continue;
        for (int i = 0; i < 16; i++)
            L[16 * j + i] = (int8_t)(clamp_int(sdc_qs_nearest(x[16 * j + i] / d), -32, 31) + 32);
    }
    q6_k_put_levels(y, y + 128, L);
}

void sdc_quantize_q6_k(const float *x, size_t n, uint8_t *dst)
{
    for (size_t b = 0; b < n / QK_K; b++)
        q6_k_block(x + b * QK_K, dst + b * 210);
}
