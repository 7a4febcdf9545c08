/* The int8 GEMM (ops/gemm_q8.h): the scalar reference against the definition computed here
 * in double, the AVX-512 VNNI kernel against the scalar reference bit for bit (same integer
 * block sums, same f32 operations in the same order) on odd shapes, and sdc_linear's use of
 * it under --precision int8. Skipped, saying so, on a CPU without AVX512_VNNI. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/gemm_q8.h"
#include "ops/nn.h"
#include "ops/quant.h"
#include "ops/quantize.h"
#include "ops/weight.h"
#include "sdc.h"
#include "golden.h"

static unsigned rng_state = 777;

static float frand(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *random_floats(size_t n, float scale)
{
    float *p = malloc(n * sizeof(float));
    cr_assert(p);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * frand();
    return p;
}

/* N rows of K / 32 q8_0 blocks quantised from random values (ggml's reference rounding). */
static uint8_t *random_q8_weight(int N, int K)
{
    size_t row = (size_t)K / 32 * 34;
    uint8_t *w = malloc(row * N);
    float *f = random_floats((size_t)K, 1.0f);
    cr_assert(w && f);
    for (int j = 0; j < N; j++) {
        for (int k = 0; k < K; k++)
            f[k] = frand() * (1.0f + (float)(j % 5));
        f[j % K] = 0.0f; /* a block with a zero, and (K = 32, j = 0..) all-small blocks */
        cr_assert_eq(sdc_quantize_row(SDC_QTYPE_Q8_0, f, (size_t)K, w + row * j), 0);
    }
    free(f);
    return w;
}

static void restore(void)
{
    sdc_cpu_set_max_level(SDC_CPU_AVX512);
    sdc_precision_set(SDC_PRECISION_FP32);
}

static void need_vnni(void)
{
    if (!sdc_cpu_has_vnni())
        cr_skip_test("this CPU has no AVX512_VNNI: the int8 kernel is not tested here");
}

typedef struct shape {
    int M, N, K;
} shape;

/* Odd sizes: tails in M (mr 6 and 4) and N (nr 32 and 16), several work items (MC 192 rows,
 * NG 128 columns), one block and many. */
static const shape shapes[] = {{1, 1, 32},    {7, 33, 64},   {13, 50, 96},  {6, 32, 32},
                               {100, 70, 320}, {197, 131, 160}, {5, 17, 1280}, {400, 300, 512}};

/* C = kernel's result with accumulate / biases as `variant` says (0 plain, 1 bias,
 * 2 accumulate + bias with alpha 0.5). */
static float *run(const sdc_q8_kernel *k, const shape *s, const float *A, size_t lda,
                  const uint8_t *W, const float *C0, const float *bias, int variant)
{
    size_t ldc = (size_t)s->N + 3;
    float *C = malloc((size_t)s->M * ldc * sizeof(float));
    cr_assert(C);
    memcpy(C, C0, (size_t)s->M * ldc * sizeof(float));
    int rc = sdc_gemm_q8_run(k, s->M, s->N, s->K, variant == 2 ? 0.5f : 1.0f, A, lda, W, C, ldc,
                             variant == 2, variant ? bias : NULL);
    cr_assert_eq(rc, 0);
    return C;
}

Test(int8, vnni_equals_scalar_reference, .fini = restore)
{
    need_vnni();
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const shape *s = &shapes[c];
        size_t lda = (size_t)s->K + 5, ldc = (size_t)s->N + 3;
        float *A = random_floats((size_t)s->M * lda, 3.0f);
        uint8_t *W = random_q8_weight(s->N, s->K);
        float *C0 = random_floats((size_t)s->M * ldc, 1.0f);
        float *bias = random_floats((size_t)s->N, 1.0f);
        for (int variant = 0; variant < 3; variant++) {
            float *ref = run(sdc_q8_kernel_scalar(), s, A, lda, W, C0, bias, variant);
            float *got = run(sdc_q8_kernel_avx512(), s, A, lda, W, C0, bias, variant);
            for (size_t i = 0; i < (size_t)s->M * ldc; i++)
                cr_assert(memcmp(&got[i], &ref[i], sizeof(float)) == 0,
                          "%dx%dx%d variant %d: C[%zu] = %.9g, scalar reference %.9g", s->M,
                          s->N, s->K, variant, i, got[i], ref[i]);
            free(ref);
            free(got);
        }
        free(A);
        free(W);
        free(C0);
        free(bias);
    }
}

