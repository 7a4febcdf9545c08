/* AVX2 micro-kernels and operand copies for the packed GEMM (see gemm_driver.h), for x86-64
 * CPUs without AVX-512. The whole file is compiled for AVX2 + FMA + F16C; nothing here may
 * run before sdc_cpu_level_get() has said AVX2 or better. Register budget: an mr x nr tile
 * needs mr * nr / 8 accumulators plus nr / 8 B vectors and one broadcast out of 16 ymm. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#include <string.h>

#include "ops/gemm_avx2.h"
#include "ops/gemm_driver.h"
#include "ops/simd_avx2.h"

/* KC 320: one K block for the SD channel counts 320, 640, 1280 (and 9 x 320 for a 3x3
 * im2col) instead of 256 + 64; the B micro-panel (20 KiB) still fits L1 beside the A rows.
 * Linear layers on Zen 3: 0.80-0.87x of the time with KC 256. */
enum { ROWS_MR = 6, ROWS_NV = 2, ROWS_KC = 320, ROWS_MC = 96, ROWS_NC = 2048,
       A_STRIDE = ROWS_KC + 8 };
enum { K16_MR = 4, K16_NV = 3, K16_KC = 256, K16_MC = 128, K16_NC = 1536 };

/* The tile loop for compile-time MR, NV and A strides (A(i, k) at a[i * AIS + k * AKS]). */
static inline __attribute__((always_inline)) void
micro_tile(const int MR, const int NV, const int AIS, const int AKS, int kc,
           const float *restrict a, const float *restrict b, float *restrict c, size_t ldc, int m,
           int n, const sdc_epilogue *ep)
{
    __m256 acc[MAX_MR][MAX_NV];
    /* C's rows are rarely cached (the tile was last touched a whole A block pass ago): start
     * fetching them now, so the store at the end does not wait for memory */
#pragma GCC unroll 8
    for (int i = 0; i < MR && i < m; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + NV * 8 - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm256_setzero_ps();
    /* unrolled: 0.89-0.91x of the rolled loop's time on Zen 3 (linear layers, 2 threads) */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m256 bv[MAX_NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = _mm256_load_ps(b + (size_t)k * NV * 8 + v * 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + (size_t)i * AIS + (size_t)k * AKS);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    store_tile(MR, NV, acc, c, ldc, m, n, ep);
}

static void micro_rows(int kc, const float *a, const float *b, float *c, size_t ldc, int m, int n,
                       const sdc_epilogue *ep)
{
    micro_tile(ROWS_MR, ROWS_NV, A_STRIDE, 1, kc, a, b, c, ldc, m, n, ep);
}

static void micro_k16(int kc, const float *a, const float *b, float *c, size_t ldc, int m, int n,
                      const sdc_epilogue *ep)
{
    micro_tile(K16_MR, K16_NV, 1, 16, kc, a, b, c, ldc, m, n, ep);
}

/* `count` (<= 8) values of a weight dtype as f32, the rest zero; never reads past them. */
static inline __m256 load8(const char *src, sdc_dtype dtype, int count)
{
    if (count >= 8) {
        if (dtype == SDC_DTYPE_F32)
            return _mm256_loadu_ps((const float *)(const void *)src);
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)src);
        if (dtype == SDC_DTYPE_F16)
            return _mm256_cvtph_ps(h);
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    char tmp[32] = {0};
    memcpy(tmp, src, (size_t)count * sdc_dtype_size(dtype));
    return load8(tmp, dtype, 8);
}


static const char *batch_base(const sdc_operand *op, size_t batch)
{
    return (const char *)op->data + batch * op->batch_stride * sdc_dtype_size(op->dtype);
}

static void copy_rows_along_k(const sdc_operand *op, const char *base, int i0, int n, int k0,
                              int kc, float *dst, size_t dst_i)
{
    size_t es = sdc_dtype_size(op->dtype);
    for (int r = 0; r < n; r++) {
        const char *src = base + ((size_t)(i0 + r) * op->ld + k0) * es;
        for (int k = 0; k < kc; k += 8)
            sdc_store8(dst + r * dst_i + k, load8(src + k * es, op->dtype, kc - k), kc - k);
    }
}

static void copy_rows_along_i(const sdc_operand *op, const char *base, int i0, int n, int k0,
                              int kc, float *dst, size_t dst_k)
{
    size_t es = sdc_dtype_size(op->dtype);
    for (int r = 0; r < n; r += 8) {
        int rows = n - r < 8 ? n - r : 8;
        for (int k = 0; k < kc; k += 8) {
            int cols = kc - k < 8 ? kc - k : 8;
            __m256 v[8];
            for (int q = 0; q < 8; q++)
                v[q] = q < rows ? load8(base + ((size_t)(i0 + r + q) * op->ld + k0 + k) * es,
                                        op->dtype, cols)
                                : _mm256_setzero_ps();
            sdc_transpose8(v);
            for (int c = 0; c < cols; c++)
                sdc_store8(dst + (size_t)(k + c) * dst_k + r, v[c], rows);
        }
    }
}

static void copy_cols_along_i(const sdc_operand *op, const char *base, int i0, int n, int k0,
                              int kc, float *dst, size_t dst_k)
{
    size_t es = sdc_dtype_size(op->dtype);
    for (int k = 0; k < kc; k++) {
        const char *src = base + ((size_t)(k0 + k) * op->ld + i0) * es;
        for (int r = 0; r < n; r += 8)
            sdc_store8(dst + k * dst_k + r, load8(src + r * es, op->dtype, n - r), n - r);
    }
}

static void copy_avx2(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                      float *dst, size_t dst_i, size_t dst_k)
{
    const char *base = batch_base(op, batch);
    if (op->kind == SDC_OPERAND_ROWS && dst_k == 1)
        copy_rows_along_k(op, base, i0, n, k0, kc, dst, dst_i);
    else if (op->kind == SDC_OPERAND_ROWS && dst_i == 1)
        copy_rows_along_i(op, base, i0, n, k0, kc, dst, dst_k);
    else if (op->kind == SDC_OPERAND_COLS && dst_i == 1)
        copy_cols_along_i(op, base, i0, n, k0, kc, dst, dst_k);
    else
        sdc_copy_generic(op, batch, i0, n, k0, kc, dst, dst_i, dst_k);
}

/* 8 values of image row `row` (W wide) from column ix, zeros outside the row. */
static inline __m256 row_load8(const float *row, int ix, int W)
{
    if (ix >= 0 && ix + 8 <= W)
        return _mm256_loadu_ps(row + ix);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i at = _mm256_add_epi32(lane, _mm256_set1_epi32(ix));
    __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(at, _mm256_set1_epi32(-1)),
                                  _mm256_cmpgt_epi32(_mm256_set1_epi32(W), at));
    return _mm256_maskload_ps(row + ix, in); /* (masked lanes are never read) */
}

