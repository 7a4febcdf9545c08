#include "ops/gemm_driver.h"
#include "ops/nn.h"

int sdc_conv2d(float *y, const float *x, int B, int Cin, int H, int W, const sdc_weight *w,
               const float *bias, int k, int stride, int pad, sdc_arena *scratch)
{
    (void)scratch; /* the implicit im2col packs straight from x: no scratch needed */
    int Cout = w->rows, K = Cin * k * k;
    int Ho = sdc_conv_out_size(H, k, stride, pad), Wo = sdc_conv_out_size(W, k, stride, pad);
    size_t P = (size_t)Ho * Wo;
    /* y_b[Cout, P] = W[Cout, K] * im2col(x_b)[K, P] + bias: the weight gives the A rows, output
     * pixels are the B columns, so y comes out in NCHW. A 1x1 conv reads x as it is. */
    sdc_operand a = {.kind = SDC_OPERAND_ROWS, .dtype = w->dtype, .data = w->data,
                     .ld = (size_t)K};
    sdc_operand b = {.kind = SDC_OPERAND_IM2COL, .dtype = SDC_DTYPE_F32, .data = x,
                     .batch_stride = (size_t)Cin * H * W, .C = Cin, .H = H, .W = W, .k = k,
                     .stride = stride, .pad = pad, .Wo = Wo};
    if (k == 1 && stride == 1 && pad == 0) {
        b.kind = SDC_OPERAND_COLS; /* (p, c) at x_b[c * HW + p] */
        b.ld = P;
    }
    sdc_gemm_run(sdc_gemm_kernel_for_weights(), B, Cout, (int)P, K, 1.0f, &a, &b, y, P,
                 (size_t)Cout * P, 0, bias, NULL);
    return 0;
}
