/* vae/band.c: convolutions in place and after a nearest 2x upsample, a band of rows at a
 * time, against the whole convolution into a separate buffer: bit-identical, with fewer,
 * as many and more output channels than input channels, a batch of 2, heights that are not
 * multiples of the band, and both convolution algorithms. */
#include <criterion/criterion.h>
#include <string.h>

#include "ops/nn.h"
#include "ops/winograd.h"
#include "vae/band.h"

#define TEST_RNG_SEED 777
#include "test_random.h"

static void restore(void) { sdc_conv_algo_set(SDC_CONV_AUTO); }

typedef struct case_data {
    sdc_layer l;
    float *w, *x;
} case_data;

static case_data make_case(int B, int C, int K, int H, int W)
{
    case_data d = {.w = random_floats((size_t)K * C * 9, 0.5f)};
    d.l = (sdc_layer){.w = {.rows = K, .cols = C * 9, .dtype = SDC_DTYPE_F32, .data = d.w},
                      .bias = random_floats(K, 1.0f), .in = C, .k = 3};
    d.x = random_floats((size_t)B * C * H * W, 1.0f);
    return d;
}

static void free_case(case_data *d) { free(d->x), free(d->l.bias), free(d->w); }

static void check_in_place(int B, int C, int K, int H, int W, int R)
{
    case_data d = make_case(B, C, K, H, W);
    size_t n = (size_t)B * K * H * W, cap = (size_t)B * (C > K ? C : K) * H * W;
    float *want = malloc(n * sizeof *want), *buf = malloc(cap * sizeof *buf);
    cr_assert(want && buf);
    memcpy(buf, d.x, (size_t)B * C * H * W * sizeof *buf);
    sdc_arena arena;
    sdc_arena_init(&arena);
    sdc_vae_pass p = {&arena, B};
    cr_assert_eq(sdc_vae_conv(&d.l, &p, want, d.x, H, W, 1, 1), SDC_OK);
    cr_assert_eq(sdc_vae_conv_in_place_rows(&d.l, &p, buf, H, W, R), SDC_OK);
    cr_assert(memcmp(buf, want, n * sizeof *buf) == 0, "in place %s C%d K%d %dx%d, bands of %d",
              sdc_conv_algo_name(sdc_conv_algo_get()), C, K, H, W, R);
    sdc_arena_free(&arena);
    free(buf), free(want);
    free_case(&d);
}

static void check_upsampled(int B, int C, int K, int h, int w, int R)
{
    case_data d = make_case(B, C, K, h, w);
    size_t n = (size_t)B * K * 4 * h * w;
    float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    float *u = malloc((size_t)B * C * 4 * h * w * sizeof *u);
    cr_assert(want && got && u);
    sdc_arena arena;
    sdc_arena_init(&arena);
    sdc_vae_pass p = {&arena, B};
    sdc_upsample_nearest(u, d.x, B, C, h, w, 2 * h, 2 * w);
    cr_assert_eq(sdc_vae_conv(&d.l, &p, want, u, 2 * h, 2 * w, 1, 1), SDC_OK);
    cr_assert_eq(sdc_vae_conv_upsampled_rows(&d.l, &p, got, d.x, h, w, R), SDC_OK);
    cr_assert(memcmp(got, want, n * sizeof *got) == 0, "upsampled %s C%d K%d %dx%d, bands of %d",
              sdc_conv_algo_name(sdc_conv_algo_get()), C, K, h, w, R);
    sdc_arena_free(&arena);
    free(u), free(got), free(want);
    free_case(&d);
}

static void all_cases(void)
{
    int shapes[][2] = {{6, 4}, {4, 6}, {5, 5}};
    for (int i = 0; i < 3; i++)
        for (int R = 4; R <= 16; R += 12) {
            check_in_place(2, shapes[i][0], shapes[i][1], 13, 9, R);
            check_in_place(1, shapes[i][0], shapes[i][1], 16, 20, R);
            check_upsampled(2, shapes[i][0], shapes[i][1], 7, 5, R);
        }
}

Test(vae_band, implicit, .fini = restore)
{
    sdc_conv_algo_set(SDC_CONV_IMPLICIT_GEMM);
    all_cases();
}

Test(vae_band, winograd, .fini = restore)
{
    sdc_conv_algo_set(SDC_CONV_WINOGRAD);
    all_cases();
}
