/* The blocked, packed GEMM behind sdc_sgemm, sdc_linear and sdc_conv2d (private to ops/):
 *
 *   C_b[M, N] = alpha * A_b[M, K] * B_b[K, N]  (+ C_b when accumulate)   for b < batch
 *
 * A and B are "operands", views that can copy a block of themselves into a kernel's packed
 * format. Operand element (i, k) is A[i, k] for A and B[k, i] for B. Packing converts f16 /
 * bf16 weights to f32, and the im2col operand reads a convolution's input image directly
 * (there is never a whole im2col matrix).
 *
 * Packed formats (f32, 64-byte aligned):
 *   B block: micro-panels of nr columns, [n / nr][kc][nr]  (vectors along N)
 *   A block: SDC_A_ROWS: [m][a_stride], each row k-contiguous (cheap from row-major data)
 *            SDC_A_K16:  panels of 16 rows, [m / 16][kc][16] (cheap from column-major data
 *                        and im2col); mr divides 16.
 * The micro-kernel broadcasts A values and keeps an mr x nr tile of C in registers.
 *
 * Loops (BLIS-style): N in blocks of nc, K in blocks of kc (B block packed once, shared),
 * M in blocks of mc (A block packed, shared), then the block's micro-tiles are split among
 * the threads. One parallel region per call. */
#ifndef SDC_OPS_GEMM_DRIVER_H
#define SDC_OPS_GEMM_DRIVER_H

#include <stddef.h>

#include "ops/dtype.h"
#include "ops/quant.h"

typedef enum sdc_operand_kind {
    SDC_OPERAND_ROWS,    /* (i, k) at data[i * ld + k] */
    SDC_OPERAND_COLS,    /* (i, k) at data[k * ld + i] */
    SDC_OPERAND_IM2COL,  /* (i, k): output pixel i = oy * Wo + ox of a conv, k = (c, ky, kx) */
    SDC_OPERAND_PACKED,  /* f32, already in the kernel's packed layout: see sdc_packed_map */
} sdc_operand_kind;

typedef struct sdc_operand {
    sdc_operand_kind kind;
    sdc_dtype dtype;     /* F32, F16 or BF16 (IM2COL: F32) */
    /* ROWS only: non-NULL when data is rows of ggml blocks of this type, ld / block blocks a
     * row (a quantised weight); the driver packs it with sdc_copy_quant, never the kernel's
     * own copy */
    const sdc_qtype_info *quant;
    const void *data;
    size_t ld;           /* see the kinds */
    size_t batch_stride; /* elements between batch items; 0 = shared by all */
    /* ROWS, shared by the batch, not quantised: non-NULL for a weight whose packed copy the
     * kernels that multiply bf16 pairs keep (ops/pack_cache.h); others ignore it */
    struct sdc_pack_cache *pack;
    /* IM2COL geometry: image [C, H, W], square kernel k, output width Wo */
    int C, H, W, k, stride, pad, Wo;
} sdc_operand;

typedef enum sdc_a_layout { SDC_A_ROWS, SDC_A_K16 } sdc_a_layout;

/* How a micro-kernel stores its tile T:
 *   C[i, j] = alpha * T[i, j] (+ C[i, j] if accumulate) (+ row_bias[i]) (+ col_bias[j])
 * with the bias pointers (NULL = none) already offset to the tile. */
typedef struct sdc_epilogue {
    float alpha;
    int accumulate;
    const float *row_bias;
    const float *col_bias;
} sdc_epilogue;

/* Tile T[mr, nr] = sum_k A(i, k) * b[k][j] from a packed A tile (first row at `a`) and a
 * B micro-panel, stored into C[i, j] for i < m, j < n as `ep` says. */
typedef void (*sdc_micro_fn)(int kc, const float *a, const float *b, float *c, size_t ldc,
                             int m, int n, const sdc_epilogue *ep);
/* Copies op(i0 + r, k0 + k) to dst[r * dst_i + k * dst_k] for r < n, k < kc. */
typedef void (*sdc_copy_fn)(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                            float *dst, size_t dst_i, size_t dst_k);

/* Packs a whole B block, op(j0 + j, k0 + k) for j < nc, k < kc, as [ceil(nc / nr)][kc][nr]
 * with zeros past nc, when it has a fast way for this operand: returns 1, else 0 (the driver
 * then packs it panel by panel with copy). */
typedef int (*sdc_pack_fn)(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                           float *dst, int nr);

