/* AVX-512 Winograd transforms (see ops/winograd_impl.h): 16 tiles (or 16 filters) per
 * vector, one lane each, with the same arithmetic as the portable path in the same order.
 * Patches are gathered and output tiles scattered with per-lane masks for the image edges. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#endif

#include <immintrin.h>

#include "ops/dtype.h"
#include "ops/parallel.h"
#include "ops/simd_avx512.h"
#include "ops/winograd_impl.h"

#define WINO_T __m512
#include "ops/winograd_math.h"

enum { TILE = SDC_WINO_TILE, PATCH = SDC_WINO_PATCH, POINTS = SDC_WINO_POINTS, LANES = 16 };

/* g[t] lane l = tap t of the filter at src + 9 l values (l < lanes), zeros in the other lanes:
 * each filter's 9 taps loaded as one masked vector (f16 through vcvtph2ps, exact as the
 * portable conversion) and the 16 transposed in registers, instead of gathered. */
static void filter_taps(__m512 g[9], const unsigned char *src, sdc_dtype dtype, int lanes)
{
    size_t es = sdc_dtype_size(dtype);
    __m512 v[LANES];
    for (int l = 0; l < LANES; l++) {
        const unsigned char *f = src + (size_t)l * 9 * es;
        if (l >= lanes) {
            v[l] = _mm512_setzero_ps();
        } else if (dtype == SDC_DTYPE_F16) {
            v[l] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(0x1ff, f));
        } else if (dtype == SDC_DTYPE_F32) {
            v[l] = _mm512_maskz_loadu_ps(0x1ff, f);
        } else {
            float taps[LANES] = {0};
            sdc_convert_to_f32(taps, f, dtype, 9);
            v[l] = _mm512_loadu_ps(taps);
        }
    }
    sdc_transpose16(v);
    for (int t = 0; t < 9; t++)
        g[t] = v[t];
}

/* Row k of the packed filter layout (a padding row past kb: zeros). A function of its own,
 * not the parallel loop's body: clang compiles OpenMP's outlined loop bodies without the
 * file's target attribute, so vector values may not live there. */
static void filter_row(float *U, const sdc_packed_map *map, const sdc_weight *w, int k0,
                       int kb, int C, int k)
{
    size_t dsize = sdc_dtype_size(w->dtype);
    const unsigned char *row =
        (const unsigned char *)w->data + (size_t)(k0 + (k < kb ? k : 0)) * C * 9 * dsize;
    /* runs of 16 channels never cross a K block: blocks are C or a multiple of 16 deep */
    for (int c = 0; c < C; c += LANES) {
        int lanes = C - c < LANES ? C - c : LANES;
        __mmask16 m = sdc_lanes16(lanes);
        float *at = U + sdc_packed_at(map, k, c);
        if (k >= kb) { /* a padding row of the packed layout */
            for (int e = 0; e < POINTS; e++)
                _mm512_mask_storeu_ps(at + e * map->floats, m, _mm512_setzero_ps());
            continue;
        }
        __m512 g[9], u[POINTS];
        filter_taps(g, row + (size_t)c * 9 * dsize, w->dtype, lanes); /* lane l: c + l */
        wino_filter_2d(u, g);
        for (int e = 0; e < POINTS; e++)
            _mm512_mask_storeu_ps(at + e * map->floats, m, u[e]);
    }
}

void sdc_wino_filters_avx512(float *U, const sdc_packed_map *map, const sdc_weight *w, int k0,
                             int kb, int C)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)kb * C * 9))
    for (int k = 0; k < map->rows; k++)
        filter_row(U, map, w, k0, kb, C, k);
}

/* A tensor [B, ch, rows, W] the tiles are read from or written to, in which tile row ty
 * starts at row shift + 4 ty: x is (C, H, row0), y is (K, rows, 0) (sdc_wino_tiling). */
typedef struct frame {
    int ch, rows, shift;
} frame;

static frame input_frame(const sdc_wino_tiling *g)
{
    return (frame){g->C, g->x_rows, g->row0 - g->x_row0};
}
static frame output_frame(const sdc_wino_tiling *g) { return (frame){g->K, g->rows, 0}; }

/* Per-lane geometry of tiles p .. p + lanes - 1: the element offset of the tile's first
 * pixel (top-left of its 4x4 output) in its image plane of channel 0 of frame f, and that
 * pixel's row and column. */
