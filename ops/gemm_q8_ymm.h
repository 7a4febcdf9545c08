/* The 256-bit int8 GEMM kernel (see gemm_q8.h), written once for two ISAs: included by
 * ops/gemm_q8_avx2.c (Q8_YMM_VNNI 0) and ops/gemm_q8_avxvnni.c (Q8_YMM_VNNI 1), each compiled
 * for its ISA, after they define Q8_YMM_VNNI, Q8_YMM_MR and Q8_YMM_NV.
 *
 * Panel of NR = 8 * NV weight rows, as the AVX-512 kernel's at half the width: per block
 * [8 groups of 4 k][NR rows][4 bytes], then the f32 scales [K / 32][NR]. Lane j of a vector
 * holds 4 consecutive k of one weight row, and a broadcast 4 bytes of an activation row meet
 * them: the lane gets the exact int32 sum of 4 products, 8 groups make the block's sum.
 *
 * AVX-VNNI: vpdpbusd (VEX) does that in one instruction, unsigned by signed bytes; the weights
 * are packed offset by 128 (w ^ 0x80) and each block's sum starts at corr = -128 * sum(x), as
 * in the AVX-512 kernel.
 *
 * AVX2: vpmaddubsw multiplies unsigned by signed bytes and adds adjacent pairs into int16
 * with saturation, so the offset trick (255 * 127 * 2 > 32767) cannot be used. The sign
 * trick instead: |w| (0..128) is the unsigned operand and x with w's sign (vpsignb) the signed
 * one, so each product is |w| * (sign(w) x) = w x. A quantised activation from a finite row
 * lies in [-127, 127] (|x / d| <= 127), so sign(w) x does too and a pair sums to at most
 * 2 * 128 * 127 = 32512 in magnitude: no saturation, for every weight byte, -128 included.
 * vpmaddwd by ones then adds the int16 pairs into the int32 sum of 4 products, and vpaddd
 * accumulates: bit for bit the reference's block sums. (A NaN activation quantises to -128, as
 * in the reference, and -128 has no positive int8: such a row's outputs, meaningless anyway,
 * may differ from the reference's.) */
#ifndef SDC_OPS_GEMM_Q8_YMM_H
#define SDC_OPS_GEMM_Q8_YMM_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/gemm_avx2.h"
#include "ops/gemm_q8.h"
#include "ops/simd_avx2.h"

enum { MR = Q8_YMM_MR, NV = Q8_YMM_NV, NR = 8 * NV, GROUPS = SDC_Q8_BLOCK / 4 };

_Static_assert((int)MR <= (int)MAX_MR && (int)NV <= (int)MAX_NV, "the tile fits store_tile");

static inline int32_t hsum8_epi32(__m256i s)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* The scalar rule (gemm_q8.c) in vectors, byte for byte, NaN included: max(|x|, m) keeps m
 * where |x| is NaN, as fmaxf ignores NaN, and a block with a NaN gets the scale NaN; vcvtps2dq rounds to nearest even as rintf does and
 * gives INT_MIN for NaN, which the saturating packs turn into -128 as the reference does. */
static void quantize_ymm(const float *x, int K, int8_t *q, float *d, int32_t *corr)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    /* the packs leave the 4-byte groups in order 0 2 4 6 1 3 5 7 of the block */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int b = 0; b < K / SDC_Q8_BLOCK; b++) {
        const float *xb = x + b * SDC_Q8_BLOCK;
        __m256 v[4], m = _mm256_setzero_ps(), unord = _mm256_setzero_ps();
        for (int t = 0; t < 4; t++) {
            v[t] = _mm256_loadu_ps(xb + 8 * t);
            m = _mm256_max_ps(_mm256_and_ps(v[t], abs_mask), m);
            unord = _mm256_or_ps(unord, _mm256_cmp_ps(v[t], v[t], _CMP_UNORD_Q));
        }
        float db = _mm256_movemask_ps(unord) ? NAN : sdc_hmax8(m) / 127.0f;
        float id = db != 0.0f ? 1.0f / db : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i i[4];
        for (int t = 0; t < 4; t++)
            i[t] = _mm256_cvtps_epi32(_mm256_mul_ps(v[t], vid));
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]),
                                       _mm256_packs_epi32(i[2], i[3]));
        p = _mm256_permutevar8x32_epi32(p, order);
        _mm256_storeu_si256((__m256i *)(q + b * SDC_Q8_BLOCK), p);
        d[b] = db;
        corr[b] = -128 * hsum8_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, p), ones16));
    }
}

/* The weights as the micro-kernel multiplies them: offset by 128 for vpdpbusd, as stored
 * for the sign trick. */
static inline __m256i weight_bytes(__m256i w)
{
#if Q8_YMM_VNNI
    return _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80));
