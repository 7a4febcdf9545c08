/* --conv-type (sdc_model_params.conv_type, pipeline/conv_quant.c): convolution kernels
 * quantised at load. The kernels compute on the blocks' exact expansion (Winograd and
 * implicit GEMM against the same weight expanded to f32), the model option quantises the
 * UNet's and VAE's kernels (the memory line counts them in their new type), changes the
 * picture a little and no more (PSNR bounds below), and bad types are refused. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/arena.h"
#include "ops/cpu.h"
#include "ops/nn.h"
#include "ops/quant.h"
#include "ops/quantize.h"
#include "ops/weight.h"
#include "ops/winograd.h"
#include "sdc.h"
#include "golden.h"

#define TEST_RNG_SEED 4242
#include "test_random.h"

static void restore(void) { sdc_conv_algo_set(SDC_CONV_AUTO); }

/* y = conv3x3 of x by w with algorithm `algo`. */
static void conv(float *y, const float *x, int B, int C, int H, int W, const sdc_weight *w,
                 const float *bias, sdc_conv_algo algo)
{
    sdc_arena arena;
    sdc_arena_init(&arena);
    sdc_conv_algo_set(algo);
    cr_assert_eq(sdc_conv2d(y, x, B, C, H, W, w, bias, 3, 1, 1, &arena), 0);
    sdc_arena_free(&arena);
}

/* A quantised kernel computes what its f32 expansion computes: bit for bit through Winograd
 * (the same transform of the same floats), and to rounding through implicit GEMM (its
 * kernel for a quantised weight may sum in another order than the one for f32). */
static void check_type(uint32_t id)
{
    enum { B = 1, C = 64, K = 40, H = 13, W = 11 };
    float *f = random_floats((size_t)K * C * 9, 0.2f), *x = random_floats((size_t)B * C * H * W, 1);
    float *bias = random_floats(K, 0.1f);
    sdc_weight src = {.rows = K, .cols = C * 9, .dtype = SDC_DTYPE_F32, .data = f}, q = src, plain;
    cr_assert_eq(sdc_weight_quantize(&q, id), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(q.quant, sdc_qtype_get(id));
    cr_assert_eq(sdc_weight_own_f32(&plain, &q), SDC_OK);
    size_t n = (size_t)B * K * H * W;
    float *yq = malloc(n * sizeof *yq), *yp = malloc(n * sizeof *yp);
    cr_assert(yq && yp);
    conv(yq, x, B, C, H, W, &q, bias, SDC_CONV_WINOGRAD);
    conv(yp, x, B, C, H, W, &plain, bias, SDC_CONV_WINOGRAD);
    cr_assert(memcmp(yq, yp, n * sizeof *yq) == 0, "%s: Winograd on the blocks differs",
              sdc_qtype_name(id));
    conv(yq, x, B, C, H, W, &q, bias, SDC_CONV_IMPLICIT_GEMM);
    conv(yp, x, B, C, H, W, &plain, bias, SDC_CONV_IMPLICIT_GEMM);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(yq[i] - yp[i]) <= 1e-5f * (1 + fabsf(yp[i])), "%s: implicit GEMM %zu: "
                  "%g vs %g", sdc_qtype_name(id), i, yq[i], yp[i]);
    sdc_weight_free(&q);
    sdc_weight_free(&plain);
    free(f);
    free(x);
    free(bias);
    free(yq);
    free(yp);
}

Test(conv_quant, kernels_compute_on_the_expansion, .fini = restore)
{
    check_type(SDC_QTYPE_Q8_0);
    check_type(SDC_QTYPE_Q4_0);
    check_type(SDC_QTYPE_Q5_1);
}

/* ggml's reference rounding (sdc_quantize_row_ref) of the 4/5-bit types: every value within
 * half a step of its block's scale (plus the scale's own half-precision rounding), or a whole
 * step for q4_0 and q5_0, whose scale maps the largest magnitude to -8 / -16 so that values
 * of the other sign clip at 7 / 15 steps; the symmetric types never flip a sign, zero blocks
 * stay zero. */
