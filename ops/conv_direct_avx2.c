/* AVX2 f32 direct 3x3 convolution (see ops/conv_direct.h for the layouts and why): the
 * AVX-512 kernel's walk (ops/conv_direct_rows.h) with 16 ymm registers, so each 8-channel
 * weight tile runs as two halves of 4 output channels x 2 vectors of 8 pixels (8
 * accumulators); the input rows it loads are in L1 for the second half. With 3 vectors (12
 * accumulators, 16 registers in all) gcc re-read each input vector for every FMA and spilled
 * accumulators: a TAESD decode took 1.1-1.25x as long (Zen 3). Only at the AVX2 level or
 * above. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#include "ops/conv_direct_rows.h"
#include "ops/simd_avx2.h"

enum { MR = SDC_CONV_DIRECT_MR, HALF = 4, NV = 2, PX = NV * 8 };

/* Output pixels px .. px + n (n <= 8) of a channel row `src` (nearest 2x: half as many
 * source pixels, each twice). */
static inline __m256 row_values(const float *src, int px, int n, int up)
{
    if (!up)
        return sdc_load8(src + px, n);
    const __m256i twice = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    return _mm256_permutevar8x32_ps(sdc_load8(src + px / 2, (n + 1) / 2), twice);
}

/* Padded row r: channel cp of its (b, py), as f32 bits. */
static void pack_row(const sdc_conv_direct *j, uint32_t *d, size_t r)
{
    const float *src = source_row(j, d, r, 1);
    if (!src)
        return;
    for (int px = 0; px < j->Wo; px += 8) {
        int n = j->Wo - px < 8 ? j->Wo - px : 8;
        sdc_store8((float *)(void *)(d + 1 + px), row_values(src, px, n, j->up), n);
    }
}

void sdc_conv_pack_input_avx2(const sdc_conv_direct *j, uint32_t *in)
{
    pack_rows(j, in, pack_row);
}

/* Output channels h .. h + rows - 1 of the tile from its accumulators, with the epilogue. */
static void store_half(const sdc_conv_direct *j, const tile_at *t, int h, int rows,
                       __m256 acc[HALF][NV])
{
    size_t plane = (size_t)j->Ho * j->Wo;
    for (int i = 0; i < rows; i++) {
        __m256 bias = _mm256_set1_ps(t->bias ? t->bias[h + i] : 0.0f);
        for (int v = 0; v < NV && 8 * v < t->n; v++) {
            int n = t->n - 8 * v;
            size_t at = (size_t)(h + i) * plane + 8 * v;
            __m256 out = _mm256_add_ps(acc[i][v], bias);
            if (t->res)
                out = _mm256_add_ps(out, sdc_load8(t->res + at, n));
            if (j->relu)
                out = _mm256_max_ps(out, _mm256_setzero_ps());
            float *y = t->y + at;
            if (t->stream && n >= 8 && ((uintptr_t)y & 31) == 0)
                _mm256_stream_ps(y, out);
            else
                sdc_store8(y, out, n);
        }
    }
}

static void run_tile(const sdc_conv_direct *j, const tile_at *t)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)(j->Ho + 2) * Wp;
    for (int h = 0; h < t->rows; h += HALF) {
        __m256 sum[HALF][NV];
        for (int i = 0; i < HALF; i++)
            for (int v = 0; v < NV; v++)
                sum[i][v] = _mm256_setzero_ps();
        const uint32_t *w = t->w + h;
        for (int cp = 0; cp < j->Cp; cp++) {
            const uint32_t *p = t->img + cp * plane;
#pragma GCC unroll 9
            for (int tap = 0; tap < 9; tap++, w += MR) {
                const float *src = (const float *)(const void *)(p + tap / 3 * Wp + tap % 3);
                __m256 b[NV];
                for (int v = 0; v < NV; v++)
                    b[v] = _mm256_loadu_ps(src + 8 * v);
                for (int i = 0; i < HALF; i++) {
                    __m256 a = _mm256_broadcast_ss((const float *)(const void *)(w + i));
                    for (int v = 0; v < NV; v++)
                        sum[i][v] = _mm256_fmadd_ps(a, b[v], sum[i][v]);
                }
            }
        }
        /* (store_half takes the copy's address: summing into it kept it in memory too) */
        __m256 acc[HALF][NV];
        for (int i = 0; i < HALF; i++)
            for (int v = 0; v < NV; v++)
                acc[i][v] = sum[i][v];
        store_half(j, t, h, t->rows - h < HALF ? t->rows - h : HALF, acc);
    }
}

void sdc_conv_direct_avx2(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp)
{
    run_rows(j, in, wp, run_tile, PX);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
