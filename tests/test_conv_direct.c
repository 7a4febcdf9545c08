/* sdc_conv3x3_fused (ops/nn.h) and its direct kernels (ops/conv_direct.h): the fused
 * convolution (nearest 2x upsample, bias, residual, ReLU) against a double-precision loop
 * written here, at fp32 on every CPU level and at bf16 (inputs rounded to bf16 in the
 * reference); the AVX512_BF16 and AVX-512 f32 kernels and input copies against their scalar
 * references; odd channel counts, widths that leave partial pixel tiles, batches of two; y
 * given as x or as the residual (in place) gives the bits of a separate y.
 * Tests of instructions this CPU lacks report themselves skipped. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_direct.h"
#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/nn.h"
#include "ops/winograd.h"

#define F32_EPS 5.96e-8 /* unit roundoff */

#define TEST_RNG_SEED 777
#include "test_random.h"

static void restore(void)
{
    sdc_cpu_set_max_level(SDC_CPU_AVX512);
    sdc_precision_set(SDC_PRECISION_FP32);
    sdc_conv_algo_set(SDC_CONV_AUTO);
}

static void need_bf16(void)
{
    if (!sdc_cpu_has_bf16())
        cr_skip_test("this CPU has no AVX512_BF16");
}

/* One problem: sizes and which parts of the epilogue are on. */
typedef struct shape {
    int B, Cin, Cout, H, W, up, bias, residual, relu;
} shape;

static const shape shapes[] = {
    {1, 4, 16, 5, 7, 0, 1, 0, 1},     /* TAESD's first conv: 4 channels, ReLU */
    {2, 5, 11, 7, 13, 0, 1, 1, 1},    /* odd channels, partial tiles, a residual join */
    {1, 16, 16, 6, 9, 1, 0, 0, 0},    /* the upsampling conv: no bias */
    {1, 3, 3, 9, 40, 0, 1, 0, 0},     /* the last conv: 3 outputs, a width past one tile */
    {2, 16, 8, 4, 17, 1, 1, 1, 1},    /* everything at once, odd upsampled width */
    {1, 64, 64, 3, 33, 0, 1, 1, 1},   /* real channel counts */
};

/* Problem data; w is [Cout, Cin * 9] f32. */
typedef struct problem {
    shape s;
    int Ho, Wo;
    float *x, *w, *bias, *res;
    sdc_weight wt;
} problem;

static problem make(shape s)
{
    problem p = {.s = s, .Ho = s.up ? 2 * s.H : s.H, .Wo = s.up ? 2 * s.W : s.W};
    p.x = random_floats((size_t)s.B * s.Cin * s.H * s.W, 1.0f);
    p.w = random_floats((size_t)s.Cout * s.Cin * 9, 1.0f);
    p.bias = s.bias ? random_floats((size_t)s.Cout, 1.0f) : NULL;
    p.res = s.residual ? random_floats((size_t)s.B * s.Cout * p.Ho * p.Wo, 1.0f) : NULL;
    p.wt = (sdc_weight){.rows = s.Cout, .cols = s.Cin * 9, .dtype = SDC_DTYPE_F32, .data = p.w};
    return p;
}

static void drop(problem *p)
{
    free(p->x), free(p->w), free(p->bias), free(p->res);
}

static size_t out_size(const problem *p) { return (size_t)p->s.B * p->s.Cout * p->Ho * p->Wo; }

static double rounded(float v, int bf16) { return bf16 ? sdc_bf16_to_f32(sdc_f32_to_bf16(v)) : v; }

/* Input value at output-resolution pixel (iy, ix), 0 outside the image. */
static double input(const problem *p, int b, int c, int iy, int ix, int bf16)
{
    if (iy < 0 || iy >= p->Ho || ix < 0 || ix >= p->Wo)
        return 0.0;
    if (p->s.up)
        iy /= 2, ix /= 2;
    return rounded(p->x[(((size_t)b * p->s.Cin + c) * p->s.H + iy) * p->s.W + ix], bf16);
}

