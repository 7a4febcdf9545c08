#include "ops/winograd.h"

#include <limits.h>
#include <string.h>

#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/gemm_driver.h"
#include "ops/parallel.h"
#include "ops/winograd_impl.h"

#define WINO_T float
#include "ops/winograd_math.h"

enum { TILE = SDC_WINO_TILE, PATCH = SDC_WINO_PATCH, POINTS = SDC_WINO_POINTS };

/* Scratch budgets: the transformed filters of one block of output channels, and the
 * transform-domain inputs and outputs of one chunk of tiles. */
#define FILTER_BYTES ((size_t)48 << 20)
#define CHUNK_BYTES ((size_t)48 << 20)
/* The filter block when few tiles (their transformed inputs within this size too) fit one
 * chunk: each block is then transformed once whatever its size, and one that stays in the
 * L3 cache (32 MiB on the Zen machines) until its GEMMs read it saves writing and reading
 * it through memory, while the inputs, which every block reads again, stay there too. Zen 3,
 * 2 threads, 1280 -> 1280 at 16x16: batch 2 74-79 -> 60-63 ms, batch 1 58-59 -> 34-45 ms.
 * With more tiles the inputs' extra reads cost more than the filters save (640 -> 640 at
 * 32x32, batch 2: 40-41 -> 45-46 ms), and with several chunks smaller blocks would be
 * transformed again for each. */
#define FEW_TILES_BYTES ((size_t)8 << 20)

static sdc_conv_algo conv_algo = SDC_CONV_AUTO;
static int bf16_products = 0;

void sdc_winograd_bf16_set(int on) { bf16_products = on != 0; }
int sdc_winograd_bf16_get(void) { return bf16_products; }

void sdc_conv_algo_set(sdc_conv_algo algo) { conv_algo = algo; }
sdc_conv_algo sdc_conv_algo_get(void) { return conv_algo; }

static const char *const algo_names[] = {"auto", "implicit", "winograd"};

const char *sdc_conv_algo_name(sdc_conv_algo algo)
{
    return (unsigned)algo < 3 ? algo_names[algo] : "?";
}

int sdc_conv_algo_from_name(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, algo_names[i]) == 0)
            return i;
    return -1;
}

int sdc_winograd_pays(int B, int C, int K, int H, int W)
{
    /* Each filter is transformed once per call and reused by every tile: with few tiles the
     * transform and the short GEMMs eat the saving (bench_sd --stages micro); with fewer
     * than 128 channels the 36 GEMMs are too short for the transforms' memory traffic
     * (TAESD's 64-channel decoder: 0.78 s against 0.70 s with implicit GEMM, idle). */
    size_t tiles = (size_t)B * ((H + TILE - 1) / TILE) * ((W + TILE - 1) / TILE);
    /* AVX2 (Zen 3, 2 threads, 1280 -> 1280, filter blocks as FEW_TILES_BYTES says): 16x16 at
     * batch 1 (16 tiles) 34-36 ms against 55-85 ms by implicit GEMM; 8x8 at batch 2 (8
     * tiles) 27-37 against 31-40, at batch 1 28 against 16 */
    size_t enough = sdc_cpu_level_get() == SDC_CPU_AVX2 ? 16 : 128;
    return tiles >= enough && C >= 128 && K >= 128;
}

/* ---- portable transforms (the reference for the AVX-512 ones) ---- */

void sdc_wino_filters(float *U, const sdc_weight *w, int k0, int kb, int C)
{
    size_t dsize = sdc_dtype_size(w->dtype), plane = (size_t)kb * C;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(plane * 9))
    for (int k = 0; k < kb; k++) {
        const unsigned char *row =
            (const unsigned char *)w->data + (size_t)(k0 + k) * C * 9 * dsize;
        for (int c = 0; c < C; c++) {
            float g[9], u[POINTS];
            sdc_convert_to_f32(g, row + (size_t)c * 9 * dsize, w->dtype, 9);
            wino_filter_2d(u, g);
            for (int e = 0; e < POINTS; e++)
                U[e * plane + (size_t)k * C + c] = u[e];
        }
    }
}

/* The 6x6 input patch of tile (ty, tx) of image plane x [H, W], zeros outside. */
static void gather_patch(float *d, const float *x, const sdc_wino_tiling *g, int ty, int tx)
{
    int y0 = g->row0 - g->x_row0 + ty * TILE - 1, x0 = tx * TILE - 1;
    for (int i = 0; i < PATCH; i++)
        for (int j = 0; j < PATCH; j++) {
            int yy = y0 + i, xx = x0 + j;
            d[i * PATCH + j] =
                yy >= 0 && yy < g->x_rows && xx >= 0 && xx < g->W ? x[(size_t)yy * g->W + xx] : 0.0f;
        }
}

