/* What bf16 products and Winograd convolutions do to a picture: the same txt2img run with
 * fp32 products and implicit-GEMM convolutions, and with the other settings (sdc_precision_set,
 * sdc_conv_algo_set), compared as 8-bit RGB. */
#ifndef SDC_BENCH_PSNR_H
#define SDC_BENCH_PSNR_H

#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

/* Prints PSNR (dB) and the largest channel difference of each setting against the first for a
 * size x size, `steps`-step run of `sampler` (seed 42, CFG 7). Returns 0, or -1 with the
 * error printed. */
int sdc_bench_psnr(const char *model, const char *vocab, int size, int steps,
                   const char *sampler);
/* The same comparison for --precision int8: the fp32 picture (default convolutions) against
 * the one of the model loaded again with sdc_model_params.int8 (its linear weights q8_0). */
int sdc_bench_psnr_int8(const char *model, const char *vocab, int size, int steps,
                        const char *sampler);

/* The same prompt's size x size, `steps`-step run of `sampler` with `seed` on a loaded model,
 * at fp32 and at bf16 products (default convolutions; the precision is restored after):
 * *psnr receives the bf16 picture's PSNR against the fp32 one, *worst its largest channel
 * difference. SDC_OK, or the failing call's status (sdc_last_error() says why). */
sdc_status sdc_bench_psnr_bf16(sdc_model *m, int size, int steps, const char *sampler,
                               uint64_t seed, double *psnr, int *worst);

/* PSNR in dB of two buffers of n 8-bit values (INFINITY when equal); *worst receives the
 * largest difference of one value. */
double sdc_bench_psnr_u8(const uint8_t *a, const uint8_t *b, size_t n, int *worst);

#endif
