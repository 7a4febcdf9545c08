/* Pieces shared by the AVX-512 direct convolutions (ops/conv_direct_bf16.c with bf16 pairs,
 * ops/conv_direct_avx512.c with f32): the tile epilogue and the upsampling row read, over
 * the row walk of ops/conv_direct_rows.h. Include only from files compiled for AVX-512; each
 * includer gives its own register-tile function. */
#ifndef SDC_OPS_CONV_DIRECT_AVX512_H
#define SDC_OPS_CONV_DIRECT_AVX512_H

#include <stdint.h>

#include "ops/conv_direct_rows.h"
#include "ops/simd_avx512.h"

/* Register tile: MR output channels x NV vectors of 16 pixels of one output row. */
enum { MR = SDC_CONV_DIRECT_MR, NV = 2, PX = NV * 16 };

/* Output pixels px .. px + n (n <= 16) of a channel row `src` (nearest 2x: half as many
 * source pixels, each twice). */
static inline __m512 row_values(const float *src, int px, int n, int up)
{
    if (!up)
        return _mm512_maskz_loadu_ps(sdc_lanes16(n), src + px);
    const __m512i twice = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    __m512 v = _mm512_maskz_loadu_ps(sdc_lanes16((n + 1) / 2), src + px / 2);
    return _mm512_permutexvar_ps(twice, v);
}

static inline void store_tile(const sdc_conv_direct *j, const tile_at *t, __m512 acc[MR][NV])
{
    size_t plane = (size_t)j->Ho * j->Wo;
    for (int i = 0; i < t->rows; i++) {
        __m512 bias = _mm512_set1_ps(t->bias ? t->bias[i] : 0.0f);
        for (int v = 0; v < NV; v++) {
            __mmask16 m = sdc_lanes16(t->n - 16 * v);
            __m512 out = _mm512_add_ps(acc[i][v], bias);
            if (t->res)
                out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(m, t->res + i * plane + 16 * v));
            if (j->relu)
                out = _mm512_max_ps(out, _mm512_setzero_ps());
            float *y = t->y + i * plane + 16 * v;
            if (t->stream && m == 0xffff && ((uintptr_t)y & 63) == 0)
                _mm512_stream_ps(y, out);
            else
                _mm512_mask_storeu_ps(y, m, out);
        }
    }
}

#endif