/* want = the fused convolution in double; bound = f32 summation's worst case for it. */
static void reference(const problem *p, int bf16, double *want, double *bound)
{
    const shape *s = &p->s;
    size_t i = 0;
    for (int b = 0; b < s->B; b++)
        for (int co = 0; co < s->Cout; co++)
            for (int oy = 0; oy < p->Ho; oy++)
                for (int ox = 0; ox < p->Wo; ox++, i++) {
                    double acc = 0, mag = 0;
                    for (int c = 0; c < s->Cin; c++)
                        for (int t = 0; t < 9; t++) {
                            double v = rounded(p->w[((size_t)co * s->Cin + c) * 9 + t], bf16) *
                                       input(p, b, c, oy + t / 3 - 1, ox + t % 3 - 1, bf16);
                            acc += v;
                            mag += fabs(v);
                        }
                    double extra = (p->bias ? p->bias[co] : 0) + (p->res ? p->res[i] : 0);
                    acc += extra;
                    mag += fabs(extra);
                    want[i] = s->relu && acc < 0 ? 0 : acc;
                    bound[i] = 2.0 * (s->Cin * 9 + 2) * F32_EPS * mag + 1e-30;
                }
}

static void check_shape(shape s, int bf16, const char *how)
{
    problem p = make(s);
    size_t n = out_size(&p);
    double *want = malloc(n * sizeof *want), *bound = malloc(n * sizeof *bound);
    float *y = malloc(n * sizeof *y);
    cr_assert(want && bound && y);
    reference(&p, bf16, want, bound);
    sdc_arena a;
    sdc_arena_init(&a);
    cr_assert_eq(sdc_conv3x3_fused(y, p.x, s.B, s.Cin, s.H, s.W, s.up, &p.wt, p.bias, p.res,
                                   s.relu, &a), 0);
    sdc_arena_free(&a);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !(fabs(y[i] - want[i]) <= bound[i]);
    cr_expect_eq(bad, 0, "%s: Cin %d Cout %d %dx%d up %d: %zu of %zu values off", how, s.Cin,
                 s.Cout, s.W, s.H, s.up, bad, n);
    free(want), free(bound), free(y);
    drop(&p);
}

Test(conv_direct, fused_fp32_every_level, .fini = restore)
{
    for (int lv = SDC_CPU_SCALAR; lv <= (int)sdc_cpu_detect(); lv++) {
        sdc_cpu_set_max_level((sdc_cpu_level)lv);
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            check_shape(shapes[i], 0, sdc_cpu_level_name((sdc_cpu_level)lv));
    }
}

Test(conv_direct, fused_bf16_direct, .fini = restore)
{
    need_bf16();
    sdc_precision_set(SDC_PRECISION_BF16);
    cr_assert(sdc_conv3x3_direct(&(sdc_weight){.rows = 1, .cols = 9, .dtype = SDC_DTYPE_F32}));
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        check_shape(shapes[i], 1, "bf16 direct");
}

/* Direct at AVX2 and AVX-512; a forced algorithm means that algorithm: the direct kernels
 * step aside. */
Test(conv_direct, when_direct, .fini = restore)
{
    sdc_weight w = {.rows = 1, .cols = 9, .dtype = SDC_DTYPE_F32};
    cr_expect_eq(sdc_conv3x3_direct(&w), sdc_cpu_detect() >= SDC_CPU_AVX2);
    sdc_cpu_set_max_level(SDC_CPU_SCALAR);
    cr_expect_not(sdc_conv3x3_direct(&w));
    sdc_cpu_set_max_level(SDC_CPU_AVX512);
    sdc_precision_set(SDC_PRECISION_BF16);
    sdc_conv_algo_set(SDC_CONV_IMPLICIT_GEMM);
    cr_expect_not(sdc_conv3x3_direct(&w));
    sdc_conv_algo_set(SDC_CONV_WINOGRAD);
    cr_expect_not(sdc_conv3x3_direct(&w));
}

typedef void (*pack_fn)(const sdc_conv_direct *j, uint32_t *in);
typedef void (*kernel_fn)(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp);

/* The vector input copy gives the scalar copy's bits, and the kernel the scalar kernel's
 * values (f32 sums of the same products; the bound allows another order). */
static void kernel_vs_reference(int bf16, pack_fn pack, kernel_fn kernel)
{
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        problem p = make(shapes[k]);
        const shape *s = &p.s;
        size_t n = out_size(&p);
        float *fast = malloc(n * sizeof(float)), *slow = malloc(n * sizeof(float));
        sdc_conv_direct j = {fast, p.x, p.bias, p.res, s->B, s->Cin, s->Cout, s->H, s->W,
                             s->up, s->relu, bf16, p.Ho, p.Wo, bf16 ? (s->Cin + 1) / 2 : s->Cin};
        size_t is = sdc_conv_input_slots(&j);
        uint32_t *in = malloc(is * 4), *in_ref = malloc(is * 4);
        uint32_t *wp = malloc(sdc_conv_weight_slots(&j) * 4);
        cr_assert(fast && slow && in && in_ref && wp);
        sdc_conv_pack_weights(&j, &p.wt, wp);
        sdc_conv_pack_input_ref(&j, in_ref);
        pack(&j, in);
        cr_expect_eq(memcmp(in, in_ref, is * 4), 0, "shape %zu: input copies differ", k);
        kernel(&j, in, wp);
        j.y = slow;
        sdc_conv_direct_ref(&j, in_ref, wp);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs(fast[i] - slow[i]) / (fabs(slow[i]) + 1.0);
            worst = d > worst ? d : worst;
        }
        cr_expect_leq(worst, 2.0 * (s->Cin * 9 + 2) * F32_EPS * 8, "shape %zu: %g", k, worst);
        free(fast), free(slow), free(in), free(in_ref), free(wp);
        drop(&p);
    }
}

