/* Attention kernels behind sdc_attention (private to ops/): the portable blocked one (GEMM,
 * softmax, GEMM on the CPU level's kernels) and the flash-style one on vector kernels. Same
 * arguments and contract as sdc_attention (ops/nn.h). */
#ifndef SDC_OPS_ATTENTION_IMPL_H
#define SDC_OPS_ATTENTION_IMPL_H

/* Largest head size the kernels accept. */
#define SDC_ATTENTION_MAX_HEAD_DIM 512

/* The vector kernels of the flash attention (ops/attention_flash.c), which owns the loops,
 * the online softmax and the memory: f32 FMAs in ops/attention_avx512.c and
 * ops/attention_avx2.c, bf16 pairs (vdpbf16ps) in ops/attention_bf16.c. Queries are groups of
 * SDC_FLASH_ROWS rows; probabilities come in tiles of SDC_FLASH_KEY_TILE keys. A tile of n
 * keys is padded to whole vectors of `lanes` floats. */
enum { SDC_FLASH_ROWS = 4, SDC_FLASH_KEY_TILE = 128 };

typedef struct sdc_flash_kernels {
    /* floats per vector: row lengths (ldk, ldv, ldq) are multiples of it */
    int lanes;
    /* n keys (a tile of them) times `scale` into kt (at most d * ldk floats; ldk a multiple
     * of lanes >= n), zero past n. */
    void (*pack_keys)(float *kt, int ldk, const float *k, int stride, int n, int d,
                      float scale);
    /* Its n values into vp (at most n * ldv floats, ldv = d rounded up to lanes), zero past
     * n up to the next even key. */
    void (*pack_values)(float *vp, int ldv, const float *v, int stride, int n, int d);
    /* n query rows into qp (row r at qp + r * ldq, ldq >= (d + 1) / 2) in the form scores
     * reads, once per block of rows instead of once per tile of keys; NULL where scores reads
     * the rows as they are. bf16: pairs of channels, 32-bit slot c / 2 holding channels c and
     * c + 1. */
    void (*pack_queries)(float *qp, int ldq, const float *q, int stride, int n, int d);
    /* p[r][j] = q[r] . (packed key j0 + j) for j < n (<= SDC_FLASH_KEY_TILE) rounded up to
     * lanes, r < ROWS, each q[r] a row as pack_queries left it. */
    void (*scores)(int n, const float *const q[SDC_FLASH_ROWS], const float *kt, int ldk,
                   int j0, int d, float (*p)[SDC_FLASH_KEY_TILE]);
    /* The largest of a row's first `valid` scores p[j] (-inf when valid <= 0), after setting
     * p[j] to -inf from `valid` to n rounded up to lanes. */
    float (*tile_max)(float *p, int n, int valid);
    /* The weights of one row's tile: its first n base-2 scores p[j] (lanes from n to the next
     * multiple of lanes hold -inf) become exp2(p[j] - max) in the form pv reads, and the sum
     * of exactly the weights pv will multiply is returned, so that they add up to 1. f32: in
     * place. bf16: rounded to bf16 and stored as pairs of keys, 32-bit slot t of p holding
     * keys 2t and 2t + 1 (the conversion pv would otherwise make for every row group). */
    float (*weights)(float *p, int n, float max);
    /* o[r][c] += sum_j w[r][j] value(j0 + j)[c] for j < nj, c < ldv, with p[r] the weights
     * as `weights` left them; w[r][j] is 0 from nj to the next multiple of lanes. */
    void (*pv)(float *o, int ldv, const float (*p)[SDC_FLASH_KEY_TILE], const float *vp,
               int j0, int nj);
} sdc_flash_kernels;

/* The kernel sets, each only for a CPU with its instructions: f32 on AVX-512 and on AVX2
 * (sdc_cpu_level_get()), bf16 where sdc_cpu_has_bf16(). */
const sdc_flash_kernels *sdc_flash_kernels_avx512(void);
const sdc_flash_kernels *sdc_flash_kernels_avx2(void);
const sdc_flash_kernels *sdc_flash_kernels_bf16(void);

/* The AVX-512 f32 tile_max, which the bf16 set shares (its scores are f32). */
float sdc_flash_tile_max_avx512(float *p, int n, int valid);

/* Both return -1 (having done nothing) when their scratch memory cannot be had. */
int sdc_attention_blocked(float *out, const float *q, int q_stride, const float *k,
                          const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                          float scale, int causal);
int sdc_attention_flash(float *out, const float *q, int q_stride, const float *k, const float *v,
                        int kv_stride, int B, int heads, int Tq, int Tk, int d, float scale,
                        int causal, const sdc_flash_kernels *fk);

#endif
