/* Every kernel at every CPU level this machine has (scalar, AVX2, AVX-512), against plain
 * double-precision loops written here, on random data with odd sizes so that every tail and
 * edge case of the blocked paths runs. Bounds are the worst case of f32 summation, so a
 * wrong element fails and rounding never does. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/arena.h"
#include "ops/cpu.h"
#include "ops/geglu.h"
#include "ops/gemm.h"
#include "ops/nn.h"
#include "ops/winograd.h"

#define F32_EPS 5.96e-8 /* unit roundoff */

#define TEST_RNG_SEED 12345
#include "test_random.h"

/* bf16 runs (sdc_precision_set(SDC_PRECISION_BF16)) compare with references built from
 * inputs rounded to bf16, at the AVX-512 level only; the other runs at every level. */
static int bf16_run;

static double in(float v) { return bf16_run ? sdc_bf16_to_f32(sdc_f32_to_bf16(v)) : v; }

static void restore_level(void)
{
    sdc_cpu_set_max_level(SDC_CPU_AVX512);
    sdc_precision_set(SDC_PRECISION_FP32);
    sdc_conv_algo_set(SDC_CONV_AUTO);
    sdc_winograd_bf16_set(0);
    bf16_run = 0;
}

static void start_bf16_run(void)
{
    if (!sdc_cpu_has_bf16())
        cr_skip_test("this CPU has no AVX512_BF16");
    sdc_precision_set(SDC_PRECISION_BF16);
    bf16_run = 1;
}

/* Runs `body` once per CPU level the machine supports. */
#define FOR_EACH_LEVEL(lv)                                                                  \
    for (int lv = bf16_run ? SDC_CPU_AVX512 : SDC_CPU_SCALAR;                               \
         lv <= (int)sdc_cpu_detect() && (sdc_cpu_set_max_level((sdc_cpu_level)lv), 1); lv++)

/* |got - want| <= bound, with a message naming the case. */
static int close_to(double got, double want, double bound)
{
    return fabs(got - want) <= bound && !isnan(got);
}

/* ---- GEMM ---------------------------------------------------------------------------- */

static void check_sgemm(int ta, int tb, int M, int N, int K, float alpha, float beta)
{
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    float *A = random_floats((size_t)(ta ? K : M) * lda, 1.0f);
    float *B = random_floats((size_t)(tb ? N : K) * ldb, 1.0f);
    float *C0 = random_floats((size_t)M * ldc, 1.0f);
    float *C = malloc((size_t)M * ldc * sizeof(float));
    FOR_EACH_LEVEL(lv)
    {
        memcpy(C, C0, (size_t)M * ldc * sizeof(float));
        sdc_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double want = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                    double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                    want += a * b;
                    mag += fabs(a * b);
                }
                double c0 = C0[(size_t)i * ldc + j];
                want = alpha * want + beta * c0;
                double bound = (K + 4) * F32_EPS * (fabs(alpha) * mag + fabs(beta * c0)) + 1e-30;
                double got = C[(size_t)i * ldc + j];
                if (!close_to(got, want, bound))
                    cr_assert_fail("%s sgemm(%d,%d) %dx%dx%d C[%d,%d] = %g, want %g",
                             sdc_cpu_level_name((sdc_cpu_level)lv), ta, tb, M, N, K, i, j, got,
                             want);
            }
        /* the padding between rows is never written */
        for (int i = 0; i < M; i++)
            cr_assert(memcmp(C + (size_t)i * ldc + N, C0 + (size_t)i * ldc + N,
                             2 * sizeof(float)) == 0);
    }
    free(A);
    free(B);
    free(C0);
    free(C);
}

