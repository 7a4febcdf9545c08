/* AVX-512 micro-kernels and operand copies for the packed GEMM (see gemm_driver.h). The
 * whole file is compiled for AVX-512; nothing here may run before sdc_cpu_level_get() has
 * said AVX512. Register budget: an mr x nr tile needs mr * nr / 16 accumulators plus nr / 16
 * B vectors and one broadcast out of 32 zmm registers. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "ops/gemm_avx512.h"

/* ROWS layout: rows of the packed A block are A_STRIDE floats apart. The pad keeps the mr
 * rows of a tile out of a handful of L1 sets. */
enum { ROWS_MR = 14, ROWS_NV = 2, ROWS_KC = 384, ROWS_MC = 112, ROWS_NC = 2048,
       A_STRIDE = ROWS_KC + 16 };
enum { K16_MR = 8, K16_NV = 3, K16_KC = 384, K16_MC = 128, K16_NC = 1536 };

/* The tile loop for compile-time MR, NV and A strides (A(i, k) at a[i * AIS + k * AKS]);
 * inlined into each instantiation so the accumulators live in registers. */
static inline __attribute__((always_inline)) void
micro_tile(const int MR, const int NV, const int AIS, const int AKS, int kc,
           const float *restrict a, const float *restrict b, float *restrict c, size_t ldc, int m,
           int n, const sdc_epilogue *ep)
{
    __m512 acc[MAX_MR][MAX_NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();
    prefetch_tile(NV, c, ldc, m, ep);
    for (int k = 0; k < kc; k++) {
        __m512 bv[MAX_NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = _mm512_load_ps(b + (size_t)k * NV * 16 + v * 16);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[(size_t)i * AIS + (size_t)k * AKS]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
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

enum { PREFETCH_ROWS = 2 }; /* rows ahead (prefetch_bytes) */

/* ROWS source into k-contiguous rows (dst_k == 1): each row segment converted 16 at a time. */
static void copy_rows_along_k(const sdc_operand *op, const char *base, int i0, int n, int k0,
                              int kc, float *dst, size_t dst_i)
{
    size_t es = sdc_dtype_size(op->dtype), bytes = (size_t)kc * es;
    for (int r = 0; r < n; r++) {
        const char *src = base + ((size_t)(i0 + r) * op->ld + k0) * es;
        float *d = dst + r * dst_i;
        if (r + PREFETCH_ROWS < n)
            prefetch_bytes(src + PREFETCH_ROWS * op->ld * es, bytes);
        for (int k = 0; k < kc; k += 16) {
            __mmask16 m = tail_mask(kc - k, 0);
            _mm512_mask_storeu_ps(d + k, m, load16(src + k * es, op->dtype, m));
        }
    }
}

/* ROWS source into i-contiguous panels (dst_i == 1), e.g. a linear layer's weight rows
 * becoming B micro-panels: 16 x 16 blocks loaded along k and transposed in registers. */
static void copy_rows_along_i(const sdc_operand *op, const char *base, int i0, int n, int k0,
                              int kc, float *dst, size_t dst_k)
{
    size_t es = sdc_dtype_size(op->dtype);
    for (int r = 0; r < n; r += 16) {
        int rows = n - r < 16 ? n - r : 16;
        __mmask16 rmask = tail_mask(rows, 0);
        for (int k = 0; k < kc; k += 16) {
            int cols = kc - k < 16 ? kc - k : 16;
            __mmask16 kmask = tail_mask(cols, 0);
            __m512 v[16];
            for (int q = 0; q < 16; q++)
                v[q] = q < rows ? load16(base + ((size_t)(i0 + r + q) * op->ld + k0 + k) * es,
                                         op->dtype, kmask)
                                : _mm512_setzero_ps();
            sdc_transpose16(v);
            for (int c = 0; c < cols; c++)
                _mm512_mask_storeu_ps(dst + (size_t)(k + c) * dst_k + r, rmask, v[c]);
        }
    }
}

/* COLS source, destination contiguous along i: 16 values per load. */
static void copy_cols_along_i(const sdc_operand *op, const char *base, int i0, int n, int k0,
                              int kc, float *dst, size_t dst_k)
{
    size_t es = sdc_dtype_size(op->dtype);
    for (int k = 0; k < kc; k++) {
        const char *src = base + ((size_t)(k0 + k) * op->ld + i0) * es;
        for (int r = 0; r < n; r += 16) {
            __mmask16 m = tail_mask(n - r, 0);
            _mm512_mask_storeu_ps(dst + k * dst_k + r, m, load16(src + r * es, op->dtype, m));
        }
    }
}

/* Kernel taps packed together: consecutive rows k of one panel are adjacent in memory, so a
 * pixel group is written as TAPS neighbouring vectors instead of TAPS vectors a whole panel
 * (kc * nr floats) apart, which would all fall into one L1 set. */
enum { TAPS = 8 };

typedef struct tap {
    const float *xc; /* channel image */
    int ky, kx;
} tap;

/* Rows k0 .. k0 + n (taps t[]), pixels r .. r + run of the block: output row oy, columns
 * ox0 .. ox0 + run. Each aligned group of 16 pixels is one load per tap (two for stride 2,
 * keeping the even columns) and one store masked to the run and to the image. */
static void im2col_pack_run(const panel_dst *pd, int k0, const tap *t, int n, int r, int run,
                            const sdc_operand *op, int oy, int ox0)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const float *row[TAPS];
    for (int i = 0; i < n; i++) {
        int iy = oy * op->stride - op->pad + t[i].ky;
        row[i] = iy >= 0 && iy < op->H ? t[i].xc + (size_t)iy * op->W : NULL;
    }
    for (int g = r & ~15; g < r + run; g += 16) {
        int lo = r > g ? r - g : 0, hi = r + run - g < 16 ? r + run - g : 16;
        __mmask16 store = lane_range(lo, hi);
        /* lane l holds pixel g + l: output column ox0 + (g + l - r) */
        int ix0 = (ox0 + g - r) * op->stride - op->pad;
        float *d = panel_at(pd, k0, g);
        for (int i = 0; i < n; i++, d += pd->nr) {
            int ix = ix0 + t[i].kx; /* input column of lane 0 */
            __m512 v = _mm512_setzero_ps();
            if (row[i] && op->stride == 1) {
                __mmask16 in = lane_range(-ix, op->W - ix) & store;
                v = in == 0xffff ? _mm512_loadu_ps(row[i] + ix)
                                 : _mm512_maskz_loadu_ps(in, row[i] + ix);
            } else if (row[i]) {
                __m512 a = _mm512_maskz_loadu_ps(lane_range(-ix, op->W - ix), row[i] + ix);
                __m512 b = _mm512_maskz_loadu_ps(lane_range(-ix - 16, op->W - ix - 16),
                                                 row[i] + ix + 16);
                v = _mm512_maskz_permutex2var_ps(store, a, even, b);
            }
            if (store == 0xffff)
                _mm512_storeu_ps(d, v);
            else
                _mm512_mask_storeu_ps(d, store, v);
        }
    }
}

/* The whole B block of an im2col operand, TAPS kernel taps at a time: for each tap the
 * block's pixels are runs along output rows, so a tap's channel, row and column are worked
 * out once per run instead of once per panel. */
static int pack_b_avx512(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                         float *dst, int nr)
{
    if (op->kind != SDC_OPERAND_IM2COL || op->stride > 2 || nr % 16)
        return 0;
    const float *x = (const float *)(const void *)batch_base(op, batch);
    panel_dst pd = {dst, kc, nr};
    int c = k0 / (op->k * op->k), ky = k0 / op->k % op->k, kx = k0 % op->k;
    for (int kb = 0; kb < kc; kb += TAPS) {
        tap t[TAPS];
        int n = kc - kb < TAPS ? kc - kb : TAPS;
        for (int i = 0; i < n; i++) {
            t[i] = (tap){x + (size_t)c * op->H * op->W, ky, kx};
            if (++kx == op->k) {
                kx = 0;
                if (++ky == op->k) {
                    ky = 0;
                    c++;
                }
            }
        }
        int oy = j0 / op->Wo, ox = j0 % op->Wo;
        for (int r = 0; r < nc;) {
            int run = nc - r < op->Wo - ox ? nc - r : op->Wo - ox;
            im2col_pack_run(&pd, kb, t, n, r, run, op, oy, ox);
            r += run;
            ox = 0;
            oy++;
        }
    }
    for (int q = nc; q % nr; q = (q | 15) + 1) /* zero columns past the block */
        for (int k = 0; k < kc; k++)
            _mm512_mask_storeu_ps(panel_at(&pd, k, q & ~15), lane_range(q & 15, 16),
                                  _mm512_setzero_ps());
    return 1;
}

static void copy_avx512(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
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

static const sdc_gemm_kernel avx512_rows = {
    .name = "avx512-14x32", .a_layout = SDC_A_ROWS, .mr = ROWS_MR, .nr = ROWS_NV * 16,
    .mc = ROWS_MC, .kc = ROWS_KC, .nc = ROWS_NC, .a_stride = A_STRIDE, .k_pack = 1,
    .micro = micro_rows, .copy = copy_avx512, .pack_b = pack_b_avx512,
};
static const sdc_gemm_kernel avx512_k16 = {
    .name = "avx512-8x48", .a_layout = SDC_A_K16, .mr = K16_MR, .nr = K16_NV * 16,
    .mc = K16_MC, .kc = K16_KC, .nc = K16_NC, .k_pack = 1, .micro = micro_k16,
    .copy = copy_avx512, .pack_b = pack_b_avx512,
};

const sdc_gemm_kernel *sdc_gemm_kernel_avx512(sdc_a_layout layout)
{
    return layout == SDC_A_ROWS ? &avx512_rows : &avx512_k16;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
