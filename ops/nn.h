/* The kernels model code is written against. Activations are f32; NCHW for feature maps,
 * [rows, features] row-major for token sequences. Every kernel is OpenMP-parallel inside
 * (one parallel region per call) and leaves the choice of SIMD path to ops/. */
#ifndef SDC_OPS_NN_H
#define SDC_OPS_NN_H

#include <stddef.h>

#include "ops/arena.h"
#include "ops/weight.h"

/* y[M, w->rows] = x[M, w->cols] * W^T (+ bias[w->rows]). */
void sdc_linear(float *y, const float *x, int M, const sdc_weight *w, const float *bias);

/* 2-D convolution, NCHW. w: [Cout, Cin * k * k]; bias may be NULL. Output size
 * Ho = (H + 2 pad - k) / stride + 1 (likewise Wo). The input is read in place (implicit
 * im2col); any scratch comes from `scratch` and is released before returning. Returns 0, or
 * -1 when scratch memory ran out. */
int sdc_conv2d(float *y, const float *x, int B, int Cin, int H, int W, const sdc_weight *w,
               const float *bias, int k, int stride, int pad, sdc_arena *scratch);
/* A window of rows of a 3x3 convolution (stride 1, padding 1) of an image [B, C, H, W], so
 * that a layer's input and output need not exist whole at once (convolution by bands):
 * output rows row0 .. row0 + rows - 1 from x [B, C, x_rows, W] holding the image rows
 * x_row0 .. x_row0 + x_rows - 1, which must include every image row in row0 - 1 .. row0 +
 * rows' + 1, rows' being rows rounded up to a multiple of 4. */
typedef struct sdc_conv_window {
    int H, x_row0, x_rows, row0, rows;
} sdc_conv_window;

/* Rows per band (a multiple of 4, or H) that suit sdc_conv3x3_rows for this convolution:
 * with Winograd, one band's tiles fill one chunk of its scratch. */
int sdc_conv3x3_band_rows(int B, int C, int K, int H, int W);
/* y [B, Cout, win->rows, W] = those rows of sdc_conv2d(image, k = 3, stride 1, pad 1),
 * bit-identical to them when row0 is a multiple of 4 (Winograd's tiles then coincide) and
 * the algorithm is chosen for the whole image. scratch must not be NULL. */
int sdc_conv3x3_rows(float *y, const float *x, int B, int C, int W, const sdc_conv_window *win,
                     const sdc_weight *w, const float *bias, sdc_arena *scratch);
/* 3x3 convolution, stride 1, padding 1, with what follows it in small decoders fused:
 *   y [B, Cout, Ho, Wo] = act(conv(up(x)) + bias + residual)
 * x [B, Cin, H, W]; up != 0: x is first resized by nearest 2x (Ho = 2H, Wo = 2W), else
 * (Ho, Wo) = (H, W); residual [B, Cout, Ho, Wo] or NULL; relu != 0: act = max(., 0). y may
 * be x (up == 0) or residual, the same buffer: a decoder's block then needs no third
 * activation buffer; it must not overlap them otherwise. At the AVX512 level (and no sdc_conv_algo forced) a direct
 * kernel computes it in one pass over y (ops/conv_direct.h; bf16 products under bf16
 * precision on a CPU with AVX512_BF16, else f32); otherwise upsample (into scratch),
 * sdc_conv2d and the additions run one after the other. Returns 0, or -1 when scratch
 * memory ran out. */
int sdc_conv3x3_fused(float *y, const float *x, int B, int Cin, int H, int W, int up,
                      const sdc_weight *w, const float *bias, const float *residual, int relu,
                      sdc_arena *scratch);
/* Floats of scratch the direct kernel of sdc_conv3x3_fused takes for these sizes (its padded
 * input copy and packed weights), so a caller can reserve them with its activations; the
 * separate passes may take more. */
size_t sdc_conv3x3_fused_scratch(int B, int Cin, int Cout, int H, int W, int up);
/* Whether sdc_conv3x3_fused takes the one-pass direct kernel for weight w now (so a fused
 * upsample needs no resized copy of x). */
int sdc_conv3x3_direct(const sdc_weight *w);
static inline int sdc_conv_out_size(int in, int k, int stride, int pad)
{
    return (in + 2 * pad - k) / stride + 1;
}

/* GroupNorm over x [B, C, HW] with `groups` groups, per-channel affine; silu != 0 applies
 * SiLU to the result (the ResNet "norm + act" pair). y may equal x. */
void sdc_group_norm(float *y, const float *x, int B, int C, int HW, int groups,
                    const float *gamma, const float *beta, float eps, int silu);

/* LayerNorm of each row of x [rows, dim]. y may equal x. */
void sdc_layer_norm(float *y, const float *x, int rows, int dim, const float *gamma,
                    const float *beta, float eps);

/* In-place activations. */
void sdc_silu(float *x, size_t n);
void sdc_gelu(float *x, size_t n);       /* exact: x * Phi(x) with erf */
void sdc_quick_gelu(float *x, size_t n); /* x * sigmoid(1.702 x) */
void sdc_relu(float *x, size_t n);       /* max(x, 0) */

/* In-place softmax of each row of x [rows, n]. */
void sdc_softmax_rows(float *x, int rows, int n);

/* Multi-head scaled dot-product attention, never holding more than a tile of scores.
 * q: [B, Tq, heads * d] with row stride q_stride floats; k, v: [B, Tk, heads * d] with row
 * stride kv_stride; out: [B, Tq, heads * d] contiguous (stride heads * d). Head h uses
 * columns [h d, (h+1) d). causal != 0 masks keys j > i. scale is usually 1/sqrt(d). */
void sdc_attention(float *out, const float *q, int q_stride, const float *k, const float *v,
                   int kv_stride, int B, int heads, int Tq, int Tk, int d, float scale,
                   int causal);

/* Nearest-neighbour resize of x [B, C, H, W] to [B, C, Ho, Wo] (PyTorch 'nearest'). */
void sdc_upsample_nearest(float *y, const float *x, int B, int C, int H, int W, int Ho, int Wo);

/* y = a + b (n elements); y may alias a or b. */
void sdc_add(float *y, const float *a, const float *b, size_t n);
/* y = max(a + b, 0) (a residual join followed by ReLU); y may alias a or b. */
void sdc_add_relu(float *y, const float *a, const float *b, size_t n);
/* y += bias[c] for x laid out [B, C, HW]. */
void sdc_add_channel_bias(float *y, const float *bias, int B, int C, int HW);
/* y [B, Ca + Cb, HW] = concat(a [B, Ca, HW], b [B, Cb, HW]) along channels. */
void sdc_concat_channels(float *y, const float *a, int Ca, const float *b, int Cb, int B, int HW);
/* [B, C, HW] <-> [B, HW, C]. */
void sdc_nchw_to_nhwc(float *y, const float *x, int B, int C, int HW);
void sdc_nhwc_to_nchw(float *y, const float *x, int B, int C, int HW);

#endif
