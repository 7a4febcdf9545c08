#include "bench/psnr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/cpu.h"
#include "sdc.h"

static int generate(sdc_model *m, const sdc_generate_params *gp, sdc_precision p, uint8_t *rgb)
{
    sdc_precision_set(p);
    sdc_status s = sdc_generate(m, gp, rgb);
    sdc_precision_set(SDC_PRECISION_FP32);
    if (s != SDC_OK)
        fprintf(stderr, "bench_sd: %s\n", sdc_last_error());
    return s == SDC_OK ? 0 : -1;
}

int sdc_bench_psnr(const char *model, const char *vocab, int size, int steps,
                   const char *sampler)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = model;
    mp.vocab_path = vocab;
    sdc_model *m;
    if (sdc_model_load(&mp, &m) != SDC_OK) {
        fprintf(stderr, "bench_sd: %s\n", sdc_last_error());
        return -1;
    }
    sdc_generate_params gp = sdc_generate_default_params();
    gp.prompt = "a photograph of an astronaut riding a horse";
    gp.width = gp.height = size;
    gp.steps = steps;
    gp.seed = 42;
    gp.sampler = sampler;
    size_t n = (size_t)size * size * 3;
    uint8_t *a = malloc(n), *b = malloc(n);
    int rc = a && b ? 0 : -1;
    if (rc == 0)
        rc = generate(m, &gp, SDC_PRECISION_FP32, a);
    if (rc == 0)
        rc = generate(m, &gp, SDC_PRECISION_BF16, b);
    if (rc == 0) {
        double se = 0;
        int worst = 0;
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)a[i] - (int)b[i]);
            se += (double)d * d;
            worst = d > worst ? d : worst;
        }
        double psnr = se > 0 ? 10 * log10(255.0 * 255.0 * (double)n / se) : INFINITY;
        printf("bf16 vs fp32, %dx%d, %d %s steps: PSNR %.2f dB, largest difference %d/255\n",
               size, size, steps, sampler, psnr, worst);
    }
    free(a);
    free(b);
    sdc_model_free(m);
    return rc;
}
