/* The quantisers of `sdc convert --type` (ops/quantize.c, ops/quantize_k.c) checked without
 * ggml: what each type's algorithm guarantees (q8_0 requantises its own expansion to the
 * same blocks; the symmetric types never flip a sign; all-zero rows stay zero), error bounds
 * per type on Gaussian rows, and the round trip of the demo model through the GGUF writer and
 * reader. Byte identity with ggml's own quantisers was checked outside the repository
 * (docs/gguf.md). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/dtype.h"
#include "ops/quant.h"
#include "ops/quantize.h"
#include "tests/golden.h"
#include "weights/gguf.h"
#include "weights/safetensors.h"

enum { N = 1024 };

/* Every type `sdc convert` writes, and the largest relative RMS error (|x - x'| / |x| over a
 * row) of a Gaussian row: about 1.25 times the worst of 300 rows. */
static const struct {
    uint32_t id;
    double max_rel_rmse;
    int symmetric; /* levels centred on zero: x' = d (L - c) */
} types[] = {
    {SDC_QTYPE_Q8_0, 0.0075, 1}, {SDC_QTYPE_Q4_0, 0.11, 1}, {SDC_QTYPE_Q4_1, 0.095, 0},
    {SDC_QTYPE_Q5_0, 0.057, 1},  {SDC_QTYPE_Q5_1, 0.045, 0}, {SDC_QTYPE_Q2_K, 0.36, 0},
    {SDC_QTYPE_Q3_K, 0.19, 1},   {SDC_QTYPE_Q4_K, 0.095, 0}, {SDC_QTYPE_Q5_K, 0.05, 0},
    {SDC_QTYPE_Q6_K, 0.03, 1},
};
enum { NTYPES = sizeof types / sizeof *types };

static uint64_t state = 0x9e3779b97f4a7c15ull;

static float uniform(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (float)((double)(state >> 40) / 16777216.0);
}

static void gaussian_row(float *x, int n, float scale)
{
    for (int i = 0; i < n; i++) {
        float u = uniform() + 1e-7f, v = uniform();
        x[i] = scale * sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
    }
}

/* Quantises x and expands the blocks again; returns the bytes written. */
static size_t round_trip(uint32_t id, const float *x, int n, uint8_t *blocks, float *y)
{
    const sdc_qtype_info *q = sdc_qtype_get(id);
    cr_assert_eq(sdc_quantize_row(id, x, (size_t)n, blocks), 0, "%s", q->name);
    q->expand(blocks, y, (size_t)(n / q->block));
    return (size_t)(n / q->block * q->block_bytes);
}

Test(quantize, every_written_type_is_supported)
{
    for (int t = 0; t < NTYPES; t++)
        cr_expect(sdc_quantize_supported(types[t].id), "%s", sdc_qtype_name(types[t].id));
    cr_expect(!sdc_quantize_supported(SDC_QTYPE_F16));
    cr_expect(!sdc_quantize_supported(15)); /* q8_K: read by nobody */
    float x[256] = {0};
    uint8_t b[512];
    cr_expect_eq(sdc_quantize_row(SDC_QTYPE_F16, x, 256, b), -1);
}

Test(quantize, errors_stay_within_each_types_bound)
{
    static float x[N], y[N];
    static uint8_t b[N * 2];
    for (int t = 0; t < NTYPES; t++)
        for (int r = 0; r < 40; r++) {
            gaussian_row(x, N, powf(10.0f, (float)(r % 7 - 3)));
            round_trip(types[t].id, x, N, b, y);
            double e2 = 0, x2 = 0;
            for (int i = 0; i < N; i++) {
                e2 += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
                x2 += (double)x[i] * x[i];
            }
            cr_expect(sqrt(e2 / x2) <= types[t].max_rel_rmse, "%s row %d: relative error %g",
                      sdc_qtype_name(types[t].id), r, sqrt(e2 / x2));
        }
}

Test(quantize, symmetric_types_keep_every_sign)
{
    static float x[N], y[N];
    static uint8_t b[N * 2];
    for (int t = 0; t < NTYPES; t++) {
        if (!types[t].symmetric)
            continue;
        for (int r = 0; r < 20; r++) {
            gaussian_row(x, N, 0.05f);
            round_trip(types[t].id, x, N, b, y);
            for (int i = 0; i < N; i++)
                cr_assert(x[i] * y[i] >= 0.0f, "%s: %g became %g", sdc_qtype_name(types[t].id),
                          x[i], y[i]);
        }
    }
}

Test(quantize, zero_rows_and_zero_blocks_stay_zero)
{
    static float x[N], y[N];
    static uint8_t b[N * 2];
    for (int t = 0; t < NTYPES; t++) {
        gaussian_row(x, N, 1.0f);
        memset(x, 0, N / 2 * sizeof *x); /* the first half: whole zero blocks of every type */
        round_trip(types[t].id, x, N, b, y);
        for (int i = 0; i < N / 2; i++)
            cr_assert_eq(y[i], 0.0f, "%s[%d]", sdc_qtype_name(types[t].id), i);
        memset(x, 0, sizeof x);
        round_trip(types[t].id, x, N, b, y);
        for (int i = 0; i < N; i++)
            cr_assert_eq(y[i], 0.0f, "%s[%d] of a zero row", sdc_qtype_name(types[t].id), i);
    }
}

