/* Packed bf16 weights (ops/pack_cache.h): a layer whose weight keeps its packed copy gives
 * bit for bit the output of packing it in every call, on the call that packs and on the
 * calls that read the copy, for a convolution (the weight is the GEMM's A operand) and a
 * linear layer (the B operand), with shapes that cross K blocks and end in partial row
 * groups and panels; a weight whose data changes is packed again. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/nn.h"
#include "ops/pack_cache.h"
#include "ops/quant.h"
#include "ops/weight.h"

#define TEST_RNG_SEED 777
#include "test_random.h"

static void start(void)
{
    if (!sdc_cpu_has_bf16())
        cr_skip_test("this CPU has no AVX512_BF16");
    sdc_cpu_set_max_level(SDC_CPU_AVX512);
    sdc_precision_set(SDC_PRECISION_BF16);
}

static void finish(void) { sdc_precision_set(SDC_PRECISION_FP32); }

/* An owned f16 weight [rows, cols] of random values. */
static sdc_weight f16_weight(int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    uint16_t *h = malloc(n * sizeof *h);
    cr_assert(h);
    for (size_t i = 0; i < n; i++)
        h[i] = sdc_f32_to_f16(frand());
    return (sdc_weight){.rows = rows, .cols = cols, .dtype = SDC_DTYPE_F16, .data = h,
                        .owned = h};
}

/* What the cache's release hook was given. */
static struct {
    int calls;
    const void *data;
    size_t bytes;
} released;

static void count_release(const void *ctx, const void *data, size_t bytes)
{
    cr_assert_eq(ctx, &released);
    released.calls++;
    released.data = data;
    released.bytes = bytes;
}

typedef void (*layer_fn)(float *y, const float *x, const sdc_weight *w, const float *bias);

static void linear_100x999(float *y, const float *x, const sdc_weight *w, const float *bias)
{
    sdc_linear(y, x, 37, w, bias);
}

static void conv_3x3(float *y, const float *x, const sdc_weight *w, const float *bias)
{
    cr_assert_eq(sdc_conv2d(y, x, 2, 150, 9, 11, w, bias, 3, 1, 1, NULL), 0);
}

/* The layer with a packed copy (made by the first call, read by the next two) against the
 * layer without one; then a change of the weight's values, which the cache must notice. */
static void check_layer(layer_fn layer, sdc_weight w, size_t x_len, size_t y_len)
{
    float *x = random_floats(x_len, 1.0f), *bias = random_floats((size_t)w.rows, 0.5f);
    float *want = malloc(y_len * sizeof(float)), *got = malloc(y_len * sizeof(float));
    cr_assert(want && got);
    layer(want, x, &w, bias);
    released.calls = 0;
    cr_assert_eq(sdc_weight_pack_enable(&w, count_release, &released), 0);
    cr_assert_not(sdc_weight_packed(&w));
    for (int call = 0; call < 3; call++) {
        memset(got, 0xff, y_len * sizeof(float));
        layer(got, x, &w, bias);
        cr_assert(sdc_weight_packed(&w), "call %d left no packed copy", call);
        cr_assert_eq(memcmp(got, want, y_len * sizeof(float)), 0,
                     "call %d: the packed copy's output differs", call);
    }
    cr_assert_geq(sdc_pack_cache_bytes(), (size_t)w.rows * w.cols * 2);
    /* the source's pages were offered for release once, when the copy was made */
    cr_assert_eq(released.calls, 1);
    cr_assert_eq(released.data, w.data);
    cr_assert_eq(released.bytes, (size_t)w.rows * w.cols * sizeof(uint16_t));
    /* new values at a new address: packed again, and the output follows them */
    sdc_weight fresh = f16_weight(w.rows, w.cols);
    fresh.pack = w.pack;
    w.pack = NULL;
    sdc_weight plain = fresh;
    plain.pack = NULL;
    layer(want, x, &plain, bias);
    layer(got, x, &fresh, bias);
    cr_assert_eq(memcmp(got, want, y_len * sizeof(float)), 0, "a stale packed copy was read");
    /* new values at the same address: invalidated by the one who changed them */
    uint16_t *h = fresh.owned;
    for (size_t i = 0; i < (size_t)w.rows * w.cols; i++)
        h[i] = sdc_f32_to_f16(frand());
    sdc_weight_pack_invalidate(&fresh);
    cr_assert_not(sdc_weight_packed(&fresh));
    layer(want, x, &plain, bias);
    layer(got, x, &fresh, bias);
    cr_assert_eq(memcmp(got, want, y_len * sizeof(float)), 0, "an invalidated copy was read");
    sdc_weight_free(&fresh);
    cr_assert_null(fresh.pack);
    sdc_weight_free(&w);
    cr_assert_eq(sdc_pack_cache_bytes(), 0, "packed copies outlived their weights");
    free(x);
    free(bias);
    free(want);
    free(got);
}

Test(pack_cache, linear_weight_as_b_operand, .init = start, .fini = finish)
{
    /* N = 100: a partial panel; K = 999: two K blocks, the last one odd */
    check_layer(linear_100x999, f16_weight(100, 999), (size_t)37 * 999, (size_t)37 * 100);
}

Test(pack_cache, conv_weight_as_a_operand, .init = start, .fini = finish)
{
    /* M = 70 output channels: a partial row group; K = 150 * 9: two K blocks */
    check_layer(conv_3x3, f16_weight(70, 150 * 9), (size_t)2 * 150 * 9 * 11,
                (size_t)2 * 70 * 9 * 11);
}

Test(pack_cache, fp32_precision_packs_nothing, .init = start, .fini = finish)
{
    sdc_precision_set(SDC_PRECISION_FP32);
    sdc_weight w = f16_weight(100, 999);
    float *x = random_floats((size_t)37 * 999, 1.0f), *y = malloc(sizeof(float) * 37 * 100);
    cr_assert(y);
    cr_assert_eq(sdc_weight_pack_enable(&w, NULL, NULL), 0);
    linear_100x999(y, x, &w, NULL);
    cr_assert_not(sdc_weight_packed(&w), "the fp32 kernel packed a bf16 copy");
    cr_assert_eq(sdc_pack_cache_bytes(), 0);
    sdc_weight_free(&w);
    free(x);
    free(y);
}

Test(pack_cache, quantised_weights_get_no_cache)
{
    sdc_weight w = {.rows = 1, .cols = 32, .dtype = SDC_DTYPE_F32,
                    .quant = sdc_qtype_get(8)}; /* q8_0 */
    cr_assert_not_null(w.quant);
    cr_assert_eq(sdc_weight_pack_enable(&w, NULL, NULL), 0);
    cr_assert_null(w.pack);
}
