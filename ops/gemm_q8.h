/* The int8 GEMM of linear layers (--precision int8, private to ops/):
 *
 *   C[M, N] = alpha * A[M, K] * W[N, K]^T  (+ C when accumulate)  (+ col_bias[j])
 *
 * W is rows of ggml q8_0 blocks (32 int8 values and an f16 scale per block along K, a GGUF
 * file's mapping or a weight quantised at load), A f32 rows that are quantised per row into
 * blocks of 32 by ggml's q8_0 rule (scale d = max|x| / 127, q = x / d rounded to nearest,
 * ties to even), with the scale kept in f32. Each output is
 *
 *   acc = 0;  for every block b in order:  acc = fma((float)isum_b, dw_b * dx_b, acc)
 *
 * where isum_b is the exact int32 dot product of the two blocks' int8 values, then
 * C = alpha * acc (+ C) (+ bias). Every kernel computes exactly this, so a fast kernel equals
 * the scalar reference bit for bit (tests/test_ops.c).
 *
 * K must be a multiple of 32. Loops: the activations are quantised once per call (rows split
 * among the threads), then work items of MC rows x NG columns: each packs its weight panels
 * (nr rows of W, all of K) and runs the micro-kernel over its rows. One parallel region. */
#ifndef SDC_OPS_GEMM_Q8_H
#define SDC_OPS_GEMM_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "ops/gemm_driver.h"
#include "ops/quant.h"

enum { SDC_Q8_BLOCK = 32, SDC_Q8_BLOCK_BYTES = 34 };

/* Quantises one row of K values: q [K] int8, d [K / 32] scales, corr [K / 32] =
 * -128 * (sum of the block's q), the correction of the VNNI offset trick. */
typedef void (*sdc_q8_quantize_fn)(const float *x, int K, int8_t *q, float *d, int32_t *corr);
/* Packs rows [0, n) (n <= nr) of W (q8_0, row_bytes apart) into the kernel's panel of nr rows:
 * K * nr bytes of values, then [K / 32][nr] f32 scales; rows past n are zero. */
typedef void (*sdc_q8_pack_fn)(const uint8_t *w, size_t row_bytes, int n, int K, int nr,
                               uint8_t *dst);
/* Tile C[i, j], i < m <= mr, j < n <= nr, from quantised A rows (q lda bytes apart, d and corr
 * ldd apart) and a packed panel, stored as `ep` says (col_bias offset to the tile). */
typedef void (*sdc_q8_micro_fn)(int K, const int8_t *q, size_t lda, const float *d,
                                const int32_t *corr, size_t ldd, const uint8_t *panel,
                                float *c, size_t ldc, int m, int n, const sdc_epilogue *ep);

typedef struct sdc_q8_kernel {
    const char *name;
    int mr, nr;
    sdc_q8_quantize_fn quantize;
    sdc_q8_pack_fn pack;
    sdc_q8_micro_fn micro;
} sdc_q8_kernel;

/* The kernels, from the portable one to the fastest; a path is usable where the CPU has it
 * at the current level (sdc_cpu_level_get). */
typedef enum sdc_q8_path {
    SDC_Q8_PATH_SCALAR,      /* plain C: the reference, and the fallback on any CPU */
    SDC_Q8_PATH_AVX2,        /* vpmaddubsw + vpmaddwd, the sign trick (gemm_q8_ymm.h) */
    SDC_Q8_PATH_AVX_VNNI,    /* VEX vpdpbusd on 256 bits (cpuinfo avx_vnni) */
    SDC_Q8_PATH_AVX512_VNNI, /* vpdpbusd on 512 bits */
} sdc_q8_path;

const sdc_q8_kernel *sdc_q8_kernel_scalar(void);
/* Only where sdc_cpu_level_get() >= SDC_CPU_AVX2. */
const sdc_q8_kernel *sdc_q8_kernel_avx2(void);
/* Only where sdc_cpu_has_avx_vnni(). */
const sdc_q8_kernel *sdc_q8_kernel_avx_vnni(void);
/* Only where sdc_cpu_has_vnni(). */
const sdc_q8_kernel *sdc_q8_kernel_avx512(void);

/* The path's kernel, or NULL where this CPU cannot run it at the current level. */
const sdc_q8_kernel *sdc_q8_kernel_for(sdc_q8_path path);
/* The kernel --precision int8 runs: the first usable of AVX512-VNNI, AVX-VNNI, AVX2, scalar,
 * skipping those above the cap. Never NULL. */
const sdc_q8_kernel *sdc_q8_kernel_best(void);
sdc_q8_path sdc_q8_path_best(void);
/* Caps the path (tests and bench_sd force one this way: a usable path at or below the cap
 * is taken); SDC_Q8_PATH_AVX512_VNNI, the default, leaves the choice to the CPU. Not
 * thread-safe: call it before kernels run. */
void sdc_q8_set_max_path(sdc_q8_path cap);
/* "scalar", "avx2", "avx-vnni", "avx512-vnni" (the kernels' names); sdc_q8_path_from_name
 * returns -1 for other names. */
const char *sdc_q8_path_name(sdc_q8_path path);
int sdc_q8_path_from_name(const char *name);

/* Whether W may be of type `wq`: q8_0, or a 4- or 5-bit type (q4_0, q5_0, q4_1, q5_1, q4_K,
 * q5_K), whose blocks of 32 are x = scale * q + offset with small integers q
 * (ops/q8_unpack.h). A panel's rows are unpacked into int8 blocks with f32 scales as it is
 * packed (for q4_0 and q5_0 exactly what q8_0 rows of the same integers give, bit for bit);
 * the offsets add offset * dx * sum(qx) per block, an f32 GEMM of inner size K / 32 on the
 * activations' block sums. */
int sdc_gemm_q8_reads(const sdc_qtype_info *wq);

/* Runs the GEMM above with `kern`; W is N rows of K / 32 blocks of type wq
 * (sdc_gemm_q8_reads). Returns 0, or -1 (C untouched) when K is not a multiple of 32, wq
 * is not read, or no scratch memory was left: the caller then computes in f32. */
int sdc_gemm_q8_run(const sdc_q8_kernel *kern, int M, int N, int K, float alpha,
                    const float *A, size_t lda, const void *W, const sdc_qtype_info *wq,
                    float *C, size_t ldc, int accumulate,
                    const float *col_bias) __attribute__((warn_unused_result));

#endif
