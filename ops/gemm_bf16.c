/* AVX512_BF16 kernel for the packed GEMM (see gemm_driver.h): operands are rounded to bf16
 * while packing (to nearest, ties to even) and vdpbf16ps multiplies them in pairs of k,
 * accumulating in f32; the 14 x 32 tile and the blocking follow the f32 kernel
 * (ops/gemm_avx512.c). Packed layouts hold one pair (k even in the low half, k + 1 in the
 * high half) per 32-bit slot: A rows of kc / 2 slots, B panels [kc / 2][nr]. An odd last
 * k is paired with zero. Only for CPUs with AVX512_BF16 (sdc_cpu_has_bf16). */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,\
avx512bf16,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")
#endif

#include <stdint.h>
#include <string.h>

#include "ops/gemm_avx512.h"

enum { MR = 14, NV = 2, KC = 768, MC = 112, NC = 2048, A_STRIDE = KC / 2 + 16 };
enum { PREFETCH_ROWS = 4, PREFETCH_K = 256 }; /* rows / values ahead (prefetch_bytes) */

static void micro_bf16(int kc, const float *a, const float *b, float *c, size_t ldc, int m, int n,
                       const sdc_epilogue *ep)
{
    __m512 acc[MAX_MR][MAX_NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[i][v] = _mm512_setzero_ps();
    prefetch_tile(NV, c, ldc, m, ep);
    for (int p = 0; p < (kc + 1) / 2; p++) {
        __m512bh bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = (__m512bh)_mm512_load_si512(b + (size_t)p * NV * 16 + v * 16);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            /* the pair's 32 bits, broadcast as they are */
            __m512 pair = _mm512_set1_ps(a[(size_t)i * A_STRIDE + p]);
            __m512bh ai = (__m512bh)_mm512_castps_si512(pair);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm512_dpbf16_ps(acc[i][v], ai, bv[v]);
        }
    }
    store_tile(MR, NV, acc, c, ldc, m, n, ep);
}

