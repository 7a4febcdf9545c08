/* SDC_PROFILE (ops/profile.h): off, nothing is counted; on, every top-level kernel call is
 * counted once under its kind, calls inside other counted calls are not counted again. Each
 * Criterion test runs in its own process, so each reads the variable afresh. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "ops/arena.h"
#include "ops/nn.h"
#include "ops/profile.h"

static float *zeros(size_t n)
{
    float *p = calloc(n, sizeof(float));
    cr_assert(p);
    return p;
}

/* One 3x3 convolution of B images [C, H, W] into C channels and one 1x1 of the same. */
static void convolve(int B, int C, int H, int W)
{
    size_t n = (size_t)B * C * H * W;
    float *x = zeros(n), *y = zeros(n), *w3 = zeros((size_t)C * C * 9);
    sdc_weight k3 = {.rows = C, .cols = C * 9, .dtype = SDC_DTYPE_F32, .data = w3};
    sdc_weight k1 = {.rows = C, .cols = C, .dtype = SDC_DTYPE_F32, .data = w3};
    sdc_arena arena;
    sdc_arena_init(&arena);
    cr_assert_eq(sdc_conv2d(y, x, B, C, H, W, &k3, NULL, 3, 1, 1, &arena), 0);
    cr_assert_eq(sdc_conv2d(y, x, B, C, H, W, &k1, NULL, 1, 1, 0, &arena), 0);
    sdc_arena_free(&arena);
    free(x);
    free(y);
    free(w3);
}

Test(profile, off_counts_nothing)
{
    unsetenv("SDC_PROFILE");
    float *x = zeros(1000);
    sdc_add(x, x, x, 1000);
    sdc_silu(x, 1000);
    free(x);
    cr_assert_not(sdc_profile_enabled());
    for (int k = 0; k < SDC_PROF_COUNT; k++)
        cr_assert_eq(sdc_profile_count((sdc_prof_kind)k, NULL, NULL), 0);
}

Test(profile, zero_is_off)
{
    setenv("SDC_PROFILE", "0", 1);
    cr_assert_not(sdc_profile_enabled());
}

Test(profile, on_counts_each_kind_once)
{
    setenv("SDC_PROFILE", "1", 1);
    cr_assert(sdc_profile_enabled());
    float *x = zeros(1 << 16), *y = zeros(1 << 16);
    sdc_add(y, x, x, 1 << 16);
    sdc_silu(y, 1 << 16);
    sdc_group_norm(y, x, 1, 32, 64, 8, x, x, 1e-5f, 1);
    /* 128 channels, 2 x 32 x 32 pixels: 128 tiles, so Winograd (sdc_winograd_pays), whose
     * GEMMs and transforms are not counted on their own */
    convolve(2, 128, 32, 32);
    free(x);
    free(y);
    double wall, cpu;
    cr_assert_eq(sdc_profile_count(SDC_PROF_MOVE, NULL, NULL), 1);
    cr_assert_eq(sdc_profile_count(SDC_PROF_ACT, NULL, NULL), 1);
    cr_assert_eq(sdc_profile_count(SDC_PROF_NORM, NULL, NULL), 1);
    cr_assert_eq(sdc_profile_count(SDC_PROF_WINOGRAD, &wall, &cpu), 1);
    cr_assert_gt(wall, 0.0);
    cr_assert_gt(cpu, 0.0);
    cr_assert_eq(sdc_profile_count(SDC_PROF_CONV1X1, NULL, NULL), 1);
    cr_assert_eq(sdc_profile_count(SDC_PROF_CONV, NULL, NULL), 0);
    cr_assert_eq(sdc_profile_count(SDC_PROF_LINEAR, NULL, NULL), 0);
    sdc_profile_reset();
    cr_assert_eq(sdc_profile_count(SDC_PROF_WINOGRAD, NULL, NULL), 0);
}

Test(profile, small_3x3_is_implicit)
{
    setenv("SDC_PROFILE", "1", 1);
    convolve(1, 16, 8, 8);
    cr_assert_eq(sdc_profile_count(SDC_PROF_CONV, NULL, NULL), 1);
    cr_assert_eq(sdc_profile_count(SDC_PROF_WINOGRAD, NULL, NULL), 0);
}

/* sdc_conv3x3_fused: one "direct conv" call where the direct kernel runs it (AVX2 or
 * better); elsewhere its passes count as the convolutions they are. */
Test(profile, fused_3x3_is_direct)
{
    setenv("SDC_PROFILE", "1", 1);
    enum { C = 16, H = 8 };
    float *x = zeros((size_t)C * H * H), *y = zeros((size_t)C * H * H);
    float *w3 = zeros((size_t)C * C * 9);
    sdc_weight k3 = {.rows = C, .cols = C * 9, .dtype = SDC_DTYPE_F32, .data = w3};
    sdc_arena arena;
    sdc_arena_init(&arena);
    cr_assert_eq(sdc_conv3x3_fused(y, x, 1, C, H, H, 0, &k3, NULL, x, 1, &arena), 0);
    sdc_arena_free(&arena);
    free(x);
    free(y);
    free(w3);
    long direct = sdc_profile_count(SDC_PROF_DIRECT, NULL, NULL);
    long convs = sdc_profile_count(SDC_PROF_CONV, NULL, NULL) +
                 sdc_profile_count(SDC_PROF_WINOGRAD, NULL, NULL);
    if (sdc_conv3x3_direct(&k3)) {
        cr_assert_eq(direct, 1);
        cr_assert_eq(convs, 0);
    } else {
        cr_assert_eq(direct, 0);
        cr_assert_eq(convs, 1);
    }
}
