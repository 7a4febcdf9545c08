/* AVX2 Winograd transforms (see ops/winograd_impl.h): 8 filters or tiles per vector, one lane
 * each, with the same arithmetic as the portable path in the same order. Filters: 8 filters'
 * first 8 taps load as rows and transpose in registers, and each point's 8 values are stored
 * together (the portable one converted 9 taps through a call and stored its 36 points on 36
 * cache lines). Inputs: 8 tiles side by side inside the image are read as rows and
 * transposed, others gathered with per-lane masks. Outputs: 8 tiles
 * in one tile row are stored as whole rows of 32 pixels after a 4 x 8 transpose. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "ops/dtype.h"
#include "ops/parallel.h"
#include "ops/simd_avx2.h"
#include "ops/winograd_impl.h"

#define WINO_T __m256
#include "ops/winograd_math.h"

enum { POINTS = SDC_WINO_POINTS, LANES = 8 };

/* g[t] lane l = tap t of the filter at src + 9 l values (l < lanes), zeros in other lanes. */
static void filter_taps(__m256 g[9], const unsigned char *src, sdc_dtype dtype, int lanes)
{
    size_t es = sdc_dtype_size(dtype);
    __m256 v[LANES];
    float last[LANES] = {0};
    for (int l = 0; l < LANES; l++) {
        const unsigned char *f = src + (size_t)l * 9 * es;
        if (l >= lanes) {
            v[l] = _mm256_setzero_ps();
        } else if (dtype == SDC_DTYPE_F16) {
            unsigned short h; /* weights may sit at any byte offset: no typed loads */
            memcpy(&h, f + 8 * es, sizeof h);
            v[l] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)f));
            last[l] = _cvtsh_ss(h);
        } else if (dtype == SDC_DTYPE_F32) {
            v[l] = _mm256_loadu_ps((const float *)(const void *)f);
            memcpy(&last[l], f + 8 * es, sizeof(float));
        } else {
            float taps[9];
            sdc_convert_to_f32(taps, f, dtype, 9);
            v[l] = _mm256_loadu_ps(taps);
            last[l] = taps[8];
        }
    }
    sdc_transpose8(v);
    for (int t = 0; t < 8; t++)
        g[t] = v[t];
    g[8] = _mm256_loadu_ps(last);
}

void sdc_wino_filters_avx2(float *U, const sdc_packed_map *map, const sdc_weight *w, int k0,
                           int kb, int C)
{
    size_t dsize = sdc_dtype_size(w->dtype);
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)kb * C * 9))
    for (int k = 0; k < map->rows; k++) {
        const unsigned char *row = (const unsigned char *)w->data +
                                   (size_t)(k0 + (k < kb ? k : 0)) * C * 9 * dsize;
        /* runs of 8 channels never cross a K block: blocks are C or a multiple of 8 deep */
        for (int c = 0; c < C; c += LANES) {
            int lanes = C - c < LANES ? C - c : LANES;
            float *at = U + sdc_packed_at(map, k, c);
            if (k >= kb) { /* a padding row of the packed layout */
                for (int e = 0; e < POINTS; e++)
                    sdc_store8(at + e * map->floats, _mm256_setzero_ps(), lanes);
                continue;
            }
            __m256 g[9], u[POINTS];
            filter_taps(g, row + (size_t)c * 9 * dsize, w->dtype, lanes); /* lane l: c + l */
            wino_filter_2d(u, g);
            for (int e = 0; e < POINTS; e++)
                sdc_store8(at + e * map->floats, u[e], lanes);
        }
    }
}

/* How the input transform reads one group of 8 tiles (tiles q .. q + 7 of the chunk). When
 * they lie side by side in one tile row (`rows`), their patches are 6 rows of 34 pixels
 * from `first` (channel 0's plane), read as rows: pixels outside the image as zeros, by
 * masked loads (`cols`, `tail`) and skipped rows (`row_in`), all plain when `inside`. Other
 * groups (across tile rows, or past the chunk's last tile) gather each patch pixel with
 * per-lane offsets and masks (`at`, `live`). */
