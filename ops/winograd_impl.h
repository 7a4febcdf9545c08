/* The three transforms of ops/winograd.c, in a portable, an AVX-512 and an AVX2 version
 * (private to ops/). Tiles are numbered image by image, row by row; a chunk is tiles
 * p0 .. p0 + n - 1. Output channels k0 .. k0 + kb - 1 form a block.
 *   filters: U[e][k][c] = (G g_{k0+k,c} G^T)[e]             for the block's filters
 *   inputs:  V[e][c][q] = (B^T d_c B)[e] of tile p0 + q     (zeros outside the image)
 *   outputs: tile p0 + q of y[b][k0 + k] = A^T M[.][k][q] A + bias[k0 + k], clipped to the
 *            rows y holds; M's points `plane` floats apart (at least kb * n)
 * (see sdc_wino_tiling for the rows they cover) */
#ifndef SDC_OPS_WINOGRAD_IMPL_H
#define SDC_OPS_WINOGRAD_IMPL_H

#include <stddef.h>

#include "ops/gemm_driver.h"
#include "ops/weight.h"

enum { SDC_WINO_TILE = 4, SDC_WINO_PATCH = 6, SDC_WINO_POINTS = 36 };

/* The tiles cover output rows row0 .. row0 + rows - 1 of the convolution of an image
 * [B, C, H, W] (tile rows start at row0); x [B, C, x_rows, W] holds its rows x_row0 ..
 * x_row0 + x_rows - 1 (all that the tiles read inside the image) and y [B, K, rows, W] just
 * the output rows: a whole convolution is row0 = x_row0 = 0, rows = x_rows = H. */
typedef struct sdc_wino_tiling {
    int B, C, K, H, W;
    int th, tw; /* tiles per column / per row */
    int row0, rows, x_row0, x_rows;
} sdc_wino_tiling;

void sdc_wino_filters(float *U, const sdc_weight *w, int k0, int kb, int C);
void sdc_wino_inputs(float *V, const float *x, const sdc_wino_tiling *g, size_t p0, int n);
void sdc_wino_outputs(float *y, const float *M, size_t plane, const float *bias,
                      const sdc_wino_tiling *g, size_t p0, int n, int k0, int kb);

/* AVX-512 versions: only when sdc_cpu_level_get() is AVX512, and (they address the tensors
 * with 32-bit offsets) x and y hold fewer than 2^31 elements. They write U and V where `map`
 * says (point e's item at e * map->floats): U as an A operand [kb x C] (rows k), V as a B
 * operand [n x C] (columns q), either in the plain layouts above or straight into a GEMM
 * kernel's packed blocks (ops/gemm_driver.h), zeros included in the padding (rows up to
 * map->rows, columns up to map->rows). */
/* AVX2 transforms: only when sdc_cpu_level_get() is AVX2 or better, and (inputs) x holds
 * fewer than 2^31 elements; U and V where `map` says, as the AVX-512 ones write them. */
void sdc_wino_filters_avx2(float *U, const sdc_packed_map *map, const sdc_weight *w, int k0,
                           int kb, int C);
void sdc_wino_inputs_avx2(float *V, const sdc_packed_map *map, const float *x,
                          const sdc_wino_tiling *g, size_t p0, int n);
void sdc_wino_outputs_avx2(float *y, const float *M, size_t plane, const float *bias,
                           const sdc_wino_tiling *g, size_t p0, int n, int k0, int kb);
void sdc_wino_filters_avx512(float *U, const sdc_packed_map *map, const sdc_weight *w, int k0,
                             int kb, int C);
void sdc_wino_inputs_avx512(float *V, const sdc_packed_map *map, const float *x,
                            const sdc_wino_tiling *g, size_t p0, int n);
void sdc_wino_outputs_avx512(float *y, const float *M, size_t plane, const float *bias,
                             const sdc_wino_tiling *g, size_t p0, int n, int k0, int kb);

#endif
