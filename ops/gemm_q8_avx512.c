/* AVX-512 VNNI kernel of the int8 GEMM (see gemm_q8.h). vpdpbusd multiplies unsigned by
 * signed bytes, so the weights are packed offset by 128 (w + 128 in [0, 255], a flip of the
 * top bit) and each row's block sum starts at corr = -128 * sum(x) instead of 0: the int32
 * result is the exact sum of w * x. The activation (signed, |x| <= 127) is the broadcast
 * operand. Panel of NR = 32 weight rows: per block [8 groups of 4 k][32 rows][4 bytes] (two
 * vectors per group), then the f32 scales [K / 32][32]. Tile MR = 6 x 32: 12 int32 and 12
 * f32 accumulators. Only for CPUs with AVX512_VNNI (sdc_cpu_has_vnni). */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
avx512vnni,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")
#endif

#include <math.h>
#include <string.h>

#include "ops/gemm_avx512.h"
#include "ops/gemm_q8.h"

enum { MR = 6, NV = 2, NR = 16 * NV, GROUPS = SDC_Q8_BLOCK / 4 };

/* The scalar rule (gemm_q8.c) in vectors, byte for byte: same max, same scale (NaN for a
 * block with a NaN; the max then does not matter), vcvtps2dq rounds to nearest even as rintf
 * does and gives INT_MIN for NaN, which vpmovsdb saturates to -128 as the reference does. */
static void quantize_vnni(const float *x, int K, int8_t *q, float *d, int32_t *corr)
{
    const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    for (int b = 0; b < K / SDC_Q8_BLOCK; b++) {
        const float *xb = x + b * SDC_Q8_BLOCK;
        __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
        __m512 m = _mm512_max_ps(_mm512_and_ps(x0, abs_mask), _mm512_and_ps(x1, abs_mask));
        float amax = _mm512_reduce_max_ps(m);
        int nan = (_mm512_cmp_ps_mask(x0, x0, _CMP_UNORD_Q) |
                   _mm512_cmp_ps_mask(x1, x1, _CMP_UNORD_Q)) != 0;
        float db = nan ? NAN : amax / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, vid));
        __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, vid));
        __m128i q0 = _mm512_cvtsepi32_epi8(i0), q1 = _mm512_cvtsepi32_epi8(i1);
        _mm_storeu_si128((__m128i *)(q + b * SDC_Q8_BLOCK), q0);
        _mm_storeu_si128((__m128i *)(q + b * SDC_Q8_BLOCK + 16), q1);
        __m512i s = _mm512_add_epi32(_mm512_cvtepi8_epi32(q0), _mm512_cvtepi8_epi32(q1));
        d[b] = db;
        corr[b] = -128 * _mm512_reduce_add_epi32(s);
    }
}

static void pack_vnni(const uint8_t *w, size_t row_bytes, int n, int K, int nr, uint8_t *dst)
{
    (void)nr; /* always NR */
    int nb = K / SDC_Q8_BLOCK;
    float *dd = (float *)(dst + (size_t)K * NR);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int b = 0; b < nb; b++) {
        uint32_t *pb = (uint32_t *)(dst + (size_t)b * SDC_Q8_BLOCK * NR);
        for (int j = 0; j < NR; j++) {
            uint32_t g[GROUPS];
            if (j < n) {
                const uint8_t *blk = w + (size_t)j * row_bytes + (size_t)b * SDC_Q8_BLOCK_BYTES;
                uint16_t h;
                memcpy(&h, blk, 2);
                dd[(size_t)b * NR + j] = _cvtsh_ss(h);
                __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), flip);
                _mm256_storeu_si256((__m256i *)g, v);
            } else {
                dd[(size_t)b * NR + j] = 0.0f;
                memset(g, 0x80, sizeof g); /* w = 0 */
            }
            for (int t = 0; t < GROUPS; t++)
                pb[t * NR + j] = g[t];
        }
    }
}

static void micro_vnni(int K, const int8_t *q, size_t lda, const float *d, const int32_t *corr,
                       size_t ldd, const uint8_t *panel, float *c, size_t ldc, int m, int n,
                       const sdc_epilogue *ep)
{
    const int8_t *xr[MR];
    const float *dr[MR];
    const int32_t *cr[MR];
    for (int i = 0; i < MR; i++) { /* rows past m repeat row 0 and are not stored */
        int r = i < m ? i : 0;
        xr[i] = q + (size_t)r * lda;
        dr[i] = d + (size_t)r * ldd;
        cr[i] = corr + (size_t)r * ldd;
    }
    const float *dw = (const float *)(panel + (size_t)K * NR);
    __m512 acc[MAX_MR][MAX_NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();
    prefetch_tile(NV, c, ldc, m, ep);
    for (int b = 0; b < K / SDC_Q8_BLOCK; b++) {
        __m512i s[MR][NV];
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                s[i][v] = _mm512_set1_epi32(cr[i][b]);
        const uint8_t *pb = panel + (size_t)b * SDC_Q8_BLOCK * NR;
#pragma GCC unroll 8
        for (int g = 0; g < GROUPS; g++) {
            __m512i w[NV];
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                w[v] = _mm512_load_si512(pb + (size_t)g * NR * 4 + v * 64);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                int32_t x4;
                memcpy(&x4, xr[i] + (size_t)b * SDC_Q8_BLOCK + g * 4, 4);
                __m512i xb = _mm512_set1_epi32(x4);
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++)
                    s[i][v] = _mm512_dpbusd_epi32(s[i][v], w[v], xb);
            }
        }
        __m512 sw[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            sw[v] = _mm512_load_ps(dw + (size_t)b * NR + v * 16);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 sx = _mm512_set1_ps(dr[i][b]);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i][v]),
                                            _mm512_mul_ps(sw[v], sx), acc[i][v]);
        }
    }
    store_tile(MR, NV, acc, c, ldc, m, n, ep);
}

const sdc_q8_kernel *sdc_q8_kernel_avx512(void)
{
    static const sdc_q8_kernel k = {"avx512-vnni", MR, NR, quantize_vnni, pack_vnni,
                                    micro_vnni};
    return &k;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
