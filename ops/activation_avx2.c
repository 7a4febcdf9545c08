/* AVX2 row softmax (see ops/avx2.h): the score rows of the portable attention path. */
#pragma GCC target("avx2,fma")

#include <immintrin.h>
#include <math.h>

#include "ops/avx2.h"
#include "ops/parallel.h"

/* e^x to about 1 ulp for x <= 88 (x = n ln2 + r, degree-7 Taylor polynomial for e^r, 2^n
 * built in the exponent field); 0 below -87, where the result would be subnormal. */
static inline __m256 exp8(__m256 x)
{
    __m256 lo = _mm256_set1_ps(-87.0f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.0f));
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
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN stays NaN */
}

static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline double hsum8(__m256 v)
{
    __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                              _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
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
        float mx = hmax8(mx8);
        for (int i = n8; i < n; i++)
            mx = row[i] > mx ? row[i] : mx;
        __m256 m = _mm256_set1_ps(mx), sum8 = _mm256_setzero_ps();
        for (int i = 0; i < n8; i += 8) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + i), m));
            _mm256_storeu_ps(row + i, e);
            sum8 = _mm256_add_ps(sum8, e);
        }
        double sum = hsum8(sum8);
        for (int i = n8; i < n; i++)
            sum += row[i] = expf(row[i] - mx);
        __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
        for (int i = 0; i < n8; i += 8)
            _mm256_storeu_ps(row + i, _mm256_mul_ps(inv, _mm256_loadu_ps(row + i)));
        for (int i = n8; i < n; i++)
            row[i] *= (float)(1.0 / sum);
    }
}