Test(ops, sgemm_all_transposes_odd_sizes, .fini = restore_level)
{
    static const int sizes[][3] = {{1, 1, 1},   {3, 5, 7},     {17, 33, 9},  {31, 65, 300},
                                   {130, 47, 261}, {15, 129, 1}, {200, 3, 513}, {29, 100, 0}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int t = 0; t < 4; t++)
            check_sgemm(t & 1, t >> 1, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
}

Test(ops, sgemm_alpha_beta, .fini = restore_level)
{
    check_sgemm(0, 0, 37, 41, 77, 0.5f, 1.0f);
    check_sgemm(1, 0, 37, 41, 77, -2.0f, 0.25f);
    check_sgemm(0, 1, 64, 96, 520, 1.0f, 1.0f);
}

/* Large enough that the driver splits the work between threads, both ways. */
Test(ops, sgemm_threaded_shapes, .fini = restore_level)
{
    check_sgemm(0, 1, 300, 37, 200, 1.0f, 0.0f);
    check_sgemm(0, 0, 45, 700, 130, 1.0f, 0.0f);
}

/* ---- weights in checkpoint dtypes ---------------------------------------------------- */

/* Weight [rows, cols] of `dtype`, stored `offset` bytes into a buffer (mapped tensors need
 * not be aligned); `ref` receives the values it holds as f32. */
static void *make_weight(sdc_weight *w, float *ref, int rows, int cols, sdc_dtype dtype,
                         size_t offset)
{
    size_t n = (size_t)rows * cols, es = sdc_dtype_size(dtype);
    unsigned char *buf = malloc(n * es + offset + 1);
    cr_assert(buf);
    for (size_t i = 0; i < n; i++) {
        float v = frand() * 0.5f;
        uint16_t h;
        if (dtype == SDC_DTYPE_F16) {
            h = sdc_f32_to_f16(v);
            ref[i] = sdc_f16_to_f32(h);
            memcpy(buf + offset + 2 * i, &h, 2);
        } else if (dtype == SDC_DTYPE_BF16) {
            h = sdc_f32_to_bf16(v);
            ref[i] = sdc_bf16_to_f32(h);
            memcpy(buf + offset + 2 * i, &h, 2);
        } else {
            ref[i] = v;
            memcpy(buf + offset + 4 * i, &v, 4);
        }
    }
    *w = (sdc_weight){.rows = rows, .cols = cols, .dtype = dtype, .data = buf + offset};
    return buf;
}

static const sdc_dtype weight_types[] = {SDC_DTYPE_F32, SDC_DTYPE_F16, SDC_DTYPE_BF16};

static void check_linear(int M, int N, int K, sdc_dtype dtype, size_t offset, int with_bias)
{
    float *x = random_floats((size_t)M * K, 1.0f), *bias = random_floats(N, 1.0f);
    float *wref = malloc((size_t)N * K * sizeof(float));
    float *y = malloc((size_t)M * N * sizeof(float));
    sdc_weight w;
    void *buf = make_weight(&w, wref, N, K, dtype, offset);
    FOR_EACH_LEVEL(lv)
    {
        sdc_linear(y, x, M, &w, with_bias ? bias : NULL);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double want = with_bias ? bias[j] : 0, mag = fabs(want);
                for (int k = 0; k < K; k++) {
                    double p = in(x[(size_t)i * K + k]) * in(wref[(size_t)j * K + k]);
                    want += p;
                    mag += fabs(p);
                }
                double got = y[(size_t)i * N + j];
                if (!close_to(got, want, (K + 4) * F32_EPS * mag + 1e-30))
                    cr_assert_fail("%s linear %s %dx%dx%d y[%d,%d] = %g, want %g",
                             sdc_cpu_level_name((sdc_cpu_level)lv), sdc_dtype_name(dtype), M, N,
                             K, i, j, got, want);
            }
    }
    free(buf);
    free(x);
    free(bias);
    free(wref);
    free(y);
}

Test(ops, linear_weight_dtypes, .fini = restore_level)
{
    for (int t = 0; t < 3; t++) {
        check_linear(1, 77, 45, weight_types[t], 0, 1);
        check_linear(19, 50, 33, weight_types[t], 2, 0);
        check_linear(154, 130, 301, weight_types[t], 6, 1);
        check_linear(400, 20, 70, weight_types[t], 2, 1);
    }
}

/* ---- convolution --------------------------------------------------------------------- */

static void check_conv(int B, int Cin, int Cout, int H, int W, int k, int stride, int pad,
                       sdc_dtype dtype)
{
    int Ho = sdc_conv_out_size(H, k, stride, pad), Wo = sdc_conv_out_size(W, k, stride, pad);
    int K = Cin * k * k;
    float *x = random_floats((size_t)B * Cin * H * W, 1.0f), *bias = random_floats(Cout, 1.0f);
    float *wref = malloc((size_t)Cout * K * sizeof(float));
    float *y = malloc((size_t)B * Cout * Ho * Wo * sizeof(float));
    sdc_weight w;
    void *buf = make_weight(&w, wref, Cout, K, dtype, 2);
    sdc_arena arena;
    sdc_arena_init(&arena);
    FOR_EACH_LEVEL(lv)
    {
        cr_assert_eq(sdc_conv2d(y, x, B, Cin, H, W, &w, bias, k, stride, pad, &arena), 0);
        for (int b = 0; b < B; b++)
            for (int co = 0; co < Cout; co++)
                for (int oy = 0; oy < Ho; oy++)
                    for (int ox = 0; ox < Wo; ox++) {
                        double want = bias[co], mag = fabs(want);
                        for (int ci = 0; ci < Cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++) {
                                    int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                    if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                        continue;
                                    size_t xi = (((size_t)b * Cin + ci) * H + iy) * W + ix;
                                    double w = in(wref[(size_t)co * K + (ci * k + ky) * k + kx]);
                                    double p = w * in(x[xi]);
                                    want += p;
                                    mag += fabs(p);
                                }
                        double got = y[(((size_t)b * Cout + co) * Ho + oy) * Wo + ox];
                        if (!close_to(got, want, (K + 4) * F32_EPS * mag + 1e-30))
                            cr_assert_fail("%s conv k%d s%d %s: y[%d,%d,%d,%d] = %g, want %g",
                                     sdc_cpu_level_name((sdc_cpu_level)lv), k, stride,
                                     sdc_dtype_name(dtype), b, co, oy, ox, got, want);
                    }
    }
    sdc_arena_free(&arena);
    free(buf);
    free(x);
    free(bias);
    free(wref);
    free(y);
}

Test(ops, conv3x3_stride1, .fini = restore_level)
{
    check_conv(2, 5, 17, 13, 11, 3, 1, 1, SDC_DTYPE_F16);
    check_conv(1, 33, 40, 37, 35, 3, 1, 1, SDC_DTYPE_F32);
    check_conv(1, 4, 3, 1, 1, 3, 1, 1, SDC_DTYPE_BF16);
    /* few pixels per image: the GEMM's work items take two images each (the last one
     * alone) and the im2col columns are packed once, up front (gemm_driver.c) */
    check_conv(3, 24, 130, 10, 20, 3, 1, 1, SDC_DTYPE_F16);
    /* output rows of whole vectors: the AVX2 im2col packing's case */
    check_conv(2, 6, 10, 7, 16, 3, 1, 1, SDC_DTYPE_F32);
    check_conv(2, 40, 70, 8, 8, 3, 1, 1, SDC_DTYPE_F16);
}

