/* AVX2 versions of the elementwise kernels of ops/nn.h and ops/geglu.h (private to ops/),
 * called by the public functions when sdc_cpu_level_get() says AVX2; same contracts, with
 * the public functions' portable loops as the reference the tests compare with. */
#ifndef SDC_OPS_AVX2_H
#define SDC_OPS_AVX2_H

#include <stddef.h>

void sdc_silu_avx2(float *x, size_t n);
void sdc_gelu_avx2(float *x, size_t n);
void sdc_quick_gelu_avx2(float *x, size_t n);
void sdc_softmax_rows_avx2(float *x, int rows, int n);
void sdc_geglu_avx2(float *y, const float *x, int rows, int n);

#endif
