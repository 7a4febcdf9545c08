/* The scale searches behind ggml's weighted quantisers (ggml-quants.c: make_qx_quants,
 * make_qkx3_quants, make_qp_quants), as stable-diffusion.cpp's converter runs them: always
 * with importance weights. Each computes the same float operations in the same order as
 * ggml's (sdc builds without FMA contraction), so the levels and scales are ggml's bit for
 * bit. Internal to ops/quantize*.c. */
#ifndef SDC_OPS_QUANTIZE_SEARCH_H
#define SDC_OPS_QUANTIZE_SEARCH_H

#include <stdint.h>

/* ggml's nearest_int: round to nearest, ties to even, through the float mantissa (exact
 * for |v| < 2^22, as ggml assumes; larger values give ggml's same garbage). */
int sdc_qs_nearest(float v);
/* Stores v as an IEEE half, little-endian, at p. */
void sdc_qs_put_half(uint8_t *p, float v);
/* Symmetric levels L[i] in [0, 2 nmax) (x ~ scale * (L - nmax)) and their scale, minimising
 * the error weighted by w among 19 candidate scales around -nmax / (the value of largest
 * magnitude) (make_qx_quants, rmse_type 1). */
float sdc_qs_symmetric(const float *x, const float *w, int n, int nmax, int8_t *L);
/* Levels L[i] in [0, nmax] with a scale and an offset (x ~ scale * L - *min), weighted
 * least squares over 37 candidate scales (make_qkx3_quants, -0.9 + 0.05 k). */
float sdc_qs_affine(const float *x, const float *w, int n, int nmax, uint8_t *L, float *min);
/* Levels in [0, nmax] of non-negative x (the sub-block scales of the K-quants) and their
 * scale, weighted, with five rounds of per-level refinement (make_qp_quants). */
float sdc_qs_positive(const float *x, const float *w, int n, int nmax, uint8_t *L);

#endif
