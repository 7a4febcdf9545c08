/* FreeU: the Fourier filter against a naive double-precision DFT, and the whole UNet with
 * FreeU against golden/unet/tiny-sd1_freeu.safetensors (diffusers enable_freeu). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/golden.h"
#include "unet/unet.h"

#define CASE "freeu.tiny-sd1"

/* The reference definition: X = DFT2(x); X[ky, kx] *= s for ky in {0, -1}, kx in {0, -1};
 * y = Re(IDFT2(X)). */
static void naive_filter(double *y, const float *x, int H, int W, double s)
{
    size_t n = (size_t)H * W;
    double *re = calloc(n, sizeof *re), *im = calloc(n, sizeof *im);
    cr_assert(re && im);
    for (int ky = 0; ky < H; ky++)
        for (int kx = 0; kx < W; kx++) {
            double sr = 0, si = 0;
            for (int yy = 0; yy < H; yy++)
                for (int xx = 0; xx < W; xx++) {
                    double a = -2 * M_PI * ((double)ky * yy / H + (double)kx * xx / W);
                    sr += x[yy * W + xx] * cos(a);
                    si += x[yy * W + xx] * sin(a);
                }
            int low = (ky == 0 || ky == H - 1) && (kx == 0 || kx == W - 1);
            re[ky * W + kx] = low ? sr * s : sr;
            im[ky * W + kx] = low ? si * s : si;
        }
    for (int yy = 0; yy < H; yy++)
        for (int xx = 0; xx < W; xx++) {
            double sum = 0;
            for (int ky = 0; ky < H; ky++)
                for (int kx = 0; kx < W; kx++) {
                    double a = 2 * M_PI * ((double)ky * yy / H + (double)kx * xx / W);
                    sum += re[ky * W + kx] * cos(a) - im[ky * W + kx] * sin(a);
                }
            y[yy * W + xx] = sum / (double)n;
        }
    free(re), free(im);
}

Test(freeu, fourier_filter_matches_naive_dft)
{
    static const int sizes[][2] = {{4, 3}, {8, 6}, {5, 7}, {1, 1}, {2, 2}, {1, 4}, {16, 16}};
    sdc_freeu f = {0};
    unsigned seed = 1;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int H = sizes[k][0], W = sizes[k][1], planes = 3;
        size_t n = (size_t)H * W;
        float *x = malloc(planes * n * sizeof *x);
        double *want = malloc(n * sizeof *want);
        cr_assert(x && want);
        for (size_t i = 0; i < planes * n; i++)
            x[i] = (float)(rand_r(&seed) % 2001 - 1000) / 500.0f;
        float *orig = malloc(planes * n * sizeof *orig);
        cr_assert(orig);
        memcpy(orig, x, planes * n * sizeof *x);
        cr_assert_eq(sdc_freeu_fourier_filter(&f, x, planes, H, W, 0.3f), SDC_OK);
        for (int c = 0; c < planes; c++) {
            naive_filter(want, orig + c * n, H, W, 0.3);
            for (size_t i = 0; i < n; i++)
                cr_expect(fabs(x[c * n + i] - want[i]) < 1e-5, "%dx%d plane %d [%zu]: %g vs %g",
                          H, W, c, i, x[c * n + i], want[i]);
        }
        free(x), free(want), free(orig);
    }
    /* the plans are reused, and more sizes than the cache holds still work */
    cr_expect_leq(f.n_plans, SDC_FREEU_MAX_PLANS);
    sdc_freeu_free(&f);
}

Test(freeu, scale_one_is_identity)
{
    sdc_freeu f = {0};
    float x[4 * 3 * 2], orig[4 * 3 * 2];
    for (int i = 0; i < 24; i++)
        x[i] = orig[i] = (float)i - 7.5f;
    cr_assert_eq(sdc_freeu_fourier_filter(&f, x, 2, 4, 3, 1.0f), SDC_OK);
    for (int i = 0; i < 24; i++)
        cr_expect(fabsf(x[i] - orig[i]) < 1e-5f, "[%d] %g vs %g", i, x[i], orig[i]);
    sdc_freeu_free(&f);
}

Test(freeu, tiny_sd1_golden)
{
    sdc_safetensors *st = golden_open("unet/tiny-sd1_freeu.safetensors");
    const sdc_st_entry *x_e = golden_get(st, "x"), *ctx_e = golden_get(st, "context");
    const sdc_st_entry *plain = golden_get(st, "out_plain"), *with = golden_get(st, "out_freeu");
    sdc_checkpoint *ck;
    sdc_unet *u;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_unet_load(ck, &u), SDC_OK, "%s", sdc_last_error());
    int B = (int)x_e->tensor.shape[0], h = (int)x_e->tensor.shape[2],
        w = (int)x_e->tensor.shape[3], T = (int)ctx_e->tensor.shape[1];
    size_t n = (size_t)sdc_tensor_numel(&plain->tensor);
    float *x = golden_f32(x_e), *ctx = golden_f32(ctx_e), *out = malloc(n * sizeof *out);
    float *out_plain = golden_f32(plain);
    cr_assert(out);
    const sdc_unet_cond cond = {.context = ctx, .tokens = T};
    const sdc_freeu_params params = {.b1 = 1.2f, .b2 = 1.4f, .s1 = 0.9f, .s2 = 0.2f};

    cr_assert_eq(sdc_unet_forward(u, x, B, h, w, 250.0f, &cond, out), SDC_OK);
    expect_close(out, plain, golden_tol(CASE, "out_plain"), "without FreeU");
    sdc_unet_set_freeu(u, &params);
    for (int pass = 0; pass < 2; pass++) { /* the second pass reuses the plans */
        cr_assert_eq(sdc_unet_forward(u, x, B, h, w, 250.0f, &cond, out), SDC_OK);
        double d = expect_close(out, with, golden_tol(CASE, "out_freeu"), "with FreeU");
        cr_log_info("freeu pass %d: max |diff| %.3g", pass, d);
    }
    /* FreeU must actually change the output, far beyond the tolerance */
    cr_expect_gt(max_abs_diff(out, out_plain, n), 100 * golden_tol(CASE, "out_freeu"));
    sdc_unet_set_freeu(u, NULL);
    cr_assert_eq(sdc_unet_forward(u, x, B, h, w, 250.0f, &cond, out), SDC_OK);
    expect_close(out, plain, golden_tol(CASE, "out_plain"), "FreeU disabled again");
    const sdc_freeu_params zero_s2 = {.b1 = 1.2f, .b2 = 1.4f, .s1 = 0.9f, .s2 = 0.0f};
    sdc_unet_set_freeu(u, &zero_s2);
    cr_assert_eq(sdc_unet_forward(u, x, B, h, w, 250.0f, &cond, out), SDC_OK);
    expect_close(out, plain, golden_tol(CASE, "out_plain"), "a zero factor disables FreeU");

    free(x), free(ctx), free(out), free(out_plain);
    sdc_unet_free(u);
    sdc_checkpoint_close(ck);
    sdc_safetensors_close(st);
}
