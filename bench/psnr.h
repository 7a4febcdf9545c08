/* What bf16 products do to a picture: the same txt2img run with fp32 and with bf16
 * (sdc_precision_set), compared as 8-bit RGB. */
#ifndef SDC_BENCH_PSNR_H
#define SDC_BENCH_PSNR_H

/* Prints PSNR (dB) and the largest channel difference of bf16 against fp32 for a
 * size x size, `steps`-step run of `sampler` (seed 42, CFG 7). Returns 0, or -1 with the
 * error printed. */
int sdc_bench_psnr(const char *model, const char *vocab, int size, int steps,
                   const char *sampler);

#endif
