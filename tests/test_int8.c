/* The int8 GEMM (ops/gemm_q8.h): the scalar reference against the definition computed here
 * in double, every fast kernel (AVX2, AVX-VNNI, AVX-512 VNNI) against the scalar reference
 * bit for bit (same integer block sums, same f32 operations in the same order) on odd shapes,
 * extreme values and random bytes, the dispatch order and its cap, and sdc_linear's use of it
 * under --precision int8. A kernel this CPU lacks is skipped, saying so. */
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
#include "ops/layer.h"
#include "ops/nn.h"
#include "ops/quant.h"
#include "ops/quantize.h"
#include "ops/weight.h"
#include "sdc.h"
#include "golden.h"

#define TEST_RNG_SEED 777
#include "test_random.h"

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
    sdc_q8_set_max_path(SDC_Q8_PATH_AVX512_VNNI);
    sdc_precision_set(SDC_PRECISION_FP32);
}

/* The path's kernel, or the test skipped where this CPU has none. Tests that loop over every
 * kernel note a missing one with cr_log_info, not cr_log_warn: Criterion 2.4 exits 1 after any
 * warning, which failed this file on a CPU without VNNI although every test passed. */
static const sdc_q8_kernel *need(sdc_q8_path path)
{
    const sdc_q8_kernel *k = sdc_q8_kernel_for(path);
    if (!k)
        cr_skip_test("this CPU has no %s: that int8 kernel is not tested here",
                     sdc_q8_path_name(path));
    return k;
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
    int rc = sdc_gemm_q8_run(k, s->M, s->N, s->K, variant == 2 ? 0.5f : 1.0f, A, lda, W,
                             sdc_qtype_get(SDC_QTYPE_Q8_0), C, ldc,
                             variant == 2, variant ? bias : NULL);
    cr_assert_eq(rc, 0);
    return C;
}

/* Every element of the kernel's C equals the scalar reference's, all three variants. */
static void check_equal(const sdc_q8_kernel *k, const shape *s, const float *A, size_t lda,
                        const uint8_t *W, const float *C0, const float *bias)
{
    size_t ldc = (size_t)s->N + 3;
    for (int variant = 0; variant < 3; variant++) {
        float *ref = run(sdc_q8_kernel_scalar(), s, A, lda, W, C0, bias, variant);
        float *got = run(k, s, A, lda, W, C0, bias, variant);
        for (size_t i = 0; i < (size_t)s->M * ldc; i++)
            cr_assert(memcmp(&got[i], &ref[i], sizeof(float)) == 0,
                      "%s %dx%dx%d variant %d: C[%zu] = %.9g, scalar reference %.9g", k->name,
                      s->M, s->N, s->K, variant, i, got[i], ref[i]);
        free(ref);
        free(got);
    }
}

static void equals_scalar_on_shapes(sdc_q8_path path)
{
    const sdc_q8_kernel *k = need(path);
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const shape *s = &shapes[c];
        size_t lda = (size_t)s->K + 5, ldc = (size_t)s->N + 3;
        float *A = random_floats((size_t)s->M * lda, 3.0f);
        uint8_t *W = random_q8_weight(s->N, s->K);
        float *C0 = random_floats((size_t)s->M * ldc, 1.0f);
        float *bias = random_floats((size_t)s->N, 1.0f);
        check_equal(k, s, A, lda, W, C0, bias);
        free(A);
        free(W);
        free(C0);
        free(bias);
    }
}

Test(int8, avx512_vnni_equals_scalar_reference, .fini = restore)
{
    equals_scalar_on_shapes(SDC_Q8_PATH_AVX512_VNNI);
}

Test(int8, avx_vnni_equals_scalar_reference, .fini = restore)
{
    equals_scalar_on_shapes(SDC_Q8_PATH_AVX_VNNI);
}

Test(int8, avx2_equals_scalar_reference, .fini = restore)
{
    equals_scalar_on_shapes(SDC_Q8_PATH_AVX2);
}

/* N rows of q8_0 blocks of the given bytes: byte(j, k) for the values, f16 scales of
 * 2^-7..2^-1 (exact products, so any wrong integer sum shows). */
