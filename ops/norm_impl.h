/* The vector pieces of GroupNorm and LayerNorm (private to ops/): ops/norm.c owns the loops
 * over groups and rows, ops/norm_avx512.c and ops/norm_avx2.c give these, each only for a
 * CPU at its level. Statistics take one pass, summing x and x^2 in double precision, so the
 * variance E[x^2] - mean^2 keeps about 16 digits before its cancellation; normalising is a
 * second. The portable loops in ops/norm.c (two passes) are the reference. */
#ifndef SDC_OPS_NORM_IMPL_H
#define SDC_OPS_NORM_IMPL_H

#include <stddef.h>

typedef struct sdc_norm_kernels {
    /* Mean and 1 / sqrt(variance + eps) of x[0, n). */
    void (*moments)(const float *x, size_t n, float eps, float *mean, float *inv_std);
    /* y = x * scale + shift over n elements, then SiLU when asked. */
    void (*affine)(float *y, const float *x, size_t n, float scale, float shift, int silu);
    /* y = (x - mean) * inv_std * gamma + beta over dim elements. */
    void (*layer_row)(float *y, const float *x, int dim, float mean, float inv_std,
                      const float *gamma, const float *beta);
} sdc_norm_kernels;

const sdc_norm_kernels *sdc_norm_kernels_avx512(void);
const sdc_norm_kernels *sdc_norm_kernels_avx2(void);

#endif
