/* Pieces shared by the AVX-512 GEMM kernels (ops/gemm_avx512.c for f32 math,
 * ops/gemm_bf16.c for bf16 products): tile stores, weight loads, panel addressing. Include
 * only from files compiled for AVX-512 (see ops/cpu.h). */
#ifndef SDC_OPS_GEMM_AVX512_H
#define SDC_OPS_GEMM_AVX512_H

#include <immintrin.h>

#include "ops/gemm_driver.h"
#include "ops/simd_avx512.h"

enum { MAX_MR = 16, MAX_NV = 4 };

/* Lanes of vector v (of 16) that hold one of the first n elements. */
static inline __mmask16 tail_mask(int n, int v)
{
    return sdc_lanes16(n - v * 16);
}

/* Lanes [lo, hi) of a 16-lane mask (empty when hi <= lo). */
static inline __mmask16 lane_range(int lo, int hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    return hi > lo ? (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1)) : 0;
}

/* 16 values (lanes in `m`) of a weight dtype as f32; masked-off lanes are not read. */
static inline __m512 load16(const void *src, sdc_dtype dtype, __mmask16 m)
{
    switch (dtype) {
    case SDC_DTYPE_F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src));
    case SDC_DTYPE_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src)), 16));
    default:
        return _mm512_maskz_loadu_ps(m, src);
    }
}

/* Weights are read from memory (the mapped file) in rows far apart, and a row is a new
 * stream that the hardware prefetcher meets only after its first misses: the copies fetch a
 * later row, or further along the rows they read at once, while they convert. */
static inline void prefetch_bytes(const char *p, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64)
        _mm_prefetch(p + off, _MM_HINT_T0);
}

/* Bytes of one value as load16 reads it (inline: the copies ask for every 16 or 32 values). */
static inline size_t load16_size(sdc_dtype dtype)
{
    return dtype == SDC_DTYPE_F16 || dtype == SDC_DTYPE_BF16 ? 2 : 4;
}

static inline const char *batch_base(const sdc_operand *op, size_t batch)
{
    return (const char *)op->data + batch * op->batch_stride * sdc_dtype_size(op->dtype);
}

/* The tile of C the epilogue reads back is usually out of cache by the time a tile is done:
 * fetch it while the tile computes. */
static inline __attribute__((always_inline)) void
prefetch_tile(const int NV, const float *c, size_t ldc, int m, const sdc_epilogue *ep)
{
    if (ep->accumulate)
        for (int i = 0; i < m; i++)
            for (int v = 0; v <= NV; v++)
                _mm_prefetch((const char *)(c + (size_t)i * ldc + (v < NV ? 16 * v : 16 * NV - 1)),
                             _MM_HINT_T0);
}

/* C = alpha * T (+ C) (+ biases) for the m x n corner of the tile (see sdc_epilogue). */
static inline __attribute__((always_inline)) void
store_tile(const int MR, const int NV, __m512 acc[MAX_MR][MAX_NV], float *restrict c, size_t ldc,
           int m, int n, const sdc_epilogue *ep)
{
    __m512 va = _mm512_set1_ps(ep->alpha);
    __mmask16 mask[MAX_NV];
    __m512 col[MAX_NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        mask[v] = tail_mask(n, v);
        col[v] = ep->col_bias ? _mm512_maskz_loadu_ps(mask[v], ep->col_bias + v * 16)
                              : _mm512_setzero_ps();
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        if (i < m) {
            float *ci = c + (size_t)i * ldc;
            __m512 row = _mm512_set1_ps(ep->row_bias ? ep->row_bias[i] : 0.0f);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                __m512 old = ep->accumulate ? _mm512_maskz_loadu_ps(mask[v], ci + v * 16)
                                            : _mm512_setzero_ps();
                old = _mm512_add_ps(old, _mm512_add_ps(row, col[v]));
                _mm512_mask_storeu_ps(ci + v * 16, mask[v], _mm512_fmadd_ps(acc[i][v], va, old));
            }
        }
    }
}

/* A packed B block: column q of the block, packed row p (a k, or a pair of k for bf16) at
 * dst[(q / nr) * rows * nr + p * nr + q % nr]. Groups of 16 aligned columns never straddle
 * two panels (nr is a multiple of 16). */
typedef struct panel_dst {
    float *dst;
    int rows, nr;
} panel_dst;

static inline float *panel_at(const panel_dst *pd, int p, int q)
{
    return pd->dst + ((size_t)(q / pd->nr) * pd->rows + p) * pd->nr + q % pd->nr;
}

#endif