/* q8_0's scale is amax / 127 and its largest level is +-127, so the expansion's amax / 127 is
 * the same half-precision scale and every level comes back: a fixed point. */
Test(quantize, q8_0_requantises_its_expansion_to_the_same_blocks)
{
    static float x[N], y[N], z[N];
    static uint8_t a[N * 2], b[N * 2];
    for (int r = 0; r < 50; r++) {
        gaussian_row(x, N, powf(10.0f, (float)(r % 9 - 4)));
        size_t n = round_trip(SDC_QTYPE_Q8_0, x, N, a, y);
        round_trip(SDC_QTYPE_Q8_0, y, N, b, z);
        cr_assert(memcmp(a, b, n) == 0, "row %d", r);
    }
}

/* --- through the GGUF writer and reader --- */

/* stable-diffusion.cpp's rule (docs/gguf.md): whole blocks per row and not a bias, scale,
 * embedding or time embedding. */
static int expect_quantised(const char *name, int64_t row, int block)
{
    size_t n = strlen(name);
    return row % block == 0 && !(n >= 5 && strcmp(name + n - 5, ".bias") == 0) &&
           !strstr(name, "time_embed.") && !strstr(name, "embedding");
}

/* The GGUF tensor holds the source tensor's rows quantised by sdc_quantize_row. */
static void check_tensor(const sdc_safetensors *st, const sdc_gguf_tensor *t, uint32_t type,
                         int *quantised)
{
    const sdc_st_entry *e = sdc_safetensors_find(st, t->name);
    cr_assert(e, "%s: not in the source", t->name);
    cr_assert_eq(sdc_safetensors_load(st, e->tensor.data, e->nbytes), SDC_OK);
    const sdc_qtype_info *q = sdc_qtype_get(type);
    int64_t row = t->ne[0];
    if (!expect_quantised(t->name, row, q->block)) {
        cr_expect_eq(t->type, SDC_QTYPE_F16, "%s kept", t->name);
        cr_expect(t->nbytes == e->nbytes && memcmp(t->data, e->tensor.data, e->nbytes) == 0,
                  "%s: bytes changed", t->name);
        return;
    }
    cr_assert_eq(t->type, type, "%s", t->name);
    ++*quantised;
    float *x = malloc((size_t)row * sizeof *x), *got = malloc((size_t)t->numel * sizeof *got);
    uint8_t *b = malloc((size_t)row * sizeof(float));
    cr_assert(x && got && b);
    sdc_gguf_expand(t, got);
    size_t row_bytes = (size_t)(row / q->block * q->block_bytes);
    for (int64_t r = 0; r < t->numel / row; r++) {
        sdc_convert_to_f32(x, (const uint8_t *)e->tensor.data + (size_t)(r * row) * 2,
                           SDC_DTYPE_F16, (size_t)row);
        sdc_quantize_row(type, x, (size_t)row, b);
        cr_assert(memcmp(t->data + (size_t)r * row_bytes, b, row_bytes) == 0, "%s row %lld",
                  t->name, (long long)r);
        q->expand(b, x, (size_t)(row / q->block));
        cr_assert(memcmp(got + r * row, x, (size_t)row * sizeof *x) == 0, "%s row %lld read",
                  t->name, (long long)r);
    }
    free(x);
    free(got);
    free(b);
}

static void convert_demo(const char *type)
{
    const char *in = source_path("models/demo/model.safetensors");
    char out[256];
    snprintf(out, sizeof out, "/tmp/sdc_test_quantize_%d.%s.gguf", (int)getpid(), type);
    size_t count = 0;
    cr_assert_eq(sdc_convert(in, out, type, 1, NULL, NULL, &count), SDC_OK, "%s",
                 sdc_last_error());
    sdc_safetensors *st;
    sdc_gguf *g;
    cr_assert_eq(sdc_safetensors_open(in, &st), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_gguf_open(out, &g), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_gguf_count(g), count);
    int id = sdc_qtype_from_name(type), quantised = 0;
    for (size_t i = 0; i < count; i++)
        check_tensor(st, sdc_gguf_tensor_at(g, i), (uint32_t)id, &quantised);
    cr_expect_geq(quantised, 20, "%s: %d tensors quantised", type, quantised);
    sdc_gguf_close(g);
    sdc_safetensors_close(st);
    unlink(out);
}

Test(quantize, demo_model_round_trips_as_q4_1) { convert_demo("q4_1"); }
Test(quantize, demo_model_round_trips_as_q5_0) { convert_demo("q5_0"); }
Test(quantize, demo_model_round_trips_as_q5_1) { convert_demo("q5_1"); }
Test(quantize, demo_model_round_trips_as_q2_K) { convert_demo("q2_K"); }
Test(quantize, demo_model_round_trips_as_q3_K) { convert_demo("q3_K"); }
Test(quantize, demo_model_round_trips_as_q4_K) { convert_demo("q4_K"); }
Test(quantize, demo_model_round_trips_as_q5_K) { convert_demo("q5_K"); }
Test(quantize, demo_model_round_trips_as_q6_K) { convert_demo("q6_K"); }
