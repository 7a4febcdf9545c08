/* Attention kernels behind sdc_attention (private to ops/): the scalar reference and the
 * AVX-512 flash-style kernel. Same arguments and contract as sdc_attention (ops/nn.h). */
#ifndef SDC_OPS_ATTENTION_IMPL_H
#define SDC_OPS_ATTENTION_IMPL_H

/* Largest head size the kernels accept. */
#define SDC_ATTENTION_MAX_HEAD_DIM 512

void sdc_attention_scalar(float *out, const float *q, int q_stride, const float *k,
                          const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                          float scale, int causal);
/* Returns -1 (having done nothing) when its scratch memory cannot be had. */
int sdc_attention_avx512(float *out, const float *q, int q_stride, const float *k,
                         const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                         float scale, int causal);

#endif
