/* bf16 products for the flash attention kernel (see sdc_flash_kernels in
 * ops/attention_impl.h): QK^T and PV with vdpbf16ps, which multiplies pairs of bf16 values
 * and adds them to f32 sums, so each product takes half the instructions of an f32 FMA.
 * Queries, keys (times the scale), probabilities and values are rounded to bf16 (to nearest,
 * ties to even) just before they are multiplied; the scores, the online softmax and the
 * output sums stay f32. Pairs run along the reduced index: keys pack as
 * kt[c / 2][j] = (k[j][c], k[j][c + 1]) and values as vp[j / 2][c] = (v[j][c], v[j + 1][c]),
 * the even index in the low half of each 32-bit slot; an odd last index pairs with zero.
 * Only for CPUs with AVX512_BF16 (sdc_cpu_has_bf16). */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
avx512bf16,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")
#endif

#include <stddef.h>
#include <stdint.h>

#include "ops/attention_impl.h"
#include "ops/simd_avx512.h"

enum { ROWS = SDC_FLASH_ROWS, SCORE_TILE = 64, KEY_TILE = SDC_FLASH_KEY_TILE, DV_MAX = 6 };

static int min_int(int a, int b) { return a < b ? a : b; }

/* 32 consecutive values as 16 pairs in order: slot t = (x[2t], x[2t + 1]). */
static inline __m512i pairs_in_order(__m512 lo, __m512 hi)
{
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

/* Slot j = (lo[j], hi[j]): two rows' values side by side. */
static inline __m512i pairs_across(__m512 lo, __m512 hi)
{
    /* 16-bit lanes 2j and 2j + 1 take lanes j and 16 + j of cvtne2ps's (lo, hi) */
    const __m512i j = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i interleave =
        _mm512_or_si512(j, _mm512_slli_epi32(_mm512_add_epi32(j, _mm512_set1_epi32(16)), 16));
    return _mm512_permutexvar_epi16(interleave, pairs_in_order(lo, hi));
}

/* The first n (<= 32) of x[0 ..] times s, as 16 pairs in order (zeros past n). */
static inline __m512i row_pairs(const float *x, int n, __m512 s)
{
    __m512 lo = _mm512_maskz_loadu_ps(sdc_lanes16(n), x);
    __m512 hi = _mm512_maskz_loadu_ps(sdc_lanes16(n - 16), x + 16);
    return pairs_in_order(_mm512_mul_ps(s, lo), _mm512_mul_ps(s, hi));
}

/* kt[(c / 2) * ldk + j] = pair (c, c + 1) of scale k[j]: 16 keys x 32 channels at a time,
 * each key's 16 pairs transposed into 16 rows of the panel. */
static void pack_keys(float *kt, int ldk, const float *k, int stride, int n, int d, float scale)
{
    __m512 s = _mm512_set1_ps(scale);
    for (int j = 0; j < ldk; j += 16)
        for (int c = 0; c < d; c += 32) {
            __m512 v[16];
            for (int r = 0; r < 16; r++)
                v[r] = j + r < n ? _mm512_castsi512_ps(
                                       row_pairs(k + (size_t)(j + r) * stride + c, d - c, s))
                                 : _mm512_setzero_ps();
            sdc_transpose16(v);
            for (int t = 0; t < 16 && c + 2 * t < d; t++)
                _mm512_store_ps(kt + (size_t)(c / 2 + t) * ldk + j, v[t]);
        }
}

/* vp[(j / 2) * ldv + c] = (v[j][c], v[j + 1][c]) for even j < n, zero columns d .. ldv. */
static void pack_values(float *vp, int ldv, const float *v, int stride, int n, int d)
{
    for (int j = 0; j < n; j += 2) {
        const float *lo = v + (size_t)j * stride, *hi = lo + stride;
        for (int c = 0; c < ldv; c += 16) {
            __mmask16 m = sdc_lanes16(d - c);
            __m512 b = j + 1 < n ? _mm512_maskz_loadu_ps(m, hi + c) : _mm512_setzero_ps();
            _mm512_store_si512(vp + (size_t)j / 2 * ldv + c,
                               pairs_across(_mm512_maskz_loadu_ps(m, lo + c), b));
        }
    }
}

/* qp[r * ldq + c / 2] = pair (c, c + 1) of row r; an odd d's last partner is 0. */
static void pack_queries(float *qp, int ldq, const float *q, int stride, int n, int d)
{
    for (int r = 0; r < n; r++)
        for (int c = 0; c < d; c += 32)
            _mm512_mask_storeu_epi32(qp + (size_t)r * ldq + c / 2, sdc_lanes16((d - c + 1) / 2),
                                     row_pairs(q + (size_t)r * stride + c, d - c,
                                               _mm512_set1_ps(1.0f)));
}

/* s[r][v] += q[r] . keys j0 + 16 v .. + 15, q[r] as pack_queries' pairs. */
static inline __attribute__((always_inline)) void
score_tile(const int NV, const float *const qp[ROWS], const float *kt, int ldk, int j0,
           int pairs, __m512 s[ROWS][4])
{
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++)
            s[r][v] = _mm512_setzero_ps();
    for (int c = 0; c < pairs; c++) {
        const float *kc = kt + (size_t)c * ldk + j0;
        __m512bh kv[4];
        for (int v = 0; v < NV; v++)
            kv[v] = (__m512bh)_mm512_load_si512(kc + 16 * v);
        for (int r = 0; r < ROWS; r++) {
            /* a pair, loaded as the float whose bits it shares */
            __m512bh qb = (__m512bh)_mm512_castps_si512(_mm512_set1_ps(qp[r][c]));
            for (int v = 0; v < NV; v++)
                s[r][v] = _mm512_dpbf16_ps(s[r][v], qb, kv[v]);
        }
    }
}

