/* AVX-512 activations, GEGLU and row softmax (see ops/avx512.h); exp and GELU from
 * ops/simd_avx512.h. */
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")

#include <math.h>

#include "ops/avx512.h"
#include "ops/parallel.h"
#include "ops/simd_avx512.h"

/* Chunks of this many floats are the unit of parallel work. */
enum { CHUNK = 4096 };

static __mmask16 lanes_left(size_t n, size_t i)
{
    return sdc_lanes16((int)(n - i < 16 ? n - i : 16));
}

/* x = x sigmoid(a x) in place. */
static void x_sigmoid(float *x, size_t n, float a)
{
    size_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t c = 0; c < chunks; c++) {
        size_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (size_t i = c * CHUNK; i < end; i += 16) {
            __mmask16 m = lanes_left(end, i);
            _mm512_mask_storeu_ps(x + i, m, sdc_x_sigmoid16(_mm512_maskz_loadu_ps(m, x + i), a));
        }
    }
}

void sdc_silu_avx512(float *x, size_t n) { x_sigmoid(x, n, 1.0f); }

void sdc_quick_gelu_avx512(float *x, size_t n) { x_sigmoid(x, n, 1.702f); }

void sdc_gelu_avx512(float *x, size_t n)
{
    size_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t c = 0; c < chunks; c++) {
        size_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (size_t i = c * CHUNK; i < end; i += 16) {
            __mmask16 m = lanes_left(end, i);
            _mm512_mask_storeu_ps(x + i, m, sdc_gelu16(_mm512_maskz_loadu_ps(m, x + i)));
        }
    }
}

void sdc_geglu_avx512(float *y, const float *x, int rows, int n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++) {
        const float *value = x + (size_t)r * 2 * n, *gate = value + n;
        float *yr = y + (size_t)r * n;
        for (int i = 0; i < n; i += 16) {
            __mmask16 m = sdc_lanes16(n - i);
            __m512 g = sdc_gelu16(_mm512_maskz_loadu_ps(m, gate + i));
            _mm512_mask_storeu_ps(yr + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, value + i), g));
        }
    }
}

void sdc_softmax_rows_avx512(float *x, int rows, int n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * n;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int i = 0; i < n; i += 16)
            mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, sdc_lanes16(n - i), row + i));
        __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512d sum = _mm512_setzero_pd();
        for (int i = 0; i < n; i += 16) {
            __mmask16 k = sdc_lanes16(n - i);
            __m512 v = _mm512_maskz_loadu_ps(k, row + i);
            __m512 e = _mm512_maskz_mov_ps(k, sdc_exp16(_mm512_sub_ps(v, m)));
            _mm512_mask_storeu_ps(row + i, k, e);
            sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
            sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm256_castpd_ps(
                                         _mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
        }
        __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(sum)));
        for (int i = 0; i < n; i += 16) {
            __mmask16 k = sdc_lanes16(n - i);
            __m512 e = _mm512_maskz_loadu_ps(k, row + i);
            _mm512_mask_storeu_ps(row + i, k, _mm512_mul_ps(inv, e));
        }
    }
}
