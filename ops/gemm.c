#include "ops/gemm.h"

#include <stdlib.h>
#include <string.h>

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

/* Blocked generic path: packs a KC x NC panel of op(B) contiguously, then each row of op(A)
 * is streamed against it with an inner loop the compiler vectorises over N. */
enum { KC = 256, NC = 512 };

static void pack_b(float *dst, int trans_b, const float *B, int ldb, int k0, int kc, int n0,
                   int nc)
{
    for (int k = 0; k < kc; k++)
        for (int j = 0; j < nc; j++)
            dst[(size_t)k * nc + j] =
                trans_b ? B[(size_t)(n0 + j) * ldb + k0 + k] : B[(size_t)(k0 + k) * ldb + n0 + j];
}

void sdc_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    float *panel = aligned_alloc(64, sizeof(float) * KC * NC);
    if (!panel) { /* fall back rather than fail: correctness first */
        sdc_sgemm_ref(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    for (int n0 = 0; n0 < N; n0 += NC) {
        int nc = N - n0 < NC ? N - n0 : NC;
        for (int k0 = 0; k0 < K || k0 == 0; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            if (kc > 0)
                pack_b(panel, trans_b, B, ldb, k0, kc, n0, nc);
            float beta_eff = k0 == 0 ? beta : 1.0f;
#pragma omp parallel for schedule(static)
            for (int i = 0; i < M; i++) {
                float acc[NC];
                float *c = &C[(size_t)i * ldc + n0];
                for (int j = 0; j < nc; j++)
                    acc[j] = 0;
                for (int k = 0; k < kc; k++) {
                    float a = trans_a ? A[(size_t)(k0 + k) * lda + i] : A[(size_t)i * lda + k0 + k];
                    const float *p = &panel[(size_t)k * nc];
                    for (int j = 0; j < nc; j++)
                        acc[j] += a * p[j];
                }
                for (int j = 0; j < nc; j++)
                    c[j] = alpha * acc[j] + (beta_eff != 0 ? beta_eff * c[j] : 0);
            }
            if (K <= 0)
                break;
        }
    }
    free(panel);
}