Test(ops, conv3x3_stride2, .fini = restore_level)
{
    check_conv(2, 7, 9, 13, 11, 3, 2, 1, SDC_DTYPE_F16);
    check_conv(1, 3, 20, 40, 38, 3, 2, 1, SDC_DTYPE_F32);
    check_conv(1, 3, 5, 40, 38, 3, 2, 0, SDC_DTYPE_F32);
    check_conv(2, 5, 7, 9, 32, 3, 2, 1, SDC_DTYPE_F16);
    check_conv(1, 3, 5, 12, 34, 3, 2, 0, SDC_DTYPE_F32);
}

Test(ops, conv1x1, .fini = restore_level)
{
    check_conv(2, 19, 21, 9, 7, 1, 1, 0, SDC_DTYPE_F16);
    check_conv(1, 64, 3, 33, 31, 1, 1, 0, SDC_DTYPE_BF16);
    check_conv(2, 5, 6, 9, 8, 1, 2, 0, SDC_DTYPE_F32);
}

Test(ops, conv_other_kernels, .fini = restore_level)
{
    check_conv(1, 3, 4, 12, 10, 5, 1, 2, SDC_DTYPE_F32);
    check_conv(1, 3, 4, 10, 24, 5, 1, 2, SDC_DTYPE_F32);
    check_conv(1, 2, 3, 11, 10, 3, 3, 1, SDC_DTYPE_F16);
}

/* bf16 products: every packing path (weight rows, im2col with strides 1/2/3, 1x1 columns),
 * odd K so the last pair is half zero, and blocks past one KC; N past one NC block and
 * batches sharing a weight have their A rounded to pairs once up front (gemm_driver.c). */
Test(ops, linear_bf16, .fini = restore_level)
{
    start_bf16_run();
    for (int t = 0; t < 3; t++) {
        check_linear(1, 77, 45, weight_types[t], 2, 1);
        check_linear(154, 130, 301, weight_types[t], 0, 1);
        check_linear(40, 33, 1601, weight_types[t], 6, 0);
        check_linear(20, 2100, 67, weight_types[t], 0, 1);
        check_linear(9, 2060, 800, weight_types[t], 2, 0);
        /* A packed up front past one row block of the packing (70 rows) and two K blocks */
        check_linear(150, 700, 1601, weight_types[t], 0, 1);
    }
}

Test(ops, conv_bf16, .fini = restore_level)
{
    start_bf16_run();
    check_conv(2, 5, 17, 13, 11, 3, 1, 1, SDC_DTYPE_F16);
    check_conv(1, 33, 40, 37, 35, 3, 1, 1, SDC_DTYPE_F32);
    check_conv(2, 7, 9, 13, 11, 3, 2, 1, SDC_DTYPE_F16);
    check_conv(1, 2, 3, 11, 10, 3, 3, 1, SDC_DTYPE_BF16);
    check_conv(2, 19, 21, 9, 7, 1, 1, 0, SDC_DTYPE_F16);
    check_conv(1, 90, 16, 6, 5, 3, 1, 1, SDC_DTYPE_F16);
    /* a weight shared by 2 images, packed up front: 130 rows (9 whole row groups of 14 and
     * 4), K = 900 past one K block; its rows split in 2 chunks, so each image's im2col is
     * packed up front too, once per image (gemm_driver.c, pre_pack_b) */
    check_conv(2, 100, 130, 5, 4, 3, 1, 1, SDC_DTYPE_F16);
}

/* ---- arena ---------------------------------------------------------------------------- */

/* Scratch taken past the current block and released comes back at the same address the
 * next time (no new mapping, no new page faults), an allocation it does not fit gets a new
 * block, and reset consolidates to the peak. */
Test(ops, arena_reuses_released_blocks)
{
    sdc_arena a;
    sdc_arena_init(&a);
    size_t big = (size_t)24 << 20; /* floats: past the 16 MiB minimum block */
    float *base = sdc_arena_floats(&a, 16);
    size_t mark = sdc_arena_mark(&a);
    float *s1 = sdc_arena_floats(&a, big);
    cr_assert(base && s1);
    s1[big - 1] = 1.0f;
    sdc_arena_release(&a, mark);
    float *s2 = sdc_arena_floats(&a, big - 100);
    cr_expect_eq(s2, s1, "released scratch is mapped anew");
    sdc_arena_release(&a, mark);
    float *s3 = sdc_arena_floats(&a, 3 * big);
    cr_assert(s3);
    s3[3 * big - 1] = 2.0f;
    sdc_arena_release(&a, mark);
    cr_expect_eq(sdc_arena_mark(&a), mark);
    sdc_arena_reset(&a);
    cr_expect_geq(a.peak, 3 * big * sizeof(float));
    float *all = sdc_arena_floats(&a, 3 * big);
    cr_assert(all);
    all[3 * big - 1] = 3.0f;
    sdc_arena_free(&a);
}

/* ---- Winograd F(4x4, 3x3) ------------------------------------------------------------ */