Test(int8, quantized_rows_equal, .fini = restore)
{
    need_vnni();
    enum { K = 256 };
    float *x = random_floats(K, 10.0f);
    for (int t = 0; t < 32; t++)
        x[32 + t] = 0.0f;              /* an all-zero block: scale 0, values 0 */
    x[64] = 127.0f * 0.5f / 3.0f;      /* values near .5 steps exercise the ties */
    int8_t q[2][K];
    float d[2][K / 32];
    int32_t corr[2][K / 32];
    sdc_q8_kernel_scalar()->quantize(x, K, q[0], d[0], corr[0]);
    sdc_q8_kernel_avx512()->quantize(x, K, q[1], d[1], corr[1]);
    cr_assert(memcmp(q[0], q[1], sizeof q[0]) == 0);
    cr_assert(memcmp(d[0], d[1], sizeof d[0]) == 0);
    cr_assert(memcmp(corr[0], corr[1], sizeof corr[0]) == 0);
    cr_assert_eq(d[0][1], 0.0f);
    free(x);
}

/* The scalar reference against the definition: x quantised here (nearest, ties to even),
 * each block's product dx * dw * isum summed in double. Bound: the f32 sum's rounding. */
Test(int8, scalar_reference_is_the_definition)
{
    shape s = {9, 21, 160};
    float *A = random_floats((size_t)s.M * s.K, 2.0f);
    uint8_t *W = random_q8_weight(s.N, s.K);
    float *C0 = calloc((size_t)s.M * (s.N + 3), sizeof(float));
    cr_assert(C0);
    float *C = run(sdc_q8_kernel_scalar(), &s, A, (size_t)s.K, W, C0, NULL, 0);
    size_t row = (size_t)s.K / 32 * 34;
    for (int i = 0; i < s.M; i++)
        for (int j = 0; j < s.N; j++) {
            double sum = 0, mag = 0;
            for (int b = 0; b < s.K / 32; b++) {
                const float *x = A + (size_t)i * s.K + b * 32;
                const uint8_t *blk = W + row * j + (size_t)b * 34;
                float amax = 0;
                for (int t = 0; t < 32; t++)
                    amax = fmaxf(amax, fabsf(x[t]));
                float dx = amax / 127.0f, id = dx ? 1.0f / dx : 0.0f;
                uint16_t h;
                memcpy(&h, blk, 2);
                long isum = 0;
                for (int t = 0; t < 32; t++)
                    isum += (long)nearbyint((double)(x[t] * id)) * (int8_t)blk[2 + t];
                double term = (double)sdc_f16_to_f32(h) * dx * (double)isum;
                sum += term;
                mag += fabs(term);
            }
            double got = C[(size_t)i * (s.N + 3) + j];
            cr_assert(fabs(got - sum) <= 4 * 6e-8 * (s.K / 32) * mag + 1e-30,
                      "C[%d, %d] = %.9g, definition %.9g", i, j, got, sum);
        }
    free(A);
    free(W);
    free(C0);
    free(C);
}

/* sdc_linear: under SDC_PRECISION_INT8 a q8_0 weight goes through the int8 GEMM (the same
 * numbers as calling it), under fp32 through the f32 GEMM on the expanded blocks; the two
 * agree to int8's precision. */
