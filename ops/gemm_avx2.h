/* Helpers of the AVX2 GEMM kernels (private to ops/): the tile store with the epilogue,
 * shared by ops/gemm_avx2.c and the 256-bit int8 kernels (ops/gemm_q8_ymm.h). Include it only
 * from files compiled for AVX2 + FMA. */
#ifndef SDC_OPS_GEMM_AVX2_H
#define SDC_OPS_GEMM_AVX2_H

#include <immintrin.h>
#include <stddef.h>

#include "ops/gemm_driver.h"

enum { MAX_MR = 8, MAX_NV = 3 };

/* Lanes j < n - 8 v of vector v as an AVX2 mask (all ones = use the lane). */
static inline __m256i tail_mask(int n, int v)
{
    int left = n - v * 8;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
}

/* C = alpha * T (+ C) (+ biases) for the m x n corner of the tile (see sdc_epilogue). */
static inline __attribute__((always_inline)) void
store_tile(const int MR, const int NV, __m256 acc[MAX_MR][MAX_NV], float *restrict c, size_t ldc,
           int m, int n, const sdc_epilogue *ep)
{
    __m256 va = _mm256_set1_ps(ep->alpha);
    __m256i mask[MAX_NV];
    __m256 col[MAX_NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        mask[v] = tail_mask(n, v);
        col[v] = ep->col_bias ? _mm256_maskload_ps(ep->col_bias + v * 8, mask[v])
                              : _mm256_setzero_ps();
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i < m) {
            float *ci = c + (size_t)i * ldc;
            __m256 row = _mm256_set1_ps(ep->row_bias ? ep->row_bias[i] : 0.0f);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                if (n <= v * 8)
                    continue;
                /* whole vectors by plain moves: AMD's vmaskmovps stores are microcoded, and
                 * 24 of them per tile and K block cost a Zen 3 a fifth of its GEMM time */
                int whole = n >= v * 8 + 8;
                __m256 old = !ep->accumulate ? _mm256_setzero_ps()
                             : whole         ? _mm256_loadu_ps(ci + v * 8)
                                             : _mm256_maskload_ps(ci + v * 8, mask[v]);
                old = _mm256_add_ps(old, _mm256_add_ps(row, col[v]));
                __m256 out = _mm256_fmadd_ps(acc[i][v], va, old);
                if (whole)
                    _mm256_storeu_ps(ci + v * 8, out);
                else
                    _mm256_maskstore_ps(ci + v * 8, mask[v], out);
            }
        }
    }
}

#endif
