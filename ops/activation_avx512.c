/* AVX-512 activations, GEGLU and row softmax (see ops/avx512.h); exp and GELU from
 * ops/simd_avx512.h. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#endif

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

/* x[i, end) = x sigmoid(a x), or GELU(x) when gelu, in place: one parallel chunk (a function
 * of its own, not the loop's body: clang compiles OpenMP's outlined loop bodies without the
 * file's target attribute, so vector values may not live there). */
static void activate_chunk(float *x, size_t i, size_t end, float a, int gelu)
{
    for (; i < end; i += 16) {
        __mmask16 m = lanes_left(end, i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(x + i, m, gelu ? sdc_gelu16(v) : sdc_x_sigmoid16(v, a));
    }
}

static void activate(float *x, size_t n, float a, int gelu)
{
    size_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t c = 0; c < chunks; c++)
        activate_chunk(x, c * CHUNK, (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n, a, gelu);
}

void sdc_silu_avx512(float *x, size_t n) { activate(x, n, 1.0f, 0); }

void sdc_quick_gelu_avx512(float *x, size_t n) { activate(x, n, 1.702f, 0); }

void sdc_gelu_avx512(float *x, size_t n) { activate(x, n, 0.0f, 1); }

/* One row of GEGLU (see activate_chunk for why a function of its own). */
static void geglu_row(float *yr, const float *value, int n)
{
    const float *gate = value + n;
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = sdc_lanes16(n - i);
        __m512 g = sdc_gelu16(_mm512_maskz_loadu_ps(m, gate + i));
        _mm512_mask_storeu_ps(yr + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, value + i), g));
    }
}

void sdc_geglu_avx512(float *y, const float *x, int rows, int n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++)
        geglu_row(y + (size_t)r * n, x + (size_t)r * 2 * n, n);
}

/* One row of the softmax (see activate_chunk for why a function of its own). */
static void softmax_row(float *row, int n)
{
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

void sdc_softmax_rows_avx512(float *x, int rows, int n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++)
        softmax_row(x + (size_t)r * n, n);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
