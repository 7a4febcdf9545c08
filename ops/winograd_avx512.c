/* AVX-512 Winograd transforms (see ops/winograd_impl.h): 16 tiles (or 16 filters) per
 * vector, one lane each, with the same arithmetic as the portable path in the same order.
 * Patches are gathered and output tiles scattered with per-lane masks for the image edges. */
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")

#include <immintrin.h>

#include "ops/dtype.h"
#include "ops/parallel.h"
#include "ops/simd_avx512.h"
#include "ops/winograd_impl.h"

#define WINO_T __m512
#include "ops/winograd_math.h"

enum { TILE = SDC_WINO_TILE, PATCH = SDC_WINO_PATCH, POINTS = SDC_WINO_POINTS, LANES = 16 };

void sdc_wino_filters_avx512(float *U, const sdc_weight *w, int k0, int kb, int C)
{
    size_t dsize = sdc_dtype_size(w->dtype), plane = (size_t)kb * C;
    const __m512i nine = _mm512_mullo_epi32(_mm512_set1_epi32(9),
                                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                              10, 11, 12, 13, 14, 15));
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(plane * 9))
    for (int k = 0; k < kb; k++) {
        const unsigned char *row =
            (const unsigned char *)w->data + (size_t)(k0 + k) * C * 9 * dsize;
        for (int c = 0; c < C; c += LANES) {
            int lanes = C - c < LANES ? C - c : LANES;
            __mmask16 m = sdc_lanes16(lanes);
            float taps[LANES * 9];
            __m512 g[9], u[POINTS];
            sdc_convert_to_f32(taps, row + (size_t)c * 9 * dsize, w->dtype, (size_t)lanes * 9);
            for (int t = 0; t < 9; t++) /* lane l: filter c + l, tap t */
                g[t] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m,
                                                _mm512_add_epi32(nine, _mm512_set1_epi32(t)),
                                                taps, 4);
            wino_filter_2d(u, g);
            for (int e = 0; e < POINTS; e++)
                _mm512_mask_storeu_ps(U + e * plane + (size_t)k * C + c, m, u[e]);
        }
    }
}

/* Per-lane geometry of tiles p .. p + lanes - 1: the element offset of the tile's first
 * pixel (top-left of its 4x4 output) in its image plane of channel 0 of a [B, ch, H, W]
 * tensor, and that pixel's row and column. */
typedef struct lane_tiles {
    __m512i offset, row, col;
    __mmask16 live;
} lane_tiles;

static lane_tiles tiles_at(const sdc_wino_tiling *g, size_t p, int lanes, int ch)
{
    size_t per_image = (size_t)g->th * g->tw;
    int off[LANES] = {0}, row[LANES] = {0}, col[LANES] = {0};
    for (int l = 0; l < lanes; l++) {
        size_t b = (p + l) / per_image, t = (p + l) % per_image;
        row[l] = (int)(t / g->tw) * TILE;
        col[l] = (int)(t % g->tw) * TILE;
        off[l] = (int)(b * ch * (size_t)g->H * g->W) + row[l] * g->W + col[l];
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

void sdc_wino_inputs_avx512(float *V, const float *x, const sdc_wino_tiling *g, size_t p0,
                            int n)
{
    size_t plane = (size_t)g->C * n, hw = (size_t)g->H * g->W;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(plane * POINTS))
    for (int c = 0; c < g->C; c++)
        for (int q = 0; q < n; q += LANES) {
            lane_tiles t = tiles_at(g, p0 + q, n - q < LANES ? n - q : LANES, g->C);
            const float *xc = x + c * hw;
            __m512 d[POINTS], v[POINTS];
            for (int i = 0; i < PATCH; i++) {
                __mmask16 rows = inside(t.live, t.row, i - 1, g->H);
                for (int j = 0; j < PATCH; j++) {
                    __mmask16 m = inside(rows, t.col, j - 1, g->W);
                    __m512i at = _mm512_add_epi32(t.offset, _mm512_set1_epi32((i - 1) * g->W +
                                                                              j - 1));
                    d[i * PATCH + j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, at, xc, 4);
                }
            }
            wino_input_2d(v, d);
            for (int e = 0; e < POINTS; e++)
                _mm512_mask_storeu_ps(V + e * plane + (size_t)c * n + q, t.live, v[e]);
        }
}

void sdc_wino_outputs_avx512(float *y, const float *M, const float *bias,
                             const sdc_wino_tiling *g, size_t p0, int n, int k0, int kb)
{
    size_t plane = (size_t)kb * n, hw = (size_t)g->H * g->W;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(plane * POINTS))
    for (int k = 0; k < kb; k++) {
        __m512 b = _mm512_set1_ps(bias ? bias[k0 + k] : 0.0f);
        float *yk = y + (k0 + k) * hw;
        for (int q = 0; q < n; q += LANES) {
            lane_tiles t = tiles_at(g, p0 + q, n - q < LANES ? n - q : LANES, g->K);
            __m512 m[POINTS], o[TILE * TILE];
            for (int e = 0; e < POINTS; e++)
                m[e] = _mm512_maskz_loadu_ps(t.live, M + e * plane + (size_t)k * n + q);
            wino_output_2d(o, m);
            for (int i = 0; i < TILE; i++) {
                __mmask16 rows = inside(t.live, t.row, i, g->H);
                for (int j = 0; j < TILE; j++) {
                    __mmask16 mk = inside(rows, t.col, j, g->W);
                    __m512i at = _mm512_add_epi32(t.offset, _mm512_set1_epi32(i * g->W + j));
                    _mm512_mask_i32scatter_ps(yk, mk, at, o[i * TILE + j] + b, 4);
                }
            }
        }
    }
}