Test(int8, linear_uses_it_under_int8, .fini = restore)
{
    need_vnni();
    enum { M = 70, N = 96, K = 384 };
    float *x = random_floats((size_t)M * K, 1.0f), *bias = random_floats(N, 1.0f);
    uint8_t *W = random_q8_weight(N, K);
    sdc_weight w = {.rows = N, .cols = K, .dtype = SDC_DTYPE_F32, .data = W,
                    .quant = sdc_qtype_get(SDC_QTYPE_Q8_0)};
    float *y8 = malloc(sizeof(float) * M * N), *y32 = malloc(sizeof(float) * M * N);
    float *direct = calloc((size_t)M * N, sizeof(float));
    cr_assert(y8 && y32 && direct);
    sdc_precision_set(SDC_PRECISION_INT8);
    sdc_linear(y8, x, M, &w, bias);
    cr_assert_eq(sdc_gemm_q8_run(sdc_q8_kernel_avx512(), M, N, K, 1.0f, x, K, W, direct, N, 0,
                                 bias), 0);
    cr_assert(memcmp(y8, direct, sizeof(float) * M * N) == 0);
    sdc_precision_set(SDC_PRECISION_FP32);
    sdc_linear(y32, x, M, &w, bias);
    double err = 0, ref = 0;
    for (int i = 0; i < M * N; i++) {
        err += (y8[i] - y32[i]) * (double)(y8[i] - y32[i]);
        ref += (double)y32[i] * y32[i];
    }
    cr_assert(err > 0 && err < 1e-4 * ref, "relative squared error %g", err / ref);
    free(x);
    free(bias);
    free(W);
    free(y8);
    free(y32);
    free(direct);
}

/* Without VNNI (the level capped below AVX-512) there is no int8 kernel and sdc_linear
 * computes in f32 on the expanded blocks. */
Test(int8, falls_back_without_vnni, .fini = restore)
{
    sdc_cpu_set_max_level(SDC_CPU_AVX2);
    cr_assert_null(sdc_q8_kernel_best());
    enum { M = 3, N = 5, K = 64 };
    float *x = random_floats((size_t)M * K, 1.0f);
    uint8_t *W = random_q8_weight(N, K);
    sdc_weight w = {.rows = N, .cols = K, .dtype = SDC_DTYPE_F32, .data = W,
                    .quant = sdc_qtype_get(SDC_QTYPE_Q8_0)};
    float y8[M * N], y32[M * N];
    sdc_precision_set(SDC_PRECISION_INT8);
    sdc_linear(y8, x, M, &w, NULL);
    sdc_precision_set(SDC_PRECISION_FP32);
    sdc_linear(y32, x, M, &w, NULL);
    cr_assert(memcmp(y8, y32, sizeof y8) == 0);
    free(x);
    free(W);
}

/* ---- the model parameter ------------------------------------------------------------- */

static uint8_t *render_demo(int int8, size_t *bytes, size_t *n)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = source_path("models/demo/model.safetensors");
    mp.int8 = int8;
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_precision_get(), int8 ? SDC_PRECISION_INT8 : SDC_PRECISION_FP32);
    *bytes = sdc_weight_int8_bytes();
    sdc_generate_params gp = sdc_generate_default_params();
    gp.prompt = "a small red circle on a blue background";
    gp.width = gp.height = 64;
    gp.steps = 4;
    gp.seed = 3;
    *n = (size_t)64 * 64 * 3;
    uint8_t *rgb = malloc(*n);
    cr_assert(rgb);
    cr_assert_eq(sdc_generate(m, &gp, rgb), SDC_OK, "%s", sdc_last_error());
    sdc_model_free(m);
    return rgb;
}

/* sdc_model_params.int8: the text encoder's and the UNet's attention / feed-forward weights
 * become q8_0 at load (counted, and released with the model), and the picture changes a
 * little: a PSNR above 20 dB against fp32, below infinity. */
Test(int8, model_param_quantises_at_load, .fini = restore)
{
    size_t bytes32, bytes8, n;
    uint8_t *ref = render_demo(0, &bytes32, &n);
    uint8_t *got = render_demo(1, &bytes8, &n);
    cr_assert_eq(bytes32, 0);
    cr_assert_gt(bytes8, 0);
    cr_assert_eq(sdc_weight_int8_bytes(), 0, "the model's q8_0 weights were not released");
    double se = 0;
    for (size_t i = 0; i < n; i++)
        se += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]);
    double psnr = 10 * log10(255.0 * 255.0 * (double)n / (se > 0 ? se : 1e-30));
    cr_assert(se > 0 && psnr > 20, "PSNR %.2f dB against fp32", psnr);
    free(ref);
    free(got);
}