static uint8_t *q8_weight_of(int N, int K, int (*byte)(int j, int k))
{
    size_t row = (size_t)K / 32 * 34;
    uint8_t *w = malloc(row * N);
    cr_assert(w);
    for (int j = 0; j < N; j++)
        for (int b = 0; b < K / 32; b++) {
            uint8_t *blk = w + row * j + (size_t)b * 34;
            uint16_t h = sdc_f32_to_f16(ldexpf(1.0f, -1 - (j + b) % 7));
            memcpy(blk, &h, 2);
            for (int t = 0; t < 32; t++)
                blk[2 + t] = (uint8_t)byte(j, b * 32 + t);
        }
    return w;
}

static int all_min(int j, int k) { (void)j, (void)k; return -128; }
static int all_max(int j, int k) { (void)j, (void)k; return 127; }
/* -128 and 127 in pairs and alone, by row and position */
static int extremes(int j, int k) { return (j + k / 2 + k / 7) % 2 ? -128 : 127; }
static unsigned byte_state = 99;
static int random_byte(int j, int k)
{
    (void)j, (void)k;
    byte_state = byte_state * 1103515245u + 12345u;
    return (int)((byte_state >> 16) & 0xff) - 128; /* -128 included */
}

/* Activation rows whose every value has the block's largest magnitude, so all quantise to
 * +-127: with sign(i, k) = +-1. */
static float *extreme_rows(int M, int K, int (*sign)(int i, int k))
{
    float *A = malloc(sizeof(float) * M * K);
    cr_assert(A);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            A[(size_t)i * K + k] = (float)sign(i, k) * (1.0f + (float)(i % 3));
    return A;
}

static int plus(int i, int k) { (void)i, (void)k; return 1; }
static int minus(int i, int k) { (void)i, (void)k; return -1; }
/* the sign of `extremes` at column 0 or flipped: every product of a pair the same sign */
static int along(int i, int k) { return ((i + k / 2 + k / 7) % 2 ? -1 : 1) * (i % 2 ? -1 : 1); }
static int mixed(int i, int k) { return (i * 7 + k * 3) % 5 < 2 ? -1 : 1; }

/* The saturation cases of vpmaddubsw: weight bytes all -128 (|w| = 128), all 127, mixed, and
 * random bytes (-128 included), against activations all +127, all -127, with the weights'
 * signs (every pair's products add up: 2 * 128 * 127) and mixed. */
static void equals_scalar_on_extremes(sdc_q8_path path)
{
    const sdc_q8_kernel *k = need(path);
    int (*bytes[])(int, int) = {all_min, all_max, extremes, random_byte};
    int (*signs[])(int, int) = {plus, minus, along, mixed};
    shape s = {13, 37, 128};
    for (size_t wb = 0; wb < sizeof bytes / sizeof *bytes; wb++) {
        uint8_t *W = q8_weight_of(s.N, s.K, bytes[wb]);
        for (size_t as = 0; as < sizeof signs / sizeof *signs; as++) {
            float *A = extreme_rows(s.M, s.K, signs[as]);
            float *C0 = calloc((size_t)s.M * (s.N + 3), sizeof(float));
            float *bias = calloc((size_t)s.N, sizeof(float));
            cr_assert(C0 && bias);
            check_equal(k, &s, A, (size_t)s.K, W, C0, bias);
            free(A);
            free(C0);
            free(bias);
        }
        free(W);
    }
}

Test(int8, avx2_exact_on_extreme_values, .fini = restore)
{
    equals_scalar_on_extremes(SDC_Q8_PATH_AVX2);
}

Test(int8, avx_vnni_exact_on_extreme_values, .fini = restore)
{
    equals_scalar_on_extremes(SDC_Q8_PATH_AVX_VNNI);
}

Test(int8, avx512_vnni_exact_on_extreme_values, .fini = restore)
{
    equals_scalar_on_extremes(SDC_Q8_PATH_AVX512_VNNI);
}

/* The extreme case by hand: all weights -128, all activations -127 (scale 1/127 each way):
 * every block sums to 32 * 128 * 127 = 520192, and the exact C is known. */