/* 16 pairs from two vectors of 16 values: (lo[j], hi[j]) in slot j. */
static inline __m512i pairs16(__m512 lo, __m512 hi)
{
    /* 16-bit lanes 2j and 2j + 1 take lanes j and 16 + j of cvtne2ps's (lo, hi) */
    const __m512i j = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i interleave =
        _mm512_or_si512(j, _mm512_slli_epi32(_mm512_add_epi32(j, _mm512_set1_epi32(16)), 16));
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* 32 consecutive values (the first n) as 16 pairs in order. */
static inline __m512i row_pairs(const char *src, sdc_dtype dtype, int n)
{
    size_t es = load16_size(dtype);
    __m512 lo = load16(src, dtype, sdc_lanes16(n));
    __m512 hi = load16(src + 16 * es, dtype, sdc_lanes16(n - 16));
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

/* Whether op's rows already hold this kernel's pairs from k0 on: bf16 rows with even ld and
 * k0 (the driver's pre-converted activations, or a bf16 weight), copied without rounding. */
static int holds_pairs(const sdc_operand *op, int k0)
{
    return op->kind == SDC_OPERAND_ROWS && op->dtype == SDC_DTYPE_BF16 && !op->quant &&
           op->ld % 2 == 0 && k0 % 2 == 0;
}

/* n rows of (kc + 1) / 2 pairs from src (ld / 2 slots apart); an odd kc's last pair gets a
 * zero high half, as the rounding copy below gives it. */
static void copy_pairs(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                       float *dst, size_t dst_i)
{
    const int32_t *src = (const int32_t *)(const void *)batch_base(op, batch);
    int slots = (kc + 1) / 2;
    __mmask16 last = sdc_lanes16(slots % 16 ? slots % 16 : 16);
    __m512i keep = _mm512_set1_epi32(kc % 2 ? 0xffff : -1);
    for (int r = 0; r < n; r++) {
        const int32_t *s = src + ((size_t)(i0 + r) * op->ld + k0) / 2;
        int32_t *d = (int32_t *)(void *)(dst + r * dst_i);
        for (int p = 0; p < slots; p += 16) {
            __mmask16 m = p + 16 < slots ? (__mmask16)0xffff : last;
            __m512i v = _mm512_maskz_loadu_epi32(m, s + p);
            if (p + 16 >= slots) /* the high half of pair slots - 1 */
                v = _mm512_mask_and_epi32(v, (__mmask16)(1u << (slots - 1 - p)), v, keep);
            _mm512_mask_storeu_epi32(d + p, m, v);
        }
    }
}

/* Rows of A (dst_k == 1: row r at dst + r * dst_i) as pairs; any operand kind, the
 * row-major ones 32 values at a time, the others through an f32 row. */
static void copy_bf16(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                      float *dst, size_t dst_i, size_t dst_k)
{
    (void)dst_k; /* always 1: this kernel packs A in rows */
    if (holds_pairs(op, k0)) {
        copy_pairs(op, batch, i0, n, k0, kc, dst, dst_i);
        return;
    }
    size_t es = sdc_dtype_size(op->dtype);
    const char *base = batch_base(op, batch);
    float row[64];
    for (int r = 0; r < n; r++) {
        float *d = dst + r * dst_i;
        if (op->kind == SDC_OPERAND_ROWS && r + PREFETCH_ROWS < n)
            prefetch_bytes(base + ((size_t)(i0 + r + PREFETCH_ROWS) * op->ld + k0) * es,
                           (size_t)kc * es);
        for (int k = 0; k < kc; k += 32) {
            int len = kc - k < 32 ? kc - k : 32;
            __m512i v;
            if (op->kind == SDC_OPERAND_ROWS) {
                v = row_pairs(base + ((size_t)(i0 + r) * op->ld + k0 + k) * es, op->dtype, len);
            } else {
                sdc_copy_generic(op, batch, i0 + r, 1, k0 + k, len, row, 1, 1);
                memset(row + len, 0, sizeof(float) * (32 - len));
                v = row_pairs((const char *)row, SDC_DTYPE_F32, 32);
            }
            _mm512_mask_storeu_epi32(d + k / 2, sdc_lanes16((len + 1) / 2), v);
        }
    }
}

/* B panels from a row-major operand (a linear layer's weight rows): 16 rows x 32 k become
 * 16 rows of 16 pairs, transposed in registers into 16 panel rows of 16 pairs. The 16 rows
 * are 16 streams at once; each is fetched PREFETCH_K values ahead (prefetch_bytes). */
static void pack_rows(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                      const panel_dst *pd)
{
    size_t es = sdc_dtype_size(op->dtype);
    const char *base = batch_base(op, batch);
    for (int r = 0; r < nc; r += 16) {
        int rows = nc - r < 16 ? nc - r : 16;
        for (int k = 0; k < kc; k += 32) {
            int len = kc - k < 32 ? kc - k : 32;
            __m512 v[16];
            for (int q = 0; q < 16; q++) {
                const char *src = base + ((size_t)(j0 + r + q) * op->ld + k0 + k) * es;
                if (q < rows && k + PREFETCH_K < kc)
                    _mm_prefetch(src + PREFETCH_K * es, _MM_HINT_T0);
                v[q] = q < rows ? _mm512_castsi512_ps(row_pairs(src, op->dtype, len))
                                : _mm512_setzero_ps();
            }
            sdc_transpose16(v);
            for (int p = 0; p < (len + 1) / 2; p++)
                _mm512_mask_storeu_ps(panel_at(pd, k / 2 + p, r), sdc_lanes16(rows), v[p]);
        }
    }
}

/* B panels from f32 values along j: value (j, k) at x[k * ld + j], k-pairs interleaved. */
static void pack_cols(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                      const panel_dst *pd)
{
    const float *x = (const float *)(const void *)batch_base(op, batch);
    for (int k = 0; k < kc; k += 2) {
        const float *lo = x + (size_t)(k0 + k) * op->ld + j0, *hi = lo + op->ld;
        for (int r = 0; r < nc; r += 16) {
            __mmask16 m = sdc_lanes16(nc - r);
            __m512 b = k + 1 < kc ? _mm512_maskz_loadu_ps(m, hi + r) : _mm512_setzero_ps();
            __m512i v = pairs16(_mm512_maskz_loadu_ps(m, lo + r), b);
            _mm512_mask_storeu_epi32(panel_at(pd, k / 2, r), m, v);
        }
    }
}

/* Kernel taps (k) per pass of the im2col packer, an even number. */
enum { TAPS = 8 };

/* One output-row run of the block for taps t[0 .. n): pixels r .. r + run at output row oy,
 * columns ox0 .. Each aligned group of 16 pixels is loaded per tap as in the f32 packer and
 * stored as n / 2 pair rows. */
static void im2col_pairs_run(const panel_dst *pd, int p0, const float *const xc[TAPS],
                             const int ky[TAPS], const int kx[TAPS], int n, int r, int run,
                             const sdc_operand *op, int oy, int ox0)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const float *row[TAPS];
    for (int i = 0; i < n; i++) {
        int iy = oy * op->stride - op->pad + ky[i];
        row[i] = iy >= 0 && iy < op->H ? xc[i] + (size_t)iy * op->W : NULL;
    }
    for (int g = r & ~15; g < r + run; g += 16) {
        int lo = r > g ? r - g : 0, hi = r + run - g < 16 ? r + run - g : 16;
        __mmask16 store = lane_range(lo, hi);
        int ix0 = (ox0 + g - r) * op->stride - op->pad;
        __m512 v[TAPS];
        for (int i = 0; i < n; i++) {
            int ix = ix0 + kx[i];
            v[i] = _mm512_setzero_ps();
            if (row[i] && op->stride == 1) {
                v[i] = _mm512_maskz_loadu_ps(lane_range(-ix, op->W - ix) & store, row[i] + ix);
            } else if (row[i]) {
                __m512 a = _mm512_maskz_loadu_ps(lane_range(-ix, op->W - ix), row[i] + ix);
                __m512 b = _mm512_maskz_loadu_ps(lane_range(-ix - 16, op->W - ix - 16),
                                                 row[i] + ix + 16);
                v[i] = _mm512_maskz_permutex2var_ps(store, a, even, b);
            }
        }
        for (int i = 0; i < n; i += 2) {
            __m512i pr = pairs16(v[i], i + 1 < n ? v[i + 1] : _mm512_setzero_ps());
            _mm512_mask_storeu_epi32(panel_at(pd, p0 + i / 2, g), store, pr);
        }
    }
}

static void pack_im2col(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                        const panel_dst *pd)
{
    const float *x = (const float *)(const void *)batch_base(op, batch);
    int c = k0 / (op->k * op->k), ky = k0 / op->k % op->k, kx = k0 % op->k;
    for (int kb = 0; kb < kc; kb += TAPS) {
        const float *xc[TAPS];
        int tky[TAPS], tkx[TAPS], n = kc - kb < TAPS ? kc - kb : TAPS;
        for (int i = 0; i < n; i++) {
            xc[i] = x + (size_t)c * op->H * op->W;
            tky[i] = ky;
            tkx[i] = kx;
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
            im2col_pairs_run(pd, kb / 2, xc, tky, tkx, n, r, run, op, oy, ox);
            r += run;
            ox = 0;
            oy++;
        }
    }
}

/* Anything else: f32 values through sdc_copy_generic, 16 columns x 2 k at a time. */
static void pack_any(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                     const panel_dst *pd)
{
    float lo[16], hi[16];
    for (int k = 0; k < kc; k += 2)
        for (int r = 0; r < nc; r += 16) {
            int n = nc - r < 16 ? nc - r : 16;
            memset(hi, 0, sizeof hi);
            sdc_copy_generic(op, batch, j0 + r, n, k0 + k, 1, lo, 1, 1);
            if (k + 1 < kc)
                sdc_copy_generic(op, batch, j0 + r, n, k0 + k + 1, 1, hi, 1, 1);
            __m512i v = pairs16(_mm512_maskz_loadu_ps(sdc_lanes16(n), lo),
                                _mm512_maskz_loadu_ps(sdc_lanes16(n), hi));
            _mm512_mask_storeu_epi32(panel_at(pd, k / 2, r), sdc_lanes16(n), v);
        }
}

static int pack_b_bf16(const sdc_operand *op, size_t batch, int j0, int nc, int k0, int kc,
                       float *dst, int nr)
{
    panel_dst pd = {dst, (kc + 1) / 2, nr};
    if (op->kind == SDC_OPERAND_ROWS)
        pack_rows(op, batch, j0, nc, k0, kc, &pd);
    else if (op->kind == SDC_OPERAND_COLS && op->dtype == SDC_DTYPE_F32)
        pack_cols(op, batch, j0, nc, k0, kc, &pd);
    else if (op->kind == SDC_OPERAND_IM2COL && op->stride <= 2)
        pack_im2col(op, batch, j0, nc, k0, kc, &pd);
    else
        pack_any(op, batch, j0, nc, k0, kc, &pd);
    for (int q = nc; q % nr; q = (q | 15) + 1) /* zero columns past the block */
        for (int p = 0; p < pd.rows; p++)
            _mm512_mask_storeu_ps(panel_at(&pd, p, q & ~15), lane_range(q & 15, 16),
                                  _mm512_setzero_ps());
    return 1;
}

static const sdc_gemm_kernel bf16_rows = {
    .name = "avx512bf16-14x32", .a_layout = SDC_A_ROWS, .mr = MR, .nr = NV * 16, .mc = MC,
    .kc = KC, .nc = NC, .a_stride = A_STRIDE, .k_pack = 2, .micro = micro_bf16,
    .copy = copy_bf16, .pack_b = pack_b_bf16,
};

const sdc_gemm_kernel *sdc_gemm_kernel_bf16(void)
{
    return &bf16_rows;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
