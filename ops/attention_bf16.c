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

enum { ROWS = SDC_FLASH_ROWS, KEY_TILE = SDC_FLASH_KEY_TILE, DV_MAX = 6 };

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

static void scores(int nv, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
                   float (*p)[KEY_TILE], int s0)
{
    __m512 s[ROWS][4];
    int pairs = (d + 1) / 2;
    switch (nv) {
    case 1: score_tile(1, q, kt, ldk, j0, pairs, s); break;
    case 2: score_tile(2, q, kt, ldk, j0, pairs, s); break;
    case 3: score_tile(3, q, kt, ldk, j0, pairs, s); break;
    default: score_tile(4, q, kt, ldk, j0, pairs, s); break;
    }
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < nv; v++)
            _mm512_store_ps(p[r] + s0 + 16 * v, s[r][v]);
}

/* 16 bf16 values as the f32 values they stand for. */
static inline __m512 widen(__m256bh b)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)b), 16));
}

/* exp2(p[j] - max) for the 16 keys at p (lanes past the tile's keys hold -inf), rounded to
 * bf16 as vdpbf16ps will read it: to nearest, ties to even, denormals flushed. */
static inline __m256bh weights16(const float *p, __m512 max)
{
    return _mm512_cvtneps_pbh(sdc_exp2_16(_mm512_sub_ps(_mm512_load_ps(p), max)));
}

/* 32 keys at a time: their pairs go to slots j / 2 .. j / 2 + 15, which lie in the part of p
 * already read. */
static float weights(float *p, int n, float max)
{
    __m512 m = _mm512_set1_ps(max), sum = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 32) {
        __m256bh lo = weights16(p + j, m);
        __m256bh hi = j + 16 < n ? weights16(p + j + 16, m) : (__m256bh)_mm256_setzero_si256();
        /* the same order of additions as one vector of 16 keys at a time */
        sum = _mm512_add_ps(sum, widen(lo));
        sum = _mm512_add_ps(sum, widen(hi));
        _mm512_store_si512(p + j / 2, _mm512_inserti64x4(_mm512_castsi256_si512((__m256i)lo),
                                                         (__m256i)hi, 1));
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

static const sdc_flash_kernels bf16_kernels = {pack_keys, pack_values, pack_queries, scores,
                                                weights, accumulate_pv};

const sdc_flash_kernels *sdc_flash_kernels_bf16(void)
{
    return &bf16_kernels;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
