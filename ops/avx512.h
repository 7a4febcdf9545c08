/* AVX-512 versions of the elementwise kernels of ops/nn.h and ops/geglu.h (private to ops/).
 * Same contracts as the public functions, which call them when sdc_cpu_level_get() says
 * AVX512 and otherwise run their portable loops (the reference the tests compare with). */
#ifndef SDC_OPS_AVX512_H
#define SDC_OPS_AVX512_H

#include <stddef.h>

void sdc_silu_avx512(float *x, size_t n);
void sdc_gelu_avx512(float *x, size_t n);
void sdc_quick_gelu_avx512(float *x, size_t n);
void sdc_softmax_rows_avx512(float *x, int rows, int n);
void sdc_geglu_avx512(float *y, const float *x, int rows, int n);

#endif