Test(int8, avx2_extreme_sum_is_exact, .fini = restore)
{
    const sdc_q8_kernel *k = need(SDC_Q8_PATH_AVX2);
    enum { M = 5, N = 9, K = 96 };
    uint8_t *W = q8_weight_of(N, K, all_min);
    float *A = extreme_rows(M, K, minus);
    float C[M * N];
    cr_assert_eq(sdc_gemm_q8_run(k, M, N, K, 1.0f, A, K, W, sdc_qtype_get(SDC_QTYPE_Q8_0), C, N, 0,
                                 NULL),
                 0);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float want = 0.0f;
            for (int b = 0; b < K / 32; b++) /* the reference's order and roundings */
                want = fmaf(520192.0f,
                            ldexpf(1.0f, -1 - (j + b) % 7) * ((1.0f + (float)(i % 3)) / 127.0f),
                            want);
            cr_assert_eq(C[i * N + j], want, "C[%d, %d] = %.9g, want %.9g", i, j, C[i * N + j],
                         want);
        }
    free(W);
    free(A);
}

/* Each kernel's quantised rows, scales and corrections equal the reference's, NaN and
 * infinity included: a block with a NaN has the scale NaN. */
static void quantized_rows_equal(sdc_q8_path path, int special)
{
    const sdc_q8_kernel *k = need(path);
    enum { K = 256 };
    float *x = random_floats(K, 10.0f);
    for (int t = 0; t < 32; t++)
        x[32 + t] = 0.0f;              /* an all-zero block: scale 0, values 0 */
    x[64] = 127.0f * 0.5f / 3.0f;      /* values near .5 steps exercise the ties */
    x[100] = -0.0f;
    if (special) {
        x[130] = NAN;                  /* ignored by the max, quantised to -128 */
        x[170] = -INFINITY;            /* scale inf: the others 0, itself NaN -> -128 */
        x[200] = NAN;
        x[201] = 1e30f;
    }
    int8_t q[2][K];
    float d[2][K / 32];
    int32_t corr[2][K / 32];
    sdc_q8_kernel_scalar()->quantize(x, K, q[0], d[0], corr[0]);
    k->quantize(x, K, q[1], d[1], corr[1]);
    cr_assert(memcmp(q[0], q[1], sizeof q[0]) == 0, "%s: quantised values differ", k->name);
    cr_assert(memcmp(d[0], d[1], sizeof d[0]) == 0, "%s: scales differ", k->name);
    cr_assert(memcmp(corr[0], corr[1], sizeof corr[0]) == 0, "%s: corrections differ", k->name);
    cr_assert_eq(d[0][1], 0.0f);
    if (special) {
        cr_assert(q[0][130] == -128 && q[0][170] == -128 && q[0][200] == -128);
        cr_assert(isnan(d[0][4]) && isnan(d[0][6]), "the blocks with a NaN");
        cr_assert(isinf(d[0][5]), "the block with an infinity");
    }
    free(x);
}

Test(int8, quantized_rows_equal, .fini = restore)
{
    quantized_rows_equal(SDC_Q8_PATH_AVX512_VNNI, 0);
    quantized_rows_equal(SDC_Q8_PATH_AVX512_VNNI, 1);
}

Test(int8, quantized_rows_equal_avx2, .fini = restore)
{
    quantized_rows_equal(SDC_Q8_PATH_AVX2, 0);
    quantized_rows_equal(SDC_Q8_PATH_AVX2, 1);
}

