/* AVX2 versions of elementwise kernels of ops/nn.h (private to ops/), called by the public
 * functions when sdc_cpu_level_get() says AVX2. */
#ifndef SDC_OPS_AVX2_H
#define SDC_OPS_AVX2_H

void sdc_softmax_rows_avx2(float *x, int rows, int n);

#endif
