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

#include <stdint.h>
#include <string.h>

#include "ops/conv_direct.h"
#include "ops/parallel.h"
#include "ops/simd_avx512.h"

enum { MR = SDC_CONV_DIRECT_MR, NV = 2, PX = NV * 16 };
/* Outputs at least this large are written with streaming stores (see run_row). */
#define STREAM_BYTES ((size_t)16 << 20)

/* Slot j = (lo[j], hi[j]) rounded to bf16 (to nearest, ties to even). */
static inline __m512i pair_lanes(__m512 lo, __m512 hi)
{
    /* cvtne2ps puts lo in 16-bit lanes 0..15 and hi in 16..31; lanes 2j, 2j + 1 take j, 16 + j */
    const __m512i j = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i order =
        _mm512_or_si512(j, _mm512_slli_epi32(_mm512_add_epi32(j, _mm512_set1_epi32(16)), 16));
    return _mm512_permutexvar_epi16(order, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

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

/* Padded pair row r of the whole pairs array: (b, cp, py) = row r. */
static void pack_row(const sdc_conv_direct *j, uint32_t *d, size_t r)
{
    int Hp = j->Ho + 2, Wp = j->Wo + 2, py = (int)(r % Hp), cp = (int)(r / Hp % j->Cp);
    size_t b = r / Hp / j->Cp;
    if (py == 0 || py == Hp - 1) {
        memset(d, 0, sizeof(uint32_t) * Wp);
        return;
    }
    int sy = j->up ? (py - 1) / 2 : py - 1;
    const float *lo = j->x + ((b * j->Cin + 2 * cp) * j->H + sy) * j->W;
    const float *hi = 2 * cp + 1 < j->Cin ? lo + (size_t)j->H * j->W : NULL;
    d[0] = d[Wp - 1] = 0;
    for (int px = 0; px < j->Wo; px += 16) {
        int n = j->Wo - px < 16 ? j->Wo - px : 16;
        __m512 h = hi ? row_values(hi, px, n, j->up) : _mm512_setzero_ps();
        _mm512_mask_storeu_epi32(d + 1 + px, sdc_lanes16(n),
                                 pair_lanes(row_values(lo, px, n, j->up), h));
    }
}

void sdc_conv_pack_pairs_bf16(const sdc_conv_direct *j, uint32_t *pairs)
{
    size_t rows = (size_t)j->B * j->Cp * (j->Ho + 2), Wp = (size_t)j->Wo + 2;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(rows * Wp))
    for (size_t r = 0; r < rows; r++)
        pack_row(j, pairs + r * Wp, r);
    memset(pairs + rows * Wp, 0, sizeof(uint32_t) * SDC_CONV_PAIRS_TAIL);
}

/* Where one register tile reads and writes. */
typedef struct tile_at {
    const uint32_t *img; /* pair row oy of plane cp = 0, column x0 (padded coordinates) */
    const uint32_t *w;   /* the weight tile */
    float *y;            /* output channel co0, row oy, column x0 */
    const float *res;    /* the same place in the residual, or NULL */
    const float *bias;   /* bias + co0, or NULL */
    int rows, n;         /* output channels and pixels that exist */
    int stream;          /* store whole aligned vectors past the caches */
} tile_at;

static void store_tile(const sdc_conv_direct *j, const tile_at *t, __m512 acc[MR][NV])
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

/* Pair rows of the next output row that this one has not read yet (row oy + 3), fetched
 * into L2 while this row computes: the Cp planes are more streams than the hardware
 * prefetcher follows. */
static void prefetch_next(const sdc_conv_direct *j, const uint32_t *img)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)(j->Ho + 2) * Wp;
    for (int cp = 0; cp < j->Cp; cp++)
        for (int q = 0; q < PX + 2; q += 16)
            _mm_prefetch((const char *)(img + cp * plane + 3 * Wp + q), _MM_HINT_T1);
}

/* Output row oy of batch item b: every pixel tile, every weight tile over it. */
static void run_row(const sdc_conv_direct *j, const uint32_t *pairs, const uint32_t *wp, int b,
                    int oy)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)j->Ho * j->Wo;
    const uint32_t *img = pairs + ((size_t)b * j->Cp * (j->Ho + 2) + oy) * Wp;
    /* An output much larger than the caches is out of them before the next layer reads it:
     * streaming stores skip reading each line in before writing it (and the 64 channel
     * planes are more write streams than the prefetcher follows). */
    int stream = (size_t)j->B * j->Cout * plane * sizeof(float) >= STREAM_BYTES;
    size_t out = (size_t)b * j->Cout * plane + (size_t)oy * j->Wo;
    for (int x0 = 0; x0 < j->Wo; x0 += PX) {
        if (oy + 3 < j->Ho + 2)
            prefetch_next(j, img + x0);
        for (int co = 0; co < j->Cout; co += MR) {
            size_t at = out + co * plane + x0;
            tile_at t = {img + x0, wp + (size_t)co * j->Cp * 9, j->y + at,
                         j->residual ? j->residual + at : NULL, j->bias ? j->bias + co : NULL,
                         j->Cout - co < MR ? j->Cout - co : MR,
                         j->Wo - x0 < PX ? j->Wo - x0 : PX, stream};
            if (t.res && x0 + PX < j->Wo) /* the residual of this tile's next pixels */
                for (int i = 0; i < t.rows; i++)
                    for (int v = 0; v < NV; v++)
                        _mm_prefetch((const char *)(t.res + i * plane + PX + 16 * v),
                                     _MM_HINT_T0);
            run_tile(j, &t);
        }
    }
    if (stream) /* streaming stores are weakly ordered: done before the team's barrier */
        _mm_sfence();
}

void sdc_conv_direct_bf16(const sdc_conv_direct *j, const uint32_t *pairs, const uint32_t *wp)
{
    int rows = j->B * j->Ho;
    size_t work = (size_t)rows * j->Wo * j->Cout * j->Cp * 9;
    /* dynamic: a thread slowed down by other processes holds up the rest for one row at most */
#pragma omp parallel for schedule(dynamic, 1) if (sdc_parallel_worth(work))
    for (int r = 0; r < rows; r++)
        run_row(j, pairs, wp, r / j->Ho, r % j->Ho);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
