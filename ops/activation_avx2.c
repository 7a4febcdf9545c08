/* AVX2 activations, GEGLU and row softmax (see ops/avx2.h); exp and GELU from
 * ops/simd_avx2.h. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>
#include <math.h>

#include "ops/avx2.h"
#include "ops/parallel.h"
#include "ops/simd_avx2.h"

/* Chunks of this many floats are the unit of parallel work. */
enum { CHUNK = 4096 };

static inline double sum_as_double(__m256 v)
{
    __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                              _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

enum activation { SILU, QUICK_GELU, GELU };

static inline __m256 activate(__m256 v, enum activation f)
{
    return f == GELU ? sdc_gelu8(v) : sdc_x_sigmoid8(v, f == SILU ? 1.0f : 1.702f);
}

/* x = f(x) in place, in parallel chunks; the last vector masked. */
static void map_in_place(float *x, size_t n, enum activation f)
{
    size_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t c = 0; c < chunks; c++) {
        size_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (size_t i = c * CHUNK; i < end; i += 8) {
            int lanes = (int)(end - i < 8 ? end - i : 8);
            sdc_store8(x + i, activate(sdc_load8(x + i, lanes), f), lanes);
        }
    }
}

void sdc_softmax_rows_avx2(float *x, int rows, int n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * n;
        int n8 = n & ~7;
        __m256 mx8 = _mm256_set1_ps(-INFINITY);
        for (int i = 0; i < n8; i += 8)
            mx8 = _mm256_max_ps(mx8, _mm256_loadu_ps(row + i));
        float mx = sdc_hmax8(mx8);
        for (int i = n8; i < n; i++)
            mx = row[i] > mx ? row[i] : mx;
        __m256 m = _mm256_set1_ps(mx), sum8 = _mm256_setzero_ps();
        for (int i = 0; i < n8; i += 8) {
            __m256 e = sdc_exp8(_mm256_sub_ps(_mm256_loadu_ps(row + i), m));
            _mm256_storeu_ps(row + i, e);
            sum8 = _mm256_add_ps(sum8, e);
        }
        double sum = sum_as_double(sum8);
        for (int i = n8; i < n; i++)
            sum += row[i] = expf(row[i] - mx);
        __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
        for (int i = 0; i < n8; i += 8)
            _mm256_storeu_ps(row + i, _mm256_mul_ps(inv, _mm256_loadu_ps(row + i)));
        for (int i = n8; i < n; i++)
            row[i] *= (float)(1.0 / sum);
    }
}

void sdc_silu_avx2(float *x, size_t n) { map_in_place(x, n, SILU); }
void sdc_quick_gelu_avx2(float *x, size_t n) { map_in_place(x, n, QUICK_GELU); }
void sdc_gelu_avx2(float *x, size_t n) { map_in_place(x, n, GELU); }

void sdc_geglu_avx2(float *y, const float *x, int rows, int n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++) {
        const float *value = x + (size_t)r * 2 * n, *gate = value + n;
        float *yr = y + (size_t)r * n;
        for (int i = 0; i < n; i += 8) {
            __m256 g = sdc_gelu8(sdc_load8(gate + i, n - i));
            sdc_store8(yr + i, _mm256_mul_ps(sdc_load8(value + i, n - i), g), n - i);
        }
    }
}

#ifdef __clang__
#pragma clang attribute pop
#endif
