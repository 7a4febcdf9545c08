/* Single-precision matrix multiply, row-major:
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
 * op(A) = A (lda >= K) or A^T (A stored [K,M], lda >= M); likewise B.
 * sdc_sgemm picks the fastest kernel the CPU supports and always computes in f32 (the bf16
 * precision of ops/cpu.h is for weights only); sdc_sgemm_ref is the plain reference loop.
 * Both are OpenMP-parallel inside. */
#ifndef SDC_OPS_GEMM_H
#define SDC_OPS_GEMM_H

void sdc_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);

void sdc_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