typedef struct tile_group {
    int q, keep; /* first tile in the chunk; lanes stored (the packed panel's padding too) */
    int rows, inside, first;
    __m256i cols[4];                 /* pixels 8 m .. 8 m + 7 of a patch row */
    int tail[2], row_in[SDC_WINO_PATCH]; /* pixels 32 and 33; rows inside the image */
    __m256i at[POINTS];
    __m256 live[POINTS];
} tile_group;

static void gather_lanes(tile_group *t, const sdc_wino_tiling *g, const int row[LANES],
                         const int col[LANES], const int off[LANES], int lanes)
{
    for (int i = 0; i < SDC_WINO_PATCH; i++)
        for (int j = 0; j < SDC_WINO_PATCH; j++) {
            int e = i * SDC_WINO_PATCH + j, o[LANES], m[LANES];
            for (int l = 0; l < LANES; l++) {
                int y = row[l] + i, x = col[l] + j;
                m[l] = l < lanes && y >= 0 && y < g->x_rows && x >= 0 && x < g->W ? -1 : 0;
                o[l] = off[l] + i * g->W + j;
            }
            t->at[e] = _mm256_loadu_si256((const __m256i *)(const void *)o);
            t->live[e] =
                _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(const void *)m));
        }
}

/* The group of tiles p .. p + lanes - 1 (chunk tile q = p - p0), as tile_group says. */
static void group_at(tile_group *t, const sdc_wino_tiling *g, size_t p, int lanes)
{
    size_t per_image = (size_t)g->th * g->tw;
    int off[LANES] = {0}, row[LANES] = {0}, col[LANES] = {0};
    t->rows = lanes == LANES;
    for (int l = 0; l < lanes; l++) {
        size_t b = (p + l) / per_image, tile = (p + l) % per_image;
        row[l] = g->row0 - g->x_row0 + (int)(tile / g->tw) * SDC_WINO_TILE - 1;
        col[l] = (int)(tile % g->tw) * SDC_WINO_TILE - 1;
        off[l] = (int)(b * g->C * (size_t)g->x_rows * g->W) + row[l] * g->W + col[l];
        t->rows &= off[l] == off[0] + SDC_WINO_TILE * l;
    }
    if (!t->rows) {
        gather_lanes(t, g, row, col, off, lanes);
        return;
    }
    t->first = off[0];
    t->inside = 1;
    for (int i = 0; i < SDC_WINO_PATCH; i++) {
        t->row_in[i] = row[0] + i >= 0 && row[0] + i < g->x_rows;
        t->inside &= t->row_in[i];
    }
    for (int m = 0; m < 4; m++) {
        int live[LANES];
        for (int j = 0; j < LANES; j++) {
            int x = col[0] + 8 * m + j;
            live[j] = x >= 0 && x < g->W ? -1 : 0;
            t->inside &= live[j] != 0;
        }
        t->cols[m] = _mm256_loadu_si256((const __m256i *)(const void *)live);
    }
    for (int j = 0; j < 2; j++) {
        t->tail[j] = col[0] + 32 + j < g->W;
        t->inside &= t->tail[j];
    }
}

/* d[j] lane l = pixel 4 l + j (j < 6) of a patch row of 8 tiles side by side, from its
 * pixels 0 .. 31 in four vectors and pixels 32, 33 broadcast: a 4 x 8 transpose (pixels 4
 * and 5 are the next tile's 0 and 1). The values the gathers would load, for a fraction of
 * their cost (a Zen 3 spends about 4 cycles on each 8-lane gather, and they took a fifth of
 * its VAE decode). */
