/* AVX512_BF16 direct 3x3 convolution (see ops/conv_direct.h for the layouts and why). The
 * register tile is MR output channels x NV * 16 pixels of one output row: per tap, NV
 * unaligned loads of padded pair rows and MR weight-pair broadcasts feed MR * NV vdpbf16ps.
 * The MR x 9 Cp weight pairs of a tile stay in L2 and the 3 Cp pair rows of the pixels in
 * L1 while every weight tile passes over them. Only for CPUs with AVX512_BF16. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
avx512bf16"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#endif

#include "ops/conv_direct_avx512.h"

/* Slot j = (lo[j], hi[j]) rounded to bf16 (to nearest, ties to even). */
static inline __m512i pair_lanes(__m512 lo, __m512 hi)
{
    /* cvtne2ps puts lo in 16-bit lanes 0..15 and hi in 16..31; lanes 2j, 2j + 1 take j, 16 + j */
    const __m512i j = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i order =
        _mm512_or_si512(j, _mm512_slli_epi32(_mm512_add_epi32(j, _mm512_set1_epi32(16)), 16));
    return _mm512_permutexvar_epi16(order, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* Padded pair row r: channels (2 cp, 2 cp + 1) of its (b, py). */
static void pack_row(const sdc_conv_direct *j, uint32_t *d, size_t r)
{
    const float *lo = source_row(j, d, r, 2);
    if (!lo)
        return;
    int cp = (int)(r / (j->Ho + 2) % j->Cp);
    const float *hi = 2 * cp + 1 < j->Cin ? lo + (size_t)j->H * j->W : NULL;
    for (int px = 0; px < j->Wo; px += 16) {
        int n = j->Wo - px < 16 ? j->Wo - px : 16;
        __m512 h = hi ? row_values(hi, px, n, j->up) : _mm512_setzero_ps();
        _mm512_mask_storeu_epi32(d + 1 + px, sdc_lanes16(n),
                                 pair_lanes(row_values(lo, px, n, j->up), h));
    }
}

void sdc_conv_pack_input_bf16(const sdc_conv_direct *j, uint32_t *in)
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
            __m512bh b[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                b[v] = (__m512bh)_mm512_loadu_si512(src + 16 * v);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                __m512bh a = (__m512bh)_mm512_set1_epi32((int)w[i]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    acc[i][v] = _mm512_dpbf16_ps(acc[i][v], a, b[v]);
            }
        }
    }
    store_tile(j, t, acc);
}

void sdc_conv_direct_bf16(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp)
{
    run_rows(j, in, wp, run_tile, PX);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