Test(int8, quantized_rows_equal_avx_vnni, .fini = restore)
{
    quantized_rows_equal(SDC_Q8_PATH_AVX_VNNI, 0);
    quantized_rows_equal(SDC_Q8_PATH_AVX_VNNI, 1);
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

/* sdc_linear: under SDC_PRECISION_INT8 a q8_0 weight goes through the int8 GEMM of the best
 * kernel (the same numbers as calling it), under fp32 through the f32 GEMM on the expanded
 * blocks; the two agree to int8's precision. Run with each usable path forced. */
static void linear_uses_it(sdc_q8_path path)
{
    enum { M = 70, N = 96, K = 384 };
    need(path);
    sdc_q8_set_max_path(path);
    cr_assert_eq(sdc_q8_path_best(), path);
    float *x = random_floats((size_t)M * K, 1.0f), *bias = random_floats(N, 1.0f);
    uint8_t *W = random_q8_weight(N, K);
    sdc_weight w = {.rows = N, .cols = K, .dtype = SDC_DTYPE_F32, .data = W,
                    .quant = sdc_qtype_get(SDC_QTYPE_Q8_0)};
    float *y8 = malloc(sizeof(float) * M * N), *y32 = malloc(sizeof(float) * M * N);
    float *direct = calloc((size_t)M * N, sizeof(float));
    cr_assert(y8 && y32 && direct);
    sdc_precision_set(SDC_PRECISION_INT8);
    sdc_linear(y8, x, M, &w, bias);
    cr_assert_eq(sdc_gemm_q8_run(sdc_q8_kernel_scalar(), M, N, K, 1.0f, x, K, W,
                                 sdc_qtype_get(SDC_QTYPE_Q8_0), direct, N, 0, bias),
                 0);
    cr_assert(memcmp(y8, direct, sizeof(float) * M * N) == 0, "%s", sdc_q8_path_name(path));
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

Test(int8, linear_uses_it_under_int8, .fini = restore)
{
    for (int p = SDC_Q8_PATH_SCALAR; p <= SDC_Q8_PATH_AVX512_VNNI; p++)
        if (sdc_q8_kernel_for((sdc_q8_path)p))
            linear_uses_it((sdc_q8_path)p);
}

/* A NaN in an activation row makes that row's outputs NaN on every kernel, as fp32 does,
 * instead of vanishing into a saturated byte; the other rows stay finite. */
Test(int8, a_nan_activation_gives_nan_outputs, .fini = restore)
{
    enum { M = 9, N = 40, K = 96 };
    float *A = random_floats((size_t)M * K, 1.0f), C[M * N];
    uint8_t *W = random_q8_weight(N, K);
    A[3 * K + 50] = NAN;
    for (int p = SDC_Q8_PATH_SCALAR; p <= SDC_Q8_PATH_AVX512_VNNI; p++) {
        const sdc_q8_kernel *k = sdc_q8_kernel_for((sdc_q8_path)p);
        if (!k) {
            cr_log_info("this CPU has no %s: not tested here", sdc_q8_path_name(p));
            continue;
        }
        cr_assert_eq(sdc_gemm_q8_run(k, M, N, K, 1.0f, A, K, W, sdc_qtype_get(SDC_QTYPE_Q8_0), C,
                                     N, 0, NULL), 0);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                cr_assert(i == 3 ? isnan(C[i * N + j]) : isfinite(C[i * N + j]),
                          "%s: C[%d, %d] = %g", k->name, i, j, C[i * N + j]);
    }
    free(A);
    free(W);
}

/* The order VNNI-512 > AVX-VNNI > AVX2 > scalar, under the path cap and the CPU level cap
 * (a CPU capped to AVX2 has no AVX-512 VNNI; to scalar, only the reference). */
/* N rows of K / 32 blocks of 4- or 5-bit type `id` quantised from random values, and the
 * same weights as q8_0 rows holding each value's integer (value / the block's scale, exact:
 * the value is that integer times the f16 scale) with the block's f16 scale bytes. */
static uint8_t *random_low_bit_weight(uint32_t id, int N, int K, uint8_t **as_q8)
{
    const sdc_qtype_info *q = sdc_qtype_get(id);
    size_t row = (size_t)K / 32 * q->block_bytes, row8 = (size_t)K / 32 * 34;
    uint8_t *w = malloc(row * N), *w8 = malloc(row8 * N);
    float *f = malloc(sizeof(float) * K);
    cr_assert(w && w8 && f);
    for (int j = 0; j < N; j++) {
        for (int k = 0; k < K; k++)
            f[k] = frand() * (1.0f + (float)(j % 3));
        cr_assert_eq(sdc_quantize_row(id, f, (size_t)K, w + row * j), 0);
        for (int b = 0; b < K / 32; b++) {
            const uint8_t *src = w + row * j + (size_t)b * q->block_bytes;
            uint8_t *dst = w8 + row8 * j + (size_t)b * 34;
            float v[32], d = sdc_f16_to_f32((uint16_t)(src[0] | src[1] << 8));
            q->expand(src, v, 1);
            memcpy(dst, src, 2);
            for (int k = 0; k < 32; k++) {
                float n = d != 0.0f ? v[k] / d : 0.0f;
                cr_assert_eq(n, nearbyintf(n), "an integer times the scale");
                dst[2 + k] = (uint8_t)(int8_t)n;
            }
        }
    }
    free(f);
    *as_q8 = w8;
    return w;
}

/* q4_0 and q5_0 weights go through the int8 GEMM unpacked, on every kernel this CPU has:
 * bit for bit what the q8_0 rows of the same integers give; sdc_layer_prefer_int8 keeps
 * them as they are (no q8_0 copy). */
static void low_bit_weights_unpack_exactly(uint32_t id)
{
    const shape s = {37, 70, 320};
    float *A = random_floats((size_t)s.M * s.K, 2.0f);
    uint8_t *w8, *w = random_low_bit_weight(id, s.N, s.K, &w8);
    float *got = malloc(sizeof(float) * s.M * s.N), *want = malloc(sizeof(float) * s.M * s.N);
    cr_assert(got && want);
    cr_assert(sdc_gemm_q8_reads(sdc_qtype_get(id)));
    for (int p = SDC_Q8_PATH_SCALAR; p <= SDC_Q8_PATH_AVX512_VNNI; p++) {
        const sdc_q8_kernel *k = sdc_q8_kernel_for((sdc_q8_path)p);
        if (!k) {
            cr_log_info("this CPU has no %s: not tested here", sdc_q8_path_name(p));
            continue;
        }
        cr_assert_eq(sdc_gemm_q8_run(k, s.M, s.N, s.K, 1.0f, A, s.K, w, sdc_qtype_get(id), got,
                                     s.N, 0, NULL), 0);
        cr_assert_eq(sdc_gemm_q8_run(k, s.M, s.N, s.K, 1.0f, A, s.K, w8,
                                     sdc_qtype_get(SDC_QTYPE_Q8_0), want, s.N, 0, NULL), 0);
        cr_assert(memcmp(got, want, sizeof(float) * s.M * s.N) == 0, "%s %s",
                  sdc_qtype_get(id)->name, k->name);
    }
    sdc_precision_set(SDC_PRECISION_INT8);
    sdc_layer l = {.w = {.rows = s.N, .cols = s.K, .dtype = SDC_DTYPE_F32, .data = w,
                         .quant = sdc_qtype_get(id)},
                   .k = 1};
    size_t before = sdc_weight_int8_bytes();
    cr_assert_eq(sdc_layer_prefer_int8(&l), SDC_OK);
    cr_expect_eq(l.w.data, (void *)w, "the weight stays where it was");
    cr_expect_eq(l.w.quant, sdc_qtype_get(id));
    cr_expect_eq(sdc_weight_int8_bytes(), before, "no q8_0 copy");
    free(A);
    free(w);
    free(w8);
    free(got);
    free(want);
}

Test(int8, q4_0_weights_unpack_exactly, .fini = restore)
{
    low_bit_weights_unpack_exactly(SDC_QTYPE_Q4_0);
}

Test(int8, q5_0_weights_unpack_exactly, .fini = restore)
{
    low_bit_weights_unpack_exactly(SDC_QTYPE_Q5_0);
}

/* Every type the int8 GEMM reads through ops/q8_unpack.h, on every kernel this CPU has,
 * against the definition in double: the activations quantised by the scalar reference (its
 * q and scales), the weights as ggml dequantises them (ops/quant.c, checked against ggml's
 * own dequantisation by the GGUF goldens). Kernels agree bit for bit with the scalar one;
 * sdc_layer_prefer_int8 keeps such a weight as it is. */
static void reads_type_as_defined(uint32_t id)
{
    const shape s = {21, 45, 512};
    const sdc_qtype_info *q = sdc_qtype_get(id);
    size_t row = (size_t)s.K / q->block * q->block_bytes;
    float *A = random_floats((size_t)s.M * s.K, 2.0f), *f = malloc(sizeof(float) * s.K);
    float *wf = malloc(sizeof(float) * s.N * s.K);
    uint8_t *w = malloc(row * s.N);
    cr_assert(f && wf && w);
    for (int j = 0; j < s.N; j++) {
        for (int k = 0; k < s.K; k++)
            f[k] = frand() * (1.0f + (float)(j % 3)) + (j % 4 == 1 ? 0.7f : 0.0f);
        cr_assert_eq(sdc_quantize_row(id, f, (size_t)s.K, w + row * j), 0);
        q->expand(w + row * j, wf + (size_t)j * s.K, (size_t)s.K / q->block);
    }
    int8_t *qa = malloc((size_t)s.M * s.K);
    float *da = malloc(sizeof(float) * s.M * s.K / 32), *ref = malloc(sizeof(double) * 2 * s.M * s.N);
    int32_t *corr = malloc(sizeof(int32_t) * s.M * s.K / 32);
    cr_assert(qa && da && ref && corr);
    for (int i = 0; i < s.M; i++)
        sdc_q8_kernel_scalar()->quantize(A + (size_t)i * s.K, s.K, qa + (size_t)i * s.K,
                                         da + (size_t)i * s.K / 32, corr + (size_t)i * s.K / 32);
    float *got = malloc(sizeof(float) * s.M * s.N), *first = malloc(sizeof(float) * s.M * s.N);
    cr_assert(got && first);
    int runs = 0;
    for (int p = SDC_Q8_PATH_SCALAR; p <= SDC_Q8_PATH_AVX512_VNNI; p++) {
        const sdc_q8_kernel *k = sdc_q8_kernel_for((sdc_q8_path)p);
        if (!k) {
            cr_log_info("this CPU has no %s: not tested here", sdc_q8_path_name(p));
            continue;
        }
        cr_assert_eq(sdc_gemm_q8_run(k, s.M, s.N, s.K, 1.0f, A, s.K, w, q, got, s.N, 0, NULL), 0,
                     "%s %s", q->name, k->name);
        for (int i = 0; i < s.M; i++)
            for (int j = 0; j < s.N; j++) {
                double want = 0, size = 0;
                for (int t = 0; t < s.K; t++) {
                    double v = (double)da[(size_t)i * s.K / 32 + t / 32] *
                               qa[(size_t)i * s.K + t] * wf[(size_t)j * s.K + t];
                    want += v;
                    size += fabs(v);
                }
                cr_assert(fabs(got[i * s.N + j] - want) <= 2e-6 * size + 1e-30,
                          "%s %s: C[%d, %d] = %.9g, defined %.9g (size %g)", q->name, k->name,
                          i, j, got[i * s.N + j], want, size);
            }
        if (runs++ == 0)
            memcpy(first, got, sizeof(float) * s.M * s.N);
        else
            cr_assert(memcmp(first, got, sizeof(float) * s.M * s.N) == 0, "%s %s: not the "
                      "scalar kernel's bits", q->name, k->name);
    }
    sdc_precision_set(SDC_PRECISION_INT8);
    sdc_layer l = {.w = {.rows = s.N, .cols = s.K, .dtype = SDC_DTYPE_F32, .data = w, .quant = q},
                   .k = 1};
    size_t before = sdc_weight_int8_bytes();
    cr_assert_eq(sdc_layer_prefer_int8(&l), SDC_OK);
    cr_expect(l.w.data == (void *)w && l.w.quant == q, "%s stays as it is", q->name);
    cr_expect_eq(sdc_weight_int8_bytes(), before, "no q8_0 copy");
    free(A), free(f), free(wf), free(w), free(qa), free(da), free(ref), free(corr), free(got);
    free(first);
}

Test(int8, reads_q4_0, .fini = restore) { reads_type_as_defined(SDC_QTYPE_Q4_0); }
Test(int8, reads_q5_0, .fini = restore) { reads_type_as_defined(SDC_QTYPE_Q5_0); }
Test(int8, reads_q4_1, .fini = restore) { reads_type_as_defined(SDC_QTYPE_Q4_1); }
Test(int8, reads_q5_1, .fini = restore) { reads_type_as_defined(SDC_QTYPE_Q5_1); }
Test(int8, reads_q4_k, .fini = restore) { reads_type_as_defined(SDC_QTYPE_Q4_K); }
Test(int8, reads_q5_k, .fini = restore) { reads_type_as_defined(SDC_QTYPE_Q5_K); }

Test(int8, other_types_are_not_read, .fini = restore)
{
    cr_expect(!sdc_gemm_q8_reads(sdc_qtype_get(SDC_QTYPE_Q2_K)));
    cr_expect(!sdc_gemm_q8_reads(sdc_qtype_get(SDC_QTYPE_Q3_K)));
    cr_expect(!sdc_gemm_q8_reads(sdc_qtype_get(SDC_QTYPE_Q6_K)));
    cr_expect(!sdc_gemm_q8_reads(sdc_qtype_get(SDC_QTYPE_F16)));
    cr_expect(!sdc_gemm_q8_reads(NULL));
    float a[256] = {0}, c = 0;
    uint8_t w[210] = {0};
    cr_expect_eq(sdc_gemm_q8_run(sdc_q8_kernel_scalar(), 1, 1, 256, 1.0f, a, 256, w,
                                 sdc_qtype_get(SDC_QTYPE_Q6_K), &c, 1, 0, NULL), -1);
    cr_expect_eq(sdc_gemm_q8_run(sdc_q8_kernel_scalar(), 1, 1, 32, 1.0f, a, 32, w,
                                 sdc_qtype_get(SDC_QTYPE_Q4_K), &c, 1, 0, NULL), -1,
                 "rows of 32 are no whole q4_K super-block");
}

Test(int8, dispatch_order, .fini = restore)
{
    sdc_q8_path want = sdc_cpu_has_vnni()       ? SDC_Q8_PATH_AVX512_VNNI
                       : sdc_cpu_has_avx_vnni() ? SDC_Q8_PATH_AVX_VNNI
                       : sdc_cpu_level_get() >= SDC_CPU_AVX2 ? SDC_Q8_PATH_AVX2
                                                             : SDC_Q8_PATH_SCALAR;
    cr_assert_eq(sdc_q8_path_best(), want);
    cr_assert_str_eq(sdc_q8_kernel_best()->name, sdc_q8_path_name(want));
    for (int cap = SDC_Q8_PATH_SCALAR; cap <= SDC_Q8_PATH_AVX512_VNNI; cap++) {
        sdc_q8_set_max_path((sdc_q8_path)cap);
        sdc_q8_path got = sdc_q8_path_best();
        cr_assert((int)got <= cap && sdc_q8_kernel_for(got));
        for (int p = got + 1; p <= cap; p++)
            cr_assert_null(sdc_q8_kernel_for((sdc_q8_path)p), "%s usable but %s chosen",
                           sdc_q8_path_name((sdc_q8_path)p), sdc_q8_path_name(got));
    }
    sdc_q8_set_max_path(SDC_Q8_PATH_AVX512_VNNI);
    sdc_cpu_set_max_level(SDC_CPU_AVX2);
    cr_assert_null(sdc_q8_kernel_for(SDC_Q8_PATH_AVX512_VNNI));
    cr_assert_neq(sdc_q8_path_best(), SDC_Q8_PATH_AVX512_VNNI);
    sdc_cpu_set_max_level(SDC_CPU_SCALAR);
    cr_assert_eq(sdc_q8_path_best(), SDC_Q8_PATH_SCALAR);
    cr_assert_eq(sdc_q8_kernel_best(), sdc_q8_kernel_scalar());
    for (int p = SDC_Q8_PATH_SCALAR; p <= SDC_Q8_PATH_AVX512_VNNI; p++)
        cr_assert_eq(sdc_q8_path_from_name(sdc_q8_path_name((sdc_q8_path)p)), p);
    cr_assert_eq(sdc_q8_path_from_name("avx3"), -1);
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

/* The kernels are bit-identical, so an int8 picture is the same on every CPU: the demo
 * model's with each usable path forced equals the one of the reference kernel. */
Test(int8, same_picture_on_every_kernel, .fini = restore)
{
    size_t bytes, n;
    sdc_q8_set_max_path(SDC_Q8_PATH_SCALAR);
    uint8_t *ref = render_demo(1, &bytes, &n);
    for (int p = SDC_Q8_PATH_AVX2; p <= SDC_Q8_PATH_AVX512_VNNI; p++) {
        if (!sdc_q8_kernel_for((sdc_q8_path)p))
            continue;
        sdc_q8_set_max_path((sdc_q8_path)p);
        uint8_t *got = render_demo(1, &bytes, &n);
        cr_assert(memcmp(got, ref, n) == 0, "the %s kernel's picture differs from the scalar one",
                  sdc_q8_path_name((sdc_q8_path)p));
        free(got);
    }
    free(ref);
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