static inline void patch_row(const __m256 px[4], __m256 p32, __m256 p33, __m256 d[6])
{
    const __m256i tile_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i next_tile = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
    /* lanes t0 t2 t4 t6 | t1 t3 t5 t7 after the shuffles, tile_order sorts them */
    __m256 lo_a = _mm256_unpacklo_ps(px[0], px[1]), hi_a = _mm256_unpackhi_ps(px[0], px[1]);
    __m256 lo_b = _mm256_unpacklo_ps(px[2], px[3]), hi_b = _mm256_unpackhi_ps(px[2], px[3]);
    d[0] = _mm256_shuffle_ps(lo_a, lo_b, _MM_SHUFFLE(1, 0, 1, 0));
    d[1] = _mm256_shuffle_ps(lo_a, lo_b, _MM_SHUFFLE(3, 2, 3, 2));
    d[2] = _mm256_shuffle_ps(hi_a, hi_b, _MM_SHUFFLE(1, 0, 1, 0));
    d[3] = _mm256_shuffle_ps(hi_a, hi_b, _MM_SHUFFLE(3, 2, 3, 2));
    for (int j = 0; j < 4; j++)
        d[j] = _mm256_permutevar8x32_ps(d[j], tile_order);
    d[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], next_tile), p32, 0x80);
    d[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], next_tile), p33, 0x80);
}

/* The 36 patch pixels of group t in channel plane xc (rows w apart), read as rows. */
static void patch_rows(const float *xc, int w, const tile_group *t, __m256 d[POINTS])
{
    for (int i = 0; i < SDC_WINO_PATCH; i++) {
        const float *s = xc + t->first + (ptrdiff_t)i * w;
        __m256 px[4], p32, p33;
        if (t->inside) {
            for (int m = 0; m < 4; m++)
                px[m] = _mm256_loadu_ps(s + 8 * m);
            p32 = _mm256_broadcast_ss(s + 32);
            p33 = _mm256_broadcast_ss(s + 33);
        } else if (t->row_in[i]) { /* (masked lanes are never read: s may start before x) */
            for (int m = 0; m < 4; m++)
                px[m] = _mm256_maskload_ps(s + 8 * m, t->cols[m]);
            p32 = t->tail[0] ? _mm256_broadcast_ss(s + 32) : _mm256_setzero_ps();
            p33 = t->tail[1] ? _mm256_broadcast_ss(s + 33) : _mm256_setzero_ps();
        } else {
            for (int m = 0; m < 4; m++)
                px[m] = _mm256_setzero_ps();
            p32 = p33 = _mm256_setzero_ps();
        }
        patch_row(px, p32, p33, d + i * SDC_WINO_PATCH);
    }
}

/* Transforms channel c of group t into V. */
static void group_channel(float *V, const sdc_packed_map *map, const float *xc,
                          const tile_group *t, int w, int c)
{
    __m256 d[POINTS], v[POINTS];
    if (t->rows)
        patch_rows(xc, w, t, d);
    else
        for (int e = 0; e < POINTS; e++)
            d[e] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xc, t->at[e], t->live[e], 4);
    wino_input_2d(v, d);
    float *dst = V + sdc_packed_at(map, t->q, c);
    for (int e = 0; e < POINTS; e++)
        sdc_store8(dst + e * map->floats, v[e], t->keep);
}

/* Groups of 8 tiles a thread takes together: two fill the 64-byte lines of 16 tiles of one
 * channel (in the plain layout and in the 16-wide panels of the AVX2 kernel) while they are
 * still in L1; one at a time, each line was fetched twice. */
enum { PAIR = 2 };

void sdc_wino_inputs_avx2(float *V, const sdc_packed_map *map, const float *x,
                          const sdc_wino_tiling *g, size_t p0, int n)
{
    int groups = (map->rows + LANES - 1) / LANES, pairs = (groups + PAIR - 1) / PAIR;
    size_t plane = (size_t)g->x_rows * g->W;
    /* tile groups outer, so that their offsets and masks serve every channel; in a packed
     * panel the channels of one group are consecutive rows */
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)g->C * n * POINTS))
    for (int pair = 0; pair < pairs; pair++) {
        tile_group t[PAIR];
        int count = 0;
        for (; count < PAIR && (pair * PAIR + count) * LANES < map->rows; count++) {
            int q = (pair * PAIR + count) * LANES;
            t[count].q = q;
            t[count].keep = map->rows - q < LANES ? map->rows - q : LANES;
            group_at(&t[count], g, p0 + q, n - q < 0 ? 0 : n - q < LANES ? n - q : LANES);
        }
        for (int c = 0; c < g->C; c++)
            for (int h = 0; h < count; h++)
                group_channel(V, map, x + c * plane, &t[h], g->W, c);
    }
}

