/* AVX2 Winograd transforms (see ops/winograd_impl.h): 8 filters or tiles per vector, one lane
 * each. The same transforms as the portable path (ops/winograd_math.h) with their products
 * fused into FMAs and the filters' divisions by 6, 12 and 24 made products by reciprocals,
 * so the values differ from it by rounding only (tests/test_ops.c bounds either against the
 * exact convolution). Filters: 8 filters' first 8 taps load as rows and transpose in
 * registers, and each point's 8 values are stored together. Inputs: 8 tiles side by side
 * inside the image are read as rows and transposed, others gathered with per-lane masks;
 * each patch row is transformed as soon as it is read, so that the 36 pixels are never all
 * live. Outputs: 8 tiles in one tile row are stored as whole rows of 32 pixels after a 4 x 8
 * transpose. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "ops/dtype.h"
#include "ops/parallel.h"
#include "ops/simd_avx2.h"
#include "ops/winograd_impl.h"

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

/* v[0 .. n - 1] at dst, dst + step, ...: their first `lanes` lanes (the branch outside the
 * loop: inside it, it and the address arithmetic took a quarter of a transform's
 * instructions). */
static inline void store_points(float *dst, size_t step, const __m256 *v, int n, int lanes)
{
    if (lanes == LANES)
        for (int e = 0; e < n; e++, dst += step)
            _mm256_storeu_ps(dst, v[e]);
    else
        for (int e = 0; e < n; e++, dst += step)
            sdc_store8(dst, v[e], lanes);
}

/* G g for the three vectors s[0], s[st], s[2 st]: wino_filter_1d with its divisions by 6,
 * 12 and 24 as products by the reciprocals, fused (a vdivps costs several products; the
 * values differ from the divisions' by an ulp at most). */
static inline void filter_1d(__m256 *o, int ost, const __m256 *s, int st)
{
    __m256 g0 = s[0], g1 = s[st], g2 = s[2 * st];
    const __m256 sixth = _mm256_set1_ps(1.0f / 6), neg_sixth = _mm256_set1_ps(-1.0f / 6);
    __m256 g02 = _mm256_add_ps(g0, g2);
    __m256 a = _mm256_fmadd_ps(g0, _mm256_set1_ps(1.0f / 24), _mm256_mul_ps(g2, sixth));
    __m256 b = _mm256_mul_ps(g1, _mm256_set1_ps(1.0f / 12));
    o[0] = _mm256_mul_ps(g0, _mm256_set1_ps(0.25f));
    o[ost] = _mm256_mul_ps(_mm256_add_ps(g02, g1), neg_sixth);
    o[2 * ost] = _mm256_mul_ps(_mm256_sub_ps(g02, g1), neg_sixth);
    o[3 * ost] = _mm256_add_ps(a, b);
    o[4 * ost] = _mm256_sub_ps(a, b);
    o[5 * ost] = g2;
}

/* u[6][6] = G g[3][3] G^T, as wino_filter_2d. */
static inline void filter_2d(__m256 u[POINTS], const __m256 g[9])
{
    __m256 t[6 * 3];
    for (int j = 0; j < 3; j++)
        filter_1d(t + j, 3, g + j, 3);
    for (int i = 0; i < 6; i++)
        filter_1d(u + i * 6, 1, t + i * 3, 1);
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
            filter_2d(u, g);
            store_points(at, map->floats, u, POINTS, lanes);
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

/* d[0..5] = row i of the patches of group t in channel plane xc (rows w apart), read as
 * a row of pixels. */
static inline void patch_row_at(const float *xc, int w, const tile_group *t, int i, __m256 d[6])
{
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
    patch_row(px, p32, p33, d);
}

/* B^T d for the six vectors s[0], s[st], ...: wino_input_1d with its products fused. */
static inline void input_1d(__m256 *o, int ost, const __m256 *s, int st)
{
    __m256 d0 = s[0], d1 = s[st], d2 = s[2 * st], d3 = s[3 * st], d4 = s[4 * st];
    __m256 d5 = s[5 * st];
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 five = _mm256_set1_ps(5.0f);
    __m256 d4_2 = _mm256_sub_ps(d4, d2), d3_1 = _mm256_sub_ps(d3, d1);
    o[0] = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));
    o[ost] = _mm256_fnmadd_ps(four, _mm256_add_ps(d1, d2), _mm256_add_ps(d3, d4));
    o[2 * ost] = _mm256_fmadd_ps(four, _mm256_sub_ps(d1, d2), _mm256_sub_ps(d4, d3));
    o[3 * ost] = _mm256_fmadd_ps(two, d3_1, d4_2);
    o[4 * ost] = _mm256_fnmadd_ps(two, d3_1, d4_2);
    o[5 * ost] = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));
}

/* Transforms channel c of group t into V: each patch row along its pixels as it is read
 * (t = d B), then the columns (B^T t), each column's six points stored as it is done. The
 * portable path's columns-then-rows order keeps all 36 pixels live at once, more than the
 * 16 registers hold: with it, the spills and the loop of 36 stores took two thirds of the
 * instructions (callgrind: 1081 per call, now about 700). */
