/* The cheap preview decoder: a fitted linear map from one latent cell [4] to one RGB pixel,
 * per latent space (docs/previews.md says where the numbers come from). It reads the
 * sampler's scaled latent [4, h, w] and writes RGB8 [h, w, 3]: one pixel per latent cell,
 * 1/8 of the picture's size, about 15 flops a pixel. */
#ifndef SDC_VAE_LATENT_RGB_H
#define SDC_VAE_LATENT_RGB_H

#include <stdint.h>

#include "weights/checkpoint.h"

typedef struct sdc_latent_rgb {
    float weight[4][3]; /* [latent channel][R, G, B] */
    float bias[3];
} sdc_latent_rgb;

/* The map of a family's latent space: SD 1.x / 2.x (and unknown 4-channel families, which
 * share SD's VAE) or SDXL's; SDC_ERR_UNSUPPORTED for a latent space without a fitted map
 * (the x4 upscaler's). */
sdc_status sdc_latent_rgb_for_family(sdc_family family, sdc_latent_rgb *out);

/* rgb [h, w, 3] = clamp((latent^T weight + bias + 1) / 2, 0, 1) * 255, rounded: the map
 * gives the decoder's [-1, 1] range. latent [4, h, w]. */
void sdc_latent_rgb_project(const sdc_latent_rgb *map, const float *latent, int h, int w,
                            uint8_t *rgb);

#endif