/* Output row i of 8 tiles side by side (o[i * 4 + j] lane l = pixel 4 l + j) as 32
 * consecutive pixels plus b, the first `n` of them stored at dst. */
static void store_tile_row(float *dst, const __m256 *o, __m256 b, int n)
{
    __m256 t0 = _mm256_unpacklo_ps(o[0], o[1]), t1 = _mm256_unpackhi_ps(o[0], o[1]);
    __m256 t2 = _mm256_unpacklo_ps(o[2], o[3]), t3 = _mm256_unpackhi_ps(o[2], o[3]);
    /* u_m: tile m in the low 128 bits, tile m + 4 in the high */
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 v[4] = {_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u2, u3, 0x20),
                   _mm256_permute2f128_ps(u0, u1, 0x31), _mm256_permute2f128_ps(u2, u3, 0x31)};
    for (int k = 0; k < 4 && 8 * k < n; k++)
        sdc_store8(dst + 8 * k, _mm256_add_ps(v[k], b), n - 8 * k);
}

/* Tiles p .. p + lanes - 1 of plane yk (channel k of image 0), o as wino_output_2d leaves
 * them: whole rows of pixels when the 8 tiles lie in one tile row, else pixel by pixel. */
static void store_tiles(float *yk, const __m256 *o, __m256 b, const sdc_wino_tiling *g,
                        size_t p, int lanes)
{
    size_t per_image = (size_t)g->th * g->tw, hw = (size_t)g->rows * g->W;
    size_t t = p % per_image;
    int ty = (int)(t / g->tw), tx = (int)(t % g->tw), TILE = SDC_WINO_TILE;
    if (lanes == LANES && tx + LANES <= g->tw) {
        float *dst = yk + p / per_image * g->K * hw + (size_t)ty * TILE * g->W + tx * TILE;
        int n = g->W - tx * TILE; /* pixels left in the row */
        for (int i = 0; i < TILE && ty * TILE + i < g->rows; i++)
            store_tile_row(dst + (size_t)i * g->W, o + i * TILE, b, n);
        return;
    }
    float px[SDC_WINO_TILE * SDC_WINO_TILE][LANES], bias = _mm256_cvtss_f32(b);
    for (int e = 0; e < TILE * TILE; e++)
        _mm256_storeu_ps(px[e], o[e]);
    for (int l = 0; l < lanes; l++) {
        size_t tl = (p + l) % per_image;
        int oy = (int)(tl / g->tw) * TILE, ox = (int)(tl % g->tw) * TILE;
        float *dst = yk + (p + l) / per_image * g->K * hw;
        for (int i = 0; i < TILE && oy + i < g->rows; i++)
            for (int j = 0; j < TILE && ox + j < g->W; j++)
                dst[(size_t)(oy + i) * g->W + ox + j] = px[i * TILE + j][l] + bias;
    }
}

void sdc_wino_outputs_avx2(float *y, const float *M, size_t plane, const float *bias,
                           const sdc_wino_tiling *g, size_t p0, int n, int k0, int kb)
{
    size_t hw = (size_t)g->rows * g->W;
    /* output channels outer: M is read and y written in order */
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)kb * n * POINTS))
    for (int k = 0; k < kb; k++) {
        __m256 b = _mm256_set1_ps(bias ? bias[k0 + k] : 0.0f);
        float *yk = y + (k0 + k) * hw;
        for (int q = 0; q < n; q += LANES) {
            int lanes = n - q < LANES ? n - q : LANES;
            __m256 m[POINTS], o[SDC_WINO_TILE * SDC_WINO_TILE];
            for (int e = 0; e < POINTS; e++)
                m[e] = sdc_load8(M + e * plane + (size_t)k * n + q, lanes);
            wino_output_2d(o, m);
            store_tiles(yk, o, b, g, p0 + q, lanes);
        }
    }
}

#ifdef __clang__
#pragma clang attribute pop
#endif