void sdc_wino_inputs(float *V, const float *x, const sdc_wino_tiling *g, size_t p0, int n)
{
    size_t plane = (size_t)g->C * n, per_image = (size_t)g->th * g->tw;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(plane * POINTS))
    for (int c = 0; c < g->C; c++)
        for (int q = 0; q < n; q++) {
            size_t p = p0 + q, b = p / per_image, t = p % per_image;
            float d[POINTS], v[POINTS];
            gather_patch(d, x + (b * g->C + c) * (size_t)g->x_rows * g->W, g, (int)(t / g->tw),
                         (int)(t % g->tw));
            wino_input_2d(v, d);
            for (int e = 0; e < POINTS; e++)
                V[e * plane + (size_t)c * n + q] = v[e];
        }
}

void sdc_wino_outputs(float *y, const float *M, size_t plane, const float *bias,
                      const sdc_wino_tiling *g, size_t p0, int n, int k0, int kb)
{
    size_t per_image = (size_t)g->th * g->tw;
    size_t hw = (size_t)g->rows * g->W;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)kb * n * POINTS))
    for (int k = 0; k < kb; k++) {
        float b = bias ? bias[k0 + k] : 0.0f;
        for (int q = 0; q < n; q++) {
            size_t p = p0 + q, img = p / per_image, t = p % per_image;
            int oy = (int)(t / g->tw) * TILE, ox = (int)(t % g->tw) * TILE;
            float m[POINTS], o[TILE * TILE];
            for (int e = 0; e < POINTS; e++)
                m[e] = M[e * plane + (size_t)k * n + q];
            wino_output_2d(o, m);
            float *dst = y + (img * g->K + k0 + k) * hw;
            for (int i = 0; i < TILE && oy + i < g->rows; i++)
                for (int j = 0; j < TILE && ox + j < g->W; j++)
                    dst[(size_t)(oy + i) * g->W + ox + j] = o[i * TILE + j] + b;
        }
    }
}

static int round_down(size_t n, int to, int at_least, int at_most)
{
    n = n / to * to;
    return n < (size_t)at_least ? at_least : n > (size_t)at_most ? at_most : (int)n;
}

/* Chunk and block sizes for bounded scratch (FILTER_BYTES, CHUNK_BYTES). */
static void block_sizes(int C, int K, size_t tiles, int *chunk, int *kb)
{
    *kb = round_down(FILTER_BYTES / (sizeof(float) * POINTS * C), 16, 16, K);
    size_t per_tile = sizeof(float) * POINTS * ((size_t)C + *kb);
    *chunk = round_down(CHUNK_BYTES / per_tile, 64, 64, tiles < INT_MAX ? (int)tiles : INT_MAX);
    /* (a smaller block only shrinks what a tile needs: the chunk stays whole) */
    if ((size_t)*chunk >= tiles && sizeof(float) * POINTS * C * tiles <= FEW_TILES_BYTES)
        *kb = round_down(FEW_TILES_BYTES / (sizeof(float) * POINTS * C), 16, 16, K);
}

static int run_tiles(float *y, const float *x, const sdc_wino_tiling *g, const sdc_weight *w,
                     const float *bias, sdc_arena *scratch, int chunk, int kb);

/* Tiles a band should have at least: each call transforms all the filters and runs its
 * GEMMs once per chunk, which short bands pay too often (512-channel layers, whose chunks
 * are 320 tiles: a decode 5% slower warm with one chunk per band than with three). */
#define MIN_BAND_TILES 768

int sdc_winograd_band_rows(int B, int C, int K, int W)
{
    int chunk, kb, per_row = B * ((W + TILE - 1) / TILE);
    block_sizes(C, K, (size_t)INT_MAX, &chunk, &kb);
    int tile_rows = chunk / per_row > 1 ? chunk / per_row : 1; /* per chunk */
    int chunks = (MIN_BAND_TILES + tile_rows * per_row - 1) / (tile_rows * per_row);
    return chunks * tile_rows * TILE;
}

