/* AVX2 pieces of GroupNorm and LayerNorm (see ops/norm_impl.h), as ops/norm_avx512.c
 * computes them. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#include <math.h>

#include "ops/norm_impl.h"
#include "ops/simd_avx2.h"

static inline double hsum4d(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static inline int lanes_left(size_t n, size_t i)
{
    return (int)(n - i < 8 ? n - i : 8);
}

/* Mean and 1 / sqrt(variance + eps) of x[0, n). */
static void moments(const float *x, size_t n, float eps, float *mean, float *inv_std)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    __m256d q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
    for (size_t i = 0; i < n; i += 8) {
        __m256 v = sdc_load8(x + i, lanes_left(n, i));
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_add_pd(s0, lo);
        s1 = _mm256_add_pd(s1, hi);
        q0 = _mm256_fmadd_pd(lo, lo, q0);
        q1 = _mm256_fmadd_pd(hi, hi, q1);
    }
    double m = hsum4d(_mm256_add_pd(s0, s1)) / (double)n;
    double var = hsum4d(_mm256_add_pd(q0, q1)) / (double)n - m * m;
    *mean = (float)m;
    *inv_std = (float)(1.0 / sqrt((var > 0 ? var : 0) + eps));
}

/* y = x * scale + shift over n elements, then SiLU when asked. */
static void affine(float *y, const float *x, size_t n, float scale, float shift, int silu)
{
    __m256 a = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift);
    for (size_t i = 0; i < n; i += 8) {
        int m = lanes_left(n, i);
        __m256 v = _mm256_fmadd_ps(sdc_load8(x + i, m), a, b);
        sdc_store8(y + i, silu ? sdc_x_sigmoid8(v, 1.0f) : v, m);
    }
}

static void layer_row(float *y, const float *x, int dim, float mean, float inv_std,
                      const float *gamma, const float *beta)
{
    __m256 m = _mm256_set1_ps(mean), s = _mm256_set1_ps(inv_std);
    for (int i = 0; i < dim; i += 8) {
        int k = dim - i;
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(sdc_load8(x + i, k), m), s);
        v = _mm256_fmadd_ps(v, sdc_load8(gamma + i, k), sdc_load8(beta + i, k));
        sdc_store8(y + i, v, k);
    }
}

static const sdc_norm_kernels kernels = {moments, affine, layer_row};

const sdc_norm_kernels *sdc_norm_kernels_avx2(void)
{
    return &kernels;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