typedef struct lane_tiles {
    __m512i offset, row, col;
    __mmask16 live;
} lane_tiles;

static lane_tiles tiles_at(const sdc_wino_tiling *g, size_t p, int lanes, frame f)
{
    size_t per_image = (size_t)g->th * g->tw;
    int off[LANES] = {0}, row[LANES] = {0}, col[LANES] = {0};
    for (int l = 0; l < lanes; l++) {
        size_t b = (p + l) / per_image, t = (p + l) % per_image;
        row[l] = f.shift + (int)(t / g->tw) * TILE;
        col[l] = (int)(t % g->tw) * TILE;
        off[l] = (int)(b * f.ch * (size_t)f.rows * g->W) + row[l] * g->W + col[l];
    }
    return (lane_tiles){_mm512_loadu_si512(off), _mm512_loadu_si512(row),
                        _mm512_loadu_si512(col), sdc_lanes16(lanes)};
}

/* Lanes whose v + d lies in [0, limit). */
static __mmask16 inside(__mmask16 m, __m512i v, int d, int limit)
{
    __m512i at = _mm512_add_epi32(v, _mm512_set1_epi32(d));
    m = _mm512_mask_cmpge_epi32_mask(m, at, _mm512_setzero_si512());
    return _mm512_mask_cmplt_epi32_mask(m, at, _mm512_set1_epi32(limit));
}

/* Per-lane gather offsets and masks of the 6x6 patches (inputs) or 4x4 tiles (outputs) of
 * tiles t, `side` on a side, whose first element sits at (first, first) from the tile's
 * corner: zero masks outside the image. The same for every channel, so worked out once. */
static void patch_lanes(const lane_tiles *t, const sdc_wino_tiling *g, frame f, int side,
                        int first, __m512i *at, __mmask16 *live)
{
    for (int i = 0; i < side; i++) {
        __mmask16 rows = inside(t->live, t->row, i + first, f.rows);
        for (int j = 0; j < side; j++) {
            live[i * side + j] = inside(rows, t->col, j + first, g->W);
            at[i * side + j] = _mm512_add_epi32(
                t->offset, _mm512_set1_epi32((i + first) * g->W + j + first));
        }
    }
}

/* 16 tiles side by side in one tile row read their patches from 6 image rows of 66
 * consecutive pixels: 5 masked row loads per image row and shuffles replace the 36 gathers.
 * `cols` masks the row loads to the image, `y0` / `x0` is the first patch's corner. */
typedef struct row_block {
    size_t image; /* elements before the tiles' image in their frame's tensor */
    int y0, x0, rows;
    __mmask16 cols[5];
} row_block;

/* Whether tiles p .. p + 15 (all live) lie in one tile row of one image; fills *rb then, for
 * patches starting `first` pixels from the tiles' corners (-1 for inputs, 0 for outputs) in
 * frame f. */
static int row_block_at(const sdc_wino_tiling *g, size_t p, int lanes, int first, frame f,
                        row_block *rb)
{
    size_t per_image = (size_t)g->th * g->tw, t = p % per_image;
    int ty = (int)(t / g->tw), tx = (int)(t % g->tw);
    if (lanes < LANES || tx + LANES > g->tw)
        return 0;
    rb->image = p / per_image * f.ch * (size_t)f.rows * g->W;
    rb->y0 = f.shift + ty * TILE + first;
    rb->rows = f.rows;
    rb->x0 = tx * TILE + first;
    for (int k = 0; k < 5; k++) { /* lanes l with 0 <= x0 + 16 k + l < W */
        int lo = -(rb->x0 + 16 * k), hi = g->W - (rb->x0 + 16 * k);
        __mmask16 below = sdc_lanes16(lo), upto = sdc_lanes16(hi);
        rb->cols[k] = (__mmask16)(upto & ~below);
    }
    return 1;
}

/* d[i * 6 + j] lane l = pixel (y0 + i, x0 + 4 l + j) of the tiles' image in channel plane xc
 * (channel c of image 0), zero outside the image. */