Test(conv_direct, bf16_kernel_matches_scalar_reference, .fini = restore)
{
    need_bf16();
    kernel_vs_reference(1, sdc_conv_pack_input_bf16, sdc_conv_direct_bf16);
}

Test(conv_direct, f32_kernel_matches_scalar_reference, .fini = restore)
{
    if (sdc_cpu_detect() < SDC_CPU_AVX512)
        cr_skip_test("this CPU has no AVX-512");
    kernel_vs_reference(0, sdc_conv_pack_input_avx512, sdc_conv_direct_avx512);
}

Test(conv_direct, avx2_kernel_matches_scalar_reference, .fini = restore)
{
    if (sdc_cpu_detect() < SDC_CPU_AVX2)
        cr_skip_test("this CPU has no AVX2");
    kernel_vs_reference(0, sdc_conv_pack_input_avx2, sdc_conv_direct_avx2);
}

/* y = fused(x) with y a separate buffer, y being x (in place), and y being the residual:
 * the same bits on every path. */
static void check_aliasing(shape s, const char *how)
{
    problem p = make(s);
    size_t n = out_size(&p), nx = (size_t)s.B * s.Cin * s.H * s.W;
    float *apart = malloc(n * sizeof(float)), *same = malloc((n > nx ? n : nx) * sizeof(float));
    cr_assert(apart && same);
    sdc_arena a;
    sdc_arena_init(&a);
    cr_assert_eq(sdc_conv3x3_fused(apart, p.x, s.B, s.Cin, s.H, s.W, s.up, &p.wt, p.bias, p.res,
                                   s.relu, &a), 0);
    if (!s.up && s.Cin == s.Cout) {
        memcpy(same, p.x, nx * sizeof(float));
        cr_assert_eq(sdc_conv3x3_fused(same, same, s.B, s.Cin, s.H, s.W, 0, &p.wt, p.bias, p.res,
                                       s.relu, &a), 0);
        cr_expect_eq(memcmp(same, apart, n * sizeof(float)), 0, "%s: y = x differs", how);
    }
    if (p.res) {
        memcpy(same, p.res, n * sizeof(float));
        cr_assert_eq(sdc_conv3x3_fused(same, p.x, s.B, s.Cin, s.H, s.W, s.up, &p.wt, p.bias, same,
                                       s.relu, &a), 0);
        cr_expect_eq(memcmp(same, apart, n * sizeof(float)), 0, "%s: y = residual differs", how);
    }
    sdc_arena_free(&a);
    free(apart), free(same);
    drop(&p);
}

static const shape in_place[] = {
    {2, 5, 5, 7, 13, 0, 1, 1, 1},   /* odd channels, partial tiles */
    {1, 64, 64, 3, 33, 0, 1, 1, 1}, /* real channel counts */
    {2, 16, 8, 4, 17, 1, 1, 1, 1},  /* upsampled: only the residual can be y */
};

Test(conv_direct, in_place_every_level, .fini = restore)
{
    for (int lv = SDC_CPU_SCALAR; lv <= (int)sdc_cpu_detect(); lv++) {
        sdc_cpu_set_max_level((sdc_cpu_level)lv);
        for (size_t i = 0; i < sizeof in_place / sizeof *in_place; i++)
            check_aliasing(in_place[i], sdc_cpu_level_name((sdc_cpu_level)lv));
    }
}

Test(conv_direct, in_place_bf16_and_forced_algorithms, .fini = restore)
{
    sdc_precision_set(SDC_PRECISION_BF16);
    for (int algo = SDC_CONV_AUTO; algo <= SDC_CONV_WINOGRAD; algo++) {
        sdc_conv_algo_set((sdc_conv_algo)algo);
        for (size_t i = 0; i < sizeof in_place / sizeof *in_place; i++)
            check_aliasing(in_place[i], "bf16");
    }
}
