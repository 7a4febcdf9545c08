/* Portable micro-kernels: plain C the compiler vectorises for the baseline ISA. They are the
 * scalar path of the dispatch and what the fast kernels are tested against. */
#include "ops/gemm_driver.h"

enum { MR = 4, NR = 16, KC = 256, MC = 64, NC = 1024, A_STRIDE = KC + 16 };

/* A(i, k) at a[i * ais + k * aks]. */
static inline void micro_generic(int ais, int aks, int kc, const float *a, const float *b,
                                 float *c, size_t ldc, int m, int n, const sdc_epilogue *ep)
{
    float t[MR][NR] = {{0}};
    for (int k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++) {
            float ai = a[i * ais + k * aks];
            for (int j = 0; j < NR; j++)
                t[i][j] += ai * b[k * NR + j];
        }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j;
            float v = ep->alpha * t[i][j] + (ep->accumulate ? *cij : 0.0f);
            v += ep->row_bias ? ep->row_bias[i] : 0.0f;
            *cij = v + (ep->col_bias ? ep->col_bias[j] : 0.0f);
        }
}

static void micro_rows(int kc, const float *a, const float *b, float *c, size_t ldc, int m, int n,
                       const sdc_epilogue *ep)
{
    micro_generic(A_STRIDE, 1, kc, a, b, c, ldc, m, n, ep);
}

static void micro_k16(int kc, const float *a, const float *b, float *c, size_t ldc, int m, int n,
                      const sdc_epilogue *ep)
{
    micro_generic(1, 16, kc, a, b, c, ldc, m, n, ep);
}

static const sdc_gemm_kernel generic_rows = {
    .name = "generic-rows", .a_layout = SDC_A_ROWS, .mr = MR, .nr = NR, .mc = MC, .kc = KC,
    .nc = NC, .a_stride = A_STRIDE, .k_pack = 1, .micro = micro_rows, .copy = sdc_copy_generic,
};
static const sdc_gemm_kernel generic_k16 = {
    .name = "generic-k16", .a_layout = SDC_A_K16, .mr = MR, .nr = NR, .mc = MC, .kc = KC,
    .nc = NC, .k_pack = 1, .micro = micro_k16, .copy = sdc_copy_generic,
};

const sdc_gemm_kernel *sdc_gemm_kernel_generic(sdc_a_layout layout)
{
    return layout == SDC_A_ROWS ? &generic_rows : &generic_k16;
}