static void patches_by_rows(__m512 *d, const float *xc, const sdc_wino_tiling *g,
                            const row_block *rb)
{
    /* w[m] = pixel x0 + m: d_j[l] = w[4 l + j]. j < 4: lanes 0-7 from w[0..31], 8-15 from
     * w[32..63]; j = 4, 5 are j = 0, 1 moved one tile on, the last lane from w[64], w[65]. */
    const __m512i by4 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20,
                                          24, 28);
    for (int i = 0; i < PATCH; i++) {
        int yy = rb->y0 + i;
        if (yy < 0 || yy >= rb->rows) {
            for (int j = 0; j < PATCH; j++)
                d[i * PATCH + j] = _mm512_setzero_ps();
            continue;
        }
        const float *row = xc + rb->image + (size_t)yy * g->W;
        __m512 w[5];
        for (int k = 0; k < 5; k++) /* masked lanes are not read: x0 may be -1 */
            w[k] = _mm512_maskz_loadu_ps(rb->cols[k], row + rb->x0 + 16 * k);
        for (int j = 0; j < 4; j++) {
            __m512i idx = _mm512_add_epi32(by4, _mm512_set1_epi32(j));
            __m512 lo = _mm512_permutex2var_ps(w[0], idx, w[1]);
            __m512 hi = _mm512_permutex2var_ps(w[2], idx, w[3]);
            d[i * PATCH + j] = _mm512_shuffle_f32x4(lo, hi, 0x44);
        }
        __m512i tail = _mm512_castps_si512(w[4]);
        __m512i tail1 = _mm512_alignr_epi32(_mm512_setzero_si512(), tail, 1);
        d[i * PATCH + 4] = _mm512_castsi512_ps(
            _mm512_alignr_epi32(tail, _mm512_castps_si512(d[i * PATCH]), 1));
        d[i * PATCH + 5] = _mm512_castsi512_ps(
            _mm512_alignr_epi32(tail1, _mm512_castps_si512(d[i * PATCH + 1]), 1));
    }
}

/* Gathers the patches of tiles p .. p + lanes - 1 (any tiles), zeros in the other lanes. */
static void gather_patches(__m512 *d, const float *xc, const sdc_wino_tiling *g, size_t p,
                           int lanes)
{
    lane_tiles t = tiles_at(g, p, lanes, input_frame(g));
    __m512i at[POINTS];
    __mmask16 live[POINTS];
    patch_lanes(&t, g, input_frame(g), PATCH, -1, at, live);
    for (int e = 0; e < POINTS; e++)
        d[e] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live[e], at[e], xc, 4);
}

/* Tiles p0 + q .. p0 + q + 15 of channel c (q < map->rows; 16 tiles never cross a panel):
 * lanes up to the layout's columns are stored, dead lanes and columns past n as zeros. */
static void input_group(float *V, const sdc_packed_map *map, const float *x,
                        const sdc_wino_tiling *g, size_t p0, int n, int c, int q)
{
    __mmask16 keep = sdc_lanes16(map->rows - q);
    float *at = V + sdc_packed_at(map, q, c);
    if (q >= n) {
        for (int e = 0; e < POINTS; e++)
            _mm512_mask_storeu_ps(at + e * map->floats, keep, _mm512_setzero_ps());
        return;
    }
    const float *xc = x + c * (size_t)g->x_rows * g->W;
    __m512 d[POINTS], v[POINTS];
    row_block rb;
    if (row_block_at(g, p0 + q, n - q, -1, input_frame(g), &rb))
        patches_by_rows(d, xc, g, &rb);
    else
        gather_patches(d, xc, g, p0 + q, n - q < LANES ? n - q : LANES);
    wino_input_2d(v, d);
    for (int e = 0; e < POINTS; e++)
        _mm512_mask_storeu_ps(at + e * map->floats, keep, v[e]);
}

void sdc_wino_inputs_avx512(float *V, const sdc_packed_map *map, const float *x,
                            const sdc_wino_tiling *g, size_t p0, int n)
{
    int worth = sdc_parallel_worth((size_t)g->C * n * POINTS), nr = map->stride;
    if (nr >= map->rows) {
        /* one panel (the plain layout): channels outer, so that each point's rows are
         * written in order and the tiles of a chunk walk each plane's rows in order */
#pragma omp parallel for schedule(static) if (worth)
        for (int c = 0; c < g->C; c++)
            for (int q = 0; q < map->rows; q += LANES)
                input_group(V, map, x, g, p0, n, c, q);
        return;
    }
    /* panels outer: each point's panel is written in order, channel after channel, instead
     * of a few vectors in every panel of every point for each channel (the threads share
     * out (panel, channel) pairs, so that a few panels still split evenly) */
#pragma omp parallel for collapse(2) schedule(static) if (worth)
    for (int p = 0; p < map->rows / nr; p++)
        for (int c = 0; c < g->C; c++)
            for (int q = p * nr; q < (p + 1) * nr; q += LANES)
                input_group(V, map, x, g, p0, n, c, q);
}

