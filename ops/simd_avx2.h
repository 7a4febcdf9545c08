/* Small AVX2 helpers shared by the kernels compiled for AVX2 + FMA (include only from files
 * whose code runs after sdc_cpu_level_get() has said AVX2 or better). */
#ifndef SDC_OPS_SIMD_AVX2_H
#define SDC_OPS_SIMD_AVX2_H

#include <immintrin.h>
#include <math.h>

/* The first n lanes as a maskload / maskstore mask (none for n <= 0, all for n >= 8). */
static inline __m256i sdc_lanes8(int n)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}

/* The first n (<= 8) floats at src, zeros past them, never reading past them. */
static inline __m256 sdc_load8(const float *src, int n)
{
    return n >= 8 ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, sdc_lanes8(n));
}

/* Stores the first n (<= 8) lanes of v. Whole vectors by a plain move: AMD's vmaskmovps
 * store is microcoded (a Zen 3 takes over ten cycles for one), so a masked store belongs at
 * the tails only. */
static inline void sdc_store8(float *dst, __m256 v, int n)
{
    if (n >= 8)
        _mm256_storeu_ps(dst, v);
    else
        _mm256_maskstore_ps(dst, sdc_lanes8(n), v);
}

/* In-register transpose: r[i] lane j becomes r[j] lane i. */
static inline void sdc_transpose8(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 2; g++) {
        s[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
        r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
    }
}

static inline float sdc_hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float sdc_hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* e^x to about 1 ulp (x = n ln2 + r, degree-7 Taylor polynomial for e^r, 2^n built in the
 * exponent field): 0 below -87, where the result would be subnormal, and +inf above 88.72,
 * where it overflows (x / (1 + e^-x) then gives the zero it should); between 88.38 and 88.72,
 * where 2^n would need an exponent of 128, it stays at e^88.38. NaN stays NaN. */
static inline __m256 sdc_exp8(__m256 x)
{
    __m256 lo = _mm256_set1_ps(-87.0f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.3762626f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    y = _mm256_and_ps(y, _mm256_cmp_ps(x, lo, _CMP_GE_OQ)); /* 0 below -87 (and for -inf) */
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY),
                         _mm256_cmp_ps(x, _mm256_set1_ps(88.7228394f), _CMP_GT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN stays NaN */
}

/* x / (1 + e^(-a x)): SiLU for a = 1, QuickGELU for a = 1.702. */
static inline __m256 sdc_x_sigmoid8(__m256 x, float a)
{
    __m256 e = sdc_exp8(_mm256_mul_ps(x, _mm256_set1_ps(-a)));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* Exact GELU as sdc_gelu16 (ops/simd_avx512.h) computes it: x erfc(-x / sqrt 2) / 2 with
 * erfc(a), a >= 0, from Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7). */
static inline __m256 sdc_gelu8(__m256 x)
{
    __m256 a = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x),
                             _mm256_set1_ps(0.70710678f));
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 minus_a2 = _mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), a), a);
    __m256 erfc = _mm256_mul_ps(p, sdc_exp8(minus_a2));
    __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    __m256 twice_phi = _mm256_blendv_ps(erfc, _mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), pos);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), twice_phi);
}

/* 2^x for x <= 0 (-inf included) to about 1 ulp: x = n + f, |f| <= 1/2, 2^f by the degree-7
 * Taylor polynomial of e^(f ln 2), 2^n built in the exponent field. Below -127 the result is
 * 0 (2^-127 itself is built as the zero bit pattern), which is what masked keys need. */
static inline __m256 sdc_exp2_8(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-127.0f));
    __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(1.52527338e-5f);                 /* ln2^7 / 7! */
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.54035304e-4f)); /* ln2^6 / 6! */
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.33335581e-3f)); /* ln2^5 / 5! */
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.61812911e-3f)); /* ln2^4 / 4! */
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.55041087e-2f)); /* ln2^3 / 3! */
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.40226507e-1f)); /* ln2^2 / 2! */
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.93147181e-1f)); /* ln2 */
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

#endif