Test(conv_quant, reference_rounding_error)
{
    /* steps per block range, and the error allowed in steps */
    const struct { uint32_t id; int steps; float allowed; int symmetric; } types[] = {
        {SDC_QTYPE_Q4_0, 16, 1.0f, 1}, {SDC_QTYPE_Q5_0, 32, 1.0f, 1},
        {SDC_QTYPE_Q4_1, 15, 0.5f, 0}, {SDC_QTYPE_Q5_1, 31, 0.5f, 0},
        {SDC_QTYPE_Q8_0, 254, 0.5f, 1}};
    enum { N = 32 * 40 };
    float *x = random_floats(N, 3.0f), back[N];
    for (int j = 0; j < 32; j++)
        x[32 + j] = 0.0f; /* block 1 all zero */
    uint8_t blocks[N * 2];
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const sdc_qtype_info *q = sdc_qtype_get(types[t].id);
        cr_assert_eq(sdc_quantize_row_ref(types[t].id, x, N, blocks), 0);
        q->expand(blocks, back, N / 32);
        for (int b = 0; b < N / 32; b++) {
            float lo = x[b * 32], hi = lo;
            for (int j = 0; j < 32; j++) {
                lo = fminf(lo, x[b * 32 + j]);
                hi = fmaxf(hi, x[b * 32 + j]);
            }
            float amax = fmaxf(fabsf(lo), fabsf(hi));
            float range = types[t].symmetric ? 2 * amax : hi - lo;
            float bound = types[t].allowed * range / (float)types[t].steps + amax * 2e-3f +
                          1e-7f;
            for (int j = 0; j < 32; j++) {
                float v = x[b * 32 + j], e = back[b * 32 + j];
                cr_assert(fabsf(v - e) <= bound, "%s block %d value %d: %g -> %g (bound %g)",
                          q->name, b, j, v, e, bound);
                cr_assert(!types[t].symmetric || v * e >= 0, "%s: sign of %g flipped", q->name,
                          v);
                cr_assert(b != 1 || e == 0.0f, "%s: a zero block became %g", q->name, e);
            }
        }
    }
    free(x);
}

Test(conv_quant, rows_must_be_whole_blocks)
{
    float f[2 * 27] = {0};
    sdc_weight w = {.rows = 2, .cols = 27, .dtype = SDC_DTYPE_F32, .data = f};
    cr_assert_eq(sdc_weight_quantize(&w, SDC_QTYPE_Q8_0), SDC_ERR_UNSUPPORTED);
    cr_assert_eq(w.data, f, "a refused weight must stay as it was");
    cr_assert_eq(sdc_weight_quantize(&w, SDC_QTYPE_F16), SDC_ERR_UNSUPPORTED);
}

/* ---- the model parameter --------------------------------------------------------------- */

typedef struct render {
    uint8_t *rgb;
    size_t n;
    char memory[256]; /* sdc_model_memory_text */
} render;

static render render_model(const char *path, const char *vocab, const char *conv_type,
                           const sdc_generate_params *gp)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = path;
    mp.vocab_path = vocab;
    mp.conv_type = conv_type;
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    render r = {.n = (size_t)gp->width * gp->height * 3};
    sdc_model_memory_text(m, r.memory, sizeof r.memory);
    r.rgb = malloc(r.n);
    cr_assert(r.rgb);
    cr_assert_eq(sdc_generate(m, gp, r.rgb), SDC_OK, "%s", sdc_last_error());
    sdc_model_free(m);
    return r;
}

static double psnr(const render *a, const render *b, int *worst)
{
    double se = 0;
    *worst = 0;
    for (size_t i = 0; i < a->n; i++) {
        int d = abs((int)a->rgb[i] - (int)b->rgb[i]);
        se += (double)d * d;
        *worst = d > *worst ? d : *worst;
    }
    return se > 0 ? 10 * log10(255.0 * 255.0 * (double)a->n / se) : INFINITY;
}

/* MiB of `type` in a memory line ("weights: F16 8 MiB, q8_0 3 MiB"), 0 when absent. */
static double mib_of(const char *memory, const char *type)
{
    char key[32];
    snprintf(key, sizeof key, " %s ", type);
    const char *at = strstr(memory, key);
    return at ? atof(at + strlen(key)) : 0;
}

static sdc_generate_params demo_params(void)
{
    sdc_generate_params gp = sdc_generate_default_params();
    gp.prompt = "a small red circle on a blue background";
    gp.width = gp.height = 64;
    gp.steps = 4;
    gp.seed = 3;
    return gp;
}

/* The demo model (F16 safetensors, no golden data needed): q8_0 kernels move most of its
 * bytes from F16 to q8_0 and change the picture a little (above 40 dB; measured 47.7);
 * "none" and "auto" (the file has no quantised weights) leave it exactly as it was. */
