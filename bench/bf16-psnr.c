/* bf16-psnr: how far bf16 products move whole txt2img pictures from fp32, over many seeds.
 *
 *   bf16-psnr [--seeds N] [--steps S] [--size PX] MODEL SAMPLER [MODEL SAMPLER ...]
 *
 * For each (model, sampler) pair and seeds 1 .. N (default 16; 5 steps, 128x128 as in
 * tests/test_bf16.c), renders the same prompt at fp32 and at bf16 and prints the PSNR of the
 * two 8-bit pictures, then their mean, median and minimum. One picture's PSNR moves by about
 * 1 dB with any perturbation of the sampling trajectory (a rounding that flips early grows
 * through the steps), so a change to the bf16 kernels is judged by the spread over seeds,
 * not by one picture. The vocabulary comes from SDC_VOCAB. Exit status 0, or 1 with the
 * error printed; refuses to run (exit 1) on a CPU without AVX512_BF16. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/psnr.h"
#include "ops/cpu.h"
#include "sdc.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The PSNRs of seeds 1 .. seeds into psnr; 0, or -1 with the error printed. */
static int measure(const char *model, const char *sampler, int seeds, int steps, int size,
                   double *psnr)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = model;
    sdc_model *m = NULL;
    sdc_status s = sdc_model_load(&mp, &m);
    for (int i = 0; i < seeds && s == SDC_OK; i++) {
        int worst;
        s = sdc_bench_psnr_bf16(m, size, steps, sampler, (uint64_t)i + 1, &psnr[i], &worst);
        if (s == SDC_OK)
            printf("%s %s seed %d: %.2f dB, largest difference %d/255\n", model, sampler, i + 1,
                   psnr[i], worst);
    }
    if (s != SDC_OK)
        fprintf(stderr, "bf16-psnr: %s\n", sdc_last_error());
    sdc_model_free(m);
    return s == SDC_OK ? 0 : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: bf16-psnr [--seeds N] [--steps S] [--size PX] MODEL SAMPLER "
                    "[MODEL SAMPLER ...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int seeds = 16, steps = 5, size = 128, a = 1;
    for (; a + 1 < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
        int v = atoi(argv[a + 1]);
        if (strcmp(argv[a], "--seeds") == 0 && v > 0 && v <= 1000)
            seeds = v;
        else if (strcmp(argv[a], "--steps") == 0 && v > 0 && v <= 1000)
            steps = v;
        else if (strcmp(argv[a], "--size") == 0 && v >= 64 && v <= 2048 && v % 64 == 0)
            size = v;
        else
            return usage();
    }
    if (a >= argc || (argc - a) % 2)
        return usage();
    if (!sdc_cpu_has_bf16()) {
        fprintf(stderr, "bf16-psnr: this CPU has no AVX512_BF16\n");
        return 1;
    }
    double *psnr = malloc((size_t)seeds * sizeof(double));
    if (!psnr)
        return 1;
    int rc = 0;
    for (; a < argc && rc == 0; a += 2) {
        if (measure(argv[a], argv[a + 1], seeds, steps, size, psnr) != 0) {
            rc = 1;
            break;
        }
        double sum = 0;
        for (int s = 0; s < seeds; s++)
            sum += psnr[s];
        qsort(psnr, (size_t)seeds, sizeof(double), cmp_double);
        printf("%s %s, %d seeds: mean %.2f dB, median %.2f, min %.2f, max %.2f\n", argv[a],
               argv[a + 1], seeds, sum / seeds, psnr[seeds / 2], psnr[0], psnr[seeds - 1]);
    }
    free(psnr);
    return rc;
}
