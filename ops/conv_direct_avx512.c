/* AVX-512 f32 direct 3x3 convolution (see ops/conv_direct.h for the layouts and why): the
 * bf16 kernel's tiles (ops/conv_direct_bf16.c) with one channel per slot and fused
 * multiply-adds. Only at the AVX512 level. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#endif

#include "ops/conv_direct_avx512.h"

/* Padded row r: channel cp of its (b, py), as f32 bits. */
static void pack_row(const sdc_conv_direct *j, uint32_t *d, size_t r)
{
    const float *src = source_row(j, d, r, 1);
    if (!src)
        return;
    for (int px = 0; px < j->Wo; px += 16) {
        int n = j->Wo - px < 16 ? j->Wo - px : 16;
        _mm512_mask_storeu_ps(d + 1 + px, sdc_lanes16(n), row_values(src, px, n, j->up));
    }
}

void sdc_conv_pack_input_avx512(const sdc_conv_direct *j, uint32_t *in)
{
    pack_rows(j, in, pack_row);
}

static void run_tile(const sdc_conv_direct *j, const tile_at *t)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)(j->Ho + 2) * Wp;
    __m512 acc[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();
    const uint32_t *w = t->w;
    for (int cp = 0; cp < j->Cp; cp++) {
        const uint32_t *p = t->img + cp * plane;
#pragma GCC unroll 9
        for (int tap = 0; tap < 9; tap++, w += MR) {
            const uint32_t *src = p + tap / 3 * Wp + tap % 3;
            __m512 b[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                b[v] = _mm512_loadu_ps(src + 16 * v);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                __m512 a = _mm512_castsi512_ps(_mm512_set1_epi32((int)w[i]));
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
            }
        }
    }
    store_tile(j, t, acc);
}

void sdc_conv_direct_avx512(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp)
{
    run_rows(j, in, wp, run_tile, PX);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
