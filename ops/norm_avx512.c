/* AVX-512 pieces of GroupNorm and LayerNorm (see ops/norm_impl.h). */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#endif

#include <math.h>

#include "ops/norm_impl.h"
#include "ops/simd_avx512.h"

/* Mean and 1 / sqrt(variance + eps) of x[0, n). */
static void moments(const float *x, size_t n, float eps, float *mean, float *inv_std)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    __m512d q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
    for (size_t i = 0; i < n; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(sdc_lanes16((int)(n - i < 16 ? n - i : 16)), x + i);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d hi = _mm512_cvtps_pd(
            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        s0 = _mm512_add_pd(s0, lo);
        s1 = _mm512_add_pd(s1, hi);
        q0 = _mm512_fmadd_pd(lo, lo, q0);
        q1 = _mm512_fmadd_pd(hi, hi, q1);
    }
    double m = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / (double)n;
    double var = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1)) / (double)n - m * m;
    *mean = (float)m;
    *inv_std = (float)(1.0 / sqrt((var > 0 ? var : 0) + eps));
}

/* y = x * scale + shift over n elements, then SiLU when asked. */
static void affine(float *y, const float *x, size_t n, float scale, float shift, int silu)
{
    __m512 a = _mm512_set1_ps(scale), b = _mm512_set1_ps(shift);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = sdc_lanes16((int)(n - i < 16 ? n - i : 16));
        __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), a, b);
        _mm512_mask_storeu_ps(y + i, m, silu ? sdc_x_sigmoid16(v, 1.0f) : v);
    }
}

static void layer_row(float *y, const float *x, int dim, float mean, float inv_std,
                      const float *gamma, const float *beta)
{
    __m512 m = _mm512_set1_ps(mean), s = _mm512_set1_ps(inv_std);
    for (int i = 0; i < dim; i += 16) {
        __mmask16 k = sdc_lanes16(dim - i);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), s);
        v = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(k, gamma + i),
                            _mm512_maskz_loadu_ps(k, beta + i));
        _mm512_mask_storeu_ps(y + i, k, v);
    }
}

static const sdc_norm_kernels kernels = {moments, affine, layer_row};

const sdc_norm_kernels *sdc_norm_kernels_avx512(void)
{
    return &kernels;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