static void group_channel(float *V, const sdc_packed_map *map, const float *xc,
                          const tile_group *t, int w, int c)
{
    __m256 rows[POINTS];
    for (int i = 0; i < SDC_WINO_PATCH; i++) {
        __m256 d[SDC_WINO_PATCH];
        if (t->rows) {
            patch_row_at(xc, w, t, i, d);
        } else {
            for (int j = 0; j < SDC_WINO_PATCH; j++) {
                int e = i * SDC_WINO_PATCH + j;
                d[j] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xc, t->at[e], t->live[e], 4);
            }
        }
        input_1d(rows + i * SDC_WINO_PATCH, 1, d, 1);
    }
    float *dst = V + sdc_packed_at(map, t->q, c);
    size_t step = map->floats;
    for (int j = 0; j < SDC_WINO_PATCH; j++) {
        __m256 v[SDC_WINO_PATCH];
        input_1d(v, 1, rows + j, SDC_WINO_PATCH);
        store_points(dst + j * step, SDC_WINO_PATCH * step, v, SDC_WINO_PATCH, t->keep);
    }
}

/* Asks for the rows of group t's patches in channel plane xc (its 6 rows of 34 pixels: 3 or
 * 4 cache lines each) while the channel before is transformed. The planes are a whole image
 * apart and one row of tiles reads 6 rows of each, more streams than the hardware prefetcher
 * follows: without this the transform waited on memory for most of its time (Zen 3, 128
 * channels of 512 x 160: 34 -> 24 ms). Gathered groups go without. */
static void prefetch_patch(const float *xc, int w, const tile_group *t)
{
    if (!t->rows)
        return;
    for (int i = 0; i < SDC_WINO_PATCH; i++) {
        uintptr_t s = (uintptr_t)(xc + t->first) + (uintptr_t)((ptrdiff_t)i * w * 4);
        _mm_prefetch((const char *)s, _MM_HINT_T0);
        _mm_prefetch((const char *)(s + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(s + 33 * 4), _MM_HINT_T0);
    }
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
        for (int c = 0; c < g->C; c++) {
            for (int h = 0; h < count && c + 1 < g->C; h++)
                prefetch_patch(x + (c + 1) * plane, g->W, &t[h]);
            for (int h = 0; h < count; h++)
                group_channel(V, map, x + c * plane, &t[h], g->W, c);
        }
    }
}

/* A^T m for the six vectors s[0], s[st], ...: wino_output_1d with its products fused. */
static inline void output_1d(__m256 *o, int ost, const __m256 *s, int st)
{
    __m256 m0 = s[0], m1 = s[st], m2 = s[2 * st], m3 = s[3 * st], m4 = s[4 * st];
    __m256 m5 = s[5 * st];
    __m256 s12 = _mm256_add_ps(m1, m2), d12 = _mm256_sub_ps(m1, m2);
    __m256 s34 = _mm256_add_ps(m3, m4), d34 = _mm256_sub_ps(m3, m4);
    o[0] = _mm256_add_ps(_mm256_add_ps(m0, s12), s34);
    o[ost] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d34, d12);
    o[2 * ost] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s34, s12);
    o[3 * ost] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d34, d12), m5);
}

/* o[4][4] = A^T m A for the 36 points of 8 tiles, point e at src + e * plane (its first
 * `lanes` lanes): the columns as they are loaded, then the rows. */
static inline void output_2d(__m256 o[16], const float *src, size_t plane, int lanes)
{
    __m256 cols[SDC_WINO_TILE * SDC_WINO_PATCH];
    for (int j = 0; j < SDC_WINO_PATCH; j++) {
        __m256 m[SDC_WINO_PATCH];
        for (int i = 0; i < SDC_WINO_PATCH; i++) {
            const float *at = src + (size_t)(i * SDC_WINO_PATCH + j) * plane;
            m[i] = sdc_load8(at, lanes);
        }
        output_1d(cols + j, SDC_WINO_PATCH, m, 1);
    }
    for (int i = 0; i < SDC_WINO_TILE; i++)
        output_1d(o + i * SDC_WINO_TILE, 1, cols + i * SDC_WINO_PATCH, 1);
}

/* Floats ahead the output transform asks for M's points (4 lines). */
#ifndef M_AHEAD
#define M_AHEAD 64
#endif

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
            const float *src = M + (size_t)k * n + q;
            if ((q & 15) == 0) /* a line of each point ahead, as the inputs' rows */
                for (int e = 0; e < POINTS; e++)
                    _mm_prefetch((const char *)(src + e * plane + M_AHEAD), _MM_HINT_T0);
            __m256 o[SDC_WINO_TILE * SDC_WINO_TILE];
            output_2d(o, src, plane, lanes);
            store_tiles(yk, o, b, g, p0 + q, lanes);
        }
    }
}

#ifdef __clang__
#pragma clang attribute pop
#endif