/* The transform matrices, written out again here so the test does not trust the kernel's. */
static const double wino_bt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                     {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                     {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double wino_g[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                    {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                    {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
static const double wino_at[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

/* out[r][r] = |L| |X| |L|^T for L [r][n] (row stride 6 or 3 = n), X [n][n]. */
static void abs_sandwich(double *out, const double *L, int r, int n, const double *X)
{
    double t[6 * 6];
    for (int i = 0; i < r; i++)
        for (int j = 0; j < n; j++) {
            t[i * n + j] = 0;
            for (int k = 0; k < n; k++)
                t[i * n + j] += fabs(L[i * n + k]) * fabs(X[k * n + j]);
        }
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++) {
            out[i * r + j] = 0;
            for (int k = 0; k < n; k++)
                out[i * r + j] += t[i * n + k] * fabs(L[j * n + k]);
        }
}

/* What the rounding error of one Winograd output tile scales with:
 * |A^T| (sum_c |G||g_c||G^T| .* |B^T||d_c||B|) |A|, for output channel co, tile (ty, tx). */
static void winograd_magnitude(double *mag16, const float *x, const float *wref, int C, int H,
                               int W, int co, int ty, int tx)
{
    double sum[36] = {0};
    for (int c = 0; c < C; c++) {
        double g[9], d[36], u[36], v[36], gt[6 * 3];
        for (int i = 0; i < 9; i++)
            g[i] = wref[((size_t)co * C + c) * 9 + i];
        for (int i = 0; i < 36; i++) {
            int yy = ty * 4 - 1 + i / 6, xx = tx * 4 - 1 + i % 6;
            d[i] = yy >= 0 && yy < H && xx >= 0 && xx < W ? x[((size_t)c * H + yy) * W + xx] : 0;
        }
        for (int i = 0; i < 6; i++) /* |G| |g| as [6][3], then |G|^T by hand (G is 6x3) */
            for (int j = 0; j < 3; j++) {
                gt[i * 3 + j] = 0;
                for (int k = 0; k < 3; k++)
                    gt[i * 3 + j] += fabs(wino_g[i][k]) * fabs(g[k * 3 + j]);
            }
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                u[i * 6 + j] = 0;
                for (int k = 0; k < 3; k++)
                    u[i * 6 + j] += gt[i * 3 + k] * fabs(wino_g[j][k]);
            }
        abs_sandwich(v, &wino_bt[0][0], 6, 6, d);
        for (int e = 0; e < 36; e++)
            sum[e] += u[e] * v[e];
    }
    double t[4 * 6];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) {
            t[i * 6 + j] = 0;
            for (int k = 0; k < 6; k++)
                t[i * 6 + j] += fabs(wino_at[i][k]) * sum[k * 6 + j];
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            mag16[i * 4 + j] = 0;
            for (int k = 0; k < 6; k++)
                mag16[i * 4 + j] += t[i * 6 + k] * fabs(wino_at[j][k]);
        }
}

/* Winograd against the direct double sum, `chunk` tiles and `kb` output channels at a time
 * (0: the kernel's choice). The bound: f32 rounding of the transforms and the channel sums,
 * relative to the tile magnitude, also when the precision setting is bf16 (Winograd keeps
 * fp32 products then unless sdc_winograd_bf16_set), plus `operand_rel` times the tile
 * magnitude for operands rounded before their products. */
static void check_winograd_rel(int B, int C, int K, int H, int W, sdc_dtype dtype, int chunk,
                               int kb, double operand_rel)
{
    float *x = random_floats((size_t)B * C * H * W, 1.0f), *bias = random_floats(K, 1.0f);
    float *wref = malloc((size_t)K * C * 9 * sizeof(float));
    float *y = malloc((size_t)B * K * H * W * sizeof(float));
    sdc_weight w;
    void *buf = make_weight(&w, wref, K, C * 9, dtype, 2);
    sdc_arena arena;
    sdc_arena_init(&arena);
    int th = (H + 3) / 4, tw = (W + 3) / 4;
    double *mag = malloc(sizeof(double) * 16 * th * tw); /* per tile of the current (b, co) */
    cr_assert(mag);
    double rel = (C * 9 + 64) * F32_EPS + operand_rel;
    FOR_EACH_LEVEL(lv)
    {
        int r = chunk ? sdc_conv3x3_winograd_blocked(y, x, B, C, H, W, &w, bias, &arena, chunk, kb)
                      : sdc_conv3x3_winograd(y, x, B, C, H, W, &w, bias, &arena);
        cr_assert_eq(r, 0);
        for (int b = 0; b < B; b++)
            for (int co = 0; co < K; co++) {
                const float *xb = x + (size_t)b * C * H * W;
                for (int t = 0; t < th * tw; t++)
                    winograd_magnitude(mag + 16 * t, xb, wref, C, H, W, co, t / tw, t % tw);
                for (int oy = 0; oy < H; oy++)
                    for (int ox = 0; ox < W; ox++) {
                        double want = bias[co];
                        for (int ci = 0; ci < C; ci++)
                            for (int t = 0; t < 9; t++) {
                                int iy = oy - 1 + t / 3, ix = ox - 1 + t % 3;
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                    want += (double)wref[((size_t)co * C + ci) * 9 + t] *
                                            xb[((size_t)ci * H + iy) * W + ix];
                            }
                        double tile_mag = mag[16 * (oy / 4 * tw + ox / 4) + oy % 4 * 4 + ox % 4];
                        double bound = rel * tile_mag + F32_EPS * fabs(want);
                        double got = y[(((size_t)b * K + co) * H + oy) * W + ox];
                        if (!close_to(got, want, bound))
                            cr_assert_fail("%s winograd %s C%d K%d %dx%d: y[%d,%d,%d,%d] = %.9g, "
                                           "want %.9g (bound %.3g)",
                                           sdc_cpu_level_name((sdc_cpu_level)lv),
                                           sdc_dtype_name(dtype), C, K, H, W, b, co, oy, ox, got,
                                           want, bound);
                    }
            }
    }
    sdc_arena_free(&arena);
    free(mag);
    free(buf);
    free(x);
    free(bias);
    free(wref);
    free(y);
}

static void check_winograd(int B, int C, int K, int H, int W, sdc_dtype dtype, int chunk, int kb)
{
    check_winograd_rel(B, C, K, H, W, dtype, chunk, kb, 0.0);
}

/* Sizes that are not multiples of 4 (clipped edge tiles), a 1x1 image (all padding), batch
 * items sharing chunks, chunks that end mid-image, blocks of output channels (transformed
 * once, or again for every chunk), more than 16 channels (vector tails), and the three
 * weight dtypes. */
Test(ops, winograd_conv3x3, .fini = restore_level)
{
    check_winograd(2, 5, 17, 13, 11, SDC_DTYPE_F16, 0, 0);
    check_winograd(1, 33, 40, 37, 35, SDC_DTYPE_F32, 0, 0);
    check_winograd(1, 4, 3, 1, 1, SDC_DTYPE_BF16, 0, 0);
    check_winograd(3, 7, 9, 10, 9, SDC_DTYPE_F16, 5, 9);
    check_winograd(2, 19, 8, 8, 8, SDC_DTYPE_F32, 3, 3);
    check_winograd(1, 21, 37, 18, 21, SDC_DTYPE_F16, 1000, 16);
    /* 16 or more tiles a row: the AVX-512 input transform reads whole rows for blocks of 16
     * tiles in one row (both image edges, pixels past the 64th, batch items, chunks that
     * end mid-row) */
    check_winograd(2, 3, 5, 9, 64, SDC_DTYPE_F16, 0, 0);
    check_winograd(1, 6, 4, 7, 66, SDC_DTYPE_F32, 0, 0);
    check_winograd(2, 2, 3, 6, 130, SDC_DTYPE_F32, 40, 3);
    /* AVX2: 8 tiles side by side in one tile row, away from every image edge, are read as
     * rows (batch items, chunks that start mid-row) */
    check_winograd(2, 3, 4, 14, 75, SDC_DTYPE_F32, 0, 0);
    check_winograd(1, 5, 6, 17, 44, SDC_DTYPE_F16, 30, 6);
    /* AVX-512: the transforms write straight into the GEMM's packed blocks. More channels
     * than one K block holds (384), rows of filters past a whole tile of 14, and chunks
     * whose last panel of 32 tiles is partly or more than half empty */
    check_winograd(2, 400, 30, 18, 18, SDC_DTYPE_F16, 0, 0);
    check_winograd(2, 390, 17, 13, 11, SDC_DTYPE_F32, 20, 9);
    check_winograd(1, 800, 5, 22, 22, SDC_DTYPE_F16, 0, 0);
}

/* bf16 precision leaves Winograd's products fp32: the fp32 bound holds. */
Test(ops, winograd_conv3x3_bf16, .fini = restore_level)
{
    start_bf16_run();
    check_winograd(2, 5, 17, 13, 11, SDC_DTYPE_F16, 0, 0);
    check_winograd(1, 90, 16, 6, 5, SDC_DTYPE_F16, 0, 0);
    check_winograd(3, 7, 9, 10, 9, SDC_DTYPE_BF16, 5, 4);
}

/* bf16 products in the transform domain (sdc_winograd_bf16_set): both operands rounded to
 * bf16 (unit roundoff 2^-8 each) before exact products summed in f32, so each product term
 * is within 2 * 2^-8 + 2^-16 of its value relative to |U||V|; the tile magnitude sums exactly
 * those |U||V| through |A^T| .. |A|. The same cases as the fp32 test. */
Test(ops, winograd_conv3x3_bf16_products, .fini = restore_level)
{
    start_bf16_run();
    sdc_winograd_bf16_set(1);
    double bf16_rel = 2.0 / 256 + 1.0 / 65536;
    check_winograd_rel(2, 5, 17, 13, 11, SDC_DTYPE_F16, 0, 0, bf16_rel);
    check_winograd_rel(1, 33, 40, 37, 35, SDC_DTYPE_F32, 0, 0, bf16_rel);
    check_winograd_rel(1, 4, 3, 1, 1, SDC_DTYPE_BF16, 0, 0, bf16_rel);
    check_winograd_rel(3, 7, 9, 10, 9, SDC_DTYPE_F16, 5, 9, bf16_rel);
    check_winograd_rel(1, 90, 16, 6, 5, SDC_DTYPE_F16, 0, 0, bf16_rel);
    check_winograd_rel(1, 21, 37, 18, 21, SDC_DTYPE_F16, 1000, 16, bf16_rel);
}

/* y of sdc_conv2d for one 3x3 convolution (random data, fixed seed) under `algo`. */
static float *conv_under(sdc_conv_algo algo, int stride, const float *x, const sdc_weight *w,
                         sdc_arena *arena)
{
    int Ho = sdc_conv_out_size(13, 3, stride, 1), Wo = sdc_conv_out_size(11, 3, stride, 1);
    float *y = malloc((size_t)2 * w->rows * Ho * Wo * sizeof(float));
    cr_assert(y);
    sdc_conv_algo_set(algo);
    cr_assert_eq(sdc_conv2d(y, x, 2, 5, 13, 11, w, NULL, 3, stride, 1, arena), 0);
    return y;
}

/* sdc_conv2d takes the Winograd path exactly when the setting (or, on auto, the cost rule)
 * says so: its results are then bit-identical to the kernel called directly. */
Test(ops, conv_algo_setting, .fini = restore_level)
{
    cr_assert_eq(sdc_conv_algo_from_name("winograd"), SDC_CONV_WINOGRAD);
    cr_assert_eq(sdc_conv_algo_from_name("implicit"), SDC_CONV_IMPLICIT_GEMM);
    cr_assert_eq(sdc_conv_algo_from_name("fft"), -1);
    cr_assert(!sdc_winograd_pays(2, 1280, 1280, 8, 8), "8x8 maps are too few tiles");
    cr_assert(sdc_winograd_pays(2, 320, 320, 64, 64));
    cr_assert(sdc_winograd_pays(1, 128, 128, 512, 512), "the VAE's last level");
    cr_assert(!sdc_winograd_pays(1, 64, 64, 512, 512), "TAESD's 64 channels");
    /* 16x16 maps (16 or 32 tiles): Winograd on AVX2, implicit GEMM on AVX-512, each as
     * measured on such a machine; 8x8 on neither */
    sdc_cpu_set_max_level(SDC_CPU_AVX2);
    if (sdc_cpu_level_get() == SDC_CPU_AVX2) {
        cr_assert(sdc_winograd_pays(2, 1280, 1280, 16, 16), "AVX2: 32 tiles");
        cr_assert(sdc_winograd_pays(1, 1280, 1280, 16, 16), "AVX2: 16 tiles");
        cr_assert(!sdc_winograd_pays(2, 1280, 1280, 8, 8), "AVX2: 8 tiles");
    }
    sdc_cpu_set_max_level(SDC_CPU_AVX512);
    if (sdc_cpu_level_get() == SDC_CPU_AVX512)
        cr_assert(!sdc_winograd_pays(2, 1280, 1280, 16, 16), "AVX-512: 32 tiles");
    float *x = random_floats(2 * 5 * 13 * 11, 1.0f), wref[17 * 45];
    sdc_weight w;
    void *buf = make_weight(&w, wref, 17, 45, SDC_DTYPE_F16, 0);
    sdc_arena arena;
    sdc_arena_init(&arena);
    float *direct = malloc(sizeof(float) * 2 * 17 * 13 * 11);
    cr_assert(direct);
    cr_assert_eq(sdc_conv3x3_winograd(direct, x, 2, 5, 13, 11, &w, NULL, &arena), 0);
    float *wino = conv_under(SDC_CONV_WINOGRAD, 1, x, &w, &arena);
    float *gemm = conv_under(SDC_CONV_IMPLICIT_GEMM, 1, x, &w, &arena);
    float *auto_small = conv_under(SDC_CONV_AUTO, 1, x, &w, &arena); /* too few tiles */
    cr_assert(memcmp(wino, direct, sizeof(float) * 2 * 17 * 13 * 11) == 0);
    cr_assert(memcmp(auto_small, gemm, sizeof(float) * 2 * 17 * 13 * 11) == 0);
    cr_assert(memcmp(wino, gemm, sizeof(float) * 2 * 17 * 13 * 11) != 0,
              "the two algorithms round differently, so equal results mean one path ran twice");
    float *s2_wino = conv_under(SDC_CONV_WINOGRAD, 2, x, &w, &arena); /* stride 2: never */
    float *s2_gemm = conv_under(SDC_CONV_IMPLICIT_GEMM, 2, x, &w, &arena);
    cr_assert(memcmp(s2_wino, s2_gemm, sizeof(float) * 2 * 17 * 7 * 6) == 0);
    free(s2_wino), free(s2_gemm), free(auto_small), free(gemm), free(wino), free(direct);
    sdc_arena_free(&arena);
    free(buf);
    free(x);
}

/* ---- attention ----------------------------------------------------------------------- */

/* Attention of q [B, Tq, heads * d] (row stride qs) against k, v (row stride kvs). Values are
 * scaled up so the softmax is far from uniform and masking mistakes show. A bf16 run
 * (ops/attention_bf16.c) rounds what the kernel rounds in the reference too: q, the keys
 * times scale log2(e) (an f32 product, scores in base 2) and v; the probabilities' rounding
 * (relative 2^-8 each, made against a running maximum the reference does not know) is left
 * to the bound: 1.5 x 2^-8 of the largest |v| of the column. */
static void check_attention(int B, int heads, int Tq, int Tk, int d, int causal, int qs, int kvs)
{
    size_t nq = (size_t)B * Tq * qs, nkv = (size_t)B * Tk * kvs;
    float *q = random_floats(nq, 1.0f), *k = random_floats(nkv, 1.0f), *v = random_floats(nkv, 1.0f);
    float *out = malloc((size_t)B * Tq * heads * d * sizeof(float));
    double *score = malloc((size_t)Tk * sizeof(double));
    for (size_t i = 0; i < nq; i++)
        q[i] *= 3;
    float scale = 1.0f / sqrtf((float)d);
    float kscale = bf16_run ? scale * 1.44269504f : scale; /* the kernel's f32 key scale */
    double to_e = bf16_run ? M_LN2 : 1.0;                  /* base-2 scores back to base e */
    FOR_EACH_LEVEL(lv)
    {
        sdc_attention(out, q, qs, k, v, kvs, B, heads, Tq, Tk, d, scale, causal);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < Tq; i++) {
                    const float *qi = q + ((size_t)b * Tq + i) * qs + h * d;
                    int keys = causal ? (i + 1 < Tk ? i + 1 : Tk) : Tk;
                    double mx = -INFINITY, sum = 0;
                    for (int j = 0; j < keys; j++) {
                        const float *kj = k + ((size_t)b * Tk + j) * kvs + h * d;
                        double s = 0;
                        for (int c = 0; c < d; c++)
                            s += bf16_run ? in(qi[c]) * in(kscale * kj[c])
                                          : (double)qi[c] * kj[c];
                        score[j] = bf16_run ? s * to_e : s * scale;
                        mx = score[j] > mx ? score[j] : mx;
                    }
                    for (int j = 0; j < keys; j++)
                        sum += score[j] = exp(score[j] - mx);
                    for (int c = 0; c < d; c++) {
                        double want = 0, vmax = 0;
                        for (int j = 0; j < keys; j++) {
                            double vj = in(v[((size_t)b * Tk + j) * kvs + h * d + c]);
                            want += score[j] / sum * vj;
                            vmax = fabs(vj) > vmax ? fabs(vj) : vmax;
                        }
                        double got = out[((size_t)b * Tq + i) * heads * d + h * d + c];
                        double p_round = bf16_run ? 1.5 * 0x1p-8 * vmax : 0;
                        if (!close_to(got, want, 1e-5 * (1 + d / 16.0) + p_round))
                            cr_assert_fail("%s attention B%d H%d %dx%d d%d%s: out[%d,%d,%d,%d] "
                                           "= %g, want %g",
                                           sdc_cpu_level_name((sdc_cpu_level)lv), B, heads, Tq,
                                           Tk, d, causal ? " causal" : "", b, i, h, c, got, want);
                    }
                }
    }
    free(q);
    free(k);
    free(v);
    free(out);
    free(score);
}

Test(ops, attention_self_and_cross, .fini = restore_level)
{
    check_attention(2, 3, 37, 77, 40, 0, 3 * 40, 3 * 40);
    check_attention(1, 2, 70, 70, 64, 0, 2 * 64 + 5, 3 * 64);
    check_attention(2, 1, 5, 300, 160, 0, 160, 160);
    check_attention(1, 1, 130, 129, 80, 0, 80, 81);
    check_attention(1, 2, 3, 1, 8, 0, 16, 16);
}

Test(ops, attention_causal, .fini = restore_level)
{
    check_attention(2, 2, 77, 77, 64, 1, 128, 128);
    check_attention(1, 1, 33, 33, 8, 1, 8, 8);
    check_attention(1, 3, 9, 20, 24, 1, 3 * 24 + 1, 3 * 24 + 2);
    check_attention(1, 2, 300, 300, 40, 1, 2 * 40, 2 * 40); /* several tiles of keys */
}

Test(ops, attention_wide_heads, .fini = restore_level)
{
    check_attention(1, 1, 9, 70, 512, 0, 512, 512);
}

/* bf16 precision: QK^T and PV in bf16 pairs, odd head sizes and key counts included. */
Test(ops, attention_bf16, .fini = restore_level)
{
    start_bf16_run();
    check_attention(2, 3, 37, 77, 40, 0, 3 * 40, 3 * 40);
    check_attention(1, 2, 70, 70, 64, 0, 2 * 64 + 5, 3 * 64);
    check_attention(2, 1, 5, 300, 160, 0, 160, 160);
    check_attention(1, 1, 130, 129, 80, 0, 80, 81);
    check_attention(1, 2, 3, 1, 8, 0, 16, 16);
    check_attention(1, 1, 20, 33, 7, 0, 7, 9);
    check_attention(2, 2, 77, 77, 64, 1, 128, 128);
    check_attention(1, 3, 9, 20, 24, 1, 3 * 24 + 1, 3 * 24 + 2);
    check_attention(1, 1, 9, 70, 512, 0, 512, 512);
}

/* ---- norms and activations ------------------------------------------------------------ */

static double gelu_ref(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }

/* |got - want| within `ulps` f32 roundings of `mag`, the size of the terms that made it (at
 * least |want|; more where they cancel). */
static void expect_near(const char *what, int lv, size_t i, double got, double want, double mag,
                        double ulps)
{
    double bound = ulps * F32_EPS * (fabs(want) + mag) + 1e-37;
    if (!close_to(got, want, bound))
        cr_assert_fail("%s %s [%zu] = %.9g, want %.9g", sdc_cpu_level_name((sdc_cpu_level)lv),
                       what, i, got, want);
}

Test(ops, group_norm_with_and_without_silu, .fini = restore_level)
{
    enum { B = 2, C = 12, HW = 37, G = 3 };
    size_t n = (size_t)B * C * HW;
    float *x = random_floats(n, 1.0f), *gamma = random_floats(C, 1.0f), *beta = random_floats(C, 1.0f);
    float *y = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = 3 * x[i] + 0.5f; /* a mean away from 0 */
    for (int silu = 0; silu <= 1; silu++)
        FOR_EACH_LEVEL(lv)
        {
            sdc_group_norm(y, x, B, C, HW, G, gamma, beta, 1e-5f, silu);
            int cpg = C / G;
            for (int b = 0; b < B; b++)
                for (int g = 0; g < G; g++) {
                    const float *xg = x + ((size_t)b * C + g * cpg) * HW;
                    double sum = 0, sq = 0, m = cpg * HW;
                    for (int i = 0; i < cpg * HW; i++)
                        sum += xg[i];
                    for (int i = 0; i < cpg * HW; i++)
                        sq += (xg[i] - sum / m) * (xg[i] - sum / m);
                    double inv = 1 / sqrt(sq / m + 1e-5);
                    for (int i = 0; i < cpg * HW; i++) {
                        int c = g * cpg + i / HW;
                        double v = (xg[i] - sum / m) * inv * gamma[c] + beta[c];
                        double mag = fabs((xg[i] - sum / m) * inv * gamma[c]) + fabs(beta[c]);
                        if (silu)
                            v = v / (1 + exp(-v));
                        size_t at = ((size_t)b * C + g * cpg) * HW + i;
                        expect_near(silu ? "group_norm+silu" : "group_norm", lv, at, y[at], v,
                                    mag, 64);
                    }
                }
        }
    free(x);
    free(gamma);
    free(beta);
    free(y);
}

Test(ops, layer_norm, .fini = restore_level)
{
    enum { ROWS = 9, DIM = 77 };
    float *x = random_floats(ROWS * DIM, 1.0f), *gamma = random_floats(DIM, 1.0f), *beta = random_floats(DIM, 1.0f);
    float *y = malloc(ROWS * DIM * sizeof(float));
    FOR_EACH_LEVEL(lv)
    {
        sdc_layer_norm(y, x, ROWS, DIM, gamma, beta, 1e-5f);
        for (int r = 0; r < ROWS; r++) {
            double sum = 0, sq = 0;
            for (int i = 0; i < DIM; i++)
                sum += x[r * DIM + i];
            for (int i = 0; i < DIM; i++)
                sq += (x[r * DIM + i] - sum / DIM) * (x[r * DIM + i] - sum / DIM);
            for (int i = 0; i < DIM; i++) {
                double t = (x[r * DIM + i] - sum / DIM) / sqrt(sq / DIM + 1e-5) * gamma[i];
                expect_near("layer_norm", lv, (size_t)r * DIM + i, y[r * DIM + i], t + beta[i],
                            fabs(t) + fabs(beta[i]), 64);
            }
        }
    }
    free(x);
    free(gamma);
    free(beta);
    free(y);
}

/* Inputs over [-12, 12] plus the extremes, so every branch of the approximations runs. */
static float *activation_inputs(size_t n)
{
    float *x = random_floats(n, 1.0f);
    for (size_t i = 0; i < n; i++)
        x[i] *= 12;
    x[0] = 0, x[1] = -90, x[2] = 90, x[3] = -1e-6f;
    return x;
}

Test(ops, activations, .fini = restore_level)
{
    enum { N = 1001 };
    float *x = activation_inputs(N), *y = malloc(N * sizeof(float));
    FOR_EACH_LEVEL(lv)
    {
        memcpy(y, x, sizeof(float) * N);
        sdc_silu(y, N);
        for (size_t i = 0; i < N; i++)
            expect_near("silu", lv, i, y[i], x[i] / (1 + exp(-(double)x[i])), 0, 8);
        /* the rounding of 1.702 x shows as a relative error of up to |1.702 x| ulps */
        memcpy(y, x, sizeof(float) * N);
        sdc_quick_gelu(y, N);
        for (size_t i = 0; i < N; i++) {
            double want = x[i] / (1 + exp(-1.702 * x[i]));
            expect_near("quick_gelu", lv, i, y[i], want, fabs(want * 1.702 * x[i]), 8);
        }
        memcpy(y, x, sizeof(float) * N);
        sdc_gelu(y, N);
        for (size_t i = 0; i < N; i++) /* erf is good to 1.5e-7 absolute */
            cr_assert(close_to(y[i], gelu_ref(x[i]), 8 * F32_EPS * fabs(gelu_ref(x[i])) +
                                                         2e-7 * fabs(x[i]) + 1e-30),
                      "%s gelu(%g) = %g", sdc_cpu_level_name((sdc_cpu_level)lv), x[i], y[i]);
    }
    free(x);
    free(y);
}

Test(ops, geglu, .fini = restore_level)
{
    enum { ROWS = 7, N = 45 };
    float *x = activation_inputs(ROWS * 2 * N), *y = malloc(ROWS * N * sizeof(float));
    FOR_EACH_LEVEL(lv)
    {
        sdc_geglu(y, x, ROWS, N);
        for (int r = 0; r < ROWS; r++)
            for (int i = 0; i < N; i++) {
                double a = x[r * 2 * N + i], g = x[r * 2 * N + N + i], want = a * gelu_ref(g);
                cr_assert(close_to(y[r * N + i], want, 8 * F32_EPS * fabs(want) +
                                                           2e-7 * fabs(a * g) + 1e-30),
                          "%s geglu[%d,%d] = %g, want %g", sdc_cpu_level_name((sdc_cpu_level)lv),
                          r, i, y[r * N + i], want);
            }
    }
    free(x);
    free(y);
}

Test(ops, softmax_rows, .fini = restore_level)
{
    enum { ROWS = 5, N = 133 };
    float *x = random_floats(ROWS * N, 1.0f), *y = malloc(ROWS * N * sizeof(float));
    for (int i = 0; i < ROWS * N; i++)
        x[i] *= 20;
    FOR_EACH_LEVEL(lv)
    {
        memcpy(y, x, sizeof(float) * ROWS * N);
        sdc_softmax_rows(y, ROWS, N);
        for (int r = 0; r < ROWS; r++) {
            double mx = -INFINITY, sum = 0;
            for (int i = 0; i < N; i++)
                mx = x[r * N + i] > mx ? x[r * N + i] : mx;
            for (int i = 0; i < N; i++)
                sum += exp(x[r * N + i] - mx);
            for (int i = 0; i < N; i++)
                expect_near("softmax", lv, (size_t)r * N + i, y[r * N + i],
                            exp(x[r * N + i] - mx) / sum, 0, 16);
        }
    }
    free(x);
    free(y);
}
