/* f32 kernels of the flash attention for AVX2 + FMA (see sdc_flash_kernels in
 * ops/attention_impl.h), 8 floats to a vector and 16 registers: scores as 4 rows x 16 keys
 * in 8 accumulators (broadcasting q[r][c] against 2 vectors of kt row c), and the tile's
 * probabilities times V into 4 rows x up to 3 vectors of accumulators. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#include <math.h>
#include <stddef.h>

#include "ops/attention_impl.h"
#include "ops/simd_avx2.h"

enum { ROWS = SDC_FLASH_ROWS, SCORE_TILE = 24, KEY_TILE = SDC_FLASH_KEY_TILE, DV_MAX = 3 };

/* kt[c * ldk + j] = scale k[j * stride + c] for j < n, c < d; columns n .. ldk are zero. */
static void pack_keys(float *kt, int ldk, const float *k, int stride, int n, int d, float scale)
{
    __m256 s = _mm256_set1_ps(scale);
    for (int j = 0; j < ldk; j += 8)
        for (int c = 0; c < d; c += 8) {
            __m256i cols = sdc_lanes8(d - c);
            __m256 v[8];
            for (int r = 0; r < 8; r++)
                v[r] = j + r < n ? _mm256_mul_ps(s, _mm256_maskload_ps(
                                                        k + (size_t)(j + r) * stride + c, cols))
                                 : _mm256_setzero_ps();
            sdc_transpose8(v);
            for (int t = 0; t < 8 && c + t < d; t++)
                _mm256_store_ps(kt + (size_t)(c + t) * ldk + j, v[t]);
        }
}

/* vp[j * ldv + c] = v[j * stride + c] for j < n, c < d, zero up to ldv (d rounded up to 8). */
static void pack_values(float *vp, int ldv, const float *v, int stride, int n, int d)
{
    for (int j = 0; j < n; j++)
        for (int c = 0; c < ldv; c += 8)
            _mm256_store_ps(vp + (size_t)j * ldv + c,
                            _mm256_maskload_ps(v + (size_t)j * stride + c, sdc_lanes8(d - c)));
}

/* p[r][s0 + 8 v ..] = scores of query row r with keys j0 + s0 + 8 v .. + 7, v < NV; the
 * accumulators are this function's own, so that they stay in registers. */
static inline __attribute__((always_inline)) void
score_tile(const int NV, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
           float (*p)[KEY_TILE], int s0)
{
    __m256 s[ROWS][3];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++)
            s[r][v] = _mm256_setzero_ps();
#pragma GCC unroll 4 /* 0.93-0.97x of the rolled loops' time on Zen 3 */
    for (int c = 0; c < d; c++) {
        const float *kc = kt + (size_t)c * ldk + j0 + s0;
        __m256 kv[3];
        for (int v = 0; v < NV; v++)
            kv[v] = _mm256_load_ps(kc + 8 * v);
        for (int r = 0; r < ROWS; r++) {
            __m256 qb = _mm256_broadcast_ss(q[r] + c);
            for (int v = 0; v < NV; v++)
                s[r][v] = _mm256_fmadd_ps(qb, kv[v], s[r][v]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++)
            _mm256_store_ps(p[r] + s0 + 8 * v, s[r][v]);
}

static void scores(int n, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
                   float (*p)[KEY_TILE])
{
    for (int s0 = 0; s0 < n;) {
        int left = (n - s0 + 7) / 8, nv = left == 4 ? 2 : left < 3 ? left : 3;
        switch (nv) {
        case 1: score_tile(1, q, kt, ldk, j0, d, p, s0); break;
        case 2: score_tile(2, q, kt, ldk, j0, d, p, s0); break;
        default: score_tile(3, q, kt, ldk, j0, d, p, s0); break;
        }
        s0 += 8 * nv;
    }
}

static float tile_max(float *p, int n, int valid)
{
    __m256 ninf = _mm256_set1_ps(-INFINITY), mx = ninf;
    for (int j = 0; j < n; j += 8) {
        __m256 s = _mm256_load_ps(p + j);
        if (valid - j < 8) {
            s = _mm256_blendv_ps(ninf, s, _mm256_castsi256_ps(sdc_lanes8(valid - j)));
            _mm256_store_ps(p + j, s);
        }
        mx = _mm256_max_ps(mx, s);
    }
    return sdc_hmax8(mx);
}

static float weights(float *p, int n, float max)
{
    __m256 m = _mm256_set1_ps(max), sum = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) {
        __m256 e = sdc_exp2_8(_mm256_sub_ps(_mm256_load_ps(p + j), m));
        sum = _mm256_add_ps(sum, e);
        _mm256_store_ps(p + j, e);
    }
    return sdc_hsum8(sum);
}

/* o[r][c0 ..] += sum_j p[r][j] vp[j][c0 ..] over DV vectors of columns. */
static inline __attribute__((always_inline)) void
pv_tile(const int DV, float *o, int ldv, const float (*p)[KEY_TILE], const float *vp, int nj,
        int c0)
{
    __m256 acc[ROWS][DV_MAX];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            acc[r][t] = _mm256_load_ps(o + (size_t)r * ldv + c0 + 8 * t);
#pragma GCC unroll 4 /* 0.93-0.97x of the rolled loops' time on Zen 3 */
    for (int j = 0; j < nj; j++) {
        const float *vj = vp + (size_t)j * ldv + c0;
        __m256 vv[DV_MAX];
        for (int t = 0; t < DV; t++)
            vv[t] = _mm256_load_ps(vj + 8 * t);
        for (int r = 0; r < ROWS; r++) {
            __m256 pb = _mm256_broadcast_ss(p[r] + j);
            for (int t = 0; t < DV; t++)
                acc[r][t] = _mm256_fmadd_ps(pb, vv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            _mm256_store_ps(o + (size_t)r * ldv + c0 + 8 * t, acc[r][t]);
}

/* Columns in tiles of 3 vectors, the last two tiles 2 + 2 rather than 3 + 1. */
static void accumulate_pv(float *o, int ldv, const float (*p)[KEY_TILE], const float *vp,
                          int j0, int nj)
{
    vp += (size_t)j0 * ldv;
    for (int c0 = 0; c0 < ldv;) {
        int left = (ldv - c0) / 8;
        int dv = left == 4 ? 2 : left < DV_MAX ? left : DV_MAX;
        switch (dv) {
        case 1: pv_tile(1, o, ldv, p, vp, nj, c0); break;
        case 2: pv_tile(2, o, ldv, p, vp, nj, c0); break;
        default: pv_tile(3, o, ldv, p, vp, nj, c0); break;
        }
        c0 += 8 * dv;
    }
}

static const sdc_flash_kernels f32_kernels = {
    .lanes = 8, .pack_keys = pack_keys, .pack_values = pack_values, .pack_queries = NULL,
    .scores = scores, .tile_max = tile_max, .weights = weights, .pv = accumulate_pv};

const sdc_flash_kernels *sdc_flash_kernels_avx2(void)
{
    return &f32_kernels;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
