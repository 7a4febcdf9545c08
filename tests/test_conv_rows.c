/* sdc_conv3x3_rows: output rows of a 3x3 convolution by bands, against the rows of the
 * whole convolution. Bit-identical (bands start at multiples of 4, as Winograd's tiles do),
 * at every CPU level, for both algorithms, and reading nothing of x but the band and its
 * halo: from x whole with its other rows poisoned with NaN, and from a window of x. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/arena.h"
#include "ops/cpu.h"
#include "ops/nn.h"
#include "ops/winograd.h"

#define TEST_RNG_SEED 4242
#include "test_random.h"

static void restore(void)
{
    sdc_cpu_set_max_level(SDC_CPU_AVX512);
    sdc_conv_algo_set(SDC_CONV_AUTO);
}

/* Rows lo .. hi - 1 of every plane of x [planes, H, W], as [planes, hi - lo, W]. */
static float *window(const float *x, int planes, int H, int W, int lo, int hi)
{
    size_t row = (size_t)W, n = (size_t)(hi - lo) * row;
    float *p = malloc((size_t)planes * n * sizeof *p);
    cr_assert(p);
    for (int c = 0; c < planes; c++)
        memcpy(p + c * n, x + ((size_t)c * H + lo) * row, n * sizeof *p);
    return p;
}

/* x with every row outside [lo, hi) of every plane set to NaN. */
static float *poisoned(const float *x, int planes, int H, int W, int lo, int hi)
{
    size_t n = (size_t)planes * H * W;
    float *p = malloc(n * sizeof *p);
    cr_assert(p);
    memcpy(p, x, n * sizeof *p);
    for (int c = 0; c < planes; c++)
        for (int r = 0; r < H; r++)
            if (r < lo || r >= hi)
                for (int j = 0; j < W; j++)
                    p[((size_t)c * H + r) * W + j] = NAN;
    return p;
}

/* rows rows from row0 of the convolution, from x whole (its other rows poisoned) and from
 * a window holding just the rows they read, against want [B * K, H, W]. */
static void check_rows(const float *x, int B, int C, int H, int W, int row0, int rows,
                       const sdc_weight *w, const float *bias, const float *want,
                       sdc_arena *arena, const char *what)
{
    int K = w->rows, lo = row0 > 0 ? row0 - 1 : 0, hi = row0 + (rows + 3) / 4 * 4 + 1;
    hi = hi < H ? hi : H;
    float *y = malloc((size_t)B * K * rows * W * sizeof(float));
    float *whole = poisoned(x, B * C, H, W, lo, hi), *part = window(x, B * C, H, W, lo, hi);
    cr_assert(y);
    sdc_conv_window full = {H, 0, H, row0, rows}, win = {H, lo, hi - lo, row0, rows};
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(sdc_conv3x3_rows(y, pass ? part : whole, B, C, W, pass ? &win : &full, w,
                                      bias, arena), 0);
        for (int p = 0; p < B * K; p++)
            cr_assert(memcmp(y + (size_t)p * rows * W, want + ((size_t)p * H + row0) * W,
                             (size_t)rows * W * sizeof(float)) == 0,
                      "%s C%d K%d %dx%d: rows %d..%d of plane %d differ (x %s)", what, C, K,
                      H, W, row0, row0 + rows - 1, p, pass ? "a window" : "whole");
    }
    free(part), free(whole), free(y);
}

/* Every band of `band` rows (the last one shorter) against the whole convolution. */
static void check_bands(int B, int C, int K, int H, int W, int band, sdc_conv_algo algo)
{
    float *x = random_floats((size_t)B * C * H * W, 1.0f), *bias = random_floats(K, 1.0f);
    float *wv = random_floats((size_t)K * C * 9, 0.5f);
    sdc_weight w = {.rows = K, .cols = C * 9, .dtype = SDC_DTYPE_F32, .data = wv};
    size_t plane = (size_t)H * W;
    float *whole = malloc((size_t)B * K * plane * sizeof(float));
    cr_assert(whole);
    sdc_arena arena;
    sdc_arena_init(&arena);
    sdc_conv_algo_set(algo);
    for (int lv = SDC_CPU_SCALAR; lv <= (int)sdc_cpu_detect(); lv++) {
        sdc_cpu_set_max_level((sdc_cpu_level)lv);
        cr_assert_eq(sdc_conv2d(whole, x, B, C, H, W, &w, bias, 3, 1, 1, &arena), 0);
        char what[64];
        snprintf(what, sizeof what, "%s %s", sdc_cpu_level_name((sdc_cpu_level)lv),
                 sdc_conv_algo_name(algo));
        for (int r0 = 0; r0 < H; r0 += band)
            check_rows(x, B, C, H, W, r0, H - r0 < band ? H - r0 : band, &w, bias, whole, &arena,
                       what);
    }
    sdc_arena_free(&arena);
    free(whole), free(wv), free(bias), free(x);
}

Test(conv_rows, winograd_bands, .fini = restore)
{
    check_bands(2, 5, 17, 13, 11, 4, SDC_CONV_WINOGRAD);
    check_bands(1, 19, 7, 30, 37, 8, SDC_CONV_WINOGRAD); /* 16-tile row blocks */
    check_bands(2, 3, 4, 9, 70, 12, SDC_CONV_WINOGRAD);
}

Test(conv_rows, implicit_bands, .fini = restore)
{
    check_bands(2, 5, 17, 13, 11, 4, SDC_CONV_IMPLICIT_GEMM);
    check_bands(1, 19, 7, 30, 37, 8, SDC_CONV_IMPLICIT_GEMM);
}

Test(conv_rows, auto_bands, .fini = restore)
{
    check_bands(1, 128, 16, 48, 48, 16, SDC_CONV_AUTO); /* Winograd pays here */
    check_bands(1, 8, 8, 12, 12, 4, SDC_CONV_AUTO);     /* and not here */
}

/* Band heights: multiples of 4 (or the whole height), at least one tile row. */
Test(conv_rows, band_rows, .fini = restore)
{
    int cases[][5] = {{1, 256, 128, 512, 512}, {1, 512, 512, 256, 256}, {2, 8, 8, 30, 30},
                      {1, 128, 128, 6, 4096}, {4, 320, 320, 64, 64}};
    for (int i = 0; i < 5; i++) {
        int *c = cases[i], H = c[3];
        int rows = sdc_conv3x3_band_rows(c[0], c[1], c[2], H, c[4]);
        cr_assert(rows >= 1 && rows <= H && (rows % 4 == 0 || rows == H),
                  "case %d: %d rows of %d", i, rows, H);
    }
}