/* The whole B block of an im2col operand with stride 1 or 2 whose output rows and block are
 * whole vectors (Wo, j0 and nc multiples of 8): 8 output pixels of one row per vector, one
 * tap (row k of the block) at a time across all panels, as pack_b_cols does. The portable
 * copy went pixel by pixel with a bounds test each (Zen 3: a 320 -> 4 convolution at 64x64,
 * nearly all packing, 31 ms). */
static int pack_b_im2col(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                         float *dst)
{
    if (op->stride > 2 || op->Wo % 8 || j0 % 8 || nc % 8)
        return 0;
    const float *x = (const float *)(const void *)batch_base(op, batch);
    int kk = op->k * op->k, groups = nc / 8, s = op->stride;
    for (int k = 0; k < kc; k++) {
        int c = (k0 + k) / kk, ky = (k0 + k) % kk / op->k, kx = (k0 + k) % op->k;
        const float *xc = x + (size_t)c * op->H * op->W;
        int oy = j0 / op->Wo, ox = j0 % op->Wo;
        for (int g = 0; g < (nc + 15) / 16 * 2; g++) { /* (past nc: the panel's zeros) */
            int iy = oy * s - op->pad + ky, ix = ox * s - op->pad + kx;
            __m256 v = _mm256_setzero_ps();
            if (g < groups && iy >= 0 && iy < op->H) {
                const float *row = xc + (size_t)iy * op->W;
                if (s == 1) {
                    v = row_load8(row, ix, op->W);
                } else { /* the even columns of 16 */
                    __m256 a = row_load8(row, ix, op->W), b = row_load8(row, ix + 8, op->W);
                    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
                    v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
                }
            }
            _mm256_storeu_ps(dst + ((size_t)(g / 2) * kc + k) * 16 + g % 2 * 8, v);
            if ((ox += 8) == op->Wo)
                ox = 0, oy++;
        }
    }
    return 1;
}

/* The whole B block of a column-major f32 operand (a 1x1 convolution's image: channel k's
 * pixels contiguous, channels a plane apart), one channel row at a time across all panels.
 * Panel by panel, each of the kc rows gave 64 bytes per visit, and rows a power of two apart
 * (64x64 pixels: 16 KiB) all fall in one L1 and a few L2 sets: 23% of a 1x1 convolution's
 * time went to that copy on Zen 3. */
static int pack_b_cols(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                       float *dst)
{
    const float *base = (const float *)(const void *)batch_base(op, batch);
    int panels = (nc + 15) / 16;
    for (int k = 0; k < kc; k++) {
        const float *src = base + (size_t)(k0 + k) * op->ld + j0;
        for (int p = 0; p < panels; p++) {
            float *d = dst + ((size_t)p * kc + k) * 16;
            int n = nc - p * 16; /* columns past nc are zero in the panel */
            _mm256_storeu_ps(d, sdc_load8(src + p * 16, n));
            _mm256_storeu_ps(d + 8, sdc_load8(src + p * 16 + 8, n - 8));
        }
    }
    return 1;
}

static int pack_b_avx2(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                       float *dst, int nr)
{
    if (nr != 16 || op->dtype != SDC_DTYPE_F32)
        return 0;
    if (op->kind == SDC_OPERAND_COLS)
        return pack_b_cols(op, batch, j0, nc, k0, kc, dst);
    if (op->kind == SDC_OPERAND_IM2COL)
        return pack_b_im2col(op, batch, j0, nc, k0, kc, dst);
    return 0;
}

static const sdc_gemm_kernel avx2_rows = {
    .name = "avx2-6x16", .a_layout = SDC_A_ROWS, .mr = ROWS_MR, .nr = ROWS_NV * 8,
    .mc = ROWS_MC, .kc = ROWS_KC, .nc = ROWS_NC, .a_stride = A_STRIDE, .k_pack = 1,
    .micro = micro_rows, .copy = copy_avx2, .pack_b = pack_b_avx2,
};
static const sdc_gemm_kernel avx2_k16 = {
    .name = "avx2-4x24", .a_layout = SDC_A_K16, .mr = K16_MR, .nr = K16_NV * 8, .mc = K16_MC,
    .kc = K16_KC, .nc = K16_NC, .k_pack = 1, .micro = micro_k16, .copy = copy_avx2,
};

const sdc_gemm_kernel *sdc_gemm_kernel_avx2(sdc_a_layout layout)
{
    return layout == SDC_A_ROWS ? &avx2_rows : &avx2_k16;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
