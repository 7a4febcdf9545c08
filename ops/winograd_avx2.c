/* AVX2 Winograd filter transform (see ops/winograd_impl.h): 8 filters per vector, one lane
 * each, with the same arithmetic as the portable path in the same order. The portable one
 * converted 9 taps through a call and stored each of its 36 points on its own cache line;
 * here 8 filters' first 8 taps load as rows and transpose in registers, and each point's 8
 * values are stored together. */
#pragma GCC target("avx2,fma,f16c")

#include <immintrin.h>

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
            v[l] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)f));
            last[l] = _cvtsh_ss(*(const unsigned short *)(const void *)(f + 8 * es));
        } else if (dtype == SDC_DTYPE_F32) {
            v[l] = _mm256_loadu_ps((const float *)(const void *)f);
            last[l] = ((const float *)(const void *)f)[8];
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

/* Element offsets (from channel 0's plane of each tile's image) and lane masks of the 36
 * patch pixels of tiles p .. p + lanes - 1 (zero masks outside the image and past the
 * tiles): the same for every channel, so worked out once per group. */
static void patch_lanes(const sdc_wino_tiling *g, size_t p, int lanes, __m256i at[POINTS],
                        __m256 live[POINTS])
{
    size_t per_image = (size_t)g->th * g->tw;
    int off[LANES] = {0}, row[LANES] = {0}, col[LANES] = {0};
    for (int l = 0; l < lanes; l++) {
        size_t b = (p + l) / per_image, t = (p + l) % per_image;
        row[l] = g->row0 - g->x_row0 + (int)(t / g->tw) * SDC_WINO_TILE - 1;
        col[l] = (int)(t % g->tw) * SDC_WINO_TILE - 1;
        off[l] = (int)(b * g->C * (size_t)g->x_rows * g->W) + row[l] * g->W + col[l];
    }
    for (int i = 0; i < SDC_WINO_PATCH; i++)
        for (int j = 0; j < SDC_WINO_PATCH; j++) {
            int e = i * SDC_WINO_PATCH + j, o[LANES], m[LANES];
            for (int l = 0; l < LANES; l++) {
                int y = row[l] + i, x = col[l] + j;
                m[l] = l < lanes && y >= 0 && y < g->x_rows && x >= 0 && x < g->W ? -1 : 0;
                o[l] = off[l] + i * g->W + j;
            }
            at[e] = _mm256_loadu_si256((const __m256i *)(const void *)o);
            live[e] = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(const void *)m));
        }
}

void sdc_wino_inputs_avx2(float *V, const sdc_packed_map *map, const float *x,
                          const sdc_wino_tiling *g, size_t p0, int n)
{
    int groups = (map->rows + LANES - 1) / LANES;
    size_t plane = (size_t)g->x_rows * g->W;
    /* tile groups outer, so that the gather offsets serve every channel; in a packed panel
     * the channels of one group are consecutive rows */
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)g->C * n * POINTS))
    for (int grp = 0; grp < groups; grp++) {
        int q = grp * LANES, keep = map->rows - q < LANES ? map->rows - q : LANES;
        int lanes = n - q < 0 ? 0 : n - q < LANES ? n - q : LANES;
        __m256i at[POINTS];
        __m256 live[POINTS];
        patch_lanes(g, p0 + q, lanes, at, live);
        for (int c = 0; c < g->C; c++) {
            const float *xc = x + c * plane;
            __m256 d[POINTS], v[POINTS];
            for (int e = 0; e < POINTS; e++)
                d[e] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xc, at[e], live[e], 4);
            wino_input_2d(v, d);
            float *dst = V + sdc_packed_at(map, q, c);
            for (int e = 0; e < POINTS; e++)
                sdc_store8(dst + e * map->floats, v[e], keep);
        }
    }
}
