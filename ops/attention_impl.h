/* Attention kernels behind sdc_attention (private to ops/): the portable blocked one (GEMM,
 * softmax, GEMM on the CPU level's kernels) and the AVX-512 flash-style kernel. Same
 * arguments and contract as sdc_attention (ops/nn.h). */
#ifndef SDC_OPS_ATTENTION_IMPL_H
#define SDC_OPS_ATTENTION_IMPL_H

/* Largest head size the kernels accept. */
#define SDC_ATTENTION_MAX_HEAD_DIM 512

/* Both return -1 (having done nothing) when their scratch memory cannot be had. */
int sdc_attention_blocked(float *out, const float *q, int q_stride, const float *k,
                          const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                          float scale, int causal);
int sdc_attention_avx512(float *out, const float *q, int q_stride, const float *k,
                         const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                         float scale, int causal);

#endif
