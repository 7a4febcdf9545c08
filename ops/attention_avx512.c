/* f32 kernels of the flash attention for AVX-512 (see sdc_flash_kernels in
 * ops/attention_impl.h): scores as register-blocked products (4 rows x 64 keys in 16
 * accumulators, broadcasting q[r][c] against 4 vectors of kt row c), and the tile's
 * probabilities times V into 4 rows x up to 6 vectors of accumulators. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#endif

#include <math.h>
#include <stddef.h>

#include "ops/attention_impl.h"
#include "ops/simd_avx512.h"

enum { ROWS = SDC_FLASH_ROWS, SCORE_TILE = 64, KEY_TILE = SDC_FLASH_KEY_TILE, DV_MAX = 6 };

static int min_int(int a, int b) { return a < b ? a : b; }

/* kt[c * ldk + j] = scale k[j * stride + c] for j < n, c < d; columns n .. ldk are zero. */
static void pack_keys(float *kt, int ldk, const float *k, int stride, int n, int d, float scale)
{
    __m512 s = _mm512_set1_ps(scale);
    for (int j = 0; j < ldk; j += 16)
        for (int c = 0; c < d; c += 16) {
            __mmask16 cols = sdc_lanes16(d - c);
            __m512 v[16];
            for (int r = 0; r < 16; r++)
                v[r] = j + r < n ? _mm512_mul_ps(s, _mm512_maskz_loadu_ps(
                                                         cols, k + (size_t)(j + r) * stride + c))
                                 : _mm512_setzero_ps();
            sdc_transpose16(v);
            for (int t = 0; t < 16 && c + t < d; t++)
                _mm512_store_ps(kt + (size_t)(c + t) * ldk + j, v[t]);
        }
}

/* vp[j * ldv + c] = v[j * stride + c] for j < n, c < d, zero up to ldv = round16(d). */
static void pack_values(float *vp, int ldv, const float *v, int stride, int n, int d)
{
    for (int j = 0; j < n; j++)
        for (int c = 0; c < ldv; c += 16)
            _mm512_store_ps(vp + (size_t)j * ldv + c,
                            _mm512_maskz_loadu_ps(sdc_lanes16(d - c), v + (size_t)j * stride + c));
}

/* s[r][v] = scores of query row r with keys j0 + 16 v .. + 15. */
static inline __attribute__((always_inline)) void
score_tile(const int NV, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
           __m512 s[ROWS][4])
{
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++)
            s[r][v] = _mm512_setzero_ps();
    for (int c = 0; c < d; c++) {
        const float *kc = kt + (size_t)c * ldk + j0;
        __m512 kv[4];
        for (int v = 0; v < NV; v++)
            kv[v] = _mm512_load_ps(kc + 16 * v);
        for (int r = 0; r < ROWS; r++) {
            __m512 qb = _mm512_set1_ps(q[r][c]);
            for (int v = 0; v < NV; v++)
                s[r][v] = _mm512_fmadd_ps(qb, kv[v], s[r][v]);
        }
    }
}

static void scores(int n, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
                   float (*p)[KEY_TILE])
{
    for (int s0 = 0; s0 < n; s0 += SCORE_TILE) {
        int nv = (min_int(SCORE_TILE, n - s0) + 15) / 16;
        __m512 s[ROWS][4];
        switch (nv) {
        case 1: score_tile(1, q, kt, ldk, j0 + s0, d, s); break;
        case 2: score_tile(2, q, kt, ldk, j0 + s0, d, s); break;
        case 3: score_tile(3, q, kt, ldk, j0 + s0, d, s); break;
        default: score_tile(4, q, kt, ldk, j0 + s0, d, s); break;
        }
        for (int r = 0; r < ROWS; r++)
            for (int v = 0; v < nv; v++)
                _mm512_store_ps(p[r] + s0 + 16 * v, s[r][v]);
    }
}

float sdc_flash_tile_max_avx512(float *p, int n, int valid)
{
    __m512 ninf = _mm512_set1_ps(-INFINITY), mx = ninf;
    if (valid >= n && n % 16 == 0) /* no lane to mask: every key usable, no padding */
        for (int j = 0; j < n; j += 16)
            mx = _mm512_max_ps(mx, _mm512_load_ps(p + j));
    else
        for (int j = 0; j < n; j += 16) {
            __m512 s = _mm512_mask_blend_ps(sdc_lanes16(valid - j), ninf, _mm512_load_ps(p + j));
            _mm512_store_ps(p + j, s);
            mx = _mm512_max_ps(mx, s);
        }
    return _mm512_reduce_max_ps(mx);
}

/* o[r][c0 ..] += sum_j p[r][j] vp[j][c0 ..] over DV vectors of columns. */
static inline __attribute__((always_inline)) void
pv_tile(const int DV, float *o, int ldv, const float (*p)[KEY_TILE], const float *vp, int nj,
        int c0)
{
    __m512 acc[ROWS][DV_MAX];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            acc[r][t] = _mm512_load_ps(o + (size_t)r * ldv + c0 + 16 * t);
    for (int j = 0; j < nj; j++) {
        const float *vj = vp + (size_t)j * ldv + c0;
        __m512 vv[DV_MAX];
        for (int t = 0; t < DV; t++)
            vv[t] = _mm512_load_ps(vj + 16 * t);
        for (int r = 0; r < ROWS; r++) {
            __m512 pb = _mm512_set1_ps(p[r][j]);
            for (int t = 0; t < DV; t++)
                acc[r][t] = _mm512_fmadd_ps(pb, vv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            _mm512_store_ps(o + (size_t)r * ldv + c0 + 16 * t, acc[r][t]);
}

static void accumulate_pv(float *o, int ldv, const float (*p)[KEY_TILE], const float *vp,
                          int j0, int nj)
{
    vp += (size_t)j0 * ldv;
    for (int c0 = 0; c0 < ldv; c0 += 16 * DV_MAX) {
        switch (min_int(DV_MAX, (ldv - c0) / 16)) {
        case 1: pv_tile(1, o, ldv, p, vp, nj, c0); break;
        case 2: pv_tile(2, o, ldv, p, vp, nj, c0); break;
        case 3: pv_tile(3, o, ldv, p, vp, nj, c0); break;
        case 4: pv_tile(4, o, ldv, p, vp, nj, c0); break;
        case 5: pv_tile(5, o, ldv, p, vp, nj, c0); break;
        default: pv_tile(6, o, ldv, p, vp, nj, c0); break;
        }
    }
}

static float weights(float *p, int n, float max)
{
    __m512 m = _mm512_set1_ps(max), sum = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        __m512 e = sdc_exp2_16(_mm512_sub_ps(_mm512_load_ps(p + j), m));
        sum = _mm512_add_ps(sum, e);
        _mm512_store_ps(p + j, e);
    }
    return _mm512_reduce_add_ps(sum);
}

static const sdc_flash_kernels f32_kernels = {
    .lanes = 16, .pack_keys = pack_keys, .pack_values = pack_values, .pack_queries = NULL,
    .scores = scores, .tile_max = sdc_flash_tile_max_avx512, .weights = weights,
    .pv = accumulate_pv};

const sdc_flash_kernels *sdc_flash_kernels_avx512(void)
{
    return &f32_kernels;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
