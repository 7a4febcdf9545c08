/* 3x3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(4x4, 3x3)
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
 *
 * Each 4x4 output tile comes from a 6x6 input tile: with V = B^T d B per input channel and
 * U = G g G^T per filter, the tile is A^T (sum_c U_kc .* V_c) A. The channel sums are 36
 * independent GEMMs [K x C] x [C x tiles], one per position of the 6x6 transform domain,
 * which need 36 multiplications per 16 outputs instead of 144: 4x fewer than direct or
 * implicit-GEMM convolution, for the price of the transforms and of somewhat larger
 * rounding error (the transforms' constants reach 1/24 and 8). The products are fp32 even
 * when sdc_precision_get() is bf16: the transformed operands do not survive bf16 rounding.
 *
 * Filters are transformed on every call (keeping them transformed would take 4x the
 * weights' size in f32), a block of output channels at a time, and tiles are processed in
 * chunks, so scratch memory stays bounded (about 100 MiB) however large the layer. Quantised
 * filters (--conv-type) are expanded to f32 a block at a time first (at most 12 MiB more).
 * Private to ops/: model code calls sdc_conv2d, which picks the algorithm. */
#ifndef SDC_OPS_WINOGRAD_H
#define SDC_OPS_WINOGRAD_H

#include "ops/arena.h"
#include "ops/nn.h"
#include "ops/weight.h"

/* Which algorithm sdc_conv2d uses for 3x3 stride-1 padding-1 convolutions. AUTO: Winograd
 * where sdc_winograd_pays() says so, implicit GEMM elsewhere. Process-wide, not thread-safe:
 * set it before kernels run (tests and benchmarks compare the two). */
typedef enum sdc_conv_algo {
    SDC_CONV_AUTO,
    SDC_CONV_IMPLICIT_GEMM,
    SDC_CONV_WINOGRAD,
} sdc_conv_algo;

void sdc_conv_algo_set(sdc_conv_algo algo);
sdc_conv_algo sdc_conv_algo_get(void);
/* "auto", "implicit", "winograd"; sdc_conv_algo_from_name returns -1 for other names. */
const char *sdc_conv_algo_name(sdc_conv_algo algo);
int sdc_conv_algo_from_name(const char *name);

/* Whether the transform-domain products follow sdc_precision_get() (bf16 where the CPU has
 * it, vdpbf16ps with f32 sums) instead of staying fp32; off by default. Process-wide like
 * sdc_conv_algo_set. */
void sdc_winograd_bf16_set(int on);
int sdc_winograd_bf16_get(void);

/* Whether Winograd is the faster choice for a 3x3 convolution of B images [C, H, W] into
 * K channels (measured on this project's kernels: docs/PERFORMANCE.md). */
int sdc_winograd_pays(int B, int C, int K, int H, int W);

/* y[B, K, H, W] = conv3x3(x[B, C, H, W], w [K, C * 9], padding 1) + bias (may be NULL).
 * Scratch comes from `scratch` and is released before returning. Returns 0, or -1 when
 * scratch memory ran out (y is then unspecified). */
int sdc_conv3x3_winograd(float *y, const float *x, int B, int C, int H, int W,
                         const sdc_weight *w, const float *bias, sdc_arena *scratch);
/* A window of rows of the same convolution (sdc_conv_window, ops/nn.h), with 4x4 tiles
 * starting at win->row0. */
int sdc_conv3x3_winograd_rows(float *y, const float *x, int B, int C, int W,
                              const sdc_conv_window *win, const sdc_weight *w, const float *bias,
                              sdc_arena *scratch);
/* Output rows per band (a multiple of 4) for convolving by bands of rows: the tiles of one
 * band fill whole chunks (as nearly as whole tile rows allow), at least MIN_BAND_TILES. */
int sdc_winograd_band_rows(int B, int C, int K, int W);
/* The same, `chunk` (>= 1) tiles and `kb` (>= 1) output channels at a time (the plain call
 * sizes both to bounded scratch; tests use small ones to cross block edges). */
int sdc_conv3x3_winograd_blocked(float *y, const float *x, int B, int C, int H, int W,
                                 const sdc_weight *w, const float *bias, sdc_arena *scratch,
                                 int chunk, int kb);

#endif
