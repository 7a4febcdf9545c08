#include "ops/cpu.h"
#include "ops/gemm_driver.h"
#include "ops/gemm_q8.h"
#include "ops/nn.h"
#include "ops/profile.h"

/* --precision int8 on a q8_0, q4_0 or q5_0 weight: the int8 GEMM when this CPU has a
 * kernel for it. */
static int linear_int8(float *y, const float *x, int M, const sdc_weight *w, const float *bias)
{
    if (sdc_precision_get() != SDC_PRECISION_INT8 || !sdc_gemm_q8_reads(w->quant))
        return -1;
    const sdc_q8_kernel *k = sdc_q8_kernel_best();
    return k ? sdc_gemm_q8_run(k, M, w->rows, w->cols, 1.0f, x, (size_t)w->cols, w->data,
                               w->quant, y, (size_t)w->rows, 0, bias)
             : -1;
}

static void linear_run(float *y, const float *x, int M, const sdc_weight *w, const float *bias)
{
    if (linear_int8(y, x, M, w, bias) == 0)
        return;
    int N = w->rows, K = w->cols;
    /* y[i, j] = sum_k x[i, k] W[j, k]: x gives the A rows, W's rows are the B columns */
    sdc_operand a = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = x, .ld = (size_t)K};
    sdc_operand b = {.kind = SDC_OPERAND_ROWS, .dtype = w->dtype, .data = w->data,
                     .ld = (size_t)K, .quant = w->quant, .pack = w->pack};
    sdc_gemm_run(sdc_gemm_kernel_for_weight(w->quant), 1, M, N, K, 1.0f, &a, &b, y, (size_t)N, 0, 0,
                 NULL, bias);
}

void sdc_linear(float *y, const float *x, int M, const sdc_weight *w, const float *bias)
{
    sdc_prof_mark m = sdc_profile_begin();
    linear_run(y, x, M, w, bias);
    sdc_profile_end(SDC_PROF_LINEAR, m);
}
