#include "ops/gemm_driver.h"
#include "ops/nn.h"

void sdc_linear(float *y, const float *x, int M, const sdc_weight *w, const float *bias)
{
    int N = w->rows, K = w->cols;
    /* y[i, j] = sum_k x[i, k] W[j, k]: x gives the A rows, W's rows are the B columns */
    sdc_operand a = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = x, .ld = (size_t)K};
    sdc_operand b = {.kind = SDC_OPERAND_ROWS, .dtype = w->dtype, .data = w->data,
                     .ld = (size_t)K, .quant = w->quant};
    sdc_gemm_run(sdc_gemm_kernel_for_weight(w->quant), 1, M, N, K, 1.0f, &a, &b, y, (size_t)N, 0, 0,
                 NULL, bias);
}