#else
    return w;
#endif
}

/* Each block of 8 weight rows is an 8 x 8 matrix of 4-byte groups (row j's group t in lane
 * t of its vector): transposed, vector t holds group t of all 8 rows, the panel's layout.
 * (Group by group in scalar stores, the packing took 6-8% of an int8 linear layer.) */
static void pack_ymm(const uint8_t *w, size_t row_bytes, int n, int K, int nr, uint8_t *dst)
{
    (void)nr; /* always NR */
    int nb = K / SDC_Q8_BLOCK;
    float *dd = (float *)(dst + (size_t)K * NR);
    for (int b = 0; b < nb; b++) {
        uint8_t *pb = dst + (size_t)b * SDC_Q8_BLOCK * NR;
        for (int j0 = 0; j0 < NR; j0 += 8) {
            __m256 v[8];
            for (int r = 0; r < 8; r++) {
                int j = j0 + r;
                __m256i row = _mm256_setzero_si256(); /* rows past n: w = 0, scale 0 */
                dd[(size_t)b * NR + j] = 0.0f;
                if (j < n) {
                    const uint8_t *blk =
                        w + (size_t)j * row_bytes + (size_t)b * SDC_Q8_BLOCK_BYTES;
                    uint16_t h;
                    memcpy(&h, blk, 2);
                    dd[(size_t)b * NR + j] = _cvtsh_ss(h);
                    row = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
                }
                v[r] = _mm256_castsi256_ps(weight_bytes(row));
            }
            sdc_transpose8(v);
            for (int t = 0; t < GROUPS; t++)
                _mm256_store_si256((__m256i *)(void *)(pb + ((size_t)t * NR + j0) * 4),
                                   _mm256_castps_si256(v[t]));
        }
    }
}

/* s + the 4-product sums of w (packed) and the broadcast activations xb, lane by lane;
 * aw = |w| for the sign trick. */
static inline __m256i dot4(__m256i s, __m256i w, __m256i aw, __m256i xb)
{
#if Q8_YMM_VNNI
    (void)aw;
    return _mm256_dpbusd_avx_epi32(s, w, xb);
#else
    __m256i pairs = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xb, w));
    return _mm256_add_epi32(s, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
#endif
}

/* One block's int32 sums for the tile: s[i][v] lane j = sum over the block of x_i w_j. */
static inline __attribute__((always_inline)) void
block_sums(__m256i s[MR][NV], const int8_t *const xr[MR], const int32_t *const cr[MR], int b,
           const uint8_t *pb)
{
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            s[i][v] = Q8_YMM_VNNI ? _mm256_set1_epi32(cr[i][b]) : _mm256_setzero_si256();
#if Q8_YMM_VNNI
#pragma GCC unroll 8
#else /* two groups a pass (Zen 3: 0.92-0.96x of the rolled loop's time); fully unrolled,
       * gcc reassociates the vpaddd chains into trees of spilled terms (1.1x) */
#pragma GCC unroll 2
#endif
    for (int g = 0; g < GROUPS; g++) {
        __m256i w[NV], aw[NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            w[v] = _mm256_load_si256((const __m256i *)(pb + (size_t)g * NR * 4 + v * 32));
            aw[v] = Q8_YMM_VNNI ? w[v] : _mm256_abs_epi8(w[v]);
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            int32_t x4;
            memcpy(&x4, xr[i] + (size_t)b * SDC_Q8_BLOCK + g * 4, 4);
            __m256i xb = _mm256_set1_epi32(x4);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                s[i][v] = dot4(s[i][v], w[v], aw[v], xb);
        }
    }
}

static void micro_ymm(int K, const int8_t *q, size_t lda, const float *d, const int32_t *corr,
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
    /* the tile's C lines are written once and seldom cached: fetched now, the stores at the
     * end do not wait for memory (Zen 3, int8 linear layers: 0.87-0.97x of the time) */
#pragma GCC unroll 8
    for (int i = 0; i < MR && i < m; i++)
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
    __m256 acc[MAX_MR][MAX_NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm256_setzero_ps();
    for (int b = 0; b < K / SDC_Q8_BLOCK; b++) {
        __m256i s[MR][NV];
        block_sums(s, xr, cr, b, panel + (size_t)b * SDC_Q8_BLOCK * NR);
        __m256 sw[NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++)
            sw[v] = _mm256_load_ps(dw + (size_t)b * NR + v * 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m256 sx = _mm256_set1_ps(dr[i][b]);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][v]),
                                            _mm256_mul_ps(sw[v], sx), acc[i][v]);
        }
    }
    store_tile(MR, NV, acc, c, ldc, m, n, ep);
}

#endif
