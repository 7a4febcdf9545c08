#include "ops/gemm.h"

#include <stddef.h>

#include "ops/gemm_driver.h"

void sdc_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * acc + (beta != 0 ? beta * *c : 0));
        }
    }
}

/* op(A) row i, column k is operand element (i, k); op(B) row k, column j is (j, k). */
void sdc_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (beta != 0.0f && beta != 1.0f)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] *= beta;
    sdc_operand a = {.kind = trans_a ? SDC_OPERAND_COLS : SDC_OPERAND_ROWS,
                     .dtype = SDC_DTYPE_F32, .data = A, .ld = (size_t)lda};
    sdc_operand b = {.kind = trans_b ? SDC_OPERAND_ROWS : SDC_OPERAND_COLS,
                     .dtype = SDC_DTYPE_F32, .data = B, .ld = (size_t)ldb};
    const sdc_gemm_kernel *kern = sdc_gemm_kernel_best(sdc_gemm_a_layout_for(&a));
    sdc_gemm_run(kern, 1, M, N, K, alpha, &a, &b, C, (size_t)ldc, 0, beta != 0.0f, NULL, NULL);
}
