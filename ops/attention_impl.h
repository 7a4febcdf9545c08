/* Attention kernels behind sdc_attention (private to ops/): the portable blocked one (GEMM,
 * softmax, GEMM on the CPU level's kernels) and the AVX-512 flash-style kernel. Same
 * arguments and contract as sdc_attention (ops/nn.h). */
#ifndef SDC_OPS_ATTENTION_IMPL_H
#define SDC_OPS_ATTENTION_IMPL_H

/* Largest head size the kernels accept. */
#define SDC_ATTENTION_MAX_HEAD_DIM 512

/* The products of the flash kernel (ops/attention_avx512.c), which owns the loops, the
 * online softmax and the memory: f32 FMAs there, bf16 pairs (vdpbf16ps) in
 * ops/attention_bf16.c. Queries are groups of SDC_FLASH_ROWS rows; probabilities come in
 * tiles of SDC_FLASH_KEY_TILE keys. */
enum { SDC_FLASH_ROWS = 4, SDC_FLASH_KEY_TILE = 128 };

typedef struct sdc_flash_kernels {
    /* The head's n keys times `scale` into kt (at most d * ldk floats; ldk a multiple of 16
     * >= n), zero past n. */
    void (*pack_keys)(float *kt, int ldk, const float *k, int stride, int n, int d,
                      float scale);
    /* Its n values into vp (at most n * ldv floats, ldv = d rounded up to 16), zero past n
     * up to the next even key. */
    void (*pack_values)(float *vp, int ldv, const float *v, int stride, int n, int d);
    /* p[r][s0 + j] = q[r] . (packed key j0 + j) for j < 16 nv (nv <= 4), r < ROWS. */
    void (*scores)(int nv, const float *const q[SDC_FLASH_ROWS], const float *kt, int ldk,
                   int j0, int d, float (*p)[SDC_FLASH_KEY_TILE], int s0);
    /* o[r][c] += sum_j p[r][j] value(j0 + j)[c] for j < nj, c < ldv; p[r][j] is 0 from nj
     * to the next multiple of 16. */
    void (*pv)(float *o, int ldv, const float (*p)[SDC_FLASH_KEY_TILE], const float *vp,
               int j0, int nj);
    /* 1: pv multiplies probabilities rounded to bf16; the softmax then sums those rounded
     * values, so that the weights of the values add up to 1 */
    int pairs;
} sdc_flash_kernels;

/* The bf16 products; only when sdc_cpu_has_bf16(). */
const sdc_flash_kernels *sdc_flash_kernels_bf16(void);

/* Both return -1 (having done nothing) when their scratch memory cannot be had.
 * sdc_attention_avx512 multiplies with `fk`, NULL for its own f32 products. */
int sdc_attention_blocked(float *out, const float *q, int q_stride, const float *k,
                          const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                          float scale, int causal);
int sdc_attention_avx512(float *out, const float *q, int q_stride, const float *k,
                         const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                         float scale, int causal, const sdc_flash_kernels *fk);

#endif