Test(conv_quant, demo_model_q8_0)
{
    const char *path = source_path("models/demo/model.safetensors");
    sdc_generate_params gp = demo_params();
    render ref = render_model(path, NULL, NULL, &gp), q8 = render_model(path, NULL, "q8_0", &gp);
    render none = render_model(path, NULL, "none", &gp), aut = render_model(path, NULL, "auto", &gp);
    int worst;
    double db = psnr(&ref, &q8, &worst);
    cr_log_info("demo model, conv q8_0 vs as stored: PSNR %.2f dB, largest difference %d/255 "
                "(%s -> %s)", db, worst, ref.memory, q8.memory);
    cr_expect(db > 40 && db < INFINITY, "PSNR %.2f dB", db);
    cr_expect_eq(mib_of(ref.memory, "q8_0"), 0, "%s", ref.memory);
    cr_expect_gt(mib_of(q8.memory, "q8_0"), 0, "%s", q8.memory);
    cr_expect_lt(mib_of(q8.memory, "F16"), mib_of(ref.memory, "F16") / 2, "%s", q8.memory);
    cr_expect(memcmp(ref.rgb, none.rgb, ref.n) == 0, "conv_type \"none\" changed the picture");
    cr_expect(memcmp(ref.rgb, aut.rgb, ref.n) == 0, "\"auto\" on an F16 file changed it");
    cr_expect_str_eq(aut.memory, ref.memory);
    free(ref.rgb);
    free(q8.rgb);
    free(none.rgb);
    free(aut.rgb);
}

Test(conv_quant, bad_types_are_refused)
{
    const char *bad[] = {"q8", "f16", "iq2_xxs", "", "Q8_0 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sdc_model_params mp = sdc_model_default_params();
        mp.model_path = source_path("models/demo/model.safetensors");
        mp.conv_type = bad[i];
        sdc_model *m = NULL;
        cr_expect_eq(sdc_model_load(&mp, &m), SDC_ERR_ARG, "'%s' accepted", bad[i]);
        cr_expect_null(m);
        cr_expect(strstr(sdc_last_error(), "conv type"), "%s", sdc_last_error());
    }
}

/* The golden GGUF model's txt2img case with conv_type = `type` against the same file's
 * picture without it: the memory line moves the convolutions' bytes and the picture stays
 * within `min_db` (the bounds are this issue's, stated in docs/gguf.md with the measured
 * figures; the golden trajectories themselves are checked without the option, in
 * test_gguf.c). */
static void check_golden(const char *file, const char *type, const char *counted,
                         double min_db)
{
    const char *path = golden_path(file), *vocab = vocab_path();
    sdc_generate_params gp = sdc_generate_default_params();
    gp.prompt = "a photograph of an astronaut riding a horse";
    gp.negative_prompt = "";
    gp.seed = 42;
    gp.steps = 5;
    gp.cfg_scale = 7.5f;
    gp.width = gp.height = 128;
    gp.sampler = "euler";
    gp.scheduler = "linspace";
    gp.rng = SDC_RNG_TYPE_CPU;
    render ref = render_model(path, vocab, NULL, &gp), got = render_model(path, vocab, type, &gp);
    int worst;
    double db = psnr(&ref, &got, &worst);
    cr_log_info("%s, conv %s vs as stored: PSNR %.2f dB, largest difference %d/255 (%s -> %s)",
                file, type, db, worst, ref.memory, got.memory);
    cr_expect(db >= min_db && db < INFINITY, "%s %s: PSNR %.2f dB", file, type, db);
    cr_expect_gt(mib_of(got.memory, counted), mib_of(ref.memory, counted), "%s", got.memory);
    cr_expect_lt(mib_of(got.memory, "F16"), mib_of(ref.memory, "F16"), "%s", got.memory);
    free(ref.rgb);
    free(got.rgb);
}

Test(conv_quant, golden_gguf_q8_0_auto)
{
    check_golden("gguf/tiny-sd1.q8_0.gguf", "auto", "q8_0", 40.0);
}

Test(conv_quant, golden_gguf_q4_0_auto)
{
    check_golden("gguf/tiny-sd1.q4_0.gguf", "auto", "q4_0", 22.0);
}

Test(conv_quant, golden_safetensors_q8_0)
{
    check_golden("models/tiny-sd1/model.safetensors", "q8_0", "q8_0", 40.0);
}
