#include "ops/gemm.h"
#include "ops/nn.h"

void sdc_linear(float *y, const float *x, int M, const sdc_weight *w, const float *bias)
{
    int N = w->rows, K = w->cols;
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                y[(size_t)i * N + j] = bias[j];
    }
    sdc_sgemm(0, 1, M, N, K, 1.0f, x, K, w->data, K, bias ? 1.0f : 0.0f, y, N);
}