typedef struct sdc_gemm_kernel {
    const char *name;
    sdc_a_layout a_layout;
    int mr, nr;     /* register tile */
    int mc, kc, nc; /* cache blocks; mc a multiple of mr and 16, nc of nr, kc of k_pack */
    int a_stride;   /* SDC_A_ROWS: packed slots between rows, >= kc / k_pack */
    int k_pack;     /* k values per packed 32-bit slot: 1 (f32), or 2 (a bf16 pair) */
    sdc_micro_fn micro;
    sdc_copy_fn copy;
    sdc_pack_fn pack_b; /* NULL: always panel by panel (k_pack 1 only) */
} sdc_gemm_kernel;

/* Kernel sets by A layout; the AVX2 / AVX-512 ones may only be used when the CPU has them. */
const sdc_gemm_kernel *sdc_gemm_kernel_generic(sdc_a_layout layout);
const sdc_gemm_kernel *sdc_gemm_kernel_avx2(sdc_a_layout layout);
const sdc_gemm_kernel *sdc_gemm_kernel_avx512(sdc_a_layout layout);
/* The bf16 kernel (SDC_A_ROWS); only when sdc_cpu_has_bf16(). */
const sdc_gemm_kernel *sdc_gemm_kernel_bf16(void);
/* The kernel for the current sdc_cpu_level_get(). */
const sdc_gemm_kernel *sdc_gemm_kernel_best(sdc_a_layout layout);
/* The kernel for weights x activations (linear layers, convolutions; A in rows): bf16 when
 * sdc_precision_get() asks for it and the CPU has it, else sdc_gemm_kernel_best. */
const sdc_gemm_kernel *sdc_gemm_kernel_for_weights(void);
/* The A layout that packs `A` cheaply. */
sdc_a_layout sdc_gemm_a_layout_for(const sdc_operand *A);

/* Portable copy, also the fallback of faster ones for the cases they do not cover. */
void sdc_copy_generic(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                      float *dst, size_t dst_i, size_t dst_k);

/* sdc_copy_fn for a quantised ROWS operand: each row's blocks over [k0, k0 + kc) are
 * expanded (ops/quant.h) and copied, so the kernel sees exactly the expanded values. */
void sdc_copy_quant(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                    float *dst, size_t dst_i, size_t dst_k);
/* The kernel for a weight operand: a quantised one is computed in f32
 * (sdc_gemm_kernel_best), others as sdc_gemm_kernel_for_weights. */
const sdc_gemm_kernel *sdc_gemm_kernel_for_weight(const sdc_qtype_info *quant);

/* The driver's packed layouts of one batch item (A in rows): for A (M x K), the blocks
 * [K blocks][M rounded up to mr rows][a_stride] (its up-front packing and packed caches);
 * for B (N x K), [K blocks][panels of nr columns][depth][nr], each K block kc deep but the
 * last only as deep as K leaves it (depths in packed slots). A producer can write an operand
 * there so that the driver reads it in place, packing nothing (SDC_OPERAND_PACKED, f32,
 * batch_stride = floats; kernels with k_pack 1): element (i, k) is at
 * sdc_packed_at(map, i, k). Padding (rows past M, columns past N, slots past kc in a row) is
 * never stored: the producer writes zeros there, so that no product reads garbage. */
typedef struct sdc_packed_map {
    size_t floats; /* per batch item */
    size_t block;  /* floats per whole K block */
    int kc, K;     /* K block depth (the driver's), and K */
    int b_side;    /* 0: A rows, a_stride floats apart; 1: B panels of nr columns */
    int stride;    /* A: a_stride; B: nr */
    int rows;      /* A: rows per K block (M rounded up to mr); B: columns (N rounded up to nr) */
} sdc_packed_map;

sdc_packed_map sdc_packed_a_map(const sdc_gemm_kernel *kern, int M, int K);
sdc_packed_map sdc_packed_b_map(const sdc_gemm_kernel *kern, int N, int K);

static inline size_t sdc_packed_at(const sdc_packed_map *m, int i, int k)
{
    int kb = k / m->kc, kk = k % m->kc;
    size_t at = (size_t)kb * m->block;
    if (!m->b_side)
        return at + (size_t)i * m->stride + kk;
    int depth = m->K - kb * m->kc < m->kc ? m->K - kb * m->kc : m->kc;
    return at + ((size_t)(i / m->stride) * depth + kk) * m->stride + i % m->stride;
}

/* Runs the GEMM described above; C_b = C + b * c_batch_stride, rows ldc apart. Biases
 * (NULL = none) are added once: row_bias [M] to every row i, col_bias [N] to column j. */
void sdc_gemm_run(const sdc_gemm_kernel *kern, int batch, int M, int N, int K, float alpha,
                  const sdc_operand *A, const sdc_operand *B, float *C, size_t ldc,
                  size_t c_batch_stride, int accumulate, const float *row_bias,
                  const float *col_bias);

#endif