int sdc_conv3x3_winograd(float *y, const float *x, int B, int C, int H, int W,
                         const sdc_weight *w, const float *bias, sdc_arena *scratch)
{
    sdc_conv_window win = {H, 0, H, 0, H};
    return sdc_conv3x3_winograd_rows(y, x, B, C, W, &win, w, bias, scratch);
}

int sdc_conv3x3_winograd_rows(float *y, const float *x, int B, int C, int W,
                              const sdc_conv_window *win, const sdc_weight *w, const float *bias,
                              sdc_arena *scratch)
{
    sdc_wino_tiling g = {B, C, w->rows, win->H, W, (win->rows + TILE - 1) / TILE,
                         (W + TILE - 1) / TILE, win->row0, win->rows, win->x_row0, win->x_rows};
    int chunk, kb;
    block_sizes(C, w->rows, (size_t)B * g.th * g.tw, &chunk, &kb);
    return run_tiles(y, x, &g, w, bias, scratch, chunk, kb);
}

int sdc_conv3x3_winograd_blocked(float *y, const float *x, int B, int C, int H, int W,
                                 const sdc_weight *w, const float *bias, sdc_arena *scratch,
                                 int chunk, int kb)
{
    sdc_wino_tiling g = {B, C, w->rows, H, W, (H + TILE - 1) / TILE, (W + TILE - 1) / TILE,
                         0, H, 0, H};
    return run_tiles(y, x, &g, w, bias, scratch, chunk, kb);
}

typedef void (*filter_fn)(float *U, const sdc_packed_map *map, const sdc_weight *w, int k0,
                          int kb, int C);

static void filters_portable(float *U, const sdc_packed_map *map, const sdc_weight *w, int k0,
                             int kb, int C)
{
    (void)map; /* always the plain layout */
    sdc_wino_filters(U, w, k0, kb, C);
}

/* The portable transforms' layouts, U [kb][C] and V [C][n] per point, as maps. */
static sdc_packed_map plain_u(int kb, int C)
{
    return (sdc_packed_map){(size_t)kb * C, (size_t)kb * C, C, C, 0, C, kb};
}

static sdc_packed_map plain_v(int C, int n)
{
    return (sdc_packed_map){(size_t)C * n, (size_t)C * n, C, C, 1, n, n};
}

/* U = the transforms of filters k0 .. k0 + kb - 1 of w, where map says; a quantised w goes
 * through G [kb, C * 9] as f32 rows (the blocks expanded exactly as the GEMM packing expands
 * them). */
static void transform_filters(filter_fn filters, float *U, const sdc_packed_map *map, float *G,
                              const sdc_weight *w, int k0, int kb, int C)
{
    if (!w->quant) {
        filters(U, map, w, k0, kb, C);
        return;
    }
    size_t cols = (size_t)C * 9;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)kb * cols))
    for (int k = 0; k < kb; k++)
        sdc_weight_row_f32(w, k0 + k, G + (size_t)k * cols);
    sdc_weight plain = {.rows = kb, .cols = (int)cols, .dtype = SDC_DTYPE_F32, .data = G};
    filters(U, map, &plain, 0, kb, C);
}

/* The map with its points (map.floats apart) moved to an odd number of cache lines apart,
 * when `spread` (the vector transforms honour it; the GEMM reads the points batch_stride
 * apart). Each transform works on all 36 points of a tile at once: at a power of two apart
 * (a chunk of 1024 tiles of 128 channels: 512 KiB), their 36 lines share one L1 set, and on
 * a Zen 3 the input transform's stores alone took a tenth of a VAE decode. */
static sdc_packed_map spread_points(sdc_packed_map map, int spread)
{
    size_t lines = (map.floats + 15) / 16;
    if (spread)
        map.floats = (lines | 1) * 16;
    return map;
}