/* ---- golden trajectories: int8 pictures against fp32 ---------------------------------- */

/* A picture of golden txt2img case `id` (manifest `set`: "" for the main one), rendered
 * with its command line's settings (shared/CLI-CONTRACT.md: --rng cpu, linspace Euler) and
 * mp.int8 = int8. */
static uint8_t *render_case(const char *set, const char *id, int int8, size_t *n)
{
    char rel[128];
    snprintf(rel, sizeof rel, "%s%smanifest.json", set, *set ? "/" : "");
    /* the main manifest through the helper: it reads Python's NaN */
    json_t *man = *set ? json_load_file(golden_path(rel), 0, NULL) : golden_manifest();
    json_t *c = NULL, *it;
    size_t i;
    cr_assert(man, "cannot read %s", rel);
    json_array_foreach(json_object_get(man, "cases"), i, it)
        if (strcmp(json_string_value(json_object_get(it, "id")), id) == 0)
            c = it;
    cr_assert(c, "no case %s in %s", id, rel);
    const char *file = json_string_value(json_object_get(c, "model_file"));
    if (file)
        snprintf(rel, sizeof rel, "%s/%s", set, file);
    else
        snprintf(rel, sizeof rel, "models/%s/model.safetensors",
                 json_string_value(json_object_get(c, "model")));
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = golden_path(rel);
    mp.vocab_path = vocab_path();
    mp.int8 = int8;
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params gp = sdc_generate_default_params();
    gp.prompt = json_string_value(json_object_get(c, "prompt"));
    const char *neg = json_string_value(json_object_get(c, "negative_prompt"));
    gp.negative_prompt = neg ? neg : "";
    gp.seed = json_integer_value(json_object_get(c, "seed"));
    gp.steps = (int)json_integer_value(json_object_get(c, "steps"));
    gp.cfg_scale = (float)json_number_value(json_object_get(c, "cfg_scale"));
    gp.width = (int)json_integer_value(json_object_get(c, "width"));
    gp.height = (int)json_integer_value(json_object_get(c, "height"));
    gp.sampler = "euler";
    gp.scheduler = "linspace";
    gp.rng = SDC_RNG_TYPE_CPU;
    *n = (size_t)gp.width * gp.height * 3;
    uint8_t *rgb = malloc(*n);
    cr_assert(rgb);
    cr_assert_eq(sdc_generate(m, &gp, rgb), SDC_OK, "%s", sdc_last_error());
    sdc_model_free(m);
    if (*set)
        json_decref(man);
    return rgb;
}

/* What int8 costs in accuracy, logged (docs/PERFORMANCE.md has the figures); the bound only
 * catches a broken path (a wrong scale or sign gives noise, under 15 dB). */
static void check_case_psnr(const char *set, const char *id)
{
    size_t n;
    uint8_t *ref = render_case(set, id, 0, &n), *got = render_case(set, id, 1, &n);
    double se = 0;
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)got[i] - (int)ref[i]);
        se += (double)d * d;
        worst = d > worst ? d : worst;
    }
    double psnr = se > 0 ? 10 * log10(255.0 * 255.0 * (double)n / se) : INFINITY;
    cr_log_info("%s: int8 vs fp32 PSNR %.2f dB, largest difference %d/255", id, psnr, worst);
    cr_expect(psnr >= 25.0, "%s: int8 vs fp32 PSNR %.2f dB", id, psnr);
    free(ref);
    free(got);
}

Test(int8, golden_txt2img_q8_0_gguf, .fini = restore)
{
    check_case_psnr("gguf", "txt2img.tiny-sd1.q8_0.euler");
}

Test(int8, golden_txt2img_f16, .fini = restore)
{
    check_case_psnr("", "txt2img.tiny-sd1.euler");
}
