#include "bench/psnr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/cpu.h"
#include "ops/winograd.h"
#include "sdc.h"

/* The picture of gp at precision p with convolutions `conv` (both restored after). */
static sdc_status render(sdc_model *m, const sdc_generate_params *gp, sdc_precision p,
                         sdc_conv_algo conv, uint8_t *rgb)
{
    sdc_precision saved_p = sdc_precision_get();
    sdc_conv_algo saved_conv = sdc_conv_algo_get();
    sdc_precision_set(p);
    sdc_conv_algo_set(conv);
    sdc_status s = sdc_generate(m, gp, rgb);
    sdc_precision_set(saved_p);
    sdc_conv_algo_set(saved_conv);
    return s;
}

static int generate(sdc_model *m, const sdc_generate_params *gp, sdc_precision p,
                    sdc_conv_algo conv, uint8_t *rgb)
{
    sdc_status s = render(m, gp, p, conv, rgb);
    if (s != SDC_OK)
        fprintf(stderr, "bench_sd: %s\n", sdc_last_error());
    return s == SDC_OK ? 0 : -1;
}

double sdc_bench_psnr_u8(const uint8_t *a, const uint8_t *b, size_t n, int *worst)
{
    double se = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        se += (double)d * d;
        *worst = d > *worst ? d : *worst;
    }
    return se > 0 ? 10 * log10(255.0 * 255.0 * (double)n / se) : INFINITY;
}

static void compare(const char *what, const uint8_t *a, const uint8_t *b, size_t n)
{
    int worst;
    double psnr = sdc_bench_psnr_u8(a, b, n, &worst);
    printf("%-44s PSNR %6.2f dB, largest difference %d/255\n", what, psnr, worst);
}

static sdc_model *load(const char *model, const char *vocab, int int8)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = model;
    mp.vocab_path = vocab;
    mp.int8 = int8;
    sdc_model *m;
    if (sdc_model_load(&mp, &m) != SDC_OK) {
        fprintf(stderr, "bench_sd: %s\n", sdc_last_error());
        return NULL;
    }
    return m;
}

static sdc_generate_params run_params(int size, int steps, const char *sampler, uint64_t seed)
{
    sdc_generate_params gp = sdc_generate_default_params();
    gp.prompt = "a photograph of an astronaut riding a horse";
    gp.width = gp.height = size;
    gp.steps = steps;
    gp.seed = seed;
    gp.sampler = sampler;
    return gp;
}

sdc_status sdc_bench_psnr_bf16(sdc_model *m, int size, int steps, const char *sampler,
                               uint64_t seed, double *psnr, int *worst)
{
    sdc_generate_params gp = run_params(size, steps, sampler, seed);
    size_t n = (size_t)size * size * 3;
    uint8_t *fp32 = malloc(n), *bf16 = malloc(n);
    sdc_status s = fp32 && bf16 ? SDC_OK : SDC_ERR_NOMEM;
    if (s == SDC_OK)
        s = render(m, &gp, SDC_PRECISION_FP32, SDC_CONV_AUTO, fp32);
    if (s == SDC_OK)
        s = render(m, &gp, SDC_PRECISION_BF16, SDC_CONV_AUTO, bf16);
    if (s == SDC_OK)
        *psnr = sdc_bench_psnr_u8(fp32, bf16, n, worst);
    free(fp32);
    free(bf16);
    return s;
}

int sdc_bench_psnr_int8(const char *model, const char *vocab, int size, int steps,
                        const char *sampler)
{
    sdc_generate_params gp = run_params(size, steps, sampler, 42);
    size_t n = (size_t)size * size * 3;
    uint8_t *ref = malloc(n), *other = malloc(n);
    sdc_model *m = ref && other ? load(model, vocab, 0) : NULL;
    int rc = m ? generate(m, &gp, SDC_PRECISION_FP32, SDC_CONV_AUTO, ref) : -1;
    sdc_model_free(m); /* one model at a time */
    m = rc == 0 ? load(model, vocab, 1) : NULL;
    if (m && generate(m, &gp, SDC_PRECISION_INT8, SDC_CONV_AUTO, other) == 0) {
        printf("%dx%d, %d %s steps, against fp32:\n", size, size, steps, sampler);
        compare("int8 linear layers (q8_0 weights)", ref, other, n);
    } else {
        rc = -1;
    }
    sdc_model_free(m);
    free(ref);
    free(other);
    return rc;
}

int sdc_bench_psnr(const char *model, const char *vocab, int size, int steps,
                   const char *sampler)
{
    sdc_model *m = load(model, vocab, 0);
    if (!m)
        return -1;
    sdc_generate_params gp = run_params(size, steps, sampler, 42);
    size_t n = (size_t)size * size * 3;
    uint8_t *ref = malloc(n), *other = malloc(n);
    int rc = ref && other ? 0 : -1;
    printf("%dx%d, %d %s steps, against fp32 products with implicit-GEMM convolutions:\n", size,
           size, steps, sampler);
    if (rc == 0)
        rc = generate(m, &gp, SDC_PRECISION_FP32, SDC_CONV_IMPLICIT_GEMM, ref);
    static const struct {
        const char *what;
        sdc_precision p;
        sdc_conv_algo conv;
    } variants[] = {
        {"fp32, Winograd where it pays (the default)", SDC_PRECISION_FP32, SDC_CONV_AUTO},
        {"bf16, implicit GEMM", SDC_PRECISION_BF16, SDC_CONV_IMPLICIT_GEMM},
        {"bf16, Winograd where it pays", SDC_PRECISION_BF16, SDC_CONV_AUTO},
    };
    for (size_t v = 0; rc == 0 && v < sizeof variants / sizeof *variants; v++) {
        rc = generate(m, &gp, variants[v].p, variants[v].conv, other);
        if (rc == 0)
            compare(variants[v].what, ref, other, n);
    }
    free(ref);
    free(other);
    sdc_model_free(m);
    return rc;
}