static int run_tiles(float *y, const float *x, const sdc_wino_tiling *g, const sdc_weight *w,
                     const float *bias, sdc_arena *scratch, int chunk, int kb)
{
    int B = g->B, C = g->C, K = g->K, H = g->H, W = g->W;
    size_t tiles = (size_t)B * g->th * g->tw;
    chunk = (size_t)chunk < tiles ? chunk : (int)tiles;
    kb = kb < K ? kb : K;
    sdc_cpu_level level = sdc_cpu_level_get();
    int small = (size_t)B * (C > K ? C : K) * H * W < ((size_t)1 << 31);
    int vector = level == SDC_CPU_AVX512 && small;   /* all three transforms */
    int vector_in = level >= SDC_CPU_AVX2 && small;  /* the AVX2 ones */
    /* fp32 products unless asked: rounding the transformed operands to bf16 costs far more
     * than rounding weights and activations does (docs/PERFORMANCE.md: 27.7 dB instead of
     * 40.9 dB on a whole picture). sdc_gemm_kernel_for_weights is fp32 at fp32 precision. */
    const sdc_gemm_kernel *kern = bf16_products ? sdc_gemm_kernel_for_weights()
                                                : sdc_gemm_kernel_best(SDC_A_ROWS);
    /* The AVX-512 and AVX2 transforms write U and V straight into an f32 kernel's packed
     * blocks, which the driver then reads in place instead of copying them again. */
    int packed = vector_in && kern->k_pack == 1 && kern->a_layout == SDC_A_ROWS;
    filter_fn filters = vector                     ? sdc_wino_filters_avx512
                        : level >= SDC_CPU_AVX2 ? sdc_wino_filters_avx2
                                                 : filters_portable;
    int spread_u = filters != filters_portable, spread_v = vector_in;
    size_t u_floats =
        spread_points(packed ? sdc_packed_a_map(kern, kb, C) : plain_u(kb, C), spread_u).floats;
    size_t v_floats =
        spread_points(packed ? sdc_packed_b_map(kern, chunk, C) : plain_v(C, chunk), spread_v)
            .floats;
    /* M [36][kb][chunk] as the GEMM writes it, points m_point apart */
    size_t m_point = spread_points(plain_u(kb, chunk), vector_in).floats;
    size_t mark = sdc_arena_mark(scratch);
    float *U = sdc_arena_floats(scratch, POINTS * u_floats);
    float *V = sdc_arena_floats(scratch, POINTS * v_floats);
    float *M = sdc_arena_floats(scratch, POINTS * m_point);
    if (!U || !V || !M) {
        sdc_arena_release(scratch, mark);
        return -1;
    }
    /* Quantised filters are expanded a block at a time into f32 (below a quarter of U's
     * size), which the transforms read as they read a plain weight. */
    float *G = w->quant ? sdc_arena_floats(scratch, (size_t)kb * C * 9) : NULL;
    if (w->quant && !G) {
        sdc_arena_release(scratch, mark);
        return -1;
    }
    /* With one block of filters they are transformed once; with several, once per chunk. */
    sdc_packed_map umap =
        spread_points(packed ? sdc_packed_a_map(kern, K, C) : plain_u(K, C), spread_u);
    if (kb == K)
        transform_filters(filters, U, &umap, G, w, 0, K, C);
    for (size_t p0 = 0; p0 < tiles; p0 += (size_t)chunk) {
        int n = (int)(tiles - p0 < (size_t)chunk ? tiles - p0 : (size_t)chunk);
        sdc_packed_map vmap =
            spread_points(packed ? sdc_packed_b_map(kern, n, C) : plain_v(C, n), spread_v);
        if (vector)
            sdc_wino_inputs_avx512(V, &vmap, x, g, p0, n);
        else if (vector_in)
            sdc_wino_inputs_avx2(V, &vmap, x, g, p0, n);
        else
            sdc_wino_inputs(V, x, g, p0, n);
        for (int k0 = 0; k0 < K; k0 += kb) {
            int nk = K - k0 < kb ? K - k0 : kb;
            umap = spread_points(packed ? sdc_packed_a_map(kern, nk, C) : plain_u(nk, C),
                                 spread_u);
            if (kb < K)
                transform_filters(filters, U, &umap, G, w, k0, nk, C);
            /* For each of the 36 points: M_e[nk, n] = U_e[nk, C] * V_e[C, n]. */
            sdc_operand a = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = U,
                             .ld = (size_t)C, .batch_stride = umap.floats};
            sdc_operand b = {.kind = SDC_OPERAND_COLS, .dtype = SDC_DTYPE_F32, .data = V,
                             .ld = (size_t)n, .batch_stride = vmap.floats};
            if (packed)
                a.kind = b.kind = SDC_OPERAND_PACKED;
            size_t m_at = spread_points(plain_u(nk, n), vector_in).floats;
            sdc_gemm_run(kern, POINTS, nk, n, C, 1.0f, &a, &b, M, (size_t)n, m_at, 0, NULL,
                         NULL);
            (vector      ? sdc_wino_outputs_avx512
             : vector_in ? sdc_wino_outputs_avx2
                         : sdc_wino_outputs)(y, M, m_at, bias, g, p0, n, k0, nk);
        }
    }
    sdc_arena_release(scratch, mark);
    return 0;
}
