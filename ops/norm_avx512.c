/* AVX-512 GroupNorm and LayerNorm (see ops/avx512.h). Statistics take one pass, summing x
 * and x^2 in double precision (8 lanes each for both halves of a vector), so the variance
 * E[x^2] - mean^2 keeps about 16 digits before its cancellation; normalising is a second. */
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")

#include <math.h>

#include "ops/avx512.h"
#include "ops/parallel.h"
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

void sdc_group_norm_avx512(float *y, const float *x, int B, int C, int HW, int groups,
                           const float *gamma, const float *beta, float eps, int silu)
{
    int cpg = C / groups;
    size_t n = (size_t)cpg * HW;
#pragma omp parallel for schedule(dynamic) collapse(2) if (sdc_parallel_worth((size_t)B * C * HW))
    for (int b = 0; b < B; b++)
        for (int g = 0; g < groups; g++) {
            size_t off = ((size_t)b * C + (size_t)g * cpg) * HW;
            float mean, inv;
            moments(x + off, n, eps, &mean, &inv);
            for (int c = 0; c < cpg; c++) {
                float s = gamma[g * cpg + c] * inv;
                affine(y + off + (size_t)c * HW, x + off + (size_t)c * HW, (size_t)HW, s,
                       beta[g * cpg + c] - mean * s, silu);
            }
        }
}

void sdc_layer_norm_avx512(float *y, const float *x, int rows, int dim, const float *gamma,
                           const float *beta, float eps)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * dim))
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        float mean, inv;
        moments(xr, (size_t)dim, eps, &mean, &inv);
        __m512 m = _mm512_set1_ps(mean), s = _mm512_set1_ps(inv);
        for (int i = 0; i < dim; i += 16) {
            __mmask16 k = sdc_lanes16(dim - i);
            __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + i), m), s);
            v = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(k, gamma + i),
                                _mm512_maskz_loadu_ps(k, beta + i));
            _mm512_mask_storeu_ps(yr + i, k, v);
        }
    }
}
