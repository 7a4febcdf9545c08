/* The walk of the direct 3x3 convolutions over output rows and tiles, shared by the AVX-512
 * kernels (ops/conv_direct_avx512.h) and the AVX2 one (ops/conv_direct_avx2.c): the tile's
 * description, the walk over one output row and the parallel loop over rows, the padded
 * input's rows. Each includer gives its own register-tile function and tile width. x86 only
 * (prefetches and the fence of streaming stores). */
#ifndef SDC_OPS_CONV_DIRECT_ROWS_H
#define SDC_OPS_CONV_DIRECT_ROWS_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "ops/conv_direct.h"
#include "ops/parallel.h"

/* Outputs at least this large are written with streaming stores (see run_row). */
#define STREAM_BYTES ((size_t)16 << 20)

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

/* Computes one register tile (the includer's kernel). */
typedef void (*tile_fn)(const sdc_conv_direct *j, const tile_at *t);

/* Input rows of the next output row that this one has not read yet (row oy + 3), fetched
 * into L2 while this row computes: the Cp planes are more streams than the hardware
 * prefetcher follows. */
static inline void prefetch_next(const sdc_conv_direct *j, const uint32_t *img, int px)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)(j->Ho + 2) * Wp;
    for (int cp = 0; cp < j->Cp; cp++)
        for (int q = 0; q < px + 2; q += 16)
            _mm_prefetch((const char *)(img + cp * plane + 3 * Wp + q), _MM_HINT_T1);
}

/* Output row oy of batch item b: every tile of px pixels, every weight tile over it. */
static inline void run_row(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp,
                           int b, int oy, tile_fn run_tile, int px)
{
    size_t Wp = (size_t)j->Wo + 2, plane = (size_t)j->Ho * j->Wo;
    const uint32_t *img = in + ((size_t)b * j->Cp * (j->Ho + 2) + oy) * Wp;
    /* An output much larger than the caches is out of them before the next layer reads it:
     * streaming stores skip reading each line in before writing it (and the 64 channel
     * planes are more write streams than the prefetcher follows). */
    int stream = (size_t)j->B * j->Cout * plane * sizeof(float) >= STREAM_BYTES;
    size_t out = (size_t)b * j->Cout * plane + (size_t)oy * j->Wo;
    for (int x0 = 0; x0 < j->Wo; x0 += px) {
        if (oy + 3 < j->Ho + 2)
            prefetch_next(j, img + x0, px);
        for (int co = 0; co < j->Cout; co += SDC_CONV_DIRECT_MR) {
            size_t at = out + co * plane + x0;
            tile_at t = {img + x0, wp + (size_t)co * j->Cp * 9, j->y + at,
                         j->residual ? j->residual + at : NULL, j->bias ? j->bias + co : NULL,
                         j->Cout - co < SDC_CONV_DIRECT_MR ? j->Cout - co : SDC_CONV_DIRECT_MR,
                         j->Wo - x0 < px ? j->Wo - x0 : px, stream};
            if (t.res && x0 + px < j->Wo) /* the residual of this tile's next pixels */
                for (int i = 0; i < t.rows; i++)
                    for (int v = 0; v < px; v += 16)
                        _mm_prefetch((const char *)(t.res + i * plane + px + v), _MM_HINT_T0);
            run_tile(j, &t);
        }
    }
    if (stream) /* streaming stores are weakly ordered: done before the team's barrier */
        _mm_sfence();
}

/* Every output row in tiles of px pixels; `in` and `wp` packed as ops/conv_direct.h says. */
static inline void run_rows(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp,
                            tile_fn run_tile, int px)
{
    int rows = j->B * j->Ho;
    size_t work = (size_t)rows * j->Wo * j->Cout * j->Cp * 9;
    /* dynamic: a thread slowed down by other processes holds up the rest for one row at most */
#pragma omp parallel for schedule(dynamic, 1) if (sdc_parallel_worth(work))
    for (int r = 0; r < rows; r++)
        run_row(j, in, wp, r / j->Ho, r % j->Ho, run_tile, px);
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
