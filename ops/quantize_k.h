/* ggml's K-quant quantisers with an all-ones importance matrix (quantize_row_q2_K_impl ...
 * quantize_row_q6_K_impl), as stable-diffusion.cpp's converter calls them. Each quantises one
 * row of n values (n a multiple of 256) into n / 256 super-blocks at dst. Internal to
 * ops/quantize.c, which dispatches on the type. */
#ifndef SDC_OPS_QUANTIZE_K_H
#define SDC_OPS_QUANTIZE_K_H

#include <stddef.h>
#include <stdint.h>

void sdc_quantize_q2_k(const float *x, size_t n, uint8_t *dst);
void sdc_quantize_q3_k(const float *x, size_t n, uint8_t *dst);
void sdc_quantize_q4_k(const float *x, size_t n, uint8_t *dst);
void sdc_quantize_q5_k(const float *x, size_t n, uint8_t *dst);
void sdc_quantize_q6_k(const float *x, size_t n, uint8_t *dst);

#endif
