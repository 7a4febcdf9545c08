/* 3x3 convolutions (stride 1, padding 1) of the VAE done a band of rows at a time, so that
 * a layer's input and output need not both exist whole: in place (the output overwrites
 * the input in the same buffer) and after a nearest 2x upsample (the upsampled input is
 * made a band at a time). Bands start at multiples of 4 rows, so the results are
 * bit-identical to whole convolutions (sdc_conv3x3_rows). */
#ifndef SDC_VAE_BAND_H
#define SDC_VAE_BAND_H

#include "vae/load.h"

/* x [B, l->in, H, W] -> x [B, l->out, H, W] = l(x), in the same buffer, which must hold
 * B * max(in, out) * H * W floats. */
sdc_status sdc_vae_conv_in_place(const sdc_layer *l, const sdc_vae_pass *p, float *x, int H,
                                 int W);

/* y [B, l->out, 2h, 2w] = l(nearest 2x upsample of x [B, l->in, h, w]); y must not overlap
 * x. */
sdc_status sdc_vae_conv_upsampled(const sdc_layer *l, const sdc_vae_pass *p, float *y,
                                  const float *x, int h, int w);

/* The same with bands of R rows (a multiple of 4, or the whole height) instead of
 * sdc_conv3x3_band_rows's choice: tests use small ones to cross many band edges. */
sdc_status sdc_vae_conv_in_place_rows(const sdc_layer *l, const sdc_vae_pass *p, float *x, int H,
                                      int W, int R);
sdc_status sdc_vae_conv_upsampled_rows(const sdc_layer *l, const sdc_vae_pass *p, float *y,
                                       const float *x, int h, int w, int R);

#endif