static void scores(int n, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
                   float (*p)[KEY_TILE])
{
    int pairs = (d + 1) / 2;
    for (int s0 = 0; s0 < n; s0 += SCORE_TILE) {
        int nv = (min_int(SCORE_TILE, n - s0) + 15) / 16;
        __m512 s[ROWS][4];
        switch (nv) {
        case 1: score_tile(1, q, kt, ldk, j0 + s0, pairs, s); break;
        case 2: score_tile(2, q, kt, ldk, j0 + s0, pairs, s); break;
        case 3: score_tile(3, q, kt, ldk, j0 + s0, pairs, s); break;
        default: score_tile(4, q, kt, ldk, j0 + s0, pairs, s); break;
        }
        for (int r = 0; r < ROWS; r++)
            for (int v = 0; v < nv; v++)
                _mm512_store_ps(p[r] + s0 + 16 * v, s[r][v]);
    }
}

/* 2^x for x <= 0 (-inf included) to within 2.4e-7 relative: x = n + f, |f| <= 1/2, 2^f by a
 * degree-5 polynomial fitted for least maximum relative error on [-1/2, 1/2]. The weights are
 * rounded to bf16 next (8 bits: up to 2^-9 relative), where sdc_exp2_16's degree 7 costs two
 * more FMAs on each 16 keys and changes about one rounding in ten thousand. */
static inline __m512 exp2_for_bf16(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-160.0f)); /* -inf - (-inf) would be NaN below */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.327646780e-03f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.675540961e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550713465e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402212024e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931469440e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.000000119e+00f));
    return _mm512_scalef_ps(p, n);
}

/* exp2(p[j] - max) for 16 keys at p (lanes past the tile's keys hold -inf). */
static inline __m512 weights16(const float *p, __m512 max)
{
    return exp2_for_bf16(_mm512_sub_ps(_mm512_load_ps(p), max));
}

/* 32 keys at a time, rounded to bf16 as vdpbf16ps will read them (to nearest, ties to even,
 * denormals flushed): their pairs go to slots j / 2 .. j / 2 + 15, which lie in the part of p
 * already read. The sum adds exactly those bf16 values, each pair times (1, 1) by the same
 * vdpbf16ps that multiplies them by V. */
static float weights(float *p, int n, float max)
{
    __m512 m = _mm512_set1_ps(max), sum = _mm512_setzero_ps();
    const __m512bh ones = (__m512bh)_mm512_set1_epi16(0x3f80); /* bf16 1.0 */
    for (int j = 0; j < n; j += 32) {
        __m512 lo = weights16(p + j, m);
        __m512 hi = j + 16 < n ? weights16(p + j + 16, m) : _mm512_setzero_ps();
        __m512i w = pairs_in_order(lo, hi);
        sum = _mm512_dpbf16_ps(sum, (__m512bh)w, ones);
        _mm512_store_si512(p + j / 2, w);
    }
    return _mm512_reduce_add_ps(sum);
}

/* o[r][c0 ..] += sum over key pairs of pairs p[r][pair] . vp[pair][c0 ..], DV vectors of
 * columns. */
static inline __attribute__((always_inline)) void
pv_tile(const int DV, float *o, int ldv, const float (*p)[KEY_TILE], const float *vp,
        int npairs, int c0)
{
    __m512 acc[ROWS][DV_MAX];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            acc[r][t] = _mm512_load_ps(o + (size_t)r * ldv + c0 + 16 * t);
    for (int j = 0; j < npairs; j++) {
        const float *vj = vp + (size_t)j * ldv + c0;
        __m512bh vv[DV_MAX];
        for (int t = 0; t < DV; t++)
            vv[t] = (__m512bh)_mm512_load_si512(vj + 16 * t);
        for (int r = 0; r < ROWS; r++) {
            /* slot j of p[r] is a pair, loaded as the float whose bits it shares */
            __m512bh pb = (__m512bh)_mm512_castps_si512(_mm512_set1_ps(p[r][j]));
            for (int t = 0; t < DV; t++)
                acc[r][t] = _mm512_dpbf16_ps(acc[r][t], pb, vv[t]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            _mm512_store_ps(o + (size_t)r * ldv + c0 + 16 * t, acc[r][t]);
}

/* p[r] holds weights' pairs; an odd nj's last partner is 0 */
static void accumulate_pv(float *o, int ldv, const float (*p)[KEY_TILE], const float *vp, int j0,
                          int nj)
{
    int npairs = (nj + 1) / 2;
    vp += (size_t)j0 / 2 * ldv;
    for (int c0 = 0; c0 < ldv; c0 += 16 * DV_MAX) {
        switch (min_int(DV_MAX, (ldv - c0) / 16)) {
        case 1: pv_tile(1, o, ldv, p, vp, npairs, c0); break;
        case 2: pv_tile(2, o, ldv, p, vp, npairs, c0); break;
        case 3: pv_tile(3, o, ldv, p, vp, npairs, c0); break;
        case 4: pv_tile(4, o, ldv, p, vp, npairs, c0); break;
        case 5: pv_tile(5, o, ldv, p, vp, npairs, c0); break;
        default: pv_tile(6, o, ldv, p, vp, npairs, c0); break;
        }
    }
}

static const sdc_flash_kernels bf16_kernels = {
    .lanes = 16, .pack_keys = pack_keys, .pack_values = pack_values, .pack_queries = pack_queries,
    .scores = scores, .tile_max = sdc_flash_tile_max_avx512, .weights = weights,
    .pv = accumulate_pv};

const sdc_flash_kernels *sdc_flash_kernels_bf16(void)
{
    return &bf16_kernels;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
