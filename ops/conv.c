#include <string.h>

#include "ops/gemm_driver.h"
#include "ops/nn.h"
#include "ops/profile.h"
#include "ops/winograd.h"

/* Whether this convolution goes through Winograd F(4x4, 3x3) (ops/winograd.h). */
static int use_winograd(int B, int Cin, int Cout, int H, int W, int k, int stride, int pad)
{
    if (k != 3 || stride != 1 || pad != 1)
        return 0;
    switch (sdc_conv_algo_get()) {
    case SDC_CONV_WINOGRAD:
        return 1;
    case SDC_CONV_IMPLICIT_GEMM:
        return 0;
    default:
        return sdc_winograd_pays(B, Cin, Cout, H, W);
    }
}

static void implicit_gemm(float *y, const float *x, int B, int Cin, int H, int W,
                          const sdc_weight *w, const float *bias, int k, int stride, int pad)
{
    /* The implicit im2col packs straight from x: no scratch needed. */
    int Cout = w->rows, K = Cin * k * k;
    int Ho = sdc_conv_out_size(H, k, stride, pad), Wo = sdc_conv_out_size(W, k, stride, pad);
    size_t P = (size_t)Ho * Wo;
    /* y_b[Cout, P] = W[Cout, K] * im2col(x_b)[K, P] + bias: the weight gives the A rows, output
     * pixels are the B columns, so y comes out in NCHW. A 1x1 conv reads x as it is. */
    sdc_operand a = {.kind = SDC_OPERAND_ROWS, .dtype = w->dtype, .data = w->data,
                     .ld = (size_t)K, .quant = w->quant, .pack = w->pack};
    sdc_operand b = {.kind = SDC_OPERAND_IM2COL, .dtype = SDC_DTYPE_F32, .data = x,
                     .batch_stride = (size_t)Cin * H * W, .C = Cin, .H = H, .W = W, .k = k,
                     .stride = stride, .pad = pad, .Wo = Wo};
    if (k == 1 && stride == 1 && pad == 0) {
        b.kind = SDC_OPERAND_COLS; /* (p, c) at x_b[c * HW + p] */
        b.ld = P;
    }
    sdc_gemm_run(sdc_gemm_kernel_for_weight(w->quant), B, Cout, (int)P, K, 1.0f, &a, &b, y, P,
                 (size_t)Cout * P, 0, bias, NULL);
}

int sdc_conv2d(float *y, const float *x, int B, int Cin, int H, int W, const sdc_weight *w,
               const float *bias, int k, int stride, int pad, sdc_arena *scratch)
{
    sdc_prof_mark m = sdc_profile_begin();
    int rc = 0;
    if (use_winograd(B, Cin, w->rows, H, W, k, stride, pad)) {
        rc = sdc_conv3x3_winograd(y, x, B, Cin, H, W, w, bias, scratch);
        sdc_profile_end(SDC_PROF_WINOGRAD, m);
        return rc;
    }
    implicit_gemm(y, x, B, Cin, H, W, w, bias, k, stride, pad);
    sdc_profile_end(k == 1 ? SDC_PROF_CONV1X1 : SDC_PROF_CONV, m);
    return rc;
}

/* Rows by implicit GEMM: the band of x the rows need (with their halo) is copied out and
 * convolved whole; the band's first and last output rows, which saw zeros where the image
 * has a halo row, are dropped. Each output pixel is the same sum as in the whole
 * convolution. */
static int implicit_rows(float *y, const float *x, int B, int C, int W,
                         const sdc_conv_window *win, const sdc_weight *w, const float *bias,
                         sdc_arena *scratch)
{
    int row0 = win->row0, rows = win->rows;
    int lo = row0 > 0 ? row0 - 1 : 0, hi = row0 + rows < win->H ? row0 + rows + 1 : win->H;
    int n = hi - lo, K = w->rows;
    size_t mark = sdc_arena_mark(scratch), row = (size_t)W, xr = (size_t)win->x_rows;
    float *band = sdc_arena_floats(scratch, (size_t)B * C * n * row);
    float *out = sdc_arena_floats(scratch, (size_t)B * K * n * row);
    if (!band || !out) {
        sdc_arena_release(scratch, mark);
        return -1;
    }
    for (size_t p = 0; p < (size_t)B * C; p++) // band [B, C, n, W]
        memcpy(band + p * n * row, x + (p * xr + lo - win->x_row0) * row,
               n * row * sizeof *band);
    implicit_gemm(out, band, B, C, n, W, w, bias, 3, 1, 1); // [B, K, n, W]
    for (size_t p = 0; p < (size_t)B * K; p++)
        memcpy(y + p * rows * row, out + (p * n + row0 - lo) * row,
               (size_t)rows * row * sizeof *y);
    sdc_arena_release(scratch, mark);
    return 0;
}

/* Implicit GEMM's bands: about this many floats of input or output each. */
#define IMPLICIT_BAND_FLOATS ((size_t)2 << 20)

int sdc_conv3x3_band_rows(int B, int C, int K, int H, int W)
{
    int rows;
    if (use_winograd(B, C, K, H, W, 3, 1, 1)) {
        rows = sdc_winograd_band_rows(B, C, K, W);
    } else {
        size_t r = IMPLICIT_BAND_FLOATS / ((size_t)B * (C > K ? C : K) * W) / 4 * 4;
        rows = r < 4 ? 4 : r < (size_t)H ? (int)r : H;
    }
    return rows < H ? rows : H;
}

int sdc_conv3x3_rows(float *y, const float *x, int B, int C, int W, const sdc_conv_window *win,
                     const sdc_weight *w, const float *bias, sdc_arena *scratch)
{
    sdc_prof_mark m = sdc_profile_begin();
    int rc;
    if (use_winograd(B, C, w->rows, win->H, W, 3, 1, 1)) {
        rc = sdc_conv3x3_winograd_rows(y, x, B, C, W, win, w, bias, scratch);
        sdc_profile_end(SDC_PROF_WINOGRAD, m);
        return rc;
    }
    rc = implicit_rows(y, x, B, C, W, win, w, bias, scratch);
    sdc_profile_end(SDC_PROF_CONV, m);
    return rc;
}
