/* Pieces shared by the AVX-512 direct convolutions (ops/conv_direct_bf16.c with bf16 pairs,
 * ops/conv_direct_avx512.c with f32): the tile epilogue, the walk over one output row, the
 * parallel loop over rows, the upsampling row read. Include only from files compiled for
 * AVX-512; each includer gives its own register-tile function. */
#ifndef SDC_OPS_CONV_DIRECT_AVX512_H
#define SDC_OPS_CONV_DIRECT_AVX512_H

#include <stdint.h>
#include <string.h>

#include "ops/conv_direct.h"
#include "ops/parallel.h"
#include "ops/simd_avx512.h"

/* Register tile: MR output channels x NV vectors of 16 pixels of one output row. */
enum { MR = SDC_CONV_DIRECT_MR, NV = 2, PX = NV * 16 };
/* Outputs at least this large are written with streaming stores (see run_row). */
#define STREAM_BYTES ((size_t)16 << 20)

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

/* Where one register tile reads and writes. */
typedef struct tile_at {
    const uint32_t *img; /* input row oy of plane cp = 0, column x0 (padded coordinates) */
    const uint32_t *w;   /* the weight tile */
    float *y;            /* output channel co0, row oy, column x0 */
    const float *res;    /* the same place in the residual, or NULL */
    const float *bias;   /* bias + co0, or NULL */
    int rows, n;         /* output channels and pixels that exist */
    int stream;          /* store whole aligned vectors past the caches */
} tile_at;

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

/* Computes one register tile (the includer's kernel). */
typedef void (*tile_fn)(const sdc_conv_direct *j, const tile_at *t);

/* Input rows of the next output row that this one has not read yet (row oy + 3), fetched
 * into L2 while this row computes: the Cp planes are more streams than the hardware
 * prefetcher follows. */
static inline void prefetch_next(const sdc_conv_direct *j, const uint32_t *img)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)(j->Ho + 2) * Wp;
    for (int cp = 0; cp < j->Cp; cp++)
        for (int q = 0; q < PX + 2; q += 16)
            _mm_prefetch((const char *)(img + cp * plane + 3 * Wp + q), _MM_HINT_T1);
}

/* Output row oy of batch item b: every pixel tile, every weight tile over it. */
static inline void run_row(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp,
                           int b, int oy, tile_fn run_tile)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)j->Ho * j->Wo;
    const uint32_t *img = in + ((size_t)b * j->Cp * (j->Ho + 2) + oy) * Wp;
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

/* Every output row; `in` and `wp` packed as ops/conv_direct.h says. */
static inline void run_rows(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp,
                            tile_fn run_tile)
{
    int rows = j->B * j->Ho;
    size_t work = (size_t)rows * j->Wo * j->Cout * j->Cp * 9;
    /* dynamic: a thread slowed down by other processes holds up the rest for one row at most */
#pragma omp parallel for schedule(dynamic, 1) if (sdc_parallel_worth(work))
    for (int r = 0; r < rows; r++)
        run_row(j, in, wp, r / j->Ho, r % j->Ho, run_tile);
}

/* Padded input row r: (b, cp, py) of [B][Cp][Ho + 2]; NULL when it is a border row (zeroed
 * here), else channel c's source row (c = cp * per). */
static inline const float *source_row(const sdc_conv_direct *j, uint32_t *d, size_t r, int per)
{
    int Hp = j->Ho + 2, Wp = j->Wo + 2, py = (int)(r % Hp), cp = (int)(r / Hp % j->Cp);
    size_t b = r / Hp / j->Cp;
    if (py == 0 || py == Hp - 1) {
        memset(d, 0, sizeof(uint32_t) * Wp);
        return NULL;
    }
    d[0] = d[Wp - 1] = 0;
    int sy = j->up ? (py - 1) / 2 : py - 1;
    return j->x + ((b * j->Cin + (size_t)per * cp) * j->H + sy) * j->W;
}

/* The padded input, row by row (pack_row fills row r at d). */
static inline void pack_rows(const sdc_conv_direct *j, uint32_t *in,
                             void (*pack_row)(const sdc_conv_direct *, uint32_t *, size_t))
{
    size_t rows = (size_t)j->B * j->Cp * (j->Ho + 2), Wp = (size_t)j->Wo + 2;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(rows * Wp))
    for (size_t r = 0; r < rows; r++)
        pack_row(j, in + r * Wp, r);
    memset(in + rows * Wp, 0, sizeof(uint32_t) * SDC_CONV_INPUT_TAIL);
}

#endif