/* Stores output rows o[i * 4 + j] lane l = pixel (y0 + i, x0 + 4 l + j) of plane yk (channel
 * k of image 0) + b: each row's 4 vectors interleaved into 64 consecutive pixels (a 4 x 4
 * transpose of 128-bit lanes after unpacks) and stored with the row masks, rows past the
 * image skipped: the output transform's counterpart of patches_by_rows. */
static void tiles_by_rows(float *yk, const __m512 *o, __m512 b, const sdc_wino_tiling *g,
                          const row_block *rb)
{
    for (int i = 0; i < TILE && rb->y0 + i < rb->rows; i++) {
        const __m512 *r = o + i * TILE;
        __m512 t0 = _mm512_unpacklo_ps(r[0], r[1]), t1 = _mm512_unpackhi_ps(r[0], r[1]);
        __m512 t2 = _mm512_unpacklo_ps(r[2], r[3]), t3 = _mm512_unpackhi_ps(r[2], r[3]);
        /* u_m, 128-bit lane L: the 4 pixels of tile 4 L + m */
        __m512 u0 = _mm512_shuffle_ps(t0, t2, 0x44), u1 = _mm512_shuffle_ps(t0, t2, 0xee);
        __m512 u2 = _mm512_shuffle_ps(t1, t3, 0x44), u3 = _mm512_shuffle_ps(t1, t3, 0xee);
        __m512 a = _mm512_shuffle_f32x4(u0, u1, 0x44), c = _mm512_shuffle_f32x4(u2, u3, 0x44);
        __m512 e = _mm512_shuffle_f32x4(u0, u1, 0xee), f = _mm512_shuffle_f32x4(u2, u3, 0xee);
        __m512 v[4] = {_mm512_shuffle_f32x4(a, c, 0x88), _mm512_shuffle_f32x4(a, c, 0xdd),
                       _mm512_shuffle_f32x4(e, f, 0x88), _mm512_shuffle_f32x4(e, f, 0xdd)};
        float *row = yk + rb->image + (size_t)(rb->y0 + i) * g->W + rb->x0;
        for (int k = 0; k < 4; k++)
            _mm512_mask_storeu_ps(row + 16 * k, rb->cols[k], _mm512_add_ps(v[k], b));
    }
}

/* Output channel k0 + k of the chunk (see filter_row for why a function of its own). */
static void output_channel(float *y, const float *M, size_t plane, const float *bias,
                           const sdc_wino_tiling *g, size_t p0, int n, int k0, int k)
{
    size_t hw = (size_t)g->rows * g->W;
    __m512 b = _mm512_set1_ps(bias ? bias[k0 + k] : 0.0f);
    float *yk = y + (k0 + k) * hw;
    for (int q = 0; q < n; q += LANES) {
        int lanes = n - q < LANES ? n - q : LANES;
        __m512 m[POINTS], o[TILE * TILE];
        for (int e = 0; e < POINTS; e++)
            m[e] = _mm512_maskz_loadu_ps(sdc_lanes16(lanes), M + e * plane + (size_t)k * n + q);
        wino_output_2d(o, m);
        row_block rb;
        if (row_block_at(g, p0 + q, lanes, 0, output_frame(g), &rb)) {
            tiles_by_rows(yk, o, b, g, &rb);
            continue;
        }
        lane_tiles t = tiles_at(g, p0 + q, lanes, output_frame(g));
        __m512i at[TILE * TILE];
        __mmask16 live[TILE * TILE];
        patch_lanes(&t, g, output_frame(g), TILE, 0, at, live);
        for (int e = 0; e < TILE * TILE; e++)
            _mm512_mask_i32scatter_ps(yk, live[e], at[e], o[e] + b, 4);
    }
}

void sdc_wino_outputs_avx512(float *y, const float *M, size_t plane, const float *bias,
                             const sdc_wino_tiling *g, size_t p0, int n, int k0, int kb)
{
    /* output channels outer: M is read and y written in order */
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)kb * n * POINTS))
    for (int k = 0; k < kb; k++)
        output_channel(y, M, plane, bias, g, p0, n, k0, k);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
